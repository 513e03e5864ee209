//! Split conformal calibration: one radius for a scalar predictor, or one radius per horizon
//! position for an H-step forecaster (RTS-PnO's Algorithm 1).

use ndarray::{Array, Array1, ArrayView1, ArrayView2, Axis, Dimension, Ix1, Ix2, Zip};

use crate::quantile::{check_level, quantile_of_finite, rank_unchecked};
use crate::score::{check_finite, check_positive_scales, check_same_shape, check_scores};
use fundalloc_core_types::{Empty, ParamGuard, ShapeMismatch};

use crate::{
    ConformalError, RankOverflow, Real, Result, Score, absolute_residuals, normalized_residuals,
};

/// How the coverage level γ is spread over the H positions of a multi-step forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum HorizonCoverage {
    /// Each position on its own covers with probability ≥ γ (RTS-PnO's Algorithm 1).
    #[default]
    PerPosition,
    /// All H positions are covered *at once* with probability ≥ γ: each position is calibrated
    /// at level 1 − (1 − γ)/H (Bonferroni's union bound), giving wider radii.
    Bonferroni,
}

impl HorizonCoverage {
    /// The level each position is calibrated at: γ, or 1 − (1 − γ)/H.
    pub fn position_level(self, coverage: f64, horizon: usize) -> f64 {
        match self {
            HorizonCoverage::PerPosition => coverage,
            HorizonCoverage::Bonferroni => 1.0 - (1.0 - coverage) / horizon.max(1) as f64,
        }
    }
}

/// Parameters of a split conformal predictor (unchecked); [`ParamGuard::check`] validates
/// them, and every `fit` checks them itself.
///
/// ```
/// use fundalloc_conformal::{HorizonCoverage, ParamGuard, RankOverflow, SplitConformalParams};
/// let params = SplitConformalParams::new(0.9)
///     .rank_overflow(RankOverflow::Infinite)
///     .horizon_coverage(HorizonCoverage::Bonferroni)
///     .check()?;
/// assert_eq!(params.coverage(), 0.9);
/// # Ok::<(), fundalloc_conformal::ConformalError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct SplitConformalParams(SplitConformalValidParams);

impl SplitConformalParams {
    /// Coverage level γ ∈ (0, 1) (γ = 1 − α); [`RankOverflow::Error`] and
    /// [`HorizonCoverage::PerPosition`] by default.
    #[must_use]
    pub fn new(coverage: f64) -> Self {
        Self(SplitConformalValidParams {
            coverage,
            rank_overflow: RankOverflow::default(),
            horizon_coverage: HorizonCoverage::default(),
        })
    }

    /// Sets the coverage level γ ∈ (0, 1).
    #[must_use]
    pub fn coverage(mut self, coverage: f64) -> Self {
        self.0.coverage = coverage;
        self
    }

    /// What to do when the calibration set is too small for the level.
    #[must_use]
    pub fn rank_overflow(mut self, rank_overflow: RankOverflow) -> Self {
        self.0.rank_overflow = rank_overflow;
        self
    }

    /// Per-position or joint (Bonferroni) coverage for multi-step calibration.
    #[must_use]
    pub fn horizon_coverage(mut self, horizon_coverage: HorizonCoverage) -> Self {
        self.0.horizon_coverage = horizon_coverage;
        self
    }
}

impl ParamGuard for SplitConformalParams {
    type Checked = SplitConformalValidParams;
    type Error = ConformalError;

    /// Validates γ ∈ (0, 1).
    fn check_ref(&self) -> Result<&SplitConformalValidParams> {
        check_level("coverage", self.0.coverage)?;
        Ok(&self.0)
    }

    fn check(self) -> Result<SplitConformalValidParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

/// Validated split conformal parameters, made only by [`ParamGuard::check`]: pass them (or the
/// unchecked [`SplitConformalParams`]) to [`SplitConformal::fit`],
/// [`PositionalConformal::fit`] and their variants.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SplitConformalValidParams {
    coverage: f64,
    rank_overflow: RankOverflow,
    horizon_coverage: HorizonCoverage,
}

