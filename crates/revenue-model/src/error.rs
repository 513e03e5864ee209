//! The crate's one error type.

use std::path::PathBuf;

use fundalloc_core_types::{Empty, InvalidParameter, NonFinite, ShapeMismatch, TooLarge};

/// Everything that can go wrong in `fundalloc-revenue-model`.
///
/// Every variant carries the data needed to find the cause (file, line, column, field, value).
/// The shared leaf errors of `fundalloc-core-types` are embedded as they are. Not `Clone`:
/// [`Io`](Self::Io) holds the `std::io::Error`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevenueModelError {
    /// A parameter is outside its valid range.
    #[error(transparent)]
    InvalidParameter(#[from] InvalidParameter),
    /// An input is empty where at least one element is needed.
    #[error(transparent)]
    Empty(#[from] Empty),
    /// Two inputs disagree in shape.
    #[error(transparent)]
    ShapeMismatch(#[from] ShapeMismatch),
    /// A value is NaN or infinite (its cell: row and column).
    #[error(transparent)]
    NonFinite(#[from] NonFinite),
    /// A size (from a caller or read from a model file) is larger than this crate accepts;
    /// nothing of that size was allocated.
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    /// A label is invalid (negative revenue, conversion not 0/1, revenue without conversion...).
    #[error("invalid label in row {row}: {reason}")]
    InvalidLabel {
        /// Row index.
        row: usize,
        /// What is wrong.
        reason: String,
    },
    /// A categorical code is not below the feature's cardinality.
    #[error(
        "categorical feature `{feature}`: code {code} in row {row} is >= cardinality {cardinality}"
    )]
    CategoryOutOfRange {
        /// Feature name.
        feature: String,
        /// Row index.
        row: usize,
        /// The code.
        code: u32,
        /// The feature's cardinality.
        cardinality: u32,
    },
    /// A CSV file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The CSV parser failed (bad quoting, ragged row...).
    #[error("{path}: CSV error at line {line}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0 if unknown).
        line: u64,
        /// The parser's message.
        message: String,
    },
    /// A column named in the schema is not in the CSV header.
    #[error("{path}: column `{column}` not found in the header")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column name.
        column: String,
    },
    /// A CSV cell could not be parsed.
    #[error("{path}: line {line}, column `{column}`: cannot parse {value:?} as {expected}")]
    BadCell {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The column name.
        column: String,
        /// The cell text.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The operation needs an output this model kind does not produce.
    #[error("model {model} does not predict {what}")]
    Unsupported {
        /// The model's name.
        model: &'static str,
        /// The missing output.
        what: &'static str,
    },
    /// Training diverged (loss became NaN or infinite).
    #[error("training diverged at epoch {epoch}: loss = {loss}")]
    Diverged {
        /// The epoch.
        epoch: usize,
        /// The loss.
        loss: f64,
    },
    /// A saved model file is not valid.
    #[error("corrupt model file: {reason}")]
    CorruptModel {
        /// What is wrong.
        reason: String,
    },
    /// A saved model file has a format version this crate cannot read.
    #[error("model file format version {found}, this crate reads version {expected}")]
    VersionMismatch {
        /// Version the crate reads.
        expected: u32,
        /// Version found.
        found: u32,
    },
    /// A saved model was trained on another feature schema.
    #[error("model schema mismatch: {reason}")]
    SchemaMismatch {
        /// What differs.
        reason: String,
    },
    /// A tensor could not be read back from the backend.
    #[error("backend error: {message}")]
    Backend {
        /// The backend's message.
        message: String,
    },
    /// An error of the shared domain types.
    #[error(transparent)]
    Core(#[from] fundalloc_core_types::CoreError),
}

/// `Result` with [`RevenueModelError`].
pub type Result<T, E = RevenueModelError> = std::result::Result<T, E>;
