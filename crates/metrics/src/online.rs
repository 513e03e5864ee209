//! Online A/B metrics of an exposure campaign (PTOFA Eq. 8): CPME and RPME.
//!
//! ```text
//! CPME = #conversions / #exposures × 1000      (conversions per mille exposures)
//! RPME = Σ revenue    / #exposures × 1000      (revenue per mille exposures)
//! ```

use crate::check::{finite, finite_scalar, non_empty, same_len};
use crate::{MetricsError, Real, Result};

/// Conversions per mille exposures, `CPME = conversions / exposures × 1000`.
///
/// # Errors
/// [`ZeroDenominator`](MetricsError::ZeroDenominator) for no exposures,
/// [`ConversionsExceedExposures`](MetricsError::ConversionsExceedExposures).
///
/// ```
/// use fundalloc_metrics::cpme;
/// assert_eq!(cpme(27, 10_000)?, 2.7);
/// # Ok::<(), fundalloc_metrics::MetricsError>(())
/// ```
pub fn cpme(conversions: u64, exposures: u64) -> Result<f64> {
    if exposures == 0 {
        return Err(MetricsError::ZeroDenominator { what: "exposures" });
    }
    if conversions > exposures {
        return Err(MetricsError::ConversionsExceedExposures {
            conversions,
            exposures,
        });
    }
    Ok(conversions as f64 / exposures as f64 * 1000.0)
}

/// Revenue per mille exposures, `RPME = total_revenue / exposures × 1000`.
///
/// # Errors
/// [`ZeroDenominator`](MetricsError::ZeroDenominator) for no exposures,
/// [`NonFinite`](MetricsError::NonFinite) for a NaN or infinite total.
///
/// ```
/// use fundalloc_metrics::rpme;
/// assert_eq!(rpme(1_490.1, 100)?, 14_901.0);
/// # Ok::<(), fundalloc_metrics::MetricsError>(())
/// ```
pub fn rpme(total_revenue: f64, exposures: u64) -> Result<f64> {
    finite_scalar("total_revenue", total_revenue)?;
    if exposures == 0 {
        return Err(MetricsError::ZeroDenominator { what: "exposures" });
    }
    Ok(total_revenue / exposures as f64 * 1000.0)
}

/// Campaign totals and their per-mille rates.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct OnlineMetrics {
    /// Number of exposures.
    pub exposures: u64,
    /// Number of converted exposures.
    pub conversions: u64,
    /// Total revenue.
    pub revenue: f64,
    /// [`cpme`] of the totals.
    pub cpme: f64,
    /// [`rpme`] of the totals.
    pub rpme: f64,
}

/// CPME and RPME from one record per exposure: whether it converted and the revenue it
/// brought (0 when it did not convert).
///
/// # Errors
/// [`Empty`](MetricsError::Empty), [`ShapeMismatch`](MetricsError::ShapeMismatch),
/// [`NonFinite`](MetricsError::NonFinite).
///
/// ```
/// use fundalloc_metrics::online_metrics;
/// let m = online_metrics(&[true, false, false, true], &[10.0, 0.0, 0.0, 30.0])?;
/// assert_eq!((m.cpme, m.rpme), (500.0, 10_000.0));
/// # Ok::<(), fundalloc_metrics::MetricsError>(())
/// ```
pub fn online_metrics<T: Real>(converted: &[bool], revenue: &[T]) -> Result<OnlineMetrics> {
    same_len("revenue", converted.len(), revenue.len())?;
    non_empty("exposures", converted.len())?;
    finite("revenue", revenue)?;
    let exposures = converted.len() as u64;
    let conversions = converted.iter().filter(|&&c| c).count() as u64;
    let total: f64 = revenue.iter().map(|r| r.to_f64_lossless()).sum();
    Ok(OnlineMetrics {
        exposures,
        conversions,
        revenue: total,
        cpme: cpme(conversions, exposures)?,
        rpme: rpme(total, exposures)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fundalloc_core_types::{NonFinite, Position};

    #[test]
    fn errors() {
        assert_eq!(
            cpme(1, 0),
            Err(MetricsError::ZeroDenominator { what: "exposures" })
        );
        assert_eq!(
            cpme(5, 4),
            Err(MetricsError::ConversionsExceedExposures {
                conversions: 5,
                exposures: 4
            })
        );
        assert!(matches!(
            rpme(1.0, 0),
            Err(MetricsError::ZeroDenominator { .. })
        ));
        assert!(matches!(rpme(f64::NAN, 3), Err(MetricsError::NonFinite(_))));
        assert!(matches!(
            online_metrics::<f64>(&[], &[]),
            Err(MetricsError::Empty(_))
        ));
        assert!(matches!(
            online_metrics(&[true], &[1.0, 2.0]),
            Err(MetricsError::ShapeMismatch(_))
        ));
        assert!(matches!(
            online_metrics(&[true, false], &[1.0_f32, f32::INFINITY]),
            Err(MetricsError::NonFinite(NonFinite {
                at: Position::Index(1),
                ..
            }))
        ));
    }

    #[test]
    fn totals() {
        let m = online_metrics(&[false, true, false], &[0.0_f32, 6.0, 0.0]).unwrap();
        assert_eq!(m.exposures, 3);
        assert_eq!(m.conversions, 1);
        assert_eq!(m.revenue, 6.0);
        assert_eq!(m.rpme, 2000.0);
    }
}
