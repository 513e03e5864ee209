//! HA: PTOFA's heuristic allocation (Algorithm 1, Eq. 7).

use std::cmp::Ordering;
use std::time::Instant;

use fundalloc_core_types::{Allocation, Real, RiskLevel};
use rayon::prelude::*;

use crate::error::{AllocError, Result};
use crate::guard::{LevelSlack, Pending, residual_feasible};
use crate::problem::AllocationProblem;
use crate::solver::{Solution, Solver, finish};

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
/// fund is then served as one batch found by per-fund selection, without sorting customers
/// (`docs/allocation.md`). Supports the paper's form (exactly K, exact `d_f`), any K, up to
/// 65,534 funds.
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
    _private: (),
}

impl Heuristic {
    /// HA as in the paper.
    pub fn new() -> Self {
        Self::default()
    }
}

const NAME: &str = "ha";

/// A fund index in the per-customer sorted lists.
type FundIdx = u16;

/// Padding past a customer's eligible funds.
const NO_FUND: FundIdx = FundIdx::MAX;

/// Customers per parallel work item.
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
    fn name(&self) -> &'static str {
        NAME
    }

    fn solve(&self, problem: &AllocationProblem<T>) -> Result<Solution> {
        let start = Instant::now();
        let caps = problem
            .exact_exposures()
            .filter(|_| problem.is_paper_form())
            .ok_or(AllocError::Unsupported {
                solver: NAME,
                feature: "exposure ranges or an at-most-K rule (use Lp)".into(),
            })?;
        let (u_n, f_n, k) = (problem.n_customers(), problem.n_funds(), problem.k());
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
                solver: NAME,
                feature: format!("{f_n} funds (HA handles at most {})", NO_FUND - 1),
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
            let alpha = {
                let st = &state;
                // Σ_u E_uf per tolerance level (dense rows, no per-customer fund list), then
                // per fund over the levels that permit it.
                let by_level = rest
                    .par_iter()
                    .with_min_len(BLOCK)
                    .fold(
                        || vec![0.0f64; LEVELS * f_n],
                        |mut acc, e| {
                            let u = e.u as usize;
                            let t = usize::from(tolerance[u].get());
                            let acc_t = &mut acc[t * f_n..(t + 1) * f_n];
                            for (a, v) in acc_t.iter_mut().zip(&values[u * f_n..(u + 1) * f_n]) {
                                *a += v.to_f64_lossless();
                            }
                            acc
                        },
                    )
                    .reduce(|| vec![0.0f64; LEVELS * f_n], add_vecs);
                let sums: Vec<f64> = (0..f_n)
                    .map(|f| {
                        (0..LEVELS)
                            .filter(|&t| RiskLevel::new(t as u8).permits(risks[f]))
                            .map(|t| by_level[t * f_n + f])
                            .sum()
                    })
                    .collect();
                sums.iter()
                    .zip(&st.caps)
                    .map(|(&s, &c)| if c > 0 { s / c as f64 } else { 0.0 })
                    .collect::<Vec<f64>>()
            };
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
        }
        let repaired = state.diverted > 0;
        let diverted = state.diverted;
        let allocation = Allocation::from_fixed_k(u_n, k, f_n, state.picks)?;
        let mut solution = finish(NAME, problem, allocation, start)?;
        solution.report.iterations = Some(recomputations);
        solution.report.repaired = repaired;
        if repaired {
            solution.report.notes.push(format!(
                "feasibility guard diverted {diverted} customer(s) from their plain top-K"
            ));
        }
        Ok(solution)
    }
}
