//! Reading the input files, with errors that name the file, the line and the problem.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Seek};
use std::path::{Path, PathBuf};

use fundalloc_allocator::{Real, RevenueMatrix, RiskLevel, TooLarge};
use rustc_hash::FxHashMap;

use crate::npy;

/// A problem with an input file: which, where, what.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub(crate) struct InputError {
    pub(crate) file: PathBuf,
    /// 1-based line (CSV) or data row + header (npy rows are reported in the message).
    pub(crate) line: Option<u64>,
    pub(crate) message: String,
    /// Set when a size the input implies exceeds what the file can hold (nothing was
    /// allocated); `message` is its text.
    pub(crate) too_large: Option<TooLarge>,
}

pub(crate) fn err(file: &Path, line: Option<u64>, message: impl Into<String>) -> InputError {
    InputError {
        file: file.to_path_buf(),
        line,
        message: message.into(),
        too_large: None,
    }
}

/// `file` would need more than it can hold: refused before allocating.
pub(crate) fn too_large(file: &Path, error: TooLarge) -> InputError {
    InputError {
        too_large: Some(error.clone()),
        ..err(file, None, error.to_string())
    }
}

/// The fewest bytes a revenue CSV cell takes: one digit and a separator or line break.
const MIN_CSV_CELL_BYTES: u64 = 2;

/// Customer ids in file order, stored compactly: one text buffer and the end offset of each id
/// (10 M ids cost ~2 allocations instead of 10 M `String`s).
#[derive(Default)]
pub(crate) struct Ids {
    text: String,
    ends: Vec<usize>,
}

impl Ids {
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The id of customer `i` (`i < len()`).
    pub(crate) fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    fn push(&mut self, id: &str) {
        self.text.push_str(id);
        self.ends.push(self.text.len());
    }

    /// Index of every id, with a fast non-cryptographic hasher (ids are not adversarial here:
    /// they come from the user's own file). Errors with the two positions of a duplicate.
    fn index(&self) -> Result<FxHashMap<&str, usize>, (usize, usize)> {
        let mut map = FxHashMap::with_capacity_and_hasher(self.len(), Default::default());
        for i in 0..self.len() {
            if let Some(first) = map.insert(self.get(i), i) {
                return Err((first, i));
            }
        }
        Ok(map)
    }
}

/// Customers in file order.
pub(crate) struct Customers {
    pub(crate) ids: Ids,
    pub(crate) tolerance: Vec<RiskLevel>,
}

/// Funds in file order.
pub(crate) struct Funds {
    pub(crate) ids: Vec<String>,
    pub(crate) risk: Vec<RiskLevel>,
    pub(crate) exposure: Vec<u64>,
}

/// One CSV record as [`for_each_row`] hands it out: its line and its fields as UTF-8 text.
pub(crate) struct Row<'a> {
    path: &'a Path,
    rec: &'a csv::ByteRecord,
    /// The record's 1-based line, where the reader knows it.
    pub(crate) line: Option<u64>,
}

impl<'a> Row<'a> {
    /// Field `i` (a column index from [`columns`]); invalid UTF-8 is a malformed-CSV error.
    pub(crate) fn field(&self, i: usize) -> Result<&'a str, InputError> {
        std::str::from_utf8(&self.rec[i]).map_err(|e| {
            err(
                self.path,
                self.line,
                format!("malformed CSV: invalid UTF-8: {e}"),
            )
        })
    }
}

/// Calls `each` on every record after the header, reusing one byte record: no per-row
/// allocation, since a customers file can hold millions of rows. Stops at the first error.
pub(crate) fn for_each_row<R: std::io::Read>(
    path: &Path,
    r: &mut csv::Reader<R>,
    mut each: impl FnMut(&Row<'_>) -> Result<(), InputError>,
) -> Result<(), InputError> {
    let mut rec = csv::ByteRecord::new();
    loop {
        match r.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(e) => {
                let line = e.position().map(|p| p.line());
                return Err(err(path, line, format!("malformed CSV: {e}")));
            }
        }
        let line = rec.position().map(|p| p.line());
        each(&Row {
            path,
            rec: &rec,
            line,
        })?;
    }
}

pub(crate) fn open_csv(path: &Path) -> Result<csv::Reader<File>, InputError> {
    let file = File::open(path).map_err(|e| err(path, None, format!("cannot open: {e}")))?;
    Ok(csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(file))
}

