//! FEDformer (Zhou et al. 2022, "FEDformer: Frequency Enhanced Decomposed Transformer for
//! Long-term Series Forecasting"), Fourier version, as the Time-Series-Library runs it, for one
//! series.

use burn::module::{Module, Param};
use burn::nn::conv::Conv1d;
use burn::nn::{Dropout, DropoutConfig, Initializer, LayerNorm, LayerNormConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Tensor, TensorData};
use fundalloc_core_types::{InvalidParameter, ParamGuard, TooLarge, WindowSpec, check};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::dft::Dft;
use super::timesnet::{circular_token_embedding, token_conv};
use super::{Forecaster, ForecasterParams, MAX_FORECASTER_WEIGHTS};
use crate::error::{PnoError, Result};

/// FEDformer parameters (unchecked); [`ParamGuard::check`] validates them. The defaults are the
/// Time-Series-Library's (`run.py`, which its long-term forecasting scripts keep for FEDformer):
/// d_model 512, 8 heads, 2 encoder and 1 decoder layers, d_ff 2048, moving average 25,
/// 32 Fourier modes picked at random (seeded here), dropout 0.1, GELU.
///
/// ```
/// use fundalloc_timeseries_pno::{FedFormerParams, ParamGuard};
/// let params = FedFormerParams::default().d_model(16).n_heads(2).modes(4).check()?;
/// assert_eq!(params.modes(), 4);
/// assert!(FedFormerParams::default().moving_avg(4).check().is_err()); // must be odd
/// assert!(FedFormerParams::default().d_model(10).n_heads(4).check().is_err());
/// # Ok::<(), fundalloc_timeseries_pno::PnoError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FedFormerParams(FedFormerValidParams);

/// Checked FEDformer parameters, made only by [`ParamGuard::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct FedFormerValidParams {
    d_model: usize,
    n_heads: usize,
    e_layers: usize,
    d_layers: usize,
    d_ff: usize,
    moving_avg: usize,
    modes: usize,
    mode_seed: u64,
    dropout: f64,
}

impl Default for FedFormerValidParams {
    fn default() -> Self {
        Self {
            d_model: 512,
            n_heads: 8,
            e_layers: 2,
            d_layers: 1,
            d_ff: 2048,
            moving_avg: 25,
            modes: 32,
            mode_seed: 0,
            dropout: 0.1,
        }
    }
}

impl FedFormerParams {
    /// Model width.
    #[must_use]
    pub fn d_model(mut self, d_model: usize) -> Self {
        self.0.d_model = d_model;
        self
    }

    /// Heads of the Fourier blocks (must divide `d_model`).
    #[must_use]
    pub fn n_heads(mut self, n_heads: usize) -> Self {
        self.0.n_heads = n_heads;
        self
    }

    /// Encoder layers.
    #[must_use]
    pub fn e_layers(mut self, e_layers: usize) -> Self {
        self.0.e_layers = e_layers;
        self
    }

    /// Decoder layers.
    #[must_use]
    pub fn d_layers(mut self, d_layers: usize) -> Self {
        self.0.d_layers = d_layers;
        self
    }

    /// Feed-forward width.
    #[must_use]
    pub fn d_ff(mut self, d_ff: usize) -> Self {
        self.0.d_ff = d_ff;
        self
    }

    /// Moving-average window of every series decomposition (odd).
    #[must_use]
    pub fn moving_avg(mut self, moving_avg: usize) -> Self {
        self.0.moving_avg = moving_avg;
        self
    }

    /// Fourier modes per block (at most L/2 of a length-L input are used).
    #[must_use]
    pub fn modes(mut self, modes: usize) -> Self {
        self.0.modes = modes;
        self
    }

    /// Seed of the random mode selection (fixed at initialisation).
    #[must_use]
    pub fn mode_seed(mut self, mode_seed: u64) -> Self {
        self.0.mode_seed = mode_seed;
        self
    }

