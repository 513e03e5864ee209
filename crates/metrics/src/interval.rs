//! Prediction intervals: empirical coverage and mean width.
//!
//! ```text
//! coverage   = (1/n) Σᵢ 1[lᵢ ≤ yᵢ ≤ uᵢ]
//! mean width = (1/n) Σᵢ (uᵢ − lᵢ)
//! ```
//!
//! A conformal interval `ŷ ± r` is `l = ŷ − r`, `u = ŷ + r`; its coverage should be close to
//! the nominal level γ and its width as small as possible.

use ndarray::ArrayView2;

use crate::check::{finite, non_empty, same_len};
use crate::{MetricsError, Real, Result};

/// Coverage and mean width of a set of intervals.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct IntervalSummary {
    /// Fraction of targets inside their interval (ends included).
    pub coverage: f64,
    /// Mean of `u − l`.
    pub mean_width: f64,
}

/// Coverage and mean width of intervals `[lower, upper]` for targets `y`.
///
/// # Errors
/// [`Empty`](MetricsError::Empty), [`ShapeMismatch`](MetricsError::ShapeMismatch),
/// [`NonFinite`](MetricsError::NonFinite), [`InvertedInterval`](MetricsError::InvertedInterval)
/// when some `lᵢ > uᵢ`.
///
/// ```
/// use fundalloc_metrics::interval_summary;
/// let s = interval_summary(&[1.0, 5.0], &[0.0, 0.0], &[2.0, 4.0])?;
/// assert_eq!((s.coverage, s.mean_width), (0.5, 3.0));
/// # Ok::<(), fundalloc_metrics::MetricsError>(())
/// ```
pub fn interval_summary<T: Real>(y: &[T], lower: &[T], upper: &[T]) -> Result<IntervalSummary> {
    check_intervals(y, lower, upper)?;
    let n = y.len() as f64;
    let covered = y
        .iter()
        .zip(lower.iter().zip(upper))
        .filter(|&(y, (l, u))| l <= y && y <= u)
        .count();
    let width: f64 = lower
        .iter()
        .zip(upper)
        .map(|(l, u)| u.to_f64_lossless() - l.to_f64_lossless())
        .sum();
    Ok(IntervalSummary {
        coverage: covered as f64 / n,
        mean_width: width / n,
    })
}

/// Empirical coverage `(1/n) Σᵢ 1[lᵢ ≤ yᵢ ≤ uᵢ]`.
///
/// # Errors
/// As [`interval_summary`].
pub fn interval_coverage<T: Real>(y: &[T], lower: &[T], upper: &[T]) -> Result<f64> {
    interval_summary(y, lower, upper).map(|s| s.coverage)
}

/// Mean width `(1/n) Σᵢ (uᵢ − lᵢ)`.
///
/// # Errors
/// [`Empty`](MetricsError::Empty), [`ShapeMismatch`](MetricsError::ShapeMismatch),
/// [`NonFinite`](MetricsError::NonFinite), [`InvertedInterval`](MetricsError::InvertedInterval).
pub fn mean_interval_width<T: Real>(lower: &[T], upper: &[T]) -> Result<f64> {
    interval_summary(lower, lower, upper).map(|s| s.mean_width)
}

/// Coverage per column of `W × H` arrays (one row per window, one column per horizon step):
/// `cov_h = (1/W) Σ_w 1[l_wh ≤ y_wh ≤ u_wh]`, the check for per-position conformal radii.
///
/// # Errors
/// As [`interval_summary`] (indices row-major), [`ShapeMismatch`](MetricsError::ShapeMismatch)
/// when the shapes differ.
///
/// ```
/// use fundalloc_metrics::interval_coverage_by_column;
/// use ndarray::array;
/// let y = array![[1.0, 1.0], [1.0, 3.0]];
/// let (l, u) = (array![[0.0, 0.0], [0.0, 0.0]], array![[2.0, 2.0], [2.0, 2.0]]);
/// assert_eq!(interval_coverage_by_column(y.view(), l.view(), u.view())?, vec![1.0, 0.5]);
/// # Ok::<(), fundalloc_metrics::MetricsError>(())
/// ```
pub fn interval_coverage_by_column<T: Real>(
    y: ArrayView2<'_, T>,
    lower: ArrayView2<'_, T>,
    upper: ArrayView2<'_, T>,
) -> Result<Vec<f64>> {
    for (rows, cols, m) in [
        ("lower rows", "lower columns", &lower),
        ("upper rows", "upper columns", &upper),
    ] {
        same_len(rows, y.nrows(), m.nrows())?;
        same_len(cols, y.ncols(), m.ncols())?;
    }
    let flat = |m: &ArrayView2<'_, T>| m.iter().copied().collect::<Vec<T>>();
    check_intervals(&flat(&y), &flat(&lower), &flat(&upper))?;
    let w = y.nrows() as f64;
    Ok((0..y.ncols())
        .map(|h| {
            let covered = (0..y.nrows())
                .filter(|&r| lower[[r, h]] <= y[[r, h]] && y[[r, h]] <= upper[[r, h]])
                .count();
            covered as f64 / w
        })
        .collect())
}

fn check_intervals<T: Real>(y: &[T], lower: &[T], upper: &[T]) -> Result<()> {
    same_len("lower", y.len(), lower.len())?;
    same_len("upper", y.len(), upper.len())?;
    non_empty("y", y.len())?;
    finite("y", y)?;
    finite("lower", lower)?;
    finite("upper", upper)?;
    match lower.iter().zip(upper).position(|(l, u)| l > u) {
        None => Ok(()),
        Some(index) => Err(MetricsError::InvertedInterval {
            index,
            lower: lower[index].to_f64_lossless(),
            upper: upper[index].to_f64_lossless(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fundalloc_core_types::NonFinite;
    use ndarray::array;

    #[test]
    fn ends_count_as_covered() {
        assert_eq!(
            interval_coverage(&[0.0, 2.0, 2.1], &[0.0; 3], &[2.0; 3]).unwrap(),
            2.0 / 3.0
        );
        assert_eq!(
            mean_interval_width(&[0.0_f32, 1.0], &[1.0, 4.0]).unwrap(),
            2.0
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            interval_coverage(&[1.0], &[2.0], &[0.0]),
            Err(MetricsError::InvertedInterval {
                index: 0,
                lower: 2.0,
                upper: 0.0
            })
        );
        assert!(matches!(
            interval_coverage::<f64>(&[], &[], &[]),
            Err(MetricsError::Empty(_))
        ));
        assert!(matches!(
            interval_coverage(&[1.0], &[0.0, 0.0], &[2.0]),
            Err(MetricsError::ShapeMismatch(_))
        ));
        assert!(matches!(
            interval_coverage(&[1.0], &[0.0], &[f64::NAN]),
            Err(MetricsError::NonFinite(NonFinite { what: "upper", .. }))
        ));
        let y = array![[1.0, 1.0]];
        assert!(matches!(
            interval_coverage_by_column(y.view(), array![[0.0]].view(), y.view()),
            Err(MetricsError::ShapeMismatch(_))
        ));
        assert!(matches!(
            interval_coverage_by_column(y.view(), array![[0.0, 3.0]].view(), y.view()),
            Err(MetricsError::InvertedInterval { index: 1, .. })
        ));
    }
}
