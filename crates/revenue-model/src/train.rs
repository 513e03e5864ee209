//! The training loop: Adam on mini-batches, early stopping on a validation set, observers.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};

use crate::encode::Encoder;
use crate::model::{Counterfactual, ModelKind, Net, NetDims};
use fundalloc_core_types::{Observer, ParamGuard};

use crate::{
    ExposureDataset, Result, RevenueModel, RevenueModelError, ValidTrainParams, params_io,
};

/// Progress of one epoch, handed to an [`Observer`]'s `on_epoch`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EpochReport {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Validation loss after the epoch.
    pub valid_loss: f64,
    /// Epoch with the best validation loss so far.
    pub best_epoch: usize,
    /// Training samples per second during this epoch (forward + backward + Adam step).
    pub samples_per_second: f64,
}

/// Summary of a training run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TrainReport {
    /// One report per epoch run.
    pub history: Vec<EpochReport>,
    /// Epoch whose weights were kept (best validation loss).
    pub best_epoch: usize,
    /// Its validation loss.
    pub best_valid_loss: f64,
    /// Wall-clock seconds spent in training steps (excluding validation).
    pub train_seconds: f64,
    /// Training samples processed (rows × epochs).
    pub samples_seen: usize,
}

impl TrainReport {
    /// Training throughput over the whole run, samples per second.
    pub fn samples_per_second(&self) -> f64 {
        self.samples_seen as f64 / self.train_seconds.max(1e-12)
    }
}

/// Trains a `kind` model on `train`, with early stopping on `valid` (or, if `None`, on a
/// seeded `validation_fraction` split of `train`). Returns the weights of the best epoch.
///
/// Runs on burn's pure-Rust Flex CPU backend with autodiff. The seed fixes initialisation,
/// shuffling, the validation split and (through the backend's RNG, which is process-global)
/// dropout. The observer sees every mini-batch (`on_step(epoch, batch, batches)`) and every
/// epoch's [`EpochReport`] (`on_epoch`).
///
/// ```
/// use fundalloc_revenue_model::{
///     ModelKind, NoObserver, SyntheticCampaign, SyntheticParams, TrainParams, fit,
/// };
/// let world = SyntheticCampaign::generate(SyntheticParams::default().n_customers(60).n_funds(3))?;
/// let log = world.expose(2, 1.0, 1)?;
/// let params = TrainParams::default().hidden(vec![8]).max_epochs(1).seed(7);
/// let (model, report) = fit(ModelKind::EntireSpaceLogNormal, params, &log, None, &mut NoObserver)?;
/// assert_eq!(report.history.len(), 1);
/// assert_eq!(model.kind().name(), "Ours"); // the paper's Table 1 label
/// # Ok::<(), fundalloc_revenue_model::RevenueModelError>(())
/// ```
///
/// # Errors
/// Invalid parameters, a validation set on another schema, a split that leaves a part empty,
/// or a diverged loss.
pub fn fit(
    kind: ModelKind,
    params: impl ParamGuard<Checked = ValidTrainParams, Error = RevenueModelError>,
    train: &ExposureDataset,
    valid: Option<&ExposureDataset>,
    observer: &mut impl Observer<EpochReport>,
) -> Result<(RevenueModel, TrainReport)> {
    let params = params.check()?;
    let split;
    let (train, valid) = match valid {
        Some(v) => {
            if v.schema() != train.schema() {
                return Err(RevenueModelError::SchemaMismatch {
                    reason: "validation set has another schema than the training set".into(),
                });
            }
            (train, v)
        }
        None => {
            split = train.split(params.validation_fraction(), params.seed() ^ 0x5eed)?;
            (&split.0, &split.1)
        }
    };
    let schema = train.schema().clone();
    let encoder = Encoder::fit(train);
    let dims = NetDims {
        total_cardinality: schema.total_cardinality(),
        n_categorical: schema.categorical().len(),
        embedding_dim: schema.embedding_dim(),
        input: schema.input_dim(),
        hidden: params.hidden().to_vec(),
        n_experts: params.n_experts(),
        dropout: params.dropout(),
    };
    let cf = Counterfactual {
        log_eps: params.epsilon().ln(),
        term: params.counterfactual(),
    };
    let device = Device::flex().autodiff();
    device.seed(params.seed());
    let mut net = params_io::init_seeded(Net::new(kind, &dims, &device), params.seed());
    let mut optimizer = AdamConfig::new().init();
    let mut rng = StdRng::seed_from_u64(params.seed());
    let mut order: Vec<usize> = (0..train.len()).collect();
    let n_batches = train.len().div_ceil(params.batch_size());

    let mut model = RevenueModel {
        kind,
        schema,
        dims,
        cf,
        encoder,
        net: net.valid(),
    };
    let mut best = (f64::INFINITY, 0usize);
    let mut best_net = model.net.clone();
    let mut history = Vec::new();
    let mut train_seconds = 0.0;
    let mut samples_seen = 0;
    for epoch in 1..=params.max_epochs() {
        order.shuffle(&mut rng);
        let start = Instant::now();
        let mut loss_sum = 0.0;
        for (b, rows) in order.chunks(params.batch_size()).enumerate() {
            let inputs = model
                .encoder
                .inputs(train.categorical(), train.numeric(), rows, &device);
            let labels = model
                .encoder
                .labels(train, rows, params.epsilon() as f32, &device);
            let heads = net.heads(&inputs);
            let loss = net
                .loss(&heads, &labels, cf)
                .ok_or_else(|| missing_head(kind))?;
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optimizer.step(params.learning_rate(), net, grads);
            let value = f64::from(read_scalar(loss)?);
            if !value.is_finite() {
                return Err(RevenueModelError::Diverged { epoch, loss: value });
            }
            loss_sum += value * rows.len() as f64;
            observer.on_step(epoch, b + 1, n_batches);
        }
        let seconds = start.elapsed().as_secs_f64();
        train_seconds += seconds;
        samples_seen += train.len();
        model.net = net.valid();
        let valid_loss = model.loss(valid, params.epsilon() as f32)?;
        if valid_loss < best.0 {
            best = (valid_loss, epoch);
            best_net = model.net.clone();
        }
        let report = EpochReport {
            epoch,
            train_loss: loss_sum / train.len() as f64,
            valid_loss,
            best_epoch: best.1,
            samples_per_second: train.len() as f64 / seconds.max(1e-12),
        };
        observer.on_epoch(&report);
        history.push(report);
        if epoch - best.1 >= params.patience() {
            break;
        }
    }
    model.net = best_net;
    Ok((
        model,
        TrainReport {
            history,
            best_epoch: best.1,
            best_valid_loss: best.0,
            train_seconds,
            samples_seen,
        },
    ))
}

pub(crate) fn read_scalar(t: burn::tensor::Tensor<1>) -> Result<f32> {
    t.try_into_scalar::<f32>()
        .map_err(|e| RevenueModelError::Backend {
            message: format!("{e:?}"),
        })
}

pub(crate) fn missing_head(kind: ModelKind) -> RevenueModelError {
    RevenueModelError::Backend {
        message: format!("internal: {kind} network produced no head for its loss"),
    }
}
