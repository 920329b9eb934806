//! The lake layout: every key the project reads or writes is built here.
//!
//! ```text
//! inbox/{MEMBER}/{file}                                   focal points write here
//! accepted/{dataset}/{year}/{MEMBER}/v{000001}.parquet    immutable versions (conditional create)
//! rejected/{MEMBER}/{submission_id}/{file}                rejected submissions, kept as sent
//! receipts/{MEMBER}/{submission_id}.json                  one receipt per submission (conditional create)
//! snapshots/parts/{dataset}/{year}/{part}.parquet        compacted inputs of runs, named by the versions they hold
//! snapshots/parts/{dataset}/{year}/{part}.json           those versions (written after the part)
//! snapshots/{id}/inputs.json                              a run's versions and parts (fedreport-engine)
//! cache/steps/{step}/{key}.parquet                         per-return results of incremental steps
//! cache/steps/{step}/last                                  the last result of a step cached whole (its key, its Parquet)
//! cache/receipts.json                                      the receipts earlier runs read
//! runs/{run_id}/manifest.json                             what a run read, did and wrote
//! runs/{run_id}/tables/{table}.parquet|csv                published indicator tables
//! runs/{run_id}/pipeline/{file}                           the pipeline files the run executed
//! runs/{run_id}/work/{table}.parquet                      run-built tables for engines that need files
//! runs/{run_id}/final/{file}                              drafts frozen when every co-chair cleared them
//! accounts/{username}/v{000001}.json                      web accounts, one object per change (conditional create)
//! accounts/{username}/failures/{time}-{random}.json       failed logins, for throttling
//! sessions/{sha256 of the id}.json                         web sessions (fedreport-web)
//! staging/{MEMBER}/{upload_id}/…                           uploads being checked in the web front
//! jobs/{job_id}.json                                       progress of work the web front started
//! audit/{seq:012}.json                                     the audit log: one event per object, hash-chained
//! ```
//!
//! No other module formats a key: they call the functions here.
//!
//! An accepted version carries its provenance (submission id, sha256 of the
//! submitted bytes, received time) in its Parquet key/value metadata, so a
//! version is one object, created atomically or not at all.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// Key/value metadata keys of accepted versions.
pub mod meta {
    pub const SUBMISSION_ID: &str = "fedreport.submission_id";
    pub const MEMBER: &str = "fedreport.member";
    pub const DATASET: &str = fedreport_contract::template::DATASET_KEY;
    pub const YEAR: &str = "fedreport.reference_year";
    pub const VERSION: &str = "fedreport.version";
    pub const SOURCE_SHA256: &str = "fedreport.source_sha256";
    pub const SOURCE_FORMAT: &str = "fedreport.source_format";
    pub const RECEIVED_AT: &str = "fedreport.received_at";
    pub const SCHEMA_VERSION: &str = fedreport_contract::template::SCHEMA_VERSION_KEY;
    pub const ROWS: &str = "fedreport.rows";
}

/// Hex sha256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Inbox folder of a member.
pub fn inbox(member: &str) -> String {
    format!("inbox/{member}/")
}

/// Folder of one (dataset, year, member) slot.
pub fn slot(dataset: &str, year: i32, member: &str) -> String {
    format!("accepted/{dataset}/{year}/{member}/")
}

/// Key of an accepted version.
pub fn version_key(dataset: &str, year: i32, member: &str, version: u32) -> String {
    format!("{}v{version:06}.parquet", slot(dataset, year, member))
}

/// Key of the claim that reserves a version number for one submission.
pub fn claim_key(dataset: &str, year: i32, member: &str, version: u32) -> String {
    format!("{}v{version:06}.claim", slot(dataset, year, member))
}

/// Version number of a claim's file name.
pub fn parse_claim(file: &str) -> Option<u32> {
    file.strip_prefix('v')?.strip_suffix(".claim")?.parse().ok()
}

/// Version number of a version key's file name.
pub fn parse_version(file: &str) -> Option<u32> {
    file.strip_prefix('v')?.strip_suffix(".parquet")?.parse().ok()
}

/// Key of a receipt.
pub fn receipt_key(member: &str, submission_id: &str) -> String {
    format!("receipts/{member}/{submission_id}.json")
}

