//! A seeded, LCT-like synthetic fund campaign whose true expected revenue is known.
//!
//! The generator mimics what the PTOFA paper describes of its LCT datasets: customers and a
//! handful of promotional funds, each with categorical and numeric features; the platform shows
//! each customer a few funds, preferring those it believes convert (selection bias); conversion
//! is rare; and the revenue of a conversion is log-normal with customer-specific μ and σ, so the
//! log-revenue of all converted samples is a wide bell and single customers have their own
//! bells (the paper's Fig. 2).
//!
//! The ground truth, for customer u and fund f:
//!
//! - conversion logit `z_uf = −2.4 + 0.8·activity_u + region_eff[region_u] + fund_eff[f]
//!   − 0.7·max(0, risk_f − tolerance_u) + taste[type_f][age_u]`, `P_uf = 1/(1 + e^{−z_uf})`;
//! - revenue if converted `R ~ LogNormal(μ_uf, σ_u)` with
//!   `μ_uf = 4 + 0.9·z_assets_u + age_mu[age_u] + type_mu[type_f] + 0.2·activity_u` and
//!   `σ_u = 0.3 + 0.15·age_u + 0.08·tenure_u` (age band 0..5, tenure 0..5 years);
//! - expected revenue `E_uf = P_uf · exp(μ_uf + σ_u²/2)`.
//!
//! The effect tables (`region_eff`, `fund_eff`, `taste`, `age_mu`, `type_mu`) are drawn from
//! the seed too, so two seeds give two different (but equally shaped) worlds.
//!
//! [`SyntheticCampaign::simulate`] runs a campaign from this ground truth: every exposed pair
//! converts with its true `P_uf` and earns a `LogNormal(μ_uf, σ_u)` revenue, so the online
//! metrics of an allocation (PTOFA Eq. 8) can be measured offline.

use ndarray::{Array1, Array2};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use rand_distr::StandardNormal;

use fundalloc_core_types::{Allocation, RevenueMatrix};
use rayon::prelude::*;

use fundalloc_core_types::{InvalidParameter, ParamGuard, ShapeMismatch, TooLarge, check};

use crate::{ExposureDataset, FeatureSchema, FeatureTable, Result, RevenueModelError, Side};

const AGE_BANDS: u32 = 6;
const REGIONS: u32 = 12;
const RISK_LEVELS: u32 = 5;
const FUND_TYPES: u32 = 4;
/// Customers per parallel chunk of [`SyntheticCampaign::simulate`] (fixed, so that the sum of
/// revenues is accumulated in the same order whatever the number of threads).
const SIMULATE_CHUNK: usize = 4096;

/// Totals of a simulated campaign ([`SyntheticCampaign::simulate`]).
///
/// The online metrics of PTOFA (Eq. 8) follow from the totals:
/// `CPME = conversions / exposures × 1000` and `RPME = revenue / exposures × 1000`
/// (`fundalloc_metrics::cpme(o.conversions, o.exposures)` and
/// `fundalloc_metrics::rpme(o.revenue, o.exposures)`).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct CampaignOutcome {
    /// Number of exposed customer–fund pairs (assignments of the allocation).
    pub exposures: u64,
    /// Number of exposures that converted.
    pub conversions: u64,
    /// Total revenue of the conversions.
    pub revenue: f64,
}

impl CampaignOutcome {
    fn add(self, other: Self) -> Self {
        Self {
            exposures: self.exposures + other.exposures,
            conversions: self.conversions + other.conversions,
            revenue: self.revenue + other.revenue,
        }
    }
}

/// SplitMix64's finaliser: a bijective 64-bit mix with full avalanche.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of pair `(u, f)` in the campaign simulated with `seed`: a hash of the three, so the
/// pair's draw does not depend on which other pairs are exposed (common random numbers).
fn pair_seed(seed: u64, u: usize, f: usize) -> u64 {
    let key = mix64(seed ^ 0x6361_6d70_6169_676e) ^ mix64((u as u64).wrapping_add(0x9e37_79b9));
    mix64(key.wrapping_add(mix64((f as u64) ^ 0x5851_f42d_4c95_7f2d)))
}