    /// Dropout, in [0, 1).
    #[must_use]
    pub fn dropout(mut self, dropout: f64) -> Self {
        self.0.dropout = dropout;
        self
    }
}

impl FedFormerValidParams {
    /// Model width.
    pub fn d_model(&self) -> usize {
        self.d_model
    }

    /// Heads of the Fourier blocks.
    pub fn n_heads(&self) -> usize {
        self.n_heads
    }

    /// Encoder layers.
    pub fn e_layers(&self) -> usize {
        self.e_layers
    }

    /// Decoder layers.
    pub fn d_layers(&self) -> usize {
        self.d_layers
    }

    /// Feed-forward width.
    pub fn d_ff(&self) -> usize {
        self.d_ff
    }

    /// Moving-average window of the decompositions.
    pub fn moving_avg(&self) -> usize {
        self.moving_avg
    }

    /// Fourier modes per block.
    pub fn modes(&self) -> usize {
        self.modes
    }

    /// Seed of the random mode selection.
    pub fn mode_seed(&self) -> u64 {
        self.mode_seed
    }

    /// Dropout.
    pub fn dropout(&self) -> f64 {
        self.dropout
    }
}

impl ParamGuard for FedFormerParams {
    type Checked = FedFormerValidParams;
    type Error = PnoError;

    fn check_ref(&self) -> Result<&FedFormerValidParams> {
        let p = &self.0;
        for (name, value) in [
            ("d_model", p.d_model),
            ("n_heads", p.n_heads),
            ("e_layers", p.e_layers),
            ("d_layers", p.d_layers),
            ("d_ff", p.d_ff),
            ("moving_avg", p.moving_avg),
            ("modes", p.modes),
        ] {
            check::at_least(name, value, 1)?;
        }
        if p.moving_avg.is_multiple_of(2) {
            return Err(InvalidParameter::new(
                "moving_avg",
                p.moving_avg,
                "must be odd so the moving average is centred",
            )
            .into());
        }
        if !p.d_model.is_multiple_of(p.n_heads) {
            return Err(InvalidParameter::new("n_heads", p.n_heads, "must divide d_model").into());
        }
        check::in_half_open_unit_left("dropout", p.dropout)?;
        Ok(p)
    }

    fn check(self) -> Result<FedFormerValidParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

fundalloc_core_types::checked_params!(FedFormerValidParams, PnoError);

/// `min(modes, L/2)` frequencies drawn without replacement from `0..L/2`, sorted (the
/// reference's `get_frequency_modes` with `mode_select = random`).
fn random_modes(len: usize, modes: usize, rng: &mut StdRng) -> Vec<usize> {
    let mut index: Vec<usize> = (0..len / 2).collect();
    index.shuffle(rng);
    index.truncate(modes.min(len / 2));
    index.sort_unstable();
    index
}

/// Series decomposition along time: `trend = MA_k(x)` with replicate padding, written as a
/// fixed `[L, L]` averaging matrix (exact, O(L²) per channel), `seasonal = x − trend`.
#[derive(Debug, Clone)]
struct Decomposition {
    len: usize,
    /// `avg[s, t]`: the weight of input step s in the trend at step t.
    avg: Vec<f32>,
}

impl Decomposition {
    fn new(len: usize, kernel: usize) -> Self {
        let pad = (kernel - 1) / 2;
        let mut avg = vec![0.0f32; len * len];
        for t in 0..len {
            for w in 0..kernel {
                // Padded position t + w ↦ source step (replicating the ends).
                let s = (t + w).saturating_sub(pad).min(len - 1);
                avg[s * len + t] += 1.0 / kernel as f32;
            }
        }
        Self { len, avg }
    }

