//! The one error type of this crate.

use fundalloc_core_types::{Empty, InvalidParameter, NonFinite, ShapeMismatch};

/// Everything that can be wrong with the values handed to a metric.
///
/// Every variant carries the data needed to say what is wrong and where (which input, which
/// index, which value), so a caller can report it without re-checking the input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// An input that must hold at least one element was empty.
    #[error(transparent)]
    Empty(#[from] Empty),
    /// Two inputs that must have the same length (or shape) do not: `what` is the second
    /// input, `expected` the length of the first.
    #[error(transparent)]
    ShapeMismatch(#[from] ShapeMismatch),
    /// A value was NaN or infinite (an index for a 1-D input, a cell for a matrix).
    #[error(transparent)]
    NonFinite(#[from] NonFinite),
    /// ROC AUC needs at least one positive and one negative label.
    #[error(
        "ROC AUC is undefined with a single class: {n_positive} positive and {n_negative} negative labels"
    )]
    SingleClass {
        /// Number of `true` labels.
        n_positive: usize,
        /// Number of `false` labels.
        n_negative: usize,
    },
    /// A 0/1 label was neither 0 nor 1.
    #[error("label at index {index} is {value}, expected 0 or 1")]
    InvalidLabel {
        /// Position of the label.
        index: usize,
        /// The value found, widened to `f64`.
        value: f64,
    },
    /// A metric would divide by zero (for example a Gini coefficient of all-zero targets, or
    /// CPME with no exposures).
    #[error("{what} is zero, so the metric is undefined")]
    ZeroDenominator {
        /// Which quantity is zero.
        what: &'static str,
    },
    /// A value that must be strictly positive was not.
    #[error("{what} must be positive, found {value} at index {index}")]
    NotPositive {
        /// Which input.
        what: &'static str,
        /// Position of the value.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A prediction interval had its lower end above its upper end.
    #[error("interval {index} is inverted: lower {lower} > upper {upper}")]
    InvertedInterval {
        /// Position of the interval.
        index: usize,
        /// Its lower end.
        lower: f64,
        /// Its upper end.
        upper: f64,
    },
    /// An allocation vector was not on the probability simplex (`a ≥ 0`, `Σa = 1`).
    #[error(
        "allocation of window {window} is not on the simplex: sum {sum}, smallest weight {min_weight}"
    )]
    NotOnSimplex {
        /// Which window (row).
        window: usize,
        /// Sum of its weights.
        sum: f64,
        /// Its smallest weight.
        min_weight: f64,
    },
    /// More conversions than exposures were reported.
    #[error("{conversions} conversions exceed {exposures} exposures")]
    ConversionsExceedExposures {
        /// Conversions reported.
        conversions: u64,
        /// Exposures reported.
        exposures: u64,
    },
    /// Quantile binning produced two equal bin edges (too many tied predictions for this many
    /// bins).
    #[error(
        "bin edges are not distinct: {bins} quantile bins need distinct edges, but edge {edge} equals the next ({value})"
    )]
    DuplicateBinEdges {
        /// Number of bins asked for.
        bins: usize,
        /// Index of the first repeated edge.
        edge: usize,
        /// Its value.
        value: f64,
    },
    /// Quantile binning produced distinct edges but a bin that holds no prediction (ties sit
    /// on an edge).
    #[error("quantile bin {bin} of {bins} holds no prediction")]
    EmptyBin {
        /// Number of bins asked for.
        bins: usize,
        /// The empty bin.
        bin: usize,
    },
    /// An input has fewer elements than the metric needs.
    #[error("{what} needs at least {needed} elements, found {found}")]
    TooFew {
        /// Which input.
        what: &'static str,
        /// Elements needed.
        needed: usize,
        /// Elements found.
        found: usize,
    },
    /// A parameter was outside its documented domain.
    #[error(transparent)]
    InvalidParameter(#[from] InvalidParameter),
}

/// `Result` with [`MetricsError`].
pub type Result<T, E = MetricsError> = std::result::Result<T, E>;