/// The most customer–fund pairs [`SyntheticCampaign::generate`] builds (2^28: its three
/// `f32` pair matrices then take 3 GiB).
pub const MAX_SYNTHETIC_PAIRS: usize = 1 << 28;

/// Parameters of [`SyntheticCampaign::generate`] (unchecked); [`ParamGuard::check`] validates
/// them.
///
/// ```
/// use fundalloc_revenue_model::{ParamGuard, SyntheticParams};
/// let params = SyntheticParams::default().n_customers(500).n_funds(4).seed(7).check()?;
/// assert_eq!(params.n_customers(), 500);
/// assert!(SyntheticParams::default().n_funds(0).check().is_err());
/// # Ok::<(), fundalloc_revenue_model::RevenueModelError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyntheticParams(SyntheticValidParams);

/// [`SyntheticParams`] that passed [`ParamGuard::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticValidParams {
    n_customers: usize,
    n_funds: usize,
    seed: u64,
}

impl Default for SyntheticValidParams {
    fn default() -> Self {
        Self {
            n_customers: 20_000,
            n_funds: 8,
            seed: 0,
        }
    }
}

impl SyntheticParams {
    /// Number of customers (default 20,000; ≥ 1).
    #[must_use]
    pub fn n_customers(mut self, n_customers: usize) -> Self {
        self.0.n_customers = n_customers;
        self
    }
    /// Number of funds (default 8, as LCT-A; ≥ 1 and at most `u32::MAX`).
    #[must_use]
    pub fn n_funds(mut self, n_funds: usize) -> Self {
        self.0.n_funds = n_funds;
        self
    }
    /// Seed of the world (features and effect tables).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
}

impl ParamGuard for SyntheticParams {
    type Checked = SyntheticValidParams;
    type Error = RevenueModelError;

    /// Checks the counts, and that customers × funds is at most [`MAX_SYNTHETIC_PAIRS`].
    fn check_ref(&self) -> Result<&SyntheticValidParams> {
        let p = &self.0;
        check::at_least("n_customers", p.n_customers, 1)?;
        check::at_least("n_funds", p.n_funds, 1)?;
        if u32::try_from(p.n_funds).is_err() {
            return Err(InvalidParameter::new("n_funds", p.n_funds, "must fit in u32").into());
        }
        let pairs = (p.n_customers as u128) * (p.n_funds as u128);
        TooLarge::check(
            "synthetic customers × funds",
            pairs,
            MAX_SYNTHETIC_PAIRS as u128,
        )?;
        Ok(p)
    }

    fn check(self) -> Result<SyntheticValidParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

fundalloc_core_types::checked_params!(SyntheticValidParams, RevenueModelError);

impl SyntheticValidParams {
    /// Number of customers.
    pub fn n_customers(&self) -> usize {
        self.n_customers
    }
    /// Number of funds.
    pub fn n_funds(&self) -> usize {
        self.n_funds
    }
    /// Seed of the world.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

/// A generated world: features of every customer and fund and the true conversion
/// probability, log-normal parameters and expected revenue of every pair.
#[derive(Debug, Clone)]
pub struct SyntheticCampaign {
    schema: FeatureSchema,
    customers: FeatureTable,
    funds: FeatureTable,
    p_convert: Array2<f32>,
    mu: Array2<f32>,
    sigma: Array1<f32>,
    expected: RevenueMatrix<f32>,
}

impl SyntheticCampaign {
    /// The schema of the generated features (embedding size 24):
    /// customer `age_band` (6), `region` (12), `risk_tolerance` (5), `assets` (log1p),
    /// `activity`, `tenure`; fund `fund_id` (n_funds), `fund_type` (4), `fund_risk` (5),
    /// `fund_return`.
    pub fn schema_for(n_funds: usize) -> Result<FeatureSchema> {
        let n_funds = u32::try_from(n_funds).map_err(|_| {
            RevenueModelError::from(InvalidParameter::new("n_funds", n_funds, "must fit in u32"))
        })?;
        FeatureSchema::builder()
            .categorical("age_band", AGE_BANDS, Side::Customer)
            .categorical("region", REGIONS, Side::Customer)
            .categorical("risk_tolerance", RISK_LEVELS, Side::Customer)
            .categorical("fund_id", n_funds, Side::Fund)
            .categorical("fund_type", FUND_TYPES, Side::Fund)
            .categorical("fund_risk", RISK_LEVELS, Side::Fund)
            .numeric("assets", Side::Customer, true)
            .numeric("activity", Side::Customer, false)
            .numeric("tenure", Side::Customer, false)
            .numeric("fund_return", Side::Fund, false)
            .build()
    }

