//! Office formats: what focal points and co-chairs' offices open in Excel
//! and Word. This crate owns the Excel return template ([`xlsx::template`]):
//! one workbook per dataset, written from the dataset's schema and the
//! forum's registry, never by hand.

pub mod xlsx;

/// Something went wrong writing an office file.
#[derive(Debug, thiserror::Error)]
pub enum OfficeError {
    /// The Excel writer refused what it was given.
    #[error("cannot write the Excel template for {dataset}: {source}")]
    Xlsx {
        dataset: String,
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
}

/// Result alias of this crate.
pub type Result<T, E = OfficeError> = std::result::Result<T, E>;
