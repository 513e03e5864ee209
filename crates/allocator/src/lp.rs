//! The exact reference: the allocation problem as an LP (or MIP) through good_lp.

use std::time::{Duration, Instant};

use fundalloc_core_types::{Allocation, ParamGuard, Real, check};
use good_lp::{
    Expression, ProblemVariables, ResolutionError, Solution as _, SolutionStatus, SolverModel,
    Variable, WithTimeLimit, variable,
};

use crate::error::{AllocError, Result};
use crate::kind::SolverKind;
use crate::problem::{AllocationProblem, PerCustomer};
use crate::solver::{ProvesOptimality, Solution, Solver, finish};

/// LP relaxation or integer program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LpMode {
    /// `0 ≤ X_uf ≤ 1`. The constraint matrix is totally unimodular (a bipartite transportation
    /// structure with integral right-hand sides), so vertex optima are integral; the solution
    /// is rounded, checked for fractional values and verified.
    #[default]
    Relaxation,
    /// `X_uf ∈ {0, 1}` solved by the backend's branch and bound.
    Mip,
}

/// Which good_lp backend solves the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LpBackend {
    /// microlp: pure Rust, always available, slow on large instances.
    MicroLp,
    /// HiGHS (cargo feature `highs`; needs cmake and libclang to build). For the LP it runs
    /// with presolve off and the interior-point method, which is what scales on this structure.
    Highs,
}

impl Default for LpBackend {
    fn default() -> Self {
        if cfg!(feature = "highs") {
            Self::Highs
        } else {
            Self::MicroLp
        }
    }
}

/// Solves the problem exactly with an LP/MIP solver (every variant: exactly/at most K, exposure
/// ranges, risk). Only risk-eligible pairs get a variable, so `−∞` entries never appear.
///
/// `maximise Σ E_uf X_uf` s.t. `Σ_f X_uf = K` (or `≤ K`) per customer,
/// `min_f ≤ Σ_u X_uf ≤ max_f` per fund, `0 ≤ X_uf ≤ 1` (or binary with [`LpMode::Mip`]).
///
/// The report's `bound` is the solver's optimal LP value (an upper bound on every allocation)
/// and `gap` the relative difference to the verified objective of the returned allocation
/// (zero up to rounding when the optimum is integral).
///
/// ```
/// use fundalloc_allocator::prelude::*;
/// use fundalloc_allocator::Lp;
/// let e = RevenueMatrix::from_shape_vec(3, 2, vec![5.0, 4.0, 3.0, 0.0, 2.0, 1.0])?;
/// let p = AllocationProblem::builder(e).exposures(vec![1, 2]).build()?;
/// let s = Lp::new().solve(&p)?;
/// assert_eq!(s.report.objective, 8.0);
/// assert!(s.report.gap().unwrap() < 1e-9);
/// # Ok::<(), AllocError>(())
/// ```
///
/// `Lp` is the unchecked configuration (the `ParamGuard` convention): its setters store
/// values as given and [`Solver::solve`] checks them first (a bad time limit is an
/// [`AllocError::InvalidParameter`], never a panic); [`ParamGuard::check`] gives the checked
/// [`LpValidParams`], which is a solver too.
///
/// ```
/// use fundalloc_allocator::prelude::*;
/// use fundalloc_allocator::{InvalidParameter, Lp};
/// let e = RevenueMatrix::from_shape_vec(1, 1, vec![1.0])?;
/// let p = AllocationProblem::builder(e).exposures(vec![1]).build()?;
/// let err = Lp::new().time_limit(-1.0).solve(&p).unwrap_err();
/// assert!(matches!(err, AllocError::InvalidParameter(InvalidParameter { name: "time_limit", .. })));
/// # Ok::<(), AllocError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Lp(LpValidParams);

/// The checked configuration of [`Lp`] (made by [`ParamGuard::check`]); solves like `Lp`.
#[derive(Debug, Clone, Default)]
pub struct LpValidParams {
    mode: LpMode,
    backend: LpBackend,
    /// Seconds; finite, `> 0` and at most a year once checked.
    time_limit: Option<f64>,
}

impl LpValidParams {
    /// Relaxation or integer program.
    pub fn mode(&self) -> LpMode {
        self.mode
    }

    /// The backend.
    pub fn backend(&self) -> LpBackend {
        self.backend
    }

    /// The time limit, if any.
    pub fn time_limit(&self) -> Option<Duration> {
        // Checked: finite, > 0 and at most `check::MAX_DURATION`, so the conversion holds.
        self.time_limit.map(Duration::from_secs_f64)
    }

    fn solver_kind(&self) -> SolverKind {
        match self.mode {
            LpMode::Relaxation => SolverKind::Lp,
            LpMode::Mip => SolverKind::Mip,
        }
    }
}

impl Lp {
    /// LP relaxation with the default backend (HiGHS when the `highs` feature is on).
    pub fn new() -> Self {
        Self::default()
    }

