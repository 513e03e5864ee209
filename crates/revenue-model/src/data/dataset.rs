//! Labelled customer–fund samples and per-side feature tables.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};

use fundalloc_core_types::{Empty, InvalidParameter, NonFinite, ShapeMismatch};

use crate::{FeatureSchema, Result, RevenueModelError, Side};

/// Labelled exposures: one row per customer–fund pair that was shown.
///
/// Columns follow the [`FeatureSchema`] order: `categorical[i, j]` is the code of the schema's
/// j-th categorical feature, `numeric[i, k]` the value of its k-th numeric feature.
/// Labels: `converted[i]` (did the customer invest?) and `revenue[i]` (how much; 0 when not
/// converted). A revenue above 0 without a conversion is rejected. Synthetic data also carries
/// the ground-truth expected revenue `E = P(C)·E(R | C)` of each row.
#[derive(Debug, Clone)]
pub struct ExposureDataset {
    schema: FeatureSchema,
    categorical: Array2<u32>,
    numeric: Array2<f32>,
    converted: Array1<bool>,
    revenue: Array1<f32>,
    true_expected: Option<Array1<f32>>,
}

impl ExposureDataset {
    /// Validates shapes, codes (`< cardinality`), finiteness and labels.
    pub fn new(
        schema: FeatureSchema,
        categorical: Array2<u32>,
        numeric: Array2<f32>,
        converted: Array1<bool>,
        revenue: Array1<f32>,
    ) -> Result<Self> {
        let n = revenue.len();
        if n == 0 {
            return Err(RevenueModelError::from(Empty::new("dataset")));
        }
        check_shape(
            "categorical features",
            categorical.dim(),
            (n, schema.categorical().len()),
        )?;
        check_shape(
            "numeric features",
            numeric.dim(),
            (n, schema.numeric().len()),
        )?;
        check_shape("converted labels", (converted.len(), 1), (n, 1))?;
        check_codes(&schema, categorical.view(), |j| j)?;
        check_finite("numeric features", numeric.view())?;
        for (row, (&r, &c)) in revenue.iter().zip(converted.iter()).enumerate() {
            if !r.is_finite() || r < 0.0 {
                return Err(RevenueModelError::InvalidLabel {
                    row,
                    reason: format!("revenue {r} must be finite and non-negative"),
                });
            }
            if r > 0.0 && !c {
                return Err(RevenueModelError::InvalidLabel {
                    row,
                    reason: format!("revenue {r} > 0 but not converted"),
                });
            }
        }
        Ok(Self {
            schema,
            categorical,
            numeric,
            converted,
            revenue,
            true_expected: None,
        })
    }

    /// Attaches the ground-truth expected revenue of each row (known for synthetic data).
    pub fn with_true_expected(mut self, expected: Array1<f32>) -> Result<Self> {
        check_shape(
            "true expected revenue",
            (expected.len(), 1),
            (self.len(), 1),
        )?;
        self.true_expected = Some(expected);
        Ok(self)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.revenue.len()
    }

    /// Always false: a dataset has at least one row.
    pub fn is_empty(&self) -> bool {
        self.revenue.is_empty()
    }

    /// The schema.
    pub fn schema(&self) -> &FeatureSchema {
        &self.schema
    }

