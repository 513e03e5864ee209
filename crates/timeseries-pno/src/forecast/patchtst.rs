//! PatchTST (Nie et al. 2023), channel-independent, for one series.

use burn::module::{Module, Param};
use burn::nn::transformer::{
    TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput,
};
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use fundalloc_core_types::{InvalidParameter, ParamGuard, TooLarge, WindowSpec, check};

use super::revin::RevIn;
use super::{Forecaster, ForecasterParams, MAX_FORECASTER_WEIGHTS};
use crate::error::{PnoError, Result};

/// PatchTST parameters (unchecked); [`ParamGuard::check`] validates them. The defaults are
/// those of the RTS-PnO reference runs (patch 12, stride 6, d_model 16, 3 layers, 4 heads,
/// d_ff 128, dropout 0.3, RevIN).
///
/// ```
/// use fundalloc_timeseries_pno::{ParamGuard, PatchTstParams};
/// let params = PatchTstParams::default().d_model(8).n_heads(2).dropout(0.1).check()?;
/// assert_eq!(params.n_patches(24), 4);
/// assert!(PatchTstParams::default().dropout(f64::NAN).check().is_err());
/// assert!(PatchTstParams::default().d_model(10).n_heads(4).check().is_err());
/// # Ok::<(), fundalloc_timeseries_pno::PnoError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PatchTstParams(PatchTstValidParams);

/// Checked PatchTST parameters, made only by [`ParamGuard::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct PatchTstValidParams {
    patch_len: usize,
    stride: usize,
    d_model: usize,
    n_layers: usize,
    n_heads: usize,
    d_ff: usize,
    dropout: f64,
    revin: bool,
}

impl Default for PatchTstValidParams {
    fn default() -> Self {
        Self {
            patch_len: 12,
            stride: 6,
            d_model: 16,
            n_layers: 3,
            n_heads: 4,
            d_ff: 128,
            dropout: 0.3,
            revin: true,
        }
    }
}

impl PatchTstParams {
    /// Patch length P.
    #[must_use]
    pub fn patch_len(mut self, patch_len: usize) -> Self {
        self.0.patch_len = patch_len;
        self
    }

    /// Stride S between patches (the series is also padded by S copies of its last value).
    #[must_use]
    pub fn stride(mut self, stride: usize) -> Self {
        self.0.stride = stride;
        self
    }

    /// Embedding width.
    #[must_use]
    pub fn d_model(mut self, d_model: usize) -> Self {
        self.0.d_model = d_model;
        self
    }

    /// Encoder layers.
    #[must_use]
    pub fn n_layers(mut self, n_layers: usize) -> Self {
        self.0.n_layers = n_layers;
        self
    }

    /// Attention heads (must divide `d_model`).
    #[must_use]
    pub fn n_heads(mut self, n_heads: usize) -> Self {
        self.0.n_heads = n_heads;
        self
    }

    /// Feed-forward width.
    #[must_use]
    pub fn d_ff(mut self, d_ff: usize) -> Self {
        self.0.d_ff = d_ff;
        self
    }

    /// Dropout in the embedding and the encoder, in [0, 1).
    #[must_use]
    pub fn dropout(mut self, dropout: f64) -> Self {
        self.0.dropout = dropout;
        self
    }

    /// Reversible instance normalisation on/off.
    #[must_use]
    pub fn revin(mut self, revin: bool) -> Self {
        self.0.revin = revin;
        self
    }
}

impl PatchTstValidParams {
    /// Patch length P.
    pub fn patch_len(&self) -> usize {
        self.patch_len
    }

    /// Stride S between patches (the series is also padded by S copies of its last value).
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Embedding width.
    pub fn d_model(&self) -> usize {
        self.d_model
    }

    /// Encoder layers.
    pub fn n_layers(&self) -> usize {
        self.n_layers
    }

    /// Attention heads (must divide `d_model`).
    pub fn n_heads(&self) -> usize {
        self.n_heads
    }

    /// Feed-forward width.
    pub fn d_ff(&self) -> usize {
        self.d_ff
    }

    /// Dropout in the embedding and the encoder, in [0, 1).
    pub fn dropout(&self) -> f64 {
        self.dropout
    }

    /// Reversible instance normalisation on/off.
    pub fn revin(&self) -> bool {
        self.revin
    }

    /// Number of patches for a lookback M: `(M + S − P)/S + 1`.
    pub fn n_patches(&self, lookback: usize) -> usize {
        (lookback + self.stride).saturating_sub(self.patch_len) / self.stride.max(1) + 1
    }
}

impl ParamGuard for PatchTstParams {
    type Checked = PatchTstValidParams;
    type Error = PnoError;

    fn check_ref(&self) -> Result<&PatchTstValidParams> {
        let p = &self.0;
        for (name, value) in [
            ("patch_len", p.patch_len),
            ("stride", p.stride),
            ("d_model", p.d_model),
            ("n_layers", p.n_layers),
            ("n_heads", p.n_heads),
            ("d_ff", p.d_ff),
        ] {
            check::at_least(name, value, 1)?;
        }
        check::in_half_open_unit_left("dropout", p.dropout)?;
        if !p.d_model.is_multiple_of(p.n_heads) {
            return Err(InvalidParameter::new("n_heads", p.n_heads, "must divide d_model").into());
        }
        Ok(p)
    }

