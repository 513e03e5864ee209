//! The `Exact` solver through the crate's problem model: equality with the `Lp` reference on
//! random instances of every constraint variant, an independent check of the certificate, the
//! verifier, and the typed errors of infeasible inputs.

use proptest::prelude::*;

use crate::prelude::*;
use crate::{Certificate, Exact, GAP_TOLERANCE, LctLike, Real};

/// A random problem description: revenues (few distinct values when `ties`), tolerances, fund
/// levels, rule and ranges. Building it may fail (infeasible): that is part of the test.
#[derive(Debug, Clone)]
struct Raw {
    u: usize,
    f: usize,
    e: Vec<f64>,
    tol: Vec<u8>,
    risk: Vec<u8>,
    rule: PerCustomer,
    ranges: Vec<(u64, u64)>,
}

impl Raw {
    fn build(&self) -> crate::Result<AllocationProblem<f64>> {
        let e = RevenueMatrix::from_shape_vec(self.u, self.f, self.e.clone())?;
        AllocationProblem::builder(e)
            .rule(self.rule)
            .exposure_ranges(
                self.ranges
                    .iter()
                    .map(|&(a, b)| ExposureRange::new(a, b))
                    .collect(),
            )
            .customer_tolerance(self.tol.iter().copied().map(RiskLevel::new).collect())
            .fund_risk(self.risk.iter().copied().map(RiskLevel::new).collect())
            .build()
    }
}