    /// Categorical codes, `len × n_categorical`.
    pub fn categorical(&self) -> ArrayView2<'_, u32> {
        self.categorical.view()
    }

    /// Numeric features, `len × n_numeric`.
    pub fn numeric(&self) -> ArrayView2<'_, f32> {
        self.numeric.view()
    }

    /// Conversion labels.
    pub fn converted(&self) -> &Array1<bool> {
        &self.converted
    }

    /// Revenue labels (0 when not converted).
    pub fn revenue(&self) -> &Array1<f32> {
        &self.revenue
    }

    /// Ground-truth expected revenue, when known.
    pub fn true_expected(&self) -> Option<&Array1<f32>> {
        self.true_expected.as_ref()
    }

    /// Fraction of converted rows.
    pub fn conversion_rate(&self) -> f64 {
        self.converted.iter().filter(|&&c| c).count() as f64 / self.len() as f64
    }

    /// The rows at `indices` (in that order). Panics never: out-of-range indices are an error.
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        if indices.is_empty() {
            return Err(RevenueModelError::from(Empty::new("row selection")));
        }
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(RevenueModelError::from(ShapeMismatch::new(
                "row selection",
                format_args!("indices < {}", self.len()),
                format_args!("index {bad}"),
            )));
        }
        Ok(Self {
            schema: self.schema.clone(),
            categorical: self.categorical.select(Axis(0), indices),
            numeric: self.numeric.select(Axis(0), indices),
            converted: self.converted.select(Axis(0), indices),
            revenue: self.revenue.select(Axis(0), indices),
            true_expected: self
                .true_expected
                .as_ref()
                .map(|e| e.select(Axis(0), indices)),
        })
    }

    /// Shuffles the rows with `seed` and splits off the last `fraction` of them:
    /// `(first part, second part)`. Both parts must be non-empty.
    pub fn split(&self, fraction: f64, seed: u64) -> Result<(Self, Self)> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(RevenueModelError::from(InvalidParameter::new(
                "split fraction",
                fraction,
                "must be in (0, 1)",
            )));
        }
        let mut idx: Vec<usize> = (0..self.len()).collect();
        idx.shuffle(&mut StdRng::seed_from_u64(seed));
        let n_second = ((self.len() as f64) * fraction).round() as usize;
        let n_first = self.len().saturating_sub(n_second);
        if n_second == 0 || n_first == 0 {
            return Err(RevenueModelError::from(Empty::new(
                "split part (too few rows for this fraction)",
            )));
        }
        Ok((self.select(&idx[..n_first])?, self.select(&idx[n_first..])?))
    }
}

/// Features of one side (customers or funds) for matrix prediction: the columns of the
/// schema's features on that side, in schema order.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureTable {
    /// Categorical codes, `rows × n_categorical(side)`.
    pub categorical: Array2<u32>,
    /// Numeric values, `rows × n_numeric(side)`.
    pub numeric: Array2<f32>,
}

