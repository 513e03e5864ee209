//! Evaluation of prediction intervals: empirical coverage and width, per horizon position.
//!
//! For m test windows with bounds l_{i,h} ≤ u_{i,h} and truths y_{i,h}:
//!
//! ```text
//! coverage_h   = (1/m) Σ_i 1[l_{i,h} ≤ y_{i,h} ≤ u_{i,h}]
//! mean_width_h = (1/m) Σ_i (u_{i,h} − l_{i,h})
//! joint        = (1/m) Σ_i 1[every position of window i is covered]
//! ```
//!
//! These are the same formulas as `fundalloc_metrics::interval_summary` (a test checks they
//! agree), implemented here because conformal intervals may legitimately be infinite (a radius
//! of +∞ under [`RankOverflow::Infinite`](crate::RankOverflow::Infinite) or from ACI at
//! α_t ≤ 0), which the metrics crate rejects as non-finite input. An infinite interval covers,
//! makes `mean_width` +∞, and is counted in `n_infinite`; `mean_finite_width` averages the
//! finite ones only.

use ndarray::{Array1, ArrayView1, ArrayView2, Dimension, Ix1, Ix2};

use fundalloc_core_types::Empty;

use crate::score::{check_finite, check_same_shape, position};
use crate::{ConformalError, PredictionIntervals, Real, Result};

/// Coverage and width of a set of intervals (one horizon position, or a scalar predictor).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct IntervalEvaluation {
    /// Fraction of truths inside their closed interval.
    pub coverage: f64,
    /// Mean of u − l (+∞ if any interval is infinite).
    pub mean_width: f64,
    /// Mean of u − l over the finite intervals (NaN if there are none).
    pub mean_finite_width: f64,
    /// Number of intervals with an infinite bound.
    pub n_infinite: usize,
    /// Number of intervals evaluated.
    pub n: usize,
}

/// Per-position evaluation of m windows × H positions.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PositionEvaluation {
    /// One evaluation per horizon position.
    pub positions: Vec<IntervalEvaluation>,
    /// Fraction of windows whose H positions are all covered (what Bonferroni targets).
    pub joint_coverage: f64,
}

impl PositionEvaluation {
    /// coverage_h for h = 1 … H.
    pub fn coverage(&self) -> Array1<f64> {
        self.positions.iter().map(|p| p.coverage).collect()
    }

    /// mean_width_h for h = 1 … H.
    pub fn mean_width(&self) -> Array1<f64> {
        self.positions.iter().map(|p| p.mean_width).collect()
    }

    /// The average of coverage_h over the positions.
    pub fn average_coverage(&self) -> f64 {
        let h = self.positions.len().max(1) as f64;
        self.positions.iter().map(|p| p.coverage).sum::<f64>() / h
    }
}

/// Evaluates 1-D intervals against their truths.
///
/// Errors: empty input, shape mismatch, a non-finite truth, a NaN bound, or lower > upper.
///
/// ```
/// use fundalloc_conformal::evaluate;
/// use ndarray::array;
/// let e = evaluate(array![0.0, 0.0].view(), array![2.0, 4.0].view(), array![1.0, 5.0].view())?;
/// assert_eq!((e.coverage, e.mean_width), (0.5, 3.0));
/// # Ok::<(), fundalloc_conformal::ConformalError>(())
/// ```
pub fn evaluate<T: Real>(
    lower: ArrayView1<'_, T>,
    upper: ArrayView1<'_, T>,
    truths: ArrayView1<'_, T>,
) -> Result<IntervalEvaluation> {
    check_bounds(&lower, &upper, &truths)?;
    Ok(summarise(lower, upper, truths))
}

/// [`evaluate`] on [`PredictionIntervals`] of a scalar predictor.
pub fn evaluate_intervals<T: Real>(
    intervals: &PredictionIntervals<T, Ix1>,
    truths: ArrayView1<'_, T>,
) -> Result<IntervalEvaluation> {
    evaluate(intervals.lower.view(), intervals.upper.view(), truths)
}

/// Evaluates m × H intervals per horizon position (columns), plus joint coverage.
///
/// ```
/// use fundalloc_conformal::evaluate_positions;
/// use ndarray::array;
/// let lower = array![[0.0, 0.0], [0.0, 0.0]];
/// let upper = array![[2.0, 2.0], [2.0, f64::INFINITY]];
/// let truth = array![[1.0, 3.0], [1.0, 3.0]];
/// let e = evaluate_positions(lower.view(), upper.view(), truth.view())?;
/// assert_eq!(e.coverage(), array![1.0, 0.5]);
/// assert_eq!(e.positions[1].n_infinite, 1);
/// assert_eq!(e.positions[1].mean_finite_width, 2.0);
/// assert_eq!(e.joint_coverage, 0.5);
/// # Ok::<(), fundalloc_conformal::ConformalError>(())
/// ```
pub fn evaluate_positions<T: Real>(
    lower: ArrayView2<'_, T>,
    upper: ArrayView2<'_, T>,
    truths: ArrayView2<'_, T>,
) -> Result<PositionEvaluation> {
    check_bounds(&lower, &upper, &truths)?;
    let positions = (0..truths.ncols())
        .map(|h| summarise(lower.column(h), upper.column(h), truths.column(h)))
        .collect();
    let joint = truths
        .rows()
        .into_iter()
        .zip(lower.rows())
        .zip(upper.rows())
        .filter(|((y, l), u)| {
            y.iter()
                .zip(l.iter())
                .zip(u.iter())
                .all(|((y, l), u)| l <= y && y <= u)
        })
        .count();
    Ok(PositionEvaluation {
        positions,
        joint_coverage: joint as f64 / truths.nrows() as f64,
    })
}