    /// Integer program with the default backend.
    pub fn mip() -> Self {
        Self::new().mode(LpMode::Mip)
    }

    /// Sets the mode.
    #[must_use]
    pub fn mode(mut self, mode: LpMode) -> Self {
        self.0.mode = mode;
        self
    }

    /// Sets the backend.
    #[must_use]
    pub fn backend(mut self, backend: LpBackend) -> Self {
        self.0.backend = backend;
        self
    }

    /// Gives up after `seconds` (a MIP returns its incumbent, without a bound). Checked when
    /// solving: finite, `> 0` and at most one year.
    #[must_use]
    pub fn time_limit(mut self, seconds: f64) -> Self {
        self.0.time_limit = Some(seconds);
        self
    }
}

impl ParamGuard for Lp {
    type Checked = LpValidParams;
    type Error = AllocError;

    fn check_ref(&self) -> Result<&LpValidParams> {
        if let Some(t) = self.0.time_limit {
            check::seconds("time_limit", t)?;
        }
        Ok(&self.0)
    }

    fn check(self) -> Result<LpValidParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

fundalloc_core_types::checked_params!(LpValidParams, AllocError);

/// The model: variables of the eligible pairs, in customer-major order.
struct Model {
    vars: ProblemVariables,
    pairs: Vec<(u32, u32)>,
    handles: Vec<Variable>,
    objective: Expression,
    constraints: Vec<good_lp::Constraint>,
}

fn build<T: Real>(problem: &AllocationProblem<T>, mode: LpMode) -> Model {
    let (u_n, f_n) = (problem.n_customers(), problem.n_funds());
    let mut vars = ProblemVariables::new();
    let mut pairs = Vec::new();
    let mut handles = Vec::new();
    let mut objective = Expression::with_capacity(u_n * f_n);
    let mut per_fund: Vec<Expression> = (0..f_n).map(|_| Expression::with_capacity(u_n)).collect();
    let mut constraints = Vec::with_capacity(u_n + 2 * f_n);
    let k = problem.k() as f64;
    for u in 0..u_n {
        let row = problem.revenue().row(u);
        let mut per_customer = Expression::with_capacity(f_n);
        for f in 0..f_n {
            if !problem.is_eligible(u, f) {
                continue;
            }
            let def = match mode {
                LpMode::Relaxation => variable().min(0).max(1),
                LpMode::Mip => variable().binary(),
            };
            let x = vars.add(def);
            objective.add_mul(row[f].to_f64_lossless(), x);
            per_customer.add_mul(1.0, x);
            per_fund[f].add_mul(1.0, x);
            pairs.push((u as u32, f as u32));
            handles.push(x);
        }
        constraints.push(match problem.rule() {
            PerCustomer::Exactly(_) => per_customer.eq(k),
            PerCustomer::AtMost(_) => per_customer.leq(k),
        });
    }
    for (expr, range) in per_fund.into_iter().zip(problem.exposure()) {
        if range.is_exact() {
            constraints.push(expr.eq(range.min as f64));
        } else {
            if range.min > 0 {
                constraints.push(expr.clone().geq(range.min as f64));
            }
            if range.max < u_n as u64 {
                constraints.push(expr.leq(range.max as f64));
            }
        }
    }
    Model {
        vars,
        pairs,
        handles,
        objective,
        constraints,
    }
}

/// Reads an allocation out of solved values: `x > 0.5` is assigned. Returns the allocation,
/// the LP objective `Σ E x` and the fractional entries (first one and count).
type Readout = (Allocation, f64, Option<(usize, usize, f64)>, usize);

fn read<T: Real>(
    problem: &AllocationProblem<T>,
    pairs: &[(u32, u32)],
    values: &[f64],
) -> Result<Readout> {
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); problem.n_customers()];
    let mut lp_value = 0.0;
    let mut first_fraction = None;
    let mut fractional = 0usize;
    for (&(u, f), &x) in pairs.iter().zip(values) {
        lp_value += x * problem.revenue().row(u as usize)[f as usize].to_f64_lossless();
        if x > 1e-6 && x < 1.0 - 1e-6 {
            fractional += 1;
            first_fraction.get_or_insert((u as usize, f as usize, x));
        }
        if x > 0.5 {
            rows[u as usize].push(f);
        }
    }
    let allocation = Allocation::from_rows(problem.n_funds(), rows)?;
    Ok((allocation, lp_value, first_fraction, fractional))
}

fn backend_error(solver: SolverKind, backend: &str, e: ResolutionError) -> AllocError {
    let message = match e {
        ResolutionError::Infeasible => {
            "the backend reports the model infeasible although validation found a feasible \
             allocation (numerical trouble)"
                .to_string()
        }
        other => other.to_string(),
    };
    AllocError::Backend {
        solver,
        message: format!("backend {backend}: {message}"),
    }
}

