//! Reversible instance normalisation (Kim et al. 2022), as PatchTST uses it.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

/// Per-window normalisation `x̂ = (x − mean)/std · w + b`, undone on the forecast:
/// `y = (ŷ − b)/(w + ε²) · std + mean`. One channel: `w`, `b` are learnable scalars.
#[derive(Module, Debug)]
pub struct RevIn {
    weight: Param<Tensor<1>>,
    bias: Param<Tensor<1>>,
    eps: f64,
}

/// The statistics of one batch, kept between normalisation and denormalisation.
#[derive(Debug, Clone)]
pub(crate) struct RevInStats {
    mean: Tensor<2>,
    std: Tensor<2>,
}

impl RevIn {
    /// Affine weight 1, bias 0, ε = 1e-5.
    pub fn new(device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::ones([1], device)),
            bias: Param::from_tensor(Tensor::zeros([1], device)),
            eps: 1e-5,
        }
    }

    /// Normalises `x` (`[batch, M]`) per row and returns the statistics for [`Self::denorm`].
    pub(crate) fn norm(&self, x: Tensor<2>) -> (Tensor<2>, RevInStats) {
        let mean = x.clone().mean_dim(1).detach();
        let std = x.clone().var_bias(1).add_scalar(self.eps).sqrt().detach();
        let z = (x - mean.clone()) / std.clone();
        let z = z * self.weight.val().unsqueeze_dim::<2>(0) + self.bias.val().unsqueeze_dim::<2>(0);
        (z, RevInStats { mean, std })
    }

    /// Undoes [`Self::norm`] on a forecast `[batch, H]`.
    pub(crate) fn denorm(&self, y: Tensor<2>, stats: &RevInStats) -> Tensor<2> {
        let y = (y - self.bias.val().unsqueeze_dim::<2>(0))
            / self
                .weight
                .val()
                .add_scalar(self.eps * self.eps)
                .unsqueeze_dim::<2>(0);
        y * stats.std.clone() + stats.mean.clone()
    }
}
