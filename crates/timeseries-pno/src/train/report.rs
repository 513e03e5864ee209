//! What the training loops report: per epoch ([`EpochReport`], to an
//! [`Observer`](fundalloc_core_types::Observer)) and at the end ([`Trained`]).

use ndarray::Array1;

use crate::solver::RiskConstraint;

/// Which training loop an [`EpochReport`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// RTS-PtO (MSE).
    Pto,
    /// RTS-PnO with the fixed risk set.
    PnoFixed,
    /// RTS-PnO with the risk set recalibrated after every epoch.
    PnoAdaptive,
}

/// What one epoch did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EpochReport {
    /// The loop.
    pub phase: Phase,
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss (MSE for PtO; SPO+ + β·MSE for PnO).
    pub train_loss: f64,
    /// Validation MSE (standardised units).
    pub val_mse: f64,
    /// Validation regret of the risk-aware decision (standardised units).
    pub val_regret: f64,
    /// min, mean and max of the radii r after the epoch (standardised units).
    pub radii_min_mean_max: [f64; 3],
    /// The budget r̄ after the epoch.
    pub budget: f64,
    /// Wall-clock seconds of the epoch (training pass + calibration + validation).
    pub seconds: f64,
}

impl EpochReport {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        phase: Phase,
        epoch: usize,
        train_loss: f64,
        val_mse: f64,
        val_regret: f64,
        radii: &Array1<f64>,
        budget: f64,
        seconds: f64,
    ) -> Self {
        let min = radii.iter().copied().fold(f64::INFINITY, f64::min);
        let max = radii.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Self {
            phase,
            epoch,
            train_loss,
            val_mse,
            val_regret,
            radii_min_mean_max: [min, radii.mean().unwrap_or(f64::NAN), max],
            budget,
            seconds,
        }
    }
}

/// A trained forecaster with its calibrated risk set. The radii and the risk set belong
/// together (the set was calibrated from those radii, or given with them), so they are read
/// through getters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Trained<M> {
    model: M,
    radii: Array1<f64>,
    constraint: RiskConstraint,
    history: Vec<EpochReport>,
    best_epoch: usize,
}

impl<M> Trained<M> {
    pub(crate) fn new(
        model: M,
        radii: Array1<f64>,
        constraint: RiskConstraint,
        history: Vec<EpochReport>,
        best_epoch: usize,
    ) -> Self {
        Self {
            model,
            radii,
            constraint,
            history,
            best_epoch,
        }
    }

    /// The selected model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The selected model, consuming the result.
    pub fn into_model(self) -> M {
        self.model
    }

    /// Radii `r` (standardised units) of the selected model on the calibration windows.
    pub fn radii(&self) -> &Array1<f64> {
        &self.radii
    }

    /// The risk set `{a·r ≤ r̄}` the model's decisions use.
    pub fn constraint(&self) -> &RiskConstraint {
        &self.constraint
    }

    /// One report per epoch.
    pub fn history(&self) -> &[EpochReport] {
        &self.history
    }

    /// The selected epoch (1-based).
    pub fn best_epoch(&self) -> usize {
        self.best_epoch
    }
}
