//! The crate's error type and the small enums that say what exactly was wrong.

use std::fmt;

use fundalloc_core_types::{
    Cancelled, CoreError, CustomerId, Empty, FundId, InvalidParameter, NonFinite, ShapeMismatch,
    TooLarge,
};

use crate::PortfolioId;

/// Everything that can go wrong in this crate (except wire-protocol errors of a request, which
/// are answers: see [`ErrorCode`](crate::ErrorCode)).
///
/// Not `Clone`/`PartialEq` only because of [`CbrError::Io`] (`std::io::Error` is neither).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CbrError {
    /// A parameter outside its domain (`K = 0`, a zero deadline, a fraction outside (0, 1]…).
    #[error(transparent)]
    InvalidParameter(#[from] InvalidParameter),
    /// Two inputs that must agree in size do not.
    #[error(transparent)]
    ShapeMismatch(#[from] ShapeMismatch),
    /// A NaN or infinite number where a finite one is required.
    #[error(transparent)]
    NonFinite(#[from] NonFinite),
    /// An input that must not be empty is (a query without targets…).
    #[error(transparent)]
    Empty(#[from] Empty),
    /// A size larger than this crate accepts: nothing of that size was allocated.
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    /// A computation stopped by its [`CancelToken`](fundalloc_core_types::CancelToken): past
    /// the query deadline or cancelled.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
    /// An error of a core-types constructor.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A feature weight outside the paper's levels 1 (low), 2 (medium), 3 (high).
    #[error("weight of `{feature}` is {weight}; weights must be 1, 2 or 3")]
    InvalidWeight {
        /// The feature's name (`"portfolios"` for the portfolio feature).
        feature: String,
        /// The offending weight.
        weight: u8,
    },
    /// A schema that is inconsistent.
    #[error("invalid schema: feature `{feature}` {problem}")]
    InvalidSchema {
        /// The feature concerned.
        feature: String,
        /// What is wrong with it.
        problem: SchemaProblem,
    },
    /// A nominal distance matrix of the wrong shape or with entries outside `[0, 1]`.
    #[error("distance matrix of `{feature}`: {problem}")]
    InvalidDistanceMatrix {
        /// The feature's name.
        feature: String,
        /// What is wrong.
        problem: MatrixProblem,
    },
    /// A customer record naming a feature the schema does not have.
    #[error("customer `{customer}`: unknown feature `{feature}`")]
    UnknownFeature {
        /// The customer's id.
        customer: CustomerId,
        /// The feature's name.
        feature: String,
    },
    /// A linear feature value that is NaN or infinite (use `None` for missing values).
    #[error("customer `{customer}`: feature `{feature}` is not finite ({value})")]
    NonFiniteFeature {
        /// The customer's id.
        customer: CustomerId,
        /// The feature's name.
        feature: String,
        /// The value.
        value: f64,
    },
    /// A linear value that would make the feature's range (max − min) overflow to infinity
    /// (e.g. −1e308 and 1e308): every distance on that feature would silently become 0.
    #[error("customer `{customer}`: feature `{feature}` = {value} makes its range infinite")]
    RangeOverflow {
        /// The customer's id.
        customer: CustomerId,
        /// The feature's name.
        feature: String,
        /// The value.
        value: f64,
    },
    /// A nominal value that is not one of the feature's categories.
    #[error("customer `{customer}`: `{value}` is not a category of `{feature}`")]
    UnknownCategory {
        /// The customer's id.
        customer: CustomerId,
        /// The feature's name.
        feature: String,
        /// The value, written out.
        value: String,
    },
    /// A value of the wrong kind (a number for a nominal feature, text for a linear one).
    #[error("customer `{customer}`: feature `{feature}` expects {expected}")]
    WrongValueKind {
        /// The customer's id.
        customer: CustomerId,
        /// The feature's name.
        feature: String,
        /// What was expected.
        expected: ValueKind,
    },
    /// Two customers, portfolios or products with the same id.
    #[error("duplicate {what} id `{id}`")]
    DuplicateId {
        /// Which kind of id.
        what: IdKind,
        /// The id.
        id: String,
    },
    /// A customer id that is not in the case base.
    #[error("unknown customer `{id}`")]
    UnknownCustomer {
        /// The id.
        id: CustomerId,
    },
    /// A holding of a product that is not in the catalogue.
    #[error("portfolio `{portfolio}` holds unknown product `{product}`")]
    UnknownProduct {
        /// The portfolio's id.
        portfolio: PortfolioId,
        /// The product's code.
        product: FundId,
    },
    /// A portfolio share that is negative, NaN or infinite.
    #[error(
        "portfolio `{portfolio}`: share of `{product}` is {share}; shares must be finite and >= 0"
    )]
    InvalidShare {
        /// The portfolio's id.
        portfolio: PortfolioId,
        /// The product's code.
        product: FundId,
        /// The share.
        share: f64,
    },
    /// A portfolio whose shares are all zero (or sum to more than `f64` holds): its cosine
    /// distance is undefined.
    #[error("portfolio `{portfolio}` is empty (all shares are zero) or its shares overflow")]
    EmptyPortfolio {
        /// The portfolio's id.
        portfolio: PortfolioId,
    },
    /// The MiFID filter needs the target's adequacy, and it is missing (or the schema has none).
    #[error("customer `{customer}` has no adequacy level: the MiFID filter cannot be applied")]
    MissingAdequacy {
        /// The customer's id.
        customer: CustomerId,
    },
    /// Clustering asked for more clusters than cases clustered.
    #[error("k = {k} clusters exceed the {cases} cases clustered")]
    TooFewCases {
        /// Clusters asked for.
        k: usize,
        /// Cases available.
        cases: usize,
    },
    /// A malformed input file.
    #[error("{input}{}: {problem}", record.map_or_else(String::new, |r| format!(", record {r}")))]
    Parse {
        /// Which input.
        input: Input,
        /// The 1-based data record (CSV), when known.
        record: Option<usize>,
        /// What is wrong.
        problem: ParseProblem,
    },
    /// A malformed or unexpected message from the server (client side), or a set-up that
    /// cannot be served on the wire.
    #[error("protocol error: {0}")]
    Protocol(ProtocolProblem),
    /// The case store (database) refused, lost or holds bad data: which table, which row
    /// (its key, when known) and what.
    #[error("case store, table `{table}`{}: {problem}", row.as_ref().map_or_else(String::new, |r| format!(", row {r}")))]
    Store {
        /// The table concerned (`schema_migrations` for version problems).
        table: String,
        /// The row's key (`seq=17`, a customer id…), when known.
        row: Option<String>,
        /// What is wrong.
        problem: StoreProblem,
    },
    /// An I/O error.
    #[error("I/O error: {0}")]
    Io(#[source] std::io::Error),
}

impl From<std::io::Error> for CbrError {
    fn from(e: std::io::Error) -> Self {
        CbrError::Io(e)
    }
}

/// What is wrong with a feature of a schema ([`CbrError::InvalidSchema`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchemaProblem {
    /// The name is empty, the reserved `id`, or used twice.
    BadName,
    /// A nominal feature needs 1 to 65,534 categories.
    CategoryCount(usize),
    /// A category name appears twice.
    RepeatedCategory(String),
    /// The adequacy feature is not in the schema.
    UnknownAdequacyFeature,
    /// The adequacy feature must be linear.
    NominalAdequacyFeature,
}

impl fmt::Display for SchemaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadName => f.write_str("has an empty, reserved or repeated name"),
            Self::CategoryCount(n) => write!(f, "needs 1..=65534 categories, has {n}"),
            Self::RepeatedCategory(c) => write!(f, "repeats category `{c}`"),
            Self::UnknownAdequacyFeature => f.write_str("(adequacy) is not in the schema"),
            Self::NominalAdequacyFeature => f.write_str("(adequacy) must be linear"),
        }
    }
}

