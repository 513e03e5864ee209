//! Solution quality of an optimiser: objective ratio and constraint-satisfaction rate.

use crate::check::{finite_scalar, non_empty, paired};
use fundalloc_core_types::check;

use crate::{MetricsError, Real, Result};

/// `achieved / optimal`: the share of the optimal objective a heuristic reaches (the PTOFA
/// paper reports HA at 98.75 % of the integer optimum).
///
/// # Errors
/// [`NonFinite`](MetricsError::NonFinite) for a NaN or infinite argument,
/// [`ZeroDenominator`](MetricsError::ZeroDenominator) when `optimal = 0`.
///
/// ```
/// use fundalloc_metrics::objective_ratio;
/// assert_eq!(objective_ratio(79.0, 80.0)?, 0.9875);
/// # Ok::<(), fundalloc_metrics::MetricsError>(())
/// ```
pub fn objective_ratio(achieved: f64, optimal: f64) -> Result<f64> {
    finite_scalar("achieved", achieved)?;
    finite_scalar("optimal", optimal)?;
    if optimal == 0.0 {
        return Err(MetricsError::ZeroDenominator {
            what: "optimal objective",
        });
    }
    Ok(achieved / optimal)
}

/// The sense of a constraint `lhs ⋄ rhs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConstraintSense {
    /// `lhs ≤ rhs + tol`.
    LessEq,
    /// `lhs ≥ rhs − tol`.
    GreaterEq,
    /// `|lhs − rhs| ≤ tol`.
    Equal,
}

/// Fraction of constraints `lhsᵢ ⋄ rhsᵢ` that hold within `tolerance`:
/// `(1/m) Σᵢ 1[lhsᵢ ⋄ rhsᵢ ± tol]` (for example the RTS-PnO risk budget `Σ_h r_h·a_h ≤ r̄` over
/// test windows, or the exposure counts `Σ_u X_uf = d_f` over funds).
///
/// # Errors
/// [`Empty`](MetricsError::Empty), [`ShapeMismatch`](MetricsError::ShapeMismatch),
/// [`NonFinite`](MetricsError::NonFinite), and
/// [`InvalidParameter`](MetricsError::InvalidParameter) for a negative or non-finite tolerance.
///
/// ```
/// use fundalloc_metrics::{constraint_satisfaction_rate, ConstraintSense};
/// let risk = [0.8, 1.2, 0.9, 1.0];
/// let budget = [1.0; 4];
/// assert_eq!(constraint_satisfaction_rate(&risk, ConstraintSense::LessEq, &budget, 1e-9)?, 0.75);
/// # Ok::<(), fundalloc_metrics::MetricsError>(())
/// ```
pub fn constraint_satisfaction_rate<T: Real>(
    lhs: &[T],
    sense: ConstraintSense,
    rhs: &[T],
    tolerance: f64,
) -> Result<f64> {
    paired("lhs", lhs, "rhs", rhs)?;
    check::non_negative("tolerance", tolerance)?;
    let holds = |l: f64, r: f64| match sense {
        ConstraintSense::LessEq => l <= r + tolerance,
        ConstraintSense::GreaterEq => l >= r - tolerance,
        ConstraintSense::Equal => (l - r).abs() <= tolerance,
    };
    let satisfied = lhs
        .iter()
        .zip(rhs)
        .filter(|&(l, r)| holds(l.to_f64_lossless(), r.to_f64_lossless()))
        .count();
    Ok(satisfied as f64 / lhs.len() as f64)
}

/// Fraction of `true` flags, `(1/m) Σᵢ 1[satisfiedᵢ]`, for constraints checked elsewhere.
///
/// # Errors
/// [`Empty`](MetricsError::Empty).
pub fn satisfaction_rate(satisfied: &[bool]) -> Result<f64> {
    non_empty("satisfied", satisfied.len())?;
    Ok(satisfied.iter().filter(|&&s| s).count() as f64 / satisfied.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senses() {
        let l = [1.0, 2.0, 3.0];
        let r = [2.0; 3];
        let rate = |s| constraint_satisfaction_rate(&l, s, &r, 0.0).unwrap();
        assert_eq!(rate(ConstraintSense::LessEq), 2.0 / 3.0);
        assert_eq!(rate(ConstraintSense::GreaterEq), 2.0 / 3.0);
        assert_eq!(rate(ConstraintSense::Equal), 1.0 / 3.0);
        assert_eq!(
            constraint_satisfaction_rate(&l, ConstraintSense::Equal, &r, 1.0).unwrap(),
            1.0
        );
        assert_eq!(satisfaction_rate(&[true, false]).unwrap(), 0.5);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            objective_ratio(1.0, 0.0),
            Err(MetricsError::ZeroDenominator { .. })
        ));
        assert!(matches!(
            objective_ratio(f64::NAN, 1.0),
            Err(MetricsError::NonFinite(_))
        ));
        assert!(matches!(
            constraint_satisfaction_rate(&[1.0], ConstraintSense::LessEq, &[1.0], -1.0),
            Err(MetricsError::InvalidParameter(_))
        ));
        assert!(matches!(
            constraint_satisfaction_rate(&[1.0], ConstraintSense::LessEq, &[1.0, 2.0], 0.0),
            Err(MetricsError::ShapeMismatch(_))
        ));
        assert!(matches!(
            constraint_satisfaction_rate::<f32>(&[], ConstraintSense::Equal, &[], 0.0),
            Err(MetricsError::Empty(_))
        ));
        assert!(matches!(
            constraint_satisfaction_rate(&[f64::NAN], ConstraintSense::Equal, &[1.0], 0.0),
            Err(MetricsError::NonFinite(_))
        ));
        assert!(matches!(
            satisfaction_rate(&[]),
            Err(MetricsError::Empty(_))
        ));
    }
}
