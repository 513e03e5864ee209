//! RTS-PtO (Algorithm 2) and RTS-PnO (Algorithm 3): one training entry point, [`fit`], over
//! any [`Forecaster`], with the [`Method`] picking the loop.
//!
//! Both loops are hand-written on burn's autodiff and Adam. They see the model only through
//! [`ForecasterParams`] / [`Forecaster`], so they are model-agnostic.
//!
//! * **PtO** minimises the MSE (Eq. 3). After every epoch it recomputes the radii `r` on the
//!   calibration (validation) windows with Algorithm 1 and keeps the epoch with the lowest
//!   validation MSE; its final `r` and `r̄` (Eq. 11) define the fixed risk set of Eq. 6–7.
//! * **PnO** minimises SPO+ + β·MSE (Eq. 13–14) over the risk set `A'(r_t)`. With
//!   [`Method::PnoAdaptive`] the radii and `r̄` are recalibrated from the *current* model
//!   after every epoch (the initial set comes from the freshly initialised model), as the paper
//!   describes; with [`Method::PnoFixed`] a given set (PtO's, say) is used throughout (the
//!   ablation of Table 4). The epoch with the lowest validation regret is kept, together with
//!   the set it was evaluated with.
//!
//! # SPO+ in burn's autodiff
//!
//! SPO+ needs an LP solve per window, which is not a tensor operation. Instead of a custom
//! backward op, the loop uses the surrogate `L = (1/B) Σ_b ŷ_b · stopgrad(g_b)` with the
//! closed-form subgradient `g_b = 2(a*(y_b) − a*(2ŷ_b − y_b))` computed outside the graph (exact
//! solver, in parallel): `∂L/∂ŷ_b = g_b / B`, exactly the SPO+ subgradient of the batch mean, and
//! the SPO+ *value* is reported separately. Both routes give the same parameter update.
//!
//! # Several assets
//!
//! [`fit_multi_asset`] runs the same loops on a [`MultiAssetDataset`]: a window is A rows of the
//! batch (the forecasters are channel-independent), the MSE is over all rows, and every
//! decision-side step (SPO+, the radii of Algorithm 1, the validation regret) works on the
//! window's H·A cost cells (`multi_asset` module doc), with the chain rule through the
//! per-asset cost scale. A single series is the case A = 1 with scale 1, so [`fit`] and
//! [`fit_multi_asset`] on a one-asset panel train the same model.

mod params;
mod report;

pub use params::{TrainParams, ValidTrainParams};
pub use report::{EpochReport, Phase, Trained};

use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor};
use fundalloc_core_types::{
    CancelToken, InvalidParameter, Observer, ParamGuard, ShapeMismatch, WindowSpec,
};
use ndarray::{Array1, Array2, Axis};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::data::{SegmentData, WindowDataset};
use crate::decision::{DecisionRule, allocate, conformal_radii};
use crate::error::{PnoError, Result};
use crate::forecast::{Forecaster, ForecasterParams, predict, to_array, to_tensor};
use crate::multi_asset::{Cells, MultiAssetDataset};
use crate::solver::RiskConstraint;
use crate::spo::spo_plus_batch;

/// Which framework [`fit`] trains, and for PnO which risk set it trains against.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Method {
    /// RTS-PtO (Algorithm 2): MSE training; the radii and `r̄` of the selected epoch define a
    /// fixed risk set. The epoch with the lowest validation MSE is kept.
    Pto,
    /// RTS-PnO (Algorithm 3) against this risk set for the whole run (PtO's, say: the ablation
    /// of Table 4). The epoch with the lowest validation regret is kept.
    PnoFixed(RiskConstraint),
    /// RTS-PnO (Algorithm 3), recalibrating `r` (Algorithm 1) and `r̄` (Eq. 11) from the
    /// current model after every epoch. The epoch with the lowest validation regret is kept.
    PnoAdaptive,
}

impl Method {
    /// The [`Phase`] its epoch reports carry.
    pub fn phase(&self) -> Phase {
        match self {
            Method::Pto => Phase::Pto,
            Method::PnoFixed(_) => Phase::PnoFixed,
            Method::PnoAdaptive => Phase::PnoAdaptive,
        }
    }
}

/// Algorithm 1 for a model: radii on the calibration windows and `r̄` = α-quantile of `r`.
///
/// # Errors
/// Invalid parameters, or too few calibration windows for the coverage γ.
pub fn calibrate<F: Forecaster>(
    model: &F,
    calibration: &SegmentData,
    params: impl ParamGuard<Checked = ValidTrainParams, Error = PnoError>,
    device: &Device,
) -> Result<(Array1<f64>, RiskConstraint)> {
    calibrate_checked(
        model,
        calibration,
        &Cells::single(),
        &params.check()?,
        device,
    )
}

