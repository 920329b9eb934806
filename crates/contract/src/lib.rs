//! The return contract (Standard Return v1 for the Bali Process) and its
//! enforcement.
//!
//! This crate owns what a *return* is: the [`Contract`] of a forum (its
//! dataset schemas, parsed from `schemas/*.toml` files, and its member
//! registry with the ISO 3166 code list), the readers that turn a Parquet or
//! CSV file into Arrow record batches, the validator that converts lenient
//! physical types into the canonical ones and collects every finding with its
//! rule code, row, column and value, the canonical Parquet writer, and the
//! empty templates focal points fill.
//!
//! It does not know where files are stored or what happens to them after
//! validation: storage, intake and receipts belong to `fedreport-store`.

pub mod canonical;
pub mod contract;
mod convert;
pub mod error;
pub mod finding;
pub mod read;
pub mod registry;
pub mod schema;
pub mod template;
pub mod validate;

pub use contract::Contract;
pub use error::{ContractError, Result};
pub use finding::{Finding, Report, RuleCode, Severity};
pub use registry::{Member, MemberKind, Registry};
pub use schema::{ColType, Column, DatasetSchema, RowRule, Schemas};
pub use validate::{Expected, ValidateOptions, Validated, Validator};
