//! The main job: PTOFA end to end on a campaign with a known ground truth — train the paper's
//! revenue model and ESMM on a biased exposure log, predict every customer × fund pair,
//! allocate with Manual, HA and Exact, verify the constraints, then run the campaign against
//! the ground truth and print the paper's online A/B table (Table 2: CPME, RPME and lifts).
//!
//! ```text
//! cargo run --release -p fundalloc-examples --example campaign
//! cargo run --release -p fundalloc-examples --example campaign -- --customers 20000 --epochs 5
//! ```
//!
//! **Default (synthetic):** a seeded LCT-like world of `--customers` × `--funds`
//! (`SyntheticCampaign::generate`) with the true conversion probability and log-normal revenue of
//! every pair. Customers' risk tolerances and funds' risk levels are the world's own features;
//! exact exposures `d_f` (Σ d_f = K·U) are drawn from the seed like
//! `fundalloc_allocator::LctLike` does (`fundalloc_examples::campaign::synthetic_constraints`).
//! The historical log shows each customer `--per-customer` funds with the platform's selection
//! bias (`SyntheticCampaign::expose`); `--test-fraction` of it is held out for the offline AUC
//! and 10% of the rest for early stopping. The arms of Table 2 are ESMM + Manual (the online
//! baseline), ESMM + HA, Ours + HA and Ours + Exact, plus ESMM + Exact and the oracle (Exact
//! on the true E) as an upper bound. As in the paper's baseline, ESMM scores a pair by its
//! predicted conversion probability (`--esmm-score revenue` uses ESMM's `P_c·R̂` instead).
//! Every arm's campaign is simulated with the same seed (`SyntheticCampaign::simulate`, common
//! random numbers: a pair exposed by two arms converts, or not, in both). The table gives CPME
//! and RPME of one campaign, like the paper's A/B test, the mean ± sd of the paired RPME lift
//! over `--campaigns` campaigns (seeds s, s + 1, …), and the noise-free "expected RPME"
//! `1000·Σ E_true / exposures` of the same allocation.
//!
//! **Your own data:** `--history`, `--customers-csv` and `--funds-csv` (layout in
//! `fundalloc_examples::campaign`; features named with `--categorical NAME:CARD:SIDE` (codes),
//! `--categorical NAME:SIDE` (names, levels read from the history) and
//! `--numeric NAME[:log]:SIDE`, whose defaults are the synthetic schema). There is no ground
//! truth then, so the example prints the predicted RPME (Ours' E) and, with the default ESMM
//! score, the predicted CPME (ESMM's P_c) of every arm, with constraint satisfaction and
//! timings. Try it on CSV files written from a small synthetic world:
//!
//! ```text
//! cargo run --release -p fundalloc-examples --example campaign -- --customers 5000 --write-csv /tmp/campaign-csv
//! cargo run --release -p fundalloc-examples --example campaign -- \
//!     --history /tmp/campaign-csv/history.csv --customers-csv /tmp/campaign-csv/customers.csv \
//!     --funds-csv /tmp/campaign-csv/funds.csv
//! ```
//!
//! The chart of RPME per arm goes to `--out-dir`/campaign_rpme.png (default `target/`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Parser, ValueEnum};
use fundalloc::allocator::{
    AllocationProblem, Exact, Heuristic, Manual, RevenueMatrix, Solution, Solver, verify,
};
use fundalloc::metrics::{cpme, roc_auc, rpme};
use fundalloc::revenue_model::{
    CampaignOutcome, EpochReport, ExposureDataset, FeatureSchema, FeatureTable, LabelColumns,
    ModelKind, Observer, ParamGuard, RevenueModel, Side, SyntheticCampaign, SyntheticParams,
    TrainParams, TrainReport, fit, load_csv, read_csv_levels,
};
use fundalloc_examples::campaign::{
    BoxError, Constraints, Satisfaction, levels, percent, read_side_csv, synthetic_constraints,
    write_campaign_csv,
};
use fundalloc_examples::plot::{FONT, register_font};
use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;

