//! The exact risk-aware solver against HiGHS (through good_lp) on the same instances.
//!
//! ```text
//! cargo run --release -p fundalloc-timeseries-pno --features highs --example solver_vs_highs
//! ```
//!
//! Instances look like the training-time problems: H = 144 costs that follow a random walk
//! (a forecast), radii that grow with the horizon plus noise (conformal radii), r̄ = the median of
//! r (Eq. 11). Both solvers get every instance from scratch (the exact one-shot solve includes
//! its O(H log H) sort); HiGHS's time includes good_lp's model building, as a caller would pay.

use std::hint::black_box;
use std::time::Instant;

use fundalloc_timeseries_pno::solve_with_highs;
use fundalloc_timeseries_pno::{RiskConstraint, quantile, solve_risk_aware};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn instance(rng: &mut StdRng, h: usize) -> (Vec<f64>, Vec<f64>, f64) {
    let mut price = 100.0;
    let cost: Vec<f64> = (0..h)
        .map(|_| {
            price += rng.random_range(-1.0..1.0);
            price
        })
        .collect();
    let risk: Vec<f64> = (0..h)
        .map(|i| 0.5 + 0.02 * i as f64 + rng.random_range(0.0..0.3))
        .collect();
    let budget = quantile(&risk, 0.5).unwrap_or(1.0);
    (cost, risk, budget)
}

fn main() {
    for h in [30usize, 144] {
        let n = 2000;
        let mut rng = StdRng::seed_from_u64(42);
        let instances: Vec<_> = (0..n).map(|_| instance(&mut rng, h)).collect();

        let start = Instant::now();
        let mut exact = Vec::with_capacity(n);
        let reps = 50;
        for _ in 0..reps {
            exact.clear();
            for (c, r, b) in &instances {
                exact.push(black_box(solve_risk_aware(c, r, *b).map(|s| s.objective())));
            }
        }
        let exact_secs = start.elapsed().as_secs_f64() / (reps * n) as f64;

        // O(H) path: one sorted risk vector shared by many cost vectors (a training batch).
        let (_, r0, b0) = &instances[0];
        let shared = RiskConstraint::new(r0, *b0).ok();
        let start = Instant::now();
        for _ in 0..reps {
            for (c, _, _) in &instances {
                black_box(shared.as_ref().map(|s| s.solve(c)));
            }
        }
        let shared_secs = start.elapsed().as_secs_f64() / (reps * n) as f64;

        let start = Instant::now();
        let highs: Vec<_> = instances
            .iter()
            .map(|(c, r, b)| solve_with_highs(c, r, *b))
            .collect();
        let highs_secs = start.elapsed().as_secs_f64() / n as f64;

        let binding = instances
            .iter()
            .filter(|(c, r, b)| solve_risk_aware(c, r, *b).is_ok_and(|s| s.support().len() == 2))
            .count();
        let mut max_abs = 0.0f64;
        let mut max_rel = 0.0f64;
        let mut disagreements = 0;
        for (e, hi) in exact.iter().zip(&highs) {
            match (e, hi) {
                (Ok(e), Ok(hi)) => {
                    max_abs = max_abs.max((e - hi).abs());
                    max_rel = max_rel.max((e - hi).abs() / hi.abs().max(1.0));
                }
                (Err(_), Err(_)) => {}
                _ => disagreements += 1,
            }
        }
        println!(
            "H = {h:>3}, {n} instances: exact one-shot {:.2} µs, exact shared-r {:.2} µs, \
             HiGHS {:.1} µs → HiGHS / exact = {:.0}× (one-shot), {:.0}× (shared r); \
             max |Δobjective| = {max_abs:.2e} (relative {max_rel:.2e}), feasibility disagreements {disagreements}, \
             two-step optima {binding}/{n}",
            exact_secs * 1e6,
            shared_secs * 1e6,
            highs_secs * 1e6,
            highs_secs / exact_secs,
            highs_secs / shared_secs,
        );
    }
}
