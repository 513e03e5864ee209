#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

// Private modules, flat re-exports below. Solvers: `heuristic` (HA; its readable reference
// is `heuristic/reference.rs`), `baselines` (Manual, GreedyTopK), `lp`, `exact`; `guard` and
// `flow` decide feasibility for the greedy solvers and the problem's validation.
mod baselines;
mod error;
mod exact;
mod flow;
mod generate;
mod guard;
mod heuristic;
mod kind;
mod lp;
mod online;
mod ooc;
mod problem;
mod solver;
mod verify;

pub use baselines::{GreedyTopK, Manual};
pub use error::{AllocError, Result, StuckAt, UnsupportedFeature};
pub use exact::{
    Applied, Audit, Certificate, Change, Exact, ExactSession, GAP_TOLERANCE, Resolved,
};
pub use generate::{LctLike, LctLikeValidParams};
pub use heuristic::{Heuristic, reference_ha};
pub use kind::{ParseSolverKindError, SolverKind};
pub use lp::{Lp, LpBackend, LpMode, LpValidParams};
pub use online::{FundPrices, MAX_PRICED_FUNDS, OnlineAllocator};
pub use ooc::{BlockFn, InMemoryRows, OutOfCore, OutOfCoreReport, OutOfCoreValidParams, RowSource};
pub use problem::{AllocationProblem, ExposureRange, PerCustomer, ProblemBuilder};
pub use solver::{ProvesOptimality, Solution, SolveReport, Solver};
pub use verify::{VerifyReport, Violation, Violations, check, verify};

pub use fundalloc_core_types::{
    Allocation, InvalidParameter, ParamGuard, Real, RevenueMatrix, RiskLevel, ShapeMismatch,
    TooLarge,
};

/// The types most programs need: `use fundalloc_allocator::prelude::*;`.
pub mod prelude {
    pub use crate::{
        AllocError, Allocation, AllocationProblem, ExposureRange, GreedyTopK, Heuristic, Lp,
        Manual, ParamGuard, PerCustomer, ProvesOptimality, RevenueMatrix, RiskLevel, Solution,
        SolveReport, Solver, SolverKind, check, verify,
    };
}
