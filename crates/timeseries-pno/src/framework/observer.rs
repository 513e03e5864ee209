//! argmin-style observers of the training loops (off by default: [`NoObserver`]).

use ndarray::Array1;

/// Which training loop an [`EpochRecord`] comes from.
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
pub struct EpochRecord {
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

impl EpochRecord {
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

/// Receives progress from the training loops. Every method has an empty default.
pub trait TrainObserver {
    /// After mini-batch `batch` (from 1) of `n_batches` in epoch `epoch`.
    fn on_batch(&mut self, epoch: usize, batch: usize, n_batches: usize) {
        let _ = (epoch, batch, n_batches);
    }

    /// After an epoch's calibration and validation.
    fn on_epoch(&mut self, record: &EpochRecord) {
        let _ = record;
    }
}

/// The observer that observes nothing (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl TrainObserver for NoObserver {}
