#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod data;
mod decision;
mod error;
mod experiment;
mod forecast;
mod multi_asset;
mod solver;
mod spo;
mod train;

/// The burn device that picks the backend (`Device::flex()` is the pure-Rust CPU backend);
/// re-exported so callers need no direct burn dependency.
pub use burn::tensor::Device;
pub use data::{
    MAX_CSV_ROWS, MAX_SEGMENT_CELLS, SegmentData, WindowDataset, load_csv_column, read_csv_column,
};
pub use decision::{DecisionRule, allocate, conformal_radii, radii_coverage, top_k_allocation};
pub use error::{PnoError, Result};
pub use experiment::{
    ExperimentReport, MethodResult, MultiAssetReport, MultiAssetResult, evaluate,
    evaluate_multi_asset, run_experiment, run_multi_asset_experiment,
};
pub use forecast::{
    DLinear, DLinearParams, DLinearValidParams, FedFormer, FedFormerParams, FedFormerValidParams,
    Forecaster, ForecasterParams, MAX_FORECASTER_WEIGHTS, NLinear, NLinearParams, PatchTst,
    PatchTstParams, PatchTstValidParams, RevIn, TimesNet, TimesNetParams, TimesNetValidParams,
    predict,
};
pub use fundalloc_core_types::{CancelToken, NoObserver, Observer, ParamGuard};
pub use multi_asset::{
    MAX_MULTI_ASSET_CELLS, MultiAssetDataset, MultiAssetProblem, MultiAssetSolution,
    predict_channels,
};
#[cfg(feature = "highs")]
pub use solver::highs::solve_with_highs;
pub use solver::{RiskConstraint, RiskSolution, quantile, solve_risk_aware};
pub use spo::{SpoPlus, spo_plus, spo_plus_batch};
pub use train::{
    EpochReport, Method, Phase, TrainParams, Trained, ValidTrainParams, calibrate, fit,
    fit_multi_asset,
};

/// The items most programs need: `use fundalloc_timeseries_pno::prelude::*;`.
pub mod prelude {
    pub use crate::{
        CancelToken, DecisionRule, Device, EpochReport, Forecaster, ForecasterParams, Method,
        NoObserver, Observer, ParamGuard, PnoError, RiskConstraint, RiskSolution, TrainParams,
        WindowDataset, fit, run_experiment, solve_risk_aware, spo_plus,
    };
}
