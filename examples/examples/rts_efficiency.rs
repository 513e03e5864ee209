//! The efficiency study of RTS-PnO (§4.5, Fig. 2 of the paper) from the JSON files that
//! `rts_pno --json` writes: per series and backbone, training time per epoch and to the best
//! validation epoch, and inference time per test window of Forecast-only, RTS-PtO and RTS-PnO
//! with the exact solver's share. Prints a Markdown table and draws a three-panel PNG.
//!
//! ```text
//! cargo run --release -p fundalloc-examples --example rts_efficiency -- \
//!     runs/djia_dlinear.json runs/djia_timesnet.json … --plot docs/img/rts_efficiency.png
//! ```
//!
//! Definitions (all from the measured figures in the files, mean over seeds):
//! * training per epoch: RTS-PtO = its MSE epoch (training pass + Algorithm 1 on the calibration
//!   windows + validation); Forecast-only = the same epoch less one Algorithm-1 pass (measured
//!   separately), i.e. MSE training with validation for model selection; RTS-PnO = the adaptive
//!   PnO epoch (SPO+ training pass + Algorithm 1 + validation).
//! * training to the best epoch: seconds per epoch × the selected epoch (lowest validation MSE
//!   for Forecast/PtO, lowest validation regret for PnO).
//! * inference per window: batched forecast of the test windows + the decision (Top-1 for
//!   Forecast-only, the exact O(H log H) risk-aware solver for RTS-PtO / RTS-PnO), divided by
//!   the number of windows.

use std::path::PathBuf;

use clap::Parser;
use fundalloc_examples::rts::{RunFile, mean_std};
use plotters::prelude::*;

#[derive(Debug, Parser)]
#[command(about = "Fig. 2 (efficiency) of RTS-PnO from rts_pno --json files")]
struct Args {
    /// JSON files written by `rts_pno --json`.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Where to write the three-panel PNG.
    #[arg(long, default_value = "rts_efficiency.png")]
    plot: PathBuf,
}

/// One (series, backbone) row of the study.
struct Row {
    label: String,
    series: String,
    backbone: String,
    seeds: usize,
    /// Forecast-only, RTS-PtO, RTS-PnO seconds per epoch.
    epoch_s: [f64; 3],
    /// Epochs to the best validation: PtO (= Forecast), PnO.
    best: [f64; 2],
    /// Seconds to the best validation epoch.
    to_best_s: [f64; 3],
    /// Forecast-only, RTS-PtO, RTS-PnO µs per window.
    infer_us: [f64; 3],
    /// Share of the exact solver in the PtO / PnO inference.
    solver_share: [f64; 2],
    calibration_s: f64,
}

fn series_name(column: &str) -> &str {
    match column {
        "djia" => "Dow Jones",
        "sp500" => "S&P 500",
        other => other,
    }
}

fn row(file: &RunFile) -> Row {
    let avg = |f: &dyn Fn(&fundalloc_examples::rts::SeedRecord) -> Option<f64>| {
        let v: Vec<f64> = file.seeds.iter().filter_map(f).collect();
        mean_std(&v).0
    };
    let train = |run: &'static str, what: fn(&fundalloc_examples::rts::TrainRecord) -> f64| {
        avg(&move |s| s.training.iter().find(|t| t.run == run).map(what))
    };
    let calibration_s = avg(&|s| Some(s.inference.calibration_s));
    let pto_epoch = train("PtO", |t| t.seconds_per_epoch);
    let pno_epoch = train("PnO (adaptive)", |t| t.seconds_per_epoch);
    let fc_epoch = (pto_epoch - calibration_s).max(0.0);
    let pto_best = train("PtO", |t| t.best_epoch as f64);
    let pno_best = train("PnO (adaptive)", |t| t.best_epoch as f64);
    let pto_to_best = avg(&|s| {
        s.training
            .iter()
            .find(|t| t.run == "PtO")
            .map(|t| t.seconds_per_epoch * t.best_epoch as f64)
    });
    let fc_to_best = avg(&|s| {
        s.training.iter().find(|t| t.run == "PtO").map(|t| {
            (t.seconds_per_epoch - s.inference.calibration_s).max(0.0) * t.best_epoch as f64
        })
    });
    let pno_to_best = avg(&|s| {
        s.training
            .iter()
            .find(|t| t.run == "PnO (adaptive)")
            .map(|t| t.seconds_per_epoch * t.best_epoch as f64)
    });
    let fc = avg(&|s| Some(s.inference.forecast_us + s.inference.top1_us));
    let pto = avg(&|s| Some(s.inference.forecast_us + s.inference.pto_solver_us));
    let pno = avg(&|s| Some(s.inference.pno_forecast_us + s.inference.pno_solver_us));
    let pto_share = avg(&|s| {
        Some(s.inference.pto_solver_us / (s.inference.forecast_us + s.inference.pto_solver_us))
    });
    let pno_share = avg(&|s| {
        Some(s.inference.pno_solver_us / (s.inference.pno_forecast_us + s.inference.pno_solver_us))
    });
    Row {
        label: format!("{} / {}", series_name(&file.column), file.model),
        series: series_name(&file.column).to_string(),
        backbone: file.model.clone(),
        seeds: file.seeds.len(),
        epoch_s: [fc_epoch, pto_epoch, pno_epoch],
        best: [pto_best, pno_best],
        to_best_s: [fc_to_best, pto_to_best, pno_to_best],
        infer_us: [fc, pto, pno],
        solver_share: [pto_share, pno_share],
        calibration_s,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut rows = Vec::new();
    for path in &args.files {
        let text = std::fs::read_to_string(path)?;
        let file: RunFile = serde_json::from_str(&text)?;
        rows.push(row(&file));
    }
    println!(
        "| series / backbone | seeds | s/epoch Forecast | RTS-PtO | RTS-PnO | best epoch PtO | PnO \
         | s to best Forecast | RTS-PtO | RTS-PnO | µs/window Forecast | RTS-PtO | RTS-PnO \
         | solver share PtO | PnO | Alg. 1 once (s) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} \
             | {:.1} | {:.1} | {:.2} % | {:.2} % | {:.3} |",
            r.label,
            r.seeds,
            r.epoch_s[0],
            r.epoch_s[1],
            r.epoch_s[2],
            r.best[0],
            r.best[1],
            r.to_best_s[0],
            r.to_best_s[1],
            r.to_best_s[2],
            r.infer_us[0],
            r.infer_us[1],
            r.infer_us[2],
            r.solver_share[0] * 100.0,
            r.solver_share[1] * 100.0,
            r.calibration_s
        );
    }
    plot(&rows, &args.plot)?;
    println!("plot: {}", args.plot.display());
    Ok(())
}

