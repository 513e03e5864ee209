//! The predict-then-optimise pipeline of PTOFA, end to end: customer and fund features →
//! trained revenue model → predicted revenue matrix `Ê` → allocation → report.
//!
//! Every step is a call into one crate; this module only wires them together and times them:
//!
//! | step | call | crate |
//! |---|---|---|
//! | train | [`fit`] | `revenue-model` |
//! | predict `Ê` (customers × funds) | [`RevenueModel::predict_matrix`] | `revenue-model` |
//! | build and validate the problem | [`AllocationProblem::builder`] | `allocator` |
//! | solve | any [`Solver<f32>`] (`Exact`, `Heuristic`, `Manual`, `Lp`, …) | `allocator` |
//! | check every constraint | [`verify`](fundalloc_allocator::verify()) | `allocator` |
//! | evaluate against a ground truth | [`Allocation::objective`](fundalloc_core_types::Allocation::objective), [`normalized_gini`], [`objective_ratio`] | `core-types`, `metrics` |
//!
//! The problem solved is PTOFA Eq. 1–3: maximise `Σ_{u,f} X_uf·Ê_uf` over `X ∈ {0,1}^{U×F}`
//! with `Σ_f X_uf = K` per customer, `Σ_u X_uf = d_f` per fund (or the variants of
//! [`ProblemBuilder`]) and `X_uf = 1 ⇒ t_u ≥ r_f`. Every allocation the pipeline returns has
//! passed the verifier, whatever solver produced it; an infeasible one is an
//! [`Error::Allocator`] (`AllocError::Verification`), never a silent result.
//!
//! ```
//! use fundalloc::pipeline::{Pipeline, allocate};
//! use fundalloc::prelude::*;
//!
//! // A revenue matrix from elsewhere (here: the truth of a small synthetic world).
//! let world = SyntheticCampaign::generate(SyntheticParams::default().n_customers(40).n_funds(4).seed(1))?;
//! let report = allocate(
//!     world.expected().clone(),
//!     |b| b.exactly(1).exposures(vec![10; 4]),
//!     &[&Exact::new(), &Heuristic::new()],
//! )?;
//! let exact = report.outcome(SolverKind::Exact).unwrap();
//! let ha = report.outcome(SolverKind::Heuristic).unwrap();
//! assert!(ha.predicted_objective() <= exact.predicted_objective() + 1e-6);
//! # Ok::<(), fundalloc::Error>(())
//! ```

use std::fmt;
use std::time::Instant;

use fundalloc_allocator::{
    AllocError, AllocationProblem, Exact, ProblemBuilder, Solution, Solver, SolverKind,
    VerifyReport, verify,
};
use fundalloc_core_types::RevenueMatrix;
use fundalloc_metrics::{Gini, normalized_gini, objective_ratio};
use fundalloc_revenue_model::{
    EpochReport, ExposureDataset, FeatureTable, ModelKind, Observer, RevenueModel,
    RevenueModelError, TrainReport, ValidTrainParams, fit,
};

use crate::{Error, Result};

/// An untrained pipeline: which revenue model to train, with which (checked) hyper-parameters.
///
/// ```no_run
/// use fundalloc::pipeline::Pipeline;
/// use fundalloc::prelude::*;
/// # fn data() -> ExposureDataset { unimplemented!() }
/// let params = TrainParams::default().hidden(vec![64, 32]).check()?;
/// let trained =
///     Pipeline::new(ModelKind::EntireSpaceLogNormal, params).fit(&data(), None, &mut NoObserver)?;
/// # Ok::<(), fundalloc::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pipeline {
    kind: ModelKind,
    params: ValidTrainParams,
}

impl Pipeline {
    /// A pipeline that trains a `kind` model with `params` (see
    /// [`ParamGuard::check`](fundalloc_revenue_model::ParamGuard::check)).
    pub fn new(kind: ModelKind, params: ValidTrainParams) -> Self {
        Self { kind, params }
    }

    /// The model to train.
    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// The training hyper-parameters.
    pub fn params(&self) -> &ValidTrainParams {
        &self.params
    }

