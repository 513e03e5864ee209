#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod calibrate;
mod engine;
mod error;
mod measures;
mod model;
mod normal;
mod params;
mod portfolio;

pub use calibrate::{CorrelatedGbmFit, GbmFit, calibrate, calibrate_assets, log_returns};
pub use engine::{FanChart, Simulation, simulate};
pub use error::{Result, SimulationError};
pub use measures::{Estimate, TailRisk, historical_tail, parametric_normal_tail};
pub use model::{CorrelatedGbm, Gbm, PathModel, StationaryBootstrap};
pub use params::{
    MAX_FAN_CELLS, MAX_PATH_STEPS, MAX_PATHS, SimulationParams, SimulationValidParams,
};
pub use portfolio::{Comparison, Portfolio, Summary, TailEstimate, WEIGHT_TOLERANCE, compare};

/// What most programs need: `use fundalloc_simulation::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Comparison, CorrelatedGbm, Estimate, Gbm, Portfolio, SimulationError, SimulationParams,
        StationaryBootstrap, Summary, calibrate, calibrate_assets, compare, historical_tail,
        parametric_normal_tail, simulate,
    };
    pub use fundalloc_core_types::{CancelToken, NoObserver, Observer, ParamGuard, PriceSeries};
}
