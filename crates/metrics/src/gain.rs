//! Ranking quality of value predictions as the ZILN paper measures it: cumulative gain,
//! normalized Gini, and the decile calibration table.
//!
//! Definitions follow Wang, Liu & Miao (2019), *A Deep Probabilistic Model for Customer
//! Lifetime Value Prediction*, and its reference code (`lifetime_value/metrics.py` in
//! google/lifetime_value: `cumulative_true`, `gini_from_gain`, `decile_stats`), reimplemented
//! here. One deliberate difference: the reference sorts with an unstable sort, so with tied
//! predictions its gain curve depends on the sort's whim; here a tied group shares its total
//! evenly along its positions (the expected curve over all orders of the group).

use std::cmp::Ordering;

use crate::check::paired;
use fundalloc_core_types::check;

use crate::{MetricsError, Real, Result};

/// The cumulative gain curve: customers ranked by prediction, best first, and the share of
/// the total true value collected by the first `i` of them.
///
/// `Gᵢ = (Σ_{k ≤ i} y₍ₖ₎) / Σₖ yₖ`, `i = 1..n`, where `y₍ₖ₎` is the true value of the customer
/// with the `k`-th largest prediction. Within a group of `m` tied predictions that follows a
/// prefix sum `C` and holds the values summing to `S`, the curve rises linearly:
/// `G = (C + j·S/m) / Σy` for `j = 1..m`.
///
/// # Errors
/// [`Empty`](MetricsError::Empty), [`ShapeMismatch`](MetricsError::ShapeMismatch),
/// [`NonFinite`](MetricsError::NonFinite), and
/// [`ZeroDenominator`](MetricsError::ZeroDenominator) when `Σy = 0`.
///
/// ```
/// use fundalloc_metrics::cumulative_gain;
/// let gain = cumulative_gain(&[0.0, 3.0, 1.0], &[0.1, 0.9, 0.5])?;
/// assert_eq!(gain, vec![0.75, 1.0, 1.0]);
/// # Ok::<(), fundalloc_metrics::MetricsError>(())
/// ```
pub fn cumulative_gain<T: Real>(y_true: &[T], y_pred: &[T]) -> Result<Vec<f64>> {
    paired("y_true", y_true, "y_pred", y_pred)?;
    let total = total_value(y_true)?;
    let mut curve = Vec::with_capacity(y_true.len());
    for_each_tie_group(y_true, y_pred, |prefix, group_sum, m| {
        curve.extend((1..=m).map(|j| (prefix + j as f64 * group_sum / m as f64) / total));
    });
    Ok(curve)
}

/// Gini coefficients of a value prediction, as the ZILN paper reports them.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Gini {
    /// Raw Gini of the model's ranking: `2·(1/n)·Σᵢ Gᵢ − 1` over its [`cumulative_gain`] curve.
    pub model: f64,
    /// Raw Gini of the perfect ranking (customers sorted by their true value).
    pub ground_truth: f64,
    /// `model / ground_truth`: 1 for a perfect ranking, about 0 for a random one.
    pub normalized: f64,
}

/// Raw and normalized Gini coefficient of `y_pred` as a ranking of `y_true`.
///
/// `Gini_raw(s) = 2·(1/n)·Σᵢ Gᵢ(s) − 1`, where `G(s)` is the [`cumulative_gain`] curve of the
/// ranking by `s`; `Gini_norm = Gini_raw(ŷ) / Gini_raw(y)`. The targets are meant to be
/// non-negative values (revenue, lifetime value).
///
/// # Errors
/// As [`cumulative_gain`], plus [`ZeroDenominator`](MetricsError::ZeroDenominator) when the
/// ground-truth Gini is 0.
///
/// ```
/// use fundalloc_metrics::normalized_gini;
/// let y = [0.0, 3.0, 1.0, 0.0];
/// let perfect = normalized_gini(&y, &y)?;
/// assert_eq!(perfect.normalized, 1.0);
/// let reversed = normalized_gini(&y, &[3.0, 0.0, 1.0, 4.0])?;
/// assert!(reversed.normalized < 0.0);
/// # Ok::<(), fundalloc_metrics::MetricsError>(())
/// ```
pub fn normalized_gini<T: Real>(y_true: &[T], y_pred: &[T]) -> Result<Gini> {
    paired("y_true", y_true, "y_pred", y_pred)?;
    let total = total_value(y_true)?;
    let model = raw_gini(y_true, y_pred, total);
    let ground_truth = raw_gini(y_true, y_true, total);
    if ground_truth == 0.0 {
        return Err(MetricsError::ZeroDenominator {
            what: "Gini coefficient of the ground truth",
        });
    }
    Ok(Gini {
        model,
        ground_truth,
        normalized: model / ground_truth,
    })
}

