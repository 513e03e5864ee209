//! Per-position conformal coverage of a simple forecaster on daily stock prices.
//!
//! For each of `sp500` and `djia` (`../shared/data/stock_data.csv`), windows of M = 150 days
//! predict the next H = 30 closes. A least-squares AR model on daily returns (or the naive
//! last-value forecast) is fitted on the training windows, calibrated on the validation windows
//! and evaluated on the test windows (the 70/10/20 chronological split of RTS-PnO). Printed per
//! horizon position: empirical coverage and mean width (in index points) of
//!
//! - `split`: split conformal on absolute residuals (RTS-PnO's Algorithm 1);
//! - `norm`: split conformal on residuals normalised by σ̂ = P_last · vol₂₀ · √h (the last
//!   input price times the trailing 20-day return volatility), which adapts to price level
//!   and volatility;
//! - `ACI`: adaptive conformal inference per position on absolute residuals, updated on the
//!   test stream with each window's truth as soon as it is known (H windows later).
//!
//! ```text
//! cargo run --release -p fundalloc-examples --example conformal_coverage -- --coverage 0.9
//! ```

use clap::{Parser, ValueEnum};
use fundalloc_conformal::{
    AciParams, HorizonCoverage, ParamGuard, PositionEvaluation, PositionalAdaptiveConformal,
    PositionalConformal, RankOverflow, SplitConformalParams, evaluate_positions,
};
use fundalloc_core_types::{PriceSeries, Segment, WindowSpec, WindowedSeries};
use ndarray::{Array1, Array2};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Forecaster {
    /// Least-squares AR on the last `lags` daily returns, one model per horizon position.
    Ar,
    /// The last observed price for every position.
    Naive,
}

#[derive(Debug, Parser)]
#[command(about = "Per-position coverage of split conformal, normalised split and ACI")]
struct Args {
    /// Target coverage γ.
    #[arg(long, default_value_t = 0.9)]
    coverage: f64,
    /// Point forecaster.
    #[arg(long, value_enum, default_value_t = Forecaster::Ar)]
    forecaster: Forecaster,
    /// AR lags (daily returns) for `--forecaster ar`.
    #[arg(long, default_value_t = 10)]
    lags: usize,
    /// ACI step size η.
    #[arg(long, default_value_t = 0.005)]
    step_size: f64,
}

const LOOKBACK: usize = 150;
const HORIZON: usize = 30;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let columns: Vec<PriceSeries> = match load_columns(&["sp500", "djia"])? {
        Some(columns) => columns,
        None => {
            println!(
                "stock_data.csv not found: using a GENERATED random-walk series with a volatility \
                 shift instead (numbers below are not stock data)"
            );
            vec![generated_series()?]
        }
    };
    for series in columns {
        run(series, &args)?;
    }
    Ok(())
}

/// Point forecasts (raw prices) and truths of every window of a segment: (m × H, m × H).
struct Forecasts {
    predictions: Array2<f64>,
    truths: Array2<f64>,
    /// σ̂ per window and position for the normalised score.
    scales: Array2<f64>,
}

