//! Exact ROC AUC through the Mann–Whitney U statistic.
//!
//! The AUC is the probability that a random positive scores above a random negative, ties
//! counting one half:
//!
//! ```text
//! AUC = U / (n₊ · n₋),   U = Σ_{i: yᵢ=1} Σ_{j: yⱼ=0} ( 1[sᵢ > sⱼ] + ½·1[sᵢ = sⱼ] )
//! ```
//!
//! This equals the area under the ROC curve drawn with linear interpolation across tied
//! scores (what scikit-learn's `roc_auc_score` computes). `2U` is an integer, so it is counted
//! exactly in a `u128`; the only rounding is the final division.
//!
//! # Algorithm
//! 1. Scores are mapped to order-preserving `u64` keys ([`radix::order_key`]; `-0.0` and
//!    `+0.0` share a key, so they tie as floats do) and split by class in one branch-free pass
//!    (blocks of the input in parallel, each writing to its own slices of the outputs).
//! 2. Each class is cut into chunks of similar size (about one per worker thread in all, at
//!    most [`MAX_PARTS`] parts) and each chunk is radix sorted (a most-significant-digit split
//!    into cache-sized buckets, then least-significant-digit passes inside each bucket), in
//!    parallel with rayon.
//! 3. Pair counts are additive over chunks, so `2U = Σ_{a,b} count(P_a, N_b)`, each term one
//!    linear merge of a sorted positive chunk with a sorted negative chunk.
//!
//! Time `O(n)` (radix sort) plus `O(parts · n)` for the merges; extra memory about `3 · 8n`
//! bytes (keys and the radix sort's scratch buffer).

pub(crate) mod radix;

use rayon::prelude::*;

use crate::check::{finite, non_empty, same_len};
use crate::{MetricsError, Real, Result};

/// At most this many chunks per class: the merges cost `O(parts · n)`, so more chunks than
/// this would spend more on merging than they save on sorting.
pub const MAX_PARTS: usize = 4;
/// Inputs shorter than this are handled on the calling thread (no rayon task overhead).
const PARALLEL_THRESHOLD: usize = 1 << 16;

/// The Mann–Whitney U statistic of scores against binary labels, held exactly.
///
/// `U = Σ_{positive i} Σ_{negative j} (1[sᵢ > sⱼ] + ½·1[sᵢ = sⱼ])`; the struct stores `2U`
/// as an integer so nothing is rounded until [`auc`](Self::auc) divides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct MannWhitney {
    /// Number of positive (`true`) labels, `n₊`.
    pub n_positive: u64,
    /// Number of negative (`false`) labels, `n₋`.
    pub n_negative: u64,
    /// Twice the U statistic of the positives, `2U` (an integer since ties count ½).
    pub twice_u: u128,
}

impl MannWhitney {
    /// The U statistic of the positives (rounded to `f64`).
    pub fn u(&self) -> f64 {
        self.twice_u as f64 / 2.0
    }

    /// `AUC = U / (n₊ · n₋) = 2U / (2 · n₊ · n₋)`.
    pub fn auc(&self) -> f64 {
        let pairs = 2 * u128::from(self.n_positive) * u128::from(self.n_negative);
        self.twice_u as f64 / pairs as f64
    }
}

/// Exact ROC AUC of `scores` against `labels` (`true` = positive); ties count one half.
///
/// `AUC = U / (n₊ · n₋)` with `U` the Mann–Whitney statistic (see [`mann_whitney`]). It is
/// invariant under strictly increasing transforms of the scores, and `AUC(−s) = 1 − AUC(s)`.
/// Scores may be `f64` or `f32`; `f32` scores are widened exactly, so ties are preserved.
///
/// # Errors
/// [`Empty`](MetricsError::Empty), [`ShapeMismatch`](MetricsError::ShapeMismatch),
/// [`NonFinite`](MetricsError::NonFinite) for a NaN or ±∞ score, and
/// [`SingleClass`](MetricsError::SingleClass) when all labels are equal.
///
/// ```
/// use fundalloc_metrics::roc_auc;
/// let labels = [false, false, true, true];
/// let scores = [0.1, 0.4, 0.35, 0.8];
/// assert_eq!(roc_auc(&labels, &scores)?, 0.75);
/// // A tie between a positive and a negative counts one half.
/// assert_eq!(roc_auc(&[false, true], &[0.5_f32, 0.5])?, 0.5);
/// # Ok::<(), fundalloc_metrics::MetricsError>(())
/// ```
pub fn roc_auc<T: Real>(labels: &[bool], scores: &[T]) -> Result<f64> {
    Ok(mann_whitney(labels, scores)?.auc())
}

