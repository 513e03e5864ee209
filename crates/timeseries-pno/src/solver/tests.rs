use super::*;
use good_lp::{Expression, ProblemVariables, Solution, SolverModel, constraint, variable};
use proptest::prelude::*;

/// The same LP through good_lp's pure-Rust `microlp` backend: `None` when it reports infeasible.
fn lp_objective(cost: &[f64], risk: &[f64], budget: f64) -> Option<f64> {
    let mut vars = ProblemVariables::new();
    let a: Vec<_> = (0..cost.len())
        .map(|_| vars.add(variable().min(0.0)))
        .collect();
    let objective: Expression = a.iter().zip(cost).map(|(&v, &c)| c * v).sum();
    let total: Expression = a.iter().map(|&v| 1.0 * v).sum();
    let used: Expression = a.iter().zip(risk).map(|(&v, &r)| r * v).sum();
    let solved = vars
        .minimise(objective.clone())
        .using(good_lp::microlp)
        .with(constraint!(total == 1.0))
        .with(constraint!(used <= budget))
        .solve()
        .ok()?;
    Some(solved.eval(&objective))
}

/// Brute force over all single steps and pairs (the LP's vertices).
fn brute_force(cost: &[f64], risk: &[f64], budget: f64) -> Option<f64> {
    let mut best: Option<f64> = None;
    let mut consider = |v: f64| best = Some(best.map_or(v, |b: f64| b.min(v)));
    for i in 0..cost.len() {
        if risk[i] <= budget {
            consider(cost[i]);
        }
        for j in 0..cost.len() {
            if risk[i] <= budget && risk[j] > budget {
                let theta = (budget - risk[i]) / (risk[j] - risk[i]);
                consider((1.0 - theta) * cost[i] + theta * cost[j]);
            }
        }
    }
    best
}

fn check_solution(s: &RiskSolution, risk: &[f64], budget: f64) {
    let total: f64 = s.support().iter().map(|p| p.1).sum();
    assert!((total - 1.0).abs() < 1e-12, "weights sum to {total}");
    assert!(s.support().iter().all(|p| p.1 > 0.0 && p.1 <= 1.0));
    assert!(s.support().len() <= 2);
    assert!(
        s.dot(risk) <= budget + 1e-12,
        "risk {} > {budget}",
        s.dot(risk)
    );
}

#[test]
fn slack_budget_picks_the_cheapest_step() {
    let s = solve_risk_aware(&[3.0, 1.0, 2.0], &[0.1, 0.2, 0.3], 0.25).unwrap();
    assert_eq!(s.support(), &[(1, 1.0)]);
    assert_eq!(s.objective(), 1.0);
}

#[test]
fn binding_budget_mixes_two_hull_steps() {
    // Points (r, c): (0,4) (1,3) (2,0). Lower hull from (0,4) to (2,0) passes below (1,3):
    // at r̄ = 1 the optimum is ½·4 + ½·0 = 2, not the step (1,3).
    let s = solve_risk_aware(&[4.0, 3.0, 0.0], &[0.0, 1.0, 2.0], 1.0).unwrap();
    assert_eq!(s.support(), &[(0, 0.5), (2, 0.5)]);
    assert_eq!(s.objective(), 2.0);
    // A hull vertex exactly at the budget is taken alone.
    let s = solve_risk_aware(&[4.0, 1.0, 0.0], &[0.0, 1.0, 2.0], 1.0).unwrap();
    assert_eq!(s.support(), &[(1, 1.0)]);
}