    /// `(seasonal, trend)` of `x` `[batch, L, channels]`.
    fn forward(&self, x: Tensor<3>) -> (Tensor<3>, Tensor<3>) {
        let [b, l, c] = x.dims();
        let shape = [self.len, self.len];
        let avg = Tensor::<2>::from_data(TensorData::new(self.avg.clone(), shape), &x.device());
        let trend = x
            .clone()
            .swap_dims(1, 2)
            .reshape([b * c, l])
            .matmul(avg)
            .reshape([b, c, l])
            .swap_dims(1, 2);
        (x - trend.clone(), trend)
    }
}

/// Complex weights `[heads, E_in, E_out, modes]` as two real tensors, initialised as the
/// reference: `scale · U[0, 1)` for both parts, `scale = 1/d_model²`.
#[derive(Module, Debug)]
struct ComplexWeights {
    re: Param<Tensor<4>>,
    im: Param<Tensor<4>>,
}

impl ComplexWeights {
    fn new(heads: usize, e: usize, modes: usize, d_model: usize, device: &Device) -> Self {
        let scale = 1.0 / (d_model as f64 * d_model as f64);
        let init = Initializer::Uniform {
            min: 0.0,
            max: scale,
        };
        Self {
            re: init.init([heads, e, e, modes], device),
            im: init.init([heads, e, e, modes], device),
        }
    }

    /// `out[b,h,o,m] = Σ_i x[b,h,i,m]·w[h,i,o,m]` (complex), x given as `[b, h, e, m]` pairs.
    fn apply(&self, xr: Tensor<4>, xi: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let [b, h, e, m] = xr.dims();
        let [_, _, eo, _] = self.re.dims();
        // x → [h·m, b, e]; w → [h·m, e, eo]; one batched matmul per part.
        let lhs = |t: Tensor<4>| t.permute([1, 3, 0, 2]).reshape([h * m, b, e]);
        let rhs = |t: Tensor<4>| t.permute([0, 3, 1, 2]).reshape([h * m, e, eo]);
        let (wr, wi) = (rhs(self.re.val()), rhs(self.im.val()));
        let (xr, xi) = (lhs(xr), lhs(xi));
        let re = xr.clone().matmul(wr.clone()) - xi.clone().matmul(wi.clone());
        let im = xr.matmul(wi) + xi.matmul(wr);
        let back = |t: Tensor<3>| t.reshape([h, m, b, eo]).permute([2, 0, 3, 1]);
        (back(re), back(im))
    }
}

/// `[b, h, e, L]` → real DFT on `dft`'s frequencies → `([b, h, e, F], [b, h, e, F])`.
fn spectrum(dft: &Dft, x: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
    let [b, h, e, l] = x.dims();
    let f = dft.freqs().len();
    let (re, im) = dft.forward(x.reshape([b * h * e, l]));
    (re.reshape([b, h, e, f]), im.reshape([b, h, e, f]))
}

/// The inverse of [`spectrum`]: `[b, h, e, F]` pairs → `[b, h, e, L]`.
fn series(dft: &Dft, re: Tensor<4>, im: Tensor<4>, len: usize) -> Tensor<4> {
    let [b, h, e, f] = re.dims();
    dft.inverse(re.reshape([b * h * e, f]), im.reshape([b * h * e, f]))
        .reshape([b, h, e, len])
}

/// Fourier-enhanced block (self-attention replacement): keep the selected modes of the
/// queries' spectrum, multiply each by a learnt complex matrix per head, and transform back.
/// As in the reference, mode `index[j]` of the input is written to frequency `j` of the output.
#[derive(Module, Debug)]
struct FourierBlock {
    weights: ComplexWeights,
    len: usize,
    #[module(skip)]
    input: Dft,
    #[module(skip)]
    output: Dft,
}

impl FourierBlock {
    fn new(
        len: usize,
        heads: usize,
        d: usize,
        modes: usize,
        rng: &mut StdRng,
        dev: &Device,
    ) -> Self {
        let index = random_modes(len, modes, rng);
        let m = index.len();
        Self {
            weights: ComplexWeights::new(heads, d / heads, m, d, dev),
            len,
            output: Dft::with_freqs(len, (0..m).collect()),
            input: Dft::with_freqs(len, index),
        }
    }

