//! HA as the paper writes it — **read this file first**.
//!
//! PTOFA's Algorithm 1 with the heuristic score of Eq. 7, in the paper's names (`U`, `F`,
//! `E_uf`, `t_u`, `r_f`, `d_f`, `α_f`, `h_u`, `K`, `X`), with no bit packing, no batching and
//! no parallelism. It is slow (every epoch re-scores and re-sorts everyone) and exists to be
//! read and to pin the fast solver down: a property test checks that [`crate::Heuristic`]
//! returns exactly the allocation of this function, ties included.
//!
//! Two rules the paper leaves open are fixed here exactly as the fast kernels fix them:
//!
//! * **Ties.** A customer's funds are sorted by `E_uf` descending, ties to the lower fund
//!   index; customers by `h_u` descending, ties to the lower customer index.
//! * **The feasibility guard** (not in the paper). Taking the plain top-K can strand a later
//!   customer whose eligible funds have all run out. So a customer takes its open eligible
//!   funds in its sorted order, each one only if a feasible completion of the rest still
//!   exists (every unserved customer can still get its K funds and every fund its exact
//!   `d_f`). The test is the same exact max-flow as the fast kernels' guard
//!   (`guard::residual_feasible`; for K = 1 the fast kernel uses Hall's condition per risk
//!   level, which decides the same question). When the plain top-K keeps a completion, which
//!   is the usual case, the guard changes nothing and this is Algorithm 1 verbatim.
//!
//! Floating point: `α_f` is summed over the customers in index order here; the fast kernels
//! sum it exactly and round once. The two agree bit for bit whenever the sums are exact in
//! `f64` (as in the tests, whose revenues are small multiples of 1/16).

use fundalloc_core_types::{Allocation, Real};

use crate::error::{AllocError, Result, UnsupportedFeature};
use crate::guard::{Pending, residual_feasible};
use crate::kind::SolverKind;
use crate::problem::AllocationProblem;

/// HA by the book: PTOFA Algorithm 1 and Eq. 7 (see the module documentation).
///
/// Returns the same allocation as [`crate::Heuristic`], in `O(F·U²)` time or worse: for
/// reading and for tests on small instances, not for production.
///
/// # Errors
/// [`AllocError::Unsupported`] unless the problem has the paper's form (exactly K, exact
/// `d_f`); the errors of [`Allocation::from_rows`] should the guard ever fail.
pub fn reference_ha<T: Real>(problem: &AllocationProblem<T>) -> Result<Allocation> {
    // Input: F, E, T = {t_u}, R = {r_f}, D = {d_f}, K.
    let n_f = problem.n_funds();
    let k = problem.k();
    let e_uf = |u: usize, f: usize| problem.revenue().row(u)[f].to_f64_lossless();
    let t = problem.tolerance();
    let r = problem.fund_risk();
    let mut d: Vec<u64> = problem
        .exact_exposures()
        .filter(|_| problem.is_paper_form())
        .ok_or(AllocError::Unsupported {
            solver: SolverKind::Heuristic,
            feature: UnsupportedFeature::NotPaperForm,
        })?;
    // Line 1: E_uf = −∞ where r_f > t_u. Instead of storing −∞ we ask `eligible` each time;
    // a fund whose d_f reached 0 is removed from F (line 10), so "open" is `d_f > 0`.
    let eligible = |u: usize, f: usize| t[u].permits(r[f]);
    // u's open eligible funds f_1, f_2, … sorted by E_uf descending (ties: lower index).
    let sorted_funds = |u: usize, d: &[u64]| {
        let mut funds: Vec<usize> = (0..n_f).filter(|&f| eligible(u, f) && d[f] > 0).collect();
        funds.sort_by(|&a, &b| e_uf(u, b).total_cmp(&e_uf(u, a)).then(a.cmp(&b)));
        funds
    };
    let mut unserved: Vec<usize> = (0..problem.n_customers()).collect(); // U
    let mut x: Vec<Vec<u32>> = vec![Vec::new(); unserved.len()]; // X, as each u's funds
    while !unserved.is_empty() {
        // Line 2: α_f = Σ_{u ∈ U} E_uf / d_f, the fund's "consumption speed" (the sum runs
        // over the unserved customers who may hold f; a closed fund's α is never read).
        let alpha: Vec<f64> = (0..n_f)
            .map(|f| {
                let sum: f64 = unserved
                    .iter()
                    .filter(|&&u| eligible(u, f))
                    .map(|&u| e_uf(u, f))
                    .sum();
                if d[f] > 0 { sum / d[f] as f64 } else { 0.0 }
            })
            .collect();
        // Lines 3–5, Eq. 7: h_u = Σ_{j ≥ 2} α_{f_{j−1}} · (E_{u,f_{j−1}} − E_{u,f_j}), the
        // revenue u risks losing if its favourite funds run out, weighted by how fast they do.
        let h = |u: usize| {
            let funds = sorted_funds(u, &d);
            let mut h_u = 0.0;
            for j in 1..funds.len() {
                let (prev, f) = (funds[j - 1], funds[j]);
                h_u += alpha[prev] * (e_uf(u, prev) - e_uf(u, f));
            }
            h_u
        };
        // Line 6: customers by h_u descending (ties: lower index).
        let mut queue: Vec<(f64, usize)> = unserved.iter().map(|&u| (h(u), u)).collect();
        queue.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        // Lines 7–12: serve in that order until a fund runs out.
        for (_, u) in queue {
            unserved.retain(|&v| v != u); // U = U \ u
            // Line 8: u's top-K open eligible funds, behind the guard.
            let mut taken: Vec<usize> = Vec::with_capacity(k);
            for f in sorted_funds(u, &d) {
                if taken.len() == k {
                    break;
                }
                d[f] -= 1;
                taken.push(f);
                if !completion_exists(problem, &d, &unserved, u, k, &taken) {
                    d[f] += 1; // unsafe: f would strand someone; try u's next fund
                    taken.pop();
                }
            }
            x[u] = taken.iter().map(|&f| f as u32).collect();
            // Lines 9–10: a fund reached d_f = 0: it leaves F; recompute α and h (lines 2–6).
            if taken.iter().any(|&f| d[f] == 0) {
                break;
            }
        }
    }
    Ok(Allocation::from_rows(n_f, x)?)
}

/// The guard: with the remaining exposures `d`, can every customer of `unserved` still get K
/// distinct eligible open funds, and customer `u` (holding `taken`) its remaining
/// `K − |taken|`, with every fund getting exactly its `d_f`?
fn completion_exists<T: Real>(
    problem: &AllocationProblem<T>,
    d: &[u64],
    unserved: &[usize],
    u: usize,
    k: usize,
    taken: &[usize],
) -> bool {
    let t = problem.tolerance();
    let mut rest: Vec<Pending> = unserved
        .iter()
        .map(|&v| Pending {
            tolerance: t[v],
            need: k as u64,
            count: 1,
            excluded: Vec::new(),
        })
        .collect();
    rest.push(Pending {
        tolerance: t[u],
        need: (k - taken.len()) as u64,
        count: 1,
        excluded: taken.to_vec(),
    });
    residual_feasible(problem, d, &rest)
}
