//! The indicator pipeline on DataFusion.
//!
//! This crate owns what happens between the accepted returns and the
//! indicator tables: loading a pipeline folder (`pipelines/som/`: a
//! `pipeline.toml` and one `.sql` file per table), pinning the current
//! accepted version of every return at the start of a run and compacting them
//! into one Parquet part per dataset and year (rebuilding only the parts a new
//! or revised return belongs to), building the DataFusion session (the
//! single place a runtime is made from a lake, see [`session::runtime_for`]),
//! running the steps in dependency order — `per_return` steps incrementally,
//! recomputing only the returns that changed ([`incremental`]) — disclosure control, writing every
//! table as Parquet and CSV with a manifest (the type lives in
//! `fedreport_store::manifest`, beside the run layout), and replaying a past run.
//!
//! It does not validate returns (`fedreport-contract`) or decide submissions
//! (`fedreport-store`), and it never renders documents (`fedreport-render`).

pub mod codes;
pub mod disclosure;
pub mod error;
pub mod incremental;
pub mod output;
pub mod pin;
pub mod pipeline;
pub mod run;
pub mod session;

pub use error::{EngineError, Result};
pub use fedreport_store::manifest::{self, Manifest};
pub use pipeline::Pipeline;
pub use run::{Progress, RunOptions, RunOutcome, replay, replay_on, run};
pub use session::{Engine, Local};