    /// Trains the revenue model on `train` (early stopping on `valid`, or on a seeded split of
    /// `train` when `None`), reporting progress to `observer` (pass
    /// [`NoObserver`](fundalloc_revenue_model::NoObserver) to watch nothing).
    ///
    /// # Errors
    /// [`Error::RevenueModel`]: `Unsupported` at once, before any training, when the model kind
    /// does not predict expected revenue (DNN-C predicts conversion only, so it cannot drive an
    /// allocation); otherwise whatever [`fit`] reports (schema mismatch, empty data,
    /// divergence, …).
    pub fn fit(
        &self,
        train: &ExposureDataset,
        valid: Option<&ExposureDataset>,
        observer: &mut impl Observer<EpochReport>,
    ) -> Result<TrainedPipeline> {
        if !self.kind.predicts_revenue() {
            return Err(RevenueModelError::Unsupported {
                model: self.kind.name(),
                what: "expected revenue",
            }
            .into());
        }
        let start = Instant::now();
        let (model, report) = fit(self.kind, &self.params, train, valid, observer)?;
        Ok(TrainedPipeline {
            model,
            report: Some(report),
            train_seconds: Some(start.elapsed().as_secs_f64()),
        })
    }
}

/// A pipeline with a trained revenue model: predicts `Ê` and allocates.
#[derive(Debug)]
pub struct TrainedPipeline {
    model: RevenueModel,
    report: Option<TrainReport>,
    train_seconds: Option<f64>,
}

impl TrainedPipeline {
    /// Wraps a model trained elsewhere (e.g. loaded with
    /// [`RevenueModel::load`]); it has no training report.
    pub fn from_model(model: RevenueModel) -> Self {
        Self {
            model,
            report: None,
            train_seconds: None,
        }
    }

    /// The trained revenue model.
    pub fn model(&self) -> &RevenueModel {
        &self.model
    }

    /// The trained revenue model, by value (to save it, say).
    pub fn into_model(self) -> RevenueModel {
        self.model
    }

    /// The training report (epochs, losses, throughput), when this pipeline trained the model.
    pub fn train_report(&self) -> Option<&TrainReport> {
        self.report.as_ref()
    }

    /// Wall-clock seconds of [`Pipeline::fit`] (training and validation), when it ran.
    pub fn train_seconds(&self) -> Option<f64> {
        self.train_seconds
    }

    /// The predicted expected revenue `Ê_uf = P̂(convert)·Ê(revenue | convert)` of every
    /// customer × fund pair ([`RevenueModel::predict_matrix`]).
    ///
    /// # Errors
    /// [`Error::RevenueModel`] when the feature tables do not match the model's schema.
    pub fn predict(
        &self,
        customers: &FeatureTable,
        funds: &FeatureTable,
    ) -> Result<RevenueMatrix<f32>> {
        Ok(self.model.predict_matrix(customers, funds)?)
    }

    /// The whole pipeline after training: predicts `Ê`, builds the problem with
    /// `constraints` (applied to [`AllocationProblem::builder`]`(Ê)`) and solves it with each of
    /// `solvers` in turn (see [`allocate`]). Timings of every step are in the report.
    ///
    /// # Errors
    /// As [`TrainedPipeline::predict`] and [`allocate`].
    pub fn run<C>(
        &self,
        customers: &FeatureTable,
        funds: &FeatureTable,
        constraints: C,
        solvers: &[&dyn Solver<f32>],
    ) -> Result<PipelineReport>
    where
        C: FnOnce(ProblemBuilder<f32>) -> ProblemBuilder<f32>,
    {
        let start = Instant::now();
        let revenue = self.predict(customers, funds)?;
        let predict_seconds = start.elapsed().as_secs_f64();
        let mut report = allocate(revenue, constraints, solvers)?;
        report.timings.train_seconds = self.train_seconds;
        report.timings.predict_seconds = Some(predict_seconds);
        Ok(report)
    }
}

