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
//!
//! # Joint training ([`MultiAssetDataset`], [`fit_multi_asset`](crate::fit_multi_asset))
//!
//! The forecasters are univariate, so they forecast the A series *channel-independently*: a
//! window of the panel is A rows of one batch (row `i·A + j` is asset j of window i), each
//! standardised with its own asset's training mean and standard deviation, and the MSE is taken
//! over all rows. The decision needs prices on one scale: asset j's price is normalised by its
//! training-rows mean `μ_j`, `p̃_{h,j} = p_{h,j}/μ_j` (one unit of asset j costs about 1 over
//! the training period), which in terms of the standardised value `z` is
//! `p̃ = κ_j·z + 1` with `κ_j = σ_j/μ_j` (asset j's coefficient of variation on the training
//! rows). The common `+1` does not change any decision (`Σa = 1`) nor SPO+, so the training
//! loops work in the *cost units* `c_{h,j} = (κ_j/κ̄)·z_{h,j}`, `κ̄ = mean_j κ_j`: the SPO+ term
//! keeps the size it has in the single-series loop (so β keeps its meaning), and with A = 1
//! the cost is `1·z`, exactly the single-series problem. Radii are split-conformal per asset and
//! step on these cost cells (Algorithm 1 on the `[n, H·A]` matrix), so they are in cost units
//! too; regret is reported in `p̃` units (fraction of the asset's training-mean price).

use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis};

use fundalloc_core_types::{
    Empty, InvalidParameter, PriceSeries, Segment, ShapeMismatch, TooLarge, WindowSpec,
};

use crate::Device;
use crate::data::{MAX_SEGMENT_CELLS, SegmentData, WindowDataset};
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

/// How the standardised forecast rows of a window map to decision cells: one scale per asset
/// (`κ_j/κ̄`, see the module doc); a single series is one asset with scale 1.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cells {
    scale: Vec<f64>,
}

impl Cells {
    /// One series, scale 1: the cells are the forecast row itself.
    pub(crate) fn single() -> Self {
        Self { scale: vec![1.0] }
    }

    /// Given per-asset scales (tests build layouts without a dataset).
    #[cfg(test)]
    pub(crate) fn with_scale(scale: Vec<f64>) -> Self {
        Self { scale }
    }

    /// A, the number of assets (rows per window).
    pub(crate) fn assets(&self) -> usize {
        self.scale.len()
    }

    /// The per-asset factors from standardised values to cost units.
    pub(crate) fn scale(&self) -> &[f64] {
        &self.scale
    }

    /// The number of windows held by `rows` rows (A rows per window).
    pub(crate) fn windows(&self, rows: usize) -> Result<usize> {
        let a = self.assets();
        if a == 0 || !rows.is_multiple_of(a) {
            return Err(PnoError::from(ShapeMismatch::new(
                "rows (a multiple of the number of assets)",
                format_args!("a multiple of {a}"),
                rows,
            )));
        }
        Ok(rows / a)
    }

    /// The rows of the windows `windows` (window i holds rows `i·A .. i·A + A`).
    pub(crate) fn rows_of(&self, windows: &[usize]) -> Vec<usize> {
        let a = self.assets();
        windows.iter().flat_map(|&w| (w * a)..(w * a + a)).collect()
    }

    /// Standardised rows `[n·A, H]` → cost cells `[n, H·A]`:
    /// `cells[i, h·A + j] = scale_j · rows[i·A + j, h]`.
    pub(crate) fn to_cells(&self, rows: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        let a = self.assets();
        let n = self.windows(rows.nrows())?;
        let h = rows.ncols();
        Ok(Array2::from_shape_fn((n, h * a), |(i, cell)| {
            let (step, j) = (cell / a, cell % a);
            self.scale[j] * rows[(i * a + j, step)]
        }))
    }

    /// The chain rule back through [`to_cells`](Self::to_cells): a gradient on the cells
    /// `[n, H·A]` → the gradient on the standardised rows `[n·A, H]`
    /// (`rows[i·A + j, h] = scale_j · cells[i, h·A + j]`).
    pub(crate) fn cells_to_rows(&self, cells: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        let a = self.assets();
        let (n, ha) = cells.dim();
        if a == 0 || !ha.is_multiple_of(a) {
            return Err(PnoError::from(ShapeMismatch::new(
                "cells (a multiple of the number of assets)",
                format_args!("a multiple of {a}"),
                ha,
            )));
        }
        let h = ha / a;
        Ok(Array2::from_shape_fn((n * a, h), |(row, step)| {
            let (i, j) = (row / a, row % a);
            self.scale[j] * cells[(i, step * a + j)]
        }))
    }
}

