//! Pinning: the exact accepted versions a run reads, compacted into one
//! Parquet part per dataset and year.
//!
//! Per-return files stay as intake wrote them, for audit; a run reads the
//! compacted parts (opening thousands of small files costs about three times
//! as much, see docs/benchmarks.md). A part is named by the versions it
//! holds (`snapshots/parts/{dataset}/{year}/{part}.parquet`, with the list
//! of those versions beside it in `{part}.json`, written after it), so a new
//! or revised return rebuilds only the part of its dataset and year; every
//! other part is reused as it is. Versions are immutable, so a part once
//! written stays right.
//!
//! Compacting copies each version's row groups into the part as they are —
//! their pages are not decoded or compressed again (the parquet crate's
//! `append_column`, as its `parquet-concat` tool does) — so a part costs
//! little more than reading its versions: 2,106 versions of 10.5 million
//! rows in about 0.6 s, against 2.3 s to decode and encode them again
//! (docs/benchmarks.md). Only the parts of tiny returns (under 16 KiB on
//! average: the legal framework, capacity needs) are written again as one
//! row group, since scanning hundreds of row groups of a few rows each cost
//! more than the whole table.
//!
//! A snapshot is the list of a run's parts and versions
//! (`snapshots/{id}/inputs.json`); its id is derived from the versions'
//! keys, so a later run over the same versions reuses it without reading
//! any part.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::arrow::{ArrowSchemaConverter, ArrowWriter, add_encoded_arrow_schema_to_metadata};
use datafusion::parquet::basic::Compression;
use datafusion::parquet::column::writer::ColumnCloseResult;
use datafusion::parquet::file::metadata::{PageIndexPolicy, ParquetMetaDataReader};
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::parquet::file::writer::SerializedFileWriter;
use fedreport_contract::Schemas;
use fedreport_store::layout::{self, meta, sha256_hex};
use fedreport_store::{Lake, VersionInfo};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use fedreport_store::manifest::Input;

/// A run's compacted inputs: its versions and the parts that hold them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: String,
    pub inputs: Vec<Input>,
    /// One part per dataset and year (and an empty one for a dataset with no return).
    pub parts: Vec<Part>,
    /// How the parts were come by in this pin (not stored with the snapshot).
    #[serde(skip)]
    pub made: Made,
}

/// One (dataset, year) part of a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub dataset: String,
    /// The reference year; 0 for the empty part of a dataset with no return.
    pub year: i32,
    /// Lake key of the part's Parquet file.
    pub key: String,
}

/// What a pin built and what it reused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Made {
    /// The snapshot was found whole: nothing was read.
    pub reused_snapshot: bool,
    /// Parts compacted in this pin, as `dataset/year`.
    pub built: Vec<String>,
    /// Parts found already compacted.
    pub reused: usize,
}

/// Layout of snapshots and parts; part of every id, so a change of layout never reuses an old one.
const LAYOUT: &str = "parts/3";
/// A part whose versions average at least this many bytes copies their row groups as they are.
const COPY_VERSIONS_OF: u64 = 16 << 10;

fn id_of(keys: &[&str]) -> String {
    sha256_hex(format!("{LAYOUT}\n{}", keys.join("\n")).as_bytes())[..16].to_string()
}

/// The versions of a part (its `.json`): the part is right for exactly these.
#[derive(Debug, Serialize, Deserialize)]
struct PartIndex {
    inputs: Vec<Input>,
}

/// Pin the given current accepted versions and make (or reuse) their
/// snapshot; `fresh` compacts every part again, reusing nothing.
/// `progress(done, total)` reports versions read.
pub async fn pin(
    lake: &Lake,
    schemas: &Schemas,
    versions: Vec<VersionInfo>,
    fresh: bool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Snapshot> {
    build(lake, schemas, versions, None, fresh, progress).await
}

/// Re-pin exactly the given inputs (replay), checking each one's sha256
/// against the bytes in the lake (every version is read again).
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
    build(lake, schemas, versions, Some(&expected), true, progress).await
}

/// The versions of one part, in member order.
type Group = Vec<VersionInfo>;

