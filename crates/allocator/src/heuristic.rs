//! HA: PTOFA's heuristic allocation (Algorithm 1, Eq. 7), the fast kernels.
//!
//! Start with `heuristic/reference.rs`: the same algorithm in the paper's words, which this
//! module must (and, by a property test, does) reproduce allocation for allocation. Here: the
//! general path (any K, batches served by selection), `k1_kernel.rs` (K = 1, at most 15
//! funds) and `exact_sum.rs` (α as an exact sum).

use std::cmp::Ordering;
use std::time::Instant;

use fundalloc_core_types::{Allocation, Real, RiskLevel};
use rayon::prelude::*;

use crate::error::{AllocError, Result, UnsupportedFeature};
use crate::guard::{LevelSlack, Pending, residual_feasible};
use crate::kind::SolverKind;
use crate::problem::AllocationProblem;
use crate::solver::{Solution, Solver, finish};

mod exact_sum;
mod k1_kernel;
mod reference;

use exact_sum::FixedPoint;
pub use reference::reference_ha;

/// HA, the heuristic of PTOFA (Algorithm 1):
///
/// 1. risk-ineligible pairs get `E_uf = −∞` (here: are skipped);
/// 2. `α_f = Σ_u E_uf / d_f` — the fund's "consumption speed" (sum over the customers still
///    unserved who may hold f, divided by its remaining exposure);
/// 3. per customer, with its open eligible funds sorted by E descending `f_1, f_2, …`, the
///    score (Eq. 7) `h_u = Σ_{j≥2} α_{f_{j−1}}·(E_{u,f_{j−1}} − E_{u,f_j})` — the revenue at risk
///    if u loses its favourite funds, weighted by how fast they run out;
/// 4. customers are served in descending `h_u` (ties: lower index first), each taking its top-K
///    open eligible funds; when a fund is exhausted it is closed and α and all remaining scores
///    are recomputed (lines 9–10), at most F times.
///
/// [`reference_ha`] is the same algorithm written as the paper does, for reading; a property
/// test checks that both return the same allocation.
///
/// Eq. 7 with literal `−∞` entries would make every customer with an ineligible fund score
/// `+∞`; the differences are taken over the customer's open eligible funds only.
///
/// **Feasibility guard.** The plain rule can strand a customer (all its eligible funds closed).
/// Before each assignment HA asks an exact guard (Hall's condition per risk level for K = 1, a
/// small max-flow for K > 1; see `guard.rs`) whether the rest still has a completion, and takes
/// the best *safe* funds. If the plain rule would never get stuck the guard never intervenes and
/// the result is exactly Algorithm 1's; otherwise [`crate::SolveReport::repaired`] is `true`
/// and a note counts the diverted customers. HA never returns an infeasible allocation.
///
/// Cost: one `O(U·F log F)` pass to sort each customer's funds once, then per recomputation an
/// `O(R·F)` pass (R customers left, parallel with rayon); each epoch up to the next exhausted
/// fund is then served as one batch found by selection, without sorting customers
/// (`docs/allocation.md`). α is the exact sum `Σ_u E_uf` rounded once (fixed point), so the
/// allocation does not depend on the number of threads. Supports the paper's form (exactly K,
/// exact `d_f`), any K, up to 65,534 funds; K = 1 with at most 15 funds (PTOFA's case) runs a
/// leaner path with one pass per batch.
///
/// ```
/// use fundalloc_allocator::prelude::*;
/// use fundalloc_allocator::Heuristic;
/// let e = RevenueMatrix::from_shape_vec(3, 2, vec![5.0, 4.0, 3.0, 0.0, 2.0, 1.0])?;
/// let p = AllocationProblem::builder(e).exposures(vec![1, 2]).build()?;
/// let s = Heuristic::new().solve(&p)?;
/// assert_eq!(s.allocation.funds_of(1), &[0]); // customer 1 would lose most without fund 0
/// assert_eq!(s.report.objective, 4.0 + 3.0 + 1.0);
/// # Ok::<(), AllocError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Heuristic {
    /// Use the general path even for K = 1 (tests).
    general: bool,
    _private: (),
}

impl Heuristic {
    /// HA as in the paper.
    pub fn new() -> Self {
        Self::default()
    }
}

const KIND: SolverKind = SolverKind::Heuristic;

/// A fund index in the per-customer sorted lists.
type FundIdx = u16;

/// Padding past a customer's eligible funds.
const NO_FUND: FundIdx = FundIdx::MAX;

