//! `fundalloc allocate` on revenue matrices larger than memory: the exact optimum from
//! sequential passes over one large `.npy` file or a folder of row-shard `.npy` files, in a
//! memory budget ([`fundalloc_allocator::OutOfCore`]; `docs/exact-solver.md` §5.3).
//!
//! Nothing here holds a per-customer value: the revenue rows are read in blocks of
//! [`BLOCK_ROWS`] with buffered streaming reads (the workspace denies `unsafe`, so no mmap);
//! the customers file is streamed beside them for the risk tolerances, and once more while the
//! final pass writes `customer_id,fund_id` rows. Customer ids are therefore not checked for
//! duplicates here (that would hold every id); the row order of the customers file is the row
//! order of the revenue, as for an in-memory `.npy`.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fundalloc_allocator::{
    AllocError, BlockFn, ExposureRange, FundPrices, InvalidParameter, OutOfCore, PerCustomer, Real,
    RiskLevel, RowSource, TooLarge,
};

use crate::Failure;
use crate::input::{self, InputError};

/// Rows read per block (a block is `BLOCK_ROWS × F` values: 2 MiB at F = 8 in `f64`).
const BLOCK_ROWS: usize = 1 << 15;

/// Bytes of the solver's memory one held row costs besides its values: its tolerance, its
/// index, and the in-memory exact solve of the residual (heaps, sets, slacks). Measured: a
/// 4 Mi-row budget at F = 8 `f32` peaks at about 700 MB (docs/benchmarks.md), ~170 B per row,
/// so 4 · F · width + 64 keeps a budget with room to spare.
fn bytes_per_held_row(funds: usize, width: u64) -> u64 {
    4 * funds as u64 * width + 64
}

/// The fewest rows [`OutOfCore`] accepts as a budget.
const MIN_BUDGET_ROWS: u64 = 1024;

/// One `.npy` file of rows: where its data starts and how to decode it.
#[derive(Debug, Clone)]
struct Shard {
    path: PathBuf,
    data_start: u64,
    rows: usize,
}

/// The revenue rows on disk: one `.npy` file or a folder of row shards (`*.npy`, in name
/// order), all with the same dtype and F columns.
#[derive(Debug, Clone)]
pub(crate) struct NpyRows {
    shards: Vec<Shard>,
    customers: usize,
    funds: usize,
    /// 4 (`f32`) or 8 (`f64`).
    width: u64,
    big_endian: bool,
}

impl NpyRows {
    /// Opens `path` (a `.npy` file or a folder of them) and checks every header: magic,
    /// dtype (`f4`/`f8`, one byte order), C order, 2-D with `funds` columns, data length exact.
    /// Reads no data.
    pub(crate) fn open(path: &Path, funds: usize) -> Result<Self, InputError> {
        let files = if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| input::err(path, None, format!("cannot list: {e}")))?
                .filter_map(|d| d.ok().map(|d| d.path()))
                .filter(|p| {
                    p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"))
                })
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(input::err(path, None, "folder holds no .npy shard"));
            }
            files
        } else {
            vec![path.to_path_buf()]
        };
        let mut shards = Vec::with_capacity(files.len());
        let mut dtype: Option<(u64, bool, PathBuf)> = None;
        let mut customers = 0usize;
        for file in files {
            let (shard, width, big) = open_shard(&file, funds)?;
            match &dtype {
                None => dtype = Some((width, big, file.clone())),
                Some((w, b, first)) if (*w, *b) != (width, big) => {
                    return Err(input::err(
                        &file,
                        None,
                        format!(
                            "dtype differs from {}'s (every shard needs the same dtype)",
                            first.display()
                        ),
                    ));
                }
                Some(_) => {}
            }
            customers = customers.checked_add(shard.rows).ok_or_else(|| {
                input::err(&file, None, "the shards' rows add up past usize::MAX")
            })?;
            shards.push(shard);
        }
        let (width, big_endian) = dtype.map_or((4, false), |(w, b, _)| (w, b));
        if customers == 0 {
            return Err(input::err(path, None, "no customers (0 rows)"));
        }
        Ok(Self {
            shards,
            customers,
            funds,
            width,
            big_endian,
        })
    }

    /// The bytes of revenue values (U · F · width).
    pub(crate) fn data_bytes(&self) -> u64 {
        (self.customers as u64)
            .saturating_mul(self.funds as u64)
            .saturating_mul(self.width)
    }

    /// U.
    pub(crate) fn customers(&self) -> usize {
        self.customers
    }

    /// Whether the values are `f64`.
    pub(crate) fn is_f64(&self) -> bool {
        self.width == 8
    }

    /// Whether the whole matrix and the in-memory solver fit in `budget_bytes`.
    pub(crate) fn fits_in(&self, budget_bytes: u64) -> bool {
        (self.customers as u128) * u128::from(bytes_per_held_row(self.funds, self.width))
            <= u128::from(budget_bytes)
    }

    /// The row budget that fits `budget_bytes`, or a `TooLarge` when not even the solver's
    /// minimum of 1024 rows does.
    pub(crate) fn budget_rows(&self, budget_bytes: u64) -> Result<usize, TooLarge> {
        let per_row = bytes_per_held_row(self.funds, self.width);
        let rows = budget_bytes / per_row;
        if rows < MIN_BUDGET_ROWS {
            return Err(TooLarge::new(
                "memory for the out-of-core solve (bytes)",
                u128::from(MIN_BUDGET_ROWS * per_row),
                u128::from(budget_bytes),
            ));
        }
        Ok(usize::try_from(rows).unwrap_or(usize::MAX))
    }
}

