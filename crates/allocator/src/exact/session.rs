//! A stateful exact solver: the problem, its optimum and the dual certificate's pieces kept
//! between solves, so a change touching a few customers is re-solved in time proportional to
//! them (see `docs/exact-solver.md` §5.2).
//!
//! State beyond the problem: every customer's funds (a mask), the fund prices `p`, the fund
//! loads, and a split of the customers into **active** ones (candidates of the shortest-path
//! search, recomputed at every re-solve) and **settled** ones, whose moves are grouped into
//! *buckets* by fund pair and key bin. A bucket's smallest price-independent key (a phantom
//! arc) bounds all its moves at any prices; over the settled customers only `Σ E` of their
//! sets and their per-fund counts are kept. While every settled phantom has non-negative reduced cost,
//! every settled customer holds a best set, so its part of the dual bound is
//! `Σ E − Σ_f n_f q_f` without looking at it.

use std::collections::HashSet;
use std::time::Instant;

use fundalloc_core_types::{
    Allocation, CoreError, Empty, InvalidParameter, NonFinite, Position, Real, RevenueMatrix,
    RiskLevel, ShapeMismatch, TooLarge,
};
use rayon::prelude::*;

use super::core::{CHUNK, CoreInput, MAX_FUNDS, Problem, best_set, bits, for_each_arc, slack};
use super::solve::{solve_core, solve_core_warm};
use super::ssp::{Ssp, range_state, scaled_ranges};
use super::{Certificate, GAP_TOLERANCE, core_error};
use crate::error::{AllocError, Result};
use crate::problem::{AllocationProblem, ExposureRange, PerCustomer, Shape};

/// `state` of a customer that is a candidate of the search.
const ACTIVE: u16 = 0;
/// `state` of a settled customer.
const SETTLED: u16 = 1;
/// `state` of a removed customer's slot (free for [`Change::AddCustomers`]).
const REMOVED: u16 = u16::MAX;
/// A rebase leaves about `U / ACTIVE_SHARE` customers active (at least [`MIN_ACTIVE`]); the
/// first key bin of a pair holds about `1 / ACTIVE_SHARE` of its moves, the next ones double.
const ACTIVE_SHARE: usize = 512;
const MIN_ACTIVE: usize = 4096;
/// At most this many key bins per pair.
const MAX_TIERS: usize = 12;
/// The price of a closed fund: any price `≥ 0` is a valid dual for a fund with range
/// `[0, 0]` (its term `max_f·q_f` is 0); a huge one keeps the closed column out of every
/// customer's best set, also for a checker that treats the fund as eligible
/// ([`ExactSession::to_problem`] gives it range `[0, 0]`).
const CLOSED_PRICE: f64 = 1e300;
/// A rebase runs before a re-solve when more than `1 / REBASE_SHARE` of the customers are
/// active.
const REBASE_SHARE: usize = 4;
/// `state` of a settled customer whose bucket [`ExactSession::presearch`] loaded, until it
/// leaves the settled sums.
const LOADING: u16 = 2;
/// After a presearch about this many candidates per unit of the excess expected to be left
/// stay active (at least the [`MIN_ACTIVE`] of a rebase).
const KEEP_PER_UNIT: usize = 8;
/// Buckets are compacted past `BUCKET_LIMIT · pairs · MAX_TIERS`.
const BUCKET_LIMIT: usize = 16;
/// A search with at least this much excess routes a scaled-down copy on a sample first
/// ([`ExactSession::presearch`]).
const PRESEARCH_EXCESS: i64 = 1024;
/// At most this many presearch rounds (each at a finer scale) before the exact search.
const PRESEARCH_ROUNDS: usize = 3;
/// The smallest sample share of [`ExactSession::presearch`] is `1 / MAX_DEN`.
const MAX_DEN: i64 = 256;

/// A change to the problem held by an [`ExactSession`].
///
/// Customer ids are slots: they stay valid until the customer is removed, and
/// [`Change::AddCustomers`] reuses removed slots (lowest freed last) before appending. Fund
/// ids are column indexes; a closed fund keeps its index (its column is ignored).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Change<T: Real = f64> {
    /// New revenue rows for some customers: `rows` holds `customers.len() × F` values,
    /// row-major, finite and non-negative (values of closed funds are ignored).
    Rows {
        /// The customers (each at most once).
        customers: Vec<usize>,
        /// Their new rows.
        rows: Vec<T>,
    },
    /// A fund's exposure range.
    Quota {
        /// The fund (open).
        fund: usize,
        /// Its new range.
        range: ExposureRange,
    },
    /// A fund closed: nobody may hold it any more (its customers are re-allocated).
    CloseFund {
        /// The fund (open).
        fund: usize,
    },
    /// New customers: `rows` holds `tolerance.len() × F` values.
    AddCustomers {
        /// Their revenue rows, row-major.
        rows: Vec<T>,
        /// Their risk tolerances.
        tolerance: Vec<RiskLevel>,
    },
    /// Customers removed (each at most once); their slots become free.
    RemoveCustomers {
        /// The customers.
        customers: Vec<usize>,
    },
    /// A new fund (the last column). The next re-solve is a full warm solve
    /// ([`Exact::solve_warm`](super::Exact::solve_warm)): a new column touches every customer.
    AddFund {
        /// Its revenue for every customer slot (`slots()` values; removed slots' are ignored).
        column: Vec<T>,
        /// Its risk level.
        risk: RiskLevel,
        /// Its exposure range.
        range: ExposureRange,
    },
}

/// What [`ExactSession::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Applied {
    /// The ids given to added customers, in the order of their rows (empty for other changes).
    pub customers: Vec<usize>,
}

/// The outcome of [`ExactSession::resolve`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Resolved {
    /// The proof of optimality: prices, objective and dual bound (gap within
    /// [`GAP_TOLERANCE`]).
    pub certificate: Certificate,
    /// Wall-clock seconds of the re-solve.
    pub seconds: f64,
    /// `true` when the re-solve had to solve from the whole problem (after
    /// [`Change::AddFund`], or when the incremental certificate did not close and the state
    /// was recomputed).
    pub full: bool,
    /// Customers whose set was recomputed because a change touched them.
    pub recomputed: usize,
    /// Candidates of the search (active customers, after the buckets it loaded).
    pub candidates: usize,
    /// Settled buckets loaded because a shortest path needed them.
    pub buckets_loaded: usize,
    /// Shortest-path augmentations.
    pub augmentations: u64,
    /// Whether a rebase (a full O(U·F) pass) ran first because too many customers were active.
    pub rebased: bool,
    /// Passes over the active customers before the exact search: sample rounds for a large
    /// excess (a scaled-down search on a sample for prices close to the optimum's), and a
    /// pass that settles again those far from any move when they are many.
    pub presearch_passes: usize,
}

/// The check of [`ExactSession::audit`]: the cached objective against a recomputation from
/// every customer, and the dual bound recomputed from the prices alone.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Audit {
    /// The objective of the last re-solve (incremental).
    pub cached_objective: f64,
    /// Σ E over every customer's funds, recomputed.
    pub objective: f64,
    /// The dual bound `g(q)` recomputed from every customer's row and the prices.
    pub bound: f64,
}

/// A settled bucket: the settled customers whose move along one fund pair has a key in one
/// bin, with the smallest such key.
#[derive(Debug, Clone)]
struct Bucket {
    /// The pair `i·(F+1) + j`.
    pair: usize,
    /// A lower bound on the key `E_ui − E_uj` of every member still settled (∞: none).
    min: f64,
    members: Vec<u32>,
    /// Segments of `members` (end, epoch): a member counts only while its customer's epoch
    /// is its segment's — a customer settled again later has newer buckets, and this
    /// membership is stale.
    segs: Vec<(usize, u16)>,
}

impl Bucket {
    fn new(pair: usize, min: f64, members: Vec<u32>, epoch: u16) -> Self {
        let segs = vec![(members.len(), epoch)];
        Self {
            pair,
            min,
            members,
            segs,
        }
    }

    /// Appends another bucket of the same pair (the smaller member list is moved).
    fn merge(&mut self, mut other: Bucket) {
        if self.members.len() < other.members.len() {
            std::mem::swap(self, &mut other);
        }
        self.min = self.min.min(other.min);
        let base = self.members.len();
        self.members.extend_from_slice(&other.members);
        self.segs
            .extend(other.segs.into_iter().map(|(end, e)| (base + end, e)));
    }

    /// The members with their segment's epoch.
    fn tagged(&self) -> impl Iterator<Item = (u32, u16)> + '_ {
        let mut start = 0;
        self.segs.iter().flat_map(move |&(end, e)| {
            let seg = &self.members[start..end];
            start = end;
            seg.iter().map(move |&u| (u, e))
        })
    }
}

/// One chunk's part of a rebase: bucket members and smallest keys, then the settled value,
/// per-fund counts and number.
type ChunkTable = (Vec<Vec<u32>>, Vec<f64>, f64, Vec<i64>, u64);

