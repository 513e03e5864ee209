//! The one error type of this crate.
//!
//! Room for the exact transportation solver (issue 4): its variants go in the block marked
//! `-- exact solver --` at the end of [`AllocError`], with the same style (structured fields,
//! a one-line message that says what is wrong and by how much).

use fundalloc_core_types::{CoreError, RiskLevel};

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
    /// Two inputs that must agree in length do not.
    #[error("{what}: expected {expected} entries (one per {per}), found {found}")]
    Shape {
        /// Which input.
        what: &'static str,
        /// Which dimension it follows ("customer" or "fund").
        per: &'static str,
        /// Expected length.
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// A parameter is outside its domain (K = 0, min_f > max_f, …).
    #[error("invalid {name} = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// The value, written out.
        value: String,
        /// Why it is invalid.
        reason: &'static str,
    },
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
        /// "exactly K" or "at most K".
        rule: &'static str,
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
        /// Solver name.
        solver: &'static str,
        /// The unsupported variant.
        feature: String,
    },
    /// An external LP/MIP backend failed or gave up.
    #[error("{solver} failed: {message}")]
    Backend {
        /// Solver and backend name.
        solver: &'static str,
        /// The backend's message.
        message: String,
    },
    /// An LP optimum was fractional where an integral one was expected.
    #[error(
        "{solver}: LP optimum is fractional at {count} variable(s) (e.g. customer {customer}, fund \
         {fund}, value {value}); use the MIP mode"
    )]
    NotIntegral {
        /// Solver name.
        solver: &'static str,
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
        /// Solver name.
        solver: &'static str,
        /// What the verifier found.
        violations: Violations,
    },
    // -- exact solver -- (issue 4 adds its variants here)
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
    /// The exact solver found no augmenting path for some excess: the constraints cannot all
    /// hold (validated problems are feasible, so this signals a bug in the validation).
    #[error(
        "exact solver: {excess} exposure(s) at {node} cannot be routed; no feasible allocation"
    )]
    NoAugmentingPath {
        /// Where the excess is stuck ("fund 3", "the sink …", "customer 17 …").
        node: String,
        /// How many units.
        excess: i64,
    },
}

/// Shorthand for `Result<T, AllocError>`.
pub type Result<T, E = AllocError> = std::result::Result<T, E>;