fundalloc_core_types::checked_params!(SplitConformalValidParams, ConformalError);

/// Deserialising re-validates: a saved file cannot smuggle in an out-of-domain level.
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for SplitConformalValidParams {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Raw {
            coverage: f64,
            rank_overflow: RankOverflow,
            horizon_coverage: HorizonCoverage,
        }
        let raw = Raw::deserialize(deserializer)?;
        SplitConformalParams(SplitConformalValidParams {
            coverage: raw.coverage,
            rank_overflow: raw.rank_overflow,
            horizon_coverage: raw.horizon_coverage,
        })
        .check()
        .map_err(serde::de::Error::custom)
    }
}

impl From<SplitConformalValidParams> for SplitConformalParams {
    fn from(valid: SplitConformalValidParams) -> Self {
        Self(valid)
    }
}

impl SplitConformalValidParams {
    /// The coverage level γ.
    pub fn coverage(&self) -> f64 {
        self.coverage
    }

    /// The rank-overflow policy.
    pub fn rank_overflow(&self) -> RankOverflow {
        self.rank_overflow
    }

    /// The multi-step coverage mode.
    pub fn horizon_coverage(&self) -> HorizonCoverage {
        self.horizon_coverage
    }
}

/// The split conformal radius of finite, non-negative scores (a scalar fit).
fn fit_scalar<T: Real>(
    params: &SplitConformalValidParams,
    scores: ArrayView1<'_, T>,
    score: Score,
) -> Result<SplitConformal<T>> {
    if scores.is_empty() {
        return Err(Empty::new("calibration scores").into());
    }
    check_scores(&scores)?;
    let level = params.coverage;
    let mut buffer = scores.to_vec();
    let radius = quantile_of_finite(&mut buffer, level, params.rank_overflow)?;
    Ok(SplitConformal {
        radius,
        score,
        coverage: level,
        n_calibration: scores.len(),
    })
}

/// One radius per column of an n × H score array.
fn fit_columns<T: Real>(
    params: &SplitConformalValidParams,
    scores: ArrayView2<'_, T>,
    score: Score,
) -> Result<PositionalConformal<T>> {
    let (n, horizon) = scores.dim();
    if n == 0 {
        return Err(Empty::new("calibration windows").into());
    }
    if horizon == 0 {
        return Err(Empty::new("horizon positions").into());
    }
    check_scores(&scores)?;
    let level = params
        .horizon_coverage
        .position_level(params.coverage, horizon);
    check_level("position level", level)?;
    let mut buffer = Vec::with_capacity(n);
    let mut radii = Array1::zeros(horizon);
    for (h, column) in scores.axis_iter(Axis(1)).enumerate() {
        buffer.clear();
        buffer.extend(column.iter().copied());
        radii[h] = quantile_of_finite(&mut buffer, level, params.rank_overflow)?;
    }
    Ok(PositionalConformal {
        radii,
        score,
        coverage: params.coverage,
        horizon_coverage: params.horizon_coverage,
        position_level: level,
        n_calibration: n,
    })
}

/// Lower and upper bounds of prediction intervals, of the predictions' shape.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PredictionIntervals<T, D: Dimension = Ix1> {
    /// ŷ − radius (× scale for normalised scores).
    pub lower: Array<T, D>,
    /// ŷ + radius (× scale for normalised scores).
    pub upper: Array<T, D>,
}

impl<T: Real, D: Dimension> PredictionIntervals<T, D> {
    /// upper − lower, element by element (+∞ for infinite radii).
    pub fn widths(&self) -> Array<T, D> {
        &self.upper - &self.lower
    }
}

/// A calibrated split conformal predictor for a scalar target: one radius q̂.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SplitConformal<T> {
    radius: T,
    score: Score,
    coverage: f64,
    n_calibration: usize,
}

