//! Multi-asset RTS-PtO / RTS-PnO: one budget spread over H steps × A assets (S&P 500 and Dow
//! Jones by default), the forecaster trained on both series jointly, against the best
//! single-asset decision (each asset alone with the same radii and budget).
//!
//! ```text
//! cargo run --release -p fundalloc-examples --example multi_asset -- \
//!     --columns sp500,djia --lookback 150 --horizon 30 --model dlinear --epochs 10 --seeds 0,1,2
//! ```
//!
//! Prices are normalised per asset by their training-rows mean, so regrets are in percent of an
//! asset's training-mean price; every regret is against the same hindsight optimum (the
//! cheapest of the window's H·A cells). See docs/timeseries-pno.md, "Multi-asset allocation".

use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use fundalloc_core_types::WindowSpec;
use fundalloc_timeseries_pno::{
    DLinearParams, Device, EpochReport, ForecasterParams, MultiAssetDataset, MultiAssetResult,
    NLinearParams, Observer, ParamGuard, PatchTstParams, TrainParams, ValidTrainParams,
    load_csv_column, run_multi_asset_experiment,
};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Model {
    Dlinear,
    Patchtst,
    Nlinear,
}

#[derive(Debug, Parser)]
#[command(about = "Joint multi-asset RTS-PtO / RTS-PnO vs the best single-asset decision")]
struct Args {
    /// CSV file with a header row (default: the shared stock_data.csv).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Price columns, one asset each (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "sp500,djia")]
    columns: Vec<String>,
    /// Lookback M.
    #[arg(long = "lookback", short = 'm', default_value_t = 150)]
    lookback: usize,
    /// Horizon H.
    #[arg(long = "horizon", short = 'H', default_value_t = 30)]
    horizon: usize,
    /// Forecaster (channel-independent: one model for all assets).
    #[arg(long, value_enum, default_value_t = Model::Dlinear)]
    model: Model,
    /// Epochs of each of the three training runs.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    /// β, the MSE weight of RTS-PnO.
    #[arg(long, default_value_t = 1.0)]
    beta: f64,
    /// α: r̄ is the α-quantile of the H·A radii.
    #[arg(long, default_value_t = 0.5)]
    alpha: f64,
    /// γ: conformal coverage of the radii.
    #[arg(long, default_value_t = 0.95)]
    coverage: f64,
    /// Mini-batch size (windows; each window is A rows).
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Seeds (one full run each; comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "0")]
    seeds: Vec<u64>,
}

/// Prints every epoch to stderr.
struct Log;

