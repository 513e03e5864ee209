//! The exact solver at scale: the same LCT-like instance through `Exact`, HA, Manual and `Lp`,
//! with objective ratio (to the proven optimum) and time, optionally next to OR-Tools.
//!
//! ```text
//! cargo run --release -p fundalloc-examples --example exact_scale -- \
//!     --sizes 2000,200000,1000000,10000000 [--lp-max 2000] [--f64] [--repeat 3] \
//!     [--write DIR --ortools /tmp/exact-venv/bin/python]
//! ```
//!
//! `--write DIR` stores each instance in `DIR/u<U>/` as `.npy` files (revenue, tolerance, fund risk,
//! exposure, k.txt) plus `customers.csv`/`funds.csv` for the `fundalloc` CLI; with `--ortools
//! PYTHON` the example then runs `docs/exact-solver-ortools.py DIR` (OR-Tools
//! `SimpleMinCostFlow`, installed in a scratch venv) and prints its time and objective in the
//! same table. `Lp` (pure-Rust microlp) runs only up to `--lp-max` customers: far beyond that it
//! would take more than five minutes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use clap::Parser;
use fundalloc_allocator::prelude::*;
use fundalloc_allocator::{Certificate, Exact, LctLike, Real};

#[derive(Parser)]
#[command(about = "Exact vs HA vs Manual vs Lp (and OR-Tools) on LCT-like instances")]
struct Args {
    /// Customer counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![200_000usize, 1_000_000])]
    sizes: Vec<usize>,
    /// Funds.
    #[arg(long, default_value_t = 8)]
    funds: usize,
    /// Funds per customer.
    #[arg(long, default_value_t = 1)]
    k: usize,
    /// Generator seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Revenue in f64 instead of f32.
    #[arg(long)]
    f64: bool,
    /// Largest U for which `Lp` (microlp) runs.
    #[arg(long, default_value_t = 2_000)]
    lp_max: usize,
    /// Write each instance to DIR/u<U>/ (.npy + CLI CSVs).
    #[arg(long)]
    write: Option<PathBuf>,
    /// Python with ortools: solve the written instances with OR-Tools in the same run.
    #[arg(long)]
    ortools: Option<PathBuf>,
    /// Largest U handed to OR-Tools (its network has U·F arcs).
    #[arg(long, default_value_t = 1_000_000)]
    ortools_max: usize,
    /// Solvers besides `exact` (which always runs: it is the reference): any of ha, manual, lp.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![SolverKind::Heuristic, SolverKind::Manual, SolverKind::Lp])]
    others: Vec<SolverKind>,
    /// Solve each instance this many times per solver and report the fastest run.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Append a checksum of each solver's allocation (FNV-1a over every customer's fund list)
    /// to the notes, to check that a code change left an allocation identical.
    #[arg(long)]
    checksum: bool,
}

/// FNV-1a over `(customer, funds…)`: equal allocations give equal sums.
fn checksum(allocation: &fundalloc_core_types::Allocation) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut eat = |x: u64| {
        for b in x.to_le_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (u, funds) in allocation.iter() {
        eat(u as u64);
        for &f in funds {
            eat(u64::from(f));
        }
    }
    h
}

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    println!(
        "| U | F | K | solver | objective | ratio to exact | seconds | time / exact | notes |"
    );
    println!("|---:|---:|---:|---|---:|---:|---:|---:|---|");
    for &u in &args.sizes {
        let write = args.write.as_ref().map(|d| d.join(format!("u{u}")));
        if args.f64 {
            run::<f64>(&args, u, write.as_deref())?;
        } else {
            run::<f32>(&args, u, write.as_deref())?;
        }
    }
    Ok(())
}

