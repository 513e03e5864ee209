//! Serving with dual prices: the prices file (`allocate --prices-out`, `assign --prices`), the
//! warm start (`allocate --warm-from`) and the `assign` command.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use fundalloc_allocator::{
    AllocError, Allocation, AllocationProblem, Certificate, Exact, FundPrices, OnlineAllocator,
    Real, Solution,
};
use rustc_hash::FxHashMap;

use crate::Failure;
use crate::input::{self, InputError};

/// Largest prices file read (a few hundred bytes per fund; 64 funds at most).
const MAX_PRICES_BYTES: u64 = 1 << 20;

/// The prices file: the fund ids (so a later run can match funds by id when funds were added or
/// closed) and the solver's [`FundPrices`].
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PricesFile {
    /// `"fundalloc-prices/1"`.
    format: String,
    fund_ids: Vec<String>,
    prices: FundPrices,
}

const FORMAT: &str = "fundalloc-prices/1";

/// Writes the prices of `problem`'s optimum with the fund ids, atomically.
pub(crate) fn write_prices<T: Real>(
    path: &Path,
    certificate: &Certificate,
    problem: &AllocationProblem<T>,
    fund_ids: &[String],
) -> Result<(), Failure> {
    let prices = certificate.prices_for(problem).map_err(Failure::Solver)?;
    write_prices_file(path, prices, fund_ids)
}

/// Writes `prices` with the fund ids, atomically (also the out-of-core solve's prices).
pub(crate) fn write_prices_file(
    path: &Path,
    prices: FundPrices,
    fund_ids: &[String],
) -> Result<(), Failure> {
    let file = PricesFile {
        format: FORMAT.to_string(),
        fund_ids: fund_ids.to_vec(),
        prices,
    };
    crate::atomic::write_atomically(path, |w| {
        serde_json::to_writer_pretty(&mut *w, &file).map_err(io::Error::other)?;
        w.write_all(b"\n")
    })
    .map_err(|e| Failure::Input(input::err(path, None, format!("cannot write: {e}"))))
}

/// Reads and checks a prices file (size-capped before reading; every price re-checked).
pub(crate) fn read_prices(path: &Path) -> Result<PricesFile, InputError> {
    let file = File::open(path).map_err(|e| input::err(path, None, format!("cannot open: {e}")))?;
    let mut text = String::new();
    BufReader::new(file)
        .take(MAX_PRICES_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| input::err(path, None, format!("cannot read: {e}")))?;
    if text.len() as u64 > MAX_PRICES_BYTES {
        return Err(input::err(
            path,
            None,
            format!("larger than {MAX_PRICES_BYTES} bytes: not a prices file"),
        ));
    }
    let file: PricesFile = serde_json::from_str(&text).map_err(|e| {
        input::err(
            path,
            Some(e.line() as u64),
            format!("not a prices file: {e}"),
        )
    })?;
    if file.format != FORMAT {
        return Err(input::err(
            path,
            None,
            format!("format `{}` is not `{FORMAT}`", file.format),
        ));
    }
    if file.fund_ids.len() != file.prices.n_funds() {
        return Err(input::err(
            path,
            None,
            format!(
                "{} fund ids for {} prices",
                file.fund_ids.len(),
                file.prices.n_funds()
            ),
        ));
    }
    let mut seen = FxHashMap::default();
    for id in &file.fund_ids {
        if seen.insert(id.as_str(), ()).is_some() {
            return Err(input::err(path, None, format!("duplicate fund id `{id}`")));
        }
    }
    Ok(file)
}

/// The warm start for `funds`: prices matched by fund id (a fund absent from the file starts
/// at 0) and the previous allocation (`customer_id,fund_id` rows as `--out` writes them;
/// customers or funds it does not know are ignored: they are new, closed or removed).
pub(crate) fn warm_start(
    prices: Option<&Path>,
    previous: Option<&Path>,
    customers: &input::Customers,
    funds: &input::Funds,
) -> Result<(Vec<f64>, Option<Allocation>), InputError> {
    let f = funds.ids.len();
    let fund_index: FxHashMap<&str, usize> = funds
        .ids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let mut q = vec![0.0; f];
    if let Some(path) = prices {
        let file = read_prices(path)?;
        for (id, &p) in file.fund_ids.iter().zip(file.prices.prices()) {
            if let Some(&g) = fund_index.get(id.as_str()) {
                q[g] = p;
            }
        }
    }
    let Some(path) = previous else {
        return Ok((q, None));
    };
    let customer_index: FxHashMap<&str, usize> = (0..customers.ids.len())
        .map(|i| (customers.ids.get(i), i))
        .collect();
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); customers.ids.len()];
    let mut r = input::open_csv(path)?;
    let cols = input::columns(path, &mut r, &["customer_id", "fund_id"])?;
    input::for_each_row(path, &mut r, |row| {
        let (c, g) = (row.field(cols[0])?, row.field(cols[1])?);
        if let (Some(&u), Some(&g)) = (customer_index.get(c), fund_index.get(g)) {
            let g = g as u32;
            // At most F funds per customer: duplicates are ignored.
            if !rows[u].contains(&g) {
                rows[u].push(g);
            }
        }
        Ok(())
    })?;
    let allocation = Allocation::from_rows(f, rows)
        .map_err(|e| input::err(path, None, format!("not an allocation: {e}")))?;
    Ok((q, Some(allocation)))
}

