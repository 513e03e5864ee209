//! Point-prediction errors: MSE, MAE, RMSE.
//!
//! All three accumulate in `f64` whatever the input precision, so `f32` predictions of a
//! large test set do not lose digits in the sum.

use crate::check::paired;
use crate::{Real, Result};

/// Mean squared error, `MSE = (1/n) Σᵢ (yᵢ − ŷᵢ)²`.
///
/// # Errors
/// [`Empty`](crate::MetricsError::Empty), [`ShapeMismatch`](crate::MetricsError::ShapeMismatch),
/// [`NonFinite`](crate::MetricsError::NonFinite).
///
/// ```
/// use fundalloc_metrics::mse;
/// assert_eq!(mse(&[1.0, 2.0, 3.0], &[1.0, 2.0, 5.0])?, 4.0 / 3.0);
/// # Ok::<(), fundalloc_metrics::MetricsError>(())
/// ```
pub fn mse<T: Real>(y_true: &[T], y_pred: &[T]) -> Result<f64> {
    paired("y_true", y_true, "y_pred", y_pred)?;
    Ok(mean_of(y_true, y_pred, |e| e * e))
}

/// Mean absolute error, `MAE = (1/n) Σᵢ |yᵢ − ŷᵢ|`.
///
/// # Errors
/// As [`mse`].
///
/// ```
/// use fundalloc_metrics::mae;
/// assert_eq!(mae(&[1.0_f32, 2.0], &[2.0, 0.0])?, 1.5);
/// # Ok::<(), fundalloc_metrics::MetricsError>(())
/// ```
pub fn mae<T: Real>(y_true: &[T], y_pred: &[T]) -> Result<f64> {
    paired("y_true", y_true, "y_pred", y_pred)?;
    Ok(mean_of(y_true, y_pred, f64::abs))
}

/// Root mean squared error, `RMSE = √MSE`.
///
/// # Errors
/// As [`mse`].
pub fn rmse<T: Real>(y_true: &[T], y_pred: &[T]) -> Result<f64> {
    mse(y_true, y_pred).map(f64::sqrt)
}

/// `(1/n) Σ f(yᵢ − ŷᵢ)` in `f64` over validated, non-empty input.
fn mean_of<T: Real>(y_true: &[T], y_pred: &[T], f: impl Fn(f64) -> f64) -> f64 {
    let sum: f64 = y_true
        .iter()
        .zip(y_pred)
        .map(|(&y, &p)| f(y.to_f64_lossless() - p.to_f64_lossless()))
        .sum();
    sum / y_true.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MetricsError;
    use approx::assert_relative_eq;
    use fundalloc_core_types::{Empty, NonFinite, Position};

    #[test]
    fn known_values() {
        let y = [3.0, -0.5, 2.0, 7.0];
        let p = [2.5, 0.0, 2.0, 8.0];
        // scikit-learn's documented example: MSE 0.375, MAE 0.5.
        assert_relative_eq!(mse(&y, &p).unwrap(), 0.375);
        assert_relative_eq!(mae(&y, &p).unwrap(), 0.5);
        assert_relative_eq!(rmse(&y, &p).unwrap(), 0.375_f64.sqrt());
        assert_eq!(mse(&y, &y).unwrap(), 0.0);
    }

    #[test]
    fn errors() {
        assert_eq!(
            mse::<f64>(&[], &[]),
            Err(MetricsError::Empty(Empty::new("y_true")))
        );
        assert!(matches!(
            mae(&[1.0], &[1.0, 2.0]),
            Err(MetricsError::ShapeMismatch(_))
        ));
        assert!(matches!(
            rmse(&[1.0, 2.0], &[1.0, f64::NEG_INFINITY]),
            Err(MetricsError::NonFinite(NonFinite {
                what: "y_pred",
                at: Position::Index(1),
                ..
            }))
        ));
        assert!(matches!(
            mse(&[f32::NAN], &[1.0]),
            Err(MetricsError::NonFinite(NonFinite {
                what: "y_true",
                at: Position::Index(0),
                ..
            }))
        ));
    }
}
