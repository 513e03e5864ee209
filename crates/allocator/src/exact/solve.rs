//! The driver: multilevel warm start, the exact SSP at full size, and the duality check.

use fundalloc_core_types::{Real, RiskLevel};
use rayon::prelude::*;

use super::core::{
    CHUNK, CoreFailure, CoreInput, MAX_FUNDS, Problem, assign_all, best_set, bits, slack,
};
use super::ssp::Ssp;

/// Sample levels are `stride = 8^L` thinned copies of the customers, used while they keep at
/// least this many customers.
const MIN_LEVEL_CUSTOMERS: usize = 4096;
const LEVEL_FACTOR: usize = 8;

/// Counters of a solve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CoreStats {
    pub(crate) levels: u32,
    pub(crate) augmentations: u64,
    pub(crate) rebuilds: u32,
    pub(crate) max_candidates: usize,
    /// Units of excess the full-size SSP started with (how good the warm start was).
    pub(crate) initial_excess: u64,
}

/// An optimum with its certificate.
#[derive(Debug, Clone)]
pub(crate) struct CoreOutcome {
    /// Each customer's funds as a bit mask.
    pub(crate) masks: Vec<u64>,
    /// Fund prices `q_f` (the sink's price normalised to 0).
    pub(crate) prices: Vec<f64>,
    /// Σ E over the assigned pairs.
    pub(crate) primal: f64,
    /// The dual objective at `prices` (an upper bound on every feasible allocation).
    pub(crate) dual: f64,
    pub(crate) stats: CoreStats,
}

/// Solves the problem exactly.
pub(crate) fn solve_core<T: Real>(input: &CoreInput<'_, T>) -> Result<CoreOutcome, CoreFailure> {
    let f = input.n_funds;
    check_input(input)?;
    let mut stats = CoreStats::default();
    let p = coarse_levels(input, vec![0.0f64; f + 1], &mut stats);
    let prob = Problem::new(input, 1);
    let mut masks = vec![0u64; prob.n];
    let loads = assign_all(&prob, &p, &mut masks);
    full_size(input, &prob, p, masks, &loads, stats)
}

/// Checks shared by the cold and the warm solve.
fn check_input<T: Real>(input: &CoreInput<'_, T>) -> Result<(), CoreFailure> {
    let (f, u) = (input.n_funds, input.tolerance.len());
    if f > MAX_FUNDS {
        return Err(CoreFailure::TooManyFunds(f));
    }
    if u > u32::MAX as usize {
        return Err(CoreFailure::TooManyCustomers(u));
    }
    if !input.at_most {
        let prob = Problem::new(input, 1);
        let short =
            |t: &RiskLevel| (prob.elig[usize::from(t.get())].count_ones() as usize) < input.k;
        if let Some(customer) = input.tolerance.iter().position(short) {
            let eligible = prob.eligible(customer).count_ones() as usize;
            return Err(CoreFailure::TooFewEligible { customer, eligible });
        }
    }
    Ok(())
}

/// The warm solve: the full-size SSP starts from fund prices `q` (one per fund, the sink at
/// 0) and, where given, the previous masks ([`warm_masks`]). When the change left more excess
/// than [`WARM_LEVELS_EXCESS`] units (a quota moved, a fund added), the sample levels are run
/// first, starting from `q`, and the masks recomputed at their prices: routing a large excess
/// one customer at a time at full size costs more than the levels.
pub(crate) fn solve_core_warm<T: Real>(
    input: &CoreInput<'_, T>,
    q: &[f64],
    previous: Option<&[u64]>,
) -> Result<CoreOutcome, CoreFailure> {
    check_input(input)?;
    let mut p = q.to_vec();
    p.push(0.0);
    let prob = Problem::new(input, 1);
    let mut masks = vec![0u64; prob.n];
    let mut stats = CoreStats::default();
    let mut loads = warm_masks(&prob, &p, previous, &mut masks);
    let excess = open_excess_of(&prob, &p, &loads);
    if excess > WARM_LEVELS_EXCESS.max(prob.n as u64 / 1000) {
        p = coarse_levels(input, p, &mut stats);
        loads = warm_masks(&prob, &p, previous, &mut masks);
    }
    full_size(input, &prob, p, masks, &loads, stats)
}

/// Above this much initial excess (or U/1000 units) the warm solve runs the sample levels.
const WARM_LEVELS_EXCESS: u64 = 4096;

/// The excess the SSP would start with (as [`Ssp::open_excess`], without building it).
fn open_excess_of<T: Real>(prob: &Problem<'_, T>, p: &[f64], loads: &[i64]) -> u64 {
    let f = prob.f;
    (0..f)
        .map(|g| {
            let (lo, hi) = (super::ssp::sat(prob.min[g]), super::ssp::sat(prob.max[g]));
            let q = p[g] - p[f];
            let c = if q > 0.0 {
                hi
            } else if q < 0.0 {
                lo
            } else {
                loads[g].clamp(lo, hi.max(lo))
            };
            (loads[g] - c).unsigned_abs()
        })
        .sum::<u64>()
        .div_ceil(2)
}

