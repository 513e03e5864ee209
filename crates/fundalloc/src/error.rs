//! The facade's one error type: every crate's error, and the pipeline's own.

/// Any error of the fundalloc crates, as one type (each crate's error converts with `?`).
///
/// Match on the variant of the crate that failed and then on that crate's error, e.g.
/// `Error::Allocator(AllocError::ShapeMismatch(_))`. The variants of disabled features are absent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A core value was rejected (NaN, ∞, negative revenue, empty input, shape).
    #[error(transparent)]
    Core(#[from] fundalloc_core_types::CoreError),
    /// A metric could not be computed.
    #[cfg(feature = "metrics")]
    #[error(transparent)]
    Metrics(#[from] fundalloc_metrics::MetricsError),
    /// Conformal calibration or prediction failed.
    #[cfg(feature = "conformal")]
    #[error(transparent)]
    Conformal(#[from] fundalloc_conformal::ConformalError),
    /// Loading data, training or prediction of the revenue model failed.
    #[cfg(feature = "revenue-model")]
    #[error(transparent)]
    RevenueModel(#[from] fundalloc_revenue_model::RevenueModelError),
    /// The allocation problem is malformed or infeasible, or a solver failed.
    #[cfg(feature = "allocator")]
    #[error(transparent)]
    Allocator(#[from] fundalloc_allocator::AllocError),
    /// The time-series predict-and-optimise pipeline failed.
    #[cfg(feature = "timeseries-pno")]
    #[error(transparent)]
    TimeseriesPno(#[from] fundalloc_timeseries_pno::PnoError),
    /// The case-based advisor failed.
    #[cfg(feature = "cbr-advisor")]
    #[error(transparent)]
    CbrAdvisor(#[from] fundalloc_cbr_advisor::CbrError),
    /// Calibration, simulation or a risk measure failed.
    #[cfg(feature = "simulation")]
    #[error(transparent)]
    Simulation(#[from] fundalloc_simulation::SimulationError),
    /// Two matrices that must describe the same customers and funds do not (e.g. the ground
    /// truth handed to `pipeline::evaluate` and the allocation problem).
    #[error("{what} is {}×{} (customers × funds), expected {}×{}", found.0, found.1, expected.0, expected.1)]
    Shape {
        /// Which input.
        what: &'static str,
        /// Expected (customers, funds).
        expected: (usize, usize),
        /// Found (customers, funds).
        found: (usize, usize),
    },
}

/// Shorthand for `Result<T, fundalloc::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use fundalloc_core_types::{CoreError, RevenueMatrix};

    #[test]
    fn crate_errors_convert_with_question_mark_and_keep_their_message() {
        fn core() -> Result<RevenueMatrix<f64>> {
            Ok(RevenueMatrix::from_shape_vec(1, 1, vec![f64::NAN])?)
        }
        let err = core().unwrap_err();
        let inner = RevenueMatrix::from_shape_vec(1, 1, vec![f64::NAN]).unwrap_err();
        assert!(
            matches!(err, Error::Core(CoreError::NonFinite { .. })),
            "{err:?}"
        );
        assert_eq!(err.to_string(), inner.to_string());
    }

    #[cfg(feature = "allocator")]
    #[test]
    fn allocator_errors_are_wrapped_whole() {
        use fundalloc_allocator::{AllocError, AllocationProblem};
        fn build() -> Result<AllocationProblem<f64>> {
            let e = RevenueMatrix::from_shape_vec(2, 1, vec![1.0, 2.0])?;
            Ok(AllocationProblem::builder(e).exposures(vec![3]).build()?)
        }
        let err = build().unwrap_err();
        assert!(
            matches!(
                err,
                Error::Allocator(AllocError::ExposureTotal {
                    required: 2,
                    min_total: 3,
                    ..
                })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn shape_error_says_both_shapes() {
        let err = Error::Shape {
            what: "ground-truth revenue",
            expected: (4, 2),
            found: (3, 2),
        };
        assert_eq!(
            err.to_string(),
            "ground-truth revenue is 3×2 (customers × funds), expected 4×2"
        );
    }
}
