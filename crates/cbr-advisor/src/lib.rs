#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod assignment;
mod casebase;
pub mod client;
pub mod cluster;
pub mod distance;
mod error;
pub mod generate;
mod product;
pub mod protocol;
mod retrieval;
mod schema;
pub mod server;

pub use casebase::{
    CaseBase, CaseBaseData, CustomerRecord, Holding, PortfolioRecord, PortfolioView, Target, Value,
};
pub use error::{CbrError, Result};
pub use product::{CLASS_NAMES, Catalogue, Issuer, N_CLASSES, Product, RateType};
pub use retrieval::{AssetStats, Neighbour, Order, QueryParams, RankedPortfolio, Recommendation};
pub use schema::{FeatureKind, FeatureSpec, Schema, SchemaSpec};

/// The types most programs need: `use fundalloc_cbr_advisor::prelude::*;`.
pub mod prelude {
    pub use crate::client::Client;
    pub use crate::protocol::{Answer, ErrorAnswer, ErrorCode, Request, Response};
    pub use crate::server::{Server, ServerConfig, ServerHandle};
    pub use crate::{
        AssetStats, CaseBase, Catalogue, CbrError, CustomerRecord, Order, Product, QueryParams,
        Recommendation, Schema, Target,
    };
}
