//! Shared tests of the TimesNet and FEDformer backbones: shapes, gradients, a tiny fit.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Gradients;
use burn::tensor::{Device, Tensor, TensorData};
use fundalloc_core_types::WindowSpec;

use super::*;

fn tiny_timesnet() -> TimesNetParams {
    TimesNetParams::default()
        .d_model(4)
        .d_ff(4)
        .e_layers(1)
        .top_k(2)
        .num_kernels(2)
        .dropout(0.0)
}

fn tiny_fedformer() -> FedFormerParams {
    FedFormerParams::default()
        .d_model(8)
        .n_heads(2)
        .d_ff(8)
        .e_layers(1)
        .d_layers(1)
        .modes(4)
        .moving_avg(5)
        .dropout(0.0)
}

/// `[batch, m + h]` rows of noisy sines with random phases (deterministic).
fn batch(rows: usize, len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.5
    };
    let mut out = Vec::with_capacity(rows * len);
    for _ in 0..rows {
        let phase = next() * 6.0;
        for t in 0..len {
            let v = (2.0 * std::f64::consts::PI * t as f64 / 8.0 + phase).sin() + 0.05 * next();
            out.push(v as f32);
        }
    }
    out
}

fn split(
    values: &[f32],
    rows: usize,
    m: usize,
    h: usize,
    device: &Device,
) -> (Tensor<2>, Tensor<2>) {
    let all = Tensor::<2>::from_data(TensorData::new(values.to_vec(), [rows, m + h]), device);
    (all.clone().narrow(1, 0, m), all.narrow(1, m, h))
}

fn check_shapes<P: ForecasterParams>(params: &P) {
    let _guard = crate::train::tests::serial();
    let device = Device::flex();
    for (m, h) in [(16, 4), (24, 6), (9, 1)] {
        let model = params
            .init(WindowSpec::new(m, h).unwrap(), &device)
            .unwrap();
        let x = Tensor::<2>::from_data(TensorData::new(batch(3, m, 1), [3, m]), &device);
        let y = model.forward(x);
        assert_eq!(y.dims(), [3, h], "{} with M={m}, H={h}", params.name());
        let values: Vec<f32> = y.into_data().try_to_vec::<f32>().unwrap();
        assert!(values.iter().all(|v| v.is_finite()));
    }
}

/// Collects, per float parameter, whether its gradient exists and is not all zero.
struct GradCheck<'a> {
    grads: &'a Gradients,
    seen: usize,
    missing: Vec<String>,
}

impl ModuleVisitor for GradCheck<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.seen += 1;
        match param.val().grad(self.grads) {
            Some(g) => {
                let total: f32 = g.abs().sum().into_scalar();
                if total <= 0.0 || !total.is_finite() {
                    self.missing.push(format!(
                        "{:?} dims {:?}: |grad| sum {total}",
                        param.id,
                        param.dims()
                    ));
                }
            }
            None => self
                .missing
                .push(format!("{:?} dims {:?}: no grad", param.id, param.dims())),
        }
    }
}

fn check_gradients<P: ForecasterParams>(params: &P) {
    let _guard = crate::train::tests::serial();
    let device = Device::flex().autodiff();
    device.seed(3);
    let (m, h) = (24, 6);
    let model = params
        .init(WindowSpec::new(m, h).unwrap(), &device)
        .unwrap();
    let (x, y) = split(&batch(5, m + h, 2), 5, m, h, &device);
    let loss = (model.forward(x) - y).square().mean();
    let grads = loss.backward();
    let mut check = GradCheck {
        grads: &grads,
        seen: 0,
        missing: Vec::new(),
    };
    model.visit(&mut check);
    assert!(check.seen > 0);
    assert!(
        check.missing.is_empty(),
        "{}: {} of {} parameters without gradient: {:?}",
        params.name(),
        check.missing.len(),
        check.seen,
        check.missing
    );
}

/// Adam on a fixed batch of a short sine; returns (loss before, loss after).
fn fit_sine<P: ForecasterParams>(params: &P, steps: usize, lr: f64) -> (f32, f32) {
    let _guard = crate::train::tests::serial();
    let device = Device::flex().autodiff();
    device.seed(5);
    let (m, h) = (16, 4);
    let mut model = params
        .init(WindowSpec::new(m, h).unwrap(), &device)
        .unwrap();
    let (x, y) = split(&batch(16, m + h, 4), 16, m, h, &device);
    let mut optimizer = AdamConfig::new().init();
    let mut first = None;
    let mut last = 0.0;
    for _ in 0..steps {
        let loss = (model.forward(x.clone()) - y.clone()).square().mean();
        let value: f32 = loss.clone().into_scalar();
        first.get_or_insert(value);
        last = value;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(lr, model, grads);
    }
    (first.unwrap_or(f32::NAN), last)
}

#[test]
fn timesnet_shapes() {
    check_shapes(&tiny_timesnet());
    check_shapes(&tiny_timesnet().normalize(false).top_k(50));
}

#[test]
fn fedformer_shapes() {
    check_shapes(&tiny_fedformer());
    check_shapes(&tiny_fedformer().modes(1000).moving_avg(25));
}

#[test]
fn timesnet_gradients_reach_every_parameter() {
    check_gradients(&tiny_timesnet());
}

#[test]
fn fedformer_gradients_reach_every_parameter() {
    check_gradients(&tiny_fedformer());
}

#[test]
fn timesnet_learns_a_sine() {
    let (before, after) = fit_sine(&tiny_timesnet(), 40, 1e-2);
    assert!(after < before / 4.0, "MSE {before} → {after}");
}

#[test]
fn fedformer_learns_a_sine() {
    let (before, after) = fit_sine(&tiny_fedformer(), 40, 1e-2);
    assert!(after < before / 4.0, "MSE {before} → {after}");
}

#[test]
fn fedformer_refuses_short_lookbacks_and_huge_sizes() {
    let _guard = crate::train::tests::serial();
    let device = Device::flex();
    assert!(matches!(
        tiny_fedformer().init(WindowSpec::new(3, 2).unwrap(), &device),
        Err(PnoError::InvalidParameter(_))
    ));
    assert!(matches!(
        tiny_fedformer()
            .d_model(1 << 20)
            .n_heads(1)
            .init(WindowSpec::new(16, 4).unwrap(), &device),
        Err(PnoError::TooLarge(_))
    ));
    assert!(matches!(
        tiny_timesnet()
            .d_model(1 << 16)
            .d_ff(1 << 16)
            .init(WindowSpec::new(16, 4).unwrap(), &device),
        Err(PnoError::TooLarge(_))
    ));
    // Window lengths near usize::MAX: refused by the size check, no overflow, no allocation.
    if let Ok(huge) = WindowSpec::new(usize::MAX / 2, usize::MAX / 2) {
        assert!(matches!(
            tiny_fedformer().init(huge, &device),
            Err(PnoError::TooLarge(_))
        ));
        assert!(matches!(
            tiny_timesnet().init(huge, &device),
            Err(PnoError::TooLarge(_))
        ));
    }
}
