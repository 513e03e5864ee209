//! Portfolios of products, their summaries, and side-by-side comparisons.
//!
//! A portfolio is **buy and hold**: weight `w_i` of the initial value goes into asset `i`
//! and is never rebalanced, so the horizon return is `R = Σ_i w_i S_i(T)/S_i(0) − 1`.
//! Portfolios are **long-only** (`w_i ≥ 0`, `Σ w_i = 1` within [`WEIGHT_TOLERANCE`]): the
//! products SMARTFASI recommends are bought by retail customers under MiFID, who do not short.

use std::fmt;

use fundalloc_core_types::{
    CancelToken, InvalidParameter, NonFinite, Observer, ParamGuard, ShapeMismatch,
};

use crate::engine::simulate_round;
use crate::{Estimate, PathModel, Result, Simulation, SimulationError, SimulationValidParams};

/// How far from 1 the weights of a portfolio may sum.
pub const WEIGHT_TOLERANCE: f64 = 1e-9;

/// Long-only weights over a model's assets, summing to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Portfolio {
    weights: Vec<f64>,
}

impl Portfolio {
    /// A portfolio with these weights (one per asset of the model it is simulated on).
    ///
    /// # Errors
    /// `Empty` without weights, `NonFinite`, [`SimulationError::NegativeWeight`], and
    /// [`SimulationError::WeightsDoNotSumToOne`] when `|Σ w − 1| > 1e-9`.
    pub fn new(weights: Vec<f64>) -> Result<Self> {
        if weights.is_empty() {
            return Err(fundalloc_core_types::Empty::new("weights").into());
        }
        NonFinite::check("weights", &weights)?;
        if let Some(i) = weights.iter().position(|&w| w < 0.0) {
            return Err(SimulationError::NegativeWeight {
                index: i,
                value: weights[i],
            });
        }
        let sum: f64 = weights.iter().sum();
        if (sum - 1.0).abs() > WEIGHT_TOLERANCE {
            return Err(SimulationError::WeightsDoNotSumToOne { sum });
        }
        Ok(Self { weights })
    }

    /// All the value in asset `asset` of `n_assets`.
    ///
    /// # Errors
    /// `InvalidParameter` when `asset >= n_assets`.
    pub fn single(n_assets: usize, asset: usize) -> Result<Self> {
        if asset >= n_assets {
            return Err(InvalidParameter::new("asset", asset, "must be below n_assets").into());
        }
        let mut weights = vec![0.0; n_assets];
        weights[asset] = 1.0;
        Ok(Self { weights })
    }

    /// Equal weights `1/n` over `n_assets`.
    ///
    /// # Errors
    /// `InvalidParameter` when `n_assets` is 0.
    pub fn equal(n_assets: usize) -> Result<Self> {
        fundalloc_core_types::check::at_least("n_assets", n_assets, 1)?;
        Ok(Self {
            weights: vec![1.0 / n_assets as f64; n_assets],
        })
    }

    /// The weights.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
}

/// VaR and CVaR at one confidence level with their MC standard errors (positive losses).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct TailEstimate {
    /// The confidence level `c` (tail probability `1 − c`).
    pub level: f64,
    /// Value at risk.
    pub var: Estimate,
    /// Conditional value at risk (expected shortfall).
    pub cvar: Estimate,
}

/// The measures of one simulated horizon-return distribution.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Summary {
    /// Paths simulated.
    pub n_paths: usize,
    /// The horizon in years.
    pub horizon_years: f64,
    /// The expected yield `E[R]`.
    pub expected_return: Estimate,
    /// The standard deviation of `R`.
    pub volatility: Estimate,
    /// VaR and CVaR at each asked level, in order.
    pub tails: Vec<TailEstimate>,
}

/// Several options' summaries side by side; its `Display` is a Markdown table (percentages
/// of the invested value, `±` one MC standard error).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Comparison {
    /// `(name, summary)` per option, in order; every summary has the same levels.
    pub rows: Vec<(String, Summary)>,
}

