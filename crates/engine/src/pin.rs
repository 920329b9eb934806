//! Pinning: the exact accepted versions a run reads, grouped by dataset
//! and year into parts.
//!
//! A part is named by the versions it holds
//! (`snapshots/parts/{dataset}/{year}/{part}`, with the list of those
//! versions, their sha256, rows and provenance in `{part}.json`), so a new
//! or revised return re-pins only the part of its dataset and year; every
//! other part is reused from its index without reading a version. Versions
//! are immutable, so a part once pinned stays right.
//!
//! A part of large versions (the case-level datasets) is read in place: a
//! run scans the versions where intake stored them, which are already
//! Parquet in the dataset's columns, and the pin only reads and hashes them.
//! Copying them into one file per part (their row groups as they are) cost
//! 740–790 ms of a 3 s cold run at 50 million rows, to write 479 MB that
//! were already in the lake (docs/benchmarks.md). Only the parts of tiny
//! returns (under 16 KiB on average: the legal framework, capacity needs)
//! are written as one Parquet file of one row group, since opening hundreds
//! of files of a few rows each cost more than the whole table.
//!
//! A snapshot is the list of a run's parts and versions
//! (`snapshots/{id}/inputs.json`); its id is derived from the versions'
//! keys, so a later run over the same versions reuses it without reading
//! any part.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use datafusion::parquet::file::properties::WriterProperties;
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
    /// The footers this pin read of versions scanned in place (page indexes
    /// included), for DataFusion's metadata cache: a scan then neither reads
    /// nor parses them again (see `session::remember_footers`). Not stored.
    #[serde(skip)]
    pub footers: Vec<Footer>,
}

/// A version's parsed footer, read by the pin.
#[derive(Debug, Clone)]
pub struct Footer {
    /// Lake key of the version, and its size in bytes.
    pub key: String,
    pub size: u64,
    pub metadata: Arc<ParquetMetaData>,
}

/// One (dataset, year) part of a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub dataset: String,
    /// The reference year; 0 for the empty part of a dataset with no return.
    pub year: i32,
    /// Lake key of the part's Parquet file.
    pub key: String,
    /// Its size in bytes and its rows, so a scan needs neither list nor stat it.
    pub size: u64,
    pub rows: u64,
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
const LAYOUT: &str = "parts/5";
/// A part whose versions average at least this many bytes reads them in place.
const READ_IN_PLACE: u64 = 16 << 10;

fn id_of(keys: &[&str]) -> String {
    sha256_hex(format!("{LAYOUT}\n{}", keys.join("\n")).as_bytes())[..16].to_string()
}

/// The versions of a part (its `.json`): the part is right for exactly these.
#[derive(Debug, Serialize, Deserialize)]
struct PartIndex {
    /// The versions are read where intake stored them: no Parquet part was written.
    in_place: bool,
    /// Bytes of the part's own file (0 when read in place).
    size: u64,
    inputs: Vec<Input>,
}

impl PartIndex {
    /// The files a run reads for this part: the part's own file, or its versions read in place.
    fn files(&self, dataset: &str, year: i32, key: &str) -> Vec<Part> {
        if self.in_place {
            let part =
                |i: &Input| Part { dataset: dataset.to_string(), year, key: i.key.clone(), size: i.size, rows: i.rows };
            self.inputs.iter().map(part).collect()
        } else {
            let rows = self.inputs.iter().map(|i| i.rows).sum();
            vec![Part { dataset: dataset.to_string(), year, key: key.to_string(), size: self.size, rows }]
        }
    }
}

/// Pin the given current accepted versions and make (or reuse) their
/// snapshot; `fresh` pins every part again, reading every version whole and
/// reusing nothing. Parts of versions averaging `in_place_from` bytes or
/// more (default 16 KiB) are read in place. `progress(done, total)` reports
/// versions read.
pub async fn pin(
    lake: &Lake,
    schemas: &Schemas,
    versions: Vec<VersionInfo>,
    fresh: bool,
    in_place_from: Option<u64>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Snapshot> {
    build(lake, schemas, versions, None, fresh, in_place_from.unwrap_or(READ_IN_PLACE), progress).await
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
            sha256: None,
        });
    }
    let expected: BTreeMap<String, String> = inputs.iter().map(|i| (i.key.clone(), i.sha256.clone())).collect();
    build(lake, schemas, versions, Some(&expected), true, READ_IN_PLACE, progress).await
}

/// The versions of one part, in member order.
type Group = Vec<VersionInfo>;

