//! Step 3 of a query (Section 3.4 of the paper): select the K products to recommend from the
//! ranked portfolio list, with their statistics.
//!
//! Products are taken in the order they first appear in the list (largest share first within
//! a portfolio), skipping those whose risk level exceeds the MiFID adequacy of the target;
//! each of the first K gets
//!
//! * **F**, the fraction of the listed portfolios that hold it;
//! * **AP**, its mean share in the portfolios that hold it;
//! * **ADC**, the mean Eq. 5 distance over all pairs of distinct customers holding it;
//! * **ADP**, the mean second-level cosine distance over all pairs of portfolios holding it
//!   (only when Step 2 ran).
//!
//! ADC and ADP are quadratic in the number of holders (N can be 100,000), so both loops check
//! the cancel token every 1,024 pairs, and no pair distance is cached: memory stays linear in
//! the list.

use std::collections::{HashMap, HashSet};

use fundalloc_core_types::{CancelToken, FundId};

use crate::Result;
use crate::casebase::{CaseBase, Kernel, KernelScratch};
use crate::retrieval::{AssetStats, Order, QueryValidParams, RankedPortfolio};

/// Pairs (or list entries) between two cancel checks.
const CHECK_EVERY: usize = 1024;

impl CaseBase {
    /// Step 3 on a ranked portfolio list.
    pub(crate) fn select_products(
        &self,
        list: &[RankedPortfolio],
        params: &QueryValidParams,
        adequacy: f64,
        step2: bool,
        cancel: &CancelToken,
    ) -> Result<Vec<AssetStats>> {
        // Discovery order of compliant products.
        let mut chosen: Vec<u32> = Vec::new();
        let mut seen = HashSet::new();
        let mut order: Vec<usize> = Vec::new();
        'outer: for (i, rp) in list.iter().enumerate() {
            cancel.check_every(i, CHECK_EVERY)?;
            let Some(view) = self.portfolio(rp.portfolio) else {
                continue;
            };
            order.clear();
            order.extend(0..view.assets.len());
            order.sort_by(|&a, &b| view.shares[b].total_cmp(&view.shares[a]).then(a.cmp(&b)));
            for &k in &order {
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
                    if chosen.len() == params.k() {
                        break 'outer;
                    }
                }
            }
        }
        // One pass over the list: the holders of each chosen product (list index, share).
        let slot: HashMap<u32, usize> = chosen.iter().enumerate().map(|(i, &a)| (a, i)).collect();
        let mut holders: Vec<Vec<(usize, f64)>> = vec![Vec::new(); chosen.len()];
        for (i, rp) in list.iter().enumerate() {
            cancel.check_every(i, CHECK_EVERY)?;
            let Some(view) = self.portfolio(rp.portfolio) else {
                continue;
            };
            for (a, &share) in view.assets.iter().zip(view.shares) {
                if let Some(&s) = slot.get(a) {
                    holders[s].push((i, share));
                }
            }
        }
        let total = list.len() as f64;
        let mut out = Vec::with_capacity(chosen.len());
        let mut scratch = KernelScratch::default();
        for (&a, held) in chosen.iter().zip(&holders) {
            cancel.check()?;
            let frequency = held.len() as f64 / total;
            let average_share = held.iter().map(|h| h.1).sum::<f64>() / held.len() as f64;
            let mut owners: Vec<u32> = held.iter().map(|h| list[h.0].case).collect();
            owners.sort_unstable();
            owners.dedup();
            let adc = self.mean_customer_distance(&owners, &mut scratch, cancel)?;
            let adp = if step2 {
                let pfs: Vec<usize> = held.iter().map(|h| list[h.0].portfolio).collect();
                mean_pairs(pfs.len(), cancel, |x, y| {
                    self.portfolio_distance(pfs[x], pfs[y])
                })?
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
        match params.order() {
            Order::MostFrequentFirst => {
                out.sort_by(|x, y| y.frequency.total_cmp(&x.frequency));
            }
            Order::LeastFrequentFirst => {
                out.sort_by(|x, y| x.frequency.total_cmp(&y.frequency));
            }
        }
        Ok(out)
    }

    /// ADC: the mean Eq. 5 distance over the pairs `x < y` of `owners` (sorted case indices),
    /// each from the smaller case index to the larger (as [`CaseBase::distance`]); `None`
    /// with fewer than two owners.
    fn mean_customer_distance(
        &self,
        owners: &[u32],
        scratch: &mut KernelScratch,
        cancel: &CancelToken,
    ) -> Result<Option<f64>> {
        let h = owners.len();
        if h < 2 {
            return Ok(None);
        }
        let mut s = 0.0;
        let mut count = 0usize;
        for (x, &a) in owners.iter().enumerate() {
            let target = self.target_of_case(a);
            let kernel = Kernel::new(self, &target);
            for &b in &owners[x + 1..] {
                cancel.check_every(count, CHECK_EVERY)?;
                count += 1;
                s += kernel.distance(b as usize, scratch);
            }
        }
        Ok(Some(s / (h * (h - 1) / 2) as f64))
    }
}

/// Mean of `f(x, y)` over all pairs `x < y` of `0..n` (`None` if `n < 2`), checking `cancel`
/// every [`CHECK_EVERY`] pairs.
fn mean_pairs(
    n: usize,
    cancel: &CancelToken,
    mut f: impl FnMut(usize, usize) -> f64,
) -> Result<Option<f64>> {
    if n < 2 {
        return Ok(None);
    }
    let mut s = 0.0;
    let mut count = 0usize;
    for x in 0..n {
        for y in x + 1..n {
            cancel.check_every(count, CHECK_EVERY)?;
            count += 1;
            s += f(x, y);
        }
    }
    Ok(Some(s / (n * (n - 1) / 2) as f64))
}
