//! Training hyper-parameters (linfa's `ParamGuard`: build, then check).

use fundalloc_core_types::{ParamGuard, check};

use crate::error::{PnoError, Result};

/// Training settings of RTS-PtO / RTS-PnO (unchecked). Build with [`TrainParams::new`] (or
/// `default()`) and the setters; [`fit`](crate::fit) checks them, or check ahead with
/// [`ParamGuard::check`].
///
/// ```
/// use fundalloc_timeseries_pno::{ParamGuard, TrainParams};
/// let params = TrainParams::new().epochs(3).learning_rate(1e-3).beta(0.5).check()?;
/// assert_eq!(params.epochs(), 3);
/// assert!(TrainParams::new().alpha(1.5).check().is_err());
/// # Ok::<(), fundalloc_timeseries_pno::PnoError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TrainParams(ValidTrainParams);

/// [`TrainParams`] that passed [`ParamGuard::check`]; read with the getters.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidTrainParams {
    epochs: usize,
    learning_rate: f64,
    batch_size: usize,
    eval_batch_size: usize,
    beta: f64,
    alpha: f64,
    coverage: f64,
    seed: u64,
}

impl Default for TrainParams {
    fn default() -> Self {
        Self::new()
    }
}

impl TrainParams {
    /// Defaults: 10 epochs, Adam lr 1e-4, batch 32, β = 1, α = 0.5 (r̄ = median of r),
    /// coverage γ = 0.95, seed 0.
    #[must_use]
    pub fn new() -> Self {
        Self(ValidTrainParams {
            epochs: 10,
            learning_rate: 1e-4,
            batch_size: 32,
            eval_batch_size: 512,
            beta: 1.0,
            alpha: 0.5,
            coverage: 0.95,
            seed: 0,
        })
    }

    /// Training epochs T (≥ 1).
    #[must_use]
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.0.epochs = epochs;
        self
    }

    /// Adam learning rate (finite, > 0).
    #[must_use]
    pub fn learning_rate(mut self, learning_rate: f64) -> Self {
        self.0.learning_rate = learning_rate;
        self
    }

    /// Mini-batch size (≥ 1).
    #[must_use]
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.0.batch_size = batch_size;
        self
    }

    /// Rows per forward pass at inference (≥ 1; memory only, results do not depend on it).
    #[must_use]
    pub fn eval_batch_size(mut self, eval_batch_size: usize) -> Self {
        self.0.eval_batch_size = eval_batch_size;
        self
    }

    /// β of Eq. 14, the weight of the MSE next to SPO+ (finite, ≥ 0).
    #[must_use]
    pub fn beta(mut self, beta: f64) -> Self {
        self.0.beta = beta;
        self
    }

    /// α of Eq. 11: r̄ is the α-quantile of the radii (in [0, 1]).
    #[must_use]
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.0.alpha = alpha;
        self
    }

    /// γ of Algorithm 1, the conformal coverage level (in (0, 1)).
    #[must_use]
    pub fn coverage(mut self, coverage: f64) -> Self {
        self.0.coverage = coverage;
        self
    }

    /// Seed of weight initialisation, dropout and shuffling. burn seeds its generator per
    /// process on the CPU backends, so runs are reproducible when one model trains at a time.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
}

impl ParamGuard for TrainParams {
    type Checked = ValidTrainParams;
    type Error = PnoError;

    /// Validates every field.
    fn check_ref(&self) -> Result<&ValidTrainParams> {
        let p = &self.0;
        check::at_least("epochs", p.epochs, 1)?;
        check::at_least("batch_size", p.batch_size, 1)?;
        check::at_least("eval_batch_size", p.eval_batch_size, 1)?;
        check::positive("learning_rate", p.learning_rate)?;
        check::non_negative("beta", p.beta)?;
        check::probability("alpha", p.alpha)?;
        check::in_open_unit("coverage", p.coverage)?;
        Ok(p)
    }

    fn check(self) -> Result<ValidTrainParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

fundalloc_core_types::checked_params!(ValidTrainParams, PnoError);

impl ValidTrainParams {
    /// Training epochs T.
    pub fn epochs(&self) -> usize {
        self.epochs
    }
    /// Adam learning rate.
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }
    /// Mini-batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }
    /// Rows per inference forward pass.
    pub fn eval_batch_size(&self) -> usize {
        self.eval_batch_size
    }
    /// β (MSE weight in PnO).
    pub fn beta(&self) -> f64 {
        self.beta
    }
    /// α (quantile of r that sets r̄).
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
    /// γ (conformal coverage).
    pub fn coverage(&self) -> f64 {
        self.coverage
    }
    /// Seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_float_field_refuses_nan_infinities_and_its_domain_ends() {
        type Set = fn(TrainParams, f64) -> TrainParams;
        let cases: [(&str, Set, &[f64]); 4] = [
            ("learning_rate", TrainParams::learning_rate, &[0.0, -1e-3]),
            ("beta", TrainParams::beta, &[-0.5]),
            ("alpha", TrainParams::alpha, &[-0.1, 1.5]),
            ("coverage", TrainParams::coverage, &[0.0, 1.0]),
        ];
        for (name, set, out_of_domain) in cases {
            let bad = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
            for &value in bad.iter().chain(out_of_domain) {
                match set(TrainParams::new(), value).check() {
                    Err(PnoError::InvalidParameter(e)) => assert_eq!(e.name, name),
                    other => panic!("{name} = {value}: {other:?}"),
                }
            }
        }
        for (name, params) in [
            ("epochs", TrainParams::new().epochs(0)),
            ("batch_size", TrainParams::new().batch_size(0)),
            ("eval_batch_size", TrainParams::new().eval_batch_size(0)),
        ] {
            match params.check() {
                Err(PnoError::InvalidParameter(e)) => assert_eq!(e.name, name),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(TrainParams::default().check().is_ok());
    }
}
