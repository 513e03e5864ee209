//! The one error type of this crate.

use crate::{Cancelled, Empty, InvalidParameter, NonFinite, Position, ShapeMismatch, TooLarge};

/// Everything that can be wrong with the values handed to core-types constructors.
///
/// Every variant carries the data needed to say what is wrong and where, so a caller can
/// report it without re-checking the input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// An input that must hold at least one element was empty.
    #[error(transparent)]
    Empty(#[from] Empty),
    /// A value was NaN or infinite.
    #[error(transparent)]
    NonFinite(#[from] NonFinite),
    /// A value that must be non-negative was negative.
    #[error("{what} has a negative value {value} at {at}")]
    Negative {
        /// Which input.
        what: &'static str,
        /// Where in it.
        at: Position,
        /// The offending value, widened to `f64`.
        value: f64,
    },
    /// Two inputs that must agree in length or shape do not.
    #[error(transparent)]
    ShapeMismatch(#[from] ShapeMismatch),
    /// An index was outside its range.
    #[error("{what} index {index} is out of range (length {len})")]
    IndexOutOfRange {
        /// What was indexed.
        what: &'static str,
        /// The index.
        index: usize,
        /// The valid length.
        len: usize,
    },
    /// A parameter was outside its documented domain.
    #[error(transparent)]
    InvalidParameter(#[from] InvalidParameter),
    /// A size is larger than the limit (nothing was allocated).
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    /// A long computation was cancelled or ran past its deadline.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
    /// A chronological segment has too few rows to hold one window of lookback + horizon.
    #[error(
        "the {segment} segment has {rows} rows, but one window needs lookback + horizon = {needed}"
    )]
    SegmentTooShort {
        /// `"train"`, `"validation"` or `"test"`.
        segment: &'static str,
        /// Rows the segment has (including the lookback rows borrowed from before it).
        rows: usize,
        /// Rows one window needs.
        needed: usize,
    },
    /// The training part of a series is constant, so it cannot be standardised.
    #[error("cannot standardise: the training values are constant (std = 0)")]
    ZeroVariance,
    /// Two ids in a collection that must have unique ids are equal.
    #[error("duplicate {what} id {id:?}")]
    DuplicateId {
        /// `"customer"` or `"fund"`.
        what: &'static str,
        /// The repeated id.
        id: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