impl<T: Real> SplitConformal<T> {
    /// Fits a scalar predictor's conformal radius on the absolute residuals |y − ŷ| of `n`
    /// calibration points (the calibration set).
    ///
    /// ```
    /// use fundalloc_conformal::{SplitConformal, SplitConformalParams};
    /// use ndarray::array;
    /// let predictions = array![1.0f64, 2.0, 3.0, 4.0];
    /// let targets = array![1.1, 2.3, 2.8, 4.4];
    /// // n = 4, γ = 0.6: rank ⌈5 · 0.6⌉ = 3 → the third smallest of {0.1, 0.3, 0.2, 0.4}.
    /// let fitted = SplitConformal::fit(
    ///     SplitConformalParams::new(0.6),
    ///     predictions.view(),
    ///     targets.view(),
    /// )?;
    /// assert!((fitted.radius() - 0.3).abs() < 1e-12);
    /// let iv = fitted.predict_interval(array![10.0].view())?;
    /// assert!((iv.upper[0] - 10.3).abs() < 1e-12);
    /// # Ok::<(), fundalloc_conformal::ConformalError>(())
    /// ```
    ///
    /// # Errors
    /// An invalid level, empty, non-finite or mismatched inputs, or
    /// [`ConformalError::TooFewScores`] under [`RankOverflow::Error`].
    pub fn fit(
        params: impl ParamGuard<Checked = SplitConformalValidParams, Error = ConformalError>,
        predictions: ArrayView1<'_, T>,
        targets: ArrayView1<'_, T>,
    ) -> Result<Self> {
        let params = params.check()?;
        let scores = absolute_residuals(predictions, targets)?;
        fit_scalar(&params, scores.view(), Score::AbsoluteResidual)
    }

    /// Fits on the normalised residuals |y − ŷ| / σ̂ of the calibration set (σ̂ > 0 per point).
    ///
    /// # Errors
    /// As [`fit`](Self::fit), and non-positive scales.
    pub fn fit_normalized(
        params: impl ParamGuard<Checked = SplitConformalValidParams, Error = ConformalError>,
        predictions: ArrayView1<'_, T>,
        targets: ArrayView1<'_, T>,
        scales: ArrayView1<'_, T>,
    ) -> Result<Self> {
        let params = params.check()?;
        let scores = normalized_residuals(predictions, targets, scales)?;
        fit_scalar(&params, scores.view(), Score::NormalizedResidual)
    }

    /// Fits on precomputed calibration scores (finite, ≥ 0) of kind `score`.
    ///
    /// # Errors
    /// As [`fit`](Self::fit), and negative scores.
    pub fn fit_scores(
        params: impl ParamGuard<Checked = SplitConformalValidParams, Error = ConformalError>,
        scores: ArrayView1<'_, T>,
        score: Score,
    ) -> Result<Self> {
        let params = params.check()?;
        fit_scalar(&params, scores, score)
    }

    /// The conformal quantile q̂ of the scores (+∞ under [`RankOverflow::Infinite`] when the
    /// calibration set is too small).
    pub fn radius(&self) -> T {
        self.radius
    }

    /// The score the radius was computed on.
    pub fn score(&self) -> Score {
        self.score
    }

    /// The coverage level γ.
    pub fn coverage(&self) -> f64 {
        self.coverage
    }

    /// Number of calibration scores n.
    pub fn n_calibration(&self) -> usize {
        self.n_calibration
    }

    /// The rank k = ⌈(n+1)·γ⌉ of the radius among the calibration scores (k > n: radius +∞).
    pub fn rank(&self) -> usize {
        rank_unchecked(self.n_calibration, self.coverage)
    }

    /// Intervals ŷ ± q̂ (calibration on [`Score::AbsoluteResidual`]); predictions must be finite.
    pub fn predict_interval(
        &self,
        predictions: ArrayView1<'_, T>,
    ) -> Result<PredictionIntervals<T, Ix1>> {
        expect_score(self.score, Score::AbsoluteResidual)?;
        check_finite("predictions", &predictions)?;
        Ok(intervals(predictions, self.radius))
    }