/// Checks one shard's header; returns it with its value width and byte order.
fn open_shard(path: &Path, funds: usize) -> Result<(Shard, u64, bool), InputError> {
    use ndarray_npy::npy::header::{Header, Layout};

    let file = File::open(path).map_err(|e| input::err(path, None, format!("cannot open: {e}")))?;
    let file_len = file
        .metadata()
        .map_err(|e| input::err(path, None, format!("cannot open: {e}")))?
        .len();
    let mut r = BufReader::new(file);
    crate::npy::check_prefix(&mut r, file_len).map_err(|m| input::err(path, None, m))?;
    let header = Header::from_reader(&mut r)
        .map_err(|e| input::err(path, None, format!("unreadable .npy header: {e}")))?;
    let data_start = r
        .stream_position()
        .map_err(|e| input::err(path, None, format!("cannot read: {e}")))?;
    let descr = header.type_descriptor.to_string();
    let (width, big) = match descr.trim_matches('\'') {
        "<f4" => (4, false),
        ">f4" => (4, true),
        "<f8" => (8, false),
        ">f8" => (8, true),
        other => {
            return Err(input::err(
                path,
                None,
                format!("dtype {other} is not supported (need float32 '<f4' or float64 '<f8')"),
            ));
        }
    };
    if matches!(header.layout, Layout::Fortran) {
        return Err(input::err(
            path,
            None,
            "Fortran-order arrays are not supported (save with C order)",
        ));
    }
    let [rows, cols] = header.shape[..] else {
        return Err(input::err(
            path,
            None,
            format!(
                "shape {:?} is not 2-D (need customers × funds)",
                header.shape
            ),
        ));
    };
    if cols != funds {
        return Err(input::err(
            path,
            None,
            format!("shape {rows}×{cols} has {cols} columns, the funds file lists {funds} funds"),
        ));
    }
    let data = file_len.saturating_sub(data_start);
    let needed = (rows as u128) * (cols as u128) * u128::from(width);
    if u128::from(data) != needed {
        return Err(input::err(
            path,
            None,
            format!(
                "{data} data bytes for a {rows}×{cols} array of {width}-byte floats ({needed} \
                 expected: {})",
                if u128::from(data) < needed {
                    "file truncated?"
                } else {
                    "more data than the shape's values"
                }
            ),
        ));
    }
    Ok((
        Shard {
            path: path.to_path_buf(),
            data_start,
            rows,
        },
        width,
        big,
    ))
}

/// Decoding `.npy` bytes into the solver's float type.
trait NpyFloat: Real {
    /// The value of `bytes` (exactly `size_of::<Self>()` of them) in the given byte order.
    fn decode(bytes: &[u8], big_endian: bool) -> Self;
}

impl NpyFloat for f32 {
    fn decode(bytes: &[u8], big_endian: bool) -> Self {
        let mut b = [0u8; 4];
        b.copy_from_slice(bytes);
        if big_endian {
            f32::from_be_bytes(b)
        } else {
            f32::from_le_bytes(b)
        }
    }
}

