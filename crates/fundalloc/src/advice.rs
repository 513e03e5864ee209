//! The advisor's recommendation enriched with simulated yield and tail risk (SMARTFASI pairs
//! its case-based recommender with a Monte Carlo engine, §1 and §4 of the paper).
//!
//! Features `simulation` and `cbr-advisor`. The TCP protocol is unchanged: its answers keep
//! the paper's `asset; F, AP, ADC, ADP` lines; this is a library call for programs that hold
//! the recommendation and a price history per product.

use std::collections::HashMap;

use fundalloc_cbr_advisor::Recommendation;
use fundalloc_core_types::{CancelToken, FundId, NoObserver, ParamGuard, PriceSeries};
use fundalloc_simulation::{
    Estimate, GbmFit, Portfolio, SimulationError, SimulationValidParams, calibrate, simulate,
};

use crate::Result;

/// The confidence level of [`SimulatedRisk::cvar95`].
pub const CVAR_LEVEL: f64 = 0.95;

/// The simulated horizon figures of one product.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SimulatedRisk {
    /// The GBM fitted to the product's price history.
    pub fit: GbmFit,
    /// Expected yield `E[R]` over the horizon, with its MC standard error.
    pub expected_return: Estimate,
    /// CVaR at 95 % (a positive loss), with its MC standard error.
    pub cvar95: Estimate,
}

/// One recommended product, in the recommendation's order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SimulatedAsset {
    /// The product's code.
    pub product: FundId,
    /// Its figures; `None` when no price history was given for it.
    pub risk: Option<SimulatedRisk>,
}

/// Simulates each recommended product alone from a GBM calibrated on its price history
/// (`periods_per_year` rows a year) and returns its expected yield and CVaR95 over the horizon
/// of `params` (the same seed for every product: common random numbers).
///
/// # Errors
/// The simulation crate's errors (a history of fewer than 2 prices or with a non-positive
/// price, bad parameters, cancellation) as [`Error::Simulation`](crate::Error::Simulation).
pub fn simulate_recommendation(
    recommendation: &Recommendation,
    histories: &HashMap<FundId, PriceSeries>,
    periods_per_year: f64,
    params: impl ParamGuard<Checked = SimulationValidParams, Error = SimulationError>,
    token: &CancelToken,
) -> Result<Vec<SimulatedAsset>> {
    let params = params.check()?;
    let one = Portfolio::single(1, 0)?;
    recommendation
        .assets
        .iter()
        .map(|asset| {
            let risk = match histories.get(&asset.product) {
                None => None,
                Some(history) => {
                    let fit = calibrate(history, periods_per_year)?;
                    let sim = simulate(&fit.model(), &one, params.clone(), token, &mut NoObserver)?;
                    Some(SimulatedRisk {
                        expected_return: sim.expected_return(),
                        cvar95: sim.tail(CVAR_LEVEL)?.cvar,
                        fit,
                    })
                }
            };
            Ok(SimulatedAsset {
                product: asset.product.clone(),
                risk,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fundalloc_cbr_advisor::QueryParams;
    use fundalloc_cbr_advisor::{GeneratorParams, generate_case_base};
    use fundalloc_simulation::SimulationParams;

    #[test]
    fn recommended_products_get_their_simulated_yield_and_cvar() {
        let base = generate_case_base(GeneratorParams::new(300, 12, 3)).unwrap();
        let target = base.target(&base.ids()[0]).unwrap();
        let rec = base
            .recommend(&target, QueryParams::new(4), &CancelToken::new())
            .unwrap();
        assert!(!rec.assets.is_empty());
        // A rising, noisy history for every product but the last.
        let mut histories = HashMap::new();
        for (k, a) in rec.assets.iter().enumerate().take(rec.assets.len() - 1) {
            let prices = (0..300)
                .map(|t| {
                    100.0 * (0.0003 * (k + 1) as f64 * t as f64 + 0.01 * (t as f64).sin()).exp()
                })
                .collect();
            histories.insert(
                a.product.clone(),
                PriceSeries::new(a.product.as_str(), prices).unwrap(),
            );
        }
        let params = SimulationParams::default().n_paths(2_000).steps(21).seed(1);
        let out =
            simulate_recommendation(&rec, &histories, 252.0, params, &CancelToken::new()).unwrap();
        assert_eq!(out.len(), rec.assets.len());
        for (o, a) in out.iter().zip(&rec.assets) {
            assert_eq!(o.product, a.product);
        }
        let first = out[0].risk.as_ref().unwrap();
        assert!(first.expected_return.value.is_finite() && first.cvar95.std_error > 0.0);
        assert!(out.last().unwrap().risk.is_none());

        // A history of one price is a typed error.
        let p = rec.assets[0].product.clone();
        histories.insert(p.clone(), PriceSeries::new(p.as_str(), vec![1.0]).unwrap());
        let err = simulate_recommendation(
            &rec,
            &histories,
            252.0,
            SimulationParams::default(),
            &CancelToken::new(),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                crate::Error::Simulation(SimulationError::TooFewPrices { .. })
            ),
            "{err:?}"
        );
    }
}
