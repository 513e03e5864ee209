//! Every solver against the verifier, brute force and a naive reference of Algorithm 1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::needless_range_loop)]

use fundalloc_allocator::prelude::*;
use fundalloc_allocator::{InvalidParameter, LctLike, LpMode, Violation};
use proptest::prelude::*;

/// A small instance: values from a few levels (ties), random risk, exposures either from a
/// witness draw (feasible) or arbitrary.
#[derive(Debug, Clone)]
struct Raw {
    u: usize,
    f: usize,
    k: usize,
    values: Vec<f64>,
    tolerance: Vec<u8>,
    risk: Vec<u8>,
    exposures: Vec<u64>,
}

impl Raw {
    fn build(&self) -> Result<AllocationProblem, AllocError> {
        AllocationProblem::builder(RevenueMatrix::from_shape_vec(
            self.u,
            self.f,
            self.values.clone(),
        )?)
        .exactly(self.k)
        .exposures(self.exposures.clone())
        .customer_tolerance(self.tolerance.iter().map(|&t| RiskLevel::new(t)).collect())
        .fund_risk(self.risk.iter().map(|&r| RiskLevel::new(r)).collect())
        .build()
    }
}

fn raw(max_u: usize, max_f: usize, witness: bool) -> impl Strategy<Value = Raw> {
    (1..=max_u, 1..=max_f)
        .prop_flat_map(move |(u, f)| {
            (
                Just(u),
                Just(f),
                1..=f.min(3),
                proptest::collection::vec(
                    prop_oneof![(0u8..4).prop_map(f64::from), 0.0..10.0f64],
                    u * f,
                ),
                proptest::collection::vec(1u8..4, u),
                proptest::collection::vec(1u8..4, f),
                proptest::collection::vec(any::<u64>(), u * 3 + 3),
            )
        })
        .prop_map(move |(u, f, k, values, mut tolerance, risk, seeds)| {
            // Each customer gets K eligible funds (tolerance raised if needed), drawn at random;
            // the counts are a feasible exposure vector (the draw is a witness).
            let mut exposures = vec![0u64; f];
            let mut sorted = risk.clone();
            sorted.sort_unstable();
            for (i, t) in tolerance.iter_mut().enumerate() {
                *t = (*t).max(sorted[k - 1]);
                let mut eligible: Vec<usize> = (0..f).filter(|&j| risk[j] <= *t).collect();
                for s in 0..k {
                    let pick = (seeds[i * 3 + s] as usize) % eligible.len();
                    exposures[eligible.swap_remove(pick)] += 1;
                }
            }
            if !witness {
                // Perturb: move one exposure between two funds (the risk structure decides
                // whether the result is feasible), or undo a customer's tolerance raise.
                let (a, b) = (seeds[u * 3] as usize % f, seeds[u * 3 + 1] as usize % f);
                match seeds[u * 3 + 2] % 3 {
                    0 if exposures[a] > 0 => {
                        exposures[a] -= 1;
                        exposures[b] += 1;
                    }
                    1 => tolerance[a % u] = 1,
                    _ => exposures[a] += seeds[u * 3 + 2] % 2,
                }
            }
            Raw {
                u,
                f,
                k,
                values,
                tolerance,
                risk,
                exposures,
            }
        })
}

/// Max objective over all feasible allocations (None if none), by enumeration.
fn brute_force(p: &AllocationProblem) -> Option<f64> {
    let (u_n, f_n, k) = (p.n_customers(), p.n_funds(), p.k());
    let subsets: Vec<Vec<Vec<usize>>> = (0..u_n)
        .map(|u| {
            (0u32..1 << f_n)
                .filter(|m| m.count_ones() as usize == k)
                .map(|m| (0..f_n).filter(|&f| m >> f & 1 == 1).collect::<Vec<_>>())
                .filter(|s| s.iter().all(|&f| p.is_eligible(u, f)))
                .collect()
        })
        .collect();
    let mut best: Option<f64> = None;
    let mut counts = vec![0u64; f_n];
    fn rec(
        u: usize,
        p: &AllocationProblem,
        subsets: &[Vec<Vec<usize>>],
        counts: &mut Vec<u64>,
        value: f64,
        best: &mut Option<f64>,
    ) {
        if u == subsets.len() {
            if counts.iter().zip(p.exposure()).all(|(&c, r)| r.contains(c)) {
                *best = Some(best.map_or(value, |b: f64| b.max(value)));
            }
            return;
        }
        for s in &subsets[u] {
            if s.iter().any(|&f| counts[f] >= p.exposure()[f].max) {
                continue;
            }
            let mut v = value;
            for &f in s {
                counts[f] += 1;
                v += p.revenue().row(u)[f];
            }
            rec(u + 1, p, subsets, counts, v, best);
            for &f in s {
                counts[f] -= 1;
            }
        }
    }
    rec(0, p, &subsets, &mut counts, 0.0, &mut best);
    best
}

