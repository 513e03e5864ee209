use super::*;
use crate::forecast::{DLinearParams, NLinearParams, PatchTstParams};
use fundalloc_core_types::NoObserver;
use fundalloc_core_types::{PriceSeries, WindowSpec};
use std::sync::{Mutex, MutexGuard};

/// burn's RNG seed is process-global on the Flex backend: training tests run one at a time so
/// that a seeded run is not disturbed by another test drawing from the same generator.
static BURN_RNG: Mutex<()> = Mutex::new(());

/// The lock on [`BURN_RNG`] (also taken by the forecaster tests, which draw weights too).
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    BURN_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

fn sine_data(n: usize, m: usize, h: usize) -> WindowDataset {
    let prices: Vec<f64> = (0..n)
        .map(|t| 100.0 + 10.0 * (t as f64 * 2.0 * std::f64::consts::PI / 20.0).sin())
        .collect();
    WindowDataset::new(
        PriceSeries::new("sine", prices).unwrap(),
        WindowSpec::new(m, h).unwrap(),
    )
    .unwrap()
}

#[test]
fn tiny_dlinear_learns_a_sine() {
    let _guard = serial();
    let data = sine_data(400, 40, 10);
    let params = TrainParams::new()
        .epochs(30)
        .learning_rate(1e-2)
        .batch_size(32)
        .seed(7)
        .check()
        .unwrap();
    let device = Device::flex();
    let config = DLinearParams::default().kernel_size(5);
    let untrained = config.init(data.spec(), &device).unwrap();
    let before = predict(&untrained, data.test().inputs().view(), 256, &device).unwrap();
    let mse_before = (&before - data.test().targets())
        .mapv(|d| d * d)
        .mean()
        .unwrap();
    let trained = fit(
        &config,
        &data,
        &Method::Pto,
        params,
        &device,
        &mut NoObserver,
    )
    .unwrap();
    let after = predict(trained.model(), data.test().inputs().view(), 256, &device).unwrap();
    let mse_after = (&after - data.test().targets())
        .mapv(|d| d * d)
        .mean()
        .unwrap();
    // The standardised sine has variance 1; a linear model can represent it exactly.
    assert!(
        mse_after < 0.01,
        "test MSE {mse_after} (before training {mse_before})"
    );
    assert_eq!(trained.history().len(), 30);
    assert!(trained.radii().iter().all(|r| *r >= 0.0 && *r < 0.5));
}

#[test]
fn pno_and_patchtst_run_and_record_history() {
    let _guard = serial();
    let data = sine_data(300, 24, 6);
    let params = TrainParams::new()
        .epochs(2)
        .learning_rate(1e-3)
        .batch_size(64)
        .check()
        .unwrap();
    let device = Device::flex();
    let config = PatchTstParams::default()
        .patch_len(8)
        .stride(4)
        .d_model(8)
        .n_layers(1)
        .n_heads(2)
        .d_ff(16)
        .dropout(0.1)
        .revin(true);
    let mut seen = Recorder::default();
    let adaptive = fit(
        &config,
        &data,
        &Method::PnoAdaptive,
        params.clone(),
        &device,
        &mut seen,
    )
    .unwrap();
    assert_eq!(adaptive.history().len(), 2);
    assert_eq!(seen.epochs, 2);
    assert!(seen.batches > 0);
    assert!(adaptive.history().iter().all(|r| r.train_loss.is_finite()));
    // The adaptive budget is the median of the current radii.
    let r = adaptive.radii().to_vec();
    assert!((crate::quantile(&r, 0.5).unwrap() - adaptive.constraint().budget()).abs() < 1e-12);
    let fixed_set = RiskConstraint::new(&[1.0; 6], 1.0).unwrap();
    let fixed = fit(
        &NLinearParams,
        &data,
        &Method::PnoFixed(fixed_set.clone()),
        params,
        &device,
        &mut NoObserver,
    )
    .unwrap();
    assert_eq!(fixed.constraint(), &fixed_set);
}

#[test]
fn same_seed_same_model() {
    let _guard = serial();
    let data = sine_data(300, 20, 5);
    let params = TrainParams::new().epochs(1).seed(3).check().unwrap();
    let device = Device::flex();
    let a = fit(
        &NLinearParams,
        &data,
        &Method::Pto,
        params.clone(),
        &device,
        &mut NoObserver,
    )
    .unwrap();
    let b = fit(
        &NLinearParams,
        &data,
        &Method::Pto,
        params,
        &device,
        &mut NoObserver,
    )
    .unwrap();
    let pa = predict(a.model(), data.test().inputs().view(), 64, &device).unwrap();
    let pb = predict(b.model(), data.test().inputs().view(), 64, &device).unwrap();
    assert_eq!(pa, pb);
}

#[derive(Default)]
struct Recorder {
    epochs: usize,
    batches: usize,
}

impl Observer<EpochReport> for Recorder {
    fn on_step(&mut self, _: usize, _: usize, _: usize) {
        self.batches += 1;
    }
    fn on_epoch(&mut self, _: &EpochReport) {
        self.epochs += 1;
    }
}
