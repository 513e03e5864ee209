//! The same LP through good_lp + HiGHS: the reference the exact solver is checked and timed
//! against (feature `highs`; needs `cmake` and `libclang` to build HiGHS from source).

use good_lp::{Expression, ProblemVariables, Solution, SolverModel, constraint, variable};

use fundalloc_core_types::{Empty, NonFinite, ShapeMismatch};

use crate::error::{PnoError, Result, check_finite};

/// Optimal value of `min a·c s.t. a ≥ 0, Σa = 1, a·r ≤ r̄` solved by HiGHS through good_lp.
///
/// Errors with [`PnoError::Infeasible`] when HiGHS finds no feasible point.
pub fn solve_with_highs(cost: &[f64], risk: &[f64], budget: f64) -> Result<f64> {
    if cost.len() != risk.len() {
        return Err(PnoError::from(ShapeMismatch::new(
            "cost vector vs risk vector",
            risk.len(),
            cost.len(),
        )));
    }
    if cost.is_empty() {
        return Err(PnoError::from(Empty::new("cost vector")));
    }
    check_finite("cost vector", cost)?;
    check_finite("risk vector", risk)?;
    if !budget.is_finite() {
        return Err(NonFinite::at_index("risk budget", 0, budget).into());
    }
    let mut vars = ProblemVariables::new();
    let a: Vec<_> = (0..cost.len())
        .map(|_| vars.add(variable().min(0.0)))
        .collect();
    let objective: Expression = a.iter().zip(cost).map(|(&v, &c)| c * v).sum();
    let total: Expression = a.iter().map(|&v| 1.0 * v).sum();
    let used: Expression = a.iter().zip(risk).map(|(&v, &r)| r * v).sum();
    let mut model = vars
        .minimise(objective.clone())
        .using(good_lp::highs)
        .with(constraint!(total == 1.0))
        .with(constraint!(used <= budget));
    model.set_verbose(false);
    match model.solve() {
        Ok(solution) => Ok(solution.eval(&objective)),
        Err(_) => Err(PnoError::Infeasible {
            budget,
            min_risk: risk.iter().copied().fold(f64::INFINITY, f64::min),
        }),
    }
}
