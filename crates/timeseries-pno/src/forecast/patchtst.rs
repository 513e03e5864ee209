//! PatchTST (Nie et al. 2023), channel-independent, for one series.

use burn::module::{Module, Param};
use burn::nn::transformer::{
    TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput,
};
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use fundalloc_core_types::WindowSpec;

use super::revin::RevIn;
use super::{Forecaster, ForecasterConfig, positive, probability};
use crate::error::{PnoError, Result};

/// PatchTST settings; the defaults are those of the RTS-PnO reference runs
/// (patch 12, stride 6, d_model 16, 3 layers, 4 heads, d_ff 128, dropout 0.3, RevIN).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchTstConfig {
    /// Patch length P.
    pub patch_len: usize,
    /// Stride S between patches (the series is also padded by S copies of its last value).
    pub stride: usize,
    /// Embedding width.
    pub d_model: usize,
    /// Encoder layers.
    pub n_layers: usize,
    /// Attention heads (must divide `d_model`).
    pub n_heads: usize,
    /// Feed-forward width.
    pub d_ff: usize,
    /// Dropout in the embedding and the encoder.
    pub dropout: f64,
    /// Reversible instance normalisation on/off.
    pub revin: bool,
}

impl Default for PatchTstConfig {
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

impl PatchTstConfig {
    /// Number of patches for a lookback M: `(M + S − P)/S + 1`.
    pub fn n_patches(&self, lookback: usize) -> usize {
        (lookback + self.stride).saturating_sub(self.patch_len) / self.stride.max(1) + 1
    }
}

impl ForecasterConfig for PatchTstConfig {
    type Model = PatchTst;

    fn name(&self) -> &'static str {
        "PatchTST"
    }

    fn init(&self, spec: WindowSpec, device: &Device) -> Result<PatchTst> {
        for (name, value) in [
            ("patch_len", self.patch_len),
            ("stride", self.stride),
            ("d_model", self.d_model),
            ("n_layers", self.n_layers),
            ("n_heads", self.n_heads),
            ("d_ff", self.d_ff),
        ] {
            positive(name, value)?;
        }
        probability("dropout", self.dropout)?;
        if !self.d_model.is_multiple_of(self.n_heads) {
            return Err(PnoError::InvalidParameter {
                name: "n_heads",
                value: self.n_heads.to_string(),
                reason: "must divide d_model",
            });
        }
        if self.patch_len > spec.lookback() + self.stride {
            return Err(PnoError::InvalidParameter {
                name: "patch_len",
                value: self.patch_len.to_string(),
                reason: "must not exceed lookback + stride",
            });
        }
        let n = self.n_patches(spec.lookback());
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
