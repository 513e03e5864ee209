//! HA for K = 1 and at most [`MAX_FUNDS`] funds, the case of PTOFA: the same allocation as the
//! general path in `heuristic.rs`, with fewer and lighter passes over the customers.
//!
//! * Customers live in blocks of [`BLOCK`] consecutive indices, grouped by risk level inside a
//!   block and compacted in place: a level fixes the number of eligible funds, so the
//!   per-customer loops have a fixed length and are written without branches.
//! * A customer's eligible funds, sorted by E, are one `u64` of 4-bit fund indices (80 MB at
//!   10 M customers instead of 160 MB of `u16`), built with α's first sums in one pass.
//! * An epoch is served in *phases*, without sorting anyone. Within a phase the guard's state
//!   that matters is fixed: the open funds and the levels τ whose Hall slack is 0 (no move may
//!   cross them). So each customer's choice, the first open eligible fund whose move crosses no
//!   zero-slack level, does not depend on the order of service. A phase ends at the earliest
//!   event in score order: a fund's `cap_f`-th chooser exhausts it, or level τ's
//!   `slack(τ)`-th crossing brings its slack to 0 when more crossings would follow. Everyone
//!   ranked up to that customer is served as one batch, which is exactly what serving one by
//!   one behind the guard does (before the event no check fails and no fund closes). An
//!   exhausted fund starts a new epoch (α and scores recomputed); a level event only changes
//!   the choices. The general path instead sorts the epoch when the guard refuses its batch.
//! * One pass per phase: it removes the last batch (writing its picks), scores, chooses, and
//!   counts customers and sums their revenue exactly per (level, choice) and score bucket. The
//!   counts locate the event's bucket; only that bucket's customers are gathered and searched.
//!   The batch's moves and the kept customers' α sums follow from the counts and sums of the
//!   buckets before and after it, so the batch needs no second pass.

use std::cmp::Ordering;

use fundalloc_core_types::{Real, RiskLevel};
use rayon::prelude::*;

use super::BLOCK;
use super::exact_sum::FixedPoint;
use crate::guard::LevelSlack;
use crate::problem::AllocationProblem;

/// Most funds this path handles: 4-bit fund indices, `0xF` ends a customer's list.
pub(super) const MAX_FUNDS: usize = 15;

/// Nibble that ends a customer's sorted fund list.
const END: u64 = 0xF;

/// "No fund" in a [`Live`] entry.
const NONE: u8 = u8::MAX;

/// Histogram slot for customers without a choice (fund slots are `0..15`).
const SLOT_NONE: usize = 15;

/// Histogram slots per level.
const SLOTS: usize = 16;

/// An unserved customer: its Eq. 7 score in this epoch, index, choice under the guard, plain
/// pick (first open eligible fund), and level index (see [`LevelSlack::level_index`]).
#[derive(Debug, Clone, Copy)]
struct Live {
    score: f64,
    u: u32,
    choice: u8,
    plain: u8,
    level: u8,
}

/// Descending score, then ascending customer index (as `super::by_score`).
#[inline]
fn by_score(a: &Live, b: &Live) -> Ordering {
    b.score.total_cmp(&a.score).then(a.u.cmp(&b.u))
}

/// Customers `start..start + order.len()`.
struct Block {
    start: usize,
    /// Per customer of the block, its eligible funds by E descending (ties: lower index), as
    /// 4-bit indices from the low end, then [`END`].
    order: Vec<u64>,
    /// The block's unserved customers by level index, then ascending customer index: a
    /// customer's number of eligible funds depends only on its level, so the passes run
    /// fixed-length loops per level.
    live: Vec<Live>,
    /// Number of entries of `live` per level index.
    runs: Vec<usize>,
}

/// What [`solve`] hands back to `Heuristic::solve`.
pub(super) struct Outcome {
    /// Each customer's fund (`u32::MAX` if the guard failed, which the verifier reports).
    pub(super) picks: Vec<u32>,
    /// Customers served a fund other than their plain pick.
    pub(super) diverted: u64,
    /// α / score recomputations (epochs).
    pub(super) recomputations: u64,
}

/// Ascending in `total_cmp` descending order of `x`.
#[inline(always)]
fn descending_key(x: f64) -> u64 {
    let bits = x.to_bits();
    // Negative: flip every bit; otherwise set the sign bit (branch-free).
    let flip = ((bits as i64 >> 63) as u64) | 1 << 63;
    !(bits ^ flip)
}