fn run(series: PriceSeries, args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let name = series.name().to_string();
    let ws = WindowedSeries::new(series, WindowSpec::new(LOOKBACK, HORIZON)?)?;
    let model = fit(&ws, args)?;
    let val = forecast(&ws, Segment::Validation, &model)?;
    let test = forecast(&ws, Segment::Test, &model)?;
    let gamma = args.coverage;

    // Split conformal, absolute residuals: r_h from the validation windows.
    let split = SplitConformalParams::new(gamma).check()?;
    let fitted = PositionalConformal::fit(split, val.predictions.view(), val.truths.view())?;
    let iv = fitted.predict_interval(test.predictions.view())?;
    let split_eval = evaluate_positions(iv.lower.view(), iv.upper.view(), test.truths.view())?;

    // Bonferroni: joint coverage of all H positions.
    let joint = PositionalConformal::fit(
        SplitConformalParams::new(gamma)
            .horizon_coverage(HorizonCoverage::Bonferroni)
            // level 1 − (1 − γ)/H needs many windows
            .rank_overflow(RankOverflow::Infinite),
        val.predictions.view(),
        val.truths.view(),
    )?;
    let iv = joint.predict_interval(test.predictions.view())?;
    let joint_eval = evaluate_positions(iv.lower.view(), iv.upper.view(), test.truths.view())?;

    // Normalised residuals |y − ŷ| / σ̂.
    let normed = PositionalConformal::fit_normalized(
        split,
        val.predictions.view(),
        val.truths.view(),
        val.scales.view(),
    )?;
    let iv = normed.predict_interval_scaled(test.predictions.view(), test.scales.view())?;
    let norm_eval = evaluate_positions(iv.lower.view(), iv.upper.view(), test.truths.view())?;

    // ACI per position, started from the validation residuals, updated with delay H.
    let mut aci = PositionalAdaptiveConformal::fit_residuals(
        AciParams::new(gamma).step_size(args.step_size),
        val.predictions.view(),
        val.truths.view(),
    )?;
    let m = test.predictions.nrows();
    let mut lower = Array2::zeros((m, HORIZON));
    let mut upper = Array2::zeros((m, HORIZON));
    for t in 0..m {
        if t >= HORIZON {
            // Window t − H ends where window t's inputs end: its truth is known now.
            let done = t - HORIZON;
            aci.update(test.predictions.row(done), test.truths.row(done))?;
        }
        let r = aci.radii();
        let p = test.predictions.row(t);
        lower.row_mut(t).assign(&(&p - &r));
        upper.row_mut(t).assign(&(&p + &r));
    }
    let aci_eval = evaluate_positions(lower.view(), upper.view(), test.truths.view())?;

    println!(
        "\n{name}: {} calibration windows, {m} test windows, M = {LOOKBACK}, H = {HORIZON}, \
         forecaster {:?}, γ = {gamma}",
        val.predictions.nrows(),
        args.forecaster
    );
    println!(
        "{:>4} | {:>6} {:>9} | {:>6} {:>9} | {:>6} {:>9} {:>5}",
        "h", "split", "width", "norm", "width", "ACI", "width", "inf"
    );
    let rows: Vec<usize> = [1, 2, 5, 10, 15, 20, 25, 30]
        .into_iter()
        .filter(|&h| h <= HORIZON)
        .collect();
    for h in rows {
        let (a, b, c) = (
            &split_eval.positions[h - 1],
            &norm_eval.positions[h - 1],
            &aci_eval.positions[h - 1],
        );
        println!(
            "{h:>4} | {:>6.3} {:>9.1} | {:>6.3} {:>9.1} | {:>6.3} {:>9.1} {:>5}",
            a.coverage,
            a.mean_width,
            b.coverage,
            b.mean_width,
            c.coverage,
            c.mean_finite_width,
            c.n_infinite
        );
    }
    let mean = |e: &PositionEvaluation| e.mean_width().mean().unwrap_or(f64::NAN);
    let aci_width = aci_eval
        .positions
        .iter()
        .map(|p| p.mean_finite_width)
        .sum::<f64>()
        / HORIZON as f64;
    println!(
        " all | {:>6.3} {:>9.1} | {:>6.3} {:>9.1} | {:>6.3} {:>9.1}",
        split_eval.average_coverage(),
        mean(&split_eval),
        norm_eval.average_coverage(),
        mean(&norm_eval),
        aci_eval.average_coverage(),
        aci_width
    );
    println!(
        "joint coverage (all {HORIZON} positions at once): split {:.3}, Bonferroni split {:.3} \
         (mean width {:.1}), norm {:.3}, ACI {:.3}",
        split_eval.joint_coverage,
        joint_eval.joint_coverage,
        mean(&joint_eval),
        norm_eval.joint_coverage,
        aci_eval.joint_coverage
    );
    Ok(())
}

/// AR weights per position on standardised returns (None for the naive forecaster).
struct Model {
    /// (lags + 1) × H: intercept first.
    weights: Option<Array2<f64>>,
    lags: usize,
}