impl NpyFloat for f64 {
    fn decode(bytes: &[u8], big_endian: bool) -> Self {
        let mut b = [0u8; 8];
        b.copy_from_slice(bytes);
        if big_endian {
            f64::from_be_bytes(b)
        } else {
            f64::from_le_bytes(b)
        }
    }
}

/// The customers file streamed row by row: `customer_id,risk_tolerance` as `read_customers`
/// reads it, without holding the rows.
struct CustomerStream {
    path: PathBuf,
    reader: csv::Reader<File>,
    cols: [usize; 2],
    record: csv::ByteRecord,
    /// Records read so far.
    read: usize,
}

impl CustomerStream {
    fn open(path: &Path) -> Result<Self, InputError> {
        let mut reader = input::open_csv(path)?;
        let cols = input::columns(path, &mut reader, &["customer_id", "risk_tolerance"])?;
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            cols: [cols[0], cols[1]],
            record: csv::ByteRecord::new(),
            read: 0,
        })
    }

    /// The next record, or an error naming the line (or that the file ended after `expected`
    /// was wanted).
    fn advance(&mut self, expected: usize) -> Result<(), InputError> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(true) => {
                self.read += 1;
                Ok(())
            }
            Ok(false) => Err(input::err(
                &self.path,
                None,
                format!(
                    "has {} customers, the revenue has {expected} rows",
                    self.read
                ),
            )),
            Err(e) => {
                let line = e.position().map(|p| p.line());
                Err(input::err(&self.path, line, format!("malformed CSV: {e}")))
            }
        }
    }

    fn line(&self) -> Option<u64> {
        self.record.position().map(|p| p.line())
    }

    fn field(&self, i: usize) -> Result<&str, InputError> {
        std::str::from_utf8(&self.record[self.cols[i]]).map_err(|e| {
            input::err(
                &self.path,
                self.line(),
                format!("malformed CSV: invalid UTF-8: {e}"),
            )
        })
    }

    fn tolerance(&self) -> Result<RiskLevel, InputError> {
        input::parse_level(&self.path, self.line(), "risk_tolerance", self.field(1)?)
    }

    /// Errors unless the file has no record left (called after `expected` records).
    fn finish(&mut self, expected: usize) -> Result<(), InputError> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => Ok(()),
            Ok(true) => Err(input::err(
                &self.path,
                self.line(),
                format!("has more customers than the revenue's {expected} rows"),
            )),
            Err(e) => {
                let line = e.position().map(|p| p.line());
                Err(input::err(&self.path, line, format!("malformed CSV: {e}")))
            }
        }
    }
}

/// [`RowSource`] over [`NpyRows`] and the customers file. A read or parse failure is kept in
/// `failure` (with its file and line) and surfaces to the solver as a generic error.
struct Source<'a, T> {
    rows: &'a NpyRows,
    customers: &'a Path,
    failure: Option<InputError>,
    _values: std::marker::PhantomData<T>,
}