/// `2·(1/n)·Σᵢ Gᵢ − 1` without building the curve: a tied group of `m` after prefix `C` adds
/// `Σ_{j=1..m} (C + j·S/m) = m·C + S·(m + 1)/2` to `Σᵢ Gᵢ·Σy`.
fn raw_gini<T: Real>(y_true: &[T], y_pred: &[T], total: f64) -> f64 {
    let mut area = 0.0;
    for_each_tie_group(y_true, y_pred, |prefix, group_sum, m| {
        area += m as f64 * prefix + group_sum * (m as f64 + 1.0) / 2.0;
    });
    2.0 * (area / total) / y_true.len() as f64 - 1.0
}

/// `Σy`, which must not be zero.
fn total_value<T: Real>(y_true: &[T]) -> Result<f64> {
    let total: f64 = y_true.iter().map(|y| y.to_f64_lossless()).sum();
    if total == 0.0 {
        return Err(MetricsError::ZeroDenominator {
            what: "sum of y_true",
        });
    }
    Ok(total)
}

/// Walks the customers by descending prediction, one group of equal predictions at a time,
/// calling `visit(prefix_sum_before_group, group_sum, group_size)`.
fn for_each_tie_group<T: Real>(y_true: &[T], y_pred: &[T], mut visit: impl FnMut(f64, f64, usize)) {
    let mut order: Vec<usize> = (0..y_pred.len()).collect();
    // Validated finite: `partial_cmp` is total here, and treats -0.0 and +0.0 as a tie.
    order.sort_unstable_by(|&a, &b| y_pred[b].partial_cmp(&y_pred[a]).unwrap_or(Ordering::Equal));
    let mut prefix = 0.0;
    let mut start = 0;
    while start < order.len() {
        let value = y_pred[order[start]];
        let len = order[start..]
            .iter()
            .take_while(|&&i| y_pred[i] == value)
            .count();
        let group_sum: f64 = order[start..start + len]
            .iter()
            .map(|&i| y_true[i].to_f64_lossless())
            .sum();
        visit(prefix, group_sum, len);
        prefix += group_sum;
        start += len;
    }
}

/// One row of a [`calibration_table`]: the customers whose prediction falls in one quantile bin.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CalibrationBin {
    /// Bin index, 0 = lowest predictions.
    pub bin: usize,
    /// Lower edge (exclusive, except for bin 0 where it is the smallest prediction).
    pub lower: f64,
    /// Upper edge (inclusive).
    pub upper: f64,
    /// Number of customers in the bin.
    pub count: usize,
    /// Mean true value in the bin, `ȳ_b`.
    pub label_mean: f64,
    /// Mean prediction in the bin, `ŷ̄_b`.
    pub pred_mean: f64,
    /// `RMSE_b / ȳ_b`; `None` when `ȳ_b = 0`.
    pub normalized_rmse: Option<f64>,
    /// `MAE_b / ȳ_b`; `None` when `ȳ_b = 0`.
    pub normalized_mae: Option<f64>,
    /// Decile MAPE `|ŷ̄_b − ȳ_b| / ȳ_b`; `None` when `ȳ_b = 0`.
    pub mape: Option<f64>,
}

/// The ZILN decile table: [`calibration_table`] with 10 bins.
///
/// # Errors
/// As [`calibration_table`].
pub fn decile_table<T: Real>(y_true: &[T], y_pred: &[T]) -> Result<Vec<CalibrationBin>> {
    calibration_table(y_true, y_pred, 10)
}