/// The exact Mann–Whitney U statistic of the positives' scores against the negatives'.
///
/// `U = Σ_{i: yᵢ} Σ_{j: ¬yⱼ} (1[sᵢ > sⱼ] + ½·1[sᵢ = sⱼ])`, returned as the integer `2U`
/// together with the class sizes. [`MannWhitney::auc`] turns it into the ROC AUC.
///
/// # Errors
/// As [`roc_auc`].
pub fn mann_whitney<T: Real>(labels: &[bool], scores: &[T]) -> Result<MannWhitney> {
    same_len("scores", labels.len(), scores.len())?;
    non_empty("scores", scores.len())?;
    finite("scores", scores)?;
    let n_positive = labels.iter().filter(|&&y| y).count();
    let n_negative = labels.len() - n_positive;
    if n_positive == 0 || n_negative == 0 {
        return Err(MetricsError::SingleClass {
            n_positive,
            n_negative,
        });
    }
    let parts = if scores.len() < PARALLEL_THRESHOLD {
        1
    } else {
        rayon::current_num_threads().clamp(1, MAX_PARTS)
    };
    let twice_u = twice_u_statistic(labels, scores, n_positive, n_negative, parts);
    Ok(MannWhitney {
        n_positive: n_positive as u64,
        n_negative: n_negative as u64,
        twice_u,
    })
}

/// `2U` over validated input, with each class cut into about `parts · n_class / n` chunks (at
/// least one), so the chunks are of similar size and a small class is not split needlessly.
fn twice_u_statistic<T: Real>(
    labels: &[bool],
    scores: &[T],
    n_positive: usize,
    n_negative: usize,
    parts: usize,
) -> u128 {
    let n = scores.len();
    let chunk_len = |count: usize| {
        let chunks = ((count * parts + n / 2) / n).max(1);
        count.div_ceil(chunks).max(1)
    };
    let (pos_chunk, neg_chunk) = (chunk_len(n_positive), chunk_len(n_negative));
    let (mut positives, mut negatives) = split_keys(labels, scores, n_positive, n_negative, parts);
    if parts == 1 {
        radix::radix_sort(&mut positives);
        radix::radix_sort(&mut negatives);
    } else {
        let sort = |keys: &mut [u64], chunk| keys.par_chunks_mut(chunk).for_each(radix::radix_sort);
        rayon::join(
            || sort(&mut positives, pos_chunk),
            || sort(&mut negatives, neg_chunk),
        );
    }
    // Each positive's count is independent of the others, so sorted positive chunks may be cut
    // further (into `parts` slices) to spread the merges over the threads too.
    let slice = pos_chunk.div_ceil(parts).max(1);
    let pairs: Vec<(&[u64], &[u64])> = positives
        .chunks(pos_chunk)
        .flat_map(|p| p.chunks(slice))
        .flat_map(|p| negatives.chunks(neg_chunk).map(move |q| (p, q)))
        .collect();
    if parts == 1 {
        pairs.iter().map(|&(p, q)| count_pairs(p, q)).sum()
    } else {
        pairs.par_iter().map(|&(p, q)| count_pairs(p, q)).sum()
    }
}

/// The order keys of the positives and of the negatives, each in input order.
///
/// The input is cut into `parts` blocks; each block's positives and negatives go to their own
/// disjoint slices of the two outputs (found from per-block label counts), so blocks fill in
/// parallel without sharing anything.
fn split_keys<T: Real>(
    labels: &[bool],
    scores: &[T],
    n_positive: usize,
    n_negative: usize,
    parts: usize,
) -> (Vec<u64>, Vec<u64>) {
    let mut positives = vec![0u64; n_positive];
    let mut negatives = vec![0u64; n_negative];
    let block = scores.len().div_ceil(parts).max(1);
    let mut jobs = Vec::with_capacity(parts);
    let (mut pos_rest, mut neg_rest) = (positives.as_mut_slice(), negatives.as_mut_slice());
    for (labels, scores) in labels.chunks(block).zip(scores.chunks(block)) {
        let p = labels.iter().filter(|&&y| y).count();
        let (pos, pr) = std::mem::take(&mut pos_rest).split_at_mut(p);
        let (neg, nr) = std::mem::take(&mut neg_rest).split_at_mut(labels.len() - p);
        (pos_rest, neg_rest) = (pr, nr);
        jobs.push((labels, scores, pos, neg));
    }
    if parts == 1 {
        jobs.into_iter()
            .for_each(|(l, s, p, n)| fill_keys(l, s, p, n));
    } else {
        jobs.into_par_iter()
            .for_each(|(l, s, p, n)| fill_keys(l, s, p, n));
    }
    (positives, negatives)
}

