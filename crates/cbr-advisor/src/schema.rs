//! The customer schema: which features a case has, their kind and importance weight.
//!
//! The paper's Table 1 (not in the published text) lists nine features with weights
//! 3 = high, 2 = medium, 1 = low. Features 1, 2, 3, 5 are linear, 6–9 nominal, 4 is the
//! asset allocation (the portfolios). [`Schema::smartfasi`] encodes that table with the
//! default weights documented there; every weight and nominal distance matrix is configurable.

use serde::{Deserialize, Serialize};

use fundalloc_core_types::TooLarge;

use crate::error::{MatrixProblem, SchemaProblem};
use crate::{CbrError, Result};

/// The most cells (`categories²`) an explicit nominal distance matrix may have: 2²⁴
/// (128 MiB of `f64`, 4,096 categories). The plain overlap metric stores no matrix and takes
/// up to 65,534 categories.
pub const MAX_MATRIX_CELLS: usize = 1 << 24;

/// How a feature is compared (Eq. 1 of the paper).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureKind {
    /// A numeric feature: `d(x, y) = |x − y| / range(f)` with the range kept current as cases
    /// are added (clamped to 1 for a target outside the case base's range).
    Linear,
    /// A coded feature with a fixed list of categories and an `n × n` distance matrix
    /// `overlap(x, y) ∈ [0, 1]` with a zero diagonal. Without a matrix the plain overlap
    /// metric is used (0 if equal, 1 otherwise).
    Nominal {
        /// The category names (values in input files use these names).
        categories: Vec<String>,
        /// Row-major `distances[x][y]`, or `None` for the plain overlap metric.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        distances: Option<Vec<Vec<f64>>>,
    },
}

/// One feature of a customer case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// The feature's name (a column name in CSV input).
    pub name: String,
    /// Linear or nominal.
    #[serde(flatten)]
    pub kind: FeatureKind,
    /// Importance weight: 1 (low), 2 (medium) or 3 (high).
    pub weight: u8,
}

impl FeatureSpec {
    /// A linear feature.
    pub fn linear(name: impl Into<String>, weight: u8) -> Self {
        Self {
            name: name.into(),
            kind: FeatureKind::Linear,
            weight,
        }
    }

    /// A nominal feature compared with the plain overlap metric.
    pub fn nominal<S: Into<String>>(
        name: impl Into<String>,
        categories: impl IntoIterator<Item = S>,
        weight: u8,
    ) -> Self {
        Self {
            name: name.into(),
            kind: FeatureKind::Nominal {
                categories: categories.into_iter().map(Into::into).collect(),
                distances: None,
            },
            weight,
        }
    }

    /// Replaces the nominal distance matrix (no effect on a linear feature).
    #[must_use]
    pub fn with_distances(mut self, matrix: Vec<Vec<f64>>) -> Self {
        if let FeatureKind::Nominal { distances, .. } = &mut self.kind {
            *distances = Some(matrix);
        }
        self
    }
}

/// The unchecked description of a schema (what is read from JSON); [`SchemaSpec::check`]
/// validates it into a [`Schema`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaSpec {
    /// The scalar features, in order.
    pub features: Vec<FeatureSpec>,
    /// Weight of the asset-allocation feature (the portfolios, feature 4 of the paper).
    pub portfolio_weight: u8,
    /// The linear feature holding the MiFID adequacy level (compared with product risk levels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adequacy_feature: Option<String>,
}

/// Where a feature's values live in the case base's column store.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Column {
    /// Index into the linear columns.
    Linear(usize),
    /// Index into the nominal columns, number of categories, the metric.
    Nominal(usize, usize, NominalMetric),
}

/// How two categories of a nominal feature are compared.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NominalMetric {
    /// 0 if equal, 1 otherwise (no matrix stored).
    Overlap,
    /// A row-major `n × n` matrix.
    Matrix(Vec<f64>),
}

impl NominalMetric {
    /// The distance of codes `x` and `y`, both `< n` (1 for an out-of-range code).
    #[inline]
    pub(crate) fn get(&self, x: usize, y: usize, n: usize) -> f64 {
        if x >= n || y >= n {
            return 1.0;
        }
        match self {
            Self::Overlap => {
                if x == y {
                    0.0
                } else {
                    1.0
                }
            }
            Self::Matrix(m) => m.get(x * n + y).copied().unwrap_or(1.0),
        }
    }
}

/// A validated schema. Build it from a [`SchemaSpec`] with [`SchemaSpec::check`], or take the
/// paper's defaults with [`Schema::smartfasi`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SchemaSpec", into = "SchemaSpec")]
pub struct Schema {
    spec: SchemaSpec,
    columns: Vec<Column>,
    n_linear: usize,
    n_nominal: usize,
    adequacy: Option<usize>,
    weight_sum: f64,
}

