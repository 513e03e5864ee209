//! The real discrete Fourier transform as a matrix product, shared by TimesNet and FEDformer.
//!
//! Burn has no FFT. At the lengths these models see (a lookback plus a horizon, a few hundred
//! steps) a DFT written as `X = x·B` with a precomputed `[n, F]` basis costs O(n·F) per row,
//! is exact up to the float rounding of the basis, and is differentiable through burn's
//! ordinary matmul backward, on every backend, with no custom op. An FFT would be O(n log n)
//! but needs complex tensors and a hand-written backward pass.
//!
//! For a real series `x` of length `n` and a frequency `f` (0 ≤ f ≤ n/2):
//!
//! ```text
//! Re X_f =  Σ_t x_t cos(2π f t / n)        Im X_f = −Σ_t x_t sin(2π f t / n)
//! ```
//!
//! and the inverse of a half spectrum (`numpy.fft.irfft` with the given frequencies, all others
//! zero; the imaginary parts at f = 0 and f = n/2 are ignored, as there):
//!
//! ```text
//! x_t = (1/n) Σ_f w_f (Re X_f cos(2π f t / n) − Im X_f sin(2π f t / n)),
//! w_f = 1 for f = 0 and f = n/2 (n even), 2 otherwise.
//! ```

use burn::tensor::{Tensor, TensorData};

/// The basis of a real DFT of length `n` restricted to `freqs` (all < n/2 + 1), kept on the
/// host as `f32` and turned into tensors on the input's device at each call.
#[derive(Debug, Clone)]
pub(crate) struct Dft {
    n: usize,
    freqs: Vec<usize>,
    /// Forward basis `[n, F]`: cos and −sin.
    cos: Vec<f32>,
    neg_sin: Vec<f32>,
    /// Inverse basis `[F, n]`: `w_f cos / n` and `−w_f sin / n`.
    inv_cos: Vec<f32>,
    inv_neg_sin: Vec<f32>,
}

/// `cos(2π f t / n)` and `sin(2π f t / n)` with the angle reduced mod n first (exact phases).
fn angle(f: usize, t: usize, n: usize) -> (f64, f64) {
    let k = (f as u128 * t as u128 % n as u128) as f64;
    let theta = 2.0 * std::f64::consts::PI * k / n as f64;
    (theta.cos(), theta.sin())
}

/// The inverse weight `w_f` of the half spectrum.
fn inverse_weight(f: usize, n: usize) -> f64 {
    if f == 0 || (n.is_multiple_of(2) && f == n / 2) {
        1.0
    } else {
        2.0
    }
}

impl Dft {
    /// The basis for all `n/2 + 1` frequencies of `numpy.fft.rfft`.
    pub(crate) fn full(n: usize) -> Self {
        Self::with_freqs(n, (0..n / 2 + 1).collect())
    }

    /// The basis for the given frequencies only (each must be ≤ n/2; callers guarantee it).
    pub(crate) fn with_freqs(n: usize, freqs: Vec<usize>) -> Self {
        let nf = freqs.len();
        let mut cos = vec![0.0f32; n * nf];
        let mut neg_sin = vec![0.0f32; n * nf];
        let mut inv_cos = vec![0.0f32; nf * n];
        let mut inv_neg_sin = vec![0.0f32; nf * n];
        for t in 0..n {
            for (j, &f) in freqs.iter().enumerate() {
                let (c, s) = angle(f, t, n);
                cos[t * nf + j] = c as f32;
                neg_sin[t * nf + j] = (-s) as f32;
                let w = inverse_weight(f, n) / n as f64;
                inv_cos[j * n + t] = (w * c) as f32;
                inv_neg_sin[j * n + t] = (-w * s) as f32;
            }
        }
        Self {
            n,
            freqs,
            cos,
            neg_sin,
            inv_cos,
            inv_neg_sin,
        }
    }

    /// The frequencies this basis covers, in order.
    pub(crate) fn freqs(&self) -> &[usize] {
        &self.freqs
    }

