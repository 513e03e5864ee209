//! Building blocks shared by every model: the feature embedder and the MLP.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor};

/// One mini-batch on the device. Categorical codes are already shifted by their feature's
/// offset into the single shared embedding table; numeric features are standardised.
#[derive(Debug, Clone)]
pub(crate) struct Inputs {
    /// `B × n_categorical` row indices into the embedding table (`None` without categoricals).
    pub(crate) categorical: Option<Tensor<2, Int>>,
    /// `B × n_numeric` (`None` without numerics).
    pub(crate) numeric: Option<Tensor<2>>,
}

/// Labels of a mini-batch, in model units (revenue divided by the training revenue scale).
#[derive(Debug, Clone)]
pub(crate) struct Labels {
    /// 1 if converted, else 0. `B`.
    pub(crate) converted: Tensor<1>,
    /// Scaled revenue `R / s` (0 when not converted). `B`.
    pub(crate) revenue: Tensor<1>,
    /// `ln(max(R / s, ε))`: the log-revenue of converted rows, finite for every row. `B`.
    pub(crate) log_revenue: Tensor<1>,
}

/// Shared embedding table of all categorical features (one row per code of every feature,
/// features at consecutive offsets), concatenated with the numeric features.
#[derive(Module, Debug)]
pub(crate) struct Embedder {
    table: Option<Embedding>,
    n_categorical: usize,
    dim: usize,
}

impl Embedder {
    pub(crate) fn new(
        total_cardinality: usize,
        n_categorical: usize,
        dim: usize,
        device: &Device,
    ) -> Self {
        let table = (n_categorical > 0)
            .then(|| EmbeddingConfig::new(total_cardinality.max(1), dim).init(device));
        Self {
            table,
            n_categorical,
            dim,
        }
    }

    /// `B × (n_categorical·dim + n_numeric)`.
    pub(crate) fn forward(&self, inputs: &Inputs) -> Tensor<2> {
        let mut parts = Vec::with_capacity(2);
        if let (Some(table), Some(codes)) = (&self.table, &inputs.categorical) {
            let batch = codes.dims()[0];
            let emb = table.forward(codes.clone());
            parts.push(emb.reshape([batch, self.n_categorical * self.dim]));
        }
        if let Some(num) = &inputs.numeric {
            parts.push(num.clone());
        }
        if parts.len() == 1 {
            parts.remove(0)
        } else {
            Tensor::cat(parts, 1)
        }
    }
}

/// `Linear → ReLU → Dropout` per hidden layer. Output width: the last hidden size.
#[derive(Module, Debug)]
pub(crate) struct Mlp {
    layers: Vec<Linear>,
    dropout: Dropout,
}

impl Mlp {
    pub(crate) fn new(d_in: usize, hidden: &[usize], dropout: f64, device: &Device) -> Self {
        let mut layers = Vec::with_capacity(hidden.len());
        let mut d = d_in;
        for &h in hidden {
            layers.push(LinearConfig::new(d, h).init(device));
            d = h;
        }
        Self {
            layers,
            dropout: DropoutConfig::new(dropout).init(),
        }
    }

    pub(crate) fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        for layer in &self.layers {
            x = self.dropout.forward(relu(layer.forward(x)));
        }
        x
    }
}

impl Mlp {
    /// The MLP on every pair of a customer part `xc` (`C × d`) and a fund part `xf` (`F × d`),
    /// where the full input of pair (c, f) is `xc[c] + xf[f]` (disjoint non-zero columns).
    /// The first layer is linear, so `W(xc + xf) + b = (W xc + b) + W xf`: it runs on C + F
    /// rows instead of C·F, and only the later layers see every pair. Output row `c·F + f`.
    pub(crate) fn forward_pairwise(&self, xc: Tensor<2>, xf: Tensor<2>) -> Tensor<2> {
        let [c, d] = xc.dims();
        let f = xf.dims()[0];
        let Some((first, rest)) = self.layers.split_first() else {
            let sum = xc.unsqueeze_dim::<3>(1).expand([c, f, d])
                + xf.unsqueeze_dim::<3>(0).expand([c, f, d]);
            return sum.reshape([c * f, d]);
        };
        let ac = first.forward(xc); // C × H, bias included once
        let af = xf.matmul(first.weight.val()); // F × H
        let h = ac.dims()[1];
        let pre =
            ac.unsqueeze_dim::<3>(1).expand([c, f, h]) + af.unsqueeze_dim::<3>(0).expand([c, f, h]);
        let mut x = self.dropout.forward(relu(pre.reshape([c * f, h])));
        for layer in rest {
            x = self.dropout.forward(relu(layer.forward(x)));
        }
        x
    }
}

/// An MLP followed by a linear head of `d_out` outputs.
#[derive(Module, Debug)]
pub(crate) struct Tower {
    mlp: Mlp,
    head: Linear,
}

impl Tower {
    pub(crate) fn new(
        d_in: usize,
        hidden: &[usize],
        d_out: usize,
        dropout: f64,
        device: &Device,
    ) -> Self {
        let last = hidden.last().copied().unwrap_or(d_in);
        Self {
            mlp: Mlp::new(d_in, hidden, dropout, device),
            head: LinearConfig::new(last, d_out).init(device),
        }
    }

    /// `B × d_out`.
    pub(crate) fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.head.forward(self.mlp.forward(x))
    }

    /// `(C·F) × d_out`, see [`Mlp::forward_pairwise`].
    pub(crate) fn forward_pairwise(&self, xc: Tensor<2>, xf: Tensor<2>) -> Tensor<2> {
        self.head.forward(self.mlp.forward_pairwise(xc, xf))
    }
}

impl Embedder {
    /// The embedder output with the columns of the other side zeroed (`mask`: 1 keeps a
    /// column), for [`Mlp::forward_pairwise`].
    pub(crate) fn forward_masked(&self, inputs: &Inputs, mask: &Tensor<2>) -> Tensor<2> {
        let x = self.forward(inputs);
        let dims = x.dims();
        x * mask.clone().expand(dims)
    }
}

/// Inputs of one side for pairwise prediction: the customer (or fund) rows and the `1 × d`
/// mask of that side's embedder columns.
#[derive(Debug, Clone)]
pub(crate) struct SideInputs {
    pub(crate) inputs: Inputs,
    pub(crate) mask: Tensor<2>,
}

/// Column `j` of a `B × k` tensor as a `B` vector.
pub(crate) fn column(x: &Tensor<2>, j: usize) -> Tensor<1> {
    let b = x.dims()[0];
    x.clone().narrow(1, j, 1).reshape([b])
}
