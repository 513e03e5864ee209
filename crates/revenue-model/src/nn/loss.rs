//! Losses, all computed in log space from logits so that none of them can produce NaN.
//!
//! Notation per row: conversion logit `z` (`P_c = sigmoid(z)`), log-normal parameters `μ`, `σ`,
//! label `y ∈ {0, 1}`, scaled revenue `r = R / s` and its log `ℓ = ln max(r, ε)`.
//! `log P_c = log_sigmoid(z)` and `log(1 − P_c) = log_sigmoid(−z)` never overflow.

use burn::tensor::Tensor;
use burn::tensor::activation::{log_sigmoid, softplus};

use super::blocks::Labels;

/// `½·ln(2π)`.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// Smallest σ a head can output: keeps `1/σ²` finite whatever the raw output.
pub(crate) const SIGMA_MIN: f64 = 1e-3;

/// `σ = softplus(raw) + SIGMA_MIN`: positive, smooth, linear for large raw values.
pub(crate) fn sigma_from_raw(raw: Tensor<1>) -> Tensor<1> {
    softplus(raw, 1.0).add_scalar(SIGMA_MIN)
}

/// Log-density of a log-normal at the point whose log is `x`:
/// `ln LN(e^x; μ, σ) = −x − ½ln(2π) − ln σ − (x − μ)² / (2σ²)`.
pub(crate) fn lognormal_log_density(x: Tensor<1>, mu: Tensor<1>, sigma: Tensor<1>) -> Tensor<1> {
    let z = (x.clone() - mu) / sigma.clone();
    x.neg() - sigma.log() - z.square().mul_scalar(0.5) - HALF_LN_2PI
}

/// `ln(e^a + e^b)` without overflow: `max(a, b) + ln(1 + e^{−|a − b|})`.
pub(crate) fn log_add_exp(a: Tensor<1>, b: Tensor<1>) -> Tensor<1> {
    let gap = (a.clone() - b.clone()).abs().neg();
    a.max_pair(b) + gap.exp().log1p()
}

/// How a row that did not convert is scored against the revenue distribution in Eq. 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CounterfactualTerm {
    /// `P(R ≤ ε | C = 1) = Φ((ln ε − μ)/σ)`: the probability that the counterfactual revenue is
    /// indistinguishable from zero. Makes Eq. 5 a proper probability (≤ 1), so the likelihood is
    /// bounded. The default.
    #[default]
    Probability,
    /// The paper's literal `LN(ε; μ, σ)`: a density, which can exceed 1, so the loss is
    /// unbounded below (every row can be explained as "converted with revenue ε"). Kept for
    /// comparison; see `docs/revenue-model.md`.
    Density,
}

/// `ln Φ(x)` of the standard normal CDF, finite for every finite x: `ln(½(1 + erf(x/√2)))` for
/// `x ≥ −4`, else the asymptotic series `−x²/2 − ln(−x) − ½ln(2π) + ln(1 − x⁻² + 3x⁻⁴ − 15x⁻⁶)`
/// (relative error < 2·10⁻³ at the switch). Each branch sees clamped inputs so the discarded one
/// cannot leak NaN into the gradient.
pub(crate) fn log_normal_cdf(x: Tensor<1>) -> Tensor<1> {
    const SWITCH: f64 = -4.0;
    let lower = x.clone().lower_elem(SWITCH);
    let hi = x.clone().clamp_min(SWITCH);
    let central = hi
        .mul_scalar(std::f64::consts::FRAC_1_SQRT_2)
        .erf()
        .add_scalar(1.0)
        .mul_scalar(0.5)
        .log();
    let lo = x.clamp_max(SWITCH);
    let inv2 = lo.clone().square().recip();
    let series = inv2
        .clone()
        .mul_scalar(-15.0)
        .add_scalar(3.0)
        .mul(inv2.clone())
        .sub_scalar(1.0)
        .mul(inv2)
        .add_scalar(1.0)
        .log();
    let tail = lo.clone().square().mul_scalar(-0.5) - lo.neg().log() - HALF_LN_2PI + series;
    central.mask_where(lower, tail)
}

