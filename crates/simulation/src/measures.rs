//! Risk and return measures of a return distribution: empirical (historical or simulated)
//! and parametric (normal).
//!
//! **Convention.** A `level` is a *confidence level* `c` in (0, 1) (0.95, 0.99); the tail
//! probability is `α = 1 − c`. VaR and CVaR are *losses*, positive when the distribution loses
//! money in its α-tail: with returns `R` and losses `L = −R`,
//! `VaR_c = inf{v : P(L > v) ≤ α}` and, after Rockafellar & Uryasev (2000),
//! `CVaR_c = min_v { v + E[(L − v)⁺]/α }`, the minimum being reached at `v = VaR_c`.
//!
//! **Empirical estimators** (riskfolio-lib's `VaR_Hist` / `CVaR_Hist`): with the returns sorted
//! ascending `r_(1) ≤ … ≤ r_(n)` and `k = ⌈α n⌉` (an `α n` within 1e-9 of an integer counts as
//! that integer, so a 95 % level on 100 returns uses exactly 5 whatever the rounding of
//! `1 − 0.95`), `VaR = −r_(k)` and `CVaR = VaR + (1/(α n)) Σ_{i ≤ k} (r_(k) − r_(i))`: the
//! Rockafellar–Uryasev objective at `v = VaR` on the empirical distribution.
//!
//! **Parametric (normal)**: with the sample mean `m` and standard deviation `s` (divisor
//! `n − 1`), `VaR = −m + s Φ⁻¹(c)` and `CVaR = −m + s φ(Φ⁻¹(c))/α`.
//!
//! **Monte Carlo standard errors** (i.i.d. paths, `n` of them): mean `s/√n` (with antithetic
//! pairs: the standard deviation of the pair means over `√(n/2)`); standard deviation
//! `√((m₄ − s⁴)/(4 s² n))` (delta method, `m₄` the fourth central moment); VaR
//! `√(α(1−α)/n)/f(q)` with the sparsity `1/f(q)` estimated as
//! `(Q(α+h) − Q(α−h))/(2h)` at the Hall–Sheather bandwidth `h`; CVaR
//! `√(Var[(L − VaR)⁺]/n)/α` (the variance of the Rockafellar–Uryasev estimator). See
//! docs/simulation.md.

use std::fmt;

use fundalloc_core_types::{Empty, NonFinite, check};

use crate::normal;
use crate::{Result, SimulationError};

/// A Monte Carlo (or statistical) estimate with its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Estimate {
    /// The estimate.
    pub value: f64,
    /// Its standard error (0 when exact).
    pub std_error: f64,
}

impl Estimate {
    /// An estimate and its standard error.
    pub fn new(value: f64, std_error: f64) -> Self {
        Self { value, std_error }
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = f.precision().unwrap_or(4);
        write!(f, "{:.p$} ± {:.p$}", self.value, self.std_error)
    }
}

/// VaR and CVaR at one confidence level, as positive losses (fractions of the invested value).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct TailRisk {
    /// The confidence level `c` (the tail holds `α = 1 − c`).
    pub level: f64,
    /// Value at risk.
    pub var: f64,
    /// Conditional value at risk (expected shortfall).
    pub cvar: f64,
}

/// The empirical VaR and CVaR of `returns` at confidence `level` (historical simulation; the
/// estimators of the [guide](https://github.com/fundalloc/fundalloc/blob/main/docs/simulation.md#measures), equal to riskfolio-lib's `VaR_Hist`/`CVaR_Hist`).
///
/// ```
/// use fundalloc_simulation::historical_tail;
/// let returns: Vec<f64> = (1..=100).map(|i| (i as f64 - 50.0) / 1000.0).collect();
/// let tail = historical_tail(&returns, 0.95)?;
/// assert_eq!(tail.var, 0.045); // the 5th worst return is −0.045
/// assert!((tail.cvar - 0.047).abs() < 1e-15); // the mean of the 5 worst
/// # Ok::<(), fundalloc_simulation::SimulationError>(())
/// ```
///
/// # Errors
/// `Empty`, `NonFinite`, and `InvalidParameter` when `level` is not in (0, 1).
pub fn historical_tail(returns: &[f64], level: f64) -> Result<TailRisk> {
    check::in_open_unit("level", level)?;
    let sorted = sorted_finite(returns)?;
    let (var, cvar) = empirical_tail(&sorted, level);
    Ok(TailRisk { level, var, cvar })
}