/// What ESMM's arms allocate on.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EsmmScore {
    /// The predicted conversion probability (the paper's online baseline).
    Conversion,
    /// ESMM's expected revenue `P_c·R̂`.
    Revenue,
}

#[derive(Parser)]
#[command(about = "PTOFA main job: train, predict, allocate, verify and simulate a campaign")]
struct Args {
    /// Synthetic: customers.
    #[arg(long, default_value_t = 100_000)]
    customers: usize,
    /// Synthetic: funds.
    #[arg(long, default_value_t = 8)]
    funds: usize,
    /// Funds per customer (K).
    #[arg(long, default_value_t = 1)]
    k: usize,
    /// Seed of the world, the exposures, the training and the simulated campaign.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Maximum training epochs per model (early stopping may end sooner).
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    /// Early-stopping patience (epochs without a better validation loss).
    #[arg(long, default_value_t = 3)]
    patience: usize,
    /// Hidden layer sizes of the towers, comma separated.
    #[arg(long, default_value = "64,32")]
    hidden: String,
    /// Adam learning rate.
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    /// Synthetic: funds each customer was shown in the historical log.
    #[arg(long, default_value_t = 3)]
    per_customer: usize,
    /// Synthetic: selection bias of the historical log (0 = funds shown at random).
    #[arg(long, default_value_t = 1.0)]
    bias: f64,
    /// Fraction of the historical log held out for the offline AUC.
    #[arg(long, default_value_t = 0.1)]
    test_fraction: f64,
    /// Score of the ESMM arms.
    #[arg(long, value_enum, default_value = "conversion")]
    esmm_score: EsmmScore,
    /// Synthetic: campaigns simulated per arm (seeds s, s + 1, …) for the spread of the RPME
    /// lift; the table's CPME and RPME are those of the first.
    #[arg(long, default_value_t = 20)]
    campaigns: u64,
    /// Folder of the chart.
    #[arg(long, default_value = "target")]
    out_dir: PathBuf,
    /// Synthetic: write the campaign as history.csv, customers.csv, funds.csv into this folder
    /// and stop.
    #[arg(long)]
    write_csv: Option<PathBuf>,
    /// Your exposure log (CSV with every feature column and the two label columns).
    #[arg(long, requires_all = ["customers_csv", "funds_csv"])]
    history: Option<PathBuf>,
    /// Your customers (CSV: customer features + the tolerance column).
    #[arg(long)]
    customers_csv: Option<PathBuf>,
    /// Your funds (CSV: fund features + the risk-level and exposure columns).
    #[arg(long)]
    funds_csv: Option<PathBuf>,
    /// CSV categorical feature NAME:CARDINALITY:customer|fund when its cells are the codes
    /// 0..CARDINALITY-1, NAME:customer|fund when they are names (the levels are the history's
    /// distinct values); repeatable.
    #[arg(long = "categorical", default_values_t = [
        "age_band:6:customer", "region:12:customer", "risk_tolerance:5:customer",
        "fund_id:8:fund", "fund_type:4:fund", "fund_risk:5:fund"].map(String::from))]
    categorical: Vec<String>,
    /// CSV numeric feature NAME:customer|fund or NAME:log:customer|fund for ln(1+x) (repeatable).
    #[arg(long = "numeric", default_values_t = [
        "assets:log:customer", "activity:customer", "tenure:customer",
        "fund_return:fund"].map(String::from))]
    numeric: Vec<String>,
    /// CSV conversion column of the history (0/1).
    #[arg(long, default_value = "converted")]
    converted: String,
    /// CSV revenue column of the history.
    #[arg(long, default_value = "revenue")]
    revenue: String,
    /// CSV column of the customers' risk tolerance (integer 0–255).
    #[arg(long, default_value = "risk_tolerance")]
    tolerance_column: String,
    /// CSV column of the funds' risk level (integer 0–255).
    #[arg(long, default_value = "risk_level")]
    risk_column: String,
    /// CSV column of the funds' exact exposure d_f.
    #[arg(long, default_value = "exposure")]
    exposure_column: String,
}

