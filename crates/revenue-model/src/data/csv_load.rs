//! Loading a [`Dataset`] from a CSV file whose column names are given at run time.

use std::collections::BTreeSet;
use std::path::Path;

use ndarray::{Array1, Array2};

use fundalloc_core_types::{Empty, ShapeMismatch};

use crate::{ExposureDataset, FeatureSchema, Result, RevenueModelError};

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
/// Categorical cells must be one of the feature's level names when it has
/// [`levels`](crate::CategoricalFeature::levels), else integer codes below its cardinality;
/// numeric cells must be finite numbers. Every failure names the file, the 1-based line and the
/// column.
pub fn load_csv(
    path: impl AsRef<Path>,
    schema: &FeatureSchema,
    labels: &LabelColumns,
) -> Result<ExposureDataset> {
    let path = path.as_ref().to_path_buf();
    let (mut reader, header) = open(&path)?;
    let find = |name: &str| find_column(&path, &header, name);
    let lookups: Vec<_> = schema.categorical().iter().map(|c| c.lookup()).collect();
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
        for (lookup, &col) in lookups.iter().zip(&cat_cols) {
            cat.push(lookup.code(cell(col)).map_err(|e| bad(col, e.expected()))?);
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
        return Err(RevenueModelError::from(Empty::new(
            "CSV file (no data rows)",
        )));
    }
    let shape_err = |what: &'static str| {
        RevenueModelError::from(ShapeMismatch::new(
            what,
            format_args!("{n} rows"),
            "ragged rows",
        ))
    };
    let cat = Array2::from_shape_vec((n, cat_cols.len()), cat)
        .map_err(|_| shape_err("categorical columns"))?;
    let num = Array2::from_shape_vec((n, num_cols.len()), num)
        .map_err(|_| shape_err("numeric columns"))?;
    ExposureDataset::new(
        schema.clone(),
        cat,
        num,
        Array1::from(converted),
        Array1::from(revenue),
    )
}

/// The distinct values of each named column of a CSV file, sorted (byte order), to pass to
/// [`FeatureSchemaBuilder::categorical_levels`](crate::FeatureSchemaBuilder::categorical_levels)
/// when a categorical column holds names (`"retail"`, `"R3"`) rather than integer codes.
///
/// Cells are trimmed; an empty cell is an error (give missing values a name of their own, such
/// as `unknown`), and so is a file without data rows.
///
/// ```no_run
/// use fundalloc_revenue_model::{FeatureSchema, Side, read_csv_levels};
/// let levels = read_csv_levels("history.csv", &["segment", "fund"])?;
/// let mut levels = levels.into_iter();
/// let schema = FeatureSchema::builder()
///     .categorical_levels("segment", levels.next().unwrap_or_default(), Side::Customer)
///     .categorical_levels("fund", levels.next().unwrap_or_default(), Side::Fund)
///     .build()?;
/// # Ok::<(), fundalloc_revenue_model::RevenueModelError>(())
/// ```
pub fn read_csv_levels(path: impl AsRef<Path>, columns: &[&str]) -> Result<Vec<Vec<String>>> {
    let path = path.as_ref();
    let (mut reader, header) = open(path)?;
    let cols: Vec<usize> = columns
        .iter()
        .map(|name| find_column(path, &header, name))
        .collect::<Result<_>>()?;
    let mut levels = vec![BTreeSet::new(); cols.len()];
    let mut rows = 0usize;
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, &e))?;
        rows += 1;
        for (set, &col) in levels.iter_mut().zip(&cols) {
            let cell = record.get(col).unwrap_or("");
            if cell.is_empty() {
                return Err(RevenueModelError::BadCell {
                    path: path.to_path_buf(),
                    line: record.position().map_or(0, |p| p.line()),
                    column: header.get(col).unwrap_or("?").to_string(),
                    value: String::new(),
                    expected: "a non-empty category",
                });
            }
            // Most cells repeat a level already seen: look up before allocating.
            if !set.contains(cell) {
                set.insert(cell.to_string());
            }
        }
    }
    if rows == 0 {
        return Err(RevenueModelError::from(Empty::new(
            "CSV file (no data rows)",
        )));
    }
    Ok(levels.into_iter().map(Vec::from_iter).collect())
}

