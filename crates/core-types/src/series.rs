//! Price series, chronological train/validation/test windowing and standardisation.
//!
//! The protocol (RTS-PnO reference code, see `DESIGN.md`): a series of N rows is split
//! chronologically into train = ⌊0.7·N⌋ rows, test = ⌊0.2·N⌋ rows and validation = the rest.
//! Validation and test *start M rows early*, so their first window has its full history;
//! those borrowed rows are inputs only, never targets of another segment. Windows have
//! lookback M and horizon H and overlap with stride 1: window `i` of a segment starting at
//! row `s` reads inputs `s+i .. s+i+M` and targets `s+i+M .. s+i+M+H`.

use std::ops::Range;

use crate::{CoreError, Empty, InvalidParameter, NonFinite, Result, ShapeMismatch};

/// A named, non-empty series of finite prices (one column of a CSV, say).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PriceSeries {
    name: String,
    values: Vec<f64>,
}

impl PriceSeries {
    /// Validates that `values` is non-empty and finite.
    pub fn new(name: impl Into<String>, values: Vec<f64>) -> Result<Self> {
        if values.is_empty() {
            return Err(Empty::new("price series").into());
        }
        check_finite("price series", &values)?;
        Ok(Self {
            name: name.into(),
            values,
        })
    }

    /// The series' name (its column, say).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The values in chronological order.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Always `false`: a series is never empty.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Lookback M (input rows) and horizon H (rows to forecast) of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WindowSpec {
    lookback: usize,
    horizon: usize,
}

impl WindowSpec {
    /// Both must be at least 1.
    pub fn new(lookback: usize, horizon: usize) -> Result<Self> {
        if lookback == 0 {
            return Err(InvalidParameter::new("lookback", 0, "must be at least 1").into());
        }
        if horizon == 0 {
            return Err(InvalidParameter::new("horizon", 0, "must be at least 1").into());
        }
        Ok(Self { lookback, horizon })
    }

    /// Input rows M.
    pub fn lookback(&self) -> usize {
        self.lookback
    }

    /// Forecast rows H.
    pub fn horizon(&self) -> usize {
        self.horizon
    }

    /// M + H, the rows one window spans.
    pub fn span(&self) -> usize {
        self.lookback + self.horizon
    }
}

/// One of the three chronological segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Segment {
    /// The first ⌊train_fraction·N⌋ rows.
    Train,
    /// The rows between train and test.
    Validation,
    /// The last ⌊test_fraction·N⌋ rows.
    Test,
}

impl Segment {
    /// `"train"`, `"validation"` or `"test"`.
    pub fn name(self) -> &'static str {
        match self {
            Segment::Train => "train",
            Segment::Validation => "validation",
            Segment::Test => "test",
        }
    }
}

/// A window's row ranges in the full series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The M input rows.
    pub input: Range<usize>,
    /// The H target rows, right after the input.
    pub target: Range<usize>,
}

/// The chronological split of N rows into train, validation and test windows.
///
/// ```
/// use fundalloc_core_types::{ChronoSplit, Segment, WindowSpec};
/// let split = ChronoSplit::new(1000, WindowSpec::new(150, 30)?)?;
/// assert_eq!(split.own_rows(Segment::Train), 0..700);
/// assert_eq!(split.own_rows(Segment::Test), 800..1000);
/// // The test segment borrows 150 rows of history: its first window predicts rows 800..830.
/// assert_eq!(split.window(Segment::Test, 0)?.target, 800..830);
/// assert_eq!(split.n_windows(Segment::Test), 200 - 30 + 1);
/// # Ok::<(), fundalloc_core_types::CoreError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ChronoSplit {
    spec: WindowSpec,
    n_rows: usize,
    n_train: usize,
    n_test: usize,
}

impl ChronoSplit {
    /// The reference split: 70 % train, 20 % test, validation the rest.
    pub fn new(n_rows: usize, spec: WindowSpec) -> Result<Self> {
        Self::with_fractions(n_rows, spec, 0.7, 0.2)
    }

