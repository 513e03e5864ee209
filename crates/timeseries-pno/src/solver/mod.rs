//! The exact risk-aware allocation solver (the paper's Eq. 7 with the feasible set of Eq. 6/12).
//!
//! ```text
//! z(c) = min_a  a·c   s.t.  a ≥ 0,  Σ_h a_h = 1,  Σ_h r_h a_h ≤ r̄
//! ```
//!
//! # Why at most two steps
//!
//! Map every step h to the point `p_h = (r_h, c_h)` of the plane. An allocation `a` is a convex
//! combination of steps, so `(a·r, a·c)` ranges over the convex hull of the points, and the
//! problem asks for the lowest point of that hull left of the vertical line `R = r̄`. That point
//! lies on the *lower* convex hull, either at its lowest vertex (when that vertex already
//! satisfies the budget) or where the line `R = r̄` crosses one hull edge: a mix of the edge's
//! two end steps with weights `θ = (r̄ − r_i)/(r_j − r_i)` on `j` and `1 − θ` on `i`. Building
//! the lower hull with Andrew's monotone chain costs O(H) once the steps are sorted by risk, so a
//! solve is O(H log H), and O(H) when the risk vector is shared (training reuses one order for
//! every window of an epoch: [`RiskConstraint`] sorts once).
//!
//! The LP has another vertex kind (`a` at a single step with the budget slack), which is the
//! first case. Infeasibility is exactly `r̄ < min_h r_h`, reported as [`PnoError::Infeasible`].

#[cfg(feature = "highs")]
pub(crate) mod highs;

use ndarray::{Array1, Array2, ArrayView2};
use rayon::prelude::*;

use fundalloc_core_types::{Empty, NonFinite, ShapeMismatch, check};

use crate::error::{PnoError, Result, check_finite};

/// The feasible set `{a ≥ 0, Σa = 1, a·r ≤ r̄}` for one risk vector `r` and budget `r̄`.
///
/// Construction validates the input and sorts the steps by risk once; every
/// [`solve`](Self::solve) afterwards is O(H).
///
/// ```
/// use fundalloc_timeseries_pno::RiskConstraint;
/// // Step 2 is cheapest but too risky on its own: the optimum mixes it with step 0.
/// let constraint = RiskConstraint::new(&[0.1, 0.5, 0.9], 0.5)?;
/// let solution = constraint.solve(&[3.0, 2.5, 1.0])?;
/// assert_eq!(solution.support().len(), 2);
/// assert!((solution.objective() - 2.0).abs() < 1e-12); // ½·3 + ½·1
/// assert!((solution.risk() - 0.5).abs() < 1e-12);
/// # Ok::<(), fundalloc_timeseries_pno::PnoError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RiskConstraint {
    risk: Vec<f64>,
    budget: f64,
    /// Step indices sorted by ascending risk (ties by index).
    order: Vec<usize>,
}

impl RiskConstraint {
    /// The feasible set for risks `r` (finite, non-empty) and budget `r̄` (finite).
    ///
    /// Errors with [`PnoError::Infeasible`] when `r̄ < min_h r_h`.
    pub fn new(risk: &[f64], budget: f64) -> Result<Self> {
        if risk.is_empty() {
            return Err(PnoError::from(Empty::new("risk vector")));
        }
        check_finite("risk vector", risk)?;
        if !budget.is_finite() {
            return Err(PnoError::from(NonFinite::at_index(
                "risk budget",
                0,
                budget,
            )));
        }
        let mut order: Vec<usize> = (0..risk.len()).collect();
        order.sort_by(|&a, &b| risk[a].total_cmp(&risk[b]).then(a.cmp(&b)));
        let min_risk = risk[order[0]];
        if budget < min_risk {
            return Err(PnoError::Infeasible { budget, min_risk });
        }
        Ok(Self {
            risk: risk.to_vec(),
            budget,
            order,
        })
    }

    /// The paper's Eq. 11: `r̄` = the α-quantile of the entries of `r`
    /// (linear interpolation between order statistics, as `numpy.quantile`), always feasible.
    pub fn from_quantile(risk: &[f64], alpha: f64) -> Result<Self> {
        let budget = quantile(risk, alpha)?;
        Self::new(risk, budget)
    }

    /// H, the number of steps.
    pub fn horizon(&self) -> usize {
        self.risk.len()
    }

    /// The risk vector `r`.
    pub fn risk(&self) -> &[f64] {
        &self.risk
    }

    /// The budget `r̄`.
    pub fn budget(&self) -> f64 {
        self.budget
    }

