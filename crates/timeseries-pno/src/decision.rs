//! Positional uncertainty (Algorithm 1) and the decision rules that use it.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use fundalloc_core_types::{Empty, InvalidParameter, ShapeMismatch};

use crate::error::{PnoError, Result};
use crate::solver::RiskConstraint;

/// Algorithm 1: per horizon position h, the split-conformal radius
/// `r_h` = the ⌈(n+1)γ⌉-th smallest of the n calibration errors `|ŷ_h − y_h|`
/// (computed by `fundalloc-conformal`'s `PositionalConformal::fit`).
///
/// When ⌈(n+1)γ⌉ > n (too few calibration windows for level γ) the radius would be infinite;
/// that is reported as [`PnoError::Conformal`] rather than handed to the solver.
///
/// ```
/// use fundalloc_timeseries_pno::conformal_radii;
/// let pred = ndarray::array![[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]];
/// let truth = ndarray::array![[1.0, -4.0], [2.0, 3.0], [3.0, 2.0], [4.0, -1.0]];
/// // n = 4, γ = 0.5: rank ⌈5·0.5⌉ = 3 → third smallest error per column.
/// let r = conformal_radii(pred.view(), truth.view(), 0.5)?;
/// assert_eq!(r.to_vec(), vec![3.0, 3.0]);
/// # Ok::<(), fundalloc_timeseries_pno::PnoError>(())
/// ```
pub fn conformal_radii(
    pred: ArrayView2<'_, f64>,
    truth: ArrayView2<'_, f64>,
    coverage: f64,
) -> Result<Array1<f64>> {
    let params = fundalloc_conformal::SplitConformalParams::new(coverage);
    Ok(fundalloc_conformal::PositionalConformal::fit(params, pred, truth)?.into_radii())
}

/// Fraction of test entries with `|ŷ_h − y_h| ≤ r_h` (empirical coverage of the radii).
pub fn radii_coverage(
    pred: ArrayView2<'_, f64>,
    truth: ArrayView2<'_, f64>,
    radii: ArrayView1<'_, f64>,
) -> Result<f64> {
    if pred.dim() != truth.dim() || pred.ncols() != radii.len() {
        return Err(PnoError::from(ShapeMismatch::new(
            "forecasts, truths and radii",
            truth.ncols(),
            radii.len(),
        )));
    }
    if pred.is_empty() {
        return Err(PnoError::from(Empty::new("coverage input")));
    }
    let mut inside = 0usize;
    for ((p, y), h) in pred
        .iter()
        .zip(truth.iter())
        .zip((0..pred.len()).map(|i| i % pred.ncols()))
    {
        if (p - y).abs() <= radii[h] {
            inside += 1;
        }
    }
    Ok(inside as f64 / pred.len() as f64)
}

/// How a window's purchase is spread over its H steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecisionRule {
    /// Forecasting-Only Top-k: equal weights on the k smallest forecasts `ŷ_h`.
    ForecastTopK(usize),
    /// Risk-Avoiding Top-k: equal weights on the k smallest upper bounds `ŷ_h + r_h`.
    RiskAvoidTopK(usize),
    /// The risk-aware optimum `a*(ŷ)` over `{a ≥ 0, Σa = 1, a·r ≤ r̄}` (RTS-PtO / RTS-PnO).
    RiskAware,
}