/// What is wrong with a nominal distance matrix ([`CbrError::InvalidDistanceMatrix`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MatrixProblem {
    /// The matrix is not `n × n` for `n` categories.
    NotSquare {
        /// The number of categories.
        categories: usize,
    },
    /// An entry outside `[0, 1]` (NaN included).
    OutOfRange {
        /// Row.
        row: usize,
        /// Column.
        col: usize,
        /// The entry.
        value: f64,
    },
    /// A non-zero diagonal entry.
    NonZeroDiagonal {
        /// Row and column.
        index: usize,
        /// The entry.
        value: f64,
    },
}

impl fmt::Display for MatrixProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotSquare { categories: n } => write!(f, "must be {n} x {n}"),
            Self::OutOfRange { row, col, value } => {
                write!(f, "entry ({row}, {col}) = {value} is outside [0, 1]")
            }
            Self::NonZeroDiagonal { index, value } => {
                write!(f, "diagonal entry ({index}, {index}) = {value} must be 0")
            }
        }
    }
}

/// The kind of value a feature expects ([`CbrError::WrongValueKind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueKind {
    /// A linear feature takes a number.
    Number,
    /// A nominal feature takes a category name or index.
    Category,
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Number => "a number",
            Self::Category => "a category",
        })
    }
}