/// The entire-space counterfactual negative log-likelihood of PTOFA (Eq. 4–6), averaged over
/// the batch:
///
/// - converted rows: `−[ln P_c + ln LN(r; μ, σ)]`;
/// - other rows: `−ln(1 − P_c + P_c·q) = −logaddexp(ln(1 − P_c), ln P_c + ln q)`,
///
/// where `q` scores the counterfactual revenue ε of a row that did not convert
/// (`log_eps = ln ε`): `Φ((ln ε − μ)/σ)` or the paper's density `LN(ε; μ, σ)`
/// ([`CounterfactualTerm`]).
pub(crate) fn entire_space_nll(
    logit: Tensor<1>,
    mu: Tensor<1>,
    sigma: Tensor<1>,
    labels: &Labels,
    log_eps: f64,
    term: CounterfactualTerm,
) -> Tensor<1> {
    let log_p = log_sigmoid(logit.clone());
    let log_not_p = log_sigmoid(logit.neg());
    let positive = log_p.clone()
        + lognormal_log_density(labels.log_revenue.clone(), mu.clone(), sigma.clone());
    let eps = mu.zeros_like().add_scalar(log_eps);
    let log_q = match term {
        CounterfactualTerm::Probability => log_normal_cdf((eps - mu) / sigma),
        CounterfactualTerm::Density => lognormal_log_density(eps, mu, sigma),
    };
    let negative = log_add_exp(log_not_p, log_p + log_q);
    let y = labels.converted.clone();
    let ll = y.clone() * positive + (y.neg().add_scalar(1.0)) * negative;
    ll.mean().neg()
}

/// Binary cross-entropy from logits, averaged: `−mean[y ln P_c + (1 − y) ln(1 − P_c)]`.
pub(crate) fn bce_with_logits(logit: Tensor<1>, y: Tensor<1>) -> Tensor<1> {
    let ll =
        y.clone() * log_sigmoid(logit.clone()) + y.neg().add_scalar(1.0) * log_sigmoid(logit.neg());
    ll.mean().neg()
}

/// ZILN's regression part: `−mean[y · ln LN(r; μ, σ)]` (negatives contribute 0).
pub(crate) fn lognormal_nll_positive(
    mu: Tensor<1>,
    sigma: Tensor<1>,
    labels: &Labels,
) -> Tensor<1> {
    let ll =
        labels.converted.clone() * lognormal_log_density(labels.log_revenue.clone(), mu, sigma);
    ll.mean().neg()
}

/// Squared error on converted rows only: `mean[y · (r̂ − r)²]`.
pub(crate) fn mse_positive(pred: Tensor<1>, labels: &Labels) -> Tensor<1> {
    (labels.converted.clone() * (pred - labels.revenue.clone()).square()).mean()
}