/// The exact SSP at full size from prices `p` and best-set masks, then the duality check.
fn full_size<T: Real>(
    input: &CoreInput<'_, T>,
    prob: &Problem<'_, T>,
    p: Vec<f64>,
    mut masks: Vec<u64>,
    loads: &[i64],
    mut stats: CoreStats,
) -> Result<CoreOutcome, CoreFailure> {
    let f = input.n_funds;
    let mut ssp = Ssp::new(prob, p, &mut masks, loads);
    stats.initial_excess = ssp.open_excess().unsigned_abs();
    ssp.run()?;
    stats.levels += 1;
    stats.augmentations += ssp.stats.augmentations;
    stats.rebuilds += ssp.stats.rebuilds;
    stats.max_candidates = ssp.stats.max_candidates;
    let prices = normalized(&ssp.p);
    let prices = prices[..f].to_vec();
    let primal = primal_objective(input, &masks);
    let dual = dual_objective(input, &prices);
    Ok(CoreOutcome {
        masks,
        prices,
        primal,
        dual,
        stats,
    })
}

fn normalized(p: &[f64]) -> Vec<f64> {
    let pz = p[p.len() - 1];
    p.iter().map(|&x| x - pz).collect()
}

/// Σ E_uf over the pairs in the masks, accumulated in `f64`.
pub(crate) fn primal_objective<T: Real>(input: &CoreInput<'_, T>, masks: &[u64]) -> f64 {
    let f = input.n_funds;
    masks
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(c, chunk)| {
            let mut s = 0.0f64;
            for (o, &m) in chunk.iter().enumerate() {
                let u = c * CHUNK + o;
                let row = &input.revenue[u * f..(u + 1) * f];
                s += bits(m).map(|g| row[g].to_f64_lossless()).sum::<f64>();
            }
            s
        })
        .sum()
}

/// The Lagrangian dual `g(q) = Σ_u φ_u(q) + Σ_f h_f(q_f)` at fund prices `q`, where `φ_u` is the
/// sum of the customer's K best reduced revenues `E_uf − q_f` over eligible funds (for "at most
/// K", of its positive ones) and `h_f(q) = max_f·q` for `q ≥ 0`, `min_f·q` for `q < 0`. By weak
/// duality it bounds every feasible allocation's revenue from above.
pub(crate) fn dual_objective<T: Real>(input: &CoreInput<'_, T>, q: &[f64]) -> f64 {
    let f = input.n_funds;
    let mut p = q.to_vec();
    p.push(0.0);
    let prob = Problem::new(input, 1);
    let customers: f64 = (0..prob.n)
        .into_par_iter()
        .with_min_len(CHUNK)
        .map(|u| {
            let row = prob.row(u);
            let m = best_set(row, prob.eligible(u), &p, input.k, input.at_most, u);
            bits(m)
                .map(|g| row[g].to_f64_lossless() - q[g])
                .sum::<f64>()
        })
        .sum();
    let funds: f64 = (0..f)
        .map(|g| {
            // Capped like the search does (a fund cannot exceed U customers): same feasible set.
            let cap = prob.n as u64;
            let bound = if q[g] >= 0.0 {
                input.max[g].min(cap)
            } else {
                input.min[g].min(cap + 1)
            };
            q[g] * bound as f64
        })
        .sum();
    customers + funds
}

/// The sample levels: exact optima of thinned copies of the customers (coarsest first, each
/// level starting from the previous level's prices, the first from `p`) give near-optimal
/// prices for the full problem. A thinned problem may be infeasible (risk capacity is not
/// preserved by sampling): its prices are then kept.
fn coarse_levels<T: Real>(
    input: &CoreInput<'_, T>,
    mut p: Vec<f64>,
    stats: &mut CoreStats,
) -> Vec<f64> {
    let u = input.tolerance.len();
    let mut strides = vec![1usize];
    while let Some(&s) = strides.last() {
        let next = s * LEVEL_FACTOR;
        if u / next < MIN_LEVEL_CUSTOMERS {
            break;
        }
        strides.push(next);
    }
    for &stride in strides.iter().skip(1).rev() {
        let prob = Problem::new(input, stride);
        let mut masks = vec![0u64; prob.n];
        let loads = assign_all(&prob, &p, &mut masks);
        let mut ssp = Ssp::new(&prob, p.clone(), &mut masks, &loads);
        let ok = ssp.run().is_ok();
        stats.levels += 1;
        stats.augmentations += ssp.stats.augmentations;
        stats.rebuilds += ssp.stats.rebuilds;
        if ok {
            p = normalized(&ssp.p);
        }
    }
    p
}

/// Masks for the warm start: a customer keeps its previous funds when they are valid
/// (eligible, the right count) and a best set at `p` (no residual arc with negative reduced
/// cost), and takes its best set at `p` otherwise. Returns the fund loads.
fn warm_masks<T: Real>(
    prob: &Problem<'_, T>,
    p: &[f64],
    prev: Option<&[u64]>,
    masks: &mut [u64],
) -> Vec<i64> {
    let Some(prev) = prev else {
        return assign_all(prob, p, masks);
    };
    let f = prob.f;
    masks
        .par_chunks_mut(CHUNK)
        .enumerate()
        .map(|(c, chunk)| {
            let mut loads = vec![0i64; f];
            for (o, m) in chunk.iter_mut().enumerate() {
                let i = c * CHUNK + o;
                let (row, el) = (prob.row(i), prob.eligible(i));
                let old = prev.get(i).copied().unwrap_or(0);
                let n = old.count_ones() as usize;
                let valid = old & !el == 0
                    && if prob.at_most {
                        n <= prob.k
                    } else {
                        n == prob.k
                    }
                    && slack(row, el, old, prob.k, prob.at_most, p) >= 0.0;
                *m = if valid {
                    old
                } else {
                    best_set(row, el, p, prob.k, prob.at_most, i)
                };
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
