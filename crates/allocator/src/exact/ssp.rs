//! Successive shortest paths on the compressed fund graph.
//!
//! The flow network has a node per customer, but every customer arc between two funds `i → j`
//! has reduced cost `key_u + p_j − p_i` with a price-independent key, so the cheapest customer
//! for a fund pair is the minimum of one heap that never needs re-keying when prices move. Only
//! *candidate* customers (small slack) are kept in heaps; each fund pair also remembers the
//! smallest key among the non-candidates (a "phantom" arc), which bounds them exactly. When a
//! shortest path would need a phantom, the candidate set is enlarged and the search repeated;
//! when it never does, the result is exact for all customers.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use fundalloc_core_types::Real;
use rayon::prelude::*;

use super::core::{CHUNK, CoreFailure, Problem, bits, for_each_arc, slack};

/// One customer arc in a pair heap (min-heap on `key`).
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: f64,
    cand: u32,
    ver: u32,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap, we want the smallest key (then smallest index).
        other
            .key
            .total_cmp(&self.key)
            .then(other.cand.cmp(&self.cand))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arc {
    /// A fund's range arc to or from the sink.
    Range,
    /// The cheapest candidate customer of the pair heap.
    Customer,
    /// The bound on all non-candidate customers of the pair.
    Phantom,
}

/// Counters of one SSP run.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SspStats {
    pub(crate) augmentations: u64,
    pub(crate) rebuilds: u32,
    pub(crate) max_candidates: usize,
}

/// The SSP state of one level.
pub(crate) struct Ssp<'p, 'a, T: Real> {
    prob: &'p Problem<'a, T>,
    /// Number of nodes: F funds + the sink.
    nn: usize,
    /// Node prices (the sink is `p[F]`).
    pub(crate) p: Vec<f64>,
    masks: &'p mut [u64],
    /// Flow on each fund's range arc (`min_f ≤ c_f ≤ max_f`).
    c: Vec<i64>,
    /// Excess per node: `n_f − c_f` for funds; the sink holds minus their sum.
    excess: Vec<i64>,
    cands: Vec<u32>,
    ver: Vec<u32>,
    heaps: Vec<BinaryHeap<Entry>>,
    /// Smallest key among non-candidate arcs per pair (∞: none).
    phantom: Vec<f64>,
    all_candidates: bool,
    /// The phantom pairs of the last path that needed one ([`Ssp::route_external`]).
    hits: Vec<usize>,
    pub(crate) stats: SspStats,
}

impl<'p, 'a, T: Real> Ssp<'p, 'a, T> {
    /// Starts from prices `p` (length F + 1) and masks that are every customer's best set at
    /// `p`, with fund loads `loads`.
    pub(crate) fn new(
        prob: &'p Problem<'a, T>,
        p: Vec<f64>,
        masks: &'p mut [u64],
        loads: &[i64],
    ) -> Self {
        let nn = prob.f + 1;
        let (c, excess) = range_state(prob, &p, loads);
        Self {
            prob,
            nn,
            p,
            masks,
            c,
            excess,
            cands: Vec::new(),
            ver: Vec::new(),
            heaps: Vec::new(),
            phantom: vec![f64::INFINITY; nn * nn],
            all_candidates: false,
            hits: Vec::new(),
            stats: SspStats::default(),
        }
    }

    /// Total positive excess (units still to route).
    pub(crate) fn open_excess(&self) -> i64 {
        self.excess.iter().filter(|&&e| e > 0).sum()
    }

    /// Runs to a flow with zero excess everywhere.
    pub(crate) fn run(&mut self) -> Result<(), CoreFailure> {
        let open = self.open_excess();
        if open == 0 {
            return Ok(());
        }
        let n = self.prob.n;
        let target = (open as usize).saturating_mul(16).max(4096);
        self.rebuild(target.min(n));
        self.route(true).map(|_| ())
    }

