//! The model zoo: which model to train.

use std::fmt;

use fundalloc_core_types::InvalidParameter;

/// The paper's model and its Table 1 baselines. See `docs/revenue-model.md` for each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ModelKind {
    /// PTOFA's model (Table 1's "Ours"): shared embeddings, a conversion tower and a revenue
    /// tower with μ and σ heads, trained with the entire-space counterfactual log-normal loss
    /// (Eq. 6).
    EntireSpaceLogNormal,
    /// One MLP predicting conversion, trained with binary cross-entropy. Predicts `P_c` only.
    DnnC,
    /// One MLP regressing revenue on every exposure (0 when not converted) with MSE. Predicts
    /// `E` only.
    DnnR,
    /// Shared-Bottom multi-task network: a shared MLP, a conversion tower (BCE on all rows) and a
    /// revenue tower (MSE on converted rows); `E = P_c · R̂`.
    SharedBottom,
    /// Multi-gate Mixture-of-Experts: experts shared by both tasks, one softmax gate per task;
    /// same heads and losses as Shared-Bottom.
    Mmoe,
    /// ESMM adapted to revenue: conversion tower trained on all rows (BCE), revenue tower
    /// trained only through the entire-space product `E = P_c · R̂` (MSE against R on all rows).
    Esmm,
    /// Zero-inflated log-normal (ZILN): one network with three outputs (conversion logit, μ, σ);
    /// BCE plus the log-normal likelihood of converted rows only.
    Ziln,
    /// Multi-task with MSE: the same two towers as the entire-space model, conversion by BCE and revenue by MSE on
    /// converted rows; `E = P_c · R̂`.
    MtlMse,
}

impl ModelKind {
    /// All eight, in the order of the paper's Table 1 (the entire-space model, "Ours", last).
    pub const ALL: [ModelKind; 8] = [
        ModelKind::Esmm,
        ModelKind::DnnC,
        ModelKind::DnnR,
        ModelKind::SharedBottom,
        ModelKind::Mmoe,
        ModelKind::Ziln,
        ModelKind::MtlMse,
        ModelKind::EntireSpaceLogNormal,
    ];

    /// The name used in the paper's Table 1 ("Ours" for [`ModelKind::EntireSpaceLogNormal`]).
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::EntireSpaceLogNormal => "Ours",
            ModelKind::DnnC => "DNN-C",
            ModelKind::DnnR => "DNN-R",
            ModelKind::SharedBottom => "Shared-Bottom",
            ModelKind::Mmoe => "MMoE",
            ModelKind::Esmm => "ESMM",
            ModelKind::Ziln => "ZILN",
            ModelKind::MtlMse => "MTL-MSE",
        }
    }

    /// Whether the model predicts a conversion probability.
    pub fn predicts_conversion(self) -> bool {
        !matches!(self, ModelKind::DnnR)
    }

    /// Whether the model predicts an expected revenue.
    pub fn predicts_revenue(self) -> bool {
        !matches!(self, ModelKind::DnnC)
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            ModelKind::EntireSpaceLogNormal => 0,
            ModelKind::DnnC => 1,
            ModelKind::DnnR => 2,
            ModelKind::SharedBottom => 3,
            ModelKind::Mmoe => 4,
            ModelKind::Esmm => 5,
            ModelKind::Ziln => 6,
            ModelKind::MtlMse => 7,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ModelKind {
    type Err = crate::RevenueModelError;

    /// Parses a Table 1 name, case-insensitively (`ours`, `dnn-c`, `mmoe`...).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                crate::RevenueModelError::from(InvalidParameter::new(
                    "model kind",
                    s,
                    "expected one of Ours, DNN-C, DNN-R, Shared-Bottom, MMoE, ESMM, ZILN, MTL-MSE",
                ))
            })
    }
}