impl TryFrom<SchemaSpec> for Schema {
    type Error = CbrError;
    fn try_from(spec: SchemaSpec) -> Result<Self> {
        spec.check()
    }
}

impl From<Schema> for SchemaSpec {
    fn from(schema: Schema) -> Self {
        schema.spec
    }
}

fn check_weight(feature: &str, weight: u8) -> Result<()> {
    if (1..=3).contains(&weight) {
        Ok(())
    } else {
        Err(CbrError::InvalidWeight {
            feature: feature.to_owned(),
            weight,
        })
    }
}

impl SchemaSpec {
    /// Validates the spec: weights in 1..=3, unique names, at least one category per nominal
    /// feature (at most 65,534), square matrices with entries in `[0, 1]` and a zero diagonal
    /// (at most [`MAX_MATRIX_CELLS`] cells, checked before anything is allocated), and an
    /// adequacy feature that exists and is linear.
    ///
    /// # Errors
    /// [`CbrError::InvalidWeight`], [`CbrError::InvalidSchema`],
    /// [`CbrError::InvalidDistanceMatrix`], [`CbrError::TooLarge`].
    pub fn check(self) -> Result<Schema> {
        check_weight("portfolios", self.portfolio_weight)?;
        let mut seen = std::collections::HashSet::new();
        let mut columns = Vec::with_capacity(self.features.len());
        let (mut n_linear, mut n_nominal) = (0, 0);
        for f in &self.features {
            check_weight(&f.name, f.weight)?;
            if f.name.is_empty() || f.name == "id" || !seen.insert(f.name.as_str()) {
                return Err(CbrError::InvalidSchema {
                    feature: f.name.clone(),
                    problem: SchemaProblem::BadName,
                });
            }
            match &f.kind {
                FeatureKind::Linear => {
                    columns.push(Column::Linear(n_linear));
                    n_linear += 1;
                }
                FeatureKind::Nominal {
                    categories,
                    distances,
                } => {
                    let n = categories.len();
                    if n == 0 || n >= usize::from(u16::MAX) {
                        return Err(CbrError::InvalidSchema {
                            feature: f.name.clone(),
                            problem: SchemaProblem::CategoryCount(n),
                        });
                    }
                    let mut cats = std::collections::HashSet::new();
                    if let Some(c) = categories.iter().find(|c| !cats.insert(c.as_str())) {
                        return Err(CbrError::InvalidSchema {
                            feature: f.name.clone(),
                            problem: SchemaProblem::RepeatedCategory(c.clone()),
                        });
                    }
                    let metric = match distances {
                        None => NominalMetric::Overlap,
                        Some(m) => NominalMetric::Matrix(flatten_matrix(&f.name, m, n)?),
                    };
                    columns.push(Column::Nominal(n_nominal, n, metric));
                    n_nominal += 1;
                }
            }
        }
        let adequacy = match &self.adequacy_feature {
            None => None,
            Some(name) => {
                let i = self
                    .features
                    .iter()
                    .position(|f| &f.name == name)
                    .ok_or_else(|| CbrError::InvalidSchema {
                        feature: name.clone(),
                        problem: SchemaProblem::UnknownAdequacyFeature,
                    })?;
                match columns.get(i) {
                    Some(Column::Linear(c)) => Some(*c),
                    _ => {
                        return Err(CbrError::InvalidSchema {
                            feature: name.clone(),
                            problem: SchemaProblem::NominalAdequacyFeature,
                        });
                    }
                }
            }
        };
        let weight_sum = f64::from(self.portfolio_weight)
            + self
                .features
                .iter()
                .map(|f| f64::from(f.weight))
                .sum::<f64>();
        Ok(Schema {
            spec: self,
            columns,
            n_linear,
            n_nominal,
            adequacy,
            weight_sum,
        })
    }
}

fn flatten_matrix(name: &str, m: &[Vec<f64>], n: usize) -> Result<Vec<f64>> {
    let bad = |problem: MatrixProblem| CbrError::InvalidDistanceMatrix {
        feature: name.to_owned(),
        problem,
    };
    let cells = n.saturating_mul(n);
    TooLarge::check(
        "nominal distance matrix cells",
        cells as u128,
        MAX_MATRIX_CELLS as u128,
    )?;
    if m.len() != n || m.iter().any(|row| row.len() != n) {
        return Err(bad(MatrixProblem::NotSquare { categories: n }));
    }
    let mut flat = Vec::with_capacity(cells);
    for (i, row) in m.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            if !(0.0..=1.0).contains(&v) {
                return Err(bad(MatrixProblem::OutOfRange {
                    row: i,
                    col: j,
                    value: v,
                }));
            }
            if i == j && v != 0.0 {
                return Err(bad(MatrixProblem::NonZeroDiagonal { index: i, value: v }));
            }
            flat.push(v);
        }
    }
    Ok(flat)
}

