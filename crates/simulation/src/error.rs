//! The one error type of this crate.

use fundalloc_core_types::{
    Cancelled, CoreError, Empty, InvalidParameter, NonFinite, Position, ShapeMismatch, TooLarge,
};

/// Everything that can go wrong when calibrating a model, simulating paths or measuring risk.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SimulationError {
    /// A parameter (a level, a path count, a block length…) was outside its domain.
    #[error(transparent)]
    InvalidParameter(#[from] InvalidParameter),
    /// Two inputs that must agree in length do not (weights vs assets, series lengths).
    #[error(transparent)]
    ShapeMismatch(#[from] ShapeMismatch),
    /// A price, return or weight was NaN or infinite.
    #[error(transparent)]
    NonFinite(#[from] NonFinite),
    /// An input that must hold at least one element was empty.
    #[error(transparent)]
    Empty(#[from] Empty),
    /// `n_paths × steps` (or a fan chart's buffer) is larger than the engine accepts.
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    /// The [`CancelToken`](fundalloc_core_types::CancelToken) stopped the simulation.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
    /// An error of a core-types constructor.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A price series has fewer than two prices, so it has no return.
    #[error("{series} has {len} price(s); at least 2 are needed for one return")]
    TooFewPrices {
        /// The series' name.
        series: String,
        /// Its number of prices.
        len: usize,
    },
    /// A price was zero or negative, so its log return is undefined.
    #[error("{series} has a non-positive price {value} at {at}")]
    NonPositivePrice {
        /// The series' name.
        series: String,
        /// Where in it.
        at: Position,
        /// The price.
        value: f64,
    },
    /// A correlation (or covariance) matrix is not positive definite: the Cholesky
    /// factorisation met a pivot `<= 0` (two assets move as one, or too few observations).
    #[error("the correlation matrix is not positive definite (pivot {pivot} of column {column})")]
    NotPositiveDefinite {
        /// The column whose pivot failed.
        column: usize,
        /// The pivot value (`<= 0` or NaN).
        pivot: f64,
    },
    /// Portfolio weights do not sum to 1 within [`WEIGHT_TOLERANCE`](crate::WEIGHT_TOLERANCE).
    #[error("the weights sum to {sum}, not 1 (tolerance 1e-9)")]
    WeightsDoNotSumToOne {
        /// Their sum.
        sum: f64,
    },
    /// A weight is negative: portfolios are long-only.
    #[error("weight {index} is negative ({value}); portfolios are long-only")]
    NegativeWeight {
        /// The asset's index.
        index: usize,
        /// The weight.
        value: f64,
    },
    /// A series has zero variance (constant prices), so a volatility or a parametric measure
    /// would divide by zero.
    #[error("{what} has zero variance")]
    ZeroVariance {
        /// Which input.
        what: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = SimulationError> = std::result::Result<T, E>;
