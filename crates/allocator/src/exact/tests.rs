//! Tests of the slice core: brute force on tiny instances, an independent certificate check,
//! degenerate cases and infeasibility.

// Index loops over funds read most clearly in these reference implementations.
#![allow(clippy::needless_range_loop)]

use proptest::prelude::*;

use fundalloc_core_types::RiskLevel;

use super::core::CoreInput;
use super::solve::solve_core;

/// An owned tiny instance.
#[derive(Debug, Clone)]
pub(crate) struct Inst {
    pub(crate) e: Vec<f64>,
    pub(crate) f: usize,
    pub(crate) tol: Vec<RiskLevel>,
    pub(crate) level: Vec<RiskLevel>,
    pub(crate) k: usize,
    pub(crate) at_most: bool,
    pub(crate) min: Vec<u64>,
    pub(crate) max: Vec<u64>,
}

impl Inst {
    pub(crate) fn input(&self) -> CoreInput<'_, f64> {
        CoreInput {
            revenue: &self.e,
            n_funds: self.f,
            tolerance: &self.tol,
            fund_level: &self.level,
            k: self.k,
            at_most: self.at_most,
            min: &self.min,
            max: &self.max,
        }
    }
    fn u(&self) -> usize {
        self.tol.len()
    }
    fn elig(&self, u: usize) -> u64 {
        (0..self.f)
            .filter(|&g| self.level[g] <= self.tol[u])
            .fold(0, |m, g| m | 1 << g)
    }
}

/// The best objective over all feasible allocations (None: infeasible).
pub(crate) fn brute_force(x: &Inst) -> Option<f64> {
    let options: Vec<Vec<u64>> = (0..x.u())
        .map(|u| {
            let el = x.elig(u);
            (0..1u64 << x.f)
                .filter(|&m| m & !el == 0)
                .filter(|&m| {
                    let c = m.count_ones() as usize;
                    if x.at_most { c <= x.k } else { c == x.k }
                })
                .collect()
        })
        .collect();
    let mut loads = vec![0u64; x.f];
    let mut best = None;
    fn rec(
        x: &Inst,
        options: &[Vec<u64>],
        u: usize,
        loads: &mut Vec<u64>,
        acc: f64,
        best: &mut Option<f64>,
    ) {
        if u == options.len() {
            if (0..x.f).all(|g| loads[g] >= x.min[g] && loads[g] <= x.max[g])
                && best.is_none_or(|b| acc > b)
            {
                *best = Some(acc);
            }
            return;
        }
        for &m in &options[u] {
            if (0..x.f).any(|g| m >> g & 1 == 1 && loads[g] >= x.max[g]) {
                continue;
            }
            let mut v = 0.0;
            for g in 0..x.f {
                if m >> g & 1 == 1 {
                    loads[g] += 1;
                    v += x.e[u * x.f + g];
                }
            }
            rec(x, options, u + 1, loads, acc + v, best);
            for g in 0..x.f {
                if m >> g & 1 == 1 {
                    loads[g] -= 1;
                }
            }
        }
    }
    rec(x, &options, 0, &mut loads, 0.0, &mut best);
    best
}

/// Checks an allocation (masks) against every constraint; returns its objective.
pub(crate) fn check_feasible(x: &Inst, masks: &[u64]) -> f64 {
    assert_eq!(masks.len(), x.u());
    let mut loads = vec![0u64; x.f];
    let mut obj = 0.0;
    for (u, &m) in masks.iter().enumerate() {
        assert_eq!(m & !x.elig(u), 0, "customer {u} holds an ineligible fund");
        let c = m.count_ones() as usize;
        if x.at_most {
            assert!(c <= x.k);
        } else {
            assert_eq!(c, x.k, "customer {u}");
        }
        for g in 0..x.f {
            if m >> g & 1 == 1 {
                loads[g] += 1;
                obj += x.e[u * x.f + g];
            }
        }
    }
    for g in 0..x.f {
        assert!(
            loads[g] >= x.min[g] && loads[g] <= x.max[g],
            "fund {g}: load {} outside [{}, {}]",
            loads[g],
            x.min[g],
            x.max[g]
        );
    }
    obj
}

