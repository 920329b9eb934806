//! Intake: decide every pending inbox file.
//!
//! For each inbox object, in key order: validate it for the member whose
//! inbox it is in; if it is valid, create the next version of its slot with a
//! conditional create (or recognise that identical bytes are already the
//! current version); otherwise keep a copy under `rejected/`. Then write the
//! receipt (conditional create), record both in the intake ledger
//! ([`crate::ledger`]) and only then remove the inbox object.
//!
//! Every step is idempotent and the order makes a crash at any point safe:
//! a version carries its submission id, so a rerun finds the version it made
//! before crashing instead of making another; a receipt is written only after
//! the version exists; the inbox object goes last. Two intakes racing on the
//! same slot cannot assign one version twice, because only one conditional
//! create of `v{n}` can succeed; the loser re-reads the slot and retries.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use fedreport_contract::canonical::CanonicalWriter;
use fedreport_contract::{Expected, Validator};
use object_store::ObjectStoreExt;

use crate::error::{Result, StoreError};
use crate::lake::{Created, Lake};
use crate::layout::{self, SubmissionName, VersionInfo, meta};
use crate::ledger;
use crate::receipt::{self, Receipt, Status};

/// Options of an intake run.
#[derive(Debug, Clone)]
pub struct IntakeOptions {
    /// Findings kept per file in receipts.
    pub max_findings: usize,
    /// The submission deadline of each cycle (reference year) that has one:
    /// returns received after it are flagged late, and a correction of an
    /// approved return after it is refused until the return is reopened.
    pub deadlines: BTreeMap<i32, DateTime<Utc>>,
}

impl Default for IntakeOptions {
    fn default() -> Self {
        IntakeOptions { max_findings: 1000, deadlines: BTreeMap::new() }
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
    progress: &mut (dyn FnMut(usize, usize, &Decision) + Send),
) -> Result<IntakeSummary> {
    let pending: Vec<_> =
        lake.list(layout::INBOX).await?.into_iter().filter(|m| !m.location.as_ref().ends_with('/')).collect();
    let total = pending.len();
    let mut summary = IntakeSummary::default();
    // the ledger entry this intake wrote last: the next one goes after it
    let mut ledger_place = 0;
    for (i, m) in pending.into_iter().enumerate() {
        let key = lake.rel(&m.location);
        let Some(decision) = decide(lake, validator, opts, &key, m.last_modified, &mut ledger_place).await? else {
            continue;
        };
        progress(i + 1, total, &decision);
        summary.decisions.push(decision);
    }
    Ok(summary)
}

/// Decide one inbox file now (the web front, right after a submission);
/// the same decision a full intake would make, safe beside one. `None` when
/// the file is gone (another intake took it).
pub async fn intake_one(
    lake: &Lake,
    validator: &Validator,
    opts: &IntakeOptions,
    key: &str,
) -> Result<Option<Decision>> {
    let received = match lake.head(key).await {
        Ok(m) => m.last_modified,
        Err(StoreError::ObjectStore(object_store::Error::NotFound { .. })) => return Ok(None),
        Err(e) => return Err(e),
    };
    decide(lake, validator, opts, key, received, &mut 0).await
}

async fn decide(
    lake: &Lake,
    validator: &Validator,
    opts: &IntakeOptions,
    key: &str,
    received: DateTime<Utc>,
    ledger_place: &mut u64,
) -> Result<Option<Decision>> {
    let parts: Vec<&str> = key.split('/').collect();
    if parts.len() < 3 {
        return Ok(None); // a stray object directly under inbox/
    }
    let member = parts[1].to_string();
    let file = parts[parts.len() - 1].to_string();
    // The file may already be gone: another intake took it.
    let path = lake.path(key);
    let Some((sha, size)) = hash_object(lake, &path).await? else { return Ok(None) };
    let datasets: Vec<&str> = validator.schemas().names().collect();
    let mut name = SubmissionName::parse(key, &datasets);

    // Already decided? (An earlier intake stopped after the receipt.)
    if let Some(r) = receipt::read(lake, &member, &name.id).await? {
        if r.sha256 == sha {
            record(lake, &r, ledger_place, None).await?;
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
            record(lake, &r, ledger_place, None).await?;
            lake.delete(key).await?;
            return Ok(None);
        }
    }

    // Validate straight from the store (Parquet is read by ranges) while the
    // canonical rows go to a local temporary file: memory stays bounded by a
    // row group, whatever the size of the return.
    let expected = Expected { dataset: name.dataset.clone(), member: Some(member.clone()), year: name.year };
    let scratch = Scratch::new(&name.id)?;
    let file_out = std::fs::File::create(&scratch.path)
        .map_err(|source| StoreError::Invalid(format!("{}: {source}", scratch.path.display())))?;
    let mut writer = CanonicalWriter::new(file_out);
    let validated = validator.validate(lake.store(), &path, &file, &expected, |b| writer.write(&b)).await;
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
        size,
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
        late: false,
        refused: None,
    };