/// Neumaier-compensated `f64` sum (a running total of many small updates).
#[derive(Debug, Clone, Copy, Default)]
struct Sum {
    s: f64,
    c: f64,
}

impl Sum {
    fn add(&mut self, x: f64) {
        let t = self.s + x;
        if self.s.abs() >= x.abs() {
            self.c += (self.s - t) + x;
        } else {
            self.c += (x - t) + self.s;
        }
        self.s = t;
    }

    fn value(self) -> f64 {
        self.s + self.c
    }
}

/// The exact solver with state kept between solves: apply [`Change`]s, then
/// [`ExactSession::resolve`] for the new proven optimum.
///
/// A re-solve costs O((changed + active customers)·K·F) plus the shortest paths, not O(U·F):
/// settled customers are touched only when a shortest path needs one of their buckets (their
/// slack is below the price movement) — see `docs/exact-solver.md` §5.2 for the argument that
/// the certificate stays a proof. [`Change::AddFund`] falls back to a full warm solve.
///
/// ```
/// use fundalloc_allocator::prelude::*;
/// use fundalloc_allocator::{Change, ExactSession};
///
/// let e = RevenueMatrix::from_shape_vec(3, 2, vec![5.0, 1.0, 4.0, 3.0, 1.0, 0.5])?;
/// let problem = AllocationProblem::builder(e).exactly(1).exposures(vec![1, 2]).build()?;
/// let mut session = ExactSession::new(problem)?;
/// assert!((session.certificate().objective() - 8.5).abs() < 1e-12);
/// // Customer 2 now prefers fund 0 strongly.
/// session.apply(Change::Rows { customers: vec![2], rows: vec![9.0, 0.5] })?;
/// let resolved = session.resolve()?;
/// assert!((resolved.certificate.objective() - 13.0).abs() < 1e-12); // 1 + 3 + 9
/// assert_eq!(session.funds_of(2), Some(vec![0]));
/// # Ok::<(), AllocError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ExactSession<T: Real = f64> {
    data: Data<T>,
    /// Live customers per tolerance level.
    hist: Vec<u64>,
    live: usize,
    /// Removed slots, reused last-in first-out.
    free: Vec<u32>,
    masks: Vec<u64>,
    /// Node prices (funds, then the sink at 0).
    p: Vec<f64>,
    loads: Vec<i64>,
    /// `ACTIVE`, `SETTLED` or `REMOVED`.
    state: Vec<u16>,
    /// Per customer, the epoch of the buckets that hold its moves (see [`Bucket`]).
    epoch: Vec<u16>,
    /// The epoch of the newest buckets (a rebase or a presearch pass starts a new one).
    cur_epoch: u16,
    active: Vec<u32>,
    /// Customers whose set must be recomputed before the next search.
    dirty: Vec<u32>,
    buckets: Vec<Bucket>,
    /// Whether bucket b was loaded into the active set since the last rebase.
    loaded: Vec<bool>,
    settled_value: Sum,
    settled_count: Vec<i64>,
    settled: u64,
    /// A change needs the full solve (a fund was added).
    full_pending: bool,
    certificate: Certificate,
    resolves: u64,
    audit_every: u64,
    /// The fewest customers a rebase leaves active ([`MIN_ACTIVE`]; tests lower it so that
    /// small problems have settled customers).
    min_active: usize,
    /// The smallest excess, and the smallest `1 / share`, of a presearch round
    /// ([`PRESEARCH_EXCESS`] and 4; tests lower them so that small problems run rounds).
    presearch_excess: i64,
    min_den: i64,
    /// Buckets are compacted past `bucket_factor · pairs · MAX_TIERS` ([`BUCKET_LIMIT`];
    /// tests set 0: compact at every search).
    bucket_factor: usize,
    /// Presearch passes of the last search.
    passes: usize,
}

impl<T: Real> ExactSession<T> {
    /// Solves `problem` exactly (as [`Exact::solve_certified`](super::Exact::solve_certified))
    /// and keeps it with its optimum for later changes.
    ///
    /// # Errors
    /// Those of [`Exact::solve_certified`](super::Exact::solve_certified).
    pub fn new(problem: AllocationProblem<T>) -> Result<Self> {
        let f = problem.n_funds();
        if f > MAX_FUNDS {
            return Err(core_error(super::core::CoreFailure::TooManyFunds(f), f));
        }
        let u = problem.n_customers();
        if u > u32::MAX as usize - 1 {
            return Err(TooLarge::new("session customers", u as u64, u32::MAX - 1).into());
        }
        let mut hist = vec![0u64; 256];
        for t in problem.tolerance() {
            hist[usize::from(t.get())] += 1;
        }
        let tolerance = problem.tolerance().to_vec();
        let fund_risk = problem.fund_risk().to_vec();
        let exposure = problem.exposure().to_vec();
        let rule = problem.rule();
        let revenue = revenue_vec(problem);
        let open = if f == 64 { u64::MAX } else { (1u64 << f) - 1 };
        let mut session = Self {
            data: Data {
                revenue,
                f,
                tolerance,
                fund_risk,
                exposure,
                open,
                rule,
            },
            hist,
            live: u,
            free: Vec::new(),
            masks: Vec::new(),
            p: vec![0.0; f + 1],
            loads: vec![0; f],
            state: Vec::new(),
            epoch: Vec::new(),
            cur_epoch: 0,
            active: Vec::new(),
            dirty: Vec::new(),
            buckets: Vec::new(),
            loaded: Vec::new(),
            settled_value: Sum::default(),
            settled_count: vec![0; f],
            settled: 0,
            full_pending: true,
            certificate: Certificate {
                fund_prices: vec![0.0; f],
                k: rule.k(),
                at_most: matches!(rule, PerCustomer::AtMost(_)),
                objective: 0.0,
                dual: 0.0,
            },
            resolves: 0,
            audit_every: 0,
            min_active: MIN_ACTIVE,
            presearch_excess: PRESEARCH_EXCESS,
            min_den: 4,
            bucket_factor: BUCKET_LIMIT,
            passes: 0,
        };
        session.full_solve(false)?;
        Ok(session)
    }

    /// Runs [`ExactSession::audit`] after every `every`-th re-solve (0: never, the default).
    pub fn set_audit_every(&mut self, every: u64) {
        self.audit_every = every;
    }

    /// Customer slots (live customers plus free slots): valid ids are below this.
    pub fn slots(&self) -> usize {
        self.data.tolerance.len()
    }

    /// Live customers.
    pub fn n_customers(&self) -> usize {
        self.live
    }

    /// Funds, closed ones included (F).
    pub fn n_funds(&self) -> usize {
        self.data.f
    }

    /// Whether fund `fund` exists and is open.
    pub fn is_open(&self, fund: usize) -> bool {
        fund < self.data.f && self.data.open >> fund & 1 == 1
    }

    /// Whether customer slot `customer` holds a live customer.
    pub fn is_live(&self, customer: usize) -> bool {
        self.state.get(customer).is_some_and(|&s| s != REMOVED)
    }