async fn build(
    lake: &Lake,
    schemas: &Schemas,
    mut versions: Vec<VersionInfo>,
    expected: Option<&BTreeMap<String, String>>,
    fresh: bool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Snapshot> {
    versions.sort_by(|a, b| (&a.dataset, a.year, &a.member).cmp(&(&b.dataset, b.year, &b.member)));
    let total = versions.len();
    let id = id_of(&versions.iter().map(|v| v.key.as_str()).collect::<Vec<_>>());
    let index_key = layout::snapshot_index(&id);
    if !fresh
        && let Some(bytes) = lake.get_opt(&index_key).await?
        && let Ok(mut snap) = serde_json::from_slice::<Snapshot>(&bytes)
        && snap.inputs.len() == total
    {
        progress(total, total);
        snap.made = Made { reused_snapshot: true, built: Vec::new(), reused: snap.parts.len() };
        return Ok(snap);
    }
    // one group per (dataset, year); a dataset with no return gets an empty part, so its table exists
    let mut groups: BTreeMap<(String, i32), Group> = BTreeMap::new();
    for v in versions {
        groups.entry((v.dataset.clone(), v.year)).or_default().push(v);
    }
    for s in schemas.iter() {
        if !groups.keys().any(|(d, _)| d == &s.dataset) {
            groups.insert((s.dataset.clone(), 0), Vec::new());
        }
    }
    let mut done = 0;
    let mut made = Made::default();
    let mut inputs = Vec::with_capacity(total);
    let mut parts = Vec::with_capacity(groups.len());
    // parts are independent: one task per core compacts them (decoding and
    // encoding is CPU work), each reading its versions eight at a time
    let expected = expected.map(|e| Arc::new(e.clone()));
    let mut tasks = Vec::with_capacity(groups.len());
    for ((dataset, year), group) in groups {
        let arrow_schema = schemas.get(&dataset)?.arrow_schema();
        let (lake, expected) = (lake.clone(), expected.clone());
        tasks.push(async move {
            let label = format!("snapshots/parts/{dataset}/{year}");
            tokio::spawn(part(lake, arrow_schema, dataset, year, group, expected, fresh))
                .await
                .map_err(|e| EngineError::Input { key: label, message: format!("compacting it failed: {e}") })?
        });
    }
    let mut each = futures::stream::iter(tasks).buffered(crate::session::default_partitions());
    while let Some((p, part_inputs, built)) = each.try_next().await? {
        done += part_inputs.len();
        progress(done, total);
        if built {
            made.built.push(format!("{}/{}", p.dataset, p.year));
        } else {
            made.reused += 1;
        }
        inputs.extend(part_inputs);
        parts.push(p);
    }
    let snap = Snapshot { id, inputs, parts, made };
    // The index goes last: a snapshot without it is made again (from its parts).
    lake.put(&index_key, Bytes::from(serde_json::to_vec(&snap)?)).await?;
    Ok(snap)
}

/// One part: reused when its index is there (and, on replay, its versions'
/// sha256 are the pinned ones), else compacted from its versions. Returns
/// the part, its inputs and whether it was built.
async fn part(
    lake: Lake,
    arrow_schema: datafusion::arrow::datatypes::SchemaRef,
    dataset: String,
    year: i32,
    group: Group,
    expected: Option<Arc<BTreeMap<String, String>>>,
    fresh: bool,
) -> Result<(Part, Vec<Input>, bool)> {
    let lake = &lake;
    let expected = expected.as_deref();
    let part_id = id_of(&group.iter().map(|v| v.key.as_str()).collect::<Vec<_>>());
    let key = layout::snapshot_part(&dataset, year, &part_id);
    let index_key = layout::snapshot_part_index(&dataset, year, &part_id);
    let p = Part { dataset: dataset.clone(), year, key: key.clone() };
    // on replay (and when asked) every version is read and hashed again, whatever is cached
    if !fresh
        && let Some(bytes) = lake.get_opt(&index_key).await?
        && let Ok(index) = serde_json::from_slice::<PartIndex>(&bytes)
        && index.inputs.len() == group.len()
    {
        return Ok((p, index.inputs, false));
    }
    let parquet_schema = ArrowSchemaConverter::new().convert(&arrow_schema)?;
    let bytes = group.iter().map(|v| v.size).sum::<u64>();
    let copy = !group.is_empty() && bytes / group.len() as u64 >= COPY_VERSIONS_OF;
    let mut writer = if copy {
        let mut props = fedreport_contract::canonical::writer_properties(&BTreeMap::new());
        add_encoded_arrow_schema_to_metadata(&arrow_schema, &mut props);
        // the part is about as large as its versions: made that large at once, not grown by copying
        let buffer = Vec::with_capacity(usize::try_from(bytes).unwrap_or(0));
        PartWriter::Copy(SerializedFileWriter::new(buffer, parquet_schema.root_schema_ptr(), Arc::new(props))?)
    } else {
        // LZ4 and no dictionaries: the part is the run's own cache, and
        // interning ids in a dictionary was most of the time of writing it (perf)
        let props = WriterProperties::builder()
            .set_compression(Compression::LZ4_RAW)
            .set_dictionary_enabled(false)
            .set_created_by("fedreport".to_string())
            .build();
        PartWriter::Rewrite(ArrowWriter::try_new(Vec::new(), arrow_schema.clone(), Some(props))?)
    };
    let mut fetched = futures::stream::iter(group.into_iter().map(|v| {
        let lake = lake.clone();
        async move {
            let bytes = lake.get(&v.key).await?;
            Ok::<_, EngineError>((v, bytes))
        }
    }))
    .buffered(8);
    let mut inputs = Vec::new();
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
        let (rows, md) = match &mut writer {
            PartWriter::Copy(w) => copy_row_groups(&bytes, w, &parquet_schema, &v.key)?,
            PartWriter::Rewrite(w) => rewrite_rows(&bytes, w, &v.key)?,
        };
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
    }
    let bytes = match writer {
        PartWriter::Copy(w) => w.into_inner()?,
        PartWriter::Rewrite(w) => w.into_inner()?,
    };
    lake.put(&key, Bytes::from(bytes)).await?;
    let index = PartIndex { inputs };
    lake.put(&index_key, Bytes::from(serde_json::to_vec(&index)?)).await?;
    Ok((p, index.inputs, true))
}

