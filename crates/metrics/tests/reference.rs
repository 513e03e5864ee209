//! Cross-checks against values computed by independent tools (see `fixtures/README.md`):
//! scikit-learn's `roc_auc_score`, `mean_squared_error`, `mean_absolute_error`, and a pandas
//! reimplementation of the ZILN reference metrics.

#![allow(clippy::unwrap_used)] // test helpers: a malformed fixture should fail loudly

use fundalloc_metrics::{
    calibration_table, cumulative_gain, decile_table, mae, mse, normalized_gini, roc_auc,
};
use serde_json::Value;

const REFERENCE: &str = include_str!("fixtures/reference.json");

fn reference() -> Value {
    serde_json::from_str(REFERENCE).unwrap()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

#[test]
fn auc_matches_scikit_learn_to_1e12() {
    let cases = reference()["auc"].as_array().unwrap().clone();
    assert!(cases.len() >= 6);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let labels: Vec<bool> = case["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|y| y.as_u64().unwrap() == 1)
            .collect();
        let scores = f64s(&case["scores"]);
        let expected = case["sklearn_roc_auc"].as_f64().unwrap();
        let ours = if case["precision"] == "f32" {
            let s32: Vec<f32> = scores.iter().map(|&s| s as f32).collect();
            // The fixture holds f32 values widened to f64: narrowing is exact.
            assert!(s32.iter().zip(&scores).all(|(&a, &b)| f64::from(a) == b));
            roc_auc(&labels, &s32).unwrap()
        } else {
            roc_auc(&labels, &scores).unwrap()
        };
        assert!(
            (ours - expected).abs() <= 1e-12,
            "{name}: ours {ours} vs scikit-learn {expected}"
        );
    }
}

#[test]
fn fixture_exercises_heavy_ties_and_signed_zeros() {
    let r = reference();
    let cases = r["auc"].as_array().unwrap();
    let tied = cases
        .iter()
        .filter(|c| c["n_distinct_scores"].as_u64().unwrap() * 100 < c["n"].as_u64().unwrap())
        .count();
    assert!(tied >= 2, "need cases with < 1 % distinct scores");
    let signed = cases
        .iter()
        .find(|c| c["name"] == "signed_zeros_n1500")
        .unwrap();
    let s = f64s(&signed["scores"]);
    assert!(s.iter().any(|&x| x == 0.0 && x.is_sign_negative()));
    assert!(s.iter().any(|&x| x == 0.0 && x.is_sign_positive()));
}

#[test]
fn ziln_gini_and_gain_match_the_reference() {
    for case in reference()["ziln"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let y = f64s(&case["y_true"]);
        let p = f64s(&case["y_pred"]);
        let g = normalized_gini(&y, &p).unwrap();
        for (ours, key) in [
            (g.model, "gini_raw_model"),
            (g.ground_truth, "gini_raw_ground_truth"),
            (g.normalized, "gini_normalized"),
        ] {
            let expected = case[key].as_f64().unwrap();
            assert!(
                close(ours, expected, 1e-12),
                "{name} {key}: {ours} vs {expected}"
            );
        }
        if let Some(curve) = case.get("cumulative_gain_model") {
            let expected = f64s(curve);
            let ours = cumulative_gain(&y, &p).unwrap();
            assert_eq!(ours.len(), expected.len());
            for (i, (a, b)) in ours.iter().zip(&expected).enumerate() {
                assert!(close(*a, *b, 1e-12), "{name} gain[{i}]: {a} vs {b}");
            }
        }
        let e_mse = case["mse"].as_f64().unwrap();
        let e_mae = case["mae"].as_f64().unwrap();
        assert!(close(mse(&y, &p).unwrap(), e_mse, 1e-12), "{name} mse");
        assert!(close(mae(&y, &p).unwrap(), e_mae, 1e-12), "{name} mae");
    }
}

#[test]
fn ziln_decile_table_matches_the_reference() {
    for case in reference()["ziln"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let y = f64s(&case["y_true"]);
        let p = f64s(&case["y_pred"]);
        let ours = decile_table(&y, &p).unwrap();
        assert_eq!(ours, calibration_table(&y, &p, 10).unwrap());
        let expected = case["deciles"].as_array().unwrap();
        assert_eq!(ours.len(), expected.len());
        for (row, e) in ours.iter().zip(expected) {
            let b = row.bin;
            assert_eq!(b as u64, e["bin"].as_u64().unwrap());
            assert_eq!(
                row.count as u64,
                e["count"].as_u64().unwrap(),
                "{name} bin {b}"
            );
            assert!(close(
                row.label_mean,
                e["label_mean"].as_f64().unwrap(),
                1e-12
            ));
            assert!(close(
                row.pred_mean,
                e["pred_mean"].as_f64().unwrap(),
                1e-12
            ));
            for (ours, key) in [
                (row.normalized_rmse, "normalized_rmse"),
                (row.normalized_mae, "normalized_mae"),
                (row.mape, "decile_mape"),
            ] {
                match (ours, e[key].as_f64()) {
                    (Some(a), Some(b)) => assert!(close(a, b, 1e-12), "{name} bin {b} {key}"),
                    (None, None) => {}
                    other => panic!("{name} bin {b} {key}: {other:?}"),
                }
            }
        }
    }
    // The n = 1001 case has a decile with label mean 0: its relative errors are None.
    let r = reference();
    let edge_case = r["ziln"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "ltv_n1001_edges_on_points")
        .unwrap();
    assert!(edge_case["deciles"][0]["decile_mape"].is_null());
}
