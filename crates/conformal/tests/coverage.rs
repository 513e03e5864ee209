//! Statistical and structural properties of split conformal calibration.
//!
//! Coverage: for continuous exchangeable scores the conditional coverage of the radius
//! s_(k), k = ⌈(n+1)γ⌉ ≤ n, has expectation exactly k/(n+1) ∈ [γ, γ + 1/(n+1)). Each
//! proptest case estimates it with R independent calibration draws (n scores, m fresh test
//! scores each) and checks the mean against both bounds with a tolerance of 4 Monte-Carlo
//! standard errors estimated from the same run. Seeds are fixed (proptest's and the RNG's),
//! so the test is deterministic; with a correct implementation a 4σ miss has probability
//! ~6e-5 per case, so a seed change would not make it flaky either.

#![allow(clippy::unwrap_used)] // a test

use fundalloc_conformal::{
    HorizonCoverage, ParamGuard, PositionalConformal, RankOverflow, Score, SplitConformal,
    SplitConformalParams, conformal_rank, evaluate_positions,
};
use ndarray::{Array1, Array2, Axis};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, Exp, LogNormal, Normal, StudentT, Uniform};

/// Continuous score distributions (all ≥ 0: absolute values of residual noise).
#[derive(Debug, Clone, Copy)]
enum Noise {
    Uniform,
    Gaussian,
    Exponential,
    HeavyTail,
    LogNormal,
}

impl Noise {
    fn sample(self, rng: &mut StdRng) -> f64 {
        match self {
            Noise::Uniform => Uniform::new(-1.0, 1.0).unwrap().sample(rng),
            Noise::Gaussian => Normal::new(0.0, 2.0).unwrap().sample(rng),
            Noise::Exponential => Exp::new(0.5).unwrap().sample(rng),
            Noise::HeavyTail => StudentT::new(1.5).unwrap().sample(rng),
            Noise::LogNormal => LogNormal::new(0.0, 1.0).unwrap().sample(rng),
        }
    }
}

