//! Retrieval: Step 1 (N nearest customers), Step 2 (J most similar portfolios), Step 3
//! (K products with F, AP, ADC, ADP), the MiFID adequacy filter and group queries.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::time::Instant;

use fundalloc_core_types::{CustomerId, FundId, RiskLevel};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::casebase::{CaseBase, Kernel, KernelScratch, Target};
use crate::distance::sparse_cosine;
use crate::{CbrError, Result};

/// How the K recommended products are ordered by frequency `F` (wire codes `A` and `D`).
///
/// The paper: "ascending (to consider the most frequently used assets) or descending (in case
/// the user wants to evaluate the less frequently used assets)": the *rank* ascends from the
/// most used product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Order {
    /// `A`: most frequently used first (F decreasing).
    MostFrequentFirst,
    /// `D`: least frequently used first (F increasing).
    LeastFrequentFirst,
}

/// Query parameters (the `N`, `J`, `K`, `A/D` fields of a request). Build with
/// [`QueryParams::new`] and the setters; [`QueryParams::check`] validates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryParams {
    /// Number of products to return (K ≥ 1).
    pub k: usize,
    /// Number of similar customers kept by Step 1; `None` = the default
    /// `clamp(⌈default_n_fraction · |case base|⌉, 1, default_n_max)`.
    pub n: Option<usize>,
    /// Number of portfolios kept by Step 2; `None` = no cut.
    pub j: Option<usize>,
    /// Ordering of the answer by F.
    pub order: Order,
    /// Default N as a fraction of the case base (default 0.01).
    pub default_n_fraction: f64,
    /// Upper bound of the default N (default 50).
    pub default_n_max: usize,
}

impl QueryParams {
    /// Parameters returning `k` products, most frequent first, default N, no J cut.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            n: None,
            j: None,
            order: Order::MostFrequentFirst,
            default_n_fraction: 0.01,
            default_n_max: 50,
        }
    }
    /// Sets N.
    pub fn n(mut self, n: Option<usize>) -> Self {
        self.n = n;
        self
    }
    /// Sets J.
    pub fn j(mut self, j: Option<usize>) -> Self {
        self.j = j;
        self
    }
    /// Sets the order.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }
    /// Validates: K ≥ 1, N and J ≥ 1 when given, default fraction in (0, 1], default max ≥ 1.
    pub fn check(&self) -> Result<()> {
        let bad = |reason: &str| {
            Err(CbrError::InvalidQuery {
                reason: reason.into(),
            })
        };
        if self.k == 0 {
            return bad("K must be at least 1");
        }
        if self.n == Some(0) {
            return bad("N must be at least 1");
        }
        if self.j == Some(0) {
            return bad("J must be at least 1");
        }
        if !(self.default_n_fraction > 0.0 && self.default_n_fraction <= 1.0) {
            return bad("default_n_fraction must be in (0, 1]");
        }
        if self.default_n_max == 0 {
            return bad("default_n_max must be at least 1");
        }
        Ok(())
    }

    /// The effective N for a case base of `len` cases.
    pub fn effective_n(&self, len: usize) -> usize {
        self.n.unwrap_or_else(|| {
            ((self.default_n_fraction * len as f64).ceil() as usize).clamp(1, self.default_n_max)
        })
    }
}

/// A customer retrieved by Step 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Neighbour {
    /// Case index.
    pub case: u32,
    /// Customer id.
    pub id: CustomerId,
    /// Global distance to the target (Eq. 5).
    pub distance: f64,
}

/// A portfolio in the ranked list handed to Step 3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedPortfolio {
    /// The owner's case index.
    pub case: u32,
    /// The portfolio's global index in the case base.
    pub portfolio: usize,
    /// The owner's global distance to the target (Eq. 5).
    pub customer_distance: f64,
    /// Step 2: second-level cosine distance to the target portfolio it was matched with
    /// (`None` when Step 2 was skipped).
    pub portfolio_distance: Option<f64>,
}

/// A recommended product with its statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetStats {
    /// The product.
    pub product: FundId,
    /// Its risk level.
    pub risk_level: RiskLevel,
    /// F: the fraction of the retrieved portfolios that hold the product.
    pub frequency: f64,
    /// AP: the mean share (fraction in `[0, 1]`) of the product in the retrieved portfolios
    /// that hold it.
    pub average_share: f64,
    /// ADC: the mean Eq. 5 distance over all pairs of distinct retrieved customers holding the
    /// product (`None` with fewer than two such customers).
    pub adc: Option<f64>,
    /// ADP: the mean second-level cosine distance over all pairs of retrieved portfolios
    /// holding the product (`None` with fewer than two, or when the target has no portfolio).
    pub adp: Option<f64>,
}

