//! Reading one side's feature table (customers or funds) from a CSV file, by the column names of
//! a saved model's schema. Other columns (ids, risk levels, exposures) are ignored, so the files
//! `fundalloc allocate` reads can carry the features too.

use std::path::Path;

use fundalloc_revenue_model::{
    CategoricalFeature, FeatureSchema, FeatureTable, Side, UnknownCategory,
};
use ndarray::Array2;

use crate::input::{InputError, columns, err, for_each_row, open_csv};

/// The schema's features on `side`, one row per CSV record, in file order.
///
/// Categorical cells must be one of the feature's levels when the model was trained on names,
/// else integer codes below the feature's cardinality; numeric cells finite numbers. Every
/// failure names the file, the line, the column and the value.
pub(crate) fn read_feature_table(
    path: &Path,
    schema: &FeatureSchema,
    side: Side,
) -> Result<FeatureTable, InputError> {
    let cat: Vec<&CategoricalFeature> = schema
        .categorical()
        .iter()
        .filter(|c| c.side == side)
        .collect();
    let lookups: Vec<_> = cat.iter().map(|c| c.lookup()).collect();
    let num: Vec<&str> = schema
        .numeric()
        .iter()
        .filter(|n| n.side == side)
        .map(|n| n.name.as_str())
        .collect();
    let mut r = open_csv(path)?;
    let names: Vec<&str> = cat
        .iter()
        .map(|c| c.name.as_str())
        .chain(num.iter().copied())
        .collect();
    let cols = columns(path, &mut r, &names)?;
    let (cat_cols, num_cols) = cols.split_at(cat.len());
    let mut codes = Vec::new();
    let mut values = Vec::new();
    let mut rows = 0usize;
    for_each_row(path, &mut r, |row| {
        let (line, field) = (row.line, |i: usize| row.field(i));
        for ((feature, lookup), &col) in cat.iter().zip(&lookups).zip(cat_cols) {
            let text = field(col)?;
            let code = lookup
                .code(text)
                .map_err(|why| err(path, line, unknown_category(feature, text, why)))?;
            codes.push(code);
        }
        for (&name, &col) in num.iter().zip(num_cols) {
            let text = field(col)?;
            let v: f32 = text.parse().map_err(|_| {
                err(
                    path,
                    line,
                    format!("column `{name}`: `{text}` is not a number"),
                )
            })?;
            if !v.is_finite() {
                return Err(err(
                    path,
                    line,
                    format!("column `{name}`: non-finite value `{text}`"),
                ));
            }
            values.push(v);
        }
        rows += 1;
        Ok(())
    })?;
    if rows == 0 {
        return Err(err(path, None, "no rows"));
    }
    let shape = |what: &str, e: ndarray::ShapeError| err(path, None, format!("{what}: {e}"));
    Ok(FeatureTable {
        categorical: Array2::from_shape_vec((rows, cat.len()), codes)
            .map_err(|e| shape("categorical features", e))?,
        numeric: Array2::from_shape_vec((rows, num.len()), values)
            .map_err(|e| shape("numeric features", e))?,
    })
}

