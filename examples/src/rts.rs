//! The records the RTS-PnO studies write (`rts_pno --json`) and read back (`rts_efficiency`):
//! one file per (series, backbone), with every seed's test metrics, training times and
//! inference times.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// One method's test metrics for one seed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MethodRecord {
    /// The method's name ("RTS-PtO", "Risk-Avoiding Top-1", …).
    pub method: String,
    /// Mean regret on the test windows (price units).
    pub regret: f64,
    /// Mean relative regret (a fraction; the paper prints it × 10²).
    pub relative_regret: f64,
    /// Forecast MSE (standardised units).
    pub mse: f64,
    /// Forecast MAE (standardised units).
    pub mae: f64,
    /// Share of test entries inside the radii.
    pub coverage: f64,
}

/// Training cost of one of the three runs (PtO, PnO fixed, PnO adaptive) of one seed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainRecord {
    /// "PtO", "PnO (fixed)" or "PnO (adaptive)".
    pub run: String,
    /// Epochs trained.
    pub epochs: usize,
    /// Mean seconds per epoch (training pass + calibration + validation).
    pub seconds_per_epoch: f64,
    /// The selected epoch (1-based): lowest validation MSE (PtO) or regret (PnO).
    pub best_epoch: usize,
}

/// Inference cost on the test windows (batched forecasts, then one decision per window).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InferenceRecord {
    /// Test windows timed.
    pub windows: usize,
    /// Forecast of the MSE model, µs per window (fastest of the repetitions).
    pub forecast_us: f64,
    /// Forecasting-Only Top-1 decision, µs per window.
    pub top1_us: f64,
    /// The exact risk-aware solver with the PtO risk set, µs per window.
    pub pto_solver_us: f64,
    /// Forecast of the adaptive PnO model, µs per window.
    pub pno_forecast_us: f64,
    /// The exact risk-aware solver with the PnO risk set, µs per window.
    pub pno_solver_us: f64,
    /// Algorithm 1 on the calibration windows (forecast + conformal radii + r̄), seconds, once
    /// per trained model.
    pub calibration_s: f64,
}

/// One seed of one (series, backbone) run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedRecord {
    /// The training seed.
    pub seed: u64,
    /// Test metrics per method.
    pub methods: Vec<MethodRecord>,
    /// Training cost of the three runs.
    pub training: Vec<TrainRecord>,
    /// Inference cost.
    pub inference: InferenceRecord,
    /// Wall seconds of the whole seed (three trainings + evaluation).
    pub seconds: f64,
}

/// Everything `rts_pno --json` writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunFile {
    /// The price column ("djia", "sp500").
    pub column: String,
    /// The backbone's name.
    pub model: String,
    /// The backbone's checked parameters (Debug form).
    pub config: String,
    /// Lookback M.
    pub lookback: usize,
    /// Horizon H.
    pub horizon: usize,
    /// Training windows (after any stride).
    pub train_windows: usize,
    /// Epochs per run.
    pub epochs: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// One record per seed.
    pub seeds: Vec<SeedRecord>,
}

/// Mean and sample standard deviation (0 for a single value; NaN for none).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, var.sqrt())
}

/// Writes `bytes` to `path` atomically: a temporary file next to it, flushed, then renamed.
///
/// # Errors
/// Any I/O error; the temporary file is removed on failure.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_std_matches_hand_values() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert!((m - 2.5).abs() < 1e-12);
        assert!((s - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(mean_std(&[7.0]), (7.0, 0.0));
        assert!(mean_std(&[]).0.is_nan());
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() -> std::io::Result<()> {
        let dir = std::env::temp_dir().join(format!("rts-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("out.json");
        write_atomic(&path, b"one")?;
        write_atomic(&path, b"two")?;
        assert_eq!(std::fs::read(&path)?, b"two");
        let entries = std::fs::read_dir(&dir)?.count();
        assert_eq!(entries, 1);
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
