//! Throughput of the Monte Carlo engine, the Rust side of the NumPy comparison in
//! `docs/benchmarks.md` (the NumPy side is `docs/simulation_numpy.py`).
//!
//! `cargo run --release -p fundalloc-simulation --example simulation_bench [-- REPEATS]`
//!
//! Two workloads, each to the horizon statistics (mean, volatility, VaR and CVaR at 95 %):
//! 1. one GBM asset, 1,000,000 paths × 252 daily steps;
//! 2. a 10-asset correlated GBM portfolio (equal weights, all correlations 0.3), 100,000
//!    paths × 252 steps.
//!
//! Prints the best of `REPEATS` (default 3) wall-clock times of each, on rayon's default pool.
//!
//! Lives in this crate (not in `examples/`) so a release build compiles only the engine and
//! core-types, not the burn-based crates of the examples package.

use std::time::Instant;

use fundalloc_core_types::{CancelToken, NoObserver};
use fundalloc_simulation::{CorrelatedGbm, Gbm, Portfolio, SimulationParams, simulate};
use ndarray::Array2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let repeats: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(3);
    println!("rayon threads: {}", rayon::current_num_threads());

    let gbm = Gbm::new(0.07, 0.2)?;
    let params = SimulationParams::default()
        .n_paths(1_000_000)
        .steps(252)
        .seed(1);
    let best = time(repeats, || {
        let sim = simulate(
            &gbm,
            &Portfolio::single(1, 0)?,
            params.clone(),
            &CancelToken::new(),
            &mut NoObserver,
        )?;
        let tail = sim.tail(0.95)?;
        Ok(format!(
            "E[R] = {:.5}, vol = {:.5}, VaR95 = {:.5}, CVaR95 = {:.5}",
            sim.expected_return().value,
            sim.volatility().value,
            tail.var.value,
            tail.cvar.value
        ))
    })?;
    println!("gbm_1asset_1M_x_252: {best:.3} s");

    let d = 10;
    let assets: Vec<Gbm> = (0..d)
        .map(|i| Gbm::new(0.04 + 0.005 * i as f64, 0.1 + 0.02 * i as f64))
        .collect::<Result<_, _>>()?;
    let corr = Array2::from_shape_fn((d, d), |(i, j)| if i == j { 1.0 } else { 0.3 });
    let model = CorrelatedGbm::new(assets, corr)?;
    let params = SimulationParams::default()
        .n_paths(100_000)
        .steps(252)
        .seed(2);
    let best = time(repeats, || {
        let sim = simulate(
            &model,
            &Portfolio::equal(d)?,
            params.clone(),
            &CancelToken::new(),
            &mut NoObserver,
        )?;
        let tail = sim.tail(0.95)?;
        Ok(format!(
            "E[R] = {:.5}, vol = {:.5}, VaR95 = {:.5}, CVaR95 = {:.5}",
            sim.expected_return().value,
            sim.volatility().value,
            tail.var.value,
            tail.cvar.value
        ))
    })?;
    println!("gbm_10assets_100k_x_252: {best:.3} s");
    Ok(())
}

/// The fastest of `repeats` runs, printing the first run's statistics.
fn time(
    repeats: usize,
    mut run: impl FnMut() -> Result<String, Box<dyn std::error::Error>>,
) -> Result<f64, Box<dyn std::error::Error>> {
    let mut best = f64::INFINITY;
    for r in 0..repeats.max(1) {
        let start = Instant::now();
        let stats = run()?;
        best = best.min(start.elapsed().as_secs_f64());
        if r == 0 {
            println!("  {stats}");
        }
    }
    Ok(best)
}