fn arb_raw() -> impl Strategy<Value = Raw> {
    (
        2usize..=12,
        1usize..=5,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(|(u, f, at_most, ties, exact_d, witness)| {
            let vals = if ties {
                prop::collection::vec((0u8..3).prop_map(f64::from), u * f).boxed()
            } else {
                prop::collection::vec(0.0f64..100.0, u * f).boxed()
            };
            (
                vals,
                prop::collection::vec(1u8..=3, u),
                prop::collection::vec(1u8..=3, f),
                1..=f,
                prop::collection::vec((0u64..=u as u64, 0u64..=u as u64), f),
                prop::collection::vec(any::<u8>(), u * f),
            )
                .prop_map(move |(e, mut tol, risk, k, r, rank)| {
                    let ranges = if witness {
                        // Ranges around the loads of a random allocation: feasible by
                        // construction (customers are raised to tolerate K funds).
                        let mut sorted = risk.clone();
                        sorted.sort_unstable();
                        let mut loads = vec![0u64; f];
                        for (c, t) in tol.iter_mut().enumerate() {
                            *t = (*t).max(sorted[k - 1]);
                            let mut el: Vec<usize> = (0..f).filter(|&g| risk[g] <= *t).collect();
                            el.sort_by_key(|&g| rank[c * f + g]);
                            let take = if at_most {
                                rank[c * f] as usize % (k + 1)
                            } else {
                                k
                            };
                            el.iter().take(take).for_each(|&g| loads[g] += 1);
                        }
                        loads
                            .iter()
                            .zip(&r)
                            .map(|(&l, &(a, b))| {
                                if exact_d {
                                    (l, l)
                                } else {
                                    (l.saturating_sub(a % 3), l + b % 3)
                                }
                            })
                            .collect()
                    } else {
                        r.into_iter()
                            .map(|(a, b)| {
                                if exact_d {
                                    (a, a)
                                } else {
                                    (a.min(b), a.max(b))
                                }
                            })
                            .collect()
                    };
                    let rule = if at_most {
                        PerCustomer::AtMost(k)
                    } else {
                        PerCustomer::Exactly(k)
                    };
                    Raw {
                        u,
                        f,
                        e,
                        tol,
                        risk,
                        rule,
                        ranges,
                    }
                })
        })
}

/// The LP relaxation's optimum (the MIP if the simplex vertex happens to be fractional).
fn lp_objective(p: &AllocationProblem<f64>) -> f64 {
    match Lp::new().solve(p) {
        Ok(s) => s.report.objective,
        Err(AllocError::NotIntegral { .. }) => Lp::mip().solve(p).unwrap().report.objective,
        Err(e) => panic!("Lp failed: {e}"),
    }
}

/// Checks the certificate without trusting the solver: the explicit LP dual recomputed from the
/// prices (any prices give an upper bound) must equal the verified objective.
fn assert_certificate<T: Real>(p: &AllocationProblem<T>, s: &Solution, c: &Certificate) {
    let verified = verify(p, &s.allocation).expect("verifier rejects the exact allocation");
    let tol = GAP_TOLERANCE * verified.objective.abs().max(1.0);
    assert!((verified.objective - s.report.objective).abs() <= tol);
    let bound = c.recompute_bound(p);
    assert!(
        (bound - verified.objective).abs() <= tol,
        "dual bound {bound} vs objective {}",
        verified.objective
    );
    assert!(c.gap().abs() <= tol);
    assert!(s.report.gap().is_some_and(|g| g <= 1e-9));
    // Fund-side complementary slackness, read off the allocation.
    let loads = s.allocation.exposure_counts();
    for (f, (&q, r)) in c.fund_prices().iter().zip(p.exposure()).enumerate() {
        assert!(
            q <= 1e-9 || loads[f] == r.max,
            "fund {f}: price {q}, load {}",
            loads[f]
        );
        assert!(
            q >= -1e-9 || loads[f] == r.min,
            "fund {f}: price {q}, load {}",
            loads[f]
        );
    }
}

#[test]
fn exact_equals_lp_on_every_variant() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let solved = AtomicUsize::new(0);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(500));
    runner
        .run(&arb_raw(), |raw| {
            match raw.build() {
                Ok(problem) => {
                    solved.fetch_add(1, Ordering::Relaxed);
                    let (s, c) = Exact::new().solve_certified(&problem).unwrap();
                    assert_certificate(&problem, &s, &c);
                    let lp = lp_objective(&problem);
                    let tol = 1e-7 * lp.abs().max(1.0);
                    prop_assert!(
                        (s.report.objective - lp).abs() <= tol,
                        "exact {} vs lp {lp}",
                        s.report.objective
                    );
                }
                // Infeasible inputs get one of the typed diagnoses, never a panic.
                Err(e) => prop_assert!(
                    matches!(
                        e,
                        AllocError::ExposureTotal { .. }
                            | AllocError::TooFewEligibleFunds { .. }
                            | AllocError::FundTooFewEligibleCustomers { .. }
                            | AllocError::RiskCapacity { .. }
                            | AllocError::RiskDemand { .. }
                            | AllocError::Infeasible { .. }
                    ),
                    "unexpected error {e:?}"
                ),
            }
            Ok(())
        })
        .unwrap();
    // The witness half of the strategy is feasible by construction.
    let solved = solved.into_inner();
    assert!(solved >= 200, "only {solved} of 500 cases were feasible");
    eprintln!("{solved} of 500 random problems feasible and solved");
}

#[test]
fn generated_instances_f32_and_f64_are_certified() {
    for (u, k, seed) in [(10_000, 1, 1u64), (3_000, 2, 2), (2_000, 3, 3)] {
        let p32: AllocationProblem<f32> = LctLike::new(u, 8).k(k).seed(seed).generate().unwrap();
        let (s, c) = Exact::new().solve_certified(&p32).unwrap();
        assert_certificate(&p32, &s, &c);
        assert_eq!(Solver::<f32>::kind(&Exact::new()), SolverKind::Exact);
        let p64: AllocationProblem<f64> = LctLike::new(u, 8).k(k).seed(seed).generate().unwrap();
        let (s64, c64) = Exact::new().solve_certified(&p64).unwrap();
        assert_certificate(&p64, &s64, &c64);
        // Exact beats (or ties) every heuristic on the same instance.
        for other in [
            Heuristic::new().solve(&p64).unwrap(),
            Manual::new().solve(&p64).unwrap(),
        ] {
            assert!(other.report.objective <= s64.report.objective + 1e-6);
        }
    }
}