/// Key of a kept rejected submission.
pub fn rejected_key(member: &str, submission_id: &str, file: &str) -> String {
    format!("rejected/{member}/{submission_id}/{file}")
}

/// Folder of a member's receipts, or of every member's.
pub fn receipts(member: Option<&str>) -> String {
    match member {
        Some(m) => format!("receipts/{m}/"),
        None => "receipts/".to_string(),
    }
}

/// Folder of the accepted versions.
pub const ACCEPTED: &str = "accepted/";

/// Folder of every inbox.
pub const INBOX: &str = "inbox/";

/// Folder of every run.
pub const RUNS: &str = "runs/";

/// Folder of one pipeline run.
pub fn run_folder(run_id: &str) -> String {
    format!("{RUNS}{run_id}/")
}

/// The manifest of a run.
pub fn run_manifest(run_id: &str) -> String {
    format!("{}manifest.json", run_folder(run_id))
}

/// Folder of a run's published tables.
pub fn run_tables(run_id: &str) -> String {
    format!("{}tables/", run_folder(run_id))
}

/// A published table of a run, as `ext` (`parquet` or `csv`).
pub fn run_table(run_id: &str, table: &str, ext: &str) -> String {
    format!("{}{table}.{ext}", run_tables(run_id))
}

/// Folder of the pipeline files a run executed.
pub fn run_pipeline(run_id: &str) -> String {
    format!("{}pipeline/", run_folder(run_id))
}

/// A frozen file of a run's drafts, written once when every co-chair cleared them.
pub fn run_final(run_id: &str, file: &str) -> String {
    format!("{}final/{file}", run_folder(run_id))
}

/// Folder where an engine may write the tables a run builds itself.
pub fn run_work(run_id: &str) -> String {
    format!("{}work/", run_folder(run_id))
}

/// A run-built table in a run's work folder.
pub fn work_table(work: &str, table: &str) -> String {
    format!("{work}{table}.parquet")
}

/// Folder of one web account's versions.
pub fn account(username: &str) -> String {
    format!("accounts/{username}/")
}

/// Folder of every web account.
pub const ACCOUNTS: &str = "accounts/";

/// One version of a web account.
pub fn account_version(username: &str, version: u32) -> String {
    format!("{}v{version:06}.json", account(username))
}

/// Folder of an account's failed logins.
pub fn login_failures(username: &str) -> String {
    format!("{}failures/", account(username))
}

/// A web session, by the sha256 of its id (the id itself, a bearer secret, is never stored).
pub fn session(id_sha256: &str) -> String {
    format!("sessions/{id_sha256}.json")
}

/// Folder of one upload being checked in the web front.
pub fn staging(member: &str, upload_id: &str) -> String {
    format!("staging/{member}/{upload_id}/")
}

/// Folder of the audit log.
pub const AUDIT: &str = "audit/";

/// One event of the audit log: its sequence number, zero-padded so keys sort in order.
pub fn audit_event(seq: u64) -> String {
    format!("{AUDIT}{seq:012}.json")
}

/// The sequence number of an audit-log key.
pub fn parse_audit_event(key: &str) -> Option<u64> {
    let n = key.strip_prefix(AUDIT)?.strip_suffix(".json")?;
    if n.len() == 12 && n.bytes().all(|b| b.is_ascii_digit()) { n.parse().ok() } else { None }
}

/// Folder of the intake ledger.
pub const LEDGER: &str = "ledger/";

/// Entries per folder of the ledger: a run lists only the folder of the
/// newest entry it knows and those after it, however long the ledger grows.
pub const LEDGER_SHARD: u64 = 1000;

/// One entry of the intake ledger, in the folder of its thousand, zero-padded so keys sort in order.
pub fn ledger_entry(seq: u64) -> String {
    format!("{LEDGER}{:06}/{seq:012}.json", seq / LEDGER_SHARD)
}

/// The folder of the ledger an entry goes in.
pub fn ledger_shard(shard: u64) -> String {
    format!("{LEDGER}{shard:06}/")
}

/// The number of a ledger folder (`ledger/000002/`).
pub fn parse_ledger_shard(key: &str) -> Option<u64> {
    let n = key.strip_prefix(LEDGER)?.trim_end_matches('/');
    if n.len() == 6 && n.bytes().all(|b| b.is_ascii_digit()) { n.parse().ok() } else { None }
}

