//! RTS-PtO vs RTS-PnO on one CSV price column: the paper's Table 1 / Table 3 rows (regret,
//! relative regret of the six methods, plus the fixed-r PnO of Table 4), Table 5 (forecast
//! MSE/MAE), and the efficiency figures of §4.5 (training time per epoch, epochs to the best
//! validation, inference time per window), for one backbone over one or more seeds.
//!
//! ```text
//! cargo run --release -p fundalloc-examples --example rts_pno -- \
//!     --column djia --lookback 150 --horizon 30 --model patchtst --epochs 10
//! ```
//!
//! `--model` is one of `patchtst`, `dlinear`, `nlinear`, `timesnet`, `fedformer`. TimesNet and
//! FEDformer default to the Time-Series-Library's long-term forecasting sizes (`--size tslib`),
//! which are far too slow for a CPU; `--size cpu` picks the reduced sizes of
//! docs/benchmarks.md, and `--d-model`, `--d-ff`, `--e-layers`, `--top-k`, `--num-kernels`,
//! `--modes`, … override single fields. `--seeds 0,1,2` runs several seeds and prints mean ± std;
//! `--json FILE` writes every seed's figures (read by the `rts_efficiency` example);
//! `--probe-batches K` only times K training batches and projects one epoch.
//!
//! ```text
//! cargo run --release -p fundalloc-examples --example rts_pno -- --model timesnet --size cpu \
//!     --epochs 10 --seeds 0,1,2 --json djia_timesnet.json
//! ```

use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use fundalloc_core_types::WindowSpec;
use fundalloc_examples::rts::{
    InferenceRecord, MethodRecord, RunFile, SeedRecord, TrainRecord, mean_std, write_atomic,
};
use fundalloc_timeseries_pno::{
    CancelToken, DLinearParams, DecisionRule, Device, EpochReport, FedFormerParams, Forecaster,
    ForecasterParams, NLinearParams, Observer, ParamGuard, PatchTstParams, TimesNetParams,
    TrainParams, Trained, ValidTrainParams, WindowDataset, allocate, calibrate, load_csv_column,
    predict, run_experiment,
};
use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Model {
    Patchtst,
    Dlinear,
    Nlinear,
    Timesnet,
    Fedformer,
}

/// Size preset of TimesNet / FEDformer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Size {
    /// The Time-Series-Library's defaults.
    Tslib,
    /// The reduced CPU sizes of docs/benchmarks.md.
    Cpu,
}

#[derive(Debug, Parser)]
#[command(about = "RTS-PtO / RTS-PnO experiment on one price column (Tables 1, 3, 5; Fig. 2)")]
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
    /// Size preset of TimesNet / FEDformer (ignored by the other models).
    #[arg(long, value_enum, default_value_t = Size::Tslib)]
    size: Size,
    /// Override: model width (TimesNet, FEDformer).
    #[arg(long)]
    d_model: Option<usize>,
    /// Override: hidden width (TimesNet, FEDformer).
    #[arg(long)]
    d_ff: Option<usize>,
    /// Override: TimesBlocks (TimesNet) or encoder layers (FEDformer).
    #[arg(long)]
    e_layers: Option<usize>,
    /// Override: decoder layers (FEDformer).
    #[arg(long)]
    d_layers: Option<usize>,
    /// Override: periods per TimesBlock (TimesNet).
    #[arg(long)]
    top_k: Option<usize>,
    /// Override: inception kernels (TimesNet).
    #[arg(long)]
    num_kernels: Option<usize>,
    /// Override: Fourier modes (FEDformer).
    #[arg(long)]
    modes: Option<usize>,
    /// Override: heads (FEDformer).
    #[arg(long)]
    n_heads: Option<usize>,
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
    /// Seed (when --seeds is not given).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Seeds to run, comma separated (mean ± std over them).
    #[arg(long, value_delimiter = ',')]
    seeds: Vec<u64>,
    /// Repetitions of the inference timing (the fastest is kept).
    #[arg(long, default_value_t = 5)]
    timing_reps: usize,
    /// Only time this many training batches (after one warm-up batch) of an MSE epoch, print
    /// the projected epoch time and stop.
    #[arg(long)]
    probe_batches: Option<usize>,
    /// Write every seed's figures to this JSON file (atomically).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Where to write the regret plot.
    #[arg(long, default_value = "rts_pno_regret.png")]
    plot: PathBuf,
}

/// Progress bar over all epochs of the three runs; optionally a batch-time probe.
struct Progress {
    bar: ProgressBar,
    epochs: Vec<EpochReport>,
    probe: Option<(usize, Option<Instant>)>,
    label: String,
}

