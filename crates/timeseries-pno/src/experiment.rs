//! Evaluation (regret, relative regret, MSE/MAE, coverage) and the full Table-1 experiment;
//! the same for a panel of assets ([`evaluate_multi_asset`], [`run_multi_asset_experiment`]).

use burn::tensor::Device;
use fundalloc_core_types::{CancelToken, Observer, ParamGuard, Segment, ShapeMismatch};
use ndarray::{Array1, Axis};

use crate::data::WindowDataset;
use crate::decision::{DecisionRule, allocate, radii_coverage};
use crate::error::{PnoError, Result};
use crate::forecast::{Forecaster, ForecasterParams, predict};
use crate::multi_asset::MultiAssetDataset;
use crate::solver::RiskConstraint;
use crate::train::{EpochReport, Method, Trained, ValidTrainParams, fit, fit_multi_asset};

/// Test-set metrics of one method.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MethodResult {
    /// The method's name as in the paper's Table 1.
    pub method: String,
    /// Mean over test windows of `a·y − min_h y_h` (price units).
    pub regret: f64,
    /// Mean over test windows of `(a·y − min_h y_h) / min_h y_h`.
    pub relative_regret: f64,
    /// Forecast MSE on the test windows (standardised units, as the paper's Table 5).
    pub mse: f64,
    /// Forecast MAE on the test windows (standardised units).
    pub mae: f64,
    /// Share of test entries with `|ŷ_h − y_h| ≤ r_h`.
    pub coverage: f64,
}

/// Evaluates `rule` with a trained model, its radii (standardised units) and its risk set on
/// the test windows of `data`. Regret is computed on inverse-transformed prices.
///
/// # Errors
/// Invalid parameters, or a `k` of a top-k rule larger than H.
pub fn evaluate<F: Forecaster>(
    method: impl Into<String>,
    trained: &Trained<F>,
    rule: DecisionRule,
    data: &WindowDataset,
    params: impl ParamGuard<Checked = ValidTrainParams, Error = PnoError>,
    device: &Device,
) -> Result<MethodResult> {
    let params = params.check()?;
    let (model, radii, constraint) = (trained.model(), trained.radii(), trained.constraint());
    let pred = predict(
        model,
        data.test().inputs().view(),
        params.eval_batch_size(),
        device,
    )?;
    let raw_pred = data.inverse(&pred);
    // Radii are widths: they scale by std only. The risk set is scale-invariant (r̄ scales too).
    let raw_radii = radii * data.series().scaler().std();
    let alloc = allocate(rule, raw_pred.view(), raw_radii.view(), constraint)?;
    let summary = fundalloc_metrics::mean_regret(alloc.view(), data.test().raw_targets().view())?;
    let flat_true: Vec<f64> = data.test().targets().iter().copied().collect();
    let flat_pred: Vec<f64> = pred.iter().copied().collect();
    Ok(MethodResult {
        method: method.into(),
        regret: summary.mean_regret,
        relative_regret: summary.mean_relative_regret,
        mse: fundalloc_metrics::mse(&flat_true, &flat_pred)?,
        mae: fundalloc_metrics::mae(&flat_true, &flat_pred)?,
        coverage: radii_coverage(pred.view(), data.test().targets().view(), radii.view())?,
    })
}

/// Everything [`run_experiment`] trained and measured.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExperimentReport<M> {
    /// The forecaster's name.
    pub model: String,
    /// One row per method: Forecasting-Only Top-1/Top-5, Risk-Avoiding Top-1/Top-5, RTS-PtO,
    /// RTS-PnO (fixed), RTS-PnO (adaptive).
    pub rows: Vec<MethodResult>,
    /// The MSE-trained model (baselines and PtO).
    pub pto: Trained<M>,
    /// PnO with PtO's fixed risk set.
    pub pno_fixed: Trained<M>,
    /// PnO with the adaptive risk set.
    pub pno_adaptive: Trained<M>,
}

/// The three trainings of an experiment, in order: PtO, PnO with PtO's fixed risk set, PnO
/// with the adaptive one (`fit_one` trains one method).
fn fit_three<M>(
    mut fit_one: impl FnMut(&Method) -> Result<Trained<M>>,
) -> Result<(Trained<M>, Trained<M>, Trained<M>)> {
    let pto = fit_one(&Method::Pto)?;
    let pno_fixed = fit_one(&Method::PnoFixed(pto.constraint().clone()))?;
    let pno_adaptive = fit_one(&Method::PnoAdaptive)?;
    Ok((pto, pno_fixed, pno_adaptive))
}

