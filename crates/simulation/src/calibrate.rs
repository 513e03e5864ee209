//! Calibration of geometric Brownian motion to price histories (maximum likelihood).
//!
//! With prices `P_0 … P_n` sampled every `Δ = 1/periods_per_year` years, the log returns
//! `r_t = ln(P_t / P_{t−1})` of a GBM `dS/S = μ dt + σ dW` are i.i.d. `N((μ − σ²/2)Δ, σ²Δ)`.
//! Their maximum-likelihood estimates are the sample mean `m̂ = (1/n) Σ r_t` and the
//! population standard deviation `ŝ = √((1/n) Σ (r_t − m̂)²)`; by invariance
//! `σ̂ = ŝ/√Δ` and `μ̂ = m̂/Δ + σ̂²/2`. Standard errors come from the Fisher information
//! (`m̂` and `ŝ` are asymptotically independent): `se(m̂) = ŝ/√n`, `se(ŝ) = ŝ/√(2n)`, so
//! `se(σ̂) = ŝ/√(2nΔ)` and, by the delta method,
//! `se(μ̂) = √(ŝ²/(nΔ²) + ŝ⁴/(2nΔ²))`. See [docs/simulation.md](https://github.com/fundalloc/fundalloc/blob/main/docs/simulation.md#calibration).
//!
//! Several assets are calibrated on returns of the same dates; their correlation matrix is the
//! Pearson correlation of the log returns, checked positive definite by a Cholesky
//! factorisation ([`SimulationError::NotPositiveDefinite`] otherwise).

use fundalloc_core_types::{Empty, NonFinite, Position, PriceSeries, ShapeMismatch, check};
use ndarray::Array2;

use crate::{CorrelatedGbm, Estimate, Gbm, Result, SimulationError};

/// The log returns `ln(P_t / P_{t−1})` of a price series.
///
/// # Errors
/// [`SimulationError::TooFewPrices`] with fewer than 2 prices,
/// [`SimulationError::NonPositivePrice`] for a price `<= 0` (a `PriceSeries` is already
/// finite).
pub fn log_returns(series: &PriceSeries) -> Result<Vec<f64>> {
    let prices = series.values();
    if prices.len() < 2 {
        return Err(SimulationError::TooFewPrices {
            series: series.name().to_owned(),
            len: prices.len(),
        });
    }
    if let Some(i) = prices.iter().position(|&p| p <= 0.0 || p.is_nan()) {
        return Err(SimulationError::NonPositivePrice {
            series: series.name().to_owned(),
            at: Position::Index(i),
            value: prices[i],
        });
    }
    Ok(prices.windows(2).map(|w| (w[1] / w[0]).ln()).collect())
}

/// A GBM fitted to one price series; see the [guide](https://github.com/fundalloc/fundalloc/blob/main/docs/simulation.md#calibration) for the formulas.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GbmFit {
    /// The series' name.
    pub name: String,
    /// Number of log returns `n`.
    pub n_returns: usize,
    /// Periods (rows of the series) per year, `1/Δ`.
    pub periods_per_year: f64,
    /// Mean log return per period, `m̂`, with its standard error.
    pub mean_log_return: Estimate,
    /// Population standard deviation of the log returns per period, `ŝ`, with its standard
    /// error.
    pub std_log_return: Estimate,
    /// The annual drift `μ̂ = m̂/Δ + σ̂²/2`, with its standard error.
    pub drift: Estimate,
    /// The annual volatility `σ̂ = ŝ/√Δ`, with its standard error.
    pub volatility: Estimate,
}

impl GbmFit {
    /// The fitted model.
    pub fn model(&self) -> Gbm {
        Gbm::from_checked(self.drift.value, self.volatility.value)
    }
}

/// Fits a GBM to a price series by maximum likelihood.
///
/// ```
/// use fundalloc_core_types::PriceSeries;
/// use fundalloc_simulation::calibrate;
/// let prices = PriceSeries::new("fund", vec![100.0, 101.0, 100.5, 102.0, 103.0])?;
/// let fit = calibrate(&prices, 252.0)?;
/// assert!(fit.volatility.value > 0.0 && fit.drift.std_error > 0.0);
/// # Ok::<(), fundalloc_simulation::SimulationError>(())
/// ```
///
/// # Errors
/// As [`log_returns`]; `InvalidParameter` when `periods_per_year` is not finite and `> 0`.
pub fn calibrate(series: &PriceSeries, periods_per_year: f64) -> Result<GbmFit> {
    check::positive("periods_per_year", periods_per_year)?;
    let r = log_returns(series)?;
    Ok(fit_returns(series.name(), &r, periods_per_year))
}

fn fit_returns(name: &str, r: &[f64], periods_per_year: f64) -> GbmFit {
    let n = r.len() as f64;
    let m = r.iter().sum::<f64>() / n;
    let s2 = r.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    let s = s2.sqrt();
    let ppy = periods_per_year;
    let sigma = s * ppy.sqrt();
    GbmFit {
        name: name.to_owned(),
        n_returns: r.len(),
        periods_per_year,
        mean_log_return: Estimate::new(m, s / n.sqrt()),
        std_log_return: Estimate::new(s, s / (2.0 * n).sqrt()),
        drift: Estimate::new(
            m * ppy + 0.5 * sigma * sigma,
            (s2 * ppy * ppy / n + s2 * s2 * ppy * ppy / (2.0 * n)).sqrt(),
        ),
        volatility: Estimate::new(sigma, s * ppy.sqrt() / (2.0 * n).sqrt()),
    }
}

