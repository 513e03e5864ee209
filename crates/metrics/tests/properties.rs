//! Invariants of the metrics, checked on random inputs (proptest) against brute force and
//! against independent formulas.

#![allow(clippy::unwrap_used)] // test helpers and proptest bodies

use fundalloc_metrics::{
    calibration_table, cumulative_gain, interval_coverage, mae, mann_whitney, mse, normalized_gini,
    rmse, roc_auc, window_regret,
};
use proptest::prelude::*;

/// O(n²) pair counting: the definition of the AUC.
fn brute_force_auc(labels: &[bool], scores: &[f64]) -> f64 {
    let (mut twice_u, mut pairs) = (0u64, 0u64);
    for (i, &yi) in labels.iter().enumerate() {
        for (j, &yj) in labels.iter().enumerate() {
            if yi && !yj {
                pairs += 2;
                twice_u += match scores[i].partial_cmp(&scores[j]).unwrap() {
                    std::cmp::Ordering::Greater => 2,
                    std::cmp::Ordering::Equal => 1,
                    std::cmp::Ordering::Less => 0,
                };
            }
        }
    }
    twice_u as f64 / pairs as f64
}

/// The rank-sum form of Mann–Whitney: `U = R₊ − n₊(n₊+1)/2` with mid-ranks for ties.
fn rank_sum_twice_u(labels: &[bool], scores: &[f64]) -> u128 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Twice the mid-rank, so everything stays integral: ranks i+1..=j share (i+1+j).
    let mut twice_rank_sum: u128 = 0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            j += 1;
        }
        let positives = order[i..j].iter().filter(|&&k| labels[k]).count() as u128;
        twice_rank_sum += positives * (i as u128 + 1 + j as u128);
        i = j;
    }
    let p = labels.iter().filter(|&&y| y).count() as u128;
    twice_rank_sum - p * (p + 1)
}

