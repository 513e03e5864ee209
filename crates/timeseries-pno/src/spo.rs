//! The SPO+ surrogate loss (Elmachtoub & Grigas 2022) on the risk-aware feasible set (Eq. 13).
//!
//! For a minimisation over a feasible set `S` with optimal value `z(c) = min_{a∈S} a·c` and
//! optimal decision `a*(c)`, the loss of a forecast `ŷ` against the truth `y` is
//!
//! ```text
//! ℓ(ŷ, y) = max_{a∈S} (y − 2ŷ)·a + 2ŷ·a*(y) − z(y)
//!         = −z(2ŷ − y) + 2ŷ·a*(y) − z(y)
//! ```
//!
//! It is convex in `ŷ`, zero at `ŷ = y`, non-negative, and bounds the regret `a*(ŷ)·y − z(y)`
//! from above. A subgradient with respect to `ŷ` is
//!
//! ```text
//! ∂ℓ/∂ŷ ∋ 2·(a*(y) − a*(2ŷ − y))
//! ```
//!
//! Both optimisations are solved exactly with [`RiskConstraint`], in O(H) each.
//! The paper's Eq. 10/13 writes the same quantity with the max over `a` of `a·y − 2a·ŷ`.

use ndarray::{Array1, Array2, ArrayView2, Zip};
use rayon::prelude::*;

use fundalloc_core_types::ShapeMismatch;

use crate::error::{PnoError, Result};
use crate::solver::RiskConstraint;

/// SPO+ value and subgradient of one window.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SpoPlus {
    /// ℓ(ŷ, y) ≥ 0.
    pub value: f64,
    /// 2·(a*(y) − a*(2ŷ − y)), length H.
    pub subgradient: Array1<f64>,
}

/// SPO+ loss and subgradient of forecast `pred` against truth `truth` on the set `constraint`.
///
/// ```
/// use fundalloc_timeseries_pno::{RiskConstraint, spo_plus};
/// let set = RiskConstraint::new(&[0.0, 0.0, 0.0], 1.0)?; // budget slack: plain simplex
/// // Truth: step 0 is cheapest. The forecast ranks step 2 cheapest.
/// let loss = spo_plus(&set, &[3.0, 2.0, 1.0], &[1.0, 2.0, 3.0])?;
/// // 2ŷ − y = [5, 2, −1] → a*(2ŷ − y) = e₂, z = −1; a*(y) = e₀, z(y) = 1; 2ŷ·a*(y) = 6.
/// assert_eq!(loss.value, 1.0 + 6.0 - 1.0);
/// assert_eq!(loss.subgradient.to_vec(), vec![2.0, 0.0, -2.0]);
/// # Ok::<(), fundalloc_timeseries_pno::PnoError>(())
/// ```
pub fn spo_plus(constraint: &RiskConstraint, pred: &[f64], truth: &[f64]) -> Result<SpoPlus> {
    if pred.len() != truth.len() {
        return Err(PnoError::from(ShapeMismatch::new(
            "forecast vs truth",
            truth.len(),
            pred.len(),
        )));
    }
    let best = constraint.solve(truth)?;
    let shifted: Vec<f64> = pred.iter().zip(truth).map(|(p, y)| 2.0 * p - y).collect();
    let worst = constraint.solve(&shifted)?;
    let value = -worst.objective() + 2.0 * best.dot(pred) - best.objective();
    let h = truth.len();
    let subgradient = (best.to_dense(h) - worst.to_dense(h)) * 2.0;
    // Exact arithmetic gives ℓ ≥ 0; clamp the last-bit rounding below zero.
    Ok(SpoPlus {
        value: value.max(0.0),
        subgradient,
    })
}