    /// Generates the world. Deterministic per `params.seed`.
    ///
    /// # Errors
    /// Invalid parameters ([`RevenueModelError::InvalidParameter`], or
    /// [`RevenueModelError::TooLarge`] over [`MAX_SYNTHETIC_PAIRS`]).
    pub fn generate(
        params: impl ParamGuard<Checked = SyntheticValidParams, Error = RevenueModelError>,
    ) -> Result<Self> {
        let params = params.check()?;
        let schema = Self::schema_for(params.n_funds)?;
        let mut rng = StdRng::seed_from_u64(params.seed);
        let normal =
            |rng: &mut StdRng, sd: f64| -> f64 { sd * rng.sample::<f64, _>(StandardNormal) };

        // Effect tables of this world.
        let region_eff: Vec<f64> = (0..REGIONS).map(|_| normal(&mut rng, 0.5)).collect();
        let fund_eff: Vec<f64> = (0..params.n_funds).map(|_| normal(&mut rng, 0.5)).collect();
        let taste: Vec<f64> = (0..FUND_TYPES * AGE_BANDS)
            .map(|_| normal(&mut rng, 0.6))
            .collect();
        let age_mu: Vec<f64> = (0..AGE_BANDS).map(|_| normal(&mut rng, 0.4)).collect();
        let type_mu: Vec<f64> = (0..FUND_TYPES).map(|_| normal(&mut rng, 0.4)).collect();

        // Funds: id, type, risk (riskier types carry higher levels), expected return.
        let nf = params.n_funds;
        let mut fund_cat = Array2::<u32>::zeros((nf, 3));
        let mut fund_num = Array2::<f32>::zeros((nf, 1));
        for f in 0..nf {
            let ftype = (f as u32) % FUND_TYPES;
            let risk = (ftype + rng.random_range(0..2u32)).min(RISK_LEVELS - 1);
            fund_cat[[f, 0]] = f as u32;
            fund_cat[[f, 1]] = ftype;
            fund_cat[[f, 2]] = risk;
            fund_num[[f, 0]] = (0.01 + 0.015 * f64::from(risk) + normal(&mut rng, 0.01)) as f32;
        }

        // Customers.
        let nu = params.n_customers;
        let mut cust_cat = Array2::<u32>::zeros((nu, 3));
        let mut cust_num = Array2::<f32>::zeros((nu, 3));
        let mut z_assets = vec![0.0f64; nu];
        let mut activity = vec![0.0f64; nu];
        let mut tenure = vec![0.0f64; nu];
        for u in 0..nu {
            let age = rng.random_range(0..AGE_BANDS);
            cust_cat[[u, 0]] = age;
            cust_cat[[u, 1]] = rng.random_range(0..REGIONS);
            // Older customers tolerate a bit more risk on average.
            let tol = (rng.random_range(0..RISK_LEVELS) + age / 3).min(RISK_LEVELS - 1);
            cust_cat[[u, 2]] = tol;
            z_assets[u] = normal(&mut rng, 1.0) + 0.15 * f64::from(age);
            activity[u] = normal(&mut rng, 1.0);
            tenure[u] = rng.random::<f64>() * 5.0;
            cust_num[[u, 0]] = (9.0 + 1.2 * z_assets[u]).exp() as f32;
            cust_num[[u, 1]] = activity[u] as f32;
            cust_num[[u, 2]] = tenure[u] as f32;
        }

        let mut p_convert = Array2::<f32>::zeros((nu, nf));
        let mut mu = Array2::<f32>::zeros((nu, nf));
        let mut sigma = Array1::<f32>::zeros(nu);
        let mut expected = Array2::<f32>::zeros((nu, nf));
        for u in 0..nu {
            let age = cust_cat[[u, 0]];
            let region = cust_cat[[u, 1]] as usize;
            let tol = cust_cat[[u, 2]];
            let s = 0.3 + 0.15 * f64::from(age) + 0.08 * tenure[u];
            sigma[u] = s as f32;
            for f in 0..nf {
                let ftype = fund_cat[[f, 1]];
                let risk = fund_cat[[f, 2]];
                let gap = f64::from(risk.saturating_sub(tol));
                let z = -2.4 + 0.8 * activity[u] + region_eff[region] + fund_eff[f] - 0.7 * gap
                    + taste[(ftype * AGE_BANDS + age) as usize];
                let p = 1.0 / (1.0 + (-z).exp());
                let m = 4.0
                    + 0.9 * z_assets[u]
                    + age_mu[age as usize]
                    + type_mu[ftype as usize]
                    + 0.2 * activity[u];
                p_convert[[u, f]] = p as f32;
                mu[[u, f]] = m as f32;
                expected[[u, f]] = (p * (m + 0.5 * s * s).exp()) as f32;
            }
        }
        Ok(Self {
            schema,
            customers: FeatureTable {
                categorical: cust_cat,
                numeric: cust_num,
            },
            funds: FeatureTable {
                categorical: fund_cat,
                numeric: fund_num,
            },
            p_convert,
            mu,
            sigma,
            expected: RevenueMatrix::new(expected)?,
        })
    }

