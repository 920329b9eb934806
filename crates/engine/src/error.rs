//! Errors of the pipeline engine.

use thiserror::Error;

/// Result alias of this crate.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Something that stops a pipeline run.
#[derive(Debug, Error)]
pub enum EngineError {
    /// The pipeline folder or its `pipeline.toml` is wrong.
    #[error("pipeline {file}: {message}")]
    Pipeline { file: String, message: String },
    /// A SQL step failed: the file, the line and DataFusion's message.
    #[error("{file}:{line}: {message}\n  (edit the SQL file and run again; nothing needs recompiling)")]
    Sql { file: String, line: usize, message: String },
    /// A pinned input changed or vanished (replay of a run whose inputs are gone).
    #[error("input {key}: {message}")]
    Input { key: String, message: String },
    /// A manifest could not be read.
    #[error("manifest {path}: {message}")]
    Manifest { path: String, message: String },
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("arrow: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("parquet: {0}")]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),
    #[error(transparent)]
    Store(#[from] fedreport_store::StoreError),
    #[error(transparent)]
    Contract(#[from] fedreport_contract::ContractError),
    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