impl Observer<EpochReport> for Progress {
    fn on_step(&mut self, _epoch: usize, batch: usize, n_batches: usize) {
        if let Some((k, start)) = &mut self.probe {
            // Batch 1 is the warm-up; the clock starts when it is done.
            if batch == 1 {
                *start = Some(Instant::now());
            } else if batch > *k || batch == n_batches {
                let timed = batch - 1;
                let secs = start.map_or(0.0, |s| s.elapsed().as_secs_f64()) / timed as f64;
                println!(
                    "probe {}: {:.4} s per training batch ({} batches timed) → {:.1} s per \
                     training pass of {} batches",
                    self.label,
                    secs,
                    timed,
                    secs * n_batches as f64,
                    n_batches
                );
                std::process::exit(0);
            }
            return;
        }
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

/// Reduced CPU sizes (docs/benchmarks.md, "Table 3"): chosen so one epoch fits the 2-core
/// sandbox; see there for the measured epoch times at each size.
const CPU_TIMESNET: (usize, usize, usize, usize, usize) = (16, 16, 2, 3, 3);
/// (d_model, n_heads, e_layers, d_layers, d_ff, modes) of the reduced FEDformer.
const CPU_FEDFORMER: (usize, usize, usize, usize, usize, usize) = (32, 8, 2, 1, 64, 16);

fn timesnet(args: &Args) -> TimesNetParams {
    let mut p = TimesNetParams::default();
    if args.size == Size::Cpu {
        let (d, ff, e, k, nk) = CPU_TIMESNET;
        p = p.d_model(d).d_ff(ff).e_layers(e).top_k(k).num_kernels(nk);
    }
    if let Some(v) = args.d_model {
        p = p.d_model(v);
    }
    if let Some(v) = args.d_ff {
        p = p.d_ff(v);
    }
    if let Some(v) = args.e_layers {
        p = p.e_layers(v);
    }
    if let Some(v) = args.top_k {
        p = p.top_k(v);
    }
    if let Some(v) = args.num_kernels {
        p = p.num_kernels(v);
    }
    p
}

fn fedformer(args: &Args) -> FedFormerParams {
    let mut p = FedFormerParams::default();
    if args.size == Size::Cpu {
        let (d, h, e, dl, ff, modes) = CPU_FEDFORMER;
        p = p
            .d_model(d)
            .n_heads(h)
            .e_layers(e)
            .d_layers(dl)
            .d_ff(ff)
            .modes(modes);
    }
    if let Some(v) = args.d_model {
        p = p.d_model(v);
    }
    if let Some(v) = args.n_heads {
        p = p.n_heads(v);
    }
    if let Some(v) = args.e_layers {
        p = p.e_layers(v);
    }
    if let Some(v) = args.d_layers {
        p = p.d_layers(v);
    }
    if let Some(v) = args.d_ff {
        p = p.d_ff(v);
    }
    if let Some(v) = args.modes {
        p = p.modes(v);
    }
    p
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
    let seeds = if args.seeds.is_empty() {
        vec![args.seed]
    } else {
        args.seeds.clone()
    };
    let device = Device::flex();
    let mut file = RunFile {
        column: args.column.clone(),
        model: String::new(),
        config: String::new(),
        lookback: args.lookback,
        horizon: args.horizon,
        train_windows: data.train().len(),
        epochs: args.epochs,
        learning_rate: args.lr,
        seeds: Vec::new(),
    };
    for &seed in &seeds {
        let params = TrainParams::new()
            .epochs(args.epochs)
            .learning_rate(args.lr)
            .beta(args.beta)
            .alpha(args.alpha)
            .coverage(args.coverage)
            .batch_size(args.batch_size)
            .seed(seed)
            .check()?;
        let bar = ProgressBar::new(0);
        bar.set_style(ProgressStyle::with_template(
            "{spinner} batch {pos}/{len} [{elapsed_precise}] {wide_bar}",
        )?);
        let mut progress = Progress {
            bar,
            epochs: Vec::new(),
            probe: args.probe_batches.map(|k| (k.max(1), None)),
            label: format!("{:?} {:?}", args.model, args.size),
        };
        let run = Ctx {
            data: &data,
            params: &params,
            device: &device,
            reps: args.timing_reps.max(1),
        };
        let (record, cfg, model_name) = match args.model {
            Model::Patchtst => run.seed(&PatchTstParams::default(), &mut progress)?,
            Model::Dlinear => run.seed(&DLinearParams::default(), &mut progress)?,
            Model::Nlinear => run.seed(&NLinearParams, &mut progress)?,
            Model::Timesnet => run.seed(&timesnet(&args).check()?, &mut progress)?,
            Model::Fedformer => run.seed(&fedformer(&args).check()?, &mut progress)?,
        };
        progress.bar.finish_and_clear();
        (file.config, file.model) = (cfg, model_name.to_string());
        print_seed(&record);
        file.seeds.push(record);
        // Rewritten after every seed, so a stopped run keeps the seeds it finished.
        if let Some(json) = &args.json {
            write_atomic(json, serde_json::to_string_pretty(&file)?.as_bytes())?;
            println!("figures so far: {}", json.display());
        }
    }
    println!("\n{} ({}), seeds {seeds:?}:", file.model, file.config);
    print_summary(&file.seeds);
    plot(
        &file,
        &args.plot,
        &format!("{} ({})", args.column, file.model),
    )?;
    println!("regret plot: {}", args.plot.display());
    Ok(())
}

/// What every seed shares.
struct Ctx<'a> {
    data: &'a WindowDataset,
    params: &'a ValidTrainParams,
    device: &'a Device,
    reps: usize,
}

impl Ctx<'_> {
    /// Trains PtO, PnO (fixed), PnO (adaptive) for one seed and measures everything.
    fn seed<C: ForecasterParams>(
        &self,
        config: &C,
        progress: &mut Progress,
    ) -> Result<(SeedRecord, String, &'static str), Box<dyn std::error::Error>> {
        let start = Instant::now();
        let report = run_experiment(
            config,
            self.data,
            self.params.clone(),
            self.device,
            &CancelToken::new(),
            progress,
        )?;
        let seconds = start.elapsed().as_secs_f64();
        let methods = report
            .rows
            .iter()
            .map(|r| MethodRecord {
                method: r.method.clone(),
                regret: r.regret,
                relative_regret: r.relative_regret,
                mse: r.mse,
                mae: r.mae,
                coverage: r.coverage,
            })
            .collect();
        let training = [
            ("PtO", &report.pto),
            ("PnO (fixed)", &report.pno_fixed),
            ("PnO (adaptive)", &report.pno_adaptive),
        ]
        .into_iter()
        .map(|(run, t)| {
            let h = t.history();
            TrainRecord {
                run: run.to_string(),
                epochs: h.len(),
                seconds_per_epoch: h.iter().map(|r| r.seconds).sum::<f64>() / h.len().max(1) as f64,
                best_epoch: t.best_epoch(),
            }
        })
        .collect();
        let inference = self.inference(&report.pto, &report.pno_adaptive)?;
        Ok((
            SeedRecord {
                seed: self.params.seed(),
                methods,
                training,
                inference,
                seconds,
            },
            format!("{config:?}"),
            config.name(),
        ))
    }

