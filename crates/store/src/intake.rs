//! Intake: decide every pending inbox file.
//!
//! For each inbox object, in key order: validate it for the member whose
//! inbox it is in; if it is valid, create the next version of its slot with a
//! conditional create (or recognise that identical bytes are already the
//! current version); otherwise keep a copy under `rejected/`. Then write the
//! receipt (conditional create) and only then remove the inbox object.
//!
//! Every step is idempotent and the order makes a crash at any point safe:
//! a version carries its submission id, so a rerun finds the version it made
//! before crashing instead of making another; a receipt is written only after
//! the version exists; the inbox object goes last. Two intakes racing on the
//! same slot cannot assign one version twice, because only one conditional
//! create of `v{n}` can succeed; the loser re-reads the slot and retries.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use fedreport_contract::{Expected, Validator, template};

use crate::error::{Result, StoreError};
use crate::lake::{Created, Lake};
use crate::layout::{self, SubmissionName, VersionInfo, meta};
use crate::receipt::{self, Receipt, Status};

/// Options of an intake run.
#[derive(Debug, Clone)]
pub struct IntakeOptions {
    /// Findings kept per file in receipts.
    pub max_findings: usize,
}

impl Default for IntakeOptions {
    fn default() -> Self {
        IntakeOptions { max_findings: 1000 }
    }
}

/// What intake did with one inbox file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub inbox_key: String,
    pub submission_id: String,
    pub member: String,
    pub dataset: Option<String>,
    pub year: Option<i32>,
    pub status: Status,
    pub version: Option<u32>,
    pub duplicate: bool,
    pub errors: u64,
    /// The receipt already existed (an earlier intake decided, then stopped before cleaning up).
    pub already_decided: bool,
}

/// Everything one intake run decided.
#[derive(Debug, Clone, Default)]
pub struct IntakeSummary {
    pub decisions: Vec<Decision>,
}

impl IntakeSummary {
    /// Files accepted as a new version.
    pub fn new_versions(&self) -> usize {
        self.decisions.iter().filter(|d| d.status == Status::Accepted && !d.duplicate && !d.already_decided).count()
    }

    /// Files rejected.
    pub fn rejected(&self) -> usize {
        self.decisions.iter().filter(|d| d.status == Status::Rejected && !d.already_decided).count()
    }