/// Sorts 8 keys ascending (Knuth's 19-comparator network), unrolled on locals: branch-free
/// `cmov`s, no table of pairs to load.
#[inline(always)]
fn sort8(k: &mut [u64; 8]) {
    let [
        mut a0,
        mut a1,
        mut a2,
        mut a3,
        mut a4,
        mut a5,
        mut a6,
        mut a7,
    ] = *k;
    macro_rules! exchange {
        ($x:ident, $y:ident) => {
            let lo = $x.min($y);
            $y = $x.max($y);
            $x = lo;
        };
    }
    exchange!(a0, a2);
    exchange!(a1, a3);
    exchange!(a4, a6);
    exchange!(a5, a7);
    exchange!(a0, a4);
    exchange!(a1, a5);
    exchange!(a2, a6);
    exchange!(a3, a7);
    exchange!(a0, a1);
    exchange!(a2, a3);
    exchange!(a4, a5);
    exchange!(a6, a7);
    exchange!(a2, a4);
    exchange!(a3, a5);
    exchange!(a1, a4);
    exchange!(a3, a6);
    exchange!(a1, a2);
    exchange!(a3, a4);
    exchange!(a5, a6);
    *k = [a0, a1, a2, a3, a4, a5, a6, a7];
}

/// [`sorted_funds`] for `f32` revenue and at most 8 funds: a converted `f32` leaves the low
/// 29 bits of its [`descending_key`] constant, so the fund index fits in the low 4 bits
/// without changing any comparison between distinct values, and ties fall to the lower
/// index; ineligible funds are `u64::MAX`, whose low nibble is [`END`].
#[inline(always)]
fn sorted_funds_packed<T: Real>(row: &[T], eligible: u16) -> u64 {
    let mut keys = [u64::MAX; 8];
    for (f, (k, v)) in keys.iter_mut().zip(row).enumerate() {
        // All ones for an eligible fund, else zero (no branch: eligibility varies by customer).
        let keep = 0u64.wrapping_sub(u64::from(eligible >> f & 1));
        *k = (((descending_key(v.to_f64_lossless()) & !END) | f as u64) & keep) | !keep;
    }
    sort8(&mut keys);
    // Entries 8..16 stay END.
    let mut word = u64::MAX << 32;
    for (j, k) in keys.iter().enumerate() {
        word |= (k & END) << (4 * j);
    }
    word
}

/// The eligible funds (`eligible` bit mask) of a revenue row sorted by E descending, ties by
/// lower index: each fund's rank is the number of eligible funds that come before it.
#[inline]
fn sorted_funds<T: Real>(row: &[T], eligible: u16) -> u64 {
    let mut keys = [0u64; MAX_FUNDS];
    for (k, v) in keys.iter_mut().zip(row) {
        *k = descending_key(v.to_f64_lossless());
    }
    let keys = &keys[..row.len()];
    let mut word = u64::MAX;
    for (f, &kf) in keys.iter().enumerate() {
        if eligible >> f & 1 == 0 {
            continue;
        }
        let mut rank = 0u32;
        for (g, &kg) in keys.iter().enumerate() {
            let before = (kg, g) < (kf, f);
            rank += u32::from(before && eligible >> g & 1 == 1);
        }
        word &= !(END << (4 * rank));
        word |= (f as u64) << (4 * rank);
    }
    word
}

/// A revenue row in `f64`, padded to 16 entries so that any 4-bit fund index is in bounds.
#[inline]
fn row16<T: Real>(row: &[T]) -> [f64; 16] {
    let mut out = [0.0; 16];
    for (o, v) in out.iter_mut().zip(row) {
        *o = v.to_f64_lossless();
    }
    out
}

/// Eq. 7 over a customer's sorted list whose first `slots` funds are exactly its open eligible
/// ones (see [`drop_closed`]), and the first of them ([`NONE`]: none). The same operations on
/// the same values as `State::score` of the general path: `h += α_{prev}·(E_{prev} − E_f)` for
/// each open fund after the first, in sorted order.
#[inline(always)]
fn score(word: u64, slots: usize, row: &[f64; 16], alpha: &[f64; 16]) -> (f64, u8) {
    if slots == 0 {
        return (0.0, NONE);
    }
    let first = (word & END) as usize;
    let mut h = 0.0;
    let (mut prev_alpha, mut prev_value) = (alpha[first], row[first]);
    for j in 1..slots {
        let f = (word >> (4 * j) & END) as usize;
        let v = row[f];
        h += prev_alpha * (prev_value - v);
        prev_alpha = alpha[f];
        prev_value = v;
    }
    (h, first as u8)
}

/// Removes the funds in `closed` from the first `slots` entries of a sorted list (the rest
/// shifts down, [`END`] fills the top), so that scoring needs no per-fund "is it open" test.
#[inline(always)]
fn drop_closed(word: u64, slots: usize, closed: u16) -> u64 {
    let mut out = u64::MAX;
    let mut k = 0u32;
    for j in 0..slots {
        let f = word >> (4 * j) & END;
        let keep = closed >> f & 1 == 0;
        let placed = (out & !(END << (4 * k))) | f << (4 * k);
        out = if keep { placed } else { out };
        k += u32::from(keep);
    }
    out
}

