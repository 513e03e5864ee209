#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod data;
mod error;
pub mod forecast;
pub mod solver;
pub mod spo;

pub use data::{Dataset, SegmentData, load_csv_column, read_csv_column};
pub use error::{PnoError, Result};
pub use forecast::{
    DLinearConfig, Forecaster, ForecasterConfig, NLinearConfig, PatchTstConfig, predict,
};
pub use solver::{RiskConstraint, RiskSolution, quantile, solve_risk_aware};
pub use spo::{SpoPlus, spo_plus, spo_plus_batch};

/// The items most programs need: `use fundalloc_timeseries_pno::prelude::*;`.
pub mod prelude {
    pub use crate::{PnoError, RiskConstraint, RiskSolution, solve_risk_aware, spo_plus};
}
