//! The session after random sequences of changes against cold solves of the changed problem
//! (kept independently as a shadow), and its typed errors.

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use fundalloc_core_types::{RevenueMatrix, RiskLevel};

use super::warm_tests::Spec;
use crate::{
    AllocError, AllocationProblem, Change, Exact, ExactSession, ExposureRange, GAP_TOLERANCE,
    verify,
};

/// The problem as the test sees it: customer slots (`None`: removed), funds with an open flag.
#[derive(Debug, Clone)]
struct Shadow {
    slots: Vec<Option<(Vec<f64>, RiskLevel)>>,
    f: usize,
    risk: Vec<RiskLevel>,
    range: Vec<ExposureRange>,
    open: Vec<bool>,
    spec: Spec,
}

impl Shadow {
    fn new(spec: &Spec) -> Self {
        let f = spec.f;
        Self {
            slots: (0..spec.u())
                .map(|u| Some((spec.e[u * f..(u + 1) * f].to_vec(), spec.tol[u])))
                .collect(),
            f,
            risk: spec.risk.clone(),
            range: spec.range.clone(),
            open: vec![true; f],
            spec: spec.clone(),
        }
    }

    fn live(&self) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|&u| self.slots[u].is_some())
            .collect()
    }

    /// The problem of the live customers in slot order, closed funds with range [0, 0].
    fn problem(&self) -> Option<AllocationProblem<f64>> {
        let mut e = Vec::new();
        let mut tol = Vec::new();
        for (row, t) in self.slots.iter().flatten() {
            e.extend(
                row.iter()
                    .enumerate()
                    .map(|(g, &v)| if self.open[g] { v } else { 0.0 }),
            );
            tol.push(*t);
        }
        let range = (0..self.f)
            .map(|g| {
                if self.open[g] {
                    self.range[g]
                } else {
                    ExposureRange::exact(0)
                }
            })
            .collect();
        let e = RevenueMatrix::from_shape_vec(tol.len(), self.f, e).ok()?;
        AllocationProblem::new(e, tol, self.risk.clone(), self.spec.rule, range).ok()
    }

    fn open_funds(&self) -> Vec<usize> {
        (0..self.f).filter(|&g| self.open[g]).collect()
    }
}

fn row(rng: &mut StdRng, f: usize) -> Vec<f64> {
    let ints = rng.random_bool(0.3);
    (0..f)
        .map(|_| {
            if ints {
                f64::from(rng.random_range(0..6u8))
            } else {
                rng.random::<f64>() * 10.0
            }
        })
        .collect()
}

fn distinct(rng: &mut StdRng, from: &[usize], n: usize) -> Vec<usize> {
    let mut v = from.to_vec();
    for i in 0..n.min(v.len()) {
        let j = rng.random_range(i..v.len());
        v.swap(i, j);
    }
    v.truncate(n.min(from.len()));
    v
}

/// A random change of kind `kind` for the shadow's current state, and the shadow after it
/// (`ids` of added customers are filled in after the session answered).
fn random_change(rng: &mut StdRng, sh: &Shadow, kind: u8) -> Change<f64> {
    let f = sh.f;
    let live = sh.live();
    let open = sh.open_funds();
    // ("At most K" stays feasible with every fund closed.)
    let kind = if open.is_empty() && (kind == 1 || kind == 2) {
        0
    } else {
        kind
    };
    match kind {
        0 => {
            let n = rng.random_range(1..live.len().clamp(2, 12));
            let customers = distinct(rng, &live, n);
            let rows = customers.iter().flat_map(|_| row(rng, f)).collect();
            Change::Rows { customers, rows }
        }
        1 if rng.random_bool(0.3) => {
            // A large move: the fund's range halved (a large excess for the presearch
            // rounds; refused when it leaves no feasible allocation).
            let fund = open[rng.random_range(0..open.len())];
            let r = sh.range[fund];
            let hi = r.max.min(live.len() as u64) / 2;
            Change::Quota {
                fund,
                range: ExposureRange::new(r.min.min(hi) / 2, hi),
            }
        }
        1 => {
            let fund = open[rng.random_range(0..open.len())];
            let r = sh.range[fund];
            let hi = r
                .max
                .saturating_add(rng.random_range(0..6))
                .saturating_sub(rng.random_range(0..6));
            let lo = (r.min.min(hi) / 2)
                .saturating_add(rng.random_range(0..2))
                .min(hi);
            Change::Quota {
                fund,
                range: ExposureRange::new(lo, hi),
            }
        }
        2 => Change::CloseFund {
            fund: open[rng.random_range(0..open.len())],
        },
        3 => {
            let n = rng.random_range(1..12);
            Change::AddCustomers {
                rows: (0..n).flat_map(|_| row(rng, f)).collect(),
                tolerance: (0..n)
                    .map(|_| RiskLevel::new(rng.random_range(1..4)))
                    .collect(),
            }
        }
        4 => {
            let n = rng.random_range(1..live.len().clamp(2, 12));
            Change::RemoveCustomers {
                customers: distinct(rng, &live, n),
            }
        }
        _ => Change::AddFund {
            column: (0..sh.slots.len())
                .map(|_| rng.random::<f64>() * 12.0)
                .collect(),
            risk: RiskLevel::new(rng.random_range(1..3)),
            range: ExposureRange::new(0, live.len() as u64 / 3 + 1),
        },
    }
}

