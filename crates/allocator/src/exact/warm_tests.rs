//! Warm re-solves against cold solves on random changes (quota, fund added or closed, rows
//! updated, customers added or removed), and the online allocator at the offline prices.

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

use fundalloc_core_types::{Allocation, RevenueMatrix, RiskLevel};

use crate::{AllocationProblem, Exact, ExposureRange, GAP_TOLERANCE, OnlineAllocator, PerCustomer};

/// An owned problem description that can be edited and rebuilt.
#[derive(Debug, Clone)]
pub(super) struct Spec {
    pub(super) e: Vec<f64>,
    pub(super) f: usize,
    pub(super) tol: Vec<RiskLevel>,
    pub(super) risk: Vec<RiskLevel>,
    pub(super) rule: PerCustomer,
    pub(super) range: Vec<ExposureRange>,
}

impl Spec {
    pub(super) fn u(&self) -> usize {
        self.tol.len()
    }

    pub(super) fn build(&self) -> Option<AllocationProblem<f64>> {
        let e = RevenueMatrix::from_shape_vec(self.u(), self.f, self.e.clone()).ok()?;
        AllocationProblem::new(
            e,
            self.tol.clone(),
            self.risk.clone(),
            self.rule,
            self.range.clone(),
        )
        .ok()
    }

    pub(super) fn random(rng: &mut StdRng) -> Self {
        let u = rng.random_range(5..200);
        let f = rng.random_range(2..7);
        let k = rng.random_range(1..f.min(3) + 1);
        let at_most = rng.random_bool(0.3);
        // Integer revenues make ties common (degenerate duals), floats make them rare.
        let ints = rng.random_bool(0.5);
        let e = (0..u * f)
            .map(|_| {
                if ints {
                    f64::from(rng.random_range(0..6u8))
                } else {
                    rng.random::<f64>() * 10.0
                }
            })
            .collect();
        let risk: Vec<RiskLevel> = (0..f)
            .map(|g| RiskLevel::new(if g < k { 1 } else { rng.random_range(1..4) }))
            .collect();
        let tol = (0..u)
            .map(|_| RiskLevel::new(rng.random_range(1..4)))
            .collect();
        // Ranges around an even share, loose enough to stay feasible after most changes.
        let share = (u * k) as f64 / f as f64;
        let range = (0..f)
            .map(|_| {
                let lo = (share * rng.random_range(0.0..0.6)) as u64;
                let hi = (share * rng.random_range(1.2..2.5)).ceil() as u64 + 1;
                if !at_most && rng.random_bool(0.2) {
                    ExposureRange::new(0, u as u64)
                } else {
                    ExposureRange::new(lo, hi)
                }
            })
            .collect();
        Self {
            e,
            f,
            tol,
            risk,
            rule: if at_most {
                PerCustomer::AtMost(k)
            } else {
                PerCustomer::Exactly(k)
            },
            range,
        }
    }
}

