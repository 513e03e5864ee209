//! `fundalloc predict`: saved model + customers + funds → revenue matrix `.npy`, and optionally
//! the conversion-probability matrix (one JSON line).

use std::path::{Path, PathBuf};
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
    /// Also write the conversion probabilities P(convert) of every pair, laid out like `--out`
    /// (`.npy`): the score PTOFA's manual baseline ranks by (models with a conversion head).
    #[arg(long)]
    conversion_out: Option<PathBuf>,
}

/// Refuses an output path that is not a `.npy` file.
fn check_npy(path: &Path, flag: &str) -> Result<(), Failure> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
    {
        return Ok(());
    }
    Err(Failure::Input(err(
        path,
        None,
        format!("{flag} must be a .npy file (what `fundalloc allocate --revenue` reads)"),
    )))
}

/// Writes `values` (`rows × cols`, C order) as a `<f4` `.npy` file.
fn write_npy(path: &Path, rows: usize, cols: usize, values: &[f32]) -> Result<(), Failure> {
    let write_err =
        |e: std::io::Error| Failure::Input(err(path, None, format!("cannot write: {e}")));
    crate::atomic::write_atomically(path, |w| npy::write_f32(w, rows, cols, values))
        .map_err(write_err)
}

pub(crate) fn predict(args: &PredictArgs) -> Result<serde_json::Value, Failure> {
    let start = Instant::now();
    check_npy(&args.out, "--out")?;
    if let Some(path) = &args.conversion_out {
        check_npy(path, "--conversion-out")?;
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
    // Both matrices before either file, so an unsupported request writes nothing.
    let conversion = args
        .conversion_out
        .as_ref()
        .map(|path| {
            let p = model
                .predict_conversion_matrix(&customers, &funds)
                .map_err(Failure::model)?;
            Ok::<_, Failure>((path, p))
        })
        .transpose()?;
    let (rows, cols) = (matrix.n_customers(), matrix.n_funds());
    let values = matrix.as_slice();
    write_npy(&args.out, rows, cols, values)?;
    if let Some((path, p)) = &conversion {
        write_npy(path, rows, cols, p.as_slice())?;
    }
    let (min, max) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len() as f64;
    let conversion = conversion.map(|(path, p)| {
        let p = p.as_slice();
        serde_json::json!({
            "out": path.display().to_string(),
            "mean": p.iter().map(|&v| f64::from(v)).sum::<f64>() / p.len() as f64,
        })
    });
    Ok(serde_json::json!({
        "model": model.kind().name(),
        "customers": rows,
        "funds": cols,
        "out": args.out.display().to_string(),
        "min": min,
        "mean": mean,
        "max": max,
        "conversion": conversion,
        "seconds": start.elapsed().as_secs_f64(),
    }))
}
