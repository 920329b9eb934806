//! Submission: validate a return locally, then put it into the member's
//! inbox under a fresh submission id. Nothing is overwritten: the inbox key
//! is created with a conditional put.

use std::sync::Arc;

use bytes::Bytes;
use fedreport_contract::{Expected, Report, Validator};
use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::error::{Result, StoreError};
use crate::intake::{MULTIPART_FROM, PART};
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
    let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let path = Path::from("submission");
    store.put(&path, bytes.into()).await?;
    submit_object(lake, validator, store, &path, file, member, dataset, year).await
}

/// Validate a file held in any store (a local file through
/// `LocalFileSystem`, say) and, when valid, copy it into the member's inbox:
/// one put for small files, a streamed multipart upload for large ones, so
/// memory stays bounded whatever the file's size.
#[allow(clippy::too_many_arguments)]
pub async fn submit_object(
    lake: &Lake,
    validator: &Validator,
    store: Arc<dyn ObjectStore>,
    path: &Path,
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
    let report = validator.check(store.clone(), path, file, &expected).await.report;
    if !report.is_valid() {
        return Ok(Submitted { report, submission: None });
    }
    let ext = match report.format.as_str() {
        "csv" => "csv",
        "xlsx" => "xlsx",
        _ => "parquet",
    };
    let size = store.head(path).await?.size;
    loop {
        let name = SubmissionName {
            id: layout::new_submission_id(chrono::Utc::now()),
            dataset: report.dataset.clone(),
            year: report.year,
        };
        let key = format!("{}{}", layout::inbox(member), name.file_name(ext));
        if size <= MULTIPART_FROM {
            let bytes = store.get(path).await?.bytes().await?;
            if lake.put_new(&key, bytes).await? == Created::Written {
                return Ok(Submitted { report, submission: Some((name.id, key)) });
            }
            continue; // the id was taken (same millisecond and suffix): draw another
        }
        // A fresh random id: nobody else writes this key, so a plain multipart upload is safe.
        let upload = lake.store().put_multipart(&lake.path(&key)).await?;
        let mut parts = object_store::WriteMultipart::new_with_chunk_size(upload, PART);
        let mut chunks = store.get(path).await?.into_stream();
        while let Some(chunk) = chunks.next().await {
            parts.wait_for_capacity(4).await?;
            parts.put(chunk?);
        }
        parts.finish().await?;
        return Ok(Submitted { report, submission: Some((name.id, key)) });
    }
}