#[test]
fn infeasible_budget_is_a_typed_error() {
    let err = solve_risk_aware(&[1.0, 2.0], &[0.3, 0.4], 0.2).unwrap_err();
    match err {
        PnoError::Infeasible { budget, min_risk } => {
            assert_eq!(budget, 0.2);
            assert_eq!(min_risk, 0.3);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn bad_input_is_rejected() {
    assert!(matches!(
        solve_risk_aware(&[], &[], 1.0),
        Err(PnoError::Empty(_))
    ));
    assert!(matches!(
        solve_risk_aware(&[1.0], &[f64::NAN], 1.0),
        Err(PnoError::NonFinite(_))
    ));
    assert!(matches!(
        solve_risk_aware(&[f64::INFINITY], &[0.0], 1.0),
        Err(PnoError::NonFinite(_))
    ));
    assert!(matches!(
        solve_risk_aware(&[1.0], &[0.0], f64::NAN),
        Err(PnoError::NonFinite(_))
    ));
    assert!(matches!(
        solve_risk_aware(&[1.0, 2.0], &[0.0], 1.0),
        Err(PnoError::ShapeMismatch(_))
    ));
    assert!(matches!(
        quantile(&[1.0], 1.5),
        Err(PnoError::InvalidParameter(_))
    ));
}

#[test]
fn quantile_matches_numpy_linear() {
    // numpy.quantile([3, 1, 4, 1, 5], [0, .25, .5, .9, 1]) = [1, 1, 3, 4.6, 5]
    let v = [3.0, 1.0, 4.0, 1.0, 5.0];
    for (q, want) in [(0.0, 1.0), (0.25, 1.0), (0.5, 3.0), (0.9, 4.6), (1.0, 5.0)] {
        assert!((quantile(&v, q).unwrap() - want).abs() < 1e-12, "q={q}");
    }
}

#[test]
fn batch_equals_single_solves() {
    let risk = [0.3, 0.1, 0.5, 0.2, 0.9];
    let c = RiskConstraint::from_quantile(&risk, 0.5).unwrap();
    let costs = ndarray::array![
        [1.0, 2.0, 3.0, 4.0, 0.0],
        [5.0, 4.0, 3.0, 2.0, 1.0],
        [0.0, 0.0, 0.0, 0.0, 0.0]
    ];
    let dense = c.solve_batch(costs.view()).unwrap();
    for (row, cost) in dense.rows().into_iter().zip(costs.rows()) {
        let s = c.solve(cost.as_slice().unwrap()).unwrap();
        assert_eq!(row.to_owned(), s.to_dense(5));
    }
    let bad = ndarray::array![[1.0, f64::NAN, 0.0, 0.0, 0.0]];
    assert!(c.solve_batch(bad.view()).is_err());
    assert!(
        c.solve_batch(ndarray::Array2::zeros((1, 3)).view())
            .is_err()
    );
}

/// Values on a coarse grid produce many exact ties in both r and c.
fn grid_value() -> impl Strategy<Value = f64> {
    prop_oneof![(0..5i32).prop_map(|k| k as f64 * 0.25), -10.0..10.0f64]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn equals_the_lp(
        (cost, risk) in (1..12usize).prop_flat_map(|h| (
            proptest::collection::vec(grid_value(), h),
            proptest::collection::vec(grid_value().prop_map(f64::abs), h),
        )),
        budget in grid_value(),
    ) {
        let lp = lp_objective(&cost, &risk, budget);
        let brute = brute_force(&cost, &risk, budget);
        match solve_risk_aware(&cost, &risk, budget) {
            Ok(s) => {
                check_solution(&s, &risk, budget);
                let lp = lp.expect("LP must be feasible when the exact solver is");
                prop_assert!((s.objective() - lp).abs() <= 1e-7 * (1.0 + lp.abs()),
                    "exact {} vs LP {lp}", s.objective());
                let brute = brute.expect("brute force must be feasible too");
                prop_assert!((s.objective() - brute).abs() <= 1e-12 * (1.0 + brute.abs()));
                prop_assert!((s.objective() - s.dot(&cost)).abs() <= 1e-12 * (1.0 + brute.abs()));
                // The shared-order path (RiskConstraint, O(H) per solve) agrees with one-shot.
                let shared = RiskConstraint::new(&risk, budget).unwrap().solve(&cost).unwrap();
                check_solution(&shared, &risk, budget);
                prop_assert!((shared.objective() - s.objective()).abs() <= 1e-12 * (1.0 + brute.abs()));
            }
            Err(PnoError::Infeasible { min_risk, .. }) => {
                prop_assert!(budget < min_risk);
                prop_assert!(lp.is_none(), "LP found {lp:?} where the exact solver saw none");
                prop_assert!(brute.is_none());
            }
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }
}

/// The exact solver against HiGHS (feature `highs`) on training-like instances: identical
/// objectives to 1e-9.
#[cfg(feature = "highs")]
#[test]
fn equals_highs_on_random_instances() {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    let mut rng = StdRng::seed_from_u64(11);
    for h in [1usize, 2, 30, 144] {
        for _ in 0..50 {
            let cost: Vec<f64> = (0..h).map(|_| rng.random_range(-5.0..5.0)).collect();
            let risk: Vec<f64> = (0..h).map(|_| rng.random_range(0.0..2.0)).collect();
            let budget = rng.random_range(-0.2..2.0);
            let exact = solve_risk_aware(&cost, &risk, budget);
            let highs = super::highs::solve_with_highs(&cost, &risk, budget);
            match (exact, highs) {
                (Ok(e), Ok(hi)) => assert!(
                    (e.objective() - hi).abs() < 1e-9,
                    "{} vs {hi}",
                    e.objective()
                ),
                (Err(PnoError::Infeasible { .. }), Err(PnoError::Infeasible { .. })) => {}
                (e, hi) => panic!("exact {e:?} vs HiGHS {hi:?}"),
            }
        }
    }
}