/// Customers per parallel work item, and per partial sum of α: α is summed per block of
/// `BLOCK` consecutive customer indices, then over the blocks in order, so it is the same `f64`
/// whatever the number of threads.
const BLOCK: usize = 4096;

/// Ranked after everyone: "no fund runs out in this batch".
const NO_ONE: Entry = Entry {
    score: f64::NEG_INFINITY,
    u: u32::MAX,
    pick: u32::MAX,
};

fn add_vecs<N: Copy + std::ops::AddAssign>(mut a: Vec<N>, b: Vec<N>) -> Vec<N> {
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
    a
}

/// An unserved customer in the current epoch: its score, index, and (K = 1) its plain pick, the
/// best open eligible fund (`u32::MAX`: none), found while scoring.
#[derive(Debug, Clone, Copy)]
struct Entry {
    score: f64,
    u: u32,
    pick: u32,
}

/// Descending score, then ascending customer index: a total order, so partial selection and a
/// full sort agree.
#[inline]
fn by_score(a: &Entry, b: &Entry) -> Ordering {
    b.score.total_cmp(&a.score).then(a.u.cmp(&b.u))
}

/// A customer's funds: E descending, then ascending fund index.
#[inline]
fn by_value(a: &(f64, u32), b: &(f64, u32)) -> Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

/// Number of risk levels (`RiskLevel` is a `u8`).
const LEVELS: usize = 256;

struct State<'a, T: Real> {
    problem: &'a AllocationProblem<T>,
    k: usize,
    f_n: usize,
    /// Each customer's eligible funds sorted by E descending (ties: lower index), row-major
    /// `U × F`, padded with [`NO_FUND`] past its eligible count. `u16`, not `u32`: the scoring
    /// passes read this array every epoch, so its width is memory traffic.
    order: Vec<FundIdx>,
    /// The revenue matrix, row-major (hoisted: `RevenueMatrix::row` re-derives the slice from
    /// the ndarray on every call, which shows in the per-customer passes).
    values: &'a [T],
    caps: Vec<u64>,
    picks: Vec<u32>,
    diverted: u64,
    slack: Option<LevelSlack>,
    /// Unserved customers per tolerance level (flow guard for K > 1).
    unserved_at: Vec<u64>,
}