/// The campaign to allocate: features, constraints, history and, for synthetic data, the truth.
struct Input {
    world: Option<SyntheticCampaign>,
    customers: FeatureTable,
    funds: FeatureTable,
    constraints: Constraints,
    history: ExposureDataset,
}

/// A trained model and how it went.
struct Trained {
    kind: ModelKind,
    model: RevenueModel,
    report: TrainReport,
    seconds: f64,
    auc: f64,
}

/// One arm of the A/B table.
struct Arm {
    predict: &'static str,
    optimize: &'static str,
    solution: Solution,
    satisfaction: Satisfaction,
    verifier: String,
    /// Simulated campaign (synthetic data only).
    outcome: Option<CampaignOutcome>,
    /// RPME of the simulated campaigns with seeds `sim_seed + 0, 1, …` (synthetic only).
    rpme_runs: Vec<f64>,
    /// `1000·Σ E_true / exposures` (synthetic only).
    expected_rpme: Option<f64>,
    /// `1000·Σ E_ours / exposures`.
    predicted_rpme: f64,
    /// `1000·Σ P_esmm / exposures` (when ESMM scores by conversion).
    predicted_cpme: Option<f64>,
}

/// An arm to solve: what predicts, its problem, what optimises, the solver.
type Plan<'p> = (
    &'static str,
    &'p AllocationProblem<f32>,
    &'static str,
    &'p dyn Solver<f32>,
);

/// An arm's names, its problem and its solution.
type Solved<'p> = (
    &'static str,
    &'static str,
    &'p AllocationProblem<f32>,
    Solution,
);

/// Steps and their wall-clock seconds.
#[derive(Default)]
struct Timings(Vec<(String, f64)>);

