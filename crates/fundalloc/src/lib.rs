#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
// The crate docs (README) link to the modules of default features; without them the links
// have no target, which is expected rather than a documentation bug.
#![cfg_attr(
    not(all(feature = "revenue-model", feature = "allocator", feature = "metrics")),
    allow(rustdoc::broken_intra_doc_links)
)]

#[cfg(all(feature = "simulation", feature = "cbr-advisor"))]
pub mod advice;
mod error;
#[cfg(all(feature = "revenue-model", feature = "allocator", feature = "metrics"))]
pub mod pipeline;

pub use error::{Error, Result};

/// The shared domain model (`fundalloc-core-types`): revenue matrices, allocations, risk
/// levels, customers, funds, price series and windows. Always available.
pub use fundalloc_core_types as core_types;

/// Evaluation metrics (`fundalloc-metrics`): AUC, Gini, regression, decision and online
/// (CPME/RPME) metrics. Feature `metrics`.
#[cfg(feature = "metrics")]
pub use fundalloc_metrics as metrics;

/// Conformal prediction (`fundalloc-conformal`): split and normalised conformal intervals,
/// adaptive conformal inference. Feature `conformal`.
#[cfg(feature = "conformal")]
pub use fundalloc_conformal as conformal;

/// The revenue model (`fundalloc-revenue-model`): PTOFA's entire-space counterfactual
/// log-normal model and its baselines, datasets, a synthetic campaign. Feature `revenue-model`.
#[cfg(feature = "revenue-model")]
pub use fundalloc_revenue_model as revenue_model;

/// Fund allocation (`fundalloc-allocator`): the constrained problem, the Exact, HA, Manual and
/// LP solvers, the verifier. Feature `allocator`.
#[cfg(feature = "allocator")]
pub use fundalloc_allocator as allocator;

/// Predict-and-optimise on price series (`fundalloc-timeseries-pno`): forecasters, SPO+,
/// risk-aware allocation with conformal radii. Feature `timeseries-pno`.
#[cfg(feature = "timeseries-pno")]
pub use fundalloc_timeseries_pno as timeseries_pno;

/// Case-based portfolio advice (`fundalloc-cbr-advisor`): case base, retrieval, a TCP server
/// and client. Feature `cbr-advisor`.
#[cfg(feature = "cbr-advisor")]
pub use fundalloc_cbr_advisor as cbr_advisor;

/// Monte Carlo simulation (`fundalloc-simulation`): GBM and block-bootstrap paths, expected
/// yield, VaR and CVaR of products and portfolios. Feature `simulation`.
#[cfg(feature = "simulation")]
pub use fundalloc_simulation as simulation;

/// The handful of types a predict-then-optimise program needs: `use fundalloc::prelude::*;`.
///
/// Each group is present when its feature is on. Crate-specific names that would collide
/// (the time-series `Dataset`, for one) stay in their modules.
pub mod prelude {
    pub use crate::{Error, Result};
    pub use fundalloc_core_types::{Allocation, Customer, Fund, Real, RevenueMatrix, RiskLevel};

    #[cfg(feature = "allocator")]
    pub use fundalloc_allocator::{
        AllocationProblem, Exact, ExposureRange, Heuristic, Manual, PerCustomer, Solution,
        SolveReport, Solver, SolverKind, verify,
    };

    #[cfg(feature = "revenue-model")]
    pub use fundalloc_revenue_model::{
        ExposureDataset, FeatureSchema, FeatureTable, ModelKind, NoObserver, Observer, ParamGuard,
        RevenueModel, SyntheticCampaign, SyntheticParams, TrainParams,
    };

    #[cfg(all(feature = "revenue-model", feature = "allocator", feature = "metrics"))]
    pub use crate::pipeline::{
        AllocationOutcome, Evaluation, Pipeline, PipelineReport, TrainedPipeline,
    };
}