    /// Intervals ŷ ± q̂·σ̂ (calibration on [`Score::NormalizedResidual`]).
    pub fn predict_interval_scaled(
        &self,
        predictions: ArrayView1<'_, T>,
        scales: ArrayView1<'_, T>,
    ) -> Result<PredictionIntervals<T, Ix1>> {
        expect_score(self.score, Score::NormalizedResidual)?;
        check_finite("predictions", &predictions)?;
        check_same_shape("scales vs predictions", &predictions, &scales)?;
        check_positive_scales(&scales)?;
        let radius = self.radius;
        let half = scales.mapv(|s| s * radius);
        Ok(PredictionIntervals {
            lower: &predictions - &half,
            upper: &predictions + &half,
        })
    }
}

/// A calibrated multi-step split conformal predictor: one radius r_h per horizon position.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PositionalConformal<T> {
    radii: Array1<T>,
    score: Score,
    coverage: f64,
    horizon_coverage: HorizonCoverage,
    position_level: f64,
    n_calibration: usize,
}

impl<T: Real> PositionalConformal<T> {
    /// Fits an H-step forecaster on absolute residuals (RTS-PnO's Algorithm 1):
    /// `predictions` and `targets` are n × H (one row per calibration window, one column per
    /// horizon position).
    ///
    /// ```
    /// use fundalloc_conformal::{PositionalConformal, SplitConformalParams};
    /// use ndarray::array;
    /// // 4 calibration windows, horizon 2.
    /// let predictions = array![[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]];
    /// let targets = array![[0.1, -1.0], [0.2, 2.0], [-0.3, 3.0], [0.4, -4.0]];
    /// let r = PositionalConformal::fit(
    ///     SplitConformalParams::new(0.5),
    ///     predictions.view(),
    ///     targets.view(),
    /// )?
    /// .into_radii();
    /// assert_eq!(r, array![0.3, 3.0]); // 3rd smallest per column (⌈5 · 0.5⌉ = 3)
    /// # Ok::<(), fundalloc_conformal::ConformalError>(())
    /// ```
    ///
    /// # Errors
    /// An invalid level, empty, non-finite or mismatched inputs, or
    /// [`ConformalError::TooFewScores`] under [`RankOverflow::Error`].
    pub fn fit(
        params: impl ParamGuard<Checked = SplitConformalValidParams, Error = ConformalError>,
        predictions: ArrayView2<'_, T>,
        targets: ArrayView2<'_, T>,
    ) -> Result<Self> {
        let params = params.check()?;
        let scores = absolute_residuals(predictions, targets)?;
        fit_columns(&params, scores.view(), Score::AbsoluteResidual)
    }

    /// Fits on normalised residuals |y − ŷ| / σ̂ of the calibration set (all n × H).
    ///
    /// # Errors
    /// As [`fit`](Self::fit), and non-positive scales.
    pub fn fit_normalized(
        params: impl ParamGuard<Checked = SplitConformalValidParams, Error = ConformalError>,
        predictions: ArrayView2<'_, T>,
        targets: ArrayView2<'_, T>,
        scales: ArrayView2<'_, T>,
    ) -> Result<Self> {
        let params = params.check()?;
        let scores = normalized_residuals(predictions, targets, scales)?;
        fit_columns(&params, scores.view(), Score::NormalizedResidual)
    }

    /// Fits on an n × H array of precomputed calibration scores (finite, ≥ 0) of kind `score`:
    /// r_h = the ⌈(n+1)·level⌉-th smallest score of column h, with level = γ
    /// ([`HorizonCoverage::PerPosition`]) or 1 − (1 − γ)/H ([`HorizonCoverage::Bonferroni`]).
    ///
    /// # Errors
    /// As [`fit`](Self::fit), and negative scores.
    pub fn fit_scores(
        params: impl ParamGuard<Checked = SplitConformalValidParams, Error = ConformalError>,
        scores: ArrayView2<'_, T>,
        score: Score,
    ) -> Result<Self> {
        let params = params.check()?;
        fit_columns(&params, scores, score)
    }