    /// Routes the excess with the candidates and phantoms as they are (set with
    /// [`Ssp::add_candidates`] and [`Ssp::set_phantom`]); returns `Ok(true)` when no excess is
    /// left, `Ok(false)` when a shortest path needs a phantom arc (the caller adds the customers
    /// it bounds and calls again; nothing was moved for that path).
    pub(crate) fn route_external(&mut self) -> Result<bool, CoreFailure> {
        if self.heaps.len() != self.nn * self.nn {
            self.heaps = vec![BinaryHeap::new(); self.nn * self.nn];
        }
        self.route(false)
    }

    /// The SSP loop. `grow`: on a phantom hit, re-select the candidates ([`Ssp::rebuild`]) and
    /// go on; otherwise return `Ok(false)`.
    fn route(&mut self, grow: bool) -> Result<bool, CoreFailure> {
        let n = self.prob.n;
        let nn = self.nn;
        let mut d = vec![0.0f64; nn];
        let mut pred = vec![(usize::MAX, Arc::Range); nn];
        loop {
            let Some(source) = (0..nn).find(|&v| self.excess[v] > 0) else {
                return Ok(true);
            };
            let Some(t) = self.dijkstra(&mut d, &mut pred) else {
                return Err(CoreFailure::Infeasible {
                    stuck: source,
                    excess: self.excess[source],
                });
            };
            // Walk the path back from t.
            let mut path = Vec::with_capacity(nn);
            let mut v = t;
            while pred[v].0 != usize::MAX {
                let (u, kind) = pred[v];
                path.push((u, v, kind));
                v = u;
            }
            path.reverse();
            if path.iter().any(|&(_, _, k)| k == Arc::Phantom) {
                if !grow {
                    self.hits.clear();
                    let nn = self.nn;
                    self.hits.extend(
                        path.iter()
                            .filter(|&&(_, _, k)| k == Arc::Phantom)
                            .map(|&(i, j, _)| i * nn + j),
                    );
                    return Ok(false);
                }
                // Grow fourfold; after a few rounds (a slack sample that keeps missing the
                // needed customers, e.g. with many ties) take everyone, which always ends it.
                let rounds = self.stats.rebuilds.min(30);
                let grown = self.cands.len().saturating_mul(4).max(4096usize << rounds);
                let all = grown >= n || rounds >= 12;
                self.rebuild(if all { usize::MAX } else { grown });
                continue;
            }
            let dt = d[t];
            for (pv, &dv) in self.p.iter_mut().zip(d.iter()) {
                *pv -= dv.min(dt);
            }
            self.augment(&path);
        }
    }

