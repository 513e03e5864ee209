//! Two-tower baselines that share the entire-space model's architecture but not its loss:
//!
//! - MTL-MSE: conversion BCE on all rows + revenue MSE `mean[y·(R̂ − r)²]` on converted rows;
//! - ESMM (Ma et al., 2018, adapted from click → conversion to conversion → revenue):
//!   conversion BCE on all rows + MSE of the entire-space product `P_c·R̂` against r on all
//!   rows, so the revenue tower is never fitted on the converted subspace alone.
//!
//! Both predict `E = P_c · R̂` with `R̂ = softplus(out) ≥ 0`.

use burn::tensor::Tensor;
use burn::tensor::activation::{sigmoid, softplus};

use crate::nn::blocks::{Inputs, Labels, column};
use crate::nn::loss::{bce_with_logits, mse, mse_positive};

use super::Heads;
use super::entire_space::TwoTower;

pub(crate) fn heads(net: &TwoTower, inputs: &Inputs) -> Heads {
    let (logit, rev) = net.towers(inputs);
    heads_from(logit, rev)
}

pub(crate) fn heads_from(logit: Tensor<1>, rev: Tensor<2>) -> Heads {
    Heads {
        logit: Some(logit),
        revenue: Some(softplus(column(&rev, 0), 1.0)),
        ..Heads::default()
    }
}

pub(crate) fn mtl_mse_loss(h: &Heads, labels: &Labels) -> Option<Tensor<1>> {
    let bce = bce_with_logits(h.logit.clone()?, labels.converted.clone());
    Some(bce + mse_positive(h.revenue.clone()?, labels))
}

pub(crate) fn esmm_loss(h: &Heads, labels: &Labels) -> Option<Tensor<1>> {
    let logit = h.logit.clone()?;
    let bce = bce_with_logits(logit.clone(), labels.converted.clone());
    let product = sigmoid(logit) * h.revenue.clone()?;
    Some(bce + mse(product, labels.revenue.clone()))
}