    fn check(self) -> Result<PatchTstValidParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

fundalloc_core_types::checked_params!(PatchTstValidParams, PnoError);

/// RevIN → end padding → patches `[batch, N, P]` → linear patch embedding + learnable position
/// embedding → transformer encoder → flatten `[batch, N·d_model]` → linear head → RevIN⁻¹.
///
/// Deviation from the reference implementation: burn's encoder uses LayerNorm (post-norm)
/// where PatchTST's uses BatchNorm, and attention has no residual score connection.
#[derive(Module, Debug)]
pub struct PatchTst {
    revin: Option<RevIn>,
    embed: Linear,
    position: Param<Tensor<2>>,
    dropout: Dropout,
    encoder: TransformerEncoder,
    head: Linear,
    patch_len: usize,
    stride: usize,
}

impl ForecasterParams for PatchTstParams {
    type Model = PatchTst;

    fn name(&self) -> &'static str {
        "PatchTST"
    }

    fn init(&self, spec: WindowSpec, device: &Device) -> Result<PatchTst> {
        self.check_ref()?.init(spec, device)
    }
}

impl ForecasterParams for PatchTstValidParams {
    type Model = PatchTst;

    fn name(&self) -> &'static str {
        "PatchTST"
    }

    fn init(&self, spec: WindowSpec, device: &Device) -> Result<PatchTst> {
        if self.patch_len > spec.lookback() + self.stride {
            return Err(PnoError::from(InvalidParameter::new(
                "patch_len",
                self.patch_len,
                "must not exceed lookback + stride",
            )));
        }
        let n = self.n_patches(spec.lookback());
        // Count the weights before burn allocates them: sizes are caller input, and a product
        // that overflows or asks for gigabytes must be an error, not an abort.
        let w = |a: usize, b: usize| a as u128 * b as u128;
        let (d, ff, layers) = (
            self.d_model as u128,
            self.d_ff as u128,
            self.n_layers as u128,
        );
        let per_layer = (4 * d)
            .saturating_mul(d)
            .saturating_add((2 * d).saturating_mul(ff));
        let weights = w(self.patch_len, self.d_model)
            .saturating_add(w(n, self.d_model))
            .saturating_add(layers.saturating_mul(per_layer))
            .saturating_add(w(n, self.d_model).saturating_mul(spec.horizon() as u128));
        TooLarge::check("PatchTST weights", weights, MAX_FORECASTER_WEIGHTS as u128)?;
        Ok(PatchTst {
            revin: self.revin.then(|| RevIn::new(device)),
            embed: LinearConfig::new(self.patch_len, self.d_model).init(device),
            position: Initializer::Uniform {
                min: -0.02,
                max: 0.02,
            }
            .init([n, self.d_model], device),
            dropout: DropoutConfig::new(self.dropout).init(),
            encoder: TransformerEncoderConfig::new(
                self.d_model,
                self.d_ff,
                self.n_heads,
                self.n_layers,
            )
            .with_dropout(self.dropout)
            .init(device),
            head: LinearConfig::new(n * self.d_model, spec.horizon()).init(device),
            patch_len: self.patch_len,
            stride: self.stride,
        })
    }
}

impl Forecaster for PatchTst {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let (x, stats) = match &self.revin {
            Some(revin) => {
                let (z, stats) = revin.norm(x);
                (z, Some(stats))
            }
            None => (x, None),
        };
        let [batch, m] = x.dims();
        let tail = x.clone().narrow(1, m - 1, 1).repeat_dim(1, self.stride);
        let padded = Tensor::cat(vec![x, tail], 1);
        let patches: Tensor<3> = padded.unfold(1, self.patch_len, self.stride);
        let tokens = self.embed.forward(patches) + self.position.val().unsqueeze_dim::<3>(0);
        let tokens = self.dropout.forward(tokens);
        let encoded = self.encoder.forward(TransformerEncoderInput::new(tokens));
        let [_, n, d] = encoded.dims();
        let y = self.head.forward(encoded.reshape([batch, n * d]));
        match (&self.revin, stats) {
            (Some(revin), Some(stats)) => revin.denorm(y, &stats),
            _ => y,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_patchtst_is_refused_before_allocation() {
        let params = PatchTstParams::default()
            .d_model(1 << 20)
            .n_heads(1)
            .check()
            .unwrap();
        let spec = WindowSpec::new(24, 6).unwrap();
        assert!(matches!(
            params.init(spec, &Device::flex()),
            Err(PnoError::TooLarge(_))
        ));
        let huge = PatchTstParams::default()
            .d_model(usize::MAX)
            .n_heads(1)
            .check()
            .unwrap();
        assert!(matches!(
            huge.init(spec, &Device::flex()),
            Err(PnoError::TooLarge(_))
        ));
    }
}