fn noise_strategy() -> impl Strategy<Value = Noise> {
    prop_oneof![
        Just(Noise::Uniform),
        Just(Noise::Gaussian),
        Just(Noise::Exponential),
        Just(Noise::HeavyTail),
        Just(Noise::LogNormal),
    ]
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(20261124),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Mean and standard error of the per-draw test coverage over `reps` calibration draws.
fn coverage_experiment(noise: Noise, n: usize, gamma: f64, reps: usize, seed: u64) -> (f64, f64) {
    const M: usize = 50;
    let mut rng = StdRng::seed_from_u64(seed);
    let params = SplitConformalParams::new(gamma)
        .rank_overflow(RankOverflow::Infinite)
        .check()
        .unwrap();
    let mut coverages = Vec::with_capacity(reps);
    for _ in 0..reps {
        // Residuals of an arbitrary point predictor: targets = predictions + noise.
        let pred: Array1<f64> = (0..n).map(|i| (i % 7) as f64).collect();
        let y: Array1<f64> = pred.mapv(|p| p + noise.sample(&mut rng));
        let fitted = SplitConformal::fit(params, pred.view(), y.view()).unwrap();
        let test_pred: Array1<f64> = (0..M).map(|i| (i % 5) as f64 - 2.0).collect();
        let test_y: Array1<f64> = test_pred.mapv(|p| p + noise.sample(&mut rng));
        let iv = fitted.predict_interval(test_pred.view()).unwrap();
        let covered = (0..M)
            .filter(|&i| iv.lower[i] <= test_y[i] && test_y[i] <= iv.upper[i])
            .count();
        coverages.push(covered as f64 / M as f64);
    }
    let r = reps as f64;
    let mean = coverages.iter().sum::<f64>() / r;
    let var = coverages.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (r - 1.0);
    (mean, (var / r).sqrt())
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn average_coverage_is_within_the_finite_sample_bounds(
        noise in noise_strategy(),
        n in prop_oneof![5usize..50, 50usize..500, 500usize..=5000],
        gamma in 0.05f64..0.97,
        seed in any::<u64>(),
    ) {
        // About 60k samples per case keeps the whole test to a few seconds in debug builds.
        let reps = (60_000 / (n + 50)).clamp(12, 1500);
        let (mean, se) = coverage_experiment(noise, n, gamma, reps, seed);
        let k = conformal_rank(n, gamma).unwrap();
        if k > n {
            // No finite order statistic: the radius is +∞ and everything is covered.
            prop_assert_eq!(mean, 1.0);
        } else {
            let tol = 4.0 * se + 1e-12;
            let upper = gamma + 1.0 / (n as f64 + 1.0);
            prop_assert!(mean >= gamma - tol, "{noise:?} n={n} γ={gamma}: {mean} < γ (se {se})");
            prop_assert!(mean <= upper + tol, "{noise:?} n={n} γ={gamma}: {mean} > {upper}");
            // Sharper: the exact expectation k/(n+1).
            let exact = k as f64 / (n as f64 + 1.0);
            prop_assert!((mean - exact).abs() <= tol, "{noise:?} n={n} γ={gamma}: {mean} vs {exact}");
        }
    }

    #[test]
    fn radii_are_monotone_in_gamma_and_invariant_to_score_order(
        scores in proptest::collection::vec(0.0f64..100.0, 3 * 5..=3 * 300),
        g1 in 0.01f64..0.99,
        g2 in 0.01f64..0.99,
        shift in 1usize..1000,
    ) {
        let n = scores.len() / 3;
        let scores = Array2::from_shape_vec((n, 3), scores[..3 * n].to_vec()).unwrap();
        let (lo, hi) = if g1 <= g2 { (g1, g2) } else { (g2, g1) };
        let calibrate = |gamma: f64, s: &Array2<f64>| {
            PositionalConformal::fit_scores(SplitConformalParams::new(gamma)
                .rank_overflow(RankOverflow::Infinite), s.view(), Score::AbsoluteResidual)
                .unwrap()
                .into_radii()
        };
        let r_lo = calibrate(lo, &scores);
        let r_hi = calibrate(hi, &scores);
        for h in 0..3 {
            prop_assert!(r_lo[h] <= r_hi[h]);
        }
        // Reorder the windows (a rotation and a reversal): the radii are the same.
        let order: Vec<usize> = (0..n).map(|i| n - 1 - (i + shift) % n).collect();
        let permuted = scores.select(Axis(0), &order);
        prop_assert_eq!(&calibrate(lo, &permuted), &r_lo);
        prop_assert_eq!(&calibrate(hi, &permuted), &r_hi);
        // f32 gives the same order statistic.
        let r32 = PositionalConformal::fit_scores(SplitConformalParams::new(hi)
            .rank_overflow(RankOverflow::Infinite), scores.mapv(|s| s as f32).view(), Score::AbsoluteResidual)
            .unwrap();
        for h in 0..3 {
            prop_assert_eq!(r32.radii()[h] as f64, r_hi[h] as f32 as f64);
        }
        // Bonferroni radii are never narrower.
        let joint = PositionalConformal::fit_scores(SplitConformalParams::new(hi)
            .rank_overflow(RankOverflow::Infinite)
            .horizon_coverage(HorizonCoverage::Bonferroni), scores.view(), Score::AbsoluteResidual)
            .unwrap();
        for h in 0..3 {
            prop_assert!(joint.radii()[h] >= r_hi[h]);
        }
    }
}

#[test]
fn bonferroni_reaches_joint_coverage_where_per_position_does_not() {
    // 5-step windows with independent Gaussian errors, γ = 0.9: per-position radii cover each
    // position ≈ 90 % but all five at once only ≈ 0.9^5 ≈ 59 %; Bonferroni keeps ≥ 90 % jointly.
    let (n, m, h, gamma) = (2000, 4000, 5, 0.9);
    let mut rng = StdRng::seed_from_u64(7);
    let normal = Normal::new(0.0, 1.0).unwrap();
    let mut draw = |rows: usize| Array2::from_shape_fn((rows, h), |_| normal.sample(&mut rng));
    let (cal_pred, cal_y) = (Array2::<f64>::zeros((n, h)), draw(n));
    let (test_pred, test_y) = (Array2::<f64>::zeros((m, h)), draw(m));
    let evaluate = |mode: HorizonCoverage| {
        let fitted = PositionalConformal::fit(
            SplitConformalParams::new(gamma).horizon_coverage(mode),
            cal_pred.view(),
            cal_y.view(),
        )
        .unwrap();
        let iv = fitted.predict_interval(test_pred.view()).unwrap();
        evaluate_positions(iv.lower.view(), iv.upper.view(), test_y.view()).unwrap()
    };
    let marginal = evaluate(HorizonCoverage::PerPosition);
    let joint = evaluate(HorizonCoverage::Bonferroni);
    // Standard errors: per position √(0.09/4000) ≈ 0.005 plus calibration noise ≈ 0.007.
    for c in marginal.coverage() {
        assert!((c - 0.9).abs() < 0.03, "{c}");
    }
    assert!(marginal.joint_coverage < 0.7, "{}", marginal.joint_coverage);
    assert!(
        joint.joint_coverage >= 0.9 - 0.02,
        "{}",
        joint.joint_coverage
    );
    for (w_joint, w_marginal) in joint.mean_width().iter().zip(marginal.mean_width().iter()) {
        assert!(w_joint > w_marginal);
    }
}
