//! Host-side preprocessing: embedding offsets, numeric standardisation, revenue scale, and the
//! conversion of rows into device tensors.

use burn::tensor::{Device, Int, Tensor, TensorData};
use ndarray::{ArrayView1, ArrayView2};

use crate::ExposureDataset;
use crate::nn::blocks::{Inputs, Labels};

/// What the model learned about the inputs besides its weights. Saved with the model.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Encoder {
    /// Offset of each categorical feature into the shared embedding table.
    pub(crate) offsets: Vec<i64>,
    /// Per numeric feature: `ln(1 + max(x, 0))` first?
    pub(crate) log1p: Vec<bool>,
    /// Per numeric feature mean and standard deviation (after log1p), from the training set.
    pub(crate) mean: Vec<f32>,
    pub(crate) std: Vec<f32>,
    /// Revenue scale `s`: mean revenue of converted training rows (1 if none). The networks
    /// work with `R / s` so that learning rates do not depend on the currency unit.
    pub(crate) revenue_scale: f32,
}

impl Encoder {
    pub(crate) fn fit(data: &ExposureDataset) -> Self {
        let schema = data.schema();
        let mut offsets = Vec::with_capacity(schema.categorical().len());
        let mut next = 0i64;
        for c in schema.categorical() {
            offsets.push(next);
            next += i64::from(c.cardinality);
        }
        let log1p: Vec<bool> = schema.numeric().iter().map(|n| n.log1p).collect();
        let num = data.numeric();
        let n = num.nrows() as f64;
        let mut mean = Vec::with_capacity(log1p.len());
        let mut std = Vec::with_capacity(log1p.len());
        for (j, &lg) in log1p.iter().enumerate() {
            let col = num.column(j);
            let m = col
                .iter()
                .map(|&x| f64::from(transform(x, lg)))
                .sum::<f64>()
                / n;
            let v = col
                .iter()
                .map(|&x| (f64::from(transform(x, lg)) - m).powi(2))
                .sum::<f64>()
                / n;
            mean.push(m as f32);
            // A constant column is centred only. Values near ±f32::MAX can give a standard
            // deviation just above f32::MAX: keep it finite (the largest f32).
            std.push(if v > 1e-12 {
                (v.sqrt() as f32).min(f32::MAX)
            } else {
                1.0
            });
        }
        let (sum, count) = data
            .revenue()
            .iter()
            .zip(data.converted())
            .filter(|(r, c)| **c && **r > 0.0)
            .fold((0.0f64, 0usize), |(s, k), (r, _)| {
                (s + f64::from(*r), k + 1)
            });
        let revenue_scale = if count > 0 && sum > 0.0 {
            (sum / count as f64) as f32
        } else {
            1.0
        };
        Self {
            offsets,
            log1p,
            mean,
            std,
            revenue_scale,
        }
    }

    /// Appends row `i` of `cat` (codes) shifted by the offsets.
    pub(crate) fn push_codes(&self, codes: ArrayView1<'_, u32>, out: &mut Vec<i64>) {
        out.extend(
            codes
                .iter()
                .zip(&self.offsets)
                .map(|(&c, &o)| i64::from(c) + o),
        );
    }

    /// Appends one row of numeric values, standardised.
    pub(crate) fn push_numeric(&self, values: ArrayView1<'_, f32>, out: &mut Vec<f32>) {
        for (j, &x) in values.iter().enumerate() {
            out.push(standardise(
                transform(x, self.log1p[j]),
                self.mean[j],
                self.std[j],
            ));
        }
    }

    /// The rows `rows` of a feature matrix pair as device inputs.
    pub(crate) fn inputs(
        &self,
        cat: ArrayView2<'_, u32>,
        num: ArrayView2<'_, f32>,
        rows: &[usize],
        device: &Device,
    ) -> Inputs {
        let mut codes = Vec::with_capacity(rows.len() * cat.ncols());
        let mut values = Vec::with_capacity(rows.len() * num.ncols());
        for &i in rows {
            self.push_codes(cat.row(i), &mut codes);
            self.push_numeric(num.row(i), &mut values);
        }
        Self::to_inputs(codes, cat.ncols(), values, num.ncols(), rows.len(), device)
    }

