//! Distances and statistics pinned to values computed by hand on a five-customer case base.
//!
//! Schema: age (linear, w 2), adequacy (linear, w 3, the MiFID level), sex (nominal F/M,
//! overlap, w 1), portfolios (w 3): Σw = 9. Products: A (risk 1, CF), B (risk 2, GF),
//! C (risk 4, CV), D (risk 1, GF).
//!
//! | case | id | age | adequacy | sex | portfolios |
//! |---|---|---|---|---|---|
//! | 0 | T  | 40 | 3 | F | t1 {A: 1} |
//! | 1 | c1 | 40 | 3 | F | p1 {A: .5, B: .5} |
//! | 2 | c2 | 60 | 2 | M | p2 {A: 1}, p3 {B: .5, D: .5} |
//! | 3 | c3 | –  | 4 | F | none |
//! | 4 | c4 | 20 | 1 | – | p4 {C: 1} |
//!
//! Ranges: age 60 − 20 = 40, adequacy 4 − 1 = 3. With s = 1/√2:
//! D(T,c1) = 3(1 − s)/9; D(T,c2) = (2·½ + 3·⅓ + 1 + 3·0)/9 = 1/3;
//! D(T,c3) = (2·1 + 3·⅓ + 0 + 3·1)/9 = 2/3; D(T,c4) = (2·½ + 3·⅔ + 1 + 3·1)/9 = 7/9;
//! D(c1,c2) = (1 + 1 + 1 + 3(1 − s))/9.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use approx::assert_abs_diff_eq;
use fundalloc_cbr_advisor::*;
use fundalloc_core_types::{CancelToken, Empty, InvalidParameter};
use std::time::{Duration, Instant};

const S: f64 = std::f64::consts::FRAC_1_SQRT_2;

fn schema() -> Schema {
    SchemaSpec {
        features: vec![
            FeatureSpec::linear("age", 2),
            FeatureSpec::linear("adequacy", 3),
            FeatureSpec::nominal("sex", ["F", "M"], 1),
        ],
        portfolio_weight: 3,
        adequacy_feature: Some("adequacy".into()),
    }
    .check()
    .unwrap()
}

fn case_base() -> CaseBase {
    let cat = Catalogue::new(vec![
        Product::new("A", 1, Issuer::Corporate, RateType::Fixed),
        Product::new("B", 2, Issuer::Government, RateType::Fixed),
        Product::new("C", 4, Issuer::Corporate, RateType::Variable),
        Product::new("D", 1, Issuer::Government, RateType::Fixed),
    ])
    .unwrap();
    let mut cb = CaseBase::new(schema(), cat);
    let recs = [
        CustomerRecord::new("T")
            .num("age", 40.0)
            .num("adequacy", 3.0)
            .cat("sex", "F")
            .portfolio("t1", &[("A", 1.0)]),
        CustomerRecord::new("c1")
            .num("age", 40.0)
            .num("adequacy", 3.0)
            .cat("sex", "F")
            .portfolio("p1", &[("A", 50.0), ("B", 50.0)]),
        CustomerRecord::new("c2")
            .num("age", 60.0)
            .num("adequacy", 2.0)
            .cat("sex", "M")
            .portfolio("p2", &[("A", 1.0)])
            .portfolio("p3", &[("B", 0.5), ("D", 0.5)]),
        CustomerRecord::new("c3")
            .num("adequacy", 4.0)
            .cat("sex", "F"),
        CustomerRecord::new("c4")
            .num("age", 20.0)
            .num("adequacy", 1.0)
            .portfolio("p4", &[("C", 3.0)]),
    ];
    for r in recs {
        cb.add(r).unwrap();
    }
    cb
}

fn d_c1_c2() -> f64 {
    (3.0 + 3.0 * (1.0 - S)) / 9.0
}

#[test]
fn global_distances_match_hand_values() {
    let cb = case_base();
    assert_eq!(cb.linear_range(0), 40.0);
    assert_eq!(cb.linear_range(1), 3.0);
    let e = 1e-12;
    assert_abs_diff_eq!(
        cb.distance(0, 1).unwrap(),
        3.0 * (1.0 - S) / 9.0,
        epsilon = e
    );
    assert_abs_diff_eq!(cb.distance(0, 2).unwrap(), 1.0 / 3.0, epsilon = e);
    assert_abs_diff_eq!(cb.distance(0, 3).unwrap(), 2.0 / 3.0, epsilon = e);
    assert_abs_diff_eq!(cb.distance(0, 4).unwrap(), 7.0 / 9.0, epsilon = e);
    assert_abs_diff_eq!(cb.distance(1, 2).unwrap(), d_c1_c2(), epsilon = e);
    assert_abs_diff_eq!(cb.distance(2, 1).unwrap(), d_c1_c2(), epsilon = e);
    assert_abs_diff_eq!(cb.distance(3, 3).unwrap(), (3.0 + 2.0) / 9.0, epsilon = e); // missing age, no portfolio
    assert!(cb.distance(0, 99).is_none());
    // c1's portfolio p1 vs c2's {p2 = CF, p3 = GF}: both at 1 − s.
    let p = |i: u32| {
        cb.portfolios_of(i)
            .iter()
            .map(|v| *v.classes)
            .collect::<Vec<_>>()
    };
    assert_abs_diff_eq!(
        best_portfolio_match(&p(1), &p(2)).distance,
        1.0 - S,
        epsilon = e
    );
    assert_eq!(best_portfolio_match(&p(0), &p(2)).pairs, vec![(0, 0)]);
}

