//! Submission: validate a return locally, then put it into the member's
//! inbox under a fresh submission id. Nothing is overwritten: the inbox key
//! is created with a conditional put.

use bytes::Bytes;
use fedreport_contract::{Expected, Report, Validator};

use crate::error::{Result, StoreError};
use crate::lake::{Created, Lake};
use crate::layout::{self, SubmissionName};

/// The outcome of a submission attempt.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The local validation report.
    pub report: Report,
    /// Submission id and inbox key, when the file was valid and submitted.
    pub submission: Option<(String, String)>,
}

/// Validate `bytes` (named `file`) for `member` and, when valid, put them
/// into the member's inbox.
pub async fn submit(
    lake: &Lake,
    validator: &Validator,
    bytes: Bytes,
    file: &str,
    member: &str,
    dataset: Option<&str>,
    year: Option<i32>,
) -> Result<Submitted> {
    if !validator.registry().is_reporting_member(member) {
        return Err(StoreError::Invalid(format!(
            "'{member}' is not a state or territory of the member registry; see `fedreport schema` or reference/members.csv"
        )));
    }
    let expected = Expected { dataset: dataset.map(str::to_string), member: Some(member.to_string()), year };
    let report = validator.validate_bytes(bytes.clone(), file, &expected).await.report;
    if !report.is_valid() {
        return Ok(Submitted { report, submission: None });
    }
    let ext = if report.format == "csv" { "csv" } else { "parquet" };
    loop {
        let name = SubmissionName {
            id: layout::new_submission_id(chrono::Utc::now()),
            dataset: report.dataset.clone(),
            year: report.year,
        };
        let key = format!("{}{}", layout::inbox(member), name.file_name(ext));
        if lake.put_new(&key, bytes.clone()).await? == Created::Written {
            return Ok(Submitted { report, submission: Some((name.id, key)) });
        }
    }
}
