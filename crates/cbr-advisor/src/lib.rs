#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod assignment;
mod casebase;
mod client;
mod cluster;
mod distance;
mod error;
mod generate;
mod neighbours;
mod portfolio_ranking;
mod product;
mod product_selection;
mod protocol;
mod retrieval;
mod schema;
mod server;
mod store;

pub use assignment::{Assignment, brute_force_assignment, solve_assignment};
pub use casebase::{
    CaseBase, CaseBaseData, CustomerRecord, Holding, PortfolioId, PortfolioRecord, PortfolioView,
    Target, Value,
};
pub use client::Client;
pub use cluster::{KMedoids, KMedoidsParams, KMedoidsValidParams, MAX_SAMPLE_CELLS};
pub use distance::{
    PortfolioMatch, best_portfolio_match, cosine_distance, heom_linear, heom_nominal,
};
pub use error::{
    CbrError, IdKind, Input, MatrixProblem, ParseProblem, ProtocolProblem, ResponseProblem, Result,
    SchemaProblem, StoreProblem, ValueKind,
};
pub use generate::{GeneratorParams, GeneratorValidParams, generate_case_base, generate_catalogue};
pub use product::{CLASS_NAMES, Catalogue, Issuer, N_CLASSES, Product, RateType};
pub use protocol::{
    Answer, AnswerItem, ErrorAnswer, ErrorCode, Limits, Message, Request, Response, RetainRequest,
    parse_message, parse_request, parse_response,
};
pub use retrieval::{
    AssetStats, DEFAULT_MAX_NEIGHBOURS, Neighbour, Order, QueryParams, QueryValidParams,
    RankedPortfolio, Recommendation,
};
pub use schema::{FeatureKind, FeatureSpec, MAX_MATRIX_CELLS, Schema, SchemaSpec};
pub use server::{Server, ServerHandle, ServerParams, ServerValidParams, ShutdownHandle};
#[cfg(feature = "postgres")]
pub use store::PostgresStore;
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
pub use store::{CaseStore, STORE_SCHEMA_VERSION, open_store};

/// The types most programs need: `use fundalloc_cbr_advisor::prelude::*;`.
pub mod prelude {
    pub use crate::{
        AssetStats, CaseBase, Catalogue, CbrError, Client, CustomerRecord, ErrorAnswer, ErrorCode,
        KMedoids, KMedoidsParams, Order, Product, QueryParams, Recommendation, Request, Response,
        Schema, Server, ServerHandle, ServerParams, Target,
    };
    pub use fundalloc_core_types::{CancelToken, ParamGuard};
}