/// Algorithm 1 on the decision cells (per asset and step): the radii (length H·A, cost units)
/// and `r̄` = their α-quantile.
fn calibrate_checked<F: Forecaster>(
    model: &F,
    calibration: &SegmentData,
    cells: &Cells,
    params: &ValidTrainParams,
    device: &Device,
) -> Result<(Array1<f64>, RiskConstraint)> {
    let pred = predict(
        model,
        calibration.inputs().view(),
        params.eval_batch_size(),
        device,
    )?;
    let pred = cells.to_cells(pred.view())?;
    let truth = cells.to_cells(calibration.targets().view())?;
    let radii = conformal_radii(pred.view(), truth.view(), params.coverage())?;
    let constraint =
        RiskConstraint::from_quantile(radii.as_slice().unwrap_or(&radii.to_vec()), params.alpha())?;
    Ok((radii, constraint))
}

/// Mean regret of the risk-aware decision on a segment (cost units: standardised prices for
/// one series; used for model selection, where only the ranking of epochs matters) and the
/// forecast MSE (standardised).
fn segment_regret<F: Forecaster>(
    model: &F,
    segment: &SegmentData,
    cells: &Cells,
    radii: &Array1<f64>,
    constraint: &RiskConstraint,
    params: &ValidTrainParams,
    device: &Device,
) -> Result<(f64, f64)> {
    let pred = predict(
        model,
        segment.inputs().view(),
        params.eval_batch_size(),
        device,
    )?;
    let pred_cells = cells.to_cells(pred.view())?;
    let truth_cells = cells.to_cells(segment.targets().view())?;
    let a = allocate(
        DecisionRule::RiskAware,
        pred_cells.view(),
        radii.view(),
        constraint,
    )?;
    let cost = (&a * &truth_cells).sum_axis(Axis(1));
    let best = truth_cells.map_axis(Axis(1), |row| {
        row.iter().copied().fold(f64::INFINITY, f64::min)
    });
    let regret = (cost - best).mean().unwrap_or(f64::NAN);
    let mse = (&pred - segment.targets())
        .mapv(|d| d * d)
        .mean()
        .unwrap_or(f64::NAN);
    Ok((regret, mse))
}

/// The best epoch so far: (score, model, radii, risk set, epoch).
type Best<M> = Option<(f64, M, Array1<f64>, RiskConstraint, usize)>;

/// Which loss an epoch minimises.
enum Objective<'a> {
    Mse,
    Pno {
        constraint: &'a RiskConstraint,
        beta: f64,
    },
}

/// One pass over the shuffled training windows; returns the mean training loss
/// (MSE, or SPO+ + β·MSE with the true SPO+ value).
#[allow(clippy::too_many_arguments)] // private; the loop state is clearer spelled out
fn run_epoch<F: Forecaster>(
    mut model: F,
    optimizer: &mut burn::optim::ModuleOptimizer,
    objective: &Objective<'_>,
    train: &SegmentData,
    cells: &Cells,
    params: &ValidTrainParams,
    epoch: usize,
    device: &Device,
    cancel: &CancelToken,
    observer: &mut dyn Observer<EpochReport>,
) -> Result<(F, f64)> {
    let mut order: Vec<usize> = (0..cells.windows(train.len())?).collect();
    let mut rng = StdRng::seed_from_u64(params.seed() ^ (epoch as u64).wrapping_mul(0x9E37_79B9));
    order.shuffle(&mut rng);
    let batches: Vec<&[usize]> = order.chunks(params.batch_size()).collect();
    let mut total = 0.0;
    for (b, windows) in batches.iter().enumerate() {
        cancel.check()?;
        let rows = cells.rows_of(windows);
        let x = train.inputs().select(Axis(0), &rows);
        let y = train.targets().select(Axis(0), &rows);
        let pred = model.forward(to_tensor(x.view(), device));
        let target = to_tensor(y.view(), device);
        let mse = (pred.clone() - target).square().mean();
        let (loss, value) = match objective {
            Objective::Mse => {
                let value = f64::from(mse.clone().into_scalar::<f32>());
                (mse, value)
            }
            Objective::Pno { constraint, beta } => {
                let pred_values: Array2<f64> = to_array(pred.clone().detach())?;
                let pred_cells = cells.to_cells(pred_values.view())?;
                let truth_cells = cells.to_cells(y.view())?;
                let (spo, grads) =
                    spo_plus_batch(constraint, pred_cells.view(), truth_cells.view())?;
                // ∂ℓ/∂z = scale_j·∂ℓ/∂c (scale 1 for one series), averaged over the windows.
                let scaled = cells.cells_to_rows(grads.view())? / windows.len() as f64;
                let g: Tensor<2> = to_tensor(scaled.view(), device);
                let surrogate = (pred * g).sum();
                let mse_value = f64::from(mse.clone().into_scalar::<f32>());
                let loss = surrogate + mse.mul_scalar(*beta);
                (loss, spo.mean().unwrap_or(0.0) + beta * mse_value)
            }
        };
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(params.learning_rate(), model, grads);
        total += value;
        observer.on_step(epoch, b + 1, batches.len());
    }
    Ok((model, total / batches.len().max(1) as f64))
}