/// Writes each key to both outputs and advances only the cursor of its class: no branch on
/// the (unpredictable) label, and a slot written for the wrong class is overwritten by the
/// next key of that class. `pos.len()` and `neg.len()` are the block's class counts.
fn fill_keys<T: Real>(labels: &[bool], scores: &[T], pos: &mut [u64], neg: &mut [u64]) {
    let (mut i, mut j) = (0, 0);
    for (&y, s) in labels.iter().zip(scores) {
        let key = radix::order_key(s.to_f64_lossless());
        if let Some(slot) = pos.get_mut(i) {
            *slot = key;
        }
        if let Some(slot) = neg.get_mut(j) {
            *slot = key;
        }
        i += usize::from(y);
        j += usize::from(!y);
    }
}

/// `Σ_{p ∈ pos} (2·#{q ∈ neg : q < p} + #{q ∈ neg : q = p})` for two ascending key slices, in
/// one merge pass (started by a binary search, as `pos` may be a slice from the middle of the
/// class); runs of equal positives are counted at once.
fn count_pairs(pos: &[u64], neg: &[u64]) -> u128 {
    let mut total: u128 = 0;
    // Negatives strictly below the current positive value.
    let mut below = pos
        .first()
        .map_or(0, |&first| neg.partition_point(|&q| q < first));
    let mut i = 0;
    while i < pos.len() {
        if below == neg.len() {
            // Every remaining positive is above all negatives.
            total += (pos.len() - i) as u128 * 2 * neg.len() as u128;
            break;
        }
        let value = pos[i];
        let run_end = i + pos[i..].iter().take_while(|&&p| p == value).count();
        below += neg[below..].iter().take_while(|&&q| q < value).count();
        let equal = neg[below..].iter().take_while(|&&q| q == value).count();
        total += (run_end - i) as u128 * (2 * below + equal) as u128;
        i = run_end;
    }
    total
}