async fn build(
    lake: &Lake,
    schemas: &Schemas,
    mut versions: Vec<VersionInfo>,
    expected: Option<&BTreeMap<String, String>>,
    fresh: bool,
    in_place_from: u64,
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
        snap.footers = Vec::new();
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
    let mut footers = Vec::new();
    // parts are independent: one task per core compacts them (decoding and
    // encoding is CPU work), each reading its versions eight at a time
    let expected = expected.map(|e| Arc::new(e.clone()));
    let mut tasks = Vec::with_capacity(groups.len());
    for ((dataset, year), group) in groups {
        let arrow_schema = schemas.get(&dataset)?.arrow_schema();
        let (lake, expected) = (lake.clone(), expected.clone());
        tasks.push(async move {
            let label = format!("snapshots/parts/{dataset}/{year}");
            tokio::spawn(part(lake, arrow_schema, dataset, year, group, expected, fresh, in_place_from))
                .await
                .map_err(|e| EngineError::Input { key: label, message: format!("compacting it failed: {e}") })?
        });
    }
    let mut each = futures::stream::iter(tasks).buffered(crate::session::default_partitions());
    while let Some((files, part_inputs, built, part_footers)) = each.try_next().await? {
        done += part_inputs.len();
        progress(done, total);
        if let Some(p) = files.first() {
            if built {
                made.built.push(format!("{}/{}", p.dataset, p.year));
            } else {
                made.reused += 1;
            }
        }
        inputs.extend(part_inputs);
        parts.extend(files);
        footers.extend(part_footers);
    }
    let snap = Snapshot { id, inputs, parts, made, footers };
    // The index goes last: a snapshot without it is made again (from its parts).
    lake.put(&index_key, Bytes::from(serde_json::to_vec(&snap)?)).await?;
    Ok(snap)
}

/// One part: reused when its index is there (and, on replay, its versions'
/// sha256 are the pinned ones), else compacted from its versions. Returns
/// the part, its inputs, whether it was built and the footers it read of
/// versions read in place.
#[allow(clippy::too_many_arguments)]
async fn part(
    lake: Lake,
    arrow_schema: datafusion::arrow::datatypes::SchemaRef,
    dataset: String,
    year: i32,
    group: Group,
    expected: Option<Arc<BTreeMap<String, String>>>,
    fresh: bool,
    in_place_from: u64,
) -> Result<(Vec<Part>, Vec<Input>, bool, Vec<Footer>)> {
    let lake = &lake;
    let expected = expected.as_deref();
    let part_id = id_of(&group.iter().map(|v| v.key.as_str()).collect::<Vec<_>>());
    let key = layout::snapshot_part(&dataset, year, &part_id);
    let index_key = layout::snapshot_part_index(&dataset, year, &part_id);
    // on replay (and when asked) every version is read and hashed again, whatever is cached
    if !fresh
        && let Some(bytes) = lake.get_opt(&index_key).await?
        && let Ok(index) = serde_json::from_slice::<PartIndex>(&bytes)
        && index.inputs.len() == group.len()
    {
        return Ok((index.files(&dataset, year, &key), index.inputs, false, Vec::new()));
    }
    let parquet_schema = ArrowSchemaConverter::new().convert(&arrow_schema)?;
    let bytes = group.iter().map(|v| v.size).sum::<u64>();
    let in_place = !group.is_empty() && bytes / group.len() as u64 >= in_place_from;
    // LZ4 and no dictionaries: the part is the run's own cache, and
    // interning ids in a dictionary was most of the time of writing it (perf)
    let mut writer = (!in_place)
        .then(|| {
            let props = WriterProperties::builder()
                .set_compression(Compression::LZ4_RAW)
                .set_dictionary_enabled(false)
                .set_created_by("fedreport".to_string())
                .build();
            ArrowWriter::try_new(Vec::new(), arrow_schema.clone(), Some(props))
        })
        .transpose()?;
    // A version whose sha256 intake recorded is read only as far as its
    // footer (its rows, provenance and columns), unless every byte is to be
    // checked (a replay, or `fresh`).
    let trust_recorded = in_place && expected.is_none() && !fresh && group.iter().all(|v| v.sha256.is_some());
    let mut fetched = futures::stream::iter(group.into_iter().map(|v| {
        let lake = lake.clone();
        async move {
            let read = match (&v.sha256, trust_recorded) {
                (Some(sha), true) => Read::Footer(sha.clone(), footer_of(&lake, &v).await?),
                _ => Read::Whole(lake.get(&v.key).await?),
            };
            Ok::<_, EngineError>((v, read))
        }
    }))
    .buffered(if trust_recorded { 32 } else { 8 });
    let (mut inputs, mut footers) = (Vec::new(), Vec::new());
    while let Some((v, read)) = fetched.try_next().await? {
        let bytes = match read {
            Read::Whole(bytes) => bytes,
            Read::Footer(sha256, metadata) => {
                let (rows, md) = footer_facts(&metadata, &parquet_schema, &v.key)?;
                inputs.push(input(&v, sha256, v.size, rows, &md));
                footers.push(Footer { key: v.key.clone(), size: v.size, metadata: Arc::new(metadata) });
                continue;
            }
        };
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
            None => {
                let metadata = read_footer(&bytes, &v.key)?;
                let facts = footer_facts(&metadata, &parquet_schema, &v.key)?;
                footers.push(Footer { key: v.key.clone(), size: bytes.len() as u64, metadata: Arc::new(metadata) });
                facts
            }
            Some(w) => rewrite_rows(&bytes, w, &v.key)?,
        };
        inputs.push(input(&v, sha, bytes.len() as u64, rows, &md));
    }
    let mut size = 0;
    if let Some(w) = writer {
        let bytes = w.into_inner()?;
        size = bytes.len() as u64;
        lake.put(&key, Bytes::from(bytes)).await?;
    }
    let index = PartIndex { in_place, size, inputs };
    lake.put(&index_key, Bytes::from(serde_json::to_vec(&index)?)).await?;
    Ok((index.files(&dataset, year, &key), index.inputs, true, footers))
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

