//! NLinear (Zeng et al. 2023): subtract the last value, one linear map, add it back.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use fundalloc_core_types::WindowSpec;

use super::{Forecaster, ForecasterConfig};
use crate::error::Result;

/// NLinear settings (it has none beyond M and H).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NLinearConfig;

/// `ŷ = W·(x − x_M) + b + x_M`.
#[derive(Module, Debug)]
pub struct NLinear {
    linear: Linear,
    lookback: usize,
}

impl ForecasterConfig for NLinearConfig {
    type Model = NLinear;

    fn name(&self) -> &'static str {
        "NLinear"
    }

    fn init(&self, spec: WindowSpec, device: &Device) -> Result<NLinear> {
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