/// A panel of A price series on the same dates, prepared for joint training
/// ([`fit_multi_asset`](crate::fit_multi_asset)): every series is split (70/10/20) and
/// standardised on its own training rows exactly as a [`WindowDataset`], and the segments hold
/// the windows interleaved, A rows per window (row `i·A + j` is asset j of window i).
///
/// Prices are normalised per asset by the training-rows mean (see the module doc), so the
/// cost of a cell is comparable across assets.
///
/// ```
/// use fundalloc_core_types::{PriceSeries, WindowSpec};
/// use fundalloc_timeseries_pno::MultiAssetDataset;
/// let a: Vec<f64> = (0..200).map(|t| 100.0 + (t as f64 * 0.3).sin()).collect();
/// let b: Vec<f64> = (0..200).map(|t| 50.0 + (t as f64 * 0.2).cos()).collect();
/// let data = MultiAssetDataset::new(
///     vec![PriceSeries::new("a", a)?, PriceSeries::new("b", b)?],
///     WindowSpec::new(20, 5)?,
/// )?;
/// assert_eq!(data.assets(), 2);
/// assert_eq!(data.test().inputs().nrows(), 2 * data.asset(0).unwrap().test().len());
/// # Ok::<(), fundalloc_timeseries_pno::PnoError>(())
/// ```
#[derive(Debug, Clone)]
pub struct MultiAssetDataset {
    assets: Vec<WindowDataset>,
    train: SegmentData,
    validation: SegmentData,
    test: SegmentData,
    spec: WindowSpec,
    cells: Cells,
    unit: f64,
}

impl MultiAssetDataset {
    /// Splits, standardises and windows every series of the panel (A ≥ 1 series of the same
    /// length; asset j is `series[j]`).
    ///
    /// # Errors
    /// [`PnoError::Empty`] for no series, [`PnoError::ShapeMismatch`] for series of different
    /// lengths, [`PnoError::InvalidParameter`] (`"training mean"`) for a series whose training
    /// rows do not have a positive mean (the normalisation divides by it),
    /// [`PnoError::TooLarge`] for a panel over [`MAX_SEGMENT_CELLS`] per segment, and the
    /// errors of [`WindowDataset::new`] (a spec too long for the series, a constant series).
    pub fn new(series: Vec<PriceSeries>, spec: WindowSpec) -> Result<Self> {
        let Some(first) = series.first() else {
            return Err(PnoError::from(Empty::new("multi-asset series")));
        };
        let rows = first.len();
        if let Some(other) = series.iter().find(|s| s.len() != rows) {
            return Err(PnoError::from(ShapeMismatch::new(
                "rows of every asset series",
                rows,
                other.len(),
            )));
        }
        let a = series.len();
        TooLarge::check(
            "assets × rows × max(M, H)",
            a as u128 * rows as u128 * spec.lookback().max(spec.horizon()) as u128,
            MAX_SEGMENT_CELLS as u128,
        )?;
        let assets = series
            .into_iter()
            .map(|s| WindowDataset::new(s, spec))
            .collect::<Result<Vec<_>>>()?;
        let mut kappa = Vec::with_capacity(a);
        for data in &assets {
            let scaler = data.series().scaler();
            let mean = scaler.mean();
            if mean <= 0.0 {
                return Err(PnoError::from(InvalidParameter::new(
                    "training mean",
                    mean,
                    "must be positive: prices are normalised by it",
                )));
            }
            kappa.push(scaler.std() / mean);
        }
        let unit = kappa.iter().sum::<f64>() / a as f64;
        let cells = Cells {
            scale: kappa.iter().map(|k| k / unit).collect(),
        };
        let interleave = |pick: fn(&WindowDataset) -> &SegmentData| -> Result<SegmentData> {
            let parts: Vec<&SegmentData> = assets.iter().map(pick).collect();
            interleave_segments(&parts)
        };
        Ok(Self {
            train: interleave(WindowDataset::train)?,
            validation: interleave(WindowDataset::validation)?,
            test: interleave(WindowDataset::test)?,
            assets,
            spec,
            cells,
            unit,
        })
    }

    /// A, the number of assets.
    pub fn assets(&self) -> usize {
        self.assets.len()
    }

