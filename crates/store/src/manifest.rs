//! The run manifest (`runs/{run_id}/manifest.json`): everything needed to
//! reproduce a run and to trace each published figure to its inputs.
//!
//! One typed record, written by the engine and read by the renderer, the
//! diff and the web front; nobody reads a manifest as loose JSON. Reading a
//! run back from the lake (manifest plus published tables, each checked
//! against the sha256 the manifest recorded) lives here too, beside the
//! layout that places it.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::lake::Lake;
use crate::layout::{self, sha256_hex};

/// A pipeline parameter value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Param {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
}

impl Param {
    /// Parse a `--set` value as the same kind as `self`.
    pub fn parse_like(&self, s: &str) -> Option<Param> {
        Some(match self {
            Param::Int(_) => Param::Int(s.parse().ok()?),
            Param::Float(_) => Param::Float(s.parse().ok()?),
            Param::Bool(_) => Param::Bool(s.parse().ok()?),
            Param::Text(_) => Param::Text(s.to_string()),
        })
    }

    /// The kind, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Param::Int(_) => "an integer",
            Param::Float(_) => "a number",
            Param::Bool(_) => "true or false",
            Param::Text(_) => "text",
        }
    }
}

/// One pinned input: the exact accepted version a run read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    pub member: String,
    pub dataset: String,
    pub year: i32,
    pub version: u32,
    /// Lake-relative key of the version.
    pub key: String,
    pub sha256: String,
    pub size: u64,
    pub rows: u64,
    pub submission_id: String,
    pub received_at: String,
}

/// One receipt as the run saw it (for completeness: rejected submissions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    pub member: String,
    pub dataset: Option<String>,
    pub year: Option<i32>,
    pub status: String,
    pub submission_id: String,
}

/// A written file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// Lake-relative key.
    pub key: String,
    pub sha256: String,
    pub bytes: u64,
}

/// Which years of a table the statistical annex shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnexYears {
    /// Only the cycle year (tables by member).
    #[default]
    CycleYear,
    /// Every year (regional series).
    AllYears,
}

/// How readers see a published table, as its pipeline declares it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableMeta {
    /// What the table shows, e.g. "Irregular movements by sea, by member".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A heading with its unit for each column, e.g. `persons` → "Persons".
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, String>,
    /// Which years the statistical annex shows.
    #[serde(default)]
    pub annex: AnnexYears,
    /// The dataset whose returns the rows summarise (its quality flags are footnoted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// Columns holding shares from 0 to 1, shown as per cent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fractions: Vec<String>,
}

impl TableMeta {
    /// The heading of a column: its label, or its name in words.
    pub fn heading(&self, column: &str) -> String {
        self.columns.get(column).cloned().unwrap_or_else(|| column.replace('_', " "))
    }
}

/// One output table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    pub table: String,
    pub rows: u64,
    pub key: Vec<String>,
    pub parquet: FileRef,
    pub csv: FileRef,
    /// Title, headings and annex settings from the pipeline.
    #[serde(default)]
    pub meta: TableMeta,
}

/// One step's SQL file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub name: String,
    pub file: Option<String>,
    pub sha256: Option<String>,
    pub depends_on: Vec<String>,
    pub millis: u64,
    /// For a step declared `per_return`: what it computed afresh and what it reused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<StepReuse>,
    /// The table was read from the step cache: an earlier run computed it
    /// from the same SQL and tables with the same content.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
}

/// What an incremental (`per_return`) step computed and reused in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReuse {
    /// Why everything was computed, when it was (no cached result for this
    /// SQL and these small tables, or a replay, which always computes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold: Option<String>,
    /// The returns whose rows were computed afresh, as `MEMBER/year`.
    pub recomputed: Vec<String>,
    /// Returns whose rows came from the cache.
    pub reused: usize,
    /// Returns of the cached result no longer among the inputs, their rows dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<String>,
}

/// What a run made afresh and what it found made by earlier runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reuse {
    /// The snapshot of these exact versions existed: no part was read.
    pub snapshot_reused: bool,
    /// Snapshot parts compacted by this run, as `dataset/year`.
    pub parts_built: Vec<String>,
    /// Parts found compacted by earlier runs.
    pub parts_reused: usize,
    /// Receipts read from the lake by this run…
    pub receipts_read: usize,
    /// …and those taken from the receipts cache (receipts never change).
    pub receipts_cached: usize,
}

/// Disclosure control as a run applied it to one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisclosureRecord {
    /// The published table.
    pub table: String,
    /// The internal table of raw counts it was made from.
    pub input: String,
    /// The protected count columns.
    pub columns: Vec<String>,
    /// Counts from 1 to k−1 are hidden (with their complements).
    pub k: i64,
    /// Cells hidden, over all groups and columns.
    pub hidden_cells: u64,
    /// The cells hidden because their own count was small (primary
    /// suppression); every other hidden cell protects one of these
    /// (secondary). Exports mark the two apart (SDMX `CONF_STATUS` C and D).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary: Vec<HiddenCell>,
}