impl Timings {
    fn time<T>(&mut self, step: impl Into<String>, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.0.push((step.into(), start.elapsed().as_secs_f64()));
        out
    }
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), BoxError> {
    let total = Instant::now();
    let mut timings = Timings::default();
    let input = match &args.history {
        Some(history) => user_input(&args, history, &mut timings)?,
        None => synthetic_input(&args, &mut timings)?,
    };
    if let Some(dir) = &args.write_csv {
        let world = input
            .world
            .as_ref()
            .ok_or("--write-csv needs the synthetic campaign")?;
        write_campaign_csv(dir, world, &input.history, &input.constraints)?;
        println!(
            "wrote {0}/history.csv, {0}/customers.csv, {0}/funds.csv",
            dir.display()
        );
        return Ok(());
    }
    let (nu, nf, k) = (input.customers.len(), input.funds.len(), args.k);
    println!(
        "campaign: {nu} customers × {nf} funds, K = {k}, {} historical exposures (conversion rate {:.4}), {}",
        input.history.len(),
        input.history.conversion_rate(),
        if input.world.is_some() {
            format!("synthetic LCT-like ground truth, seed {}", args.seed)
        } else {
            "your CSV files (no ground truth)".into()
        }
    );
    print_exposures(&input.constraints);
    // Fail before training if the constraints admit no allocation (typed error saying which
    // condition fails: totals, too few eligible funds, a Hall condition per risk level).
    timings.time("check constraints", || {
        let zeros = RevenueMatrix::from_shape_vec(nu, nf, vec![0.0f32; nu * nf])?;
        problem(zeros, &input.constraints, k).map(|_| ())
    })?;

    // 1. Train ESMM and Ours on the historical log.
    let (train, test) = input
        .history
        .split(args.test_fraction, args.seed ^ 0x7e57)?;
    let hidden: Vec<usize> = args
        .hidden
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let params = TrainParams::default()
        .hidden(hidden)
        .learning_rate(args.lr)
        .max_epochs(args.epochs)
        .patience(args.patience)
        .seed(args.seed);
    let mut trained = Vec::new();
    for kind in [ModelKind::Esmm, ModelKind::EntireSpaceLogNormal] {
        let t = train_model(kind, params.clone(), &train, &test)?;
        timings
            .0
            .push((format!("train {}", kind.name()), t.seconds));
        trained.push(t);
    }
    print_models(&trained, train.len(), test.len());
    let (esmm, ours) = (&trained[0], &trained[1]);

    // 2. Predict every pair.
    let pairs = nu * nf;
    let ours_e = timings.time("predict Ours (E)", || {
        spin(&format!("Ours: predicting E of {pairs} pairs"), || {
            ours.model.predict_matrix(&input.customers, &input.funds)
        })
    })?;
    let esmm_score = timings.time(
        match args.esmm_score {
            EsmmScore::Conversion => "predict ESMM (P_c)",
            EsmmScore::Revenue => "predict ESMM (E)",
        },
        || -> Result<RevenueMatrix<f32>, BoxError> {
            match args.esmm_score {
                EsmmScore::Conversion => Ok(spin(
                    &format!("ESMM: predicting P_c of {pairs} pairs"),
                    || {
                        esmm.model
                            .predict_conversion_matrix(&input.customers, &input.funds)
                    },
                )?),
                EsmmScore::Revenue => Ok(spin(
                    &format!("ESMM: predicting E of {pairs} pairs"),
                    || esmm.model.predict_matrix(&input.customers, &input.funds),
                )?),
            }
        },
    )?;

    // 3. Allocate: the arms of Table 2 (+ ESMM + Exact and the oracle).
    let c = &input.constraints;
    let esmm_problem = timings.time("build + check problem (ESMM)", || {
        problem(esmm_score.clone(), c, k)
    })?;
    let ours_problem = timings.time("build + check problem (Ours)", || {
        problem(ours_e.clone(), c, k)
    })?;
    let plan: [Plan; 5] = [
        ("ESMM", &esmm_problem, "Manual", &Manual::new()),
        ("ESMM", &esmm_problem, "HA", &Heuristic::new()),
        ("Ours", &ours_problem, "HA", &Heuristic::new()),
        ("Ours", &ours_problem, "Exact", &Exact::new()),
        ("ESMM", &esmm_problem, "Exact", &Exact::new()),
    ];
    let mut solved: Vec<Solved> = Vec::new();
    for (predict, p, optimize, solver) in plan {
        let s = spin(&format!("{predict} + {optimize}: allocating"), || {
            solver.solve(p)
        })?;
        timings
            .0
            .push((format!("solve {predict} + {optimize}"), s.report.seconds));
        solved.push((predict, optimize, p, s));
    }
    let truth_problem = match &input.world {
        Some(w) => Some(problem(w.expected().clone(), c, k)?),
        None => None,
    };
    if let Some(p) = &truth_problem {
        let s = spin("oracle: Exact on the true E", || Exact::new().solve(p))?;
        timings
            .0
            .push(("solve truth + Exact (oracle)".into(), s.report.seconds));
        solved.push(("truth", "Exact (oracle)", p, s));
    }

    // 4. Verify, simulate, evaluate.
    let sim_seed = args.seed.wrapping_add(3);
    let campaigns = args.campaigns.max(1);
    let conversion_score = matches!(args.esmm_score, EsmmScore::Conversion);
    let mut arms = Vec::new();
    for (predict, optimize, p, solution) in solved {
        let x = &solution.allocation;
        let verifier = match verify(p, x) {
            Ok(_) => "ok".to_string(),
            Err(v) => format!("{} violation(s), first: {}", v.count, v.first),
        };
        let exposures = x.n_assignments() as u64;
        let per_mille = |m: &RevenueMatrix<f32>| -> Result<f64, BoxError> {
            Ok(rpme(x.objective(m)?, exposures)?)
        };
        let (outcome, rpme_runs, expected_rpme) = match &input.world {
            Some(w) => {
                let runs = timings.time(format!("simulate {predict} + {optimize}"), || {
                    (0..campaigns)
                        .map(|s| w.simulate(x, sim_seed.wrapping_add(s)))
                        .collect::<Result<Vec<_>, _>>()
                })?;
                let rpmes = runs
                    .iter()
                    .map(|o| rpme(o.revenue, o.exposures))
                    .collect::<Result<Vec<_>, _>>()?;
                (runs.first().copied(), rpmes, Some(per_mille(w.expected())?))
            }
            None => (None, Vec::new(), None),
        };
        arms.push(Arm {
            predict,
            optimize,
            satisfaction: Satisfaction::of(x, c, k),
            verifier,
            outcome,
            rpme_runs,
            expected_rpme,
            predicted_rpme: per_mille(&ours_e)?,
            predicted_cpme: if conversion_score {
                Some(per_mille(&esmm_score)?)
            } else {
                None
            },
            solution,
        });
    }
    if input.world.is_some() {
        print_online_table(&arms, sim_seed, campaigns)?;
    } else {
        print_predicted_table(&arms);
    }
    print_satisfaction(&arms, k);
    timings
        .0
        .push(("total".into(), total.elapsed().as_secs_f64()));
    print_timings(&timings);
    let chart = args.out_dir.join("campaign_rpme.png");
    plot(&arms, &chart, nu, nf, input.world.is_some())?;
    println!("\nchart: {}", chart.display());
    if arms.iter().any(|a| !a.satisfaction.all()) {
        return Err("an allocation broke a constraint (see the table above)".into());
    }
    Ok(())
}

