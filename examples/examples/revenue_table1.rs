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
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
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

impl TrainObserver for Bar {
    fn on_batch(&mut self, epoch: usize, done: usize, total: usize) {
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
    if matches!(args.dataset, Which::Synthetic | Which::Both) {
        let (train, test) = synthetic(&args)?;
        report(
            "synthetic LCT-like campaign",
            &args,
            &kinds,
            &hidden,
            &train,
            &test,
        )?;
    }
    if matches!(args.dataset, Which::Csv | Which::Both) {
        match csv_data(&args)? {
            Some((train, test)) => report("CSV", &args, &kinds, &hidden, &train, &test)?,
            None => eprintln!("skipping the CSV dataset: file not found"),
        }
    }
    Ok(())
}

fn synthetic(args: &Args) -> Result<(Dataset, Dataset), Error> {
    let n = args.customers;
    let world = SyntheticCampaign::generate(&SyntheticParams {
        n_customers: 2 * n,
        n_funds: args.funds,
        seed: args.seed,
    })?;
    let k = args.per_customer;
    let biased = world.expose(k, args.bias, args.seed + 1)?;
    let random = world.expose(k, 0.0, args.seed + 2)?;
    let train = biased.select(&(0..n * k).collect::<Vec<_>>())?;
    let test = random.select(&(n * k..2 * n * k).collect::<Vec<_>>())?;
    Ok((train, test))
}

fn csv_data(args: &Args) -> Result<Option<(Dataset, Dataset)>, Error> {
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
    Ok(Some(data.split(args.test_fraction, args.seed)?))
}

fn train_one(
    kind: ModelKind,
    params: TrainParams,
    train: &Dataset,
) -> Result<(RevenueModel, TrainReport), Error> {
    let bar = ProgressBar::new(1).with_style(ProgressStyle::with_template(
        "{prefix} {bar:30} {pos}/{len} {msg}",
    )?);
    bar.set_message(kind.name());
    let out = fit(kind, &params.check()?, train, None, &mut Bar(bar.clone()))?;
    bar.finish_and_clear();
    Ok(out)
}

fn report(
    title: &str,
    args: &Args,
    kinds: &[ModelKind],
    hidden: &[usize],
    train: &Dataset,
    test: &Dataset,
) -> Result<(), Error> {
    println!(
        "\n## {title}: {} training rows (conversion {:.3}), {} test rows (conversion {:.3})",
        train.len(),
        train.conversion_rate(),
        test.len(),
        test.conversion_rate()
    );
    let base = TrainParams::default()
        .with_hidden(hidden.to_vec())
        .with_max_epochs(args.epochs)
        .with_patience(args.patience)
        .with_epsilon(args.epsilon)
        .with_seed(args.seed);
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
    let start = Instant::now();
    for &kind in kinds {
        let mut best: Option<(f64, RevenueModel, TrainReport, f64, f64)> = None;
        for &(lr, dropout) in &grid {
            let p = base.clone().with_learning_rate(lr).with_dropout(dropout);
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
            .map(|p| roc_auc(&labels, p.as_slice().unwrap_or(&[])))
            .transpose()?;
        let e: Option<Vec<f32>> = pred.expected.as_ref().map(|e| e.to_vec());
        let (mse_v, mae_v, gini, true_mae) = match &e {
            Some(e) => (
                Some(mse(&revenue, e)?),
                Some(mae(&revenue, e)?),
                Some(normalized_gini(&revenue, e)?.normalized),
                test.true_expected()
                    .map(|t| mae(t.as_slice().unwrap_or(&[]), e))
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
        eprintln!(
            "{kind} done ({:.0} s so far)",
            start.elapsed().as_secs_f64()
        );
    }
    let f = |v: Option<f64>, d: usize| v.map_or("-".to_string(), |v| format!("{v:.d$}"));
    println!(
        "\n| model | AUC ↑ | MSE ↓ | MAE ↓ | norm. Gini ↑ | MAE vs true E ↓ | epochs | lr | dropout | train samples/s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} |",
            r.kind,
            f(r.auc, 4),
            f(r.mse, 1),
            f(r.mae, 3),
            f(r.gini, 4),
            f(r.true_mae, 3),
            r.epochs,
            r.lr,
            r.dropout,
            r.samples_per_second
        );
    }
    Ok(())
}