/// The positions of the `want` columns in the header. Other columns may come in any order and
/// are ignored, so one file can also carry the features `fundalloc predict` reads.
pub(crate) fn columns<R: std::io::Read>(
    path: &Path,
    r: &mut csv::Reader<R>,
    want: &[&str],
) -> Result<Vec<usize>, InputError> {
    let header = r
        .headers()
        .map_err(|e| err(path, Some(1), format!("unreadable header: {e}")))?;
    want.iter()
        .map(|name| {
            header.iter().position(|h| h == *name).ok_or_else(|| {
                let got: Vec<&str> = header.iter().collect();
                err(
                    path,
                    Some(1),
                    format!(
                        "header `{}` has no column `{name}` (needs `{}`)",
                        got.join(","),
                        want.join(",")
                    ),
                )
            })
        })
        .collect()
}

fn line_of(record: &csv::StringRecord) -> Option<u64> {
    record.position().map(|p| p.line())
}

pub(crate) fn parse_level(
    path: &Path,
    line: Option<u64>,
    what: &str,
    s: &str,
) -> Result<RiskLevel, InputError> {
    let digits = s
        .strip_prefix('R')
        .or_else(|| s.strip_prefix('r'))
        .unwrap_or(s);
    digits.parse::<u8>().map(RiskLevel::new).map_err(|_| {
        err(
            path,
            line,
            format!("{what} `{s}` is not a level 0–255 (or R0–R255)"),
        )
    })
}

fn records(
    path: &Path,
    r: &mut csv::Reader<File>,
) -> impl Iterator<Item = Result<csv::StringRecord, InputError>> {
    let path = path.to_path_buf();
    r.records().map(move |rec| {
        rec.map_err(|e| {
            let line = e.position().map(|p| p.line());
            err(&path, line, format!("malformed CSV: {e}"))
        })
    })
}

fn check_unique(
    path: &Path,
    seen: &mut HashMap<String, u64>,
    id: &str,
    line: Option<u64>,
) -> Result<(), InputError> {
    if let Some(first) = seen.insert(id.to_string(), line.unwrap_or(0)) {
        return Err(err(
            path,
            line,
            format!("duplicate id `{id}` (first on line {first})"),
        ));
    }
    Ok(())
}

pub(crate) fn read_customers(path: &Path) -> Result<Customers, InputError> {
    let mut r = open_csv(path)?;
    let cols = columns(path, &mut r, &["customer_id", "risk_tolerance"])?;
    let mut out = Customers {
        ids: Ids::default(),
        tolerance: Vec::new(),
    };
    for_each_row(path, &mut r, |row| {
        let tolerance = parse_level(path, row.line, "risk_tolerance", row.field(cols[1])?)?;
        out.ids.push(row.field(cols[0])?);
        out.tolerance.push(tolerance);
        Ok(())
    })?;
    if out.ids.is_empty() {
        return Err(err(path, None, "no customers"));
    }
    if let Err((first, dup)) = out.ids.index() {
        // Rare error path: read the file again for the two line numbers.
        let lines = record_lines(path, &[first, dup])?;
        return Err(err(
            path,
            Some(lines[1]),
            format!(
                "duplicate id `{}` (first on line {})",
                out.ids.get(dup),
                lines[0]
            ),
        ));
    }
    Ok(out)
}

/// The 1-based lines of the records with the given (ascending) indices.
fn record_lines(path: &Path, wanted: &[usize]) -> Result<Vec<u64>, InputError> {
    let mut r = open_csv(path)?;
    let mut rec = csv::ByteRecord::new();
    let mut out = Vec::with_capacity(wanted.len());
    let mut i = 0usize;
    while out.len() < wanted.len() {
        let more = r
            .read_byte_record(&mut rec)
            .map_err(|e| err(path, None, format!("malformed CSV: {e}")))?;
        if !more {
            break;
        }
        if wanted[out.len()] == i {
            out.push(rec.position().map_or(0, |p| p.line()));
        }
        i += 1;
    }
    out.resize(wanted.len(), 0);
    Ok(out)
}

pub(crate) fn read_funds(path: &Path) -> Result<Funds, InputError> {
    let mut r = open_csv(path)?;
    let cols = columns(path, &mut r, &["fund_id", "risk_level", "exposure"])?;
    let mut out = Funds {
        ids: Vec::new(),
        risk: Vec::new(),
        exposure: Vec::new(),
    };
    let mut seen = HashMap::new();
    for rec in records(path, &mut r) {
        let rec = rec?;
        let line = line_of(&rec);
        let (id, level, exposure) = (&rec[cols[0]], &rec[cols[1]], &rec[cols[2]]);
        check_unique(path, &mut seen, id, line)?;
        out.risk.push(parse_level(path, line, "risk_level", level)?);
        let d = exposure.parse::<u64>().map_err(|_| {
            err(
                path,
                line,
                format!("exposure `{exposure}` is not a non-negative integer"),
            )
        })?;
        out.exposure.push(d);
        out.ids.push(id.to_string());
    }
    if out.ids.is_empty() {
        return Err(err(path, None, "no funds"));
    }
    Ok(out)
}