fn synthetic_input(args: &Args, timings: &mut Timings) -> Result<Input, BoxError> {
    let world = timings.time("generate world", || {
        SyntheticCampaign::generate(
            SyntheticParams::default()
                .n_customers(args.customers)
                .n_funds(args.funds)
                .seed(args.seed),
        )
    })?;
    let constraints = synthetic_constraints(&world, args.k, args.seed.wrapping_add(1))?;
    let history = timings.time("historical exposure log", || {
        world.expose(args.per_customer, args.bias, args.seed.wrapping_add(2))
    })?;
    Ok(Input {
        customers: world.customers().clone(),
        funds: world.funds().clone(),
        world: Some(world),
        constraints,
        history,
    })
}

fn user_input(args: &Args, history: &Path, timings: &mut Timings) -> Result<Input, BoxError> {
    let schema = schema_from_flags(&args.categorical, &args.numeric, history)?;
    let labels = LabelColumns {
        converted: (!args.converted.is_empty()).then(|| args.converted.clone()),
        revenue: args.revenue.clone(),
    };
    let (customers_csv, funds_csv) = match (&args.customers_csv, &args.funds_csv) {
        (Some(c), Some(f)) => (c, f),
        _ => return Err("--history needs --customers-csv and --funds-csv".into()),
    };
    let (history, customers, funds) = timings.time("read CSV files", || {
        Ok::<_, BoxError>((
            load_csv(history, &schema, &labels)?,
            read_side_csv(
                customers_csv,
                &schema,
                Side::Customer,
                &[&args.tolerance_column],
            )?,
            read_side_csv(
                funds_csv,
                &schema,
                Side::Fund,
                &[&args.risk_column, &args.exposure_column],
            )?,
        ))
    })?;
    let constraints = Constraints {
        tolerance: levels(&customers.integers[0], &args.tolerance_column)?,
        fund_risk: levels(&funds.integers[0], &args.risk_column)?,
        exposure: funds.integers[1].clone(),
    };
    Ok(Input {
        world: None,
        customers: customers.table,
        funds: funds.table,
        constraints,
        history,
    })
}

