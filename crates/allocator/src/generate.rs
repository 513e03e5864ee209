//! A seeded generator of LCT-like instances (PTOFA's data are private; this mimics their shape).

use fundalloc_core_types::{
    InvalidParameter, ParamGuard, Real, RevenueMatrix, RiskLevel, TooLarge,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, LogNormal};

use crate::error::{AllocError, Result};
use crate::problem::AllocationProblem;

/// Parameters of an LCT-like instance (`U` customers × `F` funds, K per customer).
///
/// The model, per fund f and customer u:
///
/// * fund: risk level `r_f` = 1 + ⌊5f/F⌋ (spread over R1–R5), base conversion rate
///   `p_f` log-uniform in [1%, 8%], revenue scale `μ_f` ~ U[3, 5] (log of the revenue given a
///   conversion), exposure weight `w_f` ~ LogNormal(0, 0.5);
/// * customer: activity `a_u` ~ LogNormal(0, 0.6), tolerance `t_u` from R1–R5 with
///   probabilities 10/20/30/25/15% (raised where needed so that at least K funds are eligible);
/// * pair: conversion `P_uf = min(1, p_f·a_u·LogNormal(0, 0.4))` and revenue given
///   conversion `R_uf` ~ LogNormal(μ_f + 0.3·ln a_u, 0.5); the expected revenue is
///   `E_uf = P_uf·R_uf` (PTOFA Eq. 2: E = P(C)·E(R|C)).
/// * exposures: each customer draws K distinct eligible funds with probability ∝ `w_f`
///   (without replacement); `d_f` is how often f was drawn. So `Σ d_f = K·U`, the shares
///   follow `w`, and the instance is feasible by construction (the draw is a witness).
///
/// ```
/// use fundalloc_allocator::LctLike;
/// let p = LctLike::new(1_000, 8).seed(7).generate::<f64>()?;
/// assert_eq!(p.exposure().iter().map(|r| r.min).sum::<u64>(), 1_000);
/// let err = LctLike::new(10, 3).k(4).generate::<f64>().unwrap_err();
/// assert!(matches!(err, fundalloc_allocator::AllocError::InvalidParameter(_)));
/// # Ok::<(), fundalloc_allocator::AllocError>(())
/// ```
///
/// `LctLike` is the unchecked configuration (the `ParamGuard` convention): the setters store
/// values as given and [`LctLike::generate`] checks them first;
/// [`ParamGuard::check`](fundalloc_core_types::ParamGuard::check) gives the checked
/// [`LctLikeValidParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct LctLike(LctLikeValidParams);

/// The checked parameters of [`LctLike`]: `1 ≤ K ≤ funds`, `customers × funds` fits memory.
#[derive(Debug, Clone, PartialEq)]
pub struct LctLikeValidParams {
    customers: usize,
    funds: usize,
    k: usize,
    seed: u64,
}

impl LctLikeValidParams {
    /// U.
    pub fn customers(&self) -> usize {
        self.customers
    }

    /// F.
    pub fn funds(&self) -> usize {
        self.funds
    }

    /// K.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

impl LctLike {
    /// `customers × funds`, K = 1, seed 0.
    pub fn new(customers: usize, funds: usize) -> Self {
        Self(LctLikeValidParams {
            customers,
            funds,
            k: 1,
            seed: 0,
        })
    }

    /// Funds per customer.
    #[must_use]
    pub fn k(mut self, k: usize) -> Self {
        self.0.k = k;
        self
    }

    /// The seed (same seed, same instance).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }

    /// Checks the parameters and draws the instance.
    ///
    /// # Errors
    /// [`AllocError::InvalidParameter`] for `K = 0` or `K > funds`, [`AllocError::TooLarge`]
    /// when `customers × funds` overflows, and the errors of
    /// [`LctLikeValidParams::generate`].
    pub fn generate<T: Real>(&self) -> Result<AllocationProblem<T>> {
        self.check_ref()?.generate()
    }
}

/// Most matrix cells the generator draws (`customers × funds`).
const MAX_CELLS: u128 = 1 << 40;

impl ParamGuard for LctLike {
    type Checked = LctLikeValidParams;
    type Error = AllocError;

