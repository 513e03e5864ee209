//! Cross-checks against closed forms, a reference tool (riskfolio-lib) and the sample.
//!
//! Fixture: `fixtures/tail_risk.json`, written by `fixtures/make_tail_fixtures.py` (its
//! docstring says how to run it): riskfolio-lib 7.4.0's `VaR_Hist`/`CVaR_Hist` and SciPy's
//! normal quantiles on the returns stored in the file.

#![allow(clippy::unwrap_used)]

use fundalloc_core_types::{CancelToken, NoObserver, Observer, PriceSeries};
use fundalloc_simulation::{
    CorrelatedGbm, Gbm, Portfolio, Simulation, SimulationParams, StationaryBootstrap, calibrate,
    calibrate_assets, historical_tail, parametric_normal_tail, simulate,
};
use ndarray::{Array2, array};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

fn run(
    model: &impl fundalloc_simulation::PathModel,
    weights: Vec<f64>,
    params: SimulationParams,
) -> Simulation {
    simulate(
        model,
        &Portfolio::new(weights).unwrap(),
        params,
        &CancelToken::new(),
        &mut NoObserver,
    )
    .unwrap()
}

#[test]
fn historical_and_parametric_tails_equal_the_reference_tools() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tail_risk.json"
    ))
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for case in json["cases"].as_array().unwrap() {
        let returns: Vec<f64> = case["returns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        for l in case["levels"].as_array().unwrap() {
            let level = l["level"].as_f64().unwrap();
            let hist = historical_tail(&returns, level).unwrap();
            let param = parametric_normal_tail(&returns, level).unwrap();
            let name = case["name"].as_str().unwrap();
            for (got, key) in [
                (hist.var, "hist_var"),
                (hist.cvar, "hist_cvar"),
                (param.var, "param_var"),
                (param.cvar, "param_cvar"),
            ] {
                let want = l[key].as_f64().unwrap();
                assert!(
                    (got - want).abs() <= 1e-12,
                    "{name} level {level} {key}: {got} vs {want}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 5 * 4 * 4);
}

/// `|got − want| ≤ 3 se` (plus a hair for rounding).
fn within_3se(got: f64, se: f64, want: f64) -> bool {
    (got - want).abs() <= 3.0 * se + 1e-12
}

proptest! {
    // A fixed proptest seed: the simulations are seeded from the drawn parameters, so the test
    // is deterministic; each case checks three measures against 3 standard errors.
    #![proptest_config(ProptestConfig {
        cases: 12,
        rng_seed: RngSeed::Fixed(16),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]
    #[test]
    fn gbm_mean_var_and_cvar_match_their_closed_forms(
        mu in -0.1f64..0.25,
        sigma in 0.05f64..0.5,
        steps in 1usize..40,
        level in prop_oneof![Just(0.95), Just(0.99), 0.9f64..0.97],
        antithetic in any::<bool>(),
        seed in 0u64..1000,
    ) {
        let gbm = Gbm::new(mu, sigma).unwrap();
        let params = SimulationParams::default()
            .n_paths(6_000)
            .steps(steps)
            .steps_per_year(12.0)
            .antithetic(antithetic)
            .seed(seed);
        let sim = run(&gbm, vec![1.0], params);
        let t = steps as f64 / 12.0;
        let mean = sim.expected_return();
        prop_assert!(within_3se(mean.value, mean.std_error, gbm.expected_return(t)),
            "mean {mean} vs {}", gbm.expected_return(t));
        let tail = sim.tail(level).unwrap();
        let var = gbm.value_at_risk(t, level).unwrap();
        let cvar = gbm.conditional_value_at_risk(t, level).unwrap();
        prop_assert!(within_3se(tail.var.value, tail.var.std_error, var),
            "VaR {} vs {var}", tail.var);
        prop_assert!(within_3se(tail.cvar.value, tail.cvar.std_error, cvar),
            "CVaR {} vs {cvar}", tail.cvar);
    }
}

#[test]
fn standard_errors_match_the_spread_across_seeds() {
    // The MC standard errors must describe the actual seed-to-seed spread (within ±35 %).
    let gbm = Gbm::new(0.06, 0.25).unwrap();
    let (mut means, mut vars, mut cvars, mut ses) = (vec![], vec![], vec![], vec![]);
    for seed in 0..40 {
        let params = SimulationParams::default()
            .n_paths(4_000)
            .steps(4)
            .steps_per_year(4.0)
            .seed(seed);
        let sim = run(&gbm, vec![1.0], params);
        let tail = sim.tail(0.95).unwrap();
        means.push(sim.expected_return().value);
        vars.push(tail.var.value);
        cvars.push(tail.cvar.value);
        ses.push((
            sim.expected_return().std_error,
            tail.var.std_error,
            tail.cvar.std_error,
        ));
    }
    let sd = |x: &[f64]| {
        let m = x.iter().sum::<f64>() / x.len() as f64;
        (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
    };
    let avg = |f: fn(&(f64, f64, f64)) -> f64| ses.iter().map(f).sum::<f64>() / ses.len() as f64;
    for (spread, se) in [
        (sd(&means), avg(|s| s.0)),
        (sd(&vars), avg(|s| s.1)),
        (sd(&cvars), avg(|s| s.2)),
    ] {
        assert!(
            (spread / se - 1.0).abs() < 0.35,
            "spread {spread} vs se {se}"
        );
    }
}

#[test]
fn correlated_portfolio_matches_its_closed_form_mean() {
    let a = Gbm::new(0.05, 0.15).unwrap();
    let b = Gbm::new(0.10, 0.30).unwrap();
    let model = CorrelatedGbm::new(vec![a, b], array![[1.0, -0.4], [-0.4, 1.0]]).unwrap();
    let sim = run(
        &model,
        vec![0.3, 0.7],
        SimulationParams::default().n_paths(20_000).seed(3),
    );
    let want = 0.3 * a.expected_return(1.0) + 0.7 * b.expected_return(1.0);
    let got = sim.expected_return();
    assert!(
        within_3se(got.value, got.std_error, want),
        "{got} vs {want}"
    );
    // Var[R] = Σ w_i w_j e^{(μi+μj)T}(e^{ρ σi σj T} − 1).
    let (w, mu, s, rho): ([f64; 2], [f64; 2], [f64; 2], [[f64; 2]; 2]) = (
        [0.3, 0.7],
        [0.05, 0.10],
        [0.15, 0.30],
        [[1.0, -0.4], [-0.4, 1.0]],
    );
    let mut v = 0.0;
    for i in 0..2 {
        for j in 0..2 {
            v += w[i] * w[j] * (mu[i] + mu[j]).exp() * (rho[i][j] * s[i] * s[j]).exp_m1();
        }
    }
    let vol = sim.volatility();
    assert!(
        within_3se(vol.value, vol.std_error, v.sqrt()),
        "{vol} vs {}",
        v.sqrt()
    );
}

fn sample_returns(n: usize) -> Vec<f64> {
    // A deterministic, autocorrelated sample (so blocks matter).
    let mut x = 0.0f64;
    (0..n)
        .map(|i| {
            let shock = ((i as f64 * 12.9898).sin() * 43758.5453).fract() - 0.5;
            x = 0.3 * x + 0.02 * shock;
            x + 0.0004
        })
        .collect()
}

#[test]
fn bootstrap_mean_and_variance_match_the_sample() {
    let r = sample_returns(800);
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let var = r.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    let m4 = r.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n;
    let returns = Array2::from_shape_vec((r.len(), 1), r.clone()).unwrap();
    let h = 10;
    for mean_block in [1.0, 8.0] {
        let model = StationaryBootstrap::from_log_returns(&returns)
            .unwrap()
            .with_mean_block(mean_block)
            .unwrap();
        // One step: each path's log return is a uniform draw from the sample.
        let sim = run(
            &model,
            vec![1.0],
            SimulationParams::default().n_paths(40_000).steps(1).seed(9),
        );
        let logs: Vec<f64> = sim.sorted_returns().iter().map(|x| x.ln_1p()).collect();
        let k = logs.len() as f64;
        let m = logs.iter().sum::<f64>() / k;
        let v = logs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / k;
        assert!(within_3se(m, (var / k).sqrt(), mean), "mean {m} vs {mean}");
        assert!(
            within_3se(v, ((m4 - var * var) / k).sqrt(), var),
            "var {v} vs {var}"
        );
        // h steps: the rows are marginally uniform, so E[Σ r] = h·mean exactly.
        let sim = run(
            &model,
            vec![1.0],
            SimulationParams::default()
                .n_paths(40_000)
                .steps(h)
                .seed(10),
        );
        let logs: Vec<f64> = sim.sorted_returns().iter().map(|x| x.ln_1p()).collect();
        let m = logs.iter().sum::<f64>() / k;
        let sd = (logs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (k - 1.0)).sqrt();
        assert!(
            within_3se(m, sd / k.sqrt(), h as f64 * mean),
            "h-step mean {m}"
        );
        if mean_block == 1.0 {
            // i.i.d. resampling: Var[Σ r] = h·var.
            let v = sd * sd;
            let want = h as f64 * var;
            assert!((v / want - 1.0).abs() < 0.05, "h-step var {v} vs {want}");
        }
    }
}

#[test]
fn calibration_recovers_the_simulated_parameters() {
    // Prices from a known GBM (daily steps of 10 years): the MLE is within 3 standard errors.
    let gbm = Gbm::new(0.08, 0.25).unwrap();
    let steps = 2520;
    let params = SimulationParams::default()
        .n_paths(1)
        .steps(steps)
        .fan_chart(true)
        .fan_levels(vec![0.5])
        .seed(5);
    let sim = run(&gbm, vec![1.0], params);
    let fan = sim.fan_chart().unwrap();
    let prices: Vec<f64> = fan
        .values
        .column(0)
        .iter()
        .map(|r| 100.0 * (1.0 + r))
        .collect();
    let fit = calibrate(&PriceSeries::new("gbm", prices).unwrap(), 252.0).unwrap();
    assert!(
        within_3se(fit.volatility.value, fit.volatility.std_error, 0.25),
        "{:?}",
        fit.volatility
    );
    assert!(
        within_3se(fit.drift.value, fit.drift.std_error, 0.08),
        "{:?}",
        fit.drift
    );

    // Two correlated series.
    let model = CorrelatedGbm::new(
        vec![gbm, Gbm::new(0.03, 0.1).unwrap()],
        array![[1.0, 0.6], [0.6, 1.0]],
    )
    .unwrap();
    let (mut p0, mut p1) = (vec![], vec![]);
    for (asset, out) in [(0, &mut p0), (1, &mut p1)] {
        let w = if asset == 0 {
            vec![1.0, 0.0]
        } else {
            vec![0.0, 1.0]
        };
        let params = SimulationParams::default()
            .n_paths(1)
            .steps(steps)
            .fan_chart(true)
            .fan_levels(vec![0.5])
            .seed(6);
        let sim = run(&model, w, params);
        out.extend(
            sim.fan_chart()
                .unwrap()
                .values
                .column(0)
                .iter()
                .map(|r| 50.0 * (1.0 + r)),
        );
    }
    let fit = calibrate_assets(
        &[
            PriceSeries::new("a", p0).unwrap(),
            PriceSeries::new("b", p1).unwrap(),
        ],
        252.0,
    )
    .unwrap();
    // se(ρ̂) ≈ (1 − ρ²)/√n.
    let se = (1.0 - 0.36) / (steps as f64).sqrt();
    assert!(
        within_3se(fit.correlation[[0, 1]], se, 0.6),
        "{}",
        fit.correlation
    );
    assert!(fit.model().is_ok());
}

#[test]
fn a_seed_gives_bit_identical_results_on_1_and_2_threads() {
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let corr = array![[1.0, 0.5, 0.2], [0.5, 1.0, 0.1], [0.2, 0.1, 1.0]];
    let gbm = CorrelatedGbm::new(
        vec![
            Gbm::new(0.05, 0.2).unwrap(),
            Gbm::new(0.02, 0.1).unwrap(),
            Gbm::new(0.1, 0.4).unwrap(),
        ],
        corr,
    )
    .unwrap();
    let boot = StationaryBootstrap::from_log_returns(
        &Array2::from_shape_vec((400, 1), sample_returns(400)).unwrap(),
    )
    .unwrap();
    for antithetic in [false, true] {
        let params = SimulationParams::default()
            .n_paths(3_000)
            .steps(30)
            .seed(42)
            .antithetic(antithetic)
            .fan_chart(true);
        let one =
            pool(1).install(|| run(&gbm, vec![0.2, 0.5, 0.3], params.clone().chunk_size(1000)));
        let two = pool(2).install(|| run(&gbm, vec![0.2, 0.5, 0.3], params.clone().chunk_size(64)));
        assert_eq!(one, two);
        let bits = |s: &Simulation| {
            s.sorted_returns()
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&one), bits(&two));
        assert_eq!(one.fan_chart(), two.fan_chart());
        let other_seed = run(&gbm, vec![0.2, 0.5, 0.3], params.seed(43));
        assert_ne!(one.sorted_returns(), other_seed.sorted_returns());
    }
    let params = SimulationParams::default().n_paths(2_000).steps(50).seed(1);
    let one = pool(1).install(|| run(&boot, vec![1.0], params.clone()));
    let two = pool(2).install(|| run(&boot, vec![1.0], params.clone().chunk_size(7)));
    assert_eq!(one, two);
}

#[test]
fn antithetic_pairs_mirror_each_other_and_reduce_the_error() {
    let gbm = Gbm::new(0.07, 0.2).unwrap();
    let base = SimulationParams::default()
        .n_paths(20_000)
        .steps(12)
        .steps_per_year(12.0)
        .seed(4);
    let plain = run(&gbm, vec![1.0], base.clone());
    let anti = run(&gbm, vec![1.0], base.antithetic(true));
    assert!(anti.expected_return().std_error < plain.expected_return().std_error);
    assert!(within_3se(
        anti.expected_return().value,
        anti.expected_return().std_error,
        gbm.expected_return(1.0)
    ));
}

#[test]
fn the_fan_chart_is_ordered_and_ends_at_the_horizon_percentiles() {
    let gbm = Gbm::new(0.07, 0.2).unwrap();
    let params = SimulationParams::default()
        .n_paths(5_000)
        .steps(20)
        .fan_chart(true)
        .fan_levels(vec![0.05, 0.5, 0.95]);
    let sim = run(&gbm, vec![1.0], params);
    let fan = sim.fan_chart().unwrap();
    assert_eq!(fan.values.dim(), (21, 3));
    assert!(fan.values.row(0).iter().all(|&v| v == 0.0));
    for row in fan.values.rows().into_iter().skip(1) {
        assert!(row[0] < row[1] && row[1] < row[2]);
    }
    for (j, l) in [0.05, 0.5, 0.95].into_iter().enumerate() {
        approx::assert_relative_eq!(
            fan.values[[20, j]],
            sim.percentile(l).unwrap(),
            max_relative = 1e-12
        );
    }
    // Without the fan chart, only the horizon returns are kept.
    let plain = run(
        &gbm,
        vec![1.0],
        SimulationParams::default().n_paths(5_000).steps(20),
    );
    assert!(plain.fan_chart().is_none());
    assert_eq!(plain.sorted_returns(), sim.sorted_returns());
}

#[test]
fn the_observer_sees_every_chunk_and_the_result() {
    #[derive(Default)]
    struct Seen {
        steps: Vec<(usize, usize, usize)>,
        results: usize,
    }
    impl Observer<Simulation> for Seen {
        fn on_step(&mut self, round: usize, step: usize, steps: usize) {
            self.steps.push((round, step, steps));
        }
        fn on_epoch(&mut self, _: &Simulation) {
            self.results += 1;
        }
    }
    let mut seen = Seen::default();
    let gbm = Gbm::new(0.07, 0.2).unwrap();
    let params = SimulationParams::default()
        .n_paths(1_000)
        .steps(3)
        .chunk_size(300);
    simulate(
        &gbm,
        &Portfolio::single(1, 0).unwrap(),
        params,
        &CancelToken::new(),
        &mut seen,
    )
    .unwrap();
    assert_eq!(seen.steps, vec![(1, 1, 4), (1, 2, 4), (1, 3, 4), (1, 4, 4)]);
    assert_eq!(seen.results, 1);
}