    // A valid return the cycle does not take: locked, or replacing an
    // approved return after the deadline. Kept like a rejected one, with why.
    if let (Status::Accepted, Some(dataset), Some(year)) = (rec.status, &report.dataset, report.year) {
        let deadline = opts.deadlines.get(&year).copied();
        rec.late = deadline.is_some_and(|d| received > d);
        let current = slot_versions(lake, dataset, year, &member, false).await?.last().map(|v| v.version);
        let events = crate::audit::read(lake).await?;
        let r = crate::cycle::ReturnRef { member: member.clone(), dataset: dataset.clone(), year, version: current };
        if let Some(why) = crate::cycle::intake_refusal(&events, &r, deadline, received) {
            rec.status = Status::Rejected;
            rec.refused = Some(why);
        }
    }

    // the version this intake wrote, hashed as it was uploaded
    let mut uploaded = None;
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
                claim_version(lake, &schema.dataset, year, &member, &name.id, &sha).await?;
            if !duplicate && !version_written(lake, &stored, &name.id).await? {
                md.insert(meta::VERSION.to_string(), version.to_string());
                writer.finish(schema.arrow_schema(), &md)?;
                let (sha256, size) = upload(lake, &stored, &scratch.path).await?;
                uploaded = Some(ledger::Stored { key: stored.clone(), size, sha256: Some(sha256) });
            }
            rec.version = Some(version);
            rec.duplicate = duplicate;
            rec.stored_as = Some(stored);
        }
        _ => {
            rec.status = Status::Rejected;
            let k = layout::rejected_key(&member, &name.id, &file);
            // Kept byte for byte, copied inside the store. If the inbox object
            // vanished while it was being read, another intake took it (and
            // decides it): this one was reading a file that went away.
            match lake.store().copy(&path, &lake.path(&k)).await {
                Ok(()) => {}
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
            rec.stored_as = Some(k);
        }
    }
    rec.decided_at = rfc3339(Utc::now());
    let body = Bytes::from(
        serde_json::to_vec_pretty(&rec)
            .map_err(|source| StoreError::Json { path: layout::receipt_key(&member, &name.id), source })?,
    );
    // Another intake may have decided the same file at the same time: its receipt stands.
    let receipt_key = layout::receipt_key(&member, &name.id);
    if lake.put_new(&receipt_key, body).await? == Created::AlreadyExists {
        let stored = receipt::read(lake, &member, &name.id).await?;
        record(lake, stored.as_ref().unwrap_or(&rec), ledger_place, None).await?;
    } else {
        record(lake, &rec, ledger_place, uploaded).await?;
    }
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

/// Record a decided submission in the intake ledger: its receipt and, when
/// accepted, its version. Called after both exist and before the inbox
/// object is removed, so a crash in between is mended by the next intake.
/// `uploaded` is the version this intake has just written, hashed as it
/// went up; any other version (a duplicate's, one an interrupted intake
/// wrote) is read back and hashed as stored.
async fn record(lake: &Lake, r: &Receipt, ledger_place: &mut u64, uploaded: Option<ledger::Stored>) -> Result<()> {
    let mut entry = ledger::Entry { filed: vec![receipt::Filed::from(r.clone())], ..ledger::Entry::default() };
    if let (Status::Accepted, Some(key)) = (r.status, &r.stored_as) {
        let stored = match uploaded.filter(|u| &u.key == key) {
            Some(u) => u,
            None => {
                let Some((sha256, size)) = hash_object(lake, &lake.path(key)).await? else {
                    return Err(StoreError::Invalid(format!("{key}: the accepted version is gone from the lake")));
                };
                ledger::Stored { key: key.clone(), size, sha256: Some(sha256) }
            }
        };
        entry.accepted.push(stored);
    }
    ledger::append(lake, entry, ledger_place).await.map(|_| ())
}