/// Builds the problem `constraints(AllocationProblem::builder(revenue))` and solves it with
/// each of `solvers` in turn ([`solve`]). An empty `solvers` only builds and validates the
/// problem.
///
/// # Errors
/// [`Error::Allocator`]: the problem is malformed or infeasible (shape, totals, risk; see
/// [`AllocError`]), or a solver failed or returned an allocation that fails the verifier.
pub fn allocate<C>(
    revenue: RevenueMatrix<f32>,
    constraints: C,
    solvers: &[&dyn Solver<f32>],
) -> Result<PipelineReport>
where
    C: FnOnce(ProblemBuilder<f32>) -> ProblemBuilder<f32>,
{
    let start = Instant::now();
    let problem = constraints(AllocationProblem::builder(revenue)).build()?;
    let build_seconds = start.elapsed().as_secs_f64();
    let outcomes = solvers
        .iter()
        .map(|solver| solve(&problem, *solver))
        .collect::<Result<Vec<_>>>()?;
    Ok(PipelineReport {
        problem,
        outcomes,
        timings: Timings {
            train_seconds: None,
            predict_seconds: None,
            build_seconds,
        },
    })
}

/// Solves `problem` with `solver` and checks the answer with the verifier.
///
/// # Errors
/// [`Error::Allocator`]: the solver failed, or its allocation breaks a constraint
/// (`AllocError::Verification`, e.g. `GreedyTopK`, which ignores exposures by design).
pub fn solve(
    problem: &AllocationProblem<f32>,
    solver: &dyn Solver<f32>,
) -> Result<AllocationOutcome> {
    let start = Instant::now();
    let solution = solver.solve(problem)?;
    // The built-in solvers verify their own answer; this check is for any `Solver` a user
    // brings (the pipeline trusts none), and its report (exposure counts) goes to the outcome.
    // It is one O(U·K) pass, small next to any solve.
    let verification =
        verify(problem, &solution.allocation).map_err(|violations| AllocError::Verification {
            solver: solver.kind(),
            violations,
        })?;
    Ok(AllocationOutcome {
        solution,
        verification,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// One solver's allocation of the pipeline's problem.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AllocationOutcome {
    /// The allocation and the solver's own report (objective, bound, gap, notes).
    pub solution: Solution,
    /// The verifier's report: every constraint holds (checked), objective and exposure counts.
    pub verification: VerifyReport,
    /// Wall-clock seconds of solving and verifying.
    pub seconds: f64,
}

impl AllocationOutcome {
    /// Which solver produced it.
    pub fn solver(&self) -> SolverKind {
        self.solution.report.solver
    }

    /// Which funds each customer gets.
    pub fn allocation(&self) -> &fundalloc_core_types::Allocation {
        &self.solution.allocation
    }

    /// The objective on the revenue the problem was built from, `Σ X_uf·Ê_uf` (recomputed in
    /// `f64` by the verifier).
    pub fn predicted_objective(&self) -> f64 {
        self.verification.objective
    }
}

/// Wall-clock seconds of the pipeline's steps (`None`: the step did not run in this call).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Timings {
    /// Training and validation ([`Pipeline::fit`]).
    pub train_seconds: Option<f64>,
    /// Predicting `Ê` for every customer × fund pair.
    pub predict_seconds: Option<f64>,
    /// Building and validating the problem (feasibility checks included).
    pub build_seconds: f64,
}

/// What a pipeline run produced: the validated problem (with `Ê`), one outcome per solver,
/// timings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PipelineReport {
    /// The problem that was solved; its revenue matrix is the predicted `Ê`.
    pub problem: AllocationProblem<f32>,
    /// One outcome per solver, in the order given.
    pub outcomes: Vec<AllocationOutcome>,
    /// Seconds per step (solve times are in each outcome).
    pub timings: Timings,
}

impl PipelineReport {
    /// The first outcome of solver `kind`.
    pub fn outcome(&self, kind: SolverKind) -> Option<&AllocationOutcome> {
        self.outcomes.iter().find(|o| o.solver() == kind)
    }

