//! TimesNet (Wu et al. 2023, "TimesNet: Temporal 2D-Variation Modeling for General Time Series
//! Analysis"), the long-term forecasting variant of the Time-Series-Library, for one series.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv1d, Conv1dConfig, Conv2d, Conv2dConfig};
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::Device;
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::module::conv2d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Int, Tensor, TensorData};
use fundalloc_core_types::{ParamGuard, TooLarge, WindowSpec, check};

use super::dft::Dft;
use super::{Forecaster, ForecasterParams, MAX_FORECASTER_WEIGHTS};
use crate::error::{PnoError, Result};

/// TimesNet parameters (unchecked); [`ParamGuard::check`] validates them. The defaults are the
/// Time-Series-Library's long-term forecasting settings (its exchange-rate script, the
/// financial data set among its benchmarks): d_model 64, d_ff 64, 2 TimesBlocks, top-k 5
/// periods, 6 inception kernels (1×1 … 11×11), dropout 0.1, instance normalisation on.
///
/// ```
/// use fundalloc_timeseries_pno::{ParamGuard, TimesNetParams};
/// let params = TimesNetParams::default().d_model(8).d_ff(8).top_k(2).check()?;
/// assert_eq!(params.top_k(), 2);
/// assert!(TimesNetParams::default().num_kernels(0).check().is_err());
/// assert!(TimesNetParams::default().dropout(1.0).check().is_err());
/// # Ok::<(), fundalloc_timeseries_pno::PnoError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimesNetParams(TimesNetValidParams);

/// Checked TimesNet parameters, made only by [`ParamGuard::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct TimesNetValidParams {
    d_model: usize,
    d_ff: usize,
    e_layers: usize,
    top_k: usize,
    num_kernels: usize,
    dropout: f64,
    normalize: bool,
}

impl Default for TimesNetValidParams {
    fn default() -> Self {
        Self {
            d_model: 64,
            d_ff: 64,
            e_layers: 2,
            top_k: 5,
            num_kernels: 6,
            dropout: 0.1,
            normalize: true,
        }
    }
}

impl TimesNetParams {
    /// Embedding width (channels of the 2-D feature maps).
    #[must_use]
    pub fn d_model(mut self, d_model: usize) -> Self {
        self.0.d_model = d_model;
        self
    }

    /// Hidden channels between the two inception blocks of a TimesBlock.
    #[must_use]
    pub fn d_ff(mut self, d_ff: usize) -> Self {
        self.0.d_ff = d_ff;
        self
    }

    /// Number of TimesBlocks.
    #[must_use]
    pub fn e_layers(mut self, e_layers: usize) -> Self {
        self.0.e_layers = e_layers;
        self
    }

    /// Periods per TimesBlock (the k largest DFT amplitudes; at most (M+H)/2 are used).
    #[must_use]
    pub fn top_k(mut self, top_k: usize) -> Self {
        self.0.top_k = top_k;
        self
    }

    /// 2-D kernels per inception block: sizes 1, 3, …, 2·num_kernels − 1.
    #[must_use]
    pub fn num_kernels(mut self, num_kernels: usize) -> Self {
        self.0.num_kernels = num_kernels;
        self
    }

    /// Dropout of the embedding, in [0, 1).
    #[must_use]
    pub fn dropout(mut self, dropout: f64) -> Self {
        self.0.dropout = dropout;
        self
    }

    /// Per-window instance normalisation (subtract the mean, divide by the standard deviation,
    /// undone on the output) on/off.
    #[must_use]
    pub fn normalize(mut self, normalize: bool) -> Self {
        self.0.normalize = normalize;
        self
    }
}

impl TimesNetValidParams {
    /// Embedding width.
    pub fn d_model(&self) -> usize {
        self.d_model
    }

    /// Hidden channels of a TimesBlock.
    pub fn d_ff(&self) -> usize {
        self.d_ff
    }

    /// Number of TimesBlocks.
    pub fn e_layers(&self) -> usize {
        self.e_layers
    }