/// Revenue as either precision, as read.
pub(crate) enum Revenue {
    F32(RevenueMatrix<f32>),
    F64(RevenueMatrix<f64>),
}

fn matrix<T: Real>(
    path: &Path,
    u: usize,
    f: usize,
    values: Vec<T>,
    csv_lines: Option<&[u64]>,
) -> Result<RevenueMatrix<T>, InputError> {
    // Find a bad entry ourselves so the message can name the line / row.
    if let Some(i) = values.iter().position(|v| !v.is_finite() || *v < T::zero()) {
        let (row, col) = (i / f, i % f);
        let v = values[i];
        let what = if v.is_finite() {
            "negative"
        } else {
            "non-finite"
        };
        let line = csv_lines.map(|l| l[row]);
        let place = if line.is_some() {
            format!("column {}", col + 2)
        } else {
            format!("row {row}, column {col}")
        };
        return Err(err(path, line, format!("{what} revenue {v} at {place}")));
    }
    RevenueMatrix::from_shape_vec(u, f, values).map_err(|e| err(path, None, e.to_string()))
}

/// The revenue matrix from a `.npy` file (`<f4`/`>f4` or `<f8`/`>f8`, C order, customers ×
/// funds), read with `ndarray-npy`. Every size the file states is checked against the file's
/// length (and the shape against the customers and funds files) before anything is allocated.
pub(crate) fn read_npy(path: &Path, customers: usize, funds: usize) -> Result<Revenue, InputError> {
    use ndarray_npy::ReadableElement;
    use ndarray_npy::npy::header::{Header, Layout};

    let file = File::open(path).map_err(|e| err(path, None, format!("cannot open: {e}")))?;
    let file_len = file
        .metadata()
        .map_err(|e| err(path, None, format!("cannot open: {e}")))?
        .len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    npy::check_prefix(&mut r, file_len).map_err(|m| err(path, None, m))?;
    let header = Header::from_reader(&mut r)
        .map_err(|e| err(path, None, format!("unreadable .npy header: {e}")))?;
    let data_start = r
        .stream_position()
        .map_err(|e| err(path, None, format!("cannot read: {e}")))?;
    // The descriptor as a Python literal: `'<f4'`.
    let descr = header.type_descriptor.to_string();
    let width = match descr.trim_matches('\'') {
        "<f4" | ">f4" => 4,
        "<f8" | ">f8" => 8,
        other => {
            return Err(err(
                path,
                None,
                format!("dtype {other} is not supported (need float32 '<f4' or float64 '<f8')"),
            ));
        }
    };
    if matches!(header.layout, Layout::Fortran) {
        return Err(err(
            path,
            None,
            "Fortran-order arrays are not supported (save with C order)",
        ));
    }
    let (rows, cols) = match header.shape[..] {
        [rows, cols] => (rows, cols),
        _ => {
            return Err(err(
                path,
                None,
                format!(
                    "shape {:?} is not 2-D (need customers × funds)",
                    header.shape
                ),
            ));
        }
    };
    if (rows, cols) != (customers, funds) {
        return Err(err(
            path,
            None,
            format!("shape {rows}×{cols} does not match {customers} customers × {funds} funds"),
        ));
    }
    // rows × cols is bounded by the customers and funds files; its bytes by this file.
    let count = rows.saturating_mul(cols);
    let data = file_len.saturating_sub(data_start);
    let needed = (count as u64).saturating_mul(width);
    if data < needed {
        return Err(err(
            path,
            None,
            format!(
                "data end after {} of {count} values (file truncated?)",
                data / width
            ),
        ));
    }
    if data > needed {
        return Err(err(
            path,
            None,
            format!("more data than the shape's {count} values"),
        ));
    }
    let read_err =
        |e: ndarray_npy::ReadDataError| err(path, None, format!("cannot read data: {e}"));
    if width == 4 {
        let v =
            f32::read_to_end_exact_vec(&mut r, &header.type_descriptor, count).map_err(read_err)?;
        Ok(Revenue::F32(matrix(path, rows, cols, v, None)?))
    } else {
        let v =
            f64::read_to_end_exact_vec(&mut r, &header.type_descriptor, count).map_err(read_err)?;
        Ok(Revenue::F64(matrix(path, rows, cols, v, None)?))
    }
}

