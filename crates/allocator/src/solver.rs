//! The solver trait and what every solver returns.

use std::time::Instant;

use fundalloc_core_types::{Allocation, Real};

use crate::error::{AllocError, Result};
use crate::kind::SolverKind;
use crate::problem::AllocationProblem;
use crate::verify::{Violation, verify};

/// An allocation method: takes a validated problem, returns an allocation and a report.
///
/// Implementors: `Exact`, `Heuristic` (HA), `Manual`, `GreedyTopK`, `Lp` (one
/// [`SolverKind`] each; `Lp` is `Lp` or `Mip` by its mode). Abilities beyond this small surface are extra traits:
/// [`ProvesOptimality`] for methods whose answer is a proven optimum.
pub trait Solver<T: Real = f64> {
    /// Which solver this is (written in its reports).
    fn kind(&self) -> SolverKind;

    /// Solves `problem`. Solvers that return a feasible allocation have checked it with
    /// [`crate::verify()`]; `GreedyTopK` returns its (exposure-infeasible) allocation
    /// with the violations listed in [`SolveReport::violations`].
    fn solve(&self, problem: &AllocationProblem<T>) -> Result<Solution>;
}

/// Marker for solvers whose answer is a proven optimum: [`SolveReport::bound`] is `Some` and
/// [`SolveReport::gap`] is zero up to floating-point tolerance (stated in the report's notes).
pub trait ProvesOptimality<T: Real = f64>: Solver<T> {}

/// An allocation and how it was found.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Solution {
    /// Which funds each customer gets.
    pub allocation: Allocation,
    /// Objective, time and diagnostics.
    pub report: SolveReport,
}

impl Solution {
    /// An allocation with its report (for solvers outside this crate).
    pub fn new(allocation: Allocation, report: SolveReport) -> Self {
        Self { allocation, report }
    }
}

/// What a solver reports besides the allocation.
///
/// `bound` and `gap` are read through [`SolveReport::bound`] and [`SolveReport::gap`]: they are
/// set together by [`SolveReport::with_bound`], so the gap always matches the bound.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SolveReport {
    /// The solver.
    pub solver: SolverKind,
    /// `Σ X_uf·E_uf` of the returned allocation, in `f64`.
    pub objective: f64,
    /// Wall-clock seconds of `solve` (validation of the problem not included).
    pub seconds: f64,
    /// Iterations, where the method counts them (α/score recomputations for HA, simplex or
    /// interior-point iterations for backends that expose them).
    pub iterations: Option<u64>,
    /// An upper bound on the optimum ([`SolveReport::bound`]).
    bound: Option<f64>,
    /// The relative gap to `bound` ([`SolveReport::gap`]).
    gap: Option<f64>,
    /// Whether a heuristic had to deviate from its plain rule to stay feasible.
    pub repaired: bool,
    /// Broken constraints of the returned allocation (empty for every solver but greedy top-K,
    /// which ignores exposures by design).
    pub violations: Vec<Violation>,
    /// Free-form remarks (backend options, integrality, repair counts…).
    pub notes: Vec<String>,
}

impl SolveReport {
    /// A report with only solver, objective and time set.
    pub fn new(solver: SolverKind, objective: f64, seconds: f64) -> Self {
        Self {
            solver,
            objective,
            seconds,
            iterations: None,
            bound: None,
            gap: None,
            repaired: false,
            violations: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Whether the allocation satisfies every constraint.
    pub fn is_feasible(&self) -> bool {
        self.violations.is_empty()
    }

    /// An upper bound on the optimum, where the method has one (LP relaxation value, dual
    /// bound).
    pub fn bound(&self) -> Option<f64> {
        self.bound
    }

    /// Relative gap `(bound − objective) / max(|bound|, 1)`, where a bound is known. The floor
    /// of 1 (as in [`crate::GAP_TOLERANCE`]) keeps float noise in a bound near zero, e.g. when
    /// nothing can be allocated, from reading as a large relative gap.
    pub fn gap(&self) -> Option<f64> {
        self.gap
    }

    /// Sets `bound` and the matching relative `gap`.
    #[must_use]
    pub fn with_bound(mut self, bound: f64) -> Self {
        self.bound = Some(bound);
        self.gap = Some(((bound - self.objective) / bound.abs().max(1.0)).max(0.0));
        self
    }
}

/// Verifies `allocation` and wraps it in a [`Solution`] timed from `start`; an infeasible
/// allocation becomes [`AllocError::Verification`] (a solver bug, never returned silently).
pub(crate) fn finish<T: Real>(
    solver: SolverKind,
    problem: &AllocationProblem<T>,
    allocation: Allocation,
    start: Instant,
) -> Result<Solution> {
    let seconds = start.elapsed().as_secs_f64();
    let report = verify(problem, &allocation)
        .map_err(|violations| AllocError::Verification { solver, violations })?;
    Ok(Solution {
        allocation,
        report: SolveReport::new(solver, report.objective, seconds),
    })
}