    /// Periods per TimesBlock.
    pub fn top_k(&self) -> usize {
        self.top_k
    }

    /// 2-D kernels per inception block.
    pub fn num_kernels(&self) -> usize {
        self.num_kernels
    }

    /// Dropout of the embedding.
    pub fn dropout(&self) -> f64 {
        self.dropout
    }

    /// Instance normalisation on/off.
    pub fn normalize(&self) -> bool {
        self.normalize
    }
}

impl ParamGuard for TimesNetParams {
    type Checked = TimesNetValidParams;
    type Error = PnoError;

    fn check_ref(&self) -> Result<&TimesNetValidParams> {
        let p = &self.0;
        for (name, value) in [
            ("d_model", p.d_model),
            ("d_ff", p.d_ff),
            ("e_layers", p.e_layers),
            ("top_k", p.top_k),
            ("num_kernels", p.num_kernels),
        ] {
            check::at_least(name, value, 1)?;
        }
        check::in_half_open_unit_left("dropout", p.dropout)?;
        Ok(p)
    }

    fn check(self) -> Result<TimesNetValidParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

fundalloc_core_types::checked_params!(TimesNetValidParams, PnoError);

/// The Time-Series-Library's `TokenEmbedding` for one channel: a width-3 convolution without
/// bias over the circularly padded series, `[batch, L]` → `[batch, L, d_model]`.
pub(crate) fn circular_token_embedding(conv: &Conv1d, x: Tensor<2>) -> Tensor<3> {
    let [_, l] = x.dims();
    let padded = Tensor::cat(
        vec![x.clone().narrow(1, l - 1, 1), x.clone(), x.narrow(1, 0, 1)],
        1,
    );
    conv.forward(padded.unsqueeze_dim::<3>(1)).swap_dims(1, 2)
}

/// A width-3, bias-free 1-D convolution as [`circular_token_embedding`] uses it.
pub(crate) fn token_conv(channels_in: usize, channels_out: usize, device: &Device) -> Conv1d {
    Conv1dConfig::new(channels_in, channels_out, 3)
        .with_bias(false)
        .init(device)
}

/// The fixed sinusoidal position table `[len, d]` (`sin` on even, `cos` on odd columns).
fn positional_table(len: usize, d: usize) -> Vec<f32> {
    let mut table = vec![0.0f32; len * d];
    for pos in 0..len {
        for i in 0..d {
            let pair = (i / 2 * 2) as f64;
            let angle = pos as f64 / 10000f64.powf(pair / d as f64);
            table[pos * d + i] = if i % 2 == 0 { angle.sin() } else { angle.cos() } as f32;
        }
    }
    table
}

/// Inception block V1: the mean of `num_kernels` same-padded 2-D convolutions with kernels
/// 1×1, 3×3, …, (2k−1)×(2k−1) (Kaiming-normal weights, zero bias, as the reference).
#[derive(Module, Debug)]
struct Inception {
    kernels: Vec<Conv2d>,
}

impl Inception {
    fn new(channels_in: usize, channels_out: usize, num_kernels: usize, device: &Device) -> Self {
        let kernels = (0..num_kernels)
            .map(|i| {
                let k = 2 * i + 1;
                let mut conv = Conv2dConfig::new([channels_in, channels_out], [k, k])
                    .with_padding(PaddingConfig2d::Explicit(i, i, i, i))
                    .with_initializer(Initializer::KaimingNormal {
                        gain: std::f64::consts::SQRT_2,
                        fan_out_only: true,
                    })
                    .init(device);
                conv.bias = Some(Param::from_tensor(Tensor::zeros([channels_out], device)));
                conv
            })
            .collect();
        Self { kernels }
    }

