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
pub use data::dataset::{Dataset, FeatureTable};
pub use data::schema::{
    CategoricalFeature, CodeLookup, DEFAULT_EMBEDDING_DIM, FeatureSchema, FeatureSchemaBuilder,
    NumericFeature, Side, UnknownCategory,
};
pub use data::synthetic::{CampaignOutcome, SyntheticCampaign, SyntheticParams};
pub use error::{Result, RevenueModelError};
pub use io::FORMAT_VERSION;
pub use model::ModelKind;
pub use nn::loss::CounterfactualTerm;
pub use params::{TrainParams, ValidTrainParams};
pub use revenue_model::{Predictions, RevenueModel};
pub use train::{EpochReport, NoObserver, TrainObserver, TrainReport, fit};

/// The types most programs need: `use fundalloc_revenue_model::prelude::*;`.
pub mod prelude {
    pub use crate::{
        CampaignOutcome, Dataset, FeatureSchema, FeatureTable, LabelColumns, ModelKind, NoObserver,
        Predictions, RevenueModel, RevenueModelError, Side, SyntheticCampaign, SyntheticParams,
        TrainObserver, TrainParams, fit, load_csv,
    };
}