/// The normal (parametric, "variance–covariance") VaR and CVaR of `returns` at confidence
/// `level`, from their sample mean and standard deviation (divisor `n − 1`).
///
/// # Errors
/// `Empty` with fewer than 2 returns, `NonFinite`, and `InvalidParameter` when `level` is not
/// in (0, 1).
pub fn parametric_normal_tail(returns: &[f64], level: f64) -> Result<TailRisk> {
    check::in_open_unit("level", level)?;
    if returns.len() < 2 {
        return Err(Empty::new("returns (at least 2 are needed)").into());
    }
    NonFinite::check("returns", returns)?;
    let n = returns.len() as f64;
    let m = returns.iter().sum::<f64>() / n;
    let s = (returns.iter().map(|r| (r - m) * (r - m)).sum::<f64>() / (n - 1.0)).sqrt();
    let z = normal::quantile(level);
    Ok(TailRisk {
        level,
        var: -m + s * z,
        cvar: -m + s * normal::pdf(z) / (1.0 - level),
    })
}

/// Sorted copy of finite values.
fn sorted_finite(values: &[f64]) -> Result<Vec<f64>> {
    if values.is_empty() {
        return Err(Empty::new("returns").into());
    }
    NonFinite::check("returns", values)?;
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    Ok(sorted)
}

/// `k = ⌈α n⌉` (at least 1), with `α n` within 1e-9 of an integer rounded to it.
fn tail_count(n: usize, level: f64) -> usize {
    let x = (1.0 - level) * n as f64;
    let r = x.round();
    let k = if (x - r).abs() <= 1e-9 * r.max(1.0) {
        r
    } else {
        x.ceil()
    };
    (k as usize).clamp(1, n)
}

/// `(VaR, CVaR)` of ascending-sorted returns.
pub(crate) fn empirical_tail(sorted: &[f64], level: f64) -> (f64, f64) {
    let n = sorted.len();
    let k = tail_count(n, level);
    let q = sorted[k - 1];
    let excess: f64 = sorted[..k].iter().map(|r| q - r).sum();
    (-q, -q + excess / ((1.0 - level) * n as f64))
}

/// The linear-interpolation percentile (NumPy's default) of ascending-sorted values.
pub(crate) fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let h = (n - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Monte Carlo standard errors of VaR and CVaR from ascending-sorted simulated returns.
pub(crate) fn tail_std_errors(sorted: &[f64], level: f64, var: f64) -> (f64, f64) {
    let n = sorted.len() as f64;
    let alpha = 1.0 - level;
    // Hall–Sheather bandwidth for the sparsity 1/f(q) (Koenker, Quantile Regression, 2005).
    let z = normal::quantile(alpha);
    let z_ci = normal::quantile(0.975);
    let phi = normal::pdf(z);
    let h = n.powf(-1.0 / 3.0)
        * z_ci.powf(2.0 / 3.0)
        * (1.5 * phi * phi / (2.0 * z * z + 1.0)).powf(1.0 / 3.0);
    let lo = (alpha - h).max(0.0);
    let hi = (alpha + h).min(1.0);
    let sparsity = if hi > lo {
        (percentile_sorted(sorted, hi) - percentile_sorted(sorted, lo)) / (hi - lo)
    } else {
        0.0
    };
    let se_var = sparsity * (alpha * (1.0 - alpha) / n).sqrt();
    // CVaR: Var[(L − VaR)⁺] over all paths; L = −r.
    let excess = |r: &f64| (-r - var).max(0.0);
    let mean = sorted.iter().map(excess).sum::<f64>() / n;
    let var_excess = sorted
        .iter()
        .map(|r| (excess(r) - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0).max(1.0);
    let se_cvar = (var_excess / n).sqrt() / alpha;
    (se_var, se_cvar)
}

/// Checks a confidence level.
pub(crate) fn check_level(level: f64) -> Result<f64, SimulationError> {
    Ok(check::in_open_unit("level", level)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_count_ignores_rounding_noise() {
        assert_eq!(tail_count(100, 0.95), 5);
        assert_eq!(tail_count(101, 0.95), 6);
        assert_eq!(tail_count(10, 0.99), 1);
        assert_eq!(tail_count(1000, 0.99), 10);
    }

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let s = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(percentile_sorted(&s, 0.5), 3.0);
        assert_eq!(percentile_sorted(&s, 0.0), 1.0);
        assert_eq!(percentile_sorted(&s, 1.0), 8.0);
        approx::assert_relative_eq!(percentile_sorted(&s, 0.9), 6.8, epsilon = 1e-12);
    }

    #[test]
    fn bad_input_is_typed() {
        assert!(matches!(
            historical_tail(&[], 0.95),
            Err(SimulationError::Empty(_))
        ));
        assert!(matches!(
            historical_tail(&[0.1, f64::NAN], 0.95),
            Err(SimulationError::NonFinite(_))
        ));
        for bad in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
            assert!(matches!(
                historical_tail(&[0.1, 0.2], bad),
                Err(SimulationError::InvalidParameter(_))
            ));
            assert!(matches!(
                parametric_normal_tail(&[0.1, 0.2], bad),
                Err(SimulationError::InvalidParameter(_))
            ));
        }
        assert!(matches!(
            parametric_normal_tail(&[0.1], 0.95),
            Err(SimulationError::Empty(_))
        ));
    }
}
