//! DLinear (Zeng et al. 2023): moving-average trend + seasonal remainder, one linear map each.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use fundalloc_core_types::WindowSpec;

use super::{Forecaster, ForecasterConfig, positive};
use crate::error::{PnoError, Result};

/// DLinear settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DLinearConfig {
    /// Moving-average window of the decomposition (odd; reference: 25).
    pub kernel_size: usize,
}

impl Default for DLinearConfig {
    fn default() -> Self {
        Self { kernel_size: 25 }
    }
}

/// `trend = MA_k(x)` (edges padded by repeating the first/last value), `seasonal = x − trend`,
/// `ŷ = W_s·seasonal + b_s + W_t·trend + b_t`.
#[derive(Module, Debug)]
pub struct DLinear {
    seasonal: Linear,
    trend: Linear,
    kernel_size: usize,
}

impl ForecasterConfig for DLinearConfig {
    type Model = DLinear;

    fn name(&self) -> &'static str {
        "DLinear"
    }

    fn init(&self, spec: WindowSpec, device: &Device) -> Result<DLinear> {
        positive("kernel_size", self.kernel_size)?;
        if self.kernel_size.is_multiple_of(2) {
            return Err(PnoError::InvalidParameter {
                name: "kernel_size",
                value: self.kernel_size.to_string(),
                reason: "must be odd so the moving average is centred",
            });
        }
        let (m, h) = (spec.lookback(), spec.horizon());
        Ok(DLinear {
            seasonal: LinearConfig::new(m, h).init(device),
            trend: LinearConfig::new(m, h).init(device),
            kernel_size: self.kernel_size,
        })
    }
}

impl DLinear {
    /// Centred moving average with replicate padding: `[batch, M]` → `[batch, M]`.
    fn moving_average(&self, x: Tensor<2>) -> Tensor<2> {
        let pad = (self.kernel_size - 1) / 2;
        if pad == 0 {
            return x;
        }
        let [_, m] = x.dims();
        let front = x.clone().narrow(1, 0, 1).repeat_dim(1, pad);
        let back = x.clone().narrow(1, m - 1, 1).repeat_dim(1, pad);
        let padded = Tensor::cat(vec![front, x, back], 1);
        let windows: Tensor<3> = padded.unfold(1, self.kernel_size, 1);
        windows.mean_dim(2).squeeze_dim::<2>(2)
    }
}

impl Forecaster for DLinear {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let trend = self.moving_average(x.clone());
        let seasonal = x - trend.clone();
        self.seasonal.forward(seasonal) + self.trend.forward(trend)
    }
}