/// The result of a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Step 1: the N nearest customers of each target, nearest first.
    pub neighbours: Vec<Vec<Neighbour>>,
    /// Whether Step 2 ran (every target owns a portfolio).
    pub step2: bool,
    /// The ranked portfolio list that Step 3 examined.
    pub portfolios: Vec<RankedPortfolio>,
    /// The recommended products (at most K), ordered by F as asked.
    pub assets: Vec<AssetStats>,
}

#[derive(Clone, Copy)]
struct Cand(f64, u32);
impl PartialEq for Cand {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Cand {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.total_cmp(&o.0).then(self.1.cmp(&o.1))
    }
}

/// Step-1 chunk length: long enough to amortise per-chunk work, short enough for load balance.
const CHUNK: usize = 4096;

struct Step1State {
    heap: BinaryHeap<Cand>,
    buf: Vec<f64>,
    scratch: KernelScratch,
}

fn push_bounded(heap: &mut BinaryHeap<Cand>, n: usize, c: Cand) {
    if heap.len() < n {
        heap.push(c);
    } else if heap.peek().is_some_and(|top| c < *top) {
        heap.pop();
        heap.push(c);
    }
}

fn deadline_passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

impl CaseBase {
    /// Step 1: the `n` stored customers nearest to the target by Eq. 5, nearest first (ties by
    /// case index). Cases in `exclude` (e.g. the target itself) are skipped. Runs in parallel
    /// over the column store, keeping only a bounded heap of the `n` best per worker (a partial
    /// selection, no full sort). Returns [`CbrError::DeadlineExceeded`] past `deadline`.
    pub fn nearest(
        &self,
        target: &Target,
        n: usize,
        exclude: &[u32],
        deadline: Option<Instant>,
    ) -> Result<Vec<Neighbour>> {
        if n == 0 || self.is_empty() {
            return Ok(Vec::new());
        }
        let kernel = Kernel::new(self, target);
        let cancelled = AtomicBool::new(false);
        let chunks = self.len().div_ceil(CHUNK);
        let heap = (0..chunks)
            .into_par_iter()
            .fold(
                || Step1State {
                    // Grows on demand: a split never holds more than min(n, cases it saw).
                    heap: BinaryHeap::new(),
                    buf: vec![0.0; CHUNK],
                    scratch: KernelScratch::default(),
                },
                |mut st, c| {
                    if cancelled.load(AtomicOrdering::Relaxed) {
                        return st;
                    }
                    if deadline_passed(deadline) {
                        cancelled.store(true, AtomicOrdering::Relaxed);
                        return st;
                    }
                    let start = c * CHUNK;
                    let len = CHUNK.min(self.len() - start);
                    let buf = &mut st.buf[..len];
                    kernel.distances(start, buf, &mut st.scratch);
                    for (k, &d) in buf.iter().enumerate() {
                        let i = (start + k) as u32;
                        let cand = Cand(d, i);
                        if (st.heap.len() < n || st.heap.peek().is_some_and(|t| cand < *t))
                            && !exclude.contains(&i)
                        {
                            push_bounded(&mut st.heap, n, cand);
                        }
                    }
                    st
                },
            )
            .map(|st| st.heap)
            .reduce(BinaryHeap::new, |mut a, b| {
                for c in b {
                    push_bounded(&mut a, n, c);
                }
                a
            });
        if cancelled.load(AtomicOrdering::Relaxed) {
            return Err(CbrError::DeadlineExceeded);
        }
        Ok(heap
            .into_sorted_vec()
            .into_iter()
            .map(|Cand(d, i)| Neighbour {
                case: i,
                id: self.ids()[i as usize].clone(),
                distance: d,
            })
            .collect())
    }

