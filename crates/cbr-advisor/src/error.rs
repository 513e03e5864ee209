//! The crate's error type.

/// Everything that can go wrong in this crate (except wire-protocol errors, which are answers:
/// see [`crate::protocol::ErrorCode`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CbrError {
    /// A feature weight outside the paper's levels 1 (low), 2 (medium), 3 (high).
    #[error("weight of `{feature}` is {weight}; weights must be 1, 2 or 3")]
    InvalidWeight {
        /// The feature's name.
        feature: String,
        /// The offending weight.
        weight: u8,
    },
    /// A schema that is inconsistent (duplicate names, bad matrices, no features…).
    #[error("invalid schema: {reason}")]
    InvalidSchema {
        /// What is wrong.
        reason: String,
    },
    /// A nominal distance matrix of the wrong shape or with entries outside `[0, 1]`.
    #[error("distance matrix of `{feature}`: {reason}")]
    InvalidDistanceMatrix {
        /// The feature's name.
        feature: String,
        /// What is wrong.
        reason: String,
    },
    /// A customer record whose number of values differs from the schema's.
    #[error("customer `{customer}` has {got} feature values, the schema has {expected}")]
    FeatureCount {
        /// The customer's id.
        customer: String,
        /// Features in the schema.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// A linear feature value that is NaN or infinite (use `None` for missing values).
    #[error("customer `{customer}`: feature `{feature}` is not finite ({value})")]
    NonFiniteValue {
        /// The customer's id.
        customer: String,
        /// The feature's name.
        feature: String,
        /// The value.
        value: f64,
    },
    /// A nominal value that is not one of the feature's categories.
    #[error("customer `{customer}`: `{value}` is not a category of `{feature}`")]
    UnknownCategory {
        /// The customer's id.
        customer: String,
        /// The feature's name.
        feature: String,
        /// The value.
        value: String,
    },
    /// A value of the wrong kind (a number for a nominal feature, text for a linear one).
    #[error("customer `{customer}`: feature `{feature}` expects {expected}")]
    WrongValueKind {
        /// The customer's id.
        customer: String,
        /// The feature's name.
        feature: String,
        /// What was expected.
        expected: &'static str,
    },
    /// Two customers, portfolios or products with the same id.
    #[error("duplicate {what} id `{id}`")]
    DuplicateId {
        /// `"customer"`, `"product"`…
        what: &'static str,
        /// The id.
        id: String,
    },
    /// A customer id that is not in the case base.
    #[error("unknown customer `{id}`")]
    UnknownCustomer {
        /// The id.
        id: String,
    },
    /// A holding of a product that is not in the catalogue.
    #[error("portfolio `{portfolio}` holds unknown product `{product}`")]
    UnknownProduct {
        /// The portfolio's id.
        portfolio: String,
        /// The product's id.
        product: String,
    },
    /// A portfolio share that is negative, NaN or infinite.
    #[error(
        "portfolio `{portfolio}`: share of `{product}` is {share}; shares must be finite and >= 0"
    )]
    InvalidShare {
        /// The portfolio's id.
        portfolio: String,
        /// The product's id.
        product: String,
        /// The share.
        share: f64,
    },
    /// A portfolio whose shares are all zero: its cosine distance is undefined.
    #[error("portfolio `{portfolio}` is empty (all shares are zero)")]
    EmptyPortfolio {
        /// The portfolio's id.
        portfolio: String,
    },
    /// A query without targets, with `K = 0`, `N = 0` or `J = 0`.
    #[error("invalid query: {reason}")]
    InvalidQuery {
        /// What is wrong.
        reason: String,
    },
    /// The MiFID filter needs the target's adequacy, and it is missing (or the schema has none).
    #[error("customer `{customer}` has no adequacy level: the MiFID filter cannot be applied")]
    MissingAdequacy {
        /// The customer's id.
        customer: String,
    },
    /// The query ran past its deadline.
    #[error("query deadline exceeded")]
    DeadlineExceeded,
    /// Cluster parameters that cannot work (k = 0, k larger than the case base…).
    #[error("invalid clustering parameters: {reason}")]
    InvalidClustering {
        /// What is wrong.
        reason: String,
    },
    /// A malformed input file.
    #[error("{path}: {reason}")]
    Parse {
        /// The file (or `"<json>"`, `"<csv>"` for in-memory input).
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A malformed message from the server (client side) or a server set-up problem.
    #[error("protocol error: {reason}")]
    Protocol {
        /// What is wrong.
        reason: String,
    },
    /// An I/O error.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// The crate's result type.
pub type Result<T, E = CbrError> = std::result::Result<T, E>;