/// Trains `model` on `data` with `method` (RTS-PtO, or RTS-PnO with a fixed or adaptive risk
/// set) and returns the selected epoch's model with its radii and risk set.
///
/// `device` picks the backend (`Device::flex()` for pure-Rust CPU); autodiff is enabled here.
/// The observer sees every mini-batch (`on_step`) and every epoch's [`EpochReport`]
/// (`on_epoch`). `cancel` is checked before every mini-batch.
///
/// # Errors
/// Invalid model or training parameters, too few calibration windows for γ, a numerical
/// failure (non-finite forecasts), or [`PnoError::Cancelled`] once `cancel` is cancelled or past
/// its deadline.
pub fn fit<C: ForecasterParams>(
    model: &C,
    data: &WindowDataset,
    method: &Method,
    params: impl ParamGuard<Checked = ValidTrainParams, Error = PnoError>,
    device: &Device,
    cancel: &CancelToken,
    observer: &mut impl Observer<EpochReport>,
) -> Result<Trained<C::Model>> {
    let cells = Cells::single();
    let view = TrainView {
        spec: data.spec(),
        train: data.train(),
        validation: data.validation(),
        cells: &cells,
    };
    fit_view(
        model,
        &view,
        method,
        &params.check()?,
        device,
        cancel,
        observer,
    )
}

/// [`fit`] on a panel of A assets: the forecaster is trained on all A series at once
/// (channel-independent, A rows per window), and the decisions, SPO+ and the radii live on the
/// H·A flattened cells of [`MultiAssetProblem`](crate::MultiAssetProblem) (index `h·A + j`).
/// The returned radii have length H·A (cost units, see the `multi_asset` module doc) and the
/// risk set is the flattened one. A one-asset panel gives exactly [`fit`]'s result. `cancel`
/// is checked before every mini-batch.
///
/// # Errors
/// As [`fit`]; [`PnoError::ShapeMismatch`] when a [`Method::PnoFixed`] set does not have H·A
/// cells; [`PnoError::Cancelled`] once `cancel` is cancelled or past its deadline.
pub fn fit_multi_asset<C: ForecasterParams>(
    model: &C,
    data: &MultiAssetDataset,
    method: &Method,
    params: impl ParamGuard<Checked = ValidTrainParams, Error = PnoError>,
    device: &Device,
    cancel: &CancelToken,
    observer: &mut impl Observer<EpochReport>,
) -> Result<Trained<C::Model>> {
    let view = TrainView {
        spec: data.spec(),
        train: data.train(),
        validation: data.validation(),
        cells: data.cells(),
    };
    fit_view(
        model,
        &view,
        method,
        &params.check()?,
        device,
        cancel,
        observer,
    )
}

/// What the loops train on: the window segments and how a window's rows map to cells.
struct TrainView<'a> {
    spec: WindowSpec,
    train: &'a SegmentData,
    validation: &'a SegmentData,
    cells: &'a Cells,
}

fn fit_view<C: ForecasterParams>(
    model: &C,
    view: &TrainView<'_>,
    method: &Method,
    params: &ValidTrainParams,
    device: &Device,
    cancel: &CancelToken,
    observer: &mut dyn Observer<EpochReport>,
) -> Result<Trained<C::Model>> {
    match method {
        Method::Pto => fit_pto(model, view, params, device, cancel, observer),
        Method::PnoFixed(set) => {
            let cells = view.spec.horizon() * view.cells.assets();
            if set.risk().len() != cells {
                return Err(PnoError::from(ShapeMismatch::new(
                    "fixed risk set cells (H·A)",
                    cells,
                    set.risk().len(),
                )));
            }
            fit_pno(model, view, params, Some(set), device, cancel, observer)
        }
        Method::PnoAdaptive => fit_pno(model, view, params, None, device, cancel, observer),
    }
}

