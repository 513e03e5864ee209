//! The one error type of this crate.

use fundalloc_core_types::{
    Cancelled, CoreError, Empty, InvalidParameter, NonFinite, ShapeMismatch, TooLarge,
};

/// Everything that can go wrong in `fundalloc-timeseries-pno`.
///
/// Every variant carries the values needed to report the problem without re-checking the input.
/// The shared leaf errors of `fundalloc-core-types` are embedded as they are.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PnoError {
    /// The risk budget r̄ is below every step's risk, so `{a ≥ 0, Σa = 1, a·r ≤ r̄}` is empty.
    #[error(
        "risk budget {budget} is below the smallest step risk {min_risk}: no allocation is feasible"
    )]
    Infeasible {
        /// The budget r̄ asked for.
        budget: f64,
        /// min_h r_h, the least budget that is feasible.
        min_risk: f64,
    },
    /// An input that must hold at least one element was empty.
    #[error(transparent)]
    Empty(#[from] Empty),
    /// A value was NaN or infinite (a price of a CSV file: its data row, from 0).
    #[error(transparent)]
    NonFinite(#[from] NonFinite),
    /// Two inputs that must agree in length or shape do not.
    #[error(transparent)]
    ShapeMismatch(#[from] ShapeMismatch),
    /// A parameter was outside its documented domain.
    #[error(transparent)]
    InvalidParameter(#[from] InvalidParameter),
    /// An input is larger than this crate accepts (nothing of that size was allocated).
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    /// A [`CancelToken`](fundalloc_core_types::CancelToken) stopped the computation (cancelled,
    /// or past its deadline).
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
    /// A CSV file could not be read or parsed.
    #[error("CSV {path}{}: {reason}", row.map(|r| format!(", data row {r}")).unwrap_or_default())]
    Csv {
        /// The file (or the name the caller gave the reader).
        path: String,
        /// The data row (from 0, after the header) where known.
        row: Option<usize>,
        /// What went wrong.
        reason: String,
    },
    /// A CSV file has no column of the requested name.
    #[error("CSV {path} has no column {column:?} (columns: {})", available.join(","))]
    MissingColumn {
        /// The file.
        path: String,
        /// The column asked for.
        column: String,
        /// The columns present.
        available: Vec<String>,
    },
    /// A burn tensor could not be read back (dtype or shape out of line).
    #[error("tensor read-back failed: {0}")]
    Tensor(String),
    /// An error of split conformal calibration (Algorithm 1), e.g. too few calibration windows.
    #[error(transparent)]
    Conformal(#[from] fundalloc_conformal::ConformalError),
    /// An error of the evaluation metrics (regret, MSE, …).
    #[error(transparent)]
    Metrics(#[from] fundalloc_metrics::MetricsError),
    /// An error of the shared domain types (series, windows, scaler).
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// `Result` with [`PnoError`].
pub type Result<T, E = PnoError> = std::result::Result<T, E>;

/// Checks that every value is finite.
pub(crate) fn check_finite(what: &'static str, values: &[f64]) -> Result<()> {
    Ok(NonFinite::check(what, values)?)
}