/// Which kind of id is repeated ([`CbrError::DuplicateId`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdKind {
    /// A customer id.
    Customer,
    /// A portfolio id within one customer.
    Portfolio,
    /// A product code in the catalogue.
    Product,
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Customer => "customer",
            Self::Portfolio => "portfolio",
            Self::Product => "product",
        })
    }
}

/// Which input a [`CbrError::Parse`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input {
    /// A case base in JSON.
    CaseBaseJson,
    /// The customers CSV of [`CaseBase::from_csv`](crate::CaseBase::from_csv).
    CustomersCsv,
    /// The holdings CSV of [`CaseBase::from_csv`](crate::CaseBase::from_csv).
    HoldingsCsv,
    /// A products CSV ([`Catalogue::from_csv`](crate::Catalogue::from_csv)).
    ProductsCsv,
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CaseBaseJson => "<case base json>",
            Self::CustomersCsv => "<customers csv>",
            Self::HoldingsCsv => "<holdings csv>",
            Self::ProductsCsv => "<products csv>",
        })
    }
}

/// What is wrong in an input file ([`CbrError::Parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseProblem {
    /// The JSON or CSV reader's own message (syntax, a missing field, a wrong type).
    Syntax(String),
    /// A cell of a linear feature that is not a number.
    NotANumber(String),
    /// A column that is not a feature of the schema.
    UnknownColumn(String),
    /// The first column of the customers CSV must be `id`.
    MissingIdColumn,
    /// An issuer that is not `C`/`G` (`corporate`/`government`).
    UnknownIssuer(String),
    /// A rate that is not `F`/`V`/`C` (`fixed`/`variable`/`floating_cap`).
    UnknownRate(String),
}

impl fmt::Display for ParseProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(m) => f.write_str(m),
            Self::NotANumber(c) => write!(f, "`{c}` is not a number"),
            Self::UnknownColumn(c) => write!(f, "unknown column `{c}`"),
            Self::MissingIdColumn => f.write_str("first column must be `id`"),
            Self::UnknownIssuer(s) => write!(f, "issuer `{s}` is not C or G"),
            Self::UnknownRate(s) => write!(f, "rate `{s}` is not F, V or C"),
        }
    }
}

/// What went wrong talking the line protocol ([`CbrError::Protocol`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolProblem {
    /// The address resolved to nothing.
    NoAddress,
    /// The server closed the connection before the end of a response.
    Closed,
    /// The response exceeds the client's limit.
    ResponseTooLarge,
    /// The response is not well formed.
    Malformed(ResponseProblem),
    /// The response answers another query than the one sent.
    WrongQueryCode {
        /// The query code sent.
        sent: String,
        /// The query code in the response (`None`: the server could not read it).
        received: Option<String>,
    },
    /// No complete response arrived within the client's deadline (the connection is closed:
    /// a late answer can never be taken for the next query's).
    Timeout,
    /// The client was closed after an earlier timeout or protocol error; connect again.
    Unusable,
    /// A product code that cannot be sent on the wire (empty, or with `;` or a control
    /// character).
    UnsendableProduct(FundId),
}

