use super::*;
use crate::decision::DecisionRule;
use crate::forecast::{DLinearParams, NLinearParams, PatchTstParams};
use fundalloc_core_types::{CancelToken, NoObserver};
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
        &CancelToken::new(),
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
        &CancelToken::new(),
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
        &CancelToken::new(),
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
        &CancelToken::new(),
        &mut NoObserver,
    )
    .unwrap();
    let b = fit(
        &NLinearParams,
        &data,
        &Method::Pto,
        params,
        &device,
        &CancelToken::new(),
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

// ---- several assets -------------------------------------------------------------------------

fn wave(n: usize, level: f64, period: f64, amp: f64) -> PriceSeries {
    let prices: Vec<f64> = (0..n)
        .map(|t| {
            level + amp * (t as f64 * 2.0 * std::f64::consts::PI / period).sin() + 0.01 * t as f64
        })
        .collect();
    PriceSeries::new(format!("wave{period}"), prices).unwrap()
}

fn panel(assets: usize, n: usize, m: usize, h: usize) -> MultiAssetDataset {
    let series = (0..assets)
        .map(|j| {
            wave(
                n,
                100.0 + 50.0 * j as f64,
                17.0 + 6.0 * j as f64,
                8.0 + j as f64,
            )
        })
        .collect();
    MultiAssetDataset::new(series, WindowSpec::new(m, h).unwrap()).unwrap()
}

/// Everything of an epoch report but its wall-clock time.
fn history_key(t: &Trained<impl Sized>) -> Vec<(usize, f64, f64, f64, [f64; 3], f64)> {
    t.history()
        .iter()
        .map(|r| {
            (
                r.epoch,
                r.train_loss,
                r.val_mse,
                r.val_regret,
                r.radii_min_mean_max,
                r.budget,
            )
        })
        .collect()
}

#[test]
fn one_asset_panel_is_exactly_the_single_series_path() {
    let _guard = serial();
    let (n, m, h) = (260, 20, 6);
    let series = wave(n, 100.0, 17.0, 8.0);
    let single = WindowDataset::new(series.clone(), WindowSpec::new(m, h).unwrap()).unwrap();
    let joint = MultiAssetDataset::new(vec![series], WindowSpec::new(m, h).unwrap()).unwrap();
    assert_eq!(joint.cost_scale(), &[1.0]);
    assert_eq!(joint.test(), single.test());
    let params = TrainParams::new()
        .epochs(2)
        .learning_rate(1e-3)
        .batch_size(16)
        .seed(11)
        .check()
        .unwrap();
    let device = Device::flex();
    let config = DLinearParams::default().kernel_size(5);
    let mean = single.series().scaler().mean();
    let pto = fit(
        &config,
        &single,
        &Method::Pto,
        params.clone(),
        &device,
        &CancelToken::new(),
        &mut NoObserver,
    )
    .unwrap();
    let fixed = Method::PnoFixed(pto.constraint().clone());
    for method in [Method::Pto, fixed, Method::PnoAdaptive] {
        let a = fit(
            &config,
            &single,
            &method,
            params.clone(),
            &device,
            &CancelToken::new(),
            &mut NoObserver,
        )
        .unwrap();
        let b = fit_multi_asset(
            &config,
            &joint,
            &method,
            params.clone(),
            &device,
            &CancelToken::new(),
            &mut NoObserver,
        )
        .unwrap();
        assert_eq!(a.radii(), b.radii(), "{method:?}");
        assert_eq!(a.constraint(), b.constraint(), "{method:?}");
        assert_eq!(a.best_epoch(), b.best_epoch(), "{method:?}");
        assert_eq!(history_key(&a), history_key(&b), "{method:?}");
        let pa = predict(a.model(), single.test().inputs().view(), 64, &device).unwrap();
        let pb = predict(b.model(), joint.test().inputs().view(), 64, &device).unwrap();
        assert_eq!(pa, pb, "{method:?}");
        // Same decisions, and the same regret once the price unit (μ) is accounted for.
        let one = crate::evaluate(
            "x",
            &a,
            DecisionRule::RiskAware,
            &single,
            params.clone(),
            &device,
        )
        .unwrap();
        let many = crate::evaluate_multi_asset("x", &b, &joint, params.clone(), &device).unwrap();
        assert!(
            (one.regret - many.joint_regret * mean).abs() <= 1e-9 * one.regret.abs().max(1.0),
            "{method:?}: {} vs {}",
            one.regret,
            many.joint_regret * mean
        );
        assert!((one.relative_regret - many.joint_relative_regret).abs() < 1e-9);
        assert_eq!(one.coverage, many.coverage);
        assert_eq!(one.mse, many.mse);
        // One asset alone is the joint decision itself.
        assert_eq!(many.single_regret, vec![Some(many.joint_regret)]);
        assert_eq!(many.joint_win_rate, Some(1.0));
        assert_eq!(many.asset_share.len(), 1);
        assert!((many.asset_share[0] - 1.0).abs() < 1e-12);
    }
}

#[test]
fn panels_are_interleaved_and_shapes_follow_h_times_a() {
    let _guard = serial();
    let (a, m, h) = (3, 16, 4);
    let data = panel(a, 240, m, h);
    assert_eq!(data.assets(), a);
    for (seg, s) in [
        (fundalloc_core_types::Segment::Train, data.train()),
        (fundalloc_core_types::Segment::Validation, data.validation()),
        (fundalloc_core_types::Segment::Test, data.test()),
    ] {
        let n = data.n_windows(seg);
        assert_eq!(s.len(), n * a);
        assert_eq!(s.inputs().ncols(), m);
        assert_eq!(s.targets().ncols(), h);
        for j in 0..a {
            let alone = data.asset(j).unwrap();
            let alone = match seg {
                fundalloc_core_types::Segment::Train => alone.train(),
                fundalloc_core_types::Segment::Validation => alone.validation(),
                fundalloc_core_types::Segment::Test => alone.test(),
            };
            for i in [0, n / 2, n - 1] {
                assert_eq!(s.inputs().row(i * a + j), alone.inputs().row(i));
                assert_eq!(s.raw_targets().row(i * a + j), alone.raw_targets().row(i));
            }
        }
        let cells = data.to_cells(s.targets().view()).unwrap();
        assert_eq!(cells.dim(), (n, h * a));
        let prices = data.normalised_targets(seg);
        assert_eq!(prices.dim(), (n, h * a));
        // Cell h·A + j of window i is asset j's step h, normalised by its training mean.
        let mu = data.asset(2).unwrap().series().scaler().mean();
        assert!((prices[(1, 3 * a + 2)] - s.raw_targets()[(a + 2, 3)] / mu).abs() < 1e-12);
        // Cost units are the normalised prices up to a common affine map: p̃ = κ̄·c + 1.
        assert!(
            (prices[(1, 3 * a + 2)] - (data.unit() * cells[(1, 3 * a + 2)] + 1.0)).abs() < 1e-9
        );
    }
    let scale_mean = data.cost_scale().iter().sum::<f64>() / a as f64;
    assert!((scale_mean - 1.0).abs() < 1e-12);
    let params = TrainParams::new().epochs(1).batch_size(16).check().unwrap();
    let device = Device::flex();
    let t = fit_multi_asset(
        &NLinearParams,
        &data,
        &Method::PnoAdaptive,
        params.clone(),
        &device,
        &CancelToken::new(),
        &mut NoObserver,
    )
    .unwrap();
    assert_eq!(t.radii().len(), h * a);
    assert_eq!(t.constraint().risk().len(), h * a);
    let r = crate::evaluate_multi_asset("x", &t, &data, params, &device).unwrap();
    assert_eq!(r.single_regret.len(), a);
    assert_eq!(r.asset_share.len(), a);
    assert!((r.asset_share.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    assert!(r.joint_regret >= -1e-12);
    // The joint decision can use every single-asset decision, so it is at least as good on
    // the *forecast* costs; on the truth the per-window oracle may still beat it.
    assert!(r.joint_win_rate.is_some_and(|w| (0.0..=1.0).contains(&w)));
}

#[test]
fn multi_asset_errors_are_typed() {
    let _guard = serial();
    let spec = WindowSpec::new(16, 4).unwrap();
    assert!(matches!(
        MultiAssetDataset::new(vec![], spec),
        Err(PnoError::Empty(_))
    ));
    assert!(matches!(
        MultiAssetDataset::new(
            vec![wave(200, 100.0, 17.0, 8.0), wave(199, 90.0, 13.0, 5.0)],
            spec
        ),
        Err(PnoError::ShapeMismatch(_))
    ));
    let negative: Vec<f64> = (0..200).map(|t| -100.0 + (t as f64 * 0.3).sin()).collect();
    match MultiAssetDataset::new(
        vec![
            wave(200, 100.0, 17.0, 8.0),
            PriceSeries::new("neg", negative).unwrap(),
        ],
        spec,
    ) {
        Err(PnoError::InvalidParameter(e)) => assert_eq!(e.name, "training mean"),
        other => panic!("{other:?}"),
    }
    // NaN never gets into a panel: the series refuses it, and a NaN forecast is refused by the
    // flattened solver.
    assert!(PriceSeries::new("nan", vec![1.0, f64::NAN]).is_err());
    let data = panel(2, 300, 16, 4);
    let mut nan = data.test().targets().clone();
    nan[(3, 1)] = f64::NAN;
    let cells = data.to_cells(nan.view()).unwrap();
    let set = RiskConstraint::new(&[1.0; 8], 1.0).unwrap();
    assert!(matches!(
        set.solve_batch(cells.view()),
        Err(PnoError::NonFinite(_))
    ));
    // Rows that are not a whole number of windows.
    assert!(matches!(
        data.to_cells(data.test().targets().slice(ndarray::s![..3, ..])),
        Err(PnoError::ShapeMismatch(_))
    ));
    let params = TrainParams::new().epochs(1).batch_size(16).check().unwrap();
    let device = Device::flex();
    // A fixed set over H cells where the panel has H·A.
    let wrong = Method::PnoFixed(RiskConstraint::new(&[1.0; 4], 1.0).unwrap());
    assert!(matches!(
        fit_multi_asset(
            &NLinearParams,
            &data,
            &wrong,
            params.clone(),
            &device,
            &CancelToken::new(),
            &mut NoObserver
        ),
        Err(PnoError::ShapeMismatch(_))
    ));
    // A model of a two-asset panel evaluated on a three-asset panel.
    let t = fit_multi_asset(
        &NLinearParams,
        &data,
        &Method::Pto,
        params.clone(),
        &device,
        &CancelToken::new(),
        &mut NoObserver,
    )
    .unwrap();
    let other = panel(3, 300, 16, 4);
    assert!(matches!(
        crate::evaluate_multi_asset("x", &t, &other, params, &device),
        Err(PnoError::ShapeMismatch(_))
    ));
}

#[test]
fn multi_asset_training_stops_when_cancelled() {
    let _guard = serial();
    let data = panel(2, 300, 16, 4);
    let params = TrainParams::new().epochs(3).batch_size(16).check().unwrap();
    let token = CancelToken::new();
    token.cancel();
    assert!(matches!(
        fit_multi_asset(
            &NLinearParams,
            &data,
            &Method::PnoAdaptive,
            params,
            &Device::flex(),
            &token,
            &mut NoObserver
        ),
        Err(PnoError::Cancelled(_))
    ));
}

#[test]
fn single_series_training_and_experiment_stop_when_cancelled() {
    let _guard = serial();
    let data = sine_data(300, 16, 4);
    let params = TrainParams::new().epochs(3).batch_size(16).check().unwrap();
    let token = CancelToken::new();
    token.cancel();
    let device = Device::flex();
    assert!(matches!(
        fit(
            &NLinearParams,
            &data,
            &Method::Pto,
            params.clone(),
            &device,
            &token,
            &mut NoObserver
        ),
        Err(PnoError::Cancelled(_))
    ));
    assert!(matches!(
        crate::run_experiment(
            &NLinearParams,
            &data,
            params,
            &device,
            &token,
            &mut NoObserver
        ),
        Err(PnoError::Cancelled(_))
    ));
}

#[test]
fn multi_asset_training_is_deterministic() {
    let _guard = serial();
    let data = panel(2, 220, 16, 4);
    let params = TrainParams::new()
        .epochs(2)
        .learning_rate(1e-3)
        .batch_size(16)
        .seed(5)
        .check()
        .unwrap();
    let device = Device::flex();
    let config = DLinearParams::default().kernel_size(3);
    let run = |method: &Method| {
        fit_multi_asset(
            &config,
            &data,
            method,
            params.clone(),
            &device,
            &CancelToken::new(),
            &mut NoObserver,
        )
        .unwrap()
    };
    for method in [Method::Pto, Method::PnoAdaptive] {
        let (a, b) = (run(&method), run(&method));
        assert_eq!(history_key(&a), history_key(&b));
        assert_eq!(a.radii(), b.radii());
        let pa = predict(a.model(), data.test().inputs().view(), 64, &device).unwrap();
        let pb = predict(b.model(), data.test().inputs().view(), 64, &device).unwrap();
        assert_eq!(pa, pb);
    }
}
