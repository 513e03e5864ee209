//! NLinear (Zeng et al. 2023): subtract the last value, one linear map, add it back.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use fundalloc_core_types::{TooLarge, WindowSpec};

use super::{Forecaster, ForecasterParams, MAX_FORECASTER_WEIGHTS};
use crate::error::{PnoError, Result};

/// NLinear parameters: it has none beyond M and H, so it is always valid (its own checked
/// type).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NLinearParams;

fundalloc_core_types::checked_params!(NLinearParams, PnoError);

/// `ŷ = W·(x − x_M) + b + x_M`.
#[derive(Module, Debug)]
pub struct NLinear {
    linear: Linear,
    lookback: usize,
}

impl ForecasterParams for NLinearParams {
    type Model = NLinear;

    fn name(&self) -> &'static str {
        "NLinear"
    }

    fn init(&self, spec: WindowSpec, device: &Device) -> Result<NLinear> {
        let weights = spec.lookback() as u128 * spec.horizon() as u128 + spec.horizon() as u128;
        TooLarge::check("NLinear weights", weights, MAX_FORECASTER_WEIGHTS as u128)?;
        Ok(NLinear {
            linear: LinearConfig::new(spec.lookback(), spec.horizon()).init(device),
            lookback: spec.lookback(),
        })
    }
}

impl Forecaster for NLinear {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let last = x.clone().narrow(1, self.lookback - 1, 1);
        self.linear.forward(x - last.clone()) + last
    }
}
