//! Checked parameters: the one way every fundalloc algorithm is configured.
//!
//! The pattern is linfa's `ParamGuard`:
//!
//! * an **unchecked** `XParams` with private fields, `Default` (or `new` with the required
//!   values) and bare `#[must_use]` setters named after the field (`.gamma(0.9)`);
//! * a **checked** `XValidParams` with the same fields and getters, which can only be made by
//!   [`ParamGuard::check`], so holding one proves every field is in its domain;
//! * algorithms take `impl ParamGuard<Checked = XValidParams, Error = E>`, so a caller hands in
//!   either one and the unchecked one is checked automatically;
//! * each bad field is reported as an [`InvalidParameter`](crate::InvalidParameter) that names
//!   it (embedded in the crate's error enum with `#[from]`).
//!
//! ```
//! use fundalloc_core_types::{CoreError, InvalidParameter, ParamGuard, check};
//!
//! /// Unchecked parameters of a toy smoother.
//! #[derive(Debug, Clone, Default)]
//! pub struct SmoothParams(SmoothValidParams);
//!
//! /// Checked parameters of the toy smoother.
//! #[derive(Debug, Clone)]
//! pub struct SmoothValidParams { alpha: f64 }
//! impl Default for SmoothValidParams { fn default() -> Self { Self { alpha: 0.5 } } }
//! impl SmoothValidParams {
//!     /// The smoothing weight, in (0, 1].
//!     pub fn alpha(&self) -> f64 { self.alpha }
//! }
//!
//! impl SmoothParams {
//!     /// Sets the smoothing weight.
//!     #[must_use]
//!     pub fn alpha(mut self, alpha: f64) -> Self { self.0.alpha = alpha; self }
//! }
//!
//! impl ParamGuard for SmoothParams {
//!     type Checked = SmoothValidParams;
//!     type Error = CoreError;
//!     fn check_ref(&self) -> Result<&SmoothValidParams, CoreError> {
//!         check::in_half_open_unit_right("alpha", self.0.alpha)?;
//!         Ok(&self.0)
//!     }
//!     fn check(self) -> Result<SmoothValidParams, CoreError> {
//!         self.check_ref()?;
//!         Ok(self.0)
//!     }
//! }
//! fundalloc_core_types::checked_params!(SmoothValidParams, CoreError);
//!
//! /// The algorithm accepts either kind and checks automatically.
//! fn smooth(xs: &[f64], params: impl ParamGuard<Checked = SmoothValidParams, Error = CoreError>)
//!     -> Result<Vec<f64>, CoreError> {
//!     let p = params.check()?;
//!     let mut s = xs.first().copied().unwrap_or(0.0);
//!     Ok(xs.iter().map(|x| { s = p.alpha() * x + (1.0 - p.alpha()) * s; s }).collect())
//! }
//!
//! assert!(smooth(&[1.0, 2.0], SmoothParams::default().alpha(0.3)).is_ok());
//! let err = smooth(&[1.0], SmoothParams::default().alpha(f64::NAN)).unwrap_err();
//! assert!(matches!(err, CoreError::InvalidParameter(InvalidParameter { name: "alpha", .. })));
//! ```

/// Parameters that are checked before an algorithm uses them (linfa's `ParamGuard`).
///
/// Implemented by every unchecked `XParams` (checks each field) and, through
/// [`checked_params!`](crate::checked_params), by every checked `XValidParams` (always `Ok`),
/// so an algorithm generic over `ParamGuard<Checked = XValidParams>` takes both.
pub trait ParamGuard {
    /// The checked parameters.
    type Checked;
    /// The error of a failed check: the crate's error enum, which embeds
    /// [`InvalidParameter`](crate::InvalidParameter).
    type Error;

    /// Checks every field and borrows the checked parameters.
    ///
    /// # Errors
    /// The first field outside its domain, as the crate's `InvalidParameter` variant.
    fn check_ref(&self) -> Result<&Self::Checked, Self::Error>;

