//! Errors of storage and intake. Bad *returns* are not errors (they are
//! rejected with a receipt); these are problems reaching or using the lake.

use thiserror::Error;

/// Result alias of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Something went wrong with the lake itself.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The lake location cannot be understood.
    #[error("lake '{location}': {message}")]
    Location { location: String, message: String },
    /// The object store failed.
    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),
    /// A stored JSON document (receipt) is malformed.
    #[error("{path}: {source}")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    /// The contract machinery failed (not a bad return: those are findings).
    #[error(transparent)]
    Contract(#[from] fedreport_contract::ContractError),
    /// A parquet footer could not be read from an accepted version.
    #[error("accepted version {path} is unreadable: {message}")]
    Version { path: String, message: String },
    /// A request that cannot be met (unknown member, file not found, …).
    #[error("{0}")]
    Invalid(String),
    /// An action the state of the cycle does not allow, with exactly why
    /// (who locked it, when, their reason) and what to do instead.
    #[error("{0}")]
    Refused(String),
}
