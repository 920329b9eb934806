//! Readers that turn a return file (Parquet or CSV) held in any object store
//! into a stream of Arrow record batches, reporting unreadable files as
//! `E_CORRUPT_FILE` findings instead of failing.
//!
//! Parquet is streamed with range reads (memory stays bounded by one row
//! group); CSV, which comes from spreadsheets and is small, is read whole.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
// ParquetObjectReader is deprecated in parquet 59 in favour of hand-written
// AsyncFileReader impls; it is still the reader DataFusion 55 pairs with
// object_store 0.13, so we keep it until the upgrade.
#[allow(deprecated)]
use parquet::arrow::async_reader::ParquetObjectReader;

use crate::finding::{Finding, RuleCode};

/// Rows per batch for CSV input.
const CSV_BATCH_ROWS: usize = 8192;

/// File formats a return may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Parquet,
    Csv,
}

impl Format {
    /// Guess from the file name; `None` when the extension says nothing.
    pub fn from_name(name: &str) -> Option<Format> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".csv") || lower.ends_with(".txt") {
            Some(Format::Csv)
        } else if lower.ends_with(".parquet") || lower.ends_with(".pq") {
            Some(Format::Parquet)
        } else {
            None
        }
    }

    /// Name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
        }
    }
}

/// An opened return: its file schema and a stream of batches.
pub struct Opened {
    pub format: Format,
    pub schema: SchemaRef,
    pub batches: BoxStream<'static, Result<RecordBatch, Finding>>,
}

fn corrupt(message: impl Into<String>) -> Finding {
    Finding::new(RuleCode::CorruptFile, message)
}

/// Open a file in an object store. The format comes from the name, else
/// from the Parquet magic bytes.
pub async fn open(store: Arc<dyn ObjectStore>, path: &Path, name: &str) -> Result<Opened, Finding> {
    let meta = store.head(path).await.map_err(|e| corrupt(format!("the file cannot be read: {e}")))?;
    if meta.size == 0 {
        return Err(corrupt("the file is empty (0 bytes); save the return again and resubmit"));
    }
    let format = match Format::from_name(name) {
        Some(f) => f,
        None => {
            let head = store.get_range(path, 0..meta.size.min(4)).await.map_err(|e| corrupt(e.to_string()))?;
            if head.as_ref() == b"PAR1" { Format::Parquet } else { Format::Csv }
        }
    };
    match format {
        Format::Parquet => open_parquet(store, path, meta.size).await,
        Format::Csv => {
            let bytes = store
                .get(path)
                .await
                .map_err(|e| corrupt(e.to_string()))?
                .bytes()
                .await
                .map_err(|e| corrupt(e.to_string()))?;
            open_csv(bytes)
        }
    }
}