    /// Adds customers to the candidates (their arcs go into the pair heaps). Each must not be a
    /// candidate already.
    pub(crate) fn add_candidates(&mut self, customers: &[u32]) {
        if self.heaps.len() != self.nn * self.nn {
            self.heaps = vec![BinaryHeap::new(); self.nn * self.nn];
        }
        let prob = self.prob;
        let nn = self.nn;
        let base = self.cands.len();
        let masks: &[u64] = self.masks;
        // Parallel over chunks (each customer's row is a cache miss), merged per pair.
        let lists: Vec<Vec<Entry>> = customers
            .par_chunks(CHUNK / 4)
            .enumerate()
            .map(|(c, ids)| {
                let mut lists: Vec<Vec<Entry>> = vec![Vec::new(); nn * nn];
                for (o, &u) in ids.iter().enumerate() {
                    let ui = u as usize;
                    let cand = (base + c * (CHUNK / 4) + o) as u32;
                    for_each_arc(
                        prob.row(ui),
                        prob.eligible(ui),
                        masks[ui],
                        prob.k,
                        prob.at_most,
                        |a, b, key| lists[a * nn + b].push(Entry { key, cand, ver: 0 }),
                    );
                }
                lists
            })
            .reduce_with(|mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    if x.is_empty() {
                        *x = y;
                    } else {
                        x.extend_from_slice(&y);
                    }
                }
                a
            })
            .unwrap_or_else(|| vec![Vec::new(); nn * nn]);
        for (heap, list) in self.heaps.iter_mut().zip(lists) {
            if heap.is_empty() {
                *heap = BinaryHeap::from(list);
            } else {
                // One push each (expected O(1) for random keys): `extend` may rebuild the
                // whole heap, which repeated loads of small buckets cannot afford.
                for e in list {
                    heap.push(e);
                }
            }
        }
        self.cands.extend_from_slice(customers);
        self.ver.resize(self.cands.len(), 0);
        self.stats.max_candidates = self.stats.max_candidates.max(self.cands.len());
    }

    /// Replaces the phantom arcs (per pair, a lower bound on the keys of every customer that
    /// is not a candidate; ∞: none).
    pub(crate) fn set_phantom(&mut self, phantom: Vec<f64>) {
        self.phantom = phantom;
    }

    /// The phantom pairs (`i·(F+1) + j`) of the last path that needed one.
    pub(crate) fn phantom_hits(&self) -> &[usize] {
        &self.hits
    }

    /// Customer `u`'s funds now.
    pub(crate) fn mask(&self, u: usize) -> u64 {
        self.masks[u]
    }

    /// The flow on each fund's range arc (after a complete run: the fund loads).
    pub(crate) fn range_flow(&self) -> &[i64] {
        &self.c
    }

    /// Multi-source Dijkstra from all nodes with positive excess; returns the first settled
    /// node with negative excess. `d` gets the distances, `pred` the tree.
    fn dijkstra(&mut self, d: &mut [f64], pred: &mut [(usize, Arc)]) -> Option<usize> {
        let nn = self.nn;
        let mut done = vec![false; nn];
        for v in 0..nn {
            d[v] = if self.excess[v] > 0 {
                0.0
            } else {
                f64::INFINITY
            };
            pred[v] = (usize::MAX, Arc::Range);
        }
        loop {
            let mut v = usize::MAX;
            let mut best = f64::INFINITY;
            for w in 0..nn {
                if !done[w] && d[w] < best {
                    best = d[w];
                    v = w;
                }
            }
            if v == usize::MAX {
                return None;
            }
            done[v] = true;
            if self.excess[v] < 0 {
                return Some(v);
            }
            for w in 0..nn {
                if done[w] || w == v {
                    continue;
                }
                if let Some((len, kind)) = self.arc(v, w) {
                    let nd = best + len;
                    if nd < d[w] {
                        d[w] = nd;
                        pred[w] = (v, kind);
                    }
                }
            }
        }
    }

    /// The cheapest residual arc `i → j` at the current prices (reduced cost, clamped at 0
    /// against rounding) and its kind. Ties prefer range arcs, then real customers.
    fn arc(&mut self, i: usize, j: usize) -> Option<(f64, Arc)> {
        let f = self.prob.f;
        let shift = self.p[j] - self.p[i];
        let mut best: Option<(f64, Arc)> = None;
        let mut offer = |len: f64, kind: Arc| {
            let len = len.max(0.0);
            if best.is_none_or(|(b, _)| len < b) {
                best = Some((len, kind));
            }
        };
        if j == f && i < f && self.c[i] < sat(self.prob.max[i]) {
            offer(shift, Arc::Range);
        }
        if i == f && j < f && self.c[j] > sat(self.prob.min[j]) {
            offer(shift, Arc::Range);
        }
        if i < f && j < f || self.prob.at_most {
            if let Some(key) = self.heap_min(i * self.nn + j) {
                offer(key + shift, Arc::Customer);
            }
            let ph = self.phantom[i * self.nn + j];
            if ph.is_finite() {
                offer(ph + shift, Arc::Phantom);
            }
        }
        best
    }

    fn heap_min(&mut self, pair: usize) -> Option<f64> {
        let heap = self.heaps.get_mut(pair)?;
        while let Some(top) = heap.peek() {
            if self.ver[top.cand as usize] == top.ver {
                return Some(top.key);
            }
            heap.pop();
        }
        None
    }

    fn augment(&mut self, path: &[(usize, usize, Arc)]) {
        let f = self.prob.f;
        let (Some(&(s, _, _)), Some(&(_, t, _))) = (path.first(), path.last()) else {
            return;
        };
        let mut delta = self.excess[s].min(-self.excess[t]);
        if path.iter().any(|&(_, _, k)| k == Arc::Customer) {
            delta = delta.min(1);
        }
        for &(i, j, kind) in path {
            if kind == Arc::Range {
                if j == f {
                    delta = delta.min(sat(self.prob.max[i]) - self.c[i]);
                } else {
                    delta = delta.min(self.c[j] - sat(self.prob.min[j]));
                }
            }
        }
        if delta <= 0 {
            return;
        }
        for &(i, j, kind) in path {
            match kind {
                Arc::Range if j == f => self.c[i] += delta,
                Arc::Range => self.c[j] -= delta,
                _ => self.move_customer(i, j),
            }
        }
        self.excess[s] -= delta;
        self.excess[t] += delta;
        self.stats.augmentations += 1;
    }

    /// Moves the cheapest candidate of pair `i → j` from node `i` to node `j`.
    fn move_customer(&mut self, i: usize, j: usize) {
        let f = self.prob.f;
        let pair = i * self.nn + j;
        if self.heap_min(pair).is_none() {
            return;
        }
        let Some(top) = self.heaps[pair].pop() else {
            return;
        };
        let cand = top.cand as usize;
        let u = self.cands[cand] as usize;
        let mut m = self.masks[u];
        if i < f {
            m &= !(1u64 << i);
        }
        if j < f {
            m |= 1u64 << j;
        }
        self.masks[u] = m;
        self.ver[cand] = self.ver[cand].wrapping_add(1);
        let ver = self.ver[cand];
        let nn = self.nn;
        let heaps = &mut self.heaps;
        for_each_arc(
            self.prob.row(u),
            self.prob.eligible(u),
            m,
            self.prob.k,
            self.prob.at_most,
            |a, b, key| {
                heaps[a * nn + b].push(Entry {
                    key,
                    cand: top.cand,
                    ver,
                });
            },
        );
    }

    /// Re-selects about `target` candidates (those with the smallest slack at the current
    /// prices; `usize::MAX`: all customers) and rebuilds the pair heaps and phantoms.
    fn rebuild(&mut self, target: usize) {
        let prob = self.prob;
        let n = prob.n;
        let nn = self.nn;
        let tau = if target >= n {
            f64::INFINITY
        } else {
            self.sample_quantile(target as f64 / n as f64)
        };
        self.all_candidates = tau == f64::INFINITY;
        let p = &self.p;
        let masks: &[u64] = self.masks;
        let (cands, phantom) = masks
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(ci, chunk)| {
                let mut cands = Vec::new();
                let mut ph = vec![f64::INFINITY; nn * nn];
                for (o, &m) in chunk.iter().enumerate() {
                    let u = ci * CHUNK + o;
                    let (row, el) = (prob.row(u), prob.eligible(u));
                    let s = slack(row, el, m, prob.k, prob.at_most, p);
                    if s <= tau {
                        cands.push(u as u32);
                    } else {
                        for_each_arc(row, el, m, prob.k, prob.at_most, |a, b, key| {
                            let x = &mut ph[a * nn + b];
                            *x = x.min(key);
                        });
                    }
                }
                (cands, ph)
            })
            .reduce(
                || (Vec::new(), vec![f64::INFINITY; nn * nn]),
                |(mut ca, mut pa), (cb, pb)| {
                    ca.extend(cb);
                    pa.iter_mut().zip(pb).for_each(|(x, y)| *x = x.min(y));
                    (ca, pa)
                },
            );
        let mut lists: Vec<Vec<Entry>> = vec![Vec::new(); nn * nn];
        for (ci, &u) in cands.iter().enumerate() {
            let u = u as usize;
            for_each_arc(
                prob.row(u),
                prob.eligible(u),
                masks[u],
                prob.k,
                prob.at_most,
                |a, b, key| {
                    lists[a * nn + b].push(Entry {
                        key,
                        cand: ci as u32,
                        ver: 0,
                    });
                },
            );
        }
        self.heaps = lists.into_iter().map(BinaryHeap::from).collect();
        self.ver = vec![0; cands.len()];
        self.stats.max_candidates = self.stats.max_candidates.max(cands.len());
        self.stats.rebuilds += 1;
        self.cands = cands;
        self.phantom = phantom;
    }

    /// The `q`-quantile of customer slack on an even sample of at most 65,536 customers.
    fn sample_quantile(&self, q: f64) -> f64 {
        let prob = self.prob;
        let n = prob.n;
        let m = n.min(1 << 16);
        let step = n / m;
        let mut s: Vec<f64> = (0..m)
            .map(|i| {
                let u = i * step;
                slack(
                    prob.row(u),
                    prob.eligible(u),
                    self.masks[u],
                    prob.k,
                    prob.at_most,
                    &self.p,
                )
            })
            .collect();
        let idx = ((q * m as f64) as usize).min(m - 1);
        let (_, v, _) = s.select_nth_unstable_by(idx, f64::total_cmp);
        *v
    }
}