    /// The certificate of the last solve (after a change and before the next
    /// [`ExactSession::resolve`], it is stale).
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The funds of customer `customer` in the last solve, ascending (`None` for a removed or
    /// unknown slot).
    pub fn funds_of(&self, customer: usize) -> Option<Vec<usize>> {
        self.is_live(customer)
            .then(|| bits(self.masks[customer]).collect())
    }

    /// The live customers' ids, ascending: row `i` of [`ExactSession::to_problem`] is
    /// customer `live_ids()[i]`.
    pub fn live_ids(&self) -> Vec<usize> {
        (0..self.slots()).filter(|&u| self.is_live(u)).collect()
    }

    /// The current problem and the last solve's allocation, with the live customers in id
    /// order ([`ExactSession::live_ids`]) and every fund (a closed fund with range `[0, 0]`).
    /// O(U·F): for checks and hand-off, not for the serving loop.
    ///
    /// # Errors
    /// Those of [`AllocationProblem::new`] (none for a session's state).
    pub fn to_problem(&self) -> Result<(AllocationProblem<T>, Allocation)> {
        let ids = self.live_ids();
        let f = self.data.f;
        let mut e = Vec::with_capacity(ids.len() * f);
        for &u in &ids {
            let row = &self.data.revenue[u * f..(u + 1) * f];
            e.extend(row.iter().enumerate().map(|(g, &v)| {
                if self.data.open >> g & 1 == 1 {
                    v
                } else {
                    T::zero()
                }
            }));
        }
        let revenue = RevenueMatrix::from_shape_vec(ids.len(), f, e)?;
        let tolerance = ids.iter().map(|&u| self.data.tolerance[u]).collect();
        let problem = AllocationProblem::new(
            revenue,
            tolerance,
            self.data.fund_risk.clone(),
            self.data.rule,
            self.data.exposure.clone(),
        )?;
        let allocation = Allocation::from_rows(
            f,
            ids.iter()
                .map(|&u| bits(self.masks[u]).map(|g| g as u32).collect::<Vec<u32>>()),
        )?;
        Ok((problem, allocation))
    }

    /// Applies a change: [`ExactSession::apply_all`] with one change.
    ///
    /// # Errors
    /// Those of [`ExactSession::apply_all`].
    pub fn apply(&mut self, change: Change<T>) -> Result<Applied> {
        Ok(self.apply_all(vec![change])?.pop().unwrap_or_default())
    }

    /// Applies changes in order, as one step: all are checked first (ids and rows against the
    /// state the earlier changes leave, feasibility once, for the final problem — so a quota
    /// moved between two funds with exact exposures is two [`Change::Quota`]s in one call), and
    /// either all are applied or none. Checks cost O(changed customers · F + 256·F); applying
    /// costs O(changed customers · F), except [`Change::CloseFund`] (one O(U) scan of the masks
    /// for the fund's holders) and [`Change::AddFund`] (O(U·F)). Returns what each did.
    ///
    /// # Errors
    /// [`AllocError::UnknownCustomer`] / [`AllocError::UnknownFund`] for an id out of range,
    /// removed or closed; [`AllocError::ShapeMismatch`] for rows of the wrong length;
    /// [`AllocError::NonFinite`] / [`AllocError::Core`] (negative) for a bad revenue;
    /// [`AllocError::InvalidParameter`] for an id named twice in a change or `min > max`;
    /// [`AllocError::TooLarge`] past `u32::MAX − 1` slots or 64 funds; [`AllocError::Core`] (`Empty`)
    /// when no customer would be left; and the feasibility errors of
    /// [`AllocationProblem::new`] when the changes leave no feasible allocation. A customer
    /// added in the batch cannot be changed or removed in the same batch (`UnknownCustomer`).
    pub fn apply_all(&mut self, changes: Vec<Change<T>>) -> Result<Vec<Applied>> {
        let mut plan = Plan {
            f: self.data.f,
            open: self.data.open,
            exposure: self.data.exposure.clone(),
            fund_risk: self.data.fund_risk.clone(),
            hist: self.hist.clone(),
            live: self.live,
            slots: self.slots(),
            removed: HashSet::new(),
            added: HashSet::new(),
            freed: Vec::new(),
            free_used: 0,
        };
        for change in &changes {
            plan.check(self, change)?;
        }
        if plan.live == 0 {
            return Err(AllocError::Core(
                Empty::new("session customers (a change removes them all)").into(),
            ));
        }
        Shape {
            hist: &plan.hist,
            customers: plan.live as u64,
            fund_risk: &plan.fund_risk,
            exposure: &plan.exposure,
            rule: self.data.rule,
            first_customer: &|short| self.first_live(short),
        }
        .check()?;
        // Memory for the new slots and a new column, before anything changes.
        let grow = plan.slots - self.slots();
        let cells = plan.slots.saturating_mul(plan.f);
        let too_large =
            |_| TooLarge::new("session revenue values", cells as u128, usize::MAX as u128);
        if plan.f > self.data.f {
            // `AddFund` copies the matrix into a new one.
            let mut probe: Vec<T> = Vec::new();
            probe.try_reserve_exact(cells).map_err(too_large)?;
        }
        self.data
            .revenue
            .try_reserve(grow.saturating_mul(plan.f))
            .map_err(too_large)?;
        self.data.tolerance.try_reserve(grow).map_err(too_large)?;
        self.masks.try_reserve(grow).map_err(too_large)?;
        self.state.try_reserve(grow).map_err(too_large)?;
        self.epoch.try_reserve(grow).map_err(too_large)?;
        Ok(changes.into_iter().map(|c| self.apply_checked(c)).collect())
    }

    /// Applies a change that [`Plan::check`] accepted.
    fn apply_checked(&mut self, change: Change<T>) -> Applied {
        let f = self.data.f;
        match change {
            Change::Rows { customers, rows } => {
                for (i, &u) in customers.iter().enumerate() {
                    self.detach(u);
                    self.data.revenue[u * f..(u + 1) * f]
                        .copy_from_slice(&rows[i * f..(i + 1) * f]);
                    self.dirty.push(u as u32);
                }
            }
            Change::Quota { fund, range } => self.data.exposure[fund] = range,
            Change::CloseFund { fund } => {
                self.data.exposure[fund] = ExposureRange::exact(0);
                self.data.open &= !(1u64 << fund);
                // Nobody may hold or move to the fund: its pairs leave every phantom.
                let nn = f + 1;
                // (After an `AddFund` the buckets are stale, and rebuilt by the full solve.)
                if !self.full_pending {
                    for b in &mut self.buckets {
                        if b.pair / nn == fund || b.pair % nn == fund {
                            b.min = f64::INFINITY;
                        }
                    }
                }
                let bit = 1u64 << fund;
                let holders: Vec<u32> = self
                    .masks
                    .par_iter()
                    .enumerate()
                    .filter(|&(_, m)| m & bit != 0)
                    .map(|(u, _)| u as u32)
                    .collect();
                for &u in &holders {
                    self.detach(u as usize);
                    self.dirty.push(u);
                }
                self.p[fund] = CLOSED_PRICE;
            }
            Change::AddCustomers { rows, tolerance } => {
                let mut ids = Vec::with_capacity(tolerance.len());
                for (i, &t) in tolerance.iter().enumerate() {
                    let row = &rows[i * f..(i + 1) * f];
                    let u = if let Some(u) = self.free.pop() {
                        let u = u as usize;
                        self.data.revenue[u * f..(u + 1) * f].copy_from_slice(row);
                        self.data.tolerance[u] = t;
                        self.masks[u] = 0;
                        u
                    } else {
                        self.data.revenue.extend_from_slice(row);
                        self.data.tolerance.push(t);
                        self.masks.push(0);
                        self.state.push(REMOVED);
                        self.epoch.push(0);
                        self.data.tolerance.len() - 1
                    };
                    self.state[u] = ACTIVE;
                    self.active.push(u as u32);
                    self.dirty.push(u as u32);
                    self.hist[usize::from(t.get())] += 1;
                    self.live += 1;
                    ids.push(u);
                }
                return Applied { customers: ids };
            }
            Change::RemoveCustomers { customers } => {
                for &u in &customers {
                    self.detach(u);
                    for g in bits(self.masks[u]) {
                        self.loads[g] -= 1;
                    }
                    self.masks[u] = 0;
                    self.state[u] = REMOVED;
                    self.free.push(u as u32);
                    self.hist[usize::from(self.data.tolerance[u].get())] -= 1;
                    self.live -= 1;
                }
            }
            Change::AddFund {
                column,
                risk,
                range,
            } => {
                let slots = self.slots();
                let mut revenue = Vec::with_capacity(slots * (f + 1));
                for (u, &c) in column.iter().enumerate() {
                    revenue.extend_from_slice(&self.data.revenue[u * f..(u + 1) * f]);
                    revenue.push(c);
                }
                self.data.revenue = revenue;
                self.data.f = f + 1;
                self.data.exposure.push(range);
                self.data.fund_risk.push(risk);
                self.data.open |= 1u64 << f;
                self.p.insert(f, 0.0);
                self.full_pending = true;
            }
        }
        Applied::default()
    }

    /// Re-optimises after the changes applied since the last solve and returns the proof.
    ///
    /// Steps: recompute the best set of each customer a change touched (at the current prices);
    /// run the shortest-path search on the active customers, loading a settled bucket whenever
    /// a path needs one of its phantom arcs; then the certificate from the active customers
    /// and the settled sums. If its gap does not close (rounding drift in the running sums, or
    /// a phantom left negative), the state is recomputed from every customer and the solve
    /// repeated once (`full` in the result).
    ///
    /// # Errors
    /// [`AllocError::GapNotClosed`] if even the recomputed state does not close the gap, and
    /// the errors of [`Exact::solve_certified`](super::Exact::solve_certified) (none for a
    /// feasible problem).
    pub fn resolve(&mut self) -> Result<Resolved> {
        let start = Instant::now();
        if self.full_pending {
            self.passes = 0;
            self.full_solve(true)?;
            return Ok(self.resolved(start, true, 0, 0, 0, false));
        }
        let rebased = self.active.len() > self.live / REBASE_SHARE;
        let recomputed = self.recompute_dirty();
        if rebased {
            self.rebase();
        }
        let (augmentations, buckets_loaded) = self.search()?;
        self.resolves += 1;
        match self.certify() {
            Ok(()) => {}
            Err(_) => {
                // The exact recompute fallback.
                self.rebase();
                self.search()?;
                self.certify()?;
                return Ok(self.resolved(
                    start,
                    true,
                    recomputed,
                    augmentations,
                    buckets_loaded,
                    true,
                ));
            }
        }
        if self.audit_every > 0 && self.resolves.is_multiple_of(self.audit_every) {
            let a = self.audit()?;
            let tol = GAP_TOLERANCE * a.objective.abs().max(1.0);
            if (a.bound - a.objective).abs() > tol || (a.cached_objective - a.objective).abs() > tol
            {
                return Err(AllocError::GapNotClosed {
                    objective: a.objective,
                    bound: a.bound,
                    gap: a.bound - a.objective,
                    tolerance: tol,
                });
            }
        }
        Ok(self.resolved(
            start,
            false,
            recomputed,
            augmentations,
            buckets_loaded,
            rebased,
        ))
    }

    /// The full verification: recomputes the objective from every customer's funds and the
    /// dual bound from every customer's row at the current prices (O(U·K·F), parallel), then
    /// rebases the session's sums on the recomputed values. Call it periodically (or
    /// [`ExactSession::set_audit_every`]) to bound the drift of the running sums.
    ///
    /// # Errors
    /// None today (the `Result` leaves room for cancellation).
    pub fn audit(&mut self) -> Result<Audit> {
        let cached_objective = self.certificate.objective;
        let (objective, bound) = {
            let prob = self.data.view(self.live);
            let k = prob.k;
            let at_most = prob.at_most;
            let p = &self.p;
            let state = &self.state;
            let masks = &self.masks;
            let q = &p[..self.data.f];
            let (obj, phi) = (0..prob.n)
                .into_par_iter()
                .with_min_len(CHUNK)
                .filter(|&u| state[u] != REMOVED)
                .map(|u| {
                    let row = prob.row(u);
                    let val: f64 = bits(masks[u]).map(|g| row[g].to_f64_lossless()).sum();
                    let best = best_set(row, prob.eligible(u), p, k, at_most, u);
                    let phi: f64 = bits(best).map(|g| row[g].to_f64_lossless() - q[g]).sum();
                    (val, phi)
                })
                .reduce(|| (0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
            (obj, phi + fund_terms(&prob, q))
        };
        self.rebase();
        Ok(Audit {
            cached_objective,
            objective,
            bound,
        })
    }

    fn resolved(
        &self,
        start: Instant,
        full: bool,
        recomputed: usize,
        augmentations: u64,
        buckets_loaded: usize,
        rebased: bool,
    ) -> Resolved {
        Resolved {
            certificate: self.certificate.clone(),
            seconds: start.elapsed().as_secs_f64(),
            full,
            recomputed,
            candidates: self.active.len(),
            buckets_loaded,
            augmentations,
            rebased,
            presearch_passes: self.passes,
        }
    }

    /// Moves a settled customer to the active set (subtracting it from the settled sums).
    fn detach(&mut self, u: usize) {
        let s = self.state[u];
        if s == ACTIVE || s == REMOVED {
            return;
        }
        let row = &self.data.revenue[u * self.data.f..(u + 1) * self.data.f];
        let m = self.masks[u];
        let v: f64 = bits(m).map(|g| row[g].to_f64_lossless()).sum();
        self.settled_value.add(-v);
        for g in bits(m) {
            self.settled_count[g] -= 1;
        }
        self.settled -= 1;
        self.state[u] = ACTIVE;
        self.active.push(u as u32);
    }

    /// Best sets at the current prices for the customers a change touched; returns how many.
    fn recompute_dirty(&mut self) -> usize {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        dirty.retain(|&u| self.state[u as usize] == ACTIVE);
        let prob = self.data.view(self.live);
        let p = &self.p;
        let sets: Vec<u64> = dirty
            .par_iter()
            .with_min_len(1024)
            .map(|&u| {
                let u = u as usize;
                best_set(prob.row(u), prob.eligible(u), p, prob.k, prob.at_most, u)
            })
            .collect();
        drop(prob);
        for (&u, m) in dirty.iter().zip(sets) {
            let u = u as usize;
            for g in bits(self.masks[u]) {
                self.loads[g] -= 1;
            }
            for g in bits(m) {
                self.loads[g] += 1;
            }
            self.masks[u] = m;
        }
        dirty.len()
    }

    /// The shortest-path search on the active customers; loads settled buckets on demand.
    /// Returns (augmentations, buckets loaded).
    ///
    /// A large excess (a quota moved, a fund closed) is first routed at `1/den` scale on a
    /// sample of the candidates ([`ExactSession::presearch`]): its prices are close to the new
    /// optimum's, every candidate takes its best set at them, and the exact search only routes
    /// what the sample got wrong.
    fn search(&mut self) -> Result<(u64, usize)> {
        self.passes = 0;
        let state = &self.state;
        self.active.retain(|&u| state[u as usize] == ACTIVE);
        self.active.sort_unstable();
        self.active.dedup();
        self.compact_buckets();
        let f = self.data.f;
        let nn = f + 1;
        let mut open = self.open_excess();
        if open == 0 {
            return Ok((0, 0));
        }
        let mut loaded_now = 0usize;
        let mut augmentations = 0u64;
        // Routing e units at scale 1/den costs e/den paths and leaves an error of about
        // √(e·den) units: den ≈ ∛e balances the two.
        // Each sample round leaves an excess of about 2·e^(2/3); rounds go on while that
        // halves it. A last pass without a sample settles the active customers far from any
        // move when they are many more than the exact search needs (e.g. after new rows).
        let mut rounds = 0;
        loop {
            let den = (open as f64).cbrt().round() as i64;
            let sampled =
                open >= self.presearch_excess && den >= self.min_den && rounds < PRESEARCH_ROUNDS;
            let expected = if sampled {
                2.0 * (open as f64).powf(2.0 / 3.0)
            } else {
                open as f64
            };
            let keep = ((KEEP_PER_UNIT as f64 * expected) as usize).max(self.min_active);
            if !sampled && self.active.len() <= 2 * keep {
                break;
            }
            let (a, l) = self.presearch(sampled.then_some(den.min(MAX_DEN)), keep)?;
            augmentations += a;
            loaded_now += l;
            rounds += 1;
            self.passes = rounds;
            if !sampled {
                break;
            }
            let left = self.open_excess();
            if left == 0 || left > open / 2 {
                break;
            }
            open = left;
        }
        let prob = self.data.view(self.live);
        let mut ssp = Ssp::new(&prob, self.p.clone(), &mut self.masks, &self.loads);
        ssp.add_candidates(&self.active);
        ssp.set_phantom(phantom_of_unloaded(&self.buckets, &self.loaded, nn).0);
        loop {
            let done = ssp.route_external().map_err(|e| core_error(e, f))?;
            if done {
                break;
            }
            let (_, owner) = phantom_of_unloaded(&self.buckets, &self.loaded, nn);
            let hits: Vec<usize> = ssp
                .phantom_hits()
                .iter()
                .filter_map(|&pair| owner[pair])
                .collect();
            let mut book = book!(self);
            let newly = book.take(&hits, ACTIVE, &mut loaded_now);
            book.detach_all(&newly, &prob, |u| ssp.mask(u));
            ssp.add_candidates(&newly);
            ssp.set_phantom(phantom_of_unloaded(&self.buckets, &self.loaded, nn).0);
        }
        augmentations += ssp.stats.augmentations;
        let loads = ssp.range_flow().to_vec();
        let pz = ssp.p[f];
        let p: Vec<f64> = ssp.p.iter().map(|&x| x - pz).collect();
        drop(ssp);
        self.p = p;
        self.loads = loads;
        Ok((augmentations, loaded_now))
    }

    /// The units of excess the search must route (loads against ranges at the prices).
    fn open_excess(&self) -> i64 {
        let prob = self.data.view(self.live);
        let (_, excess) = range_state(&prob, &self.p, &self.loads);
        excess.iter().filter(|&&e| e > 0).sum()
    }

    /// The prices of the excess divided by `den`, routed on the active customers `u` with
    /// `sample(u, den)` (and the same share of every bucket a path needs; all of that bucket's
    /// members become active, the unsampled ones `LOADING`). Returns (prices, augmentations).
    fn sample_prices(&mut self, den: i64, loaded_now: &mut usize) -> (Vec<f64>, u64) {
        let f = self.data.f;
        let nn = f + 1;
        let prob = self.data.view(self.live);
        let (min, max, virtual_loads) = scaled_ranges(&prob, &self.p, &self.loads, den);
        let mut sprob = self.data.view(self.live);
        sprob.min = min;
        sprob.max = max;
        let pick = |u: u32| sample(u, den);
        let first: Vec<u32> = self.active.iter().copied().filter(|&u| pick(u)).collect();
        let mut ssp = Ssp::new(&sprob, self.p.clone(), &mut self.masks, &virtual_loads);
        ssp.add_candidates(&first);
        ssp.set_phantom(phantom_of_unloaded(&self.buckets, &self.loaded, nn).0);
        // Members of the buckets loaded here are `LOADING` until the presearch's pass moves
        // them out of the settled sums (one read of each row, in id order).
        let mut book = book!(self);
        // A sample may lack the customers a path needs (risk levels; an error here): its
        // prices so far are as good a start as any.
        while let Ok(false) = ssp.route_external() {
            let (_, owner) = phantom_of_unloaded(book.buckets, book.loaded, nn);
            let hits: Vec<usize> = ssp
                .phantom_hits()
                .iter()
                .filter_map(|&pair| owner[pair])
                .collect();
            let newly = book.take(&hits, LOADING, loaded_now);
            // The sampled members may move in this search: they leave the settled sums now.
            let picked: Vec<u32> = newly.into_iter().filter(|&u| pick(u)).collect();
            book.detach_all(&picked, &prob, |u| ssp.mask(u));
            for &u in &picked {
                book.state[u as usize] = ACTIVE;
            }
            ssp.add_candidates(&picked);
            ssp.set_phantom(phantom_of_unloaded(book.buckets, book.loaded, nn).0);
        }
        let augmentations = ssp.stats.augmentations;
        let pz = ssp.p[f];
        (ssp.p.iter().map(|&x| x - pz).collect(), augmentations)
    }

    /// The first phase of a search with a large excess: the excess divided by `den`, routed
    /// on the active customers `u` with `sample(u, den)` (and the same share of every bucket
    /// a path needs). Then every bucket whose phantom is negative at the sample's prices is
    /// loaded, every active customer takes its best set at those prices, and they become the
    /// session's prices: the exact search starts from a valid state (every customer holds a
    /// best set) with the excess the sample did not resolve. Finally the active customers far
    /// from any move are settled again ([`ExactSession::resettle`]), so that the exact search
    /// keeps a few candidates per unit of excess left. Returns (augmentations, buckets
    /// loaded). Cost: O(active · K · F) plus the sample's paths.
    fn presearch(&mut self, den: Option<i64>, keep: usize) -> Result<(u64, usize)> {
        let f = self.data.f;
        let nn = f + 1;
        let mut loaded_now = 0usize;
        let (p, augmentations) = match den {
            Some(den) => self.sample_prices(den, &mut loaded_now),
            None => (self.p.clone(), 0),
        };
        let prob = self.data.view(self.live);
        let mut book = book!(self);
        // Every settled bucket whose phantom is negative at the new prices joins the active
        // set (one pass: loading does not move the prices).
        let negative: Vec<usize> = (0..book.buckets.len())
            .filter(|&b| {
                let bucket = &book.buckets[b];
                let (i, j) = (bucket.pair / nn, bucket.pair % nn);
                !book.loaded[b] && bucket.min + p[j] - p[i] < 0.0
            })
            .collect();
        book.take(&negative, LOADING, &mut loaded_now);

        // One pass over the active customers (in id order, one read of each row): each takes
        // its best set at the new prices; those taken from buckets above leave the settled
        // sums; those whose slack is above `tau` are settled again, in new buckets per fund
        // pair binned by reduced cost in doubling steps above `tau`, so that the exact search
        // keeps about `keep` candidates.
        self.active.sort_unstable();
        let tau = slack_quantile(&prob, &self.active, &p, keep);
        let width = if tau > 0.0 { tau } else { f64::MIN_POSITIVE };
        let (pairs, bins) = (nn * nn, MAX_TIERS);
        let (k, at_most) = (prob.k, prob.at_most);
        let chunk = (self.active.len() / (4 * rayon::current_num_threads().max(1))).max(CHUNK);
        // The ids are sorted, so each chunk's customers own a range of the masks and states:
        // the pass writes them in place, in parallel.
        // Those settled again get a new epoch: their memberships in older buckets go stale.
        self.cur_epoch = self.cur_epoch.wrapping_add(1);
        let new_epoch = self.cur_epoch;
        let mut jobs = Vec::new();
        {
            let (mut masks, mut state, mut epoch): (&mut [u64], &mut [u16], &mut [u16]) =
                (&mut self.masks, &mut self.state, &mut self.epoch);
            let mut offset = 0usize;
            for ids in self.active.chunks(chunk) {
                let end = ids.last().map_or(offset, |&u| u as usize + 1);
                let (m, rest_m) = std::mem::take(&mut masks).split_at_mut(end - offset);
                let (st, rest_s) = std::mem::take(&mut state).split_at_mut(end - offset);
                let (ep, rest_e) = std::mem::take(&mut epoch).split_at_mut(end - offset);
                jobs.push((ids, m, st, ep, offset));
                (masks, state, epoch, offset) = (rest_m, rest_s, rest_e, end);
            }
        }
        let parts: Vec<Pass> = jobs
            .into_par_iter()
            .map(|(ids, masks, state, epoch, offset)| {
                let mut out = Pass::new(f, pairs * bins);
                // Gather a batch of rows (and states, masks, eligibility) first: the loads
                // are independent, so their cache misses overlap.
                let mut buf: Vec<T> = Vec::with_capacity(GATHER * f);
                let mut meta = [(0u64, 0u16, 0u64); GATHER];
                for batch in ids.chunks(GATHER) {
                    buf.clear();
                    for (o, &u) in batch.iter().enumerate() {
                        let ui = u as usize;
                        buf.extend_from_slice(prob.row(ui));
                        meta[o] = (prob.eligible(ui), state[ui - offset], masks[ui - offset]);
                    }
                    for (o, &u) in batch.iter().enumerate() {
                        let ui = u as usize;
                        let row = &buf[o * f..(o + 1) * f];
                        let (el, st, old) = meta[o];
                        let at = ui - offset;
                        if st == LOADING {
                            for g in bits(old) {
                                out.detached_value += row[g].to_f64_lossless();
                                out.detached_count[g] += 1;
                            }
                            out.detached += 1;
                        }
                        let m = best_set(row, el, &p, k, at_most, ui);
                        masks[at] = m;
                        let s = if tau == f64::INFINITY {
                            f64::NEG_INFINITY
                        } else {
                            slack(row, el, m, k, at_most, &p)
                        };
                        if s <= tau {
                            state[at] = ACTIVE;
                            out.kept.push(u);
                            for g in bits(m) {
                                out.kept_count[g] += 1;
                            }
                            continue;
                        }
                        state[at] = SETTLED;
                        epoch[at] = new_epoch;
                        for g in bits(m) {
                            out.settled_value += row[g].to_f64_lossless();
                            out.settled_count[g] += 1;
                        }
                        out.settled += 1;
                        for_each_arc(row, el, m, k, at_most, |a, b, key| {
                            let i =
                                (a * nn + b) * bins + log2_bin((key + p[b] - p[a]) / width, bins);
                            out.members[i].push(u);
                            out.mins[i] = out.mins[i].min(key);
                        });
                    }
                }
                out
            })
            .collect();
        drop(prob);
        let mut loads = vec![0i64; f];
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); pairs * bins];
        let mut mins = vec![f64::INFINITY; pairs * bins];
        let mut kept = Vec::new();
        for part in parts {
            self.settled_value
                .add(part.settled_value - part.detached_value);
            for (g, c) in self.settled_count.iter_mut().enumerate() {
                *c += part.settled_count[g] - part.detached_count[g];
                loads[g] += part.kept_count[g];
            }
            self.settled = self.settled + part.settled - part.detached;
            kept.extend_from_slice(&part.kept);
            for (i, list) in part.members.into_iter().enumerate() {
                if members[i].is_empty() {
                    members[i] = list;
                } else {
                    members[i].extend_from_slice(&list);
                }
                mins[i] = mins[i].min(part.mins[i]);
            }
        }
        for (i, (members, min)) in members.into_iter().zip(mins).enumerate() {
            if !members.is_empty() {
                self.buckets
                    .push(Bucket::new(i / bins, min, members, self.cur_epoch));
                self.loaded.push(false);
            }
        }
        self.active = kept;
        for (l, c) in loads.iter_mut().zip(&self.settled_count) {
            *l += c;
        }
        self.loads = loads;
        self.p = p;
        Ok((augmentations, loaded_now))
    }

    /// Drops the loaded buckets (their members are active, or settled in later buckets) once
    /// they are half of all, and merges each pair's buckets down to `2 · MAX_TIERS` when
    /// re-settling has made more than `bucket_factor · pairs · MAX_TIERS`: the phantom scans
    /// stay bounded. A merge moves the smaller member list (and coarsens the phantoms, so it
    /// is rare).
    fn compact_buckets(&mut self) {
        let nn = self.data.f + 1;
        let limit = self.bucket_factor * nn * nn * MAX_TIERS;
        let loaded = self.loaded.iter().filter(|&&l| l).count();
        // Loaded buckets are dropped once they are half (their memory is dead weight).
        if loaded > 0 && (2 * loaded >= self.buckets.len() || self.buckets.len() > limit) {
            let buckets = std::mem::take(&mut self.buckets);
            self.buckets = buckets
                .into_iter()
                .zip(&self.loaded)
                .filter(|&(_, &l)| !l)
                .map(|(b, _)| b)
                .collect();
            self.loaded = vec![false; self.buckets.len()];
        }
        if self.buckets.len() <= limit {
            return;
        }
        let mut per_pair: Vec<Vec<Bucket>> = vec![Vec::new(); nn * nn];
        for b in std::mem::take(&mut self.buckets) {
            let pair = b.pair;
            per_pair[pair].push(b);
        }
        for list in &mut per_pair {
            list.sort_unstable_by(|a, b| a.min.total_cmp(&b.min));
            while list.len() > 2 * MAX_TIERS {
                // Merge the two adjacent buckets (by smallest key) with the fewest members,
                // the smaller list into the larger.
                let i = (0..list.len() - 1)
                    .min_by_key(|&i| list[i].members.len() + list[i + 1].members.len())
                    .unwrap_or(0);
                let next = list.remove(i + 1);
                list[i].merge(next);
            }
        }
        self.buckets = per_pair.into_iter().flatten().collect();
        self.loaded = vec![false; self.buckets.len()];
    }

    /// The certificate from the active customers (computed) and the settled sums (cached).
    fn certify(&mut self) -> Result<()> {
        let f = self.data.f;
        let nn = f + 1;
        let prob = self.data.view(self.live);
        let p = &self.p;
        let q = &p[..f];
        let masks = &self.masks;
        let (val, phi) = self
            .active
            .par_iter()
            .with_min_len(1024)
            .map(|&u| {
                let u = u as usize;
                let row = prob.row(u);
                let val: f64 = bits(masks[u]).map(|g| row[g].to_f64_lossless()).sum();
                let best = best_set(row, prob.eligible(u), p, prob.k, prob.at_most, u);
                let phi: f64 = bits(best).map(|g| row[g].to_f64_lossless() - q[g]).sum();
                (val, phi)
            })
            .reduce(|| (0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
        // A settled customer holds a best set while every phantom of its bucket has a
        // non-negative reduced cost; a negative one (rounding) can raise φ_u by at most K times
        // it, which is added to the bound.
        let (ph, _) = phantom_of_unloaded(&self.buckets, &self.loaded, nn);
        let mut viol = 0.0f64;
        for i in 0..nn {
            for j in 0..nn {
                let x = ph[i * nn + j];
                if x.is_finite() {
                    viol = viol.max(-(x + p[j] - p[i]));
                }
            }
        }
        let settled_value = self.settled_value.value();
        let settled_q: f64 = (0..f).map(|g| self.settled_count[g] as f64 * q[g]).sum();
        let primal = settled_value + val;
        let dual = settled_value - settled_q
            + phi
            + fund_terms(&prob, q)
            + prob.k as f64 * viol * self.settled as f64;
        drop(prob);
        self.certificate = Certificate {
            fund_prices: q.to_vec(),
            k: self.data.rule.k(),
            at_most: matches!(self.data.rule, PerCustomer::AtMost(_)),
            objective: primal,
            dual,
        };
        let gap = dual - primal;
        let tolerance = GAP_TOLERANCE * primal.abs().max(1.0);
        if gap.abs() > tolerance {
            return Err(AllocError::GapNotClosed {
                objective: primal,
                bound: dual,
                gap,
                tolerance,
            });
        }
        Ok(())
    }

    /// Splits the live customers by slack at the current prices: the smallest go to the
    /// active set, the others are settled; each settled customer's moves go into per-pair
    /// buckets by key (bins of doubling size, smallest keys first), each with the smallest key
    /// it holds. Recomputes the settled sums exactly. O(U·K·F), parallel.
    fn rebase(&mut self) {
        self.cur_epoch = self.cur_epoch.wrapping_add(1);
        let epoch = self.cur_epoch;
        self.epoch.par_iter_mut().for_each(|e| *e = epoch);
        let f = self.data.f;
        let nn = f + 1;
        let pairs = nn * nn;
        let prob = self.data.view(self.live);
        let n = prob.n;
        let p = &self.p;
        let masks = &self.masks;
        let state = &self.state;
        // The active share's slack threshold and the per-pair key bins, from a sample.
        let live: Vec<usize> = {
            let step = (n / (1 << 16)).max(1);
            (0..n)
                .step_by(step)
                .filter(|&u| state[u] != REMOVED)
                .collect()
        };
        let mut sample: Vec<f64> = live
            .iter()
            .map(|&u| slack_arg(&prob, masks[u], u, p).0)
            .collect();
        let first =
            (self.min_active as f64 / self.live.max(1) as f64).max(1.0 / ACTIVE_SHARE as f64);
        let tau = if first >= 1.0 || sample.is_empty() {
            f64::INFINITY
        } else {
            let mut sorted = sample.clone();
            sorted.sort_unstable_by(f64::total_cmp);
            sorted[((first * sorted.len() as f64) as usize).min(sorted.len() - 1)]
        };
        let mut keys: Vec<Vec<f64>> = vec![Vec::new(); pairs];
        for (&u, &s) in live.iter().zip(&sample) {
            if s > tau {
                for_each_arc(
                    prob.row(u),
                    prob.eligible(u),
                    masks[u],
                    prob.k,
                    prob.at_most,
                    |a, b, key| keys[a * nn + b].push(key),
                );
            }
        }
        sample.clear();
        let thresholds: Vec<Vec<f64>> = keys
            .into_iter()
            .map(|mut k| {
                k.sort_unstable_by(f64::total_cmp);
                let mut t = Vec::new();
                let mut share = 1.0 / ACTIVE_SHARE as f64;
                while share < 0.5 && t.len() < MAX_TIERS - 1 && !k.is_empty() {
                    t.push(k[((share * k.len() as f64) as usize).min(k.len() - 1)]);
                    share *= 2.0;
                }
                t
            })
            .collect();
        let bins = MAX_TIERS;
        let new_state: Vec<u16> = (0..n)
            .into_par_iter()
            .with_min_len(CHUNK)
            .map(|u| {
                if state[u] == REMOVED {
                    REMOVED
                } else if slack_arg(&prob, masks[u], u, p).0 <= tau {
                    ACTIVE
                } else {
                    SETTLED
                }
            })
            .collect();
        // Bucket members and smallest keys, in large chunks (one bucket table per chunk).
        let thr = &thresholds;
        let ns = &new_state;
        let chunk = (n / (4 * rayon::current_num_threads().max(1))).max(CHUNK);
        let tables: Vec<ChunkTable> = (0..n.div_ceil(chunk))
            .into_par_iter()
            .map(|c| {
                let mut members: Vec<Vec<u32>> = vec![Vec::new(); pairs * bins];
                let mut mins = vec![f64::INFINITY; pairs * bins];
                let (mut v, mut cnt, mut k) = (0.0f64, vec![0i64; f], 0u64);
                for u in c * chunk..((c + 1) * chunk).min(n) {
                    if ns[u] != SETTLED {
                        continue;
                    }
                    let row = prob.row(u);
                    for g in bits(masks[u]) {
                        v += row[g].to_f64_lossless();
                        cnt[g] += 1;
                    }
                    k += 1;
                    for_each_arc(
                        row,
                        prob.eligible(u),
                        masks[u],
                        prob.k,
                        prob.at_most,
                        |a, b, key| {
                            let pair = a * nn + b;
                            let bin = thr[pair].partition_point(|&t| t < key);
                            let i = pair * bins + bin;
                            members[i].push(u as u32);
                            mins[i] = mins[i].min(key);
                        },
                    );
                }
                (members, mins, v, cnt, k)
            })
            .collect();
        drop(prob);
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); pairs * bins];
        let mut mins = vec![f64::INFINITY; pairs * bins];
        let (mut value, mut count, mut settled) = (0.0f64, vec![0i64; f], 0u64);
        for (m, mn, v, c, k) in tables {
            for (i, list) in m.into_iter().enumerate() {
                if members[i].is_empty() {
                    members[i] = list;
                } else {
                    members[i].extend_from_slice(&list);
                }
                mins[i] = mins[i].min(mn[i]);
            }
            value += v;
            count.iter_mut().zip(c).for_each(|(x, y)| *x += y);
            settled += k;
        }
        let buckets: Vec<Bucket> = members
            .into_iter()
            .zip(mins)
            .enumerate()
            .filter(|(_, (m, _))| !m.is_empty())
            .map(|(i, (members, min))| Bucket::new(i / bins, min, members, epoch))
            .collect();
        let active = new_state
            .iter()
            .enumerate()
            .filter(|&(_, &s)| s == ACTIVE)
            .map(|(u, _)| u as u32)
            .collect();
        self.state = new_state;
        self.loaded = vec![false; buckets.len()];
        self.buckets = buckets;
        self.active = active;
        self.settled_value = Sum::default();
        self.settled_value.add(value);
        self.settled_count = count;
        self.settled = settled;
    }

    /// Solves the whole current problem warm from the current prices and masks (the live
    /// customers compacted when slots are free), then rebases.
    fn full_solve(&mut self, warm: bool) -> Result<()> {
        let f = self.data.f;
        let ids: Option<Vec<usize>> = (!self.free.is_empty()).then(|| self.live_ids());
        let compact_rev: Vec<T>;
        let compact_tol: Vec<RiskLevel>;
        let (rev, tol): (&[T], &[RiskLevel]) = match &ids {
            None => (&self.data.revenue, &self.data.tolerance),
            Some(ids) => {
                compact_rev = ids
                    .iter()
                    .flat_map(|&u| self.data.revenue[u * f..(u + 1) * f].iter().copied())
                    .collect();
                compact_tol = ids.iter().map(|&u| self.data.tolerance[u]).collect();
                (&compact_rev, &compact_tol)
            }
        };
        // Closed funds are excluded by their zero range (an eligible fund nobody may get is
        // the same constraint).
        let (min, max): (Vec<u64>, Vec<u64>) =
            self.data.exposure.iter().map(|r| (r.min, r.max)).unzip();
        let (k, at_most) = match self.data.rule {
            PerCustomer::Exactly(k) => (k, false),
            PerCustomer::AtMost(k) => (k, true),
        };
        let input = CoreInput {
            revenue: rev,
            n_funds: f,
            tolerance: tol,
            fund_level: &self.data.fund_risk,
            k,
            at_most,
            min: &min,
            max: &max,
        };
        let out = if warm {
            let prev: Vec<u64> = match &ids {
                None => self.masks.clone(),
                Some(ids) => ids.iter().map(|&u| self.masks[u]).collect(),
            };
            solve_core_warm(&input, &self.p[..f], Some(&prev))
        } else {
            solve_core(&input)
        }
        .map_err(|e| core_error(e, f))?;
        let n = self.slots();
        let mut masks = vec![0u64; n];
        match &ids {
            None => masks.copy_from_slice(&out.masks),
            Some(ids) => {
                for (&u, &m) in ids.iter().zip(&out.masks) {
                    masks[u] = m;
                }
            }
        }
        self.masks = masks;
        if self.state.len() != n {
            self.state = vec![ACTIVE; n];
        }
        if self.epoch.len() != n {
            self.epoch = vec![0; n];
        }
        let mut p = out.prices;
        p.push(0.0);
        for (g, x) in p.iter_mut().enumerate().take(f) {
            if self.data.open >> g & 1 == 0 {
                *x = CLOSED_PRICE;
            }
        }
        self.p = p;
        self.loads = super::ssp::loads_of(&self.masks, f);
        self.settled_count = vec![0; f];
        self.dirty.clear();
        self.full_pending = false;
        self.rebase();
        self.certify()
    }

    /// Lowers the thresholds of the presearch rounds (tests: rounds on small problems).
    #[cfg(test)]
    pub(crate) fn set_presearch(&mut self, excess: i64, min_den: i64, bucket_factor: usize) {
        self.presearch_excess = excess;
        self.min_den = min_den.max(2);
        self.bucket_factor = bucket_factor;
    }

    /// Lowers the active share of a rebase and rebases (tests: settled customers on small
    /// problems).
    #[cfg(test)]
    pub(crate) fn set_min_active(&mut self, n: usize) {
        self.min_active = n;
        self.rebase();
    }

    fn first_live(&self, short: &dyn Fn(RiskLevel) -> bool) -> Option<(usize, RiskLevel)> {
        (0..self.slots())
            .find(|&u| self.state[u] != REMOVED && short(self.data.tolerance[u]))
            .map(|u| (u, self.data.tolerance[u]))
    }
}

/// The state a batch of changes leaves, as far as the checks need it.
struct Plan {
    f: usize,
    open: u64,
    exposure: Vec<ExposureRange>,
    fund_risk: Vec<RiskLevel>,
    hist: Vec<u64>,
    live: usize,
    slots: usize,
    /// Customers removed and added by earlier changes of the batch.
    removed: HashSet<usize>,
    added: HashSet<usize>,
    /// Slots freed by earlier changes (reused first, last freed first), and how many of the
    /// session's free slots earlier additions took.
    freed: Vec<usize>,
    free_used: usize,
}

impl Plan {
    fn is_live<T: Real>(&self, s: &ExactSession<T>, u: usize) -> bool {
        !self.removed.contains(&u) && (self.added.contains(&u) || s.is_live(u))
    }