impl FeatureTable {
    /// Number of rows (customers or funds).
    pub fn len(&self) -> usize {
        self.categorical.nrows().max(self.numeric.nrows())
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks the table against the schema's features on `side`.
    pub fn validate(&self, schema: &FeatureSchema, side: Side) -> Result<()> {
        let (n_cat, n_num) = schema.count_on(side);
        let rows = self.len();
        let what = match side {
            Side::Customer => "customer feature table",
            Side::Fund => "fund feature table",
        };
        if rows == 0 {
            return Err(RevenueModelError::from(Empty::new(what)));
        }
        check_shape(what, self.categorical.dim(), (rows, n_cat))?;
        check_shape(what, self.numeric.dim(), (rows, n_num))?;
        let cat_cols: Vec<usize> = schema
            .categorical()
            .iter()
            .enumerate()
            .filter(|(_, c)| c.side == side)
            .map(|(j, _)| j)
            .collect();
        check_codes(schema, self.categorical.view(), |j| cat_cols[j])?;
        check_finite(what, self.numeric.view())
    }
}

fn check_shape(what: &'static str, found: (usize, usize), expected: (usize, usize)) -> Result<()> {
    if found == expected {
        Ok(())
    } else {
        Err(RevenueModelError::from(ShapeMismatch::new(
            what,
            format_args!("{} × {}", expected.0, expected.1),
            format_args!("{} × {}", found.0, found.1),
        )))
    }
}

/// `schema_col(j)` maps column j of `codes` to the schema's categorical index.
fn check_codes(
    schema: &FeatureSchema,
    codes: ArrayView2<'_, u32>,
    schema_col: impl Fn(usize) -> usize,
) -> Result<()> {
    for (j, col) in codes.axis_iter(Axis(1)).enumerate() {
        let feature = &schema.categorical()[schema_col(j)];
        if let Some((row, &code)) = col
            .iter()
            .enumerate()
            .find(|(_, c)| **c >= feature.cardinality)
        {
            return Err(RevenueModelError::CategoryOutOfRange {
                feature: feature.name.clone(),
                row,
                code,
                cardinality: feature.cardinality,
            });
        }
    }
    Ok(())
}

fn check_finite(what: &'static str, values: ArrayView2<'_, f32>) -> Result<()> {
    match values.indexed_iter().find(|(_, v)| !v.is_finite()) {
        Some(((row, col), &v)) => Err(RevenueModelError::from(NonFinite::at_cell(
            what,
            row,
            col,
            f64::from(v),
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn schema() -> FeatureSchema {
        FeatureSchema::builder()
            .categorical("c", 3, Side::Customer)
            .numeric("x", Side::Fund, false)
            .build()
            .unwrap()
    }

    #[test]
    fn validates_labels_codes_and_shapes() {
        let ok = ExposureDataset::new(
            schema(),
            array![[0], [2]],
            array![[1.0], [2.0]],
            array![true, false],
            array![5.0, 0.0],
        );
        assert!(ok.is_ok());
        let code = ExposureDataset::new(
            schema(),
            array![[0], [3]],
            array![[1.0], [2.0]],
            array![true, false],
            array![5.0, 0.0],
        );
        assert!(matches!(
            code,
            Err(RevenueModelError::CategoryOutOfRange {
                row: 1,
                code: 3,
                ..
            })
        ));
        let nan = ExposureDataset::new(
            schema(),
            array![[0], [1]],
            array![[1.0], [f32::NAN]],
            array![true, false],
            array![5.0, 0.0],
        );
        assert!(matches!(
            nan,
            Err(RevenueModelError::NonFinite(NonFinite {
                at: fundalloc_core_types::Position::Cell { row: 1, col: 0 },
                ..
            }))
        ));
        let label = ExposureDataset::new(
            schema(),
            array![[0], [1]],
            array![[1.0], [2.0]],
            array![true, false],
            array![5.0, 1.0],
        );
        assert!(matches!(
            label,
            Err(RevenueModelError::InvalidLabel { row: 1, .. })
        ));
        let neg = ExposureDataset::new(
            schema(),
            array![[0], [1]],
            array![[1.0], [2.0]],
            array![true, false],
            array![-5.0, 0.0],
        );
        assert!(matches!(
            neg,
            Err(RevenueModelError::InvalidLabel { row: 0, .. })
        ));
        let shape = ExposureDataset::new(
            schema(),
            array![[0, 1], [1, 1]],
            array![[1.0], [2.0]],
            array![true, false],
            array![5.0, 0.0],
        );
        assert!(matches!(shape, Err(RevenueModelError::ShapeMismatch(_))));
    }

    #[test]
    fn split_is_seeded_and_complete() {
        let n = 10;
        let d = ExposureDataset::new(
            schema(),
            Array2::zeros((n, 1)),
            Array2::from_shape_fn((n, 1), |(i, _)| i as f32),
            Array1::from_elem(n, false),
            Array1::zeros(n),
        )
        .unwrap();
        let (a, b) = d.split(0.3, 7).unwrap();
        let (a2, _) = d.split(0.3, 7).unwrap();
        assert_eq!((a.len(), b.len()), (7, 3));
        assert_eq!(a.numeric(), a2.numeric());
        let mut all: Vec<f32> = a
            .numeric()
            .iter()
            .chain(b.numeric().iter())
            .copied()
            .collect();
        all.sort_by(f32::total_cmp);
        assert_eq!(all, (0..n).map(|i| i as f32).collect::<Vec<_>>());
        assert!(d.split(1.0, 0).is_err());
    }
}