    /// Step 2 for one target: the best-matching portfolios of the neighbours (Eq. 4), each
    /// ranked by the second-level cosine distance to the target portfolio it is matched with;
    /// ties keep the neighbour order. Cut to `j` when given.
    pub fn rank_portfolios(
        &self,
        target: &Target,
        neighbours: &[Neighbour],
        j: Option<usize>,
    ) -> Vec<RankedPortfolio> {
        let pt: Vec<_> = target.pfs.iter().map(|p| p.unit_classes).collect();
        let mut s = KernelScratch::default();
        let mut out = Vec::new();
        for nb in neighbours {
            let range = self.pf_range(nb.case);
            let pc = &self.pf_unit[range.clone()];
            if pc.is_empty() || pt.is_empty() {
                continue;
            }
            // Recompute the Eq. 4 pairing for this neighbour (only N of them, cheap).
            let pairs = if pt.len() == 1 || pc.len() == 1 {
                let mut best = (f64::INFINITY, 0, 0);
                for (a, x) in pt.iter().enumerate() {
                    for (b, y) in pc.iter().enumerate() {
                        let d = crate::distance::cosine_distance(x, y);
                        if d < best.0 {
                            best = (d, a, b);
                        }
                    }
                }
                vec![(best.1, best.2)]
            } else {
                s.cost.clear();
                for x in &pt {
                    for y in pc {
                        s.cost.push(crate::distance::cosine_distance(x, y));
                    }
                }
                s.assign.solve(&s.cost, pt.len(), pc.len());
                s.assign.pairs()
            };
            for (a, b) in pairs {
                let tp = &target.pfs[a];
                let p = range.start + b;
                let Some(view) = self.portfolio(p) else {
                    continue;
                };
                let d = sparse_cosine(
                    &tp.assets,
                    &tp.shares,
                    tp.norm,
                    view.assets,
                    view.shares,
                    self.pf_norm(p),
                );
                out.push(RankedPortfolio {
                    case: nb.case,
                    portfolio: p,
                    customer_distance: nb.distance,
                    portfolio_distance: Some(d),
                });
            }
        }
        // Stable sort keeps the neighbour order among equal distances.
        out.sort_by(|a, b| {
            let (x, y) = (
                a.portfolio_distance.unwrap_or(1.0),
                b.portfolio_distance.unwrap_or(1.0),
            );
            x.total_cmp(&y)
        });
        if let Some(j) = j {
            out.truncate(j);
        }
        out
    }

    /// Step 3 input when Step 2 is skipped: every portfolio of the neighbours, ranked by
    /// customer similarity (neighbour order), then by the customer's portfolio order.
    pub fn portfolios_by_customer(&self, neighbours: &[Neighbour]) -> Vec<RankedPortfolio> {
        neighbours
            .iter()
            .flat_map(|nb| {
                self.pf_range(nb.case).map(move |p| RankedPortfolio {
                    case: nb.case,
                    portfolio: p,
                    customer_distance: nb.distance,
                    portfolio_distance: None,
                })
            })
            .collect()
    }

    /// Runs Steps 1–3 for one target (see [`CaseBase::recommend_group`]).
    pub fn recommend(
        &self,
        target: &Target,
        params: &QueryParams,
        deadline: Option<Instant>,
    ) -> Result<Recommendation> {
        self.recommend_group(std::slice::from_ref(target), params, deadline)
    }

    /// Runs Steps 1–3 for a group of targets (a single target is a group of one).
    ///
    /// * Step 1 per target, excluding every stored group member from the neighbours.
    /// * Step 2 runs only if every target owns a portfolio (otherwise the distances of
    ///   different targets would not be comparable); then each target's best-matching
    ///   portfolios are ranked and cut to J, else every neighbour portfolio is taken in
    ///   customer order.
    /// * The per-target lists are merged by distance (ties: target order, then rank); a
    ///   portfolio retrieved for several targets is kept once, at its best position.
    /// * Step 3: products in the order they first appear (largest share first within a
    ///   portfolio), skipping those above the MiFID adequacy of the least adequate target;
    ///   the first K get F, AP, ADC, ADP and are ordered by F as asked (ties: discovery order).
    pub fn recommend_group(
        &self,
        targets: &[Target],
        params: &QueryParams,
        deadline: Option<Instant>,
    ) -> Result<Recommendation> {
        params.check()?;
        if targets.is_empty() {
            return Err(CbrError::InvalidQuery {
                reason: "no target customer".into(),
            });
        }
        if deadline_passed(deadline) {
            return Err(CbrError::DeadlineExceeded);
        }
        let mut adequacy = f64::INFINITY;
        for t in targets {
            let a = self.adequacy(t).ok_or_else(|| CbrError::MissingAdequacy {
                customer: t.id.to_string(),
            })?;
            adequacy = adequacy.min(a);
        }
        let exclude: Vec<u32> = targets.iter().filter_map(|t| t.case).collect();
        let n = params.effective_n(self.len());
        let step2 = targets.iter().all(Target::has_portfolios);
        let mut neighbours = Vec::with_capacity(targets.len());
        let mut lists = Vec::with_capacity(targets.len());
        for t in targets {
            let nb = self.nearest(t, n, &exclude, deadline)?;
            let list = if step2 {
                self.rank_portfolios(t, &nb, params.j)
            } else {
                self.portfolios_by_customer(&nb)
            };
            neighbours.push(nb);
            lists.push(list);
        }
        let portfolios = merge_lists(lists, step2);
        let assets = self.statistics(&portfolios, params, adequacy, step2, deadline)?;
        Ok(Recommendation {
            neighbours,
            step2,
            portfolios,
            assets,
        })
    }