impl<T: NpyFloat> Source<'_, T> {
    fn keep(&mut self, e: InputError) -> AllocError {
        let message = e.to_string();
        self.failure = Some(e);
        AllocError::InvalidParameter(InvalidParameter::new("input", message, "could not be read"))
    }

    fn pass_inner(&self, each: &mut BlockFn<'_, T>) -> Result<Result<(), AllocError>, InputError> {
        let f = self.rows.funds;
        let width = self.rows.width as usize;
        let mut customers = CustomerStream::open(self.customers)?;
        let mut bytes = vec![0u8; BLOCK_ROWS * f * width];
        let mut values: Vec<T> = Vec::with_capacity(BLOCK_ROWS * f);
        let mut tolerance: Vec<RiskLevel> = Vec::with_capacity(BLOCK_ROWS);
        let mut first = 0usize;
        for shard in &self.rows.shards {
            let path = &shard.path;
            let file = File::open(path)
                .map_err(|e| input::err(path, None, format!("cannot open: {e}")))?;
            let mut r = BufReader::with_capacity(1 << 20, file);
            r.seek(SeekFrom::Start(shard.data_start))
                .map_err(|e| input::err(path, None, format!("cannot read: {e}")))?;
            let mut row = 0usize;
            while row < shard.rows {
                let n = BLOCK_ROWS.min(shard.rows - row);
                let buf = &mut bytes[..n * f * width];
                r.read_exact(buf).map_err(|e| {
                    input::err(
                        path,
                        None,
                        format!(
                            "cannot read rows {row}..{} (changed since opened?): {e}",
                            row + n
                        ),
                    )
                })?;
                values.clear();
                for (i, chunk) in buf.chunks_exact(width).enumerate() {
                    let v = T::decode(chunk, self.rows.big_endian);
                    if !v.is_finite() || v < T::zero() {
                        let what = if v.is_finite() {
                            "negative"
                        } else {
                            "non-finite"
                        };
                        return Err(input::err(
                            path,
                            None,
                            format!(
                                "{what} revenue {v} at row {}, column {}",
                                row + i / f,
                                i % f
                            ),
                        ));
                    }
                    values.push(v);
                }
                tolerance.clear();
                for _ in 0..n {
                    customers.advance(self.rows.customers)?;
                    tolerance.push(customers.tolerance()?);
                }
                if let Err(e) = each(first, &values, &tolerance) {
                    return Ok(Err(e));
                }
                first += n;
                row += n;
            }
        }
        customers.finish(self.rows.customers)?;
        Ok(Ok(()))
    }
}

impl<T: NpyFloat> RowSource<T> for Source<'_, T> {
    fn n_customers(&self) -> usize {
        self.rows.customers
    }

    fn n_funds(&self) -> usize {
        self.rows.funds
    }

    fn pass(&mut self, each: &mut BlockFn<'_, T>) -> Result<(), AllocError> {
        match self.pass_inner(each) {
            Ok(result) => result,
            Err(e) => Err(self.keep(e)),
        }
    }
}

/// Writes `customer_id,fund_id` rows as the final pass hands the allocation out, reading the
/// customers file once more for the ids.
struct AssignmentWriter<'a, W: Write> {
    customers: CustomerStream,
    total: usize,
    fund_ids: &'a [String],
    csv: csv::Writer<W>,
}

impl<W: Write> AssignmentWriter<'_, W> {
    fn write(&mut self, funds: &[u32]) -> Result<(), InputError> {
        self.customers.advance(self.total)?;
        // Borrowed from the stream's record (no copy per customer): the two fields are disjoint.
        let id = self.customers.field(0)?;
        for &g in funds {
            let fund = self.fund_ids.get(g as usize).map_or("?", String::as_str);
            self.csv
                .write_record([id, fund])
                .map_err(|e| input::err(Path::new("--out"), None, format!("cannot write: {e}")))?;
        }
        Ok(())
    }
}

/// What the command line asks of an out-of-core solve.
pub(crate) struct Request<'a> {
    pub(crate) rows: &'a NpyRows,
    pub(crate) customers: &'a Path,
    pub(crate) funds: &'a input::Funds,
    pub(crate) k: usize,
    pub(crate) budget_rows: usize,
    pub(crate) out: Option<&'a Path>,
    pub(crate) prices_out: Option<&'a Path>,
}

/// Solves out of core and returns the command's JSON.
pub(crate) fn allocate(req: &Request<'_>) -> Result<serde_json::Value, Failure> {
    let u = req.rows.customers();
    let exposure: Vec<ExposureRange> = req
        .funds
        .exposure
        .iter()
        .map(|&d| ExposureRange::exact(d))
        .collect();
    // Exact exposures must add up to U · K (what the in-memory builder checks).
    let total: u128 = req.funds.exposure.iter().map(|&d| u128::from(d)).sum();
    let want = (u as u128) * (req.k as u128);
    if total != want {
        return Err(Failure::Problem(AllocError::InvalidParameter(
            InvalidParameter::new(
                "exposures",
                format_args!("{total} in all, customers × K = {want}"),
                "must add up to customers × K",
            ),
        )));
    }
    if req.rows.is_f64() {
        solve::<f64>(req, &exposure)
    } else {
        solve::<f32>(req, &exposure)
    }
}

