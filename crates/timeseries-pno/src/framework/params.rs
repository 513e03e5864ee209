//! Training hyper-parameters (linfa's params pattern: build, then `check()`).

use crate::error::{PnoError, Result};

/// Training settings of RTS-PtO / RTS-PnO. Build with [`TrainParams::new`] and the `with_*`
/// methods, then validate with [`TrainParams::check`].
///
/// ```
/// use fundalloc_timeseries_pno::TrainParams;
/// let params = TrainParams::new().epochs(3).learning_rate(1e-3).beta(0.5).check()?;
/// assert_eq!(params.epochs(), 3);
/// assert!(TrainParams::new().alpha(1.5).check().is_err());
/// # Ok::<(), fundalloc_timeseries_pno::PnoError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TrainParams {
    epochs: usize,
    learning_rate: f64,
    batch_size: usize,
    eval_batch_size: usize,
    beta: f64,
    alpha: f64,
    coverage: f64,
    seed: u64,
}

/// [`TrainParams`] that passed [`TrainParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidTrainParams(TrainParams);

impl Default for TrainParams {
    fn default() -> Self {
        Self::new()
    }
}

impl TrainParams {
    /// Defaults: 10 epochs, Adam lr 1e-4, batch 32, β = 1, α = 0.5 (r̄ = median of r),
    /// coverage γ = 0.95, seed 0.
    pub fn new() -> Self {
        Self {
            epochs: 10,
            learning_rate: 1e-4,
            batch_size: 32,
            eval_batch_size: 512,
            beta: 1.0,
            alpha: 0.5,
            coverage: 0.95,
            seed: 0,
        }
    }

    /// Training epochs T (≥ 1).
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Adam learning rate (> 0).
    pub fn learning_rate(mut self, lr: f64) -> Self {
        self.learning_rate = lr;
        self
    }

    /// Mini-batch size (≥ 1).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Rows per forward pass at inference (≥ 1; memory only, results do not depend on it).
    pub fn eval_batch_size(mut self, eval_batch_size: usize) -> Self {
        self.eval_batch_size = eval_batch_size;
        self
    }

    /// β of Eq. 14, the weight of the MSE next to SPO+ (≥ 0).
    pub fn beta(mut self, beta: f64) -> Self {
        self.beta = beta;
        self
    }

    /// α of Eq. 11: r̄ is the α-quantile of the radii (in [0, 1]).
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// γ of Algorithm 1, the conformal coverage level (in (0, 1)).
    pub fn coverage(mut self, coverage: f64) -> Self {
        self.coverage = coverage;
        self
    }

    /// Seed of weight initialisation, dropout and shuffling. burn seeds its generator per
    /// process on the CPU backends, so runs are reproducible when one model trains at a time.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Validates every field.
    pub fn check(self) -> Result<ValidTrainParams> {
        let invalid = |name: &'static str, value: String, reason: &'static str| {
            Err(PnoError::InvalidParameter {
                name,
                value,
                reason,
            })
        };
        if self.epochs == 0 {
            return invalid("epochs", "0".into(), "must be at least 1");
        }
        if self.batch_size == 0 || self.eval_batch_size == 0 {
            return invalid("batch_size", "0".into(), "must be at least 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return invalid(
                "learning_rate",
                self.learning_rate.to_string(),
                "must be finite and positive",
            );
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return invalid(
                "beta",
                self.beta.to_string(),
                "must be finite and non-negative",
            );
        }
        if !(0.0..=1.0).contains(&self.alpha) {
            return invalid("alpha", self.alpha.to_string(), "must be in [0, 1]");
        }
        if !(self.coverage > 0.0 && self.coverage < 1.0) {
            return invalid("coverage", self.coverage.to_string(), "must be in (0, 1)");
        }
        Ok(ValidTrainParams(self))
    }
}

impl ValidTrainParams {
    /// Training epochs T.
    pub fn epochs(&self) -> usize {
        self.0.epochs
    }
    /// Adam learning rate.
    pub fn learning_rate(&self) -> f64 {
        self.0.learning_rate
    }
    /// Mini-batch size.
    pub fn batch_size(&self) -> usize {
        self.0.batch_size
    }
    /// Rows per inference forward pass.
    pub fn eval_batch_size(&self) -> usize {
        self.0.eval_batch_size
    }
    /// β (MSE weight in PnO).
    pub fn beta(&self) -> f64 {
        self.0.beta
    }
    /// α (quantile of r that sets r̄).
    pub fn alpha(&self) -> f64 {
        self.0.alpha
    }
    /// γ (conformal coverage).
    pub fn coverage(&self) -> f64 {
        self.0.coverage
    }
    /// Seed.
    pub fn seed(&self) -> u64 {
        self.0.seed
    }
}