/// GBMs fitted jointly to several price series of the same dates, with the correlation of
/// their log returns.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CorrelatedGbmFit {
    /// One fit per series, in input order.
    pub assets: Vec<GbmFit>,
    /// The Pearson correlation matrix of the log returns (positive definite).
    pub correlation: Array2<f64>,
}

impl CorrelatedGbmFit {
    /// The fitted model.
    ///
    /// # Errors
    /// None in practice (the correlation was checked when fitting); the model constructor's
    /// errors are passed on.
    pub fn model(&self) -> Result<CorrelatedGbm> {
        CorrelatedGbm::new(
            self.assets.iter().map(GbmFit::model).collect(),
            self.correlation.clone(),
        )
    }
}

/// Fits correlated GBMs to several price series sampled on the same dates.
///
/// # Errors
/// `Empty` with no series, `ShapeMismatch` when the series differ in length, the errors of
/// [`log_returns`], [`SimulationError::ZeroVariance`] for a constant series and
/// [`SimulationError::NotPositiveDefinite`] when the correlation matrix is singular (two
/// series move as one, or fewer returns than assets).
pub fn calibrate_assets(series: &[PriceSeries], periods_per_year: f64) -> Result<CorrelatedGbmFit> {
    check::positive("periods_per_year", periods_per_year)?;
    let first = series.first().ok_or(Empty::new("price series"))?;
    let returns: Vec<Vec<f64>> = series
        .iter()
        .map(|s| {
            ShapeMismatch::check_len("price series length", first.len(), s.len())?;
            log_returns(s)
        })
        .collect::<Result<_>>()?;
    let assets: Vec<GbmFit> = series
        .iter()
        .zip(&returns)
        .map(|(s, r)| fit_returns(s.name(), r, periods_per_year))
        .collect();
    for a in &assets {
        if a.std_log_return.value.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return Err(SimulationError::ZeroVariance {
                what: a.name.clone(),
            });
        }
    }
    let correlation = correlation(&returns, &assets);
    cholesky(&correlation)?;
    Ok(CorrelatedGbmFit {
        assets,
        correlation,
    })
}

fn correlation(returns: &[Vec<f64>], fits: &[GbmFit]) -> Array2<f64> {
    let d = returns.len();
    let n = returns.first().map_or(0, Vec::len) as f64;
    let mut c = Array2::eye(d);
    for i in 0..d {
        for j in 0..i {
            let (mi, mj) = (fits[i].mean_log_return.value, fits[j].mean_log_return.value);
            let cov = returns[i]
                .iter()
                .zip(&returns[j])
                .map(|(a, b)| (a - mi) * (b - mj))
                .sum::<f64>()
                / n;
            let rho = (cov / (fits[i].std_log_return.value * fits[j].std_log_return.value))
                .clamp(-1.0, 1.0);
            c[[i, j]] = rho;
            c[[j, i]] = rho;
        }
    }
    c
}

/// The lower-triangular Cholesky factor `L` (`A = L Lᵀ`), row-major, of a symmetric matrix.
///
/// # Errors
/// [`SimulationError::NotPositiveDefinite`] at the first pivot `<= 1e-12` (relative to the
/// diagonal), `NonFinite` for a NaN or infinite entry.
pub(crate) fn cholesky(a: &Array2<f64>) -> Result<Vec<f64>> {
    let d = a.nrows();
    for ((r, c), &v) in a.indexed_iter() {
        if !v.is_finite() {
            return Err(NonFinite::at_cell("correlation", r, c, v).into());
        }
    }
    let mut l = vec![0.0; d * d];
    for j in 0..d {
        let mut pivot = a[[j, j]];
        for k in 0..j {
            pivot -= l[j * d + k] * l[j * d + k];
        }
        let floor = 1e-12 * a[[j, j]].abs().max(f64::MIN_POSITIVE);
        if pivot.partial_cmp(&floor) != Some(std::cmp::Ordering::Greater) {
            return Err(SimulationError::NotPositiveDefinite { column: j, pivot });
        }
        let ljj = pivot.sqrt();
        l[j * d + j] = ljj;
        for i in j + 1..d {
            let mut v = a[[i, j]];
            for k in 0..j {
                v -= l[i * d + k] * l[j * d + k];
            }
            l[i * d + j] = v / ljj;
        }
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn cholesky_reconstructs_and_rejects_singular_matrices() {
        let a = array![[4.0, 2.0, 0.4], [2.0, 5.0, 1.0], [0.4, 1.0, 3.0]];
        let l = cholesky(&a).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| l[i * 3 + k] * l[j * 3 + k]).sum();
                approx::assert_relative_eq!(v, a[[i, j]], epsilon = 1e-12);
            }
        }
        let singular = array![[1.0, 1.0], [1.0, 1.0]];
        assert!(matches!(
            cholesky(&singular),
            Err(SimulationError::NotPositiveDefinite { column: 1, .. })
        ));
    }

    #[test]
    fn mle_matches_hand_computation() {
        let prices = PriceSeries::new("p", vec![100.0, 110.0, 99.0, 105.0]).unwrap();
        let fit = calibrate(&prices, 1.0).unwrap();
        let r = [1.1f64.ln(), (99.0f64 / 110.0).ln(), (105.0f64 / 99.0).ln()];
        let m = r.iter().sum::<f64>() / 3.0;
        let s2 = r.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / 3.0;
        approx::assert_relative_eq!(fit.mean_log_return.value, m, epsilon = 1e-15);
        approx::assert_relative_eq!(fit.volatility.value, s2.sqrt(), epsilon = 1e-15);
        approx::assert_relative_eq!(fit.drift.value, m + s2 / 2.0, epsilon = 1e-15);
        approx::assert_relative_eq!(fit.mean_log_return.std_error, (s2 / 3.0).sqrt());
    }
}