    fn check<T: Real>(&mut self, s: &ExactSession<T>, change: &Change<T>) -> Result<()> {
        match change {
            Change::Rows { customers, rows } => {
                self.check_customers(s, customers)?;
                self.check_rows("changed revenue rows", customers.len(), rows)
            }
            Change::Quota { fund, range } => {
                self.check_fund(*fund)?;
                check_range(*range, *fund)?;
                self.exposure[*fund] = *range;
                Ok(())
            }
            Change::CloseFund { fund } => {
                self.check_fund(*fund)?;
                self.exposure[*fund] = ExposureRange::exact(0);
                self.open &= !(1u64 << fund);
                Ok(())
            }
            Change::AddCustomers { rows, tolerance } => {
                let n = tolerance.len();
                self.check_rows("added revenue rows", n, rows)?;
                for t in tolerance {
                    let u = if let Some(u) = self.freed.pop() {
                        u
                    } else if self.free_used < s.free.len() {
                        self.free_used += 1;
                        s.free[s.free.len() - self.free_used] as usize
                    } else {
                        self.slots += 1;
                        self.slots - 1
                    };
                    if self.slots > u32::MAX as usize - 1 {
                        return Err(TooLarge::new(
                            "session customers",
                            self.slots as u64,
                            u32::MAX - 1,
                        )
                        .into());
                    }
                    self.removed.remove(&u);
                    self.added.insert(u);
                    self.hist[usize::from(t.get())] += 1;
                    self.live += 1;
                }
                Ok(())
            }
            Change::RemoveCustomers { customers } => {
                self.check_customers(s, customers)?;
                for &u in customers {
                    // The tolerance of a customer added in this batch is not stored yet;
                    // removing it in the same batch is refused by `check_customers`.
                    self.hist[usize::from(s.data.tolerance[u].get())] -= 1;
                    self.live -= 1;
                    self.removed.insert(u);
                    self.freed.push(u);
                }
                Ok(())
            }
            Change::AddFund {
                column,
                risk,
                range,
            } => {
                if self.f + 1 > MAX_FUNDS {
                    return Err(core_error(
                        super::core::CoreFailure::TooManyFunds(self.f + 1),
                        self.f + 1,
                    ));
                }
                ShapeMismatch::check_len(
                    "new fund's revenue (one per slot)",
                    self.slots,
                    column.len(),
                )?;
                check_values("new fund's revenue", column, 1)?;
                check_range(*range, self.f)?;
                self.exposure.push(*range);
                self.fund_risk.push(*risk);
                self.open |= 1u64 << self.f;
                self.f += 1;
                Ok(())
            }
        }
    }

