//! Loading a [`Dataset`] from a CSV file whose column names are given at run time.

use std::path::Path;

use ndarray::{Array1, Array2};

use crate::{Dataset, FeatureSchema, Result, RevenueModelError};

/// Which CSV columns hold the labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelColumns {
    /// Conversion column (`0`/`1`, `true`/`false`); `None` derives it as `revenue > 0`.
    pub converted: Option<String>,
    /// Revenue column (non-negative number).
    pub revenue: String,
}

impl LabelColumns {
    /// `converted` and `revenue` columns with these names.
    pub fn new(converted: impl Into<String>, revenue: impl Into<String>) -> Self {
        Self {
            converted: Some(converted.into()),
            revenue: revenue.into(),
        }
    }
}

/// Reads a CSV file with a header row. Feature columns are found by the schema's feature names,
/// labels by `labels`; other columns are ignored, column order does not matter.
///
/// Categorical cells must be integer codes below the feature's cardinality; numeric cells must
/// be finite numbers. Every failure names the file, the 1-based line and the column.
pub fn load_csv(
    path: impl AsRef<Path>,
    schema: &FeatureSchema,
    labels: &LabelColumns,
) -> Result<Dataset> {
    let path = path.as_ref().to_path_buf();
    let file = std::fs::File::open(&path).map_err(|source| RevenueModelError::Io {
        path: path.clone(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(file);
    let header = reader.headers().map_err(|e| csv_error(&path, &e))?.clone();
    let find = |name: &str| -> Result<usize> {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| RevenueModelError::MissingColumn {
                path: path.clone(),
                column: name.to_string(),
            })
    };
    let cat_cols: Vec<usize> = schema
        .categorical()
        .iter()
        .map(|c| find(&c.name))
        .collect::<Result<_>>()?;
    let num_cols: Vec<usize> = schema
        .numeric()
        .iter()
        .map(|c| find(&c.name))
        .collect::<Result<_>>()?;
    let conv_col = labels.converted.as_deref().map(find).transpose()?;
    let rev_col = find(&labels.revenue)?;

    let mut cat = Vec::new();
    let mut num = Vec::new();
    let mut converted = Vec::new();
    let mut revenue = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(&path, &e))?;
        let line = record.position().map_or(0, |p| p.line());
        let cell = |col: usize| record.get(col).unwrap_or("");
        let bad = |col: usize, expected: &'static str| RevenueModelError::BadCell {
            path: path.clone(),
            line,
            column: header.get(col).unwrap_or("?").to_string(),
            value: cell(col).to_string(),
            expected,
        };
        for (j, &col) in cat_cols.iter().enumerate() {
            let code: u32 = cell(col)
                .parse()
                .map_err(|_| bad(col, "a non-negative integer code"))?;
            let feature = &schema.categorical()[j];
            if code >= feature.cardinality {
                return Err(bad(col, "a code below the feature's cardinality"));
            }
            cat.push(code);
        }
        for &col in &num_cols {
            let v: f32 = cell(col).parse().map_err(|_| bad(col, "a number"))?;
            if !v.is_finite() {
                return Err(bad(col, "a finite number"));
            }
            num.push(v);
        }
        let r: f32 = cell(rev_col)
            .parse()
            .map_err(|_| bad(rev_col, "a number"))?;
        if !r.is_finite() || r < 0.0 {
            return Err(bad(rev_col, "a finite non-negative revenue"));
        }
        let c = match conv_col {
            Some(col) => match cell(col) {
                "1" | "true" | "True" | "TRUE" | "1.0" => true,
                "0" | "false" | "False" | "FALSE" | "0.0" => false,
                _ => return Err(bad(col, "a conversion flag (0/1 or true/false)")),
            },
            None => r > 0.0,
        };
        if r > 0.0 && !c {
            return Err(bad(rev_col, "zero revenue on a row that did not convert"));
        }
        converted.push(c);
        revenue.push(r);
    }
    let n = revenue.len();
    if n == 0 {
        return Err(RevenueModelError::Empty {
            what: "CSV file (no data rows)",
        });
    }
    let shape_err = |what: &'static str| RevenueModelError::ShapeMismatch {
        what,
        expected: format!("{n} rows"),
        found: "ragged rows".into(),
    };
    let cat = Array2::from_shape_vec((n, cat_cols.len()), cat)
        .map_err(|_| shape_err("categorical columns"))?;
    let num = Array2::from_shape_vec((n, num_cols.len()), num)
        .map_err(|_| shape_err("numeric columns"))?;
    Dataset::new(
        schema.clone(),
        cat,
        num,
        Array1::from(converted),
        Array1::from(revenue),
    )
}

