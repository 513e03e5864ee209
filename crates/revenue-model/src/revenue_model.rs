//! A trained model: prediction of samples and of full customer × fund matrices.

use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{Array1, ArrayView2};
use rayon::prelude::*;

use fundalloc_core_types::{Empty, NonFinite, RevenueMatrix, ShapeMismatch};

use crate::encode::Encoder;
use crate::model::{Counterfactual, Heads, ModelKind, Net, NetDims};
use crate::nn::blocks::{Inputs, SideInputs};
use crate::train::{missing_head, read_scalar};
use crate::{ExposureDataset, FeatureSchema, FeatureTable, Result, RevenueModelError, Side};

/// Rows per forward pass at prediction time.
const PREDICT_CHUNK: usize = 8192;
/// `exp` arguments are capped here so predictions stay finite in f32.
const MAX_EXP: f32 = 80.0;

/// Predictions for a set of rows. Fields a model does not produce are `None`
/// (DNN-C has no revenue, DNN-R no conversion probability or μ, σ; only the entire-space model and ZILN have μ, σ).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Predictions {
    /// Conversion probability `P_c`.
    pub p_convert: Option<Array1<f32>>,
    /// Log-normal location μ of the revenue if converted, in revenue units (`ln R` scale).
    pub mu: Option<Array1<f32>>,
    /// Log-normal scale σ.
    pub sigma: Option<Array1<f32>>,
    /// Expected revenue `E = P_c·exp(μ + σ²/2)` (entire-space, ZILN), `P_c·R̂` (two-task baselines) or
    /// the direct regression (DNN-R).
    pub expected: Option<Array1<f32>>,
}

/// A trained revenue model (any [`ModelKind`]). Produced by [`fit`](crate::fit) or
/// [`RevenueModel::load`].
#[derive(Debug, Clone)]
pub struct RevenueModel {
    pub(crate) kind: ModelKind,
    pub(crate) schema: FeatureSchema,
    pub(crate) dims: NetDims,
    pub(crate) cf: Counterfactual,
    pub(crate) encoder: Encoder,
    /// Validation-mode network on the plain Flex device.
    pub(crate) net: Net,
}

/// Where each schema column of a pair comes from: (side, column in that side's table), for the
/// categorical and the numeric features.
type ColumnSources<'a> = (&'a [(Side, usize)], &'a [(Side, usize)]);

/// Host copies of one chunk's heads.
struct HostHeads {
    logit: Option<Vec<f32>>,
    mu: Option<Vec<f32>>,
    sigma: Option<Vec<f32>>,
    revenue: Option<Vec<f32>>,
    expected: Option<Vec<f32>>,
}

impl RevenueModel {
    /// Which model this is.
    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// The feature schema it was trained on.
    pub fn schema(&self) -> &FeatureSchema {
        &self.schema
    }

    /// Revenue scale `s` (mean revenue of converted training rows).
    pub fn revenue_scale(&self) -> f32 {
        self.encoder.revenue_scale
    }

    fn device() -> Device {
        Device::flex()
    }

    fn check_schema(&self, data: &ExposureDataset) -> Result<()> {
        if data.schema() != &self.schema {
            return Err(RevenueModelError::SchemaMismatch {
                reason: "dataset schema differs from the model's".into(),
            });
        }
        Ok(())
    }

    /// Mean training loss of the model on `data` (no dropout), with relative ε `eps`.
    pub(crate) fn loss(&self, data: &ExposureDataset, eps: f32) -> Result<f64> {
        let device = Self::device();
        let rows: Vec<usize> = (0..data.len()).collect();
        let mut total = 0.0;
        for chunk in rows.chunks(PREDICT_CHUNK) {
            let inputs = self
                .encoder
                .inputs(data.categorical(), data.numeric(), chunk, &device);
            let labels = self.encoder.labels(data, chunk, eps, &device);
            let heads = self.net.heads(&inputs);
            let loss = self
                .net
                .loss(&heads, &labels, self.cf)
                .ok_or_else(|| missing_head(self.kind))?;
            total += f64::from(read_scalar(loss)?) * chunk.len() as f64;
        }
        Ok(total / data.len() as f64)
    }