fn plot(rows: &[Row], path: &PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    fundalloc_examples::plot::register_font();
    let font = fundalloc_examples::plot::FONT;
    let mut series: Vec<&str> = Vec::new();
    for r in rows {
        if !series.contains(&r.series.as_str()) {
            series.push(&r.series);
        }
    }
    let height = 40 + 330 * series.len() as u32;
    let root = BitMapBackend::new(path, (1200, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        "RTS-PnO efficiency (Fig. 2): log scale, mean over seeds",
        (font, 20),
    )?;
    let grid = root.split_evenly((series.len(), 3));
    let colors = [
        RGBColor(150, 150, 150),
        RGBColor(230, 140, 40),
        RGBColor(40, 80, 220),
    ];
    let names = ["Forecast", "RTS-PtO", "RTS-PnO"];
    type Getter = Box<dyn Fn(&Row) -> [f64; 3]>;
    let specs: [(&str, &str, Getter); 3] = [
        (
            "(a) training to best epoch",
            "seconds",
            Box::new(|r| r.to_best_s),
        ),
        ("(b) training per epoch", "seconds", Box::new(|r| r.epoch_s)),
        ("(c) inference per window", "µs", Box::new(|r| r.infer_us)),
    ];
    for (s_i, name) in series.iter().enumerate() {
        let group: Vec<&Row> = rows.iter().filter(|r| r.series == *name).collect();
        let n = group.len();
        for (p_i, (title, unit, get)) in specs.iter().enumerate() {
            let panel = &grid[s_i * 3 + p_i];
            let values: Vec<[f64; 3]> = group.iter().map(|r| get(r)).collect();
            let positive = values.iter().flatten().copied().filter(|v| *v > 0.0);
            let lo = positive.clone().fold(f64::INFINITY, f64::min).max(1e-6) / 3.0;
            let hi = positive.fold(0.0, f64::max).max(lo * 10.0) * 3.0;
            let mut chart = ChartBuilder::on(panel)
                .caption(format!("{name}: {title}"), (font, 16))
                .margin(8)
                .x_label_area_size(25)
                .y_label_area_size(60)
                .build_cartesian_2d(-0.5..n as f64 - 0.5, (lo..hi).log_scale())?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(n)
                .y_labels(6)
                .y_desc(*unit)
                .y_label_formatter(&|y| {
                    if *y >= 10.0 {
                        format!("{y:.0}")
                    } else if *y >= 0.1 {
                        format!("{y:.1}")
                    } else {
                        format!("{y:.3}")
                    }
                })
                .x_label_formatter(&|x| {
                    let i = x.round();
                    if (x - i).abs() > 1e-6 || i < 0.0 {
                        return String::new();
                    }
                    group
                        .get(i as usize)
                        .map(|r| r.backbone.clone())
                        .unwrap_or_default()
                })
                .label_style((font, 12))
                .draw()?;
            for (m, color) in colors.iter().enumerate() {
                let bars = values.iter().enumerate().map(|(i, v)| {
                    let x0 = i as f64 - 0.4 + m as f64 * 0.27;
                    Rectangle::new(
                        [(x0, lo), (x0 + 0.25, v[m].max(lo))],
                        color.mix(0.85).filled(),
                    )
                });
                chart
                    .draw_series(bars)?
                    .label(names[m])
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                    });
            }
            if s_i == 0 && p_i == 0 {
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperLeft)
                    .background_style(WHITE.mix(0.8))
                    .label_font((font, 11))
                    .draw()?;
            }
        }
    }
    root.present()?;
    Ok(())
}
