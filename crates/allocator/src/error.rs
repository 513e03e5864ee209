//! The one error type of this crate.
//!
//! Every variant has structured fields and a one-line message that says what is wrong and by
//! how much; the shared leaf errors of `fundalloc-core-types` are embedded with `#[from]`.

use std::fmt;

use fundalloc_core_types::{
    CoreError, InvalidParameter, NonFinite, RiskLevel, ShapeMismatch, TooLarge,
};

use crate::kind::SolverKind;
use crate::problem::PerCustomer;
use crate::verify::Violations;

/// Everything that can go wrong when building or solving an allocation problem.
///
/// Infeasibility is diagnosed *before* any solver runs ([`crate::AllocationProblem`] checks the
/// necessary counting conditions with specific variants and then an exact aggregated flow test,
/// [`AllocError::Infeasible`]), so a solver seeing a validated problem can only fail for its own
/// reasons ([`AllocError::Unsupported`], [`AllocError::Backend`], …).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AllocError {
    /// The revenue matrix or another core value was rejected (NaN, ∞, negative, empty, shape).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// Two inputs that must agree in length do not (e.g. one tolerance per customer).
    #[error(transparent)]
    ShapeMismatch(#[from] ShapeMismatch),
    /// A parameter is outside its domain (K = 0, min_f > max_f, a time limit of −1 s, …).
    #[error(transparent)]
    InvalidParameter(#[from] InvalidParameter),
    /// A number that must be finite is not (a fund price, a revenue of an arriving customer).
    #[error(transparent)]
    NonFinite(#[from] NonFinite),
    /// A size or a sum is larger than this crate can represent (e.g. Σ min_f overflows `u64`).
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    /// The exposure totals cannot match the per-customer rule: with "exactly K" the funds must
    /// absorb exactly K·U exposures, so Σ min_f ≤ K·U ≤ Σ max_f; with "at most K", Σ min_f ≤ K·U.
    #[error(
        "exposure totals do not match the customers: customers take {required} exposures \
         (K = {k} × {customers} customers, {rule}), funds take between {min_total} and {max_total}"
    )]
    ExposureTotal {
        /// K·U.
        required: u64,
        /// K.
        k: usize,
        /// U.
        customers: usize,
        /// The per-customer rule (exactly K or at most K).
        rule: PerCustomer,
        /// Σ min_f.
        min_total: u64,
        /// Σ max_f.
        max_total: u64,
    },
    /// A customer tolerates fewer than K funds (rule "exactly K").
    #[error(
        "customer {customer} (tolerance {tolerance}) may hold only {eligible} funds but must get \
         exactly {k}; {count} customer(s) are in this situation"
    )]
    TooFewEligibleFunds {
        /// Index of the first such customer.
        customer: usize,
        /// Its tolerance.
        tolerance: RiskLevel,
        /// Funds it may hold.
        eligible: usize,
        /// K.
        k: usize,
        /// How many customers are short.
        count: usize,
    },
    /// A fund's minimum exposure exceeds the number of customers allowed to hold it.
    #[error(
        "fund {fund} (risk {risk}) needs at least {required} exposures, \
         only {available} customers tolerate it (short by {})", required - available
    )]
    FundTooFewEligibleCustomers {
        /// Fund index.
        fund: usize,
        /// Its risk level.
        risk: RiskLevel,
        /// min_f.
        required: u64,
        /// Customers with tolerance ≥ its risk.
        available: u64,
    },
    /// Hall condition on the fund side: funds of risk ≥ θ need more exposures than the customers
    /// who tolerate them can take (a customer takes at most min(K, #its eligible funds of risk ≥ θ)).
    #[error(
        "funds of risk ≥ {threshold} need {required} exposures, only {available} can be taken by \
         the customers who tolerate them (short by {})", required - available
    )]
    RiskCapacity {
        /// The threshold θ.
        threshold: RiskLevel,
        /// Σ min_f over funds with r_f ≥ θ.
        required: u64,
        /// Σ over customers with t_u ≥ θ of min(K, #eligible funds of risk ≥ θ).
        available: u64,
    },
    /// Hall condition on the customer side ("exactly K"): customers whose tolerance is below θ
    /// need K exposures each from funds of risk < θ, which cannot absorb them.
    #[error(
        "customers with tolerance < {threshold} need {required} exposures, funds of risk < \
         {threshold} can give only {available} (short by {})", required - available
    )]
    RiskDemand {
        /// The threshold θ.
        threshold: RiskLevel,
        /// K × #customers with t_u < θ.
        required: u64,
        /// Σ over funds with r_f < θ of min(max_f, #customers tolerating f).
        available: u64,
    },
    /// No allocation exists although the counting conditions above hold (possible with K > 1 or
    /// exposure ranges); found by an exact max-flow test on the problem aggregated by tolerance.
    #[error(
        "no feasible allocation: at most {achievable} of the {required} required exposures can be \
         placed under the risk, per-customer and exposure constraints (short by {})",
        required - achievable
    )]
    Infeasible {
        /// Exposures the constraints require.
        required: u64,
        /// The most a flow can place.
        achievable: u64,
    },
    /// A solver does not handle this problem variant (e.g. HA with exposure ranges).
    #[error("solver {solver} does not support {feature}")]
    Unsupported {
        /// The solver.
        solver: SolverKind,
        /// What it does not support.
        feature: UnsupportedFeature,
    },
    /// An external LP/MIP backend failed or gave up.
    #[error("{solver} failed: {message}")]
    Backend {
        /// The solver (its backend is named in the message).
        solver: SolverKind,
        /// The backend's message.
        message: String,
    },
    /// An LP optimum was fractional where an integral one was expected.
    #[error(
        "{solver}: LP optimum is fractional at {count} variable(s) (e.g. customer {customer}, fund \
         {fund}, value {value}); use the MIP mode"
    )]
    NotIntegral {
        /// The solver.
        solver: SolverKind,
        /// Fractional variable count.
        count: usize,
        /// A customer with a fractional value.
        customer: usize,
        /// Its fund.
        fund: usize,
        /// The value.
        value: f64,
    },
    /// A solver produced an allocation that fails the verifier (a bug or a numerical failure;
    /// never returned silently).
    #[error("{solver} produced an infeasible allocation: {violations}")]
    Verification {
        /// The solver.
        solver: SolverKind,
        /// What the verifier found.
        violations: Violations,
    },
    /// The exact solver's dual bound does not match its allocation's revenue within tolerance
    /// (numerical trouble; the allocation is not returned as optimal).
    #[error(
        "exact solver: dual bound {bound} − objective {objective} = {gap:e} exceeds the \
         tolerance {tolerance:e}"
    )]
    GapNotClosed {
        /// Revenue of the allocation found.
        objective: f64,
        /// The dual bound g(q) at the final fund prices.
        bound: f64,
        /// `bound − objective`.
        gap: f64,
        /// The largest accepted |gap|.
        tolerance: f64,
    },
    /// [`crate::OutOfCore`] used all its pricing rounds without prices at which the customers
    /// it could settle and the residual that fits the budget prove an optimum (the budget is
    /// too small for the instance: the band of uncertain customers cannot be narrowed enough).
    /// Nothing was emitted.
    #[error(
        "out-of-core solve: no proven optimum after {rounds} pricing rounds (the last \
         residual held {residual} customers, the budget is {budget_rows} rows); a larger \
         memory budget or more rounds would let it finish"
    )]
    RoundsExhausted {
        /// Pricing rounds run.
        rounds: usize,
        /// Customers in the last round's residual.
        residual: usize,
        /// The row budget.
        budget_rows: usize,
    },
    /// A change to an [`crate::ExactSession`] names a customer that does not exist (out of
    /// range or removed).
    #[error("customer {customer} does not exist (the session has {slots} customer slots)")]
    UnknownCustomer {
        /// The id given.
        customer: usize,
        /// Slots in the session (live customers and free slots).
        slots: usize,
    },
    /// A change to an [`crate::ExactSession`] names a fund that does not exist or is closed.
    #[error("fund {fund} does not exist or is closed (the session has {funds} funds)")]
    UnknownFund {
        /// The id given.
        fund: usize,
        /// Funds in the session, closed ones included.
        funds: usize,
    },
    /// The exact solver found no augmenting path for some excess: the constraints cannot all
    /// hold (validated problems are feasible, so this signals a bug in the validation).
    #[error(
        "exact solver: {excess} exposure(s) at {node} cannot be routed; no feasible allocation"
    )]
    NoAugmentingPath {
        /// Where the excess is stuck.
        node: StuckAt,
        /// How many units.
        excess: i64,
    },
}