/// What the pin read of a version.
enum Read {
    /// Every byte, to hash (and, for a tiny one, to write again).
    Whole(Bytes),
    /// Only its footer, with the sha256 intake recorded.
    Footer(String, ParquetMetaData),
}

/// A pinned version as the run's manifest records it.
fn input(v: &VersionInfo, sha256: String, size: u64, rows: u64, md: &BTreeMap<String, String>) -> Input {
    Input {
        member: v.member.clone(),
        dataset: v.dataset.clone(),
        year: v.year,
        version: v.version,
        key: v.key.clone(),
        sha256,
        size,
        rows,
        submission_id: md.get(meta::SUBMISSION_ID).cloned().unwrap_or_default(),
        received_at: md.get(meta::RECEIVED_AT).cloned().unwrap_or_default(),
    }
}

/// A version's footer with its page index (as DataFusion's scan reads it),
/// read from the end of the version: one read, a second when the footer and
/// the index are larger than the first read.
async fn footer_of(lake: &Lake, v: &VersionInfo) -> Result<ParquetMetaData> {
    use datafusion::parquet::errors::ParquetError;
    use object_store::ObjectStoreExt;
    let bad = |e: String| EngineError::Input { key: v.key.clone(), message: e };
    let path = lake.path(&v.key);
    // the page index and footer of a version take 2.8 KB (median) to 7.5 KB
    // (largest) at 50 million rows: 16 KiB reads them in one go, where the
    // 64 KiB read before made a cold run copy 60 MB more from the store
    let mut want = v.size.min(16 << 10);
    loop {
        let tail = lake.store().get_range(&path, v.size - want..v.size).await?;
        let mut reader = ParquetMetaDataReader::new().with_page_index_policy(PageIndexPolicy::Optional);
        match reader.try_parse_sized(&tail, v.size) {
            Ok(()) => return reader.finish().map_err(|e| bad(format!("it is not a readable Parquet file: {e}"))),
            Err(ParquetError::NeedMoreData(needed)) if (needed as u64) > want && (needed as u64) <= v.size => {
                want = needed as u64;
            }
            Err(e) => return Err(bad(format!("it is not a readable Parquet file: {e}"))),
        }
    }
}

/// The footer, with its page index, of a version read whole to be scanned in place.
fn read_footer(bytes: &Bytes, key: &str) -> Result<ParquetMetaData> {
    ParquetMetaDataReader::new().with_page_index_policy(PageIndexPolicy::Optional).parse_and_finish(bytes).map_err(
        |e| EngineError::Input { key: key.to_string(), message: format!("it is not a readable Parquet file: {e}") },
    )
}