/// Reads 0/1 labels stored as floats (as many data sets do) into `bool`s.
///
/// # Errors
/// [`InvalidLabel`](MetricsError::InvalidLabel) at the first value that is not exactly `0` or
/// `1` (NaN included).
///
/// ```
/// use fundalloc_metrics::labels_from_01;
/// assert_eq!(labels_from_01(&[0.0, 1.0, 1.0])?, vec![false, true, true]);
/// assert!(labels_from_01(&[0.0, 0.5]).is_err());
/// # Ok::<(), fundalloc_metrics::MetricsError>(())
/// ```
pub fn labels_from_01<T: Real>(values: &[T]) -> Result<Vec<bool>> {
    values
        .iter()
        .enumerate()
        .map(|(index, &v)| {
            if v == T::one() {
                Ok(true)
            } else if v == T::zero() {
                Ok(false)
            } else {
                Err(MetricsError::InvalidLabel {
                    index,
                    value: v.to_f64_lossless(),
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fundalloc_core_types::{Empty, NonFinite, Position};

    fn brute_force(labels: &[bool], scores: &[f64]) -> f64 {
        let (mut u, mut pairs) = (0.0, 0.0);
        for (i, &yi) in labels.iter().enumerate() {
            for (j, &yj) in labels.iter().enumerate() {
                if yi && !yj {
                    pairs += 1.0;
                    if scores[i] > scores[j] {
                        u += 1.0;
                    } else if scores[i] == scores[j] {
                        u += 0.5;
                    }
                }
            }
        }
        u / pairs
    }

    #[test]
    fn perfect_inverse_and_tied_rankings() {
        let labels = [false, false, true, true];
        assert_eq!(roc_auc(&labels, &[0.1, 0.2, 0.3, 0.4]).unwrap(), 1.0);
        assert_eq!(roc_auc(&labels, &[0.4, 0.3, 0.2, 0.1]).unwrap(), 0.0);
        assert_eq!(roc_auc(&labels, &[0.7; 4]).unwrap(), 0.5);
    }

    #[test]
    fn mann_whitney_counts_half_ties() {
        // Positives 2, 3; negatives 1, 2: pairs (2>1), (2=2 → ½), (3>1), (3>2) → U = 3.5.
        let mw = mann_whitney(&[true, true, false, false], &[2.0, 3.0, 1.0, 2.0]).unwrap();
        assert_eq!(mw.twice_u, 7);
        assert_eq!(mw.u(), 3.5);
        assert_eq!(mw.auc(), 3.5 / 4.0);
    }

    #[test]
    fn signed_zeros_tie() {
        assert_eq!(roc_auc(&[true, false], &[-0.0, 0.0]).unwrap(), 0.5);
        assert_eq!(roc_auc(&[true, false], &[0.0_f32, -0.0]).unwrap(), 0.5);
    }

    #[test]
    fn chunked_parallel_count_equals_single_part() {
        let n = 20_000;
        let labels: Vec<bool> = (0..n).map(|i| (i * 31 + 7) % 5 < 2).collect();
        let scores: Vec<f64> = (0..n).map(|i| ((i * 7919) % 101) as f64 / 10.0).collect();
        let p = labels.iter().filter(|&&y| y).count();
        let one = twice_u_statistic(&labels, &scores, p, n - p, 1);
        for parts in 2..=5 {
            assert_eq!(
                twice_u_statistic(&labels, &scores, p, n - p, parts),
                one,
                "parts = {parts}"
            );
        }
        let small: Vec<usize> = (0..n).step_by(37).collect();
        let l: Vec<bool> = small.iter().map(|&i| labels[i]).collect();
        let s: Vec<f64> = small.iter().map(|&i| scores[i]).collect();
        assert!((roc_auc(&l, &s).unwrap() - brute_force(&l, &s)).abs() < 1e-15);
    }

    #[test]
    fn f32_and_f64_scores_agree() {
        let labels: Vec<bool> = (0..200).map(|i| i % 3 == 0).collect();
        let s32: Vec<f32> = (0..200).map(|i| ((i * 13) % 17) as f32 * 0.1).collect();
        let s64: Vec<f64> = s32.iter().map(|&x| f64::from(x)).collect();
        assert_eq!(
            roc_auc(&labels, &s32).unwrap(),
            roc_auc(&labels, &s64).unwrap()
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            roc_auc::<f64>(&[], &[]),
            Err(MetricsError::Empty(Empty::new("scores")))
        );
        assert!(matches!(
            roc_auc(&[true, false], &[0.1]),
            Err(MetricsError::ShapeMismatch(ref e)) if e.expected == "2" && e.found == "1"
        ));
        assert!(matches!(
            roc_auc(&[true, false, true], &[0.1, f64::NAN, 0.2]),
            Err(MetricsError::NonFinite(NonFinite {
                at: Position::Index(1),
                ..
            }))
        ));
        assert!(matches!(
            roc_auc(&[true, false], &[f32::INFINITY, 0.2]),
            Err(MetricsError::NonFinite(NonFinite {
                at: Position::Index(0),
                ..
            }))
        ));
        assert_eq!(
            roc_auc(&[true, true], &[0.1, 0.2]),
            Err(MetricsError::SingleClass {
                n_positive: 2,
                n_negative: 0
            })
        );
        assert_eq!(
            roc_auc(&[false], &[0.1]),
            Err(MetricsError::SingleClass {
                n_positive: 0,
                n_negative: 1
            })
        );
    }

    #[test]
    fn labels_from_floats() {
        assert_eq!(labels_from_01(&[1.0_f32, 0.0]).unwrap(), vec![true, false]);
        assert!(matches!(
            labels_from_01(&[0.0, 2.0]),
            Err(MetricsError::InvalidLabel { index: 1, .. })
        ));
        assert!(matches!(
            labels_from_01(&[f64::NAN]),
            Err(MetricsError::InvalidLabel { index: 0, .. })
        ));
    }
}