fn returns(input: &[f64], lags: usize) -> Vec<f64> {
    // Last `lags` one-step differences of the standardised inputs (most recent last).
    let tail = &input[input.len() - lags - 1..];
    tail.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Ridge least squares on the training windows: y_h − x_last = b_h + w_h · Δx.
fn fit(ws: &WindowedSeries, args: &Args) -> Result<Model, Box<dyn std::error::Error>> {
    let lags = args.lags.clamp(1, LOOKBACK - 1);
    if let Forecaster::Naive = args.forecaster {
        return Ok(Model {
            weights: None,
            lags,
        });
    }
    let d = lags + 1;
    let mut xtx = Array2::<f64>::zeros((d, d));
    let mut xty = Array2::<f64>::zeros((d, HORIZON));
    for i in 0..ws.split().n_windows(Segment::Train) {
        let (x, y) = ws.scaled_window(Segment::Train, i)?;
        let mut features = vec![1.0];
        features.extend(returns(x, lags));
        let last = x[x.len() - 1];
        for a in 0..d {
            for b in 0..d {
                xtx[[a, b]] += features[a] * features[b];
            }
            for h in 0..HORIZON {
                xty[[a, h]] += features[a] * (y[h] - last);
            }
        }
    }
    for a in 1..d {
        xtx[[a, a]] += 1e-6 * xtx[[0, 0]]; // a whisper of ridge for conditioning
    }
    let weights = solve(xtx, xty).ok_or("singular normal equations")?;
    Ok(Model {
        weights: Some(weights),
        lags,
    })
}

/// Gaussian elimination with partial pivoting: A X = B for d × d A.
fn solve(mut a: Array2<f64>, mut b: Array2<f64>) -> Option<Array2<f64>> {
    let d = a.nrows();
    for col in 0..d {
        let pivot = (col..d).max_by(|&i, &j| a[[i, col]].abs().total_cmp(&a[[j, col]].abs()))?;
        if a[[pivot, col]].abs() < 1e-12 {
            return None;
        }
        for k in 0..d {
            a.swap([col, k], [pivot, k]);
        }
        for k in 0..b.ncols() {
            b.swap([col, k], [pivot, k]);
        }
        for row in 0..d {
            if row != col {
                let f = a[[row, col]] / a[[col, col]];
                if f != 0.0 {
                    for k in col..d {
                        a[[row, k]] -= f * a[[col, k]];
                    }
                    for k in 0..b.ncols() {
                        b[[row, k]] -= f * b[[col, k]];
                    }
                }
            }
        }
    }
    for row in 0..d {
        let p = a[[row, row]];
        b.row_mut(row).mapv_inplace(|v| v / p);
    }
    Some(b)
}

fn forecast(
    ws: &WindowedSeries,
    segment: Segment,
    model: &Model,
) -> Result<Forecasts, Box<dyn std::error::Error>> {
    let m = ws.split().n_windows(segment);
    let mut predictions = Array2::zeros((m, HORIZON));
    let mut truths = Array2::zeros((m, HORIZON));
    let mut scales = Array2::zeros((m, HORIZON));
    for i in 0..m {
        let (x, _) = ws.scaled_window(segment, i)?;
        let last = x[x.len() - 1];
        let scaled: Array1<f64> = match &model.weights {
            None => Array1::from_elem(HORIZON, last),
            Some(w) => {
                let mut features = vec![1.0];
                features.extend(returns(x, model.lags));
                let f = Array1::from(features);
                f.dot(w) + last
            }
        };
        predictions
            .row_mut(i)
            .assign(&scaled.mapv(|z| ws.scaler().inverse(z)));
        truths
            .row_mut(i)
            .assign(&Array1::from(ws.raw_target(segment, i)?.to_vec()));
        // σ̂ = last raw price × trailing 20-day volatility of log returns × √h.
        let window = ws.split().window(segment, i)?;
        let raw = &ws.raw().values()[window.input];
        let tail = &raw[raw.len() - 21..];
        let logret: Vec<f64> = tail.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
        let mean = logret.iter().sum::<f64>() / logret.len() as f64;
        let vol = (logret.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / logret.len() as f64)
            .sqrt()
            .max(1e-4);
        let p_last = raw[raw.len() - 1];
        scales.row_mut(i).assign(&Array1::from_iter(
            (1..=HORIZON).map(|h| p_last * vol * (h as f64).sqrt()),
        ));
    }
    Ok(Forecasts {
        predictions,
        truths,
        scales,
    })
}

fn load_columns(names: &[&str]) -> Result<Option<Vec<PriceSeries>>, Box<dyn std::error::Error>> {
    let Some(path) = fundalloc_examples::data::shared_data_file("stock_data.csv") else {
        return Ok(None);
    };
    let mut reader = csv::Reader::from_path(&path)?;
    let headers = reader.headers()?.clone();
    let indices: Vec<usize> = names
        .iter()
        .map(|n| {
            headers
                .iter()
                .position(|h| h == *n)
                .ok_or_else(|| format!("{}: no column {n:?}", path.display()))
        })
        .collect::<Result<_, _>>()?;
    let mut values = vec![Vec::new(); names.len()];
    for (line, record) in reader.records().enumerate() {
        let record = record?;
        for (k, &index) in indices.iter().enumerate() {
            let field = record.get(index).unwrap_or("");
            let v: f64 = field.parse().map_err(|_| {
                format!(
                    "{}:{}: {} = {field:?} is not a number",
                    path.display(),
                    line + 2,
                    names[k]
                )
            })?;
            values[k].push(v);
        }
    }
    let series = names
        .iter()
        .zip(values)
        .map(|(n, v)| PriceSeries::new(*n, v))
        .collect::<Result<_, _>>()?;
    Ok(Some(series))
}

/// 6000 days of a multiplicative random walk whose volatility triples at day 5200 (in test).
fn generated_series() -> Result<PriceSeries, Box<dyn std::error::Error>> {
    let mut state = 42u64;
    let mut price = 100.0;
    let values = (0..6000)
        .map(|t| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let vol = if t < 5200 { 0.02 } else { 0.06 };
            price *= 1.0 + vol * u;
            price
        })
        .collect();
    Ok(PriceSeries::new("generated", values)?)
}
