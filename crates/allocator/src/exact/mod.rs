//! The exact solver: a proven optimum of the allocation problem, with a dual certificate.
//!
//! The problem is a transportation problem (customers supply K units, funds demand between
//! `min_f` and `max_f`), so its LP relaxation is integral and LP duality certifies optimality.
//! The solver works on the *fund* side, where there are few nodes (F + 1):
//!
//! 1. **Warm start.** Thinned copies of the customers (every 8th, 64th, … customer, fund
//!    ranges scaled) are solved exactly, coarsest first; each level's fund prices start the
//!    next one.
//! 2. **Exact phase.** At the final prices every customer takes its best K funds by reduced
//!    revenue `E_uf − q_f`; funds are then over or under their ranges by a small excess, which
//!    successive shortest paths on the compressed fund graph remove. A fund pair's cheapest
//!    customer comes from a heap keyed by a price-independent key (`E_uf − E_ug`), so prices
//!    can move without re-keying; only customers with small slack are in heaps, the others are
//!    bounded exactly per pair and pulled in when a path would need them.
//! 3. **Certificate.** The final fund prices `q` give the dual bound
//!    `g(q) = Σ_u φ_u(q) + Σ_f h_f(q_f)`, computed independently of the search; the solver
//!    returns an allocation only when `g(q)` equals its revenue up to a relative `1e-9`.
//!
//! See `docs/exact-solver.md` for the derivation and the complexity.

mod core;
mod session;
mod solve;
mod ssp;

#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod solver_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod warm_tests;

use std::time::Instant;

use fundalloc_core_types::{Allocation, NonFinite, Real, ShapeMismatch};
use rayon::prelude::*;

use crate::error::{AllocError, Result, StuckAt, UnsupportedFeature};
use crate::kind::SolverKind;
use crate::problem::{AllocationProblem, PerCustomer};
use crate::solver::{ProvesOptimality, Solution, Solver, finish};

use self::core::{CoreFailure, CoreInput, bits};
use self::solve::{CoreOutcome, solve_core, solve_core_warm};
use crate::online::FundPrices;

pub use self::session::{Applied, Audit, Change, ExactSession, Resolved};

/// Relative duality-gap tolerance: `|g(q) − objective| ≤ GAP_TOLERANCE · max(1, |objective|)`.
///
/// Revenues are widened to `f64` and every sum is accumulated in `f64`, so the certificate
/// closes to rounding error (about `1e-15` relative); `1e-9` leaves room for 10⁷-term sums.
pub const GAP_TOLERANCE: f64 = 1e-9;

/// The exact solver (successive shortest paths on the fund graph with a multilevel warm start;
/// see `docs/exact-solver.md`).
///
/// Handles every problem variant: "exactly K" and "at most K" per customer, any K ≤ F, exact
/// exposures or ranges `[min_f, max_f]`, risk eligibility. Up to 64 funds.
///
/// ```
/// use fundalloc_allocator::prelude::*;
/// use fundalloc_allocator::Exact;
///
/// let e = RevenueMatrix::from_shape_vec(3, 2, vec![5.0, 1.0, 4.0, 3.0, 1.0, 0.5])?;
/// let problem = AllocationProblem::builder(e).exactly(1).exposures(vec![1, 2]).build()?;
/// let (solution, certificate) = Exact::new().solve_certified(&problem)?;
/// assert_eq!(solution.allocation.funds_of(0), &[0]); // 5 + 3 + 0.5 beats 4 + 1 + 1
/// assert!((solution.report.objective - 8.5).abs() < 1e-12);
/// assert!(certificate.gap().abs() < 1e-9);
/// # Ok::<(), AllocError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Exact {
    _private: (),
}

impl Exact {
    /// The solver (it has no parameters: it is exact).
    pub fn new() -> Self {
        Self::default()
    }

    /// Solves and returns the optimum together with its [`Certificate`].
    pub fn solve_certified<T: Real>(
        &self,
        problem: &AllocationProblem<T>,
    ) -> Result<(Solution, Certificate)> {
        self.run(problem, |input| solve_core(input))
    }