/// SPO+ over a batch (rows are windows, shape `[n, H]`), in parallel.
///
/// Returns the per-window losses (length n) and subgradients (shape `[n, H]`).
pub fn spo_plus_batch(
    constraint: &RiskConstraint,
    pred: ArrayView2<'_, f64>,
    truth: ArrayView2<'_, f64>,
) -> Result<(Array1<f64>, Array2<f64>)> {
    if pred.dim() != truth.dim() {
        return Err(PnoError::from(ShapeMismatch::new(
            "forecast vs truth elements",
            truth.len(),
            pred.len(),
        )));
    }
    let rows: Vec<Result<SpoPlus>> = (0..pred.nrows())
        .into_par_iter()
        .map(|i| spo_plus(constraint, &pred.row(i).to_vec(), &truth.row(i).to_vec()))
        .collect();
    let mut values = Array1::zeros(pred.nrows());
    let mut grads = Array2::zeros(pred.dim());
    for (i, row) in rows.into_iter().enumerate() {
        let row = row?;
        values[i] = row.value;
        Zip::from(grads.row_mut(i))
            .and(&row.subgradient)
            .for_each(|g, &s| *g = s);
    }
    Ok((values, grads))
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use proptest::prelude::*;

    #[test]
    fn hand_computed_case_with_binding_risk() {
        // r = [0, 1, 2], r̄ = 1. Truth y = [4, 3, 0]: lower hull (0,4)→(2,0), a*(y) = ½e₀ + ½e₂,
        // z(y) = 2. Forecast ŷ = [1, 2, 3]: 2ŷ − y = [−2, 1, 6]; cheapest step 0 has r = 0 ≤ 1, so
        // a*(2ŷ − y) = e₀ and z(2ŷ − y) = −2. 2ŷ·a*(y) = 2·(½·1 + ½·3) = 4.
        // ℓ = 2 + 4 − 2 = 4; subgradient 2·([½, 0, ½] − [1, 0, 0]) = [−1, 0, 1].
        let set = RiskConstraint::new(&[0.0, 1.0, 2.0], 1.0).unwrap();
        let s = spo_plus(&set, &[1.0, 2.0, 3.0], &[4.0, 3.0, 0.0]).unwrap();
        assert_abs_diff_eq!(s.value, 4.0, epsilon = 1e-12);
        assert_eq!(s.subgradient.to_vec(), vec![-1.0, 0.0, 1.0]);
    }

    #[test]
    fn zero_at_the_truth_and_errors_propagate() {
        let set = RiskConstraint::new(&[0.2, 0.1, 0.4], 0.3).unwrap();
        let y = [5.0, 1.0, -2.0];
        let s = spo_plus(&set, &y, &y).unwrap();
        assert_abs_diff_eq!(s.value, 0.0, epsilon = 1e-12);
        assert!(spo_plus(&set, &[1.0], &y).is_err());
        assert!(spo_plus(&set, &[1.0, f64::NAN, 0.0], &y).is_err());
    }

    #[test]
    fn batch_equals_rows() {
        let set = RiskConstraint::from_quantile(&[0.2, 0.1, 0.4, 0.3], 0.5).unwrap();
        let pred = ndarray::array![[1.0, 2.0, 0.0, 3.0], [0.5, 0.5, 0.1, 0.9]];
        let truth = ndarray::array![[2.0, 1.0, 0.0, 1.0], [1.0, 0.0, 2.0, 0.3]];
        let (v, g) = spo_plus_batch(&set, pred.view(), truth.view()).unwrap();
        for i in 0..2 {
            let s = spo_plus(
                &set,
                pred.row(i).as_slice().unwrap(),
                truth.row(i).as_slice().unwrap(),
            )
            .unwrap();
            assert_eq!(v[i], s.value);
            assert_eq!(g.row(i).to_owned(), s.subgradient);
        }
        assert!(spo_plus_batch(&set, pred.view(), truth.t()).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// ℓ is piecewise linear in ŷ: at a generic point the central finite difference equals
        /// the subgradient, and ℓ ≥ 0 always.
        #[test]
        fn subgradient_matches_finite_differences(
            pred in proptest::collection::vec(-3.0..3.0f64, 6),
            truth in proptest::collection::vec(-3.0..3.0f64, 6),
            risk in proptest::collection::vec(0.0..1.0f64, 6),
            alpha in 0.0..1.0f64,
        ) {
            let set = RiskConstraint::from_quantile(&risk, alpha).unwrap();
            let s = spo_plus(&set, &pred, &truth).unwrap();
            prop_assert!(s.value >= 0.0);
            let eps = 1e-7;
            for k in 0..pred.len() {
                let mut up = pred.clone();
                let mut down = pred.clone();
                up[k] += eps;
                down[k] -= eps;
                let fd = (spo_plus(&set, &up, &truth).unwrap().value
                    - spo_plus(&set, &down, &truth).unwrap().value) / (2.0 * eps);
                // Random continuous data are almost surely away from the kinks.
                prop_assert!((fd - s.subgradient[k]).abs() < 1e-5,
                    "k={k}: finite difference {fd} vs subgradient {}", s.subgradient[k]);
            }
        }

        /// SPO+ on the flattened H·A cells of a panel, as the multi-asset training loop uses
        /// it: the loss of standardised rows `z` (`[A, H]`) through the per-asset cost scale,
        /// and its gradient `cells_to_rows(∂ℓ/∂c)`, checked by central finite differences in `z`.
        #[test]
        fn flattened_multi_asset_gradient_matches_finite_differences(
            pred in proptest::collection::vec(-3.0..3.0f64, 8),
            truth in proptest::collection::vec(-3.0..3.0f64, 8),
            risk in proptest::collection::vec(0.0..1.0f64, 8),
            kappa in proptest::collection::vec(0.2..2.0f64, 2),
            alpha in 0.0..1.0f64,
        ) {
            // A = 2 assets, H = 4 steps.
            let mean = (kappa[0] + kappa[1]) / 2.0;
            let cells = crate::multi_asset::Cells::with_scale(kappa.iter().map(|k| k / mean).collect());
            let rows = |v: &[f64]| ndarray::Array2::from_shape_vec((2, 4), v.to_vec()).unwrap();
            let set = RiskConstraint::from_quantile(&risk, alpha).unwrap();
            let y = cells.to_cells(rows(&truth).view()).unwrap();
            let loss = |z: &[f64]| {
                let c = cells.to_cells(rows(z).view()).unwrap();
                spo_plus(&set, c.row(0).as_slice().unwrap(), y.row(0).as_slice().unwrap()).unwrap()
            };
            let at = loss(&pred);
            prop_assert!(at.value >= 0.0);
            let g_cells = at.subgradient.clone().insert_axis(ndarray::Axis(0));
            let g = cells.cells_to_rows(g_cells.view()).unwrap(); // [A, H], row j = asset j
            let eps = 1e-7;
            for k in 0..pred.len() {
                let mut up = pred.clone();
                let mut down = pred.clone();
                up[k] += eps;
                down[k] -= eps;
                let fd = (loss(&up).value - loss(&down).value) / (2.0 * eps);
                let analytic = g[(k / 4, k % 4)];
                prop_assert!((fd - analytic).abs() < 1e-5,
                    "k={k}: finite difference {fd} vs gradient {analytic}");
            }
        }

        /// SPO+ bounds the regret of acting on the forecast from above.
        #[test]
        fn bounds_the_regret(
            pred in proptest::collection::vec(-3.0..3.0f64, 5),
            truth in proptest::collection::vec(-3.0..3.0f64, 5),
            risk in proptest::collection::vec(0.0..1.0f64, 5),
        ) {
            let set = RiskConstraint::from_quantile(&risk, 0.5).unwrap();
            let s = spo_plus(&set, &pred, &truth).unwrap();
            let regret = set.solve(&pred).unwrap().dot(&truth) - set.optimal_value(&truth).unwrap();
            prop_assert!(s.value + 1e-9 >= regret);
        }
    }
}
