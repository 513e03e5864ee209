//! Multi-asset allocation (beyond the paper, whose §6 names single-series allocation as a
//! limitation): one budget spread over H steps × A assets.
//!
//! ```text
//! min_a  Σ_{h,j} c_{h,j} a_{h,j}   s.t.  a ≥ 0,  Σ_{h,j} a_{h,j} = 1,  Σ_{h,j} r_{h,j} a_{h,j} ≤ r̄
//! ```
//!
//! `c_{h,j}` is the (forecast) price of asset j at step h, normalised per asset so that one
//! budget buys comparable amounts of each, and `r_{h,j}` the conformal radius of asset j at
//! step h (Algorithm 1 run per asset). The constraints do not distinguish steps from assets, so
//! this is the single-series problem on the H·A flattened cells and the exact solver
//! ([`RiskConstraint`]) applies unchanged: the optimum mixes at most two cells, in
//! O(HA log HA). It is feasible exactly when `min_{h,j} r_{h,j} ≤ r̄`; otherwise construction
//! fails with [`PnoError::Infeasible`].
//!
//! Cells are flattened row-major: cell `(h, j)` is index `h·A + j`.

use ndarray::{Array2, Array3, ArrayView2, ArrayView3};

use fundalloc_core_types::{Empty, ShapeMismatch, TooLarge};

use crate::Device;
use crate::error::{PnoError, Result};
use crate::forecast::{Forecaster, predict};
use crate::solver::{RiskConstraint, quantile};

/// The largest number of cells H·A accepted (2^26): larger grids are refused with
/// [`PnoError::TooLarge`] before the flattened copy is made.
pub const MAX_MULTI_ASSET_CELLS: usize = 1 << 26;

/// The feasible set `{a ≥ 0, Σa = 1, Σ r·a ≤ r̄}` over an `[H, A]` grid of cells.
///
/// ```
/// use fundalloc_timeseries_pno::MultiAssetProblem;
/// use ndarray::array;
/// // Two steps × two assets; asset 1 is cheap at step 1 but too risky alone.
/// let radii = array![[0.1, 0.2], [0.3, 0.9]];
/// let problem = MultiAssetProblem::new(radii.view(), 0.5)?;
/// let cost = array![[1.0, 1.1], [0.9, 0.2]];
/// let s = problem.solve(cost.view())?;
/// assert!((s.allocation().sum() - 1.0).abs() < 1e-12);
/// assert!(s.risk() <= 0.5 + 1e-12);
/// assert!(s.objective() < 0.9); // cheaper than any single feasible cell
/// # Ok::<(), fundalloc_timeseries_pno::PnoError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MultiAssetProblem {
    horizon: usize,
    assets: usize,
    constraint: RiskConstraint,
}

impl MultiAssetProblem {
    /// The problem for per-cell radii `r` (`[H, A]`: column j holds asset j's radii; finite,
    /// non-empty) and budget `r̄` (finite). O(HA log HA) (one sort of the cells).
    ///
    /// # Errors
    /// [`PnoError::Empty`] for an empty grid, [`PnoError::TooLarge`] beyond
    /// [`MAX_MULTI_ASSET_CELLS`], [`PnoError::NonFinite`] for a NaN/∞ radius or budget, and
    /// [`PnoError::Infeasible`] when `r̄ < min_{h,j} r_{h,j}`.
    pub fn new(radii: ArrayView2<'_, f64>, budget: f64) -> Result<Self> {
        let (horizon, assets) = radii.dim();
        if horizon == 0 || assets == 0 {
            return Err(PnoError::from(Empty::new("multi-asset radii")));
        }
        TooLarge::check(
            "multi-asset cells",
            horizon as u128 * assets as u128,
            MAX_MULTI_ASSET_CELLS as u128,
        )?;
        let flat: Vec<f64> = radii.iter().copied().collect();
        Ok(Self {
            horizon,
            assets,
            constraint: RiskConstraint::new(&flat, budget)?,
        })
    }