/// Applies change `kind` to `spec`; returns the warm start for the new problem: prices (one per
/// new fund) and the previous funds of each new customer.
fn change(
    rng: &mut StdRng,
    spec: &mut Spec,
    kind: u8,
    prices: &[f64],
    alloc: &Allocation,
) -> (Vec<f64>, Vec<Vec<u32>>) {
    let mut prices = prices.to_vec();
    let mut rows: Vec<Vec<u32>> = alloc.iter().map(|(_, fs)| fs.to_vec()).collect();
    let f = spec.f;
    match kind {
        0 => {
            // A quota changed.
            let g = rng.random_range(0..f);
            let r = spec.range[g];
            let hi = r
                .max
                .saturating_add(rng.random_range(0..5))
                .saturating_sub(rng.random_range(0..5));
            spec.range[g] = ExposureRange::new(r.min.min(hi) / 2, hi);
        }
        1 => {
            // A fund added (last index, price 0).
            let mut e = Vec::with_capacity(spec.u() * (f + 1));
            for u in 0..spec.u() {
                e.extend_from_slice(&spec.e[u * f..(u + 1) * f]);
                e.push(rng.random::<f64>() * 12.0);
            }
            spec.e = e;
            spec.f += 1;
            spec.risk.push(RiskLevel::new(rng.random_range(1..3)));
            spec.range
                .push(ExposureRange::new(0, spec.u() as u64 / 3 + 1));
            prices.push(0.0);
        }
        2 => {
            // A fund closed: drop column g, re-index the previous funds.
            let g = rng.random_range(0..f);
            let mut e = Vec::with_capacity(spec.u() * (f - 1));
            for u in 0..spec.u() {
                e.extend((0..f).filter(|&h| h != g).map(|h| spec.e[u * f + h]));
            }
            spec.e = e;
            spec.f -= 1;
            spec.risk.remove(g);
            spec.range.remove(g);
            prices.remove(g);
            for r in &mut rows {
                r.retain(|&h| h as usize != g);
                r.iter_mut().for_each(|h| {
                    if *h as usize > g {
                        *h -= 1;
                    }
                });
            }
        }
        3 => {
            // Some customers' rows updated.
            for _ in 0..rng.random_range(1..spec.u().min(10) + 1) {
                let u = rng.random_range(0..spec.u());
                for h in 0..f {
                    spec.e[u * f + h] = rng.random::<f64>() * 10.0;
                }
            }
        }
        4 => {
            // Customers added (no previous funds).
            for _ in 0..rng.random_range(1..10) {
                spec.e.extend((0..f).map(|_| rng.random::<f64>() * 10.0));
                spec.tol.push(RiskLevel::new(rng.random_range(1..4)));
                rows.push(Vec::new());
            }
        }
        _ => {
            // Customers removed.
            for _ in 0..rng.random_range(1..spec.u().min(10)) {
                let u = rng.random_range(0..spec.u());
                spec.e.drain(u * f..(u + 1) * f);
                spec.tol.remove(u);
                rows.remove(u);
            }
        }
    }
    (prices, rows)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A warm re-solve after a random change finds the cold optimum with a closed gap, with and
    /// without the previous allocation. (About 90 % of the drawn changes keep the problem
    /// feasible and are compared; the others are skipped.)
    #[test]
    fn warm_equals_cold_after_random_changes(seed in any::<u64>(), kind in 0u8..6) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut spec = Spec::random(&mut rng);
        let Some(before) = spec.build() else { return Ok(()) };
        let (old, cert) = Exact::new().solve_certified(&before).unwrap();
        let (prices, rows) = change(&mut rng, &mut spec, kind, cert.fund_prices(), &old.allocation);
        let Some(after) = spec.build() else { return Ok(()) };
        let (cold, cold_cert) = Exact::new().solve_certified(&after).unwrap();
        let previous = Allocation::from_rows(after.n_funds(), rows.iter().map(|r| r.iter().copied())).unwrap();
        for prev in [None, Some(&previous)] {
            let (warm, warm_cert) = Exact::new().solve_warm(&after, &prices, prev).unwrap();
            let tol = GAP_TOLERANCE * cold.report.objective.abs().max(1.0);
            prop_assert!((warm.report.objective - cold.report.objective).abs() <= tol,
                "warm {} vs cold {}", warm.report.objective, cold.report.objective);
            prop_assert!(warm_cert.gap().abs() <= tol);
            // The certificate checks out independently of the solver.
            let bound = warm_cert.recompute_bound(&after);
            prop_assert!((bound - warm.report.objective).abs() <= tol);
            prop_assert!(warm.report.is_feasible());
        }
        prop_assert!(cold_cert.gap().abs() <= GAP_TOLERANCE * cold.report.objective.abs().max(1.0));
    }

    /// With unlimited capacity the online rule at the optimal prices never exceeds a maximum,
    /// and earns what the per-customer best sets earn.
    #[test]
    fn online_respects_capacity(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let spec = Spec::random(&mut rng);
        let Some(problem) = spec.build() else { return Ok(()) };
        let (_, cert) = Exact::new().solve_certified(&problem).unwrap();
        let prices = cert.prices_for(&problem).unwrap();
        let mut online = OnlineAllocator::new(&prices);
        let mut out = Vec::new();
        for u in 0..problem.n_customers() {
            let n = online.assign(problem.revenue().row(u), problem.tolerance()[u], &mut out).unwrap();
            prop_assert_eq!(n, out.len());
            prop_assert!(n <= problem.k());
            for &g in &out {
                prop_assert!(problem.is_eligible(u, g as usize));
            }
        }
        for (load, r) in online.loads().iter().zip(problem.exposure()) {
            prop_assert!(*load <= r.max);
        }
    }
}

#[test]
fn warm_start_rejects_bad_prices_and_shapes() {
    let e = RevenueMatrix::from_shape_vec(3, 2, vec![5.0, 1.0, 4.0, 3.0, 1.0, 0.5]).unwrap();
    let p = AllocationProblem::builder(e)
        .exactly(1)
        .exposures(vec![1, 2])
        .build()
        .unwrap();
    let x = Exact::new();
    assert!(x.solve_warm(&p, &[0.0], None).is_err());
    assert!(x.solve_warm(&p, &[f64::NAN, 0.0], None).is_err());
    let a = Allocation::from_rows(2, [vec![0u32], vec![1]]).unwrap();
    assert!(x.solve_warm(&p, &[0.0, 0.0], Some(&a)).is_err());
    // Garbage prices still give the optimum.
    let (s, c) = x.solve_warm(&p, &[1e6, -1e6], None).unwrap();
    assert!((s.report.objective - 8.5).abs() < 1e-12);
    assert!(c.gap().abs() < 1e-9);
}

/// A large quota move (more excess than the warm threshold) takes the sample-level path.
#[test]
fn warm_after_a_large_quota_move_runs_the_levels_and_matches_cold() {
    let base: AllocationProblem<f32> = crate::LctLike::new(40_000, 6).seed(7).generate().unwrap();
    let (_, cert) = Exact::new().solve_certified(&base).unwrap();
    let mut d: Vec<u64> = base.exposure().iter().map(|r| r.min).collect();
    // Into fund 0 (risk level 1: everyone may hold it) from the largest other fund.
    let big = (1..6).max_by_key(|&g| d[g]).unwrap();
    d[big] -= 6000;
    d[0] += 6000;
    let changed = AllocationProblem::new(
        base.revenue().clone(),
        base.tolerance().to_vec(),
        base.fund_risk().to_vec(),
        PerCustomer::Exactly(1),
        d.into_iter().map(ExposureRange::exact).collect(),
    )
    .unwrap();
    let (cold, _) = Exact::new().solve_certified(&changed).unwrap();
    let (warm, c) = Exact::new()
        .solve_warm(&changed, cert.fund_prices(), None)
        .unwrap();
    assert!((warm.report.objective - cold.report.objective).abs() <= 1e-9 * cold.report.objective);
    assert!(c.gap().abs() <= 1e-9 * cold.report.objective);
    assert!(
        warm.report.notes[1].starts_with("levels 2"),
        "{}",
        warm.report.notes[1]
    );
}