impl Comparison {
    /// A comparison of named summaries.
    ///
    /// # Errors
    /// `Empty` without rows, `ShapeMismatch` when the rows' tail levels differ.
    pub fn new(rows: Vec<(String, Summary)>) -> Result<Self> {
        let first = rows
            .first()
            .ok_or(fundalloc_core_types::Empty::new("comparison rows"))?;
        let levels: Vec<f64> = first.1.tails.iter().map(|t| t.level).collect();
        for (_, s) in &rows {
            let l: Vec<f64> = s.tails.iter().map(|t| t.level).collect();
            if l != levels {
                return Err(ShapeMismatch::new(
                    "comparison levels",
                    format_args!("{levels:?}"),
                    format_args!("{l:?}"),
                )
                .into());
            }
        }
        Ok(Self { rows })
    }

    /// The row of option `name`.
    pub fn get(&self, name: &str) -> Option<&Summary> {
        self.rows.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = |e: Estimate| format!("{:.2}% ± {:.2}", 100.0 * e.value, 100.0 * e.std_error);
        let levels: Vec<f64> = self
            .rows
            .first()
            .map(|(_, s)| s.tails.iter().map(|t| t.level).collect())
            .unwrap_or_default();
        let mut header = vec![
            "option".to_owned(),
            "E[return]".to_owned(),
            "volatility".to_owned(),
        ];
        for l in &levels {
            let l = 100.0 * l;
            header.push(format!("VaR {l}%"));
            header.push(format!("CVaR {l}%"));
        }
        let mut table = vec![header];
        for (name, s) in &self.rows {
            let mut row = vec![name.clone(), pct(s.expected_return), pct(s.volatility)];
            for t in &s.tails {
                row.push(pct(t.var));
                row.push(pct(t.cvar));
            }
            table.push(row);
        }
        let widths: Vec<usize> = (0..table[0].len())
            .map(|c| {
                table
                    .iter()
                    .map(|r| r[c].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for (i, row) in table.iter().enumerate() {
            write!(f, "|")?;
            for (c, cell) in row.iter().enumerate() {
                if c == 0 {
                    write!(f, " {cell:<w$} |", w = widths[c])?;
                } else {
                    write!(f, " {cell:>w$} |", w = widths[c])?;
                }
            }
            writeln!(f)?;
            if i == 0 {
                write!(f, "|")?;
                for (c, w) in widths.iter().enumerate() {
                    let dash = "-".repeat(*w);
                    if c == 0 {
                        write!(f, "-{dash}-|")?;
                    } else {
                        write!(f, "-{dash}:|")?;
                    }
                }
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

/// Simulates each named portfolio on the same model with the same parameters and seed
/// (common random numbers: the options see the same market paths, so their differences are
/// estimated more precisely than their levels) and tabulates their summaries at `levels`.
///
/// The observer's rounds are the options (from 1), its steps the chunks of each.
///
/// # Errors
/// As [`simulate`](crate::simulate) and [`Simulation::summary`]; `Empty` without options.
pub fn compare<M: PathModel + ?Sized>(
    model: &M,
    options: &[(&str, &Portfolio)],
    params: impl ParamGuard<Checked = SimulationValidParams, Error = SimulationError>,
    levels: &[f64],
    token: &CancelToken,
    observer: &mut impl Observer<Simulation>,
) -> Result<Comparison> {
    let params = params.check()?;
    if options.is_empty() {
        return Err(fundalloc_core_types::Empty::new("options").into());
    }
    let rows = options
        .iter()
        .enumerate()
        .map(|(i, (name, p))| {
            let sim = simulate_round(model, p, params.clone(), token, observer, i + 1)?;
            Ok(((*name).to_owned(), sim.summary(levels)?))
        })
        .collect::<Result<_>>()?;
    Comparison::new(rows)
}
