//! Exact rectangular assignment (the best portfolio matching of Eq. 3–4).
//!
//! Given an `n × m` cost matrix, choose `min(n, m)` pairs `(i, j)`, no row and no column used
//! twice, minimising the summed cost. Enumerating the permutations of Eq. 3 costs
//! `O(max(n,m)! / |n−m|!)`; the Hungarian algorithm with potentials (Kuhn–Munkres in the
//! Jonker–Volgenant shortest-augmenting-path form) solves it exactly in `O(r² c)` with
//! `r = min(n, m)`, `c = max(n, m)`.

/// An optimal assignment.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// The `min(n, m)` matched `(row, column)` pairs, sorted by row.
    pub pairs: Vec<(usize, usize)>,
    /// The summed cost of the pairs.
    pub cost: f64,
}

/// Reusable buffers so that repeated solves (one per case in Step 1) do not allocate.
#[derive(Debug, Default, Clone)]
pub(crate) struct AssignmentScratch {
    u: Vec<f64>,
    v: Vec<f64>,
    p: Vec<usize>,
    way: Vec<usize>,
    minv: Vec<f64>,
    used: Vec<bool>,
    /// `row_of_col[j]` after a solve: the (1-based) row matched to column `j` (0 = none),
    /// in the orientation actually solved (rows ≤ columns).
    transposed: bool,
}

impl AssignmentScratch {
    /// Solves the assignment for a row-major `rows × cols` cost matrix and returns the optimal
    /// summed cost. Costs must be finite. Empty matrices cost 0.
    pub(crate) fn solve(&mut self, cost: &[f64], rows: usize, cols: usize) -> f64 {
        if rows == 0 || cols == 0 {
            self.p.clear();
            return 0.0;
        }
        self.transposed = rows > cols;
        let (n, m) = if self.transposed {
            (cols, rows)
        } else {
            (rows, cols)
        };
        // a(i, j), 1-based, in the orientation with n <= m.
        let a = |i: usize, j: usize| -> f64 {
            if rows > cols {
                cost[(j - 1) * cols + (i - 1)]
            } else {
                cost[(i - 1) * cols + (j - 1)]
            }
        };
        self.u.clear();
        self.u.resize(n + 1, 0.0);
        self.v.clear();
        self.v.resize(m + 1, 0.0);
        self.p.clear();
        self.p.resize(m + 1, 0);
        self.way.clear();
        self.way.resize(m + 1, 0);
        for i in 1..=n {
            self.p[0] = i;
            let mut j0 = 0;
            self.minv.clear();
            self.minv.resize(m + 1, f64::INFINITY);
            self.used.clear();
            self.used.resize(m + 1, false);
            loop {
                self.used[j0] = true;
                let i0 = self.p[j0];
                let mut delta = f64::INFINITY;
                let mut j1 = 0;
                for j in 1..=m {
                    if !self.used[j] {
                        let cur = a(i0, j) - self.u[i0] - self.v[j];
                        if cur < self.minv[j] {
                            self.minv[j] = cur;
                            self.way[j] = j0;
                        }
                        if self.minv[j] < delta {
                            delta = self.minv[j];
                            j1 = j;
                        }
                    }
                }
                if j1 == 0 {
                    // Only reachable with non-finite costs; callers pass finite costs.
                    break;
                }
                for j in 0..=m {
                    if self.used[j] {
                        self.u[self.p[j]] += delta;
                        self.v[j] -= delta;
                    } else {
                        self.minv[j] -= delta;
                    }
                }
                j0 = j1;
                if self.p[j0] == 0 {
                    break;
                }
            }
            loop {
                let j1 = self.way[j0];
                self.p[j0] = self.p[j1];
                j0 = j1;
                if j0 == 0 {
                    break;
                }
            }
        }
        (1..=m)
            .filter(|&j| self.p[j] != 0)
            .map(|j| a(self.p[j], j))
            .sum()
    }

    /// The pairs `(row, col)` of the last solve, in the caller's orientation, sorted by row.
    pub(crate) fn pairs(&self) -> Vec<(usize, usize)> {
        let mut pairs: Vec<(usize, usize)> = (1..self.p.len())
            .filter(|&j| self.p[j] != 0)
            .map(|j| {
                let (i, j) = (self.p[j] - 1, j - 1);
                if self.transposed { (j, i) } else { (i, j) }
            })
            .collect();
        pairs.sort_unstable();
        pairs
    }
}