    /// Device inputs from encoded row-major buffers.
    pub(crate) fn to_inputs(
        codes: Vec<i64>,
        n_cat: usize,
        values: Vec<f32>,
        n_num: usize,
        rows: usize,
        device: &Device,
    ) -> Inputs {
        Inputs {
            categorical: (n_cat > 0).then(|| {
                Tensor::<2, Int>::from_data(TensorData::new(codes, [rows, n_cat]), device)
            }),
            numeric: (n_num > 0)
                .then(|| Tensor::<2>::from_data(TensorData::new(values, [rows, n_num]), device)),
        }
    }

    /// Labels of rows `rows`, in model units; `eps` is the relative counterfactual revenue.
    pub(crate) fn labels(
        &self,
        data: &ExposureDataset,
        rows: &[usize],
        eps: f32,
        device: &Device,
    ) -> Labels {
        let mut conv = Vec::with_capacity(rows.len());
        let mut rev = Vec::with_capacity(rows.len());
        let mut log_rev = Vec::with_capacity(rows.len());
        for &i in rows {
            let c = data.converted()[i];
            let r = data.revenue()[i] / self.revenue_scale;
            conv.push(if c { 1.0f32 } else { 0.0 });
            rev.push(r);
            log_rev.push(r.max(eps).ln());
        }
        let t = |v: Vec<f32>| Tensor::<1>::from_data(TensorData::new(v, [rows.len()]), device);
        Labels {
            converted: t(conv),
            revenue: t(rev),
            log_revenue: t(log_rev),
        }
    }
}

fn transform(x: f32, log1p: bool) -> f32 {
    if log1p { x.max(0.0).ln_1p() } else { x }
}

/// `(x − mean) / std`, safe for any finite inputs: the difference of two values near ±f32::MAX
/// overflows f32, so it is taken in f64, and a result beyond the f32 range (a huge value
/// against a small std) is clamped to ±f32::MAX instead of becoming ±∞. Whenever the plain
/// f32 formula is finite its result is returned unchanged (bit for bit).
fn standardise(x: f32, mean: f32, std: f32) -> f32 {
    let plain = (x - mean) / std;
    if plain.is_finite() {
        return plain;
    }
    let z = (f64::from(x) - f64::from(mean)) / f64::from(std);
    z.clamp(-f64::from(f32::MAX), f64::from(f32::MAX)) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_features_keep_the_standardisation_finite() {
        assert_eq!(standardise(3.0, 1.0, 2.0), 1.0);
        let big = f32::MAX;
        assert!(!(big - (-big)).is_finite()); // the plain difference overflows
        assert_eq!(standardise(big, -big, 1.0), f32::MAX);
        assert_eq!(standardise(-big, big, 1.0), -f32::MAX);
        assert!((standardise(big, -big, big) - 2.0).abs() < 1e-6);
    }

    #[test]
    fn features_near_the_f32_limits_give_finite_preprocessing() {
        use crate::{ExposureDataset, FeatureSchema, Side};
        use ndarray::{Array1, Array2};
        let schema = FeatureSchema::builder()
            .numeric("x", Side::Customer, false)
            .build()
            .unwrap();
        let n = 6;
        let num = Array2::from_shape_fn(
            (n, 1),
            |(i, _)| if i % 2 == 0 { f32::MAX } else { -f32::MAX },
        );
        let data = ExposureDataset::new(
            schema,
            Array2::zeros((n, 0)),
            num.clone(),
            Array1::from_elem(n, false),
            Array1::zeros(n),
        )
        .unwrap();
        let enc = Encoder::fit(&data);
        assert!(enc.mean[0].is_finite() && enc.std[0].is_finite() && enc.std[0] > 0.0);
        let mut out = Vec::new();
        for row in num.rows() {
            enc.push_numeric(row, &mut out);
        }
        assert!(out.iter().all(|v| v.is_finite()), "{out:?}");
    }
}