impl<T: Real> State<'_, T> {
    fn order_of(&self, u: usize) -> &[FundIdx] {
        &self.order[u * self.f_n..(u + 1) * self.f_n]
    }

    /// Eq. 7 over the open eligible funds of `u`, in its sorted order, and the first of them
    /// (`u32::MAX`: none).
    fn score(&self, u: usize, alpha: &[f64]) -> (f64, u32) {
        let row = &self.values[u * self.f_n..(u + 1) * self.f_n];
        let mut h = 0.0;
        let mut first = u32::MAX;
        let mut prev: Option<FundIdx> = None;
        for &f in self.order_of(u) {
            if f == NO_FUND {
                break;
            }
            if self.caps[f as usize] == 0 {
                continue;
            }
            if let Some(p) = prev {
                let (ep, ef) = (
                    row[p as usize].to_f64_lossless(),
                    row[f as usize].to_f64_lossless(),
                );
                h += alpha[p as usize] * (ep - ef);
            } else {
                first = u32::from(f);
            }
            prev = Some(f);
        }
        (h, first)
    }

    /// Gives `u` its best K open eligible funds that keep the rest feasible; returns whether a
    /// fund was exhausted.
    fn assign(&mut self, u: usize) -> bool {
        let tolerance = self.problem.tolerance()[u];
        let risks = self.problem.fund_risk();
        let mut taken: Vec<usize> = Vec::with_capacity(self.k);
        let mut plain = true;
        if self.k == 1 {
            let mut first = true;
            for j in 0..self.f_n {
                let f = self.order[u * self.f_n + j];
                if f == NO_FUND {
                    break;
                }
                let f = f as usize;
                if self.caps[f] == 0 {
                    continue;
                }
                let safe = match &self.slack {
                    Some(s) => s.is_safe(tolerance, risks[f]),
                    None => true,
                };
                if safe {
                    if let Some(s) = &mut self.slack {
                        s.commit(tolerance, risks[f]);
                    }
                    taken.push(f);
                    plain = first;
                    break;
                }
                first = false;
            }
        } else {
            self.unserved_at[usize::from(tolerance.get())] -= 1;
            let open: Vec<usize> = self
                .order_of(u)
                .iter()
                .take_while(|&&f| f != NO_FUND)
                .map(|&f| f as usize)
                .filter(|&f| self.caps[f] > 0)
                .collect();
            let others = self.pending_others();
            // Fast path: the plain top-K.
            let top: Vec<usize> = open.iter().copied().take(self.k).collect();
            let mut caps = self.caps.clone();
            for &f in &top {
                caps[f] -= 1;
            }
            if top.len() == self.k && residual_feasible(self.problem, &caps, &others) {
                taken = top;
            } else {
                plain = false;
                let mut caps = self.caps.clone();
                for &f in &open {
                    if taken.len() == self.k {
                        break;
                    }
                    caps[f] -= 1;
                    taken.push(f);
                    let mut pending = others.clone();
                    pending.push(Pending {
                        tolerance,
                        need: (self.k - taken.len()) as u64,
                        count: 1,
                        excluded: taken.clone(),
                    });
                    if !residual_feasible(self.problem, &caps, &pending) {
                        taken.pop();
                        caps[f] += 1;
                    }
                }
            }
        }
        if !plain {
            self.diverted += 1;
        }
        let mut exhausted = false;
        for (slot, &f) in taken.iter().enumerate() {
            self.picks[u * self.k + slot] = f as u32;
            self.caps[f] -= 1;
            exhausted |= self.caps[f] == 0;
        }
        // Should the guard ever fail (it cannot on a validated problem), the unfilled slots keep
        // the sentinel and the verifier turns them into an error instead of a wrong answer.
        exhausted
    }

    /// The plain top-K open eligible funds of `u` (no guard), or `None` if it has fewer.
    fn plain_picks(&self, u: usize, out: &mut Vec<usize>) -> bool {
        out.clear();
        for &f in self.order_of(u) {
            if f == NO_FUND || out.len() == self.k {
                break;
            }
            if self.caps[f as usize] > 0 {
                out.push(f as usize);
            }
        }
        out.len() == self.k
    }

    /// Serves, without sorting, every customer up to and including the one whose plain picks
    /// exhaust the first fund, if the guard accepts the whole batch. In score order, fund f runs
    /// out at the `cap_f`-th customer (by score) whose plain top-K contains f; the first fund to
    /// run out is the one whose such customer ranks highest. Until then every open fund stays
    /// open, so each customer's picks do not depend on the order: the batch equals sequential
    /// service. Returns that last customer's entry, or `Err(batch size)` when the guard refused
    /// (then the caller serves sequentially).
    ///
    /// `picks_per_fund[f]`: how many entries have plain pick `f` (K = 1; index F: no pick).
    /// With K = 1 the caller writes the served customers' picks (see `serve_batch_one`).
    fn serve_batch(&mut self, rest: &[Entry], picks_per_fund: &[u64]) -> Result<Entry, usize> {
        if self.k == 1 {
            return self.serve_batch_one(rest, picks_per_fund);
        }
        let k = self.k;
        // Every customer's plain picks, once (aligned with `rest`).
        let mut all_picks = vec![0u32; rest.len() * k];
        let mut picks = Vec::with_capacity(k);
        let mut buckets: Vec<Vec<Entry>> = vec![Vec::new(); self.f_n];
        for (i, &entry) in rest.iter().enumerate() {
            if !self.plain_picks(entry.u as usize, &mut picks) {
                return Err(0);
            }
            for (slot, &f) in picks.iter().enumerate() {
                all_picks[i * k + slot] = f as u32;
                buckets[f].push(entry);
            }
        }
        let mut last: Option<Entry> = None;
        for (f, bucket) in buckets.iter_mut().enumerate() {
            let cap = self.caps[f] as usize;
            if cap == 0 || bucket.len() < cap {
                continue;
            }
            bucket.select_nth_unstable_by(cap - 1, by_score);
            let x = bucket[cap - 1];
            if last.is_none_or(|l| by_score(&x, &l) == Ordering::Less) {
                last = Some(x);
            }
        }
        drop(buckets);
        // Everyone ranked up to `last` (everyone, if no fund runs out).
        let served = |e: &Entry| last.is_none_or(|l| by_score(e, &l) != Ordering::Greater);
        let risks = self.problem.fund_risk();
        let tolerance = self.problem.tolerance();
        let mut taken = vec![0u64; self.f_n];
        let mut moves = vec![0u64; 256 * self.f_n];
        let mut left_at = self.unserved_at.clone();
        let mut batch = 0usize;
        for (i, e) in rest.iter().enumerate() {
            if !served(e) {
                continue;
            }
            batch += 1;
            let t = usize::from(tolerance[e.u as usize].get());
            for &f in &all_picks[i * k..(i + 1) * k] {
                taken[f as usize] += 1;
                moves[t * self.f_n + f as usize] += 1;
            }
            left_at[t] -= 1;
        }
        let safe = if let Some(slack) = &mut self.slack {
            let moves: Vec<(RiskLevel, RiskLevel, u64)> = moves
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(i, &n)| (RiskLevel::new((i / self.f_n) as u8), risks[i % self.f_n], n))
                .collect();
            slack.try_commit_many(&moves)
        } else {
            let caps: Vec<u64> = self.caps.iter().zip(&taken).map(|(c, t)| c - t).collect();
            let others: Vec<Pending> = left_at
                .iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(t, &n)| Pending {
                    tolerance: RiskLevel::new(t as u8),
                    need: k as u64,
                    count: n,
                    excluded: Vec::new(),
                })
                .collect();
            residual_feasible(self.problem, &caps, &others)
        };
        if !safe {
            return Err(batch);
        }
        for (i, e) in rest.iter().enumerate() {
            if served(e) {
                let u = e.u as usize;
                self.picks[u * k..(u + 1) * k].copy_from_slice(&all_picks[i * k..(i + 1) * k]);
            }
        }
        for (c, t) in self.caps.iter_mut().zip(&taken) {
            *c -= t;
        }
        self.unserved_at = left_at;
        Ok(last.unwrap_or(NO_ONE))
    }

    /// [`Self::serve_batch`] for K = 1, parallel: the plain picks come with the scores, a
    /// histogram finds the funds that can run out in this batch (usually one or two), and only
    /// their customers are gathered for the selection. On success the served customers (ranked
    /// up to the returned entry) still need `picks[u] = pick`: the caller does it while removing
    /// them from `rest`, in the same pass.
    fn serve_batch_one(&mut self, rest: &[Entry], counts: &[u64]) -> Result<Entry, usize> {
        let f_n = self.f_n;
        if counts[f_n] > 0 {
            return Err(0);
        }
        let mut last: Option<Entry> = None;
        for (f, (&cap, &count)) in self.caps.iter().zip(counts).enumerate() {
            if cap == 0 || count < cap {
                continue;
            }
            let mut bucket: Vec<Entry> = rest
                .par_iter()
                .filter(|e| e.pick as usize == f)
                .copied()
                .collect();
            let cap = cap as usize;
            bucket.select_nth_unstable_by(cap - 1, by_score);
            let x = bucket[cap - 1];
            if last.is_none_or(|l| by_score(&x, &l) == Ordering::Less) {
                last = Some(x);
            }
        }
        let served = |e: &Entry| last.is_none_or(|l| by_score(e, &l) != Ordering::Greater);
        let tolerance = self.problem.tolerance();
        // moves[t·F + f]: served customers of tolerance t given fund f.
        let moves = rest
            .par_iter()
            .with_min_len(BLOCK)
            .fold(
                || vec![0u64; LEVELS * f_n],
                |mut acc, e| {
                    if served(e) {
                        let t = usize::from(tolerance[e.u as usize].get());
                        acc[t * f_n + e.pick as usize] += 1;
                    }
                    acc
                },
            )
            .reduce(|| vec![0u64; LEVELS * f_n], add_vecs);
        let batch = moves.iter().sum::<u64>() as usize;
        let risks = self.problem.fund_risk();
        let list: Vec<(RiskLevel, RiskLevel, u64)> = moves
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, &n)| (RiskLevel::new((i / f_n) as u8), risks[i % f_n], n))
            .collect();
        let safe = match &mut self.slack {
            Some(slack) => slack.try_commit_many(&list),
            None => false,
        };
        if !safe {
            return Err(batch);
        }
        for (i, &n) in moves.iter().enumerate() {
            self.caps[i % f_n] -= n;
            self.unserved_at[i / f_n] -= n;
        }
        Ok(last.unwrap_or(NO_ONE))
    }

    fn pending_others(&self) -> Vec<Pending> {
        self.unserved_at
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(t, &n)| Pending {
                tolerance: RiskLevel::new(t as u8),
                need: self.k as u64,
                count: n,
                excluded: Vec::new(),
            })
            .collect()
    }
}

