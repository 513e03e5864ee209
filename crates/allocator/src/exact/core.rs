//! The slice-level core of the exact solver: row-major revenue, risk levels, per-customer rule
//! and fund ranges as plain slices, so the algorithm can be read (and tested) on its own.
//!
//! Notation (see `docs/exact-solver.md`): node `0..F` are the funds, node `F` is the sink `Z`
//! (it absorbs the fund ranges and, for "at most K", the unused customer slots). Prices `p`
//! live on all `F + 1` nodes; only differences matter, and the fund price reported to users is
//! `q_f = p_f − p_Z`. A customer's reduced revenue for fund `f` is `E_uf − q_f`.

use fundalloc_core_types::{Real, RiskLevel};
use rayon::prelude::*;

/// The largest number of funds the exact solver handles (a customer's funds are a `u64` mask).
pub(crate) const MAX_FUNDS: usize = 64;

/// Customers per rayon task in the per-customer passes.
pub(crate) const CHUNK: usize = 1 << 13;

/// The problem as slices. `revenue` is row-major `n_customers × n_funds`, already validated
/// (finite, non-negative).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CoreInput<'a, T: Real> {
    pub(crate) revenue: &'a [T],
    pub(crate) n_funds: usize,
    /// Customer risk tolerances (one per customer).
    pub(crate) tolerance: &'a [RiskLevel],
    /// Fund risk levels (one per fund).
    pub(crate) fund_level: &'a [RiskLevel],
    /// K.
    pub(crate) k: usize,
    /// `true`: each customer gets at most K funds; `false`: exactly K.
    pub(crate) at_most: bool,
    /// Fund exposure ranges `[min_f, max_f]`.
    pub(crate) min: &'a [u64],
    pub(crate) max: &'a [u64],
}

/// Why the core could not produce an optimum.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CoreFailure {
    /// More than [`MAX_FUNDS`] funds.
    TooManyFunds(usize),
    /// More customers than a `u32` index can name.
    TooManyCustomers(usize),
    /// "Exactly K" but this customer may hold fewer than K funds.
    TooFewEligible { customer: usize, eligible: usize },
    /// No augmenting path exists: the constraints cannot all hold. `stuck` is a node with
    /// unresolved excess (a fund index, or `n_funds` for the sink) and `excess` its amount.
    Infeasible { stuck: usize, excess: i64 },
}

/// The core's view of the customers of one level: customer `i` is row `i * stride`.
pub(crate) struct Problem<'a, T: Real> {
    pub(crate) e: &'a [T],
    pub(crate) f: usize,
    pub(crate) tol: &'a [RiskLevel],
    /// `elig[t]`: mask of the funds a customer of tolerance `t` may hold.
    pub(crate) elig: Box<[u64; 256]>,
    pub(crate) k: usize,
    pub(crate) at_most: bool,
    pub(crate) stride: usize,
    pub(crate) n: usize,
    pub(crate) min: Vec<u64>,
    pub(crate) max: Vec<u64>,
}

impl<'a, T: Real> Problem<'a, T> {
    pub(crate) fn new(input: &CoreInput<'a, T>, stride: usize) -> Self {
        let f = input.n_funds;
        let mut elig = Box::new([0u64; 256]);
        for (t, m) in elig.iter_mut().enumerate() {
            for (g, &level) in input.fund_level.iter().enumerate() {
                if usize::from(level.get()) <= t {
                    *m |= 1 << g;
                }
            }
        }
        let total = input.tolerance.len();
        let n = total.div_ceil(stride);
        // Ranges scaled to the sample (floor of min, ceil of max keeps Σmin ≤ K·n ≤ Σmax), then
        // capped: a fund cannot get more than n customers, so `max` beyond n (e.g. `u64::MAX`
        // for "unbounded") means n, and `min` beyond n stays infeasible at n + 1.
        let n64 = n as u64;
        let scale = |v: u64, up: bool| -> u64 {
            let v = if stride == 1 {
                v
            } else {
                let num = u128::from(v) * n as u128;
                let den = total as u128;
                let q = if up { num.div_ceil(den) } else { num / den };
                u64::try_from(q).unwrap_or(u64::MAX)
            };
            if up { v.min(n64) } else { v.min(n64 + 1) }
        };
        Self {
            e: input.revenue,
            f,
            tol: input.tolerance,
            elig,
            k: input.k,
            at_most: input.at_most,
            stride,
            n,
            min: input.min.iter().map(|&v| scale(v, false)).collect(),
            max: input.max.iter().map(|&v| scale(v, true)).collect(),
        }
    }

