//! `fundalloc train`: logged exposures (CSV) → a saved revenue model (one JSON line).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use fundalloc_revenue_model::{
    EpochReport, FeatureSchema, LabelColumns, ModelKind, NoObserver, Observer, ParamGuard,
    RevenueModelError, Side, TrainParams, fit, load_csv, read_csv_levels,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::Failure;
use crate::input::err;

/// The model names `--model` accepts: every `ModelKind` that predicts an expected revenue
/// (DNN-C predicts conversion only, so `fundalloc predict` could not use it).
const MODELS: &[&str] = &[
    "ours",
    "esmm",
    "dnn-r",
    "shared-bottom",
    "mmoe",
    "ziln",
    "mtl-mse",
];

/// A categorical feature given as `NAME:CARDINALITY` (cells are the codes) or `NAME` (cells
/// are names; the levels are the training file's distinct values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CategoricalSpec {
    name: String,
    /// `None`: levels read from the data.
    cardinality: Option<u32>,
}

/// A numeric feature given as `NAME` or `NAME:log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NumericSpec {
    name: String,
    log1p: bool,
}

fn parse_categorical(s: &str) -> Result<CategoricalSpec, String> {
    let Some((name, card)) = s.rsplit_once(':') else {
        if s.is_empty() {
            return Err("empty feature name".into());
        }
        return Ok(CategoricalSpec {
            name: s.to_string(),
            cardinality: None,
        });
    };
    let cardinality = card
        .parse::<u32>()
        .ok()
        .filter(|&c| c >= 1)
        .ok_or_else(|| format!("`{s}`: cardinality `{card}` is not an integer >= 1"))?;
    if name.is_empty() {
        return Err(format!("`{s}`: empty feature name"));
    }
    Ok(CategoricalSpec {
        name: name.to_string(),
        cardinality: Some(cardinality),
    })
}

fn parse_numeric(s: &str) -> Result<NumericSpec, String> {
    let (name, log1p) = match s.rsplit_once(':') {
        Some((name, "log")) => (name, true),
        Some((_, other)) => {
            return Err(format!("`{s}`: expected NAME or NAME:log, not `:{other}`"));
        }
        None => (s, false),
    };
    if name.is_empty() {
        return Err(format!("`{s}`: empty feature name"));
    }
    Ok(NumericSpec {
        name: name.to_string(),
        log1p,
    })
}

#[derive(clap::Args, Debug)]
pub(crate) struct TrainArgs {
    /// Training CSV: one row per shown customer–fund pair, with the feature columns and the
    /// labels (other columns are ignored).
    #[arg(long)]
    data: PathBuf,
    /// Customer categorical feature: NAME when its cells are names (`retail`, `R3`: the levels
    /// are the data's distinct values), NAME:CARDINALITY when they are the codes
    /// 0..CARDINALITY-1; repeatable or comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = parse_categorical)]
    customer_categorical: Vec<CategoricalSpec>,
    /// Customer numeric feature as NAME, or NAME:log for ln(1 + x); repeatable or
    /// comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = parse_numeric)]
    customer_numeric: Vec<NumericSpec>,
    /// Fund categorical feature as NAME (names) or NAME:CARDINALITY (codes); repeatable or
    /// comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = parse_categorical)]
    fund_categorical: Vec<CategoricalSpec>,
    /// Fund numeric feature as NAME or NAME:log; repeatable or comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = parse_numeric)]
    fund_numeric: Vec<NumericSpec>,
    /// Conversion column (0/1 or true/false); empty: derived as revenue > 0.
    #[arg(long, default_value = "converted")]
    converted: String,
    /// Revenue column (0 when not converted).
    #[arg(long, default_value = "revenue")]
    revenue: String,
    /// Model (`ours`: the paper's entire-space log-normal model).
    #[arg(long, default_value = "ours", value_parser = clap::builder::PossibleValuesParser::new(MODELS))]
    model: String,
    /// Maximum number of epochs.
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    /// Early stopping: stop after this many epochs without a better validation loss.
    #[arg(long, default_value_t = 3)]
    patience: usize,
    /// Hidden layer sizes of each tower, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "64,32")]
    hidden: Vec<usize>,
    /// Embedding size of each categorical feature.
    #[arg(long, default_value_t = fundalloc_revenue_model::DEFAULT_EMBEDDING_DIM)]
    embedding_dim: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    /// Dropout probability after each hidden layer.
    #[arg(long, default_value_t = 0.1)]
    dropout: f64,
    /// Mini-batch size.
    #[arg(long, default_value_t = 512)]
    batch: usize,
    /// Seed of initialisation, shuffling, the validation split and dropout.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Fraction of the rows held out (seeded split) for early stopping.
    #[arg(long, default_value_t = 0.1)]
    valid_fraction: f64,
    /// Where to save the model.
    #[arg(long)]
    out: PathBuf,
    /// Show a progress bar on stderr.
    #[arg(long)]
    progress: bool,
}