    /// Checks every field and returns the checked parameters.
    ///
    /// # Errors
    /// As [`check_ref`](ParamGuard::check_ref).
    fn check(self) -> Result<Self::Checked, Self::Error>
    where
        Self: Sized;
}

/// Implements [`ParamGuard`] for an already checked parameter type (its check cannot fail),
/// so algorithms that take `impl ParamGuard<Checked = T, Error = E>` accept `T` itself.
///
/// `checked_params!(ValidType, ErrorType);`
#[macro_export]
macro_rules! checked_params {
    ($checked:ty, $error:ty) => {
        impl $crate::ParamGuard for $checked {
            type Checked = $checked;
            type Error = $error;
            fn check_ref(&self) -> ::std::result::Result<&$checked, $error> {
                Ok(self)
            }
            fn check(self) -> ::std::result::Result<$checked, $error> {
                Ok(self)
            }
        }
    };
}

/// Field checks shared by every `check_ref`: each returns the value when it is in its domain
/// and an [`InvalidParameter`](crate::InvalidParameter) naming the field otherwise.
///
/// They exist so that the same domain is worded the same way in every crate (and so that no
/// float parameter escapes a NaN test: `!(x > 0.0)` is true for NaN, `x <= 0.0` is not).
pub mod check {
    use std::time::Duration;

    use crate::InvalidParameter;

    type Checked<T> = Result<T, InvalidParameter>;

    /// `value` is finite (not NaN, not ±∞).
    ///
    /// # Errors
    /// `InvalidParameter` otherwise.
    pub fn finite(name: &'static str, value: f64) -> Checked<f64> {
        if value.is_finite() {
            Ok(value)
        } else {
            Err(InvalidParameter::new(name, value, "must be finite"))
        }
    }

    /// `value` is finite and `> 0`.
    ///
    /// # Errors
    /// `InvalidParameter` otherwise.
    pub fn positive(name: &'static str, value: f64) -> Checked<f64> {
        if value.is_finite() && value > 0.0 {
            Ok(value)
        } else {
            Err(InvalidParameter::new(name, value, "must be finite and > 0"))
        }
    }

    /// `value` is finite and `>= 0`.
    ///
    /// # Errors
    /// `InvalidParameter` otherwise.
    pub fn non_negative(name: &'static str, value: f64) -> Checked<f64> {
        if value.is_finite() && value >= 0.0 {
            Ok(value)
        } else {
            Err(InvalidParameter::new(
                name,
                value,
                "must be finite and >= 0",
            ))
        }
    }

    /// `value` is in the open interval (0, 1) (coverage levels, quantile levels, fractions).
    ///
    /// # Errors
    /// `InvalidParameter` otherwise.
    pub fn in_open_unit(name: &'static str, value: f64) -> Checked<f64> {
        if value > 0.0 && value < 1.0 {
            Ok(value)
        } else {
            Err(InvalidParameter::new(name, value, "must be in (0, 1)"))
        }
    }

    /// `value` is in [0, 1) (dropout, holdout fractions that may be zero).
    ///
    /// # Errors
    /// `InvalidParameter` otherwise.
    pub fn in_half_open_unit_left(name: &'static str, value: f64) -> Checked<f64> {
        if (0.0..1.0).contains(&value) {
            Ok(value)
        } else {
            Err(InvalidParameter::new(name, value, "must be in [0, 1)"))
        }
    }

    /// `value` is in (0, 1] (step sizes, smoothing weights).
    ///
    /// # Errors
    /// `InvalidParameter` otherwise.
    pub fn in_half_open_unit_right(name: &'static str, value: f64) -> Checked<f64> {
        if value > 0.0 && value <= 1.0 {
            Ok(value)
        } else {
            Err(InvalidParameter::new(name, value, "must be in (0, 1]"))
        }
    }

