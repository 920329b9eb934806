//! fedreport's integration tests: one binary so everything links once.
//!
//! Test data lives beside this folder: `tests/returns/` holds return files
//! (one folder of invalid files named after the rule they break, one of
//! valid files, and files written by pandas, polars, DuckDB and pyarrow).

mod azure;
#[cfg(feature = "ballista")]
mod ballista;
mod cli;
mod faults;
mod fuzz;
mod intake;
mod pipeline;
mod render;
mod returns;
mod s3;
mod writers;

use std::path::PathBuf;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// Run a future to completion on a fresh runtime.
pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(f)
}
