//! The data path: one CSV price column → chronological windows as ndarray matrices.

use std::io::Read;
use std::path::Path;

use fundalloc_core_types::{PriceSeries, Segment, WindowSpec, WindowedSeries};
use ndarray::Array2;

use fundalloc_core_types::{Empty, NonFinite, TooLarge};

use crate::error::{PnoError, Result};

/// The most data rows a CSV price column may hold (2^28, 2 GiB of `f64`).
pub const MAX_CSV_ROWS: usize = 1 << 28;

/// The most cells (windows × M) one segment's input matrix may hold (2^28, 2 GiB of `f64`):
/// a lookback that would need more is refused before anything is allocated.
pub const MAX_SEGMENT_CELLS: usize = 1 << 28;

/// Reads the column `column` of a CSV file with a header row as a [`PriceSeries`].
///
/// Empty cells and unparsable numbers are [`PnoError::Csv`] errors, NaN or infinite prices
/// [`PnoError::NonFinite`] errors, both naming the data row (from 0), never skipped: a silent
/// gap would shift every later window. More than [`MAX_CSV_ROWS`] rows is
/// [`PnoError::TooLarge`].
///
/// # Errors
/// As above, and [`PnoError::Csv`] when the file cannot be opened.
pub fn load_csv_column(path: impl AsRef<Path>, column: &str) -> Result<PriceSeries> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| PnoError::Csv {
        path: path.display().to_string(),
        row: None,
        reason: e.to_string(),
    })?;
    read_csv_column(file, column, &path.display().to_string())
}

/// [`load_csv_column`] from any reader; `source` names it in errors.
///
/// ```
/// use fundalloc_timeseries_pno::read_csv_column;
/// let csv = "dt,price\n2024-01-01,1.5\n2024-01-02,1.75\n";
/// let series = read_csv_column(csv.as_bytes(), "price", "inline")?;
/// assert_eq!(series.values(), &[1.5, 1.75]);
/// # Ok::<(), fundalloc_timeseries_pno::PnoError>(())
/// ```
///
/// # Errors
/// As [`load_csv_column`].
pub fn read_csv_column(reader: impl Read, column: &str, source: &str) -> Result<PriceSeries> {
    read_csv_column_limited(reader, column, source, MAX_CSV_ROWS)
}

fn read_csv_column_limited(
    reader: impl Read,
    column: &str,
    source: &str,
    max_rows: usize,
) -> Result<PriceSeries> {
    let csv_error = |row: Option<usize>, reason: String| PnoError::Csv {
        path: source.to_string(),
        row,
        reason,
    };
    let mut rdr = csv::Reader::from_reader(reader);
    let headers = rdr
        .headers()
        .map_err(|e| csv_error(None, e.to_string()))?
        .clone();
    let Some(col) = headers.iter().position(|h| h.trim() == column) else {
        return Err(PnoError::MissingColumn {
            path: source.to_string(),
            column: column.to_string(),
            available: headers.iter().map(str::to_string).collect(),
        });
    };
    let mut values = Vec::new();
    for (row, record) in rdr.records().enumerate() {
        if row >= max_rows {
            return Err(TooLarge::new("CSV data rows", row as u128 + 1, max_rows as u128).into());
        }
        let record = record.map_err(|e| csv_error(Some(row), e.to_string()))?;
        let cell = record.get(col).unwrap_or("").trim();
        let value: f64 = cell
            .parse()
            .map_err(|_| csv_error(Some(row), format!("{column} = {cell:?} is not a number")))?;
        if !value.is_finite() {
            return Err(NonFinite::at_index("CSV prices", row, value).into());
        }
        values.push(value);
    }
    if values.is_empty() {
        return Err(Empty::new("CSV price column").into());
    }
    Ok(PriceSeries::new(column, values)?)
}

/// The windows of one segment as matrices: standardised inputs `[n, M]`, standardised targets
/// `[n, H]` and raw (price-unit) targets `[n, H]` (all with the same n rows).
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentData {
    inputs: Array2<f64>,
    targets: Array2<f64>,
    raw_targets: Array2<f64>,
}

impl SegmentData {
    /// A segment from its matrices (same row count; checked by the callers in this crate).
    pub(crate) fn from_parts(
        inputs: Array2<f64>,
        targets: Array2<f64>,
        raw_targets: Array2<f64>,
    ) -> Self {
        Self {
            inputs,
            targets,
            raw_targets,
        }
    }