/// The sequence number of a ledger key.
pub fn parse_ledger_entry(key: &str) -> Option<u64> {
    let rest = key.strip_prefix(LEDGER)?;
    let (shard, file) = rest.split_once('/')?;
    let n = file.strip_suffix(".json")?;
    let ok = shard.len() == 6 && n.len() == 12 && n.bytes().all(|b| b.is_ascii_digit());
    let seq: u64 = if ok { n.parse().ok()? } else { return None };
    (shard.parse::<u64>().ok()? == seq / LEDGER_SHARD).then_some(seq)
}

/// The progress record of work the web front started.
pub fn job(job_id: &str) -> String {
    format!("jobs/{job_id}.json")
}

/// The run id of a key under `runs/`, when it is a manifest.
pub fn parse_run_manifest(key: &str) -> Option<&str> {
    key.strip_prefix(RUNS)?.strip_suffix("/manifest.json").filter(|id| !id.contains('/'))
}

/// Folder of a compacted snapshot.
pub fn snapshot_folder(id: &str) -> String {
    format!("snapshots/{id}/")
}

/// The index of a snapshot (the versions it holds; written last).
pub fn snapshot_index(id: &str) -> String {
    format!("{}inputs.json", snapshot_folder(id))
}

/// A compacted (dataset, year) part, named by the versions it holds.
pub fn snapshot_part(dataset: &str, year: i32, part: &str) -> String {
    format!("snapshots/parts/{dataset}/{year}/{part}.parquet")
}

/// The versions a part holds.
pub fn snapshot_part_index(dataset: &str, year: i32, part: &str) -> String {
    format!("snapshots/parts/{dataset}/{year}/{part}.json")
}

/// Folder of everything runs cache (deleting it only makes the next run slower).
pub const CACHE: &str = "cache/";

/// The cached per-return results of an incremental step, for one version
/// of its SQL and of the small tables it reads.
pub fn step_cache(step: &str, key: &str) -> String {
    format!("{CACHE}steps/{step}/{key}.parquet")
}

/// The last result of a step cached whole: the key it was computed for, a
/// newline, and its Parquet bytes as the run published them (one per step,
/// so the cache does not grow with runs).
pub fn step_result(step: &str) -> String {
    format!("{CACHE}steps/{step}/last")
}

/// What earlier readers folded the intake ledger into, and up to which entry.
pub fn ledger_cache() -> String {
    format!("{CACHE}ledger.json")
}

/// The audit-log events earlier readers read (events never change).
pub fn audit_cache() -> String {
    format!("{CACHE}audit.json")
}

/// The receipts earlier runs read (receipts are immutable).
pub fn receipts_cache() -> String {
    format!("{CACHE}receipts.json")
}

/// What an inbox file name says about its submission. Files written by
/// `fedreport submit` are named `{id}.{dataset}.{year}.{ext}`; files dropped
/// by hand may have any name, and their dataset and year are read from the
/// content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionName {
    pub id: String,
    pub dataset: Option<String>,
    pub year: Option<i32>,
}

impl SubmissionName {
    /// Parse an inbox file name (`rel` is the lake-relative key).
    pub fn parse(rel: &str, datasets: &[&str]) -> SubmissionName {
        let file = rel.rsplit('/').next().unwrap_or(rel);
        let parts: Vec<&str> = file.split('.').collect();
        if parts.len() == 4
            && is_submit_id(parts[0])
            && datasets.contains(&parts[1])
            && let Ok(year) = parts[2].parse()
        {
            return SubmissionName { id: parts[0].to_string(), dataset: Some(parts[1].to_string()), year: Some(year) };
        }
        if parts.len() == 2 && is_submit_id(parts[0]) {
            return SubmissionName { id: parts[0].to_string(), dataset: None, year: None };
        }
        SubmissionName { id: format!("d-{}", &sha256_hex(rel.as_bytes())[..16]), dataset: None, year: None }
    }

    /// The inbox file name `submit` uses.
    pub fn file_name(&self, ext: &str) -> String {
        match (&self.dataset, self.year) {
            (Some(d), Some(y)) => format!("{}.{d}.{y}.{ext}", self.id),
            _ => format!("{}.{ext}", self.id),
        }
    }
}

