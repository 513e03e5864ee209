//! The split conformal quantile: an exact order statistic with the finite-sample correction.
//!
//! With `n` exchangeable calibration scores s₁ … sₙ and a coverage level γ ∈ (0, 1), the
//! conformal quantile is the k-th smallest score with
//!
//! ```text
//! k = ⌈(n + 1)·γ⌉ .
//! ```
//!
//! If a new score s_{n+1} is exchangeable with the calibration scores, its rank among all n+1
//! is uniform, so P(s_{n+1} ≤ s_(k)) ≥ k/(n+1) ≥ γ (and ≤ k/(n+1) < γ + 1/(n+1) when the scores
//! have no ties). When k > n no calibration score is large enough and the quantile is +∞.

use ndarray::ArrayView1;

use fundalloc_core_types::{Empty, NonFinite, Position, check};

use crate::{ConformalError, Real, Result};

/// What to do when the rank ⌈(n+1)·γ⌉ exceeds the number of scores `n`.
///
/// This happens when n < γ/(1 − γ): with γ = 0.9 at least 9 scores are needed, with γ = 0.95
/// at least 19, with γ = 0.99 at least 99.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RankOverflow {
    /// Return [`ConformalError::TooFewScores`] (the default; an infinite radius rarely is
    /// what a downstream optimiser expects).
    #[default]
    Error,
    /// Return +∞: the interval is the whole real line, which keeps the coverage guarantee.
    Infinite,
}

/// The 1-based rank k = ⌈(n+1)·level⌉ of the conformal quantile among `n` scores.
///
/// The product is computed in `f64`; when it lies within a few ulps of an integer it is taken
/// to be that integer, so a level typed as a decimal means that decimal: `0.07` with n = 99
/// gives k = 7, not the 8 a naive `ceil(100.0 * 0.07)` (= `ceil(7.000000000000001)`) gives.
/// The rank may exceed `n` (see [`RankOverflow`]).
///
/// ```
/// use fundalloc_conformal::conformal_rank;
/// assert_eq!(conformal_rank(9, 0.9)?, 9);   // ⌈10 · 0.9⌉
/// assert_eq!(conformal_rank(10, 0.9)?, 10); // ⌈11 · 0.9⌉ = ⌈9.9⌉
/// assert_eq!(conformal_rank(8, 0.9)?, 9);   // > n: no finite quantile
/// # Ok::<(), fundalloc_conformal::ConformalError>(())
/// ```
pub fn conformal_rank(n: usize, level: f64) -> Result<usize> {
    check_level("level", level)?;
    Ok(rank_unchecked(n, level))
}

/// ⌈(n+1)·level⌉ for a level already known to be in (0, 1).
pub(crate) fn rank_unchecked(n: usize, level: f64) -> usize {
    let x = (n as f64 + 1.0) * level;
    let nearest = x.round();
    // Snap only products that are an integer up to rounding: |error| ≤ a few ulps of x.
    let k = if (x - nearest).abs() <= 4.0 * f64::EPSILON * x {
        nearest
    } else {
        x.ceil()
    };
    // k ≥ 1 because level > 0 and n + 1 ≥ 1; the cast is exact for any realistic n.
    (k as usize).max(1)
}

/// The smallest number of scores `n` with ⌈(n+1)·level⌉ ≤ n.
pub(crate) fn min_scores_for(level: f64) -> usize {
    // (n+1)·level ≤ n ⇔ n ≥ level / (1 − level); start there and fix rounding either way.
    let mut n = (level / (1.0 - level)).floor().max(1.0) as usize;
    while n > 1 && rank_unchecked(n - 1, level) < n {
        n -= 1;
    }
    while rank_unchecked(n, level) > n {
        n += 1;
    }
    n
}

/// A coverage level (γ, or a level derived from it) must be in (0, 1).
pub(crate) fn check_level(name: &'static str, level: f64) -> Result<()> {
    check::in_open_unit(name, level)?;
    Ok(())
}

/// The split conformal quantile of `scores` at `level`: the ⌈(n+1)·level⌉-th smallest score.
///
/// Scores may be any finite values (signed scores are fine here). When the rank exceeds n the
/// result is +∞ or [`ConformalError::TooFewScores`], as `overflow` says. Runs in O(n) (a
/// selection, not a sort) on a copy; the input is not modified.
///
/// ```
/// use fundalloc_conformal::{conformal_quantile, RankOverflow};
/// use ndarray::array;
/// let scores = array![0.3, 0.1, 0.4, 0.2];
/// // n = 4, γ = 0.5: rank ⌈5 · 0.5⌉ = 3, the third smallest score.
/// assert_eq!(conformal_quantile(scores.view(), 0.5, RankOverflow::Error)?, 0.3);
/// // γ = 0.9: rank ⌈4.5⌉ = 5 > 4.
/// assert!(conformal_quantile(scores.view(), 0.9, RankOverflow::Error).is_err());
/// assert_eq!(conformal_quantile(scores.view(), 0.9, RankOverflow::Infinite)?, f64::INFINITY);
/// # Ok::<(), fundalloc_conformal::ConformalError>(())
/// ```
pub fn conformal_quantile<T: Real>(
    scores: ArrayView1<'_, T>,
    level: f64,
    overflow: RankOverflow,
) -> Result<T> {
    check_level("level", level)?;
    if scores.is_empty() {
        return Err(Empty::new("calibration scores").into());
    }
    let mut buffer = Vec::with_capacity(scores.len());
    for (row, &s) in scores.iter().enumerate() {
        if !s.is_finite() {
            return Err(non_finite("calibration scores", Position::Index(row), s));
        }
        buffer.push(s);
    }
    quantile_of_finite(&mut buffer, level, overflow)
}