    /// Standardised inputs, one window per row (`[n, M]`).
    pub fn inputs(&self) -> &Array2<f64> {
        &self.inputs
    }

    /// Standardised targets (`[n, H]`).
    pub fn targets(&self) -> &Array2<f64> {
        &self.targets
    }

    /// Targets in price units, for regret (`[n, H]`).
    pub fn raw_targets(&self) -> &Array2<f64> {
        &self.raw_targets
    }

    /// Number of windows.
    pub fn len(&self) -> usize {
        self.inputs.nrows()
    }

    /// `true` when the segment has no window.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A price series prepared for RTS-PtO / RTS-PnO: the reference 70/10/20 chronological split
/// with lookback M and horizon H, standardised on the training rows (see [`WindowedSeries`]),
/// as window matrices per segment. The segments are read through getters, so they always
/// agree with the series.
#[derive(Debug, Clone)]
pub struct WindowDataset {
    series: WindowedSeries,
    train: SegmentData,
    validation: SegmentData,
    test: SegmentData,
}

impl WindowDataset {
    /// Splits and windows `series`.
    ///
    /// # Errors
    /// A window spec the series is too short for, or segments larger than
    /// [`MAX_SEGMENT_CELLS`] ([`PnoError::TooLarge`]).
    pub fn new(series: PriceSeries, spec: WindowSpec) -> Result<Self> {
        Self::from_windowed(WindowedSeries::new(series, spec)?)
    }

    /// Uses an already split and standardised series.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn from_windowed(series: WindowedSeries) -> Result<Self> {
        let train = segment(&series, Segment::Train)?;
        let validation = segment(&series, Segment::Validation)?;
        let test = segment(&series, Segment::Test)?;
        Ok(Self {
            series,
            train,
            validation,
            test,
        })
    }

    /// Training windows.
    pub fn train(&self) -> &SegmentData {
        &self.train
    }

    /// Validation windows: the calibration set of Algorithm 1.
    pub fn validation(&self) -> &SegmentData {
        &self.validation
    }

    /// Test windows.
    pub fn test(&self) -> &SegmentData {
        &self.test
    }

    /// The windowed series (split, scaler, raw values).
    pub fn series(&self) -> &WindowedSeries {
        &self.series
    }

    /// The window spec (M, H).
    pub fn spec(&self) -> WindowSpec {
        self.series.split().spec()
    }

    /// Standardised values back to prices: `z·std + mean`.
    pub fn inverse(&self, scaled: &Array2<f64>) -> Array2<f64> {
        let scaler = self.series.scaler();
        scaled.mapv(|z| scaler.inverse(z))
    }
}

