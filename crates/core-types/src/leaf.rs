//! Leaf error structs shared by every fundalloc crate.
//!
//! Each crate's error enum embeds these with `#[from]` (one variant each, named like the
//! struct), so the same mistake reads and matches the same way everywhere:
//!
//! ```
//! use fundalloc_core_types::{CoreError, InvalidParameter};
//!
//! let err: CoreError = InvalidParameter::new("gamma", 1.5, "must be in (0, 1)").into();
//! assert!(matches!(err, CoreError::InvalidParameter(ref e) if e.name == "gamma"));
//! assert_eq!(err.to_string(), "invalid gamma = 1.5: must be in (0, 1)");
//! ```
//!
//! The structs are `#[non_exhaustive]`: build them with their constructors, read their fields.

use std::fmt;

/// A parameter was outside its documented domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {name} = {value}: {reason}")]
#[non_exhaustive]
pub struct InvalidParameter {
    /// The parameter's name, as its setter spells it.
    pub name: &'static str,
    /// The value, written out.
    pub value: String,
    /// What the domain is.
    pub reason: &'static str,
}

impl InvalidParameter {
    /// A bad `value` of parameter `name`; `reason` states the domain.
    pub fn new(name: &'static str, value: impl fmt::Display, reason: &'static str) -> Self {
        Self {
            name,
            value: value.to_string(),
            reason,
        }
    }
}

/// Two inputs that must agree in length or shape do not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: expected {expected}, found {found}")]
#[non_exhaustive]
pub struct ShapeMismatch {
    /// What was compared.
    pub what: &'static str,
    /// The expected length or shape, written out.
    pub expected: String,
    /// The length or shape found, written out.
    pub found: String,
}

impl ShapeMismatch {
    /// `what` was expected to be `expected` and is `found` (lengths, shapes, counts).
    pub fn new(what: &'static str, expected: impl fmt::Display, found: impl fmt::Display) -> Self {
        Self {
            what,
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }

    /// Checks `found == expected` for a length.
    ///
    /// # Errors
    /// The mismatch when they differ.
    pub fn check_len(what: &'static str, expected: usize, found: usize) -> Result<(), Self> {
        if expected == found {
            Ok(())
        } else {
            Err(Self::new(what, expected, found))
        }
    }
}

/// Where in an input a value sits: an index of a vector or a cell of a matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Position {
    /// Element `i` of a 1-D input.
    Index(usize),
    /// Row and column of a 2-D input.
    Cell {
        /// Row.
        row: usize,
        /// Column.
        col: usize,
    },
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Index(i) => write!(f, "index {i}"),
            Position::Cell { row, col } => write!(f, "row {row}, column {col}"),
        }
    }
}

/// A value was NaN or infinite where a finite one is required.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{what} has a non-finite value {value} at {at}")]
#[non_exhaustive]
pub struct NonFinite {
    /// Which input.
    pub what: &'static str,
    /// Where in it.
    pub at: Position,
    /// The offending value, widened to `f64`.
    pub value: f64,
}

impl NonFinite {
    /// Element `index` of the 1-D input `what` is `value`.
    pub fn at_index(what: &'static str, index: usize, value: f64) -> Self {
        Self {
            what,
            at: Position::Index(index),
            value,
        }
    }

    /// Cell (`row`, `col`) of the 2-D input `what` is `value`.
    pub fn at_cell(what: &'static str, row: usize, col: usize, value: f64) -> Self {
        Self {
            what,
            at: Position::Cell { row, col },
            value,
        }
    }

    /// The row for a cell, the index for a vector.
    pub fn row(&self) -> usize {
        match self.at {
            Position::Index(i) => i,
            Position::Cell { row, .. } => row,
        }
    }

    /// Checks that every value is finite.
    ///
    /// # Errors
    /// The first non-finite value, with its index. O(n).
    pub fn check(what: &'static str, values: &[f64]) -> Result<(), Self> {
        match values.iter().position(|v| !v.is_finite()) {
            Some(i) => Err(Self::at_index(what, i, values[i])),
            None => Ok(()),
        }
    }
}

/// An input that must hold at least one element was empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} is empty")]
#[non_exhaustive]
pub struct Empty {
    /// What was empty.
    pub what: &'static str,
}

impl Empty {
    /// `what` was empty.
    pub fn new(what: &'static str) -> Self {
        Self { what }
    }
}

/// A size read from a caller, a header or a peer is larger than the limit this code accepts,
/// so nothing of that size was allocated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} asks for {requested}, more than the limit {limit}")]
#[non_exhaustive]
pub struct TooLarge {
    /// What was sized (`"rows × columns"`, `"message"`, …).
    pub what: &'static str,
    /// The size asked for (elements or bytes, as `what` says).
    pub requested: u128,
    /// The largest size accepted.
    pub limit: u128,
}

impl TooLarge {
    /// `what` asks for `requested`, the limit is `limit`.
    pub fn new(what: &'static str, requested: impl Into<u128>, limit: impl Into<u128>) -> Self {
        Self {
            what,
            requested: requested.into(),
            limit: limit.into(),
        }
    }

    /// Checks `requested <= limit`.
    ///
    /// # Errors
    /// `TooLarge` when the request is over the limit.
    pub fn check(what: &'static str, requested: u128, limit: u128) -> Result<(), Self> {
        if requested <= limit {
            Ok(())
        } else {
            Err(Self::new(what, requested, limit))
        }
    }
}

/// A long computation was stopped by its [`CancelToken`](crate::CancelToken): cancelled by
/// its owner or past its deadline. Nothing partial was returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", if *.deadline { "stopped: the deadline passed" } else { "stopped: cancelled" })]
#[non_exhaustive]
pub struct Cancelled {
    /// True when the deadline passed, false when the token was cancelled.
    pub deadline: bool,
}

impl Cancelled {
    /// A cancellation; `deadline` says whether a deadline caused it.
    pub fn new(deadline: bool) -> Self {
        Self { deadline }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_what_and_where() {
        assert_eq!(
            NonFinite::at_cell("E", 2, 3, f64::NAN).to_string(),
            "E has a non-finite value NaN at row 2, column 3"
        );
        assert_eq!(
            NonFinite::at_index("prices", 4, f64::INFINITY).to_string(),
            "prices has a non-finite value inf at index 4"
        );
        assert_eq!(
            ShapeMismatch::new("weights", 3, 2).to_string(),
            "weights: expected 3, found 2"
        );
        assert_eq!(Empty::new("scores").to_string(), "scores is empty");
        assert_eq!(
            TooLarge::new("matrix cells", 10u64, 5u64).to_string(),
            "matrix cells asks for 10, more than the limit 5"
        );
        assert_eq!(
            Cancelled::new(true).to_string(),
            "stopped: the deadline passed"
        );
    }

    #[test]
    fn checks_find_the_first_bad_value() {
        assert!(NonFinite::check("x", &[1.0, 2.0]).is_ok());
        let err = NonFinite::check("x", &[1.0, f64::NAN, f64::INFINITY]).unwrap_err();
        assert_eq!(err.at, Position::Index(1));
        assert_eq!(err.row(), 1);
        assert!(ShapeMismatch::check_len("y", 2, 2).is_ok());
        assert_eq!(ShapeMismatch::check_len("y", 2, 3).unwrap_err().found, "3");
        assert!(TooLarge::check("n", 5, 5).is_ok());
        assert_eq!(TooLarge::check("n", 6, 5).unwrap_err().requested, 6);
    }
}
