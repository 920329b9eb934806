//! Receipts: what became of a submission, written once per submission with a
//! conditional create and readable by the focal point.

use std::collections::{BTreeMap, BTreeSet};

use fedreport_contract::Finding;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::lake::Lake;
use crate::layout;

/// Decision on a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Accepted,
    Rejected,
}

/// What a run records of a submission, and all the receipts cache keeps of
/// its receipt (a run reads thousands; their findings it never needs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filed {
    pub submission_id: String,
    pub member: String,
    pub dataset: Option<String>,
    pub year: Option<i32>,
    pub status: Status,
    pub received_at: String,
}

impl From<Receipt> for Filed {
    fn from(r: Receipt) -> Filed {
        Filed {
            submission_id: r.submission_id,
            member: r.member,
            dataset: r.dataset,
            year: r.year,
            status: r.status,
            received_at: r.received_at,
        }
    }
}

/// The receipt of one submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub submission_id: String,
    pub member: String,
    pub dataset: Option<String>,
    pub year: Option<i32>,
    pub status: Status,
    /// File name as it arrived in the inbox.
    pub file: String,
    pub format: String,
    /// sha256 and size of the submitted bytes.
    pub sha256: String,
    pub size: u64,
    pub rows: u64,
    pub schema_version: Option<String>,
    /// When the file arrived in the inbox (RFC 3339, UTC).
    pub received_at: String,
    /// When intake decided (RFC 3339, UTC).
    pub decided_at: String,
    /// Accepted version number (the existing one when the bytes were a duplicate).
    pub version: Option<u32>,
    /// True when identical bytes were already the current version: no new version was made.
    #[serde(default)]
    pub duplicate: bool,
    /// Lake-relative key where the file is kept (version or rejected copy).
    pub stored_as: Option<String>,
    pub errors: u64,
    pub warnings: u64,
    pub findings: Vec<Finding>,
    /// Received after the cycle's submission deadline (taken, and shown late).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub late: bool,
    /// Why a valid return was not taken (the cycle is locked, or the
    /// return it would replace was approved after the cycle closed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

impl Receipt {
    /// One line for people.
    pub fn summary(&self) -> String {
        let what = match (&self.dataset, self.year) {
            (Some(d), Some(y)) => format!("{d} {y}"),
            (Some(d), None) => d.clone(),
            _ => "unknown dataset".into(),
        };
        match self.status {
            Status::Accepted if self.duplicate => format!(
                "{}  {}  accepted  {what}: identical to version {} already accepted (no new version)",
                self.submission_id,
                self.received_at,
                self.version.unwrap_or(0)
            ),
            Status::Accepted => format!(
                "{}  {}  accepted  {what}: version {} ({} rows{}){}",
                self.submission_id,
                self.received_at,
                self.version.unwrap_or(0),
                self.rows,
                if self.warnings > 0 { format!(", {} warnings", self.warnings) } else { String::new() },
                if self.late { ", late" } else { "" }
            ),
            Status::Rejected if self.refused.is_some() => format!(
                "{}  {}  REFUSED  {what}: {}",
                self.submission_id,
                self.received_at,
                self.refused.as_deref().unwrap_or_default()
            ),
            Status::Rejected => format!(
                "{}  {}  REJECTED  {what}: {} errors (first: {})",
                self.submission_id,
                self.received_at,
                self.errors,
                self.findings.first().map(|f| f.message.as_str()).unwrap_or("-")
            ),
        }
    }
}

impl Receipt {
    /// The whole receipt for people: the summary line, the file, where it
    /// is kept, and every finding with its severity, row and column.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n", self.summary());
        out.push_str(&format!("file {} ({} bytes, sha256 {})\n", self.file, self.size, self.sha256));
        if let Some(k) = &self.stored_as {
            out.push_str(&format!("kept as {k}\n"));
        }
        for f in &self.findings {
            let row = f.row.map(|r| format!(" row {r}")).unwrap_or_default();
            let col = f.column.as_ref().map(|c| format!(" column {c}")).unwrap_or_default();
            let cell = f.cell.as_ref().map(|c| format!(" cell {c}")).unwrap_or_default();
            let severity = match f.severity {
                fedreport_contract::Severity::Error => "error",
                fedreport_contract::Severity::Warning => "warning",
            };
            out.push_str(&format!("  {severity}[{}]{row}{col}{cell}: {}\n", f.code, f.message));
        }
        out
    }
}