    /// `(Re X, Im X)`, each `[rows, F]`, of the rows of `x` (`[rows, n]`). O(rows·n·F).
    pub(crate) fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let device = x.device();
        let shape = [self.n, self.freqs.len()];
        let cos = Tensor::<2>::from_data(TensorData::new(self.cos.clone(), shape), &device);
        let sin = Tensor::<2>::from_data(TensorData::new(self.neg_sin.clone(), shape), &device);
        (x.clone().matmul(cos), x.matmul(sin))
    }

    /// The real series `[rows, n]` whose half spectrum is `(re, im)` (`[rows, F]`) on this
    /// basis's frequencies and zero elsewhere. O(rows·n·F).
    pub(crate) fn inverse(&self, re: Tensor<2>, im: Tensor<2>) -> Tensor<2> {
        let device = re.device();
        let shape = [self.freqs.len(), self.n];
        let cos = Tensor::<2>::from_data(TensorData::new(self.inv_cos.clone(), shape), &device);
        let sin = Tensor::<2>::from_data(TensorData::new(self.inv_neg_sin.clone(), shape), &device);
        re.matmul(cos) + im.matmul(sin)
    }

    /// The same transform on the host in f64 (tests compare it with a naive complex DFT).
    #[cfg(test)]
    pub(crate) fn forward_f64(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let mut re = vec![0.0; self.freqs.len()];
        let mut im = vec![0.0; self.freqs.len()];
        for (j, &f) in self.freqs.iter().enumerate() {
            for (t, &v) in x.iter().enumerate() {
                let (c, s) = angle(f, t, self.n);
                re[j] += v * c;
                im[j] -= v * s;
            }
        }
        (re, im)
    }

    /// The inverse on the host in f64.
    #[cfg(test)]
    pub(crate) fn inverse_f64(&self, re: &[f64], im: &[f64]) -> Vec<f64> {
        (0..self.n)
            .map(|t| {
                self.freqs
                    .iter()
                    .enumerate()
                    .map(|(j, &f)| {
                        let (c, s) = angle(f, t, self.n);
                        inverse_weight(f, self.n) * (re[j] * c - im[j] * s) / self.n as f64
                    })
                    .sum()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    /// The textbook O(n²) complex DFT `X_f = Σ_t x_t e^{−2πi f t/n}` with unreduced angles.
    fn naive(x: &[f64]) -> Vec<(f64, f64)> {
        let n = x.len();
        (0..n / 2 + 1)
            .map(|f| {
                x.iter().enumerate().fold((0.0, 0.0), |(re, im), (t, &v)| {
                    let theta = -2.0 * std::f64::consts::PI * (f * t) as f64 / n as f64;
                    (re + v * theta.cos(), im + v * theta.sin())
                })
            })
            .collect()
    }

    fn series(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
    }

    #[test]
    fn dft_matches_the_naive_transform_and_inverts() {
        for n in [1, 2, 3, 7, 8, 31, 64, 150, 180] {
            let x = series(n, n as u64);
            let dft = Dft::full(n);
            let (re, im) = dft.forward_f64(&x);
            for (f, &(nr, ni)) in naive(&x).iter().enumerate() {
                assert!((re[f] - nr).abs() < 1e-9, "n {n} f {f}: {} vs {nr}", re[f]);
                assert!((im[f] - ni).abs() < 1e-9, "n {n} f {f}: {} vs {ni}", im[f]);
            }
            let back = dft.inverse_f64(&re, &im);
            for (a, b) in back.iter().zip(&x) {
                assert!((a - b).abs() < 1e-9, "n {n}: inverse {a} vs {b}");
            }
        }
    }

    #[test]
    fn tensor_dft_agrees_with_f64_and_inverts() {
        let device = Device::flex();
        for n in [5, 16, 45] {
            let rows = 3;
            let x: Vec<f64> = series(n * rows, 99);
            let dft = Dft::full(n);
            let t = Tensor::<2>::from_data(
                TensorData::new(x.iter().map(|&v| v as f32).collect::<Vec<_>>(), [rows, n]),
                &device,
            );
            let (re, im) = dft.forward(t);
            let re_v: Vec<f32> = re.clone().into_data().try_to_vec::<f32>().unwrap();
            let im_v: Vec<f32> = im.clone().into_data().try_to_vec::<f32>().unwrap();
            let nf = n / 2 + 1;
            for r in 0..rows {
                let (er, ei) = dft.forward_f64(&x[r * n..(r + 1) * n]);
                for f in 0..nf {
                    assert!((f64::from(re_v[r * nf + f]) - er[f]).abs() < 1e-4);
                    assert!((f64::from(im_v[r * nf + f]) - ei[f]).abs() < 1e-4);
                }
            }
            let back: Vec<f32> = dft.inverse(re, im).into_data().try_to_vec::<f32>().unwrap();
            for (a, b) in back.iter().zip(&x) {
                assert!((f64::from(*a) - b).abs() < 1e-5, "n {n}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn partial_basis_keeps_only_its_frequencies() {
        // A pure cosine at frequency 3 survives a basis holding 3 and vanishes from one without.
        let n = 24;
        let x: Vec<f64> = (0..n)
            .map(|t| (2.0 * std::f64::consts::PI * 3.0 * t as f64 / n as f64).cos())
            .collect();
        let with = Dft::with_freqs(n, vec![1, 3, 5]);
        let (re, im) = with.forward_f64(&x);
        let back = with.inverse_f64(&re, &im);
        for (a, b) in back.iter().zip(&x) {
            assert!((a - b).abs() < 1e-9);
        }
        let without = Dft::with_freqs(n, vec![1, 2, 4]);
        let (re, im) = without.forward_f64(&x);
        assert!(without.inverse_f64(&re, &im).iter().all(|v| v.abs() < 1e-9));
    }
}