    /// The mean of the `n` same-padded convolutions, computed as **one** convolution: the
    /// kernels are centred and zero-padded to the largest size, `(2n−1)×(2n−1)`, and averaged
    /// (in the graph, so each kernel still gets its own gradient). Convolution is linear in its
    /// weights and every kernel is centred with same padding, so this is the same function as
    /// running the `n` convolutions and averaging their outputs (up to float rounding), at
    /// `(2n−1)²` instead of `Σ (2i+1)²` taps per output (121 vs 286 for n = 6) and one pass
    /// over the input instead of n.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let n = self.kernels.len();
        let mut weight: Option<Tensor<4>> = None;
        let mut bias: Option<Tensor<1>> = None;
        for (i, k) in self.kernels.iter().enumerate() {
            let pad = n - 1 - i;
            let w = k
                .weight
                .val()
                .pad([(pad, pad), (pad, pad)], PadMode::Constant(0.0));
            weight = Some(match weight {
                Some(acc) => acc + w,
                None => w,
            });
            if let Some(b) = &k.bias {
                bias = Some(match bias {
                    Some(acc) => acc + b.val(),
                    None => b.val(),
                });
            }
        }
        let Some(weight) = weight else {
            return x;
        };
        let scale = 1.0 / n as f64;
        let options = ConvOptions::new([1, 1], [n - 1, n - 1], [1, 1], 1);
        conv2d(
            x,
            weight.mul_scalar(scale),
            bias.map(|b| b.mul_scalar(scale)),
            options,
        )
    }

    /// The reference computation (n convolutions, then their mean), kept to test
    /// [`forward`](Self::forward) against.
    #[cfg(test)]
    fn forward_separate(&self, x: Tensor<4>) -> Tensor<4> {
        let n = self.kernels.len();
        let outs: Vec<Tensor<4>> = self.kernels.iter().map(|k| k.forward(x.clone())).collect();
        let stacked: Tensor<5> = Tensor::stack(outs, 4);
        stacked.sum_dim(4).squeeze_dim::<4>(4).div_scalar(n as f64)
    }
}

/// One TimesBlock: period detection, 2-D convolution per period, amplitude-weighted sum,
/// residual connection.
#[derive(Module, Debug)]
struct TimesBlock {
    conv_in: Inception,
    conv_out: Inception,
    top_k: usize,
    #[module(skip)]
    dft: Dft,
}

impl TimesBlock {
    /// The `k` frequencies (≥ 1) of largest mean amplitude (ties: the lower frequency), from
    /// detached values, and their amplitudes per batch row (in the graph), `[batch, k]`.
    fn periods(&self, x: &Tensor<3>) -> (Vec<usize>, Tensor<2>) {
        let [b, t, n] = x.dims();
        let rows = x.clone().swap_dims(1, 2).reshape([b * n, t]);
        let (re, im) = self.dft.forward(rows);
        let amplitude = (re.clone().detach().square() + im.clone().detach().square())
            .sqrt()
            .mean_dim(0);
        let mean: Vec<f32> = amplitude
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        let mut freqs: Vec<usize> = (1..mean.len()).collect();
        freqs.sort_by(|&a, &c| mean[c].total_cmp(&mean[a]).then(a.cmp(&c)));
        freqs.truncate(self.top_k.min(freqs.len()));
        if freqs.is_empty() {
            // T = 1 has no non-zero frequency: one period of length 1 (the series itself).
            freqs.push(t.max(1));
        }
        let device = x.device();
        let index: Vec<i64> = freqs.iter().map(|&f| f.min(t / 2) as i64).collect();
        let k = index.len();
        let index = Tensor::<1, Int>::from_data(TensorData::new(index, [k]), &device);
        let (re, im) = (re.select(1, index.clone()), im.select(1, index));
        // ε keeps the square root differentiable where an amplitude is exactly zero.
        let weight = (re.square() + im.square()).add_scalar(1e-12).sqrt();
        let weight = weight.reshape([b, n, k]).mean_dim(1).reshape([b, k]);
        (freqs, weight)
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, t, n] = x.dims();
        let (freqs, weight) = self.periods(&x);
        let device = x.device();
        let mut outs = Vec::with_capacity(freqs.len());
        for &f in &freqs {
            let period = (t / f.max(1)).max(1);
            let length = t.div_ceil(period) * period;
            let padded = if length > t {
                Tensor::cat(
                    vec![x.clone(), Tensor::zeros([b, length - t, n], &device)],
                    1,
                )
            } else {
                x.clone()
            };
            let grid: Tensor<4> = padded
                .reshape([b, length / period, period, n])
                .permute([0, 3, 1, 2]);
            let y = self.conv_out.forward(gelu(self.conv_in.forward(grid)));
            let y: Tensor<3> = y.permute([0, 2, 3, 1]).reshape([b, length, n]);
            outs.push(y.narrow(1, 0, t));
        }
        let k = outs.len();
        let stacked: Tensor<4> = Tensor::stack(outs, 3);
        let weight = softmax(weight, 1).reshape([b, 1, 1, k]);
        let mixed = (stacked * weight).sum_dim(3).squeeze_dim::<3>(3);
        mixed + x
    }
}