/// Where the exact solver's unroutable excess sits ([`AllocError::NoAugmentingPath`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StuckAt {
    /// A fund (its index).
    Fund(usize),
    /// The sink that absorbs the exposure ranges and the free slots of "at most K".
    Sink,
    /// A customer with fewer eligible funds than it must get.
    Customer {
        /// Its index.
        customer: usize,
        /// How many funds it may hold.
        eligible: usize,
    },
}

impl fmt::Display for StuckAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StuckAt::Fund(fund) => write!(f, "fund {fund}"),
            StuckAt::Sink => f.write_str("the sink (exposure ranges and free slots)"),
            StuckAt::Customer { customer, eligible } => {
                write!(f, "customer {customer} ({eligible} eligible funds)")
            }
        }
    }
}

/// A problem variant or size a solver does not handle ([`AllocError::Unsupported`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnsupportedFeature {
    /// Exposure ranges (`min_f < max_f`) or an at-most-K rule: HA and Manual handle only the
    /// paper's form (exactly K, exact `d_f`); `Lp` and `Exact` handle every variant.
    NotPaperForm,
    /// More funds than the solver indexes.
    TooManyFunds {
        /// F.
        funds: usize,
        /// The most the solver handles.
        limit: usize,
    },
    /// More customers than the solver indexes.
    TooManyCustomers {
        /// U.
        customers: usize,
        /// The most the solver handles.
        limit: usize,
    },
    /// The HiGHS backend of `Lp`, which this build lacks (the `highs` cargo feature).
    HighsBackend,
}

