//! The Standard Return v1 contract and its enforcement.
//!
//! This crate owns what a *return* is: the dataset schemas loaded from the
//! project's `schemas/*.toml` files, the member registry and ISO 3166 code list
//! from `reference/`, the readers that turn a Parquet or CSV file into Arrow
//! record batches, and the validator that converts lenient physical types into
//! the canonical ones and collects every finding with its rule code, row,
//! column and value.
//!
//! It does not know where files are stored or what happens to them after
//! validation: storage, intake and receipts belong to `fedreport-store`.

mod convert;
pub mod error;
pub mod finding;
pub mod read;
pub mod registry;
pub mod schema;
pub mod template;
pub mod validate;

pub use error::{ContractError, Result};
pub use finding::{Finding, Report, RuleCode, Severity};
pub use registry::{Member, MemberKind, Registry};
pub use schema::{ColType, Column, DatasetSchema, RowRule, Schemas};
pub use validate::{Expected, ValidateOptions, Validated, Validator};