    /// The F revenues of level customer `i`.
    #[inline]
    pub(crate) fn row(&self, i: usize) -> &'a [T] {
        let r = i * self.stride;
        &self.e[r * self.f..(r + 1) * self.f]
    }

    /// Mask of the funds level customer `i` may hold.
    #[inline]
    pub(crate) fn eligible(&self, i: usize) -> u64 {
        self.elig[usize::from(self.tol[i * self.stride].get())]
    }
}

/// Iterates the set bits of a mask, lowest first.
#[inline]
pub(crate) fn bits(mut m: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if m == 0 {
            None
        } else {
            let b = m.trailing_zeros() as usize;
            m &= m - 1;
            Some(b)
        }
    })
}

/// The customer's best set at prices `p` (reduced revenue `E_uf − (p_f − p_Z)`): its K highest
/// eligible funds (for "at most K": only those with positive reduced revenue).
///
/// Exact ties are broken by rotating with `tie` (the customer's index): with all-equal
/// revenues, customers then spread over the funds instead of all taking the first, which keeps
/// the excess the exact phase must route (and its heaps) small. Any choice among ties is a
/// best set, so this affects speed only.
#[inline]
pub(crate) fn best_set<T: Real>(
    row: &[T],
    elig: u64,
    p: &[f64],
    k: usize,
    at_most: bool,
    tie: usize,
) -> u64 {
    let pz = p[row.len()];
    let mut mask = 0u64;
    for step in 0..k {
        let mut best = usize::MAX;
        let mut best_r = f64::NEG_INFINITY;
        let mut ties = 0usize;
        for g in bits(elig & !mask) {
            let r = row[g].to_f64_lossless() - (p[g] - pz);
            if r > best_r {
                best_r = r;
                best = g;
                ties = 1;
            } else if r == best_r {
                ties += 1;
            }
        }
        if best == usize::MAX || (at_most && best_r <= 0.0) {
            break;
        }
        if ties > 1 {
            let pick = tie.wrapping_add(step) % ties;
            best = bits(elig & !mask)
                .filter(|&g| row[g].to_f64_lossless() - (p[g] - pz) == best_r)
                .nth(pick)
                .unwrap_or(best);
        }
        mask |= 1 << best;
    }
    mask
}

/// Calls `arc(i, j, key)` for every residual arc of a customer holding `mask`.
///
/// Moving the customer's unit from node `i` to node `j` (`F` = the sink: drop a fund, or fill a
/// free slot) costs `key = E_ui − E_uj` (with `E_uZ = 0`); its reduced cost at prices `p` is
/// `key + p_j − p_i`, the same shift for every customer, so keys can be ordered once.
#[inline]
pub(crate) fn for_each_arc<T: Real>(
    row: &[T],
    elig: u64,
    mask: u64,
    k: usize,
    at_most: bool,
    mut arc: impl FnMut(usize, usize, f64),
) {
    let z = row.len();
    let free = elig & !mask;
    for h in bits(mask) {
        let eh = row[h].to_f64_lossless();
        for g in bits(free) {
            arc(h, g, eh - row[g].to_f64_lossless());
        }
        if at_most {
            arc(h, z, eh);
        }
    }
    if at_most && (mask.count_ones() as usize) < k {
        for g in bits(free) {
            arc(z, g, -row[g].to_f64_lossless());
        }
    }
}

/// The smallest reduced cost of any arc of the customer (∞ if it has none).
#[inline]
pub(crate) fn slack<T: Real>(
    row: &[T],
    elig: u64,
    mask: u64,
    k: usize,
    at_most: bool,
    p: &[f64],
) -> f64 {
    let mut s = f64::INFINITY;
    for_each_arc(row, elig, mask, k, at_most, |i, j, key| {
        s = s.min(key + p[j] - p[i]);
    });
    s
}

/// Sets every customer of the level to its best set at `p`; returns the fund loads.
pub(crate) fn assign_all<T: Real>(prob: &Problem<'_, T>, p: &[f64], masks: &mut [u64]) -> Vec<i64> {
    let f = prob.f;
    masks
        .par_chunks_mut(CHUNK)
        .enumerate()
        .map(|(c, chunk)| {
            let mut loads = vec![0i64; f];
            for (o, m) in chunk.iter_mut().enumerate() {
                let i = c * CHUNK + o;
                *m = best_set(prob.row(i), prob.eligible(i), p, prob.k, prob.at_most, i);
                for g in bits(*m) {
                    loads[g] += 1;
                }
            }
            loads
        })
        .reduce(
            || vec![0i64; f],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        )
}
