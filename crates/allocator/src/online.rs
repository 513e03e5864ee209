//! Dual prices as a product: the exact solver's fund prices, stored ([`FundPrices`]) and used
//! to assign customers one at a time as they arrive ([`OnlineAllocator`]).

use fundalloc_core_types::{InvalidParameter, NonFinite, Real, RiskLevel, ShapeMismatch};

#[cfg(test)]
use crate::error::AllocError;
use crate::error::Result;
use crate::problem::{AllocationProblem, ExposureRange, PerCustomer};

/// The most funds [`FundPrices`] carries (the exact solver's limit).
pub const MAX_PRICED_FUNDS: usize = 64;

/// The optimal fund prices `λ_f` of a solved problem, with what is needed to use them on new
/// customers: the funds' risk levels, their exposure ranges and the per-customer rule.
///
/// `λ_f` is the exact solver's certificate price ([`crate::Certificate::fund_prices`]): the
/// LP dual of fund f's exposure constraint (positive: the fund is at its maximum and showing it
/// to one more customer would cost `λ_f` elsewhere; negative: it is at its minimum). Exposure
/// ranges and risk levels need no further dual terms: a customer's own dual (its potential) is
/// recomputed from its row and `λ` ([`crate::Certificate::customer_potential`]), and risk
/// eligibility only restricts which funds it compares.
///
/// With the `serde` feature it serialises to JSON as
/// `{"prices":[…],"fund_risk":[…],"exposure":[{"min":…,"max":…}],"rule":{"Exactly":1},
/// "customers":…}`; deserialising re-checks everything [`FundPrices::new`] checks (a file is
/// hostile input).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "RawPrices"))]
pub struct FundPrices {
    prices: Vec<f64>,
    fund_risk: Vec<RiskLevel>,
    exposure: Vec<ExposureRange>,
    rule: PerCustomer,
    customers: u64,
}

/// The unchecked serde form of [`FundPrices`].
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct RawPrices {
    prices: Vec<f64>,
    fund_risk: Vec<RiskLevel>,
    exposure: Vec<ExposureRange>,
    rule: PerCustomer,
    customers: u64,
}

#[cfg(feature = "serde")]
impl TryFrom<RawPrices> for FundPrices {
    type Error = crate::error::AllocError;

    fn try_from(r: RawPrices) -> Result<Self> {
        Self::new(r.prices, r.fund_risk, r.exposure, r.rule, r.customers)
    }
}

impl FundPrices {
    /// Checked prices: one finite price, risk level and exposure range (`min ≤ max`) per fund,
    /// at most [`MAX_PRICED_FUNDS`] funds, `1 ≤ K ≤ F`. `customers` is the number of customers
    /// of the problem the prices were computed on (informational: it scales quotas).
    ///
    /// # Errors
    /// [`AllocError::ShapeMismatch`](crate::AllocError::ShapeMismatch) for lengths that differ, [`AllocError::NonFinite`](crate::AllocError::NonFinite) for a
    /// NaN or infinite price, [`AllocError::InvalidParameter`](crate::AllocError::InvalidParameter) for `K = 0`, `K > F`, more than
    /// 64 funds or `min > max`.
    pub fn new(
        prices: Vec<f64>,
        fund_risk: Vec<RiskLevel>,
        exposure: Vec<ExposureRange>,
        rule: PerCustomer,
        customers: u64,
    ) -> Result<Self> {
        let f = prices.len();
        if fund_risk.len() != f {
            return Err(
                ShapeMismatch::new("fund risk levels (one per price)", f, fund_risk.len()).into(),
            );
        }
        if exposure.len() != f {
            return Err(
                ShapeMismatch::new("fund exposures (one per price)", f, exposure.len()).into(),
            );
        }
        if f > MAX_PRICED_FUNDS {
            return Err(InvalidParameter::new("funds", f, "at most 64 funds").into());
        }
        if let Some((i, &v)) = prices.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(NonFinite::at_index("fund prices", i, v).into());
        }
        let k = rule.k();
        if k == 0 || k > f {
            return Err(
                InvalidParameter::new("K", k, "must be between 1 and the number of funds").into(),
            );
        }
        if let Some((i, r)) = exposure.iter().enumerate().find(|(_, r)| r.min > r.max) {
            return Err(InvalidParameter::new(
                "exposure range",
                format_args!("fund {i}: [{}, {}]", r.min, r.max),
                "min must not exceed max",
            )
            .into());
        }
        Ok(Self {
            prices,
            fund_risk,
            exposure,
            rule,
            customers,
        })
    }

    /// The prices of `problem`'s funds (its risk levels, ranges, rule and customer count).
    ///
    /// # Errors
    /// As [`FundPrices::new`] (a price count other than F, a non-finite price).
    pub fn for_problem<T: Real>(problem: &AllocationProblem<T>, prices: Vec<f64>) -> Result<Self> {
        Self::new(
            prices,
            problem.fund_risk().to_vec(),
            problem.exposure().to_vec(),
            problem.rule(),
            problem.n_customers() as u64,
        )
    }

    /// `λ_f`, one per fund.
    pub fn prices(&self) -> &[f64] {
        &self.prices
    }

    /// Fund risk levels.
    pub fn fund_risk(&self) -> &[RiskLevel] {
        &self.fund_risk
    }

    /// Fund exposure ranges of the solved problem.
    pub fn exposure(&self) -> &[ExposureRange] {
        &self.exposure
    }

    /// The per-customer rule.
    pub fn rule(&self) -> PerCustomer {
        self.rule
    }

    /// Customers of the solved problem.
    pub fn customers(&self) -> u64 {
        self.customers
    }

    /// F.
    pub fn n_funds(&self) -> usize {
        self.prices.len()
    }
}

