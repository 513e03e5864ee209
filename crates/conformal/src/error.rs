//! The one error type of this crate.

use fundalloc_core_types::{Empty, InvalidParameter, NonFinite, Position, ShapeMismatch};

use crate::Score;

/// Everything that can go wrong when fitting or applying a conformal predictor.
///
/// Every variant carries the data needed to say what is wrong and where. The shared leaf
/// errors of `fundalloc-core-types` are embedded as they are.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConformalError {
    /// A parameter is outside its documented domain: the coverage level γ (or a level derived
    /// from it) outside (0, 1), a step size, clip bounds, a memory capacity.
    #[error(transparent)]
    InvalidParameter(#[from] InvalidParameter),
    /// An input that must hold at least one element was empty.
    #[error(transparent)]
    Empty(#[from] Empty),
    /// With `n` calibration scores the rank ⌈(n+1)·level⌉ exceeds `n`: no finite quantile exists.
    ///
    /// Returned only under [`RankOverflow::Error`](crate::RankOverflow::Error); under
    /// [`RankOverflow::Infinite`](crate::RankOverflow::Infinite) the radius is +∞ instead.
    #[error(
        "{n} calibration scores are too few for level {level}: rank ⌈(n+1)·level⌉ = {rank} > n; \
         at least {needed} are needed"
    )]
    TooFewScores {
        /// Number of calibration scores.
        n: usize,
        /// The per-position level asked for (γ, or 1 − (1 − γ)/H under Bonferroni).
        level: f64,
        /// The rank ⌈(n+1)·level⌉.
        rank: usize,
        /// The smallest n for which the rank is at most n.
        needed: usize,
    },
    /// A value was NaN or infinite (its position: an index for 1-D input, a cell for 2-D).
    #[error(transparent)]
    NonFinite(#[from] NonFinite),
    /// A value that must be non-negative (a score) or positive (a scale) was not.
    #[error("{what} has an out-of-domain value {value} at {at}: {reason}")]
    OutOfDomain {
        /// Which input.
        what: &'static str,
        /// Where in it (an index for 1-D input, a cell for 2-D).
        at: Position,
        /// The offending value, widened to `f64`.
        value: f64,
        /// The domain, in words.
        reason: &'static str,
    },
    /// Two inputs that must agree in length or shape do not.
    #[error(transparent)]
    ShapeMismatch(#[from] ShapeMismatch),
    /// Intervals were asked for with a score other than the one the predictor was fitted on
    /// (for example unscaled intervals from a fit on normalised residuals).
    #[error("fitted on {calibrated:?} scores, but intervals were asked for {requested:?}")]
    ScoreMismatch {
        /// The score of the calibration set the predictor was fitted on.
        calibrated: Score,
        /// The score the interval method implies.
        requested: Score,
    },
}

impl ConformalError {
    /// The row (index for 1-D input) of a [`NonFinite`](Self::NonFinite) or
    /// [`OutOfDomain`](Self::OutOfDomain) value, `None` for other variants.
    pub fn row(&self) -> Option<usize> {
        match self {
            ConformalError::NonFinite(e) => Some(e.row()),
            ConformalError::OutOfDomain { at, .. } => Some(match *at {
                Position::Index(i) => i,
                Position::Cell { row, .. } => row,
            }),
            _ => None,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = ConformalError> = std::result::Result<T, E>;
