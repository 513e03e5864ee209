//! The PTOFA pipeline end to end through the `fundalloc` facade, on a tiny seeded synthetic
//! campaign whose true expected revenue is known: train the revenue model on an exposure log,
//! predict Ê for every customer × fund pair, allocate with Exact, HA and Manual, then check
//! (1) every constraint holds, by a count written here independently of the allocator's
//! verifier, and (2) the prediction carries real information about the truth: Ê ranks the pairs
//! of the true E far better than chance, and the Exact allocation on Ê earns clearly more true
//! revenue than feasible allocations that ignore E.
//!
//! Also: the facade's typed errors, and that one seed gives one result.

use fundalloc::Error;
use fundalloc::allocator::{AllocError, GreedyTopK, ShapeMismatch};
use fundalloc::metrics::{MetricsError, roc_auc};
use fundalloc::pipeline::{Pipeline, PipelineReport, TrainedPipeline, allocate};
use fundalloc::prelude::*;
use fundalloc::revenue_model::{RevenueModelError, ValidTrainParams};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

const CUSTOMERS: usize = 2_000;
const FUNDS: usize = 6;
/// Funds per customer.
const K: usize = 2;
const MAX_EPOCHS: usize = 10;

/// The tiny model of these tests. Dropout is off so that training does not draw from burn's
/// process-global RNG, which tests running in parallel would share.
fn params(seed: u64) -> ValidTrainParams {
    TrainParams::default()
        .hidden(vec![16])
        .max_epochs(MAX_EPOCHS)
        .batch_size(256)
        .dropout(0.0)
        .seed(seed)
        .check()
        .unwrap()
}

fn world() -> SyntheticCampaign {
    SyntheticCampaign::generate(
        SyntheticParams::default()
            .n_customers(CUSTOMERS)
            .n_funds(FUNDS)
            .seed(11),
    )
    .unwrap()
}

/// Risk constraints and exposures, derived deterministically from the world and a seed, that
/// are feasible by construction.
struct Constraints {
    tolerance: Vec<RiskLevel>,
    fund_risk: Vec<RiskLevel>,
    exposures: Vec<u64>,
    /// The allocation the exposures were counted from: each customer gets K of its eligible
    /// funds uniformly at random. A feasible allocation that ignores E.
    random: Allocation,
}

fn constraints(world: &SyntheticCampaign, seed: u64) -> Constraints {
    // Risk levels 1..=5 from the world's own risk features (codes 0..=4); the K least risky
    // funds are put at level 1 so that every customer may hold at least K funds.
    let code = |t: &fundalloc::revenue_model::FeatureTable, row: usize| {
        u8::try_from(t.categorical[[row, 2]]).unwrap() + 1
    };
    let mut fund_risk: Vec<RiskLevel> = (0..FUNDS)
        .map(|f| RiskLevel::new(code(world.funds(), f)))
        .collect();
    let mut by_risk: Vec<usize> = (0..FUNDS).collect();
    by_risk.sort_by_key(|&f| fund_risk[f]);
    for &f in &by_risk[..K] {
        fund_risk[f] = RiskLevel::new(1);
    }
    let tolerance: Vec<RiskLevel> = (0..CUSTOMERS)
        .map(|u| RiskLevel::new(code(world.customers(), u)))
        .collect();
    assert!(
        tolerance.iter().any(|t| t.get() >= 3),
        "risk constraints must bind"
    );

    let mut rng = StdRng::seed_from_u64(seed);
    let mut rows = Vec::with_capacity(CUSTOMERS);
    for t in &tolerance {
        let mut eligible: Vec<u32> = (0..FUNDS as u32)
            .filter(|&f| t.permits(fund_risk[f as usize]))
            .collect();
        eligible.shuffle(&mut rng);
        rows.push(eligible[..K].to_vec());
    }
    let random = Allocation::from_rows(FUNDS, rows).unwrap();
    Constraints {
        tolerance,
        fund_risk,
        exposures: random.exposure_counts(),
        random,
    }
}

fn run(trained: &TrainedPipeline, world: &SyntheticCampaign, c: &Constraints) -> PipelineReport {
    trained
        .run(
            world.customers(),
            world.funds(),
            |b| {
                b.exactly(K)
                    .exposures(c.exposures.clone())
                    .customer_tolerance(c.tolerance.clone())
                    .fund_risk(c.fund_risk.clone())
            },
            &[&Exact::new(), &Heuristic::new(), &Manual::new()],
        )
        .unwrap()
}