    /// Times, on the test windows: the batched forecast, the Top-1 decision, the exact
    /// risk-aware solver (PtO's and PnO's risk sets), and Algorithm 1 once.
    fn inference<M: Forecaster>(
        &self,
        pto: &Trained<M>,
        pno: &Trained<M>,
    ) -> Result<InferenceRecord, Box<dyn std::error::Error>> {
        let test = self.data.test();
        let n = test.len() as f64;
        let bs = self.params.eval_batch_size();
        let std = self.data.series().scaler().std();
        let best = |f: &mut dyn FnMut() -> Result<(), Box<dyn std::error::Error>>| {
            let mut fastest = f64::INFINITY;
            for _ in 0..self.reps {
                let t = Instant::now();
                f()?;
                fastest = fastest.min(t.elapsed().as_secs_f64());
            }
            Ok::<f64, Box<dyn std::error::Error>>(fastest)
        };
        let forecast_of = |trained: &Trained<M>| {
            let mut raw = None;
            let secs = best(&mut || {
                let pred = predict(trained.model(), test.inputs().view(), bs, self.device)?;
                raw = Some(self.data.inverse(&pred));
                Ok(())
            })?;
            Ok::<_, Box<dyn std::error::Error>>((secs, raw.unwrap_or_default()))
        };
        let (pto_fc, pto_raw) = forecast_of(pto)?;
        let (pno_fc, pno_raw) = forecast_of(pno)?;
        let solve = |trained: &Trained<M>, raw: &ndarray::Array2<f64>, rule: DecisionRule| {
            let radii = trained.radii() * std;
            best(&mut || {
                let a = allocate(rule, raw.view(), radii.view(), trained.constraint())?;
                std::hint::black_box(a);
                Ok(())
            })
        };
        let top1 = solve(pto, &pto_raw, DecisionRule::ForecastTopK(1))?;
        let pto_solver = solve(pto, &pto_raw, DecisionRule::RiskAware)?;
        let pno_solver = solve(pno, &pno_raw, DecisionRule::RiskAware)?;
        let calibration = best(&mut || {
            std::hint::black_box(calibrate(
                pto.model(),
                self.data.validation(),
                self.params.clone(),
                self.device,
            )?);
            Ok(())
        })?;
        let us = |s: f64| s * 1e6 / n;
        Ok(InferenceRecord {
            windows: test.len(),
            forecast_us: us(pto_fc),
            top1_us: us(top1),
            pto_solver_us: us(pto_solver),
            pno_forecast_us: us(pno_fc),
            pno_solver_us: us(pno_solver),
            calibration_s: calibration,
        })
    }
}

