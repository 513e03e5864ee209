//! The feature schema: which columns a model reads and how it encodes them.

use crate::{Result, RevenueModelError};

/// Whose attribute a feature is. Customer–fund matrix prediction
/// ([`RevenueModel::predict_matrix`](crate::RevenueModel::predict_matrix)) combines one
/// customer's features with one fund's features, so every feature belongs to one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// A customer attribute (age band, assets, activity...).
    Customer,
    /// A fund attribute (fund id, type, risk level...).
    Fund,
}

/// A categorical feature: integer codes `0..cardinality`, encoded by a learned embedding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoricalFeature {
    /// Column name (also the CSV header name).
    pub name: String,
    /// Number of distinct codes; codes must be `< cardinality`.
    pub cardinality: u32,
    /// Customer or fund attribute.
    pub side: Side,
}

/// A numeric feature, standardised with the training set's mean and standard deviation
/// (after `ln(1 + max(x, 0))` when `log1p` is set, which tames long-tailed amounts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumericFeature {
    /// Column name (also the CSV header name).
    pub name: String,
    /// Customer or fund attribute.
    pub side: Side,
    /// Apply `ln(1 + max(x, 0))` before standardising.
    pub log1p: bool,
}

/// The features a model reads, in column order, and the embedding size of categorical features.
///
/// Build it with [`FeatureSchema::builder`]; the builder checks names are unique, cardinalities
/// are at least 1 and the embedding size is at least 1.
///
/// ```
/// use fundalloc_revenue_model::{FeatureSchema, Side};
/// let schema = FeatureSchema::builder()
///     .categorical("region", 10, Side::Customer)
///     .numeric("assets", Side::Customer, true)
///     .categorical("fund_id", 8, Side::Fund)
///     .build()?;
/// assert_eq!(schema.embedding_dim(), 24);
/// assert_eq!(schema.input_dim(), 2 * 24 + 1);
/// # Ok::<(), fundalloc_revenue_model::RevenueModelError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureSchema {
    categorical: Vec<CategoricalFeature>,
    numeric: Vec<NumericFeature>,
    embedding_dim: usize,
}

/// Default embedding size of categorical features (the paper's setting).
pub const DEFAULT_EMBEDDING_DIM: usize = 24;

impl FeatureSchema {
    /// Starts an empty schema with embedding size [`DEFAULT_EMBEDDING_DIM`].
    pub fn builder() -> FeatureSchemaBuilder {
        FeatureSchemaBuilder {
            categorical: Vec::new(),
            numeric: Vec::new(),
            embedding_dim: DEFAULT_EMBEDDING_DIM,
        }
    }

    /// Categorical features in column order.
    pub fn categorical(&self) -> &[CategoricalFeature] {
        &self.categorical
    }

    /// Numeric features in column order.
    pub fn numeric(&self) -> &[NumericFeature] {
        &self.numeric
    }

    /// Embedding size of each categorical feature.
    pub fn embedding_dim(&self) -> usize {
        self.embedding_dim
    }

    /// Width of the network input: `n_categorical × embedding_dim + n_numeric`.
    pub fn input_dim(&self) -> usize {
        self.categorical.len() * self.embedding_dim + self.numeric.len()
    }

    /// Sum of the cardinalities: rows of the (single, offset-indexed) embedding table.
    pub fn total_cardinality(&self) -> usize {
        self.categorical
            .iter()
            .map(|c| c.cardinality as usize)
            .sum()
    }

    /// Number of categorical / numeric features on `side`.
    pub fn count_on(&self, side: Side) -> (usize, usize) {
        (
            self.categorical.iter().filter(|c| c.side == side).count(),
            self.numeric.iter().filter(|c| c.side == side).count(),
        )
    }
}

/// Builder of [`FeatureSchema`].
#[derive(Debug, Clone)]
pub struct FeatureSchemaBuilder {
    categorical: Vec<CategoricalFeature>,
    numeric: Vec<NumericFeature>,
    embedding_dim: usize,
}

impl FeatureSchemaBuilder {
    /// Adds a categorical feature with codes `0..cardinality`.
    pub fn categorical(mut self, name: impl Into<String>, cardinality: u32, side: Side) -> Self {
        self.categorical.push(CategoricalFeature {
            name: name.into(),
            cardinality,
            side,
        });
        self
    }

    /// Adds a numeric feature.
    pub fn numeric(mut self, name: impl Into<String>, side: Side, log1p: bool) -> Self {
        self.numeric.push(NumericFeature {
            name: name.into(),
            side,
            log1p,
        });
        self
    }

    /// Sets the embedding size (default 24).
    pub fn embedding_dim(mut self, dim: usize) -> Self {
        self.embedding_dim = dim;
        self
    }

    /// Validates and builds the schema.
    pub fn build(self) -> Result<FeatureSchema> {
        if self.categorical.is_empty() && self.numeric.is_empty() {
            return Err(RevenueModelError::Empty {
                what: "feature schema",
            });
        }
        if self.embedding_dim == 0 {
            return Err(RevenueModelError::InvalidParam {
                name: "embedding_dim",
                value: "0".into(),
                reason: "must be at least 1",
            });
        }
        let mut names = std::collections::HashSet::new();
        let all = self
            .categorical
            .iter()
            .map(|c| &c.name)
            .chain(self.numeric.iter().map(|n| &n.name));
        for name in all {
            if !names.insert(name.as_str()) {
                return Err(RevenueModelError::InvalidParam {
                    name: "feature name",
                    value: name.clone(),
                    reason: "feature names must be unique",
                });
            }
        }
        if let Some(c) = self.categorical.iter().find(|c| c.cardinality == 0) {
            return Err(RevenueModelError::InvalidParam {
                name: "cardinality",
                value: format!("{} (feature `{}`)", c.cardinality, c.name),
                reason: "must be at least 1",
            });
        }
        Ok(FeatureSchema {
            categorical: self.categorical,
            numeric: self.numeric,
            embedding_dim: self.embedding_dim,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_schemas() {
        assert!(matches!(
            FeatureSchema::builder().build(),
            Err(RevenueModelError::Empty { .. })
        ));
        let dup = FeatureSchema::builder()
            .numeric("a", Side::Customer, false)
            .categorical("a", 3, Side::Fund)
            .build();
        assert!(matches!(dup, Err(RevenueModelError::InvalidParam { .. })));
        let zero = FeatureSchema::builder()
            .categorical("a", 0, Side::Fund)
            .build();
        assert!(matches!(
            zero,
            Err(RevenueModelError::InvalidParam {
                name: "cardinality",
                ..
            })
        ));
        let dim = FeatureSchema::builder()
            .numeric("a", Side::Customer, false)
            .embedding_dim(0)
            .build();
        assert!(matches!(
            dim,
            Err(RevenueModelError::InvalidParam {
                name: "embedding_dim",
                ..
            })
        ));
    }

    #[test]
    fn counts_and_dims() {
        let s = FeatureSchema::builder()
            .categorical("c1", 3, Side::Customer)
            .categorical("f1", 5, Side::Fund)
            .numeric("n1", Side::Customer, false)
            .embedding_dim(4)
            .build()
            .unwrap();
        assert_eq!(s.input_dim(), 9);
        assert_eq!(s.total_cardinality(), 8);
        assert_eq!(s.count_on(Side::Customer), (1, 1));
        assert_eq!(s.count_on(Side::Fund), (1, 0));
    }
}