/// Instance normalisation → circular token embedding + sinusoidal positions → linear map over
/// time from M to M+H steps → e_layers × (TimesBlock, shared LayerNorm) → linear projection to
/// one channel → denormalisation → the last H steps.
///
/// A TimesBlock takes `X ∈ ℝ^{T×d}` (T = M+H), computes the amplitudes `A_f = mean_c |DFT(X)_f|`
/// (on values detached from the graph), picks the k frequencies `f_1…f_k` of largest
/// amplitude (f ≥ 1), and for each period `p_i = ⌊T/f_i⌋` zero-pads X to a multiple of `p_i`,
/// folds it into a `⌈T/p_i⌉ × p_i` grid per channel, applies
/// `Inception(d→d_ff) → GELU → Inception(d_ff→d)` and unfolds the first T steps back. The k
/// results are summed with weights `softmax_i(mean_c |DFT(X)_{f_i}|)` (per window, in the
/// graph), and X is added back.
///
/// Deviation from the reference implementation: no calendar (time-stamp) embedding, since the
/// windows carry prices only.
#[derive(Module, Debug)]
pub struct TimesNet {
    token: Conv1d,
    dropout: Dropout,
    predict: Linear,
    blocks: Vec<TimesBlock>,
    norm: LayerNorm,
    projection: Linear,
    normalize: bool,
    horizon: usize,
    d_model: usize,
    #[module(skip)]
    positions: Vec<f32>,
}

impl ForecasterParams for TimesNetParams {
    type Model = TimesNet;

    fn name(&self) -> &'static str {
        "TimesNet"
    }

    fn init(&self, spec: WindowSpec, device: &Device) -> Result<TimesNet> {
        self.check_ref()?.init(spec, device)
    }
}

impl ForecasterParams for TimesNetValidParams {
    type Model = TimesNet;