/// The LP dual objective at fund prices `q`, written independently of the solver: customer
/// potential `a_u` = K-th largest reduced revenue (clipped at 0 for "at most"), slack variables
/// `s_uf = max(0, E_uf − q_f − a_u)`, fund terms `max_f·q⁺ − min_f·q⁻`. Any `(a, s, q)` of this
/// form is dual feasible, so the value bounds every allocation from above.
pub(crate) fn independent_dual(x: &Inst, q: &[f64]) -> f64 {
    let mut total = 0.0;
    for u in 0..x.u() {
        let mut r: Vec<f64> = (0..x.f)
            .filter(|&g| x.level[g] <= x.tol[u])
            .map(|g| x.e[u * x.f + g] - q[g])
            .collect();
        r.sort_by(|a, b| b.total_cmp(a));
        // K = 0: the potential must cover every fund, so it is the largest reduced revenue.
        let mut a = r.get(x.k.max(1) - 1).copied().unwrap_or(0.0);
        if x.at_most {
            a = a.max(0.0);
        }
        total += x.k as f64 * a + r.iter().map(|&v| (v - a).max(0.0)).sum::<f64>();
    }
    for g in 0..x.f {
        total += if q[g] >= 0.0 {
            q[g] * x.max[g] as f64
        } else {
            q[g] * x.min[g] as f64
        };
    }
    total
}

fn arb_inst(max_u: usize, max_f: usize) -> impl Strategy<Value = Inst> {
    (1..=max_u, 1..=max_f, any::<bool>(), 0u32..4).prop_flat_map(move |(u, f, at_most, ties)| {
        let vals = if ties > 0 {
            // Few distinct values: ties everywhere.
            prop::collection::vec((0u8..3).prop_map(f64::from), u * f).boxed()
        } else {
            prop::collection::vec(0.0f64..10.0, u * f).boxed()
        };
        (
            vals,
            prop::collection::vec((0u8..4).prop_map(RiskLevel::new), u),
            prop::collection::vec((0u8..4).prop_map(RiskLevel::new), f),
            0..=f,
            prop::collection::vec((0u64..=u as u64, 0u64..=u as u64), f),
        )
            .prop_map(move |(e, tol, level, k, ranges)| {
                let (min, max) = ranges
                    .into_iter()
                    .map(|(a, b)| (a.min(b), a.max(b)))
                    .unzip();
                Inst {
                    e,
                    f,
                    tol,
                    level,
                    k,
                    at_most,
                    min,
                    max,
                }
            })
    })
}

fn tol_for(x: &Inst) -> f64 {
    1e-9 * (1.0 + x.e.iter().sum::<f64>())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn matches_brute_force_with_a_certificate(x in arb_inst(5, 4)) {
        let brute = brute_force(&x);
        match solve_core(&x.input()) {
            Ok(out) => {
                let best = brute.expect("solver found an allocation the brute force says is impossible");
                let obj = check_feasible(&x, &out.masks);
                let tol = tol_for(&x);
                prop_assert!((obj - best).abs() <= tol, "solver {obj} vs brute {best}");
                prop_assert!((out.primal - obj).abs() <= tol);
                let dual = independent_dual(&x, &out.prices);
                prop_assert!((dual - obj).abs() <= tol, "dual {dual} vs primal {obj}");
                prop_assert!((out.dual - dual).abs() <= tol);
            }
            Err(e) => {
                prop_assert!(brute.is_none(), "solver failed with {e:?} but optimum is {brute:?}");
            }
        }
    }
}

/// A small deterministic generator (SplitMix64) so the larger tests need no extra dependency.
pub(crate) struct Mix(pub(crate) u64);
impl Mix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A feasible mid-size instance: risk levels 1..=5, exposure shares, optional slack in ranges.
pub(crate) fn mid_instance(
    seed: u64,
    u: usize,
    f: usize,
    k: usize,
    at_most: bool,
    ties: bool,
) -> Inst {
    let mut r = Mix(seed);
    let level: Vec<RiskLevel> = (0..f).map(|g| RiskLevel::new(1 + (g % 5) as u8)).collect();
    let tol: Vec<RiskLevel> = (0..u)
        .map(|_| RiskLevel::new(1 + r.below(5) as u8))
        .collect();
    let e: Vec<f64> = (0..u * f)
        .map(|_| {
            if ties {
                r.below(3) as f64
            } else {
                (r.unit() * 3.0).exp() * r.unit()
            }
        })
        .collect();
    // Feasible exposures: route each customer greedily to eligible funds in turn.
    let mut loads = vec![0u64; f];
    for (u, &t) in tol.iter().enumerate() {
        let el: Vec<usize> = (0..f).filter(|&g| level[g] <= t).collect();
        let take = if at_most { k.min(el.len()) } else { k };
        for j in 0..take {
            loads[el[(u + j) % el.len()]] += 1;
        }
    }
    let (min, max) = loads
        .iter()
        .map(|&l| {
            let w = r.below(l / 4 + 2);
            (l.saturating_sub(w), l + w)
        })
        .unzip();
    Inst {
        e,
        f,
        tol,
        level,
        k,
        at_most,
        min,
        max,
    }
}

