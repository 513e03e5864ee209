//! DLinear (Zeng et al. 2023): moving-average trend + seasonal remainder, one linear map each.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use fundalloc_core_types::{InvalidParameter, ParamGuard, TooLarge, WindowSpec, check};

use super::{Forecaster, ForecasterParams, MAX_FORECASTER_WEIGHTS};
use crate::error::{PnoError, Result};

/// DLinear parameters (unchecked); [`ParamGuard::check`] validates them.
///
/// ```
/// use fundalloc_timeseries_pno::{DLinearParams, ParamGuard};
/// assert_eq!(DLinearParams::default().kernel_size(5).check()?.kernel_size(), 5);
/// assert!(DLinearParams::default().kernel_size(4).check().is_err()); // must be odd
/// # Ok::<(), fundalloc_timeseries_pno::PnoError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DLinearParams(DLinearValidParams);

/// Checked DLinear parameters, made only by [`ParamGuard::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct DLinearValidParams {
    kernel_size: usize,
}

impl Default for DLinearValidParams {
    fn default() -> Self {
        Self { kernel_size: 25 }
    }
}

impl DLinearParams {
    /// Moving-average window of the decomposition (odd; reference and default: 25).
    #[must_use]
    pub fn kernel_size(mut self, kernel_size: usize) -> Self {
        self.0.kernel_size = kernel_size;
        self
    }
}

impl DLinearValidParams {
    /// Moving-average window of the decomposition.
    pub fn kernel_size(&self) -> usize {
        self.kernel_size
    }
}

impl ParamGuard for DLinearParams {
    type Checked = DLinearValidParams;
    type Error = PnoError;

    fn check_ref(&self) -> Result<&DLinearValidParams> {
        let k = check::at_least("kernel_size", self.0.kernel_size, 1)?;
        if k.is_multiple_of(2) {
            return Err(InvalidParameter::new(
                "kernel_size",
                k,
                "must be odd so the moving average is centred",
            )
            .into());
        }
        Ok(&self.0)
    }

    fn check(self) -> Result<DLinearValidParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

fundalloc_core_types::checked_params!(DLinearValidParams, PnoError);

/// `trend = MA_k(x)` (edges padded by repeating the first/last value), `seasonal = x − trend`,
/// `ŷ = W_s·seasonal + b_s + W_t·trend + b_t`.
#[derive(Module, Debug)]
pub struct DLinear {
    seasonal: Linear,
    trend: Linear,
    kernel_size: usize,
}

impl ForecasterParams for DLinearValidParams {
    type Model = DLinear;

    fn name(&self) -> &'static str {
        "DLinear"
    }

    fn init(&self, spec: WindowSpec, device: &Device) -> Result<DLinear> {
        let (m, h) = (spec.lookback(), spec.horizon());
        let weights = 2 * (m as u128 * h as u128 + h as u128);
        TooLarge::check("DLinear weights", weights, MAX_FORECASTER_WEIGHTS as u128)?;
        Ok(DLinear {
            seasonal: LinearConfig::new(m, h).init(device),
            trend: LinearConfig::new(m, h).init(device),
            kernel_size: self.kernel_size,
        })
    }
}

impl ForecasterParams for DLinearParams {
    type Model = DLinear;

    fn name(&self) -> &'static str {
        "DLinear"
    }

    fn init(&self, spec: WindowSpec, device: &Device) -> Result<DLinear> {
        self.check_ref()?.init(spec, device)
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