/// Why `text` is no category of `feature`, with what the model knows (at most 8 levels shown).
fn unknown_category(feature: &CategoricalFeature, text: &str, why: UnknownCategory) -> String {
    let name = &feature.name;
    let last = feature.cardinality.saturating_sub(1);
    match why {
        UnknownCategory::CodeOutOfRange { code, .. } => {
            format!(
                "column `{name}`: code {code} is unknown to the model (trained with codes 0–{last})"
            )
        }
        UnknownCategory::NotACode => {
            format!("column `{name}`: `{text}` is not a category code (an integer 0–{last})")
        }
        // `UnknownLevel`, and whatever the model crate adds later: list what it knows.
        _ => {
            const SHOWN: usize = 8;
            let mut known = feature.levels[..feature.levels.len().min(SHOWN)].join(", ");
            if feature.levels.len() > SHOWN {
                known.push_str(&format!(", … ({} in all)", feature.levels.len()));
            }
            format!(
                "column `{name}`: `{text}` is not a category the model was trained on ({known})"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> FeatureSchema {
        FeatureSchema::builder()
            .categorical("age", 3, Side::Customer)
            .categorical("fund_id", 2, Side::Fund)
            .numeric("assets", Side::Customer, true)
            .numeric("fund_return", Side::Fund, false)
            .build()
            .unwrap()
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn reads_each_side_by_name_ignoring_other_columns() {
        let f = file("customer_id,assets,risk_tolerance,age\nc1,10.5,3,2\nc2, 0 ,1,0\n");
        let t = read_feature_table(f.path(), &schema(), Side::Customer).unwrap();
        assert_eq!(t.categorical, ndarray::array![[2], [0]]);
        assert_eq!(t.numeric, ndarray::array![[10.5], [0.0]]);
        let f = file("fund_return,fund_id,exposure\n0.1,1,5\n0.2,0,3\n0.3,1,0\n");
        let t = read_feature_table(f.path(), &schema(), Side::Fund).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.categorical.column(0).to_vec(), vec![1, 0, 1]);
        assert_eq!(t.numeric.column(0).to_vec(), vec![0.1, 0.2, 0.3]);
        t.validate(&schema(), Side::Fund).unwrap();
    }

    #[test]
    fn named_categories_map_through_the_models_levels() {
        let s = FeatureSchema::builder()
            .categorical_levels("segment", ["mass", "premium"], Side::Customer)
            .categorical_levels("fund_id", (0..12).map(|i| format!("F{i:02}")), Side::Fund)
            .build()
            .unwrap();
        let f = file("customer_id,segment\nc1,premium\nc2, mass\n");
        let t = read_feature_table(f.path(), &s, Side::Customer).unwrap();
        assert_eq!(t.categorical, ndarray::array![[1], [0]]);
        let f = file("fund_id\nF11\nF00\n");
        let t = read_feature_table(f.path(), &s, Side::Fund).unwrap();
        assert_eq!(t.categorical.column(0).to_vec(), vec![11, 0]);
        let f = file("segment\nmass\ngold\n");
        let e = read_feature_table(f.path(), &s, Side::Customer)
            .unwrap_err()
            .to_string();
        for n in [":3:", "`segment`", "`gold`", "(mass, premium)"] {
            assert!(e.contains(n), "`{n}` not in {e}");
        }
        let f = file("fund_id\nF12\n");
        let e = read_feature_table(f.path(), &s, Side::Fund)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("F00, F01, F02, F03, F04, F05, F06, F07, … (12 in all)"),
            "{e}"
        );
    }

    #[test]
    fn a_side_without_features_still_counts_rows() {
        let s = FeatureSchema::builder()
            .categorical("age", 3, Side::Customer)
            .build()
            .unwrap();
        let f = file("fund_id\na\nb\n");
        let t = read_feature_table(f.path(), &s, Side::Fund).unwrap();
        assert_eq!(
            (t.len(), t.categorical.ncols(), t.numeric.ncols()),
            (2, 0, 0)
        );
    }

    #[test]
    fn bad_cells_name_line_column_and_value() {
        let s = schema();
        for (text, needles) in [
            ("assets,c\n1,2\n", vec![":1:", "no column `age`"]),
            (
                "age,assets\n1,2\n3,2\n",
                vec![":3:", "`age`", "code 3", "0–2"],
            ),
            (
                "age,assets\n1,2\n-1,2\n",
                vec![":3:", "`-1`", "category code"],
            ),
            ("age,assets\n1,NaN\n", vec![":2:", "`assets`", "non-finite"]),
            ("age,assets\n1,inf\n", vec![":2:", "non-finite"]),
            (
                "age,assets\n1,lots\n",
                vec![":2:", "`lots`", "not a number"],
            ),
            ("age,assets\n1,2,3\n", vec![":2:", "malformed"]),
            ("age,assets\n", vec!["no rows"]),
        ] {
            let f = file(text);
            let e = read_feature_table(f.path(), &s, Side::Customer)
                .unwrap_err()
                .to_string();
            for n in needles {
                assert!(e.contains(n), "{text:?}: `{n}` not in {e}");
            }
        }
        let e = read_feature_table(Path::new("/nonexistent.csv"), &s, Side::Customer)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot open"), "{e}");
    }
}
