//! SMARTFASI's Monte Carlo comparison of products (the paper's Fig. 1): one year ahead of the
//! last S&P 500 and Dow Jones prices of `stock_data.csv`, by correlated GBM (calibrated by
//! maximum likelihood) and by the stationary block bootstrap of the daily log returns.
//!
//! `cargo run --release -p fundalloc-examples --example simulate [-- --paths 100000]`
//!
//! Prints the comparison table (expected yield, volatility, VaR and CVaR at 95 % and 99 %,
//! each ± one Monte Carlo standard error), the calibration and the historical/parametric
//! one-day measures, and draws `--plot` (PNG): the distributions of the one-year returns of the
//! options with their VaR95 and CVaR95 marked, and the fan chart of the 50/50 portfolio.

use std::error::Error;
use std::path::PathBuf;

use clap::Parser;
use fundalloc_core_types::{CancelToken, Observer, PriceSeries};
use fundalloc_examples::plot::{FONT, register_font};
use fundalloc_simulation::{
    Comparison, FanChart, PathModel, Portfolio, Simulation, SimulationParams, StationaryBootstrap,
    calibrate_assets, historical_tail, log_returns, parametric_normal_tail, simulate,
};
use fundalloc_timeseries_pno::load_csv_column;
use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;

#[derive(Parser)]
#[command(about = "SMARTFASI Fig. 1: Monte Carlo yield, VaR and CVaR of products")]
struct Args {
    /// CSV file with a header row (default: the shared stock_data.csv).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The two price columns.
    #[arg(long, value_delimiter = ',', default_value = "sp500,djia")]
    columns: Vec<String>,
    /// Paths per simulation.
    #[arg(long, default_value_t = 100_000)]
    paths: usize,
    /// Trading days to the horizon (252 = one year).
    #[arg(long, default_value_t = 252)]
    steps: usize,
    /// Mean block length of the bootstrap (default: n^(1/3) of the history).
    #[arg(long)]
    mean_block: Option<f64>,
    /// Seed.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Output plot.
    #[arg(long, default_value = "target/simulate.png")]
    plot: PathBuf,
}

/// A progress bar over the chunks of paths.
struct Bar(ProgressBar);

impl Observer<Simulation> for Bar {
    fn on_step(&mut self, _round: usize, step: usize, steps: usize) {
        self.0.set_length(steps as u64);
        self.0.set_position(step as u64);
    }
}