    /// Asset j alone, as a single-series [`WindowDataset`] (`None` past the last asset).
    pub fn asset(&self, j: usize) -> Option<&WindowDataset> {
        self.assets.get(j)
    }

    /// The window spec (M, H), the same for every asset.
    pub fn spec(&self) -> WindowSpec {
        self.spec
    }

    /// Training windows, A rows each (row `i·A + j` is asset j of window i).
    pub fn train(&self) -> &SegmentData {
        &self.train
    }

    /// Validation windows (the calibration set of the per-asset radii), A rows each.
    pub fn validation(&self) -> &SegmentData {
        &self.validation
    }

    /// Test windows, A rows each.
    pub fn test(&self) -> &SegmentData {
        &self.test
    }

    /// The number of windows of a segment (its rows / A).
    pub fn n_windows(&self, segment: Segment) -> usize {
        self.segment(segment).len() / self.assets().max(1)
    }

    fn segment(&self, segment: Segment) -> &SegmentData {
        match segment {
            Segment::Train => &self.train,
            Segment::Validation => &self.validation,
            Segment::Test => &self.test,
        }
    }

    /// `κ_j/κ̄` per asset: standardised value × this = cost units (see the module doc).
    pub fn cost_scale(&self) -> &[f64] {
        self.cells.scale()
    }

    /// `κ̄ = mean_j σ_j/μ_j`: one cost unit in normalised prices `p/μ_j`.
    pub fn unit(&self) -> f64 {
        self.unit
    }

    /// Standardised rows `[n·A, H]` (a forecast of a segment, say) → cost cells `[n, H·A]`
    /// (cell `h·A + j`), the input of [`MultiAssetProblem::solve_batch`] after a reshape or of
    /// the flattened [`RiskConstraint`].
    ///
    /// # Errors
    /// [`PnoError::ShapeMismatch`] when the rows are not a multiple of A.
    pub fn to_cells(&self, rows: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        self.cells.to_cells(rows)
    }

    /// The true prices of a segment normalised per asset, `p_{h,j}/μ_j`, as cells `[n, H·A]`.
    pub fn normalised_targets(&self, segment: Segment) -> Array2<f64> {
        let seg = self.segment(segment);
        let a = self.assets().max(1);
        let means: Vec<f64> = self
            .assets
            .iter()
            .map(|d| d.series().scaler().mean())
            .collect();
        let raw = seg.raw_targets();
        let (rows, h) = raw.dim();
        Array2::from_shape_fn((rows / a, h * a), |(i, cell)| {
            let (step, j) = (cell / a, cell % a);
            raw[(i * a + j, step)] / means[j]
        })
    }

    pub(crate) fn cells(&self) -> &Cells {
        &self.cells
    }
}

/// Interleaves per-asset segments (the same windows of each asset) into A rows per window.
fn interleave_segments(parts: &[&SegmentData]) -> Result<SegmentData> {
    let a = parts.len();
    let Some(first) = parts.first() else {
        return Err(PnoError::from(Empty::new("multi-asset segments")));
    };
    let n = first.len();
    let rows: Vec<usize> = (0..n * a).map(|r| (r % a) * n + r / a).collect();
    let stack = |pick: fn(&SegmentData) -> &Array2<f64>| -> Result<Array2<f64>> {
        let views: Vec<_> = parts.iter().map(|p| pick(p).view()).collect();
        let stacked =
            ndarray::concatenate(Axis(0), &views).map_err(|e| PnoError::Tensor(e.to_string()))?;
        Ok(stacked.select(Axis(0), &rows))
    };
    Ok(SegmentData::from_parts(
        stack(SegmentData::inputs)?,
        stack(SegmentData::targets)?,
        stack(SegmentData::raw_targets)?,
    ))
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Every allocation of one asset alone (same radii and budget) is feasible jointly, so
        /// the joint optimum is never worse on the costs it is solved for.
        #[test]
        fn joint_is_no_worse_than_any_asset_alone((cost, radii, budget) in instance()) {
            let Ok(joint) = MultiAssetProblem::new(radii.view(), budget) else {
                return Ok(());
            };
            let z = joint.solve(cost.view()).unwrap().objective();
            for j in 0..cost.ncols() {
                let r = radii.column(j).to_vec();
                if let Ok(alone) = RiskConstraint::new(&r, budget) {
                    let single = alone.solve(&cost.column(j).to_vec()).unwrap().objective();
                    prop_assert!(z <= single + 1e-9, "joint {z} vs asset {j} alone {single}");
                }
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