    /// Draws one exposure log: each customer is shown `per_customer` distinct funds, drawn
    /// without replacement with weights `exp(selection_bias · z_uf)` (0 = uniformly at random,
    /// larger = the platform prefers funds that convert, the selection bias the entire-space
    /// model corrects); conversions are Bernoulli(P_uf), revenues LogNormal(μ_uf, σ_u).
    /// Each row carries its true expected revenue `E_uf`. Deterministic per `seed`.
    pub fn expose(
        &self,
        per_customer: usize,
        selection_bias: f64,
        seed: u64,
    ) -> Result<ExposureDataset> {
        let nf = self.funds.len();
        if per_customer == 0 || per_customer > nf {
            return Err(RevenueModelError::from(InvalidParameter::new(
                "per_customer",
                per_customer,
                "must be in 1..=n_funds",
            )));
        }
        if !selection_bias.is_finite() {
            return Err(RevenueModelError::from(InvalidParameter::new(
                "selection_bias",
                selection_bias,
                "must be finite",
            )));
        }
        let nu = self.customers.len();
        let n = nu * per_customer;
        let (nc_cat, nc_num) = (
            self.customers.categorical.ncols(),
            self.customers.numeric.ncols(),
        );
        let mut cat = Array2::<u32>::zeros((n, nc_cat + self.funds.categorical.ncols()));
        let mut num = Array2::<f32>::zeros((n, nc_num + self.funds.numeric.ncols()));
        let mut converted = Array1::from_elem(n, false);
        let mut revenue = Array1::<f32>::zeros(n);
        let mut truth = Array1::<f32>::zeros(n);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut row = 0;
        let mut weights = vec![0.0f64; nf];
        for u in 0..nu {
            for (f, w) in weights.iter_mut().enumerate() {
                let p = f64::from(self.p_convert[[u, f]]).clamp(1e-12, 1.0 - 1e-12);
                // Clamped so that no weight overflows or vanishes whatever the bias.
                *w = (selection_bias * (p / (1.0 - p)).ln())
                    .clamp(-60.0, 60.0)
                    .exp();
            }
            for _ in 0..per_customer {
                let total: f64 = weights.iter().sum();
                let x = rng.random::<f64>() * total;
                let (mut acc, mut pick) = (0.0, 0);
                for (g, &w) in weights.iter().enumerate() {
                    if w > 0.0 {
                        acc += w;
                        pick = g;
                        if x < acc {
                            break;
                        }
                    }
                }
                let f = pick;
                weights[f] = 0.0;
                // Customer columns first, then fund columns: the schema's order.
                for j in 0..nc_cat {
                    cat[[row, j]] = self.customers.categorical[[u, j]];
                }
                for j in 0..self.funds.categorical.ncols() {
                    cat[[row, nc_cat + j]] = self.funds.categorical[[f, j]];
                }
                for j in 0..nc_num {
                    num[[row, j]] = self.customers.numeric[[u, j]];
                }
                for j in 0..self.funds.numeric.ncols() {
                    num[[row, nc_num + j]] = self.funds.numeric[[f, j]];
                }
                let c = rng.random::<f64>() < f64::from(self.p_convert[[u, f]]);
                converted[row] = c;
                if c {
                    let z: f64 = rng.sample(StandardNormal);
                    let log_r = f64::from(self.mu[[u, f]]) + f64::from(self.sigma[u]) * z;
                    revenue[row] = log_r.exp().max(1e-3) as f32;
                }
                truth[row] = self.expected.as_slice()[u * nf + f];
                row += 1;
            }
        }
        ExposureDataset::new(self.schema.clone(), cat, num, converted, revenue)?
            .with_true_expected(truth)
    }