#[test]
fn lp_agrees_on_a_generated_instance() {
    let p: AllocationProblem<f64> = LctLike::new(300, 5).k(2).seed(9).generate().unwrap();
    let s = Exact::new().solve(&p).unwrap();
    let lp = lp_objective(&p);
    assert!((s.report.objective - lp).abs() <= 1e-7 * lp);
}

#[test]
fn infeasible_problems_never_reach_the_solver() {
    // Fund 1 (risk 3) needs 3 exposures but only 2 customers tolerate it.
    let e = RevenueMatrix::from_shape_vec(4, 2, vec![1.0; 8]).unwrap();
    let err = AllocationProblem::builder(e)
        .exposures(vec![1, 3])
        .customer_tolerance([3, 3, 1, 1].map(RiskLevel::new).to_vec())
        .fund_risk(vec![RiskLevel::new(1), RiskLevel::new(3)])
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        AllocError::FundTooFewEligibleCustomers {
            fund: 1,
            required: 3,
            available: 2,
            ..
        }
    ));
}

#[test]
fn ties_and_degenerate_revenues() {
    // All equal, all zero, K = F, a single fund.
    for v in [0.0, 2.5] {
        let e = RevenueMatrix::from_shape_vec(6, 3, vec![v; 18]).unwrap();
        let p = AllocationProblem::builder(e.clone())
            .exposures(vec![2, 2, 2])
            .build()
            .unwrap();
        let (s, c) = Exact::new().solve_certified(&p).unwrap();
        assert_certificate(&p, &s, &c);
        assert_eq!(s.report.objective, 6.0 * v);
        let p = AllocationProblem::builder(e)
            .exactly(3)
            .exposures(vec![6, 6, 6])
            .build()
            .unwrap();
        let (s, c) = Exact::new().solve_certified(&p).unwrap();
        assert_certificate(&p, &s, &c);
        assert_eq!(s.report.objective, 18.0 * v);
    }
    let e = RevenueMatrix::from_shape_vec(3, 1, vec![3.0, 1.0, 2.0]).unwrap();
    let p = AllocationProblem::builder(e)
        .at_most(1)
        .exposure_ranges(vec![ExposureRange::new(1, 2)])
        .build()
        .unwrap();
    let (s, c) = Exact::new().solve_certified(&p).unwrap();
    assert_certificate(&p, &s, &c);
    assert_eq!(s.report.objective, 5.0);
}

#[test]
fn unbounded_ranges_and_at_most_k() {
    // "At most 2" with open-ended fund ranges: every customer takes its positive funds.
    let e = RevenueMatrix::from_shape_vec(3, 3, vec![3.0, 0.0, 1.0, 0.0, 0.0, 0.0, 2.0, 5.0, 4.0])
        .unwrap();
    let p = AllocationProblem::builder(e)
        .at_most(2)
        .exposure_ranges(vec![ExposureRange::new(0, u64::MAX); 3])
        .build()
        .unwrap();
    let (s, c) = Exact::new().solve_certified(&p).unwrap();
    assert_certificate(&p, &s, &c);
    assert_eq!(s.report.objective, 3.0 + 1.0 + 5.0 + 4.0);
    assert!(s.allocation.funds_of(1).is_empty());
}

#[test]
fn nothing_can_be_allocated_is_a_proven_optimum() {
    // Found by the HiGHS proptest: every fund closed (range [0, 0]), at most one per customer.
    // The optimum is the empty allocation; the certificate and the reported gap must say so.
    let raw = Raw {
        u: 2,
        f: 1,
        e: vec![31.110918091600045, 2.939258800556404],
        tol: vec![1, 1],
        risk: vec![1],
        rule: PerCustomer::AtMost(1),
        ranges: vec![(0, 0)],
    };
    let p = raw.build().unwrap();
    let (s, c) = Exact::new().solve_certified(&p).unwrap();
    assert_certificate(&p, &s, &c);
    assert_eq!(s.report.objective, 0.0);
    assert_eq!(s.allocation.n_assignments(), 0);
}
