//! The verifier: checks an allocation against every constraint and recomputes the objective.

use std::fmt;

use fundalloc_core_types::{Allocation, Real, RiskLevel};

use crate::problem::{AllocationProblem, ExposureRange, PerCustomer};

/// One broken constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// The allocation is for another number of customers or funds.
    Shape {
        /// U × F of the problem.
        expected: (usize, usize),
        /// U × F of the allocation.
        found: (usize, usize),
    },
    /// A customer got a number of funds the rule does not allow.
    CustomerCount {
        /// Customer index.
        customer: usize,
        /// Funds it got.
        got: usize,
        /// The rule.
        rule: PerCustomer,
    },
    /// A customer got a fund above its risk tolerance.
    RiskIneligible {
        /// Customer index.
        customer: usize,
        /// Fund index.
        fund: usize,
        /// t_u.
        tolerance: RiskLevel,
        /// r_f.
        fund_risk: RiskLevel,
    },
    /// A fund got a number of customers outside its exposure range.
    Exposure {
        /// Fund index.
        fund: usize,
        /// Customers it got.
        got: u64,
        /// Its range.
        range: ExposureRange,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shape { expected, found } => write!(
                f,
                "allocation is {}×{}, problem is {}×{}",
                found.0, found.1, expected.0, expected.1
            ),
            Self::CustomerCount {
                customer,
                got,
                rule,
            } => write!(f, "customer {customer} got {got} funds, must get {rule}"),
            Self::RiskIneligible {
                customer,
                fund,
                tolerance,
                fund_risk,
            } => write!(
                f,
                "customer {customer} (tolerance {tolerance}) got fund {fund} of risk {fund_risk}"
            ),
            Self::Exposure { fund, got, range } => {
                if range.is_exact() {
                    write!(
                        f,
                        "fund {fund} got {got} customers, needs exactly {}",
                        range.min
                    )
                } else {
                    write!(
                        f,
                        "fund {fund} got {got} customers, needs {}..={}",
                        range.min, range.max
                    )
                }
            }
        }
    }
}

/// The verifier's findings: objective and exposure counts always, violations when any.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// `Σ X_uf·E_uf` recomputed in `f64` (risk-ineligible pairs included as assigned).
    pub objective: f64,
    /// Customers per fund.
    pub exposure_counts: Vec<u64>,
    /// Broken constraints, at most [`VerifyReport::MAX_LISTED`] listed.
    pub violations: Vec<Violation>,
    /// How many constraints are broken in total.
    pub violation_count: usize,
}

impl VerifyReport {
    /// At most this many violations are stored (the count covers all).
    pub const MAX_LISTED: usize = 100;

    /// Whether every constraint holds.
    pub fn is_feasible(&self) -> bool {
        self.violation_count == 0
    }
}

/// An infeasible allocation, as an error: the first violations and how many there are.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{count} violation(s), first: {first}")]
#[non_exhaustive]
pub struct Violations {
    /// Total number of violations.
    pub count: usize,
    /// The first one.
    pub first: Violation,
    /// The listed ones (at most [`VerifyReport::MAX_LISTED`]).
    pub listed: Vec<Violation>,
}

/// Checks `allocation` against every constraint of `problem` (per-customer count, risk
/// eligibility, exposure ranges; distinct funds per customer is guaranteed by
/// [`Allocation`]) and recomputes the objective. Never fails: see [`verify`] for the
/// `Result` form.
pub fn check<T: Real>(problem: &AllocationProblem<T>, allocation: &Allocation) -> VerifyReport {
    let expected = (problem.n_customers(), problem.n_funds());
    let found = (allocation.n_customers(), allocation.n_funds());
    if expected != found {
        return VerifyReport {
            objective: f64::NAN,
            exposure_counts: Vec::new(),
            violations: vec![Violation::Shape { expected, found }],
            violation_count: 1,
        };
    }
    let mut violations = Vec::new();
    let mut count = 0usize;
    let mut push = |v: Violation| {
        count += 1;
        if violations.len() < VerifyReport::MAX_LISTED {
            violations.push(v);
        }
    };
    let rule = problem.rule();
    let revenue = problem.revenue();
    let (tolerance, fund_risk) = (problem.tolerance(), problem.fund_risk());
    let mut objective = 0.0f64;
    for (u, funds) in allocation.iter() {
        if !rule.admits(funds.len()) {
            push(Violation::CustomerCount {
                customer: u,
                got: funds.len(),
                rule,
            });
        }
        let row = revenue.row(u);
        for &f in funds {
            let f = f as usize;
            objective += row[f].to_f64_lossless();
            if !tolerance[u].permits(fund_risk[f]) {
                push(Violation::RiskIneligible {
                    customer: u,
                    fund: f,
                    tolerance: tolerance[u],
                    fund_risk: fund_risk[f],
                });
            }
        }
    }
    let exposure_counts = allocation.exposure_counts();
    for (f, (&got, &range)) in exposure_counts.iter().zip(problem.exposure()).enumerate() {
        if !range.contains(got) {
            push(Violation::Exposure {
                fund: f,
                got,
                range,
            });
        }
    }
    VerifyReport {
        objective,
        exposure_counts,
        violations,
        violation_count: count,
    }
}

/// Like [`check`], but an infeasible allocation is an `Err`.
///
/// ```
/// use fundalloc_allocator::prelude::*;
/// let e = RevenueMatrix::from_shape_vec(2, 2, vec![3.0, 1.0, 2.0, 0.5])?;
/// let p = AllocationProblem::builder(e).exposures(vec![1, 1]).build()?;
/// let good = Allocation::from_fixed_k(2, 1, 2, vec![1, 0])?;
/// assert_eq!(verify(&p, &good).unwrap().objective, 3.0);
/// let bad = Allocation::from_fixed_k(2, 1, 2, vec![0, 0])?; // fund 0 twice, fund 1 never
/// assert_eq!(verify(&p, &bad).unwrap_err().count, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify<T: Real>(
    problem: &AllocationProblem<T>,
    allocation: &Allocation,
) -> Result<VerifyReport, Violations> {
    let report = check(problem, allocation);
    match report.violations.first() {
        None => Ok(report),
        Some(first) => Err(Violations {
            count: report.violation_count,
            first: first.clone(),
            listed: report.violations,
        }),
    }
}