    /// Step 3 on a ranked portfolio list.
    fn statistics(
        &self,
        list: &[RankedPortfolio],
        params: &QueryParams,
        adequacy: f64,
        step2: bool,
        deadline: Option<Instant>,
    ) -> Result<Vec<AssetStats>> {
        // Discovery order of compliant products.
        let mut chosen: Vec<u32> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        'outer: for rp in list {
            let Some(view) = self.portfolio(rp.portfolio) else {
                continue;
            };
            let mut order: Vec<usize> = (0..view.assets.len()).collect();
            order.sort_by(|&a, &b| view.shares[b].total_cmp(&view.shares[a]).then(a.cmp(&b)));
            for k in order {
                let a = view.assets[k];
                if !seen.insert(a) {
                    continue;
                }
                let compliant = self
                    .catalogue()
                    .get(a)
                    .is_some_and(|p| f64::from(p.risk_level.get()) <= adequacy);
                if compliant {
                    chosen.push(a);
                    if chosen.len() == params.k {
                        break 'outer;
                    }
                }
            }
        }
        let total = list.len() as f64;
        let mut case_dist: HashMap<(u32, u32), f64> = HashMap::new();
        let mut out = Vec::with_capacity(chosen.len());
        for &a in &chosen {
            if deadline_passed(deadline) {
                return Err(CbrError::DeadlineExceeded);
            }
            // Portfolios of the list holding `a`, with the share of `a`.
            let holders: Vec<(&RankedPortfolio, f64)> = list
                .iter()
                .filter_map(|rp| {
                    let v = self.portfolio(rp.portfolio)?;
                    let k = v.assets.binary_search(&a).ok()?;
                    Some((rp, v.shares[k]))
                })
                .collect();
            let frequency = holders.len() as f64 / total;
            let average_share = holders.iter().map(|h| h.1).sum::<f64>() / holders.len() as f64;
            let mut owners: Vec<u32> = holders.iter().map(|h| h.0.case).collect();
            owners.sort_unstable();
            owners.dedup();
            let adc = mean_pairs(owners.len(), |x, y| {
                let key = (owners[x], owners[y]);
                *case_dist
                    .entry(key)
                    .or_insert_with(|| self.distance(key.0, key.1).unwrap_or(1.0))
            });
            let adp = if step2 {
                let pfs: Vec<usize> = holders.iter().map(|h| h.0.portfolio).collect();
                mean_pairs(pfs.len(), |x, y| self.portfolio_distance(pfs[x], pfs[y]))
            } else {
                None
            };
            let product = self.catalogue().get(a);
            out.push(AssetStats {
                product: product.map_or_else(|| FundId::new(""), |p| p.id.clone()),
                risk_level: product.map(|p| p.risk_level).unwrap_or_default(),
                frequency,
                average_share,
                adc,
                adp,
            });
        }
        // Stable sort: ties keep discovery order.
        match params.order {
            Order::MostFrequentFirst => {
                out.sort_by(|x, y| y.frequency.total_cmp(&x.frequency));
            }
            Order::LeastFrequentFirst => {
                out.sort_by(|x, y| x.frequency.total_cmp(&y.frequency));
            }
        }
        Ok(out)
    }

    /// Second-level cosine distance between two stored portfolios.
    pub fn portfolio_distance(&self, p: usize, q: usize) -> f64 {
        match (self.portfolio(p), self.portfolio(q)) {
            (Some(a), Some(b)) => sparse_cosine(
                a.assets,
                a.shares,
                self.pf_norm(p),
                b.assets,
                b.shares,
                self.pf_norm(q),
            ),
            _ => 1.0,
        }
    }
}

/// Mean of `f(x, y)` over all pairs `x < y` of `0..n` (`None` if `n < 2`).
fn mean_pairs(n: usize, mut f: impl FnMut(usize, usize) -> f64) -> Option<f64> {
    if n < 2 {
        return None;
    }
    let mut s = 0.0;
    for x in 0..n {
        for y in x + 1..n {
            s += f(x, y);
        }
    }
    Some(s / (n * (n - 1) / 2) as f64)
}

/// Merges per-target ranked lists by distance, keeping each portfolio once (first occurrence).
fn merge_lists(lists: Vec<Vec<RankedPortfolio>>, step2: bool) -> Vec<RankedPortfolio> {
    if lists.len() == 1 {
        return lists.into_iter().next().unwrap_or_default();
    }
    let key = |rp: &RankedPortfolio| {
        if step2 {
            rp.portfolio_distance.unwrap_or(1.0)
        } else {
            rp.customer_distance
        }
    };
    let mut all: Vec<(f64, usize, usize, RankedPortfolio)> = lists
        .into_iter()
        .enumerate()
        .flat_map(|(t, l)| {
            l.into_iter()
                .enumerate()
                .map(move |(r, rp)| (key(&rp), t, r, rp))
        })
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.cmp(&b.2)).then(a.1.cmp(&b.1)));
    let mut seen = std::collections::HashSet::new();
    all.into_iter()
        .filter(|x| seen.insert(x.3.portfolio))
        .map(|x| x.3)
        .collect()
}
