//! Save and reload calibrated state (feature `serde`):
//! `cargo test -p fundalloc-conformal --features serde`.
#![cfg(feature = "serde")]
#![allow(clippy::unwrap_used)] // a test

use fundalloc_conformal::prelude::*;
use fundalloc_conformal::{AciValidParams, SplitConformalValidParams};
use ndarray::{Array1, Array2, array};

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
    serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap()
}

#[test]
fn calibrations_round_trip() {
    let pred = Array2::<f32>::zeros((40, 4));
    let y = Array2::from_shape_fn((40, 4), |(i, h)| ((i * 13 % 40) as f32) * (h as f32 + 0.5));
    let params = SplitConformalParams::new(0.9)
        .horizon_coverage(HorizonCoverage::Bonferroni)
        .check()
        .unwrap();
    let fitted = PositionalConformal::fit(params, pred.view(), y.view()).unwrap();
    let back: PositionalConformal<f32> = round_trip(&fitted);
    assert_eq!(back, fitted);
    let new = array![[1.0f32, 2.0, 3.0, 4.0]];
    assert_eq!(
        back.predict_interval(new.view()).unwrap(),
        fitted.predict_interval(new.view()).unwrap()
    );

    let scalar = SplitConformal::fit_normalized(
        SplitConformalParams::new(0.8),
        array![0.0, 1.0, 2.0, 3.0, 4.0].view(),
        array![0.5, 1.0, 3.0, 2.0, 4.1].view(),
        array![1.0, 2.0, 1.0, 0.5, 1.0].view(),
    )
    .unwrap();
    assert_eq!(round_trip(&scalar), scalar);
    assert_eq!(round_trip(&params), params);
}

#[test]
fn an_aci_stream_resumes_exactly_after_reload() {
    let cal = Array2::from_shape_fn((30, 3), |(i, h)| {
        (i as f64 * 0.37).sin().abs() * (h + 1) as f64
    });
    let mut live =
        PositionalAdaptiveConformal::fit(AciParams::new(0.9).step_size(0.05), cal.view()).unwrap();
    let window = |t: usize| -> (Array1<f64>, Array1<f64>) {
        let pred = Array1::from_elem(3, t as f64);
        let truth = pred.mapv(|p| p + ((p * 1.7).cos() * 2.5));
        (pred, truth)
    };
    for t in 0..20 {
        let (p, y) = window(t);
        live.update(p.view(), y.view()).unwrap();
    }
    let mut reloaded: PositionalAdaptiveConformal<f64> = round_trip(&live);
    assert_eq!(reloaded, live);
    for t in 20..60 {
        let (p, y) = window(t);
        assert_eq!(
            reloaded.update(p.view(), y.view()).unwrap(),
            live.update(p.view(), y.view()).unwrap()
        );
        assert_eq!(reloaded.radii(), live.radii());
    }
}

#[test]
fn deserialising_params_revalidates_them() {
    let bad = r#"{"coverage":1.5,"rank_overflow":"Error","horizon_coverage":"PerPosition"}"#;
    assert!(serde_json::from_str::<SplitConformalValidParams>(bad).is_err());
    let good = r#"{"coverage":0.5,"rank_overflow":"Infinite","horizon_coverage":"Bonferroni"}"#;
    let p: SplitConformalValidParams = serde_json::from_str(good).unwrap();
    assert_eq!(p.rank_overflow(), RankOverflow::Infinite);
    let bad_aci = r#"{"coverage":0.9,"step_size":-1.0,"memory":null,"alpha_bounds":[0.0,1.0]}"#;
    assert!(serde_json::from_str::<AciValidParams>(bad_aci).is_err());
    assert!(serde_json::from_str::<PositionalConformal<f64>>("{\"radii\": 3}").is_err());
}
