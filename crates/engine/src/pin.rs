//! Pinning: the exact accepted versions a run reads, compacted into one
//! Parquet file per dataset and year (`snapshots/{id}/{dataset}/{year}.parquet`).
//!
//! Per-return files stay as intake wrote them, for audit; a run reads the
//! compacted snapshot (opening thousands of small files costs about three
//! times as much, see docs/benchmarks.md). A snapshot's id is derived from
//! the keys of the versions it holds; versions are immutable, so a later run
//! over the same versions reuses it.

use std::collections::BTreeMap;

use bytes::Bytes;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use fedreport_contract::Schemas;
use fedreport_store::layout::{self, meta, sha256_hex};
use fedreport_store::{Lake, VersionInfo};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use fedreport_store::manifest::Input;

/// A compacted set of inputs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: String,
    pub inputs: Vec<Input>,
}

/// Layout of the snapshot files; part of the id so a change of layout never reuses an old snapshot.
const LAYOUT: &str = "per-dataset-year/1";

fn snapshot_id(keys: &[String]) -> String {
    sha256_hex(format!("{LAYOUT}\n{}", keys.join("\n")).as_bytes())[..16].to_string()
}

/// Pin the current accepted versions of years up to `up_to` and make (or
/// reuse) their snapshot. `progress(done, total)` reports versions read.
pub async fn pin(
    lake: &Lake,
    schemas: &Schemas,
    up_to: i32,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Snapshot> {
    let versions = fedreport_store::current_versions(lake, Some(up_to)).await?;
    build(lake, schemas, versions, None, progress).await
}

/// Re-pin exactly the given inputs (replay), checking each one's sha256.
pub async fn pin_exact(
    lake: &Lake,
    schemas: &Schemas,
    inputs: &[Input],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Snapshot> {
    let mut versions = Vec::new();
    for i in inputs {
        let head = lake.head(&i.key).await.map_err(|e| EngineError::Input {
            key: i.key.clone(),
            message: format!("a pinned input is gone ({e}); the run cannot be replayed"),
        })?;
        versions.push(VersionInfo {
            dataset: i.dataset.clone(),
            year: i.year,
            member: i.member.clone(),
            version: i.version,
            key: i.key.clone(),
            size: head.size,
            metadata: BTreeMap::new(),
        });
    }
    let expected: BTreeMap<String, String> = inputs.iter().map(|i| (i.key.clone(), i.sha256.clone())).collect();
    build(lake, schemas, versions, Some(&expected), progress).await
}

async fn build(
    lake: &Lake,
    schemas: &Schemas,
    mut versions: Vec<VersionInfo>,
    expected: Option<&BTreeMap<String, String>>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Snapshot> {
    versions.sort_by(|a, b| (&a.dataset, a.year, &a.member).cmp(&(&b.dataset, b.year, &b.member)));
    let keys: Vec<String> = versions.iter().map(|v| v.key.clone()).collect();
    let id = snapshot_id(&keys);
    let index_key = layout::snapshot_index(&id);
    if let Some(bytes) = lake.get_opt(&index_key).await? {
        let snap: Snapshot = serde_json::from_slice(&bytes)?;
        let complete = snap.inputs.len() == versions.len()
            && expected.is_none_or(|e| snap.inputs.iter().all(|i| e.get(&i.key) == Some(&i.sha256)));
        if complete {
            progress(versions.len(), versions.len());
            return Ok(snap);
        }
    }
    let total = versions.len();
    let mut inputs = Vec::with_capacity(total);
    // One file per (dataset, year), rows in member order (versions are
    // copied in (dataset, year, member) order).
    let mut files: BTreeMap<(String, i32), ArrowWriter<Vec<u8>>> = BTreeMap::new();
    let new_writer = |dataset: &str| -> Result<ArrowWriter<Vec<u8>>> {
        let schema = schemas.get(dataset)?.arrow_schema();
        let props = fedreport_contract::canonical::writer_properties(&BTreeMap::new());
        Ok(ArrowWriter::try_new(Vec::new(), schema, Some(props))?)
    };
    let mut fetched = futures::stream::iter(versions.into_iter().map(|v| {
        let lake = lake.clone();
        async move {
            let bytes = lake.get(&v.key).await?;
            Ok::<_, EngineError>((v, bytes))
        }
    }))
    .buffered(8);
    let mut done = 0;
    while let Some((v, bytes)) = fetched.try_next().await? {
        let sha = sha256_hex(&bytes);
        if let Some(e) = expected
            && e.get(&v.key) != Some(&sha)
        {
            return Err(EngineError::Input {
                key: v.key.clone(),
                message: format!(
                    "its sha256 is {sha}, not the {} the run pinned",
                    e.get(&v.key).map(String::as_str).unwrap_or("?")
                ),
            });
        }
        let slot = (v.dataset.clone(), v.year);
        if !files.contains_key(&slot) {
            let w = new_writer(&v.dataset)
                .map_err(|e| EngineError::Input { key: v.key.clone(), message: e.to_string() })?;
            files.insert(slot.clone(), w);
        }
        let (rows, md) = copy_into(&bytes, files.get_mut(&slot), &v.key)?;
        inputs.push(Input {
            member: v.member.clone(),
            dataset: v.dataset.clone(),
            year: v.year,
            version: v.version,
            key: v.key.clone(),
            sha256: sha,
            size: bytes.len() as u64,
            rows,
            submission_id: md.get(meta::SUBMISSION_ID).cloned().unwrap_or_default(),
            received_at: md.get(meta::RECEIVED_AT).cloned().unwrap_or_default(),
        });
        done += 1;
        progress(done, total);
    }
    let snap = Snapshot { id, inputs };
    for s in schemas.iter() {
        // a dataset with no return at all still gets an (empty) file, so its table exists
        if !files.keys().any(|(d, _)| d == &s.dataset) {
            files.insert((s.dataset.clone(), 0), new_writer(&s.dataset)?);
        }
    }
    for ((dataset, year), w) in files {
        let bytes = w.into_inner()?;
        lake.put(&layout::snapshot_file(&snap.id, &dataset, year), Bytes::from(bytes)).await?;
    }
    // The index goes last: a snapshot without it is rebuilt.
    lake.put(&index_key, Bytes::from(serde_json::to_vec_pretty(&snap)?)).await?;
    Ok(snap)
}

/// Append a version's rows to its dataset's writer; return rows and footer metadata.
fn copy_into(
    bytes: &Bytes,
    writer: Option<&mut ArrowWriter<Vec<u8>>>,
    key: &str,
) -> Result<(u64, BTreeMap<String, String>)> {
    let bad = |e: String| EngineError::Input { key: key.to_string(), message: e };
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes.clone()).map_err(|e| bad(e.to_string()))?;
    let md: BTreeMap<String, String> = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| kv.iter().filter_map(|k| Some((k.key.clone(), k.value.clone()?))).collect())
        .unwrap_or_default();
    let writer = writer.ok_or_else(|| bad("its dataset is not part of the contract".into()))?;
    let mut rows = 0;
    for batch in builder.build().map_err(|e| bad(e.to_string()))? {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        writer.write(&batch)?;
    }
    Ok((rows, md))
}
