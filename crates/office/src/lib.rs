//! Office and exchange formats: what focal points and co-chairs' offices
//! open in Excel and Word, and what statistical systems read. This crate owns
//! the Excel return template ([`xlsx::template`]: one workbook per dataset,
//! written from the dataset's schema and the forum's registry, never by hand)
//! and the SDMX export of a run ([`sdmx::export`]), and the drafts as Word
//! documents ([`docx::from_markdown`], with the changes since an earlier
//! draft as tracked changes, and the briefing's charts as pictures drawn by
//! [`chart::picture`]). Reading Excel returns belongs to
//! `fedreport-contract`, with the other readers.

pub mod chart;
pub mod docx;
pub mod sdmx;
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
    /// A Word document could not be made.
    #[error("cannot write the Word draft: {message}")]
    Docx { message: String },
    /// A chart could not be drawn as a picture.
    #[error("cannot draw the chart {id} for the Word draft: {message}")]
    Chart { id: String, message: String },
    /// An SDMX file could not be made.
    #[error("cannot write the SDMX export ({what}): {message}")]
    Sdmx { what: String, message: String },
}

/// Result alias of this crate.
pub type Result<T, E = OfficeError> = std::result::Result<T, E>;
