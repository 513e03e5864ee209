//! The two baselines of the paper: manual priority allocation and greedy top-K.

use std::collections::HashMap;
use std::time::Instant;

use fundalloc_core_types::{Allocation, InvalidParameter, Real, RiskLevel};

use crate::error::{AllocError, Result, UnsupportedFeature};
use crate::guard::{LevelSlack, Pending, residual_feasible};
use crate::kind::SolverKind;
use crate::problem::AllocationProblem;
use crate::solver::{Solution, SolveReport, Solver, finish};
use crate::verify::check;

/// The manual-priority baseline: funds in a priority order, each taking its `d_f`
/// not-yet-served eligible customers with the highest `E_uf`.
///
/// Default priority: descending mean `E_uf` over the customers who may hold the fund (the
/// paper's operators used historical conversion rates and experience; override with
/// [`Manual::priority`]). With K > 1 a customer stays available until it holds K funds
/// (each fund once). Selection is partial (`select_nth_unstable`), O(U) per fund.
///
/// Like HA it runs behind an exact feasibility guard (see [`crate::Heuristic`]): a fund skips a
/// customer whose assignment would leave the rest without a completion, and the report says so
/// with `repaired = true`.
///
/// ```
/// use fundalloc_allocator::prelude::*;
/// use fundalloc_allocator::Manual;
/// let e = RevenueMatrix::from_shape_vec(3, 2, vec![5.0, 4.0, 3.0, 0.0, 2.0, 1.0])?;
/// let p = AllocationProblem::builder(e).exposures(vec![1, 2]).build()?;
/// // Fund 0 has the higher mean, goes first and takes customer 0 (E = 5).
/// let s = Manual::new().solve(&p)?;
/// assert_eq!(s.report.objective, 5.0 + 0.0 + 1.0);
/// let s = Manual::new().priority(vec![1, 0]).solve(&p)?;
/// assert_eq!(s.report.objective, 4.0 + 1.0 + 3.0);
/// # Ok::<(), AllocError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Manual {
    priority: Option<Vec<usize>>,
}

impl Manual {
    /// Default priority (descending mean eligible revenue).
    pub fn new() -> Self {
        Self::default()
    }

    /// Funds in this order (a permutation of `0..F`, checked when solving: it depends on
    /// the problem's F).
    #[must_use]
    pub fn priority(mut self, priority: Vec<usize>) -> Self {
        self.priority = Some(priority);
        self
    }

    /// The order used for `problem`: the given one, or descending mean eligible revenue.
    pub fn priority_for<T: Real>(&self, problem: &AllocationProblem<T>) -> Result<Vec<usize>> {
        let f_n = problem.n_funds();
        if let Some(p) = &self.priority {
            let mut seen = vec![false; f_n];
            let valid = p.len() == f_n
                && p.iter()
                    .all(|&f| f < f_n && !std::mem::replace(&mut seen[f], true));
            if !valid {
                return Err(InvalidParameter::new(
                    "priority",
                    format_args!("{p:?}"),
                    "must list every fund index exactly once",
                )
                .into());
            }
            return Ok(p.clone());
        }
        let mut sum = vec![0.0f64; f_n];
        let mut count = vec![0u64; f_n];
        for u in 0..problem.n_customers() {
            let row = problem.revenue().row(u);
            for f in 0..f_n {
                if problem.is_eligible(u, f) {
                    sum[f] += row[f].to_f64_lossless();
                    count[f] += 1;
                }
            }
        }
        let mean: Vec<f64> = sum
            .iter()
            .zip(&count)
            .map(|(&s, &c)| if c > 0 { s / c as f64 } else { 0.0 })
            .collect();
        let mut order: Vec<usize> = (0..f_n).collect();
        order.sort_by(|&a, &b| mean[b].total_cmp(&mean[a]).then(a.cmp(&b)));
        Ok(order)
    }
}