    fn check_fund(&self, fund: usize) -> Result<()> {
        if fund < self.f && self.open >> fund & 1 == 1 {
            Ok(())
        } else {
            Err(AllocError::UnknownFund {
                fund,
                funds: self.f,
            })
        }
    }

    /// Every id live (and not added earlier in the batch) and named once.
    fn check_customers<T: Real>(&self, s: &ExactSession<T>, customers: &[usize]) -> Result<()> {
        if let Some(&customer) = customers
            .iter()
            .find(|&&u| !self.is_live(s, u) || self.added.contains(&u))
        {
            return Err(AllocError::UnknownCustomer {
                customer,
                slots: self.slots,
            });
        }
        let mut sorted = customers.to_vec();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(InvalidParameter::new(
                "customers of a change",
                w[0],
                "each customer may be named only once",
            )
            .into());
        }
        Ok(())
    }

    fn check_rows<T: Real>(&self, what: &'static str, n: usize, rows: &[T]) -> Result<()> {
        let expected = n
            .checked_mul(self.f)
            .ok_or_else(|| TooLarge::new(what, n as u128 * self.f as u128, usize::MAX as u128))?;
        ShapeMismatch::check_len(what, expected, rows.len())?;
        check_values(what, rows, self.f)
    }
}

fn check_range(range: ExposureRange, fund: usize) -> Result<()> {
    if range.min > range.max {
        return Err(InvalidParameter::new(
            "exposure range",
            format_args!("fund {fund}: [{}, {}]", range.min, range.max),
            "min must not exceed max",
        )
        .into());
    }
    Ok(())
}