    /// The feature schema (customer columns first, then fund columns).
    pub fn schema(&self) -> &FeatureSchema {
        &self.schema
    }

    /// Customer features (customer-side columns of the schema).
    pub fn customers(&self) -> &FeatureTable {
        &self.customers
    }

    /// Fund features (fund-side columns of the schema).
    pub fn funds(&self) -> &FeatureTable {
        &self.funds
    }

    /// True conversion probabilities, customers × funds.
    pub fn p_convert(&self) -> &Array2<f32> {
        &self.p_convert
    }

    /// True log-normal location μ, customers × funds.
    pub fn mu(&self) -> &Array2<f32> {
        &self.mu
    }

    /// True log-normal scale σ of each customer.
    pub fn sigma(&self) -> &Array1<f32> {
        &self.sigma
    }

    /// True expected revenue `E = P·exp(μ + σ²/2)`, customers × funds.
    pub fn expected(&self) -> &RevenueMatrix<f32> {
        &self.expected
    }

    /// Runs the campaign `allocation` against the ground truth and returns its totals.
    ///
    /// Every assigned pair (u, f) is one exposure; it converts with the true probability
    /// `P_uf` ([`p_convert`](Self::p_convert)) and, if it does, earns a revenue
    /// `R ~ LogNormal(μ_uf, σ_u)` ([`mu`](Self::mu), [`sigma`](Self::sigma)). So the expected
    /// total revenue is `Σ_{(u,f) exposed} P_uf·exp(μ_uf + σ_u²/2)`, the allocation's objective
    /// on [`expected`](Self::expected), and the expected conversions are `Σ P_uf`.
    ///
    /// **Common random numbers:** the draws of pair (u, f) come from a random generator seeded
    /// with a hash of `(seed, u, f)` alone. Two allocations simulated with the same seed see the
    /// same outcome on every pair they both expose, so the difference of their totals comes
    /// only from the pairs where they differ — an A/B comparison of allocation methods with
    /// much less noise than independent draws (variance reduction), and a result that does not
    /// depend on the order or number of threads.
    ///
    /// # Errors
    /// [`RevenueModelError::ShapeMismatch`] when the allocation has another number of customers
    /// or funds than the campaign.
    ///
    /// ```
    /// use fundalloc_core_types::Allocation;
    /// use fundalloc_revenue_model::{SyntheticCampaign, SyntheticParams};
    /// let world = SyntheticCampaign::generate(SyntheticParams::default().n_customers(1000).n_funds(4).seed(1))?;
    /// // Customer u is shown fund u mod 4.
    /// let x = Allocation::from_fixed_k(1000, 1, 4, (0..1000).map(|u| u % 4).collect())?;
    /// let o = world.simulate(&x, 7)?;
    /// assert_eq!(o.exposures, 1000);
    /// assert!(o.conversions <= o.exposures && o.revenue >= 0.0);
    /// assert_eq!(world.simulate(&x, 7)?, o); // same seed, same campaign
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn simulate(&self, allocation: &Allocation, seed: u64) -> Result<CampaignOutcome> {
        let (nu, nf) = (self.customers.len(), self.funds.len());
        if allocation.n_customers() != nu || allocation.n_funds() != nf {
            return Err(RevenueModelError::from(ShapeMismatch::new(
                "allocation vs synthetic campaign",
                format_args!("{nu} customers × {nf} funds"),
                format!(
                    "{} customers × {} funds",
                    allocation.n_customers(),
                    allocation.n_funds()
                ),
            )));
        }
        let zero = CampaignOutcome {
            exposures: 0,
            conversions: 0,
            revenue: 0.0,
        };
        let starts: Vec<usize> = (0..nu).step_by(SIMULATE_CHUNK).collect();
        let parts: Vec<CampaignOutcome> = starts
            .par_iter()
            .map(|&start| {
                let mut part = zero;
                for u in start..(start + SIMULATE_CHUNK).min(nu) {
                    for &f in allocation.funds_of(u) {
                        let (converted, revenue) = self.draw_pair(u, f as usize, seed);
                        part.exposures += 1;
                        part.conversions += u64::from(converted);
                        part.revenue += revenue;
                    }
                }
                part
            })
            .collect();
        Ok(parts.into_iter().fold(zero, CampaignOutcome::add))
    }