    fn name(&self) -> &'static str {
        "TimesNet"
    }

    fn init(&self, spec: WindowSpec, device: &Device) -> Result<TimesNet> {
        let (m, h) = (spec.lookback() as u128, spec.horizon() as u128);
        let (d, ff) = (self.d_model as u128, self.d_ff as u128);
        let kernels = self.num_kernels as u128;
        // Σ_{i<k} (2i+1)² = k(2k−1)(2k+1)/3 weights per in/out channel pair of an inception.
        let taps = kernels
            .saturating_mul(2 * kernels - 1)
            .saturating_mul(2 * kernels + 1)
            / 3;
        let per_block = taps.saturating_mul(2).saturating_mul(d.saturating_mul(ff));
        let weights = (3 * d)
            .saturating_add(m.saturating_mul(m + h))
            .saturating_add((self.e_layers as u128).saturating_mul(per_block))
            .saturating_add(d.saturating_mul(m + h))
            .saturating_add(2 * d)
            // The DFT bases kept per block: 4 tables of T × (T/2 + 1) values.
            .saturating_add(
                (self.e_layers as u128)
                    .saturating_mul(2 * (m + h))
                    .saturating_mul(m + h + 2),
            );
        TooLarge::check("TimesNet weights", weights, MAX_FORECASTER_WEIGHTS as u128)?;
        let t = spec.lookback() + spec.horizon();
        let blocks = (0..self.e_layers)
            .map(|_| TimesBlock {
                conv_in: Inception::new(self.d_model, self.d_ff, self.num_kernels, device),
                conv_out: Inception::new(self.d_ff, self.d_model, self.num_kernels, device),
                top_k: self.top_k,
                dft: Dft::full(t),
            })
            .collect();
        Ok(TimesNet {
            token: token_conv(1, self.d_model, device),
            dropout: DropoutConfig::new(self.dropout).init(),
            predict: LinearConfig::new(spec.lookback(), t).init(device),
            blocks,
            norm: LayerNormConfig::new(self.d_model).init(device),
            projection: LinearConfig::new(self.d_model, 1).init(device),
            normalize: self.normalize,
            horizon: spec.horizon(),
            d_model: self.d_model,
            positions: positional_table(spec.lookback(), self.d_model),
        })
    }
}

/// Per-row mean (detached) and standard deviation (`√(var + 1e-5)`, biased variance), as the
/// Time-Series-Library's non-stationary normalisation.
pub(crate) fn instance_stats(x: &Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let mean = x.clone().mean_dim(1).detach();
    let std = x.clone().var_bias(1).add_scalar(1e-5).sqrt();
    (mean, std)
}

impl Forecaster for TimesNet {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let stats = self.normalize.then(|| instance_stats(&x));
        let x = match &stats {
            Some((mean, std)) => (x - mean.clone()) / std.clone(),
            None => x,
        };
        let [b, m] = x.dims();
        let device = x.device();
        let d = self.d_model;
        let positions =
            Tensor::<2>::from_data(TensorData::new(self.positions.clone(), [m, d]), &device);
        let embedded = circular_token_embedding(&self.token, x) + positions.unsqueeze_dim(0);
        let embedded = self.dropout.forward(embedded);
        // [b, m, d] → [b, d, m] → [b, d, m+h] → [b, m+h, d]
        let mut z = self
            .predict
            .forward(embedded.swap_dims(1, 2))
            .swap_dims(1, 2);
        for block in &self.blocks {
            z = self.norm.forward(block.forward(z));
        }
        let [_, t, _] = z.dims();
        let y = self.projection.forward(z).reshape([b, t]);
        let y = match stats {
            Some((mean, std)) => y * std + mean,
            None => y,
        };
        y.narrow(1, t - self.horizon, self.horizon)
    }
}

#[cfg(test)]
mod inception_tests {
    use super::*;

    /// Deterministic values in [-0.5, 0.5).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    }

    #[test]
    fn one_fused_convolution_equals_the_mean_of_the_kernels() {
        let device = Device::flex();
        for (kernels, [b, c_in, c_out, h, w]) in [
            (1, [2, 3, 4, 5, 7]),
            (2, [1, 2, 3, 4, 6]),
            (3, [2, 4, 2, 6, 5]),
            (6, [1, 3, 3, 13, 12]),
        ] {
            let inception = Inception::new(c_in, c_out, kernels, &device);
            let x = Tensor::<4>::from_data(
                TensorData::new(values(b * c_in * h * w, kernels as u64), [b, c_in, h, w]),
                &device,
            );
            let fused: Vec<f32> = inception
                .forward(x.clone())
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap_or_default();
            let separate: Vec<f32> = inception
                .forward_separate(x)
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap_or_default();
            assert_eq!(fused.len(), b * c_out * h * w);
            assert_eq!(fused.len(), separate.len());
            let scale = separate.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1.0);
            for (f, s) in fused.iter().zip(&separate) {
                assert!(
                    (f - s).abs() <= 1e-5 * scale,
                    "{kernels} kernels: {f} vs {s}"
                );
            }
        }
    }
}
