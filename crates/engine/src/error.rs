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
    /// A SQL step failed: the file, the line (where DataFusion located the
    /// problem) and DataFusion's message.
    #[error("{file}{}: {message}\n  (edit the SQL file and run again; nothing needs recompiling)", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Sql { file: String, line: Option<u64>, message: String },
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

/// A DataFusion error in a SQL file, located at the line DataFusion's
/// diagnostic points to (collected when `sql_parser.collect_spans` is on),
/// or, for errors of the SQL parser itself, the line its message names.
pub(crate) fn sql_error(file: String, e: &datafusion::error::DataFusionError) -> EngineError {
    let message = e.to_string();
    let line = e.diagnostic().and_then(|d| d.span).map(|s| s.start.line).filter(|l| *l > 0).or_else(|| {
        let at = message.find("Line: ")?;
        message[at + 6..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
    });
    EngineError::Sql { file, line, message }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

    fn located(sql: &str) -> Option<u64> {
        let config = crate::session::config(1);
        let ctx = SessionContext::new_with_config(config);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            ctx.sql("CREATE TABLE t AS VALUES (1, 2)").await.unwrap().collect().await.unwrap();
            match ctx.sql(sql).await {
                Ok(_) => None,
                Err(e) => match sql_error("f.sql".into(), &e) {
                    EngineError::Sql { line, .. } => line,
                    _ => None,
                },
            }
        })
    }

    #[test]
    fn sql_errors_point_at_their_line() {
        assert_eq!(located("SELECT column1,\n  column2\nFROM t\nWHERE nope = 1"), Some(4));
        assert_eq!(located("SELECT column1,\n  column2\nFROM FROM t"), Some(3));
        assert_eq!(located("SELECT column1\nFROM\n  no_such_table"), Some(3));
    }
}