/// Read one receipt.
pub async fn read(lake: &Lake, member: &str, id: &str) -> Result<Option<Receipt>> {
    let key = layout::receipt_key(member, id);
    match lake.get_opt(&key).await? {
        None => Ok(None),
        Some(b) => serde_json::from_slice(&b).map(Some).map_err(|source| StoreError::Json { path: key, source }),
    }
}

/// Receipts read at once by [`list`] (an object store answers many small
/// reads in parallel far faster than one after another).
const READ_AHEAD: usize = 32;

/// The keys of the receipts of a member (or of all members).
async fn keys(lake: &Lake, member: Option<&str>) -> Result<Vec<String>> {
    let folder = layout::receipts(member);
    let listed = if member.is_some() { lake.list(&folder).await? } else { lake.list_wide(&folder).await? };
    Ok(listed.iter().map(|meta| lake.rel(&meta.location)).filter(|key| key.ends_with(".json")).collect())
}

/// What a run needs of every receipt of every member, in the order [`list`]
/// gives them, reading from the lake only those not in the receipts cache
/// (a receipt never changes once written, so a cached one is right); the
/// cache is brought up to date. Returns them, how many were read and how
/// many came from the cache.
pub async fn list_cached(lake: &Lake) -> Result<(Vec<Filed>, usize, usize)> {
    use futures::{StreamExt, TryStreamExt};
    let keys: BTreeSet<String> = keys(lake, None).await?.into_iter().collect();
    let cache_key = layout::receipts_cache();
    // an unreadable cache is only slower: every receipt is read again
    let mut cache: BTreeMap<String, Filed> = match lake.get_opt(&cache_key).await? {
        Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
        None => BTreeMap::new(),
    };
    cache.retain(|k, _| keys.contains(k));
    let missing: Vec<String> = keys.iter().filter(|k| !cache.contains_key(*k)).cloned().collect();
    let cached = cache.len();
    let read: Vec<(String, Filed)> = futures::stream::iter(missing)
        .map(|key| async move {
            let bytes = lake.get(&key).await?;
            let r = serde_json::from_slice::<Receipt>(&bytes)
                .map_err(|source| StoreError::Json { path: key.clone(), source })?;
            Ok::<_, StoreError>((key, Filed::from(r)))
        })
        .buffered(READ_AHEAD)
        .try_collect()
        .await?;
    let n = read.len();
    if n > 0 {
        cache.extend(read);
        lake.put(
            &cache_key,
            bytes::Bytes::from(
                serde_json::to_vec(&cache).map_err(|source| StoreError::Json { path: cache_key.clone(), source })?,
            ),
        )
        .await?;
    }
    let mut out: Vec<Filed> = cache.into_values().collect();
    out.sort_by(|a, b| (&a.received_at, &a.submission_id).cmp(&(&b.received_at, &b.submission_id)));
    Ok((out, n, cached))
}

/// Every receipt of a member (or of all members), oldest submission first.
pub async fn list(lake: &Lake, member: Option<&str>) -> Result<Vec<Receipt>> {
    use futures::{StreamExt, TryStreamExt};
    let keys = keys(lake, member).await?;
    let mut out: Vec<Receipt> = futures::stream::iter(keys)
        .map(|key| async move {
            let bytes = lake.get(&key).await?;
            serde_json::from_slice::<Receipt>(&bytes).map_err(|source| StoreError::Json { path: key, source })
        })
        .buffered(READ_AHEAD)
        .try_collect()
        .await?;
    out.sort_by(|a, b| (&a.received_at, &a.submission_id).cmp(&(&b.received_at, &b.submission_id)));
    Ok(out)
}