#[test]
fn step1_step2_step3_with_target_portfolio() {
    let cb = case_base();
    let t = cb.target(&"T".into()).unwrap();
    let params = QueryParams::new(10).n(Some(3));
    let r = cb
        .recommend(&t, params.clone(), &CancelToken::new())
        .unwrap();
    let ids: Vec<_> = r.neighbours[0].iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["c1", "c2", "c3"]); // T itself excluded
    assert!(r.step2);
    // Step 2: c2's p2 (distance 0) before c1's p1 (1 − s); c3 has no portfolio.
    let pf: Vec<_> = r
        .portfolios
        .iter()
        .map(|p| cb.portfolio(p.portfolio).unwrap().id)
        .collect();
    assert_eq!(pf, ["p2", "p1"]);
    assert_abs_diff_eq!(
        r.portfolios[1].portfolio_distance.unwrap(),
        1.0 - S,
        epsilon = 1e-12
    );
    assert_eq!(r.assets.len(), 2);
    let a = &r.assets[0];
    assert_eq!(a.product.as_str(), "A");
    assert_eq!(a.frequency, 1.0);
    assert_abs_diff_eq!(a.average_share, 0.75);
    assert_abs_diff_eq!(a.adc.unwrap(), d_c1_c2(), epsilon = 1e-12);
    assert_abs_diff_eq!(a.adp.unwrap(), 1.0 - S, epsilon = 1e-12);
    let b = &r.assets[1];
    assert_eq!(b.product.as_str(), "B");
    assert_eq!(b.frequency, 0.5);
    assert_abs_diff_eq!(b.average_share, 0.5);
    assert_eq!((b.adc, b.adp), (None, None));
    // Least frequent first reverses; K = 1 keeps the first product found (A).
    let r = cb
        .recommend(
            &t,
            params.clone().order(Order::LeastFrequentFirst),
            &CancelToken::new(),
        )
        .unwrap();
    assert_eq!(r.assets[0].product.as_str(), "B");
    let r = cb
        .recommend(&t, QueryParams::new(1).n(Some(3)), &CancelToken::new())
        .unwrap();
    assert_eq!(r.assets.len(), 1);
    assert_eq!(r.assets[0].product.as_str(), "A");
    // J = 1 keeps only p2.
    let r = cb
        .recommend(&t, params.clone().j(Some(1)), &CancelToken::new())
        .unwrap();
    assert_eq!(r.portfolios.len(), 1);
    assert_eq!(r.assets.len(), 1);
}

#[test]
fn mifid_filter_drops_products_above_adequacy() {
    let cb = case_base();
    let t = cb.target(&"T".into()).unwrap();
    let r = cb
        .recommend(&t, QueryParams::new(10).n(Some(4)), &CancelToken::new())
        .unwrap();
    // p4 {C} is retrieved (distance 1) but C has risk 4 > adequacy 3.
    assert_eq!(r.portfolios.len(), 3);
    let names: Vec<_> = r.assets.iter().map(|a| a.product.as_str()).collect();
    assert_eq!(names, ["A", "B"]);
    assert_abs_diff_eq!(r.assets[0].frequency, 2.0 / 3.0);
    assert_abs_diff_eq!(r.assets[1].frequency, 1.0 / 3.0);
    let low = CustomerRecord::new("x")
        .num("age", 40.0)
        .num("adequacy", 1.0)
        .portfolio("x1", &[("A", 1.0)]);
    let r = cb
        .recommend(
            &cb.target_from_record(&low).unwrap(),
            QueryParams::new(10).n(Some(5)),
            &CancelToken::new(),
        )
        .unwrap();
    assert!(r.assets.iter().all(|a| a.risk_level.get() <= 1));
    assert!(!r.assets.is_empty());
    let none = CustomerRecord::new("y").num("age", 40.0);
    let err = cb.recommend(
        &cb.target_from_record(&none).unwrap(),
        QueryParams::new(3),
        &CancelToken::new(),
    );
    assert!(matches!(err, Err(CbrError::MissingAdequacy { .. })));
}

