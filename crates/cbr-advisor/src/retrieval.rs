//! A query (Section 3 of the paper): Step 1 ([`CaseBase::nearest`]), Step 2
//! ([`CaseBase::rank_portfolios`]), Step 3 (product selection with F, AP, ADC, ADP and the
//! MiFID adequacy filter), for one target or a group of targets.
//!
//! Every step takes the query's [`CancelToken`] and checks it in its inner loops, so a query
//! past its deadline stops within milliseconds and returns [`CbrError::Cancelled`].

use fundalloc_core_types::{
    CancelToken, CustomerId, Empty, FundId, ParamGuard, RiskLevel, TooLarge, check,
};
use serde::{Deserialize, Serialize};

use crate::casebase::{CaseBase, Target};
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

/// The most neighbours one query may retrieve, N × targets (default of
/// [`QueryParams::max_neighbours`]): bounds a query's memory.
pub const DEFAULT_MAX_NEIGHBOURS: usize = 1_000_000;

/// Unchecked query parameters (the `N`, `J`, `K`, `A/D` fields of a request): build with
/// [`QueryParams::new`] and the setters; the query checks them ([`ParamGuard`]).
///
/// ```
/// use fundalloc_cbr_advisor::{Order, QueryParams};
/// use fundalloc_core_types::ParamGuard;
///
/// let p = QueryParams::new(5).n(Some(20)).order(Order::LeastFrequentFirst).check()?;
/// assert_eq!((p.k(), p.effective_n(10_000)), (5, 20));
/// assert!(QueryParams::new(0).check().is_err());
/// # Ok::<(), fundalloc_cbr_advisor::CbrError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct QueryParams(QueryValidParams);

/// Checked query parameters: made by [`ParamGuard::check`] on [`QueryParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct QueryValidParams {
    k: usize,
    n: Option<usize>,
    j: Option<usize>,
    order: Order,
    default_n_fraction: f64,
    default_n_max: usize,
    max_neighbours: usize,
}

impl QueryParams {
    /// Parameters returning `k` products, most frequent first, default N, no J cut.
    pub fn new(k: usize) -> Self {
        Self(QueryValidParams {
            k,
            n: None,
            j: None,
            order: Order::MostFrequentFirst,
            default_n_fraction: 0.01,
            default_n_max: 50,
            max_neighbours: DEFAULT_MAX_NEIGHBOURS,
        })
    }
    /// Sets K, the number of products returned (≥ 1).
    #[must_use]
    pub fn k(mut self, k: usize) -> Self {
        self.0.k = k;
        self
    }
    /// Sets N, the customers kept by Step 1 (≥ 1; `None` = the default
    /// `clamp(⌈default_n_fraction · |case base|⌉, 1, default_n_max)`).
    #[must_use]
    pub fn n(mut self, n: Option<usize>) -> Self {
        self.0.n = n;
        self
    }
    /// Sets J, the portfolios kept by Step 2 (≥ 1; `None` = no cut).
    #[must_use]
    pub fn j(mut self, j: Option<usize>) -> Self {
        self.0.j = j;
        self
    }
    /// Sets the order of the answer by F.
    #[must_use]
    pub fn order(mut self, order: Order) -> Self {
        self.0.order = order;
        self
    }
    /// Sets the default N as a fraction of the case base, in (0, 1] (default 0.01).
    #[must_use]
    pub fn default_n_fraction(mut self, fraction: f64) -> Self {
        self.0.default_n_fraction = fraction;
        self
    }
    /// Sets the upper bound of the default N (≥ 1, default 50).
    #[must_use]
    pub fn default_n_max(mut self, max: usize) -> Self {
        self.0.default_n_max = max;
        self
    }
    /// Sets the most neighbours a query may retrieve, N × targets (≥ 1, default
    /// [`DEFAULT_MAX_NEIGHBOURS`]); a larger query fails with [`CbrError::TooLarge`].
    #[must_use]
    pub fn max_neighbours(mut self, max: usize) -> Self {
        self.0.max_neighbours = max;
        self
    }
}

