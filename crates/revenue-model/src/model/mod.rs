//! The eight networks behind one enum, so training and prediction are written once.

mod kind;
mod ours;
mod shared_bottom;
mod single;
mod two_task;

pub use kind::ModelKind;

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::nn::blocks::{Embedder, Inputs, Labels, SideInputs};
use crate::nn::loss::CounterfactualTerm;
use ours::TwoTower;
use shared_bottom::{Mmoe, SharedBottom};
use single::SingleTower;

/// Sizes every network is built from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NetDims {
    pub(crate) total_cardinality: usize,
    pub(crate) n_categorical: usize,
    pub(crate) embedding_dim: usize,
    /// Width of the embedder output.
    pub(crate) input: usize,
    pub(crate) hidden: Vec<usize>,
    pub(crate) n_experts: usize,
    pub(crate) dropout: f64,
}

impl NetDims {
    pub(crate) fn embedder(&self, device: &Device) -> Embedder {
        Embedder::new(
            self.total_cardinality,
            self.n_categorical,
            self.embedding_dim,
            device,
        )
    }

    pub(crate) fn last_hidden(&self) -> usize {
        self.hidden.last().copied().unwrap_or(self.input)
    }
}

/// The counterfactual part of Ours' loss: `ln ε` and how ε is scored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Counterfactual {
    pub(crate) log_eps: f64,
    pub(crate) term: CounterfactualTerm,
}

/// Raw outputs of a network, in model units (revenue ÷ the training revenue scale).
#[derive(Debug, Clone, Default)]
pub(crate) struct Heads {
    /// Conversion logit `z`, `P_c = sigmoid(z)`.
    pub(crate) logit: Option<Tensor<1>>,
    /// Log-normal location.
    pub(crate) mu: Option<Tensor<1>>,
    /// Log-normal scale (> 0).
    pub(crate) sigma: Option<Tensor<1>>,
    /// Revenue if converted, `R̂ ≥ 0`.
    pub(crate) revenue: Option<Tensor<1>>,
    /// Expected revenue predicted directly (DNN-R).
    pub(crate) expected: Option<Tensor<1>>,
}

// One network lives per trained model, so the size gap between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub(crate) enum Net {
    Ours(TwoTower),
    DnnC(SingleTower),
    DnnR(SingleTower),
    SharedBottom(SharedBottom),
    Mmoe(Mmoe),
    Esmm(TwoTower),
    Ziln(SingleTower),
    MtlMse(TwoTower),
}

impl Net {
    pub(crate) fn new(kind: ModelKind, dims: &NetDims, device: &Device) -> Self {
        match kind {
            ModelKind::Ours => Net::Ours(TwoTower::new(dims, 2, device)),
            ModelKind::DnnC => Net::DnnC(SingleTower::new(dims, 1, device)),
            ModelKind::DnnR => Net::DnnR(SingleTower::new(dims, 1, device)),
            ModelKind::SharedBottom => Net::SharedBottom(SharedBottom::new(dims, device)),
            ModelKind::Mmoe => Net::Mmoe(Mmoe::new(dims, device)),
            ModelKind::Esmm => Net::Esmm(TwoTower::new(dims, 1, device)),
            ModelKind::Ziln => Net::Ziln(SingleTower::new(dims, 3, device)),
            ModelKind::MtlMse => Net::MtlMse(TwoTower::new(dims, 1, device)),
        }
    }

    pub(crate) fn heads(&self, inputs: &Inputs) -> Heads {
        match self {
            Net::Ours(n) => ours::heads(n, inputs),
            Net::DnnC(n) => single::dnn_c_heads(n, inputs),
            Net::DnnR(n) => single::dnn_r_heads(n, inputs),
            Net::SharedBottom(n) => n.heads(inputs),
            Net::Mmoe(n) => n.heads(inputs),
            Net::Esmm(n) | Net::MtlMse(n) => two_task::heads(n, inputs),
            Net::Ziln(n) => single::ziln_heads(n, inputs),
        }
    }

    /// Heads of every customer × fund pair (row `c·F + f`) through the factorised first layer,
    /// or `None` for networks without that path (Shared-Bottom, MMoE, DNN-C), which the caller
    /// then predicts pair by pair.
    pub(crate) fn heads_pairwise(&self, c: &SideInputs, f: &SideInputs) -> Option<Heads> {
        match self {
            Net::Ours(n) => {
                let (logit, rev) = n.towers_pairwise(c, f);
                Some(ours::heads_from(logit, rev))
            }
            Net::Esmm(n) | Net::MtlMse(n) => {
                let (logit, rev) = n.towers_pairwise(c, f);
                Some(two_task::heads_from(logit, rev))
            }
            Net::DnnR(n) => Some(single::dnn_r_heads_from(&n.out_pairwise(c, f))),
            Net::Ziln(n) => Some(single::ziln_heads_from(&n.out_pairwise(c, f))),
            Net::DnnC(_) | Net::SharedBottom(_) | Net::Mmoe(_) => None,
        }
    }

    /// The training loss of a batch (a 1-element tensor). `None` only if the heads do not
    /// match the network (a bug, reported as an error by the caller).
    pub(crate) fn loss(
        &self,
        heads: &Heads,
        labels: &Labels,
        cf: Counterfactual,
    ) -> Option<Tensor<1>> {
        match self {
            Net::Ours(_) => ours::loss(heads, labels, cf),
            Net::DnnC(_) => single::dnn_c_loss(heads, labels),
            Net::DnnR(_) => single::dnn_r_loss(heads, labels),
            Net::SharedBottom(_) | Net::Mmoe(_) => shared_bottom::loss(heads, labels),
            Net::Esmm(_) => two_task::esmm_loss(heads, labels),
            Net::Ziln(_) => single::ziln_loss(heads, labels),
            Net::MtlMse(_) => two_task::mtl_mse_loss(heads, labels),
        }
    }
}