    fn check_ref(&self) -> Result<&LctLikeValidParams> {
        let p = &self.0;
        if p.k == 0 || p.k > p.funds {
            return Err(InvalidParameter::new(
                "K",
                p.k,
                "must be between 1 and the number of funds",
            )
            .into());
        }
        TooLarge::check(
            "customers × funds",
            p.customers as u128 * p.funds as u128,
            MAX_CELLS,
        )?;
        Ok(p)
    }

    fn check(self) -> Result<LctLikeValidParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

fundalloc_core_types::checked_params!(LctLikeValidParams, AllocError);

impl LctLikeValidParams {
    /// Draws the instance.
    ///
    /// # Errors
    /// The problem's own validation (cannot fail for a generated instance, which is feasible
    /// by construction).
    pub fn generate<T: Real>(&self) -> Result<AllocationProblem<T>> {
        let (u_n, f_n, k) = (self.customers, self.funds, self.k);
        let mut rng = StdRng::seed_from_u64(self.seed);
        let ln = |mu: f64, sigma: f64| {
            LogNormal::new(mu, sigma).map_err(|_| {
                InvalidParameter::new(
                    "log-normal",
                    format_args!("({mu}, {sigma})"),
                    "invalid parameters",
                )
            })
        };
        let risk: Vec<RiskLevel> = (0..f_n)
            .map(|f| RiskLevel::new(1 + (5 * f / f_n) as u8))
            .collect();
        let base: Vec<f64> = (0..f_n)
            .map(|_| (0.01f64.ln() + rng.random::<f64>() * (8.0f64).ln()).exp())
            .collect();
        let mu: Vec<f64> = (0..f_n).map(|_| rng.random_range(3.0..5.0)).collect();
        let weight_dist = ln(0.0, 0.5)?;
        let weight: Vec<f64> = (0..f_n).map(|_| weight_dist.sample(&mut rng)).collect();
        let mut sorted_risk: Vec<u8> = risk.iter().map(|r| r.get()).collect();
        sorted_risk.sort_unstable();
        let min_tolerance = sorted_risk[k - 1];
        let activity = ln(0.0, 0.6)?;
        let affinity = ln(0.0, 0.4)?;
        let unit = ln(0.0, 0.5)?;
        let cumulative = [0.10, 0.30, 0.60, 0.85, 1.0];
        let mut values = Vec::with_capacity(u_n * f_n);
        let mut tolerance = Vec::with_capacity(u_n);
        let mut counts = vec![0u64; f_n];
        let mut picked: Vec<usize> = Vec::with_capacity(k);
        for _ in 0..u_n {
            let a: f64 = activity.sample(&mut rng);
            let draw = rng.random::<f64>();
            let level = 1 + cumulative.iter().position(|&c| draw < c).unwrap_or(4) as u8;
            let t = RiskLevel::new(level.max(min_tolerance));
            tolerance.push(t);
            for f in 0..f_n {
                let p = (base[f] * a * affinity.sample(&mut rng)).min(1.0);
                let r = (mu[f] + 0.3 * a.ln()).exp() * unit.sample(&mut rng);
                values.push(T::from_f64_lossy(p * r));
            }
            // The witness draw: K distinct eligible funds, probability ∝ weight.
            picked.clear();
            for _ in 0..k {
                let total: f64 = (0..f_n)
                    .filter(|&f| t.permits(risk[f]) && !picked.contains(&f))
                    .map(|f| weight[f])
                    .sum();
                let mut x = rng.random::<f64>() * total;
                let mut choice = None;
                for f in (0..f_n).filter(|&f| t.permits(risk[f]) && !picked.contains(&f)) {
                    choice = Some(f);
                    x -= weight[f];
                    if x <= 0.0 {
                        break;
                    }
                }
                if let Some(f) = choice {
                    picked.push(f);
                    counts[f] += 1;
                }
            }
        }
        let revenue = RevenueMatrix::from_shape_vec(u_n, f_n, values)?;
        AllocationProblem::builder(revenue)
            .exactly(k)
            .exposures(counts)
            .customer_tolerance(tolerance)
            .fund_risk(risk)
            .build()
    }
}
