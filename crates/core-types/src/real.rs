//! The floating-point element types the workspace is generic over.

use std::fmt::{Debug, Display};

use num_traits::{Float, FromPrimitive, NumAssign, ToPrimitive};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A real scalar: `f32` or `f64` (sealed).
///
/// Large matrices (10 million customers × 8 funds) are cheaper in `f32`; sums and objectives
/// are always accumulated in `f64` through [`Real::to_f64_lossless`].
pub trait Real:
    Float
    + FromPrimitive
    + ToPrimitive
    + NumAssign
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + sealed::Sealed
{
    /// Widens to `f64` (exact for both `f32` and `f64`).
    fn to_f64_lossless(self) -> f64;
    /// Narrows from `f64` (rounding to nearest for `f32`).
    fn from_f64_lossy(value: f64) -> Self;
}

impl Real for f32 {
    #[inline]
    fn to_f64_lossless(self) -> f64 {
        f64::from(self)
    }
    #[inline]
    fn from_f64_lossy(value: f64) -> Self {
        value as f32
    }
}

impl Real for f64 {
    #[inline]
    fn to_f64_lossless(self) -> f64 {
        self
    }
    #[inline]
    fn from_f64_lossy(value: f64) -> Self {
        value
    }
}
