#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod data;
mod error;
pub mod experiment;
pub mod forecast;
pub mod framework;
pub mod risk;
pub mod solver;
pub mod spo;

/// The burn device that picks the backend (`Device::flex()` is the pure-Rust CPU backend);
/// re-exported so callers need no direct burn dependency.
pub use burn::tensor::Device;
pub use data::{Dataset, SegmentData, load_csv_column, read_csv_column};
pub use error::{PnoError, Result};
pub use experiment::{ExperimentReport, MethodResult, evaluate, run_experiment};
pub use forecast::{
    DLinearConfig, Forecaster, ForecasterConfig, NLinearConfig, PatchTstConfig, predict,
};
pub use framework::{
    ConstraintMode, EpochRecord, NoObserver, Phase, TrainObserver, TrainParams, Trained,
    ValidTrainParams, calibrate, fit_pno, fit_pto,
};
pub use risk::{DecisionRule, allocate, conformal_radii, radii_coverage, top_k_allocation};
pub use solver::{RiskConstraint, RiskSolution, quantile, solve_risk_aware};
pub use spo::{SpoPlus, spo_plus, spo_plus_batch};

/// The items most programs need: `use fundalloc_timeseries_pno::prelude::*;`.
pub mod prelude {
    pub use crate::{
        ConstraintMode, Dataset, DecisionRule, Device, Forecaster, ForecasterConfig, PnoError,
        RiskConstraint, RiskSolution, TrainParams, fit_pno, fit_pto, run_experiment,
        solve_risk_aware, spo_plus,
    };
}