/// Solves the rectangular assignment problem exactly: `min(rows, cols)` pairs of minimum total
/// cost. `cost` is row-major `rows × cols`; every entry must be finite (NaN/∞ → `None`, as
/// does a length that is not `rows * cols`).
pub fn solve_assignment(cost: &[f64], rows: usize, cols: usize) -> Option<Assignment> {
    if cost.len() != rows.checked_mul(cols)? || cost.iter().any(|c| !c.is_finite()) {
        return None;
    }
    let mut scratch = AssignmentScratch::default();
    let total = scratch.solve(cost, rows, cols);
    Some(Assignment {
        pairs: scratch.pairs(),
        cost: total,
    })
}

/// The reference solution by enumeration of every injective map from the smaller side to the
/// larger one (Eq. 3 taken literally). Exponential: for tests and tiny inputs only.
pub fn brute_force_assignment(cost: &[f64], rows: usize, cols: usize) -> Option<Assignment> {
    if cost.len() != rows.checked_mul(cols)? || cost.iter().any(|c| !c.is_finite()) {
        return None;
    }
    let transposed = rows > cols;
    let (n, m) = if transposed {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let at = |i: usize, j: usize| {
        if transposed {
            cost[j * cols + i]
        } else {
            cost[i * cols + j]
        }
    };
    let mut best = (f64::INFINITY, Vec::new());
    let mut chosen = Vec::with_capacity(n);
    let mut used = vec![false; m];
    #[allow(clippy::too_many_arguments)]
    fn rec(
        i: usize,
        n: usize,
        m: usize,
        acc: f64,
        at: &dyn Fn(usize, usize) -> f64,
        chosen: &mut Vec<usize>,
        used: &mut [bool],
        best: &mut (f64, Vec<usize>),
    ) {
        if i == n {
            if acc < best.0 {
                *best = (acc, chosen.clone());
            }
            return;
        }
        for j in 0..m {
            if !used[j] {
                used[j] = true;
                chosen.push(j);
                rec(i + 1, n, m, acc + at(i, j), at, chosen, used, best);
                chosen.pop();
                used[j] = false;
            }
        }
    }
    rec(0, n, m, 0.0, &at, &mut chosen, &mut used, &mut best);
    if n == 0 {
        best.0 = 0.0;
    }
    let mut pairs: Vec<(usize, usize)> = best
        .1
        .iter()
        .enumerate()
        .map(|(i, &j)| if transposed { (j, i) } else { (i, j) })
        .collect();
    pairs.sort_unstable();
    Some(Assignment {
        pairs,
        cost: best.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hand_computed_rectangular_cases() {
        // 2 x 3: best is (0,1)=1 + (1,0)=2 = 3 (beats (0,0)+(1,1) = 3.1).
        let c = [1.5, 1.0, 9.0, 2.0, 1.6, 9.0];
        let a = solve_assignment(&c, 2, 3).unwrap();
        assert_eq!(a.pairs, vec![(0, 1), (1, 0)]);
        assert!((a.cost - 3.0).abs() < 1e-12);
        // transposed 3 x 2
        let t = [1.5, 2.0, 1.0, 1.6, 9.0, 9.0];
        let a = solve_assignment(&t, 3, 2).unwrap();
        assert_eq!(a.pairs, vec![(0, 1), (1, 0)]);
        assert!((a.cost - 3.0).abs() < 1e-12);
        assert_eq!(solve_assignment(&[], 0, 4).unwrap().cost, 0.0);
        assert!(solve_assignment(&[f64::NAN], 1, 1).is_none());
        assert!(solve_assignment(&[1.0], 1, 2).is_none());
    }

    proptest! {
        #[test]
        fn hungarian_equals_brute_force(
            (rows, cols, cost) in (1usize..=5, 1usize..=6).prop_flat_map(|(r, c)| {
                (Just(r), Just(c), proptest::collection::vec(0.0f64..1.0, r * c))
            })
        ) {
            let fast = solve_assignment(&cost, rows, cols).unwrap();
            let slow = brute_force_assignment(&cost, rows, cols).unwrap();
            prop_assert!((fast.cost - slow.cost).abs() < 1e-9, "{} vs {}", fast.cost, slow.cost);
            prop_assert_eq!(fast.pairs.len(), rows.min(cols));
            let sum: f64 = fast.pairs.iter().map(|&(i, j)| cost[i * cols + j]).sum();
            prop_assert!((sum - fast.cost).abs() < 1e-9);
            let mut rs: Vec<_> = fast.pairs.iter().map(|p| p.0).collect();
            let mut cs: Vec<_> = fast.pairs.iter().map(|p| p.1).collect();
            rs.dedup(); cs.sort_unstable(); cs.dedup();
            prop_assert_eq!(rs.len(), rows.min(cols));
            prop_assert_eq!(cs.len(), rows.min(cols));
        }
    }
}