impl TrainArgs {
    fn categorical(&self) -> impl Iterator<Item = (&CategoricalSpec, Side)> {
        let customer = self
            .customer_categorical
            .iter()
            .map(|c| (c, Side::Customer));
        customer.chain(self.fund_categorical.iter().map(|c| (c, Side::Fund)))
    }

    /// The schema, with the levels of name-valued categorical features read from `--data` (one
    /// pass over the file for all of them).
    fn schema(&self) -> Result<FeatureSchema, RevenueModelError> {
        let named: Vec<&str> = self
            .categorical()
            .filter(|(c, _)| c.cardinality.is_none())
            .map(|(c, _)| c.name.as_str())
            .collect();
        let mut levels: HashMap<&str, Vec<String>> = if named.is_empty() {
            HashMap::new()
        } else {
            named
                .iter()
                .copied()
                .zip(read_csv_levels(&self.data, &named)?)
                .collect()
        };
        let mut b = FeatureSchema::builder().embedding_dim(self.embedding_dim);
        for (c, side) in self.categorical() {
            b = match c.cardinality {
                Some(cardinality) => b.categorical(c.name.clone(), cardinality, side),
                None => b.categorical_levels(
                    c.name.clone(),
                    levels.remove(c.name.as_str()).unwrap_or_default(),
                    side,
                ),
            };
        }
        for (specs, side) in [
            (&self.customer_numeric, Side::Customer),
            (&self.fund_numeric, Side::Fund),
        ] {
            for n in specs {
                b = b.numeric(n.name.clone(), side, n.log1p);
            }
        }
        b.build()
    }

    fn params(&self) -> TrainParams {
        TrainParams::default()
            .max_epochs(self.epochs)
            .patience(self.patience)
            .hidden(self.hidden.clone())
            .learning_rate(self.lr)
            .dropout(self.dropout)
            .batch_size(self.batch)
            .seed(self.seed)
            .validation_fraction(self.valid_fraction)
    }
}

/// A progress bar over each epoch's batches, drawn on stderr.
struct Bar(ProgressBar);

impl Observer<EpochReport> for Bar {
    fn on_step(&mut self, epoch: usize, done: usize, total: usize) {
        self.0.set_length(total as u64);
        self.0.set_position(done as u64);
        self.0.set_prefix(format!("epoch {epoch:>3}"));
    }

    fn on_epoch(&mut self, r: &EpochReport) {
        let line = format!(
            "epoch {:>3}: train loss {:.5}, valid loss {:.5} (best epoch {}), {:.0} samples/s",
            r.epoch, r.train_loss, r.valid_loss, r.best_epoch, r.samples_per_second
        );
        // indicatif hides the bar when stderr is not a terminal; the epoch lines still go to a
        // redirected stderr (a log file).
        if self.0.is_hidden() {
            eprintln!("{line}");
        } else {
            self.0.println(line);
        }
    }
}