/// Calibration by quantile bins of the prediction (pandas `qcut` binning, as ZILN's
/// `decile_stats`), with per-bin means and normalized errors.
///
/// Edges: `q_k` = the `k/bins` quantile of `y_pred` with linear interpolation between order
/// statistics (position `(n − 1)·k/bins`; numpy's default, and pandas' rounding of `k/bins` up
/// to the next float when it is not exact). Bin `b` holds the predictions in `(q_b, q_{b+1}]`,
/// bin 0 also its lower edge. Per bin: `ȳ_b`, `ŷ̄_b`, `RMSE_b/ȳ_b`, `MAE_b/ȳ_b` and
/// `|ŷ̄_b − ȳ_b|/ȳ_b`.
///
/// # Errors
/// [`Empty`](MetricsError::Empty), [`ShapeMismatch`](MetricsError::ShapeMismatch),
/// [`NonFinite`](MetricsError::NonFinite); [`InvalidParameter`](MetricsError::InvalidParameter)
/// for `bins = 0`; [`TooFew`](MetricsError::TooFew) for fewer predictions than bins;
/// [`DuplicateBinEdges`](MetricsError::DuplicateBinEdges) when ties make two edges equal (pandas
/// raises too); [`EmptyBin`](MetricsError::EmptyBin) when a bin between distinct edges holds no
/// prediction.
///
/// ```
/// use fundalloc_metrics::calibration_table;
/// let y_pred: Vec<f64> = (1..=8).map(f64::from).collect();
/// let y_true: Vec<f64> = y_pred.iter().map(|p| 2.0 * p).collect();
/// let table = calibration_table(&y_true, &y_pred, 2)?;
/// assert_eq!(table[0].count, 4);
/// assert_eq!((table[0].pred_mean, table[0].label_mean), (2.5, 5.0));
/// assert_eq!(table[1].mape, Some(0.5));
/// # Ok::<(), fundalloc_metrics::MetricsError>(())
/// ```
pub fn calibration_table<T: Real>(
    y_true: &[T],
    y_pred: &[T],
    bins: usize,
) -> Result<Vec<CalibrationBin>> {
    paired("y_true", y_true, "y_pred", y_pred)?;
    check::at_least("bins", bins, 1)?;
    if y_pred.len() < bins {
        return Err(MetricsError::TooFew {
            what: "y_pred",
            needed: bins,
            found: y_pred.len(),
        });
    }
    let mut sorted: Vec<f64> = y_pred.iter().map(|p| p.to_f64_lossless()).collect();
    sorted.sort_unstable_by(f64::total_cmp);
    let edges: Vec<f64> = (0..=bins)
        .map(|k| linear_quantile(&sorted, qcut_level(k, bins)))
        .collect();
    if let Some(edge) = edges.windows(2).position(|w| w[0] == w[1]) {
        return Err(MetricsError::DuplicateBinEdges {
            bins,
            edge,
            value: edges[edge],
        });
    }
    // Sums per bin: count, Σy, Σŷ, Σ(y−ŷ)², Σ|y−ŷ|.
    let mut acc = vec![(0usize, 0.0, 0.0, 0.0, 0.0); bins];
    for (&y, &p) in y_true.iter().zip(y_pred) {
        let (y, p) = (y.to_f64_lossless(), p.to_f64_lossless());
        // First edge ≥ p among q_1..q_bins (right-closed bins); p = q_0 lands in bin 0.
        let bin = edges[1..].partition_point(|&e| e < p).min(bins - 1);
        let a = &mut acc[bin];
        a.0 += 1;
        a.1 += y;
        a.2 += p;
        a.3 += (y - p) * (y - p);
        a.4 += (y - p).abs();
    }
    acc.iter()
        .enumerate()
        .map(|(bin, &(count, sy, sp, sse, sae))| {
            if count == 0 {
                return Err(MetricsError::EmptyBin { bins, bin });
            }
            let n = count as f64;
            let label_mean = sy / n;
            let pred_mean = sp / n;
            let relative = |x: f64| (label_mean != 0.0).then(|| x / label_mean);
            Ok(CalibrationBin {
                bin,
                lower: edges[bin],
                upper: edges[bin + 1],
                count,
                label_mean,
                pred_mean,
                normalized_rmse: relative((sse / n).sqrt()),
                normalized_mae: relative(sae / n),
                mape: relative((pred_mean - label_mean).abs()),
            })
        })
        .collect()
}

/// The level `k/bins`, rounded up to the next float when `bins·(k/bins) ≠ k` (pandas `qcut`
/// does this so that a level meant to be exact is never just below it).
fn qcut_level(k: usize, bins: usize) -> f64 {
    let level = k as f64 / bins as f64;
    if bins as f64 * level != k as f64 {
        level.next_up()
    } else {
        level
    }
}

