//! Errors of rendering.

use thiserror::Error;

/// Result alias of this crate.
pub type Result<T, E = RenderError> = std::result::Result<T, E>;

/// Something that stops a draft from being rendered.
#[derive(Debug, Error)]
pub enum RenderError {
    /// The meeting file is wrong: the field and what to do.
    #[error("meeting file {file}: {message}")]
    Meeting { file: String, message: String },
    /// A template failed (a missing value is an error: undefined is strict).
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
    /// The run folder is incomplete or unreadable.
    #[error("run {path}: {message}")]
    Run { path: String, message: String },
    #[error("chart {0}")]
    Chart(String),
    /// Reading the run from the lake failed.
    #[error(transparent)]
    Store(#[from] fedreport_store::StoreError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