impl<T: Real> Solver<T> for Heuristic {
    fn kind(&self) -> SolverKind {
        KIND
    }

    fn solve(&self, problem: &AllocationProblem<T>) -> Result<Solution> {
        let start = Instant::now();
        let caps = problem
            .exact_exposures()
            .filter(|_| problem.is_paper_form())
            .ok_or(AllocError::Unsupported {
                solver: KIND,
                feature: UnsupportedFeature::NotPaperForm,
            })?;
        let (u_n, f_n, k) = (problem.n_customers(), problem.n_funds(), problem.k());
        let fixed = FixedPoint::for_values(problem.revenue().as_slice(), u_n);
        let fast = k == 1 && f_n <= k1_kernel::MAX_FUNDS && !self.general;
        if let Some(fixed) = fixed.filter(|f| fast && f.is_narrow()) {
            let out = k1_kernel::solve(problem, caps, fixed);
            let allocation = Allocation::from_fixed_k(u_n, 1, f_n, out.picks)?;
            return self.report(problem, allocation, start, out.recomputations, out.diverted);
        }
        let values = problem.revenue().as_slice();
        let tolerance = problem.tolerance();
        let risks = problem.fund_risk();
        // Each customer's eligible funds, sorted once by E descending. Eligibility depends only
        // on the tolerance level, so the fund lists are built once per level.
        let eligible: Vec<Vec<(f64, u32)>> = (0..LEVELS)
            .map(|t| {
                risks
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| RiskLevel::new(t as u8).permits(**r))
                    .map(|(f, _)| (0.0, f as u32))
                    .collect()
            })
            .collect();
        if f_n >= usize::from(NO_FUND) {
            return Err(AllocError::Unsupported {
                solver: KIND,
                feature: UnsupportedFeature::TooManyFunds {
                    funds: f_n,
                    limit: usize::from(NO_FUND) - 1,
                },
            });
        }
        let mut order = vec![NO_FUND; u_n * f_n];
        order
            .par_chunks_mut(f_n * BLOCK)
            .enumerate()
            .for_each(|(block, out)| {
                let mut buf: Vec<(f64, u32)> = Vec::with_capacity(f_n);
                for (i, out) in out.chunks_mut(f_n).enumerate() {
                    let u = block * BLOCK + i;
                    let row = &values[u * f_n..(u + 1) * f_n];
                    buf.clear();
                    buf.extend_from_slice(&eligible[usize::from(tolerance[u].get())]);
                    // Insertion sort: F is small (8 in PTOFA).
                    for j in 0..buf.len() {
                        let x = (row[buf[j].1 as usize].to_f64_lossless(), buf[j].1);
                        let mut i = j;
                        while i > 0 && by_value(&x, &buf[i - 1]) == Ordering::Less {
                            buf[i] = buf[i - 1];
                            i -= 1;
                        }
                        buf[i] = x;
                    }
                    for (slot, &(_, f)) in out.iter_mut().zip(&buf) {
                        // f < f_n < NO_FUND (checked above).
                        *slot = f as FundIdx;
                    }
                }
            });
        let slack = (k == 1).then(|| LevelSlack::new(problem, &caps));
        let mut state = State {
            problem,
            k,
            f_n,
            order,
            values,
            caps,
            picks: vec![u32::MAX; u_n * k],
            diverted: 0,
            slack,
            unserved_at: problem.tolerance_histogram(),
        };
        let mut rest: Vec<Entry> = (0..u_n as u32)
            .map(|u| Entry {
                score: 0.0,
                u,
                pick: u32::MAX,
            })
            .collect();
        let mut recomputations = 0u64;
        while !rest.is_empty() {
            // Lines 2–6: α over the unserved customers and remaining exposures, then scores.
            let alpha = alpha_sums(problem, &rest, fixed)
                .iter()
                .zip(&state.caps)
                .map(|(&s, &c)| if c > 0 { s / c as f64 } else { 0.0 })
                .collect::<Vec<f64>>();
            let picks_per_fund = {
                let st = &state;
                rest.par_iter_mut()
                    .with_min_len(BLOCK)
                    .fold(
                        || vec![0u64; f_n + 1],
                        |mut acc, entry| {
                            (entry.score, entry.pick) = st.score(entry.u as usize, &alpha);
                            acc[(entry.pick as usize).min(f_n)] += 1;
                            acc
                        },
                    )
                    .reduce(|| vec![0u64; f_n + 1], add_vecs)
            };
            recomputations += 1;
            // Lines 7–12: serve in score order until a fund runs out. Common case: one batch,
            // no sorting (see `serve_batch`).
            let hint = match state.serve_batch(&rest, &picks_per_fund) {
                Ok(last) => {
                    let write_picks = k == 1;
                    let picks = &mut state.picks;
                    rest.retain(|e| {
                        let keep = by_score(e, &last) == Ordering::Greater;
                        if !keep && write_picks {
                            picks[e.u as usize] = e.pick;
                        }
                        keep
                    });
                    continue;
                }
                Err(hint) => hint,
            };
            // The guard must divert someone: serve one by one in score order. The first
            // `min d_f` customers cannot exhaust a fund, so they are selected, not sorted with
            // the rest.
            let mut pos = 0usize;
            // Start with the refused batch's size: the next exhaustion is usually near it.
            let mut floor = hint.max(4096);
            let mut exhausted = false;
            while pos < rest.len() && !exhausted {
                let remaining = &mut rest[pos..];
                let d_min = state
                    .caps
                    .iter()
                    .copied()
                    .filter(|&c| c > 0)
                    .min()
                    .unwrap_or(1);
                let chunk = (d_min as usize).max(floor).min(remaining.len());
                if chunk < remaining.len() {
                    remaining.select_nth_unstable_by(chunk - 1, by_score);
                }
                remaining[..chunk].par_sort_unstable_by(by_score);
                let mut served = chunk;
                for (i, e) in remaining[..chunk].iter().enumerate() {
                    if state.assign(e.u as usize) {
                        exhausted = true;
                        served = i + 1;
                        break;
                    }
                }
                pos += served;
                floor = floor.saturating_mul(2);
            }
            rest.drain(..pos);
            // Back to index order (selection and sorting moved them): α's blocks need it, and
            // the passes read the revenue rows in order.
            rest.par_sort_unstable_by_key(|e| e.u);
        }
        let allocation = Allocation::from_fixed_k(u_n, k, f_n, state.picks)?;
        self.report(problem, allocation, start, recomputations, state.diverted)
    }
}