fn run<T: Real + NpyElement>(args: &Args, u: usize, write: Option<&Path>) -> Result<(), BoxError> {
    let t = Instant::now();
    let problem: AllocationProblem<T> = LctLike::new(u, args.funds)
        .k(args.k)
        .seed(args.seed)
        .generate()?;
    eprintln!("U = {u}: generated in {:.1} s", t.elapsed().as_secs_f64());
    let (f, k) = (args.funds, args.k);
    let repeat = args.repeat.max(1);
    let mut best: Option<(Solution, Certificate)> = None;
    for _ in 0..repeat {
        let run = Exact::new().solve_certified(&problem)?;
        if best
            .as_ref()
            .is_none_or(|b| run.0.report.seconds < b.0.report.seconds)
        {
            best = Some(run);
        }
    }
    let (exact, certificate) = best.ok_or("no run")?;
    let opt = exact.report.objective;
    let te = exact.report.seconds;
    let row = |name: &str, obj: f64, secs: f64, notes: &str| {
        println!(
            "| {u} | {f} | {k} | {name} | {obj:.6} | {:.6} | {secs:.3} | {:.1}× | {notes} |",
            obj / opt,
            secs / te
        );
    };
    row(
        "exact",
        opt,
        te,
        &format!(
            "gap {:.1e}; {}",
            certificate.gap(),
            exact.report.notes.get(1).map_or("", String::as_str)
        ),
    );
    let solvers: Vec<Box<dyn Solver<T>>> =
        vec![Box::new(Heuristic::new()), Box::new(Manual::new())];
    let wanted = |kind: SolverKind| args.others.contains(&kind);
    for solver in solvers.into_iter().filter(|s| wanted(s.kind())) {
        let mut s = solver.solve(&problem)?;
        for _ in 1..repeat {
            let again = solver.solve(&problem)?;
            if again.report.seconds < s.report.seconds {
                s = again;
            }
        }
        let mut notes = if s.report.repaired { "repaired" } else { "" }.to_string();
        if args.checksum {
            write!(notes, " alloc {:016x}", checksum(&s.allocation))?;
        }
        row(
            solver.kind().name(),
            s.report.objective,
            s.report.seconds,
            &notes,
        );
    }
    if !wanted(SolverKind::Lp) {
        // Not requested.
    } else if u <= args.lp_max {
        let s = Lp::new().solve(&problem)?;
        row("lp (microlp)", s.report.objective, s.report.seconds, "");
    } else {
        println!("| {u} | {f} | {k} | lp (microlp) | – | – | – | – | skipped: U > --lp-max |");
    }
    if let Some(dir) = write {
        write_instance(&problem, dir)?;
        eprintln!("wrote the instance to {}", dir.display());
        if let Some(python) = args.ortools.as_ref().filter(|_| u <= args.ortools_max) {
            let script = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../docs/exact-solver-ortools.py"
            );
            let out = Command::new(python).arg(script).arg(dir).output()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let json: serde_json::Value = serde_json::from_str(text.trim())
                .map_err(|e| format!("OR-Tools output {text:?}: {e}"))?;
            let secs = json["solve_seconds"].as_f64().unwrap_or(f64::NAN);
            let obj = json["objective"].as_f64().unwrap_or(f64::NAN);
            let build = json["build_seconds"].as_f64().unwrap_or(f64::NAN);
            row(
                "or-tools SimpleMinCostFlow",
                obj,
                secs,
                &format!(
                    "solve only (network build {build:.3} s); integer costs ×1e6: {}; \
                     |objective − exact| = {:.1e}",
                    json["integer_optimum_over_scale"],
                    (obj - opt).abs()
                ),
            );
        }
    }
    Ok(())
}

/// Element types the example can write as `.npy`.
trait NpyElement: Copy {
    const DESCR: &'static str;
    fn le_bytes(self, out: &mut Vec<u8>);
}
impl NpyElement for f32 {
    const DESCR: &'static str = "<f4";
    fn le_bytes(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}
impl NpyElement for f64 {
    const DESCR: &'static str = "<f8";
    fn le_bytes(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

/// Writes a C-order `.npy` (format 1.0) from raw little-endian bytes.
fn write_npy(path: &Path, descr: &str, shape: &[usize], data: &[u8]) -> std::io::Result<()> {
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&u16::try_from(header.len()).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    std::fs::write(path, out)
}

fn write_instance<T: Real + NpyElement>(
    problem: &AllocationProblem<T>,
    dir: &Path,
) -> Result<(), BoxError> {
    std::fs::create_dir_all(dir)?;
    let (u, f) = (problem.n_customers(), problem.n_funds());
    let mut bytes = Vec::with_capacity(u * f * std::mem::size_of::<T>());
    for &v in problem.revenue().as_slice() {
        v.le_bytes(&mut bytes);
    }
    write_npy(&dir.join("revenue.npy"), T::DESCR, &[u, f], &bytes)?;
    drop(bytes);
    let tol: Vec<u8> = problem.tolerance().iter().map(|t| t.get()).collect();
    write_npy(&dir.join("tolerance.npy"), "|u1", &[u], &tol)?;
    let risk: Vec<u8> = problem.fund_risk().iter().map(|t| t.get()).collect();
    write_npy(&dir.join("fund_risk.npy"), "|u1", &[f], &risk)?;
    let exposure: Vec<u8> = problem
        .exposure()
        .iter()
        .flat_map(|r| r.min.to_le_bytes())
        .collect();
    write_npy(&dir.join("exposure.npy"), "<u8", &[f], &exposure)?;
    std::fs::write(dir.join("k.txt"), problem.k().to_string())?;
    // CSVs for `fundalloc allocate --revenue revenue.npy --customers … --funds …`.
    let mut customers = String::with_capacity(u * 12);
    customers.push_str("customer_id,risk_tolerance\n");
    for (i, t) in tol.iter().enumerate() {
        writeln!(customers, "c{i},{t}")?;
    }
    std::fs::write(dir.join("customers.csv"), customers)?;
    let mut funds = String::from("fund_id,risk_level,exposure\n");
    for (g, r) in problem.exposure().iter().enumerate() {
        writeln!(funds, "f{g},{},{}", risk[g], r.min)?;
    }
    std::fs::write(dir.join("funds.csv"), funds)?;
    Ok(())
}