    /// The problem with `r̄` = the α-quantile of all H·A radii (Eq. 11 over the cells), which
    /// is always feasible.
    ///
    /// # Errors
    /// As [`new`](Self::new), and [`PnoError::InvalidParameter`] for α outside [0, 1].
    pub fn from_quantile(radii: ArrayView2<'_, f64>, alpha: f64) -> Result<Self> {
        if radii.is_empty() {
            return Err(PnoError::from(Empty::new("multi-asset radii")));
        }
        let flat: Vec<f64> = radii.iter().copied().collect();
        Self::new(radii, quantile(&flat, alpha)?)
    }

    /// H, the number of steps.
    pub fn horizon(&self) -> usize {
        self.horizon
    }

    /// A, the number of assets.
    pub fn assets(&self) -> usize {
        self.assets
    }

    /// The budget `r̄`.
    pub fn budget(&self) -> f64 {
        self.constraint.budget()
    }

    /// `min_{h,j} r_{h,j}`, the least feasible budget.
    pub fn min_risk(&self) -> f64 {
        self.constraint.min_risk()
    }

    /// The single-series constraint on the flattened cells (index `h·A + j`).
    pub fn flattened(&self) -> &RiskConstraint {
        &self.constraint
    }

    /// The optimal allocation for prices `c` (`[H, A]`, finite). O(HA) after construction.
    ///
    /// # Errors
    /// [`PnoError::ShapeMismatch`] when `c` is not `[H, A]`, [`PnoError::NonFinite`] for a
    /// NaN/∞ price.
    pub fn solve(&self, cost: ArrayView2<'_, f64>) -> Result<MultiAssetSolution> {
        if cost.dim() != (self.horizon, self.assets) {
            return Err(PnoError::from(ShapeMismatch::new(
                "multi-asset cost cells vs radii cells",
                self.horizon * self.assets,
                cost.len(),
            )));
        }
        let flat: Vec<f64> = cost.iter().copied().collect();
        let solution = self.constraint.solve(&flat)?;
        let mut allocation = Array2::zeros((self.horizon, self.assets));
        for &(cell, weight) in solution.support() {
            allocation[(cell / self.assets, cell % self.assets)] = weight;
        }
        Ok(MultiAssetSolution {
            allocation,
            objective: solution.objective(),
            risk: solution.risk(),
        })
    }

    /// Solves every window of `costs` (`[n, H, A]`) in parallel; returns `[n, H, A]`
    /// allocations.
    ///
    /// # Errors
    /// As [`solve`](Self::solve).
    pub fn solve_batch(&self, costs: ArrayView3<'_, f64>) -> Result<Array3<f64>> {
        let (n, h, a) = costs.dim();
        if (h, a) != (self.horizon, self.assets) {
            return Err(PnoError::from(ShapeMismatch::new(
                "multi-asset cost cells vs radii cells",
                self.horizon * self.assets,
                h * a,
            )));
        }
        let flat = costs
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order((n, h * a))
            .map_err(|e| PnoError::Tensor(e.to_string()))?;
        self.constraint
            .solve_batch(flat.view())?
            .into_shape_with_order((n, h, a))
            .map_err(|e| PnoError::Tensor(e.to_string()))
    }
}

/// An optimal multi-asset allocation.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MultiAssetSolution {
    allocation: Array2<f64>,
    objective: f64,
    risk: f64,
}

impl MultiAssetSolution {
    /// The allocation `[H, A]` (non-negative, summing to 1, at most two positive cells).
    pub fn allocation(&self) -> &Array2<f64> {
        &self.allocation
    }

    /// The optimal value `Σ c·a`.
    pub fn objective(&self) -> f64 {
        self.objective
    }

    /// The risk used, `Σ r·a ≤ r̄`.
    pub fn risk(&self) -> f64 {
        self.risk
    }
}

