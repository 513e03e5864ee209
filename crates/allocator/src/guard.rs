//! Feasibility guards for the greedy solvers (HA, Manual).
//!
//! A greedy rule can paint itself into a corner: serve risk-tolerant customers with the safe
//! funds first, and the cautious customers served last find only risky funds open. The guards
//! answer "does the rest of the problem still have a feasible completion if I make this
//! assignment?", exactly, so a greedy solver can take its preferred move whenever it is safe and
//! the next-best safe move otherwise. When the plain rule never gets stuck, the guard never
//! intervenes (a move that leaves a feasible remainder is always safe), so the output is the
//! plain rule's output.

use fundalloc_core_types::{Real, RiskLevel};

use crate::flow::{Group, transport_feasibility};
use crate::problem::AllocationProblem;

/// Exact guard for K = 1 with exact exposures: Hall's condition for nested eligibility.
///
/// Customer u may hold the funds with `r_f ≤ t_u`, so the eligible sets are nested and Hall's
/// condition reduces to one inequality per level τ: the customers with `t ≤ τ` fit into the
/// funds with `r ≤ τ`, i.e. `slack(τ) = D(r ≤ τ) − N(t ≤ τ) ≥ 0` (remaining exposures and
/// unserved customers). Assigning u to f lowers `slack(τ)` by one for `τ ∈ [r_f, t_u)` and leaves
/// it unchanged elsewhere, so the move is safe iff `slack(τ) ≥ 1` there. `slack` only changes at
/// the levels that occur, so it is kept per distinct level: O(#levels) per check.
#[derive(Debug, Clone)]
pub(crate) struct LevelSlack {
    /// The distinct levels (tolerances and fund risks), ascending.
    levels: Vec<RiskLevel>,
    index: Vec<usize>,
    slack: Vec<i64>,
}

impl LevelSlack {
    pub(crate) fn new<T: Real>(problem: &AllocationProblem<T>, caps: &[u64]) -> Self {
        let hist = problem.tolerance_histogram();
        let mut present = [false; 256];
        for (t, &n) in hist.iter().enumerate() {
            present[t] = n > 0;
        }
        for r in problem.fund_risk() {
            present[usize::from(r.get())] = true;
        }
        let levels: Vec<usize> = (0..256).filter(|&l| present[l]).collect();
        let mut index = vec![0usize; 256];
        for (i, &l) in levels.iter().enumerate() {
            index[l] = i;
        }
        let slack = levels
            .iter()
            .map(|&tau| {
                let d: u64 = problem
                    .fund_risk()
                    .iter()
                    .zip(caps)
                    .filter(|(r, _)| usize::from(r.get()) <= tau)
                    .map(|(_, &c)| c)
                    .sum();
                let n: u64 = hist[..=tau].iter().sum();
                d as i64 - n as i64
            })
            .collect();
        let levels = levels.iter().map(|&l| RiskLevel::new(l as u8)).collect();
        Self {
            levels,
            index,
            slack,
        }
    }

    /// The position of `level` among the distinct levels (tolerances and fund risks) of the
    /// problem; only meaningful for a level that occurs.
    #[inline]
    pub(crate) fn level_index(&self, level: RiskLevel) -> usize {
        self.index[usize::from(level.get())]
    }

    /// The distinct levels (customer tolerances and fund risks), ascending.
    pub(crate) fn levels(&self) -> &[RiskLevel] {
        &self.levels
    }

    /// `slack(τ)` per distinct level, in ascending level order. Giving a fund of level index `r`
    /// to a customer of level index `t` lowers exactly `slack[r..t]` by one.
    pub(crate) fn slack(&self) -> &[i64] {
        &self.slack
    }

    #[inline]
    fn span(&self, tolerance: RiskLevel, fund_risk: RiskLevel) -> std::ops::Range<usize> {
        self.index[usize::from(fund_risk.get())]..self.index[usize::from(tolerance.get())]
    }

    /// Whether giving a customer of `tolerance` a fund of `fund_risk` keeps a completion.
    #[inline]
    pub(crate) fn is_safe(&self, tolerance: RiskLevel, fund_risk: RiskLevel) -> bool {
        self.slack[self.span(tolerance, fund_risk)]
            .iter()
            .all(|&s| s >= 1)
    }

    /// Records the assignment.
    #[inline]
    pub(crate) fn commit(&mut self, tolerance: RiskLevel, fund_risk: RiskLevel) {
        let span = self.span(tolerance, fund_risk);
        for s in &mut self.slack[span] {
            *s -= 1;
        }
    }

    /// Whether a batch of assignments `(tolerance, fund risk, count)` is safe as a whole;
    /// commits it if so. Slack only decreases, so a batch is safe in every order iff the
    /// final slack is non-negative.
    pub(crate) fn try_commit_many(&mut self, moves: &[(RiskLevel, RiskLevel, u64)]) -> bool {
        let mut after = self.slack.clone();
        for &(t, r, n) in moves {
            let span = self.span(t, r);
            for s in &mut after[span] {
                *s -= n as i64;
            }
        }
        if after.iter().all(|&s| s >= 0) {
            self.slack = after;
            true
        } else {
            false
        }
    }

    /// Whether a batch of assignments to one fund of `fund_risk`, with `count_at[l]` customers of
    /// tolerance level `l`, is safe as a whole; commits it if so.
    pub(crate) fn try_commit_batch(&mut self, fund_risk: RiskLevel, count_at: &[u64]) -> bool {
        let moves: Vec<(RiskLevel, RiskLevel, u64)> = count_at
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(l, &n)| (RiskLevel::new(l as u8), fund_risk, n))
            .collect();
        self.try_commit_many(&moves)
    }
}

/// Customers still to be served that the flow guard treats alike.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) tolerance: RiskLevel,
    pub(crate) need: u64,
    pub(crate) count: u64,
    /// Funds these customers already hold (cannot take again).
    pub(crate) excluded: Vec<usize>,
}

/// Exact guard for any K: is there a completion giving every pending customer exactly `need`
/// more distinct open funds and every fund exactly its remaining capacity `caps[f]`?
/// A max flow on (groups × funds); a few microseconds for the usual handful of levels.
pub(crate) fn residual_feasible<T: Real>(
    problem: &AllocationProblem<T>,
    caps: &[u64],
    pending: &[Pending],
) -> bool {
    let groups: Vec<Group> = pending
        .iter()
        .filter(|p| p.count > 0 && p.need > 0)
        .map(|p| Group {
            count: p.count,
            need_min: p.need,
            need_max: p.need,
            eligible: (0..caps.len())
                .filter(|&f| {
                    caps[f] > 0
                        && p.tolerance.permits(problem.fund_risk()[f])
                        && !p.excluded.contains(&f)
                })
                .collect(),
        })
        .collect();
    let ranges: Vec<(u64, u64)> = caps.iter().map(|&c| (c, c)).collect();
    transport_feasibility(&groups, &ranges).is_feasible()
}