/// numpy's default (`linear`) quantile of ascending `sorted` at level `q ∈ [0, 1]`:
/// position `h = (n − 1)·q`, then `x₍⌊h⌋₎ + (h − ⌊h⌋)·(x₍⌊h⌋+1₎ − x₍⌊h⌋₎)`, evaluated from the
/// upper neighbour when the weight is ≥ ½ as numpy does.
fn linear_quantile(sorted: &[f64], q: f64) -> f64 {
    let last = sorted.len() - 1;
    let h = last as f64 * q;
    let below = (h.floor() as usize).min(last);
    let above = (below + 1).min(last);
    let t = h - below as f64;
    let (a, b) = (sorted[below], sorted[above]);
    if a == b {
        a
    } else if t >= 0.5 {
        b - (b - a) * (1.0 - t)
    } else {
        a + (b - a) * t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use fundalloc_core_types::InvalidParameter;

    #[test]
    fn gain_curve_spreads_ties_evenly() {
        // Predictions tie for the two first customers: their values 4 and 0 share the rise.
        let gain = cumulative_gain(&[4.0, 0.0, 4.0], &[1.0, 1.0, 0.0]).unwrap();
        assert_eq!(gain, vec![0.25, 0.5, 1.0]);
    }

    #[test]
    fn gini_of_constant_prediction_matches_even_spreading() {
        // All tied: the curve is the diagonal i/n, raw Gini = 2·(n+1)/(2n) − 1 = 1/n.
        let y = [1.0, 5.0, 0.0, 2.0];
        let g = normalized_gini(&y, &[0.3; 4]).unwrap();
        assert_relative_eq!(g.model, 0.25, epsilon = 1e-15);
        let curve = cumulative_gain(&y, &y).unwrap();
        let expected = 2.0 * curve.iter().sum::<f64>() / 4.0 - 1.0;
        assert_relative_eq!(g.ground_truth, expected, epsilon = 1e-15);
    }

    #[test]
    fn gini_errors() {
        assert_eq!(
            normalized_gini(&[0.0, 0.0], &[1.0, 2.0]),
            Err(MetricsError::ZeroDenominator {
                what: "sum of y_true"
            })
        );
        // Values summing to zero with a non-zero ground-truth Gini are still rejected by Σy.
        assert!(normalized_gini(&[1.0, -1.0], &[1.0, 2.0]).is_err());
        assert!(matches!(
            cumulative_gain(&[1.0], &[f64::NAN]),
            Err(MetricsError::NonFinite(_))
        ));
        assert!(matches!(
            normalized_gini::<f32>(&[], &[]),
            Err(MetricsError::Empty(_))
        ));
        assert!(matches!(
            normalized_gini(&[1.0, 2.0], &[1.0]),
            Err(MetricsError::ShapeMismatch(_))
        ));
    }

    #[test]
    fn quantiles_match_numpy_linear() {
        let x = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(linear_quantile(&x, 0.0), 1.0);
        assert_eq!(linear_quantile(&x, 1.0), 8.0);
        assert_eq!(linear_quantile(&x, 0.5), 3.0); // np.quantile([1,2,4,8], .5)
        assert_relative_eq!(linear_quantile(&x, 0.25), 1.75); // h = 0.75
    }

    #[test]
    fn calibration_table_errors() {
        let y = [1.0; 20];
        let tied = [0.5; 20];
        assert!(matches!(
            calibration_table(&y, &tied, 10),
            Err(MetricsError::DuplicateBinEdges {
                bins: 10,
                edge: 0,
                ..
            })
        ));
        assert!(matches!(
            calibration_table(&y[..5], &tied[..5], 10),
            Err(MetricsError::TooFew {
                needed: 10,
                found: 5,
                ..
            })
        ));
        assert!(matches!(
            calibration_table(&y, &tied, 0),
            Err(MetricsError::InvalidParameter(InvalidParameter {
                name: "bins",
                ..
            }))
        ));
        // Distinct edges 0, 0.75, 1, 1.25, 2 but nothing in (1, 1.25] (found by search with
        // numpy's quantile and pandas' binning; pandas returns a NaN row there).
        let p = [0.0, 1.0, 1.0, 2.0];
        assert_eq!(
            calibration_table(&[1.0; 4], &p, 4),
            Err(MetricsError::EmptyBin { bins: 4, bin: 2 })
        );
        assert!(calibration_table(&[1.0; 4], &p, 2).is_ok());
    }

    #[test]
    fn zero_label_mean_gives_none() {
        let y_true = [0.0, 0.0, 2.0, 4.0];
        let y_pred = [0.1, 0.2, 0.3, 0.4];
        let table = calibration_table(&y_true, &y_pred, 2).unwrap();
        assert_eq!(table[0].label_mean, 0.0);
        assert_eq!(table[0].mape, None);
        assert_eq!(table[1].label_mean, 3.0);
        assert_relative_eq!(table[1].mape.unwrap(), (3.0 - 0.35_f64).abs() / 3.0);
        assert_relative_eq!(
            table[1].normalized_mae.unwrap(),
            ((2.0 - 0.3_f64) + (4.0 - 0.4)) / 2.0 / 3.0
        );
    }
}