impl Schema {
    /// The SMARTFASI schema with this crate's default weights (the paper's Table 1 is not
    /// published; these follow its prose and are documented in `docs/cbr-advisor.md`):
    ///
    /// | # | feature | kind | weight |
    /// |---|---|---|---|
    /// | 1 | `age` (years) | linear | 2 |
    /// | 2 | `available_capital` (currency units) | linear | 3 |
    /// | 3 | `adequacy` (MiFID level 1–5) | linear | 3 |
    /// | 4 | portfolios (6-class shares) | best-match cosine | 3 |
    /// | 5 | `children` | linear | 1 |
    /// | 6 | `marital_status` single/married/divorced/widowed | nominal, matrix | 1 |
    /// | 7 | `education` primary/secondary/bachelor/master/doctorate | nominal, `\|i−j\|/4` | 2 |
    /// | 8 | `sex` F/M | nominal, overlap | 1 |
    /// | 9 | `employment` employee/self_employed/retired/unemployed/student | nominal, matrix | 2 |
    pub fn smartfasi() -> Self {
        let marital = vec![
            vec![0.0, 1.0, 0.5, 0.5],
            vec![1.0, 0.0, 0.75, 0.75],
            vec![0.5, 0.75, 0.0, 0.5],
            vec![0.5, 0.75, 0.5, 0.0],
        ];
        let education = (0..5)
            .map(|i: i32| {
                (0..5)
                    .map(|j: i32| f64::from((i - j).abs()) / 4.0)
                    .collect()
            })
            .collect();
        let employment = vec![
            vec![0.0, 0.5, 1.0, 1.0, 1.0],
            vec![0.5, 0.0, 1.0, 1.0, 1.0],
            vec![1.0, 1.0, 0.0, 0.75, 1.0],
            vec![1.0, 1.0, 0.75, 0.0, 0.5],
            vec![1.0, 1.0, 1.0, 0.5, 0.0],
        ];
        let spec = SchemaSpec {
            features: vec![
                FeatureSpec::linear("age", 2),
                FeatureSpec::linear("available_capital", 3),
                FeatureSpec::linear("adequacy", 3),
                FeatureSpec::linear("children", 1),
                FeatureSpec::nominal(
                    "marital_status",
                    ["single", "married", "divorced", "widowed"],
                    1,
                )
                .with_distances(marital),
                FeatureSpec::nominal(
                    "education",
                    ["primary", "secondary", "bachelor", "master", "doctorate"],
                    2,
                )
                .with_distances(education),
                FeatureSpec::nominal("sex", ["F", "M"], 1),
                FeatureSpec::nominal(
                    "employment",
                    [
                        "employee",
                        "self_employed",
                        "retired",
                        "unemployed",
                        "student",
                    ],
                    2,
                )
                .with_distances(employment),
            ],
            portfolio_weight: 3,
            adequacy_feature: Some("adequacy".into()),
        };
        #[allow(clippy::expect_used)] // the literal above is valid; a unit test checks it
        spec.check()
            .expect("the built-in SMARTFASI schema is valid")
    }

    /// The unchecked description this schema was built from.
    pub fn spec(&self) -> &SchemaSpec {
        &self.spec
    }

    /// The scalar features in order.
    pub fn features(&self) -> &[FeatureSpec] {
        &self.spec.features
    }

    /// The portfolio feature's weight.
    pub fn portfolio_weight(&self) -> u8 {
        self.spec.portfolio_weight
    }

    /// `Σ w_i` over all features including the portfolios (the denominator of Eq. 5).
    pub fn weight_sum(&self) -> f64 {
        self.weight_sum
    }

    /// The index of a feature by name.
    pub fn feature_index(&self, name: &str) -> Option<usize> {
        self.spec.features.iter().position(|f| f.name == name)
    }

    /// The index of a nominal feature's category, by name.
    pub fn category_index(&self, feature: usize, category: &str) -> Option<u16> {
        match &self.spec.features.get(feature)?.kind {
            FeatureKind::Nominal { categories, .. } => categories
                .iter()
                .position(|c| c == category)
                .and_then(|i| u16::try_from(i).ok()),
            FeatureKind::Linear => None,
        }
    }