impl fmt::Display for UnsupportedFeature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnsupportedFeature::NotPaperForm => {
                f.write_str("exposure ranges or an at-most-K rule (use lp or exact)")
            }
            UnsupportedFeature::TooManyFunds { funds, limit } => {
                write!(f, "{funds} funds (at most {limit})")
            }
            UnsupportedFeature::TooManyCustomers { customers, limit } => {
                write!(f, "{customers} customers (at most {limit})")
            }
            UnsupportedFeature::HighsBackend => f.write_str(
                "the HiGHS backend (build fundalloc-allocator with the `highs` feature)",
            ),
        }
    }
}

/// Shorthand for `Result<T, AllocError>`.
pub type Result<T, E = AllocError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_details_read_as_one_line() {
        let e = AllocError::Unsupported {
            solver: SolverKind::Heuristic,
            feature: UnsupportedFeature::TooManyFunds {
                funds: 70_000,
                limit: 65_534,
            },
        };
        assert_eq!(
            e.to_string(),
            "solver ha does not support 70000 funds (at most 65534)"
        );
        let e = AllocError::NoAugmentingPath {
            node: StuckAt::Customer {
                customer: 17,
                eligible: 1,
            },
            excess: 1,
        };
        assert_eq!(
            e.to_string(),
            "exact solver: 1 exposure(s) at customer 17 (1 eligible funds) cannot be routed; \
             no feasible allocation"
        );
        assert_eq!(StuckAt::Fund(3).to_string(), "fund 3");
        let e: AllocError = TooLarge::new("sum of minimum exposures", 5u64, 4u64).into();
        assert!(matches!(e, AllocError::TooLarge(_)));
    }
}