/// The shadow after `change` (with the ids the session gave to added customers).
fn shadow_apply(sh: &Shadow, change: &Change<f64>, ids: &[usize]) -> Shadow {
    let mut s = sh.clone();
    let f = s.f;
    match change {
        Change::Rows { customers, rows } => {
            for (i, &u) in customers.iter().enumerate() {
                if let Some((r, _)) = &mut s.slots[u] {
                    r.copy_from_slice(&rows[i * f..(i + 1) * f]);
                }
            }
        }
        Change::Quota { fund, range } => s.range[*fund] = *range,
        Change::CloseFund { fund } => {
            s.open[*fund] = false;
            s.range[*fund] = ExposureRange::exact(0);
        }
        Change::AddCustomers { rows, tolerance } => {
            for (i, (&u, &t)) in ids.iter().zip(tolerance).enumerate() {
                let r = rows[i * f..(i + 1) * f].to_vec();
                if u == s.slots.len() {
                    s.slots.push(Some((r, t)));
                } else {
                    s.slots[u] = Some((r, t));
                }
            }
        }
        Change::RemoveCustomers { customers } => {
            for &u in customers {
                s.slots[u] = None;
            }
        }
        Change::AddFund {
            column,
            risk,
            range,
        } => {
            for (u, slot) in s.slots.iter_mut().enumerate() {
                if let Some((r, _)) = slot {
                    r.push(column[u]);
                }
            }
            s.f += 1;
            s.risk.push(*risk);
            s.range.push(*range);
            s.open.push(true);
        }
    }
    s
}