    /// Re-optimises after a change, from the previous optimum's fund prices (and, optionally,
    /// its allocation) instead of from zero; returns the same proven optimum as
    /// [`Exact::solve_certified`] (any optimum: with ties the allocation may differ, the
    /// objective does not).
    ///
    /// The change can be anything that keeps the fund count of `prices` equal to `problem`'s:
    /// a quota `d_f` changed, customers' rows updated, customers added or removed (the caller
    /// maps the previous allocation onto the new customers; a customer with no previous funds
    /// is simply re-assigned). For a fund added, push its price (0 is fine); for a fund
    /// closed, drop its price (and re-index `previous`). `prices` from an unrelated problem
    /// are allowed too: any prices give a correct (if slower) start.
    ///
    /// How: the sample levels of the cold solve are skipped; each customer keeps its previous
    /// funds when they are eligible, the right count and still a best set at `prices`, and
    /// takes its best set otherwise; successive shortest paths then route only the excess the
    /// change created, and the duality gap is checked as in the cold solve. Cost: a few
    /// `O(U·F)` passes (masks, candidate selection, objective, dual bound) plus the paths, vs
    /// the cold solve's sample levels, more candidate rebuilds and more paths.
    ///
    /// # Errors
    /// [`AllocError::ShapeMismatch`] when `prices` has not one value per fund or `previous`
    /// another shape than the problem, [`AllocError::NonFinite`] for a NaN or infinite price,
    /// and the errors of [`Exact::solve_certified`].
    pub fn solve_warm<T: Real>(
        &self,
        problem: &AllocationProblem<T>,
        prices: &[f64],
        previous: Option<&Allocation>,
    ) -> Result<(Solution, Certificate)> {
        let f = problem.n_funds();
        if prices.len() != f {
            return Err(ShapeMismatch::new(
                "warm-start fund prices (one per fund)",
                f,
                prices.len(),
            )
            .into());
        }
        if let Some((i, &v)) = prices.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(NonFinite::at_index("warm-start fund prices", i, v).into());
        }
        let masks = match previous {
            Some(a) if f <= self::core::MAX_FUNDS => {
                if a.n_customers() != problem.n_customers() {
                    return Err(ShapeMismatch::new(
                        "previous allocation customers",
                        problem.n_customers(),
                        a.n_customers(),
                    )
                    .into());
                }
                if a.n_funds() != f {
                    return Err(
                        ShapeMismatch::new("previous allocation funds", f, a.n_funds()).into(),
                    );
                }
                Some(
                    a.iter()
                        .map(|(_, fs)| fs.iter().fold(0u64, |m, &g| m | 1u64 << (g as usize % 64)))
                        .collect::<Vec<u64>>(),
                )
            }
            _ => None,
        };
        self.run(problem, |input| {
            solve_core_warm(input, prices, masks.as_deref())
        })
    }

    fn run<T: Real>(
        &self,
        problem: &AllocationProblem<T>,
        core: impl FnOnce(&CoreInput<'_, T>) -> std::result::Result<CoreOutcome, CoreFailure>,
    ) -> Result<(Solution, Certificate)> {
        let start = Instant::now();
        let f = problem.n_funds();
        let (min, max): (Vec<u64>, Vec<u64>) =
            problem.exposure().iter().map(|r| (r.min, r.max)).unzip();
        let (k, at_most) = match problem.rule() {
            PerCustomer::Exactly(k) => (k, false),
            PerCustomer::AtMost(k) => (k, true),
        };
        let input = CoreInput {
            revenue: problem.revenue().as_slice(),
            n_funds: f,
            tolerance: problem.tolerance(),
            fund_level: problem.fund_risk(),
            k,
            at_most,
            min: &min,
            max: &max,
        };
        let out = core(&input).map_err(|e| core_error(e, f))?;
        let gap = out.dual - out.primal;
        let tolerance = GAP_TOLERANCE * out.primal.abs().max(1.0);
        if gap.abs() > tolerance {
            return Err(AllocError::GapNotClosed {
                objective: out.primal,
                bound: out.dual,
                gap,
                tolerance,
            });
        }
        let CoreOutcome {
            masks,
            prices,
            primal,
            dual,
            stats,
        } = out;
        let allocation = to_allocation(&masks, f, k, at_most)?;
        drop(masks);
        let mut solution = finish(SolverKind::Exact, problem, allocation, start)?;
        let mut report = solution.report.with_bound(dual);
        report.iterations = Some(stats.augmentations);
        report.notes.push(format!(
            "proven optimum: dual bound {dual} − objective {primal} = {gap:e} \
             (tolerance {GAP_TOLERANCE:e} relative)"
        ));
        report.notes.push(format!(
            "levels {}, initial excess {}, augmentations {}, candidate rebuilds {}, \
             most candidates {}",
            stats.levels,
            stats.initial_excess,
            stats.augmentations,
            stats.rebuilds,
            stats.max_candidates
        ));
        solution.report = report;
        let certificate = Certificate {
            fund_prices: prices,
            k,
            at_most,
            objective: primal,
            dual,
        };
        Ok((solution, certificate))
    }
}