    /// A split with train = ⌊train_fraction·N⌋ and test = ⌊test_fraction·N⌋ rows.
    ///
    /// Fractions must be in (0, 1) with a sum below 1; every segment must hold at least one window.
    pub fn with_fractions(
        n_rows: usize,
        spec: WindowSpec,
        train_fraction: f64,
        test_fraction: f64,
    ) -> Result<Self> {
        for (name, value) in [
            ("train_fraction", train_fraction),
            ("test_fraction", test_fraction),
        ] {
            if !(value > 0.0 && value < 1.0) {
                return Err(InvalidParameter::new(name, value, "must be in (0, 1)").into());
            }
        }
        if train_fraction + test_fraction >= 1.0 {
            return Err(InvalidParameter::new(
                "train_fraction + test_fraction",
                train_fraction + test_fraction,
                "must be below 1 so the validation segment has rows",
            )
            .into());
        }
        let n_train = (train_fraction * n_rows as f64).floor() as usize;
        let n_test = (test_fraction * n_rows as f64).floor() as usize;
        let split = Self {
            spec,
            n_rows,
            n_train,
            n_test,
        };
        for segment in [Segment::Train, Segment::Validation, Segment::Test] {
            let rows = split.rows(segment).len();
            if rows < spec.span() {
                return Err(CoreError::SegmentTooShort {
                    segment: segment.name(),
                    rows,
                    needed: spec.span(),
                });
            }
        }
        Ok(split)
    }

    /// The window spec.
    pub fn spec(&self) -> WindowSpec {
        self.spec
    }

    /// N, the rows of the whole series.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// The rows a segment owns (its possible targets), without borrowed history.
    pub fn own_rows(&self, segment: Segment) -> Range<usize> {
        let validation_end = self.n_rows - self.n_test;
        match segment {
            Segment::Train => 0..self.n_train,
            Segment::Validation => self.n_train..validation_end,
            Segment::Test => validation_end..self.n_rows,
        }
    }

    /// The rows a segment reads: its own rows plus, for validation and test, the M rows before.
    pub fn rows(&self, segment: Segment) -> Range<usize> {
        let own = self.own_rows(segment);
        match segment {
            Segment::Train => own,
            _ => own.start.saturating_sub(self.spec.lookback)..own.end,
        }
    }

    /// Number of stride-1 windows in a segment.
    pub fn n_windows(&self, segment: Segment) -> usize {
        (self.rows(segment).len() + 1).saturating_sub(self.spec.span())
    }

    /// Window `index` of a segment.
    pub fn window(&self, segment: Segment, index: usize) -> Result<Window> {
        let n = self.n_windows(segment);
        if index >= n {
            return Err(CoreError::IndexOutOfRange {
                what: "window",
                index,
                len: n,
            });
        }
        let start = self.rows(segment).start + index;
        let split = start + self.spec.lookback;
        Ok(Window {
            input: start..split,
            target: split..split + self.spec.horizon,
        })
    }

    /// All windows of a segment, in order.
    pub fn windows(&self, segment: Segment) -> impl ExactSizeIterator<Item = Window> + '_ {
        let start = self.rows(segment).start;
        let (m, h) = (self.spec.lookback, self.spec.horizon);
        (0..self.n_windows(segment)).map(move |i| Window {
            input: start + i..start + i + m,
            target: start + i + m..start + i + m + h,
        })
    }
}

/// Standardisation `z = (x − mean) / std` with the population standard deviation.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StandardScaler {
    mean: f64,
    std: f64,
}

impl StandardScaler {
    /// Fits mean and population std (divide by n) on `values`.
    pub fn fit(values: &[f64]) -> Result<Self> {
        if values.is_empty() {
            return Err(Empty::new("scaler input").into());
        }
        check_finite("scaler input", values)?;
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let std = var.sqrt();
        if !(std > 0.0 && std.is_finite()) {
            return Err(CoreError::ZeroVariance);
        }
        Ok(Self { mean, std })
    }

    /// The fitted mean.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// The fitted population standard deviation.
    pub fn std(&self) -> f64 {
        self.std
    }

    /// `(x − mean) / std`.
    pub fn transform(&self, x: f64) -> f64 {
        (x - self.mean) / self.std
    }

    /// `z·std + mean`.
    pub fn inverse(&self, z: f64) -> f64 {
        z * self.std + self.mean
    }

    /// Transforms a slice into a new vector.
    pub fn transform_all(&self, values: &[f64]) -> Vec<f64> {
        values.iter().map(|&x| self.transform(x)).collect()
    }

    /// Inverse-transforms a slice into a new vector.
    pub fn inverse_all(&self, values: &[f64]) -> Vec<f64> {
        values.iter().map(|&z| self.inverse(z)).collect()
    }
}

