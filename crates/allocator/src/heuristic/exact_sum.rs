//! Exact sums of revenue values, for HA's α.
//!
//! A floating-point sum depends on the order of its terms, so a parallel sum would give
//! different α (and, at a near-tie, a different allocation) with a different number of threads,
//! and a sum updated by subtracting the served customers would drift from the sum over the
//! rest. Every `f32` or `f64` value is an integer multiple of `2^shift` for a `shift` set by the
//! smallest non-zero magnitude of the matrix, so `Σ v = 2^shift · Σ (v · 2^−shift)` with an
//! exact `i128` sum of integers: order-free, and α_f is the exact sum rounded once.

use fundalloc_core_types::Real;
use rayon::prelude::*;

/// Fixed-point scale of one revenue matrix.
#[derive(Debug, Clone, Copy)]
pub(super) struct FixedPoint {
    /// `2^−shift`.
    scale: f64,
    /// `2^shift`.
    unscale: f64,
    /// Every scaled value is below `2^46` in magnitude: a sum of up to [`Self::NARROW_TERMS`]
    /// of them fits an `i64`.
    narrow: bool,
    /// Largest `|E_uf|`.
    pub(super) max_abs: f64,
}

/// `⌊log2 x⌋` of a positive normal `f64`, `None` for a subnormal, zero, ∞ or NaN.
fn floor_log2(x: f64) -> Option<i64> {
    let exp = ((x.to_bits() >> 52) & 0x7FF) as i64;
    (x > 0.0 && exp != 0 && exp != 0x7FF).then_some(exp - 1023)
}

/// `2^e` for a normal exponent.
fn pow2(e: i64) -> Option<f64> {
    (-1022..=1023)
        .contains(&e)
        .then(|| f64::from_bits(((e + 1023) as u64) << 52))
}

impl FixedPoint {
    /// The scale for `values` summed over at most `terms` terms, or `None` if their range does
    /// not fit (then HA sums in floating point, in a fixed order).
    pub(super) fn for_values<T: Real>(values: &[T], terms: usize) -> Option<Self> {
        let (min_nonzero, max_abs) = values
            .par_chunks(1 << 16)
            .map(|chunk| {
                let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
                for v in chunk {
                    let a = v.to_f64_lossless().abs();
                    lo = if a > 0.0 && a < lo { a } else { lo };
                    hi = if a > hi { a } else { hi };
                }
                (lo, hi)
            })
            .reduce(|| (f64::INFINITY, 0.0), |a, b| (a.0.min(b.0), a.1.max(b.1)));
        if max_abs == 0.0 {
            return Some(Self {
                scale: 1.0,
                unscale: 1.0,
                narrow: true,
                max_abs,
            });
        }
        // `Real` is sealed to f32 and f64: 4 bytes means f32 (24-bit significand).
        let digits = if std::mem::size_of::<T>() == 4 {
            24
        } else {
            53
        };
        // Every value is a multiple of 2^shift: its last significand bit is at least that high.
        let shift = floor_log2(min_nonzero)? - (digits - 1);
        let top = floor_log2(max_abs)? + 1;
        let bits = top - shift;
        let term_bits = i64::from(usize::BITS - terms.leading_zeros());
        if bits + term_bits > 126 {
            return None;
        }
        Some(Self {
            scale: pow2(-shift)?,
            unscale: pow2(shift)?,
            narrow: bits <= 46,
            max_abs,
        })
    }

    /// Terms of an `i64` sum of narrow values (`2^16 · 2^46 < 2^63`).
    pub(super) const NARROW_TERMS: usize = 1 << 16;

    /// Whether [`Self::narrow`] applies: every scaled value is below `2^46`.
    pub(super) fn is_narrow(self) -> bool {
        self.narrow
    }

    /// `v · 2^−shift`, exactly.
    #[inline(always)]
    pub(super) fn fixed(self, v: f64) -> i128 {
        (v * self.scale) as i128
    }

    /// `v · 2^−shift`, exactly, for a narrow scale. The integer `x = v · 2^−shift` has
    /// `|x| < 2^46`, so `x + 1.5·2^52` is exact and its bits are those of `1.5·2^52` plus `x`:
    /// a conversion without the scalar-only float-to-integer instruction, so loops vectorise.
    #[inline(always)]
    pub(super) fn narrow(self, v: f64) -> i64 {
        const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 · 2^52
        ((v * self.scale + MAGIC).to_bits() as i64).wrapping_sub(MAGIC.to_bits() as i64)
    }

    /// `2^shift · s`, rounded once.
    pub(super) fn to_f64(self, s: i128) -> f64 {
        s as f64 * self.unscale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_sums_are_exact_and_order_free() {
        // Float sums of these depend on the order; the fixed-point sum does not.
        let values: Vec<f32> = vec![1.0e7, 3.0e-3, -1.0e7, 7.5, 1.0e-4, 0.0, 2.5e-2];
        let fp = FixedPoint::for_values(&values, values.len()).unwrap();
        let forward: i128 = values.iter().map(|&v| fp.fixed(f64::from(v))).sum();
        let backward: i128 = values.iter().rev().map(|&v| fp.fixed(f64::from(v))).sum();
        assert_eq!(forward, backward);
        // Each value round-trips, so the integer sum is the exact sum.
        for &v in &values {
            assert_eq!(fp.to_f64(fp.fixed(f64::from(v))), f64::from(v));
        }
        // 1e7 − 1e7 cancels exactly: the rest is what remains.
        let rest: f64 = [3.0e-3f32, 7.5, 1.0e-4, 2.5e-2]
            .iter()
            .map(|&v| f64::from(v))
            .sum();
        assert!((fp.to_f64(forward) - rest).abs() <= 1e-15 * rest);
    }

    #[test]
    fn narrow_conversion_is_exact() {
        let values: Vec<f32> = vec![886.6085, 1.0e-3, -3.5, 0.0, -0.0, 2.5e-2, 1.0];
        let fp = FixedPoint::for_values(&values, 1 << 20).unwrap();
        assert!(fp.is_narrow());
        for &v in &values {
            assert_eq!(
                i128::from(fp.narrow(f64::from(v))),
                fp.fixed(f64::from(v)),
                "{v}"
            );
        }
    }

    #[test]
    fn out_of_range_values_have_no_fixed_point() {
        // f64 values 2^−60 and 2^60 need 173 bits.
        let values = [2f64.powi(-60), 2f64.powi(60)];
        assert!(FixedPoint::for_values(&values, 2).is_none());
        let zeros = [0.0f32; 4];
        let fp = FixedPoint::for_values(&zeros, 4).unwrap();
        assert_eq!(fp.fixed(0.0), 0);
    }
}