#[test]
fn mid_size_instances_are_certified_optimal() {
    for seed in 0..40u64 {
        let f = 2 + (seed % 7) as usize;
        let k = 1 + (seed as usize / 7) % f.min(3);
        let at_most = seed % 3 == 0;
        let ties = seed % 5 == 0;
        let u = 300 + 997 * (seed as usize % 9) * 5;
        let mut x = mid_instance(seed, u, f, k, at_most, ties);
        // Tolerance ≥ level of fund 0 keeps "exactly K" possible: give everyone K funds.
        if !at_most {
            x.tol
                .iter_mut()
                .for_each(|t| *t = (*t).max(RiskLevel::new(k as u8)));
        }
        let Ok(out) = solve_core(&x.input()) else {
            continue;
        };
        let obj = check_feasible(&x, &out.masks);
        let dual = independent_dual(&x, &out.prices);
        assert!(
            (dual - obj).abs() <= tol_for(&x),
            "seed {seed}: dual {dual} primal {obj}"
        );
        eprintln!(
            "seed {seed} u {u} f {f} k {k} at_most {at_most} ties {ties}: {:?}",
            out.stats
        );
    }
}

fn assert_certified(x: &Inst) -> f64 {
    let out = solve_core(&x.input()).unwrap();
    let obj = check_feasible(x, &out.masks);
    let dual = independent_dual(x, &out.prices);
    assert!((dual - obj).abs() <= tol_for(x), "dual {dual} primal {obj}");
    if let Some(best) = (x.u() <= 6).then(|| brute_force(x)).flatten() {
        assert!(
            (best - obj).abs() <= tol_for(x),
            "brute {best} solver {obj}"
        );
    }
    obj
}

#[test]
fn degenerate_revenues_single_fund_and_k_equal_f() {
    for (u, f) in [(6, 3), (5000, 8), (40_000, 4)] {
        let mut x = mid_instance(7, u, f, 1, false, false);
        x.tol.iter_mut().for_each(|t| *t = RiskLevel::new(5));
        // All equal: every allocation is optimal.
        x.e.iter_mut().for_each(|v| *v = 1.5);
        assert_eq!(assert_certified(&x), 1.5 * u as f64);
        // All zero.
        x.e.iter_mut().for_each(|v| *v = 0.0);
        assert_eq!(assert_certified(&x), 0.0);
        // K = F: everyone holds everything.
        let mut y = x.clone();
        y.k = f;
        y.e.iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = (i % 7) as f64);
        y.min = vec![u as u64; f];
        y.max = vec![u as u64; f];
        let total: f64 = y.e.iter().sum();
        assert_eq!(assert_certified(&y), total);
    }
    // A single fund.
    let x = Inst {
        e: vec![3.0, 1.0, 2.0],
        f: 1,
        tol: vec![RiskLevel::new(1); 3],
        level: vec![RiskLevel::new(1)],
        k: 1,
        at_most: true,
        min: vec![1],
        max: vec![2],
    };
    assert_eq!(assert_certified(&x), 5.0);
}

#[test]
fn f32_revenue_is_solved_in_f64() {
    let x = mid_instance(11, 50_000, 8, 1, false, false);
    let e32: Vec<f32> = x.e.iter().map(|&v| v as f32).collect();
    let widened = Inst {
        e: e32.iter().map(|&v| f64::from(v)).collect(),
        ..x.clone()
    };
    let input = CoreInput {
        revenue: &e32,
        n_funds: x.f,
        tolerance: &x.tol,
        fund_level: &x.level,
        k: x.k,
        at_most: x.at_most,
        min: &x.min,
        max: &x.max,
    };
    let out = solve_core(&input).unwrap();
    let obj = check_feasible(&widened, &out.masks);
    assert!((independent_dual(&widened, &out.prices) - obj).abs() <= tol_for(&widened));
    assert!((out.primal - obj).abs() <= tol_for(&widened));
}

