//! `fundalloc allocate`: revenue matrix + customers + funds → allocation (one JSON line).

use std::path::{Path, PathBuf};

use fundalloc_allocator::{
    AllocError, AllocationProblem, Exact, GreedyTopK, Heuristic, Lp, LpValidParams, Manual,
    ParamGuard, Real, Solution, Solver, SolverKind,
};

use crate::Failure;
use crate::input::{self, InputError, Revenue};
use crate::large;

#[derive(clap::Args, Debug)]
pub(crate) struct AllocateArgs {
    /// Revenue matrix E: `.npy` (f32/f64, C order, customers × funds), a folder of row-shard
    /// `.npy` files (read in name order) or `.csv`. A `.npy` matrix larger than
    /// `--memory-budget`, and any folder, is solved out of core (exact solver only).
    #[arg(long)]
    revenue: PathBuf,
    /// CSV with columns `customer_id,risk_tolerance` (any order; other columns are ignored).
    #[arg(long)]
    customers: PathBuf,
    /// CSV with columns `fund_id,risk_level,exposure` (any order; other columns are ignored).
    #[arg(long)]
    funds: PathBuf,
    /// Funds per customer.
    #[arg(long, default_value_t = 1)]
    k: usize,
    /// Solver (`exact`: the proven optimum with its duality gap, the default).
    #[arg(long, value_enum, default_value_t = SolverKind::Exact)]
    solver: SolverKind,
    /// Fund priority for `manual`: fund ids, comma-separated, highest first.
    #[arg(long, value_delimiter = ',')]
    priority: Option<Vec<String>>,
    /// Write `customer_id,fund_id` rows here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Time limit in seconds for `lp`/`mip` (finite, > 0, at most a year).
    #[arg(long, allow_hyphen_values = true)]
    time_limit: Option<f64>,
    /// `exact` only: write the optimum's fund prices (JSON, for `fundalloc assign` and
    /// `--warm-prices`) here.
    #[arg(long)]
    prices_out: Option<PathBuf>,
    /// `exact` only: re-solve warm from a previous run's `--out` file (`customer_id,fund_id`;
    /// unknown customers and funds are ignored).
    #[arg(long)]
    warm_from: Option<PathBuf>,
    /// `exact` only: a previous run's `--prices-out` file, the warm start's prices (matched by
    /// fund id; new funds start at 0).
    #[arg(long)]
    warm_prices: Option<PathBuf>,
    /// Memory for the revenue matrix and the solver, in MiB (default: half of the available
    /// memory). A `.npy` revenue that needs more is solved out of core in this budget:
    /// sequential passes over the file, the exact optimum with its certified gap.
    #[arg(long)]
    memory_budget: Option<u64>,
}

/// The budget when `--memory-budget` is not given and the system does not say: 4 GiB.
const DEFAULT_BUDGET_BYTES: u64 = 4 << 30;

/// `--memory-budget` in bytes, or half of `MemAvailable` (Linux), or [`DEFAULT_BUDGET_BYTES`].
fn memory_budget(args: &AllocateArgs) -> Result<u64, Failure> {
    match args.memory_budget {
        Some(0) => Err(Failure::Argument(AllocError::InvalidParameter(
            fundalloc_allocator::InvalidParameter::new(
                "--memory-budget",
                0,
                "must be at least 1 MiB",
            ),
        ))),
        Some(mib) => Ok(mib.saturating_mul(1 << 20)),
        None => Ok(std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("MemAvailable:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            })
            .map_or(DEFAULT_BUDGET_BYTES, |kib| kib.saturating_mul(1024) / 2)),
    }
}

/// Refuses what the out-of-core path cannot do (every solver but `exact`, warm starts).
fn check_out_of_core(args: &AllocateArgs, why: &str) -> Result<(), Failure> {
    let refuse = |name: &'static str, value: String| {
        Err(Failure::Argument(AllocError::InvalidParameter(
            fundalloc_allocator::InvalidParameter::new(
                name,
                format_args!("{value} ({why})"),
                "needs the matrix in memory; out of core, only --solver exact without a warm \
                 start runs",
            ),
        )))
    };
    if args.solver != SolverKind::Exact {
        return refuse("--solver", args.solver.to_string());
    }
    if let Some(p) = args.warm_from.as_ref().or(args.warm_prices.as_ref()) {
        return refuse("--warm-from/--warm-prices", p.display().to_string());
    }
    Ok(())
}

/// The one place that maps a [`SolverKind`] to a solver (exhaustive: a new kind fails to
/// compile here until it has its arm).
fn make_solver<T: Real>(
    kind: SolverKind,
    priority: Option<Vec<usize>>,
    lp: LpValidParams,
) -> Box<dyn Solver<T>> {
    match kind {
        SolverKind::Exact => Box::new(Exact::new()),
        SolverKind::Heuristic => Box::new(Heuristic::new()),
        SolverKind::Manual => Box::new(match priority {
            Some(p) => Manual::new().priority(p),
            None => Manual::new(),
        }),
        SolverKind::GreedyTopK => Box::new(GreedyTopK::new()),
        SolverKind::Lp | SolverKind::Mip => Box::new(lp),
    }
}

/// The `lp`/`mip` configuration, checked before any input is read (a bad `--time-limit` is a
/// one-line error with exit 2, never a panic).
fn lp_params(args: &AllocateArgs) -> Result<LpValidParams, AllocError> {
    let lp = if args.solver == SolverKind::Mip {
        Lp::mip()
    } else {
        Lp::new()
    };
    match args.time_limit {
        Some(t) => lp.time_limit(t),
        None => lp,
    }
    .check()
}