/// Opens a CSV file with trimmed cells and reads its header.
fn open(path: &Path) -> Result<(csv::Reader<std::fs::File>, csv::StringRecord)> {
    let file = std::fs::File::open(path).map_err(|source| RevenueModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(file);
    let header = reader.headers().map_err(|e| csv_error(path, &e))?.clone();
    Ok((reader, header))
}

fn find_column(path: &Path, header: &csv::StringRecord, name: &str) -> Result<usize> {
    header
        .iter()
        .position(|h| h == name)
        .ok_or_else(|| RevenueModelError::MissingColumn {
            path: path.to_path_buf(),
            column: name.to_string(),
        })
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
            Err(RevenueModelError::Empty(_))
        ));

        let err = load_csv("/nonexistent/x.csv", &schema(), &labels).unwrap_err();
        assert!(matches!(err, RevenueModelError::Io { .. }));
    }

    #[test]
    fn named_categories_are_read_through_their_levels() {
        let f = write(
            "segment,spend,fund,converted,revenue\n\
             premium,1,F2,1,40\n\
             mass , 2,F1,0,0\n\
             private,3,F2,1,90\n\
             mass,4,F1,0,0\n",
        );
        let levels = read_csv_levels(f.path(), &["segment", "fund"]).unwrap();
        assert_eq!(levels[0], ["mass", "premium", "private"]);
        assert_eq!(levels[1], ["F1", "F2"]);
        let mut levels = levels.into_iter();
        let schema = FeatureSchema::builder()
            .categorical_levels("segment", levels.next().unwrap(), Side::Customer)
            .numeric("spend", Side::Customer, false)
            .categorical_levels("fund", levels.next().unwrap(), Side::Fund)
            .build()
            .unwrap();
        let labels = LabelColumns::new("converted", "revenue");
        let d = load_csv(f.path(), &schema, &labels).unwrap();
        assert_eq!(d.categorical().column(0).to_vec(), [1, 0, 2, 0]);
        assert_eq!(d.categorical().column(1).to_vec(), [1, 0, 1, 0]);

        // A level the schema does not know, and a code where a name is expected.
        for (text, bad) in [("gold", "gold"), ("1", "1")] {
            let g = write(&format!(
                "segment,spend,fund,converted,revenue\nmass,1,F1,0,0\n{text},1,F1,0,0\n"
            ));
            let err = load_csv(g.path(), &schema, &labels).unwrap_err();
            assert!(
                matches!(err, RevenueModelError::BadCell { line: 3, ref column, ref value, .. }
                    if column == "segment" && value == bad),
                "{err}"
            );
        }
    }

    #[test]
    fn reading_levels_reports_bad_input() {
        let empty_cell = write("segment,revenue\nmass,0\n,3\n");
        assert!(matches!(
            read_csv_levels(empty_cell.path(), &["segment"]),
            Err(RevenueModelError::BadCell { line: 3, .. })
        ));
        let no_rows = write("segment,revenue\n");
        assert!(matches!(
            read_csv_levels(no_rows.path(), &["segment"]),
            Err(RevenueModelError::Empty(_))
        ));
        let f = write("segment,revenue\nmass,0\n");
        assert!(matches!(
            read_csv_levels(f.path(), &["tier"]),
            Err(RevenueModelError::MissingColumn { ref column, .. }) if column == "tier"
        ));
        assert!(matches!(
            read_csv_levels("/nonexistent/x.csv", &["segment"]),
            Err(RevenueModelError::Io { .. })
        ));
        let ragged = write("segment,revenue\nmass,0\npremium\n");
        assert!(matches!(
            read_csv_levels(ragged.path(), &["segment"]),
            Err(RevenueModelError::Csv { line: 3, .. })
        ));
    }
}
