//! RTS-PtO vs RTS-PnO on one CSV price column: the paper's Table 1 (regret, relative regret) and
//! Table 5 (forecast MSE/MAE) for one dataset, with a PNG of regret per method.
//!
//! ```text
//! cargo run --release -p fundalloc-examples --example rts_pno -- \
//!     --column djia --lookback 150 --horizon 30 --model patchtst --epochs 10
//! ```
//!
//! `--model` is one of `patchtst`, `dlinear`, `nlinear`, `timesnet`, `fedformer` (the last two
//! with the Time-Series-Library's long-term forecasting defaults).
//!
//! ```text
//! cargo run --release -p fundalloc-examples --example rts_pno -- --model timesnet --epochs 10
//! ```

use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use fundalloc_core_types::WindowSpec;
use fundalloc_timeseries_pno::{
    DLinearParams, Device, EpochReport, FedFormerParams, ForecasterParams, MethodResult,
    NLinearParams, Observer, ParamGuard, PatchTstParams, TimesNetParams, TrainParams,
    WindowDataset, load_csv_column, run_experiment,
};
use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Model {
    Patchtst,
    Dlinear,
    Nlinear,
    Timesnet,
    Fedformer,
}

#[derive(Debug, Parser)]
#[command(about = "RTS-PtO / RTS-PnO experiment on one price column (Table 1 and Table 5 rows)")]
struct Args {
    /// CSV file with a header row (default: the shared stock_data.csv).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Price column.
    #[arg(long, default_value = "djia")]
    column: String,
    /// Lookback M.
    #[arg(long = "lookback", short = 'm', default_value_t = 150)]
    lookback: usize,
    /// Horizon H.
    #[arg(long = "horizon", short = 'H', default_value_t = 30)]
    horizon: usize,
    /// Forecaster.
    #[arg(long, value_enum, default_value_t = Model::Patchtst)]
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
    /// α: r̄ is the α-quantile of the radii.
    #[arg(long, default_value_t = 0.5)]
    alpha: f64,
    /// γ: conformal coverage of the radii.
    #[arg(long, default_value_t = 0.95)]
    coverage: f64,
    /// Mini-batch size.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to write the regret plot.
    #[arg(long, default_value = "rts_pno_regret.png")]
    plot: PathBuf,
}

/// Progress bar over all epochs of the three runs.
struct Progress {
    bar: ProgressBar,
    epochs: Vec<EpochReport>,
}

impl Observer<EpochReport> for Progress {
    fn on_step(&mut self, _epoch: usize, batch: usize, n_batches: usize) {
        if batch == 1 {
            self.bar
                .set_length(self.bar.length().unwrap_or(0).max(n_batches as u64));
        }
        self.bar.set_position(batch as u64);
    }

    fn on_epoch(&mut self, record: &EpochReport) {
        let line = format!(
            "{:?} epoch {:>3}: loss {:.4}  val MSE {:.4}  val regret {:.4}  r̄ {:.3}  ({:.1} s)",
            record.phase,
            record.epoch,
            record.train_loss,
            record.val_mse,
            record.val_regret,
            record.budget,
            record.seconds
        );
        // indicatif draws nothing (println included) when stderr is not a terminal.
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
        self.epochs.push(record.clone());
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
    let series = load_csv_column(&path, &args.column)?;
    let data = WindowDataset::new(series, WindowSpec::new(args.lookback, args.horizon)?)?;
    println!(
        "{} / {}: {} rows; windows train {}, validation {}, test {} (M = {}, H = {})",
        path.display(),
        args.column,
        data.series().raw().len(),
        data.train().len(),
        data.validation().len(),
        data.test().len(),
        args.lookback,
        args.horizon
    );
    let params = TrainParams::new()
        .epochs(args.epochs)
        .learning_rate(args.lr)
        .beta(args.beta)
        .alpha(args.alpha)
        .coverage(args.coverage)
        .batch_size(args.batch_size)
        .seed(args.seed)
        .check()?;
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template(
        "{spinner} batch {pos}/{len} [{elapsed_precise}] {wide_bar}",
    )?);
    let mut progress = Progress {
        bar,
        epochs: Vec::new(),
    };
    let device = Device::flex();
    let start = Instant::now();
    let rows = match args.model {
        Model::Patchtst => run(
            &PatchTstParams::default(),
            &data,
            &params,
            &device,
            &mut progress,
        )?,
        Model::Dlinear => run(
            &DLinearParams::default(),
            &data,
            &params,
            &device,
            &mut progress,
        )?,
        Model::Nlinear => run(&NLinearParams, &data, &params, &device, &mut progress)?,
        Model::Timesnet => run(
            &TimesNetParams::default(),
            &data,
            &params,
            &device,
            &mut progress,
        )?,
        Model::Fedformer => run(
            &FedFormerParams::default(),
            &data,
            &params,
            &device,
            &mut progress,
        )?,
    };
    progress.bar.finish_and_clear();
    let total = start.elapsed().as_secs_f64();

