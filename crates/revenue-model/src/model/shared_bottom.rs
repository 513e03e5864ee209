//! Shared-Bottom (Caruana, 1997) and MMoE (Ma et al., 2018).
//!
//! Shared-Bottom: embedder → shared MLP → a conversion tower and a revenue tower.
//! MMoE: embedder → `n_experts` expert MLPs; task t mixes them with its gate
//! `g_t(x) = softmax(W_t x)`: `h_t = Σ_k g_t(x)_k · expert_k(x)` → task tower.
//! Both: conversion BCE on all rows + revenue MSE on converted rows; `E = P_c · R̂`.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{softmax, softplus};
use burn::tensor::{Device, Tensor};

use crate::nn::blocks::{Embedder, Inputs, Labels, Mlp, Tower, column};
use crate::nn::loss::{bce_with_logits, mse_positive};

use super::{Heads, NetDims};

#[derive(Module, Debug)]
pub(crate) struct SharedBottom {
    embed: Embedder,
    bottom: Mlp,
    conversion: Tower,
    revenue: Tower,
}

impl SharedBottom {
    pub(crate) fn new(dims: &NetDims, device: &Device) -> Self {
        let last = dims.last_hidden();
        Self {
            embed: dims.embedder(device),
            bottom: Mlp::new(dims.input, &dims.hidden, dims.dropout, device),
            conversion: Tower::new(last, &[last], 1, dims.dropout, device),
            revenue: Tower::new(last, &[last], 1, dims.dropout, device),
        }
    }

    pub(crate) fn heads(&self, inputs: &Inputs) -> Heads {
        let h = self.bottom.forward(self.embed.forward(inputs));
        Heads {
            logit: Some(column(&self.conversion.forward(h.clone()), 0)),
            revenue: Some(softplus(column(&self.revenue.forward(h), 0), 1.0)),
            ..Heads::default()
        }
    }
}

#[derive(Module, Debug)]
pub(crate) struct Mmoe {
    embed: Embedder,
    experts: Vec<Mlp>,
    gate_conversion: Linear,
    gate_revenue: Linear,
    conversion: Tower,
    revenue: Tower,
}

impl Mmoe {
    pub(crate) fn new(dims: &NetDims, device: &Device) -> Self {
        let last = dims.last_hidden();
        let k = dims.n_experts;
        Self {
            embed: dims.embedder(device),
            experts: (0..k)
                .map(|_| Mlp::new(dims.input, &dims.hidden, dims.dropout, device))
                .collect(),
            gate_conversion: LinearConfig::new(dims.input, k).init(device),
            gate_revenue: LinearConfig::new(dims.input, k).init(device),
            conversion: Tower::new(last, &[last], 1, dims.dropout, device),
            revenue: Tower::new(last, &[last], 1, dims.dropout, device),
        }
    }

    pub(crate) fn heads(&self, inputs: &Inputs) -> Heads {
        let x = self.embed.forward(inputs);
        // B × K × H: the experts' outputs side by side.
        let experts: Vec<Tensor<3>> = self
            .experts
            .iter()
            .map(|e| e.forward(x.clone()).unsqueeze_dim(1))
            .collect();
        let stacked = Tensor::cat(experts, 1);
        let mix = |gate: &Linear| -> Tensor<2> {
            let g: Tensor<3> = softmax(gate.forward(x.clone()), 1).unsqueeze_dim(2); // B × K × 1
            (stacked.clone() * g).sum_dim(1).squeeze_dim(1) // B × H
        };
        let hc = mix(&self.gate_conversion);
        let hr = mix(&self.gate_revenue);
        Heads {
            logit: Some(column(&self.conversion.forward(hc), 0)),
            revenue: Some(softplus(column(&self.revenue.forward(hr), 0), 1.0)),
            ..Heads::default()
        }
    }
}

pub(crate) fn loss(h: &Heads, labels: &Labels) -> Option<Tensor<1>> {
    let bce = bce_with_logits(h.logit.clone()?, labels.converted.clone());
    Some(bce + mse_positive(h.revenue.clone()?, labels))
}