/// The problem held by a session (closed funds keep their column).
#[derive(Debug, Clone)]
struct Data<T: Real> {
    revenue: Vec<T>,
    f: usize,
    tolerance: Vec<RiskLevel>,
    fund_risk: Vec<RiskLevel>,
    exposure: Vec<ExposureRange>,
    /// Mask of the funds that are not closed.
    open: u64,
    rule: PerCustomer,
}

impl<T: Real> Data<T> {
    /// The core's view of the current problem with `live` customers (closed funds
    /// ineligible, ranges capped at `live`).
    fn view(&self, live: usize) -> Problem<'_, T> {
        let (min, max): (Vec<u64>, Vec<u64>) = self.exposure.iter().map(|r| (r.min, r.max)).unzip();
        let (k, at_most) = match self.rule {
            PerCustomer::Exactly(k) => (k, false),
            PerCustomer::AtMost(k) => (k, true),
        };
        let input = CoreInput {
            revenue: &self.revenue,
            n_funds: self.f,
            tolerance: &self.tolerance,
            fund_level: &self.fund_risk,
            k,
            at_most,
            min: &[],
            max: &[],
        };
        let mut prob = Problem::new(&input, 1);
        prob.min = min;
        prob.max = max;
        // A fund cannot have more than the live customers (free slots hold nothing).
        let n64 = live as u64;
        for (lo, hi) in prob.min.iter_mut().zip(prob.max.iter_mut()) {
            *hi = (*hi).min(n64);
            *lo = (*lo).min(n64 + 1);
        }
        for m in prob.elig.iter_mut() {
            *m &= self.open;
        }
        prob
    }
}