const NAMES: [&str; 3] = ["S&P 500", "Dow Jones", "50/50"];
const LEVELS: [f64; 2] = [0.95, 0.99];

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let path = match &args.data {
        Some(p) => p.clone(),
        None => match fundalloc_examples::data::shared_data_file("stock_data.csv") {
            Some(p) => p,
            None => return Ok(()),
        },
    };
    let series: Vec<PriceSeries> = args
        .columns
        .iter()
        .zip(NAMES)
        .map(|(c, name)| {
            let s = load_csv_column(&path, c)?;
            Ok(PriceSeries::new(name, s.values().to_vec())?)
        })
        .collect::<Result<_, Box<dyn Error>>>()?;
    if series.len() != 2 {
        return Err("--columns must name two price columns".into());
    }
    println!(
        "{}: {} daily prices of {} and {}; horizon {} trading days, {} paths per option\n",
        path.display(),
        series[0].len(),
        NAMES[0],
        NAMES[1],
        args.steps,
        args.paths
    );

    // Calibration (annualised with 252 trading days).
    let fit = calibrate_assets(&series, 252.0)?;
    for a in &fit.assets {
        println!(
            "{:<10} GBM fit: drift μ = {:.4} ± {:.4}, volatility σ = {:.4} ± {:.4} (per year, MLE ± s.e.)",
            a.name, a.drift.value, a.drift.std_error, a.volatility.value, a.volatility.std_error
        );
    }
    println!(
        "correlation of daily log returns: {:.4}\n",
        fit.correlation[[0, 1]]
    );
    let gbm = fit.model()?;
    let mut boot = StationaryBootstrap::new(&series)?;
    if let Some(b) = args.mean_block {
        boot = boot.with_mean_block(b)?;
    }
    println!(
        "bootstrap: {} historical days, mean block length {} days\n",
        boot.n_rows(),
        boot.mean_block()
    );

    let options = [
        Portfolio::single(2, 0)?,
        Portfolio::single(2, 1)?,
        Portfolio::equal(2)?,
    ];
    let params = SimulationParams::default()
        .n_paths(args.paths)
        .steps(args.steps)
        .seed(args.seed);
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template(
        "{msg:>22} [{bar:30}] {pos}/{len} chunks",
    )?);
    let mut observer = Bar(bar.clone());
    let token = CancelToken::new();
    let mut rows = Vec::new();
    let mut plotted = Vec::new();
    for (model_name, model) in [
        ("GBM", &gbm as &dyn PathModelRef),
        ("bootstrap", &boot as &dyn PathModelRef),
    ] {
        for (name, p) in NAMES.iter().zip(&options) {
            bar.set_message(format!("{name} ({model_name})"));
            let fan = model_name == "bootstrap" && *name == "50/50";
            let sim = model.run(p, params.clone().fan_chart(fan), &token, &mut observer)?;
            let label = format!("{name} ({model_name})");
            rows.push((label.clone(), sim.summary(&LEVELS)?));
            // Plot every bootstrap option, and the GBM S&P 500 to show its thinner tails.
            if model_name == "bootstrap" || *name == NAMES[0] {
                plotted.push((label, sim));
            }
        }
    }
    bar.finish_and_clear();
    let table = Comparison::new(rows)?;
    println!(
        "One-year horizon return R = V_T/V_0 − 1 (%, ± one MC standard error); VaR and CVaR are losses:\n"
    );
    println!("{table}");

    println!("Daily returns straight from the history (%, losses):\n");
    println!(
        "| product | VaR 95% hist | CVaR 95% hist | VaR 95% normal | CVaR 95% normal | VaR 99% hist | CVaR 99% hist |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for s in &series {
        let r: Vec<f64> = log_returns(s)?.iter().map(|x| x.exp_m1()).collect();
        let h95 = historical_tail(&r, 0.95)?;
        let n95 = parametric_normal_tail(&r, 0.95)?;
        let h99 = historical_tail(&r, 0.99)?;
        println!(
            "| {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            s.name(),
            100.0 * h95.var,
            100.0 * h95.cvar,
            100.0 * n95.var,
            100.0 * n95.cvar,
            100.0 * h99.var,
            100.0 * h99.cvar
        );
    }

    plotted.rotate_left(1); // bootstrap options first, GBM last
    plot(&plotted, &args.plot)?;
    println!("\nwrote {}", args.plot.display());
    Ok(())
}

/// Object-safe access to `simulate` for both model types.
trait PathModelRef {
    fn run(
        &self,
        p: &Portfolio,
        params: SimulationParams,
        token: &CancelToken,
        observer: &mut Bar,
    ) -> Result<Simulation, fundalloc_simulation::SimulationError>;
}

impl<M: PathModel> PathModelRef for M {
    fn run(
        &self,
        p: &Portfolio,
        params: SimulationParams,
        token: &CancelToken,
        observer: &mut Bar,
    ) -> Result<Simulation, fundalloc_simulation::SimulationError> {
        simulate(self, p, params, token, observer)
    }
}

const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(90, 90, 90),
];