/// CSV revenue: header `customer_id,<fund_id>…`; rows and columns are matched by id.
pub(crate) fn read_revenue_csv(
    path: &Path,
    customers: &Customers,
    funds: &Funds,
) -> Result<Revenue, InputError> {
    let mut r = open_csv(path)?;
    let header = r
        .headers()
        .map_err(|e| err(path, Some(1), format!("unreadable header: {e}")))?
        .clone();
    if header.get(0) != Some("customer_id") {
        return Err(err(path, Some(1), "first column must be `customer_id`"));
    }
    let fund_index: HashMap<&str, usize> = funds
        .ids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let mut column_fund = Vec::new();
    for name in header.iter().skip(1) {
        let f = fund_index.get(name).ok_or_else(|| {
            err(
                path,
                Some(1),
                format!("fund `{name}` is not in the funds file"),
            )
        })?;
        if column_fund.contains(f) {
            return Err(err(path, Some(1), format!("fund `{name}` appears twice")));
        }
        column_fund.push(*f);
    }
    if column_fund.len() != funds.ids.len() {
        return Err(err(
            path,
            Some(1),
            format!(
                "has {} fund columns, the funds file lists {}",
                column_fund.len(),
                funds.ids.len()
            ),
        ));
    }
    // Rows usually list the customers in the customers file's order: then row i is customer i
    // and nothing is hashed. The id index is built only at the first row out of order.
    let mut customer_index: Option<FxHashMap<&str, usize>> = None;
    let (u, f) = (customers.ids.len(), funds.ids.len());
    // U × F comes from two other files: check that this one can hold that many cells before
    // allocating them (a 10 M-customer file with a 100 k-fund file would ask for 8 TB).
    let file_len = std::fs::metadata(path)
        .map_err(|e| err(path, None, format!("cannot open: {e}")))?
        .len();
    let cells = (u as u128) * (f as u128);
    TooLarge::check(
        "revenue cells (customers × funds, at least 2 bytes each)",
        cells,
        u128::from(file_len / MIN_CSV_CELL_BYTES),
    )
    .map_err(|e| too_large(path, e))?;
    let mut values = vec![f64::NAN; u * f];
    let mut lines = vec![0u64; u];
    let mut seen = vec![false; u];
    for (row, rec) in records(path, &mut r).enumerate() {
        let rec = rec?;
        let line = line_of(&rec);
        let id = &rec[0];
        let c = if customer_index.is_none() && row < u && customers.ids.get(row) == id {
            row
        } else {
            // `read_customers` already rejected duplicate ids, so the index cannot fail.
            let index =
                customer_index.get_or_insert_with(|| customers.ids.index().unwrap_or_default());
            *index.get(id).ok_or_else(|| {
                err(
                    path,
                    line,
                    format!("customer `{id}` is not in the customers file"),
                )
            })?
        };
        if std::mem::replace(&mut seen[c], true) {
            return Err(err(path, line, format!("customer `{id}` appears twice")));
        }
        if rec.len() != f + 1 {
            return Err(err(
                path,
                line,
                format!("{} fields, expected {}", rec.len(), f + 1),
            ));
        }
        lines[c] = line.unwrap_or(0);
        for (j, field) in rec.iter().skip(1).enumerate() {
            let v: f64 = field.parse().map_err(|_| {
                err(
                    path,
                    line,
                    format!("`{field}` in column {} is not a number", j + 2),
                )
            })?;
            values[c * f + column_fund[j]] = v;
        }
    }
    if let Some(c) = seen.iter().position(|s| !s) {
        return Err(err(
            path,
            None,
            format!("no row for customer `{}`", customers.ids.get(c)),
        ));
    }
    Ok(Revenue::F64(matrix(path, u, f, values, Some(&lines))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_times_funds_beyond_the_file_is_a_typed_too_large() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("E.csv");
        std::fs::write(&path, "customer_id,f0,f1\nc0,1,2\n").unwrap();
        let mut ids = Ids::default();
        for i in 0..1000 {
            ids.push(&format!("c{i}"));
        }
        let customers = Customers {
            ids,
            tolerance: vec![RiskLevel::MAX; 1000],
        };
        let funds = Funds {
            ids: vec!["f0".into(), "f1".into()],
            risk: vec![RiskLevel::MIN; 2],
            exposure: vec![500, 500],
        };
        let Err(e) = read_revenue_csv(&path, &customers, &funds) else {
            panic!("2000 cells cannot fit in 25 bytes");
        };
        let too_large = e.too_large.unwrap();
        assert_eq!(too_large.requested, 2000);
        assert_eq!(too_large.limit, 25 / MIN_CSV_CELL_BYTES as u128);
    }
}