/// A series split chronologically and standardised with a scaler fitted on its training rows only.
///
/// ```
/// use fundalloc_core_types::{PriceSeries, Segment, WindowSpec, WindowedSeries};
/// let prices: Vec<f64> = (0..200).map(|t| 100.0 + (t as f64 * 0.1).sin()).collect();
/// let ws = WindowedSeries::new(PriceSeries::new("demo", prices)?, WindowSpec::new(10, 5)?)?;
/// let (x, y) = ws.scaled_window(Segment::Validation, 0)?;
/// assert_eq!((x.len(), y.len()), (10, 5));
/// let raw = ws.raw_target(Segment::Validation, 0)?;
/// assert!((ws.scaler().inverse(y[0]) - raw[0]).abs() < 1e-9);
/// # Ok::<(), fundalloc_core_types::CoreError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WindowedSeries {
    raw: PriceSeries,
    scaled: Vec<f64>,
    split: ChronoSplit,
    scaler: StandardScaler,
}

impl WindowedSeries {
    /// The reference 70/10/20 split of `series`, standardised on its training rows.
    pub fn new(series: PriceSeries, spec: WindowSpec) -> Result<Self> {
        let split = ChronoSplit::new(series.len(), spec)?;
        Self::with_split(series, split)
    }

    /// Uses a given split (which must describe `series.len()` rows).
    pub fn with_split(series: PriceSeries, split: ChronoSplit) -> Result<Self> {
        if split.n_rows() != series.len() {
            return Err(ShapeMismatch::new(
                "split vs series",
                format_args!("{} rows", split.n_rows()),
                format_args!("{} rows", series.len()),
            )
            .into());
        }
        let scaler = StandardScaler::fit(&series.values()[split.own_rows(Segment::Train)])?;
        let scaled = scaler.transform_all(series.values());
        Ok(Self {
            raw: series,
            scaled,
            split,
            scaler,
        })
    }

    /// The split.
    pub fn split(&self) -> &ChronoSplit {
        &self.split
    }

    /// The scaler (fitted on training rows only).
    pub fn scaler(&self) -> &StandardScaler {
        &self.scaler
    }

    /// The raw series.
    pub fn raw(&self) -> &PriceSeries {
        &self.raw
    }

    /// The whole standardised series.
    pub fn scaled(&self) -> &[f64] {
        &self.scaled
    }

    /// Standardised `(input, target)` of window `index` of a segment.
    pub fn scaled_window(&self, segment: Segment, index: usize) -> Result<(&[f64], &[f64])> {
        let w = self.split.window(segment, index)?;
        Ok((&self.scaled[w.input], &self.scaled[w.target]))
    }

    /// Raw (not standardised) target prices of window `index` of a segment.
    pub fn raw_target(&self, segment: Segment, index: usize) -> Result<&[f64]> {
        let w = self.split.window(segment, index)?;
        Ok(&self.raw.values()[w.target])
    }
}