/// Counts every constraint of PTOFA Eq. 1–3 directly, without the allocator's verifier.
/// Returns the share of satisfied constraints (customers' K, funds' d_f, assignments' risk).
fn satisfaction(x: &Allocation, c: &Constraints) -> f64 {
    let mut per_fund = [0u64; FUNDS];
    let (mut ok, mut total) = (0usize, 0usize);
    for (u, funds) in x.iter() {
        total += 1;
        ok += usize::from(funds.len() == K);
        for &f in funds {
            let f = f as usize;
            per_fund[f] += 1;
            total += 1;
            ok += usize::from(c.fund_risk[f].get() <= c.tolerance[u].get());
        }
    }
    for (got, want) in per_fund.iter().zip(&c.exposures) {
        total += 1;
        ok += usize::from(got == want);
    }
    ok as f64 / total as f64
}

#[test]
fn pipeline_end_to_end_satisfies_constraints_and_beats_random() {
    let world = world();
    // The exposure log shows every customer every fund once, so the tiny model sees each
    // fund's effect on every kind of customer (no selection holes to debias).
    let log = world.expose(FUNDS, 1.0, 3).unwrap();
    let c = constraints(&world, 5);

    let trained = Pipeline::new(ModelKind::EntireSpaceLogNormal, params(1))
        .fit(&log, None, &mut NoObserver)
        .unwrap();
    let report = run(&trained, &world, &c);
    let evaluation = report.evaluate_with_optimum(world.expected()).unwrap();
    println!("{report}\n{evaluation}");
    let tr = trained.train_report().unwrap();
    println!(
        "{} rows, conversion rate {:.3}, {} epochs (best {})",
        log.len(),
        log.conversion_rate(),
        tr.history.len(),
        tr.best_epoch
    );
    assert!(report.timings.train_seconds.unwrap() > 0.0);
    assert!(report.timings.predict_seconds.unwrap() > 0.0);

    // 1. Constraint satisfaction: 100 % for every solver, counted here.
    assert_eq!(report.outcomes.len(), 3);
    for o in &report.outcomes {
        assert_eq!(satisfaction(o.allocation(), &c), 1.0, "{}", o.solver());
        assert_eq!(o.verification.exposure_counts, c.exposures);
    }
    // The test's own count can fail: the random allocation with one fund moved breaks it.
    let mut rows: Vec<Vec<u32>> = c.random.iter().map(|(_, f)| f.to_vec()).collect();
    let moved = (0..FUNDS as u32).find(|f| !rows[0].contains(f)).unwrap();
    rows[0][0] = moved;
    let broken = Allocation::from_rows(FUNDS, rows).unwrap();
    assert!(satisfaction(&broken, &c) < 1.0);

    // Exact is optimal on Ê: no other solver beats it there.
    let exact = report.outcome(SolverKind::Exact).unwrap();
    for o in &report.outcomes {
        assert!(o.predicted_objective() <= exact.predicted_objective() * (1.0 + 1e-9));
    }

    // 2. Ê orders the pairs of the true E far better than chance (0.5): AUC of Ê for "E above
    // its median", over all customer × fund pairs; and the facade's Gini of the same ranking.
    let truth = world.expected().as_slice();
    let mut sorted = truth.to_vec();
    sorted.sort_by(f32::total_cmp);
    let median = sorted[sorted.len() / 2];
    let labels: Vec<bool> = truth.iter().map(|&e| e > median).collect();
    let auc = roc_auc(&labels, report.problem.revenue().as_slice()).unwrap();
    println!("AUC {auc:.3}, Gini {:.3}", evaluation.ranking.normalized);
    // Within each customer (what the allocation decides): the share of fund pairs that Ê orders
    // like E.
    let e_hat = report.problem.revenue();
    let (mut agree, mut pairs) = (0usize, 0usize);
    for u in 0..CUSTOMERS {
        let (p, t) = (e_hat.row(u), world.expected().row(u));
        for f in 0..FUNDS {
            for g in f + 1..FUNDS {
                pairs += 1;
                agree += usize::from((p[f] > p[g]) == (t[f] > t[g]));
            }
        }
    }
    let within = agree as f64 / pairs as f64;
    println!("within-customer pair order {within:.3}");
    assert!(within > 0.75, "within-customer pair order {within}");
    assert!(auc > 0.9, "AUC of Ê vs E = {auc}");
    assert!(
        evaluation.ranking.normalized > 0.4,
        "{:?}",
        evaluation.ranking
    );

    // 3. The allocation on Ê earns clearly more true revenue than feasible allocations that
    // ignore E: the random one the exposures came from, and Exact on seeded noise.
    let mut baseline = vec![c.random.objective(world.expected()).unwrap()];
    for seed in 0..4u64 {
        let mut rng = StdRng::seed_from_u64(100 + seed);
        let noise: Vec<f32> = (0..CUSTOMERS * FUNDS).map(|_| rng.random()).collect();
        let noise = RevenueMatrix::from_shape_vec(CUSTOMERS, FUNDS, noise).unwrap();
        let blind = allocate(
            noise,
            |b| {
                b.exactly(K)
                    .exposures(c.exposures.clone())
                    .customer_tolerance(c.tolerance.clone())
                    .fund_risk(c.fund_risk.clone())
            },
            &[&Exact::new()],
        )
        .unwrap();
        baseline.push(
            blind.outcomes[0]
                .allocation()
                .objective(world.expected())
                .unwrap(),
        );
    }
    let random_mean = baseline.iter().sum::<f64>() / baseline.len() as f64;
    let ours = evaluation.allocation(SolverKind::Exact).unwrap();
    let optimum = evaluation.optimal_true_objective.unwrap();
    println!(
        "true revenue: optimum {optimum:.0}, exact on Ê {:.0} ({:.3}), random mean {random_mean:.0} ({:.3})",
        ours.true_objective,
        ours.ratio_to_optimal.unwrap(),
        random_mean / optimum
    );
    for e in &evaluation.allocations {
        println!(
            "  {}: true {:.0}, ratio {:.3}",
            e.solver,
            e.true_objective,
            e.ratio_to_optimal.unwrap()
        );
        assert!(e.true_objective <= optimum * (1.0 + 1e-6));
    }
    assert!(
        ours.true_objective > 1.15 * random_mean,
        "Exact on Ê: {}, random: {random_mean}",
        ours.true_objective
    );
    // Share of the room between ignoring E and knowing it that the prediction captures.
    let captured = (ours.true_objective - random_mean) / (optimum - random_mean);
    println!("captured {captured:.3} of optimum − random");
    assert!(captured > 0.7, "captured {captured}");
    // The random baseline is itself feasible, so the optimum bounds it too.
    assert!(baseline.iter().all(|&b| b <= optimum * (1.0 + 1e-6)));
}

