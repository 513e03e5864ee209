//! `fundalloc allocate`: revenue matrix + customers + funds → allocation (one JSON line).

use std::io::Write;
use std::path::{Path, PathBuf};

use fundalloc_allocator::{
    AllocError, AllocationProblem, Exact, GreedyTopK, Heuristic, Lp, Manual, Real, Solution, Solver,
};

use crate::Failure;
use crate::input::{self, InputError, Revenue};

/// The solver names `--solver` accepts; each maps to a solver in [`make_solver`].
const SOLVERS: &[&str] = &["exact", "ha", "manual", "greedy", "lp", "mip"];

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
    #[arg(long, default_value = "exact", value_parser = clap::builder::PossibleValuesParser::new(SOLVERS))]
    solver: String,
    /// Fund priority for `manual`: fund ids, comma-separated, highest first.
    #[arg(long, value_delimiter = ',')]
    priority: Option<Vec<String>>,
    /// Write `customer_id,fund_id` rows here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Time limit in seconds for `lp`/`mip`.
    #[arg(long)]
    time_limit: Option<f64>,
}

/// The one place that maps a name to a solver (add a solver: one arm here, its name in
/// [`SOLVERS`]).
fn make_solver<T: Real>(
    name: &str,
    priority: Option<Vec<usize>>,
    time_limit: Option<f64>,
) -> Box<dyn Solver<T>> {
    let lp = |lp: Lp| match time_limit {
        Some(t) => lp.time_limit(t),
        None => lp,
    };
    match name {
        "exact" => Box::new(Exact::new()),
        "manual" => Box::new(priority.map_or_else(Manual::new, Manual::with_priority)),
        "greedy" => Box::new(GreedyTopK::new()),
        "lp" => Box::new(lp(Lp::new())),
        "mip" => Box::new(lp(Lp::mip())),
        _ => Box::new(Heuristic::new()),
    }
}

pub(crate) fn allocate(args: &AllocateArgs) -> Result<serde_json::Value, Failure> {
    let customers = input::read_customers(&args.customers).map_err(Failure::Input)?;
    let funds = input::read_funds(&args.funds).map_err(Failure::Input)?;
    let priority = match &args.priority {
        None => None,
        Some(names) => Some(
            names
                .iter()
                .map(|n| {
                    funds.ids.iter().position(|id| id == n).ok_or_else(|| {
                        Failure::Input(InputError {
                            file: PathBuf::from("--priority"),
                            line: None,
                            message: format!("fund `{n}` is not in {}", args.funds.display()),
                        })
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
        Revenue::F32(e) => run(args, e, &customers, &funds, priority),
        Revenue::F64(e) => run(args, e, &customers, &funds, priority),
    }
}

fn run<T: Real>(
    args: &AllocateArgs,
    revenue: fundalloc_allocator::RevenueMatrix<T>,
    customers: &input::Customers,
    funds: &input::Funds,
    priority: Option<Vec<usize>>,
) -> Result<serde_json::Value, Failure> {
    let problem = AllocationProblem::builder(revenue)
        .exactly(args.k)
        .exposures(funds.exposure.clone())
        .customer_tolerance(customers.tolerance.clone())
        .fund_risk(funds.risk.clone())
        .build()
        .map_err(Failure::Problem)?;
    let solver = make_solver::<T>(&args.solver, priority, args.time_limit);
    let solution = solver.solve(&problem).map_err(|e| match e {
        e @ AllocError::InvalidParameter { .. } => Failure::Problem(e),
        e => Failure::Solver(e),
    })?;
    if let Some(out) = &args.out {
        write_assignment(out, &solution, customers, funds).map_err(Failure::Input)?;
    }
    let r = &solution.report;
    Ok(serde_json::json!({
        "solver": r.solver,
        "customers": problem.n_customers(),
        "funds": problem.n_funds(),
        "k": problem.k(),
        "objective": r.objective,
        "seconds": r.seconds,
        "feasible": r.is_feasible(),
        "repaired": r.repaired,
        "bound": r.bound,
        "gap": r.gap,
        "iterations": r.iterations,
        "violations": r.violations.iter().take(20).map(|v| v.to_string()).collect::<Vec<_>>(),
        "notes": r.notes,
    }))
}

fn write_assignment(
    path: &Path,
    solution: &Solution,
    customers: &input::Customers,
    funds: &input::Funds,
) -> Result<(), InputError> {
    let fail = |e: std::io::Error| InputError {
        file: path.to_path_buf(),
        line: None,
        message: format!("cannot write: {e}"),
    };
    let file = std::fs::File::create(path).map_err(fail)?;
    let mut w = std::io::BufWriter::new(file);
    writeln!(w, "customer_id,fund_id").map_err(fail)?;
    for (u, fs) in solution.allocation.iter() {
        for &f in fs {
            writeln!(w, "{},{}", customers.ids.get(u), funds.ids[f as usize]).map_err(fail)?;
        }
    }
    w.flush().map_err(fail)
}