/// How a part is written.
enum PartWriter {
    /// Row groups copied as they are.
    Copy(SerializedFileWriter<Vec<u8>>),
    /// Rows decoded and written again in large row groups.
    Rewrite(ArrowWriter<Vec<u8>>),
}

/// Footer metadata of a version.
fn footer(md: &datafusion::parquet::file::metadata::FileMetaData) -> BTreeMap<String, String> {
    md.key_value_metadata()
        .map(|kv| kv.iter().filter_map(|k| Some((k.key.clone(), k.value.clone()?))).collect())
        .unwrap_or_default()
}

/// Append a version's rows to its part, decoded and written again; return
/// its rows and footer metadata.
fn rewrite_rows(
    bytes: &Bytes,
    writer: &mut ArrowWriter<Vec<u8>>,
    key: &str,
) -> Result<(u64, BTreeMap<String, String>)> {
    let bad = |e: String| EngineError::Input { key: key.to_string(), message: e };
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes.clone())
        .map_err(|e| bad(format!("it is not a readable Parquet file: {e}")))?;
    let md = footer(builder.metadata().file_metadata());
    let mut rows = 0;
    for batch in builder.build().map_err(|e| bad(e.to_string()))? {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        writer.write(&batch).map_err(|e| bad(format!("its columns are not the dataset's: {e}")))?;
    }
    Ok((rows, md))
}

