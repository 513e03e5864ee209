//! Decision quality of a purchase plan over a horizon: regret and relative regret (RTS-PnO).
//!
//! A plan spreads one unit of budget over the `H` steps of a window, `a ≥ 0`, `Σa = 1`, and
//! pays `a·y` for realized prices `y`. With hindsight the cheapest plan puts everything on the
//! cheapest step and pays `min_h y_h`, so
//!
//! ```text
//! regret(a, y)          = a·y − min_h y_h        (≥ 0 on the simplex)
//! relative regret(a, y) = regret(a, y) / min_h y_h
//! ```
//!
//! both averaged over the test windows, on prices in their original units (inverse-transform
//! standardised forecasts first). This is the RTS-PnO paper's Eq. 8 and 15 with the
//! unconstrained hindsight optimum, as its reference code evaluates them.

use ndarray::ArrayView2;

use crate::check::{finite, non_empty, same_len};
use fundalloc_core_types::NonFinite;

use crate::{MetricsError, Real, Result};

/// How far a plan may stray from the simplex (`a_h ≥ −tol`, `|Σa − 1| ≤ tol`) and still be
/// accepted; it absorbs the rounding of `f32` solvers over long horizons.
pub const SIMPLEX_TOLERANCE: f64 = 1e-5;

/// Regret of one window.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct WindowRegret {
    /// `a·y − min_h y_h`.
    pub regret: f64,
    /// `(a·y − min_h y_h) / min_h y_h`.
    pub relative: f64,
}

/// Regret and relative regret of plan `allocation` against realized `prices` of one window.
///
/// # Errors
/// [`Empty`](MetricsError::Empty), [`ShapeMismatch`](MetricsError::ShapeMismatch),
/// [`NonFinite`](MetricsError::NonFinite), [`NotOnSimplex`](MetricsError::NotOnSimplex) (see
/// [`SIMPLEX_TOLERANCE`]), and [`NotPositive`](MetricsError::NotPositive) when the cheapest
/// price is not positive (relative regret needs a positive optimal cost).
///
/// ```
/// use fundalloc_metrics::window_regret;
/// let r = window_regret(&[0.5, 0.5, 0.0], &[10.0, 8.0, 9.0])?;
/// assert_eq!((r.regret, r.relative), (1.0, 0.125));
/// # Ok::<(), fundalloc_metrics::MetricsError>(())
/// ```
pub fn window_regret<T: Real>(allocation: &[T], prices: &[T]) -> Result<WindowRegret> {
    same_len("prices", allocation.len(), prices.len())?;
    non_empty("prices", prices.len())?;
    finite("allocation", allocation)?;
    finite("prices", prices)?;
    regret_of_window(0, allocation.iter().copied(), prices.iter().copied())
}

/// Mean regret over a set of windows.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RegretSummary {
    /// `(1/W) Σ_w regret_w`.
    pub mean_regret: f64,
    /// `(1/W) Σ_w regret_w / min_h y_{w,h}`.
    pub mean_relative_regret: f64,
    /// Number of windows `W`.
    pub n_windows: usize,
}

/// Regret and relative regret averaged over windows: row `w` of `allocations` is the plan of
/// window `w`, row `w` of `prices` its realized prices (both `W × H`).
///
/// # Errors
/// As [`window_regret`] (with the window's row in `NotOnSimplex`, the cell in `NonFinite` and
/// the row-major position in `NotPositive`), and [`ShapeMismatch`](MetricsError::ShapeMismatch) when the
/// shapes differ.
///
/// ```
/// use fundalloc_metrics::mean_regret;
/// use ndarray::array;
/// let plans = array![[1.0, 0.0], [0.0, 1.0]];
/// let prices = array![[4.0, 5.0], [4.0, 5.0]];
/// let s = mean_regret(plans.view(), prices.view())?;
/// assert_eq!((s.mean_regret, s.mean_relative_regret), (0.5, 0.125));
/// # Ok::<(), fundalloc_metrics::MetricsError>(())
/// ```
pub fn mean_regret<T: Real>(
    allocations: ArrayView2<'_, T>,
    prices: ArrayView2<'_, T>,
) -> Result<RegretSummary> {
    same_len("price rows", allocations.nrows(), prices.nrows())?;
    same_len("price columns", allocations.ncols(), prices.ncols())?;
    non_empty("prices", prices.len())?;
    let h = prices.ncols();
    for (what, m) in [("allocation", &allocations), ("prices", &prices)] {
        if let Some((index, v)) = m.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(NonFinite::at_cell(what, index / h, index % h, v.to_f64_lossless()).into());
        }
    }
    let (mut sum, mut sum_relative) = (0.0, 0.0);
    for (w, (a, y)) in allocations
        .rows()
        .into_iter()
        .zip(prices.rows())
        .enumerate()
    {
        let r = regret_of_window(w, a.iter().copied(), y.iter().copied()).map_err(|e| match e {
            MetricsError::NotPositive { what, index, value } => MetricsError::NotPositive {
                what,
                index: w * h + index,
                value,
            },
            other => other,
        })?;
        sum += r.regret;
        sum_relative += r.relative;
    }
    let n = prices.nrows() as f64;
    Ok(RegretSummary {
        mean_regret: sum / n,
        mean_relative_regret: sum_relative / n,
        n_windows: prices.nrows(),
    })
}