    /// One exposure of pair (u, f): (converted, revenue). Indices are in range (checked by the
    /// caller through the allocation's shape).
    fn draw_pair(&self, u: usize, f: usize, seed: u64) -> (bool, f64) {
        let mut rng = StdRng::seed_from_u64(pair_seed(seed, u, f));
        let converted = rng.random::<f64>() < f64::from(self.p_convert[[u, f]]);
        if !converted {
            return (false, 0.0);
        }
        let z: f64 = rng.sample(StandardNormal);
        let log_r = f64::from(self.mu[[u, f]]) + f64::from(self.sigma[u]) * z;
        (true, log_r.exp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> SyntheticCampaign {
        SyntheticCampaign::generate(
            SyntheticParams::default()
                .n_customers(300)
                .n_funds(8)
                .seed(seed),
        )
        .unwrap()
    }

    #[test]
    fn deterministic_per_seed() {
        let (a, b, c) = (small(1), small(1), small(2));
        assert_eq!(a.expected(), b.expected());
        assert_eq!(a.customers(), b.customers());
        assert_ne!(a.expected(), c.expected());
        let (x, y) = (a.expose(3, 1.0, 9).unwrap(), a.expose(3, 1.0, 9).unwrap());
        assert_eq!(x.revenue(), y.revenue());
        assert_eq!(x.categorical(), y.categorical());
        assert_ne!(a.expose(3, 1.0, 10).unwrap().revenue(), x.revenue());
    }

    #[test]
    fn exposure_is_consistent_with_the_truth() {
        let w = small(3);
        let d = w.expose(4, 1.0, 5).unwrap();
        assert_eq!(d.len(), 300 * 4);
        // Expected revenue matches the formula for every pair.
        for u in 0..300 {
            for f in 0..8 {
                let s = f64::from(w.sigma()[u]);
                let e = f64::from(w.p_convert()[[u, f]])
                    * (f64::from(w.mu()[[u, f]]) + s * s / 2.0).exp();
                let got = f64::from(w.expected().get(u, f).unwrap());
                assert!((got - e).abs() <= 1e-4 * e.max(1.0));
            }
        }
        // Each customer sees distinct funds.
        for u in 0..300 {
            let mut ids: Vec<u32> = (0..4).map(|k| d.categorical()[[u * 4 + k, 3]]).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), 4);
        }
        let rate = d.conversion_rate();
        assert!(rate > 0.03 && rate < 0.6, "conversion rate {rate}");
    }