#[test]
fn target_without_portfolio_skips_step2() {
    let cb = case_base();
    let u = CustomerRecord::new("U")
        .num("age", 40.0)
        .num("adequacy", 2.0)
        .cat("sex", "M");
    let u = cb.target_from_record(&u).unwrap();
    let r = cb
        .recommend(&u, QueryParams::new(10).n(Some(3)), &CancelToken::new())
        .unwrap();
    assert!(!r.step2);
    let nb: Vec<_> = r.neighbours[0]
        .iter()
        .map(|n| (n.id.as_str(), n.distance))
        .collect();
    assert_eq!(nb[0].0, "c2");
    assert_abs_diff_eq!(nb[0].1, 4.0 / 9.0, epsilon = 1e-12);
    assert_eq!((nb[1].0, nb[2].0), ("T", "c1")); // tie at 5/9, by case index
    assert_abs_diff_eq!(nb[1].1, 5.0 / 9.0, epsilon = 1e-12);
    // Every portfolio in customer order: p2, p3, t1, p1.
    let pf: Vec<_> = r
        .portfolios
        .iter()
        .map(|p| cb.portfolio(p.portfolio).unwrap().id)
        .collect();
    assert_eq!(pf, ["p2", "p3", "t1", "p1"]);
    let names: Vec<_> = r.assets.iter().map(|a| a.product.as_str()).collect();
    assert_eq!(names, ["A", "B", "D"]);
    let [a, b, d] = &r.assets[..] else { panic!() };
    assert_abs_diff_eq!(a.frequency, 0.75);
    assert_abs_diff_eq!(a.average_share, 2.5 / 3.0, epsilon = 1e-12);
    let adc_a = (3.0 * (1.0 - S) / 9.0 + 1.0 / 3.0 + d_c1_c2()) / 3.0;
    assert_abs_diff_eq!(a.adc.unwrap(), adc_a, epsilon = 1e-12);
    assert_eq!(a.adp, None); // not calculated without a target portfolio
    assert_abs_diff_eq!(b.frequency, 0.5);
    assert_abs_diff_eq!(b.adc.unwrap(), d_c1_c2(), epsilon = 1e-12);
    assert_abs_diff_eq!(d.frequency, 0.25);
    assert_abs_diff_eq!(d.average_share, 0.5);
    assert_eq!(d.adc, None);
}

#[test]
fn group_query_merges_and_excludes_members() {
    let cb = case_base();
    let g = [
        cb.target(&"c1".into()).unwrap(),
        cb.target(&"c2".into()).unwrap(),
    ];
    let r = cb
        .recommend_group(&g, QueryParams::new(5).n(Some(1)), &CancelToken::new())
        .unwrap();
    assert_eq!(r.neighbours[0][0].id.as_str(), "T");
    assert_eq!(r.neighbours[1][0].id.as_str(), "T");
    assert_abs_diff_eq!(r.neighbours[1][0].distance, 1.0 / 3.0, epsilon = 1e-12);
    assert!(r.step2);
    // t1 retrieved for both members, kept once at its best distance (0, via c2).
    assert_eq!(r.portfolios.len(), 1);
    assert_eq!(r.portfolios[0].portfolio_distance, Some(0.0));
    assert_eq!(r.assets.len(), 1);
    assert_eq!(
        (r.assets[0].frequency, r.assets[0].average_share),
        (1.0, 1.0)
    );
    assert!(
        cb.recommend_group(&[], QueryParams::new(5), &CancelToken::new())
            .is_err()
    );
}

#[test]
fn retain_updates_ranges() {
    let mut cb = case_base();
    cb.add(
        CustomerRecord::new("c5")
            .num("age", 100.0)
            .num("adequacy", 3.0),
    )
    .unwrap();
    assert_eq!(cb.linear_range(0), 80.0);
    // D(T,c2): age term 2·20/80 = 0.5
    assert_abs_diff_eq!(cb.distance(0, 2).unwrap(), 2.5 / 9.0, epsilon = 1e-12);
    assert!(matches!(
        cb.add(CustomerRecord::new("c5")),
        Err(CbrError::DuplicateId { .. })
    ));
}

