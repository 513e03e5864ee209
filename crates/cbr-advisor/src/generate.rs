//! A seeded generator of synthetic case bases with the SMARTFASI schema (examples, tests,
//! benchmarks). Customers with similar profiles tend to hold similar products, so retrieval
//! has structure to find.

use fundalloc_core_types::{ParamGuard, check};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::casebase::{CaseBase, MISSING};
use crate::product::{Catalogue, Issuer, Product, RateType};
use crate::schema::Schema;
use crate::{CbrError, Result};

/// Unchecked parameters of [`generate_case_base`].
///
/// ```
/// use fundalloc_cbr_advisor::{GeneratorParams, generate_case_base};
///
/// let cb = generate_case_base(GeneratorParams::new(100, 20, 7).missing(0.0))?;
/// assert_eq!(cb.len(), 100);
/// assert!(generate_case_base(GeneratorParams::new(100, 20, 7).missing(f64::NAN)).is_err());
/// # Ok::<(), fundalloc_cbr_advisor::CbrError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorParams(GeneratorValidParams);

/// Checked parameters of [`generate_case_base`]: made by [`ParamGuard::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorValidParams {
    customers: usize,
    products: usize,
    seed: u64,
    missing: f64,
    no_portfolio: f64,
}

impl GeneratorParams {
    /// `customers` customers, `products` products, the given seed, default rates.
    pub fn new(customers: usize, products: usize, seed: u64) -> Self {
        Self(GeneratorValidParams {
            customers,
            products,
            seed,
            missing: 0.02,
            no_portfolio: 0.1,
        })
    }
    /// Sets the number of customers.
    #[must_use]
    pub fn customers(mut self, customers: usize) -> Self {
        self.0.customers = customers;
        self
    }
    /// Sets the number of products in the catalogue (≥ 1).
    #[must_use]
    pub fn products(mut self, products: usize) -> Self {
        self.0.products = products;
        self
    }
    /// Sets the seed.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
    /// Sets the probability that a scalar feature value is missing, in [0, 1] (default 0.02;
    /// adequacy is never missing).
    #[must_use]
    pub fn missing(mut self, p: f64) -> Self {
        self.0.missing = p;
        self
    }
    /// Sets the probability that a customer has no portfolio, in [0, 1] (default 0.1).
    #[must_use]
    pub fn no_portfolio(mut self, p: f64) -> Self {
        self.0.no_portfolio = p;
        self
    }
}

impl GeneratorValidParams {
    /// The number of customers.
    pub fn customers(&self) -> usize {
        self.customers
    }
    /// The number of products.
    pub fn products(&self) -> usize {
        self.products
    }
    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// The probability of a missing value.
    pub fn missing(&self) -> f64 {
        self.missing
    }
    /// The probability of a customer without portfolio.
    pub fn no_portfolio(&self) -> f64 {
        self.no_portfolio
    }
}

impl ParamGuard for GeneratorParams {
    type Checked = GeneratorValidParams;
    type Error = CbrError;

    fn check_ref(&self) -> Result<&GeneratorValidParams> {
        let p = &self.0;
        check::at_least("products", p.products, 1)?;
        check::probability("missing", p.missing)?;
        check::probability("no_portfolio", p.no_portfolio)?;
        Ok(p)
    }

    fn check(self) -> Result<GeneratorValidParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

fundalloc_core_types::checked_params!(GeneratorValidParams, CbrError);

/// The generated catalogue: product `P0000`… with risk levels 1–5 and all six classes
/// (at least one product).
///
/// # Errors
/// [`CbrError::TooLarge`] for more than 2³² products.
pub fn generate_catalogue(products: usize, seed: u64) -> Result<Catalogue> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15);
    let issuers = [Issuer::Corporate, Issuer::Government];
    let rates = [RateType::Fixed, RateType::Variable, RateType::FloatingCap];
    Catalogue::new(
        (0..products.max(1))
            .map(|i| {
                Product::new(
                    format!("P{i:04}"),
                    rng.random_range(1..=5u8),
                    issuers[rng.random_range(0..2)],
                    rates[rng.random_range(0..3)],
                )
            })
            .collect(),
    )
}

