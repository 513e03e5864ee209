//! Local distances: HEOM (Eq. 1), cosine (Eq. 2) and the best portfolio matching (Eq. 3–4).
//!
//! The global weighted distance of Eq. 5 lives on the case base
//! ([`crate::CaseBase::distance`]), since it needs the current feature ranges.

use crate::assignment::{AssignmentScratch, solve_assignment};
use crate::product::N_CLASSES;

/// HEOM distance of a linear feature: 1 if either value is missing, else
/// `rn_diff(x, y) = |x − y| / range(f)`, clamped to `[0, 1]` (a target may lie outside the
/// case base's range). With a zero range (all stored values equal) it is 0 for equal values
/// and 1 otherwise.
#[inline]
pub fn heom_linear(x: Option<f64>, y: Option<f64>, range: f64) -> f64 {
    match (x, y) {
        (Some(x), Some(y)) => linear_raw(x, y, range),
        _ => 1.0,
    }
}

#[inline]
pub(crate) fn linear_raw(x: f64, y: f64, range: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        return 1.0;
    }
    if range > 0.0 {
        ((x - y).abs() / range).min(1.0)
    } else if x == y {
        0.0
    } else {
        1.0
    }
}

/// HEOM distance of a nominal feature: 1 if either value is missing, else `overlap(x, y)`
/// from the row-major `n × n` matrix `overlap` (out-of-range codes count as missing).
#[inline]
pub fn heom_nominal(x: Option<u16>, y: Option<u16>, overlap: &[f64], n: usize) -> f64 {
    match (x, y) {
        (Some(x), Some(y)) if usize::from(x) < n && usize::from(y) < n => overlap
            .get(usize::from(x) * n + usize::from(y))
            .copied()
            .unwrap_or(1.0),
        _ => 1.0,
    }
}

/// Cosine distance (Eq. 2): `1 − Σ aᵢbᵢ / (‖a‖ ‖b‖)`. With non-negative components it lies in
/// `[0, 1]`; the result is clamped there against rounding. A zero vector (or length mismatch)
/// counts as a missing value: distance 1.
pub fn cosine_distance(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() {
        return 1.0;
    }
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa <= 0.0 || bb <= 0.0 {
        return 1.0;
    }
    (1.0 - ab / (aa.sqrt() * bb.sqrt())).clamp(0.0, 1.0)
}

/// Cosine distance between two sparse vectors given as `(index, value)` lists sorted by index,
/// with precomputed Euclidean norms.
pub(crate) fn sparse_cosine(
    ai: &[u32],
    av: &[f64],
    an: f64,
    bi: &[u32],
    bv: &[f64],
    bn: f64,
) -> f64 {
    if an <= 0.0 || bn <= 0.0 {
        return 1.0;
    }
    let (mut i, mut j, mut dot) = (0, 0, 0.0);
    while i < ai.len() && j < bi.len() {
        match ai[i].cmp(&bi[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                dot += av[i] * bv[j];
                i += 1;
                j += 1;
            }
        }
    }
    (1.0 - dot / (an * bn)).clamp(0.0, 1.0)
}

/// The best match between two customers' first-level portfolios (Eq. 3–4).
#[derive(Debug, Clone, PartialEq)]
pub struct PortfolioMatch {
    /// `Dp(Pc, Pt)`: the minimum over pairings of the mean cosine distance of the
    /// `min(n, m)` matched pairs; 1 when either customer has no portfolio.
    pub distance: f64,
    /// The matched `(target portfolio, case portfolio)` index pairs (empty without portfolios).
    pub pairs: Vec<(usize, usize)>,
}

