//! The entire-space log-normal model (PTOFA Section 3, Table 1's "Ours"): shared embeddings, a conversion tower with one logit and a revenue
//! tower with μ and σ heads, trained with the entire-space counterfactual loss (Eq. 6).
//! `E = P_c · exp(μ + σ²/2)`.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::nn::blocks::{Embedder, Inputs, Labels, SideInputs, Tower, column};
use crate::nn::loss::{entire_space_nll, sigma_from_raw};

use super::{Counterfactual, Heads, NetDims};

/// Two towers over one shared embedder; `rev_out` outputs are model-specific
/// (2 = μ and raw σ for the entire-space model, 1 = R̂ for MTL-MSE and ESMM).
#[derive(Module, Debug)]
pub(crate) struct TwoTower {
    pub(crate) embed: Embedder,
    pub(crate) conversion: Tower,
    pub(crate) revenue: Tower,
}

impl TwoTower {
    pub(crate) fn new(dims: &NetDims, rev_out: usize, device: &Device) -> Self {
        Self {
            embed: dims.embedder(device),
            conversion: Tower::new(dims.input, &dims.hidden, 1, dims.dropout, device),
            revenue: Tower::new(dims.input, &dims.hidden, rev_out, dims.dropout, device),
        }
    }

    /// (conversion logit `B`, revenue outputs `B × rev_out`).
    pub(crate) fn towers(&self, inputs: &Inputs) -> (Tensor<1>, Tensor<2>) {
        let x = self.embed.forward(inputs);
        let logit = column(&self.conversion.forward(x.clone()), 0);
        (logit, self.revenue.forward(x))
    }

    /// The same for every customer × fund pair (row `c·F + f`).
    pub(crate) fn towers_pairwise(&self, c: &SideInputs, f: &SideInputs) -> (Tensor<1>, Tensor<2>) {
        let xc = self.embed.forward_masked(&c.inputs, &c.mask);
        let xf = self.embed.forward_masked(&f.inputs, &f.mask);
        let logit = column(&self.conversion.forward_pairwise(xc.clone(), xf.clone()), 0);
        (logit, self.revenue.forward_pairwise(xc, xf))
    }
}

pub(crate) fn heads(net: &TwoTower, inputs: &Inputs) -> Heads {
    let (logit, rev) = net.towers(inputs);
    heads_from(logit, rev)
}

pub(crate) fn heads_from(logit: Tensor<1>, rev: Tensor<2>) -> Heads {
    Heads {
        logit: Some(logit),
        mu: Some(column(&rev, 0)),
        sigma: Some(sigma_from_raw(column(&rev, 1))),
        ..Heads::default()
    }
}

pub(crate) fn loss(h: &Heads, labels: &Labels, cf: Counterfactual) -> Option<Tensor<1>> {
    Some(entire_space_nll(
        h.logit.clone()?,
        h.mu.clone()?,
        h.sigma.clone()?,
        labels,
        cf.log_eps,
        cf.term,
    ))
}