/// One cell of a protected table: its group (a reference year), its unit (a
/// member) and its column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HiddenCell {
    pub group: i64,
    pub unit: String,
    pub column: String,
}

/// The manifest of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub run_id: String,
    pub created_at: String,
    /// The run this one replays, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<String>,
    pub engine: String,
    pub target_partitions: usize,
    pub pipeline_name: String,
    pub pipeline_version: String,
    pub pipeline_source: String,
    /// sha256 over every pipeline file.
    pub pipeline_sha256: String,
    /// The reference year of the cycle the run describes.
    pub cycle_year: i32,
    pub steps: Vec<StepRecord>,
    pub parameters: BTreeMap<String, Param>,
    /// Disclosure control applied, one record per protected table.
    pub disclosure: Vec<DisclosureRecord>,
    /// The snapshot of the inputs (`snapshots/{id}/inputs.json`, naming its parts).
    pub snapshot: String,
    pub inputs: Vec<Input>,
    pub submissions: Vec<Submission>,
    pub outputs: Vec<Output>,
    /// Milliseconds per phase (pin, each step, write).
    pub timings_ms: BTreeMap<String, u64>,
    pub warnings: Vec<String>,
    /// What the run reused from earlier runs (snapshot parts, receipts).
    #[serde(default)]
    pub reuse: Reuse,
}

impl Manifest {
    /// The output of a table.
    pub fn output(&self, table: &str) -> Option<&Output> {
        self.outputs.iter().find(|o| o.table == table)
    }

    /// Disclosure control applied to a published table, if any.
    pub fn disclosure_of(&self, table: &str) -> Option<&DisclosureRecord> {
        self.disclosure.iter().find(|d| d.table == table)
    }

    /// Parse manifest bytes, naming `path` in the error.
    pub fn from_json(path: &str, bytes: &[u8]) -> Result<Manifest> {
        serde_json::from_slice(bytes).map_err(|source| StoreError::Json { path: path.to_string(), source })
    }

    /// The manifest as the engine writes it.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec_pretty(self)
            .map_err(|source| StoreError::Json { path: layout::run_manifest(&self.run_id), source })
    }
}

/// The manifest of a run in the lake.
pub async fn read_manifest(lake: &Lake, run_id: &str) -> Result<Manifest> {
    let key = layout::run_manifest(run_id);
    let bytes = lake.get_opt(&key).await?.ok_or_else(|| {
        StoreError::Invalid(format!(
            "no run {run_id} in {}; `fedreport runs --lake {}` lists the runs",
            lake.location(),
            lake.location()
        ))
    })?;
    Manifest::from_json(&key, &bytes)
}

/// A manifest from a run id in the lake, or from a `manifest.json` path or URL.
pub async fn load_manifest(lake: &Lake, run_or_path: &str) -> Result<Manifest> {
    if !run_or_path.ends_with(".json") {
        return read_manifest(lake, run_or_path).await;
    }
    let bytes = match lake.get_opt(run_or_path).await? {
        Some(b) => b,
        None => {
            Bytes::from(std::fs::read(run_or_path).map_err(|e| StoreError::Invalid(format!("{run_or_path}: {e}")))?)
        }
    };
    Manifest::from_json(run_or_path, &bytes)
}

/// Every run in the lake, newest first.
pub async fn list_runs(lake: &Lake) -> Result<Vec<Manifest>> {
    let mut out = Vec::new();
    for m in lake.list(layout::RUNS).await? {
        let key = lake.rel(&m.location);
        if let Some(id) = layout::parse_run_manifest(&key) {
            out.push(Manifest::from_json(&key, &lake.get(&layout::run_manifest(id)).await?)?);
        }
    }
    out.sort_by(|a, b| (&b.created_at, &b.run_id).cmp(&(&a.created_at, &a.run_id)));
    Ok(out)
}

/// The Parquet bytes of every table a run published, in the manifest's
/// order, each checked against the sha256 the manifest recorded.
pub async fn read_tables(lake: &Lake, manifest: &Manifest) -> Result<Vec<(String, Bytes)>> {
    let mut out = Vec::new();
    for o in &manifest.outputs {
        let bytes = lake.get_opt(&o.parquet.key).await?.ok_or_else(|| {
            StoreError::Invalid(format!("run {}: table {} is missing at {}", manifest.run_id, o.table, o.parquet.key))
        })?;
        let sha = sha256_hex(&bytes);
        if sha != o.parquet.sha256 {
            return Err(StoreError::Invalid(format!(
                "run {}: {} has sha256 {sha}, not the {} its manifest recorded; the run's files were changed",
                manifest.run_id, o.parquet.key, o.parquet.sha256
            )));
        }
        out.push((o.table.clone(), bytes));
    }
    Ok(out)
}