    /// `q`: `[b, h, e, L]` → `[b, h, e, L]`.
    fn forward(&self, q: Tensor<4>) -> Tensor<4> {
        let (re, im) = spectrum(&self.input, q);
        let (re, im) = self.weights.apply(re, im);
        series(&self.output, re, im, self.len)
    }
}

/// Fourier cross-attention: with `Q`, `K` the selected modes of the queries' and keys'
/// spectra, `out = W · (tanh(Q Kᵀ) K)` per head (complex products without conjugation; tanh
/// on real and imaginary parts), written back at the queries' modes, divided by d_model².
#[derive(Module, Debug)]
struct FourierCross {
    weights: ComplexWeights,
    len_q: usize,
    scale: f64,
    #[module(skip)]
    query: Dft,
    #[module(skip)]
    key: Dft,
}

impl FourierCross {
    #[allow(clippy::too_many_arguments)] // private constructor of one block
    fn new(
        len_q: usize,
        len_kv: usize,
        heads: usize,
        d: usize,
        modes: usize,
        rng: &mut StdRng,
        dev: &Device,
    ) -> Self {
        let index_q = random_modes(len_q, modes, rng);
        let index_kv = random_modes(len_kv, modes, rng);
        Self {
            weights: ComplexWeights::new(heads, d / heads, index_q.len(), d, dev),
            len_q,
            scale: 1.0 / (d as f64 * d as f64),
            query: Dft::with_freqs(len_q, index_q),
            key: Dft::with_freqs(len_kv, index_kv),
        }
    }

    /// `q`: `[b, h, e, Lq]`, `k`: `[b, h, e, Lkv]` → `[b, h, e, Lq]`.
    fn forward(&self, q: Tensor<4>, k: Tensor<4>) -> Tensor<4> {
        let (qr, qi) = spectrum(&self.query, q);
        let (kr, ki) = spectrum(&self.key, k);
        let [b, h, e, mq] = qr.dims();
        let mk = kr.dims()[3];
        let flat = |t: Tensor<4>, n: usize| t.reshape([b * h, e, n]);
        let (qr, qi) = (flat(qr, mq), flat(qi, mq));
        let (kr, ki) = (flat(kr, mk), flat(ki, mk));
        // A[x, y] = Σ_e Q[e, x]·K[e, y]: [bh, mq, mk]
        let (qrt, qit) = (qr.swap_dims(1, 2), qi.swap_dims(1, 2));
        let ar = qrt.clone().matmul(kr.clone()) - qit.clone().matmul(ki.clone());
        let ai = qrt.matmul(ki.clone()) + qit.matmul(kr.clone());
        let (ar, ai) = (ar.tanh(), ai.tanh());
        // V[e, x] = Σ_y A[x, y]·K[e, y]: [bh, e, mq]
        let (art, ait) = (ar.swap_dims(1, 2), ai.swap_dims(1, 2));
        let vr = kr.clone().matmul(art.clone()) - ki.clone().matmul(ait.clone());
        let vi = kr.matmul(ait) + ki.matmul(art);
        let unflat = |t: Tensor<3>| t.reshape([b, h, e, mq]);
        let (re, im) = self.weights.apply(unflat(vr), unflat(vi));
        series(
            &self.query,
            re.mul_scalar(self.scale),
            im.mul_scalar(self.scale),
            self.len_q,
        )
    }
}

/// The attention wrapper: linear projections in and out around a Fourier block, heads split
/// as `[b, L, h, e]`. Only the projections the Fourier version reads are kept (the reference
/// allocates key/value projections that never reach the output).
#[derive(Module, Debug)]
struct Projections {
    query: Linear,
    key: Option<Linear>,
    out: Linear,
    heads: usize,
}

impl Projections {
    fn new(d: usize, heads: usize, with_key: bool, dev: &Device) -> Self {
        Self {
            query: LinearConfig::new(d, d).init(dev),
            key: with_key.then(|| LinearConfig::new(d, d).init(dev)),
            out: LinearConfig::new(d, d).init(dev),
            heads,
        }
    }

