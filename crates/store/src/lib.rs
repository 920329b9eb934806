//! Storage and intake: where returns live and what happens to them.
//!
//! This crate owns the lake layout (inbox, accepted versions, rejected
//! submissions, receipts), the single place that turns a lake location — a
//! local folder or an object-store URL — into an [`object_store::ObjectStore`]
//! ([`lake::build_store`]), submission into a member's inbox, the intake that
//! decides every pending inbox file, the read side (receipts, the current
//! accepted versions, the completeness board), the run manifest with
//! reading a run's published tables back, the hash-chained audit log
//! ([`audit`]) and the states of the reporting cycle people act on, folded
//! from that log ([`cycle`]): return review, cycle locks, draft clearance;
//! and the intake ledger ([`ledger`]), the record of what intake took in
//! that lets a run know the current returns without listing the lake.
//!
//! It relies only on the object-store API — conditional creates
//! (`PutMode::Create`) for anything immutable — never on a file system.

pub mod audit;
pub mod cycle;
pub mod error;
pub mod intake;
pub mod lake;
pub mod layout;
pub mod ledger;
pub mod manifest;
pub mod policy;
pub mod receipt;
pub mod status;
pub mod submit;

pub use error::{Result, StoreError};
pub use intake::{Decision, IntakeOptions, IntakeSummary, intake, intake_one};
pub use lake::{Lake, build_store, build_store_with, store_options_from_env};
pub use layout::{SubmissionName, VersionInfo};
pub use ledger::current_versions;
pub use manifest::{Manifest, Param};
pub use receipt::{Receipt, Status};
pub use status::{Board, CellState, listed_versions};
pub use submit::{Submitted, submit, submit_object};