impl Observer<EpochReport> for Log {
    fn on_epoch(&mut self, r: &EpochReport) {
        eprintln!(
            "{:?} epoch {:>3}: loss {:.4}  val MSE {:.4}  val regret {:.5}  r̄ {:.4}  ({:.1} s)",
            r.phase, r.epoch, r.train_loss, r.val_mse, r.val_regret, r.budget, r.seconds
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let path = match &args.data {
        Some(p) => p.clone(),
        None => match fundalloc_examples::data::shared_data_file("stock_data.csv") {
            Some(p) => p,
            None => return Ok(()),
        },
    };
    let series = args
        .columns
        .iter()
        .map(|c| load_csv_column(&path, c))
        .collect::<Result<Vec<_>, _>>()?;
    let data = MultiAssetDataset::new(series, WindowSpec::new(args.lookback, args.horizon)?)?;
    println!(
        "{} / {}: {} assets, windows train {}, validation {}, test {} (M = {}, H = {}); cost scale κ_j/κ̄ = {:?}, κ̄ = {:.4}",
        path.display(),
        args.columns.join("+"),
        data.assets(),
        data.n_windows(fundalloc_core_types::Segment::Train),
        data.n_windows(fundalloc_core_types::Segment::Validation),
        data.n_windows(fundalloc_core_types::Segment::Test),
        args.lookback,
        args.horizon,
        data.cost_scale(),
        data.unit()
    );
    let device = Device::flex();
    let mut all: Vec<(u64, Vec<MultiAssetResult>)> = Vec::new();
    let start = Instant::now();
    for &seed in &args.seeds {
        let params = TrainParams::new()
            .epochs(args.epochs)
            .learning_rate(args.lr)
            .beta(args.beta)
            .alpha(args.alpha)
            .coverage(args.coverage)
            .batch_size(args.batch_size)
            .seed(seed)
            .check()?;
        let rows = match args.model {
            Model::Dlinear => run(&DLinearParams::default(), &data, &params, &device)?,
            Model::Patchtst => run(&PatchTstParams::default(), &data, &params, &device)?,
            Model::Nlinear => run(&NLinearParams, &data, &params, &device)?,
        };
        print_table(&format!("seed {seed}"), &args.columns, &rows);
        all.push((seed, rows));
    }
    if all.len() > 1 {
        print_mean(&args.columns, &all);
    }
    println!("\ntotal {:.0} s", start.elapsed().as_secs_f64());
    Ok(())
}

fn run<C: ForecasterParams>(
    config: &C,
    data: &MultiAssetDataset,
    params: &ValidTrainParams,
    device: &Device,
) -> Result<Vec<MultiAssetResult>, Box<dyn std::error::Error>> {
    let never = fundalloc_timeseries_pno::CancelToken::new();
    Ok(run_multi_asset_experiment(config, data, params.clone(), device, &never, &mut Log)?.rows)
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "infeasible".to_string(), |v| format!("{:.3}", v * 100.0))
}

fn print_table(title: &str, columns: &[String], rows: &[MultiAssetResult]) {
    println!("\n{title}: test regret, % of the asset's training-mean price (↓)\n");
    let alone: Vec<String> = columns.iter().map(|c| format!("{c} alone")).collect();
    println!(
        "| method | joint | {} | best single per window | best single on average | joint ≤ best single (windows) | budget share {} | MSE | coverage |",
        alone.join(" | "),
        columns.join("/")
    );
    println!(
        "|---|---:|{}---:|---:|---:|---|---:|---:|",
        "---:|".repeat(columns.len())
    );
    for r in rows {
        let singles: Vec<String> = r.single_regret.iter().map(|&v| pct(v)).collect();
        let on_average = r.best_single_on_average.map_or_else(
            || "infeasible".to_string(),
            |(j, v)| format!("{:.3} ({})", v * 100.0, columns[j]),
        );
        let share: Vec<String> = r.asset_share.iter().map(|s| format!("{s:.2}")).collect();
        println!(
            "| {} | {:.3} | {} | {} | {} | {} | {} | {:.4} | {:.3} |",
            r.method,
            r.joint_regret * 100.0,
            singles.join(" | "),
            pct(r.best_single_per_window),
            on_average,
            r.joint_win_rate
                .map_or_else(|| "–".to_string(), |w| format!("{:.1} %", w * 100.0)),
            share.join("/"),
            r.mse,
            r.coverage
        );
    }
}

fn print_mean(columns: &[String], all: &[(u64, Vec<MultiAssetResult>)]) {
    let seeds: Vec<u64> = all.iter().map(|s| s.0).collect();
    println!(
        "\nmean over seeds {seeds:?}: test regret, % of the asset's training-mean price (↓)\n"
    );
    let alone: Vec<String> = columns.iter().map(|c| format!("{c} alone")).collect();
    println!(
        "| method | joint [min–max] | {} | best single per window | best single on average | joint / best single on average | joint ≤ best single (windows) |",
        alone.join(" | ")
    );
    println!(
        "|---|---:|{}---:|---:|---:|---:|",
        "---:|".repeat(columns.len())
    );
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let Some((_, first)) = all.first() else {
        return;
    };
    for (i, row) in first.iter().enumerate() {
        let runs: Vec<&MultiAssetResult> = all.iter().filter_map(|s| s.1.get(i)).collect();
        let joint: Vec<f64> = runs.iter().map(|r| r.joint_regret * 100.0).collect();
        let min = joint.iter().copied().fold(f64::INFINITY, f64::min);
        let max = joint.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let singles: Vec<String> = (0..columns.len())
            .map(|j| {
                let v: Vec<f64> = runs
                    .iter()
                    .filter_map(|r| r.single_regret.get(j).copied().flatten())
                    .map(|v| v * 100.0)
                    .collect();
                if v.len() == runs.len() {
                    format!("{:.3}", mean(&v))
                } else {
                    format!("{:.3} (feasible in {}/{})", mean(&v), v.len(), runs.len())
                }
            })
            .collect();
        let per_window: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.best_single_per_window.map(|v| v * 100.0))
            .collect();
        let on_average: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.best_single_on_average.map(|(_, v)| v * 100.0))
            .collect();
        let wins: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.joint_win_rate.map(|w| w * 100.0))
            .collect();
        println!(
            "| {} | {:.3} [{min:.3}–{max:.3}] | {} | {:.3} | {:.3} | {:.3} | {:.1} % |",
            row.method,
            mean(&joint),
            singles.join(" | "),
            mean(&per_window),
            mean(&on_average),
            mean(&joint) / mean(&on_average),
            mean(&wins)
        );
    }
}
