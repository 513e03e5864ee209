//! Bad input gives typed errors, never a panic.

#![allow(clippy::unwrap_used)]

use fundalloc_core_types::{CancelToken, CoreError, NoObserver, Position, PriceSeries};
use fundalloc_simulation::{
    Comparison, CorrelatedGbm, Gbm, Portfolio, SimulationError, SimulationParams,
    StationaryBootstrap, calibrate, calibrate_assets, compare, log_returns, simulate,
};
use ndarray::{Array2, array};

fn series(values: Vec<f64>) -> PriceSeries {
    PriceSeries::new("s", values).unwrap()
}

#[test]
fn price_histories_are_checked() {
    assert!(matches!(
        calibrate(&series(vec![100.0]), 252.0),
        Err(SimulationError::TooFewPrices { len: 1, .. })
    ));
    assert!(matches!(
        log_returns(&series(vec![100.0, 0.0, 3.0])),
        Err(SimulationError::NonPositivePrice {
            at: Position::Index(1),
            ..
        })
    ));
    assert!(matches!(
        StationaryBootstrap::new(&[series(vec![1.0, -2.0])]),
        Err(SimulationError::NonPositivePrice { .. })
    ));
    // NaN never reaches a PriceSeries: its constructor refuses it (a core error that converts).
    let nan: SimulationError = PriceSeries::new("s", vec![1.0, f64::NAN])
        .unwrap_err()
        .into();
    assert!(matches!(
        nan,
        SimulationError::Core(CoreError::NonFinite(_))
    ));
    assert!(matches!(
        StationaryBootstrap::from_log_returns(&array![[0.01], [f64::NAN]]),
        Err(SimulationError::NonFinite(_))
    ));
    assert!(matches!(
        calibrate(&series(vec![1.0, 2.0]), f64::NAN),
        Err(SimulationError::InvalidParameter(_))
    ));
    assert!(matches!(
        calibrate_assets(&[], 252.0),
        Err(SimulationError::Empty(_))
    ));
    assert!(matches!(
        calibrate_assets(
            &[series(vec![1.0, 2.0, 3.0]), series(vec![1.0, 2.0])],
            252.0
        ),
        Err(SimulationError::ShapeMismatch(_))
    ));
    assert!(matches!(
        calibrate_assets(
            &[series(vec![1.0, 2.0, 3.0]), series(vec![5.0, 5.0, 5.0])],
            252.0
        ),
        Err(SimulationError::ZeroVariance { .. })
    ));
    // Two series that move as one: a singular correlation matrix.
    let a = vec![1.0, 1.1, 1.05, 1.2, 1.15];
    let b: Vec<f64> = a.iter().map(|x| 3.0 * x).collect();
    assert!(matches!(
        calibrate_assets(&[series(a), series(b)], 252.0),
        Err(SimulationError::NotPositiveDefinite { column: 1, .. })
    ));
}

#[test]
fn weights_are_checked() {
    assert!(matches!(
        Portfolio::new(vec![0.5, 0.4]),
        Err(SimulationError::WeightsDoNotSumToOne { .. })
    ));
    assert!(Portfolio::new(vec![0.5, 0.5 + 5e-10]).is_ok());
    assert!(matches!(
        Portfolio::new(vec![1.5, -0.5]),
        Err(SimulationError::NegativeWeight { index: 1, .. })
    ));
    assert!(matches!(
        Portfolio::new(vec![f64::NAN, 1.0]),
        Err(SimulationError::NonFinite(_))
    ));
    assert!(matches!(
        Portfolio::new(vec![]),
        Err(SimulationError::Empty(_))
    ));
    assert!(Portfolio::single(2, 2).is_err());
    assert!(Portfolio::equal(0).is_err());
}

