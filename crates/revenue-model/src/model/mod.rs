//! The eight networks behind one enum, so training and prediction are written once.

mod entire_space;
mod kind;
mod shared_bottom;
mod single_task;
mod two_task;

pub use kind::ModelKind;

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::nn::blocks::{Embedder, Inputs, Labels, SideInputs};
use crate::nn::loss::CounterfactualTerm;
use entire_space::TwoTower;
use shared_bottom::{Mmoe, SharedBottom};
use single_task::SingleTower;

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

    /// The number of floats in `kind`'s network on these sizes, computed without building it:
    /// a model file's tensors must add up to it before the network is allocated, so a corrupt
    /// size cannot ask for gigabytes. Exact (a test compares it with burn's count for every
    /// kind); `u128` so no size in a file can overflow it.
    pub(crate) fn parameter_count(&self, kind: ModelKind) -> u128 {
        let n = |x: usize| x as u128;
        let linear = |d_in: usize, d_out: usize| n(d_in) * n(d_out) + n(d_out);
        let mlp = |d_in: usize, hidden: &[usize]| -> u128 {
            let mut d = d_in;
            let mut sum = 0;
            for &h in hidden {
                sum += linear(d, h);
                d = h;
            }
            sum
        };
        let tower = |d_in: usize, hidden: &[usize], d_out: usize| {
            mlp(d_in, hidden) + linear(hidden.last().copied().unwrap_or(d_in), d_out)
        };
        let embed = if self.n_categorical > 0 {
            n(self.total_cardinality.max(1)) * n(self.embedding_dim)
        } else {
            0
        };
        let (input, hidden, last) = (self.input, self.hidden.as_slice(), self.last_hidden());
        embed
            + match kind {
                ModelKind::EntireSpaceLogNormal => {
                    tower(input, hidden, 1) + tower(input, hidden, 2)
                }
                ModelKind::DnnC | ModelKind::DnnR => tower(input, hidden, 1),
                ModelKind::Ziln => tower(input, hidden, 3),
                ModelKind::Esmm | ModelKind::MtlMse => 2 * tower(input, hidden, 1),
                ModelKind::SharedBottom => mlp(input, hidden) + 2 * tower(last, &[last], 1),
                ModelKind::Mmoe => {
                    n(self.n_experts) * mlp(input, hidden)
                        + 2 * linear(input, self.n_experts)
                        + 2 * tower(last, &[last], 1)
                }
            }
    }
}

/// The counterfactual part of the entire-space loss: `ln ε` and how ε is scored.
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
    EntireSpace(TwoTower),
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
            ModelKind::EntireSpaceLogNormal => Net::EntireSpace(TwoTower::new(dims, 2, device)),
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
            Net::EntireSpace(n) => entire_space::heads(n, inputs),
            Net::DnnC(n) => single_task::dnn_c_heads(n, inputs),
            Net::DnnR(n) => single_task::dnn_r_heads(n, inputs),
            Net::SharedBottom(n) => n.heads(inputs),
            Net::Mmoe(n) => n.heads(inputs),
            Net::Esmm(n) | Net::MtlMse(n) => two_task::heads(n, inputs),
            Net::Ziln(n) => single_task::ziln_heads(n, inputs),
        }
    }

    /// Heads of every customer × fund pair (row `c·F + f`) through the factorised first layer,
    /// or `None` for networks without that path (Shared-Bottom, MMoE, DNN-C), which the caller
    /// then predicts pair by pair.
    pub(crate) fn heads_pairwise(&self, c: &SideInputs, f: &SideInputs) -> Option<Heads> {
        match self {
            Net::EntireSpace(n) => {
                let (logit, rev) = n.towers_pairwise(c, f);
                Some(entire_space::heads_from(logit, rev))
            }
            Net::Esmm(n) | Net::MtlMse(n) => {
                let (logit, rev) = n.towers_pairwise(c, f);
                Some(two_task::heads_from(logit, rev))
            }
            Net::DnnR(n) => Some(single_task::dnn_r_heads_from(&n.out_pairwise(c, f))),
            Net::Ziln(n) => Some(single_task::ziln_heads_from(&n.out_pairwise(c, f))),
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
            Net::EntireSpace(_) => entire_space::loss(heads, labels, cf),
            Net::DnnC(_) => single_task::dnn_c_loss(heads, labels),
            Net::DnnR(_) => single_task::dnn_r_loss(heads, labels),
            Net::SharedBottom(_) | Net::Mmoe(_) => shared_bottom::loss(heads, labels),
            Net::Esmm(_) => two_task::esmm_loss(heads, labels),
            Net::Ziln(_) => single_task::ziln_loss(heads, labels),
            Net::MtlMse(_) => two_task::mtl_mse_loss(heads, labels),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_count_is_burns_count_for_every_kind() {
        let device = Device::flex();
        for (total_cardinality, n_categorical, numeric, hidden, n_experts) in [
            (10, 2, 3, vec![8, 4], 3),
            (0, 0, 5, vec![6], 2),
            (7, 1, 0, vec![5, 5, 2], 4),
        ] {
            let embedding_dim = 3;
            let dims = NetDims {
                total_cardinality,
                n_categorical,
                embedding_dim,
                input: n_categorical * embedding_dim + numeric,
                hidden,
                n_experts,
                dropout: 0.0,
            };
            for kind in ModelKind::ALL {
                let net = Net::new(kind, &dims, &device);
                assert_eq!(
                    dims.parameter_count(kind),
                    net.num_params() as u128,
                    "{kind} {dims:?}"
                );
            }
        }
    }
}
