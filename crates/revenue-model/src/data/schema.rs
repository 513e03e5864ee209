//! The feature schema: which columns a model reads and how it encodes them.

use std::collections::HashMap;

use fundalloc_core_types::{Empty, InvalidParameter};

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
///
/// In text input (CSV) a cell holds either the code itself or, when the feature has
/// [`levels`](Self::levels), one of the level names (`"retail"`, `"R3"`...), which stands
/// for its index in `levels`. [`CategoricalFeature::lookup`] turns cells into codes either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoricalFeature {
    /// Column name (also the CSV header name).
    pub name: String,
    /// Number of distinct codes; codes must be `< cardinality`.
    pub cardinality: u32,
    /// Customer or fund attribute.
    pub side: Side,
    /// The value each code stands for in text input: `levels[c]` is code `c`, so
    /// `levels.len() == cardinality`. Empty when the cells are the integer codes themselves.
    pub levels: Vec<String>,
}

impl CategoricalFeature {
    /// A reader of this feature's CSV cells (a hash map from level to code when the feature has
    /// levels): build it once per column, then call [`CodeLookup::code`] per cell.
    pub fn lookup(&self) -> CodeLookup<'_> {
        CodeLookup {
            cardinality: self.cardinality,
            by_level: (!self.levels.is_empty()).then(|| {
                self.levels
                    .iter()
                    .zip(0u32..)
                    .map(|(level, code)| (level.as_str(), code))
                    .collect()
            }),
        }
    }
}

/// Turns the text of a categorical feature's cell into its code; see
/// [`CategoricalFeature::lookup`].
///
/// ```
/// use fundalloc_revenue_model::{FeatureSchema, Side};
/// let schema = FeatureSchema::builder()
///     .categorical_levels("segment", ["mass", "premium", "private"], Side::Customer)
///     .categorical("fund_id", 8, Side::Fund)
///     .build()?;
/// let segment = schema.categorical()[0].lookup();
/// assert_eq!(segment.code("premium"), Ok(1));
/// assert!(segment.code("gold").is_err());
/// let fund = schema.categorical()[1].lookup();
/// assert_eq!(fund.code("7"), Ok(7));
/// assert!(fund.code("8").is_err());
/// # Ok::<(), fundalloc_revenue_model::RevenueModelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CodeLookup<'a> {
    cardinality: u32,
    by_level: Option<HashMap<&'a str, u32>>,
}

/// Why a cell is no category of its feature ([`CodeLookup::code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnknownCategory {
    /// The feature has levels and the cell is none of them.
    UnknownLevel,
    /// The feature has codes and the cell is not a non-negative integer.
    NotACode,
    /// The feature has codes and this one is at or above its cardinality.
    CodeOutOfRange {
        /// The code read.
        code: u32,
        /// The feature's cardinality.
        cardinality: u32,
    },
}

impl UnknownCategory {
    /// What the cell should have been (the `expected` of [`RevenueModelError::BadCell`]).
    pub fn expected(self) -> &'static str {
        match self {
            Self::UnknownLevel => "one of the feature's levels (the values seen in training)",
            Self::NotACode => "a non-negative integer code",
            Self::CodeOutOfRange { .. } => "a code below the feature's cardinality",
        }
    }
}

impl CodeLookup<'_> {
    /// The code of `text` (already trimmed), or why it is none.
    pub fn code(&self, text: &str) -> std::result::Result<u32, UnknownCategory> {
        match &self.by_level {
            Some(map) => map.get(text).copied().ok_or(UnknownCategory::UnknownLevel),
            None => match text.parse::<u32>() {
                Ok(code) if code < self.cardinality => Ok(code),
                Ok(code) => Err(UnknownCategory::CodeOutOfRange {
                    code,
                    cardinality: self.cardinality,
                }),
                Err(_) => Err(UnknownCategory::NotACode),
            },
        }
    }

    /// Whether the cells are level names (else integer codes).
    pub fn has_levels(&self) -> bool {
        self.by_level.is_some()
    }
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
/// are at least 1, levels (if any) are distinct, non-empty and trimmed, and the embedding size
/// is at least 1.
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
    /// Adds a categorical feature whose cells are the codes `0..cardinality`.
    pub fn categorical(mut self, name: impl Into<String>, cardinality: u32, side: Side) -> Self {
        self.categorical.push(CategoricalFeature {
            name: name.into(),
            cardinality,
            side,
            levels: Vec::new(),
        });
        self
    }

    /// Adds a categorical feature whose cells are level names: `levels[c]` stands for code `c`
    /// (cardinality `levels.len()`). [`read_csv_levels`](crate::read_csv_levels) collects them
    /// from a training file.
    pub fn categorical_levels<S: Into<String>>(
        mut self,
        name: impl Into<String>,
        levels: impl IntoIterator<Item = S>,
        side: Side,
    ) -> Self {
        let levels: Vec<String> = levels.into_iter().map(Into::into).collect();
        self.categorical.push(CategoricalFeature {
            name: name.into(),
            // More than u32::MAX levels is refused by `build` (the length no longer matches).
            cardinality: u32::try_from(levels.len()).unwrap_or(u32::MAX),
            side,
            levels,
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
            return Err(RevenueModelError::from(Empty::new("feature schema")));
        }
        if self.embedding_dim == 0 {
            return Err(RevenueModelError::from(InvalidParameter::new(
                "embedding_dim",
                0,
                "must be at least 1",
            )));
        }
        let mut names = std::collections::HashSet::new();
        let all = self
            .categorical
            .iter()
            .map(|c| &c.name)
            .chain(self.numeric.iter().map(|n| &n.name));
        for name in all {
            if !names.insert(name.as_str()) {
                return Err(RevenueModelError::from(InvalidParameter::new(
                    "feature name",
                    name.clone(),
                    "feature names must be unique",
                )));
            }
        }
        if let Some(c) = self.categorical.iter().find(|c| c.cardinality == 0) {
            return Err(RevenueModelError::from(InvalidParameter::new(
                "cardinality",
                format_args!("{} (feature `{}`)", c.cardinality, c.name),
                "must be at least 1",
            )));
        }
        for c in self.categorical.iter().filter(|c| !c.levels.is_empty()) {
            check_levels(c)?;
        }
        Ok(FeatureSchema {
            categorical: self.categorical,
            numeric: self.numeric,
            embedding_dim: self.embedding_dim,
        })
    }
}