/// A seeded synthetic case base with [`Schema::smartfasi`]: customer `C0000000`… with ages
/// 18–90, capital 10³–10⁶, adequacy 1–5, 0–4 children, the default categories, and 0–3
/// portfolios of 1–6 products each (products near the customer's risk appetite and age
/// group are more likely).
///
/// # Errors
/// [`CbrError::InvalidParameter`] for bad parameters, [`CbrError::TooLarge`] for more than
/// 2³² customers.
pub fn generate_case_base(
    params: impl ParamGuard<Checked = GeneratorValidParams, Error = CbrError>,
) -> Result<CaseBase> {
    let p = params.check()?;
    let catalogue = generate_catalogue(p.products, p.seed)?;
    let n_products = catalogue.len();
    let mut cb = CaseBase::new(Schema::smartfasi(), catalogue);
    let mut rng = StdRng::seed_from_u64(p.seed);
    for i in 0..p.customers {
        let age = rng.random_range(18..=90u32);
        let adequacy = rng.random_range(1..=5u32);
        let miss = |rng: &mut StdRng, x: f64| {
            if rng.random_bool(p.missing) {
                f64::NAN
            } else {
                x
            }
        };
        let children = f64::from(rng.random_range(0..=4u32));
        let capital = 1000.0 * 10f64.powf(3.0 * rng.random::<f64>());
        let lin = vec![
            miss(&mut rng, f64::from(age)),
            miss(&mut rng, capital.round()),
            f64::from(adequacy),
            miss(&mut rng, children),
        ];
        let cat = |rng: &mut StdRng, n: u16| {
            if rng.random_bool(p.missing) {
                MISSING
            } else {
                rng.random_range(0..n)
            }
        };
        let employment = if age > 66 && rng.random_bool(0.8) {
            2
        } else {
            cat(&mut rng, 5)
        };
        let nom = vec![
            cat(&mut rng, 4),
            cat(&mut rng, 5),
            cat(&mut rng, 2),
            employment,
        ];
        let n_pf = if rng.random_bool(p.no_portfolio) {
            0
        } else {
            rng.random_range(1..=3usize)
        };
        // A segment of the catalogue preferred by this kind of customer.
        let segment = ((adequacy as usize - 1) * 3 + (age as usize - 18) / 25) * n_products / 15;
        let mut pfs = Vec::with_capacity(n_pf);
        for k in 0..n_pf {
            let n_assets = rng.random_range(1..=6usize);
            let mut holdings: Vec<(u32, f64)> = Vec::with_capacity(n_assets);
            for _ in 0..n_assets {
                let a = if rng.random_bool(0.7) {
                    let spread = (n_products / 10).max(1);
                    (segment + rng.random_range(0..spread)) % n_products
                } else {
                    let u: f64 = rng.random();
                    ((u * u) * n_products as f64) as usize % n_products
                };
                let s = rng.random_range(1..=100u32);
                match holdings.iter_mut().find(|h| h.0 == a as u32) {
                    Some(h) => h.1 += f64::from(s),
                    None => holdings.push((a as u32, f64::from(s))),
                }
            }
            holdings.sort_by_key(|h| h.0);
            let total: f64 = holdings.iter().map(|h| h.1).sum();
            let (assets, shares) = holdings.into_iter().map(|(a, s)| (a, s / total)).unzip();
            pfs.push(cb.portfolio_from_parts(format!("C{i:07}-{k}"), assets, shares));
        }
        cb.push_encoded(format!("C{i:07}").into(), lin, nom, pfs)?;
    }
    Ok(cb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_is_seeded_and_round_trips_through_json() {
        let a = generate_case_base(GeneratorParams::new(200, 30, 7)).unwrap();
        let b = generate_case_base(GeneratorParams::new(200, 30, 7)).unwrap();
        assert_eq!(a.to_data().customers, b.to_data().customers);
        assert_eq!(a.len(), 200);
        assert!(a.n_portfolios() > 200);
        let mut buf = Vec::new();
        a.to_json(&mut buf).unwrap();
        let c = CaseBase::from_json(buf.as_slice()).unwrap();
        let (mut cu, mut ho, mut pr) = (Vec::new(), Vec::new(), Vec::new());
        a.to_csv(&mut cu, &mut ho).unwrap();
        a.catalogue().to_csv(&mut pr).unwrap();
        let cat = Catalogue::from_csv(pr.as_slice()).unwrap();
        assert_eq!(&cat, a.catalogue());
        let d = CaseBase::from_csv(Schema::smartfasi(), cat, cu.as_slice(), ho.as_slice()).unwrap();
        for (x, y) in d.to_data().customers.iter().zip(&a.to_data().customers) {
            assert_eq!((&x.id, &x.features), (&y.id, &y.features));
            assert_eq!(x.portfolios.len(), y.portfolios.len());
            for (p, q) in x.portfolios.iter().zip(&y.portfolios) {
                assert_eq!(p.holdings.len(), q.holdings.len());
                for (h, g) in p.holdings.iter().zip(&q.holdings) {
                    assert_eq!(h.product, g.product);
                    assert!((h.share - g.share).abs() < 1e-12);
                }
            }
        }
        assert_eq!(c.len(), 200);
        for i in [0u32, 17, 199] {
            for j in [3u32, 150] {
                let (x, y) = (a.distance(i, j).unwrap(), c.distance(i, j).unwrap());
                assert!((x - y).abs() < 1e-12, "{x} vs {y}");
            }
        }
    }
}