/// Descending value, ascending index.
#[inline]
fn by_value(a: &(f64, u32), b: &(f64, u32)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

impl<T: Real> Solver<T> for Manual {
    fn kind(&self) -> SolverKind {
        SolverKind::Manual
    }

    fn solve(&self, problem: &AllocationProblem<T>) -> Result<Solution> {
        let start = Instant::now();
        let caps_init = problem
            .exact_exposures()
            .filter(|_| problem.is_paper_form())
            .ok_or(AllocError::Unsupported {
                solver: SolverKind::Manual,
                feature: UnsupportedFeature::NotPaperForm,
            })?;
        let priority = self.priority_for(problem)?;
        let (u_n, f_n, k) = (problem.n_customers(), problem.n_funds(), problem.k());
        let tolerance = problem.tolerance();
        let risks = problem.fund_risk();
        let mut caps = caps_init;
        let mut got = vec![0u32; u_n];
        let mut rows: Vec<Vec<u32>> = if k == 1 {
            Vec::new()
        } else {
            vec![Vec::new(); u_n]
        };
        let mut single = if k == 1 {
            vec![u32::MAX; u_n]
        } else {
            Vec::new()
        };
        let mut slack = (k == 1).then(|| LevelSlack::new(problem, &caps));
        let mut skipped = 0u64;
        let mut candidates: Vec<(f64, u32)> = Vec::with_capacity(u_n);
        for &f in &priority {
            let d = caps[f] as usize;
            if d == 0 {
                continue;
            }
            candidates.clear();
            candidates.extend(
                (0..u_n)
                    .filter(|&u| (got[u] as usize) < k && tolerance[u].permits(risks[f]))
                    .map(|u| (problem.revenue().row(u)[f].to_f64_lossless(), u as u32)),
            );
            let d = d.min(candidates.len());
            if d < candidates.len() && d > 0 {
                candidates.select_nth_unstable_by(d - 1, by_value);
            }
            let chosen: Vec<u32> =
                if batch_is_safe(problem, &caps, &got, k, f, &candidates[..d], &mut slack) {
                    candidates[..d].iter().map(|c| c.1).collect()
                } else {
                    // The best d would strand someone: scan in value order, skipping unsafe ones.
                    candidates.sort_unstable_by(by_value);
                    let picked = scan_safe(problem, &caps, &got, k, f, &candidates, d, &mut slack);
                    let last = candidates
                        .iter()
                        .position(|c| Some(&c.1) == picked.last())
                        .map_or(0, |i| i + 1);
                    skipped += last.saturating_sub(picked.len()) as u64;
                    picked
                };
            for &u in &chosen {
                let u = u as usize;
                got[u] += 1;
                if k == 1 {
                    single[u] = f as u32;
                } else {
                    rows[u].push(f as u32);
                }
            }
            caps[f] -= chosen.len() as u64;
        }
        let allocation = if k == 1 {
            Allocation::from_fixed_k(u_n, 1, f_n, single)?
        } else {
            Allocation::from_rows(f_n, rows)?
        };
        let mut solution = finish(SolverKind::Manual, problem, allocation, start)?;
        solution.report.repaired = skipped > 0;
        if skipped > 0 {
            solution.report.notes.push(format!(
                "feasibility guard skipped {skipped} better-valued customer(s)"
            ));
        }
        Ok(solution)
    }
}

/// Customers grouped by (tolerance, remaining need, holds the current fund) for the flow guard.
fn pending_groups<T: Real>(
    problem: &AllocationProblem<T>,
    got: &[u32],
    k: usize,
    current: usize,
    holds_current: &HashMap<u32, ()>,
) -> Vec<Pending> {
    let mut counts: HashMap<(u8, u64, bool), u64> = HashMap::new();
    for (u, &g) in got.iter().enumerate() {
        let need = (k as u64).saturating_sub(u64::from(g));
        if need > 0 {
            let t = problem.tolerance()[u].get();
            *counts
                .entry((t, need, holds_current.contains_key(&(u as u32))))
                .or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|((t, need, holds), count)| Pending {
            tolerance: RiskLevel::new(t),
            need,
            count,
            excluded: if holds { vec![current] } else { Vec::new() },
        })
        .collect()
}

fn batch_is_safe<T: Real>(
    problem: &AllocationProblem<T>,
    caps: &[u64],
    got: &[u32],
    k: usize,
    f: usize,
    batch: &[(f64, u32)],
    slack: &mut Option<LevelSlack>,
) -> bool {
    if let Some(s) = slack {
        let mut count_at = vec![0u64; 256];
        for &(_, u) in batch {
            count_at[usize::from(problem.tolerance()[u as usize].get())] += 1;
        }
        return s.try_commit_batch(problem.fund_risk()[f], &count_at);
    }
    let mut after_got = got.to_vec();
    for &(_, u) in batch {
        after_got[u as usize] += 1;
    }
    let mut after_caps = caps.to_vec();
    after_caps[f] = after_caps[f].saturating_sub(batch.len() as u64);
    if after_caps[f] != 0 {
        return false;
    }
    let groups = pending_groups(problem, &after_got, k, f, &HashMap::new());
    residual_feasible(problem, &after_caps, &groups)
}

#[allow(clippy::too_many_arguments)]
fn scan_safe<T: Real>(
    problem: &AllocationProblem<T>,
    caps: &[u64],
    got: &[u32],
    k: usize,
    f: usize,
    sorted: &[(f64, u32)],
    d: usize,
    slack: &mut Option<LevelSlack>,
) -> Vec<u32> {
    let mut picked = Vec::with_capacity(d);
    let r = problem.fund_risk()[f];
    if let Some(s) = slack {
        for &(_, u) in sorted {
            if picked.len() == d {
                break;
            }
            let t = problem.tolerance()[u as usize];
            if s.is_safe(t, r) {
                s.commit(t, r);
                picked.push(u);
            }
        }
        return picked;
    }
    let mut got = got.to_vec();
    let mut caps = caps.to_vec();
    let mut holds: HashMap<u32, ()> = HashMap::new();
    for &(_, u) in sorted {
        if picked.len() == d {
            break;
        }
        got[u as usize] += 1;
        caps[f] -= 1;
        holds.insert(u, ());
        let groups = pending_groups(problem, &got, k, f, &holds);
        if residual_feasible(problem, &caps, &groups) {
            picked.push(u);
        } else {
            got[u as usize] -= 1;
            caps[f] += 1;
            holds.remove(&u);
        }
    }
    picked
}

/// The recommendation formulation: every customer gets its top-K eligible funds by `E_uf`,
/// exposures ignored.
///
/// This is what a recommender does, and it concentrates exposure on a few funds (the Matthew
/// effect PTOFA describes). The solution is returned, not an error: its report has
/// `violations` listing every fund whose exposure is outside its range, and `is_feasible()`
/// is false whenever that happens.
///
/// ```
/// use fundalloc_allocator::prelude::*;
/// use fundalloc_allocator::GreedyTopK;
/// let e = RevenueMatrix::from_shape_vec(2, 2, vec![5.0, 1.0, 4.0, 3.0])?;
/// let p = AllocationProblem::builder(e).exposures(vec![1, 1]).build()?;
/// let s = GreedyTopK::new().solve(&p)?;
/// assert_eq!(s.report.objective, 9.0);
/// assert!(!s.report.is_feasible()); // fund 0 got both customers
/// # Ok::<(), AllocError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct GreedyTopK {
    _private: (),
}

impl GreedyTopK {
    /// Greedy top-K.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<T: Real> Solver<T> for GreedyTopK {
    fn kind(&self) -> SolverKind {
        SolverKind::GreedyTopK
    }

    fn solve(&self, problem: &AllocationProblem<T>) -> Result<Solution> {
        let start = Instant::now();
        let (f_n, k) = (problem.n_funds(), problem.k());
        let mut buf: Vec<(f64, u32)> = Vec::with_capacity(f_n);
        let rows = (0..problem.n_customers()).map(|u| {
            let row = problem.revenue().row(u);
            buf.clear();
            buf.extend(
                (0..f_n)
                    .filter(|&f| problem.is_eligible(u, f))
                    .map(|f| (row[f].to_f64_lossless(), f as u32)),
            );
            buf.sort_unstable_by(by_value);
            buf.iter().take(k).map(|b| b.1).collect::<Vec<u32>>()
        });
        let allocation = Allocation::from_rows(f_n, rows)?;
        let seconds = start.elapsed().as_secs_f64();
        let verdict = check(problem, &allocation);
        let mut report = SolveReport::new(SolverKind::GreedyTopK, verdict.objective, seconds);
        report.violations = verdict.violations;
        if verdict.violation_count > report.violations.len() {
            report.notes.push(format!(
                "{} violations in total, first {} listed",
                verdict.violation_count,
                report.violations.len()
            ));
        }
        Ok(Solution { allocation, report })
    }
}