/// The exact solve with its certificate, warm when a start is given.
pub(crate) fn solve_exact<T: Real>(
    problem: &AllocationProblem<T>,
    warm: Option<(Vec<f64>, Option<Allocation>)>,
) -> Result<(Solution, Certificate), AllocError> {
    match warm {
        None => Exact::new().solve_certified(problem),
        Some((q, previous)) => Exact::new().solve_warm(problem, &q, previous.as_ref()),
    }
}

/// `fundalloc assign`: customers streamed in, one assignment per customer out.
#[derive(clap::Args, Debug)]
pub(crate) struct AssignArgs {
    /// Prices file written by `fundalloc allocate --prices-out`.
    #[arg(long)]
    prices: PathBuf,
    /// Arriving customers, in order: CSV with columns `customer_id,risk_tolerance` and one
    /// revenue column per fund id of the prices file (any order; other columns ignored).
    /// `-` reads standard input. Read one record at a time.
    #[arg(long)]
    customers: PathBuf,
    /// Write `customer_id,fund_id` rows here (atomically, when the stream ends).
    #[arg(long)]
    out: PathBuf,
    /// Remaining exposure per fund instead of the prices file's maximums: CSV with columns
    /// `fund_id,exposure`.
    #[arg(long)]
    remaining: Option<PathBuf>,
}

pub(crate) fn assign(args: &AssignArgs) -> Result<serde_json::Value, Failure> {
    let file = read_prices(&args.prices).map_err(Failure::Input)?;
    let f = file.fund_ids.len();
    let mut online = OnlineAllocator::new(&file.prices);
    if let Some(path) = &args.remaining {
        let mut left: Vec<u64> = online.remaining().to_vec();
        let mut r = input::open_csv(path).map_err(Failure::Input)?;
        let cols =
            input::columns(path, &mut r, &["fund_id", "exposure"]).map_err(Failure::Input)?;
        input::for_each_row(path, &mut r, |row| {
            let id = row.field(cols[0])?;
            let g = file.fund_ids.iter().position(|x| x == id).ok_or_else(|| {
                input::err(
                    path,
                    row.line,
                    format!("fund `{id}` is not in {}", args.prices.display()),
                )
            })?;
            let v = row.field(cols[1])?;
            left[g] = v.parse::<u64>().map_err(|_| {
                input::err(
                    path,
                    row.line,
                    format!("exposure `{v}` is not a non-negative integer"),
                )
            })?;
            Ok(())
        })
        .map_err(Failure::Input)?;
        online = online.with_remaining(left).map_err(Failure::Argument)?;
    }
    let path = args.customers.as_path();
    let source: Box<dyn Read> = if path == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        Box::new(
            File::open(path)
                .map_err(|e| Failure::Input(input::err(path, None, format!("cannot open: {e}"))))?,
        )
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(source);
    let mut want: Vec<&str> = vec!["customer_id", "risk_tolerance"];
    want.extend(file.fund_ids.iter().map(String::as_str));
    let cols = input::columns(path, &mut reader, &want).map_err(Failure::Input)?;
    let start = Instant::now();
    let (mut customers, mut short, mut objective) = (0u64, 0u64, 0.0f64);
    let mut row = vec![0.0f64; f];
    let mut chosen = Vec::with_capacity(f);
    let mut failure: Option<InputError> = None;
    let k = file.prices.rule().k();
    crate::atomic::write_atomically(&args.out, |w| {
        let mut out = csv::Writer::from_writer(w);
        out.write_record(["customer_id", "fund_id"])?;
        let result = input::for_each_row(path, &mut reader, |rec| {
            let id = rec.field(cols[0])?;
            let t = input::parse_level(path, rec.line, "risk_tolerance", rec.field(cols[1])?)?;
            for (x, &c) in row.iter_mut().zip(&cols[2..]) {
                let s = rec.field(c)?;
                *x = s
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| {
                        input::err(
                            path,
                            rec.line,
                            format!("revenue `{s}` is not a finite non-negative number"),
                        )
                    })?;
            }
            let n = online
                .assign(&row, t, &mut chosen)
                .map_err(|e| input::err(path, rec.line, e.to_string()))?;
            customers += 1;
            short += u64::from(n < k);
            for &g in &chosen {
                objective += row[g as usize];
                out.write_record([id, file.fund_ids[g as usize].as_str()])
                    .map_err(|e| input::err(&args.out, None, format!("cannot write: {e}")))?;
            }
            Ok(())
        });
        if let Err(e) = result {
            failure = Some(e);
            return Err(io::Error::other("input error"));
        }
        out.flush()
    })
    .map_err(|e| {
        Failure::Input(
            failure
                .take()
                .unwrap_or_else(|| input::err(&args.out, None, format!("cannot write: {e}"))),
        )
    })?;
    let seconds = start.elapsed().as_secs_f64();
    let loads: serde_json::Map<String, serde_json::Value> = file
        .fund_ids
        .iter()
        .zip(online.loads())
        .map(|(id, &l)| (id.clone(), serde_json::json!(l)))
        .collect();
    Ok(serde_json::json!({
        "customers": customers,
        "short_of_k": short,
        "objective": objective,
        "seconds": seconds,
        "loads": loads,
        "remaining": online.remaining(),
    }))
}