/// The first fund among the first `slots` of a sorted list that is in `allowed` ([`NONE`]:
/// none); `allowed` never has bit 15.
#[inline(always)]
fn first_allowed(word: u64, slots: usize, allowed: u16) -> u8 {
    let mut choice = NONE;
    for j in (0..slots).rev() {
        let f = (word >> (4 * j) & END) as usize;
        choice = if allowed >> f & 1 == 1 {
            f as u8
        } else {
            choice
        };
    }
    choice
}

/// α_f = (exact Σ over the unserved customers who may hold f) / d_f, 0 for a closed fund;
/// padded to 16.
fn alpha_from(sums: &[i128], caps: &[u64], fixed: FixedPoint) -> [f64; 16] {
    let mut alpha = [0.0; 16];
    for ((a, &s), &c) in alpha.iter_mut().zip(sums).zip(caps) {
        *a = if c > 0 {
            fixed.to_f64(s) / c as f64
        } else {
            0.0
        };
    }
    alpha
}

/// Adds a revenue row, masked to the customer's eligible funds (`mask`: 1 or 0 per fund, see
/// [`masks`]), to exact sums of at most [`FixedPoint::NARROW_TERMS`] rows. Branch-free, so it
/// vectorises.
#[inline(always)]
fn add_fixed(acc: &mut [i64], row: &[f64; 16], mask: &[f64; 16], fixed: FixedPoint) {
    for ((a, &v), &m) in acc.iter_mut().zip(row).zip(mask) {
        *a += fixed.narrow(v * m);
    }
}

/// Per level index, 1.0 for the funds it may hold and 0.0 for the others (`v · 1 = v`,
/// `v · 0 = ±0`, whose fixed-point value is 0).
fn masks(eligible: &[u16]) -> Vec<[f64; 16]> {
    eligible
        .iter()
        .map(|&m| {
            let mut out = [0.0; 16];
            for (f, x) in out.iter_mut().enumerate() {
                *x = f64::from(m >> f & 1);
            }
            out
        })
        .collect()
}

/// Adds exact `i64` partial sums to `i128` sums.
fn widen_into(acc: &mut [i128], part: &[i64]) {
    for (a, &p) in acc.iter_mut().zip(part) {
        *a += i128::from(p);
    }
}

/// Blocks per task of the scoring pass: a task's per-bucket sums are over at most
/// `TASK · BLOCK` = [`FixedPoint::NARROW_TERMS`] customers, so they fit an `i64`.
const TASK: usize = FixedPoint::NARROW_TERMS / BLOCK;

/// Buckets of the score histogram that locates each event: 32 per octave over the 16 octaves
/// below an upper bound of the epoch's scores; lower scores share the last bucket.
const BUCKETS: usize = 1 << 9;

/// Maps scores to buckets, non-decreasing in rank (descending score): bucket order never
/// contradicts [`by_score`]; ties inside a bucket are left to an exact selection.
#[derive(Clone, Copy)]
struct Buckets {
    /// `!descending_key` (ascending in score) of the bound.
    top: u64,
}

impl Buckets {
    /// For scores at most `bound`.
    fn below(bound: f64) -> Self {
        Self {
            top: !descending_key(bound),
        }
    }

    #[inline(always)]
    fn of(self, score: f64) -> usize {
        ((self.top.saturating_sub(!descending_key(score)) >> 47) as usize).min(BUCKETS - 1)
    }
}

/// Static per-problem tables.
struct Tables<'a, T: Real> {
    values: &'a [T],
    f_n: usize,
    /// Eligible funds per level index.
    eligible: Vec<u16>,
    /// Level index of each fund's risk.
    fund_level: Vec<usize>,
}

impl<T: Real> Tables<'_, T> {
    #[inline(always)]
    fn row(&self, u: usize) -> [f64; 16] {
        row16(&self.values[u * self.f_n..(u + 1) * self.f_n])
    }
}

/// One event's customers: those choosing `Fund`, or those whose choice crosses `Level`.
#[derive(Clone, Copy)]
enum Group {
    Fund(usize),
    Level(usize),
}

impl Group {
    fn has(self, level: usize, choice: usize, fund_level: &[usize]) -> bool {
        match self {
            Group::Fund(f) => choice == f,
            Group::Level(tau) => fund_level[choice] <= tau && tau < level,
        }
    }
}