impl Heuristic {
    /// HA through the general path even where the K = 1 path applies (tests compare the two).
    #[cfg(test)]
    fn general() -> Self {
        Self {
            general: true,
            _private: (),
        }
    }

    fn report<T: Real>(
        &self,
        problem: &AllocationProblem<T>,
        allocation: Allocation,
        start: Instant,
        recomputations: u64,
        diverted: u64,
    ) -> Result<Solution> {
        let mut solution = finish(KIND, problem, allocation, start)?;
        solution.report.iterations = Some(recomputations);
        solution.report.repaired = diverted > 0;
        if diverted > 0 {
            solution.report.notes.push(format!(
                "feasibility guard diverted {diverted} customer(s) from their plain top-K"
            ));
        }
        Ok(solution)
    }
}

/// `Σ_u E_uf` over the customers of `rest` (ascending index) who may hold f: exact and rounded
/// once with a fixed-point scale (as the K = 1 kernel, `heuristic/k1_kernel.rs`); without one (values whose
/// range does not fit), in a fixed order: per block of [`BLOCK`] consecutive indices and per
/// tolerance level, the customers in index order; per level, the blocks in order; then, per
/// fund, the levels that permit it in ascending order. Either way the same bits with any
/// number of threads.
fn alpha_sums<T: Real>(
    problem: &AllocationProblem<T>,
    rest: &[Entry],
    fixed: Option<FixedPoint>,
) -> Vec<f64> {
    let f_n = problem.n_funds();
    let values = problem.revenue().as_slice();
    let tolerance = problem.tolerance();
    let risks = problem.fund_risk();
    if let Some(fixed) = fixed {
        // Exact: the order does not matter.
        let eligible: Vec<Vec<bool>> = (0..LEVELS)
            .map(|t| {
                risks
                    .iter()
                    .map(|&r| RiskLevel::new(t as u8).permits(r))
                    .collect()
            })
            .collect();
        let sums = rest
            .par_iter()
            .with_min_len(BLOCK)
            .fold(
                || vec![0i128; f_n],
                |mut acc, e| {
                    let u = e.u as usize;
                    let eligible = &eligible[usize::from(tolerance[u].get())];
                    let row = &values[u * f_n..(u + 1) * f_n];
                    for ((a, v), &ok) in acc.iter_mut().zip(row).zip(eligible) {
                        *a += fixed.fixed(if ok { v.to_f64_lossless() } else { 0.0 });
                    }
                    acc
                },
            )
            .reduce(|| vec![0i128; f_n], add_vecs);
        return sums.into_iter().map(|s| fixed.to_f64(s)).collect();
    }
    // The tolerance levels that occur, ascending, and each one's position.
    let levels: Vec<usize> = problem
        .tolerance_histogram()
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(t, _)| t)
        .collect();
    let mut index = [0usize; LEVELS];
    for (i, &t) in levels.iter().enumerate() {
        index[t] = i;
    }
    let parts: Vec<Vec<f64>> = rest
        .par_chunk_by(|a, b| a.u as usize / BLOCK == b.u as usize / BLOCK)
        .map(|chunk| {
            let mut acc = vec![0.0f64; levels.len() * f_n];
            for e in chunk {
                let u = e.u as usize;
                let l = index[usize::from(tolerance[u].get())];
                let acc = &mut acc[l * f_n..(l + 1) * f_n];
                for (a, v) in acc.iter_mut().zip(&values[u * f_n..(u + 1) * f_n]) {
                    *a += v.to_f64_lossless();
                }
            }
            acc
        })
        .collect();
    let mut by_level = vec![0.0f64; levels.len() * f_n];
    for part in &parts {
        for (a, v) in by_level.iter_mut().zip(part) {
            *a += v;
        }
    }
    (0..f_n)
        .map(|f| {
            let mut s = 0.0;
            for (l, &t) in levels.iter().enumerate() {
                if RiskLevel::new(t as u8).permits(risks[f]) {
                    s += by_level[l * f_n + f];
                }
            }
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::LctLike;
    use fundalloc_core_types::RevenueMatrix;
    use proptest::prelude::*;

    fn both_paths<T: Real>(p: &AllocationProblem<T>) -> (Solution, Solution) {
        let fixed = FixedPoint::for_values(p.revenue().as_slice(), p.n_customers());
        assert!(
            fixed.is_some_and(FixedPoint::is_narrow),
            "the test instance must take the K = 1 path"
        );
        let fast = Heuristic::new().solve(p).unwrap();
        let general = Heuristic::general().solve(p).unwrap();
        (fast, general)
    }

    fn assert_same(a: &Solution, b: &Solution) {
        assert_eq!(a.allocation, b.allocation);
        assert_eq!(a.report.objective.to_bits(), b.report.objective.to_bits());
        assert_eq!(a.report.iterations, b.report.iterations);
        assert_eq!(a.report.repaired, b.report.repaired);
        assert_eq!(a.report.notes, b.report.notes);
    }

    #[test]
    fn k1_path_is_the_general_path_on_lct_instances() {
        // Several blocks, and the guard diverts customers on these instances.
        let mut repaired = 0;
        for (u, f, seed) in [
            (3_000, 8, 1),
            (20_000, 8, 2),
            (12_345, 5, 3),
            (9_000, 12, 4),
        ] {
            let p = LctLike::new(u, f).seed(seed).generate::<f32>().unwrap();
            let (fast, general) = both_paths(&p);
            assert_same(&fast, &general);
            repaired += usize::from(fast.report.repaired);
        }
        assert!(repaired > 0, "the guard must intervene on some instance");
    }

    #[test]
    fn same_allocation_with_one_and_two_threads() {
        let p = LctLike::new(30_000, 8).seed(5).generate::<f32>().unwrap();
        let p2 = LctLike::new(9_000, 8)
            .k(2)
            .seed(6)
            .generate::<f32>()
            .unwrap();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                (
                    Heuristic::new().solve(&p).unwrap(),
                    Heuristic::general().solve(&p).unwrap(),
                    Heuristic::new().solve(&p2).unwrap(),
                )
            })
        };
        let (one, two) = (run(1), run(2));
        assert_same(&one.0, &two.0);
        assert_same(&one.1, &two.1);
        assert_same(&one.2, &two.2);
    }

    /// Small instances on a grid of sixteenths (f32), any risk structure; feasible by
    /// construction.
    fn small() -> impl Strategy<Value = AllocationProblem<f32>> {
        (1usize..40, 1usize..9)
            .prop_flat_map(|(u, f)| {
                (
                    Just(u),
                    Just(f),
                    proptest::collection::vec(0u16..400, u * f),
                    proptest::collection::vec(1u8..5, u),
                    proptest::collection::vec(1u8..5, f),
                    proptest::collection::vec(any::<u32>(), u),
                )
            })
            .prop_map(|(u, f, values, mut tolerance, risk, draws)| {
                let lowest = risk.iter().copied().min().unwrap_or(1);
                let mut exposures = vec![0u64; f];
                for (t, draw) in tolerance.iter_mut().zip(draws) {
                    *t = (*t).max(lowest);
                    let eligible: Vec<usize> = (0..f).filter(|&g| risk[g] <= *t).collect();
                    exposures[eligible[draw as usize % eligible.len()]] += 1;
                }
                let values: Vec<f32> = values.into_iter().map(|v| f32::from(v) / 16.0).collect();
                AllocationProblem::builder(RevenueMatrix::from_shape_vec(u, f, values).unwrap())
                    .exposures(exposures)
                    .customer_tolerance(tolerance.into_iter().map(RiskLevel::new).collect())
                    .fund_risk(risk.into_iter().map(RiskLevel::new).collect())
                    .build()
                    .unwrap()
            })
    }

    /// Small instances with K = 1, 2 or 3 whose revenues take a few integer values (so funds
    /// and scores tie often), any risk structure; feasible by construction (each customer
    /// draws K distinct eligible funds and the exposures count the draws).
    fn small_with_ties() -> impl Strategy<Value = AllocationProblem<f32>> {
        (1usize..30, 1usize..7, 1usize..4, 1u16..5)
            .prop_flat_map(|(u, f, k, levels)| {
                (
                    Just(u),
                    Just(f),
                    Just(k.min(f)),
                    proptest::collection::vec(0u16..levels, u * f),
                    proptest::collection::vec(1u8..5, u),
                    proptest::collection::vec(1u8..5, f),
                    proptest::collection::vec(any::<u64>(), u),
                )
            })
            .prop_map(|(u, f, k, values, mut tolerance, risk, draws)| {
                let mut sorted = risk.clone();
                sorted.sort_unstable();
                let lowest = sorted[k - 1];
                let mut exposures = vec![0u64; f];
                for (t, mut draw) in tolerance.iter_mut().zip(draws) {
                    *t = (*t).max(lowest);
                    let mut eligible: Vec<usize> = (0..f).filter(|&g| risk[g] <= *t).collect();
                    for _ in 0..k {
                        let g = eligible.remove((draw % eligible.len() as u64) as usize);
                        draw /= 7;
                        exposures[g] += 1;
                    }
                }
                let values: Vec<f32> = values.into_iter().map(f32::from).collect();
                AllocationProblem::builder(RevenueMatrix::from_shape_vec(u, f, values).unwrap())
                    .exactly(k)
                    .exposures(exposures)
                    .customer_tolerance(tolerance.into_iter().map(RiskLevel::new).collect())
                    .fund_risk(risk.into_iter().map(RiskLevel::new).collect())
                    .build()
                    .unwrap()
            })
    }

    #[test]
    fn reference_matches_the_fast_kernels_on_lct_instances() {
        // Large enough for several epochs, batches and guard interventions.
        let mut repaired = 0;
        for (u, f, k, seed) in [
            (400, 8, 1, 1),
            (300, 5, 2, 2),
            (250, 12, 1, 3),
            (200, 6, 3, 4),
        ] {
            let p = LctLike::new(u, f)
                .k(k)
                .seed(seed)
                .generate::<f32>()
                .unwrap();
            let reference = reference_ha(&p).unwrap();
            let fast = Heuristic::new().solve(&p).unwrap();
            assert_eq!(fast.allocation, reference);
            assert_eq!(
                Heuristic::general().solve(&p).unwrap().allocation,
                reference
            );
            repaired += usize::from(fast.report.repaired);
        }
        assert!(repaired > 0, "the guard must intervene on some instance");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn reference_matches_the_fast_kernels(p in prop_oneof![small(), small_with_ties()]) {
            let reference = reference_ha(&p).unwrap();
            prop_assert!(crate::verify(&p, &reference).is_ok());
            let fast = Heuristic::new().solve(&p).unwrap();
            prop_assert_eq!(&fast.allocation, &reference);
            let general = Heuristic::general().solve(&p).unwrap();
            prop_assert_eq!(&general.allocation, &reference);
        }

        #[test]
        fn k1_path_is_the_general_path(p in small()) {
            let (fast, general) = both_paths(&p);
            prop_assert_eq!(&fast.allocation, &general.allocation);
            prop_assert_eq!(fast.report.iterations, general.report.iterations);
            prop_assert_eq!(&fast.report.notes, &general.report.notes);
        }
    }
}
