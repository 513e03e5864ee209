//! Single-network baselines: DNN-C, DNN-R and ZILN share one embedder and one tower.
//!
//! - DNN-C: 1 output, the conversion logit; loss BCE.
//! - DNN-R: 1 output, `softplus` → `E` in revenue units (÷ scale); loss MSE against R on every
//!   row (not converted = 0).
//! - ZILN (Wang et al., 2019): 3 outputs `(z, μ, raw σ)`; loss BCE + `−mean[y·ln LN(r; μ, σ)]`
//!   — the log-normal fitted on converted rows only, unlike the entire-space model.

use burn::module::Module;
use burn::tensor::activation::softplus;
use burn::tensor::{Device, Tensor};

use crate::nn::blocks::{Embedder, Inputs, Labels, SideInputs, Tower, column};
use crate::nn::loss::{bce_with_logits, lognormal_nll_positive, mse, sigma_from_raw};

use super::{Heads, NetDims};

/// One embedder + one tower with `d_out` outputs.
#[derive(Module, Debug)]
pub(crate) struct SingleTower {
    embed: Embedder,
    tower: Tower,
}

impl SingleTower {
    pub(crate) fn new(dims: &NetDims, d_out: usize, device: &Device) -> Self {
        Self {
            embed: dims.embedder(device),
            tower: Tower::new(dims.input, &dims.hidden, d_out, dims.dropout, device),
        }
    }

    fn out(&self, inputs: &Inputs) -> Tensor<2> {
        self.tower.forward(self.embed.forward(inputs))
    }

    /// Tower outputs for every customer × fund pair (row `c·F + f`).
    pub(crate) fn out_pairwise(&self, c: &SideInputs, f: &SideInputs) -> Tensor<2> {
        let xc = self.embed.forward_masked(&c.inputs, &c.mask);
        let xf = self.embed.forward_masked(&f.inputs, &f.mask);
        self.tower.forward_pairwise(xc, xf)
    }
}

pub(crate) fn dnn_c_heads(net: &SingleTower, inputs: &Inputs) -> Heads {
    Heads {
        logit: Some(column(&net.out(inputs), 0)),
        ..Heads::default()
    }
}

pub(crate) fn dnn_c_loss(h: &Heads, labels: &Labels) -> Option<Tensor<1>> {
    Some(bce_with_logits(h.logit.clone()?, labels.converted.clone()))
}

pub(crate) fn dnn_r_heads(net: &SingleTower, inputs: &Inputs) -> Heads {
    dnn_r_heads_from(&net.out(inputs))
}

pub(crate) fn dnn_r_heads_from(out: &Tensor<2>) -> Heads {
    Heads {
        expected: Some(softplus(column(out, 0), 1.0)),
        ..Heads::default()
    }
}

pub(crate) fn dnn_r_loss(h: &Heads, labels: &Labels) -> Option<Tensor<1>> {
    Some(mse(h.expected.clone()?, labels.revenue.clone()))
}

pub(crate) fn ziln_heads(net: &SingleTower, inputs: &Inputs) -> Heads {
    ziln_heads_from(&net.out(inputs))
}

pub(crate) fn ziln_heads_from(out: &Tensor<2>) -> Heads {
    Heads {
        logit: Some(column(out, 0)),
        mu: Some(column(out, 1)),
        sigma: Some(sigma_from_raw(column(out, 2))),
        ..Heads::default()
    }
}

pub(crate) fn ziln_loss(h: &Heads, labels: &Labels) -> Option<Tensor<1>> {
    let bce = bce_with_logits(h.logit.clone()?, labels.converted.clone());
    Some(bce + lognormal_nll_positive(h.mu.clone()?, h.sigma.clone()?, labels))
}
