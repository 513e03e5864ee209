//! The one error type of this crate.

use fundalloc_core_types::CoreError;

/// Everything that can go wrong in `fundalloc-timeseries-pno`.
///
/// Every variant carries the values needed to report the problem without re-checking the input.
#[derive(Debug, thiserror::Error)]
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
    #[error("{what} is empty")]
    Empty {
        /// What was empty.
        what: &'static str,
    },
    /// A value was NaN or infinite.
    #[error("{what} has a non-finite value {value} at index {index}")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Flat index of the value.
        index: usize,
        /// The value.
        value: f64,
    },
    /// Two inputs that must agree in length do not.
    #[error("{what}: expected length {expected}, found {found}")]
    LengthMismatch {
        /// What was compared.
        what: &'static str,
        /// The expected length.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A parameter was outside its documented domain.
    #[error("parameter {name} = {value} is invalid: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// The value given, written out.
        value: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A CSV file could not be read or parsed.
    #[error("CSV {path}: {reason}")]
    Csv {
        /// The file.
        path: String,
        /// What went wrong (with the row where known).
        reason: String,
    },
    /// A CSV file has no column of the requested name.
    #[error("CSV {path} has no column {column:?} (columns: {available})")]
    MissingColumn {
        /// The file.
        path: String,
        /// The column asked for.
        column: String,
        /// The columns present, comma-separated.
        available: String,
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
pub type Result<T> = std::result::Result<T, PnoError>;

/// Checks that every value is finite.
pub(crate) fn check_finite(what: &'static str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(PnoError::NonFinite {
            what,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}
