//! Cross-check against MAPIE 1.6.0 (`SplitConformalRegressor`, prefit, absolute score): every
//! interval bound MAPIE produced is reproduced bit for bit.
//!
//! The fixture `fixtures/mapie_split.json` and its generator `fixtures/generate_mapie.py` say
//! exactly how the numbers were produced. Python is not needed to run this test.
//!
//! Documented differences (each asserted below, so a change in either side is noticed):
//! 1. MAPIE computes the rank ⌈(n+1)·(1 − α)⌉ in binary floating point with α = 1 − γ; when
//!    (n+1)·γ is an integer in decimal the product can land one ulp above it and MAPIE takes
//!    the next order statistic (γ = 0.3, n = 19: MAPIE rank 7, ours 6 = 20 · 0.3).
//! 2. MAPIE's public API refuses n < 1/α (e.g. n = 19 at γ = 0.95), one point more than the
//!    order statistic needs (⌈20 · 0.95⌉ = 19 ≤ n): there we return the largest score, which is
//!    what MAPIE's own quantile routine returns for those scores.

#![allow(clippy::unwrap_used)] // a test: a malformed fixture should panic loudly

use fundalloc_conformal::{
    ConformalError, PositionalConformal, SplitConformal, SplitConformalParams,
};
use ndarray::{Array1, Array2};
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/mapie_split.json");

fn vec1(v: &Value) -> Array1<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn vec2(v: &Value) -> Array2<f64> {
    let rows: Vec<Array1<f64>> = v.as_array().unwrap().iter().map(vec1).collect();
    let (n, h) = (rows.len(), rows[0].len());
    Array2::from_shape_fn((n, h), |(i, j)| rows[i][j])
}

/// Bounds are compared bit for bit; `assert_close` is for values MAPIE did not output directly.
fn assert_same(ours: f64, theirs: f64, what: &str) {
    assert!(ours == theirs, "{what}: ours {ours:e} vs MAPIE {theirs:e}");
}

fn assert_close(ours: f64, theirs: f64, what: &str) {
    let tol = 1e-12 * theirs.abs().max(1.0);
    assert!(
        (ours - theirs).abs() <= tol,
        "{what}: ours {ours} vs MAPIE {theirs}"
    );
}

/// 1-based rank of `radius` among the sorted scores (the nearest one).
fn rank_of(sorted: &[f64], radius: f64) -> usize {
    let (i, _) = sorted
        .iter()
        .enumerate()
        .min_by(|a, b| {
            (a.1 - radius)
                .abs()
                .partial_cmp(&(b.1 - radius).abs())
                .unwrap()
        })
        .unwrap();
    i + 1
}

#[test]
fn split_intervals_match_mapie() {
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    assert_eq!(fixture["versions"]["mapie"], "1.6.0");
    let (mut exact, mut rank_discrepancies, mut precheck_discrepancies, mut refused) = (0, 0, 0, 0);
    for case in fixture["cases"].as_array().unwrap() {
        let n = case["n_cal"].as_u64().unwrap() as usize;
        let pred_cal = vec1(&case["y_pred_cal"]);
        let y_cal = vec1(&case["y_cal"]);
        let pred_test = vec1(&case["y_pred_test"]);
        assert_eq!(pred_cal.len(), n);
        let mut sorted: Vec<f64> = (&y_cal - &pred_cal).mapv(f64::abs).to_vec();
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
        for level in case["levels"].as_array().unwrap() {
            let c = level["confidence_level"].as_f64().unwrap();
            let result =
                SplitConformal::fit(SplitConformalParams::new(c), pred_cal.view(), y_cal.view());
            let what = format!("n = {n}, γ = {c}");
            if level["error"].as_bool().unwrap() {
                match level["internal_quantile"].as_f64() {
                    None => {
                        // Both refuse: too few scores for the order statistic.
                        assert!(
                            matches!(result, Err(ConformalError::TooFewScores { .. })),
                            "{what}"
                        );
                        refused += 1;
                    }
                    Some(q) => {
                        // Difference 2: MAPIE's pre-check refuses, its quantile routine agrees.
                        let fitted = result.unwrap();
                        assert_eq!(fitted.rank(), n, "{what}");
                        assert_same(fitted.radius(), q, &what);
                        precheck_discrepancies += 1;
                    }
                }
                continue;
            }
            let fitted = result.unwrap();
            let lower = vec1(&level["lower"]);
            let upper = vec1(&level["upper"]);
            let mapie_rank = rank_of(&sorted, upper[0] - pred_test[0]);
            if mapie_rank == fitted.rank() {
                let iv = fitted.predict_interval(pred_test.view()).unwrap();
                for i in 0..pred_test.len() {
                    assert_same(iv.lower[i], lower[i], &format!("{what}, lower[{i}]"));
                    assert_same(iv.upper[i], upper[i], &format!("{what}, upper[{i}]"));
                }
                exact += 1;
            } else {
                // Difference 1: only at the documented decimal-integer level, one rank apart.
                assert_eq!((n, c), (19, 0.3), "unexpected rank difference at {what}");
                assert_eq!(fitted.rank(), 6);
                assert_eq!(mapie_rank, 7);
                assert_eq!(fitted.radius(), sorted[5]);
                assert_close(upper[0] - pred_test[0], sorted[6], &what);
                rank_discrepancies += 1;
            }
        }
    }
    assert_eq!(
        (exact, rank_discrepancies, precheck_discrepancies, refused),
        (23, 1, 1, 7)
    );
}

#[test]
fn positional_radii_match_mapie_run_per_column() {
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    let p = &fixture["positional"];
    let (n, h) = (
        p["n_cal"].as_u64().unwrap() as usize,
        p["horizon"].as_u64().unwrap() as usize,
    );
    let pred_cal = vec1(&p["y_pred_cal"]);
    let y_cal = vec2(&p["y_cal"]);
    assert_eq!(y_cal.dim(), (n, h));
    let pred_cal = Array2::from_shape_fn((n, h), |(i, _)| pred_cal[i]);
    let pred_test = vec1(&p["y_pred_test"]);
    let pred_test = Array2::from_shape_fn((pred_test.len(), h), |(i, _)| pred_test[i]);
    for level in p["levels"].as_array().unwrap() {
        let c = level["confidence_level"].as_f64().unwrap();
        let fitted =
            PositionalConformal::fit(SplitConformalParams::new(c), pred_cal.view(), y_cal.view())
                .unwrap();
        let iv = fitted.predict_interval(pred_test.view()).unwrap();
        let (lower, upper) = (vec2(&level["lower"]), vec2(&level["upper"]));
        for ((i, j), &l) in lower.indexed_iter() {
            assert_same(iv.lower[[i, j]], l, &format!("γ = {c}, lower[{i}, {j}]"));
            assert_same(iv.upper[[i, j]], upper[[i, j]], &format!("γ = {c}, upper"));
        }
    }
}