fn check_finite(what: &'static str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(row) => Err(NonFinite::at_index(what, row, values[row]).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn boundaries_match_the_reference_protocol() {
        // N = 8597 (stock_data.csv), M = 150, H = 30.
        let split = ChronoSplit::new(8597, WindowSpec::new(150, 30).unwrap()).unwrap();
        assert_eq!(split.own_rows(Segment::Train), 0..6017);
        assert_eq!(split.own_rows(Segment::Validation), 6017..6878);
        assert_eq!(split.own_rows(Segment::Test), 6878..8597);
        assert_eq!(split.rows(Segment::Validation), 5867..6878);
        assert_eq!(split.rows(Segment::Test), 6728..8597);
        assert_eq!(split.n_windows(Segment::Train), 6017 - 180 + 1);
        assert_eq!(split.n_windows(Segment::Test), 1869 - 180 + 1);
        let last = split
            .window(Segment::Train, split.n_windows(Segment::Train) - 1)
            .unwrap();
        assert_eq!(last.target.end, 6017);
        let first_test = split.window(Segment::Test, 0).unwrap();
        assert_eq!(
            first_test,
            Window {
                input: 6728..6878,
                target: 6878..6908
            }
        );
        let last_test = split.windows(Segment::Test).last().unwrap();
        assert_eq!(last_test.target.end, 8597);
        assert!(
            split
                .window(Segment::Test, split.n_windows(Segment::Test))
                .is_err()
        );
    }

    #[test]
    fn typed_errors_for_bad_input() {
        assert!(matches!(
            WindowSpec::new(0, 3),
            Err(CoreError::InvalidParameter(_))
        ));
        // N = 100: validation owns rows 70..80 and borrows 15, so 25 rows; 26 are needed.
        assert_eq!(
            ChronoSplit::new(100, WindowSpec::new(15, 11).unwrap()),
            Err(CoreError::SegmentTooShort {
                segment: "validation",
                rows: 25,
                needed: 26
            })
        );
        assert!(ChronoSplit::new(100, WindowSpec::new(15, 10).unwrap()).is_ok());
        assert!(matches!(
            ChronoSplit::new(50, WindowSpec::new(30, 10).unwrap()),
            Err(CoreError::SegmentTooShort {
                segment: "train",
                rows: 35,
                needed: 40
            })
        ));
        assert!(
            ChronoSplit::with_fractions(1000, WindowSpec::new(5, 5).unwrap(), 0.8, 0.2).is_err()
        );
        assert!(
            ChronoSplit::with_fractions(1000, WindowSpec::new(5, 5).unwrap(), f64::NAN, 0.2)
                .is_err()
        );
        assert!(matches!(
            PriceSeries::new("x", vec![]),
            Err(CoreError::Empty(_))
        ));
        assert!(matches!(
            PriceSeries::new("x", vec![1.0, f64::NAN]),
            Err(CoreError::NonFinite(ref e)) if e.row() == 1
        ));
        assert_eq!(
            StandardScaler::fit(&[2.0, 2.0]),
            Err(CoreError::ZeroVariance)
        );
    }

    #[test]
    fn scaler_uses_population_std_and_round_trips() {
        let s = StandardScaler::fit(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(s.mean(), 2.5);
        approx::assert_relative_eq!(s.std(), 1.25f64.sqrt());
        approx::assert_relative_eq!(s.inverse(s.transform(7.3)), 7.3, epsilon = 1e-12);
    }

    #[test]
    fn scaler_is_fitted_on_training_rows_only() {
        let mut values: Vec<f64> = (0..100).map(|t| (t % 7) as f64).collect();
        values[95] = 1e6; // an outlier in the test rows must not move the scaler
        let ws = WindowedSeries::new(
            PriceSeries::new("v", values.clone()).unwrap(),
            WindowSpec::new(3, 2).unwrap(),
        )
        .unwrap();
        assert_eq!(*ws.scaler(), StandardScaler::fit(&values[..70]).unwrap());
    }

    proptest! {
        #[test]
        fn windows_never_leak_across_segments(
            n in 40usize..3000, m in 1usize..20, h in 1usize..10,
            train in 0.3f64..0.8, test in 0.05f64..0.19,
        ) {
            let spec = WindowSpec::new(m, h).unwrap();
            let Ok(split) = ChronoSplit::with_fractions(n, spec, train, test) else {
                return Ok(());
            };
            let train_rows = split.own_rows(Segment::Train);
            let val_rows = split.own_rows(Segment::Validation);
            let test_rows = split.own_rows(Segment::Test);
            prop_assert_eq!(train_rows.end, val_rows.start);
            prop_assert_eq!(val_rows.end, test_rows.start);
            prop_assert_eq!(test_rows.end, n);
            for (segment, own) in [
                (Segment::Train, &train_rows),
                (Segment::Validation, &val_rows),
                (Segment::Test, &test_rows),
            ] {
                let windows: Vec<_> = split.windows(segment).collect();
                prop_assert!(!windows.is_empty());
                for (i, w) in windows.iter().enumerate() {
                    // Targets lie inside the segment's own rows: never in another segment.
                    prop_assert!(own.start <= w.target.start && w.target.end <= own.end);
                    prop_assert_eq!(w.input.end, w.target.start);
                    prop_assert_eq!(w.input.len(), m);
                    prop_assert_eq!(&split.window(segment, i).unwrap(), w);
                }
                // The last window ends on the segment's last row (stride 1 covers it all).
                prop_assert_eq!(windows.last().unwrap().target.end, own.end);
            }
            // No training window reads validation or test rows, as input or target.
            for w in split.windows(Segment::Train) {
                prop_assert!(w.target.end <= train_rows.end);
            }
        }
    }
}