/// One chunk's part of [`ExactSession::presearch`]'s pass over the active customers.
struct Pass {
    /// The customers that stay active, and their funds per fund.
    kept: Vec<u32>,
    kept_count: Vec<i64>,
    /// The settled sums of the customers taken from buckets (to subtract).
    detached_value: f64,
    detached_count: Vec<i64>,
    detached: u64,
    /// The settled sums of the customers settled again (to add).
    settled_value: f64,
    settled_count: Vec<i64>,
    settled: u64,
    /// Their bucket members and smallest keys per (pair, bin).
    members: Vec<Vec<u32>>,
    mins: Vec<f64>,
}

impl Pass {
    fn new(f: usize, buckets: usize) -> Self {
        Self {
            kept: Vec::new(),
            kept_count: vec![0; f],
            detached_value: 0.0,
            detached_count: vec![0; f],
            detached: 0,
            settled_value: 0.0,
            settled_count: vec![0; f],
            settled: 0,
            members: vec![Vec::new(); buckets],
            mins: vec![f64::INFINITY; buckets],
        }
    }
}

/// The slack at `p` (of each customer's best set there) below which about `keep` of
/// `active` lie, from an even sample of at most 16,384 of them (∞ when `keep` covers them all).
fn slack_quantile<T: Real>(prob: &Problem<'_, T>, active: &[u32], p: &[f64], keep: usize) -> f64 {
    if keep >= active.len() {
        return f64::INFINITY;
    }
    let step = (active.len() / QUANTILE_SAMPLE).max(1);
    let mut s: Vec<f64> = active
        .iter()
        .step_by(step)
        .map(|&u| {
            let u = u as usize;
            let (row, el) = (prob.row(u), prob.eligible(u));
            let m = best_set(row, el, p, prob.k, prob.at_most, u);
            slack(row, el, m, prob.k, prob.at_most, p)
        })
        .collect();
    let idx = ((keep as f64 / active.len() as f64) * s.len() as f64) as usize;
    let idx = idx.min(s.len() - 1);
    let (_, v, _) = s.select_nth_unstable_by(idx, f64::total_cmp);
    *v
}