fn solve<T: NpyFloat>(
    req: &Request<'_>,
    exposure: &[ExposureRange],
) -> Result<serde_json::Value, Failure> {
    let mut source = Source::<T> {
        rows: req.rows,
        customers: req.customers,
        failure: None,
        _values: std::marker::PhantomData,
    };
    let params = OutOfCore::new().budget_rows(req.budget_rows);
    let rule = PerCustomer::Exactly(req.k);
    let mut sink_failure: Option<InputError> = None;
    let mut outcome = None;
    let mut run = |w: Option<&mut dyn Write>| -> Result<(), AllocError> {
        let mut writer = match w {
            Some(w) => {
                let mut csv = csv::Writer::from_writer(w);
                csv.write_record(["customer_id", "fund_id"]).map_err(|e| {
                    AllocError::InvalidParameter(InvalidParameter::new(
                        "--out",
                        e,
                        "cannot be written",
                    ))
                })?;
                let customers = CustomerStream::open(req.customers).map_err(|e| {
                    let m = e.to_string();
                    sink_failure = Some(e);
                    AllocError::InvalidParameter(InvalidParameter::new(
                        "input",
                        m,
                        "could not be read",
                    ))
                })?;
                Some(AssignmentWriter {
                    customers,
                    total: req.rows.customers(),
                    fund_ids: &req.funds.ids,
                    csv,
                })
            }
            None => None,
        };
        let report = params.solve(
            &mut source,
            &req.funds.risk,
            rule,
            exposure,
            &mut |_, funds| match writer.as_mut() {
                Some(w) => w.write(funds).map_err(|e| {
                    let m = e.to_string();
                    sink_failure = Some(e);
                    AllocError::InvalidParameter(InvalidParameter::new(
                        "--out",
                        m,
                        "could not be written",
                    ))
                }),
                None => Ok(()),
            },
        )?;
        if let Some(mut w) = writer {
            w.csv.flush().map_err(|e| {
                AllocError::InvalidParameter(InvalidParameter::new("--out", e, "cannot be written"))
            })?;
        }
        outcome = Some(report);
        Ok(())
    };
    let result = match req.out {
        // The solver hands the allocation out before it has checked the final gap: the file
        // is renamed into place only when the whole solve succeeded.
        Some(path) => {
            let mut solve_error = None;
            let written = crate::atomic::write_atomically(path, |w| {
                run(Some(w)).map_err(|e| {
                    let io = std::io::Error::other(e.to_string());
                    solve_error = Some(e);
                    io
                })
            });
            match (written, solve_error) {
                (Ok(()), _) => Ok(()),
                (Err(_), Some(e)) => Err(e),
                (Err(e), None) => {
                    return Err(Failure::Input(input::err(
                        path,
                        None,
                        format!("cannot write: {e}"),
                    )));
                }
            }
        }
        None => run(None),
    };
    if let Some(e) = source.failure.take().or(sink_failure) {
        return Err(Failure::Input(e));
    }
    if let Err(e) = result {
        return Err(match e {
            e @ AllocError::InvalidParameter(_) => Failure::Problem(e),
            e => Failure::Solver(e),
        });
    }
    let Some(report) = outcome else {
        return Err(Failure::Solver(AllocError::InvalidParameter(
            InvalidParameter::new("solve", "no report", "the solver returned nothing"),
        )));
    };
    if let Some(path) = req.prices_out {
        let prices = FundPrices::new(
            report.prices.clone(),
            req.funds.risk.clone(),
            exposure.to_vec(),
            rule,
            req.rows.customers() as u64,
        )
        .map_err(Failure::Solver)?;
        crate::serve::write_prices_file(path, prices, &req.funds.ids)?;
    }
    Ok(serde_json::json!({
        "solver": "exact",
        "customers": req.rows.customers(),
        "funds": req.funds.ids.len(),
        "k": req.k,
        "objective": report.objective,
        "seconds": report.seconds,
        "feasible": true,
        "repaired": false,
        "bound": report.dual,
        "gap": report.gap(),
        "iterations": report.rounds,
        "violations": Vec::<String>::new(),
        "notes": format!(
            "out of core: {} passes, {} pricing rounds, sample {}, residual {}, budget {} rows",
            report.passes, report.rounds, report.sample, report.residual, req.budget_rows
        ),
        "out_of_core": {
            "passes": report.passes,
            "rounds": report.rounds,
            "sample": report.sample,
            "residual": report.residual,
            "budget_rows": req.budget_rows,
            "loads": report.loads,
        },
    }))
}