/// RTS-PtO (Algorithm 2): MSE training, radii from the calibration windows, fixed risk set.
fn fit_pto<C: ForecasterParams>(
    config: &C,
    data: &TrainView<'_>,
    params: &ValidTrainParams,
    device: &Device,
    cancel: &CancelToken,
    observer: &mut dyn Observer<EpochReport>,
) -> Result<Trained<C::Model>> {
    let train_device = device.clone().autodiff();
    train_device.seed(params.seed());
    let mut model = config.init(data.spec, &train_device)?;
    let mut optimizer = AdamConfig::new().init();
    let mut history = Vec::new();
    let mut best: Best<C::Model> = None;
    for epoch in 1..=params.epochs() {
        let start = Instant::now();
        let (next, loss) = run_epoch(
            model,
            &mut optimizer,
            &Objective::Mse,
            data.train,
            data.cells,
            params,
            epoch,
            &train_device,
            cancel,
            observer,
        )?;
        model = next;
        let (radii, constraint) =
            calibrate_checked(&model, data.validation, data.cells, params, device)?;
        let epoch_info = EpochInfo {
            phase: Phase::Pto,
            epoch,
            loss,
            start,
        };
        let (_, val_mse) = validate_epoch(
            &model,
            data,
            &radii,
            &constraint,
            params,
            device,
            epoch_info,
            observer,
            &mut history,
        )?;
        if best.as_ref().is_none_or(|b| val_mse < b.0) {
            best = Some((val_mse, model.clone(), radii, constraint, epoch));
        }
    }
    finish(best, history)
}

/// RTS-PnO (Algorithm 3): SPO+ + β·MSE over the risk set, fixed (`Some`) or adaptive (`None`).
fn fit_pno<C: ForecasterParams>(
    config: &C,
    data: &TrainView<'_>,
    params: &ValidTrainParams,
    fixed: Option<&RiskConstraint>,
    device: &Device,
    cancel: &CancelToken,
    observer: &mut dyn Observer<EpochReport>,
) -> Result<Trained<C::Model>> {
    let train_device = device.clone().autodiff();
    train_device.seed(params.seed());
    let mut model = config.init(data.spec, &train_device)?;
    let mut optimizer = AdamConfig::new().init();
    let (mut radii, mut constraint) = match fixed {
        None => calibrate_checked(&model, data.validation, data.cells, params, device)?,
        Some(set) => (Array1::from(set.risk().to_vec()), set.clone()),
    };
    let phase = match fixed {
        None => Phase::PnoAdaptive,
        Some(_) => Phase::PnoFixed,
    };
    let mut history = Vec::new();
    let mut best: Best<C::Model> = None;
    for epoch in 1..=params.epochs() {
        let start = Instant::now();
        let objective = Objective::Pno {
            constraint: &constraint,
            beta: params.beta(),
        };
        let (next, loss) = run_epoch(
            model,
            &mut optimizer,
            &objective,
            data.train,
            data.cells,
            params,
            epoch,
            &train_device,
            cancel,
            observer,
        )?;
        model = next;
        if fixed.is_none() {
            (radii, constraint) =
                calibrate_checked(&model, data.validation, data.cells, params, device)?;
        }
        let epoch_info = EpochInfo {
            phase,
            epoch,
            loss,
            start,
        };
        let (val_regret, _) = validate_epoch(
            &model,
            data,
            &radii,
            &constraint,
            params,
            device,
            epoch_info,
            observer,
            &mut history,
        )?;
        if best.as_ref().is_none_or(|b| val_regret < b.0) {
            best = Some((
                val_regret,
                model.clone(),
                radii.clone(),
                constraint.clone(),
                epoch,
            ));
        }
    }
    finish(best, history)
}

/// What identifies a finished training epoch in its [`EpochReport`].
struct EpochInfo {
    phase: Phase,
    epoch: usize,
    loss: f64,
    start: Instant,
}

/// Shared end of a PtO or PnO epoch: validation regret and MSE under the current radii and risk
/// set, recorded, reported to the observer and appended to the history. Returns
/// `(val_regret, val_mse)`; each framework selects its best epoch on its own criterion.
#[allow(clippy::too_many_arguments)]
fn validate_epoch<F: Forecaster>(
    model: &F,
    data: &TrainView<'_>,
    radii: &Array1<f64>,
    constraint: &RiskConstraint,
    params: &ValidTrainParams,
    device: &Device,
    info: EpochInfo,
    observer: &mut dyn Observer<EpochReport>,
    history: &mut Vec<EpochReport>,
) -> Result<(f64, f64)> {
    let (val_regret, val_mse) = segment_regret(
        model,
        data.validation,
        data.cells,
        radii,
        constraint,
        params,
        device,
    )?;
    let record = EpochReport::new(
        info.phase,
        info.epoch,
        info.loss,
        val_mse,
        val_regret,
        radii,
        constraint.budget(),
        info.start.elapsed().as_secs_f64(),
    );
    observer.on_epoch(&record);
    history.push(record);
    Ok((val_regret, val_mse))
}

fn finish<M>(best: Best<M>, history: Vec<EpochReport>) -> Result<Trained<M>> {
    match best {
        Some((_, model, radii, constraint, best_epoch)) => {
            Ok(Trained::new(model, radii, constraint, history, best_epoch))
        }
        None => Err(InvalidParameter::new("epochs", 0, "must be at least 1").into()),
    }
}

#[cfg(test)]
pub(crate) mod tests;
