//! Assignments of funds to customers.

use crate::{CoreError, InvalidParameter, Real, Result, RevenueMatrix, ShapeMismatch};

/// Which funds each customer is shown: customer `u` gets the distinct fund indices
/// [`funds_of(u)`](Allocation::funds_of).
///
/// Stored compactly (one offsets array and one fund-index array, no per-customer `Vec`), so an
/// allocation of 10 M customers costs about 120 MB at K = 1. The constructors check that every
/// fund index is below `n_funds` and that no customer gets the same fund twice; whether the
/// allocation respects a problem's constraints is the allocator's verifier's job.
///
/// ```
/// use fundalloc_core_types::{Allocation, RevenueMatrix};
/// let e = RevenueMatrix::from_shape_vec(2, 2, vec![3.0, 1.0, 0.5, 2.0])?;
/// let x = Allocation::from_fixed_k(2, 1, 2, vec![0, 1])?; // customer 0 → fund 0, 1 → fund 1
/// assert_eq!(x.objective(&e)?, 5.0);
/// assert_eq!(x.exposure_counts(), vec![1, 1]);
/// # Ok::<(), fundalloc_core_types::CoreError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Allocation {
    n_funds: usize,
    offsets: Vec<usize>,
    funds: Vec<u32>,
}

impl Allocation {
    /// Every customer gets exactly `k` funds: `funds` holds customer 0's `k` fund indices, then
    /// customer 1's, and so on (`n_customers × k` values).
    pub fn from_fixed_k(
        n_customers: usize,
        k: usize,
        n_funds: usize,
        funds: Vec<u32>,
    ) -> Result<Self> {
        if funds.len() != n_customers * k {
            return Err(ShapeMismatch::new(
                "fixed-K allocation",
                format_args!("{n_customers} customers × {k} funds = {}", n_customers * k),
                format_args!("{} fund indices", funds.len()),
            )
            .into());
        }
        let offsets = (0..=n_customers).map(|u| u * k).collect();
        let allocation = Self {
            n_funds,
            offsets,
            funds,
        };
        allocation.validate()?;
        Ok(allocation)
    }

    /// Builds from one list of fund indices per customer (lists may differ in length).
    pub fn from_rows<R, I>(n_funds: usize, rows: R) -> Result<Self>
    where
        R: IntoIterator<Item = I>,
        I: IntoIterator<Item = u32>,
    {
        let mut offsets = vec![0];
        let mut funds = Vec::new();
        for row in rows {
            funds.extend(row);
            offsets.push(funds.len());
        }
        let allocation = Self {
            n_funds,
            offsets,
            funds,
        };
        allocation.validate()?;
        Ok(allocation)
    }

    /// Builds from raw compressed rows: customer `u`'s funds are `funds[offsets[u]..offsets[u + 1]]`.
    pub fn from_compressed(n_funds: usize, offsets: Vec<usize>, funds: Vec<u32>) -> Result<Self> {
        if offsets.first() != Some(&0)
            || offsets.last() != Some(&funds.len())
            || offsets.windows(2).any(|w| w[0] > w[1])
        {
            return Err(ShapeMismatch::new(
                "allocation offsets",
                format_args!("non-decreasing offsets from 0 to {}", funds.len()),
                format_args!("{} offsets", offsets.len()),
            )
            .into());
        }
        let allocation = Self {
            n_funds,
            offsets,
            funds,
        };
        allocation.validate()?;
        Ok(allocation)
    }

    fn validate(&self) -> Result<()> {
        for u in 0..self.n_customers() {
            let row = self.funds_of(u);
            for (i, &f) in row.iter().enumerate() {
                if f as usize >= self.n_funds {
                    return Err(CoreError::IndexOutOfRange {
                        what: "fund",
                        index: f as usize,
                        len: self.n_funds,
                    });
                }
                if row[..i].contains(&f) {
                    return Err(InvalidParameter::new(
                        "allocation",
                        format_args!("customer {u} gets fund {f} twice"),
                        "a customer's funds must be distinct",
                    )
                    .into());
                }
            }
        }
        Ok(())
    }

    /// Number of customers.
    pub fn n_customers(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of funds the indices refer to.
    pub fn n_funds(&self) -> usize {
        self.n_funds
    }

    /// Total number of (customer, fund) exposures.
    pub fn n_assignments(&self) -> usize {
        self.funds.len()
    }

    /// The fund indices of customer `u`.
    ///
    /// # Panics
    /// If `u >= n_customers()` (like slice indexing).
    pub fn funds_of(&self, u: usize) -> &[u32] {
        &self.funds[self.offsets[u]..self.offsets[u + 1]]
    }

    /// `(customer, funds)` for every customer in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (usize, &[u32])> + '_ {
        (0..self.n_customers()).map(move |u| (u, self.funds_of(u)))
    }

    /// How many customers each fund is shown to.
    pub fn exposure_counts(&self) -> Vec<u64> {
        let mut counts = vec![0u64; self.n_funds];
        for &f in &self.funds {
            counts[f as usize] += 1;
        }
        counts
    }

    /// Σ over assigned pairs of `E[u, f]`, accumulated in `f64`.
    ///
    /// Errors if the revenue matrix has another number of customers or funds.
    pub fn objective<T: Real>(&self, revenue: &RevenueMatrix<T>) -> Result<f64> {
        if revenue.n_customers() != self.n_customers() || revenue.n_funds() != self.n_funds {
            return Err(ShapeMismatch::new(
                "allocation vs revenue matrix",
                format_args!("{} × {}", self.n_customers(), self.n_funds),
                format_args!("{} × {}", revenue.n_customers(), revenue.n_funds()),
            )
            .into());
        }
        Ok(self
            .iter()
            .map(|(u, funds)| {
                let row = revenue.row(u);
                funds
                    .iter()
                    .map(|&f| row[f as usize].to_f64_lossless())
                    .sum::<f64>()
            })
            .sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_check_indices_and_duplicates() {
        assert!(matches!(
            Allocation::from_fixed_k(2, 1, 2, vec![0, 2]),
            Err(CoreError::IndexOutOfRange {
                index: 2,
                len: 2,
                ..
            })
        ));
        assert!(matches!(
            Allocation::from_fixed_k(2, 2, 3, vec![0, 1, 2]),
            Err(CoreError::ShapeMismatch(_))
        ));
        assert!(matches!(
            Allocation::from_rows(3, [vec![0, 0]]),
            Err(CoreError::InvalidParameter(_))
        ));
        assert!(Allocation::from_compressed(3, vec![0, 2, 1], vec![0]).is_err());
        let ragged = Allocation::from_rows(3, [vec![2, 0], vec![], vec![1]]).unwrap();
        assert_eq!(ragged.funds_of(0), &[2, 0]);
        assert!(ragged.funds_of(1).is_empty());
        assert_eq!(ragged.exposure_counts(), vec![1, 1, 1]);
        assert_eq!(ragged.n_assignments(), 3);
    }

    #[test]
    fn objective_sums_assigned_revenue_and_checks_shape() {
        let e = RevenueMatrix::from_shape_vec(2, 3, vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let x = Allocation::from_rows(3, [vec![2, 0], vec![1]]).unwrap();
        assert_eq!(x.objective(&e).unwrap(), 3.0 + 1.0 + 5.0);
        let wrong = Allocation::from_rows(2, [vec![0], vec![1]]).unwrap();
        assert!(matches!(
            wrong.objective(&e),
            Err(CoreError::ShapeMismatch(_))
        ));
    }
}
