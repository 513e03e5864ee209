//! Training hyper-parameters: a builder checked once before use (linfa's params pattern).

use crate::{CounterfactualTerm, Result, RevenueModelError};

/// Hyper-parameters of [`fit`](crate::fit). Build with [`TrainParams::default`] and the
/// `with_*` methods, then [`check`](TrainParams::check) them.
///
/// Defaults follow the paper where it says something (batch 512, Adam, lr and dropout from its
/// grid `{0.01, 0.02, 0.04, 0.06} × {0.1, 0.3, 0.5}`) and are otherwise small.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainParams {
    /// Hidden layer sizes of every MLP tower (default `[64, 32]`).
    pub hidden: Vec<usize>,
    /// Number of experts of MMoE (default 4).
    pub n_experts: usize,
    /// Adam learning rate (default 0.01).
    pub learning_rate: f64,
    /// Dropout probability after each hidden layer (default 0.1).
    pub dropout: f64,
    /// Mini-batch size (default 512).
    pub batch_size: usize,
    /// Upper bound on epochs (default 30).
    pub max_epochs: usize,
    /// Early stopping: stop after this many epochs without a better validation loss (default 3).
    pub patience: usize,
    /// Fraction of the training rows held out for early stopping when no validation set is
    /// given (default 0.1, the paper's 90/10 split).
    pub validation_fraction: f64,
    /// Counterfactual revenue ε of a row that did not convert (Eq. 5), as a fraction of the
    /// revenue scale `s` (mean revenue of converted training rows); default 0.01.
    pub epsilon: f64,
    /// How Ours scores the counterfactual revenue ε of a row that did not convert (default:
    /// the probability `Φ((ln ε − μ)/σ)`; the paper's literal density is the alternative).
    pub counterfactual: CounterfactualTerm,
    /// Seed of initialisation, shuffling, the validation split and dropout.
    pub seed: u64,
}

impl Default for TrainParams {
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
    /// Sets the hidden layer sizes.
    pub fn with_hidden(mut self, hidden: impl Into<Vec<usize>>) -> Self {
        self.hidden = hidden.into();
        self
    }
    /// Sets the learning rate.
    pub fn with_learning_rate(mut self, lr: f64) -> Self {
        self.learning_rate = lr;
        self
    }
    /// Sets the dropout probability.
    pub fn with_dropout(mut self, p: f64) -> Self {
        self.dropout = p;
        self
    }
    /// Sets the batch size.
    pub fn with_batch_size(mut self, b: usize) -> Self {
        self.batch_size = b;
        self
    }
    /// Sets the maximum number of epochs.
    pub fn with_max_epochs(mut self, e: usize) -> Self {
        self.max_epochs = e;
        self
    }
    /// Sets the early-stopping patience.
    pub fn with_patience(mut self, p: usize) -> Self {
        self.patience = p;
        self
    }
    /// Sets the held-out validation fraction.
    pub fn with_validation_fraction(mut self, f: f64) -> Self {
        self.validation_fraction = f;
        self
    }
    /// Sets the relative counterfactual revenue ε.
    pub fn with_epsilon(mut self, eps: f64) -> Self {
        self.epsilon = eps;
        self
    }
    /// Sets how Ours scores the counterfactual revenue.
    pub fn with_counterfactual(mut self, term: CounterfactualTerm) -> Self {
        self.counterfactual = term;
        self
    }
    /// Sets the number of MMoE experts.
    pub fn with_n_experts(mut self, k: usize) -> Self {
        self.n_experts = k;
        self
    }
    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks every field; the result is what [`fit`](crate::fit) takes.
    pub fn check(self) -> Result<ValidTrainParams> {
        let bad = |name: &'static str, value: String, reason: &'static str| {
            Err(RevenueModelError::InvalidParam {
                name,
                value,
                reason,
            })
        };
        if self.hidden.is_empty() || self.hidden.contains(&0) {
            return bad(
                "hidden",
                format!("{:?}", self.hidden),
                "needs at least one layer, each of size >= 1",
            );
        }
        if self.n_experts == 0 {
            return bad("n_experts", "0".into(), "must be at least 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(
                "learning_rate",
                self.learning_rate.to_string(),
                "must be finite and > 0",
            );
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad("dropout", self.dropout.to_string(), "must be in [0, 1)");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "0".into(), "must be at least 1");
        }
        if self.max_epochs == 0 {
            return bad("max_epochs", "0".into(), "must be at least 1");
        }
        if self.patience == 0 {
            return bad("patience", "0".into(), "must be at least 1");
        }
        if !(self.validation_fraction > 0.0 && self.validation_fraction < 1.0) {
            return bad(
                "validation_fraction",
                self.validation_fraction.to_string(),
                "must be in (0, 1)",
            );
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return bad(
                "epsilon",
                self.epsilon.to_string(),
                "must be finite and > 0",
            );
        }
        Ok(ValidTrainParams(self))
    }
}

/// [`TrainParams`] that passed [`TrainParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidTrainParams(TrainParams);

impl std::ops::Deref for ValidTrainParams {
    type Target = TrainParams;
    fn deref(&self) -> &TrainParams {
        &self.0
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
            ("hidden", d().with_hidden(vec![])),
            ("hidden", d().with_hidden(vec![8, 0])),
            ("learning_rate", d().with_learning_rate(0.0)),
            ("learning_rate", d().with_learning_rate(f64::NAN)),
            ("dropout", d().with_dropout(1.0)),
            ("dropout", d().with_dropout(-0.1)),
            ("batch_size", d().with_batch_size(0)),
            ("max_epochs", d().with_max_epochs(0)),
            ("patience", d().with_patience(0)),
            ("validation_fraction", d().with_validation_fraction(1.0)),
            ("epsilon", d().with_epsilon(0.0)),
            ("n_experts", d().with_n_experts(0)),
        ];
        for (field, p) in cases {
            match p.check() {
                Err(RevenueModelError::InvalidParam { name, .. }) => assert_eq!(name, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}