/// Algorithm 1 written as plainly as possible (full recomputation and full sort after every
/// exhausted fund, no guard). `None` when it strands a customer.
fn naive_ha(p: &AllocationProblem) -> Option<Vec<Vec<u32>>> {
    let (u_n, f_n, k) = (p.n_customers(), p.n_funds(), p.k());
    let mut d: Vec<u64> = p.exposure().iter().map(|r| r.min).collect();
    let mut rest: Vec<usize> = (0..u_n).collect();
    let mut out = vec![Vec::new(); u_n];
    let e = |u: usize, f: usize| p.revenue().row(u)[f];
    while !rest.is_empty() {
        let open = |f: usize, d: &[u64]| d[f] > 0;
        let alpha: Vec<f64> = (0..f_n)
            .map(|f| {
                if !open(f, &d) {
                    return 0.0;
                }
                rest.iter()
                    .filter(|&&u| p.is_eligible(u, f))
                    .map(|&u| e(u, f))
                    .sum::<f64>()
                    / d[f] as f64
            })
            .collect();
        let sorted_funds = |u: usize, d: &[u64]| {
            let mut fs: Vec<usize> = (0..f_n)
                .filter(|&f| open(f, d) && p.is_eligible(u, f))
                .collect();
            fs.sort_by(|&a, &b| e(u, b).partial_cmp(&e(u, a)).unwrap().then(a.cmp(&b)));
            fs
        };
        let mut scored: Vec<(f64, usize)> = rest
            .iter()
            .map(|&u| {
                let fs = sorted_funds(u, &d);
                // fold from +0.0 (`sum` starts at −0.0, which `total_cmp` orders below +0.0).
                let h = fs
                    .windows(2)
                    .map(|w| alpha[w[0]] * (e(u, w[0]) - e(u, w[1])))
                    .fold(0.0, |a, b| a + b);
                (h, u)
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut served = 0;
        for &(_, u) in &scored {
            let fs = sorted_funds(u, &d);
            if fs.len() < k {
                return None;
            }
            served += 1;
            let mut exhausted = false;
            for &f in &fs[..k] {
                out[u].push(f as u32);
                d[f] -= 1;
                exhausted |= d[f] == 0;
            }
            if exhausted {
                break;
            }
        }
        let done: Vec<usize> = scored[..served].iter().map(|s| s.1).collect();
        rest.retain(|u| !done.contains(u));
    }
    Some(out)
}

fn all_solvers() -> Vec<(&'static str, Box<dyn Solver>)> {
    vec![
        ("ha", Box::new(Heuristic::new())),
        ("manual", Box::new(Manual::new())),
        ("lp", Box::new(Lp::new())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn feasible_instances_every_solver_verifies_and_lp_dominates(r in raw(9, 5, true)) {
        let p = r.build().expect("witness instances are feasible");
        let lp = Lp::new().solve(&p).unwrap();
        let greedy = GreedyTopK::new().solve(&p).unwrap();
        // Greedy ignores exposures: it is a relaxation, so it bounds the optimum from above.
        prop_assert!(greedy.report.objective >= lp.report.objective - 1e-9);
        prop_assert_eq!(greedy.report.is_feasible(), check(&p, &greedy.allocation).is_feasible());
        for (name, solver) in all_solvers() {
            let s = solver.solve(&p).unwrap();
            let v = verify(&p, &s.allocation);
            prop_assert!(v.is_ok(), "{name}: {v:?}");
            prop_assert!((v.unwrap().objective - s.report.objective).abs() < 1e-9);
            prop_assert!(s.report.objective <= lp.report.objective + 1e-9, "{name} beats LP");
        }
        prop_assert!(lp.report.gap().unwrap() < 1e-9);
    }

    #[test]
    fn lp_and_mip_equal_brute_force(r in raw(6, 4, false)) {
        let built = r.build();
        // Build the same problem without validation's verdict to compare with enumeration.
        match built {
            Ok(p) => {
                let best = brute_force(&p);
                prop_assert!(best.is_some(), "validation accepted an infeasible instance");
                let best = best.unwrap();
                let lp = Lp::new().solve(&p).unwrap();
                prop_assert!((lp.report.objective - best).abs() < 1e-7, "lp {} vs {}", lp.report.objective, best);
                let mip = Lp::mip().solve(&p).unwrap();
                prop_assert!((mip.report.objective - best).abs() < 1e-7);
                for (name, solver) in all_solvers() {
                    let s = solver.solve(&p).unwrap();
                    prop_assert!(verify(&p, &s.allocation).is_ok(), "{name}");
                }
            }
            Err(err) => {
                // Every rejection is a typed feasibility error, and enumeration agrees.
                prop_assert!(matches!(
                    err,
                    AllocError::ExposureTotal { .. }
                        | AllocError::TooFewEligibleFunds { .. }
                        | AllocError::FundTooFewEligibleCustomers { .. }
                        | AllocError::RiskCapacity { .. }
                        | AllocError::RiskDemand { .. }
                        | AllocError::Infeasible { .. }
                ), "{err:?}");
                let unvalidated = unvalidated_best(&r);
                prop_assert!(unvalidated.is_none(), "rejected ({err}) but enumeration found {unvalidated:?}");
            }
        }
    }

    #[test]
    fn ha_is_algorithm_1_when_algorithm_1_does_not_get_stuck(r in raw(12, 5, true)) {
        let p = r.build().unwrap();
        let s = Heuristic::new().solve(&p).unwrap();
        match naive_ha(&p) {
            Some(reference) => {
                prop_assert!(!s.report.repaired);
                for (u, funds) in reference.iter().enumerate() {
                    let mut a = s.allocation.funds_of(u).to_vec();
                    let mut b = funds.clone();
                    a.sort_unstable();
                    b.sort_unstable();
                    prop_assert_eq!(a, b, "customer {}", u);
                }
            }
            None => prop_assert!(s.report.repaired),
        }
    }
}

/// Enumeration on an instance the builder rejected: rebuild with the checks' inputs directly.
fn unvalidated_best(r: &Raw) -> Option<f64> {
    // Same enumeration as `brute_force`, without a validated problem.
    let (u_n, f_n, k) = (r.u, r.f, r.k);
    let mut best = None;
    let subsets: Vec<u32> = (0u32..1 << f_n)
        .filter(|m| m.count_ones() as usize == k)
        .collect();
    let mut choice = vec![0usize; u_n];
    loop {
        let mut counts = vec![0u64; f_n];
        let mut ok = true;
        let mut value = 0.0;
        for u in 0..u_n {
            let m = subsets[choice[u]];
            for f in 0..f_n {
                if m >> f & 1 == 1 {
                    counts[f] += 1;
                    value += r.values[u * f_n + f];
                    ok &= r.risk[f] <= r.tolerance[u];
                }
            }
        }
        if ok && counts == r.exposures {
            best = Some(value);
        }
        // Next combination (odometer).
        let mut i = 0;
        loop {
            if i == u_n {
                return best;
            }
            choice[i] += 1;
            if choice[i] < subsets.len() {
                break;
            }
            choice[i] = 0;
            i += 1;
        }
    }
}

#[test]
fn the_guard_repairs_a_stranding_order() {
    // Customer 0 tolerates everything and scores highest; it takes the only safe exposure
    // under plain HA, stranding the cautious customer 1.
    let e = RevenueMatrix::from_shape_vec(2, 2, vec![10.0, 0.0, 1.0, 0.5]).unwrap();
    let p = AllocationProblem::builder(e)
        .exposures(vec![1, 1])
        .customer_tolerance(vec![RiskLevel::new(5), RiskLevel::new(1)])
        .fund_risk(vec![RiskLevel::new(1), RiskLevel::new(4)])
        .build()
        .unwrap();
    assert!(naive_ha(&p).is_none());
    let s = Heuristic::new().solve(&p).unwrap();
    assert!(s.report.repaired);
    assert_eq!(s.allocation.funds_of(0), &[1]);
    assert_eq!(s.allocation.funds_of(1), &[0]);
    let m = Manual::new().solve(&p).unwrap();
    assert!(m.report.repaired);
    assert!(verify(&p, &m.allocation).is_ok());
}

#[test]
fn greedy_reports_the_matthew_effect() {
    let p = LctLike::new(2_000, 8).seed(3).generate::<f64>().unwrap();
    let g = GreedyTopK::new().solve(&p).unwrap();
    assert!(!g.report.is_feasible());
    assert!(
        g.report
            .violations
            .iter()
            .all(|v| matches!(v, Violation::Exposure { .. }))
    );
    let ha = Heuristic::new().solve(&p).unwrap();
    assert!(g.report.objective > ha.report.objective);
}

#[test]
fn heuristics_refuse_variants_they_do_not_handle() {
    let e = RevenueMatrix::from_shape_vec(3, 2, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    let p = AllocationProblem::builder(e)
        .at_most(1)
        .exposure_ranges(vec![ExposureRange::new(0, 2), ExposureRange::new(1, 3)])
        .build()
        .unwrap();
    for solver in [&Heuristic::new() as &dyn Solver, &Manual::new()] {
        assert!(matches!(
            solver.solve(&p),
            Err(AllocError::Unsupported { .. })
        ));
    }
    // Lp handles it: best is customers 1, 2 → fund 1 (4 + 6) and customer 0 → fund 1 (2)? Fund 1
    // takes at most 3, so all three take fund 1: 2 + 4 + 6.
    let s = Lp::new().solve(&p).unwrap();
    assert_eq!(s.report.objective, 12.0);
    assert_eq!(Lp::mip().solve(&p).unwrap().report.objective, 12.0);
}

#[test]
fn manual_priority_must_be_a_permutation() {
    let p = LctLike::new(50, 3).seed(1).generate::<f64>().unwrap();
    for bad in [vec![0, 1], vec![0, 1, 1], vec![0, 1, 3]] {
        assert!(matches!(
            Manual::new().priority(bad).solve(&p),
            Err(AllocError::InvalidParameter(InvalidParameter {
                name: "priority",
                ..
            }))
        ));
    }
    assert!(Manual::new().priority(vec![2, 0, 1]).solve(&p).is_ok());
}

#[test]
fn generated_instances_are_solved_in_f32_and_k2() {
    let p = LctLike::new(300, 8).k(2).seed(5).generate::<f32>().unwrap();
    let lp = Lp::new().solve(&p).unwrap();
    for s in [
        Heuristic::new().solve(&p).unwrap(),
        Manual::new().solve(&p).unwrap(),
    ] {
        assert!(verify(&p, &s.allocation).is_ok());
        assert!(s.report.objective <= lp.report.objective + 1e-6);
    }
    assert_eq!(
        LctLike::new(300, 8)
            .seed(5)
            .generate::<f64>()
            .unwrap()
            .exposure(),
        LctLike::new(300, 8)
            .seed(5)
            .generate::<f64>()
            .unwrap()
            .exposure()
    );
    assert!(matches!(
        LctLike::new(10, 2).k(3).generate::<f64>(),
        Err(AllocError::InvalidParameter { .. })
    ));
}

#[test]
fn highs_backend_is_a_typed_error_without_the_feature() {
    let p = LctLike::new(20, 3).seed(2).generate::<f64>().unwrap();
    let r = Lp::new()
        .backend(fundalloc_allocator::LpBackend::Highs)
        .mode(LpMode::Relaxation)
        .solve(&p);
    if cfg!(feature = "highs") {
        let micro = Lp::new()
            .backend(fundalloc_allocator::LpBackend::MicroLp)
            .solve(&p)
            .unwrap();
        assert!((r.unwrap().report.objective - micro.report.objective).abs() < 1e-6);
    } else {
        assert!(matches!(
            r,
            Err(AllocError::Unsupported {
                solver: SolverKind::Lp,
                feature: fundalloc_allocator::UnsupportedFeature::HighsBackend,
            })
        ));
    }
}

/// HA stores per-customer fund lists as `u16`: more funds than that is a typed error, the largest
/// supported count still solves.
#[test]
fn ha_fund_count_limit_is_a_typed_error() {
    let problem = |f: usize| {
        let e = RevenueMatrix::from_shape_vec(1, f, vec![1.0; f]).unwrap();
        let mut d = vec![0u64; f];
        d[f - 1] = 1;
        AllocationProblem::builder(e).exposures(d).build().unwrap()
    };
    let r = Heuristic::new().solve(&problem(65_535));
    assert!(matches!(r, Err(AllocError::Unsupported { .. })), "{r:?}");
    let s = Heuristic::new().solve(&problem(65_534)).unwrap();
    assert_eq!(s.allocation.funds_of(0), &[65_533]);
}

/// Regression (found by the HiGHS run of the exact-vs-LP proptest): when no pair is eligible,
/// "at most K" with zero minimum exposures admits only the empty allocation, and every exact
/// solver — including the LP, whose model then has no variable — must return it.
#[test]
fn no_eligible_pair_under_at_most_k_gives_the_empty_allocation() {
    let problem = AllocationProblem::builder(
        RevenueMatrix::from_shape_vec(3, 2, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap(),
    )
    .customer_tolerance(vec![RiskLevel::new(1); 3])
    .fund_risk(vec![RiskLevel::new(4), RiskLevel::new(5)])
    .at_most(1)
    .exposure_ranges(vec![ExposureRange::new(0, 3); 2])
    .build()
    .unwrap();
    for mode in [LpMode::Relaxation, LpMode::Mip] {
        let s = Lp::new().mode(mode).solve(&problem).unwrap();
        assert_eq!(s.allocation.n_assignments(), 0);
        assert_eq!(s.report.objective, 0.0);
        verify(&problem, &s.allocation).unwrap();
    }
    let exact = fundalloc_allocator::Exact::new().solve(&problem).unwrap();
    assert_eq!(exact.allocation.n_assignments(), 0);
}