/// Eq. 3–4: pairs the target's portfolios `pt` with a case's portfolios `pc` (first-level
/// 6-class arrays) so that the mean cosine distance over the `min(n, m)` pairs is minimal.
/// Excess portfolios on the longer side are left out. Solved exactly as an assignment problem
/// (equal to enumerating all permutations; see the tests).
pub fn best_portfolio_match(pt: &[[f64; N_CLASSES]], pc: &[[f64; N_CLASSES]]) -> PortfolioMatch {
    if pt.is_empty() || pc.is_empty() {
        return PortfolioMatch {
            distance: 1.0,
            pairs: Vec::new(),
        };
    }
    let cost: Vec<f64> = pt
        .iter()
        .flat_map(|a| pc.iter().map(move |b| cosine_distance(a, b)))
        .collect();
    match solve_assignment(&cost, pt.len(), pc.len()) {
        Some(a) => PortfolioMatch {
            distance: a.cost / pt.len().min(pc.len()) as f64,
            pairs: a.pairs,
        },
        None => PortfolioMatch {
            distance: 1.0,
            pairs: Vec::new(),
        },
    }
}

/// `Dp` on unit-normalised first-level vectors (cosine distance = 1 − dot), reusing buffers.
/// `cost` is scratch space. Returns the mean matched distance (1 if a side is empty).
pub(crate) fn dp_unit(
    pt: &[[f64; N_CLASSES]],
    pc: &[[f64; N_CLASSES]],
    cost: &mut Vec<f64>,
    scratch: &mut AssignmentScratch,
) -> f64 {
    let (n, m) = (pt.len(), pc.len());
    if n == 0 || m == 0 {
        return 1.0;
    }
    let unit_dist = |a: &[f64; N_CLASSES], b: &[f64; N_CLASSES]| {
        let mut d = 0.0;
        for k in 0..N_CLASSES {
            d += a[k] * b[k];
        }
        (1.0 - d).clamp(0.0, 1.0)
    };
    if n == 1 || m == 1 {
        // One pair: the best single pair is the minimum entry.
        let mut best = f64::INFINITY;
        for a in pt {
            for b in pc {
                best = best.min(unit_dist(a, b));
            }
        }
        return best;
    }
    if n <= 3 && m <= 3 {
        // At most 6 injective maps: enumerate them (exact, and cheaper than the general solver
        // in the inner loop of Step 1).
        let mut c = [0.0; 9];
        for (i, a) in pt.iter().enumerate() {
            for (j, b) in pc.iter().enumerate() {
                c[i * 3 + j] = unit_dist(a, b);
            }
        }
        let (r, large) = (n.min(m), n.max(m));
        let mut best = f64::INFINITY;
        for p in PERMS3 {
            if p[..r].iter().all(|&x| x < large) {
                let s: f64 = (0..r)
                    .map(|i| {
                        if n <= m {
                            c[i * 3 + p[i]]
                        } else {
                            c[p[i] * 3 + i]
                        }
                    })
                    .sum();
                best = best.min(s);
            }
        }
        return best / r as f64;
    }
    cost.clear();
    for a in pt {
        for b in pc {
            cost.push(unit_dist(a, b));
        }
    }
    scratch.solve(cost, n, m) / n.min(m) as f64
}

/// The permutations of {0, 1, 2}; their first `r` entries enumerate the injective maps used by
/// the small-case path of [`dp_unit`].
const PERMS3: [[usize; 3]; 6] = [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
];