    /// Predicts every row of `data` (chunks of 8192 rows in parallel).
    pub fn predict(&self, data: &ExposureDataset) -> Result<Predictions> {
        self.check_schema(data)?;
        self.predict_features(data.categorical(), data.numeric())
    }

    /// Predicts rows given as raw feature matrices in schema column order.
    pub fn predict_features(
        &self,
        categorical: ArrayView2<'_, u32>,
        numeric: ArrayView2<'_, f32>,
    ) -> Result<Predictions> {
        let n = categorical.nrows().max(numeric.nrows());
        if n == 0 {
            return Err(RevenueModelError::from(Empty::new("rows to predict")));
        }
        let (nc, nn) = (self.schema.categorical().len(), self.schema.numeric().len());
        if categorical.dim() != (n, nc) || numeric.dim() != (n, nn) {
            return Err(RevenueModelError::from(ShapeMismatch::new(
                "feature matrices",
                format_args!("{n} × {nc} codes and {n} × {nn} values"),
                format_args!("{:?} and {:?}", categorical.dim(), numeric.dim()),
            )));
        }
        // Validate codes and values through a throw-away dataset-free check.
        for (j, c) in self.schema.categorical().iter().enumerate() {
            if let Some((row, &code)) = categorical
                .column(j)
                .iter()
                .enumerate()
                .find(|(_, v)| **v >= c.cardinality)
            {
                return Err(RevenueModelError::CategoryOutOfRange {
                    feature: c.name.clone(),
                    row,
                    code,
                    cardinality: c.cardinality,
                });
            }
        }
        if let Some(((row, col), &v)) = numeric.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(RevenueModelError::from(NonFinite::at_cell(
                "numeric features",
                row,
                col,
                f64::from(v),
            )));
        }
        let starts: Vec<usize> = (0..n).step_by(PREDICT_CHUNK).collect();
        let parts: Vec<HostHeads> = starts
            .par_iter()
            .map(|&s| {
                let rows: Vec<usize> = (s..(s + PREDICT_CHUNK).min(n)).collect();
                let inputs = self
                    .encoder
                    .inputs(categorical, numeric, &rows, &Self::device());
                host(&self.net.heads(&inputs))
            })
            .collect::<Result<_>>()?;
        Ok(self.assemble(parts))
    }

    /// Expected revenue of every customer × fund pair, as the allocator's input.
    ///
    /// `customers` holds the schema's customer-side features, `funds` its fund-side features
    /// (in schema order). Pairs are encoded and predicted in parallel chunks of customers.
    pub fn predict_matrix(
        &self,
        customers: &FeatureTable,
        funds: &FeatureTable,
    ) -> Result<RevenueMatrix<f32>> {
        if !self.kind.predicts_revenue() {
            return Err(self.unsupported("expected revenue"));
        }
        self.pair_matrix(customers, funds, "expected revenue", |p| p.expected)
    }

    /// Conversion probability `P_c` of every customer × fund pair, laid out like
    /// [`predict_matrix`](Self::predict_matrix) (values in `[0, 1]`). PTOFA's online baseline
    /// allocates on ESMM's `P_c`; this gives that score matrix with the same factorised,
    /// parallel prediction as the expected revenue.
    ///
    /// # Errors
    /// As [`predict_matrix`](Self::predict_matrix); [`RevenueModelError::Unsupported`] for a
    /// model without a conversion head (DNN-R).
    pub fn predict_conversion_matrix(
        &self,
        customers: &FeatureTable,
        funds: &FeatureTable,
    ) -> Result<RevenueMatrix<f32>> {
        if !self.kind.predicts_conversion() {
            return Err(self.unsupported("conversion probability"));
        }
        self.pair_matrix(customers, funds, "conversion probability", |p| p.p_convert)
    }

    fn unsupported(&self, what: &'static str) -> RevenueModelError {
        RevenueModelError::Unsupported {
            model: self.kind.name(),
            what,
        }
    }

    /// One output of every customer × fund pair (`pick` takes it from the predictions), customer
    /// chunks in parallel, through the factorised first layer where the network has one.
    fn pair_matrix(
        &self,
        customers: &FeatureTable,
        funds: &FeatureTable,
        what: &'static str,
        pick: impl Fn(Predictions) -> Option<Array1<f32>> + Sync,
    ) -> Result<RevenueMatrix<f32>> {
        customers.validate(&self.schema, Side::Customer)?;
        funds.validate(&self.schema, Side::Fund)?;
        let (nu, nf) = (customers.len(), funds.len());
        // Where each schema column comes from: (side, column within that side's table).
        let locate = |sides: Vec<Side>| -> Vec<(Side, usize)> {
            let (mut c, mut f) = (0, 0);
            sides
                .into_iter()
                .map(|s| match s {
                    Side::Customer => {
                        c += 1;
                        (s, c - 1)
                    }
                    Side::Fund => {
                        f += 1;
                        (s, f - 1)
                    }
                })
                .collect()
        };
        let cat_src = locate(self.schema.categorical().iter().map(|c| c.side).collect());
        let num_src = locate(self.schema.numeric().iter().map(|c| c.side).collect());
        let d = self.schema.embedding_dim();
        let mut mask_c = Vec::with_capacity(self.schema.input_dim());
        for c in self.schema.categorical() {
            mask_c.extend(std::iter::repeat_n(
                f32::from(u8::from(c.side == Side::Customer)),
                d,
            ));
        }
        for n in self.schema.numeric() {
            mask_c.push(f32::from(u8::from(n.side == Side::Customer)));
        }
        let mask_f: Vec<f32> = mask_c.iter().map(|m| 1.0 - m).collect();
        let src = (cat_src.as_slice(), num_src.as_slice());
        let fund_rows: Vec<(Option<usize>, Option<usize>)> =
            (0..nf).map(|f| (None, Some(f))).collect();
        let per_chunk = (PREDICT_CHUNK / nf).max(1);
        let starts: Vec<usize> = (0..nu).step_by(per_chunk).collect();
        let chunks: Vec<Vec<f32>> = starts
            .par_iter()
            .map(|&s| {
                let device = Self::device();
                let users = s..(s + per_chunk).min(nu);
                let mask = |m: &[f32]| {
                    Tensor::<2>::from_data(TensorData::new(m.to_vec(), [1, m.len()]), &device)
                };
                // Factorised path: customer rows and fund rows encoded separately, the first
                // layer split between them (see `Mlp::forward_pairwise`).
                let cust_rows: Vec<_> = users.clone().map(|u| (Some(u), None)).collect();
                let c = SideInputs {
                    inputs: self.encode_pairs(customers, funds, src, &cust_rows, &device),
                    mask: mask(&mask_c),
                };
                let f = SideInputs {
                    inputs: self.encode_pairs(customers, funds, src, &fund_rows, &device),
                    mask: mask(&mask_f),
                };
                let heads = match self.net.heads_pairwise(&c, &f) {
                    Some(h) => h,
                    None => {
                        let pairs: Vec<_> = users
                            .flat_map(|u| (0..nf).map(move |f| (Some(u), Some(f))))
                            .collect();
                        let inputs = self.encode_pairs(customers, funds, src, &pairs, &device);
                        self.net.heads(&inputs)
                    }
                };
                pick(self.assemble(vec![host(&heads)?]))
                    .map(|v| v.to_vec())
                    .ok_or_else(|| self.unsupported(what))
            })
            .collect::<Result<_>>()?;
        let values: Vec<f32> = chunks.concat();
        Ok(RevenueMatrix::from_shape_vec(nu, nf, values)?)
    }

    /// Encodes rows made of customer `u` and fund `f` features in schema order; a missing side
    /// is filled with code 0 and value 0 (masked away by the caller).
    fn encode_pairs(
        &self,
        customers: &FeatureTable,
        funds: &FeatureTable,
        (cat_src, num_src): ColumnSources<'_>,
        rows: &[(Option<usize>, Option<usize>)],
        device: &Device,
    ) -> Inputs {
        let mut codes = Vec::with_capacity(rows.len() * cat_src.len());
        let mut values = Vec::with_capacity(rows.len() * num_src.len());
        let mut raw_cat = Array1::<u32>::zeros(cat_src.len());
        let mut raw_num = Array1::<f32>::zeros(num_src.len());
        for &(u, f) in rows {
            for (j, &(side, k)) in cat_src.iter().enumerate() {
                raw_cat[j] = match side {
                    Side::Customer => u.map_or(0, |u| customers.categorical[[u, k]]),
                    Side::Fund => f.map_or(0, |f| funds.categorical[[f, k]]),
                };
            }
            for (j, &(side, k)) in num_src.iter().enumerate() {
                raw_num[j] = match side {
                    Side::Customer => u.map_or(0.0, |u| customers.numeric[[u, k]]),
                    Side::Fund => f.map_or(0.0, |f| funds.numeric[[f, k]]),
                };
            }
            self.encoder.push_codes(raw_cat.view(), &mut codes);
            self.encoder.push_numeric(raw_num.view(), &mut values);
        }
        Encoder::to_inputs(
            codes,
            cat_src.len(),
            values,
            num_src.len(),
            rows.len(),
            device,
        )
    }

    /// Turns raw heads (model units) into predictions (revenue units).
    fn assemble(&self, parts: Vec<HostHeads>) -> Predictions {
        let cat = |get: fn(&HostHeads) -> &Option<Vec<f32>>| -> Option<Vec<f32>> {
            let mut out = Vec::new();
            for p in &parts {
                out.extend_from_slice(get(p).as_ref()?);
            }
            Some(out)
        };
        let s = self.encoder.revenue_scale;
        let ln_s = s.ln();
        let p = cat(|h| &h.logit).map(|z| {
            z.into_iter()
                .map(|z| 1.0 / (1.0 + (-z).exp()))
                .collect::<Vec<f32>>()
        });
        let mu = cat(|h| &h.mu);
        let sigma = cat(|h| &h.sigma);
        let expected: Option<Vec<f32>> = if let (Some(p), Some(mu), Some(sigma)) = (&p, &mu, &sigma)
        {
            Some(
                p.iter()
                    .zip(mu)
                    .zip(sigma)
                    .map(|((p, m), sd)| p * s * (m + 0.5 * sd * sd).min(MAX_EXP).exp())
                    .collect(),
            )
        } else if let (Some(p), Some(r)) = (&p, cat(|h| &h.revenue)) {
            Some(p.iter().zip(r).map(|(p, r)| p * r * s).collect())
        } else {
            cat(|h| &h.expected).map(|e| e.into_iter().map(|e| e * s).collect())
        };
        // Overflowed products are capped so the result always satisfies RevenueMatrix.
        let expected: Option<Vec<f32>> = expected.map(|e| {
            e.into_iter()
                .map(|v| if v.is_finite() { v } else { f32::MAX })
                .collect()
        });
        Predictions {
            p_convert: p.map(Array1::from),
            mu: mu.map(|m| Array1::from_iter(m.into_iter().map(|m| m + ln_s))),
            sigma: sigma.map(Array1::from),
            expected: expected.map(Array1::from),
        }
    }
}

fn host(h: &Heads) -> Result<HostHeads> {
    let read = |t: &Option<Tensor<1>>| -> Result<Option<Vec<f32>>> {
        t.as_ref()
            .map(|t| {
                t.clone()
                    .into_data()
                    .try_to_vec::<f32>()
                    .map_err(|e| RevenueModelError::Backend {
                        message: format!("{e:?}"),
                    })
            })
            .transpose()
    };
    Ok(HostHeads {
        logit: read(&h.logit)?,
        mu: read(&h.mu)?,
        sigma: read(&h.sigma)?,
        revenue: read(&h.revenue)?,
        expected: read(&h.expected)?,
    })
}