pub(crate) fn train(args: &TrainArgs) -> Result<serde_json::Value, Failure> {
    let start = Instant::now();
    // `MODELS` holds only names `ModelKind` parses (unit-tested), so this cannot fail on input
    // clap accepted; it still maps to a typed error rather than a panic.
    let kind: ModelKind = args.model.parse().map_err(Failure::model)?;
    let params = args.params().check().map_err(Failure::model)?;
    let labels = LabelColumns {
        converted: (!args.converted.is_empty()).then(|| args.converted.clone()),
        revenue: args.revenue.clone(),
    };
    // Fail before training, not after, when the model cannot be saved where asked.
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(Failure::Input(err(
            &args.out,
            None,
            format!("cannot write: directory {} does not exist", dir.display()),
        )));
    }
    let schema = args.schema().map_err(Failure::model)?;
    let data = load_csv(&args.data, &schema, &labels).map_err(Failure::model)?;
    let (model, report) = if args.progress {
        let style = ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} batches")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        let bar =
            ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr()).with_style(style);
        let mut observer = Bar(bar);
        let out = fit(kind, &params, &data, None, &mut observer);
        observer.0.finish_and_clear();
        out
    } else {
        fit(kind, &params, &data, None, &mut NoObserver)
    }
    .map_err(Failure::model)?;
    crate::atomic::write_atomically(&args.out, |w| w.write_all(&model.to_bytes()))
        .map_err(|e| Failure::Input(err(&args.out, None, format!("cannot write: {e}"))))?;
    let valid_rows = ((data.len() as f64) * args.valid_fraction).round() as usize;
    let names = |side: Side| -> Vec<&str> {
        let cat = schema.categorical().iter().filter(|c| c.side == side);
        let num = schema.numeric().iter().filter(|n| n.side == side);
        cat.map(|c| c.name.as_str())
            .chain(num.map(|n| n.name.as_str()))
            .collect()
    };
    Ok(serde_json::json!({
        "model": kind.name(),
        "rows": data.len(),
        "train_rows": data.len() - valid_rows,
        "valid_rows": valid_rows,
        "conversion_rate": data.conversion_rate(),
        "customer_features": names(Side::Customer),
        "fund_features": names(Side::Fund),
        // How many names each name-valued categorical feature has (the model file keeps them).
        "levels": schema
            .categorical()
            .iter()
            .filter(|c| !c.levels.is_empty())
            .map(|c| (c.name.clone(), serde_json::json!(c.levels.len())))
            .collect::<serde_json::Map<_, _>>(),
        "epochs": report.history.len(),
        "best_epoch": report.best_epoch,
        "best_valid_loss": report.best_valid_loss,
        "samples_per_second": report.samples_per_second(),
        "train_seconds": report.train_seconds,
        "seconds": start.elapsed().as_secs_f64(),
        "out": args.out.display().to_string(),
        "history": report.history.iter().map(|e| serde_json::json!({
            "epoch": e.epoch,
            "train_loss": e.train_loss,
            "valid_loss": e.valid_loss,
        })).collect::<Vec<_>>(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_are_exactly_the_revenue_models() {
        for name in MODELS {
            let kind: ModelKind = name.parse().unwrap();
            assert!(kind.predicts_revenue(), "{name}");
        }
        for kind in ModelKind::ALL {
            let listed = MODELS.iter().any(|n| n.eq_ignore_ascii_case(kind.name()));
            assert_eq!(listed, kind.predicts_revenue(), "{kind}");
        }
    }

    #[test]
    fn feature_specs_parse_and_reject() {
        assert_eq!(
            parse_categorical("fund_id:8").unwrap(),
            CategoricalSpec {
                name: "fund_id".into(),
                cardinality: Some(8)
            }
        );
        assert_eq!(
            parse_categorical("segment").unwrap(),
            CategoricalSpec {
                name: "segment".into(),
                cardinality: None
            }
        );
        // The last colon separates the cardinality, so names may contain colons.
        assert_eq!(parse_categorical("a:b:3").unwrap().name, "a:b");
        for bad in ["", "fund_id:0", "fund_id:-1", "fund_id:x", ":3", "a:b"] {
            assert!(parse_categorical(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_numeric("assets:log").unwrap(),
            NumericSpec {
                name: "assets".into(),
                log1p: true
            }
        );
        assert!(!parse_numeric("tenure").unwrap().log1p);
        for bad in ["assets:ln", ":log", ""] {
            assert!(parse_numeric(bad).is_err(), "{bad:?}");
        }
    }
}