    /// Files that were identical to the current version.
    pub fn duplicates(&self) -> usize {
        self.decisions.iter().filter(|d| d.duplicate && !d.already_decided).count()
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Decide every pending inbox file. `progress(done, total, decision)` is
/// called after each file.
pub async fn intake(
    lake: &Lake,
    validator: &Validator,
    opts: &IntakeOptions,
    progress: &mut dyn FnMut(usize, usize, &Decision),
) -> Result<IntakeSummary> {
    let pending: Vec<_> =
        lake.list("inbox/").await?.into_iter().filter(|m| !m.location.as_ref().ends_with('/')).collect();
    let total = pending.len();
    let mut summary = IntakeSummary::default();
    for (i, m) in pending.into_iter().enumerate() {
        let key = lake.rel(&m.location);
        let Some(decision) = decide(lake, validator, opts, &key, m.last_modified).await? else { continue };
        progress(i + 1, total, &decision);
        summary.decisions.push(decision);
    }
    Ok(summary)
}

async fn decide(
    lake: &Lake,
    validator: &Validator,
    opts: &IntakeOptions,
    key: &str,
    received: DateTime<Utc>,
) -> Result<Option<Decision>> {
    let parts: Vec<&str> = key.split('/').collect();
    if parts.len() < 3 {
        return Ok(None); // a stray object directly under inbox/
    }
    let member = parts[1].to_string();
    let file = parts[parts.len() - 1].to_string();
    // The file may already be gone: another intake took it.
    let Some(bytes) = lake.get_opt(key).await? else { return Ok(None) };
    let sha = layout::sha256_hex(&bytes);
    let datasets: Vec<&str> = validator.schemas().names().collect();
    let mut name = SubmissionName::parse(key, &datasets);

    // Already decided? (An earlier intake stopped after the receipt.)
    if let Some(r) = receipt::read(lake, &member, &name.id).await? {
        if r.sha256 == sha {
            lake.delete(key).await?;
            return Ok(Some(Decision {
                inbox_key: key.to_string(),
                submission_id: r.submission_id,
                member,
                dataset: r.dataset,
                year: r.year,
                status: r.status,
                version: r.version,
                duplicate: r.duplicate,
                errors: r.errors,
                already_decided: true,
            }));
        }
        // Same name, different bytes: a new submission that reused a file name.
        name.id = format!("{}-{}", name.id, &sha[..8]);
        if let Some(r) = receipt::read(lake, &member, &name.id).await?
            && r.sha256 == sha
        {
            lake.delete(key).await?;
            return Ok(None);
        }
    }

    let expected = Expected { dataset: name.dataset.clone(), member: Some(member.clone()), year: name.year };
    let validator = validator.clone();
    let mut batches = Vec::new();
    let validated = {
        let store = Arc::new(object_store::memory::InMemory::new());
        let p = object_store::path::Path::from("input");
        object_store::ObjectStoreExt::put(store.as_ref(), &p, bytes.clone().into()).await?;
        validator
            .validate(store, &p, &file, &expected, |b| {
                batches.push(b);
                Ok(())
            })
            .await
    };
    let mut report = validated.report;
    report.findings.truncate(opts.max_findings);
    let received_at = rfc3339(received);
    let mut rec = Receipt {
        submission_id: name.id.clone(),
        member: member.clone(),
        dataset: report.dataset.clone(),
        year: report.year,
        status: if report.is_valid() { Status::Accepted } else { Status::Rejected },
        file: file.clone(),
        format: report.format.clone(),
        sha256: sha.clone(),
        size: bytes.len() as u64,
        rows: report.rows,
        schema_version: report.schema_version.clone(),
        received_at: received_at.clone(),
        decided_at: String::new(),
        version: None,
        duplicate: false,
        stored_as: None,
        errors: report.errors,
        warnings: report.warnings,
        findings: report.findings.clone(),
    };

    match (rec.status, validated.schema, report.year) {
        (Status::Accepted, Some(schema), Some(year)) => {
            let mut md = BTreeMap::new();
            md.insert(meta::SUBMISSION_ID.to_string(), name.id.clone());
            md.insert(meta::MEMBER.to_string(), member.clone());
            md.insert(meta::DATASET.to_string(), schema.dataset.clone());
            md.insert(meta::YEAR.to_string(), year.to_string());
            md.insert(meta::SOURCE_SHA256.to_string(), sha.clone());
            md.insert(meta::SOURCE_FORMAT.to_string(), report.format.clone());
            md.insert(meta::RECEIVED_AT.to_string(), received_at.clone());
            md.insert(meta::SCHEMA_VERSION.to_string(), schema.schema_version.clone());
            md.insert(meta::ROWS.to_string(), report.rows.to_string());
            let (version, duplicate, stored) =
                store_version(lake, &schema.dataset, year, &member, &name.id, &sha, |n| {
                    let mut md = md.clone();
                    md.insert(meta::VERSION.to_string(), n.to_string());
                    Ok(Bytes::from(template::parquet_bytes(schema.arrow_schema(), &batches, &md)?))
                })
                .await?;
            rec.version = Some(version);
            rec.duplicate = duplicate;
            rec.stored_as = Some(stored);
        }
        _ => {
            rec.status = Status::Rejected;
            let k = layout::rejected_key(&member, &name.id, &file);
            lake.put_new(&k, bytes.clone()).await?;
            rec.stored_as = Some(k);
        }
    }
    rec.decided_at = rfc3339(Utc::now());
    let body = Bytes::from(
        serde_json::to_vec_pretty(&rec)
            .map_err(|source| StoreError::Json { path: layout::receipt_key(&member, &name.id), source })?,
    );
    // Another intake may have decided the same file at the same time: its receipt stands.
    let _ = lake.put_new(&layout::receipt_key(&member, &name.id), body).await?;
    lake.delete(key).await?;
    Ok(Some(Decision {
        inbox_key: key.to_string(),
        submission_id: name.id,
        member,
        dataset: rec.dataset,
        year: rec.year,
        status: rec.status,
        version: rec.version,
        duplicate: rec.duplicate,
        errors: rec.errors,
        already_decided: false,
    }))
}

/// Create the next version of a slot, or find the one this submission (or
/// identical bytes) already made. Returns (version, duplicate, key).
async fn store_version(
    lake: &Lake,
    dataset: &str,
    year: i32,
    member: &str,
    submission_id: &str,
    sha: &str,
    make: impl Fn(u32) -> Result<Bytes>,
) -> Result<(u32, bool, String)> {
    loop {
        let versions = slot_versions(lake, dataset, year, member, true).await?;
        if let Some(v) =
            versions.iter().find(|v| v.metadata.get(meta::SUBMISSION_ID).map(String::as_str) == Some(submission_id))
        {
            return Ok((v.version, false, v.key.clone()));
        }
        if let Some(cur) = versions.last()
            && cur.metadata.get(meta::SOURCE_SHA256).map(String::as_str) == Some(sha)
        {
            return Ok((cur.version, true, cur.key.clone()));
        }
        let next = versions.last().map_or(1, |v| v.version + 1);
        let key = layout::version_key(dataset, year, member, next);
        match lake.put_new(&key, make(next)?).await? {
            Created::Written => return Ok((next, false, key)),
            Created::AlreadyExists => continue, // lost a race: re-read the slot
        }
    }
}

/// The versions of one slot, oldest first; with `footers`, each version's
/// key/value metadata is read too.
pub async fn slot_versions(
    lake: &Lake,
    dataset: &str,
    year: i32,
    member: &str,
    footers: bool,
) -> Result<Vec<VersionInfo>> {
    let mut out = Vec::new();
    for m in lake.list(&layout::slot(dataset, year, member)).await? {
        let key = lake.rel(&m.location);
        let Some(version) = key.rsplit('/').next().and_then(layout::parse_version) else { continue };
        let metadata = if footers { footer(lake, &m.location, m.size).await? } else { BTreeMap::new() };
        out.push(VersionInfo {
            dataset: dataset.to_string(),
            year,
            member: member.to_string(),
            version,
            key,
            size: m.size,
            metadata,
        });
    }
    out.sort_by_key(|v| v.version);
    Ok(out)
}

/// Key/value metadata of a Parquet object.
pub async fn footer(lake: &Lake, path: &object_store::path::Path, size: u64) -> Result<BTreeMap<String, String>> {
    fedreport_contract::read::parquet_key_values(lake.store(), path, size)
        .await
        .map_err(|e| StoreError::Version { path: path.to_string(), message: e.to_string() })
}