/// A version's rows and footer metadata; refused by name when its columns are not the dataset's.
fn footer_facts(
    metadata: &ParquetMetaData,
    schema: &datafusion::parquet::schema::types::SchemaDescriptor,
    key: &str,
) -> Result<(u64, BTreeMap<String, String>)> {
    let bad = |e: String| EngineError::Input { key: key.to_string(), message: e };
    let file = metadata.file_metadata();
    if file.schema_descr().root_schema() != schema.root_schema() {
        return Err(bad("its columns are not the dataset's (was it written by this version of fedreport?)".into()));
    }
    Ok((file.num_rows() as u64, footer(file)))
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

    /// Pin a part of versions of `rows` rows each (and a second time, from
    /// its index); the rows of its files, the versions' rows, the files and
    /// row groups read, and its inputs.
    async fn pin_part(rows: usize, recorded: bool) -> (RecordBatch, RecordBatch, Vec<String>, usize, Vec<Input>) {
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
                sha256: recorded.then(|| sha256_hex(&bytes)),
            });
            expected.push(batch);
        }
        let pinned = || {
            part(lake.clone(), schema(), "enforcement_cases".into(), 2012, group.clone(), None, false, READ_IN_PLACE)
        };
        let (files, inputs, built, footers) = pinned().await.unwrap();
        assert!(built);
        // the footers of the versions scanned in place, page indexes included, for the scan to reuse
        let in_place: Vec<&str> =
            files.iter().filter(|f| f.key.starts_with("accepted/")).map(|f| f.key.as_str()).collect();
        assert_eq!(footers.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(), in_place);
        assert!(footers.iter().all(|f| f.metadata.offset_index().is_some() && f.metadata.column_index().is_some()));
        let (again, again_inputs, built, footers) = pinned().await.unwrap();
        assert!(!built, "the second pin reuses the part's index");
        assert!(footers.is_empty(), "a reused part reads no footer");
        assert_eq!((&again, &again_inputs), (&files, &inputs));
        let (mut batches, mut groups) = (Vec::new(), 0);
        for f in &files {
            let reader = ParquetRecordBatchReaderBuilder::try_new(lake.get(&f.key).await.unwrap()).unwrap();
            groups += reader.metadata().num_row_groups();
            batches.extend(reader.build().unwrap().map(|b| b.unwrap()));
        }
        let keys = files.iter().map(|f| f.key.clone()).collect();
        (
            concat_batches(&schema(), &batches).unwrap(),
            concat_batches(&schema(), &expected).unwrap(),
            keys,
            groups,
            inputs,
        )
    }

    #[tokio::test]
    async fn a_footer_larger_than_the_first_read_is_read_whole() {
        // 2,000 row groups of 10 rows: a footer and page index far over the 16 KiB read first
        let (batch, _) = version("AUS", 20_000);
        let props = WriterProperties::builder().set_max_row_group_row_count(Some(10)).build();
        let mut w = ArrowWriter::try_new(Vec::new(), schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        let bytes = Bytes::from(w.into_inner().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&dir.path().to_string_lossy()).unwrap();
        let key = layout::version_key("enforcement_cases", 2012, "AUS", 1);
        lake.put(&key, bytes.clone()).await.unwrap();
        let v = VersionInfo {
            dataset: "enforcement_cases".into(),
            year: 2012,
            member: "AUS".into(),
            version: 1,
            key,
            size: bytes.len() as u64,
            metadata: BTreeMap::new(),
            sha256: None,
        };
        let md = footer_of(&lake, &v).await.unwrap();
        let footer_len = u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap());
        assert!(footer_len > 16 << 10, "the footer alone is {footer_len} bytes");
        assert_eq!(md.num_row_groups(), 2_000);
        assert_eq!(md.file_metadata().num_rows(), 20_000);
        assert!(md.offset_index().is_some() && md.column_index().is_some(), "with its page index");
    }

    #[tokio::test]
    async fn large_versions_are_read_in_place_and_tiny_ones_written_again_in_member_order() {
        // versions of 20,000 rows are over 16 KiB: the run reads them where intake stored them
        let (rows, versions, keys, groups, inputs) = pin_part(20_000, false).await;
        // with the sha256 intake recorded, only their footers are read, to the same inputs
        assert_eq!(pin_part(20_000, true).await.4, inputs);
        assert_eq!(keys, inputs.iter().map(|i| i.key.clone()).collect::<Vec<_>>(), "the versions themselves");
        assert_eq!(groups, 3);
        assert_eq!(rows, versions);
        assert_eq!(inputs.iter().map(|i| i.rows).collect::<Vec<_>>(), [20_000, 20_001, 20_002]);
        assert_eq!(inputs[1].submission_id, "s-IDN");
        assert_eq!(inputs[2].received_at, "2013-02-01T00:00:00.000Z");
        // tiny versions are decoded and written again as one file of one row group
        let (rows, versions, keys, groups, inputs) = pin_part(4, true).await;
        assert_eq!(keys.len(), 1);
        assert!(keys[0].starts_with("snapshots/parts/enforcement_cases/2012/"), "{keys:?}");
        assert_eq!(groups, 1, "written again");
        assert_eq!(rows, versions);
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
            sha256: None,
        }];
        let e = part(lake, other, "enforcement_cases".into(), 2012, group, None, false, READ_IN_PLACE)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(&key) && e.contains("its columns are not the dataset's"), "{e}");
    }
}