fn csv_error(path: &Path, e: &csv::Error) -> RevenueModelError {
    if let csv::ErrorKind::Io(io) = e.kind() {
        return RevenueModelError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(io.kind(), io.to_string()),
        };
    }
    RevenueModelError::Csv {
        path: path.to_path_buf(),
        line: e.position().map_or(0, |p| p.line()),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Side;
    use std::io::Write;

    fn schema() -> FeatureSchema {
        FeatureSchema::builder()
            .categorical("cohort", 4, Side::Customer)
            .numeric("spend", Side::Customer, true)
            .build()
            .unwrap()
    }

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn loads_by_name_in_any_column_order() {
        let f = write("id,revenue,spend,cohort,converted\na,0,1.5,2,0\nb,12.5,3,1,1\n");
        let d = load_csv(
            f.path(),
            &schema(),
            &LabelColumns::new("converted", "revenue"),
        )
        .unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d.categorical()[[1, 0]], 1);
        assert_eq!(d.numeric()[[0, 0]], 1.5);
        assert_eq!(d.revenue()[1], 12.5);
        assert!(d.converted()[1] && !d.converted()[0]);
        let derived = LabelColumns {
            converted: None,
            revenue: "revenue".into(),
        };
        let d = load_csv(f.path(), &schema(), &derived).unwrap();
        assert!(d.converted()[1] && !d.converted()[0]);
    }

    #[test]
    fn bad_files_give_typed_errors_with_positions() {
        let labels = LabelColumns::new("converted", "revenue");
        let missing = write("cohort,converted,revenue\n1,0,0\n");
        let err = load_csv(missing.path(), &schema(), &labels).unwrap_err();
        assert!(
            matches!(err, RevenueModelError::MissingColumn { ref column, .. } if column == "spend")
        );

        let cell = write("cohort,spend,converted,revenue\n1,2.0,0,0\n1,abc,0,0\n");
        let err = load_csv(cell.path(), &schema(), &labels).unwrap_err();
        assert!(
            matches!(err, RevenueModelError::BadCell { line: 3, ref column, .. } if column == "spend"),
            "{err}"
        );

        let code = write("cohort,spend,converted,revenue\n7,2.0,0,0\n");
        let err = load_csv(code.path(), &schema(), &labels).unwrap_err();
        assert!(
            matches!(err, RevenueModelError::BadCell { line: 2, ref column, .. } if column == "cohort")
        );

        let neg = write("cohort,spend,converted,revenue\n1,2.0,1,-3\n");
        assert!(matches!(
            load_csv(neg.path(), &schema(), &labels),
            Err(RevenueModelError::BadCell { .. })
        ));

        let flag = write("cohort,spend,converted,revenue\n1,2.0,yes,3\n");
        assert!(matches!(
            load_csv(flag.path(), &schema(), &labels),
            Err(RevenueModelError::BadCell { .. })
        ));

        let ragged = write("cohort,spend,converted,revenue\n1,2.0,1\n");
        assert!(matches!(
            load_csv(ragged.path(), &schema(), &labels),
            Err(RevenueModelError::Csv { line: 2, .. })
        ));

        let empty = write("cohort,spend,converted,revenue\n");
        assert!(matches!(
            load_csv(empty.path(), &schema(), &labels),
            Err(RevenueModelError::Empty { .. })
        ));

        let err = load_csv("/nonexistent/x.csv", &schema(), &labels).unwrap_err();
        assert!(matches!(err, RevenueModelError::Io { .. }));
    }
}