    /// `[b, L, d]` → `[b, h, e, L]`.
    fn split(&self, x: Tensor<3>) -> Tensor<4> {
        let [b, l, d] = x.dims();
        x.reshape([b, l, self.heads, d / self.heads])
            .permute([0, 2, 3, 1])
    }

    /// `[b, h, e, L]` → projected `[b, L, d]`.
    fn merge(&self, x: Tensor<4>) -> Tensor<3> {
        let [b, h, e, l] = x.dims();
        self.out
            .forward(x.permute([0, 3, 1, 2]).reshape([b, l, h * e]))
    }
}

/// Feed-forward of the encoder/decoder layers: two bias-free position-wise maps with GELU.
#[derive(Module, Debug)]
struct FeedForward {
    up: Linear,
    down: Linear,
}

impl FeedForward {
    fn new(d: usize, d_ff: usize, dev: &Device) -> Self {
        Self {
            up: LinearConfig::new(d, d_ff).with_bias(false).init(dev),
            down: LinearConfig::new(d_ff, d).with_bias(false).init(dev),
        }
    }

    fn forward(&self, x: Tensor<3>, dropout: &Dropout) -> Tensor<3> {
        dropout.forward(self.down.forward(dropout.forward(gelu(self.up.forward(x)))))
    }
}

#[derive(Module, Debug)]
struct EncoderLayer {
    proj: Projections,
    block: FourierBlock,
    ff: FeedForward,
    #[module(skip)]
    decomp: Decomposition,
}

impl EncoderLayer {
    fn forward(&self, x: Tensor<3>, dropout: &Dropout) -> Tensor<3> {
        let attended = self.proj.merge(
            self.block
                .forward(self.proj.split(self.proj.query.forward(x.clone()))),
        );
        let (x, _) = self.decomp.forward(x + dropout.forward(attended));
        let y = self.ff.forward(x.clone(), dropout);
        self.decomp.forward(x + y).0
    }
}

#[derive(Module, Debug)]
struct DecoderLayer {
    self_proj: Projections,
    self_block: FourierBlock,
    cross_proj: Projections,
    cross_block: FourierCross,
    ff: FeedForward,
    /// The trend projection: width-3 circular convolution d_model → 1, no bias.
    trend: Conv1d,
    #[module(skip)]
    decomp: Decomposition,
}

impl DecoderLayer {
    /// Returns the seasonal output and this layer's trend contribution `[b, L, 1]`.
    fn forward(&self, x: Tensor<3>, cross: Tensor<3>, dropout: &Dropout) -> (Tensor<3>, Tensor<3>) {
        let p = &self.self_proj;
        let attended = p.merge(self.self_block.forward(p.split(p.query.forward(x.clone()))));
        let (x, trend1) = self.decomp.forward(x + dropout.forward(attended));
        let c = &self.cross_proj;
        let keys = match &c.key {
            Some(key) => key.forward(cross),
            None => cross,
        };
        let q = c.split(c.query.forward(x.clone()));
        let attended = c.merge(self.cross_block.forward(q, c.split(keys)));
        let (x, trend2) = self.decomp.forward(x + dropout.forward(attended));
        let y = self.ff.forward(x.clone(), dropout);
        let (x, trend3) = self.decomp.forward(x + y);
        let trend = trend1 + trend2 + trend3; // [b, L, d]
        let l = trend.dims()[1];
        // Circular width-3 convolution over time, channels d → 1.
        let t = trend.swap_dims(1, 2); // [b, d, L]
        let padded = Tensor::cat(
            vec![t.clone().narrow(2, l - 1, 1), t.clone(), t.narrow(2, 0, 1)],
            2,
        );
        (x, self.trend.forward(padded).swap_dims(1, 2))
    }
}

/// The Time-Series-Library's `my_Layernorm`: LayerNorm, then subtract its mean over time.
fn seasonal_norm(norm: &LayerNorm, x: Tensor<3>) -> Tensor<3> {
    let x = norm.forward(x);
    let bias = x.clone().mean_dim(1);
    x - bias
}

/// Decomposition → encoder on the lookback → decoder on the seasonal part of the last M/2
/// steps followed by H zeros, with the trend initialised as the lookback's trend over the same
/// M/2 steps followed by H copies of the lookback mean, each decoder layer adding its trend
/// projection → seasonal + trend over the last H steps.
///
/// An encoder layer is `x ← decomp(x + Dropout(FEB(x)))`, `x ← decomp(x + FF(x))` (seasonal
/// parts kept); a decoder layer does the same with the Fourier block, then the Fourier
/// cross-attention on the encoder output, accumulating the three removed trends through a
/// width-3 circular convolution into the trend. `decomp(x) = (x − MA_k(x), MA_k(x))`.
///
/// Deviations from the reference implementation: no calendar (time-stamp) embedding (the
/// windows carry prices only); the heads are merged back as `[b, L, h·e]` by a permutation
/// (the reference reinterprets the `[b, h, e, L]` memory as `[b, L, h·e]`); the key/value
/// projections the Fourier version never reads are not allocated.
#[derive(Module, Debug)]
pub struct FedFormer {
    enc_token: Conv1d,
    dec_token: Conv1d,
    dropout: Dropout,
    encoder: Vec<EncoderLayer>,
    enc_norm: LayerNorm,
    decoder: Vec<DecoderLayer>,
    dec_norm: LayerNorm,
    projection: Linear,
    lookback: usize,
    horizon: usize,
    label_len: usize,
    #[module(skip)]
    decomp: Decomposition,
}

impl ForecasterParams for FedFormerParams {
    type Model = FedFormer;