    /// Scores the run against the true expected revenue `E` (known for a synthetic campaign,
    /// or estimated offline): how well `Ê` ranks the pairs, and the true revenue
    /// `Σ X_uf·E_uf` of each allocation.
    ///
    /// # Errors
    /// [`Error::Shape`] when `truth` is not customers × funds of the problem;
    /// [`Error::Metrics`] when the ranking score is undefined (`truth` all zero).
    pub fn evaluate(&self, truth: &RevenueMatrix<f32>) -> Result<PipelineEvaluation> {
        self.evaluate_inner(truth, false)
    }

    /// [`PipelineReport::evaluate`], plus the best true revenue any feasible allocation can
    /// reach, `max_X Σ X_uf·E_uf` under the same constraints (one extra [`Exact`] solve on
    /// `truth`), and each allocation's ratio to it (the decision quality of PTOFA's
    /// "predict, then optimise": 1 means the prediction lost nothing).
    ///
    /// # Errors
    /// As [`PipelineReport::evaluate`], plus [`Error::Allocator`] if the exact solve fails.
    pub fn evaluate_with_optimum(&self, truth: &RevenueMatrix<f32>) -> Result<PipelineEvaluation> {
        self.evaluate_inner(truth, true)
    }

    fn evaluate_inner(
        &self,
        truth: &RevenueMatrix<f32>,
        optimum: bool,
    ) -> Result<PipelineEvaluation> {
        let p = &self.problem;
        let expected = (p.n_customers(), p.n_funds());
        let found = (truth.n_customers(), truth.n_funds());
        if expected != found {
            return Err(Error::Shape {
                what: "ground-truth revenue",
                expected,
                found,
            });
        }
        let ranking = normalized_gini(truth.as_slice(), p.revenue().as_slice())?;
        let optimal_true_objective = if optimum {
            let truth_problem = AllocationProblem::new(
                truth.clone(),
                p.tolerance().to_vec(),
                p.fund_risk().to_vec(),
                p.rule(),
                p.exposure().to_vec(),
            )?;
            Some(Exact::new().solve(&truth_problem)?.report.objective)
        } else {
            None
        };
        let allocations = self
            .outcomes
            .iter()
            .map(|o| {
                let true_objective = o.allocation().objective(truth)?;
                let ratio_to_optimal = optimal_true_objective
                    .map(|best| objective_ratio(true_objective, best))
                    .transpose()?;
                Ok(Evaluation {
                    solver: o.solver(),
                    predicted_objective: o.predicted_objective(),
                    true_objective,
                    ratio_to_optimal,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(PipelineEvaluation {
            ranking,
            optimal_true_objective,
            allocations,
        })
    }
}

/// A table: one line per solver with its objective on `Ê` and its time, then the timings.
impl fmt::Display for PipelineReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} customers × {} funds, {}",
            self.problem.n_customers(),
            self.problem.n_funds(),
            self.problem.rule()
        )?;
        writeln!(
            f,
            "{:<14} {:>16} {:>10}",
            "solver", "objective on Ê", "seconds"
        )?;
        for o in &self.outcomes {
            writeln!(
                f,
                "{:<14} {:>16.4} {:>10.3}",
                o.solver(),
                o.predicted_objective(),
                o.seconds
            )?;
        }
        let secs = |s: Option<f64>| s.map_or_else(|| "-".to_string(), |s| format!("{s:.3}"));
        write!(
            f,
            "train {} s, predict {} s, build {:.3} s",
            secs(self.timings.train_seconds),
            secs(self.timings.predict_seconds),
            self.timings.build_seconds
        )
    }
}

/// A pipeline run scored against the true expected revenue.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PipelineEvaluation {
    /// Gini of `Ê` as a ranking of the true `E` over all customer × fund pairs
    /// ([`normalized_gini`]): `normalized` is 1 for a perfect order, about 0 for a random one.
    pub ranking: Gini,
    /// `max_X Σ X_uf·E_uf` under the problem's constraints, when asked for.
    pub optimal_true_objective: Option<f64>,
    /// One evaluation per outcome, in the report's order.
    pub allocations: Vec<Evaluation>,
}

