//! Input checks shared by the metrics: emptiness, equal lengths, finiteness.

use fundalloc_core_types::{Empty, NonFinite, ShapeMismatch};

use crate::{Real, Result};

/// `Err(Empty)` when `len == 0`.
pub(crate) fn non_empty(what: &'static str, len: usize) -> Result<()> {
    if len == 0 {
        return Err(Empty::new(what).into());
    }
    Ok(())
}

/// `Err(ShapeMismatch)` when input `what` has `found` elements instead of `expected`.
pub(crate) fn same_len(what: &'static str, expected: usize, found: usize) -> Result<()> {
    if expected != found {
        return Err(ShapeMismatch::new(what, expected, found).into());
    }
    Ok(())
}

/// `Err(NonFinite)` at the first NaN or ±∞.
pub(crate) fn finite<T: Real>(what: &'static str, values: &[T]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(index) => {
            Err(NonFinite::at_index(what, index, values[index].to_f64_lossless()).into())
        }
    }
}

/// A finite scalar argument.
pub(crate) fn finite_scalar(what: &'static str, value: f64) -> Result<()> {
    if !value.is_finite() {
        return Err(NonFinite::at_index(what, 0, value).into());
    }
    Ok(())
}

/// Two non-empty, finite, equally long inputs (the common case of paired metrics).
pub(crate) fn paired<T: Real>(
    left: &'static str,
    a: &[T],
    right: &'static str,
    b: &[T],
) -> Result<()> {
    same_len(right, a.len(), b.len())?;
    non_empty(left, a.len())?;
    finite(left, a)?;
    finite(right, b)
}