/// Regret of one validated, finite, non-empty window `w`.
fn regret_of_window<T: Real>(
    w: usize,
    allocation: impl Iterator<Item = T> + Clone,
    prices: impl Iterator<Item = T> + Clone,
) -> Result<WindowRegret> {
    let (sum, min_weight) = allocation
        .clone()
        .map(Real::to_f64_lossless)
        .fold((0.0, f64::INFINITY), |(s, m), a| (s + a, m.min(a)));
    if min_weight < -SIMPLEX_TOLERANCE || (sum - 1.0).abs() > SIMPLEX_TOLERANCE {
        return Err(MetricsError::NotOnSimplex {
            window: w,
            sum,
            min_weight,
        });
    }
    let (index, best) = prices.clone().map(Real::to_f64_lossless).enumerate().fold(
        (0, f64::INFINITY),
        |(i, m), (j, y)| if y < m { (j, y) } else { (i, m) },
    );
    if best <= 0.0 {
        return Err(MetricsError::NotPositive {
            what: "cheapest price",
            index,
            value: best,
        });
    }
    let cost: f64 = allocation
        .zip(prices)
        .map(|(a, y)| a.to_f64_lossless() * y.to_f64_lossless())
        .sum();
    let regret = cost - best;
    Ok(WindowRegret {
        regret,
        relative: regret / best,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use fundalloc_core_types::{NonFinite, Position};
    use ndarray::array;

    #[test]
    fn optimal_plan_has_zero_regret() {
        let r = window_regret(&[0.0, 1.0, 0.0], &[3.0, 2.0, 5.0]).unwrap();
        assert_eq!(r.regret, 0.0);
        // Uniform plan: mean price − min.
        let r = window_regret(&[0.25_f32; 4], &[1.0, 2.0, 3.0, 6.0]).unwrap();
        assert_relative_eq!(r.regret, 2.0);
        assert_relative_eq!(r.relative, 2.0);
    }

    #[test]
    fn mean_over_windows() {
        let a = array![[0.5, 0.5], [1.0, 0.0], [0.0, 1.0]];
        let y = array![[2.0, 4.0], [10.0, 20.0], [1.0, 2.0]];
        let s = mean_regret(a.view(), y.view()).unwrap();
        assert_eq!(s.n_windows, 3);
        assert_relative_eq!(s.mean_regret, (1.0 + 0.0 + 1.0) / 3.0);
        assert_relative_eq!(s.mean_relative_regret, (0.5 + 0.0 + 1.0) / 3.0);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            window_regret(&[0.5, 0.6], &[1.0, 2.0]),
            Err(MetricsError::NotOnSimplex { window: 0, .. })
        ));
        assert!(matches!(
            window_regret(&[1.5, -0.5], &[1.0, 2.0]),
            Err(MetricsError::NotOnSimplex { .. })
        ));
        assert!(matches!(
            window_regret(&[0.5, 0.5], &[1.0, 0.0]),
            Err(MetricsError::NotPositive { index: 1, .. })
        ));
        assert!(matches!(
            window_regret(&[1.0], &[1.0, 2.0]),
            Err(MetricsError::ShapeMismatch(_))
        ));
        assert!(matches!(
            window_regret::<f64>(&[], &[]),
            Err(MetricsError::Empty(_))
        ));
        assert!(matches!(
            window_regret(&[1.0, 0.0], &[f64::NAN, 1.0]),
            Err(MetricsError::NonFinite(NonFinite { what: "prices", .. }))
        ));
        let a = array![[1.0, 0.0], [1.0, 0.0]];
        let y = array![[1.0, 2.0], [-1.0, 2.0]];
        assert!(matches!(
            mean_regret(a.view(), y.view()),
            Err(MetricsError::NotPositive { index: 2, .. })
        ));
        let bad = array![[1.0, 0.0], [0.3, 0.3]];
        assert!(matches!(
            mean_regret(bad.view(), array![[1.0, 2.0], [1.0, 2.0]].view()),
            Err(MetricsError::NotOnSimplex { window: 1, .. })
        ));
        assert!(matches!(
            mean_regret(a.view(), array![[1.0, 2.0, 3.0]].view()),
            Err(MetricsError::ShapeMismatch(_))
        ));
        assert!(matches!(
            mean_regret(a.view(), array![[1.0, f64::INFINITY], [1.0, 2.0]].view()),
            Err(MetricsError::NonFinite(NonFinite {
                at: Position::Cell { row: 0, col: 1 },
                ..
            }))
        ));
    }
}