impl<T: Real> Solver<T> for Exact {
    fn kind(&self) -> SolverKind {
        SolverKind::Exact
    }

    fn solve(&self, problem: &AllocationProblem<T>) -> Result<Solution> {
        self.solve_certified(problem).map(|(solution, _)| solution)
    }
}

impl<T: Real> ProvesOptimality<T> for Exact {}

/// A dual certificate of optimality: fund prices `q_f` such that the LP dual bound
///
/// `g(q) = Σ_u φ_u(q) + Σ_f h_f(q_f)`, with `φ_u(q)` = the sum of customer u's K largest
/// reduced revenues `E_uf − q_f` over its eligible funds (for "at most K": of the positive ones)
/// and `h_f(q) = max_f·q` if `q ≥ 0`, `min_f·q` if `q < 0`,
///
/// equals the allocation's revenue. Every feasible allocation earns at most `g(q)` (weak
/// duality), so equality proves optimality. In LP terms: customer potential `a_u` =
/// [`Certificate::customer_potential`], pair slacks `s_uf = max(0, E_uf − q_f − a_u)`, fund
/// duals `β_f = max(q_f, 0)` (upper bound) and `γ_f = max(−q_f, 0)` (lower bound).
#[derive(Debug, Clone, PartialEq)]
pub struct Certificate {
    fund_prices: Vec<f64>,
    k: usize,
    at_most: bool,
    objective: f64,
    dual: f64,
}

impl Certificate {
    /// The fund prices `q_f` (one per fund). A positive price means the fund is at its
    /// maximum exposure, a negative one at its minimum.
    pub fn fund_prices(&self) -> &[f64] {
        &self.fund_prices
    }

    /// The prices as a [`FundPrices`] value for `problem` (the problem this certificate was
    /// computed for): what [`crate::OnlineAllocator`] and [`Exact::solve_warm`] take, and what
    /// the `serde` feature stores.
    ///
    /// # Errors
    /// [`AllocError::ShapeMismatch`] when `problem` has another number of funds.
    pub fn prices_for<T: Real>(&self, problem: &AllocationProblem<T>) -> Result<FundPrices> {
        FundPrices::for_problem(problem, self.fund_prices.clone())
    }

    /// The allocation's revenue.
    pub fn objective(&self) -> f64 {
        self.objective
    }

    /// The dual bound `g(q)` computed at the end of the solve.
    pub fn dual_bound(&self) -> f64 {
        self.dual
    }

    /// `dual_bound − objective` (zero up to rounding for a proven optimum).
    pub fn gap(&self) -> f64 {
        self.dual - self.objective
    }