impl QueryValidParams {
    /// K: the number of products returned.
    pub fn k(&self) -> usize {
        self.k
    }
    /// N, or `None` for the default.
    pub fn n(&self) -> Option<usize> {
        self.n
    }
    /// J, or `None` for no cut.
    pub fn j(&self) -> Option<usize> {
        self.j
    }
    /// The order of the answer.
    pub fn order(&self) -> Order {
        self.order
    }
    /// The default N as a fraction of the case base.
    pub fn default_n_fraction(&self) -> f64 {
        self.default_n_fraction
    }
    /// The upper bound of the default N.
    pub fn default_n_max(&self) -> usize {
        self.default_n_max
    }
    /// The most neighbours a query may retrieve (N × targets).
    pub fn max_neighbours(&self) -> usize {
        self.max_neighbours
    }
    /// The effective N for a case base of `len` cases.
    pub fn effective_n(&self, len: usize) -> usize {
        self.n.unwrap_or_else(|| {
            ((self.default_n_fraction * len as f64).ceil() as usize).clamp(1, self.default_n_max)
        })
    }
}

impl ParamGuard for QueryParams {
    type Checked = QueryValidParams;
    type Error = CbrError;

    fn check_ref(&self) -> Result<&QueryValidParams> {
        let p = &self.0;
        check::at_least("k", p.k, 1)?;
        if let Some(n) = p.n {
            check::at_least("n", n, 1)?;
        }
        if let Some(j) = p.j {
            check::at_least("j", j, 1)?;
        }
        check::in_half_open_unit_right("default_n_fraction", p.default_n_fraction)?;
        check::at_least("default_n_max", p.default_n_max, 1)?;
        check::at_least("max_neighbours", p.max_neighbours, 1)?;
        Ok(p)
    }

    fn check(self) -> Result<QueryValidParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

fundalloc_core_types::checked_params!(QueryValidParams, CbrError);

/// A customer retrieved by Step 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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

impl CaseBase {
    /// Runs Steps 1–3 for one target (see [`CaseBase::recommend_group`]).
    ///
    /// # Errors
    /// As [`CaseBase::recommend_group`].
    pub fn recommend(
        &self,
        target: &Target,
        params: impl ParamGuard<Checked = QueryValidParams, Error = CbrError>,
        cancel: &CancelToken,
    ) -> Result<Recommendation> {
        self.recommend_group(std::slice::from_ref(target), params, cancel)
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
    ///
    /// # Errors
    /// [`CbrError::InvalidParameter`] for bad parameters, [`CbrError::Empty`] without
    /// targets, [`CbrError::TooLarge`] when N × targets exceeds `max_neighbours`,
    /// [`CbrError::MissingAdequacy`], and [`CbrError::Cancelled`] once `cancel` is cancelled
    /// or past its deadline (checked in every step's inner loops).
    pub fn recommend_group(
        &self,
        targets: &[Target],
        params: impl ParamGuard<Checked = QueryValidParams, Error = CbrError>,
        cancel: &CancelToken,
    ) -> Result<Recommendation> {
        let params = params.check()?;
        if targets.is_empty() {
            return Err(Empty::new("targets").into());
        }
        cancel.check()?;
        let mut adequacy = f64::INFINITY;
        for t in targets {
            let a = self.adequacy(t).ok_or_else(|| CbrError::MissingAdequacy {
                customer: t.id.clone(),
            })?;
            adequacy = adequacy.min(a);
        }
        let exclude: Vec<u32> = targets.iter().filter_map(|t| t.case).collect();
        let n = params.effective_n(self.len());
        TooLarge::check(
            "neighbours (N × targets)",
            (n.min(self.len()) as u128).saturating_mul(targets.len() as u128),
            params.max_neighbours as u128,
        )?;
        let step2 = targets.iter().all(Target::has_portfolios);
        let mut neighbours = Vec::with_capacity(targets.len());
        let mut lists = Vec::with_capacity(targets.len());
        for t in targets {
            let nb = self.nearest(t, n, &exclude, cancel)?;
            let list = if step2 {
                self.rank_portfolios(t, &nb, params.j, cancel)?
            } else {
                self.portfolios_by_customer(&nb)
            };
            neighbours.push(nb);
            lists.push(list);
        }
        let portfolios = merge_lists(lists, step2);
        let assets = self.select_products(&portfolios, &params, adequacy, step2, cancel)?;
        Ok(Recommendation {
            neighbours,
            step2,
            portfolios,
            assets,
        })
    }
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
