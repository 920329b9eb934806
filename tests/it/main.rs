//! fedreport's integration tests: one binary so everything links once.
//!
//! Test data lives beside this folder: `tests/returns/` holds return files
//! (one folder of invalid files named after the rule they break, one of
//! valid files, and files written by pandas, polars, DuckDB and pyarrow).

mod azure;
#[cfg(feature = "ballista")]
mod ballista;
mod browser;
mod cli;
mod codes;
mod cycle;
mod docx;
mod drafts;
mod faults;
mod forum;
mod fuzz;
mod incremental;
mod intake;
mod office;
mod pipeline;
mod render;
mod returns;
mod s3;
mod sdmx;
mod support;
mod web;
mod writers;
mod xlsx_intake;

use std::path::PathBuf;
use std::sync::OnceLock;

use fedreport_contract::Contract;
use fedreport_forum::Forum;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// Run a future to completion on a fresh runtime.
pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(f)
}

/// The Bali Process forum as shipped, loaded once.
pub fn bali() -> &'static Forum {
    static FORUM: OnceLock<Forum> = OnceLock::new();
    FORUM.get_or_init(Forum::bali)
}

/// The Bali Process's contract (Standard Return v1 and its registry).
pub fn contract() -> &'static Contract {
    &bali().contract
}
