//! The exact solver on problems larger than memory: a seeded streaming generator that writes
//! row shards (`e_NNNNN.npy` f32 revenue, `t_NNNNN.npy` u8 risk tolerance), then
//! [`OutOfCore`] over them in a row budget, with passes, rounds, peak RSS, time and the
//! certified gap.
//!
//! ```text
//! cargo run --release -p fundalloc-examples --example out_of_core -- \
//!     --dir /tmp/ooc --customers 100000000 --shard 4000000 --budget 4000000 [--check]
//! ```
//!
//! Instance: F = 8 funds with risk levels `1 + 5f/F`, K = 1, revenue `p·r` as in `LctLike`
//! (per-fund base rate and value, per-customer activity, log-normal noise), tolerance levels
//! 1–5 with probabilities .1/.2/.3/.25/.15 (at least the lowest fund's level), ranges
//! `[⌊0.05·U⌋, ⌈0.2·U⌉]` for funds 0–3 and `[0, ⌈0.2·U⌉]` for funds 4–7. `--check` also
//! solves in memory and compares (small sizes only). The shards are deleted unless `--keep`.
//! `--cli` writes the command line's inputs instead (`fundalloc allocate --revenue DIR/revenue`,
//! a folder of shards larger than memory; docs/benchmarks.md has the run).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;
use fundalloc_allocator::prelude::*;
use fundalloc_allocator::{BlockFn, Exact, OutOfCore, RowSource};
use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, LogNormal};

#[derive(Parser)]
#[command(about = "Out-of-core exact allocation from row shards")]
struct Args {
    /// Folder for the shards (created; emptied of shards first).
    #[arg(long)]
    dir: PathBuf,
    /// Customers.
    #[arg(long, default_value_t = 1_000_000)]
    customers: usize,
    /// Rows per shard.
    #[arg(long, default_value_t = 1_000_000)]
    shard: usize,
    /// Row budget of the solver.
    #[arg(long, default_value_t = 1_000_000)]
    budget: usize,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Also solve in memory and compare.
    #[arg(long)]
    check: bool,
    /// Keep the shards.
    #[arg(long)]
    keep: bool,
    /// Write the command line's inputs instead of solving: `revenue/` (the row shards),
    /// `customers.csv` and `funds.csv` (exact exposures `U/8` per fund) in `--dir`, for
    /// `fundalloc allocate --revenue DIR/revenue --memory-budget MIB …`.
    #[arg(long)]
    cli: bool,
}

const F: usize = 8;

type BoxError = Box<dyn std::error::Error>;