/// `s-YYYYMMDDTHHMMSSmmmZ-xxxxxx`: the time of submission to the
/// millisecond (so inbox key order is submission order) and a random suffix.
pub fn is_submit_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 28
        && s.starts_with("s-")
        && b[2..10].iter().all(u8::is_ascii_digit)
        && b[10] == b'T'
        && b[11..20].iter().all(u8::is_ascii_digit)
        && b[20] == b'Z'
        && b[21] == b'-'
        && b[22..].iter().all(|c| c.is_ascii_hexdigit())
}

/// A new submission id.
pub fn new_submission_id(now: chrono::DateTime<chrono::Utc>) -> String {
    let r = uuid::Uuid::new_v4().simple().to_string();
    format!("s-{}-{}", now.format("%Y%m%dT%H%M%S%3fZ"), &r[..6])
}

/// One accepted version as read from its key and footer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VersionInfo {
    pub dataset: String,
    pub year: i32,
    pub member: String,
    pub version: u32,
    /// Lake-relative key.
    pub key: String,
    pub size: u64,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// sha256 of its bytes, when the intake ledger recorded it (intake reads
    /// the version it stored; versions are created once and never written
    /// over), so a run can pin it without reading it whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl VersionInfo {
    /// The version a key of `accepted/` names (`accepted/{dataset}/{year}/{MEMBER}/v{n}.parquet`),
    /// without footer metadata; `None` for any other key.
    pub fn from_key(key: &str, size: u64) -> Option<VersionInfo> {
        let rest = key.strip_prefix(ACCEPTED)?;
        let [dataset, year, member, file] = rest.split('/').collect::<Vec<_>>()[..] else { return None };
        Some(VersionInfo {
            dataset: dataset.to_string(),
            year: year.parse().ok()?,
            member: member.to_string(),
            version: parse_version(file)?,
            key: key.to_string(),
            size,
            metadata: BTreeMap::new(),
            sha256: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let id = new_submission_id(chrono::Utc::now());
        assert!(is_submit_id(&id), "{id}");
        let n = SubmissionName { id: id.clone(), dataset: Some("legal_framework".into()), year: Some(2012) };
        let rel = format!("inbox/AUS/{}", n.file_name("parquet"));
        assert_eq!(SubmissionName::parse(&rel, &["legal_framework"]), n);
        let dropped = SubmissionName::parse("inbox/AUS/my return.csv", &["legal_framework"]);
        assert!(dropped.id.starts_with("d-") && dropped.dataset.is_none());
        assert_eq!(parse_version("v000012.parquet"), Some(12));
        assert_eq!(version_key("x", 2012, "AUS", 3), "accepted/x/2012/AUS/v000003.parquet");
        let v = VersionInfo::from_key(&version_key("x", 2012, "AUS", 3), 10).unwrap();
        assert_eq!((v.dataset.as_str(), v.year, v.member.as_str(), v.version), ("x", 2012, "AUS", 3));
        assert!(VersionInfo::from_key(&claim_key("x", 2012, "AUS", 3), 10).is_none());
        assert_eq!(run_table("r-1", "t", "csv"), "runs/r-1/tables/t.csv");
        assert_eq!(parse_run_manifest(&run_manifest("r-1")), Some("r-1"));
        assert_eq!(parse_run_manifest("runs/r-1/tables/manifest.json"), None);
        assert_eq!(snapshot_part("d", 2012, "abc"), "snapshots/parts/d/2012/abc.parquet");
        assert_eq!(step_cache("s", "k"), "cache/steps/s/k.parquet");
        assert_eq!(step_result("s"), "cache/steps/s/last");
        assert_eq!(ledger_entry(7), "ledger/000000/000000000007.json");
        assert_eq!(ledger_entry(2345), "ledger/000002/000000002345.json");
        for seq in [1, 999, 1000, 2345, 1_000_001] {
            assert_eq!(parse_ledger_entry(&ledger_entry(seq)), Some(seq));
        }
        assert_eq!(parse_ledger_entry("ledger/000001/000000000007.json"), None, "in the wrong folder");
        assert_eq!(parse_ledger_shard(&ledger_shard(2)), Some(2));
    }
}