    fn name(&self) -> &'static str {
        "FEDformer"
    }

    fn init(&self, spec: WindowSpec, device: &Device) -> Result<FedFormer> {
        self.check_ref()?.init(spec, device)
    }
}

impl ForecasterParams for FedFormerValidParams {
    type Model = FedFormer;

    fn name(&self) -> &'static str {
        "FEDformer"
    }

    fn init(&self, spec: WindowSpec, device: &Device) -> Result<FedFormer> {
        let (m, h) = (spec.lookback(), spec.horizon());
        if m < 4 {
            return Err(InvalidParameter::new(
                "lookback",
                m,
                "FEDformer needs at least 4 steps (two Fourier modes and a label half)",
            )
            .into());
        }
        let label_len = m / 2;
        let (mw, dw) = (m as u128, label_len as u128 + h as u128);
        let (d, ff, heads) = (
            self.d_model as u128,
            self.d_ff as u128,
            self.n_heads as u128,
        );
        let e = d / heads;
        let modes = self.modes as u128;
        let fourier = (2 * heads)
            .saturating_mul(e.saturating_mul(e))
            .saturating_mul(modes);
        let per_layer = (3 * d)
            .saturating_mul(d)
            .saturating_add((2 * d).saturating_mul(ff))
            .saturating_add(fourier);
        let layers = self.e_layers as u128 + 2 * self.d_layers as u128;
        // The decomposition matrices (L × L) and the DFT bases of the Fourier blocks (at most 4
        // tables of L × L/2 values each) grow with the window length.
        let tables = mw.saturating_mul(mw).saturating_add(dw.saturating_mul(dw));
        let weights = layers
            .saturating_mul(per_layer)
            .saturating_add(8 * d)
            .saturating_add(
                tables
                    .saturating_mul(layers.saturating_add(1))
                    .saturating_mul(2),
            );
        TooLarge::check("FEDformer weights", weights, MAX_FORECASTER_WEIGHTS as u128)?;
        let dec_len = label_len + h;
        if self.moving_avg as u128 > 4 * (mw + h as u128) + 1 {
            return Err(InvalidParameter::new(
                "moving_avg",
                self.moving_avg,
                "must not exceed four times the window length",
            )
            .into());
        }
        let dropout = DropoutConfig::new(self.dropout).init();
        let mut rng = StdRng::seed_from_u64(self.mode_seed);
        let dm = self.d_model;
        let encoder = (0..self.e_layers)
            .map(|_| EncoderLayer {
                proj: Projections::new(dm, self.n_heads, false, device),
                block: FourierBlock::new(m, self.n_heads, dm, self.modes, &mut rng, device),
                ff: FeedForward::new(dm, self.d_ff, device),
                decomp: Decomposition::new(m, self.moving_avg),
            })
            .collect();
        let decoder = (0..self.d_layers)
            .map(|_| DecoderLayer {
                self_proj: Projections::new(dm, self.n_heads, false, device),
                self_block: FourierBlock::new(
                    dec_len,
                    self.n_heads,
                    dm,
                    self.modes,
                    &mut rng,
                    device,
                ),
                cross_proj: Projections::new(dm, self.n_heads, true, device),
                cross_block: FourierCross::new(
                    dec_len,
                    m,
                    self.n_heads,
                    dm,
                    self.modes,
                    &mut rng,
                    device,
                ),
                ff: FeedForward::new(dm, self.d_ff, device),
                trend: token_conv(dm, 1, device),
                decomp: Decomposition::new(dec_len, self.moving_avg),
            })
            .collect();
        Ok(FedFormer {
            enc_token: token_conv(1, dm, device),
            dec_token: token_conv(1, dm, device),
            dropout,
            encoder,
            enc_norm: LayerNormConfig::new(dm).init(device),
            decoder,
            dec_norm: LayerNormConfig::new(dm).init(device),
            projection: LinearConfig::new(dm, 1).init(device),
            lookback: m,
            horizon: h,
            label_len,
            decomp: Decomposition::new(m, self.moving_avg),
        })
    }
}