fn print_seed(r: &SeedRecord) {
    println!("\nseed {} ({:.0} s):", r.seed, r.seconds);
    println!("| method | regret ↓ | R.R. ↓ (×10⁻²) | MSE | MAE | coverage of r |");
    println!("|---|---:|---:|---:|---:|---:|");
    for row in &r.methods {
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
    for t in &r.training {
        println!(
            "{}: {:.1} s per epoch, best epoch {}/{}",
            t.run, t.seconds_per_epoch, t.best_epoch, t.epochs
        );
    }
    let i = &r.inference;
    println!(
        "inference per test window: forecast {:.1} µs, Top-1 {:.2} µs, exact solver PtO {:.2} µs / \
         PnO {:.2} µs; Algorithm 1 once {:.3} s",
        i.forecast_us, i.top1_us, i.pto_solver_us, i.pno_solver_us, i.calibration_s
    );
}

fn print_summary(records: &[SeedRecord]) {
    let Some(first) = records.first() else {
        return;
    };
    println!("| method | regret ↓ (mean ± std) | R.R. ↓ (×10⁻²) | MSE | MAE |");
    println!("|---|---:|---:|---:|---:|");
    for (i, m) in first.methods.iter().enumerate() {
        let col = |f: &dyn Fn(&MethodRecord) -> f64| {
            let v: Vec<f64> = records
                .iter()
                .filter_map(|r| r.methods.get(i))
                .map(f)
                .collect();
            mean_std(&v)
        };
        let (reg, reg_sd) = col(&|r| r.regret);
        let (rr, rr_sd) = col(&|r| r.relative_regret * 100.0);
        let (mse, _) = col(&|r| r.mse);
        let (mae, _) = col(&|r| r.mae);
        println!(
            "| {} | {reg:.2} ± {reg_sd:.2} | {rr:.2} ± {rr_sd:.2} | {mse:.4} | {mae:.4} |",
            m.method
        );
    }
}

fn plot(file: &RunFile, path: &PathBuf, title: &str) -> Result<(), Box<dyn std::error::Error>> {
    let Some(first) = file.seeds.first() else {
        return Ok(());
    };
    let rows: Vec<(String, f64)> = first
        .methods
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let v: Vec<f64> = file
                .seeds
                .iter()
                .filter_map(|s| s.methods.get(i))
                .map(|r| r.regret)
                .collect();
            (m.method.clone(), mean_std(&v).0)
        })
        .collect();
    fundalloc_examples::plot::register_font();
    let font = fundalloc_examples::plot::FONT;
    let root = BitMapBackend::new(path, (1000, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = rows.iter().map(|r| r.1).fold(0.0, f64::max) * 1.15;
    let min = rows.iter().map(|r| r.1).fold(f64::INFINITY, f64::min) * 0.9;
    let n = rows.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Test regret per method — {title}, mean of {} seed(s)",
                file.seeds.len()
            ),
            (font, 22),
        )
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
                    r.0.replace("Forecasting-Only", "FO")
                        .replace("Risk-Avoiding", "RA")
                })
                .unwrap_or_default()
        })
        .label_style((font, 13))
        .draw()?;
    chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
        let color = if r.0.starts_with("RTS") {
            BLUE
        } else {
            RGBColor(150, 150, 150)
        };
        Rectangle::new(
            [(i as f64 - 0.38, min), (i as f64 + 0.38, r.1)],
            color.mix(0.8).filled(),
        )
    }))?;
    chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
        Text::new(
            format!("{:.1}", r.1),
            (i as f64 - 0.25, r.1 + (max - min) * 0.02),
            (font, 13),
        )
    }))?;
    root.present()?;
    Ok(())
}
