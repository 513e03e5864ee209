//! The one error type of this crate.

use crate::Score;

/// Everything that can go wrong when calibrating or applying a conformal predictor.
///
/// Every variant carries the data needed to say what is wrong and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConformalError {
    /// The coverage level γ (or a level derived from it) is not in the open interval (0, 1).
    #[error("coverage level {value} is not in (0, 1)")]
    InvalidCoverage {
        /// The offending level.
        value: f64,
    },
    /// A parameter other than the coverage is outside its documented domain.
    #[error("invalid {name} = {value}: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// The value, written out.
        value: String,
        /// What the domain is.
        reason: &'static str,
    },
    /// An input that must hold at least one element was empty.
    #[error("{what} is empty")]
    Empty {
        /// What was empty.
        what: &'static str,
    },
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
    /// A value was NaN or infinite.
    #[error("{what} has a non-finite value {value} at row {row}, column {col}")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Row (element index for 1-D input).
        row: usize,
        /// Column (0 for 1-D input).
        col: usize,
        /// The offending value, widened to `f64`.
        value: f64,
    },
    /// A value that must be non-negative (a score) or positive (a scale) was not.
    #[error("{what} has an out-of-domain value {value} at row {row}, column {col}: {reason}")]
    OutOfDomain {
        /// Which input.
        what: &'static str,
        /// Row (element index for 1-D input).
        row: usize,
        /// Column (0 for 1-D input).
        col: usize,
        /// The offending value, widened to `f64`.
        value: f64,
        /// The domain, in words.
        reason: &'static str,
    },
    /// Two inputs that must agree in length or shape do not.
    #[error("{what}: expected {expected}, found {found}")]
    ShapeMismatch {
        /// What was compared.
        what: &'static str,
        /// The expected length or shape, written out.
        expected: String,
        /// The length or shape found, written out.
        found: String,
    },
    /// Intervals were asked for with a score other than the one the predictor was calibrated on
    /// (for example unscaled intervals from a calibration on normalised residuals).
    #[error("calibrated on {calibrated:?} scores, but intervals were asked for {requested:?}")]
    ScoreMismatch {
        /// The score of the calibration.
        calibrated: Score,
        /// The score the interval method implies.
        requested: Score,
    },
}

/// Result alias of this crate.
pub type Result<T, E = ConformalError> = std::result::Result<T, E>;
