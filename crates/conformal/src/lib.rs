#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod aci;
mod error;
mod eval;
mod quantile;
mod score;
mod split;

pub use aci::{
    AciParams, AciValidParams, AdaptiveConformal, PositionalAdaptiveConformal, ScoreMemory,
};
pub use error::{ConformalError, Result};
pub use eval::{
    IntervalEvaluation, PositionEvaluation, evaluate, evaluate_intervals,
    evaluate_position_intervals, evaluate_positions,
};
pub use fundalloc_core_types::{ParamGuard, Real};
pub use quantile::{RankOverflow, conformal_quantile, conformal_rank};
pub use score::{Score, absolute_residuals, normalized_residuals};
pub use split::{
    HorizonCoverage, PositionalConformal, PredictionIntervals, SplitConformal,
    SplitConformalParams, SplitConformalValidParams,
};

// The student guide's code blocks are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/conformal.md")]
mod guide {}

/// The types most programs need: `use fundalloc_conformal::prelude::*;`.
pub mod prelude {
    pub use crate::{
        AciParams, AdaptiveConformal, ConformalError, HorizonCoverage, ParamGuard,
        PositionalAdaptiveConformal, PositionalConformal, PredictionIntervals, RankOverflow, Score,
        ScoreMemory, SplitConformal, SplitConformalParams, SplitConformalValidParams,
    };
}