/// Squared error on every row: `mean[(ŷ − r)²]`.
pub(crate) fn mse(pred: Tensor<1>, target: Tensor<1>) -> Tensor<1> {
    (pred - target).square().mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn t(values: &[f32], device: &Device) -> Tensor<1> {
        Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
    }

    fn labels(conv: &[f32], r: &[f32], eps: f32, device: &Device) -> Labels {
        let log_r: Vec<f32> = r.iter().map(|&v| v.max(eps).ln()).collect();
        Labels {
            converted: t(conv, device),
            revenue: t(r, device),
            log_revenue: t(&log_r, device),
        }
    }

    /// erfc in f64 (Numerical Recipes `erfcc`, Chebyshev fit, relative error < 1.2·10⁻⁷):
    /// an independent route to Φ for the hand computation.
    fn erfc(x: f64) -> f64 {
        let z = x.abs();
        let t = 1.0 / (1.0 + 0.5 * z);
        let poly = -z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77))))))));
        let r = t * poly.exp();
        if x >= 0.0 { r } else { 2.0 - r }
    }

    /// The Eq. 6 loss by hand, in f64, straight from the formulas (no log-space tricks);
    /// `density` picks the paper's LN(ε) over the probability Φ((ln ε − μ)/σ).
    fn by_hand(
        z: &[f64],
        mu: &[f64],
        sigma: &[f64],
        y: &[f64],
        r: &[f64],
        eps: f64,
        density: bool,
    ) -> f64 {
        let ln = |x: f64, m: f64, s: f64| {
            1.0 / (x * (2.0 * std::f64::consts::PI).sqrt() * s)
                * (-(x.ln() - m).powi(2) / (2.0 * s * s)).exp()
        };
        let cdf =
            |x: f64, m: f64, s: f64| 0.5 * erfc(-(x.ln() - m) / (s * std::f64::consts::SQRT_2));
        let mut total = 0.0;
        for i in 0..z.len() {
            let p = 1.0 / (1.0 + (-z[i]).exp());
            let q = if density {
                ln(eps, mu[i], sigma[i])
            } else {
                cdf(eps, mu[i], sigma[i])
            };
            total += if y[i] > 0.5 {
                (p * ln(r[i], mu[i], sigma[i])).ln()
            } else {
                (1.0 - p + p * q).ln()
            };
        }
        -total / z.len() as f64
    }

    #[test]
    fn entire_space_loss_matches_the_hand_computed_value() {
        let device = Device::flex();
        let z = [0.3, -1.2, 2.0, -0.5, 1.0];
        let raw_sigma = [0.1f32, -0.4, 1.3, 0.0, 0.5];
        let mu = [0.5, 1.0, -0.2, 0.3, -1.0];
        let y = [1.0, 0.0, 1.0, 0.0, 0.0];
        let r = [2.5, 0.0, 0.4, 0.0, 0.0];
        let eps = 0.05;
        let sigma: Vec<f64> = raw_sigma
            .iter()
            .map(|&s| (1.0 + f64::from(s).exp()).ln() + SIGMA_MIN)
            .collect();
        let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
        for (term, density) in [
            (CounterfactualTerm::Probability, false),
            (CounterfactualTerm::Density, true),
        ] {
            let expected = by_hand(&z, &mu, &sigma, &y, &r, eps, density);
            let loss = entire_space_nll(
                t(&f(&z), &device),
                t(&f(&mu), &device),
                sigma_from_raw(t(&raw_sigma, &device)),
                &labels(&f(&y), &f(&r), eps as f32, &device),
                eps.ln(),
                term,
            );
            let got = f64::from(loss.into_scalar::<f32>());
            assert!(
                (got - expected).abs() < 1e-5,
                "{term:?}: got {got}, by hand {expected}"
            );
        }
    }

    #[test]
    fn log_normal_cdf_matches_reference_values() {
        // ln(½·erfc(−x/√2)) from Python 3.11's math.erfc (double precision).
        let reference: [(f64, f64); 9] = [
            (-30.0, -454.321_243_956_343_1),
            (-10.0, -53.231_285_150_512_46),
            (-4.5, -12.592_419_735_713_078),
            (-4.0001, -10.360_524_052_008_376),
            (-3.9, -9.942_304_391_691_357),
            (-1.0, -1.841_021_645_009_263_4),
            (0.0, -std::f64::consts::LN_2),
            (2.0, -0.023_012_909_328_963_49),
            (6.0, -9.865_877_009_111_571e-10),
        ];
        let device = Device::flex();
        let xs: Vec<f32> = reference.iter().map(|r| r.0 as f32).collect();
        let got = log_normal_cdf(t(&xs, &device))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for ((x, want), got) in reference.iter().zip(got) {
            let tol = 2e-3 * want.abs() + 1e-6;
            assert!(
                (f64::from(got) - want).abs() < tol,
                "ln Φ({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn bce_and_mse_match_by_hand() {
        let device = Device::flex();
        let z = [0.7f32, -2.0];
        let y = [1.0f32, 0.0];
        let got = f64::from(bce_with_logits(t(&z, &device), t(&y, &device)).into_scalar::<f32>());
        let p = |z: f32| 1.0 / (1.0 + (-f64::from(z)).exp());
        let expected = -(p(0.7).ln() + (1.0 - p(-2.0)).ln()) / 2.0;
        assert!((got - expected).abs() < 1e-6);
        let l = labels(&[1.0, 0.0], &[3.0, 0.0], 1e-3, &device);
        let got = mse_positive(t(&[1.0, 5.0], &device), &l).into_scalar::<f32>();
        assert!((got - 2.0).abs() < 1e-6); // (1 − 3)² / 2; the negative row is ignored
    }

    #[test]
    fn gradients_are_finite_for_extreme_inputs() {
        let device = Device::flex().autodiff();
        // P_c near 0 and 1 (|z| = 60), R near 0 and huge, μ far from log R, σ at its floor.
        let z = [60.0f32, -60.0, 60.0, -60.0, 0.0, 60.0];
        let mu = [0.0f32, 30.0, -30.0, 0.0, 80.0, -80.0];
        let raw_sigma = [-50.0f32, 50.0, -50.0, -50.0, 0.0, -20.0];
        let y = [1.0f32, 1.0, 0.0, 0.0, 1.0, 1.0];
        let r = [1e-30f32, 1e30, 0.0, 0.0, 3e38, 1e-38];
        let zt = t(&z, &device).require_grad();
        let mt = t(&mu, &device).require_grad();
        let st = t(&raw_sigma, &device).require_grad();
        let l = labels(&y, &r, 1e-6, &device);
        for log_eps in [1e-6f64.ln(), 1e-30f64.ln(), 0.0] {
            for term in [CounterfactualTerm::Probability, CounterfactualTerm::Density] {
                let loss = entire_space_nll(
                    zt.clone(),
                    mt.clone(),
                    sigma_from_raw(st.clone()),
                    &l,
                    log_eps,
                    term,
                );
                let value = loss.clone().into_scalar::<f32>();
                assert!(value.is_finite(), "{term:?}: loss {value}");
                let grads = loss.backward();
                for g in [zt.grad(&grads), mt.grad(&grads), st.grad(&grads)] {
                    let g = g.unwrap().into_data().try_to_vec::<f32>().unwrap();
                    assert!(g.iter().all(|v| v.is_finite()), "{term:?}: {g:?}");
                }
            }
        }
    }
}