#[allow(deprecated)]
async fn open_parquet(store: Arc<dyn ObjectStore>, path: &Path, size: u64) -> Result<Opened, Finding> {
    let reader = ParquetObjectReader::new(store, path.clone()).with_file_size(size);
    let builder = ParquetRecordBatchStreamBuilder::new(reader).await.map_err(|e| {
        corrupt(format!(
            "not readable as Parquet ({e}); the file may be truncated or not a Parquet file — export it again"
        ))
    })?;
    let zones = pandas_zones(builder.metadata().file_metadata().key_value_metadata());
    let file_schema = builder.schema().clone();
    // Parquet keeps only "adjusted to UTC"; pandas records the zone itself.
    let fields: Vec<Field> = file_schema
        .fields()
        .iter()
        .map(|f| match (f.data_type(), zones.get(f.name())) {
            (DataType::Timestamp(unit, Some(_)), Some(tz)) => {
                Field::new(f.name(), DataType::Timestamp(*unit, Some(tz.as_str().into())), f.is_nullable())
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    // Only the schema is retagged: the values are UTC instants either way,
    // and the validator plans each column's conversion from this schema.
    let stream =
        builder.with_batch_size(65_536).build().map_err(|e| corrupt(format!("not readable as Parquet: {e}")))?;
    let batches =
        stream.map_err(|e| corrupt(format!("the Parquet data is damaged ({e}); export the file again"))).boxed();
    Ok(Opened { format: Format::Parquet, schema, batches })
}

/// Time zones pandas recorded for its tz-aware columns (`pandas` metadata).
fn pandas_zones(kv: Option<&Vec<parquet::file::metadata::KeyValue>>) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    let Some(text) = kv.and_then(|kv| kv.iter().find(|k| k.key == "pandas")).and_then(|k| k.value.as_deref()) else {
        return out;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else { return out };
    for c in v["columns"].as_array().into_iter().flatten() {
        if let (Some(name), Some(tz)) = (c["name"].as_str(), c["metadata"]["timezone"].as_str()) {
            out.insert(name.to_string(), tz.to_string());
        }
    }
    out
}

/// Open CSV bytes as written by Excel, LibreOffice or Google Sheets.
pub fn open_csv(bytes: Bytes) -> Result<Opened, Finding> {
    let body: &[u8] = bytes.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(&bytes);
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(corrupt("the CSV file is empty; it needs at least a header row with the column names"));
    }
    if let Err(e) = std::str::from_utf8(body) {
        let line = body[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
        let place = if line == 0 { "the header".to_string() } else { format!("row {line}") };
        return Err(corrupt(format!(
            "{place} is not UTF-8 text; in Excel use Save As → \"CSV UTF-8 (Comma delimited)\" and submit again"
        )));
    }
    if let Some(row) = unterminated_quote(body) {
        let place = if row == 0 { "the header".to_string() } else { format!("row {row}") };
        return Err(corrupt(format!("{place} opens a quote (\") that is never closed")).row(row as u64));
    }
    let delimiter = sniff_delimiter(body);
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).has_headers(true).flexible(true).from_reader(body);
    let header = reader.headers().map_err(|e| corrupt(format!("the header row cannot be read: {e}")))?.clone();
    let names: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
    let width = names.len();
    let schema: SchemaRef =
        Arc::new(Schema::new(names.iter().map(|n| Field::new(n, DataType::Utf8, true)).collect::<Vec<_>>()));

    let mut batches: Vec<Result<RecordBatch, Finding>> = Vec::new();
    let mut builders: Vec<StringBuilder> = (0..width).map(|_| StringBuilder::new()).collect();
    let mut in_batch = 0usize;
    let mut record = csv::StringRecord::new();
    let mut row = 0u64;
    let mut problems = Vec::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                problems.push(corrupt(format!("row {} cannot be read: {e}", row + 1)).row(row + 1));
                break;
            }
        }
        row += 1;
        if record.len() != width {
            problems.push(
                corrupt(format!("row {row} has {} fields but the header has {width}; check for a stray separator or a missing quote", record.len()))
                    .row(row),
            );
            continue;
        }
        for (b, v) in builders.iter_mut().zip(record.iter()) {
            if v.is_empty() { b.append_null() } else { b.append_value(v) }
        }
        in_batch += 1;
        if in_batch == CSV_BATCH_ROWS {
            batches.push(finish(&schema, &mut builders));
            in_batch = 0;
        }
    }
    if !problems.is_empty() {
        let first = problems.remove(0);
        let rest = problems;
        return Err(Finding {
            message: if rest.is_empty() {
                first.message
            } else {
                format!(
                    "{} (and {} more rows like it: {})",
                    first.message,
                    rest.len(),
                    rest.iter().take(10).filter_map(|f| f.row).map(|r| r.to_string()).collect::<Vec<_>>().join(", ")
                )
            },
            ..first
        });
    }
    if in_batch > 0 || batches.is_empty() {
        batches.push(finish(&schema, &mut builders));
    }
    Ok(Opened { format: Format::Csv, schema, batches: stream::iter(batches).boxed() })
}

fn finish(schema: &SchemaRef, builders: &mut [StringBuilder]) -> Result<RecordBatch, Finding> {
    let cols: Vec<ArrayRef> = builders.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
    RecordBatch::try_new(schema.clone(), cols).map_err(|e| corrupt(e.to_string()))
}

/// The separator is read from the header line: `;` when it has more
/// semicolons than commas outside quotes (European-locale Excel), else `,`.
fn sniff_delimiter(body: &[u8]) -> u8 {
    let (mut commas, mut semis, mut quoted) = (0, 0, false);
    for &b in body {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            b',' if !quoted => commas += 1,
            b';' if !quoted => semis += 1,
            _ => {}
        }
    }
    if semis > commas { b';' } else { b',' }
}

/// The data row (0 = header) where a quote opens that never closes.
fn unterminated_quote(body: &[u8]) -> Option<usize> {
    let (mut quoted, mut line, mut open_line) = (false, 0usize, 0usize);
    for &b in body {
        match b {
            b'"' => {
                quoted = !quoted;
                if quoted {
                    open_line = line;
                }
            }
            b'\n' if !quoted => line += 1,
            _ => {}
        }
    }
    quoted.then_some(open_line)
}

/// The key/value metadata of a Parquet object's footer (one ranged read).
#[allow(deprecated)]
pub async fn parquet_key_values(
    store: Arc<dyn ObjectStore>,
    path: &Path,
    size: u64,
) -> Result<std::collections::BTreeMap<String, String>, parquet::errors::ParquetError> {
    use parquet::arrow::async_reader::AsyncFileReader;
    let mut reader = ParquetObjectReader::new(store, path.clone()).with_file_size(size);
    let md = reader.get_metadata(None).await?;
    Ok(md
        .file_metadata()
        .key_value_metadata()
        .map(|kv| kv.iter().filter_map(|k| Some((k.key.clone(), k.value.clone()?))).collect())
        .unwrap_or_default())
}