/// The conformal quantile of finite scores; reorders `scores`.
pub(crate) fn quantile_of_finite<T: Real>(
    scores: &mut [T],
    level: f64,
    overflow: RankOverflow,
) -> Result<T> {
    let n = scores.len();
    let rank = rank_unchecked(n, level);
    if rank > n {
        return match overflow {
            RankOverflow::Infinite => Ok(T::infinity()),
            RankOverflow::Error => Err(ConformalError::TooFewScores {
                n,
                level,
                rank,
                needed: min_scores_for(level),
            }),
        };
    }
    let (_, kth, _) = scores.select_nth_unstable_by(rank - 1, |a, b| {
        // Scores are finite here, so partial_cmp is total.
        a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal)
    });
    Ok(*kth)
}

pub(crate) fn non_finite<T: Real>(what: &'static str, at: Position, value: T) -> ConformalError {
    let value = value.to_f64_lossless();
    match at {
        Position::Index(i) => NonFinite::at_index(what, i, value),
        Position::Cell { row, col } => NonFinite::at_cell(what, row, col, value),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fundalloc_core_types::InvalidParameter;
    use ndarray::array;

    #[test]
    fn rank_is_the_ceiling_of_n_plus_one_times_level() {
        assert_eq!(rank_unchecked(1, 0.5), 1);
        assert_eq!(rank_unchecked(19, 0.95), 19);
        assert_eq!(rank_unchecked(18, 0.95), 19);
        assert_eq!(rank_unchecked(20, 0.95), 20); // ⌈19.95⌉
        assert_eq!(rank_unchecked(99, 0.07), 7); // decimal meaning, not ⌈7.000000000000001⌉
        assert_eq!(rank_unchecked(100, 0.07), 8); // ⌈7.07⌉
        assert_eq!(rank_unchecked(999, 0.9), 900);
        assert_eq!(rank_unchecked(1000, 0.9), 901); // ⌈900.9⌉
    }

    #[test]
    fn rank_matches_exact_rational_arithmetic_for_percent_levels() {
        // level = p/100 exactly; k = ⌈(n+1)·p/100⌉ computed in integers.
        for p in 1..100u64 {
            let level = p as f64 / 100.0;
            for n in 1..2000u64 {
                let exact = ((n + 1) * p).div_ceil(100) as usize;
                assert_eq!(rank_unchecked(n as usize, level), exact, "p = {p}, n = {n}");
            }
        }
    }

    #[test]
    fn min_scores_is_the_first_n_with_a_finite_quantile() {
        for level in [
            0.01,
            0.1,
            0.5,
            0.9,
            0.95,
            0.975,
            0.99,
            0.999,
            1.0 - 0.05 / 30.0,
        ] {
            let needed = min_scores_for(level);
            assert!(rank_unchecked(needed, level) <= needed, "{level}");
            assert!(
                needed == 1 || rank_unchecked(needed - 1, level) > needed - 1,
                "{level}"
            );
        }
        assert_eq!(min_scores_for(0.9), 9);
        assert_eq!(min_scores_for(0.95), 19);
        assert_eq!(min_scores_for(0.99), 99);
    }

    #[test]
    fn quantile_is_the_kth_smallest() {
        let s = array![5.0f32, 1.0, 4.0, 2.0, 3.0, 9.0, 7.0, 8.0, 6.0, 0.0];
        // n = 10: γ = 0.5 → k = ⌈5.5⌉ = 6 → the 6th smallest of 0..9 is 5.
        assert_eq!(
            conformal_quantile(s.view(), 0.5, RankOverflow::Error).unwrap(),
            5.0
        );
        assert_eq!(
            conformal_quantile(s.view(), 0.9, RankOverflow::Error).unwrap(),
            9.0
        );
        assert_eq!(
            conformal_quantile(s.view(), 0.05, RankOverflow::Error).unwrap(),
            0.0
        );
        // γ = 0.91: k = ⌈10.01⌉ = 11 > 10.
        assert_eq!(
            conformal_quantile(s.view(), 0.91, RankOverflow::Error),
            Err(ConformalError::TooFewScores {
                n: 10,
                level: 0.91,
                rank: 11,
                needed: 11
            })
        );
        assert!(
            conformal_quantile(s.view(), 0.91, RankOverflow::Infinite)
                .unwrap()
                .is_infinite()
        );
        // The input is untouched.
        assert_eq!(s[0], 5.0);
    }

    #[test]
    fn typed_errors() {
        let s = array![1.0, f64::NAN, 2.0];
        assert!(matches!(
            conformal_quantile(s.view(), 0.5, RankOverflow::Error),
            Err(e @ ConformalError::NonFinite(_)) if e.row() == Some(1)
        ));
        let s = array![1.0, 2.0, f64::INFINITY];
        assert!(matches!(
            conformal_quantile(s.view(), 0.5, RankOverflow::Error),
            Err(e @ ConformalError::NonFinite(_)) if e.row() == Some(2)
        ));
        let empty = ndarray::Array1::<f64>::zeros(0);
        assert!(matches!(
            conformal_quantile(empty.view(), 0.5, RankOverflow::Error),
            Err(ConformalError::Empty(_))
        ));
        for bad in [0.0, 1.0, -0.1, 1.5, f64::NAN] {
            assert!(matches!(
                conformal_quantile(array![1.0].view(), bad, RankOverflow::Infinite),
                Err(ConformalError::InvalidParameter(InvalidParameter {
                    name: "level",
                    ..
                }))
            ));
            assert!(conformal_rank(10, bad).is_err());
        }
    }
}