    #[test]
    fn selection_bias_raises_the_exposed_conversion_rate() {
        let w = SyntheticCampaign::generate(
            SyntheticParams::default()
                .n_customers(3000)
                .n_funds(8)
                .seed(4),
        )
        .unwrap();
        let mean_p = |d: &ExposureDataset| d.true_expected().unwrap().len();
        let biased = w.expose(2, 2.0, 1).unwrap();
        let uniform = w.expose(2, 0.0, 1).unwrap();
        assert_eq!(mean_p(&biased), mean_p(&uniform));
        assert!(biased.conversion_rate() > uniform.conversion_rate() + 0.02);
    }

    #[test]
    fn rejects_bad_params() {
        let w = small(0);
        assert!(w.expose(0, 1.0, 0).is_err());
        assert!(w.expose(9, 1.0, 0).is_err());
        assert!(w.expose(1, f64::NAN, 0).is_err());
        let p = SyntheticParams::default().n_customers(0);
        assert!(SyntheticCampaign::generate(p).is_err());
        // Phase-2 hardening: a world too large to allocate is refused before allocating.
        let huge = SyntheticParams::default()
            .n_customers(usize::MAX / 2)
            .n_funds(8);
        assert!(matches!(
            SyntheticCampaign::generate(huge),
            Err(RevenueModelError::TooLarge(_))
        ));
    }

    /// Customer u gets fund `pick(u)`; customers where `pick` is `None` get nothing.
    fn alloc(nu: usize, nf: usize, pick: impl Fn(usize) -> Option<u32>) -> Allocation {
        Allocation::from_rows(nf, (0..nu).map(|u| pick(u).into_iter().collect::<Vec<_>>())).unwrap()
    }

    #[test]
    fn simulate_is_deterministic_and_uses_common_random_numbers() {
        let w = small(5);
        let a = alloc(300, 8, |u| Some((u % 8) as u32));
        let o = w.simulate(&a, 11).unwrap();
        assert_eq!(o.exposures, 300);
        assert!(o.conversions > 0 && o.conversions <= 300 && o.revenue > 0.0);
        assert_eq!(w.simulate(&a, 11).unwrap(), o);
        assert_ne!(w.simulate(&a, 12).unwrap().revenue, o.revenue);
        // The first half alone plus the second half alone is the whole campaign: a pair's draw
        // does not depend on which other pairs are exposed.
        let first = alloc(300, 8, |u| (u < 150).then_some((u % 8) as u32));
        let second = alloc(300, 8, |u| (u >= 150).then_some((u % 8) as u32));
        let (f, s) = (
            w.simulate(&first, 11).unwrap(),
            w.simulate(&second, 11).unwrap(),
        );
        assert_eq!(f.exposures + s.exposures, o.exposures);
        assert_eq!(f.conversions + s.conversions, o.conversions);
        assert!((f.revenue + s.revenue - o.revenue).abs() <= 1e-9 * o.revenue);
        // Another arm that agrees on the first half sees the same outcome there.
        let other_first = alloc(300, 8, |u| (u < 150).then_some((u % 8) as u32));
        assert_eq!(w.simulate(&other_first, 11).unwrap(), f);
        // Empty allocation: nothing exposed.
        let none = w.simulate(&alloc(300, 8, |_| None), 11).unwrap();
        assert_eq!(
            (none.exposures, none.conversions, none.revenue),
            (0, 0, 0.0)
        );
    }