/// Assigns arriving customers one at a time at fixed fund prices, in `O(F log F)` each.
///
/// **Rule.** An arriving customer with row `E_u·` and tolerance `t_u` gets its K best funds by
/// reduced revenue `E_uf − λ_f` among the funds it may hold (`t_u ≥ r_f`) that still have
/// remaining exposure (`remaining_f > 0`); with "at most K" only funds with a positive reduced
/// revenue are taken (the exact solver's own rule, so at the offline optimum's prices this is
/// exactly the offline assignment up to ties).
///
/// * **Ties** (equal reduced revenue) go to the lower fund index: deterministic, unlike the
///   offline solver, which spreads ties.
/// * **Exhausted funds** (remaining 0) are skipped, so a fund's maximum is never exceeded;
///   the customer takes its next best fund instead. When fewer than K funds remain open for
///   it (or, for "at most K", fewer have a positive reduced revenue) it gets fewer than K:
///   [`OnlineAllocator::assign`] returns how many, and the caller decides (queue the customer,
///   re-price, or accept). Minimum exposures cannot be guaranteed online: check
///   [`OnlineAllocator::loads`] at the end of the day.
///
/// The prices can be swapped during the day ([`OnlineAllocator::set_prices`]), e.g. after a
/// re-solve on the customers seen so far.
///
/// ```
/// use fundalloc_allocator::prelude::*;
/// use fundalloc_allocator::{Exact, OnlineAllocator};
///
/// let e = RevenueMatrix::from_shape_vec(4, 2, vec![5.0, 1.0, 4.0, 3.0, 1.0, 0.5, 2.0, 2.0])?;
/// let problem = AllocationProblem::builder(e).exactly(1).exposures(vec![2, 2]).build()?;
/// let (_, certificate) = Exact::new().solve_certified(&problem)?;
/// let prices = certificate.prices_for(&problem)?;
/// let mut online = OnlineAllocator::new(&prices);
/// let mut funds = Vec::new();
/// online.assign(&[3.0f64, 2.9], RiskLevel::new(5), &mut funds)?;
/// assert_eq!(funds.len(), 1);
/// # Ok::<(), AllocError>(())
/// ```
#[derive(Debug, Clone)]
pub struct OnlineAllocator {
    prices: Vec<f64>,
    remaining: Vec<u64>,
    loads: Vec<u64>,
    fund_risk: Vec<RiskLevel>,
    /// Eligible-fund mask per tolerance level.
    elig: Box<[u64; 256]>,
    k: usize,
    at_most: bool,
}

impl OnlineAllocator {
    /// An allocator with every fund's remaining exposure at its maximum `max_f`.
    pub fn new(prices: &FundPrices) -> Self {
        let remaining = prices.exposure.iter().map(|r| r.max).collect();
        let mut elig = Box::new([0u64; 256]);
        for (t, m) in elig.iter_mut().enumerate() {
            for (g, r) in prices.fund_risk.iter().enumerate() {
                if usize::from(r.get()) <= t {
                    *m |= 1 << g;
                }
            }
        }
        let (k, at_most) = match prices.rule {
            PerCustomer::Exactly(k) => (k, false),
            PerCustomer::AtMost(k) => (k, true),
        };
        Self {
            prices: prices.prices.clone(),
            remaining,
            loads: vec![0; prices.n_funds()],
            fund_risk: prices.fund_risk.clone(),
            elig,
            k,
            at_most,
        }
    }