/// Equal weights on the `k` smallest entries of `scores` (ties: the earlier step).
pub fn top_k_allocation(scores: &[f64], k: usize) -> Result<Array1<f64>> {
    if scores.is_empty() {
        return Err(PnoError::from(Empty::new("scores")));
    }
    crate::error::check_finite("scores", scores)?;
    if k == 0 || k > scores.len() {
        return Err(PnoError::from(InvalidParameter::new(
            "k",
            k,
            "must be in 1..=H",
        )));
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    let mut a = Array1::zeros(scores.len());
    for &h in &order[..k] {
        a[h] = 1.0 / k as f64;
    }
    Ok(a)
}

/// Allocations `[n, H]` of `rule` for forecasts `pred` (`[n, H]`, any affine price scale) with
/// radii `radii` in the same scale as `pred` and the risk set `constraint`.
pub fn allocate(
    rule: DecisionRule,
    pred: ArrayView2<'_, f64>,
    radii: ArrayView1<'_, f64>,
    constraint: &RiskConstraint,
) -> Result<Array2<f64>> {
    if pred.ncols() != radii.len() {
        return Err(PnoError::from(ShapeMismatch::new(
            "forecast columns vs radii",
            radii.len(),
            pred.ncols(),
        )));
    }
    match rule {
        DecisionRule::RiskAware => constraint.solve_batch(pred),
        DecisionRule::ForecastTopK(k) | DecisionRule::RiskAvoidTopK(k) => {
            let mut out = Array2::zeros(pred.dim());
            for (i, row) in pred.rows().into_iter().enumerate() {
                let scores: Vec<f64> = match rule {
                    DecisionRule::RiskAvoidTopK(_) => {
                        row.iter().zip(radii.iter()).map(|(p, r)| p + r).collect()
                    }
                    _ => row.to_vec(),
                };
                out.row_mut(i).assign(&top_k_allocation(&scores, k)?);
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn top_k_baselines_on_a_hand_made_series() {
        // Forecast of a 6-step window and per-step radii: the forecast dips at step 4, but step 4
        // is uncertain; the upper bounds ŷ + r are lowest at steps 1 and 2.
        let pred = array![[10.0, 9.0, 9.5, 11.0, 8.0, 12.0]];
        let radii = array![0.5, 0.5, 0.4, 0.5, 3.0, 0.5];
        let set = RiskConstraint::new(radii.as_slice().unwrap(), 1.0).unwrap();
        let fo1 = allocate(
            DecisionRule::ForecastTopK(1),
            pred.view(),
            radii.view(),
            &set,
        )
        .unwrap();
        assert_eq!(fo1.row(0).to_vec(), vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        let fo5 = allocate(
            DecisionRule::ForecastTopK(5),
            pred.view(),
            radii.view(),
            &set,
        )
        .unwrap();
        assert_eq!(fo5.row(0).to_vec(), vec![0.2, 0.2, 0.2, 0.2, 0.2, 0.0]);
        let ra1 = allocate(
            DecisionRule::RiskAvoidTopK(1),
            pred.view(),
            radii.view(),
            &set,
        )
        .unwrap();
        assert_eq!(ra1.row(0).to_vec(), vec![0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
        let ra5 = allocate(
            DecisionRule::RiskAvoidTopK(5),
            pred.view(),
            radii.view(),
            &set,
        )
        .unwrap();
        // Upper bounds [10.5, 9.5, 9.9, 11.5, 11, 12.5]: all but step 5.
        assert_eq!(ra5.row(0).to_vec(), vec![0.2, 0.2, 0.2, 0.2, 0.2, 0.0]);
        let third = 1.0 / 3.0;
        let fo3 = allocate(
            DecisionRule::ForecastTopK(3),
            pred.view(),
            radii.view(),
            &set,
        )
        .unwrap();
        assert_eq!(
            fo3.row(0).to_vec(),
            vec![0.0, third, third, 0.0, third, 0.0]
        );
        let ra3 = allocate(
            DecisionRule::RiskAvoidTopK(3),
            pred.view(),
            radii.view(),
            &set,
        )
        .unwrap();
        assert_eq!(
            ra3.row(0).to_vec(),
            vec![third, third, third, 0.0, 0.0, 0.0]
        );
        // Risk-aware with r̄ = 1: mix the cheap risky step 4 (r = 3) with step 1 (r = 0.5):
        // θ = (1 − 0.5)/(3 − 0.5) = 0.2 on step 4.
        let ra = allocate(DecisionRule::RiskAware, pred.view(), radii.view(), &set).unwrap();
        let want = [0.0, 0.8, 0.0, 0.0, 0.2, 0.0];
        for (a, w) in ra.row(0).iter().zip(want) {
            assert!((a - w).abs() < 1e-12);
        }
        // Ties keep the earlier step.
        assert_eq!(
            top_k_allocation(&[1.0, 1.0, 2.0], 1).unwrap().to_vec(),
            vec![1.0, 0.0, 0.0]
        );
        assert!(top_k_allocation(&[1.0], 2).is_err());
        assert!(top_k_allocation(&[f64::NAN], 1).is_err());
        assert!(
            allocate(
                DecisionRule::RiskAware,
                pred.view(),
                array![1.0].view(),
                &set
            )
            .is_err()
        );
    }

    #[test]
    fn radii_follow_the_conformal_rank() {
        // n = 19, γ = 0.95: rank ⌈20·0.95⌉ = 19 → the largest error; γ = 0.5 → 10th smallest.
        let truth = Array2::from_shape_fn((19, 2), |(i, h)| (i as f64 + 1.0) * (h as f64 + 1.0));
        let pred = Array2::zeros((19, 2));
        let r = conformal_radii(pred.view(), truth.view(), 0.95).unwrap();
        assert_eq!(r.to_vec(), vec![19.0, 38.0]);
        let r = conformal_radii(pred.view(), truth.view(), 0.5).unwrap();
        assert_eq!(r.to_vec(), vec![10.0, 20.0]);
        assert_eq!(
            radii_coverage(pred.view(), truth.view(), r.view()).unwrap(),
            10.0 / 19.0
        );
        assert!(conformal_radii(pred.view(), truth.view(), 1.0).is_err());
        // n = 3 windows cannot support γ = 0.95 (rank ⌈4·0.95⌉ = 4 > 3): a typed error.
        let small = Array2::<f64>::zeros((3, 2));
        assert!(matches!(
            conformal_radii(small.view(), small.view(), 0.95),
            Err(PnoError::Conformal(_))
        ));
        assert!(conformal_radii(pred.view(), truth.t(), 0.5).is_err());
        let mut bad = truth.clone();
        bad[[3, 1]] = f64::NAN;
        assert!(conformal_radii(pred.view(), bad.view(), 0.5).is_err());
    }
}