/// Runs `$body` with `$n` bound to a constant (1..=8) where possible, so that the per-customer
/// loops over a level's eligible funds are unrolled.
macro_rules! with_slots {
    ($slots:expr, $n:ident => $body:expr) => {
        match $slots {
            1 => {
                let $n = 1;
                $body
            }
            2 => {
                let $n = 2;
                $body
            }
            3 => {
                let $n = 3;
                $body
            }
            4 => {
                let $n = 4;
                $body
            }
            5 => {
                let $n = 5;
                $body
            }
            6 => {
                let $n = 6;
                $body
            }
            7 => {
                let $n = 7;
                $body
            }
            8 => {
                let $n = 8;
                $body
            }
            other => {
                let $n = other;
                $body
            }
        }
    };
}

/// HA (K = 1, at most [`MAX_FUNDS`] funds) with exact exposures `caps`; α summed with
/// `fixed`, which must be [`FixedPoint::is_narrow`].
pub(super) fn solve<T: Real>(
    problem: &AllocationProblem<T>,
    mut caps: Vec<u64>,
    fixed: FixedPoint,
) -> Outcome {
    let (u_n, f_n) = (problem.n_customers(), problem.n_funds());
    let tolerance = problem.tolerance();
    let risks = problem.fund_risk();
    let mut slack = LevelSlack::new(problem, &caps);
    let n_levels = slack.levels().len();
    let level_of = slack.levels().to_vec();
    let tables = Tables {
        values: problem.revenue().as_slice(),
        f_n,
        eligible: level_of
            .iter()
            .map(|t| {
                risks
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| t.permits(**r))
                    .fold(0u16, |m, (f, _)| m | 1 << f)
            })
            .collect(),
        fund_level: risks.iter().map(|&r| slack.level_index(r)).collect(),
    };
    let tables = &tables;
    let cells = n_levels * SLOTS;
    let mask = &masks(&tables.eligible);

    // One pass: sorted fund lists, the live entries by level, α's first sums.
    // `Real` is sealed to f32 and f64: 4 bytes means f32.
    let packed = std::mem::size_of::<T>() == 4 && f_n <= 8;
    let n_blocks = u_n.div_ceil(BLOCK);
    let built: Vec<(Block, Vec<i64>)> = (0..n_blocks)
        .into_par_iter()
        .map(|b| {
            let start = b * BLOCK;
            let end = (start + BLOCK).min(u_n);
            let levels: Vec<u8> = tolerance[start..end]
                .iter()
                .map(|&t| slack.level_index(t) as u8)
                .collect();
            let mut runs = vec![0usize; n_levels];
            for &l in &levels {
                runs[usize::from(l)] += 1;
            }
            let mut next: Vec<usize> = runs
                .iter()
                .scan(0, |acc, &n| {
                    let at = *acc;
                    *acc += n;
                    Some(at)
                })
                .collect();
            let blank = Live {
                score: 0.0,
                u: 0,
                choice: NONE,
                plain: NONE,
                level: 0,
            };
            let mut live = vec![blank; end - start];
            let mut order = Vec::with_capacity(end - start);
            let mut sums = vec![0i64; f_n];
            for (i, &level) in levels.iter().enumerate() {
                let u = start + i;
                let raw = &tables.values[u * f_n..(u + 1) * f_n];
                let eligible = tables.eligible[usize::from(level)];
                order.push(if packed {
                    sorted_funds_packed(raw, eligible)
                } else {
                    sorted_funds(raw, eligible)
                });
                add_fixed(&mut sums, &row16(raw), &mask[usize::from(level)], fixed);
                let slot = &mut next[usize::from(level)];
                live[*slot] = Live {
                    u: u as u32,
                    level,
                    ..blank
                };
                *slot += 1;
            }
            let block = Block {
                start,
                order,
                live,
                runs,
            };
            (block, sums)
        })
        .collect();
    let mut sums = vec![0i128; f_n];
    let mut blocks: Vec<Block> = Vec::with_capacity(n_blocks);
    for (block, part) in built {
        blocks.push(block);
        widen_into(&mut sums, &part);
    }
    let mut alpha = alpha_from(&sums, &caps, fixed);
    // |E_a − E_b| ≤ 2·max |E|.
    let spread = 2.0 * fixed.max_abs;

    let mut picks = vec![u32::MAX; u_n];
    let mut unserved = u_n as u64;
    let mut diverted = 0u64;
    let mut recomputations = 0u64;
    let mut rescore = true;
    // The funds the sorted lists may still contain.
    let mut listed: u16 = ((1u32 << f_n) - 1) as u16;
    let mut buckets = Buckets::below(0.0);
    // Customers served by the last phase but still in `live` (removed by the next pass).
    let mut pending: Option<Cut> = None;
    let per_task = n_blocks.div_ceil(2 * rayon::current_num_threads()).max(1);
    let tasks_per_leaf = n_blocks
        .div_ceil(TASK)
        .div_ceil(2 * rayon::current_num_threads())
        .max(1);
    while unserved > 0 {
        let open = caps
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .fold(0u16, |m, (f, _)| m | 1 << f);
        // Per level index: the open eligible funds whose move crosses no zero-slack level.
        let zero: Vec<bool> = slack.slack().iter().map(|&s| s <= 0).collect();
        let allowed: Vec<u16> = (0..n_levels)
            .map(|t| {
                (0..f_n)
                    .filter(|&f| {
                        open >> f & 1 == 1
                            && tables.eligible[t] >> f & 1 == 1
                            && !zero[tables.fund_level[f].min(t)..t].iter().any(|&z| z)
                    })
                    .fold(0u16, |m, f| m | 1 << f)
            })
            .collect();
        if rescore {
            recomputations += 1;
            // Every score is a sum of at most F − 1 terms α_f·(E_a − E_b) ≤ max α · spread.
            let max_alpha = alpha.iter().copied().fold(0.0, f64::max);
            buckets = Buckets::below(max_alpha * spread * (f_n.max(2) - 1) as f64);
        }
        // The one pass over the customers: serve the last phase's batch (write its picks,
        // drop it), score (new epoch), choose, and count and sum per score bucket.
        // Funds closed since the last scoring pass leave the sorted lists in this one.
        let closed = if rescore { listed & !open } else { 0 };
        let count = |m: u16| -> Vec<usize> {
            tables
                .eligible
                .iter()
                .map(|&e| (e & m).count_ones() as usize)
                .collect()
        };
        let (listed_n, open_n) = (count(listed), count(open));
        let unrestricted: Vec<bool> = (0..n_levels)
            .map(|l| allowed[l] == tables.eligible[l] & open)
            .collect();
        if rescore {
            listed = open;
        }
        let (alpha_now, allowed) = (&alpha, &allowed);
        let (listed_n, open_n, unrestricted) = (&listed_n, &open_n, &unrestricted);
        let counts = blocks
            .par_chunks_mut(TASK)
            .zip(picks.par_chunks_mut(TASK * BLOCK))
            // Few accumulators: each is a few hundred kB to clear and merge.
            .with_min_len(tasks_per_leaf)
            .fold(
                || Counts::new(cells, f_n),
                |mut counts, (chunk, picks)| {
                    let mut sums = vec![0i64; BUCKETS * f_n];
                    for (block, picks) in chunk.iter_mut().zip(picks.chunks_mut(BLOCK)) {
                        warm(tables, block);
                        let Block {
                            start,
                            order,
                            live,
                            runs,
                        } = block;
                        let (mut at, mut kept) = (0, 0);
                        for (level, len) in runs.iter_mut().enumerate() {
                            let run_start = kept;
                            let allowed = allowed[level];
                            let mask = &mask[level];
                            let unrestricted = unrestricted[level];
                            with_slots!(open_n[level], n => {
                                for i in at..at + *len {
                                    let mut e = live[i];
                                    let u = e.u as usize;
                                    if pending.is_some_and(|cut| cut.serves(&e)) {
                                        picks[u - *start] = u32::from(e.choice);
                                        continue;
                                    }
                                    let mut word = order[u - *start];
                                    let row = tables.row(u);
                                    if rescore {
                                        if closed != 0 {
                                            word = drop_closed(word, listed_n[level], closed);
                                            order[u - *start] = word;
                                        }
                                        (e.score, e.plain) = score(word, n, &row, alpha_now);
                                    }
                                    e.choice = if unrestricted {
                                        e.plain
                                    } else {
                                        first_allowed(word, n, allowed)
                                    };
                                    let slot = usize::from(e.choice).min(SLOT_NONE);
                                    let b = buckets.of(e.score);
                                    counts.hist[(level * SLOTS + slot) * BUCKETS + b] += 1;
                                    counts.diverted[b] += u32::from(e.choice != e.plain);
                                    add_fixed(&mut sums[b * f_n..(b + 1) * f_n], &row, mask, fixed);
                                    live[kept] = e;
                                    kept += 1;
                                }
                            });
                            at += *len;
                            *len = kept - run_start;
                        }
                        live.truncate(kept);
                    }
                    widen_into(&mut counts.sums, &sums);
                    counts
                },
            )
            .reduce(|| Counts::new(cells, f_n), Counts::add);
        pending = None;
        let per_cell: Vec<u64> = counts
            .hist
            .chunks(BUCKETS)
            .map(|c| c.iter().map(|&x| u64::from(x)).sum())
            .collect();
        // Someone without a safe fund: impossible on a validated problem (the guard keeps a
        // completion). Stop; the verifier reports the unserved customers.
        if (0..n_levels).any(|l| per_cell[l * SLOTS + SLOT_NONE] > 0) {
            break;
        }
        // Events: a fund reaching its cap, a level reaching zero slack with crossings to spare.
        let mut groups: Vec<(Group, usize)> = Vec::new();
        for (f, &cap) in caps.iter().enumerate() {
            let chosen: u64 = (0..n_levels).map(|t| per_cell[t * SLOTS + f]).sum();
            if cap > 0 && chosen >= cap {
                groups.push((Group::Fund(f), cap as usize));
            }
        }
        for (tau, &s) in slack.slack().iter().enumerate() {
            let crossing: u64 = (0..cells)
                .filter(|&c| c % SLOTS < f_n)
                .filter(|&c| Group::Level(tau).has(c / SLOTS, c % SLOTS, &tables.fund_level))
                .map(|c| per_cell[c])
                .sum();
            if s > 0 && crossing > s as u64 {
                groups.push((Group::Level(tau), s as usize));
            }
        }
        let event = select_cut(&blocks, &groups, tables, &counts.hist, buckets, per_task);
        // The batch: every bucket before the cut's, and the cut's bucket up to the cut.
        let mut moves = vec![0u64; cells];
        let mut kept_sums = vec![0i128; f_n];
        for (c, m) in moves.iter_mut().enumerate() {
            *m = counts.hist[c * BUCKETS..c * BUCKETS + event.bucket.min(BUCKETS)]
                .iter()
                .map(|&x| u64::from(x))
                .sum();
        }
        diverted += counts.diverted[..event.bucket.min(BUCKETS)]
            .iter()
            .map(|&x| u64::from(x))
            .sum::<u64>();
        for b in (event.bucket + 1)..BUCKETS {
            for (k, &s) in kept_sums
                .iter_mut()
                .zip(&counts.sums[b * f_n..(b + 1) * f_n])
            {
                *k += s;
            }
        }
        for chunk in event.boundary.chunks(FixedPoint::NARROW_TERMS) {
            let mut part = vec![0i64; f_n];
            for e in chunk {
                if event.cut.serves(e) {
                    moves[usize::from(e.level) * SLOTS + usize::from(e.choice)] += 1;
                    diverted += u64::from(e.choice != e.plain);
                } else {
                    let level = usize::from(e.level);
                    let row = tables.row(e.u as usize);
                    add_fixed(&mut part, &row, &mask[level], fixed);
                }
            }
            widen_into(&mut kept_sums, &part);
        }
        let list: Vec<(RiskLevel, RiskLevel, u64)> = moves
            .iter()
            .enumerate()
            .filter(|(c, n)| **n > 0 && c % SLOTS < f_n)
            .map(|(c, &n)| (level_of[c / SLOTS], risks[c % SLOTS], n))
            .collect();
        let served: u64 = list.iter().map(|m| m.2).sum();
        // Safe by construction; should it fail, the unserved customers keep the sentinel and
        // the verifier reports the bug.
        if served == 0 || !slack.try_commit_many(&list) {
            break;
        }
        for (c, &n) in moves.iter().enumerate() {
            if c % SLOTS < f_n {
                caps[c % SLOTS] -= n;
            }
        }
        unserved -= served;
        pending = Some(event.cut);
        rescore = event.closes;
        if event.closes {
            alpha = alpha_from(&kept_sums, &caps, fixed);
        }
    }
    // Write the last batch's picks.
    if let Some(cut) = pending {
        blocks
            .par_iter()
            .zip(picks.par_chunks_mut(BLOCK))
            .for_each(|(block, picks)| {
                for e in block.live.iter().filter(|e| cut.serves(e)) {
                    picks[e.u as usize - block.start] = u32::from(e.choice);
                }
            });
    }
    Outcome {
        picks,
        diverted,
        recomputations,
    }
}