/// Append a version's row groups to its part without decoding them; return
/// its rows and footer metadata. A version whose columns are not the
/// dataset's is refused by name.
fn copy_row_groups(
    bytes: &Bytes,
    writer: &mut SerializedFileWriter<Vec<u8>>,
    schema: &datafusion::parquet::schema::types::SchemaDescriptor,
    key: &str,
) -> Result<(u64, BTreeMap<String, String>)> {
    let bad = |e: String| EngineError::Input { key: key.to_string(), message: e };
    let metadata = ParquetMetaDataReader::new()
        .with_page_index_policy(PageIndexPolicy::Optional)
        .parse_and_finish(bytes)
        .map_err(|e| bad(format!("it is not a readable Parquet file: {e}")))?;
    let file = metadata.file_metadata();
    if file.schema_descr().root_schema() != schema.root_schema() {
        return Err(bad("its columns are not the dataset's (was it written by this version of fedreport?)".into()));
    }
    let md = footer(file);
    let (column_indexes, offset_indexes) = (metadata.column_index(), metadata.offset_index());
    let mut rows = 0u64;
    for (g, rg) in metadata.row_groups().iter().enumerate() {
        rows += rg.num_rows() as u64;
        let mut out = writer.next_row_group()?;
        for (c, column) in rg.columns().iter().enumerate() {
            out.append_column(
                bytes,
                ColumnCloseResult {
                    bytes_written: column.compressed_size() as _,
                    rows_written: rg.num_rows() as _,
                    metadata: column.clone(),
                    bloom_filter: None,
                    column_index: column_indexes.and_then(|i| i.get(g)).and_then(|r| r.get(c)).cloned(),
                    offset_index: offset_indexes.and_then(|i| i.get(g)).and_then(|r| r.get(c)).cloned(),
                },
            )?;
        }
        out.close()?;
    }
    Ok((rows, md))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, Int64Array, RecordBatch, StringArray};
    use datafusion::arrow::compute::concat_batches;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn schema() -> datafusion::arrow::datatypes::SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("reporting_member", DataType::Utf8, false),
            Field::new("reference_year", DataType::Int32, false),
            Field::new("case_id", DataType::Utf8, false),
            Field::new("persons", DataType::Int64, true),
        ]))
    }

    /// A version of `rows` rows as intake writes one, with its provenance in the footer.
    fn version(member: &str, rows: usize) -> (RecordBatch, Bytes) {
        let batch = RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(StringArray::from(vec![member; rows])),
                Arc::new(Int32Array::from(vec![2012; rows])),
                Arc::new(StringArray::from_iter_values((0..rows).map(|i| format!("{member}-case-{i:06}")))),
                Arc::new(Int64Array::from_iter((0..rows).map(|i| (i % 7 != 0).then_some(i as i64 * 3)))),
            ],
        )
        .unwrap();
        let md = BTreeMap::from([
            (meta::SUBMISSION_ID.to_string(), format!("s-{member}")),
            (meta::RECEIVED_AT.to_string(), "2013-02-01T00:00:00.000Z".to_string()),
        ]);
        let bytes = fedreport_contract::canonical::parquet_bytes(schema(), std::slice::from_ref(&batch), &md).unwrap();
        (batch, Bytes::from(bytes))
    }

    /// Compact versions of `rows` rows each; the part's rows, its row groups and inputs.
    async fn compact(rows: usize) -> (RecordBatch, RecordBatch, usize, Vec<Input>) {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&dir.path().to_string_lossy()).unwrap();
        let (mut group, mut expected) = (Vec::new(), Vec::new());
        for (n, member) in ["AUS", "IDN", "NZL"].iter().enumerate() {
            let (batch, bytes) = version(member, rows + n);
            let key = layout::version_key("enforcement_cases", 2012, member, 1);
            lake.put(&key, bytes.clone()).await.unwrap();
            group.push(VersionInfo {
                dataset: "enforcement_cases".into(),
                year: 2012,
                member: member.to_string(),
                version: 1,
                key,
                size: bytes.len() as u64,
                metadata: BTreeMap::new(),
            });
            expected.push(batch);
        }
        let (p, inputs, built) =
            part(lake.clone(), schema(), "enforcement_cases".into(), 2012, group, None, false).await.unwrap();
        assert!(built);
        let reader = ParquetRecordBatchReaderBuilder::try_new(lake.get(&p.key).await.unwrap()).unwrap();
        let groups = reader.metadata().num_row_groups();
        let batches: Vec<RecordBatch> = reader.build().unwrap().map(|b| b.unwrap()).collect();
        (concat_batches(&schema(), &batches).unwrap(), concat_batches(&schema(), &expected).unwrap(), groups, inputs)
    }

    #[tokio::test]
    async fn copying_row_groups_and_writing_rows_again_give_the_versions_rows_in_member_order() {
        // versions of 20,000 rows are over 16 KiB: their row groups are copied as they are
        let (part, versions, groups, inputs) = compact(20_000).await;
        assert_eq!(groups, 3, "one row group per version, copied");
        assert_eq!(part, versions);
        assert_eq!(inputs.iter().map(|i| i.rows).collect::<Vec<_>>(), [20_000, 20_001, 20_002]);
        assert_eq!(inputs[1].submission_id, "s-IDN");
        assert_eq!(inputs[2].received_at, "2013-02-01T00:00:00.000Z");
        // tiny versions are decoded and written again as one row group
        let (part, versions, groups, inputs) = compact(4).await;
        assert_eq!(groups, 1, "written again");
        assert_eq!(part, versions);
        assert_eq!(inputs.iter().map(|i| i.rows).sum::<u64>(), 15);
    }

    #[tokio::test]
    async fn a_version_with_other_columns_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&dir.path().to_string_lossy()).unwrap();
        let (_, bytes) = version("AUS", 20_000);
        let key = layout::version_key("enforcement_cases", 2012, "AUS", 1);
        lake.put(&key, bytes.clone()).await.unwrap();
        let other = Arc::new(Schema::new(vec![Field::new("reporting_member", DataType::Utf8, false)]));
        let group = vec![VersionInfo {
            dataset: "enforcement_cases".into(),
            year: 2012,
            member: "AUS".into(),
            version: 1,
            key: key.clone(),
            size: bytes.len() as u64,
            metadata: BTreeMap::new(),
        }];
        let e = part(lake, other, "enforcement_cases".into(), 2012, group, None, false).await.unwrap_err().to_string();
        assert!(e.contains(&key) && e.contains("its columns are not the dataset's"), "{e}");
    }
}