/// The schema of `--categorical NAME[:CARD]:SIDE` and `--numeric NAME[:log]:SIDE`; the levels
/// of name-valued categorical features are read from `history`.
fn schema_from_flags(
    categorical: &[String],
    numeric: &[String],
    history: &Path,
) -> Result<FeatureSchema, BoxError> {
    let side = |s: &str| match s {
        "customer" => Ok(Side::Customer),
        "fund" => Ok(Side::Fund),
        other => Err(format!("side must be `customer` or `fund`, not `{other}`")),
    };
    let mut b = FeatureSchema::builder();
    let mut named = Vec::new();
    for spec in categorical {
        let parts: Vec<&str> = spec.split(':').collect();
        match parts[..] {
            [name, card, s] => b = b.categorical(name, card.parse()?, side(s)?),
            [name, s] => named.push((name, side(s)?)),
            _ => {
                return Err(
                    format!("--categorical {spec}: expected NAME[:CARDINALITY]:SIDE").into(),
                );
            }
        }
    }
    if !named.is_empty() {
        let columns: Vec<&str> = named.iter().map(|(name, _)| *name).collect();
        for ((name, side), levels) in named.iter().zip(read_csv_levels(history, &columns)?) {
            b = b.categorical_levels(*name, levels, *side);
        }
    }
    for spec in numeric {
        let parts: Vec<&str> = spec.split(':').collect();
        let (name, log, s) = match parts[..] {
            [name, s] => (name, false, s),
            [name, "log", s] => (name, true, s),
            _ => return Err(format!("--numeric {spec}: expected NAME[:log]:SIDE").into()),
        };
        b = b.numeric(name, side(s)?, log);
    }
    Ok(b.build()?)
}

fn problem(
    score: RevenueMatrix<f32>,
    c: &Constraints,
    k: usize,
) -> Result<AllocationProblem<f32>, BoxError> {
    Ok(AllocationProblem::builder(score)
        .exactly(k)
        .exposures(c.exposure.clone())
        .customer_tolerance(c.tolerance.clone())
        .fund_risk(c.fund_risk.clone())
        .build()?)
}

/// Progress bar over all batches of all epochs (early stopping may end it sooner).
struct EpochBar {
    bar: ProgressBar,
    max_epochs: usize,
}

impl Observer<EpochReport> for EpochBar {
    fn on_step(&mut self, epoch: usize, done: usize, total: usize) {
        self.bar.set_length((self.max_epochs * total) as u64);
        self.bar.set_position(((epoch - 1) * total + done) as u64);
    }
    fn on_epoch(&mut self, r: &EpochReport) {
        self.bar.set_message(format!(
            "epoch {} valid loss {:.4} (best epoch {}), {:.0} samples/s",
            r.epoch, r.valid_loss, r.best_epoch, r.samples_per_second
        ));
    }
}

fn train_model(
    kind: ModelKind,
    params: TrainParams,
    train: &ExposureDataset,
    test: &ExposureDataset,
) -> Result<Trained, BoxError> {
    let params = params.check()?;
    let max_epochs = params.max_epochs();
    let bar = ProgressBar::new(1).with_style(
        ProgressStyle::with_template("{prefix:>5} [{bar:30}] {percent:>3}% {elapsed:>4} {msg}")?
            .progress_chars("=> "),
    );
    bar.set_prefix(kind.name());
    bar.set_message("epoch 1");
    let start = Instant::now();
    let (model, report) = fit(
        kind,
        params,
        train,
        None,
        &mut EpochBar {
            bar: bar.clone(),
            max_epochs,
        },
    )?;
    let seconds = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let p = model
        .predict(test)?
        .p_convert
        .ok_or("the model predicts no conversion")?;
    let auc = roc_auc(&test.converted().to_vec(), &p.to_vec())?;
    Ok(Trained {
        kind,
        model,
        report,
        seconds,
        auc,
    })
}

/// Runs `f` under a spinner with message `what`.
fn spin<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let bar = ProgressBar::new_spinner();
    bar.set_message(what.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let out = f();
    bar.finish_and_clear();
    out
}

