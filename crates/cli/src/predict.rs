//! `fundalloc predict`: saved model + customers + funds → revenue matrix `.npy` (one JSON line).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use fundalloc_revenue_model::{RevenueModel, RevenueModelError, Side};

use crate::Failure;
use crate::features::read_feature_table;
use crate::input::err;
use crate::npy;

#[derive(clap::Args, Debug)]
pub(crate) struct PredictArgs {
    /// Model saved by `fundalloc train` (its schema says which columns to read).
    #[arg(long)]
    model: PathBuf,
    /// Customers CSV: the model's customer feature columns (other columns are ignored, so the
    /// file `fundalloc allocate --customers` reads can carry them).
    #[arg(long)]
    customers: PathBuf,
    /// Funds CSV: the model's fund feature columns (other columns are ignored).
    #[arg(long)]
    funds: PathBuf,
    /// Where to write the expected-revenue matrix: `.npy`, `<f4`, C order, customers × funds,
    /// rows in customers-file order, columns in funds-file order.
    #[arg(long)]
    out: PathBuf,
}

pub(crate) fn predict(args: &PredictArgs) -> Result<serde_json::Value, Failure> {
    let start = Instant::now();
    let is_npy = args
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    if !is_npy {
        return Err(Failure::Input(err(
            &args.out,
            None,
            "--out must be a .npy file (what `fundalloc allocate --revenue` reads)",
        )));
    }
    let model = RevenueModel::load(&args.model).map_err(|error| Failure::Model {
        // An I/O error names the file already; a corrupt file's does not.
        file: (!matches!(error, RevenueModelError::Io { .. })).then(|| args.model.clone()),
        error,
    })?;
    let schema = model.schema();
    let customers =
        read_feature_table(&args.customers, schema, Side::Customer).map_err(Failure::Input)?;
    let funds = read_feature_table(&args.funds, schema, Side::Fund).map_err(Failure::Input)?;
    let matrix = model
        .predict_matrix(&customers, &funds)
        .map_err(Failure::model)?;
    let (rows, cols) = (matrix.n_customers(), matrix.n_funds());
    let values = matrix.as_slice();
    let write_err =
        |e: std::io::Error| Failure::Input(err(&args.out, None, format!("cannot write: {e}")));
    let file = std::fs::File::create(&args.out).map_err(write_err)?;
    let mut w = std::io::BufWriter::new(file);
    npy::write_f32(&mut w, rows, cols, values).map_err(write_err)?;
    w.flush().map_err(write_err)?;
    let (min, max) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len() as f64;
    Ok(serde_json::json!({
        "model": model.kind().name(),
        "customers": rows,
        "funds": cols,
        "out": args.out.display().to_string(),
        "min": min,
        "mean": mean,
        "max": max,
        "seconds": start.elapsed().as_secs_f64(),
    }))
}
