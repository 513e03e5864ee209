//! Training hyper-parameters: linfa's `ParamGuard` (build, then check once before use).

use fundalloc_core_types::{InvalidParameter, ParamGuard, check};

use crate::{CounterfactualTerm, Result, RevenueModelError};

/// Hyper-parameters of [`fit`](crate::fit) (unchecked). Build with [`TrainParams::default`]
/// and the setters; `fit` checks them, or check ahead with [`ParamGuard::check`].
///
/// Defaults follow the paper where it says something (batch 512, Adam, lr and dropout from its
/// grid `{0.01, 0.02, 0.04, 0.06} × {0.1, 0.3, 0.5}`) and are otherwise small.
///
/// ```
/// use fundalloc_revenue_model::{ParamGuard, TrainParams};
/// let params = TrainParams::default().learning_rate(0.02).dropout(0.3).seed(7).check()?;
/// assert_eq!(params.learning_rate(), 0.02);
/// assert!(TrainParams::default().epsilon(f64::NAN).check().is_err());
/// # Ok::<(), fundalloc_revenue_model::RevenueModelError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainParams(ValidTrainParams);

/// [`TrainParams`] that passed [`ParamGuard::check`]; read with the getters.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidTrainParams {
    hidden: Vec<usize>,
    n_experts: usize,
    learning_rate: f64,
    dropout: f64,
    batch_size: usize,
    max_epochs: usize,
    patience: usize,
    validation_fraction: f64,
    epsilon: f64,
    counterfactual: CounterfactualTerm,
    seed: u64,
}

impl Default for ValidTrainParams {
    fn default() -> Self {
        Self {
            hidden: vec![64, 32],
            n_experts: 4,
            learning_rate: 0.01,
            dropout: 0.1,
            batch_size: 512,
            max_epochs: 30,
            patience: 3,
            validation_fraction: 0.1,
            epsilon: 0.01,
            counterfactual: CounterfactualTerm::Probability,
            seed: 0,
        }
    }
}

impl TrainParams {
    /// Hidden layer sizes of every MLP tower (default `[64, 32]`; at least one layer, each ≥ 1).
    #[must_use]
    pub fn hidden(mut self, hidden: impl Into<Vec<usize>>) -> Self {
        self.0.hidden = hidden.into();
        self
    }
    /// Number of experts of MMoE (default 4, ≥ 1).
    #[must_use]
    pub fn n_experts(mut self, n_experts: usize) -> Self {
        self.0.n_experts = n_experts;
        self
    }
    /// Adam learning rate (default 0.01; finite, > 0).
    #[must_use]
    pub fn learning_rate(mut self, learning_rate: f64) -> Self {
        self.0.learning_rate = learning_rate;
        self
    }
    /// Dropout probability after each hidden layer (default 0.1; in [0, 1)).
    #[must_use]
    pub fn dropout(mut self, dropout: f64) -> Self {
        self.0.dropout = dropout;
        self
    }
    /// Mini-batch size (default 512, ≥ 1).
    #[must_use]
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.0.batch_size = batch_size;
        self
    }
    /// Upper bound on epochs (default 30, ≥ 1).
    #[must_use]
    pub fn max_epochs(mut self, max_epochs: usize) -> Self {
        self.0.max_epochs = max_epochs;
        self
    }
    /// Early stopping: stop after this many epochs without a better validation loss
    /// (default 3, ≥ 1).
    #[must_use]
    pub fn patience(mut self, patience: usize) -> Self {
        self.0.patience = patience;
        self
    }
    /// Fraction of the training rows held out for early stopping when no validation set is
    /// given (default 0.1, the paper's 90/10 split; in (0, 1)).
    #[must_use]
    pub fn validation_fraction(mut self, validation_fraction: f64) -> Self {
        self.0.validation_fraction = validation_fraction;
        self
    }
    /// Counterfactual revenue ε of a row that did not convert (Eq. 5), as a fraction of the
    /// revenue scale `s` (mean revenue of converted training rows); default 0.01, finite, > 0.
    #[must_use]
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.0.epsilon = epsilon;
        self
    }
    /// How the entire-space model scores the counterfactual revenue ε of a row that did not
    /// convert (default: the probability `Φ((ln ε − μ)/σ)`; the paper's literal density is the
    /// alternative).
    #[must_use]
    pub fn counterfactual(mut self, counterfactual: CounterfactualTerm) -> Self {
        self.0.counterfactual = counterfactual;
        self
    }
    /// Seed of initialisation, shuffling, the validation split and dropout.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
}

impl ParamGuard for TrainParams {
    type Checked = ValidTrainParams;
    type Error = RevenueModelError;

