//! Handlers, one module per area of the site. Each parses, asks
//! `fedreport_access::authorize`, calls the library and renders a page.

use crate::error::{AppError, Result};

/// An id from the address (`u-…`, `r-…`, `j-…`, `s-…`) that can only name
/// an object of its own kind: its prefix, at most 64 letters, digits and
/// dashes, so nothing in it climbs out of the folder it is looked up in.
pub fn checked_id(id: &str, prefix: &str, what: &str) -> Result<()> {
    let ok = id.starts_with(prefix) && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok { Ok(()) } else { Err(AppError::NotFound(format!("there is no {what} {id}"))) }
}

/// A member code of the registry that reports, or 404.
pub fn member_code(state: &crate::state::AppState, member: &str) -> Result<()> {
    if state.forum().contract.registry().is_reporting_member(member) {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("'{member}' is not a member that reports")))
    }
}

pub mod assets;
pub mod board;
pub mod contract;
pub mod cycle;
pub mod drafts;
pub mod home;
pub mod returns;
pub mod runs;