/// Normalises a first-level vector to unit length (zero stays zero).
pub(crate) fn unit(v: [f64; N_CLASSES]) -> [f64; N_CLASSES] {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 { v.map(|x| x / norm) } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assignment::brute_force_assignment;
    use approx::assert_abs_diff_eq;
    use proptest::prelude::*;

    #[test]
    fn heom_hand_values() {
        assert_eq!(heom_linear(Some(30.0), Some(50.0), 40.0), 0.5);
        assert_eq!(heom_linear(Some(30.0), None, 40.0), 1.0);
        assert_eq!(heom_linear(None, None, 40.0), 1.0);
        assert_eq!(heom_linear(Some(0.0), Some(100.0), 40.0), 1.0); // clamped
        assert_eq!(heom_linear(Some(3.0), Some(3.0), 0.0), 0.0);
        assert_eq!(heom_linear(Some(3.0), Some(4.0), 0.0), 1.0);
        let m = [0.0, 0.25, 0.25, 0.0];
        assert_eq!(heom_nominal(Some(0), Some(1), &m, 2), 0.25);
        assert_eq!(heom_nominal(Some(1), Some(1), &m, 2), 0.0);
        assert_eq!(heom_nominal(Some(1), None, &m, 2), 1.0);
        assert_eq!(heom_nominal(Some(7), Some(1), &m, 2), 1.0);
    }

    #[test]
    fn cosine_hand_values() {
        assert_abs_diff_eq!(cosine_distance(&[1.0, 0.0], &[0.0, 1.0]), 1.0);
        assert_abs_diff_eq!(
            cosine_distance(&[1.0, 1.0], &[2.0, 2.0]),
            0.0,
            epsilon = 1e-12
        );
        // (1,0)·(1,1) = 1, norms 1 and √2 → 1 − 1/√2
        assert_abs_diff_eq!(
            cosine_distance(&[1.0, 0.0], &[1.0, 1.0]),
            1.0 - 1.0 / 2f64.sqrt(),
            epsilon = 1e-12
        );
        assert_eq!(cosine_distance(&[0.0, 0.0], &[1.0, 1.0]), 1.0);
        let d = sparse_cosine(
            &[0, 3],
            &[1.0, 1.0],
            2f64.sqrt(),
            &[3, 5],
            &[1.0, 1.0],
            2f64.sqrt(),
        );
        assert_abs_diff_eq!(d, 0.5, epsilon = 1e-12);
    }

    #[test]
    fn best_match_hand_values() {
        let e = |k: usize| {
            let mut v = [0.0; 6];
            v[k] = 1.0;
            v
        };
        // target {e0, e1}, case {e1, e2, e0}: perfect pairs e0-e0, e1-e1 → Dp = 0
        let m = best_portfolio_match(&[e(0), e(1)], &[e(1), e(2), e(0)]);
        assert_abs_diff_eq!(m.distance, 0.0);
        assert_eq!(m.pairs, vec![(0, 2), (1, 0)]);
        // target {e0}, case {e1, (e0+e1)}: best is (1,1,0..) with distance 1 − 1/√2
        let mut h = [0.0; 6];
        h[0] = 1.0;
        h[1] = 1.0;
        let m = best_portfolio_match(&[e(0)], &[e(1), h]);
        assert_abs_diff_eq!(m.distance, 1.0 - 1.0 / 2f64.sqrt(), epsilon = 1e-12);
        assert_eq!(m.pairs, vec![(0, 1)]);
        assert_eq!(best_portfolio_match(&[], &[e(0)]).distance, 1.0);
    }

    proptest! {
        #[test]
        fn dp_unit_equals_permutation_enumeration(
            pt in proptest::collection::vec(proptest::array::uniform6(0.0f64..1.0), 1..5),
            pc in proptest::collection::vec(proptest::array::uniform6(0.0f64..1.0), 1..5),
        ) {
            prop_assume!(pt.iter().chain(&pc).all(|v| v.iter().sum::<f64>() > 1e-6));
            let cost: Vec<f64> = pt.iter().flat_map(|a| pc.iter().map(move |b| cosine_distance(a, b))).collect();
            let brute = brute_force_assignment(&cost, pt.len(), pc.len()).unwrap().cost / pt.len().min(pc.len()) as f64;
            let ut: Vec<_> = pt.iter().map(|v| unit(*v)).collect();
            let uc: Vec<_> = pc.iter().map(|v| unit(*v)).collect();
            let fast = dp_unit(&ut, &uc, &mut Vec::new(), &mut AssignmentScratch::default());
            prop_assert!((fast - brute).abs() < 1e-9);
            prop_assert!((best_portfolio_match(&pt, &pc).distance - brute).abs() < 1e-9);
        }
    }
}
