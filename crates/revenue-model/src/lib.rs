#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod data;
mod encode;
mod error;
mod io;
mod model;
mod nn;
mod params;
mod params_io;
mod revenue_model;
mod train;

pub use data::csv_load::{LabelColumns, load_csv, read_csv_levels};
pub use data::dataset::{ExposureDataset, FeatureTable};
pub use data::schema::{
    CategoricalFeature, CodeLookup, DEFAULT_EMBEDDING_DIM, FeatureSchema, FeatureSchemaBuilder,
    NumericFeature, Side, UnknownCategory,
};
pub use data::synthetic::{
    CampaignOutcome, MAX_SYNTHETIC_PAIRS, SyntheticCampaign, SyntheticParams, SyntheticValidParams,
};
pub use error::{Result, RevenueModelError};
pub use fundalloc_core_types::{NoObserver, Observer, ParamGuard};
pub use io::FORMAT_VERSION;
pub use model::ModelKind;
pub use nn::loss::CounterfactualTerm;
pub use params::{TrainParams, ValidTrainParams};
pub use revenue_model::{Predictions, RevenueModel};
pub use train::{EpochReport, TrainReport, fit};

/// The types most programs need: `use fundalloc_revenue_model::prelude::*;`.
pub mod prelude {
    pub use crate::{
        CampaignOutcome, EpochReport, ExposureDataset, FeatureSchema, FeatureTable, LabelColumns,
        ModelKind, NoObserver, Observer, ParamGuard, Predictions, RevenueModel, RevenueModelError,
        Side, SyntheticCampaign, SyntheticParams, TrainParams, fit, load_csv,
    };
}
