//! PTOFA Table 1 on our data: train the revenue model "Ours" and its seven baselines on
//! (a) a synthetic LCT-like campaign and (b) a CSV dataset (default: the CDNOW customers of
//! `../shared/data/cdnow/`), and print AUC, MSE, MAE, normalized Gini and, on synthetic data,
//! the error against the true expected revenue.
//!
//! ```text
//! cargo run --release -p fundalloc-examples --example revenue_table1
//! cargo run --release -p fundalloc-examples --example revenue_table1 -- --dataset csv \
//!     --csv my.csv --categorical segment:12 --numeric spend:log --numeric visits \
//!     --converted bought --revenue amount
//! ```
//!
//! Synthetic protocol: a world of 2N customers; the first N are shown `--per-customer` funds
//! with the platform's selection bias (training, 10% held out for early stopping), the other N
//! are shown funds uniformly at random (test: the entire exposure space). CSV protocol: a seeded
//! `--test-fraction` split of the rows; the rest trains (10% of it for early stopping).

use std::time::Instant;

use clap::{Parser, ValueEnum};
use fundalloc_metrics::{mae, mse, normalized_gini, roc_auc};
use fundalloc_revenue_model::prelude::*;
use fundalloc_revenue_model::{EpochReport, TrainReport};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    Synthetic,
    Csv,
    Both,
}

#[derive(Parser)]
#[command(about = "Table-1-style comparison of the PTOFA revenue model and its baselines")]
struct Args {
    /// Which dataset(s) to evaluate.
    #[arg(long, value_enum, default_value = "both")]
    dataset: Which,
    /// Models to train (Table 1 names, comma separated) or `all`.
    #[arg(long, default_value = "all")]
    models: String,
    /// Synthetic: customers in the training half (the test half has as many).
    #[arg(long, default_value_t = 20_000)]
    customers: usize,
    /// Synthetic: funds.
    #[arg(long, default_value_t = 8)]
    funds: usize,
    /// Synthetic: funds shown per customer.
    #[arg(long, default_value_t = 3)]
    per_customer: usize,
    /// Synthetic: selection bias of the training exposure (0 = random).
    #[arg(long, default_value_t = 1.0)]
    bias: f64,
    /// CSV file (default: ../shared/data/cdnow/cdnow_sample_customers.csv).
    #[arg(long)]
    csv: Option<std::path::PathBuf>,
    /// CSV categorical column as NAME:CARDINALITY (repeatable).
    #[arg(long = "categorical", default_values_t = ["cohort_month:4".to_string()])]
    categorical: Vec<String>,
    /// CSV numeric column as NAME or NAME:log for ln(1+x) (repeatable).
    #[arg(long = "numeric", default_values_t = [
        "n_tx:log", "n_cds:log", "total_spend:log", "first_spend:log", "mean_spend:log",
        "recency_days", "tenure_days"].map(String::from))]
    numeric: Vec<String>,
    /// CSV conversion column (empty: derived as revenue > 0).
    #[arg(long, default_value = "converted")]
    converted: String,
    /// CSV revenue column.
    #[arg(long, default_value = "revenue")]
    revenue: String,
    /// CSV: fraction of rows held out for testing.
    #[arg(long, default_value_t = 0.3)]
    test_fraction: f64,
    /// Adam learning rate.
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    /// Dropout.
    #[arg(long, default_value_t = 0.1)]
    dropout: f64,
    /// Hidden sizes, comma separated.
    #[arg(long, default_value = "64,32")]
    hidden: String,
    /// Maximum epochs.
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    /// Early-stopping patience.
    #[arg(long, default_value_t = 3)]
    patience: usize,
    /// Relative counterfactual revenue ε of "Ours".
    #[arg(long, default_value_t = 0.01)]
    epsilon: f64,
    /// Grid-search lr × dropout like the paper (selects on validation loss; 12× the time).
    #[arg(long)]
    grid: bool,
    /// First seed (data, split and training).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of seeds (seed, seed + 1, ...): metrics are reported as mean ± std over them.
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// Synthetic: after the table, time `predict_matrix` of "Ours" on this many customers × the
    /// funds (0 = skip).
    #[arg(long, default_value_t = 250_000)]
    predict_customers: usize,
}

type Error = Box<dyn std::error::Error>;

struct Row {
    kind: ModelKind,
    auc: Option<f64>,
    mse: Option<f64>,
    mae: Option<f64>,
    gini: Option<f64>,
    true_mae: Option<f64>,
    epochs: usize,
    samples_per_second: f64,
    lr: f64,
    dropout: f64,
}

/// Progress bar over an epoch's batches.
struct Bar(ProgressBar);

impl Observer<EpochReport> for Bar {
    fn on_step(&mut self, epoch: usize, done: usize, total: usize) {
        self.0.set_length(total as u64);
        self.0.set_position(done as u64);
        self.0.set_prefix(format!("epoch {epoch:>2}"));
    }
    fn on_epoch(&mut self, r: &EpochReport) {
        self.0.set_message(format!(
            "valid {:.4} (best epoch {})",
            r.valid_loss, r.best_epoch
        ));
    }
}

