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

/// Digit width of the most-significant-digit split (2048 buckets).
const MSD_BITS: u32 = 11;
/// Digit width of the in-cache least-significant-digit passes (256 buckets).
const LSD_BITS: u32 = 8;
/// Below this length the standard library's pattern-defeating quicksort is faster.
const SMALL: usize = 256;
/// Slices up to this length (128 KiB of keys) fit in the L2 cache: LSD passes there are cheap.
const IN_CACHE: usize = 1 << 14;

/// Sorts `keys` ascending: a cache-aware radix sort.
///
/// Large slices are split by their most significant *varying* 11-bit digit (bits above it are
/// shared by all keys: read off `min ^ max`) into up to 2048 buckets, each sorted recursively.
/// Once a bucket fits in cache it is sorted by 8-bit LSD counting passes over the bits below
/// its shared prefix, skipping digits that are constant. Every step is a stable counting sort,
/// so the whole sort is exact; it needs one scratch buffer of the same length.
pub(crate) fn radix_sort(keys: &mut [u64]) {
    let mut scratch = vec![0u64; keys.len()];
    sort(keys, &mut scratch);
}

/// Sorts `keys` in place, using `scratch` (same length) as work space.
fn sort(keys: &mut [u64], scratch: &mut [u64]) {
    let n = keys.len();
    if n < SMALL {
        keys.sort_unstable();
        return;
    }
    let (min, max) = keys
        .iter()
        .fold((u64::MAX, 0), |(lo, hi), &k| (lo.min(k), hi.max(k)));
    if min == max {
        return;
    }
    // Highest bit where keys differ; everything above it is a shared prefix.
    let top = 63 - (min ^ max).leading_zeros();
    if n <= IN_CACHE {
        lsd(keys, scratch, top + 1);
        return;
    }
    let shift = (top + 1).saturating_sub(MSD_BITS);
    let mask = (1u64 << (top + 1 - shift)) - 1;
    let mut counts = vec![0usize; 1 << MSD_BITS];
    for &k in keys.iter() {
        counts[((k >> shift) & mask) as usize] += 1;
    }
    let mut offsets = vec![0usize; counts.len()];
    let mut running = 0;
    for (offset, &count) in offsets.iter_mut().zip(&counts) {
        *offset = running;
        running += count;
    }
    for &k in keys.iter() {
        let digit = ((k >> shift) & mask) as usize;
        scratch[offsets[digit]] = k;
        offsets[digit] += 1;
    }
    // Sort each bucket (now in `scratch`) using the matching part of `keys` as work space.
    let (mut rest_scratch, mut rest_keys) = (&mut scratch[..], &mut keys[..]);
    for &count in &counts {
        let (bucket, s_tail) = std::mem::take(&mut rest_scratch).split_at_mut(count);
        let (work, k_tail) = std::mem::take(&mut rest_keys).split_at_mut(count);
        if shift > 0 {
            sort(bucket, work);
        }
        (rest_scratch, rest_keys) = (s_tail, k_tail);
    }
    keys.copy_from_slice(scratch);
}

/// LSD radix sort on bits `0..bits` (higher bits are equal in all keys), 8 bits per pass.
fn lsd(keys: &mut [u64], scratch: &mut [u64], bits: u32) {
    const BUCKETS: usize = 1 << LSD_BITS;
    let passes = bits.div_ceil(LSD_BITS) as usize;
    let mut histograms = [[0u32; BUCKETS]; 8];
    for &k in keys.iter() {
        for (pass, hist) in histograms[..passes].iter_mut().enumerate() {
            hist[((k >> (pass * LSD_BITS as usize)) & (BUCKETS as u64 - 1)) as usize] += 1;
        }
    }
    let n = keys.len() as u32;
    let mut data_in_keys = true;
    for (pass, hist) in histograms[..passes].iter().enumerate() {
        if hist.contains(&n) {
            continue; // this digit is the same in every key
        }
        let mut offsets = [0u32; BUCKETS];
        let mut running = 0;
        for (offset, &count) in offsets.iter_mut().zip(hist.iter()) {
            *offset = running;
            running += count;
        }
        let shift = pass * LSD_BITS as usize;
        let (src, dst): (&[u64], &mut [u64]) = if data_in_keys {
            (keys, scratch)
        } else {
            (scratch, keys)
        };
        for &k in src {
            let digit = ((k >> shift) & (BUCKETS as u64 - 1)) as usize;
            dst[offsets[digit] as usize] = k;
            offsets[digit] += 1;
        }
        data_in_keys = !data_in_keys;
    }
    if !data_in_keys {
        keys.copy_from_slice(scratch);
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
        for n in [0, 1, 2, 255, 256, 257, 5000, 40_000] {
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
    fn skewed_float_keys_through_the_msd_split() {
        // 60k squashed values (most share a few exponents) with exact duplicates and both signs.
        let xs: Vec<f64> = (0..60_000)
            .map(|i| {
                let z = ((i * 7919) % 60_001) as f64 / 6_000.0 - 5.0;
                let s = 1.0 / (1.0 + (-z).exp());
                if i % 3 == 0 {
                    (s * 100.0).round() / 100.0
                } else {
                    s - 0.5
                }
            })
            .collect();
        let mut keys: Vec<u64> = xs.iter().map(|&x| order_key(x)).collect();
        let mut expected = keys.clone();
        expected.sort_unstable();
        radix_sort(&mut keys);
        assert_eq!(keys, expected);
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