#[test]
fn infeasible_core_inputs_are_reported() {
    // Fund 1 needs 3 customers, only 2 exist.
    let x = Inst {
        e: vec![1.0, 2.0, 3.0, 4.0],
        f: 2,
        tol: vec![RiskLevel::new(1); 2],
        level: vec![RiskLevel::new(1); 2],
        k: 1,
        at_most: false,
        min: vec![0, 3],
        max: vec![2, 3],
    };
    assert!(matches!(
        solve_core(&x.input()),
        Err(super::core::CoreFailure::Infeasible { .. })
    ));
    // Exactly 2 funds but customer 1 tolerates only one.
    let y = Inst {
        tol: vec![RiskLevel::new(2), RiskLevel::new(1)],
        level: vec![RiskLevel::new(1), RiskLevel::new(2)],
        k: 2,
        min: vec![0, 0],
        max: vec![2, 2],
        ..x
    };
    assert!(matches!(
        solve_core(&y.input()),
        Err(super::core::CoreFailure::TooFewEligible {
            customer: 1,
            eligible: 1
        })
    ));
}

#[test]
fn at_most_k_leaves_unprofitable_slots_empty() {
    let x = Inst {
        e: vec![0.0, 5.0, 0.0, 0.0],
        f: 2,
        tol: vec![RiskLevel::new(1); 2],
        level: vec![RiskLevel::new(1); 2],
        k: 2,
        at_most: true,
        min: vec![0, 0],
        max: vec![2, 2],
    };
    let out = solve_core(&x.input()).unwrap();
    assert_eq!(out.primal, 5.0);
    assert_eq!(out.masks[0] & 0b10, 0b10);
}

proptest! {
    /// The scaled-down ranges of a presearch round: at the scaled problem, each fund's excess
    /// (as the search computes it) is within one unit of its excess divided by `den`, the
    /// excesses sum to the rounded total (zero when exact ranges cut the sink off), and a
    /// range arc has room exactly where the original has.
    #[test]
    fn scaled_ranges_divide_excess_and_slack(
        f in 2usize..8,
        seed in any::<u64>(),
        den in 2i64..64,
    ) {
        use rand::{RngExt, SeedableRng};
        use super::core::Problem;
        use super::ssp::{range_state, scaled_ranges};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let exact = rng.random_bool(0.5);
        let mut min = Vec::new();
        let mut max = Vec::new();
        let mut loads = Vec::new();
        let mut p = Vec::new();
        for _ in 0..f {
            let lo = rng.random_range(0..5_000u64);
            let hi = if exact { lo } else if rng.random_bool(0.2) { u64::MAX } else { lo + rng.random_range(0..5_000u64) };
            min.push(lo);
            max.push(hi);
            p.push(f64::from(rng.random_range(-1i8..=1)));
        }
        p.push(0.0);
        if exact {
            // Loads that sum to the exposures (the feasible exact case).
            let mut moved: Vec<i64> = (0..f).map(|_| rng.random_range(-3_000i64..3_000)).collect();
            let total: i64 = moved.iter().sum();
            moved[0] -= total;
            loads = (0..f).map(|g| min[g] as i64 + moved[g]).collect();
        } else {
            for _ in 0..f {
                loads.push(rng.random_range(0..12_000i64));
            }
        }
        // Enough customers that no range is capped at their number.
        let n = 20_000;
        let inst = Inst {
            e: vec![1.0; n * f],
            f,
            tol: vec![RiskLevel::new(1); n],
            level: vec![RiskLevel::new(1); f],
            k: 1,
            at_most: false,
            min: min.clone(),
            max: max.clone(),
        };
        let input = inst.input();
        let prob = Problem::new(&input, 1);
        let (c, excess) = range_state(&prob, &p, &loads);
        let (smin, smax, sloads) = scaled_ranges(&prob, &p, &loads, den);
        let mut scaled = Problem::new(&input, 1);
        scaled.min = smin;
        scaled.max = smax;
        let (flow, sexcess) = range_state(&scaled, &p, &sloads);
        let total: i64 = excess[..f].iter().sum();
        let stotal: i64 = sexcess[..f].iter().sum();
        prop_assert_eq!(stotal, (total as f64 / den as f64).round() as i64);
        if exact {
            prop_assert_eq!(stotal, 0);
        }
        for g in 0..f {
            let want = excess[g] as f64 / den as f64;
            prop_assert!((sexcess[g] as f64 - want).abs() <= 1.0 + 1e-9, "fund {} {} vs {}", g, sexcess[g], want);
            // A range arc at its bound stays at its bound.
            if c[g] as u64 == prob.max[g] {
                prop_assert_eq!(flow[g] as u64, scaled.max[g]);
            }
            if c[g] as u64 == prob.min[g] {
                prop_assert_eq!(flow[g] as u64, scaled.min[g]);
            }
        }
    }
}