    /// Customer `u`'s potential `a_u`: its K-th largest reduced revenue over its eligible
    /// funds (for "at most K": clipped at 0, and 0 when it has fewer than K eligible funds).
    ///
    /// # Panics
    /// If `u` is out of range or the problem has other funds than the certificate.
    pub fn customer_potential<T: Real>(&self, problem: &AllocationProblem<T>, u: usize) -> f64 {
        let row = problem.revenue().row(u);
        let mut r: Vec<f64> = (0..row.len())
            .filter(|&f| problem.is_eligible(u, f))
            .map(|f| row[f].to_f64_lossless() - self.fund_prices[f])
            .collect();
        r.sort_unstable_by(|a, b| b.total_cmp(a));
        let kth = r.get(self.k.max(1) - 1).copied();
        if self.at_most {
            kth.unwrap_or(0.0).max(0.0)
        } else {
            kth.unwrap_or(f64::NEG_INFINITY)
        }
    }

    /// Recomputes the dual bound `g(q)` for `problem` from the prices alone (the explicit LP
    /// dual `Σ_u (K·a_u + Σ_f s_uf) + Σ_f (max_f·β_f − min_f·γ_f)`), in parallel.
    ///
    /// Any prices give an upper bound on every feasible allocation of `problem`, so comparing
    /// this with an allocation's [`crate::verify()`] objective checks the certificate without
    /// trusting the solver.
    pub fn recompute_bound<T: Real>(&self, problem: &AllocationProblem<T>) -> f64 {
        let k = self.k as f64;
        let customers: f64 = (0..problem.n_customers())
            .into_par_iter()
            .with_min_len(1 << 12)
            .map(|u| {
                let a = self.customer_potential(problem, u);
                let row = problem.revenue().row(u);
                let s: f64 = (0..row.len())
                    .filter(|&f| problem.is_eligible(u, f))
                    .map(|f| (row[f].to_f64_lossless() - self.fund_prices[f] - a).max(0.0))
                    .sum();
                k * a + s
            })
            .sum();
        let funds: f64 = problem
            .exposure()
            .iter()
            .zip(&self.fund_prices)
            // A fund cannot exceed U customers: capping the bounds keeps the feasible set.
            .map(|(r, &q)| {
                let cap = problem.n_customers() as u64;
                if q >= 0.0 {
                    q * r.max.min(cap) as f64
                } else {
                    q * r.min.min(cap + 1) as f64
                }
            })
            .sum();
        customers + funds
    }
}

/// Masks → the compact [`Allocation`] (fund indices ascending per customer).
fn to_allocation(masks: &[u64], f: usize, k: usize, at_most: bool) -> Result<Allocation> {
    if !at_most {
        let mut funds = vec![0u32; masks.len() * k];
        if k > 0 {
            funds
                .par_chunks_mut(k)
                .zip(masks.par_iter())
                .for_each(|(out, &m)| {
                    for (o, g) in out.iter_mut().zip(bits(m)) {
                        *o = g as u32;
                    }
                });
        }
        return Ok(Allocation::from_fixed_k(masks.len(), k, f, funds)?);
    }
    let mut offsets = Vec::with_capacity(masks.len() + 1);
    let mut total = 0usize;
    offsets.push(0);
    for &m in masks {
        total += m.count_ones() as usize;
        offsets.push(total);
    }
    let mut funds = Vec::with_capacity(total);
    for &m in masks {
        funds.extend(bits(m).map(|g| g as u32));
    }
    Ok(Allocation::from_compressed(f, offsets, funds)?)
}

fn core_error(e: CoreFailure, f: usize) -> AllocError {
    match e {
        CoreFailure::TooManyFunds(n) => AllocError::Unsupported {
            solver: SolverKind::Exact,
            feature: UnsupportedFeature::TooManyFunds {
                funds: n,
                limit: self::core::MAX_FUNDS,
            },
        },
        CoreFailure::TooManyCustomers(n) => AllocError::Unsupported {
            solver: SolverKind::Exact,
            feature: UnsupportedFeature::TooManyCustomers {
                customers: n,
                limit: u32::MAX as usize,
            },
        },
        CoreFailure::TooFewEligible { customer, eligible } => AllocError::NoAugmentingPath {
            node: StuckAt::Customer { customer, eligible },
            excess: 1,
        },
        CoreFailure::Infeasible { stuck, excess } => AllocError::NoAugmentingPath {
            node: if stuck < f {
                StuckAt::Fund(stuck)
            } else {
                StuckAt::Sink
            },
            excess,
        },
    }
}