/// Trains PtO, fixed PnO (with PtO's risk set) and adaptive PnO with `config` and evaluates
/// all seven methods.
///
/// # Errors
/// As [`fit`] (including [`PnoError::Cancelled`]: `cancel` is checked before every
/// mini-batch of the three runs) and [`evaluate`].
pub fn run_experiment<C: ForecasterParams>(
    config: &C,
    data: &WindowDataset,
    params: impl ParamGuard<Checked = ValidTrainParams, Error = PnoError>,
    device: &Device,
    cancel: &CancelToken,
    observer: &mut impl Observer<EpochReport>,
) -> Result<ExperimentReport<C::Model>> {
    let params = params.check()?;
    let (pto, pno_fixed, pno_adaptive) = fit_three(|method| {
        fit(
            config,
            data,
            method,
            params.clone(),
            device,
            cancel,
            observer,
        )
    })?;
    let mut rows = Vec::new();
    for (name, rule) in [
        ("Forecasting-Only Top-1", DecisionRule::ForecastTopK(1)),
        ("Forecasting-Only Top-5", DecisionRule::ForecastTopK(5)),
        ("Risk-Avoiding Top-1", DecisionRule::RiskAvoidTopK(1)),
        ("Risk-Avoiding Top-5", DecisionRule::RiskAvoidTopK(5)),
        ("RTS-PtO", DecisionRule::RiskAware),
    ] {
        let k_ok = match rule {
            DecisionRule::ForecastTopK(k) | DecisionRule::RiskAvoidTopK(k) => {
                k <= data.spec().horizon()
            }
            _ => true,
        };
        if k_ok {
            rows.push(evaluate(name, &pto, rule, data, params.clone(), device)?);
        }
    }
    for (name, trained) in [
        ("RTS-PnO (fixed)", &pno_fixed),
        ("RTS-PnO (adaptive)", &pno_adaptive),
    ] {
        rows.push(evaluate(
            name,
            trained,
            DecisionRule::RiskAware,
            data,
            params.clone(),
            device,
        )?);
    }
    Ok(ExperimentReport {
        model: config.name().to_string(),
        rows,
        pto,
        pno_fixed,
        pno_adaptive,
    })
}

/// Test-set metrics of one method on a panel of A assets: the joint decision over the H·A
/// cells next to the same model's decision restricted to one asset at a time.
///
/// Prices are the normalised `p̃_{h,j} = p_{h,j}/μ_j` (μ_j: asset j's training-rows mean), so
/// a regret of 0.01 is 1 % of an asset's training-mean price. Every regret is measured against
/// the same hindsight optimum, the cheapest of the window's H·A cells, so the regrets of the
/// joint and the single-asset decisions are differences of realised costs and compare directly.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MultiAssetResult {
    /// The method's name.
    pub method: String,
    /// Mean over test windows of `Σ a·p̃ − min_{h,j} p̃` of the joint risk-aware decision.
    pub joint_regret: f64,
    /// Mean over test windows of `(Σ a·p̃ − min p̃) / min p̃` of the joint decision.
    pub joint_relative_regret: f64,
    /// Per asset j: the mean regret of the risk-aware decision over asset j's H cells alone,
    /// with asset j's radii and the same budget `r̄`; `None` where that is infeasible
    /// (`r̄ < min_h r_{h,j}`).
    pub single_regret: Vec<Option<f64>>,
    /// Mean over test windows of the better feasible single-asset decision of each window
    /// (chosen in hindsight, window by window: an optimistic baseline); `None` if no asset
    /// is feasible alone.
    pub best_single_per_window: Option<f64>,
    /// The asset whose single-asset decision has the lowest mean regret (chosen in hindsight
    /// once for the whole test set) and that regret.
    pub best_single_on_average: Option<(usize, f64)>,
    /// Share of test windows where the joint decision costs at most the better single-asset
    /// decision of that window.
    pub joint_win_rate: Option<f64>,
    /// Mean share of the budget the joint decision puts on each asset.
    pub asset_share: Vec<f64>,
    /// Forecast MSE over all test rows (standardised per asset).
    pub mse: f64,
    /// Forecast MAE over all test rows (standardised per asset).
    pub mae: f64,
    /// Share of test cells with `|ĉ − c| ≤ r` (cost units).
    pub coverage: f64,
}