#[test]
fn parameters_and_shapes_are_checked() {
    let gbm = Gbm::new(0.05, 0.2).unwrap();
    let one = Portfolio::single(1, 0).unwrap();
    let go = |params: SimulationParams| {
        simulate(&gbm, &one, params, &CancelToken::new(), &mut NoObserver)
    };
    assert!(matches!(
        go(SimulationParams::default().n_paths(0)),
        Err(SimulationError::InvalidParameter(e)) if e.name == "n_paths"
    ));
    assert!(matches!(
        go(SimulationParams::default().steps(0)),
        Err(SimulationError::InvalidParameter(e)) if e.name == "steps"
    ));
    assert!(matches!(
        go(SimulationParams::default().n_paths(3).antithetic(true)),
        Err(SimulationError::InvalidParameter(e)) if e.name == "n_paths"
    ));
    assert!(matches!(
        go(SimulationParams::default().steps_per_year(0.0)),
        Err(SimulationError::InvalidParameter(_))
    ));
    assert!(matches!(
        go(SimulationParams::default().n_paths(1 << 27).steps(1 << 20)),
        Err(SimulationError::TooLarge(_))
    ));
    assert!(matches!(
        go(SimulationParams::default().n_paths(usize::MAX)),
        Err(SimulationError::TooLarge(_))
    ));
    assert!(matches!(
        go(SimulationParams::default()
            .n_paths(1 << 20)
            .steps(1 << 10)
            .fan_chart(true)),
        Err(SimulationError::TooLarge(_))
    ));
    assert!(matches!(
        go(SimulationParams::default()
            .fan_chart(true)
            .fan_levels(vec![0.5, 1.0])),
        Err(SimulationError::InvalidParameter(_))
    ));
    let two = Portfolio::equal(2).unwrap();
    assert!(matches!(
        simulate(
            &gbm,
            &two,
            SimulationParams::default(),
            &CancelToken::new(),
            &mut NoObserver
        ),
        Err(SimulationError::ShapeMismatch(_))
    ));
    let boot = StationaryBootstrap::from_log_returns(&Array2::from_elem((10, 1), 0.01)).unwrap();
    assert!(matches!(
        simulate(&boot, &one, SimulationParams::default().antithetic(true), &CancelToken::new(), &mut NoObserver),
        Err(SimulationError::InvalidParameter(e)) if e.name == "antithetic"
    ));
}

#[test]
fn levels_outside_the_unit_interval_are_refused() {
    let gbm = Gbm::new(0.05, 0.2).unwrap();
    let sim = simulate(
        &gbm,
        &Portfolio::single(1, 0).unwrap(),
        SimulationParams::default().n_paths(100).steps(2),
        &CancelToken::new(),
        &mut NoObserver,
    )
    .unwrap();
    for bad in [0.0, 1.0, -0.1, 1.1, f64::NAN] {
        assert!(matches!(
            sim.tail(bad),
            Err(SimulationError::InvalidParameter(_))
        ));
        assert!(matches!(
            sim.percentile(bad),
            Err(SimulationError::InvalidParameter(_))
        ));
        assert!(matches!(
            sim.summary(&[0.95, bad]),
            Err(SimulationError::InvalidParameter(_))
        ));
        assert!(gbm.value_at_risk(1.0, bad).is_err());
    }
}

#[test]
fn a_cancelled_token_stops_the_simulation() {
    let gbm = Gbm::new(0.05, 0.2).unwrap();
    let token = CancelToken::new();
    token.cancel();
    assert!(matches!(
        simulate(&gbm, &Portfolio::single(1, 0).unwrap(), SimulationParams::default(), &token, &mut NoObserver),
        Err(SimulationError::Cancelled(c)) if !c.deadline
    ));
}

#[test]
fn comparisons_check_their_rows() {
    let model = CorrelatedGbm::new(
        vec![Gbm::new(0.05, 0.2).unwrap(), Gbm::new(0.02, 0.05).unwrap()],
        array![[1.0, 0.2], [0.2, 1.0]],
    )
    .unwrap();
    let params = SimulationParams::default().n_paths(2_000).steps(10);
    let token = CancelToken::new();
    assert!(matches!(
        compare(
            &model,
            &[],
            params.clone(),
            &[0.95],
            &token,
            &mut NoObserver
        ),
        Err(SimulationError::Empty(_))
    ));
    let (a, b) = (
        Portfolio::single(2, 0).unwrap(),
        Portfolio::equal(2).unwrap(),
    );
    let table = compare(
        &model,
        &[("equity", &a), ("mixed", &b)],
        params.clone(),
        &[0.95, 0.99],
        &token,
        &mut NoObserver,
    )
    .unwrap();
    let text = table.to_string();
    assert!(
        text.contains("| equity") && text.contains("CVaR 99%"),
        "{text}"
    );
    assert!(
        table.get("mixed").unwrap().volatility.value
            < table.get("equity").unwrap().volatility.value
    );
    let other = compare(
        &model,
        &[("x", &a)],
        params,
        &[0.9],
        &token,
        &mut NoObserver,
    )
    .unwrap();
    let mut rows = table.rows.clone();
    rows.extend(other.rows);
    assert!(matches!(
        Comparison::new(rows),
        Err(SimulationError::ShapeMismatch(_))
    ));
    assert!(matches!(
        Comparison::new(vec![]),
        Err(SimulationError::Empty(_))
    ));
}