#[test]
fn same_seed_same_result_other_seed_other_model() {
    let world = SyntheticCampaign::generate(
        SyntheticParams::default()
            .n_customers(300)
            .n_funds(4)
            .seed(2),
    )
    .unwrap();
    let log = world.expose(2, 1.0, 4).unwrap();
    let go = |seed: u64| {
        let trained = Pipeline::new(ModelKind::EntireSpaceLogNormal, params(seed))
            .fit(&log, None, &mut NoObserver)
            .unwrap();
        allocate(
            trained.predict(world.customers(), world.funds()).unwrap(),
            |b| b.exactly(1).exposures(vec![75; 4]),
            &[&Exact::new(), &Heuristic::new()],
        )
        .unwrap()
    };
    let (a, b, other) = (go(9), go(9), go(10));
    assert_eq!(a.problem.revenue(), b.problem.revenue());
    for (x, y) in a.outcomes.iter().zip(&b.outcomes) {
        assert_eq!(x.allocation(), y.allocation());
        assert_eq!(x.predicted_objective(), y.predicted_objective());
    }
    assert_ne!(a.problem.revenue(), other.problem.revenue());
}

/// A 4 × 2 revenue matrix where every customer prefers fund 0.
fn small() -> RevenueMatrix<f32> {
    RevenueMatrix::from_shape_vec(4, 2, vec![5.0, 1.0, 4.0, 1.0, 3.0, 2.0, 2.0, 1.0]).unwrap()
}

