//! Who may do what: the web front's accounts, kept in the lake, and the one
//! rule book every route consults.
//!
//! An account is a focal point (bound to one member), the secretariat, a
//! co-chair's office or an observer (read-only). Accounts live in the lake as
//! one object per change (`accounts/{name}/v000001.json`, …, each created
//! with a conditional create, so two administrators changing one account at
//! once cannot both win and the history is kept); passwords are argon2
//! hashes; failed logins are recorded beside the account and throttle it
//! across every server instance. [`authorize`] holds every role and member
//! rule; the CLI's `fedreport user` verbs and the web front both call this
//! crate.
//!
//! It does not serve pages or keep sessions (`fedreport-web`).

mod accounts;
mod policy;

pub use accounts::{Account, Accounts, LoginOutcome, MAX_FAILURES, MIN_PASSWORD, NewAccount, Role, WINDOW_SECS};
pub use policy::{Action, Denied, authorize};

use thiserror::Error;

/// Result alias of this crate.
pub type Result<T, E = AccessError> = std::result::Result<T, E>;

/// Something that stops an account operation.
#[derive(Debug, Error)]
pub enum AccessError {
    /// A request that cannot be met, said for people (unknown account, weak password, …).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] fedreport_store::StoreError),
    #[error("account record {key}: {source}")]
    Json {
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("password hashing failed: {0}")]
    Hash(String),
}