/// The sample of [`slack_quantile`] (a guide for the candidate count, not a bound).
const QUANTILE_SAMPLE: usize = 2048;

/// Customers whose rows [`ExactSession::presearch`]'s pass gathers at a time.
const GATHER: usize = 16;

/// `⌊log₂ x⌋` clamped to `0..bins` (from the exponent bits; 0 below 2, NaN included).
#[inline]
fn log2_bin(x: f64, bins: usize) -> usize {
    if x.is_nan() || x < 2.0 {
        return 0;
    }
    let e = ((x.to_bits() >> 52) & 0x7ff) as usize;
    e.saturating_sub(1023).min(bins - 1)
}

/// Whether customer `u` is in the `1 / den` sample of [`ExactSession::presearch`] (a
/// multiplicative hash, so that consecutive ids spread).
fn sample(u: u32, den: i64) -> bool {
    let h = u.wrapping_mul(0x9E37_79B9).rotate_right(16);
    i64::from(h) % den.max(1) == 0
}

/// The session's settled-customer bookkeeping, borrowed apart from the masks and revenue.
macro_rules! book {
    ($s:ident) => {
        Book {
            buckets: &$s.buckets,
            epoch: &$s.epoch,
            loaded: &mut $s.loaded,
            state: &mut $s.state,
            value: &mut $s.settled_value,
            count: &mut $s.settled_count,
            settled: &mut $s.settled,
            active: &mut $s.active,
        }
    };
}
use book;

/// [`book!`]'s borrow of the session's settled-customer bookkeeping.
struct Book<'s> {
    buckets: &'s [Bucket],
    epoch: &'s [u16],
    loaded: &'s mut [bool],
    state: &'s mut [u16],
    value: &'s mut Sum,
    count: &'s mut [i64],
    settled: &'s mut u64,
    active: &'s mut Vec<u32>,
}

impl Book<'_> {
    /// Loads the given buckets (those not loaded yet): their settled members get state
    /// `mark` and join the active list (the settled sums are the caller's:
    /// [`Book::detach_all`]). Returns those members; `loaded_now` counts the buckets.
    fn take(&mut self, buckets: &[usize], mark: u16, loaded_now: &mut usize) -> Vec<u32> {
        let mut newly = Vec::new();
        for &b in buckets {
            if self.loaded[b] {
                continue;
            }
            self.loaded[b] = true;
            *loaded_now += 1;
            for (u, e) in self.buckets[b].tagged() {
                let ui = u as usize;
                if self.state[ui] == SETTLED && self.epoch[ui] == e {
                    self.state[ui] = mark;
                    newly.push(u);
                }
            }
        }
        self.active.extend_from_slice(&newly);
        newly
    }

    /// Takes customers that were settled out of the settled sums (`mask(u)`: their funds).
    fn detach_all<T: Real>(
        &mut self,
        newly: &[u32],
        prob: &Problem<'_, T>,
        mask: impl Fn(usize) -> u64,
    ) {
        for &u in newly {
            let ui = u as usize;
            let row = prob.row(ui);
            let m = mask(ui);
            let v: f64 = bits(m).map(|g| row[g].to_f64_lossless()).sum();
            self.value.add(-v);
            for g in bits(m) {
                self.count[g] -= 1;
            }
            *self.settled -= 1;
        }
    }
}

/// Per pair, the smallest key bound over the buckets not loaded, and which bucket has it.
fn phantom_of_unloaded(
    buckets: &[Bucket],
    loaded: &[bool],
    nn: usize,
) -> (Vec<f64>, Vec<Option<usize>>) {
    let mut ph = vec![f64::INFINITY; nn * nn];
    let mut owner = vec![None; nn * nn];
    for (b, bucket) in buckets.iter().enumerate() {
        if !loaded[b] && bucket.min < ph[bucket.pair] {
            ph[bucket.pair] = bucket.min;
            owner[bucket.pair] = Some(b);
        }
    }
    (ph, owner)
}

/// Every value finite and non-negative (`width` values per row, for the error's position).
fn check_values<T: Real>(what: &'static str, values: &[T], width: usize) -> Result<()> {
    let zero = T::zero();
    if let Some(i) = values.iter().position(|v| !v.is_finite() || *v < zero) {
        let v = values[i].to_f64_lossless();
        let (row, col) = (i / width.max(1), i % width.max(1));
        if !v.is_finite() {
            return Err(NonFinite::at_cell(what, row, col, v).into());
        }
        return Err(AllocError::Core(CoreError::Negative {
            what,
            at: Position::Cell { row, col },
            value: v,
        }));
    }
    Ok(())
}

/// `Σ_f h_f(q_f)` with the ranges the search used (capped at the live customer count).
fn fund_terms<T: Real>(prob: &Problem<'_, T>, q: &[f64]) -> f64 {
    q.iter()
        .enumerate()
        .map(|(g, &x)| {
            let bound = if x >= 0.0 { prob.max[g] } else { prob.min[g] };
            x * bound as f64
        })
        .sum()
}

/// The customer's slack at `p` and the pair `i·(F+1) + j` of its cheapest move
/// (`usize::MAX` when it has none).
fn slack_arg<T: Real>(prob: &Problem<'_, T>, mask: u64, u: usize, p: &[f64]) -> (f64, usize) {
    let nn = prob.f + 1;
    let mut best = (f64::INFINITY, usize::MAX);
    for_each_arc(
        prob.row(u),
        prob.eligible(u),
        mask,
        prob.k,
        prob.at_most,
        |i, j, key| {
            let r = key + p[j] - p[i];
            if r < best.0 {
                best = (r, i * nn + j);
            }
        },
    );
    best
}

/// The problem's revenue as a row-major vector (moved out, no copy).
fn revenue_vec<T: Real>(problem: AllocationProblem<T>) -> Vec<T> {
    let (revenue, _, _, _, _) = problem.into_parts();
    let array = revenue.into_inner();
    let (v, offset) = array.into_raw_vec_and_offset();
    match offset {
        Some(0) | None => v,
        Some(o) => v[o..].to_vec(),
    }
}