/// Labels with both classes and integer-valued scores from a small range (many ties).
fn labelled_scores(max_len: usize, range: i32) -> impl Strategy<Value = (Vec<bool>, Vec<f64>)> {
    prop::collection::vec((any::<bool>(), -range..=range), 2..max_len)
        .prop_filter("both classes", |v| {
            v.iter().any(|(y, _)| *y) && v.iter().any(|(y, _)| !*y)
        })
        .prop_map(|v| v.into_iter().map(|(y, s)| (y, f64::from(s))).unzip())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn auc_equals_brute_force_pair_counting((labels, scores) in labelled_scores(60, 8)) {
        let ours = roc_auc(&labels, &scores).unwrap();
        prop_assert!((ours - brute_force_auc(&labels, &scores)).abs() < 1e-15);
    }

    #[test]
    fn two_u_equals_rank_sum_formula((labels, scores) in labelled_scores(3000, 40)) {
        prop_assert_eq!(mann_whitney(&labels, &scores).unwrap().twice_u,
                        rank_sum_twice_u(&labels, &scores));
    }

    #[test]
    fn auc_invariant_under_strictly_increasing_transforms(
        (labels, scores) in labelled_scores(200, 50)
    ) {
        let auc = roc_auc(&labels, &scores).unwrap();
        // Each transform is strictly increasing and exact (or gap-preserving) on these inputs.
        let transforms: [fn(f64) -> f64; 4] = [
            |x| 2.5 * x - 3.0,
            |x| x * x * x + x,
            |x| 1.0 / (1.0 + (-x / 4.0).exp()),
            |x| (x + 51.0).ln(),
        ];
        for t in transforms {
            let transformed: Vec<f64> = scores.iter().map(|&x| t(x)).collect();
            prop_assert_eq!(roc_auc(&labels, &transformed).unwrap(), auc);
        }
    }

    #[test]
    fn negated_scores_and_swapped_labels_give_one_minus_auc(
        (labels, scores) in labelled_scores(500, 20)
    ) {
        let auc = roc_auc(&labels, &scores).unwrap();
        let negated: Vec<f64> = scores.iter().map(|&x| -x).collect();
        prop_assert!((roc_auc(&labels, &negated).unwrap() - (1.0 - auc)).abs() < 1e-15);
        let swapped: Vec<bool> = labels.iter().map(|&y| !y).collect();
        prop_assert!((roc_auc(&swapped, &scores).unwrap() - (1.0 - auc)).abs() < 1e-15);
        // Exact in integers.
        let mw = mann_whitney(&labels, &scores).unwrap();
        let mw_neg = mann_whitney(&labels, &negated).unwrap();
        prop_assert_eq!(mw.twice_u + mw_neg.twice_u,
                        2 * u128::from(mw.n_positive) * u128::from(mw.n_negative));
    }

    #[test]
    fn auc_ignores_sample_order(
        (labels, scores) in labelled_scores(300, 10), seed in any::<u64>()
    ) {
        let n = labels.len();
        let mut perm: Vec<usize> = (0..n).collect();
        // Deterministic shuffle from the seed (Fisher–Yates with an LCG).
        let mut state = seed | 1;
        for i in (1..n).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            perm.swap(i, (state >> 33) as usize % (i + 1));
        }
        let l: Vec<bool> = perm.iter().map(|&i| labels[i]).collect();
        let s: Vec<f64> = perm.iter().map(|&i| scores[i]).collect();
        prop_assert_eq!(mann_whitney(&l, &s).unwrap(), mann_whitney(&labels, &scores).unwrap());
    }

    #[test]
    fn f32_scores_match_their_f64_widening((labels, scores) in labelled_scores(300, 30)) {
        let s32: Vec<f32> = scores.iter().map(|&x| x as f32 / 7.0).collect();
        let s64: Vec<f64> = s32.iter().map(|&x| f64::from(x)).collect();
        prop_assert_eq!(roc_auc(&labels, &s32).unwrap(), roc_auc(&labels, &s64).unwrap());
    }

    #[test]
    fn gini_properties(
        pairs in prop::collection::vec((0u32..50, -20i32..20), 2..200)
    ) {
        let y: Vec<f64> = pairs.iter().map(|p| f64::from(p.0)).collect();
        let s: Vec<f64> = pairs.iter().map(|p| f64::from(p.1)).collect();
        prop_assume!(y.iter().sum::<f64>() > 0.0);
        let g = match normalized_gini(&y, &s) {
            Ok(g) => g,
            Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
        };
        // The perfect ranking has the largest area: normalized Gini ≤ 1, and = 1 for it.
        prop_assert!(g.normalized <= 1.0 + 1e-12);
        prop_assert!((normalized_gini(&y, &y).unwrap().normalized - 1.0).abs() < 1e-15);
        // Ranking only: strictly increasing transforms of the predictions change nothing.
        let t: Vec<f64> = s.iter().map(|&x| 3.0 * x * x * x + 1.0).collect();
        prop_assert_eq!(normalized_gini(&y, &t).unwrap(), g);
        // Scale-free in the values.
        let scaled: Vec<f64> = y.iter().map(|&v| 2.5 * v).collect();
        prop_assert!((normalized_gini(&scaled, &s).unwrap().normalized - g.normalized).abs() < 1e-12);
        // The gain curve of non-negative values rises to 1, and its mean gives the raw Gini.
        let curve = cumulative_gain(&y, &s).unwrap();
        prop_assert!(curve.windows(2).all(|w| w[1] >= w[0] - 1e-15));
        prop_assert!((curve[curve.len() - 1] - 1.0).abs() < 1e-12);
        let raw = 2.0 * curve.iter().sum::<f64>() / curve.len() as f64 - 1.0;
        prop_assert!((raw - g.model).abs() < 1e-12);
    }

    #[test]
    fn calibration_bins_partition_the_predictions(
        values in prop::collection::vec((0.0f64..100.0, 0.0f64..10.0), 10..300),
        bins in 1usize..10
    ) {
        let (y, p): (Vec<f64>, Vec<f64>) = values.into_iter().unzip();
        if let Ok(table) = calibration_table(&y, &p, bins) {
            prop_assert_eq!(table.len(), bins);
            prop_assert_eq!(table.iter().map(|b| b.count).sum::<usize>(), y.len());
            for b in &table {
                prop_assert!(b.lower < b.upper);
                prop_assert!(b.pred_mean <= b.upper + 1e-12);
                prop_assert!(b.pred_mean >= b.lower - 1e-12);
            }
        }
    }

    #[test]
    fn error_metric_inequalities(
        pairs in prop::collection::vec((-1e3f64..1e3, -1e3f64..1e3), 1..100)
    ) {
        let (y, p): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
        let (m, a, r) = (mse(&y, &p).unwrap(), mae(&y, &p).unwrap(), rmse(&y, &p).unwrap());
        prop_assert!(m >= 0.0 && a >= 0.0);
        prop_assert!(r + 1e-9 >= a); // Jensen: √mean(e²) ≥ mean|e|
        prop_assert_eq!(mse(&p, &y).unwrap(), m);
    }

    #[test]
    fn regret_is_non_negative_on_the_simplex(
        weights in prop::collection::vec(0.0f64..1.0, 1..40),
        seed_prices in prop::collection::vec(1.0f64..100.0, 40)
    ) {
        let total: f64 = weights.iter().sum();
        prop_assume!(total > 1e-3);
        let a: Vec<f64> = weights.iter().map(|w| w / total).collect();
        let y = &seed_prices[..a.len()];
        let r = window_regret(&a, y).unwrap();
        prop_assert!(r.regret >= -1e-9);
        prop_assert!(r.relative >= -1e-9);
        // Buying everything at the cheapest step is the hindsight optimum.
        let best = (0..y.len()).min_by(|&i, &j| y[i].total_cmp(&y[j])).unwrap();
        let one_hot: Vec<f64> = (0..y.len()).map(|i| f64::from(u8::from(i == best))).collect();
        prop_assert_eq!(window_regret(&one_hot, y).unwrap().regret, 0.0);
    }

    #[test]
    fn wider_intervals_never_cover_less(
        rows in prop::collection::vec((-10.0f64..10.0, -10.0f64..10.0, 0.0f64..5.0), 1..100),
        extra in 0.0f64..3.0
    ) {
        let y: Vec<f64> = rows.iter().map(|r| r.0).collect();
        let lo: Vec<f64> = rows.iter().map(|r| r.1 - r.2).collect();
        let hi: Vec<f64> = rows.iter().map(|r| r.1 + r.2).collect();
        let c = interval_coverage(&y, &lo, &hi).unwrap();
        prop_assert!((0.0..=1.0).contains(&c));
        let lo2: Vec<f64> = lo.iter().map(|l| l - extra).collect();
        let hi2: Vec<f64> = hi.iter().map(|h| h + extra).collect();
        prop_assert!(interval_coverage(&y, &lo2, &hi2).unwrap() >= c);
    }
}

/// The parallel, chunked path (above the 2¹⁶ threshold) against the rank-sum formula.
#[test]
fn large_input_takes_the_parallel_path_and_stays_exact() {
    let n = 150_000;
    let mut state = 42u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut labels, mut scores) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let s = (next() * 1000.0).round() / 1000.0; // 1001 levels: heavy ties
        labels.push(next() < 0.2 + 0.6 * s);
        scores.push(s);
    }
    assert_eq!(
        mann_whitney(&labels, &scores).unwrap().twice_u,
        rank_sum_twice_u(&labels, &scores)
    );
}
