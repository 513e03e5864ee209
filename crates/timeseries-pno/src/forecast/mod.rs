//! Forecasters on burn: `[batch, M]` standardised history → `[batch, H]` standardised forecast.
//!
//! The training loops ([`fit`](crate::fit)) only see the [`Forecaster`] and [`ForecasterParams`]
//! traits, so a new model (TimesNet, FEDformer, …) is one more implementation of them and
//! touches nothing else — the model-agnostic design the paper stresses.
//!
//! Burn types stay inside this crate's training code; [`predict`] takes and returns ndarray.

mod dft;
mod dlinear;
mod fedformer;
mod nlinear;
mod patchtst;
mod revin;
mod timesnet;

pub use dlinear::{DLinear, DLinearParams, DLinearValidParams};
pub use fedformer::{FedFormer, FedFormerParams, FedFormerValidParams};
pub use nlinear::{NLinear, NLinearParams};
pub use patchtst::{PatchTst, PatchTstParams, PatchTstValidParams};
pub use revin::RevIn;
pub use timesnet::{TimesNet, TimesNetParams, TimesNetValidParams};

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use fundalloc_core_types::WindowSpec;
use ndarray::{Array2, ArrayView2};

use fundalloc_core_types::Empty;

use crate::error::{PnoError, Result};

/// The most weights a forecaster may have (2^28, 1 GiB of `f32`): larger sizes are refused
/// with [`PnoError::TooLarge`] before anything is allocated.
pub const MAX_FORECASTER_WEIGHTS: usize = 1 << 28;

/// A forecasting model: a burn [`Module`] mapping `[batch, M]` to `[batch, H]`.
pub trait Forecaster: Module + 'static {
    /// The forward pass on standardised inputs.
    fn forward(&self, x: Tensor<2>) -> Tensor<2>;
}

/// Builds a [`Forecaster`] for a window spec: implemented by each model's parameters, checked
/// ([`DLinearValidParams`], [`PatchTstValidParams`]) and unchecked ([`DLinearParams`],
/// [`PatchTstParams`], which [`init`](Self::init) checks first).
pub trait ForecasterParams: Clone + std::fmt::Debug + Send + Sync {
    /// The model these parameters build.
    type Model: Forecaster;

    /// A short name for tables ("DLinear", "PatchTST", …).
    fn name(&self) -> &'static str;

    /// Validates the parameters against `spec` and initialises the model's weights on `device`.
    ///
    /// # Errors
    /// [`PnoError::InvalidParameter`] naming the first bad field.
    fn init(&self, spec: WindowSpec, device: &Device) -> Result<Self::Model>;
}

/// Rows of `x` as a `[n, cols]` f32 tensor on `device`.
pub(crate) fn to_tensor(x: ArrayView2<'_, f64>, device: &Device) -> Tensor<2> {
    let (n, m) = x.dim();
    let values: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(values, [n, m]), device)
}

/// A `[n, h]` tensor back to ndarray (f64).
pub(crate) fn to_array(t: Tensor<2>) -> Result<Array2<f64>> {
    let [n, h] = t.dims();
    let values: Vec<f32> = t
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| PnoError::Tensor(format!("{e:?}")))?;
    Array2::from_shape_vec((n, h), values.into_iter().map(f64::from).collect())
        .map_err(|e| PnoError::Tensor(e.to_string()))
}

/// Forecasts every row of `inputs` (`[n, M]`, standardised) with the model in inference mode
/// (no autodiff, dropout off), in chunks of `batch_size` rows. Returns `[n, H]`.
pub fn predict<F: Forecaster>(
    model: &F,
    inputs: ArrayView2<'_, f64>,
    batch_size: usize,
    device: &Device,
) -> Result<Array2<f64>> {
    let model = model.valid();
    let device = device.clone().without_autodiff();
    let mut parts = Vec::new();
    let step = batch_size.max(1);
    let mut start = 0;
    while start < inputs.nrows() {
        let end = (start + step).min(inputs.nrows());
        let x = to_tensor(inputs.slice(ndarray::s![start..end, ..]), &device);
        parts.push(to_array(model.forward(x))?);
        start = end;
    }
    if parts.is_empty() {
        return Err(PnoError::from(Empty::new("forecast inputs")));
    }
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    ndarray::concatenate(ndarray::Axis(0), &views).map_err(|e| PnoError::Tensor(e.to_string()))
}

#[cfg(test)]
mod tests;