impl PipelineEvaluation {
    /// The evaluation of the first outcome of solver `kind`.
    pub fn allocation(&self, kind: SolverKind) -> Option<&Evaluation> {
        self.allocations.iter().find(|e| e.solver == kind)
    }
}

/// A table: one line per solver with its objective on `Ê`, its true revenue and its ratio to the
/// optimum, after the ranking score.
impl fmt::Display for PipelineEvaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "ranking of E by Ê: normalised Gini {:.4}",
            self.ranking.normalized
        )?;
        if let Some(best) = self.optimal_true_objective {
            writeln!(f, "best true revenue under the constraints: {best:.4}")?;
        }
        write!(
            f,
            "{:<14} {:>16} {:>16} {:>10}",
            "solver", "objective on Ê", "true revenue", "of best"
        )?;
        for e in &self.allocations {
            let ratio = e
                .ratio_to_optimal
                .map_or_else(|| "-".to_string(), |r| format!("{:.2}%", 100.0 * r));
            write!(
                f,
                "\n{:<14} {:>16.4} {:>16.4} {:>10}",
                e.solver, e.predicted_objective, e.true_objective, ratio
            )?;
        }
        Ok(())
    }
}

/// One allocation scored against the true expected revenue.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Evaluation {
    /// The solver.
    pub solver: SolverKind,
    /// `Σ X_uf·Ê_uf`: what the solver optimised.
    pub predicted_objective: f64,
    /// `Σ X_uf·E_uf`: what the allocation is truly worth (expected revenue of the campaign).
    pub true_objective: f64,
    /// `true_objective / max_X Σ X_uf·E_uf`, when the optimum was computed.
    pub ratio_to_optimal: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use fundalloc_allocator::{Heuristic, Manual};

    fn small() -> RevenueMatrix<f32> {
        RevenueMatrix::from_shape_vec(4, 2, vec![5.0, 1.0, 4.0, 1.0, 3.0, 2.0, 2.0, 1.0]).unwrap()
    }

    #[test]
    fn allocate_solves_with_each_solver_in_order() {
        let report = allocate(
            small(),
            |b| b.exposures(vec![2, 2]),
            &[&Manual::new(), &Exact::new(), &Heuristic::new()],
        )
        .unwrap();
        let names: Vec<_> = report
            .outcomes
            .iter()
            .map(AllocationOutcome::solver)
            .collect();
        assert_eq!(
            names,
            [SolverKind::Manual, SolverKind::Exact, SolverKind::Heuristic]
        );
        // Exact: customers 0 and 1 on fund 0 (gains 4 and 3 over fund 1).
        let exact = report.outcome(SolverKind::Exact).unwrap();
        assert_eq!(exact.predicted_objective(), 12.0);
        assert_eq!(exact.allocation().funds_of(0), &[0]);
        assert_eq!(report.outcome(SolverKind::GreedyTopK), None);
        assert_eq!(report.timings.train_seconds, None);
    }

    #[test]
    fn tables_list_every_solver_and_value() {
        let report = allocate(small(), |b| b.exposures(vec![2, 2]), &[&Exact::new()]).unwrap();
        let table = report.to_string();
        assert!(
            table.contains("4 customers × 2 funds, exactly 1"),
            "{table}"
        );
        assert!(
            table.contains("exact") && table.contains("12.0000"),
            "{table}"
        );
        assert!(table.contains("train - s"), "{table}");
        let truth =
            RevenueMatrix::from_shape_vec(4, 2, vec![1.0, 5.0, 1.0, 4.0, 1.0, 2.0, 1.0, 1.0])
                .unwrap();
        let eval = report.evaluate_with_optimum(&truth).unwrap();
        // Exact on Ê puts customers 0, 1 on fund 0: true 1 + 1 + 2 + 1 = 5; the best is 5 + 4 + 1 + 1.
        assert_eq!(
            eval.allocation(SolverKind::Exact).unwrap().true_objective,
            5.0
        );
        assert_eq!(eval.optimal_true_objective, Some(11.0));
        let table = eval.to_string();
        assert!(
            table.contains("11.0000") && table.contains("45.45%"),
            "{table}"
        );
    }
}