impl Forecaster for FedFormer {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [b, m] = x.dims();
        let device = x.device();
        let (h, label) = (self.horizon, self.label_len);
        let mean = x.clone().mean_dim(1).repeat_dim(1, h); // [b, h]
        let (seasonal, trend) = self.decomp.forward(x.clone().unsqueeze_dim::<3>(2));
        let seasonal = seasonal.reshape([b, m]);
        let trend = trend.reshape([b, m]);
        let trend_init = Tensor::cat(vec![trend.narrow(1, m - label, label), mean], 1);
        let seasonal_init = Tensor::cat(
            vec![
                seasonal.narrow(1, m - label, label),
                Tensor::zeros([b, h], &device),
            ],
            1,
        );
        let mut enc = self
            .dropout
            .forward(circular_token_embedding(&self.enc_token, x));
        for layer in &self.encoder {
            enc = layer.forward(enc, &self.dropout);
        }
        let enc = seasonal_norm(&self.enc_norm, enc);
        let mut dec = self
            .dropout
            .forward(circular_token_embedding(&self.dec_token, seasonal_init));
        let mut trend = trend_init.unsqueeze_dim::<3>(2); // [b, label + h, 1]
        for layer in &self.decoder {
            let (next, residual) = layer.forward(dec, enc.clone(), &self.dropout);
            dec = next;
            trend = trend + residual;
        }
        let seasonal_out = self.projection.forward(seasonal_norm(&self.dec_norm, dec));
        let out = (seasonal_out + trend).reshape([b, label + h]);
        out.narrow(1, label, h)
    }
}