/// Levels must name the codes one to one, and match a trimmed CSV cell.
fn check_levels(c: &CategoricalFeature) -> Result<()> {
    let bad = |value: String, reason: &'static str| {
        Err(RevenueModelError::from(InvalidParameter::new(
            "levels",
            format_args!("{value} (feature `{}`)", c.name),
            reason,
        )))
    };
    if c.levels.len() != c.cardinality as usize {
        return bad(
            format!(
                "{} levels for cardinality {}",
                c.levels.len(),
                c.cardinality
            ),
            "a feature with levels has exactly one level per code",
        );
    }
    let mut seen = std::collections::HashSet::new();
    for level in &c.levels {
        if level.is_empty() || level.trim() != level {
            return bad(
                format!("{level:?}"),
                "levels must be non-empty without surrounding whitespace (CSV cells are trimmed)",
            );
        }
        if !seen.insert(level.as_str()) {
            return bad(format!("{level:?}"), "levels must be distinct");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_schemas() {
        assert!(matches!(
            FeatureSchema::builder().build(),
            Err(RevenueModelError::Empty(_))
        ));
        let dup = FeatureSchema::builder()
            .numeric("a", Side::Customer, false)
            .categorical("a", 3, Side::Fund)
            .build();
        assert!(matches!(dup, Err(RevenueModelError::InvalidParameter(_))));
        let zero = FeatureSchema::builder()
            .categorical("a", 0, Side::Fund)
            .build();
        assert!(matches!(
            zero,
            Err(RevenueModelError::InvalidParameter(InvalidParameter {
                name: "cardinality",
                ..
            }))
        ));
        let dim = FeatureSchema::builder()
            .numeric("a", Side::Customer, false)
            .embedding_dim(0)
            .build();
        assert!(matches!(
            dim,
            Err(RevenueModelError::InvalidParameter(InvalidParameter {
                name: "embedding_dim",
                ..
            }))
        ));
    }

    #[test]
    fn levels_name_codes_and_bad_levels_are_refused() {
        let s = FeatureSchema::builder()
            .categorical_levels("segment", ["mass", "premium"], Side::Customer)
            .build()
            .unwrap();
        let c = &s.categorical()[0];
        assert_eq!(c.cardinality, 2);
        let lookup = c.lookup();
        assert!(lookup.has_levels());
        assert_eq!(lookup.code("mass"), Ok(0));
        assert_eq!(lookup.code("premium"), Ok(1));
        // Level names only: the code itself is not a level.
        assert!(lookup.code("1").is_err());
        assert!(lookup.code("Mass").is_err());
        for levels in [
            vec!["a", "a"],
            vec!["a", ""],
            vec![" a", "b"],
            vec!["a", "b "],
            vec![],
        ] {
            let r = FeatureSchema::builder()
                .categorical_levels("x", levels.clone(), Side::Fund)
                .build();
            assert!(
                matches!(r, Err(RevenueModelError::InvalidParameter(_))),
                "{levels:?}"
            );
        }
        // A hand-made feature whose levels do not match its cardinality.
        let mut b = FeatureSchema::builder().categorical("x", 3, Side::Fund);
        b.categorical[0].levels = vec!["a".into(), "b".into()];
        assert!(matches!(
            b.build(),
            Err(RevenueModelError::InvalidParameter(InvalidParameter {
                name: "levels",
                ..
            }))
        ));
    }

    #[test]
    fn integer_codes_are_checked_against_the_cardinality() {
        let s = FeatureSchema::builder()
            .categorical("fund", 3, Side::Fund)
            .build()
            .unwrap();
        let lookup = s.categorical()[0].lookup();
        assert!(!lookup.has_levels());
        assert_eq!(lookup.code("2"), Ok(2));
        let out_of_range = lookup.code("3").unwrap_err();
        assert_eq!(
            out_of_range,
            UnknownCategory::CodeOutOfRange {
                code: 3,
                cardinality: 3
            }
        );
        assert_eq!(
            out_of_range.expected(),
            "a code below the feature's cardinality"
        );
        for bad in ["-1", "x", "", "1.0"] {
            let e = lookup.code(bad).unwrap_err();
            assert_eq!(e, UnknownCategory::NotACode, "{bad:?}");
            assert_eq!(e.expected(), "a non-negative integer code", "{bad:?}");
        }
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
