//! Input checks shared by the metrics: emptiness, equal lengths, finiteness.

use crate::{MetricsError, Real, Result};

/// `Err(Empty)` when `len == 0`.
pub(crate) fn non_empty(what: &'static str, len: usize) -> Result<()> {
    if len == 0 {
        return Err(MetricsError::Empty { what });
    }
    Ok(())
}

/// `Err(LengthMismatch)` when the two lengths differ.
pub(crate) fn same_len(
    left: &'static str,
    left_len: usize,
    right: &'static str,
    right_len: usize,
) -> Result<()> {
    if left_len != right_len {
        return Err(MetricsError::LengthMismatch {
            left,
            left_len,
            right,
            right_len,
        });
    }
    Ok(())
}

/// `Err(NonFinite)` at the first NaN or ±∞.
pub(crate) fn finite<T: Real>(what: &'static str, values: &[T]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(index) => Err(MetricsError::NonFinite {
            what,
            index,
            value: values[index].to_f64_lossless(),
        }),
    }
}

/// A finite scalar argument.
pub(crate) fn finite_scalar(what: &'static str, value: f64) -> Result<()> {
    if !value.is_finite() {
        return Err(MetricsError::NonFinite {
            what,
            index: 0,
            value,
        });
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
    same_len(left, a.len(), right, b.len())?;
    non_empty(left, a.len())?;
    finite(left, a)?;
    finite(right, b)
}
