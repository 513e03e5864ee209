//! Quick start: window a real price series the way RTS-PnO does and report the split.
//!
//! `cargo run --release -p fundalloc-examples --example quickstart [-- --column djia]`
//!
//! Reads `../shared/data/stock_data.csv` (or `$FUNDALLOC_DATA/stock_data.csv`); without it, a
//! generated random walk is used so the example always runs.

use clap::Parser;
use fundalloc_core_types::prelude::*;

#[derive(Parser)]
#[command(about = "Window a price series the RTS-PnO way and print the split")]
struct Args {
    /// Price column of stock_data.csv.
    #[arg(long, default_value = "sp500")]
    column: String,
    /// Lookback M.
    #[arg(long, default_value_t = 150)]
    lookback: usize,
    /// Horizon H.
    #[arg(long, default_value_t = 30)]
    horizon: usize,
}

fn load(column: &str) -> Result<PriceSeries, Box<dyn std::error::Error>> {
    if let Some(path) = fundalloc_examples::data::shared_data_file("stock_data.csv") {
        let mut reader = csv::Reader::from_path(&path)?;
        let index = reader
            .headers()?
            .iter()
            .position(|h| h == column)
            .ok_or_else(|| format!("{}: no column {column:?}", path.display()))?;
        let mut values = Vec::new();
        for (line, record) in reader.records().enumerate() {
            let record = record?;
            let field = record.get(index).unwrap_or("");
            let value: f64 = field.parse().map_err(|_| {
                format!(
                    "{}:{}: {column} = {field:?} is not a number",
                    path.display(),
                    line + 2
                )
            })?;
            values.push(value);
        }
        return Ok(PriceSeries::new(column, values)?);
    }
    // Deterministic fallback: a multiplicative random walk from a fixed LCG.
    let mut state = 42u64;
    let mut price = 100.0;
    let values = (0..3000)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            price *= 1.0 + 0.02 * u;
            price
        })
        .collect();
    Ok(PriceSeries::new("random-walk", values)?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let series = load(&args.column)?;
    let windowed = WindowedSeries::new(series, WindowSpec::new(args.lookback, args.horizon)?)?;
    let split = windowed.split();
    println!(
        "series {:?}: {} rows, lookback M = {}, horizon H = {}",
        windowed.raw().name(),
        split.n_rows(),
        args.lookback,
        args.horizon
    );
    println!(
        "scaler (train rows only): mean {:.3}, population std {:.3}",
        windowed.scaler().mean(),
        windowed.scaler().std()
    );
    println!(
        "{:<11} {:>15} {:>15} {:>9}",
        "segment", "own rows", "rows read", "windows"
    );
    for segment in [Segment::Train, Segment::Validation, Segment::Test] {
        let own = split.own_rows(segment);
        let read = split.rows(segment);
        println!(
            "{:<11} {:>15} {:>15} {:>9}",
            segment.name(),
            format!("{}..{}", own.start, own.end),
            format!("{}..{}", read.start, read.end),
            split.n_windows(segment)
        );
    }
    Ok(())
}
