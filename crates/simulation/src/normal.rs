//! The standard normal density, distribution function and quantile function.
//!
//! `Φ(x) = erfc(−x/√2)/2` through `libm`'s `erfc` (accurate in both tails); `Φ⁻¹` is
//! Wichura's algorithm AS 241 (`PPND16`, Applied Statistics 37, 1988), accurate to about
//! 1e-16 relative.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// `φ(x) = exp(−x²/2)/√(2π)`.
pub(crate) fn pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}

/// `Φ(x) = P(Z ≤ x)`.
pub(crate) fn cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * FRAC_1_SQRT_2)
}

/// `Φ⁻¹(p)` for `p` in (0, 1) (AS 241). Callers check the domain; outside it the result is
/// ±∞ or NaN.
// The published AS 241 coefficients, kept digit for digit.
#[allow(clippy::excessive_precision)]
pub(crate) fn quantile(p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q
            * (((((((2_509.080_928_730_122_7 * r + 33_430.575_583_588_128) * r
                + 67_265.770_927_008_7)
                * r
                + 45_921.953_931_549_87)
                * r
                + 13_731.693_765_509_461)
                * r
                + 1_971.590_950_306_551_3)
                * r
                + 133.141_667_891_784_38)
                * r
                + 3.387_132_872_796_366_5)
            / (((((((5_226.495_278_852_545 * r + 28_729.085_735_721_943) * r
                + 39_307.895_800_092_71)
                * r
                + 21_213.794_301_586_597)
                * r
                + 5_394.196_021_424_751)
                * r
                + 687.187_007_492_057_9)
                * r
                + 42.313_330_701_600_91)
                * r
                + 1.0);
    }
    let mut r = if q < 0.0 { p } else { 1.0 - p };
    r = (-r.ln()).sqrt();
    let x = if r <= 5.0 {
        r -= 1.6;
        (((((((7.745_450_142_783_414e-4 * r + 0.022_723_844_989_269_184) * r
            + 0.241_780_725_177_450_6)
            * r
            + 1.270_458_252_452_368_4)
            * r
            + 3.647_848_324_763_204_5)
            * r
            + 5.769_497_221_460_691)
            * r
            + 4.630_337_846_156_546)
            * r
            + 1.423_437_110_749_683_5)
            / (((((((1.050_750_071_644_416_9e-9 * r + 5.475_938_084_995_345e-4) * r
                + 0.015_198_666_563_616_457)
                * r
                + 0.148_103_976_427_480_08)
                * r
                + 0.689_767_334_985_1)
                * r
                + 1.676_384_830_183_803_8)
                * r
                + 2.053_191_626_637_759)
                * r
                + 1.0)
    } else {
        r -= 5.0;
        (((((((2.010_334_399_292_288_1e-7 * r + 2.711_555_568_743_487_6e-5) * r
            + 0.001_242_660_947_388_078_4)
            * r
            + 0.026_532_189_526_576_124)
            * r
            + 0.296_560_571_828_504_9)
            * r
            + 1.784_826_539_917_291_3)
            * r
            + 5.463_784_911_164_114)
            * r
            + 6.657_904_643_501_103)
            / (((((((2.044_263_103_389_939_7e-15 * r + 1.421_511_758_316_446e-7) * r
                + 1.846_318_317_510_054_8e-5)
                * r
                + 7.868_691_311_456_133e-4)
                * r
                + 0.014_875_361_290_850_615)
                * r
                + 0.136_929_880_922_735_8)
                * r
                + 0.599_832_206_555_888)
                * r
                + 1.0)
    };
    if q < 0.0 { -x } else { x }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_inverts_the_cdf() {
        // Reference values: scipy.stats.norm.ppf.
        approx::assert_relative_eq!(quantile(0.975), 1.959_963_984_540_054, epsilon = 1e-15);
        approx::assert_relative_eq!(quantile(0.05), -1.644_853_626_951_472_2, epsilon = 1e-15);
        approx::assert_relative_eq!(quantile(1e-10), -6.361_340_902_404_056, epsilon = 1e-13);
        approx::assert_relative_eq!(quantile(0.5), 0.0);
        for p in [1e-12, 1e-6, 0.01, 0.2, 0.5, 0.7, 0.99, 1.0 - 1e-9] {
            approx::assert_relative_eq!(cdf(quantile(p)), p, max_relative = 1e-12);
        }
        approx::assert_relative_eq!(pdf(0.0), 0.398_942_280_401_432_7, epsilon = 1e-16);
        assert!(quantile(f64::NAN).is_nan() && quantile(1.5).is_nan());
    }
}