#[test]
fn shape_mismatch_between_revenue_and_tolerances_is_an_allocator_error() {
    let err = allocate(
        small(),
        |b| {
            b.exposures(vec![2, 2])
                .customer_tolerance(vec![RiskLevel::new(3); 3])
        },
        &[&Exact::new()],
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Allocator(AllocError::ShapeMismatch(ShapeMismatch {
                what: "customer risk tolerances (one per customer)",
                ref expected,
                ref found,
                ..
            })) if expected == "4" && found == "3"
        ),
        "{err:?}"
    );
    // The facade's message is the crate's message.
    assert!(err.to_string().contains("expected 4"), "{err}");
}

#[test]
fn infeasible_exposures_are_an_allocator_error_before_any_solver_runs() {
    let err = allocate(small(), |b| b.exposures(vec![3, 3]), &[]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Allocator(AllocError::ExposureTotal {
                required: 4,
                min_total: 6,
                ..
            })
        ),
        "{err:?}"
    );
    // Risk: fund 1 needs 2 customers but only one tolerates it.
    let err = allocate(
        small(),
        |b| {
            b.exposures(vec![2, 2])
                .fund_risk(vec![RiskLevel::new(1), RiskLevel::new(4)])
                .customer_tolerance(vec![
                    RiskLevel::new(5),
                    RiskLevel::new(1),
                    RiskLevel::new(1),
                    RiskLevel::new(1),
                ])
        },
        &[],
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Allocator(AllocError::FundTooFewEligibleCustomers { fund: 1, .. })
        ),
        "{err:?}"
    );
}

#[test]
fn an_allocation_that_breaks_a_constraint_is_never_returned() {
    // Greedy top-K ignores exposures: everyone takes fund 0, which needs exactly 2 customers.
    let err = allocate(small(), |b| b.exposures(vec![2, 2]), &[&GreedyTopK::new()]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Allocator(AllocError::Verification {
                solver: SolverKind::GreedyTopK,
                ..
            })
        ),
        "{err:?}"
    );
    // The same problem with the solvers the pipeline is meant for works.
    let ok = allocate(
        small(),
        |b| b.exposures(vec![2, 2]),
        &[&Exact::new(), &Heuristic::new(), &Manual::new()],
    )
    .unwrap();
    assert_eq!(
        ok.outcome(SolverKind::Exact).unwrap().predicted_objective(),
        5.0 + 4.0 + 2.0 + 1.0
    );
}

#[test]
fn evaluation_errors_are_typed() {
    let report = allocate(small(), |b| b.exposures(vec![2, 2]), &[&Exact::new()]).unwrap();
    // A ground truth for other customers.
    let wrong = RevenueMatrix::from_shape_vec(3, 2, vec![1.0; 6]).unwrap();
    let err = report.evaluate(&wrong).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Shape {
                expected: (4, 2),
                found: (3, 2),
                ..
            }
        ),
        "{err:?}"
    );
    // An all-zero truth has no ranking to score.
    let zero = RevenueMatrix::from_shape_vec(4, 2, vec![0.0; 8]).unwrap();
    let err = report.evaluate(&zero).unwrap_err();
    assert!(
        matches!(err, Error::Metrics(MetricsError::ZeroDenominator { .. })),
        "{err:?}"
    );
    // Evaluating the truth against itself: the Exact allocation is optimal.
    let eval = report.evaluate_with_optimum(&small()).unwrap();
    assert_eq!(
        eval.allocation(SolverKind::Exact).unwrap().ratio_to_optimal,
        Some(1.0)
    );
}

#[test]
fn revenue_model_errors_are_typed() {
    // DNN-C predicts conversion only: refused before any training.
    let world = SyntheticCampaign::generate(
        SyntheticParams::default()
            .n_customers(50)
            .n_funds(3)
            .seed(1),
    )
    .unwrap();
    let log = world.expose(1, 0.0, 1).unwrap();
    let err = Pipeline::new(ModelKind::DnnC, params(0))
        .fit(&log, None, &mut NoObserver)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::RevenueModel(RevenueModelError::Unsupported { .. })
        ),
        "{err:?}"
    );

    // A fund table that does not match the model's schema (customer features in its place).
    let trained = Pipeline::new(ModelKind::EntireSpaceLogNormal, params(0))
        .fit(&log, None, &mut NoObserver)
        .unwrap();
    let err = trained
        .predict(world.customers(), world.customers())
        .unwrap_err();
    assert!(matches!(err, Error::RevenueModel(_)), "{err:?}");
}