pub(crate) fn allocate(args: &AllocateArgs) -> Result<serde_json::Value, Failure> {
    let lp = lp_params(args).map_err(Failure::Argument)?;
    let serving =
        args.prices_out.is_some() || args.warm_from.is_some() || args.warm_prices.is_some();
    if serving && args.solver != SolverKind::Exact {
        return Err(Failure::Argument(AllocError::InvalidParameter(
            fundalloc_allocator::InvalidParameter::new(
                "--solver",
                args.solver,
                "--prices-out, --warm-from and --warm-prices need --solver exact",
            ),
        )));
    }
    let funds = input::read_funds(&args.funds).map_err(Failure::Input)?;
    let is_dir = args.revenue.is_dir();
    let is_npy = is_dir
        || args
            .revenue
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    if is_npy {
        // Only the headers are read here: whether the matrix fits decides the path before the
        // customers file (possibly billions of rows) is read.
        let rows = large::NpyRows::open(&args.revenue, funds.ids.len()).map_err(Failure::Input)?;
        let budget = memory_budget(args)?;
        if is_dir || !rows.fits_in(budget) {
            let why = if is_dir {
                "the revenue is a folder of shards".to_string()
            } else {
                format!(
                    "the revenue ({} bytes of values) needs more than the memory budget ({budget} bytes)",
                    rows.data_bytes()
                )
            };
            check_out_of_core(args, &why)?;
            let budget_rows = rows
                .budget_rows(budget)
                .map_err(|e| Failure::Input(input::too_large(Path::new("--memory-budget"), e)))?;
            return large::allocate(&large::Request {
                rows: &rows,
                customers: &args.customers,
                funds: &funds,
                k: args.k,
                budget_rows,
                out: args.out.as_deref(),
                prices_out: args.prices_out.as_deref(),
            });
        }
    }
    let customers = input::read_customers(&args.customers).map_err(Failure::Input)?;
    let priority = match &args.priority {
        None => None,
        Some(names) => Some(
            names
                .iter()
                .map(|n| {
                    funds.ids.iter().position(|id| id == n).ok_or_else(|| {
                        Failure::Input(input::err(
                            Path::new("--priority"),
                            None,
                            format!("fund `{n}` is not in {}", args.funds.display()),
                        ))
                    })
                })
                .collect::<Result<Vec<usize>, Failure>>()?,
        ),
    };
    let revenue = if is_npy {
        input::read_npy(&args.revenue, customers.ids.len(), funds.ids.len())
    } else {
        input::read_revenue_csv(&args.revenue, &customers, &funds)
    }
    .map_err(Failure::Input)?;
    match revenue {
        Revenue::F32(e) => run(args, e, &customers, &funds, priority, lp),
        Revenue::F64(e) => run(args, e, &customers, &funds, priority, lp),
    }
}

fn run<T: Real>(
    args: &AllocateArgs,
    revenue: fundalloc_allocator::RevenueMatrix<T>,
    customers: &input::Customers,
    funds: &input::Funds,
    priority: Option<Vec<usize>>,
    lp: LpValidParams,
) -> Result<serde_json::Value, Failure> {
    let problem = AllocationProblem::builder(revenue)
        .exactly(args.k)
        .exposures(funds.exposure.clone())
        .customer_tolerance(customers.tolerance.clone())
        .fund_risk(funds.risk.clone())
        .build()
        .map_err(Failure::Problem)?;
    let to_failure = |e| match e {
        e @ AllocError::InvalidParameter(_) => Failure::Problem(e),
        e => Failure::Solver(e),
    };
    let solution =
        if args.prices_out.is_some() || args.warm_from.is_some() || args.warm_prices.is_some() {
            let warm = if args.warm_from.is_some() || args.warm_prices.is_some() {
                Some(
                    crate::serve::warm_start(
                        args.warm_prices.as_deref(),
                        args.warm_from.as_deref(),
                        customers,
                        funds,
                    )
                    .map_err(Failure::Input)?,
                )
            } else {
                None
            };
            let (solution, certificate) =
                crate::serve::solve_exact(&problem, warm).map_err(to_failure)?;
            if let Some(path) = &args.prices_out {
                crate::serve::write_prices(path, &certificate, &problem, &funds.ids)?;
            }
            solution
        } else {
            let solver = make_solver::<T>(args.solver, priority, lp);
            solver.solve(&problem).map_err(to_failure)?
        };
    if let Some(out) = &args.out {
        write_assignment(out, &solution, customers, funds).map_err(Failure::Input)?;
    }
    let r = &solution.report;
    Ok(serde_json::json!({
        "solver": r.solver.to_string(),
        "customers": problem.n_customers(),
        "funds": problem.n_funds(),
        "k": problem.k(),
        "objective": r.objective,
        "seconds": r.seconds,
        "feasible": r.is_feasible(),
        "repaired": r.repaired,
        "bound": r.bound(),
        "gap": r.gap(),
        "iterations": r.iterations,
        "violations": r.violations.iter().take(20).map(|v| v.to_string()).collect::<Vec<_>>(),
        "notes": r.notes,
    }))
}

/// Writes `customer_id,fund_id` rows with the `csv` writer (ids with commas, quotes or line
/// breaks are quoted), atomically.
fn write_assignment(
    path: &Path,
    solution: &Solution,
    customers: &input::Customers,
    funds: &input::Funds,
) -> Result<(), InputError> {
    crate::atomic::write_atomically(path, |w| {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record(["customer_id", "fund_id"])?;
        for (u, fs) in solution.allocation.iter() {
            for &f in fs {
                csv.write_record([customers.ids.get(u), funds.ids[f as usize].as_str()])?;
            }
        }
        csv.flush()
    })
    .map_err(|e| input::err(path, None, format!("cannot write: {e}")))
}