    /// The radii r_1 … r_H.
    pub fn radii(&self) -> ArrayView1<'_, T> {
        self.radii.view()
    }

    /// Consumes the calibration, returning the radii.
    pub fn into_radii(self) -> Array1<T> {
        self.radii
    }

    /// The horizon H.
    pub fn horizon(&self) -> usize {
        self.radii.len()
    }

    /// The score the radii were computed on.
    pub fn score(&self) -> Score {
        self.score
    }

    /// The coverage level γ asked for.
    pub fn coverage(&self) -> f64 {
        self.coverage
    }

    /// Per-position or joint coverage.
    pub fn horizon_coverage(&self) -> HorizonCoverage {
        self.horizon_coverage
    }

    /// The level each position was calibrated at (γ, or 1 − (1 − γ)/H under Bonferroni).
    pub fn position_level(&self) -> f64 {
        self.position_level
    }

    /// Number of calibration windows n.
    pub fn n_calibration(&self) -> usize {
        self.n_calibration
    }

    /// The rank k = ⌈(n+1)·level⌉ of every radius in its column (k > n: radius +∞).
    pub fn rank(&self) -> usize {
        rank_unchecked(self.n_calibration, self.position_level)
    }

    /// Intervals ŷ_h ± r_h for m windows of H predictions (m × H), absolute-residual scores.
    pub fn predict_interval(
        &self,
        predictions: ArrayView2<'_, T>,
    ) -> Result<PredictionIntervals<T, Ix2>> {
        expect_score(self.score, Score::AbsoluteResidual)?;
        check_finite("predictions", &predictions)?;
        self.check_horizon(predictions.ncols())?;
        let half = predictions.mapv(|_| T::zero()) + &self.radii;
        Ok(PredictionIntervals {
            lower: &predictions - &half,
            upper: &predictions + &half,
        })
    }

    /// Intervals ŷ_h ± r_h·σ̂_h for m × H predictions and scales, normalised scores.
    pub fn predict_interval_scaled(
        &self,
        predictions: ArrayView2<'_, T>,
        scales: ArrayView2<'_, T>,
    ) -> Result<PredictionIntervals<T, Ix2>> {
        expect_score(self.score, Score::NormalizedResidual)?;
        check_finite("predictions", &predictions)?;
        self.check_horizon(predictions.ncols())?;
        check_same_shape("scales vs predictions", &predictions, &scales)?;
        check_positive_scales(&scales)?;
        let mut half = scales.to_owned();
        Zip::from(half.rows_mut()).for_each(|mut row| row *= &self.radii);
        Ok(PredictionIntervals {
            lower: &predictions - &half,
            upper: &predictions + &half,
        })
    }

    fn check_horizon(&self, found: usize) -> Result<()> {
        if found == self.horizon() {
            Ok(())
        } else {
            Err(ShapeMismatch::new(
                "horizon of predictions vs calibration",
                self.horizon(),
                found,
            )
            .into())
        }
    }
}

fn intervals<T: Real>(predictions: ArrayView1<'_, T>, radius: T) -> PredictionIntervals<T, Ix1> {
    PredictionIntervals {
        lower: predictions.mapv(|p| p - radius),
        upper: predictions.mapv(|p| p + radius),
    }
}