fn segment(series: &WindowedSeries, segment: Segment) -> Result<SegmentData> {
    let spec = series.split().spec();
    let (m, h) = (spec.lookback(), spec.horizon());
    let n = series.split().n_windows(segment);
    let cells = n.saturating_mul(m.max(h));
    TooLarge::check(
        "segment windows × max(M, H)",
        cells as u128,
        MAX_SEGMENT_CELLS as u128,
    )?;
    let mut inputs = Array2::zeros((n, m));
    let mut targets = Array2::zeros((n, h));
    let mut raw_targets = Array2::zeros((n, h));
    for i in 0..n {
        let (x, y) = series.scaled_window(segment, i)?;
        let raw = series.raw_target(segment, i)?;
        inputs.row_mut(i).assign(&ndarray::ArrayView1::from(x));
        targets.row_mut(i).assign(&ndarray::ArrayView1::from(y));
        raw_targets
            .row_mut(i)
            .assign(&ndarray::ArrayView1::from(raw));
    }
    Ok(SegmentData {
        inputs,
        targets,
        raw_targets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_exact_at_the_split_boundaries() {
        // N = 100, M = 5, H = 3: train rows 0..70, validation 70..80, test 80..100.
        let prices: Vec<f64> = (0..100).map(|t| t as f64).collect();
        let data = WindowDataset::new(
            PriceSeries::new("t", prices).unwrap(),
            WindowSpec::new(5, 3).unwrap(),
        )
        .unwrap();
        // Train: 70 − 8 + 1 windows; the last one's target ends at row 69.
        assert_eq!(data.train().len(), 63);
        assert_eq!(
            data.train().raw_targets().row(62).to_vec(),
            vec![67.0, 68.0, 69.0]
        );
        // Validation starts M rows early: first input 65..70, first target 70..73.
        assert_eq!(data.validation().len(), 10 + 5 - 8 + 1);
        assert_eq!(
            data.validation().raw_targets().row(0).to_vec(),
            vec![70.0, 71.0, 72.0]
        );
        assert_eq!(
            data.validation().raw_targets().row(7).to_vec(),
            vec![77.0, 78.0, 79.0]
        );
        // Test: first target 80..83, last target 97..100.
        assert_eq!(data.test().len(), 20 + 5 - 8 + 1);
        assert_eq!(
            data.test().raw_targets().row(0).to_vec(),
            vec![80.0, 81.0, 82.0]
        );
        assert_eq!(
            data.test().raw_targets().row(17).to_vec(),
            vec![97.0, 98.0, 99.0]
        );
        // Inputs are standardised with the training rows' mean 34.5 and population std.
        let std = ((0..70).map(|t| (t as f64 - 34.5).powi(2)).sum::<f64>() / 70.0).sqrt();
        let z = data.test().inputs()[[0, 0]];
        assert!((z * std + 34.5 - 75.0).abs() < 1e-9);
        assert!(
            (data.inverse(data.test().targets()) - data.test().raw_targets())
                .iter()
                .all(|d| d.abs() < 1e-9)
        );
    }

    #[test]
    fn stock_data_windows_match_the_reference_protocol() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/stock_data.csv"
        );
        if !std::path::Path::new(path).is_file() {
            eprintln!("skipping: {path} not found");
            return;
        }
        let series = load_csv_column(path, "djia").unwrap();
        assert_eq!(series.len(), 8597);
        let data = WindowDataset::new(series, WindowSpec::new(150, 30).unwrap()).unwrap();
        // train ⌊0.7·8597⌋ = 6017 rows, test ⌊0.2·8597⌋ = 1719, validation 861.
        assert_eq!(data.train().len(), 6017 - 180 + 1);
        assert_eq!(data.validation().len(), 861 + 150 - 180 + 1);
        assert_eq!(data.test().len(), 1719 + 150 - 180 + 1);
        // The first test target is row 6878 (= 8597 − 1719) of the raw column.
        let raw = data.series().raw().values();
        assert_eq!(data.test().raw_targets()[[0, 0]], raw[6878]);
        assert_eq!(data.validation().raw_targets()[[0, 0]], raw[6017]);
    }

    #[test]
    fn csv_errors_are_typed() {
        let ok = "a,b\n1,2\n3,4\n";
        assert_eq!(
            read_csv_column(ok.as_bytes(), "b", "x").unwrap().values(),
            &[2.0, 4.0]
        );
        assert!(matches!(
            read_csv_column(ok.as_bytes(), "c", "x"),
            Err(PnoError::MissingColumn { .. })
        ));
        assert!(matches!(
            read_csv_column("a\n1\nfoo\n".as_bytes(), "a", "x"),
            Err(PnoError::Csv { .. })
        ));
        assert!(matches!(
            read_csv_column("a\n1\nNaN\n".as_bytes(), "a", "x"),
            Err(PnoError::NonFinite(e)) if e.row() == 1
        ));
        assert!(matches!(
            read_csv_column("a\n".as_bytes(), "a", "x"),
            Err(PnoError::Empty(_))
        ));
        assert!(matches!(
            read_csv_column("a,b\n1\n".as_bytes(), "a", "x"),
            Err(PnoError::Csv { .. })
        ));
        assert!(load_csv_column("/nonexistent/file.csv", "a").is_err());
    }

    #[test]
    fn non_finite_prices_and_oversized_inputs_are_typed_errors() {
        for bad in ["inf", "-inf", "NaN", "infinity"] {
            let csv = format!("p\n1\n2\n{bad}\n");
            match read_csv_column(csv.as_bytes(), "p", "x") {
                Err(PnoError::NonFinite(e)) => assert_eq!(e.row(), 2),
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert!(matches!(
            read_csv_column_limited("p\n1\n2\n3\n".as_bytes(), "p", "x", 2),
            Err(PnoError::TooLarge(_))
        ));
        assert!(read_csv_column_limited("p\n1\n2\n".as_bytes(), "p", "x", 2).is_ok());
        // 60 000 prices with M = 15 000: ~27 000 training windows × 15 000 cells is over the
        // limit, refused before the matrices are allocated.
        let prices: Vec<f64> = (0..60_000).map(|t| (t % 97) as f64).collect();
        let series = PriceSeries::new("p", prices).unwrap();
        assert!(matches!(
            WindowDataset::new(series, WindowSpec::new(15_000, 10).unwrap()),
            Err(PnoError::TooLarge(_))
        ));
    }
}