#[test]
fn invalid_records_and_queries_are_typed_errors() {
    let mut cb = case_base();
    let bad = |r: CustomerRecord, cb: &mut CaseBase| cb.add(r).unwrap_err();
    assert!(matches!(
        bad(CustomerRecord::new("x").num("age", f64::NAN), &mut cb),
        CbrError::NonFiniteFeature { .. }
    ));
    assert!(matches!(
        bad(CustomerRecord::new("x").cat("sex", "X"), &mut cb),
        CbrError::UnknownCategory { .. }
    ));
    assert!(matches!(
        bad(CustomerRecord::new("x").cat("age", "old"), &mut cb),
        CbrError::WrongValueKind { .. }
    ));
    assert!(matches!(
        bad(CustomerRecord::new("x").num("height", 1.0), &mut cb),
        CbrError::UnknownFeature { .. }
    ));
    assert!(matches!(
        bad(
            CustomerRecord::new("x").portfolio("q", &[("Z", 1.0)]),
            &mut cb
        ),
        CbrError::UnknownProduct { .. }
    ));
    assert!(matches!(
        bad(
            CustomerRecord::new("x").portfolio("q", &[("A", -1.0)]),
            &mut cb
        ),
        CbrError::InvalidShare { .. }
    ));
    assert!(matches!(
        bad(
            CustomerRecord::new("x").portfolio("q", &[("A", 0.0)]),
            &mut cb
        ),
        CbrError::EmptyPortfolio { .. }
    ));
    assert!(matches!(
        bad(
            CustomerRecord::new("x")
                .portfolio("q", &[("A", 1.0)])
                .portfolio("q", &[("B", 1.0)]),
            &mut cb
        ),
        CbrError::DuplicateId { .. }
    ));
    assert_eq!(cb.len(), 5);
    let t = cb.target(&"T".into()).unwrap();
    for (p, name) in [
        (QueryParams::new(0), "k"),
        (QueryParams::new(1).n(Some(0)), "n"),
        (QueryParams::new(1).j(Some(0)), "j"),
        (
            QueryParams::new(1).default_n_fraction(f64::NAN),
            "default_n_fraction",
        ),
    ] {
        assert!(matches!(
            cb.recommend(&t, p, &CancelToken::new()),
            Err(CbrError::InvalidParameter(InvalidParameter { name: n, .. })) if n == name
        ));
    }
    assert!(matches!(
        cb.recommend_group(&[], QueryParams::new(1), &CancelToken::new()),
        Err(CbrError::Empty(Empty {
            what: "targets",
            ..
        }))
    ));
    assert!(matches!(
        cb.recommend(
            &t,
            QueryParams::new(1).n(Some(3)).max_neighbours(2),
            &CancelToken::new()
        ),
        Err(CbrError::TooLarge(_))
    ));
    let past = Instant::now() - Duration::from_millis(1);
    assert!(matches!(
        cb.recommend(&t, QueryParams::new(1), &CancelToken::with_deadline(past)),
        Err(CbrError::Cancelled(c)) if c.deadline
    ));
    let cancelled = CancelToken::new();
    cancelled.cancel();
    assert!(matches!(
        cb.recommend(&t, QueryParams::new(1), &cancelled),
        Err(CbrError::Cancelled(c)) if !c.deadline
    ));
    assert!(matches!(
        cb.target(&"nobody".into()),
        Err(CbrError::UnknownCustomer { .. })
    ));
}

#[test]
fn csv_and_json_loading() {
    let products = "id,risk_level,issuer,rate\nA,1,C,F\nB,2,G,F\nC,4,C,V\nD,1,G,F\n";
    let customers = "id,age,adequacy,sex\nT,40,3,F\nc1,40,3,F\nc2,60,2,M\nc3,,4,F\nc4,20,1,\n";
    let holdings = "customer,portfolio,product,share\nT,t1,A,1\nc1,p1,A,50\nc1,p1,B,50\nc2,p2,A,1\nc2,p3,B,0.5\nc2,p3,D,0.5\nc4,p4,C,3\n";
    let cat = Catalogue::from_csv(products.as_bytes()).unwrap();
    let cb = CaseBase::from_csv(schema(), cat, customers.as_bytes(), holdings.as_bytes()).unwrap();
    let reference = case_base();
    for i in 0..5 {
        for j in 0..5 {
            assert_abs_diff_eq!(
                cb.distance(i, j).unwrap(),
                reference.distance(i, j).unwrap(),
                epsilon = 1e-12
            );
        }
    }
    let mut json = Vec::new();
    cb.to_json(&mut json).unwrap();
    let back = CaseBase::from_json(json.as_slice()).unwrap();
    assert_eq!(back.to_data().customers, cb.to_data().customers);
    assert!(matches!(
        CaseBase::from_json(&b"{not json"[..]),
        Err(CbrError::Parse { .. })
    ));
    let bad = "id,age,adequacy,sex\nT,forty,3,F\n";
    let cat = Catalogue::from_csv(products.as_bytes()).unwrap();
    assert!(matches!(
        CaseBase::from_csv(
            schema(),
            cat,
            bad.as_bytes(),
            &b"customer,portfolio,product,share\n"[..]
        ),
        Err(CbrError::Parse { .. })
    ));
}