/// Evaluates a model trained by [`fit_multi_asset`] on the test windows of `data`: the joint
/// decision on the flattened cells with the model's radii and risk set, and each asset alone
/// with the same radii and budget (see [`MultiAssetResult`]).
///
/// # Errors
/// Invalid parameters; [`PnoError::ShapeMismatch`] when the model's radii do not have the
/// panel's H·A cells (a model trained on another panel).
pub fn evaluate_multi_asset<F: Forecaster>(
    method: impl Into<String>,
    trained: &Trained<F>,
    data: &MultiAssetDataset,
    params: impl ParamGuard<Checked = ValidTrainParams, Error = PnoError>,
    device: &Device,
) -> Result<MultiAssetResult> {
    let params = params.check()?;
    let (a, h) = (data.assets(), data.spec().horizon());
    let radii = trained.radii();
    if radii.len() != h * a {
        return Err(PnoError::from(ShapeMismatch::new(
            "radii of the model vs the panel's H·A cells",
            h * a,
            radii.len(),
        )));
    }
    let constraint = trained.constraint();
    let test = data.test();
    let pred = predict(
        trained.model(),
        test.inputs().view(),
        params.eval_batch_size(),
        device,
    )?;
    let pred_cells = data.to_cells(pred.view())?;
    let truth_cells = data.to_cells(test.targets().view())?;
    let prices = data.normalised_targets(Segment::Test);
    let n = prices.nrows();
    let best = prices.map_axis(Axis(1), |row| {
        row.iter().copied().fold(f64::INFINITY, f64::min)
    });
    let joint = constraint.solve_batch(pred_cells.view())?;
    let joint_cost = (&joint * &prices).sum_axis(Axis(1));
    let joint_regret = &joint_cost - &best;
    let mut single_cost: Vec<Option<Array1<f64>>> = Vec::with_capacity(a);
    for j in 0..a {
        let cols: Vec<usize> = (0..h).map(|step| step * a + j).collect();
        let r: Vec<f64> = cols.iter().map(|&c| radii[c]).collect();
        match RiskConstraint::new(&r, constraint.budget()) {
            Ok(alone) => {
                let alloc = alone.solve_batch(pred_cells.select(Axis(1), &cols).view())?;
                single_cost.push(Some(
                    (&alloc * &prices.select(Axis(1), &cols)).sum_axis(Axis(1)),
                ));
            }
            Err(PnoError::Infeasible { .. }) => single_cost.push(None),
            Err(e) => return Err(e),
        }
    }
    let mean = |v: &Array1<f64>| v.mean().unwrap_or(f64::NAN);
    let single_regret: Vec<Option<f64>> = single_cost
        .iter()
        .map(|c| c.as_ref().map(|c| mean(&(c - &best))))
        .collect();
    let feasible: Vec<&Array1<f64>> = single_cost.iter().flatten().collect();
    let (best_single_per_window, joint_win_rate) = if feasible.is_empty() {
        (None, None)
    } else {
        let per_window = Array1::from_shape_fn(n, |i| {
            feasible.iter().map(|c| c[i]).fold(f64::INFINITY, f64::min)
        });
        let wins = (0..n)
            .filter(|&i| joint_cost[i] <= per_window[i] + 1e-12)
            .count();
        (
            Some(mean(&(&per_window - &best))),
            Some(wins as f64 / n.max(1) as f64),
        )
    };
    let best_single_on_average = single_regret
        .iter()
        .enumerate()
        .filter_map(|(j, r)| r.map(|r| (j, r)))
        .min_by(|x, y| x.1.total_cmp(&y.1));
    let mut asset_share = vec![0.0; a];
    for (cell, col) in joint.axis_iter(Axis(1)).enumerate() {
        asset_share[cell % a] += col.sum() / n.max(1) as f64;
    }
    let flat_true: Vec<f64> = test.targets().iter().copied().collect();
    let flat_pred: Vec<f64> = pred.iter().copied().collect();
    Ok(MultiAssetResult {
        method: method.into(),
        joint_regret: mean(&joint_regret),
        joint_relative_regret: mean(&(&joint_regret / &best)),
        single_regret,
        best_single_per_window,
        best_single_on_average,
        joint_win_rate,
        asset_share,
        mse: fundalloc_metrics::mse(&flat_true, &flat_pred)?,
        mae: fundalloc_metrics::mae(&flat_true, &flat_pred)?,
        coverage: radii_coverage(pred_cells.view(), truth_cells.view(), radii.view())?,
    })
}

/// Everything [`run_multi_asset_experiment`] trained and measured.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MultiAssetReport<M> {
    /// The forecaster's name.
    pub model: String,
    /// One row per method: RTS-PtO, RTS-PnO (fixed: PtO's risk set), RTS-PnO (adaptive).
    pub rows: Vec<MultiAssetResult>,
    /// The MSE-trained model.
    pub pto: Trained<M>,
    /// PnO with PtO's fixed risk set.
    pub pno_fixed: Trained<M>,
    /// PnO with the adaptive risk set.
    pub pno_adaptive: Trained<M>,
}

/// Trains PtO, fixed PnO (with PtO's flattened risk set) and adaptive PnO jointly on the panel
/// with [`fit_multi_asset`] and evaluates each with [`evaluate_multi_asset`]. `cancel` stops
/// the training between mini-batches.
///
/// # Errors
/// As [`fit_multi_asset`] and [`evaluate_multi_asset`].
pub fn run_multi_asset_experiment<C: ForecasterParams>(
    config: &C,
    data: &MultiAssetDataset,
    params: impl ParamGuard<Checked = ValidTrainParams, Error = PnoError>,
    device: &Device,
    cancel: &CancelToken,
    observer: &mut impl Observer<EpochReport>,
) -> Result<MultiAssetReport<C::Model>> {
    let params = params.check()?;
    let (pto, pno_fixed, pno_adaptive) = fit_three(|method| {
        fit_multi_asset(
            config,
            data,
            method,
            params.clone(),
            device,
            cancel,
            observer,
        )
    })?;
    let mut rows = Vec::new();
    for (name, trained) in [
        ("RTS-PtO", &pto),
        ("RTS-PnO (fixed)", &pno_fixed),
        ("RTS-PnO (adaptive)", &pno_adaptive),
    ] {
        rows.push(evaluate_multi_asset(
            name,
            trained,
            data,
            params.clone(),
            device,
        )?);
    }
    Ok(MultiAssetReport {
        model: config.name().to_string(),
        rows,
        pto,
        pno_fixed,
        pno_adaptive,
    })
}
