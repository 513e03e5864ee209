//! Conformity scores: how badly a point prediction missed its target.
//!
//! | score | s(x, y) | interval |
//! |---|---|---|
//! | [`Score::AbsoluteResidual`] | \|y − ŷ(x)\| | ŷ(x) ± q̂ |
//! | [`Score::NormalizedResidual`] | \|y − ŷ(x)\| / σ̂(x) | ŷ(x) ± q̂·σ̂(x) |
//!
//! σ̂(x) > 0 is any scale the caller supplies (a fitted residual model, a volatility estimate,
//! the horizon position's training error…); the coverage guarantee holds for any σ̂ that does
//! not look at the calibration targets, and a good σ̂ makes intervals adaptive: narrow where the
//! predictor is reliable, wide where it is not.

use ndarray::{Array, ArrayView, Dimension, IntoDimension, Zip};

use fundalloc_core_types::{Position, ShapeMismatch};

use crate::quantile::non_finite;
use crate::{ConformalError, Real, Result};

/// The conformity score a calibration was built on; it decides how intervals are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Score {
    /// s = |y − ŷ|; interval ŷ ± q̂ (MAPIE's `AbsoluteConformityScore`, RTS-PnO's Algorithm 1).
    #[default]
    AbsoluteResidual,
    /// s = |y − ŷ| / σ̂ with a caller-supplied scale σ̂ > 0; interval ŷ ± q̂·σ̂.
    NormalizedResidual,
}

/// Absolute residuals |y − ŷ|, element by element, for arrays of any (equal) shape.
///
/// Errors: shape mismatch, or a NaN/∞ prediction or target.
///
/// ```
/// use fundalloc_conformal::absolute_residuals;
/// use ndarray::array;
/// let s = absolute_residuals(array![1.0, 2.0].view(), array![1.5, 1.0].view())?;
/// assert_eq!(s, array![0.5, 1.0]);
/// # Ok::<(), fundalloc_conformal::ConformalError>(())
/// ```
pub fn absolute_residuals<T: Real, D: Dimension>(
    predictions: ArrayView<'_, T, D>,
    targets: ArrayView<'_, T, D>,
) -> Result<Array<T, D>> {
    check_same_shape("targets vs predictions", &predictions, &targets)?;
    check_finite("predictions", &predictions)?;
    check_finite("targets", &targets)?;
    Ok(Zip::from(&predictions)
        .and(&targets)
        .map_collect(|&p, &y| (y - p).abs()))
}

/// Normalised residuals |y − ŷ| / σ̂, element by element.
///
/// Errors: shape mismatch, a NaN/∞ input, or a scale that is not strictly positive.
///
/// ```
/// use fundalloc_conformal::normalized_residuals;
/// use ndarray::array;
/// let s = normalized_residuals(array![1.0, 2.0].view(), array![1.5, 1.0].view(), array![0.5, 2.0].view())?;
/// assert_eq!(s, array![1.0, 0.5]);
/// # Ok::<(), fundalloc_conformal::ConformalError>(())
/// ```
pub fn normalized_residuals<T: Real, D: Dimension>(
    predictions: ArrayView<'_, T, D>,
    targets: ArrayView<'_, T, D>,
    scales: ArrayView<'_, T, D>,
) -> Result<Array<T, D>> {
    check_same_shape("targets vs predictions", &predictions, &targets)?;
    check_same_shape("scales vs predictions", &predictions, &scales)?;
    check_finite("predictions", &predictions)?;
    check_finite("targets", &targets)?;
    check_positive_scales(&scales)?;
    Ok(Zip::from(&predictions)
        .and(&targets)
        .and(&scales)
        .map_collect(|&p, &y, &s| (y - p).abs() / s))
}

/// The position of an element index: an index for 1-D arrays, a cell for 2-D ones.
pub(crate) fn position<I: IntoDimension>(index: I) -> Position {
    let dim = index.into_dimension();
    let s = dim.slice();
    match s {
        [i] => Position::Index(*i),
        _ => Position::Cell {
            row: s.first().copied().unwrap_or(0),
            col: s.get(1).copied().unwrap_or(0),
        },
    }
}