fn main() -> Result<(), Error> {
    let args = Args::parse();
    let kinds: Vec<ModelKind> = if args.models == "all" {
        ModelKind::ALL.to_vec()
    } else {
        args.models
            .split(',')
            .map(|s| s.trim().parse())
            .collect::<Result<_, _>>()?
    };
    let hidden: Vec<usize> = args
        .hidden
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let seeds = args.seed..args.seed + args.seeds.max(1);
    if matches!(args.dataset, Which::Synthetic | Which::Both) {
        let mut rows = Vec::new();
        for seed in seeds.clone() {
            let (train, test) = synthetic(&args, seed)?;
            let title = "synthetic LCT-like campaign";
            rows.extend(evaluate(
                title, &args, seed, &kinds, &hidden, &train, &test,
            )?);
        }
        print_table(&kinds, &rows);
        if args.predict_customers > 0 {
            predict_speed(&args, &hidden)?;
        }
    }
    if matches!(args.dataset, Which::Csv | Which::Both) {
        let mut rows = Vec::new();
        for seed in seeds {
            let Some((train, test)) = csv_data(&args, seed)? else {
                eprintln!("skipping the CSV dataset: file not found");
                break;
            };
            rows.extend(evaluate(
                "CSV", &args, seed, &kinds, &hidden, &train, &test,
            )?);
        }
        if !rows.is_empty() {
            print_table(&kinds, &rows);
        }
    }
    Ok(())
}

fn synthetic(args: &Args, seed: u64) -> Result<(ExposureDataset, ExposureDataset), Error> {
    let n = args.customers;
    let world = SyntheticCampaign::generate(
        SyntheticParams::default()
            .n_customers(2 * n)
            .n_funds(args.funds)
            .seed(seed),
    )?;
    let k = args.per_customer;
    let biased = world.expose(k, args.bias, seed + 1000)?;
    let random = world.expose(k, 0.0, seed + 2000)?;
    // Exposure rows are customer-major: the first n·k rows belong to the first n customers.
    let train = biased.select(&(0..n * k).collect::<Vec<_>>())?;
    let test = random.select(&(n * k..2 * n * k).collect::<Vec<_>>())?;
    Ok((train, test))
}

fn csv_data(args: &Args, seed: u64) -> Result<Option<(ExposureDataset, ExposureDataset)>, Error> {
    let path = match &args.csv {
        Some(p) => p.clone(),
        None => {
            match fundalloc_examples::data::shared_data_file("cdnow/cdnow_sample_customers.csv") {
                Some(p) => p,
                None => return Ok(None),
            }
        }
    };
    let mut b = FeatureSchema::builder();
    for spec in &args.categorical {
        let (name, card) = spec
            .split_once(':')
            .ok_or("--categorical expects NAME:CARDINALITY")?;
        b = b.categorical(name, card.parse()?, Side::Customer);
    }
    for spec in &args.numeric {
        let (name, log) = match spec.split_once(':') {
            Some((name, "log")) => (name, true),
            Some(_) => return Err("--numeric expects NAME or NAME:log".into()),
            None => (spec.as_str(), false),
        };
        b = b.numeric(name, Side::Customer, log);
    }
    let labels = LabelColumns {
        converted: (!args.converted.is_empty()).then(|| args.converted.clone()),
        revenue: args.revenue.clone(),
    };
    let data = load_csv(&path, &b.build()?, &labels)?;
    println!(
        "{}: {} rows, conversion rate {:.3}",
        path.display(),
        data.len(),
        data.conversion_rate()
    );
    Ok(Some(data.split(args.test_fraction, seed)?))
}