    /// Sets every fund's remaining exposure (e.g. `max_f` minus what the morning's solve
    /// already showed).
    ///
    /// # Errors
    /// [`AllocError::ShapeMismatch`](crate::AllocError::ShapeMismatch) unless there is one value per fund.
    pub fn with_remaining(mut self, remaining: Vec<u64>) -> Result<Self> {
        if remaining.len() != self.prices.len() {
            return Err(ShapeMismatch::new(
                "remaining exposures (one per fund)",
                self.prices.len(),
                remaining.len(),
            )
            .into());
        }
        self.remaining = remaining;
        Ok(self)
    }

    /// Replaces the prices (fund count unchanged).
    ///
    /// # Errors
    /// [`AllocError::ShapeMismatch`](crate::AllocError::ShapeMismatch) for another length, [`AllocError::NonFinite`](crate::AllocError::NonFinite) for a NaN or
    /// infinite price.
    pub fn set_prices(&mut self, prices: &[f64]) -> Result<()> {
        if prices.len() != self.prices.len() {
            return Err(ShapeMismatch::new("fund prices", self.prices.len(), prices.len()).into());
        }
        if let Some((i, &v)) = prices.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(NonFinite::at_index("fund prices", i, v).into());
        }
        self.prices.copy_from_slice(prices);
        Ok(())
    }

    /// The current prices.
    pub fn prices(&self) -> &[f64] {
        &self.prices
    }

    /// Remaining exposure per fund.
    pub fn remaining(&self) -> &[u64] {
        &self.remaining
    }

    /// Customers assigned to each fund by this allocator so far.
    pub fn loads(&self) -> &[u64] {
        &self.loads
    }

    /// The fund risk levels.
    pub fn fund_risk(&self) -> &[RiskLevel] {
        &self.fund_risk
    }

    /// Assigns one customer (see the type's rule): clears `funds`, pushes the chosen fund
    /// indices (best first), decrements their remaining exposure and returns how many were
    /// chosen (K, or fewer when too few funds are open to it).
    ///
    /// Complexity: `O(F + K log K)` time (a selection, then a sort of the K chosen), no
    /// allocation once `funds` has capacity K.
    ///
    /// # Errors
    /// [`AllocError::ShapeMismatch`](crate::AllocError::ShapeMismatch) when `row` does not have one revenue per fund,
    /// [`AllocError::NonFinite`](crate::AllocError::NonFinite) for a NaN or infinite revenue (nothing is assigned then).
    pub fn assign<T: Real>(
        &mut self,
        row: &[T],
        tolerance: RiskLevel,
        funds: &mut Vec<u32>,
    ) -> Result<usize> {
        funds.clear();
        let f = self.prices.len();
        if row.len() != f {
            return Err(ShapeMismatch::new("revenue row (one per fund)", f, row.len()).into());
        }
        let open = self.elig[usize::from(tolerance.get())];
        let mut cand = [(0.0f64, 0u8); MAX_PRICED_FUNDS];
        let mut n = 0usize;
        for (g, (&e, &lambda)) in row.iter().zip(&self.prices).enumerate() {
            let e = e.to_f64_lossless();
            if !e.is_finite() {
                return Err(NonFinite::at_index("revenue row", g, e).into());
            }
            if open >> g & 1 == 0 || self.remaining[g] == 0 {
                continue;
            }
            let r = e - lambda;
            if self.at_most && r <= 0.0 {
                continue;
            }
            cand[n] = (r, g as u8);
            n += 1;
        }
        let cand = &mut cand[..n];
        // Best first: larger reduced revenue, then lower fund index (a total order).
        let order = |a: &(f64, u8), b: &(f64, u8)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        let take = self.k.min(n);
        if take == 0 {
            return Ok(0);
        }
        if take == 1 {
            let best = cand.iter().copied().min_by(order).map_or(0, |c| c.1);
            self.take(best as usize, funds);
            return Ok(1);
        }
        if take < n {
            cand.select_nth_unstable_by(take - 1, order);
        }
        let chosen = &mut cand[..take];
        chosen.sort_unstable_by(order);
        for &(_, g) in chosen.iter() {
            self.take(g as usize, funds);
        }
        Ok(take)
    }

    #[inline]
    fn take(&mut self, g: usize, funds: &mut Vec<u32>) {
        self.remaining[g] -= 1;
        self.loads[g] += 1;
        funds.push(g as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prices(p: Vec<f64>, max: Vec<u64>, k: PerCustomer) -> FundPrices {
        let f = p.len();
        FundPrices::new(
            p,
            vec![RiskLevel::new(1); f],
            max.into_iter().map(|m| ExposureRange::new(0, m)).collect(),
            k,
            10,
        )
        .unwrap()
    }

    #[test]
    fn top_k_by_reduced_revenue_skipping_exhausted_funds() {
        let p = prices(vec![0.0, 2.0, 0.5], vec![1, 5, 5], PerCustomer::Exactly(2));
        let mut a = OnlineAllocator::new(&p);
        let mut out = Vec::new();
        // reduced: 3, 2, 2.5 → funds 0, 2
        assert_eq!(
            a.assign(&[3.0f64, 4.0, 3.0], RiskLevel::new(1), &mut out)
                .unwrap(),
            2
        );
        assert_eq!(out, vec![0, 2]);
        // fund 0 is exhausted: reduced 2, 2.5 → 2, 1
        a.assign(&[3.0f64, 4.0, 3.0], RiskLevel::new(1), &mut out)
            .unwrap();
        assert_eq!(out, vec![2, 1]);
        assert_eq!(a.loads(), &[1, 1, 2]);
        assert_eq!(a.remaining(), &[0, 4, 3]);
    }

    #[test]
    fn ties_go_to_the_lower_index_and_at_most_needs_positive_reduced_revenue() {
        let p = prices(vec![1.0, 1.0, 5.0], vec![9, 9, 9], PerCustomer::AtMost(2));
        let mut a = OnlineAllocator::new(&p);
        let mut out = Vec::new();
        assert_eq!(
            a.assign(&[2.0f32, 2.0, 4.0], RiskLevel::new(1), &mut out)
                .unwrap(),
            2
        );
        assert_eq!(out, vec![0, 1]);
        assert_eq!(
            a.assign(&[1.0f32, 0.5, 4.0], RiskLevel::new(1), &mut out)
                .unwrap(),
            0
        );
        assert!(out.is_empty());
    }

    #[test]
    fn hostile_rows_and_prices_are_errors() {
        let p = prices(vec![0.0, 0.0], vec![9, 9], PerCustomer::Exactly(1));
        let mut a = OnlineAllocator::new(&p);
        let mut out = Vec::new();
        assert!(matches!(
            a.assign(&[1.0f64], RiskLevel::new(1), &mut out),
            Err(AllocError::ShapeMismatch(_))
        ));
        assert!(matches!(
            a.assign(&[f64::NAN, 1.0], RiskLevel::new(1), &mut out),
            Err(AllocError::NonFinite(_))
        ));
        assert!(a.set_prices(&[f64::INFINITY, 0.0]).is_err());
        assert!(
            FundPrices::new(
                vec![f64::NAN],
                vec![RiskLevel::new(1)],
                vec![ExposureRange::exact(1)],
                PerCustomer::Exactly(1),
                1
            )
            .is_err()
        );
        assert!(
            FundPrices::new(
                vec![0.0],
                vec![RiskLevel::new(1)],
                vec![ExposureRange::exact(1)],
                PerCustomer::Exactly(2),
                1
            )
            .is_err()
        );
    }

    #[test]
    fn risk_eligibility_is_respected() {
        let p = FundPrices::new(
            vec![0.0, 0.0],
            vec![RiskLevel::new(1), RiskLevel::new(4)],
            vec![ExposureRange::new(0, 9); 2],
            PerCustomer::Exactly(1),
            2,
        )
        .unwrap();
        let mut a = OnlineAllocator::new(&p);
        let mut out = Vec::new();
        a.assign(&[1.0f64, 9.0], RiskLevel::new(2), &mut out)
            .unwrap();
        assert_eq!(out, vec![0]);
        a.assign(&[1.0f64, 9.0], RiskLevel::new(4), &mut out)
            .unwrap();
        assert_eq!(out, vec![1]);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn json_round_trip_and_hostile_json() {
        let p = prices(vec![0.25, -1.5], vec![3, 4], PerCustomer::Exactly(1));
        let json = serde_json::to_string(&p).unwrap();
        let back: FundPrices = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        let bad = json.replace("0.25", "1e999");
        assert!(serde_json::from_str::<FundPrices>(&bad).is_err());
        let bad = json.replace("\"Exactly\":1", "\"Exactly\":0");
        assert!(serde_json::from_str::<FundPrices>(&bad).is_err());
    }
}