    /// `min_h r_h`, the smallest feasible budget.
    pub fn min_risk(&self) -> f64 {
        self.risk[self.order[0]]
    }

    /// The optimal allocation for the cost vector `c` (length H, finite).
    pub fn solve(&self, cost: &[f64]) -> Result<RiskSolution> {
        if cost.len() != self.risk.len() {
            return Err(PnoError::from(ShapeMismatch::new(
                "cost vector vs risk vector",
                self.risk.len(),
                cost.len(),
            )));
        }
        check_finite("cost vector", cost)?;
        Ok(self.solve_unchecked(cost))
    }

    /// The optimal value `z(c) = min a·c` over the feasible set.
    pub fn optimal_value(&self, cost: &[f64]) -> Result<f64> {
        self.solve(cost).map(|s| s.objective())
    }

    /// Solves every row of `costs` (shape `[n, H]`) in parallel and returns the dense
    /// allocations (shape `[n, H]`, each row on the simplex).
    pub fn solve_batch(&self, costs: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        let h = self.horizon();
        if costs.ncols() != h {
            return Err(PnoError::from(ShapeMismatch::new(
                "cost matrix columns vs risk vector",
                h,
                costs.ncols(),
            )));
        }
        if let Some((index, &value)) = costs.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(PnoError::from(NonFinite::at_index(
                "cost matrix",
                index,
                value,
            )));
        }
        let mut out = Array2::<f64>::zeros((costs.nrows(), h));
        if let Some(flat) = out.as_slice_mut() {
            flat.par_chunks_mut(h).enumerate().for_each(|(i, row)| {
                let cost = costs.row(i);
                // Rows of a standard-layout matrix are contiguous; fall back to a copy otherwise.
                let solution = match cost.as_slice() {
                    Some(slice) => self.solve_unchecked(slice),
                    None => self.solve_unchecked(&cost.to_vec()),
                };
                for &(step, weight) in solution.support() {
                    row[step] = weight;
                }
            });
        }
        Ok(out)
    }

    /// The solve itself; `cost` is known to be finite and of length H.
    fn solve_unchecked(&self, cost: &[f64]) -> RiskSolution {
        let risk = &self.risk;
        // The cheapest step (ties: the least risky, then the first). It is a vertex of the lower
        // hull; if it fits the budget it is optimal on its own.
        let mut best = self.order[0];
        for &h in &self.order[1..] {
            if cost[h] < cost[best] {
                best = h;
            }
        }
        if risk[best] <= self.budget {
            return RiskSolution::single(best, cost, risk);
        }
        // Points right of `best` cannot change the lower hull left of it.
        let points = self
            .order
            .iter()
            .take_while(|&&h| risk[h] <= risk[best])
            .map(|&h| (risk[h], cost[h], h));
        mix_on_lower_hull(points, self.budget, cost, risk)
    }
}

