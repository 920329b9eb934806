//! Errors of the contract crate: problems with the project's own schema or
//! reference files, or I/O while reading a return. Problems *in* a return are
//! not errors: they are [`crate::Finding`]s in a [`crate::Report`].

use thiserror::Error;

/// Result alias of this crate.
pub type Result<T, E = ContractError> = std::result::Result<T, E>;

/// Something that stops the contract machinery itself from working.
#[derive(Debug, Error)]
pub enum ContractError {
    /// A schema file under `schemas/` is malformed.
    #[error("schema file {file}: {message}; fix the file (see docs/returns.md for the format)")]
    Schema { file: String, message: String },
    /// A reference file (member registry, ISO codes) is malformed.
    #[error("reference file {file}: {message}")]
    Reference { file: String, message: String },
    /// The dataset named by the user does not exist.
    #[error("unknown dataset '{name}'; the datasets are: {known}{hint}")]
    UnknownDataset { name: String, known: String, hint: String },
    /// Arrow failed while building a batch (a bug or a resource problem, not bad input).
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Parquet failed while writing.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Reading or writing a local file failed.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Reading from object storage failed.
    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),
    /// Serialising a report failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}
