//! Step 2 of a query (Section 3.3 of the paper): the portfolios of the N retrieved customers
//! ranked by similarity to the target's portfolios, cut to J.
//!
//! For each neighbour, its portfolios are paired with the target's by the best matching of
//! Eq. 4 (first level, 6-class cosine distance; exact assignment); each paired portfolio is
//! ranked by the second-level (per-product) cosine distance to its target portfolio. When the
//! target owns no portfolio, Step 2 is skipped and every neighbour portfolio is taken in
//! customer order ([`CaseBase::portfolios_by_customer`]).

use fundalloc_core_types::CancelToken;

use crate::Result;
use crate::casebase::{CaseBase, KernelScratch, Target};
use crate::distance::{cosine_distance, sparse_cosine};
use crate::retrieval::{Neighbour, RankedPortfolio};

/// Neighbours between two cancel checks.
const CHECK_EVERY: usize = 64;

impl CaseBase {
    /// Step 2 for one target: the best-matching portfolios of the neighbours (Eq. 4), each
    /// ranked by the second-level cosine distance to the target portfolio it is matched with;
    /// ties keep the neighbour order. Cut to `j` when given.
    ///
    /// # Errors
    /// [`CbrError::Cancelled`](crate::CbrError::Cancelled) once `cancel` is cancelled or past
    /// its deadline (checked every 64 neighbours).
    pub fn rank_portfolios(
        &self,
        target: &Target,
        neighbours: &[Neighbour],
        j: Option<usize>,
        cancel: &CancelToken,
    ) -> Result<Vec<RankedPortfolio>> {
        let pt: Vec<_> = target.pfs.iter().map(|p| p.unit_classes).collect();
        let mut s = KernelScratch::default();
        let mut out = Vec::new();
        for (i, nb) in neighbours.iter().enumerate() {
            cancel.check_every(i, CHECK_EVERY)?;
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
                        let d = cosine_distance(x, y);
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
                        s.cost.push(cosine_distance(x, y));
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
        Ok(out)
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

    /// Second-level cosine distance between two stored portfolios (1 for an index out of
    /// range).
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