    /// `value` is in [0, 1] (probabilities).
    ///
    /// # Errors
    /// `InvalidParameter` otherwise.
    pub fn probability(name: &'static str, value: f64) -> Checked<f64> {
        if (0.0..=1.0).contains(&value) {
            Ok(value)
        } else {
            Err(InvalidParameter::new(name, value, "must be in [0, 1]"))
        }
    }

    /// A count that must be at least `min`.
    ///
    /// # Errors
    /// `InvalidParameter` otherwise (its reason is fixed text; the value and name say the
    /// rest).
    pub fn at_least(name: &'static str, value: usize, min: usize) -> Checked<usize> {
        if value >= min {
            Ok(value)
        } else if min == 1 {
            Err(InvalidParameter::new(name, value, "must be at least 1"))
        } else {
            Err(InvalidParameter::new(name, value, "is below its minimum"))
        }
    }

    /// The longest duration any fundalloc time limit, timeout or deadline accepts: one year.
    /// Longer values (`Duration::MAX` above all) overflow `Instant + Duration`.
    pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

    /// A duration given in seconds as a float (CLI flags, config files): finite, `> 0` and at
    /// most [`MAX_DURATION`].
    ///
    /// # Errors
    /// `InvalidParameter` otherwise (NaN, ±∞, zero, negative, more than a year).
    pub fn seconds(name: &'static str, secs: f64) -> Checked<Duration> {
        if secs.is_finite() && secs > 0.0 && secs <= MAX_DURATION.as_secs_f64() {
            Ok(Duration::from_secs_f64(secs))
        } else {
            Err(InvalidParameter::new(
                name,
                secs,
                "must be a finite number of seconds > 0 and at most one year",
            ))
        }
    }

    /// A duration that must be non-zero and at most [`MAX_DURATION`].
    ///
    /// # Errors
    /// `InvalidParameter` otherwise.
    pub fn duration(name: &'static str, value: Duration) -> Checked<Duration> {
        if !value.is_zero() && value <= MAX_DURATION {
            Ok(value)
        } else {
            Err(InvalidParameter::new(
                name,
                format_args!("{value:?}"),
                "must be > 0 and at most one year",
            ))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn every_float_check_refuses_nan_and_infinities() {
            type F = fn(&'static str, f64) -> Checked<f64>;
            let checks: [F; 7] = [
                finite,
                positive,
                non_negative,
                in_open_unit,
                in_half_open_unit_left,
                in_half_open_unit_right,
                probability,
            ];
            for check in checks {
                for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                    let err = check("p", bad).unwrap_err();
                    assert_eq!(err.name, "p");
                }
            }
            assert!(seconds("t", f64::NAN).is_err());
            assert!(seconds("t", -1.0).is_err());
            assert!(seconds("t", 0.0).is_err());
            assert!(seconds("t", 1e30).is_err());
            assert_eq!(seconds("t", 1.5).unwrap(), Duration::from_millis(1500));
        }

        #[test]
        fn domains_have_the_documented_ends() {
            assert!(positive("p", 0.0).is_err());
            assert!(non_negative("p", 0.0).is_ok());
            assert!(in_open_unit("p", 0.0).is_err() && in_open_unit("p", 1.0).is_err());
            assert!(in_half_open_unit_left("p", 0.0).is_ok());
            assert!(in_half_open_unit_left("p", 1.0).is_err());
            assert!(in_half_open_unit_right("p", 1.0).is_ok());
            assert!(in_half_open_unit_right("p", 0.0).is_err());
            assert!(probability("p", 0.0).is_ok() && probability("p", 1.0).is_ok());
            assert!(at_least("n", 0, 1).is_err() && at_least("n", 2, 2).is_ok());
            assert!(duration("d", Duration::ZERO).is_err());
            assert!(duration("d", Duration::MAX).is_err());
            assert!(duration("d", Duration::from_secs(1)).is_ok());
        }
    }
}