fn train_one(
    kind: ModelKind,
    params: TrainParams,
    train: &ExposureDataset,
) -> Result<(RevenueModel, TrainReport), Error> {
    let bar = ProgressBar::new(1).with_style(ProgressStyle::with_template(
        "{prefix} {bar:30} {pos}/{len} {msg}",
    )?);
    bar.set_message(kind.name());
    let out = fit(kind, &params.check()?, train, None, &mut Bar(bar.clone()))?;
    bar.finish_and_clear();
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn evaluate(
    title: &str,
    args: &Args,
    seed: u64,
    kinds: &[ModelKind],
    hidden: &[usize],
    train: &ExposureDataset,
    test: &ExposureDataset,
) -> Result<Vec<Row>, Error> {
    eprintln!(
        "{title} (seed {seed}): {} training rows (conversion {:.3}), {} test rows (conversion {:.3})",
        train.len(),
        train.conversion_rate(),
        test.len(),
        test.conversion_rate()
    );
    let base = TrainParams::default()
        .hidden(hidden.to_vec())
        .max_epochs(args.epochs)
        .patience(args.patience)
        .epsilon(args.epsilon)
        .seed(seed);
    let grid: Vec<(f64, f64)> = if args.grid {
        [0.01, 0.02, 0.04, 0.06]
            .iter()
            .flat_map(|&lr| [0.1, 0.3, 0.5].map(|d| (lr, d)))
            .collect()
    } else {
        vec![(args.lr, args.dropout)]
    };
    let labels: Vec<bool> = test.converted().to_vec();
    let revenue: Vec<f32> = test.revenue().to_vec();
    let mut rows = Vec::new();
    for &kind in kinds {
        // Grid search selects on the validation loss of each model's own objective.
        let mut best: Option<(f64, RevenueModel, TrainReport, f64, f64)> = None;
        for &(lr, dropout) in &grid {
            let p = base.clone().learning_rate(lr).dropout(dropout);
            let (model, rep) = train_one(kind, p, train)?;
            if best.as_ref().is_none_or(|b| rep.best_valid_loss < b.0) {
                best = Some((rep.best_valid_loss, model, rep, lr, dropout));
            }
        }
        let Some((_, model, rep, lr, dropout)) = best else {
            continue;
        };
        let pred = model.predict(test)?;
        let auc = pred
            .p_convert
            .as_ref()
            .map(|p| roc_auc(&labels, &p.to_vec()))
            .transpose()?;
        let (mse_v, mae_v, gini, true_mae) = match pred.expected.as_ref().map(|e| e.to_vec()) {
            Some(e) => (
                Some(mse(&revenue, &e)?),
                Some(mae(&revenue, &e)?),
                Some(normalized_gini(&revenue, &e)?.normalized),
                test.true_expected()
                    .map(|t| mae(&t.to_vec(), &e))
                    .transpose()?,
            ),
            None => (None, None, None, None),
        };
        rows.push(Row {
            kind,
            auc,
            mse: mse_v,
            mae: mae_v,
            gini,
            true_mae,
            epochs: rep.history.len(),
            samples_per_second: rep.samples_per_second(),
            lr,
            dropout,
        });
    }
    Ok(rows)
}

/// `mean ± std` of the metric over the seeds, or `-`.
fn stat(values: &[Option<f64>], digits: usize) -> String {
    let v: Vec<f64> = values.iter().flatten().copied().collect();
    if v.is_empty() {
        return "-".into();
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if v.len() == 1 {
        return format!("{mean:.digits$}");
    }
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    format!("{mean:.digits$} ± {sd:.digits$}")
}

fn print_table(kinds: &[ModelKind], rows: &[Row]) {
    println!(
        "\n| model | AUC ↑ | MSE ↓ | MAE ↓ | norm. Gini ↑ | MAE vs true E ↓ | epochs | lr | dropout | train samples/s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &kind in kinds {
        let r: Vec<&Row> = rows.iter().filter(|r| r.kind == kind).collect();
        let col = |f: fn(&Row) -> Option<f64>| r.iter().map(|r| f(r)).collect::<Vec<_>>();
        let list = |f: fn(&Row) -> String| r.iter().map(|r| f(r)).collect::<Vec<_>>().join("/");
        println!(
            "| {kind} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            stat(&col(|r| r.auc), 4),
            stat(&col(|r| r.mse), 1),
            stat(&col(|r| r.mae), 3),
            stat(&col(|r| r.gini), 4),
            stat(&col(|r| r.true_mae), 3),
            list(|r| r.epochs.to_string()),
            list(|r| r.lr.to_string()),
            list(|r| r.dropout.to_string()),
            stat(&col(|r| Some(r.samples_per_second)), 0),
        );
    }
}

/// Times `predict_matrix` of a briefly trained "Ours" on a large synthetic world.
fn predict_speed(args: &Args, hidden: &[usize]) -> Result<(), Error> {
    let world = SyntheticCampaign::generate(
        SyntheticParams::default()
            .n_customers(args.predict_customers)
            .n_funds(args.funds)
            .seed(args.seed),
    )?;
    let train = world.expose(args.per_customer.min(args.funds), args.bias, args.seed + 1)?;
    let train = train.select(&(0..train.len().min(20_000)).collect::<Vec<_>>())?;
    let params = TrainParams::default()
        .hidden(hidden.to_vec())
        .max_epochs(1)
        .check()?;
    let (model, _) = fit(
        ModelKind::EntireSpaceLogNormal,
        &params,
        &train,
        None,
        &mut NoObserver,
    )?;
    let pairs = world.customers().len() * world.funds().len();
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        let e = model.predict_matrix(world.customers(), world.funds())?;
        best = best.min(start.elapsed().as_secs_f64());
        if e.n_customers() * e.n_funds() != pairs {
            return Err("predict_matrix returned a matrix of the wrong size".into());
        }
    }
    println!(
        "\npredict_matrix (Ours): {} customers × {} funds = {pairs} pairs in {best:.3} s (best of 3) = {:.0} pairs/s",
        world.customers().len(),
        world.funds().len(),
        pairs as f64 / best
    );
    Ok(())
}