/// Forecasts A series jointly with one channel-independent forecaster (DLinear, NLinear,
/// PatchTST, TimesNet, FEDformer here are all univariate, hence channel-independent): the
/// `[n, A, M]` histories are forecast as `n·A` rows of one batch and returned as `[n, A, H]`.
///
/// # Errors
/// As [`predict`]; [`PnoError::Empty`] when `n·A = 0`.
pub fn predict_channels<F: Forecaster>(
    model: &F,
    inputs: ArrayView3<'_, f64>,
    batch_size: usize,
    device: &Device,
) -> Result<Array3<f64>> {
    let (n, a, m) = inputs.dim();
    let rows = inputs
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order((n * a, m))
        .map_err(|e| PnoError::Tensor(e.to_string()))?;
    let out = predict(model, rows.view(), batch_size, device)?;
    let h = out.ncols();
    out.into_shape_with_order((n, a, h))
        .map_err(|e| PnoError::Tensor(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use good_lp::{Expression, ProblemVariables, Solution, SolverModel, constraint, variable};
    use ndarray::array;
    use proptest::prelude::*;

    /// The LP written on the 2-D grid (no flattening) and solved by good_lp's `microlp`.
    fn lp_objective(cost: &Array2<f64>, radii: &Array2<f64>, budget: f64) -> Option<f64> {
        let mut vars = ProblemVariables::new();
        let (h, a) = cost.dim();
        let cells: Vec<Vec<_>> = (0..h)
            .map(|_| (0..a).map(|_| vars.add(variable().min(0.0))).collect())
            .collect();
        let mut objective = Expression::from(0.0);
        let mut total = Expression::from(0.0);
        let mut used = Expression::from(0.0);
        for (i, row) in cells.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                objective += cost[(i, j)] * v;
                total += v;
                used += radii[(i, j)] * v;
            }
        }
        let solved = vars
            .minimise(objective.clone())
            .using(good_lp::microlp)
            .with(constraint!(total == 1.0))
            .with(constraint!(used <= budget))
            .solve()
            .ok()?;
        Some(solved.eval(&objective))
    }

    fn grid(h: usize, a: usize) -> impl Strategy<Value = Array2<f64>> {
        proptest::collection::vec(0.0f64..10.0, h * a)
            .prop_map(move |v| Array2::from_shape_vec((h, a), v).unwrap())
    }

    fn instance() -> impl Strategy<Value = (Array2<f64>, Array2<f64>, f64)> {
        (1usize..8, 1usize..5).prop_flat_map(|(h, a)| (grid(h, a), grid(h, a), 0.0f64..12.0))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn matches_the_lp_on_random_instances((cost, radii, budget) in instance()) {
            let lp = lp_objective(&cost, &radii, budget);
            match MultiAssetProblem::new(radii.view(), budget) {
                Ok(problem) => {
                    let s = problem.solve(cost.view()).unwrap();
                    let expected = lp.expect("LP infeasible where the exact solver is not");
                    prop_assert!((s.objective() - expected).abs() < 1e-6 * (1.0 + expected.abs()),
                        "exact {} vs LP {expected}", s.objective());
                    let alloc = s.allocation();
                    prop_assert!((alloc.sum() - 1.0).abs() < 1e-12);
                    prop_assert!(alloc.iter().all(|&w| w >= 0.0));
                    prop_assert!(alloc.iter().filter(|&&w| w > 0.0).count() <= 2);
                    prop_assert!((alloc * &radii).sum() <= budget + 1e-9);
                    prop_assert!(((alloc * &cost).sum() - s.objective()).abs() < 1e-9);
                }
                Err(PnoError::Infeasible { min_risk, .. }) => {
                    prop_assert!(budget < min_risk);
                    prop_assert!(lp.is_none());
                }
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
        }
    }

    #[cfg(feature = "highs")]
    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]
        #[test]
        fn matches_highs_on_random_instances((cost, radii, budget) in instance()) {
            let flat_cost: Vec<f64> = cost.iter().copied().collect();
            let flat_radii: Vec<f64> = radii.iter().copied().collect();
            let highs = crate::solver::highs::solve_with_highs(&flat_cost, &flat_radii, budget);
            match (MultiAssetProblem::new(radii.view(), budget), highs) {
                (Ok(problem), Ok(expected)) => {
                    let s = problem.solve(cost.view()).unwrap();
                    prop_assert!((s.objective() - expected).abs() < 1e-6 * (1.0 + expected.abs()));
                }
                (Err(PnoError::Infeasible { .. }), Err(PnoError::Infeasible { .. })) => {}
                (a, b) => prop_assert!(false, "exact {a:?} vs HiGHS {b:?}"),
            }
        }
    }

    #[test]
    fn infeasible_budget_is_a_typed_error() {
        let radii = array![[0.3, 0.4], [0.5, 0.35]];
        match MultiAssetProblem::new(radii.view(), 0.2) {
            Err(PnoError::Infeasible { budget, min_risk }) => {
                assert_eq!(budget, 0.2);
                assert_eq!(min_risk, 0.3);
            }
            other => panic!("expected Infeasible, got {other:?}"),
        }
        // Exactly the least radius is feasible: all weight on that cell.
        let p = MultiAssetProblem::new(radii.view(), 0.3).unwrap();
        let s = p.solve(array![[5.0, 1.0], [1.0, 1.0]].view()).unwrap();
        assert_eq!(s.allocation()[(0, 0)], 1.0);
    }

    #[test]
    fn shapes_and_hostile_input_are_checked() {
        let radii = array![[0.1, 0.2], [0.3, 0.4]];
        let p = MultiAssetProblem::from_quantile(radii.view(), 0.5).unwrap();
        assert!((p.budget() - 0.25).abs() < 1e-12);
        assert!(matches!(
            p.solve(array![[1.0, 2.0, 3.0]].view()),
            Err(PnoError::ShapeMismatch(_))
        ));
        assert!(matches!(
            p.solve(array![[1.0, f64::NAN], [1.0, 1.0]].view()),
            Err(PnoError::NonFinite(_))
        ));
        assert!(matches!(
            MultiAssetProblem::new(Array2::<f64>::zeros((0, 3)).view(), 1.0),
            Err(PnoError::Empty(_))
        ));
        assert!(matches!(
            MultiAssetProblem::new(array![[f64::INFINITY]].view(), 1.0),
            Err(PnoError::NonFinite(_))
        ));
    }

    #[test]
    fn batch_agrees_with_single_solves() {
        let radii = array![[0.1, 0.6], [0.4, 0.9], [0.2, 0.3]];
        let p = MultiAssetProblem::new(radii.view(), 0.35).unwrap();
        let costs = ndarray::Array3::from_shape_fn((4, 3, 2), |(n, h, a)| {
            ((n * 7 + h * 3 + a * 5) % 11) as f64
        });
        let batch = p.solve_batch(costs.view()).unwrap();
        for n in 0..4 {
            let single = p.solve(costs.index_axis(ndarray::Axis(0), n)).unwrap();
            assert_eq!(&batch.index_axis(ndarray::Axis(0), n), single.allocation());
        }
    }

    #[test]
    fn channels_are_forecast_as_rows() {
        use crate::forecast::{ForecasterParams, NLinearParams};
        let _guard = crate::train::tests::serial();
        let device = Device::flex();
        let spec = fundalloc_core_types::WindowSpec::new(6, 2).unwrap();
        let model = NLinearParams.init(spec, &device).unwrap();
        let inputs = ndarray::Array3::from_shape_fn((3, 2, 6), |(n, a, t)| {
            (n as f64) + 10.0 * a as f64 + 0.1 * t as f64
        });
        let joint = predict_channels(&model, inputs.view(), 4, &device).unwrap();
        assert_eq!(joint.dim(), (3, 2, 2));
        for a in 0..2 {
            let alone =
                predict(&model, inputs.index_axis(ndarray::Axis(1), a), 64, &device).unwrap();
            for n in 0..3 {
                for h in 0..2 {
                    assert!((joint[(n, a, h)] - alone[(n, h)]).abs() < 1e-5);
                }
            }
        }
    }
}
