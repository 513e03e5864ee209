//! Cross-checks of Step 1 against an independent reference (cbrkit) and a brute-force sort,
//! and tests of the cluster-representative (behavioural investment universe) queries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fundalloc_cbr_advisor::*;
use fundalloc_core_types::{CancelToken, InvalidParameter, TooLarge};

/// `tests/fixtures/cbrkit_top.json` holds cbrkit 0.14.2's top-50 (id, 1 − similarity) for five
/// targets of the generated case base (2,000 customers, 200 products, seed 42), produced by
/// `CBR_BENCH_CASES=2000 CBR_BENCH_EXPORT=$D cargo bench -p fundalloc-benches --bench cbr_retrieval`
/// then `python crates/cbr-advisor/scripts/cbrkit_step1.py $D 5 --dump <fixture>` (the script
/// expresses the default schema with cbrkit's attribute_value / linear / table similarities and
/// a permutation-enumeration portfolio match).
#[test]
fn step1_matches_cbrkit_reference_rankings() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/cbrkit_top.json")).unwrap();
    let cb = generate_case_base(GeneratorParams::new(2000, 200, 42)).unwrap();
    let queries = fixture["queries"].as_array().unwrap();
    assert_eq!(queries.len(), 5);
    for q in queries {
        let id: CustomerId = q["target"].as_str().unwrap().into();
        let t = cb.target(&id).unwrap();
        let want: Vec<(String, f64)> = q["top"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e[0].as_str().unwrap().to_owned(), e[1].as_f64().unwrap()))
            .collect();
        let got = cb
            .nearest(&t, want.len(), &[t.case().unwrap()], &CancelToken::new())
            .unwrap();
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g.distance - w.1).abs() < 1e-12,
                "{id}: {} {} vs {} {}",
                g.id,
                g.distance,
                w.0,
                w.1
            );
            // Same id unless two cases tie at this distance.
            if g.id.as_str() != w.0 {
                let wd = want.iter().find(|x| x.0 == g.id.as_str()).map(|x| x.1);
                assert!(
                    wd.is_some_and(|d| (d - g.distance).abs() < 1e-12),
                    "{id}: {} not tied",
                    g.id
                );
            }
        }
    }
}

use fundalloc_core_types::CustomerId;

#[test]
fn parallel_partial_selection_equals_full_sort() {
    let cb = generate_case_base(GeneratorParams::new(9000, 60, 3)).unwrap();
    for (i, n) in [(5u32, 1usize), (77, 37), (4000, 600), (8999, 9000)] {
        let t = cb.target(&cb.ids()[i as usize]).unwrap();
        let got = cb.nearest(&t, n, &[i], &CancelToken::new()).unwrap();
        let mut all: Vec<(f64, u32)> = (0..cb.len() as u32)
            .filter(|&j| j != i)
            .map(|j| (cb.target_distance(&t, j).unwrap(), j))
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        all.truncate(n);
        let got: Vec<(f64, u32)> = got.iter().map(|g| (g.distance, g.case)).collect();
        assert_eq!(got, all);
    }
}

#[test]
fn k_medoids_is_seeded_and_universes_are_answered() {
    let cb = generate_case_base(GeneratorParams::new(400, 50, 8)).unwrap();
    let p = KMedoidsParams::new(4, 1).sample(300);
    let a = KMedoids::fit(&cb, p.clone(), &CancelToken::new()).unwrap();
    let b = KMedoids::fit(&cb, p.clone(), &CancelToken::new()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.medoids().len(), 4);
    assert_eq!(a.members().len(), 300);
    // Every member is assigned to its nearest medoid.
    for (m, &l) in a.members().iter().zip(a.labels()) {
        let d = cb.distance(a.medoids()[l], *m).unwrap();
        for &md in a.medoids() {
            assert!(d <= cb.distance(md, *m).unwrap() + 1e-12);
        }
    }
    // k-medoids beats (or ties) the first four sampled members as medoids.
    let random_cost: f64 = a
        .members()
        .iter()
        .map(|&m| {
            a.members()[..4]
                .iter()
                .map(|&md| cb.distance(md, m).unwrap())
                .fold(f64::INFINITY, f64::min)
        })
        .sum();
    assert!(a.cost() <= random_cost + 1e-9);
    let rep = a.representative(&cb, 0).unwrap();
    assert_eq!(rep.case(), None);
    let unis = a
        .behavioural_universes(&cb, QueryParams::new(5).n(Some(20)), &CancelToken::new())
        .unwrap();
    assert_eq!(unis.len(), 4);
    assert!(
        unis.iter()
            .all(|u| !u.assets.is_empty() && u.assets.len() <= 5)
    );
    assert!(matches!(
        KMedoids::fit(&cb, KMedoidsParams::new(0, 1), &CancelToken::new()),
        Err(CbrError::InvalidParameter(InvalidParameter {
            name: "k",
            ..
        }))
    ));
    assert!(matches!(
        KMedoids::fit(
            &cb,
            KMedoidsParams::new(4, 1).sample(3),
            &CancelToken::new()
        ),
        Err(CbrError::TooFewCases { k: 4, cases: 3 })
    ));
    assert!(matches!(
        KMedoids::fit(
            &cb,
            KMedoidsParams::new(4, 1).sample(100_000),
            &CancelToken::new()
        ),
        Err(CbrError::TooLarge(TooLarge { .. }))
    ));
    let stopped = CancelToken::new();
    stopped.cancel();
    assert!(matches!(
        KMedoids::fit(&cb, p.clone(), &stopped),
        Err(CbrError::Cancelled(_))
    ));
    assert!(matches!(
        a.representative(&cb, 9),
        Err(CbrError::InvalidParameter(InvalidParameter {
            name: "cluster",
            ..
        }))
    ));
}
