//! Evaluation (regret, relative regret, MSE/MAE, coverage) and the full Table-1 experiment.

use burn::tensor::Device;
use fundalloc_core_types::{Observer, ParamGuard};

use crate::data::WindowDataset;
use crate::decision::{DecisionRule, allocate, radii_coverage};
use crate::error::{PnoError, Result};
use crate::forecast::{Forecaster, ForecasterParams, predict};
use crate::train::{EpochReport, Method, Trained, ValidTrainParams, fit};

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

/// Trains PtO, fixed PnO (with PtO's risk set) and adaptive PnO with `config` and evaluates
/// all seven methods.
///
/// # Errors
/// As [`fit`] and [`evaluate`].
pub fn run_experiment<C: ForecasterParams>(
    config: &C,
    data: &WindowDataset,
    params: impl ParamGuard<Checked = ValidTrainParams, Error = PnoError>,
    device: &Device,
    observer: &mut impl Observer<EpochReport>,
) -> Result<ExperimentReport<C::Model>> {
    let params = params.check()?;
    let pto = fit(config, data, &Method::Pto, params.clone(), device, observer)?;
    let fixed = Method::PnoFixed(pto.constraint().clone());
    let pno_fixed = fit(config, data, &fixed, params.clone(), device, observer)?;
    let pno_adaptive = fit(
        config,
        data,
        &Method::PnoAdaptive,
        params.clone(),
        device,
        observer,
    )?;
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