    pub(crate) fn columns(&self) -> &[Column] {
        &self.columns
    }
    pub(crate) fn n_linear(&self) -> usize {
        self.n_linear
    }
    pub(crate) fn n_nominal(&self) -> usize {
        self.n_nominal
    }
    /// The linear column of the adequacy feature.
    pub(crate) fn adequacy_column(&self) -> Option<usize> {
        self.adequacy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schema_is_valid_and_has_nine_features() {
        let s = Schema::smartfasi();
        assert_eq!(s.features().len() + 1, 9);
        assert_eq!(
            s.weight_sum(),
            2.0 + 3.0 + 3.0 + 3.0 + 1.0 + 1.0 + 2.0 + 1.0 + 2.0
        );
        assert_eq!(s.adequacy_column(), Some(2));
        assert_eq!(s.category_index(6, "M"), Some(1));
        let json = serde_json::to_string(&s).unwrap();
        let back: Schema = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn invalid_schemas_are_rejected() {
        let base = || Schema::smartfasi().spec().clone();
        let mut s = base();
        s.features[0].weight = 4;
        assert!(matches!(
            s.check(),
            Err(CbrError::InvalidWeight { weight: 4, .. })
        ));
        let mut s = base();
        s.portfolio_weight = 0;
        assert!(matches!(s.check(), Err(CbrError::InvalidWeight { .. })));
        let mut s = base();
        s.features[1].name = "age".into();
        assert!(matches!(s.check(), Err(CbrError::InvalidSchema { .. })));
        let mut s = base();
        s.features[6] = FeatureSpec::nominal("sex", ["F", "M"], 1)
            .with_distances(vec![vec![0.0, 1.5], vec![1.0, 0.0]]);
        assert!(matches!(
            s.check(),
            Err(CbrError::InvalidDistanceMatrix { .. })
        ));
        let mut s = base();
        s.features[6] = FeatureSpec::nominal("sex", ["F", "M"], 1)
            .with_distances(vec![vec![0.2, 1.0], vec![1.0, 0.0]]);
        assert!(matches!(
            s.check(),
            Err(CbrError::InvalidDistanceMatrix { .. })
        ));
        let mut s = base();
        s.features[6] = FeatureSpec::nominal("sex", ["F", "M"], 1).with_distances(vec![vec![0.0]]);
        assert!(matches!(
            s.check(),
            Err(CbrError::InvalidDistanceMatrix { .. })
        ));
        let mut s = base();
        s.adequacy_feature = Some("sex".into());
        assert!(matches!(s.check(), Err(CbrError::InvalidSchema { .. })));
        let mut s = base();
        s.adequacy_feature = Some("nope".into());
        assert!(matches!(s.check(), Err(CbrError::InvalidSchema { .. })));
        let mut s = base();
        s.features[6] = FeatureSpec::nominal("sex", Vec::<String>::new(), 1);
        assert!(matches!(s.check(), Err(CbrError::InvalidSchema { .. })));
    }

    #[test]
    fn many_categories_without_matrix_store_no_matrix_and_big_matrices_are_refused() {
        // 65,534 categories (the most a u16 code with a "missing" code allows) and no
        // matrix: the old code allocated 65,534² f64 (34 GB) and aborted.
        let cats: Vec<String> = (0..65_534).map(|i| format!("c{i}")).collect();
        let spec = SchemaSpec {
            features: vec![FeatureSpec::nominal("region", cats.clone(), 1)],
            portfolio_weight: 1,
            adequacy_feature: None,
        };
        let s = spec.check().unwrap();
        assert!(matches!(
            &s.columns()[0],
            Column::Nominal(0, 65_534, NominalMetric::Overlap)
        ));
        let m = NominalMetric::Overlap;
        assert_eq!(
            (m.get(7, 7, 9), m.get(7, 8, 9), m.get(9, 9, 9)),
            (0.0, 1.0, 1.0)
        );
        let mut too_many = cats;
        too_many.push("one more".into());
        let spec = SchemaSpec {
            features: vec![FeatureSpec::nominal("region", too_many, 1)],
            portfolio_weight: 1,
            adequacy_feature: None,
        };
        assert!(matches!(
            spec.check(),
            Err(CbrError::InvalidSchema {
                problem: SchemaProblem::CategoryCount(65_535),
                ..
            })
        ));
        // An explicit matrix is bounded by its cell count before it is read or copied.
        let cats: Vec<String> = (0..4097).map(|i| format!("c{i}")).collect();
        let spec = SchemaSpec {
            features: vec![FeatureSpec::nominal("region", cats, 1).with_distances(vec![vec![0.0]])],
            portfolio_weight: 1,
            adequacy_feature: None,
        };
        assert!(matches!(spec.check(), Err(CbrError::TooLarge(_))));
    }
}