/// The optimum when the cheapest step is over budget: walk the lower convex hull of `points`
/// (`(r, c, step)`, sorted by ascending r, ending at the cheapest step, starting at a step with
/// r ≤ r̄) to the edge that crosses `R = r̄`, and mix its two ends.
fn mix_on_lower_hull(
    points: impl Iterator<Item = (f64, f64, usize)>,
    budget: f64,
    cost: &[f64],
    risk: &[f64],
) -> RiskSolution {
    let mut hull: Vec<(f64, f64, usize)> = Vec::with_capacity(16);
    for p in points {
        // Equal risks: only the cheapest can be on the lower hull.
        if let Some(&top) = hull.last()
            && top.0 == p.0
        {
            if p.1 >= top.1 {
                continue;
            }
            hull.pop();
        }
        while hull.len() >= 2 {
            let (o, a) = (hull[hull.len() - 2], hull[hull.len() - 1]);
            let cross = (a.0 - o.0) * (p.1 - o.1) - (a.1 - o.1) * (p.0 - o.0);
            if cross <= 0.0 {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push(p);
    }
    // The hull runs from r ≤ r̄ (feasibility) to the cheapest step (r > r̄).
    let mut j = 1;
    while j < hull.len() && hull[j].0 <= budget {
        j += 1;
    }
    let lo = hull[j - 1];
    if j >= hull.len() || lo.0 == budget {
        return RiskSolution::single(lo.2, cost, risk);
    }
    let hi = hull[j];
    let theta = (budget - lo.0) / (hi.0 - lo.0);
    RiskSolution {
        support: vec![(lo.2, 1.0 - theta), (hi.2, theta)],
        objective: (1.0 - theta) * lo.1 + theta * hi.1,
        risk: (1.0 - theta) * lo.0 + theta * hi.0,
    }
}

/// An optimal allocation: one or two steps with positive weight (Σ weights = 1).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RiskSolution {
    support: Vec<(usize, f64)>,
    objective: f64,
    risk: f64,
}

impl RiskSolution {
    fn single(step: usize, cost: &[f64], risk: &[f64]) -> Self {
        Self {
            support: vec![(step, 1.0)],
            objective: cost[step],
            risk: risk[step],
        }
    }

    /// `(step, weight)` pairs with positive weight, one or two of them, ascending risk.
    pub fn support(&self) -> &[(usize, f64)] {
        &self.support
    }

    /// The optimal value `a·c`.
    pub fn objective(&self) -> f64 {
        self.objective
    }

    /// The risk used, `a·r ≤ r̄`.
    pub fn risk(&self) -> f64 {
        self.risk
    }

    /// `a·v` for any vector `v` of length H (the realised cost when `v` is the true price).
    pub fn dot(&self, values: &[f64]) -> f64 {
        self.support
            .iter()
            .map(|&(h, w)| w * values.get(h).copied().unwrap_or(f64::NAN))
            .sum()
    }

    /// The dense allocation vector of length `horizon`.
    pub fn to_dense(&self, horizon: usize) -> Array1<f64> {
        let mut a = Array1::zeros(horizon);
        for &(h, w) in &self.support {
            if h < horizon {
                a[h] = w;
            }
        }
        a
    }
}

/// One-shot solve of `min a·c s.t. a ≥ 0, Σa = 1, a·r ≤ r̄` in O(H log H) (O(H) when the
/// cheapest step is within budget).
///
/// ```
/// use fundalloc_timeseries_pno::{PnoError, solve_risk_aware};
/// let s = solve_risk_aware(&[2.0, 1.0], &[0.0, 1.0], 1.0)?; // budget is slack
/// assert_eq!(s.support(), &[(1, 1.0)]);
/// let err = solve_risk_aware(&[2.0, 1.0], &[0.5, 1.0], 0.1).unwrap_err();
/// assert!(matches!(err, PnoError::Infeasible { .. }));
/// # Ok::<(), PnoError>(())
/// ```
pub fn solve_risk_aware(cost: &[f64], risk: &[f64], budget: f64) -> Result<RiskSolution> {
    if risk.is_empty() {
        return Err(PnoError::from(Empty::new("risk vector")));
    }
    if cost.len() != risk.len() {
        return Err(PnoError::from(ShapeMismatch::new(
            "cost vector vs risk vector",
            risk.len(),
            cost.len(),
        )));
    }
    check_finite("risk vector", risk)?;
    check_finite("cost vector", cost)?;
    if !budget.is_finite() {
        return Err(PnoError::from(NonFinite::at_index(
            "risk budget",
            0,
            budget,
        )));
    }
    // One O(H) pass: the least risk (feasibility) and the cheapest step (ties: least risky, first).
    let mut min_risk = risk[0];
    let mut best = 0;
    for h in 1..risk.len() {
        min_risk = min_risk.min(risk[h]);
        if cost[h] < cost[best] || (cost[h] == cost[best] && risk[h] < risk[best]) {
            best = h;
        }
    }
    if budget < min_risk {
        return Err(PnoError::Infeasible { budget, min_risk });
    }
    if risk[best] <= budget {
        return Ok(RiskSolution::single(best, cost, risk));
    }
    // Only the steps with r ≤ r_best can lie on the hull between the least risky and `best`;
    // sort just those (O(H log H) in the worst case).
    let mut points: Vec<(f64, f64, usize)> = (0..risk.len())
        .filter(|&h| risk[h] <= risk[best])
        .map(|h| (risk[h], cost[h], h))
        .collect();
    points.sort_unstable_by(|a, b| {
        a.0.total_cmp(&b.0)
            .then(a.1.total_cmp(&b.1))
            .then(a.2.cmp(&b.2))
    });
    Ok(mix_on_lower_hull(points.into_iter(), budget, cost, risk))
}

/// The `q`-quantile of `values` with linear interpolation between order statistics
/// (`numpy.quantile`'s default): position `q·(n−1)` in the sorted values.
pub fn quantile(values: &[f64], q: f64) -> Result<f64> {
    if values.is_empty() {
        return Err(PnoError::from(Empty::new("quantile input")));
    }
    check_finite("quantile input", values)?;
    check::probability("quantile level", q)?;
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    Ok(sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo]))
}

#[cfg(test)]
mod tests;