fn generate(
    dir: &Path,
    u: usize,
    shard: usize,
    seed: u64,
) -> Result<Vec<(PathBuf, PathBuf)>, BoxError> {
    fs::create_dir_all(dir)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let base: Vec<f64> = (0..F)
        .map(|_| (0.01f64.ln() + rng.random::<f64>() * 8f64.ln()).exp())
        .collect();
    let mu: Vec<f64> = (0..F).map(|_| rng.random_range(3.0..5.0)).collect();
    let activity = LogNormal::new(0.0, 0.6)?;
    let affinity = LogNormal::new(0.0, 0.4)?;
    let unit = LogNormal::new(0.0, 0.5)?;
    let cumulative = [0.10, 0.30, 0.60, 0.85, 1.0];
    let mut files = Vec::new();
    let mut first = 0;
    while first < u {
        let n = shard.min(u - first);
        // One RNG per shard (seed, shard index): shards can be generated independently.
        let mut rng = StdRng::seed_from_u64(
            seed ^ (files.len() as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        let mut e = Vec::with_capacity(n * F);
        let mut t = Vec::with_capacity(n);
        for _ in 0..n {
            let a: f64 = activity.sample(&mut rng);
            let draw = rng.random::<f64>();
            t.push(1 + cumulative.iter().position(|&c| draw < c).unwrap_or(4) as u8);
            for f in 0..F {
                let p = (base[f] * a * affinity.sample(&mut rng)).min(1.0);
                let r = (mu[f] + 0.3 * a.ln()).exp() * unit.sample(&mut rng);
                e.push((p * r) as f32);
            }
        }
        let i = files.len();
        let (pe, pt) = (
            dir.join(format!("e_{i:05}.npy")),
            dir.join(format!("t_{i:05}.npy")),
        );
        ndarray_npy::write_npy(&pe, &Array2::from_shape_vec((n, F), e)?)?;
        ndarray_npy::write_npy(&pt, &Array1::from_vec(t))?;
        files.push((pe, pt));
        first += n;
    }
    Ok(files)
}

/// Reads the shards in order, one at a time (memory: one shard).
struct Shards {
    files: Vec<(PathBuf, PathBuf)>,
    customers: usize,
}

impl RowSource<f32> for Shards {
    fn n_customers(&self) -> usize {
        self.customers
    }

    fn n_funds(&self) -> usize {
        F
    }

    fn pass(&mut self, each: &mut BlockFn<'_, f32>) -> Result<(), AllocError> {
        let mut first = 0;
        for (pe, pt) in &self.files {
            let read_err = |p: &Path, e: String| {
                AllocError::InvalidParameter(fundalloc_allocator::InvalidParameter::new(
                    "shard",
                    format_args!("{}: {e}", p.display()),
                    "cannot be read",
                ))
            };
            let e: Array2<f32> =
                ndarray_npy::read_npy(pe).map_err(|x| read_err(pe, x.to_string()))?;
            let t: Array1<u8> =
                ndarray_npy::read_npy(pt).map_err(|x| read_err(pt, x.to_string()))?;
            let tol: Vec<RiskLevel> = t.iter().map(|&x| RiskLevel::new(x)).collect();
            let rows = e
                .as_slice()
                .ok_or_else(|| read_err(pe, "not C order".into()))?;
            each(first, rows, &tol)?;
            first += tol.len();
        }
        Ok(())
    }
}

/// Moves the revenue shards to `dir/revenue/` and writes `customers.csv` (ids `u0…`, the
/// tolerance shards' levels, which are then deleted) and `funds.csv` for the command line.
fn write_cli_inputs(dir: &Path, files: &[(PathBuf, PathBuf)], u: usize) -> Result<(), BoxError> {
    use std::io::Write;
    let revenue = dir.join("revenue");
    fs::create_dir_all(&revenue)?;
    let mut customers = std::io::BufWriter::new(fs::File::create(dir.join("customers.csv"))?);
    writeln!(customers, "customer_id,risk_tolerance")?;
    let mut next = 0usize;
    for (pe, pt) in files {
        let t: Array1<u8> = ndarray_npy::read_npy(pt)?;
        for level in t {
            writeln!(customers, "u{next},{level}")?;
            next += 1;
        }
        fs::remove_file(pt)?;
        if let Some(name) = pe.file_name() {
            fs::rename(pe, revenue.join(name))?;
        }
    }
    customers.flush()?;
    let mut funds = String::from("fund_id,risk_level,exposure\n");
    for f in 0..F {
        let d = u / F + if f == 0 { u % F } else { 0 };
        funds.push_str(&format!("fund{f},{},{d}\n", 1 + 5 * f / F));
    }
    fs::write(dir.join("funds.csv"), funds)?;
    eprintln!(
        "wrote {0}/revenue/ ({1} shards), {0}/customers.csv and {0}/funds.csv",
        dir.display(),
        files.len()
    );
    Ok(())
}

fn peak_rss_mb() -> f64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let u = args.customers;
    let t = Instant::now();
    let files = generate(&args.dir, u, args.shard, args.seed)?;
    let gen_s = t.elapsed().as_secs_f64();
    let bytes: u64 = files
        .iter()
        .map(|(a, b)| {
            fs::metadata(a).map_or(0, |m| m.len()) + fs::metadata(b).map_or(0, |m| m.len())
        })
        .sum();
    eprintln!(
        "generated {u} × {F} ({:.2} GB, {} shards) in {gen_s:.1} s; peak RSS {:.0} MB",
        bytes as f64 / 1e9,
        files.len(),
        peak_rss_mb()
    );
    if args.cli {
        return write_cli_inputs(&args.dir, &files, u);
    }
    let risk: Vec<RiskLevel> = (0..F)
        .map(|f| RiskLevel::new(1 + (5 * f / F) as u8))
        .collect();
    let cap = (u as u64 * 2).div_ceil(10);
    let exposure: Vec<ExposureRange> = (0..F)
        .map(|f| ExposureRange::new(if f < 4 { u as u64 / 20 } else { 0 }, cap))
        .collect();
    let mut source = Shards {
        files: files.clone(),
        customers: u,
    };
    let mut checksum = 0u64;
    let report = OutOfCore::new().budget_rows(args.budget).solve(
        &mut source,
        &risk,
        PerCustomer::Exactly(1),
        &exposure,
        &mut |c, fs| {
            for &g in fs {
                checksum = checksum
                    .wrapping_mul(31)
                    .wrapping_add(c as u64 * 8 + u64::from(g));
            }
            Ok(())
        },
    )?;
    println!(
        "| U | F | shards | budget rows | passes | rounds | sample | residual | seconds | peak RSS MB | objective | gap | data GB |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {u} | {F} | {} | {} | {} | {} | {} | {} | {:.1} | {:.0} | {:.3} | {:.1e} | {:.2} |",
        files.len(),
        args.budget,
        report.passes,
        report.rounds,
        report.sample,
        report.residual,
        report.seconds,
        peak_rss_mb(),
        report.objective,
        report.gap(),
        bytes as f64 / 1e9
    );
    if args.check {
        let mut e = Vec::with_capacity(u * F);
        let mut tol = Vec::with_capacity(u);
        source.pass(&mut |_, rows, t| {
            e.extend_from_slice(rows);
            tol.extend_from_slice(t);
            Ok(())
        })?;
        let p = AllocationProblem::new(
            RevenueMatrix::from_shape_vec(u, F, e)?,
            tol,
            risk,
            PerCustomer::Exactly(1),
            exposure,
        )?;
        let (s, _) = Exact::new().solve_certified(&p)?;
        println!(
            "in-memory exact: objective {:.3} in {:.2} s; out-of-core − in-memory = {:.1e}",
            s.report.objective,
            s.report.seconds,
            report.objective - s.report.objective
        );
    }
    if !args.keep {
        for (a, b) in &files {
            fs::remove_file(a)?;
            fs::remove_file(b)?;
        }
    }
    Ok(())
}