fn print_exposures(c: &Constraints) {
    let d: Vec<String> = c
        .exposure
        .iter()
        .zip(&c.fund_risk)
        .map(|(d, r)| format!("{d} ({r})"))
        .collect();
    println!("fund exposures d_f (risk level): {}", d.join(", "));
}

fn print_models(trained: &[Trained], train_rows: usize, test_rows: usize) {
    println!(
        "\nrevenue models ({train_rows} training rows, 10% of them for early stopping; AUC on {test_rows} held-out exposures)\n"
    );
    println!("| model | epochs run | best epoch | train s | train samples/s | held-out AUC |");
    println!("|---|---:|---:|---:|---:|---:|");
    for t in trained {
        println!(
            "| {} | {} | {} | {:.1} | {:.0} | {:.4} |",
            t.kind.name(),
            t.report.history.len(),
            t.report.best_epoch,
            t.seconds,
            t.report.samples_per_second(),
            t.auc
        );
    }
}

fn lift(x: f64, base: f64) -> String {
    format!("{:+.2}%", 100.0 * (x / base - 1.0))
}

/// Mean and sample standard deviation of the paired RPME lifts of `arm` over `base`, in %.
fn lift_spread(arm: &[f64], base: &[f64]) -> (f64, f64) {
    let lifts: Vec<f64> = arm
        .iter()
        .zip(base)
        .map(|(a, b)| 100.0 * (a / b - 1.0))
        .collect();
    let n = lifts.len() as f64;
    let mean = lifts.iter().sum::<f64>() / n;
    let var = lifts.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

fn print_online_table(arms: &[Arm], sim_seed: u64, campaigns: u64) -> Result<(), BoxError> {
    let metrics: Vec<(f64, f64)> = arms
        .iter()
        .map(|a| -> Result<(f64, f64), BoxError> {
            let o = a.outcome.ok_or("internal: no simulated outcome")?;
            Ok((
                cpme(o.conversions, o.exposures)?,
                rpme(o.revenue, o.exposures)?,
            ))
        })
        .collect::<Result<_, _>>()?;
    let (base_c, base_r) = metrics[0];
    let base_e = arms[0].expected_rpme.unwrap_or(f64::NAN);
    println!(
        "\nTable 2, simulated online A/B test (every arm's campaign drawn from the ground truth with seed {sim_seed}; lifts vs ESMM + Manual)\n"
    );
    println!(
        "| Predict | Optimize | CPME | RPME | %CPME Lift | %RPME Lift | %RPME Lift over {campaigns} campaigns (mean ± sd) | expected RPME (true E) | %expected RPME Lift |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for (i, (a, &(c, r))) in arms.iter().zip(&metrics).enumerate() {
        let e = a.expected_rpme.unwrap_or(f64::NAN);
        let (lc, lr, ls, le) = if i == 0 {
            ("-".into(), "-".into(), "-".into(), "-".into())
        } else {
            let (mean, sd) = lift_spread(&a.rpme_runs, &arms[0].rpme_runs);
            (
                lift(c, base_c),
                lift(r, base_r),
                format!("{mean:+.2}% ± {sd:.2}"),
                lift(e, base_e),
            )
        };
        println!(
            "| {} | {} | {c:.2} | {r:.0} | {lc} | {lr} | {ls} | {e:.0} | {le} |",
            a.predict, a.optimize
        );
    }
    Ok(())
}

fn print_predicted_table(arms: &[Arm]) {
    println!(
        "\nNo ground truth for your data: CPME/RPME need a live campaign. Predicted per mille exposures instead (lifts vs ESMM + Manual)\n"
    );
    println!(
        "| Predict | Optimize | objective (own score) | predicted RPME (Ours E) | %lift | predicted CPME (ESMM P_c) | %lift |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    let base_r = arms[0].predicted_rpme;
    let base_c = arms[0].predicted_cpme;
    for (i, a) in arms.iter().enumerate() {
        let cp = a.predicted_cpme.map_or("-".into(), |c| format!("{c:.2}"));
        let (lr, lc) = if i == 0 {
            ("-".into(), "-".into())
        } else {
            (
                lift(a.predicted_rpme, base_r),
                a.predicted_cpme
                    .zip(base_c)
                    .map_or("-".into(), |(c, b)| lift(c, b)),
            )
        };
        println!(
            "| {} | {} | {:.1} | {:.1} | {lr} | {cp} | {lc} |",
            a.predict, a.optimize, a.solution.report.objective, a.predicted_rpme
        );
    }
}

fn print_satisfaction(arms: &[Arm], k: usize) {
    println!("\nconstraint satisfaction (counted from each allocation)\n");
    println!(
        "| Predict | Optimize | customers with exactly K = {k} funds | funds at exact exposure d_f | assignments within risk tolerance | verifier |"
    );
    println!("|---|---|---:|---:|---:|---|");
    for a in arms {
        let s = &a.satisfaction;
        println!(
            "| {} | {} | {} ({}/{}) | {} ({}/{}) | {} ({}/{}) | {} |",
            a.predict,
            a.optimize,
            percent(s.customers_ok, s.customers),
            s.customers_ok,
            s.customers,
            percent(s.funds_ok, s.funds),
            s.funds_ok,
            s.funds,
            percent(s.assignments_ok, s.assignments),
            s.assignments_ok,
            s.assignments,
            a.verifier
        );
    }
}

fn print_timings(t: &Timings) {
    println!("\ntimings\n");
    println!("| step | seconds |");
    println!("|---|---:|");
    for (step, s) in &t.0 {
        println!("| {step} | {s:.3} |");
    }
}

fn plot(arms: &[Arm], path: &Path, nu: usize, nf: usize, simulated: bool) -> Result<(), BoxError> {
    register_font();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let values: Vec<f64> = arms
        .iter()
        .map(|a| match a.outcome {
            Some(o) => rpme(o.revenue, o.exposures).unwrap_or(f64::NAN),
            None => a.predicted_rpme,
        })
        .collect();
    let top = values
        .iter()
        .chain(arms.iter().filter_map(|a| a.expected_rpme.as_ref()))
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        * 1.15;
    let root = BitMapBackend::new(path, (1000, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let caption = if simulated {
        format!("Simulated RPME per arm ({nu} customers × {nf} funds)")
    } else {
        format!("Predicted RPME (Ours E) per arm ({nu} customers × {nf} funds)")
    };
    let n = arms.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, (FONT, 22))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0.0..top.max(1.0))?;
    let label = |x: &f64| -> String {
        let i = x.round();
        if (x - i).abs() > 1e-6 || i < 0.0 || i as usize >= n {
            return String::new();
        }
        let a = &arms[i as usize];
        format!("{} + {}", a.predict, a.optimize)
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&label)
        .y_desc("RPME (revenue per 1000 exposures)")
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style((FONT, 13))
        .draw()?;
    for (i, (a, &v)) in arms.iter().zip(&values).enumerate() {
        let color = match a.predict {
            "Ours" => BLUE,
            "ESMM" if a.optimize == "Manual" => RGBColor(150, 150, 150),
            "ESMM" => RED,
            _ => GREEN,
        };
        let x = i as f64;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x - 0.35, 0.0), (x + 0.35, v)],
            color.mix(0.75).filled(),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{v:.0}"),
            (x - 0.18, v.max(a.expected_rpme.unwrap_or(0.0)) + top * 0.02),
            (FONT, 14),
        )))?;
        if let Some(e) = a.expected_rpme {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x - 0.35, e), (x + 0.35, e)],
                BLACK.stroke_width(2),
            )))?;
        }
    }
    if simulated {
        chart
            .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
            .label("expected RPME (true E)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT, 14))
            .background_style(WHITE)
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
