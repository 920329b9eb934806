//! The run manifest: everything needed to reproduce a run and to trace each
//! published figure to its inputs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::pipeline::Param;

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

/// One output table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    pub table: String,
    pub rows: u64,
    pub key: Vec<String>,
    pub parquet: FileRef,
    pub csv: FileRef,
}

/// One step's SQL file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub name: String,
    pub file: Option<String>,
    pub sha256: Option<String>,
    pub depends_on: Vec<String>,
    pub millis: u64,
}

/// The manifest of a run (`runs/{run_id}/manifest.json`).
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
    pub steps: Vec<StepRecord>,
    pub parameters: BTreeMap<String, Param>,
    /// Compacted snapshot of the inputs (`snapshots/{id}/`).
    pub snapshot: String,
    pub inputs: Vec<Input>,
    pub submissions: Vec<Submission>,
    pub outputs: Vec<Output>,
    /// Milliseconds per phase (pin, each step, write).
    pub timings_ms: BTreeMap<String, u64>,
    pub warnings: Vec<String>,
}

impl Manifest {
    /// Lake-relative folder of a run.
    pub fn folder(run_id: &str) -> String {
        format!("runs/{run_id}/")
    }

    /// The output of a table.
    pub fn output(&self, table: &str) -> Option<&Output> {
        self.outputs.iter().find(|o| o.table == table)
    }
}