    /// Checks every field.
    fn check_ref(&self) -> Result<&ValidTrainParams> {
        let p = &self.0;
        if p.hidden.is_empty() || p.hidden.contains(&0) {
            return Err(InvalidParameter::new(
                "hidden",
                format_args!("{:?}", p.hidden),
                "needs at least one layer, each of size >= 1",
            )
            .into());
        }
        check::at_least("n_experts", p.n_experts, 1)?;
        check::positive("learning_rate", p.learning_rate)?;
        check::in_half_open_unit_left("dropout", p.dropout)?;
        check::at_least("batch_size", p.batch_size, 1)?;
        check::at_least("max_epochs", p.max_epochs, 1)?;
        check::at_least("patience", p.patience, 1)?;
        check::in_open_unit("validation_fraction", p.validation_fraction)?;
        check::positive("epsilon", p.epsilon)?;
        // ln ε is the counterfactual log-revenue: it must be finite too (ε of 1e-320 is > 0
        // but its f32 image is 0).
        let epsilon_f32 = p.epsilon as f32;
        if !(epsilon_f32 > 0.0 && epsilon_f32.is_finite()) {
            return Err(InvalidParameter::new(
                "epsilon",
                p.epsilon,
                "must be a positive number representable in f32",
            )
            .into());
        }
        Ok(p)
    }

    fn check(self) -> Result<ValidTrainParams> {
        self.check_ref()?;
        Ok(self.0)
    }
}

fundalloc_core_types::checked_params!(ValidTrainParams, RevenueModelError);

/// A borrowed checked value passes too (`fit(kind, &params, …)` in a loop over kinds); `check`
/// clones it.
impl ParamGuard for &ValidTrainParams {
    type Checked = ValidTrainParams;
    type Error = RevenueModelError;
    fn check_ref(&self) -> Result<&ValidTrainParams> {
        Ok(self)
    }
    fn check(self) -> Result<ValidTrainParams> {
        Ok(self.clone())
    }
}

impl ValidTrainParams {
    /// Hidden layer sizes of every MLP tower.
    pub fn hidden(&self) -> &[usize] {
        &self.hidden
    }
    /// Number of experts of MMoE.
    pub fn n_experts(&self) -> usize {
        self.n_experts
    }
    /// Adam learning rate.
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }
    /// Dropout probability.
    pub fn dropout(&self) -> f64 {
        self.dropout
    }
    /// Mini-batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }
    /// Upper bound on epochs.
    pub fn max_epochs(&self) -> usize {
        self.max_epochs
    }
    /// Early-stopping patience.
    pub fn patience(&self) -> usize {
        self.patience
    }
    /// Held-out validation fraction.
    pub fn validation_fraction(&self) -> f64 {
        self.validation_fraction
    }
    /// Relative counterfactual revenue ε.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }
    /// How the counterfactual revenue is scored.
    pub fn counterfactual(&self) -> CounterfactualTerm {
        self.counterfactual
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
    fn check_rejects_each_bad_field() {
        let d = TrainParams::default;
        assert!(d().check().is_ok());
        let cases = [
            ("hidden", d().hidden(vec![])),
            ("hidden", d().hidden(vec![8, 0])),
            ("learning_rate", d().learning_rate(0.0)),
            ("learning_rate", d().learning_rate(f64::NAN)),
            ("dropout", d().dropout(1.0)),
            ("dropout", d().dropout(-0.1)),
            ("batch_size", d().batch_size(0)),
            ("max_epochs", d().max_epochs(0)),
            ("patience", d().patience(0)),
            ("validation_fraction", d().validation_fraction(1.0)),
            ("epsilon", d().epsilon(0.0)),
            ("epsilon", d().epsilon(1e-320)),
            ("n_experts", d().n_experts(0)),
        ];
        for (field, p) in cases {
            match p.check() {
                Err(RevenueModelError::InvalidParameter(e)) => assert_eq!(e.name, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn every_float_field_refuses_nan_and_infinities() {
        type Set = fn(TrainParams, f64) -> TrainParams;
        let floats: [(&str, Set); 4] = [
            ("learning_rate", TrainParams::learning_rate),
            ("dropout", TrainParams::dropout),
            ("validation_fraction", TrainParams::validation_fraction),
            ("epsilon", TrainParams::epsilon),
        ];
        for (field, set) in floats {
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                match set(TrainParams::default(), bad).check() {
                    Err(RevenueModelError::InvalidParameter(e)) => assert_eq!(e.name, field),
                    other => panic!("{field} = {bad}: {other:?}"),
                }
            }
        }
    }
}