impl fmt::Display for ProtocolProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoAddress => f.write_str("no address to connect to"),
            Self::Closed => f.write_str("connection closed before the end of the response"),
            Self::ResponseTooLarge => f.write_str("response too large"),
            Self::Malformed(p) => write!(f, "malformed response: {p}"),
            Self::WrongQueryCode { sent, received } => write!(
                f,
                "response to query `{}`, expected `{sent}`",
                received.as_deref().unwrap_or("NULL")
            ),
            Self::Timeout => f.write_str("no response within the deadline"),
            Self::Unusable => f.write_str("client closed after an earlier failure"),
            Self::UnsendableProduct(id) => {
                write!(f, "product code `{id}` cannot be sent on the wire")
            }
        }
    }
}

/// What is malformed in a response ([`parse_response`](crate::parse_response)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseProblem {
    /// Fewer than 3 lines, or no final `.` line.
    TooShort,
    /// The first line is neither `A1` nor `E1`.
    UnknownCommand(String),
    /// An answer line that is not `asset;F,AP,ADC,ADP` with finite numbers.
    BadAnswerLine(String),
    /// An error answer without exactly one `code;message` line.
    BadErrorLine,
    /// An error code that is not an [`ErrorCode`](crate::ErrorCode).
    UnknownErrorCode(String),
}

impl fmt::Display for ResponseProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort => f.write_str("a response has at least 3 lines and ends with '.'"),
            Self::UnknownCommand(c) => write!(f, "unknown command `{c}`"),
            Self::BadAnswerLine(l) => write!(f, "malformed answer line `{l}`"),
            Self::BadErrorLine => f.write_str("an error answer has one `code;message` line"),
            Self::UnknownErrorCode(c) => write!(f, "unknown error code `{c}`"),
        }
    }
}

/// What went wrong in the case store ([`CbrError::Store`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StoreProblem {
    /// The file is not a database or the database is damaged (the backend's message).
    Corrupt(String),
    /// A table the code needs does not exist.
    MissingTable,
    /// The database was written by a newer version of this crate: it is not touched.
    NewerSchema {
        /// The database's schema version.
        found: u32,
        /// The newest version this code knows.
        supported: u32,
    },
    /// The database holds no case base yet (import one first).
    NoCaseBase,
    /// A key that must be unique appears twice.
    DuplicateId,
    /// A holding share that is NaN, infinite or negative.
    InvalidShare(f64),
    /// A row refers to a row of another table that does not exist.
    DanglingReference {
        /// The table referred to.
        to: String,
        /// The missing key.
        key: String,
    },
    /// A value that is not valid for its column (a non-finite feature, an unknown category
    /// code, a bad kind or weight…).
    InvalidValue(String),
    /// The database stayed locked by another writer past the busy timeout; retry.
    Busy,
    /// The database server cannot be reached (connection lost or refused); the store
    /// reconnects with backoff, retry.
    Unavailable(String),
    /// Any other error of the database (the backend's message).
    Backend(String),
}

impl fmt::Display for StoreProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Corrupt(m) => write!(f, "corrupt database: {m}"),
            Self::MissingTable => f.write_str("table missing"),
            Self::NewerSchema { found, supported } => write!(
                f,
                "database schema version {found} is newer than this code's {supported}"
            ),
            Self::NoCaseBase => f.write_str("no case base stored (import one first)"),
            Self::DuplicateId => f.write_str("duplicate key"),
            Self::InvalidShare(s) => write!(f, "share {s} is not finite and >= 0"),
            Self::DanglingReference { to, key } => {
                write!(f, "refers to `{key}`, which is not in table `{to}`")
            }
            Self::InvalidValue(m) => write!(f, "invalid value: {m}"),
            Self::Busy => f.write_str("database locked by another writer (busy timeout)"),
            Self::Unavailable(m) => write!(f, "database unavailable: {m}"),
            Self::Backend(m) => write!(f, "database error: {m}"),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = CbrError> = std::result::Result<T, E>;