pub(crate) fn check_same_shape<T, U, D: Dimension>(
    what: &'static str,
    expected: &ArrayView<'_, T, D>,
    found: &ArrayView<'_, U, D>,
) -> Result<()> {
    if expected.shape() == found.shape() {
        Ok(())
    } else {
        Err(ShapeMismatch::new(
            what,
            format_args!("{:?}", expected.shape()),
            format_args!("{:?}", found.shape()),
        )
        .into())
    }
}

pub(crate) fn check_finite<T: Real, D: Dimension>(
    what: &'static str,
    values: &ArrayView<'_, T, D>,
) -> Result<()> {
    match values.indexed_iter().find(|(_, v)| !v.is_finite()) {
        None => Ok(()),
        Some((index, &v)) => Err(non_finite(what, position(index), v)),
    }
}

pub(crate) fn check_positive_scales<T: Real, D: Dimension>(
    scales: &ArrayView<'_, T, D>,
) -> Result<()> {
    check_finite("scales", scales)?;
    match scales.indexed_iter().find(|(_, v)| **v <= T::zero()) {
        None => Ok(()),
        Some((index, &v)) => Err(ConformalError::OutOfDomain {
            what: "scales",
            at: position(index),
            value: v.to_f64_lossless(),
            reason: "a scale must be strictly positive",
        }),
    }
}

/// Scores of a calibration must be finite and non-negative (they are radii after scaling).
pub(crate) fn check_scores<T: Real, D: Dimension>(scores: &ArrayView<'_, T, D>) -> Result<()> {
    check_finite("calibration scores", scores)?;
    match scores.indexed_iter().find(|(_, v)| **v < T::zero()) {
        None => Ok(()),
        Some((index, &v)) => Err(ConformalError::OutOfDomain {
            what: "calibration scores",
            at: position(index),
            value: v.to_f64_lossless(),
            reason: "a score must be non-negative (use conformal_quantile for signed scores)",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fundalloc_core_types::NonFinite;
    use ndarray::array;

    #[test]
    fn residuals_in_two_dimensions() {
        let p = array![[1.0f32, 2.0], [3.0, 4.0]];
        let y = array![[2.0f32, 2.0], [1.0, 4.5]];
        assert_eq!(
            absolute_residuals(p.view(), y.view()).unwrap(),
            array![[1.0, 0.0], [2.0, 0.5]]
        );
        let s = array![[2.0f32, 1.0], [4.0, 0.5]];
        assert_eq!(
            normalized_residuals(p.view(), y.view(), s.view()).unwrap(),
            array![[0.5, 0.0], [0.5, 1.0]]
        );
    }

    #[test]
    fn typed_errors_say_where() {
        let p = array![[1.0, 2.0], [3.0, 4.0]];
        let y = array![[1.0, 2.0], [3.0, f64::NAN]];
        assert!(matches!(
            absolute_residuals(p.view(), y.view()),
            Err(ConformalError::NonFinite(NonFinite {
                what: "targets",
                at: Position::Cell { row: 1, col: 1 },
                ..
            }))
        ));
        assert!(matches!(
            absolute_residuals(p.view(), array![[1.0, 2.0]].view()),
            Err(ConformalError::ShapeMismatch(_))
        ));
        assert!(matches!(
            normalized_residuals(p.view(), p.view(), array![[1.0, 2.0], [0.0, 1.0]].view()),
            Err(ConformalError::OutOfDomain {
                what: "scales",
                at: Position::Cell { row: 1, col: 0 },
                ..
            })
        ));
        assert!(matches!(
            normalized_residuals(p.view(), p.view(), array![[1.0, 2.0]].view()),
            Err(ConformalError::ShapeMismatch(_))
        ));
        assert!(matches!(
            check_scores(&array![0.0, -1.0].view()),
            Err(e @ ConformalError::OutOfDomain { .. }) if e.row() == Some(1)
        ));
    }
}