fn expect_score(calibrated: Score, requested: Score) -> Result<()> {
    if calibrated == requested {
        Ok(())
    } else {
        Err(ConformalError::ScoreMismatch {
            calibrated,
            requested,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fundalloc_core_types::{InvalidParameter, NonFinite, Position};
    use ndarray::{Array2, array};

    /// Brute force: sort the column, take element k − 1.
    fn sorted_quantile(mut column: Vec<f64>, level: f64) -> f64 {
        column.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let k = rank_unchecked(column.len(), level);
        if k > column.len() {
            f64::INFINITY
        } else {
            column[k - 1]
        }
    }

    fn pseudo_random_scores(n: usize, h: usize) -> Array2<f64> {
        // A fixed, irregular pattern (no RNG needed): fractional parts of a Weyl sequence.
        Array2::from_shape_fn((n, h), |(i, j)| {
            ((i * 7 + j * 13) as f64 * 0.618_033_988_749_895).fract() * (1.0 + j as f64)
        })
    }

    #[test]
    fn position_radii_match_brute_force() {
        let scores = pseudo_random_scores(37, 5);
        for level in [0.1, 0.5, 0.8, 0.9, 0.95] {
            let fitted = PositionalConformal::fit_scores(
                SplitConformalParams::new(level).rank_overflow(RankOverflow::Infinite),
                scores.view(),
                Score::AbsoluteResidual,
            )
            .unwrap();
            for h in 0..5 {
                assert_eq!(
                    fitted.radii()[h],
                    sorted_quantile(scores.column(h).to_vec(), level)
                );
            }
            assert_eq!(fitted.rank(), rank_unchecked(37, level));
        }
    }

    #[test]
    fn bonferroni_uses_level_one_minus_alpha_over_h() {
        let scores = pseudo_random_scores(400, 4);
        let joint = PositionalConformal::fit_scores(
            SplitConformalParams::new(0.9).horizon_coverage(HorizonCoverage::Bonferroni),
            scores.view(),
            Score::AbsoluteResidual,
        )
        .unwrap();
        assert!((joint.position_level() - 0.975).abs() < 1e-15);
        let marginal = PositionalConformal::fit_scores(
            SplitConformalParams::new(0.9),
            scores.view(),
            Score::AbsoluteResidual,
        )
        .unwrap();
        for h in 0..4 {
            assert_eq!(
                joint.radii()[h],
                sorted_quantile(scores.column(h).to_vec(), 0.975)
            );
            assert!(joint.radii()[h] >= marginal.radii()[h]);
        }
        // H = 1: Bonferroni is the marginal rule.
        assert_eq!(HorizonCoverage::Bonferroni.position_level(0.9, 1), 0.9);
    }

    #[test]
    fn scalar_calibration_and_intervals() {
        let p = array![0.0f32, 0.0, 0.0, 0.0, 0.0];
        let y = array![1.0f32, -2.0, 3.0, -4.0, 5.0];
        // n = 5, γ = 0.5: k = 3 → radius 3.
        let fitted =
            SplitConformal::fit(SplitConformalParams::new(0.5), p.view(), y.view()).unwrap();
        assert_eq!(fitted.radius(), 3.0f32);
        assert_eq!(fitted.rank(), 3);
        assert_eq!(fitted.n_calibration(), 5);
        let iv = fitted.predict_interval(array![1.0f32, 2.0].view()).unwrap();
        assert_eq!(iv.lower, array![-2.0f32, -1.0]);
        assert_eq!(iv.upper, array![4.0f32, 5.0]);
        assert_eq!(iv.widths(), array![6.0f32, 6.0]);
        // Normalised: scales 2 everywhere → scores halved, intervals the same.
        let s = Array1::from_elem(5, 2.0f32);
        let normed = SplitConformal::fit_normalized(
            SplitConformalParams::new(0.5),
            p.view(),
            y.view(),
            s.view(),
        )
        .unwrap();
        assert_eq!(normed.radius(), 1.5);
        let iv2 = normed
            .predict_interval_scaled(array![1.0f32, 2.0].view(), array![2.0f32, 2.0].view())
            .unwrap();
        assert_eq!(iv2, iv);
    }

    #[test]
    fn positional_intervals() {
        let preds = array![[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]];
        let targets = array![[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]];
        let fitted =
            PositionalConformal::fit(SplitConformalParams::new(0.5), preds.view(), targets.view())
                .unwrap();
        assert_eq!(fitted.radii(), array![2.0, 20.0]); // k = ⌈4 · 0.5⌉ = 2
        let iv = fitted
            .predict_interval(array![[1.0, 1.0], [5.0, 5.0]].view())
            .unwrap();
        assert_eq!(iv.lower, array![[-1.0, -19.0], [3.0, -15.0]]);
        assert_eq!(iv.upper, array![[3.0, 21.0], [7.0, 25.0]]);
        let normed = PositionalConformal::fit_normalized(
            SplitConformalParams::new(0.5),
            preds.view(),
            targets.view(),
            array![[1.0, 10.0], [1.0, 10.0], [1.0, 10.0]].view(),
        )
        .unwrap();
        assert_eq!(normed.radii(), array![2.0, 2.0]);
        let iv2 = normed
            .predict_interval_scaled(
                array![[1.0, 1.0], [5.0, 5.0]].view(),
                array![[1.0, 10.0], [1.0, 10.0]].view(),
            )
            .unwrap();
        assert_eq!(iv2, iv);
    }

    #[test]
    fn typed_errors() {
        let params = SplitConformalParams::new(0.9).check().unwrap();
        // n too small for γ: ⌈9 · 0.9⌉ = 9 > 8.
        let p = Array1::<f64>::zeros(8);
        let y = Array1::<f64>::ones(8);
        assert_eq!(
            SplitConformal::fit(params, p.view(), y.view()),
            Err(ConformalError::TooFewScores {
                n: 8,
                level: 0.9,
                rank: 9,
                needed: 9
            })
        );
        let inf = SplitConformal::fit(
            SplitConformalParams::new(0.9).rank_overflow(RankOverflow::Infinite),
            p.view(),
            y.view(),
        )
        .unwrap();
        assert!(inf.radius().is_infinite());
        let iv = inf.predict_interval(array![0.0].view()).unwrap();
        assert!(iv.lower[0] == f64::NEG_INFINITY && iv.upper[0] == f64::INFINITY);
        // γ outside (0, 1).
        for bad in [0.0, 1.0, -1.0, 2.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                SplitConformalParams::new(bad).check(),
                Err(ConformalError::InvalidParameter(InvalidParameter {
                    name: "coverage",
                    ..
                }))
            ));
        }
        // NaN scores and targets.
        assert!(matches!(
            SplitConformal::fit_scores(params, array![1.0, f64::NAN].view(), Score::AbsoluteResidual),
            Err(e @ ConformalError::NonFinite(_)) if e.row() == Some(1)
        ));
        assert!(matches!(
            PositionalConformal::fit_scores(
                params,
                array![[1.0, 2.0], [3.0, f64::NAN]].view(),
                Score::AbsoluteResidual
            ),
            Err(ConformalError::NonFinite(NonFinite {
                at: Position::Cell { row: 1, col: 1 },
                ..
            }))
        ));
        assert!(matches!(
            SplitConformal::fit_scores(params, array![1.0, -1.0].view(), Score::AbsoluteResidual),
            Err(e @ ConformalError::OutOfDomain { .. }) if e.row() == Some(1)
        ));
        // Length / shape mismatches.
        assert!(matches!(
            SplitConformal::fit(params, array![1.0, 2.0].view(), array![1.0].view()),
            Err(ConformalError::ShapeMismatch(_))
        ));
        assert!(matches!(
            PositionalConformal::fit(
                params,
                Array2::<f64>::zeros((20, 3)).view(),
                Array2::<f64>::zeros((20, 2)).view()
            ),
            Err(ConformalError::ShapeMismatch(_))
        ));
        let fitted = PositionalConformal::fit(
            params,
            Array2::<f64>::zeros((20, 3)).view(),
            Array2::<f64>::ones((20, 3)).view(),
        )
        .unwrap();
        assert!(matches!(
            fitted.predict_interval(Array2::<f64>::zeros((2, 4)).view()),
            Err(ConformalError::ShapeMismatch(_))
        ));
        assert!(matches!(
            fitted.predict_interval_scaled(
                Array2::<f64>::zeros((2, 3)).view(),
                Array2::<f64>::ones((2, 3)).view()
            ),
            Err(ConformalError::ScoreMismatch { .. })
        ));
        let scalar = SplitConformal::fit_normalized(
            params,
            Array1::<f64>::zeros(20).view(),
            Array1::<f64>::ones(20).view(),
            Array1::<f64>::ones(20).view(),
        )
        .unwrap();
        assert!(matches!(
            scalar.predict_interval(array![1.0].view()),
            Err(ConformalError::ScoreMismatch { .. })
        ));
        assert!(matches!(
            scalar.predict_interval_scaled(array![1.0].view(), array![0.0].view()),
            Err(ConformalError::OutOfDomain { .. })
        ));
        assert!(matches!(
            scalar.predict_interval_scaled(array![1.0].view(), array![1.0, 2.0].view()),
            Err(ConformalError::ShapeMismatch(_))
        ));
        // NaN predictions at prediction time.
        assert!(matches!(
            fitted.predict_interval(array![[0.0, f64::NAN, 0.0]].view()),
            Err(ConformalError::NonFinite(NonFinite {
                what: "predictions",
                at: Position::Cell { row: 0, col: 1 },
                ..
            }))
        ));
        assert!(matches!(
            inf.predict_interval(array![f64::INFINITY].view()),
            Err(e @ ConformalError::NonFinite(_)) if e.row() == Some(0)
        ));
        // Empty inputs.
        assert!(matches!(
            SplitConformal::fit_scores(
                params,
                Array1::<f64>::zeros(0).view(),
                Score::AbsoluteResidual
            ),
            Err(ConformalError::Empty(_))
        ));
        assert!(matches!(
            PositionalConformal::fit_scores(
                params,
                Array2::<f64>::zeros((0, 3)).view(),
                Score::AbsoluteResidual
            ),
            Err(ConformalError::Empty(_))
        ));
        assert!(matches!(
            PositionalConformal::fit_scores(
                params,
                Array2::<f64>::zeros((5, 0)).view(),
                Score::AbsoluteResidual
            ),
            Err(ConformalError::Empty(_))
        ));
    }

    #[test]
    fn every_float_parameter_refuses_nan_infinities_and_its_domain_ends() {
        type Case = (&'static str, fn(f64) -> Result<()>);
        let cases: [Case; 5] = [
            ("coverage", |v| {
                SplitConformalParams::new(v).check().map(drop)
            }),
            ("coverage", |v| crate::AciParams::new(v).check().map(drop)),
            ("step_size", |v| {
                crate::AciParams::new(0.9).step_size(v).check().map(drop)
            }),
            ("alpha_bounds", |v| {
                crate::AciParams::new(0.9)
                    .alpha_bounds(v, 1.0)
                    .check()
                    .map(drop)
            }),
            ("alpha_bounds", |v| {
                crate::AciParams::new(0.9)
                    .alpha_bounds(0.0, v)
                    .check()
                    .map(drop)
            }),
        ];
        for (name, build) in cases {
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                if name == "alpha_bounds" && bad.is_infinite() {
                    continue; // infinite clip bounds are allowed (they disable clipping)
                }
                match build(bad) {
                    Err(ConformalError::InvalidParameter(e)) => assert_eq!(e.name, name),
                    other => panic!("{name} = {bad}: {other:?}"),
                }
            }
        }
        assert!(SplitConformalParams::new(0.1).coverage(0.5).check().is_ok());
        assert!(
            SplitConformalParams::new(0.9)
                .coverage(1.0)
                .check()
                .is_err()
        );
    }
}