/// Loads the block's live customers' revenue rows and sorted lists into the cache first, in a
/// loop of independent loads (many misses in flight), before the scoring loop, whose long
/// per-customer dependency chains leave few loads in flight and whose per-level runs skip
/// around in a way the hardware prefetcher does not follow. A 32-byte row (8 `f32`) lies in
/// one cache line, so one load per customer brings the whole row.
#[inline]
fn warm<T: Real>(tables: &Tables<'_, T>, block: &Block) {
    let mut touch = 0.0;
    let mut words = 0u64;
    for e in &block.live {
        let u = e.u as usize;
        touch += tables.values[u * tables.f_n].to_f64_lossless();
        words ^= block.order[u - block.start];
    }
    std::hint::black_box((touch, words));
}

/// Per-task results of the scoring pass, per score bucket.
struct Counts {
    /// Customers per (level, choice) cell and bucket: `hist[cell · BUCKETS + b]`.
    hist: Vec<u32>,
    /// Customers whose choice is not their plain pick, per bucket.
    diverted: Vec<u32>,
    /// Exact sums of the customers' eligible revenue, per bucket and fund.
    sums: Vec<i128>,
}

impl Counts {
    fn new(cells: usize, f_n: usize) -> Self {
        Self {
            hist: vec![0; cells * BUCKETS],
            diverted: vec![0; BUCKETS],
            sums: vec![0; BUCKETS * f_n],
        }
    }

