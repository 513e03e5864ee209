//! Order-preserving integer keys for floats and an LSD radix sort on them.
//!
//! Sorting `u64` keys instead of `f64` values lets the AUC use a radix sort (linear time, no
//! comparisons) while keeping exact float order and exact ties.

/// Maps a finite `f64` to a `u64` whose unsigned order is the float order.
///
/// `-0.0` and `+0.0` compare equal as floats, so they must get the same key: adding `+0.0`
/// turns `-0.0` into `+0.0` (IEEE 754, round to nearest) and leaves every other value alone.
/// Then the sign bit is flipped for non-negative values, and all bits for negative ones (their
/// magnitude order is reversed).
#[inline]
pub(crate) fn order_key(x: f64) -> u64 {
    let bits = (x + 0.0).to_bits();
    // All ones for a negative value, only the sign bit otherwise (branch-free).
    let flip = (((bits as i64) >> 63) as u64) | (1 << 63);
    bits ^ flip
}

const DIGIT_BITS: usize = 11;
const BUCKETS: usize = 1 << DIGIT_BITS;
const MASK: u64 = (BUCKETS as u64) - 1;
/// ⌈64 / 11⌉ passes cover all bits.
const PASSES: usize = 64_usize.div_ceil(DIGIT_BITS);
/// Below this length the standard library's pattern-defeating quicksort is faster.
const SMALL: usize = 512;

/// Sorts `keys` ascending with a least-significant-digit radix sort (11-bit digits).
///
/// One read pass builds the histograms of all digits; a digit whose values are all equal (for
/// example the sign/exponent digit of scores in a narrow range) is skipped.
pub(crate) fn radix_sort(keys: &mut [u64]) {
    let n = keys.len();
    if n < SMALL {
        keys.sort_unstable();
        return;
    }
    let mut histograms = vec![[0usize; BUCKETS]; PASSES];
    for &k in keys.iter() {
        for (pass, hist) in histograms.iter_mut().enumerate() {
            hist[((k >> (pass * DIGIT_BITS)) & MASK) as usize] += 1;
        }
    }
    let mut scratch = vec![0u64; n];
    let mut data_in_keys = true;
    for (pass, hist) in histograms.iter().enumerate() {
        if hist.contains(&n) {
            continue; // every key has the same digit here: the pass would not move anything
        }
        let shift = pass * DIGIT_BITS;
        if data_in_keys {
            scatter(keys, &mut scratch, hist, shift);
        } else {
            scatter(&scratch, keys, hist, shift);
        }
        data_in_keys = !data_in_keys;
    }
    if !data_in_keys {
        keys.copy_from_slice(&scratch);
    }
}

/// One stable counting-sort pass on the digit at `shift`.
fn scatter(src: &[u64], dst: &mut [u64], hist: &[usize; BUCKETS], shift: usize) {
    let mut offsets = [0usize; BUCKETS];
    let mut running = 0;
    for (offset, &count) in offsets.iter_mut().zip(hist.iter()) {
        *offset = running;
        running += count;
    }
    for &k in src {
        let digit = ((k >> shift) & MASK) as usize;
        dst[offsets[digit]] = k;
        offsets[digit] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_preserve_float_order() {
        let xs = [
            f64::MIN,
            -1e300,
            -2.5,
            -1.0,
            -f64::MIN_POSITIVE,
            -5e-324,
            0.0,
            5e-324,
            f64::MIN_POSITIVE,
            0.1,
            1.0,
            3.0,
            1e300,
            f64::MAX,
        ];
        for w in xs.windows(2) {
            assert!(order_key(w[0]) < order_key(w[1]), "{} vs {}", w[0], w[1]);
        }
    }

    #[test]
    fn signed_zeros_share_a_key() {
        assert_eq!(order_key(-0.0), order_key(0.0));
        assert!(order_key(-5e-324) < order_key(-0.0));
        assert!(order_key(-0.0) < order_key(5e-324));
    }

    #[test]
    fn radix_sort_matches_std_sort() {
        // A cheap deterministic generator (splitmix64) covering every bit of the key.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        for n in [0, 1, 2, 511, 512, 513, 5000] {
            let mut keys: Vec<u64> = (0..n).map(|_| next()).collect();
            // Also many duplicates and constant high digits.
            keys.extend((0..n / 2).map(|i| (i % 7) as u64));
            let mut expected = keys.clone();
            expected.sort_unstable();
            radix_sort(&mut keys);
            assert_eq!(keys, expected, "n = {n}");
        }
    }

    #[test]
    fn radix_sort_of_float_keys_sorts_the_floats() {
        let xs: Vec<f64> = (0..3000)
            .map(|i| ((i * 7919) % 3001) as f64 / 100.0 - 15.0)
            .collect();
        let mut keys: Vec<u64> = xs.iter().map(|&x| order_key(x)).collect();
        radix_sort(&mut keys);
        let mut sorted = xs.clone();
        sorted.sort_by(f64::total_cmp);
        let expected: Vec<u64> = sorted.iter().map(|&x| order_key(x)).collect();
        assert_eq!(keys, expected);
    }
}