/// [`evaluate_positions`] on [`PredictionIntervals`] of an H-step forecaster.
pub fn evaluate_position_intervals<T: Real>(
    intervals: &PredictionIntervals<T, Ix2>,
    truths: ArrayView2<'_, T>,
) -> Result<PositionEvaluation> {
    evaluate_positions(intervals.lower.view(), intervals.upper.view(), truths)
}

fn summarise<T: Real>(
    lower: ArrayView1<'_, T>,
    upper: ArrayView1<'_, T>,
    truths: ArrayView1<'_, T>,
) -> IntervalEvaluation {
    let n = truths.len();
    let (mut covered, mut n_infinite, mut finite_width) = (0usize, 0usize, 0.0f64);
    for ((&l, &u), &y) in lower.iter().zip(upper.iter()).zip(truths.iter()) {
        covered += usize::from(l <= y && y <= u);
        if l.is_finite() && u.is_finite() {
            finite_width += u.to_f64_lossless() - l.to_f64_lossless();
        } else {
            n_infinite += 1;
        }
    }
    let n_finite = n - n_infinite;
    let mean_finite_width = if n_finite == 0 {
        f64::NAN
    } else {
        finite_width / n_finite as f64
    };
    IntervalEvaluation {
        coverage: covered as f64 / n as f64,
        mean_width: if n_infinite > 0 {
            f64::INFINITY
        } else {
            mean_finite_width
        },
        mean_finite_width,
        n_infinite,
        n,
    }
}

fn check_bounds<T: Real, D: Dimension>(
    lower: &ndarray::ArrayView<'_, T, D>,
    upper: &ndarray::ArrayView<'_, T, D>,
    truths: &ndarray::ArrayView<'_, T, D>,
) -> Result<()> {
    if truths.is_empty() {
        return Err(Empty::new("truths").into());
    }
    check_same_shape("lower vs truths", truths, lower)?;
    check_same_shape("upper vs truths", truths, upper)?;
    check_finite("truths", truths)?;
    for ((index, &l), &u) in lower.indexed_iter().zip(upper.iter()) {
        if l.is_nan() || u.is_nan() || l > u {
            return Err(ConformalError::OutOfDomain {
                what: "interval bounds",
                at: position(index),
                value: (u - l).to_f64_lossless(),
                reason: "bounds must not be NaN and lower ≤ upper (the value is upper − lower)",
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    #[test]
    fn agrees_with_the_metrics_crate_on_finite_intervals() {
        let y = Array2::from_shape_fn((13, 3), |(i, j)| ((i * 5 + j * 3) % 7) as f64);
        let l = Array2::from_shape_fn((13, 3), |(i, j)| ((i + j) % 4) as f64);
        let u = &l + Array2::from_shape_fn((13, 3), |(i, j)| ((i * j) % 5) as f64);
        let e = evaluate_positions(l.view(), u.view(), y.view()).unwrap();
        let by_col =
            fundalloc_metrics::interval_coverage_by_column(y.view(), l.view(), u.view()).unwrap();
        for (h, &col_coverage) in by_col.iter().enumerate() {
            let m = fundalloc_metrics::interval_summary(
                &y.column(h).to_vec(),
                &l.column(h).to_vec(),
                &u.column(h).to_vec(),
            )
            .unwrap();
            assert!((e.positions[h].coverage - m.coverage).abs() < 1e-15);
            assert!((e.positions[h].coverage - col_coverage).abs() < 1e-15);
            assert!((e.positions[h].mean_width - m.mean_width).abs() < 1e-12);
            assert_eq!(e.positions[h].n_infinite, 0);
        }
        // Joint coverage by brute force.
        let joint = (0..13)
            .filter(|&i| (0..3).all(|h| l[[i, h]] <= y[[i, h]] && y[[i, h]] <= u[[i, h]]))
            .count() as f64
            / 13.0;
        assert_eq!(e.joint_coverage, joint);
        assert!((e.average_coverage() - e.coverage().mean().unwrap()).abs() < 1e-15);
    }

    #[test]
    fn typed_errors() {
        let a = array![0.0, 1.0];
        assert!(matches!(
            evaluate(a.view(), a.view(), array![0.0].view()),
            Err(ConformalError::ShapeMismatch(_))
        ));
        assert!(matches!(
            evaluate(array![1.0, 0.0].view(), array![0.0, 0.0].view(), a.view()),
            Err(e @ ConformalError::OutOfDomain { .. }) if e.row() == Some(0)
        ));
        assert!(matches!(
            evaluate(array![0.0, f64::NAN].view(), a.view(), a.view()),
            Err(e @ ConformalError::OutOfDomain { .. }) if e.row() == Some(1)
        ));
        assert!(matches!(
            evaluate(a.view(), a.view(), array![0.0, f64::INFINITY].view()),
            Err(e @ ConformalError::NonFinite(_)) if e.row() == Some(1)
        ));
        let empty = Array1::<f64>::zeros(0);
        assert!(matches!(
            evaluate(empty.view(), empty.view(), empty.view()),
            Err(ConformalError::Empty(_))
        ));
    }
}