    fn add(self, other: Self) -> Self {
        Self {
            hist: add_counts(self.hist, other.hist),
            diverted: add_counts(self.diverted, other.diverted),
            sums: add_counts(self.sums, other.sums),
        }
    }
}

fn add_counts<N: Copy + std::ops::AddAssign>(mut a: Vec<N>, b: Vec<N>) -> Vec<N> {
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
    a
}

/// Where a batch ends: everyone ranked up to `last` (`None`: everyone) with a fund to take.
#[derive(Debug, Clone, Copy)]
struct Cut {
    last: Option<(u64, u32)>,
}

impl Cut {
    #[inline(always)]
    fn serves(self, e: &Live) -> bool {
        e.choice != NONE
            && self
                .last
                .is_none_or(|c| (descending_key(e.score), e.u) <= c)
    }
}

/// The end of a phase's batch.
struct Event {
    cut: Cut,
    /// The cut's score bucket ([`BUCKETS`] when everyone is served): the customers in earlier
    /// buckets are served, those in later ones are not.
    bucket: usize,
    /// The live customers in `bucket`, on either side of the cut.
    boundary: Vec<Live>,
    /// Whether a fund runs out at the cut (a new epoch follows).
    closes: bool,
}

/// The earliest event in score order: per group, its `n`-th member by score. The scoring pass
/// counted the customers per (level, choice) cell and score bucket, which gives each group's
/// bucket of its `n`-th member; only the earliest such bucket can hold the cut. One read-only
/// pass gathers that bucket's customers, and a selection among them finds each candidate
/// exactly — no sort, no copy of whole groups.
fn select_cut<T: Real>(
    blocks: &[Block],
    groups: &[(Group, usize)],
    tables: &Tables<'_, T>,
    hist: &[u32],
    buckets: Buckets,
    per_task: usize,
) -> Event {
    let everyone = Event {
        cut: Cut { last: None },
        bucket: BUCKETS,
        boundary: Vec::new(),
        closes: false,
    };
    if groups.is_empty() {
        return everyone;
    }
    let cells = hist.len() / BUCKETS;
    let in_group = |g: Group, c: usize| {
        c % SLOTS < tables.f_n && g.has(c / SLOTS, c % SLOTS, &tables.fund_level)
    };
    // Per group: the bucket of its n-th member and the rank inside that bucket.
    let target: Vec<(usize, usize)> = groups
        .iter()
        .map(|&(g, n)| {
            let mut count = vec![0usize; BUCKETS];
            for c in (0..cells).filter(|&c| in_group(g, c)) {
                for (x, &h) in count.iter_mut().zip(&hist[c * BUCKETS..(c + 1) * BUCKETS]) {
                    *x += h as usize;
                }
            }
            let mut before = 0usize;
            for (b, &here) in count.iter().enumerate() {
                if before + here >= n {
                    return (b, n - before);
                }
                before += here;
            }
            (BUCKETS, 0)
        })
        .collect();
    let first = target.iter().map(|t| t.0).min().unwrap_or(BUCKETS);
    if first >= BUCKETS {
        return everyone;
    }
    let boundary: Vec<Live> = blocks
        .par_chunks(per_task)
        .map(|chunk| {
            chunk
                .iter()
                .flat_map(|b| &b.live)
                .filter(|e| buckets.of(e.score) == first)
                .copied()
                .collect::<Vec<Live>>()
        })
        .reduce(Vec::new, |mut a, b| {
            a.extend(b);
            a
        });
    let mut events: Vec<(Group, Live)> = Vec::new();
    for (&(g, _), &(bucket, rank)) in groups.iter().zip(&target) {
        if bucket != first {
            continue;
        }
        let mut members: Vec<Live> = boundary
            .iter()
            .filter(|e| {
                in_group(
                    g,
                    usize::from(e.level) * SLOTS + usize::from(e.choice).min(SLOT_NONE),
                )
            })
            .copied()
            .collect();
        if rank == 0 || rank > members.len() {
            continue;
        }
        let (_, x, _) = members.select_nth_unstable_by(rank - 1, by_score);
        events.push((g, *x));
    }
    let Some(last) = events.iter().map(|(_, x)| *x).min_by(by_score) else {
        return everyone;
    };
    // Several events can fall on the same customer.
    let closes = events
        .iter()
        .any(|(g, x)| matches!(g, Group::Fund(_)) && x.u == last.u);
    Event {
        cut: Cut {
            last: Some((descending_key(last.score), last.u)),
        },
        bucket: first,
        boundary,
        closes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sort8_sorts_every_zero_one_input() {
        // 0-1 principle: a comparator network that sorts all 2^8 0-1 inputs sorts everything.
        for bits in 0u32..256 {
            let mut k = [0u64; 8];
            for (i, x) in k.iter_mut().enumerate() {
                *x = u64::from(bits >> i & 1);
            }
            sort8(&mut k);
            assert!(k.windows(2).all(|w| w[0] <= w[1]), "{bits:08b}: {k:?}");
        }
    }

    /// The general path's rule: E descending (`total_cmp`), ties by lower index.
    fn reference_order(row: &[f32], eligible: u16) -> Vec<u64> {
        let mut funds: Vec<usize> = (0..row.len()).filter(|&f| eligible >> f & 1 == 1).collect();
        funds.sort_by(|&a, &b| {
            f64::from(row[b])
                .total_cmp(&f64::from(row[a]))
                .then(a.cmp(&b))
        });
        funds.into_iter().map(|f| f as u64).collect()
    }

    fn unpack(word: u64) -> Vec<u64> {
        (0..16)
            .map(|j| word >> (4 * j) & END)
            .take_while(|&f| f != END)
            .collect()
    }

    proptest! {
        #[test]
        fn packed_and_plain_sorts_agree_with_the_rule(
            row in proptest::collection::vec(
                prop_oneof![
                    (-2i8..3).prop_map(f32::from),
                    Just(-0.0f32),
                    -1e30f32..1e30,
                    -1e-30f32..1e-30,
                ],
                1..=8,
            ),
            eligible in any::<u16>(),
        ) {
            let eligible = eligible & ((1u16 << row.len()) - 1);
            let expected = reference_order(&row, eligible);
            prop_assert_eq!(unpack(sorted_funds_packed(&row, eligible)), expected.clone());
            prop_assert_eq!(unpack(sorted_funds(&row, eligible)), expected);
        }

        #[test]
        fn score_is_eq_7_over_the_open_funds(
            row in proptest::collection::vec(0.0f64..10.0, 1..=8),
            alpha in proptest::collection::vec(0.0f64..3.0, 8),
            open in any::<u16>(),
        ) {
            let f_n = row.len();
            let open = open & ((1u16 << f_n) - 1);
            let values: Vec<f32> = row.iter().map(|&v| v as f32).collect();
            let eligible = (1u16 << f_n) - 1;
            let word = sorted_funds(&values, eligible);
            let mut alpha16 = [0.0; 16];
            alpha16[..8].copy_from_slice(&alpha);
            // Drop the closed funds, then score the first `n` (the open ones).
            let full = word;
            let word = drop_closed(full, f_n, eligible & !open);
            let n = open.count_ones() as usize;
            let (h, plain) = score(word, n, &row16(&values), &alpha16);
            // Literal Eq. 7 over the open funds in sorted order.
            let funds: Vec<usize> = unpack(full)
                .into_iter()
                .map(|f| f as usize)
                .filter(|&f| open >> f & 1 == 1)
                .collect();
            let mut expected = 0.0;
            for w in funds.windows(2) {
                expected += alpha[w[0]] * (f64::from(values[w[0]]) - f64::from(values[w[1]]));
            }
            prop_assert_eq!(h.to_bits(), expected.to_bits());
            prop_assert_eq!(plain, funds.first().map_or(NONE, |&f| f as u8));
            prop_assert_eq!(unpack(word), funds.iter().map(|&f| f as u64).collect::<Vec<_>>());
            let allowed = open & 0b1010_1010;
            let first = funds.iter().find(|&&f| allowed >> f & 1 == 1);
            prop_assert_eq!(first_allowed(word, n, allowed), first.map_or(NONE, |&f| f as u8));
        }

        #[test]
        fn buckets_never_contradict_the_ranking(
            mut scores in proptest::collection::vec(
                prop_oneof![0.0f64..1e3, 0.0f64..1e-3, Just(0.0), -5.0f64..0.0],
                2..50,
            ),
            bound in 1.0f64..1e4,
        ) {
            let buckets = Buckets::below(bound);
            scores.sort_by(|a, b| b.total_cmp(a));
            let b: Vec<usize> = scores.iter().map(|&s| buckets.of(s)).collect();
            prop_assert!(b.windows(2).all(|w| w[0] <= w[1]), "{:?} -> {:?}", scores, b);
        }
    }
}