/// Take the version number this submission's data goes to. A version
/// number is taken by creating `v{n}.claim` (holding the submission id) with
/// a conditional create, so two intakes can never give one number to two
/// submissions; only the claim's holder then writes `v{n}.parquet`. Returns
/// (version, duplicate, key of the version): an existing version when this
/// submission already has one (an earlier intake stopped half-way) or when its
/// bytes are those of the current version (a duplicate, no new number).
async fn claim_version(
    lake: &Lake,
    dataset: &str,
    year: i32,
    member: &str,
    submission_id: &str,
    sha: &str,
) -> Result<(u32, bool, String)> {
    loop {
        let versions = slot_versions(lake, dataset, year, member, true).await?;
        if let Some(v) =
            versions.iter().find(|v| v.metadata.get(meta::SUBMISSION_ID).map(String::as_str) == Some(submission_id))
        {
            return Ok((v.version, false, v.key.clone()));
        }
        // A claim of ours without its version: finish it (before the duplicate
        // check, so a claimed number is never left without its version).
        let claims = slot_claims(lake, dataset, year, member).await?;
        if let Some((n, _)) = claims.iter().find(|(_, owner)| owner == submission_id) {
            return Ok((*n, false, layout::version_key(dataset, year, member, *n)));
        }
        if let Some(cur) = versions.last()
            && cur.metadata.get(meta::SOURCE_SHA256).map(String::as_str) == Some(sha)
            && !ledger::is_withdrawn(lake, cur).await?
        {
            return Ok((cur.version, true, cur.key.clone()));
        }
        let next = versions.iter().map(|v| v.version).chain(claims.iter().map(|c| c.0)).max().unwrap_or(0) + 1;
        let claim = layout::claim_key(dataset, year, member, next);
        if lake.put_new(&claim, Bytes::from(submission_id.to_string())).await? == Created::Written {
            return Ok((next, false, layout::version_key(dataset, year, member, next)));
        }
        // lost a race for this number: look again
    }
}

/// The claims of a slot: (version, submission id).
async fn slot_claims(lake: &Lake, dataset: &str, year: i32, member: &str) -> Result<Vec<(u32, String)>> {
    let mut out = Vec::new();
    for m in lake.list(&layout::slot(dataset, year, member)).await? {
        let key = lake.rel(&m.location);
        if let Some(n) = key.rsplit('/').next().and_then(layout::parse_claim) {
            let owner = lake.get(&key).await?;
            out.push((n, String::from_utf8_lossy(&owner).to_string()));
        }
    }
    Ok(out)
}

/// Whether the version object exists and was written for this submission.
async fn version_written(lake: &Lake, key: &str, submission_id: &str) -> Result<bool> {
    match lake.head(key).await {
        Ok(m) => Ok(footer(lake, &m.location, m.size).await?.get(meta::SUBMISSION_ID).map(String::as_str)
            == Some(submission_id)),
        Err(StoreError::ObjectStore(object_store::Error::NotFound { .. })) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Above this size a file is uploaded in parts.
pub(crate) const MULTIPART_FROM: u64 = 16 * 1024 * 1024;
/// Part size of multipart uploads.
pub(crate) const PART: usize = 8 * 1024 * 1024;

/// Upload a local file to a lake key: one put, or a multipart upload for
/// large files (memory bounded by a few parts). Returns the sha256 and size
/// of the bytes sent, hashed on the way (the ledger records them, so the
/// version need not be read back).
pub async fn upload(lake: &Lake, key: &str, file: &std::path::Path) -> Result<(String, u64)> {
    use sha2::Digest;
    use tokio::io::AsyncReadExt;
    let io = |source: std::io::Error| StoreError::Invalid(format!("{}: {source}", file.display()));
    let size = tokio::fs::metadata(file).await.map_err(io)?.len();
    let mut hasher = sha2::Sha256::new();
    if size <= MULTIPART_FROM {
        let bytes = tokio::fs::read(file).await.map_err(io)?;
        hasher.update(&bytes);
        let size = bytes.len() as u64;
        lake.put(key, Bytes::from(bytes)).await?;
        return Ok((hex::encode(hasher.finalize()), size));
    }
    let upload = lake.store().put_multipart(&lake.path(key)).await?;
    let mut parts = object_store::WriteMultipart::new_with_chunk_size(upload, PART);
    let mut f = tokio::fs::File::open(file).await.map_err(io)?;
    let mut buf = vec![0u8; PART];
    let mut sent = 0u64;
    loop {
        let n = f.read(&mut buf).await.map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        sent += n as u64;
        parts.wait_for_capacity(4).await?;
        parts.write(&buf[..n]);
    }
    parts.finish().await?;
    Ok((hex::encode(hasher.finalize()), sent))
}

/// sha256 and size of an object, streamed; `None` when it is gone.
async fn hash_object(lake: &Lake, path: &object_store::path::Path) -> Result<Option<(String, u64)>> {
    use futures::StreamExt;
    use sha2::Digest;
    let got = match lake.store().get(path).await {
        Ok(g) => g,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut stream = got.into_stream();
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok(Some((hex::encode(hasher.finalize()), size)))
}

/// A local scratch file for a canonical version, removed when dropped.
struct Scratch {
    path: std::path::PathBuf,
}

impl Scratch {
    fn new(id: &str) -> Result<Scratch> {
        let dir = std::env::temp_dir().join("fedreport-intake");
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::Invalid(format!("{}: {e}", dir.display())))?;
        let unique = uuid::Uuid::new_v4().simple().to_string();
        Ok(Scratch { path: dir.join(format!("{id}-{unique}.parquet")) })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
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
        let Some(mut v) = VersionInfo::from_key(&lake.rel(&m.location), m.size) else { continue };
        if footers {
            v.metadata = footer(lake, &m.location, m.size).await?;
        }
        out.push(v);
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