impl<T: Real> Solver<T> for Lp {
    fn kind(&self) -> SolverKind {
        self.0.solver_kind()
    }

    fn solve(&self, problem: &AllocationProblem<T>) -> Result<Solution> {
        self.check_ref()?.solve(problem)
    }
}

impl<T: Real> ProvesOptimality<T> for Lp {}

impl<T: Real> Solver<T> for LpValidParams {
    fn kind(&self) -> SolverKind {
        self.solver_kind()
    }

    fn solve(&self, problem: &AllocationProblem<T>) -> Result<Solution> {
        let start = Instant::now();
        let name = self.solver_kind();
        let model = build(problem, self.mode);
        let Model {
            vars,
            pairs,
            handles,
            objective,
            constraints,
        } = model;
        let unsolved = vars.maximise(objective);
        let (values, status, notes): (Vec<f64>, SolutionStatus, Vec<String>) = if pairs.is_empty() {
            // No eligible pair at all (possible under "at most K" with zero minimum exposures):
            // the empty allocation is the only feasible one, and some backends (HiGHS:
            // `ModelEmpty`) refuse a model without variables.
            (
                Vec::new(),
                SolutionStatus::Optimal,
                vec!["no eligible pair: the empty allocation is the only feasible one".into()],
            )
        } else {
            match self.backend {
                LpBackend::MicroLp => {
                    let mut m = unsolved.using(good_lp::microlp);
                    if let Some(t) = self.time_limit() {
                        m = m.with_time_limit(t.as_secs_f64());
                    }
                    for c in constraints {
                        m.add_constraint(c);
                    }
                    let sol = m.solve().map_err(|e| backend_error(name, "microlp", e))?;
                    let values = handles.iter().map(|&v| sol.value(v)).collect();
                    (
                        values,
                        sol.status(),
                        vec!["backend microlp (pure Rust)".into()],
                    )
                }
                LpBackend::Highs => highs_solve(name, unsolved, constraints, &handles, self)?,
            }
        };
        let (allocation, lp_value, first_fraction, fractional) = read(problem, &pairs, &values)?;
        let mut notes = notes;
        if let Some((customer, fund, value)) = first_fraction {
            {
                if self.mode == LpMode::Relaxation && crate::verify(problem, &allocation).is_err() {
                    return Err(AllocError::NotIntegral {
                        solver: name,
                        count: fractional,
                        customer,
                        fund,
                        value,
                    });
                }
                notes.push(format!(
                    "{fractional} fractional value(s) rounded (e.g. customer {customer}, fund \
                     {fund}: {value})"
                ));
            }
        }
        let mut solution = finish(name, problem, allocation, start)?;
        let optimal = matches!(status, SolutionStatus::Optimal);
        if optimal {
            let bound = lp_value.max(solution.report.objective);
            solution.report = solution.report.with_bound(bound);
        } else {
            notes.push("stopped early (time or gap limit): not proven optimal".into());
        }
        solution.report.notes = notes;
        Ok(solution)
    }
}

impl<T: Real> ProvesOptimality<T> for LpValidParams {}

#[cfg(feature = "highs")]
fn highs_solve(
    name: SolverKind,
    unsolved: good_lp::variable::UnsolvedProblem,
    constraints: Vec<good_lp::Constraint>,
    handles: &[Variable],
    lp: &LpValidParams,
) -> Result<(Vec<f64>, SolutionStatus, Vec<String>)> {
    use good_lp::solvers::highs::{HighsPresolveType, HighsSolverType};
    let mut m = unsolved.using(good_lp::highs);
    m.set_verbose(false);
    let mut note = "backend HiGHS".to_string();
    if lp.mode == LpMode::Relaxation {
        // On this structure HiGHS's presolve dominates the run time; interior point without
        // presolve solved 200k × 8 in ~20 s where the defaults took minutes
        // (docs/allocation.md, docs/benchmarks.md).
        m = m
            .set_presolve(HighsPresolveType::Off)
            .set_solver(HighsSolverType::Ipm);
        note.push_str(" (presolve off, interior point with crossover)");
    }
    if let Some(t) = lp.time_limit() {
        m = m.with_time_limit(t.as_secs_f64());
    }
    for c in constraints {
        m.add_constraint(c);
    }
    let sol = m.solve().map_err(|e| backend_error(name, "HiGHS", e))?;
    let values = handles.iter().map(|&v| sol.value(v)).collect();
    Ok((values, sol.status(), vec![note]))
}

#[cfg(not(feature = "highs"))]
fn highs_solve(
    name: SolverKind,
    _unsolved: good_lp::variable::UnsolvedProblem,
    _constraints: Vec<good_lp::Constraint>,
    _handles: &[Variable],
    _lp: &LpValidParams,
) -> Result<(Vec<f64>, SolutionStatus, Vec<String>)> {
    Err(AllocError::Unsupported {
        solver: name,
        feature: crate::error::UnsupportedFeature::HighsBackend,
    })
}
