#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

// Module map. The exact transportation solver of issue 4 lives in `exact/` and plugs in here
// with `mod exact; pub use exact::...;` (and its error variants in `error.rs`, block
// `-- exact solver --`); it implements `Solver` and `ProvesOptimality` like `Lp`.
mod baselines;
mod error;
mod exact;
mod flow;
mod generate;
mod guard;
mod heuristic;
mod lp;
mod problem;
mod solver;
mod verify;

pub use baselines::{GreedyTopK, Manual};
pub use error::{AllocError, Result};
pub use exact::{Certificate, Exact, GAP_TOLERANCE};
pub use generate::LctLike;
pub use heuristic::Heuristic;
pub use lp::{Lp, LpBackend, LpMode};
pub use problem::{AllocationProblem, ExposureRange, PerCustomer, ProblemBuilder};
pub use solver::{ProvesOptimality, Solution, SolveReport, Solver};
pub use verify::{VerifyReport, Violation, Violations, check, verify};

pub use fundalloc_core_types::{Allocation, Real, RevenueMatrix, RiskLevel};

/// The types most programs need: `use fundalloc_allocator::prelude::*;`.
pub mod prelude {
    pub use crate::{
        AllocError, Allocation, AllocationProblem, ExposureRange, GreedyTopK, Heuristic, Lp,
        Manual, PerCustomer, ProvesOptimality, RevenueMatrix, RiskLevel, Solution, SolveReport,
        Solver, check, verify,
    };
}