/// The session's solution equals the cold optimum of the shadow's problem.
fn check_against_cold(session: &ExactSession<f64>, sh: &Shadow) -> Result<(), TestCaseError> {
    let Some(problem) = sh.problem() else {
        return Err(TestCaseError::fail("the shadow's problem is infeasible"));
    };
    let (cold, _) = Exact::new().solve_certified(&problem).unwrap();
    let cert = session.certificate();
    let tol = GAP_TOLERANCE * cold.report.objective.abs().max(1.0);
    prop_assert!(
        (cert.objective() - cold.report.objective).abs() <= tol,
        "session {} vs cold {}",
        cert.objective(),
        cold.report.objective
    );
    prop_assert!(cert.gap().abs() <= tol, "gap {}", cert.gap());
    // The session's own problem is the shadow's, its allocation feasible with that objective,
    // and the certificate checks out independently of the session.
    let (mine, alloc) = session.to_problem().unwrap();
    prop_assert_eq!(mine.revenue(), problem.revenue());
    prop_assert_eq!(mine.exposure(), problem.exposure());
    prop_assert_eq!(mine.tolerance(), problem.tolerance());
    let report = verify(&mine, &alloc).unwrap();
    prop_assert!((report.objective - cold.report.objective).abs() <= tol);
    let bound = cert.recompute_bound(&mine);
    prop_assert!(
        (bound - cold.report.objective).abs() <= tol,
        "bound {bound}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// After every step of a random sequence of random changes (every kind; sometimes several
    /// before one re-solve), the session's optimum is the cold optimum of the changed problem,
    /// its gap closes, and a rejected change leaves the session as it was.
    #[test]
    fn session_equals_cold_after_random_change_sequences(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let spec = Spec::random(&mut rng);
        let Some(problem) = spec.build() else { return Ok(()) };
        let mut session = ExactSession::new(problem).unwrap();
        let mut sh = Shadow::new(&spec);
        if rng.random_bool(0.3) {
            session.set_audit_every(rng.random_range(1..4));
        }
        // Mostly few active customers, so that settled buckets and their loading are exercised.
        if rng.random_bool(0.8) {
            session.set_min_active(rng.random_range(0..4));
        }
        // Often presearch rounds (sample searches, re-settling passes) at any excess, and
        // buckets compacted at every search.
        if rng.random_bool(0.6) {
            session.set_presearch(
                rng.random_range(0..16),
                rng.random_range(2..4),
                rng.random_range(0..2),
            );
        }
        check_against_cold(&session, &sh)?;
        for _ in 0..rng.random_range(1..8) {
            let mut fund_added = false;
            for _ in 0..rng.random_range(1..3) {
                let kind = if sh.f < 8 { rng.random_range(0..6) } else { rng.random_range(0..5) };
                let change = random_change(&mut rng, &sh, kind);
                match session.apply(change.clone()) {
                    Ok(applied) => {
                        fund_added |= matches!(change, Change::AddFund { .. });
                        sh = shadow_apply(&sh, &change, &applied.customers);
                        prop_assert!(sh.problem().is_some(), "accepted an infeasible change");
                    }
                    Err(_) => {
                        let next = shadow_apply(&sh, &change, &[]);
                        // Only infeasible changes (or adds whose ids we cannot know) are refused.
                        prop_assert!(
                            matches!(change, Change::AddCustomers { .. }) || next.problem().is_none(),
                            "refused a feasible change {change:?}"
                        );
                    }
                }
            }
            let resolved = session.resolve().unwrap();
            // The incremental certificate closed by itself (no recompute fallback).
            prop_assert_eq!(resolved.full, fund_added);
            prop_assert!(resolved.certificate.gap().abs()
                <= GAP_TOLERANCE * resolved.certificate.objective().abs().max(1.0));
            check_against_cold(&session, &sh)?;
        }
    }
}

fn small() -> ExactSession<f64> {
    let e = RevenueMatrix::from_shape_vec(3, 2, vec![5.0, 1.0, 4.0, 3.0, 1.0, 0.5]).unwrap();
    let p = AllocationProblem::builder(e)
        .exactly(1)
        .exposures(vec![1, 2])
        .build()
        .unwrap();
    ExactSession::new(p).unwrap()
}

#[test]
fn unknown_customer_and_fund_are_typed_errors() {
    let mut s = small();
    let e = s
        .apply(Change::Rows {
            customers: vec![3],
            rows: vec![1.0, 1.0],
        })
        .unwrap_err();
    assert!(matches!(
        e,
        AllocError::UnknownCustomer {
            customer: 3,
            slots: 3
        }
    ));
    let e = s
        .apply(Change::RemoveCustomers {
            customers: vec![usize::MAX],
        })
        .unwrap_err();
    assert!(matches!(e, AllocError::UnknownCustomer { .. }));
    let e = s
        .apply(Change::Quota {
            fund: 2,
            range: ExposureRange::exact(1),
        })
        .unwrap_err();
    assert!(matches!(e, AllocError::UnknownFund { fund: 2, funds: 2 }));
    let e = s.apply(Change::CloseFund { fund: 9 }).unwrap_err();
    assert!(matches!(e, AllocError::UnknownFund { fund: 9, .. }));
}

#[test]
fn removed_customers_and_closed_funds_are_unknown_afterwards() {
    let e = RevenueMatrix::from_shape_vec(4, 3, vec![1.0; 12]).unwrap();
    let p = AllocationProblem::builder(e)
        .exactly(1)
        .exposure_ranges(vec![ExposureRange::new(0, 4); 3])
        .build()
        .unwrap();
    let mut s = ExactSession::new(p).unwrap();
    s.apply(Change::RemoveCustomers { customers: vec![1] })
        .unwrap();
    let e = s
        .apply(Change::Rows {
            customers: vec![1],
            rows: vec![1.0; 3],
        })
        .unwrap_err();
    assert!(matches!(e, AllocError::UnknownCustomer { customer: 1, .. }));
    s.apply(Change::CloseFund { fund: 0 }).unwrap();
    let e = s.apply(Change::CloseFund { fund: 0 }).unwrap_err();
    assert!(matches!(e, AllocError::UnknownFund { fund: 0, .. }));
    // The freed slot is reused.
    let a = s
        .apply(Change::AddCustomers {
            rows: vec![2.0, 1.0, 3.0],
            tolerance: vec![RiskLevel::new(1)],
        })
        .unwrap();
    assert_eq!(a.customers, vec![1]);
    let r = s.resolve().unwrap();
    assert!((r.certificate.objective() - 6.0).abs() < 1e-12); // 1 + 3 + 1 + 1
    assert_eq!(s.funds_of(1), Some(vec![2]));
    assert_eq!(s.funds_of(7), None);
}

#[test]
fn bad_rows_are_typed_errors_and_change_nothing() {
    let mut s = small();
    let before = s.certificate().clone();
    let e = s
        .apply(Change::Rows {
            customers: vec![0],
            rows: vec![1.0],
        })
        .unwrap_err();
    assert!(matches!(e, AllocError::ShapeMismatch(_)));
    let e = s
        .apply(Change::Rows {
            customers: vec![0],
            rows: vec![1.0, f64::NAN],
        })
        .unwrap_err();
    assert!(matches!(e, AllocError::NonFinite(ref n) if n.row() == 0));
    let e = s
        .apply(Change::Rows {
            customers: vec![1],
            rows: vec![-1.0, 0.0],
        })
        .unwrap_err();
    assert!(matches!(e, AllocError::Core(_)));
    let e = s
        .apply(Change::Rows {
            customers: vec![0, 0],
            rows: vec![1.0; 4],
        })
        .unwrap_err();
    assert!(matches!(e, AllocError::InvalidParameter(_)));
    let e = s
        .apply(Change::AddCustomers {
            rows: vec![1.0, 2.0, 3.0],
            tolerance: vec![RiskLevel::new(1)],
        })
        .unwrap_err();
    assert!(matches!(e, AllocError::ShapeMismatch(_)));
    let e = s
        .apply(Change::AddCustomers {
            rows: vec![1.0, f64::INFINITY],
            tolerance: vec![RiskLevel::new(1)],
        })
        .unwrap_err();
    assert!(matches!(e, AllocError::NonFinite(_)));
    let e = s
        .apply(Change::AddFund {
            column: vec![1.0; 2],
            risk: RiskLevel::new(1),
            range: ExposureRange::new(0, 3),
        })
        .unwrap_err();
    assert!(matches!(e, AllocError::ShapeMismatch(_)));
    let e = s
        .apply(Change::AddFund {
            column: vec![1.0, f64::NAN, 1.0],
            risk: RiskLevel::new(1),
            range: ExposureRange::new(0, 3),
        })
        .unwrap_err();
    assert!(matches!(e, AllocError::NonFinite(_)));
    // Nothing was applied.
    let r = s.resolve().unwrap();
    assert_eq!(r.certificate.objective(), before.objective());
}

#[test]
fn infeasible_changes_are_refused_whole() {
    let mut s = small();
    // 3 customers, exactly 1 each: exposures 1 + 2; raising fund 0 to 2 breaks the total.
    let e = s
        .apply(Change::Quota {
            fund: 0,
            range: ExposureRange::exact(2),
        })
        .unwrap_err();
    assert!(matches!(e, AllocError::ExposureTotal { .. }));
    let e = s
        .apply(Change::Quota {
            fund: 0,
            range: ExposureRange::new(2, 1),
        })
        .unwrap_err();
    assert!(matches!(e, AllocError::InvalidParameter(_)));
    let e = s.apply(Change::CloseFund { fund: 1 }).unwrap_err();
    assert!(matches!(e, AllocError::ExposureTotal { .. }));
    let e = s
        .apply(Change::RemoveCustomers { customers: vec![0] })
        .unwrap_err();
    assert!(matches!(e, AllocError::ExposureTotal { .. }));
    let e = s
        .apply(Change::AddCustomers {
            rows: vec![1.0, 1.0],
            tolerance: vec![RiskLevel::new(1)],
        })
        .unwrap_err();
    assert!(matches!(e, AllocError::ExposureTotal { .. }));
    // Still the original optimum.
    let r = s.resolve().unwrap();
    assert!((r.certificate.objective() - 8.5).abs() < 1e-12);
    assert_eq!(s.n_customers(), 3);
}

/// A rows change at a size where most customers are settled: the re-solve touches the
/// changed customers and the active ones, not everyone, and still matches cold.
#[test]
fn a_small_change_at_scale_stays_local_and_matches_cold() {
    let base: AllocationProblem<f32> = crate::LctLike::new(60_000, 6).seed(3).generate().unwrap();
    let f = base.n_funds();
    let mut s = ExactSession::new(base.clone()).unwrap();
    let mut e = base.revenue().as_slice().to_vec();
    let customers: Vec<usize> = (0..600).map(|i| i * 97 % 60_000).collect();
    let mut rows = Vec::new();
    for &u in &customers {
        for g in 0..f {
            let v = e[u * f + g] * if (u + g) % 3 == 0 { 1.4 } else { 0.7 };
            e[u * f + g] = v;
            rows.push(v);
        }
    }
    s.apply(Change::Rows { customers, rows }).unwrap();
    let r = s.resolve().unwrap();
    assert!(!r.full && !r.rebased);
    assert_eq!(r.recomputed, 600);
    assert!(r.candidates < 60_000 / 4, "{} candidates", r.candidates);
    let changed = AllocationProblem::new(
        RevenueMatrix::from_shape_vec(60_000, f, e).unwrap(),
        base.tolerance().to_vec(),
        base.fund_risk().to_vec(),
        base.rule(),
        base.exposure().to_vec(),
    )
    .unwrap();
    let (cold, _) = Exact::new().solve_certified(&changed).unwrap();
    let tol = GAP_TOLERANCE * cold.report.objective;
    assert!((r.certificate.objective() - cold.report.objective).abs() <= tol);
    let audit = s.audit().unwrap();
    assert!((audit.objective - cold.report.objective).abs() <= tol);
    assert!((audit.bound - audit.objective).abs() <= tol);
    assert!((audit.cached_objective - audit.objective).abs() <= tol);
}

/// Large changes at a size where the presearch rounds run with their default thresholds: a
/// quota moved between two funds with exact exposures (2 % of the customers must switch), then
/// a fund closed. Each re-solve runs sample rounds and still equals the cold optimum, with a
/// certificate that checks out.
#[test]
fn large_moves_run_presearch_rounds_and_match_cold() {
    let base: AllocationProblem<f32> = crate::LctLike::new(100_000, 6).seed(5).generate().unwrap();
    let f = base.n_funds();
    let mut s = ExactSession::new(base.clone()).unwrap();
    let mut d: Vec<u64> = base.exposure().iter().map(|r| r.min).collect();
    let big = (0..f).max_by_key(|&g| d[g]).unwrap();
    let small = (0..f).min_by_key(|&g| d[g]).unwrap();
    d[big] -= 2_000;
    d[small] += 2_000;
    s.apply_all(vec![
        Change::Quota {
            fund: big,
            range: ExposureRange::exact(d[big]),
        },
        Change::Quota {
            fund: small,
            range: ExposureRange::exact(d[small]),
        },
    ])
    .unwrap();
    let r = s.resolve().unwrap();
    assert!(!r.full && r.presearch_passes >= 1, "{r:?}");
    let cold_of = |d: &[u64], open: &[bool]| {
        let e: Vec<f32> = base
            .revenue()
            .as_slice()
            .chunks(f)
            .flat_map(|row| {
                row.iter()
                    .enumerate()
                    .map(|(g, &v)| if open[g] { v } else { 0.0 })
            })
            .collect();
        let p = AllocationProblem::new(
            RevenueMatrix::from_shape_vec(100_000, f, e).unwrap(),
            base.tolerance().to_vec(),
            base.fund_risk().to_vec(),
            base.rule(),
            d.iter().map(|&x| ExposureRange::exact(x)).collect(),
        )
        .unwrap();
        Exact::new().solve_certified(&p).unwrap().0.report.objective
    };
    let mut open = vec![true; f];
    let cold = cold_of(&d, &open);
    let tol = GAP_TOLERANCE * cold;
    assert!((r.certificate.objective() - cold).abs() <= tol);
    let (mine, alloc) = s.to_problem().unwrap();
    assert!((verify(&mine, &alloc).unwrap().objective - cold).abs() <= tol);
    assert!((r.certificate.recompute_bound(&mine) - cold).abs() <= tol);
    // Close the smallest fund; its exposures go to the biggest (an excess of ~U/F customers).
    let moved = d[small];
    d[big] += moved;
    d[small] = 0;
    s.apply_all(vec![
        Change::CloseFund { fund: small },
        Change::Quota {
            fund: big,
            range: ExposureRange::exact(d[big]),
        },
    ])
    .unwrap();
    let r = s.resolve().unwrap();
    assert!(!r.full && r.presearch_passes >= 1, "{r:?}");
    open[small] = false;
    let cold = cold_of(&d, &open);
    assert!((r.certificate.objective() - cold).abs() <= GAP_TOLERANCE * cold);
    let audit = s.audit().unwrap();
    assert!((audit.objective - cold).abs() <= GAP_TOLERANCE * cold);
    assert!((audit.bound - audit.objective).abs() <= GAP_TOLERANCE * cold);
}
