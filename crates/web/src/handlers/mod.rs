//! Handlers, one module per area of the site. Each parses, asks
//! `fedreport_access::authorize`, calls the library and renders a page.

pub mod assets;
pub mod board;
pub mod contract;
pub mod drafts;
pub mod home;
pub mod returns;
pub mod runs;