    #[test]
    fn simulate_rejects_another_shape() {
        let w = small(6);
        for (nu, nf) in [(299, 8), (300, 7), (301, 9)] {
            let x = alloc(nu, nf, |_| Some(0));
            match w.simulate(&x, 0) {
                Err(RevenueModelError::ShapeMismatch(e)) => {
                    assert_eq!(e.what, "allocation vs synthetic campaign");
                }
                other => panic!("{nu}×{nf}: {other:?}"),
            }
        }
    }

    /// The simulated totals match their expectations under the ground truth: revenue
    /// `Σ P·exp(μ + σ²/2)` (= the allocation's objective on `expected()`) and conversions `Σ P`,
    /// pooled over 4 seeds, within 4 standard deviations of the pooled sums
    /// (`Var R = P·e^{2μ+2σ²} − E²`, `Var C = P(1 − P)`). Every customer is shown every fund.
    /// Power (measured by mutating `draw_pair`): conversions drawn with 1.03·P gave z = 8.1,
    /// revenues drawn from `LogNormal(μ + 0.1·σ², σ)` (mean × e^{0.1σ²}) gave z = 6.0.
    #[test]
    fn simulated_means_match_the_true_expectation() {
        let (nu, nf) = (20_000, 8);
        let w = SyntheticCampaign::generate(
            SyntheticParams::default()
                .n_customers(nu)
                .n_funds(nf)
                .seed(42),
        )
        .unwrap();
        let x = Allocation::from_rows(nf, (0..nu).map(|_| 0..nf as u32)).unwrap();
        let (mut e_rev, mut var_rev, mut e_conv, mut var_conv) = (0.0, 0.0, 0.0, 0.0);
        for u in 0..nu {
            for f in 0..nf {
                let p = f64::from(w.p_convert()[[u, f]]);
                let (m, s) = (f64::from(w.mu()[[u, f]]), f64::from(w.sigma()[u]));
                let mean = p * (m + s * s / 2.0).exp();
                e_rev += mean;
                var_rev += p * (2.0 * m + 2.0 * s * s).exp() - mean * mean;
                e_conv += p;
                var_conv += p * (1.0 - p);
            }
        }
        let objective = x.objective(w.expected()).unwrap();
        assert!(
            (objective - e_rev).abs() <= 1e-5 * e_rev,
            "{objective} vs {e_rev}"
        );
        let seeds = 4u64;
        let (mut revenue, mut conversions) = (0.0, 0u64);
        for seed in 0..seeds {
            let o = w.simulate(&x, seed).unwrap();
            assert_eq!(o.exposures, (nu * nf) as u64);
            revenue += o.revenue;
            conversions += o.conversions;
        }
        let n = seeds as f64;
        let z_rev = (revenue - n * e_rev) / (n * var_rev).sqrt();
        let z_conv = (conversions as f64 - n * e_conv) / (n * var_conv).sqrt();
        eprintln!("z_rev = {z_rev:.3}, z_conv = {z_conv:.3}");
        assert!(
            z_rev.abs() < 4.0,
            "revenue {revenue} vs {}, z = {z_rev}",
            n * e_rev
        );
        assert!(
            z_conv.abs() < 4.0,
            "conversions {conversions} vs {}, z = {z_conv}",
            n * e_conv
        );
    }
}
