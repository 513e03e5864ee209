//! The customer schema: which features a case has, their kind and importance weight.
//!
//! The paper's Table 1 (not in the published text) lists nine features with weights
//! 3 = high, 2 = medium, 1 = low. Features 1, 2, 3, 5 are linear, 6–9 nominal, 4 is the
//! asset allocation (the portfolios). [`Schema::smartfasi`] encodes that table with the
//! default weights documented there; every weight and nominal distance matrix is configurable.

use serde::{Deserialize, Serialize};

use crate::{CbrError, Result};

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
    /// Index into the nominal columns, number of categories, row-major distance matrix.
    Nominal(usize, usize, Vec<f64>),
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
    /// feature (at most 65,535), square matrices with entries in `[0, 1]` and a zero diagonal,
    /// and an adequacy feature that exists and is linear.
    pub fn check(self) -> Result<Schema> {
        check_weight("portfolios", self.portfolio_weight)?;
        let mut seen = std::collections::HashSet::new();
        let mut columns = Vec::with_capacity(self.features.len());
        let (mut n_linear, mut n_nominal) = (0, 0);
        for f in &self.features {
            check_weight(&f.name, f.weight)?;
            if f.name.is_empty() || f.name == "id" || !seen.insert(f.name.as_str()) {
                return Err(CbrError::InvalidSchema {
                    reason: format!("feature name `{}` is empty, reserved or repeated", f.name),
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
                            reason: format!("`{}` needs 1..65535 categories, has {n}", f.name),
                        });
                    }
                    let mut cats = std::collections::HashSet::new();
                    if !categories.iter().all(|c| cats.insert(c.as_str())) {
                        return Err(CbrError::InvalidSchema {
                            reason: format!("`{}` has repeated categories", f.name),
                        });
                    }
                    let flat = match distances {
                        None => (0..n * n)
                            .map(|i| if i / n == i % n { 0.0 } else { 1.0 })
                            .collect(),
                        Some(m) => flatten_matrix(&f.name, m, n)?,
                    };
                    columns.push(Column::Nominal(n_nominal, n, flat));
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
                        reason: format!("adequacy feature `{name}` is not in the schema"),
                    })?;
                match columns[i] {
                    Column::Linear(c) => Some(c),
                    Column::Nominal(..) => {
                        return Err(CbrError::InvalidSchema {
                            reason: format!("adequacy feature `{name}` must be linear"),
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
    let bad = |reason: String| CbrError::InvalidDistanceMatrix {
        feature: name.to_owned(),
        reason,
    };
    if m.len() != n || m.iter().any(|row| row.len() != n) {
        return Err(bad(format!("must be {n} x {n}")));
    }
    let mut flat = Vec::with_capacity(n * n);
    for (i, row) in m.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            if !(0.0..=1.0).contains(&v) {
                return Err(bad(format!("entry ({i}, {j}) = {v} is outside [0, 1]")));
            }
            if i == j && v != 0.0 {
                return Err(bad(format!("diagonal entry ({i}, {i}) = {v} must be 0")));
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
}