fn plot(plotted: &[(String, Simulation)], path: &PathBuf) -> Result<(), Box<dyn Error>> {
    register_font();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let root = BitMapBackend::new(path, (1400, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(760);

    let sims: Vec<&Simulation> = plotted.iter().map(|(_, s)| s).collect();
    // (a) histograms of the horizon returns (%), common bins over the 0.2–99.8 % range.
    let lo = sims
        .iter()
        .map(|s| s.percentile(0.002).unwrap_or(-0.5))
        .fold(f64::INFINITY, f64::min)
        * 100.0;
    let hi = sims
        .iter()
        .map(|s| s.percentile(0.998).unwrap_or(0.5))
        .fold(f64::NEG_INFINITY, f64::max)
        * 100.0;
    let bins = 80;
    let width = (hi - lo) / bins as f64;
    let densities: Vec<Vec<f64>> = sims
        .iter()
        .map(|s| {
            let mut counts = vec![0.0; bins];
            for r in s.sorted_returns() {
                let x = 100.0 * r;
                if x >= lo && x < hi {
                    counts[((x - lo) / width) as usize] += 1.0;
                }
            }
            let n = s.n_paths() as f64;
            counts.iter().map(|c| c / (n * width)).collect()
        })
        .collect();
    let y_max = densities.iter().flatten().copied().fold(0.0, f64::max) * 1.45; // headroom for the legend
    let mut chart = ChartBuilder::on(&left)
        .caption(
            "(a) one-year return: VaR95 (dashed) and CVaR95 (solid) as returns",
            (FONT, 17),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(lo..hi, 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc("return over the horizon (%)")
        .y_desc("density (per %)")
        .label_style((FONT, 13))
        .draw()?;
    for (k, (sim, dens)) in sims.iter().zip(&densities).enumerate() {
        let color = COLORS[k % COLORS.len()];
        let tail = sim.tail(0.95)?;
        let (var, cvar) = (-100.0 * tail.var.value, -100.0 * tail.cvar.value);
        let label = format!(
            "{}: E = {:.1}%, VaR95 = {:.1}%, CVaR95 = {:.1}%",
            plotted[k].0,
            100.0 * sim.expected_return().value,
            100.0 * tail.var.value,
            100.0 * tail.cvar.value
        );
        let outline: Vec<(f64, f64)> = dens
            .iter()
            .enumerate()
            .flat_map(|(i, &d)| {
                let x0 = lo + i as f64 * width;
                [(x0, d), (x0 + width, d)]
            })
            .collect();
        if k == 0 {
            chart.draw_series(dens.iter().enumerate().map(|(i, &d)| {
                let x0 = lo + i as f64 * width;
                Rectangle::new([(x0, 0.0), (x0 + width, d)], color.mix(0.15).filled())
            }))?;
        }
        chart
            .draw_series(LineSeries::new(outline, color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        // VaR: dashed vertical line; CVaR: solid.
        let dashes = (0..20).map(|i| {
            let y0 = y_max * i as f64 / 20.0;
            PathElement::new(
                vec![(var, y0), (var, y0 + y_max / 40.0)],
                color.stroke_width(2),
            )
        });
        chart.draw_series(dashes)?;
        chart.draw_series(LineSeries::new(
            vec![(cvar, 0.0), (cvar, y_max * 0.95)],
            color.stroke_width(2),
        ))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;

    // (b) fan chart of the 50/50 portfolio.
    let fan: &FanChart = sims
        .iter()
        .find_map(|s| s.fan_chart())
        .ok_or("no fan chart was simulated")?;
    let steps = fan.values.nrows() - 1;
    let y_lo = fan.values.iter().copied().fold(0.0, f64::min) * 100.0 - 2.0;
    let y_hi = fan.values.iter().copied().fold(0.0, f64::max) * 100.0 + 2.0;
    let mut chart = ChartBuilder::on(&right)
        .caption("(b) 50/50 portfolio: percentiles over the year", (FONT, 17))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..steps as f64, y_lo..y_hi)?;
    chart
        .configure_mesh()
        .x_desc("trading days ahead")
        .y_desc("cumulative return (%)")
        .label_style((FONT, 13))
        .draw()?;
    let col = |j: usize| -> Vec<(f64, f64)> {
        (0..=steps)
            .map(|t| (t as f64, 100.0 * fan.values[[t, j]]))
            .collect()
    };
    let n_levels = fan.levels.len();
    let green = COLORS[2];
    for j in 0..n_levels / 2 {
        let (lower, upper) = (col(j), col(n_levels - 1 - j));
        let band: Vec<(f64, f64)> = lower
            .iter()
            .copied()
            .chain(upper.iter().rev().copied())
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(
                band,
                green.mix(0.15 + 0.15 * j as f64).filled(),
            )))?
            .label(format!(
                "{:.0}–{:.0} %",
                100.0 * fan.levels[j],
                100.0 * fan.levels[n_levels - 1 - j]
            ))
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 20, y + 5)], green.mix(0.3).filled())
            });
    }
    if n_levels % 2 == 1 {
        chart
            .draw_series(LineSeries::new(col(n_levels / 2), BLACK.stroke_width(2)))?
            .label("median")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
