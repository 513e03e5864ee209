//! `fundalloc allocate`: revenue matrix + customers + funds → allocation (one JSON line).

use std::path::{Path, PathBuf};

use fundalloc_allocator::{
    AllocError, AllocationProblem, Exact, GreedyTopK, Heuristic, Lp, LpValidParams, Manual,
    ParamGuard, Real, Solution, Solver, SolverKind,
};

use crate::Failure;
use crate::input::{self, InputError, Revenue};

#[derive(clap::Args, Debug)]
pub(crate) struct AllocateArgs {
    /// Revenue matrix E: `.npy` (f32/f64, C order, customers × funds) or `.csv`.
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
    let customers = input::read_customers(&args.customers).map_err(Failure::Input)?;
    let funds = input::read_funds(&args.funds).map_err(Failure::Input)?;
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
    let is_npy = args
        .revenue
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
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