    println!("\n| method | regret ↓ | R.R. ↓ (×10⁻²) | MSE | MAE | coverage of r |");
    println!("|---|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {:.2} | {:.2} | {:.4} | {:.4} | {:.3} |",
            row.method,
            row.regret,
            row.relative_regret * 100.0,
            row.mse,
            row.mae,
            row.coverage
        );
    }
    let mean_epoch = |phase: &str| {
        let secs: Vec<f64> = progress
            .epochs
            .iter()
            .filter(|r| format!("{:?}", r.phase) == phase)
            .map(|r| r.seconds)
            .collect();
        secs.iter().sum::<f64>() / secs.len().max(1) as f64
    };
    println!(
        "\nmean epoch (train + calibrate + validate): PtO {:.1} s, PnO fixed {:.1} s, PnO adaptive {:.1} s; total {:.0} s",
        mean_epoch("Pto"),
        mean_epoch("PnoFixed"),
        mean_epoch("PnoAdaptive"),
        total
    );
    plot(
        &rows,
        &args.plot,
        &format!("{} ({})", args.column, model_name(args.model)),
    )?;
    println!("regret plot: {}", args.plot.display());
    Ok(())
}

fn model_name(model: Model) -> &'static str {
    match model {
        Model::Patchtst => PatchTstParams::default().name(),
        Model::Dlinear => DLinearParams::default().name(),
        Model::Nlinear => NLinearParams.name(),
        Model::Timesnet => TimesNetParams::default().name(),
        Model::Fedformer => FedFormerParams::default().name(),
    }
}

fn run<C: ForecasterParams>(
    config: &C,
    data: &WindowDataset,
    params: &fundalloc_timeseries_pno::ValidTrainParams,
    device: &Device,
    progress: &mut Progress,
) -> Result<Vec<MethodResult>, Box<dyn std::error::Error>> {
    Ok(run_experiment(config, data, params.clone(), device, progress)?.rows)
}

fn plot(
    rows: &[MethodResult],
    path: &PathBuf,
    title: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    fundalloc_examples::plot::register_font();
    let font = fundalloc_examples::plot::FONT;
    let root = BitMapBackend::new(path, (1000, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = rows.iter().map(|r| r.regret).fold(0.0, f64::max) * 1.15;
    let min = rows.iter().map(|r| r.regret).fold(f64::INFINITY, f64::min) * 0.9;
    let n = rows.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("Test regret per method — {title}"), (font, 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5..n as f64 - 0.5, min..max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .y_desc("mean regret (price units)")
        .y_label_formatter(&|y| format!("{y:.0}"))
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() > 1e-6 || i < 0.0 {
                return String::new();
            }
            rows.get(i as usize)
                .map(|r| {
                    r.method
                        .replace("Forecasting-Only", "FO")
                        .replace("Risk-Avoiding", "RA")
                })
                .unwrap_or_default()
        })
        .label_style((font, 13))
        .draw()?;
    chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
        let color = if r.method.starts_with("RTS") {
            BLUE
        } else {
            RGBColor(150, 150, 150)
        };
        Rectangle::new(
            [(i as f64 - 0.38, min), (i as f64 + 0.38, r.regret)],
            color.mix(0.8).filled(),
        )
    }))?;
    chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
        Text::new(
            format!("{:.1}", r.regret),
            (i as f64 - 0.25, r.regret + (max - min) * 0.02),
            (font, 13),
        )
    }))?;
    root.present()?;
    Ok(())
}