/// `u64` count to `i64` (ranges beyond `i64::MAX` are unbounded in practice).
#[inline]
pub(crate) fn sat(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Loads of the masks (used by tests and the final checks).
#[allow(dead_code)]
pub(crate) fn loads_of(masks: &[u64], f: usize) -> Vec<i64> {
    let mut l = vec![0i64; f];
    for &m in masks {
        for g in bits(m) {
            l[g] += 1;
        }
    }
    l
}

/// The flow on each fund's range arc and the excess of every node (the sink last) for fund
/// `loads` at prices `p`: complementary slackness of the range arc, a positive price pins the
/// load at max, a negative one at min, a zero one lets it be the load within the range.
pub(crate) fn range_state<T: Real>(
    prob: &Problem<'_, T>,
    p: &[f64],
    loads: &[i64],
) -> (Vec<i64>, Vec<i64>) {
    let f = prob.f;
    let mut c = vec![0i64; f];
    let mut excess = vec![0i64; f + 1];
    for g in 0..f {
        let (lo, hi) = (sat(prob.min[g]), sat(prob.max[g]));
        let q = p[g] - p[f];
        c[g] = if q > 0.0 {
            hi
        } else if q < 0.0 {
            lo
        } else {
            loads[g].clamp(lo, hi.max(lo))
        };
        excess[g] = loads[g] - c[g];
        excess[f] -= excess[g];
    }
    (c, excess)
}

/// The ranges and loads of the problem scaled down by `den`, for a search on a sample of about
/// `1 / den` of the candidates ([`ExactSession`](super::ExactSession)'s first phase): with
/// them, [`Ssp::new`] sees each fund's excess and each range arc's slack divided by `den`
/// (rounded so that the excesses still sum to the rounded total: a problem whose sink is cut
/// off by exact ranges stays balanced). Returns `(min, max, loads)`.
pub(crate) fn scaled_ranges<T: Real>(
    prob: &Problem<'_, T>,
    p: &[f64],
    loads: &[i64],
    den: i64,
) -> (Vec<u64>, Vec<u64>, Vec<i64>) {
    let f = prob.f;
    let den = den.max(1);
    let div = |x: i64| (x as f64 / den as f64).round() as i64;
    let (mut min, mut max, mut out) = (vec![0u64; f], vec![0u64; f], vec![0i64; f]);
    let (mut prefix, mut rounded) = (0i64, 0i64);
    let (flow, _) = range_state(prob, p, loads);
    for g in 0..f {
        let (lo, hi) = (sat(prob.min[g]), sat(prob.max[g]));
        let c = flow[g];
        let down = c.saturating_sub(lo).max(0);
        let up = hi.saturating_sub(c).max(0);
        let base = down / den + i64::from(down % den != 0);
        prefix = prefix.saturating_add(loads[g] - c);
        let next = div(prefix);
        let excess = next - rounded;
        rounded = next;
        min[g] = 0;
        max[g] = u64::try_from(base.saturating_add(up / den)).unwrap_or(0);
        out[g] = base + excess;
    }
    (min, max, out)
}
