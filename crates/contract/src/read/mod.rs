//! Readers that turn a return file (Parquet or CSV) held in any object store
//! into a stream of Arrow record batches, reporting unreadable files as
//! `E_CORRUPT_FILE` findings instead of failing.
//!
//! Parquet is streamed with range reads (memory stays bounded by one row
//! group); CSV is spooled to a temporary file and read in passes of bounded
//! memory, then streamed in batches of 8,192 rows; an Excel workbook is read
//! in memory (its cells streamed, never as a dense grid: [`xlsx`]).

use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
// ParquetObjectReader is deprecated in parquet 59 in favour of hand-written
// AsyncFileReader impls; it is still the reader DataFusion 55 pairs with
// object_store 0.13, so we keep it until the upgrade.
#[allow(deprecated)]
use parquet::arrow::async_reader::ParquetObjectReader;

use crate::finding::{Finding, RuleCode};

pub mod xlsx;

/// The largest Excel workbook read (they are read whole into memory); a
/// return this large is submitted as CSV or Parquet.
const MAX_XLSX_BYTES: u64 = 256 << 20;

/// Rows per batch for CSV input.
const CSV_BATCH_ROWS: usize = 8192;

/// File formats a return may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Parquet,
    Csv,
    /// An Excel workbook (Office Open XML, `.xlsx`).
    Xlsx,
}

impl Format {
    /// Guess from the file name; `None` when the extension says nothing.
    pub fn from_name(name: &str) -> Option<Format> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".csv") || lower.ends_with(".txt") {
            Some(Format::Csv)
        } else if lower.ends_with(".parquet") || lower.ends_with(".pq") {
            Some(Format::Parquet)
        } else if lower.ends_with(".xlsx") {
            Some(Format::Xlsx)
        } else {
            None
        }
    }

    /// Name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    /// Whether values arrive as text, to be parsed into their declared types
    /// (CSV, and workbooks, whose cells are read as a CSV export holds them).
    pub fn is_text(self) -> bool {
        matches!(self, Format::Csv | Format::Xlsx)
    }
}

/// An opened return: its file schema and a stream of batches.
pub struct Opened {
    pub format: Format,
    pub schema: SchemaRef,
    pub batches: BoxStream<'static, Result<RecordBatch, Finding>>,
    /// Findings the reader made about single values (an Excel error in a
    /// cell); the value is given to the validator as empty.
    pub findings: Vec<Finding>,
    /// (row, column) of those values, whose emptiness is not reported again.
    pub masked: std::collections::HashSet<(u64, String)>,
    /// Where a workbook's values sit, to name cells in findings.
    pub layout: Option<Arc<xlsx::Layout>>,
}

impl Opened {
    fn new(format: Format, schema: SchemaRef, batches: BoxStream<'static, Result<RecordBatch, Finding>>) -> Opened {
        Opened { format, schema, batches, findings: Vec::new(), masked: Default::default(), layout: None }
    }
}

fn corrupt(message: impl Into<String>) -> Finding {
    Finding::new(RuleCode::CorruptFile, message)
}

/// Open a file in an object store. The format comes from the name, else
/// from the Parquet magic bytes.
pub async fn open(store: Arc<dyn ObjectStore>, path: &Path, name: &str) -> Result<Opened, Finding> {
    open_with(store, path, name, &std::collections::HashSet::new()).await
}

/// As [`open`], with the text columns of a Parquet file whose names are in
/// `dictionary` read as dictionaries (`Dictionary(Int32, Utf8)`): a column
/// of a few distinct values (a code list) is then checked once per value, not
/// once per row, and its values are not copied into every row.
pub async fn open_with(
    store: Arc<dyn ObjectStore>,
    path: &Path,
    name: &str,
    dictionary: &std::collections::HashSet<String>,
) -> Result<Opened, Finding> {
    let meta = store.head(path).await.map_err(|e| corrupt(format!("the file cannot be read: {e}")))?;
    if meta.size == 0 {
        return Err(corrupt("the file is empty (0 bytes); save the return again and resubmit"));
    }
    let format = match Format::from_name(name) {
        Some(f) => f,
        None => {
            let head = store.get_range(path, 0..meta.size.min(4)).await.map_err(|e| corrupt(e.to_string()))?;
            match head.as_ref() {
                b"PAR1" => Format::Parquet,
                b"PK\x03\x04" => Format::Xlsx,
                _ => Format::Csv,
            }
        }
    };
    match format {
        Format::Parquet => open_parquet(store, path, meta.size, dictionary).await,
        Format::Xlsx => {
            if meta.size > MAX_XLSX_BYTES {
                return Err(corrupt(format!(
                    "the workbook is {} MB, more than the {} MB an Excel return may be; submit it as CSV or Parquet",
                    meta.size >> 20,
                    MAX_XLSX_BYTES >> 20
                )));
            }
            let bytes = store.get(path).await.map_err(|e| corrupt(e.to_string()))?.bytes().await;
            xlsx::open_xlsx(bytes.map_err(|e| corrupt(format!("the file cannot be read: {e}")))?)
        }
        Format::Csv => {
            // Spooled to a temporary file (deleted when the reader is dropped), so a large CSV costs disk, not memory.
            let mut file =
                tempfile::tempfile().map_err(|e| corrupt(format!("no temporary space to read the CSV file: {e}")))?;
            let mut body = store.get(path).await.map_err(|e| corrupt(e.to_string()))?.into_stream();
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| corrupt(format!("the file cannot be read: {e}")))?;
                file.write_all(&chunk).map_err(|e| corrupt(format!("no temporary space to read the CSV file: {e}")))?;
            }
            open_csv_from(file)
        }
    }
}

#[allow(deprecated)]
async fn open_parquet(
    store: Arc<dyn ObjectStore>,
    path: &Path,
    size: u64,
    dictionary: &std::collections::HashSet<String>,
) -> Result<Opened, Finding> {
    let unreadable = |e: parquet::errors::ParquetError| {
        corrupt(format!(
            "not readable as Parquet ({e}); the file may be truncated or not a Parquet file — export it again"
        ))
    };
    let mut reader = ParquetObjectReader::new(store, path.clone()).with_file_size(size);
    let mut found =
        ArrowReaderMetadata::load_async(&mut reader, ArrowReaderOptions::new()).await.map_err(unreadable)?;
    let as_dictionary = |f: &Arc<Field>| f.data_type() == &DataType::Utf8 && dictionary.contains(f.name());
    if found.schema().fields().iter().any(as_dictionary) {
        let fields: Vec<Field> = found
            .schema()
            .fields()
            .iter()
            .map(|f| match as_dictionary(f) {
                true => f
                    .as_ref()
                    .clone()
                    .with_data_type(DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))),
                false => f.as_ref().clone(),
            })
            .collect();
        let hinted = ArrowReaderOptions::new().with_schema(Arc::new(Schema::new(fields)));
        found = ArrowReaderMetadata::try_new(found.metadata().clone(), hinted).map_err(unreadable)?;
    }
    let builder = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, found);
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
    Ok(Opened::new(Format::Parquet, schema, batches))
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
    open_csv_from(std::io::Cursor::new(bytes))
}

/// Open CSV from any seekable source, in bounded memory: one pass checks the
/// bytes (UTF-8, quotes, the separator), one checks every row's width, and the
/// batches are then read lazily, 8,192 rows at a time.
pub fn open_csv_from<R: Read + Seek + Send + 'static>(mut source: R) -> Result<Opened, Finding> {
    let io = |e: std::io::Error| corrupt(format!("the file cannot be read: {e}"));
    let scan = scan_bytes(&mut source).map_err(io)?;
    if !scan.has_text {
        return Err(corrupt("the CSV file is empty; it needs at least a header row with the column names"));
    }
    if let Some(line) = scan.not_utf8_line {
        let place = if line == 0 { "the header".to_string() } else { format!("row {line}") };
        return Err(corrupt(format!(
            "{place} is not UTF-8 text; in Excel use Save As → \"CSV UTF-8 (Comma delimited)\" and submit again"
        )));
    }
    if let Some(row) = scan.open_quote_line {
        let place = if row == 0 { "the header".to_string() } else { format!("row {row}") };
        return Err(corrupt(format!("{place} opens a quote (\") that is never closed")).row(row as u64));
    }
    let reader = |source: R| -> Result<csv::Reader<R>, Finding> {
        let mut source = source;
        source.seek(SeekFrom::Start(scan.body_start)).map_err(io)?;
        Ok(csv::ReaderBuilder::new().delimiter(scan.delimiter).has_headers(true).flexible(true).from_reader(source))
    };
    let mut rows = reader(source)?;
    let header = rows.headers().map_err(|e| corrupt(format!("the header row cannot be read: {e}")))?.clone();
    let names: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
    let width = names.len();
    let schema: SchemaRef =
        Arc::new(Schema::new(names.iter().map(|n| Field::new(n, DataType::Utf8, true)).collect::<Vec<_>>()));

    // Every row's width first, so a ragged file is refused before any batch.
    let mut record = csv::ByteRecord::new();
    let mut row = 0u64;
    let mut problems = Vec::new();
    loop {
        match rows.read_byte_record(&mut record) {
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
    let mut rows = reader(rows.into_inner())?;
    rows.headers().map_err(|e| corrupt(format!("the header row cannot be read: {e}")))?;
    let batches = CsvBatches { rows, schema: schema.clone(), width, done: false, first: true };
    Ok(Opened::new(Format::Csv, schema, stream::iter(batches).boxed()))
}

/// CSV rows as batches, read on demand.
struct CsvBatches<R: Read> {
    rows: csv::Reader<R>,
    schema: SchemaRef,
    width: usize,
    done: bool,
    first: bool,
}

impl<R: Read> Iterator for CsvBatches<R> {
    type Item = Result<RecordBatch, Finding>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut builders: Vec<StringBuilder> = (0..self.width).map(|_| StringBuilder::new()).collect();
        let mut record = csv::StringRecord::new();
        let mut in_batch = 0usize;
        while in_batch < CSV_BATCH_ROWS {
            match self.rows.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    break;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(corrupt(format!("the file changed while it was read: {e}"))));
                }
            }
            for (b, v) in builders.iter_mut().zip(record.iter()) {
                if v.is_empty() { b.append_null() } else { b.append_value(v) }
            }
            in_batch += 1;
        }
        // A header-only file still gives one (empty) batch, as the schema's carrier.
        if in_batch == 0 && !self.first {
            return None;
        }
        self.first = false;
        Some(finish(&self.schema, &mut builders))
    }
}

fn finish(schema: &SchemaRef, builders: &mut [StringBuilder]) -> Result<RecordBatch, Finding> {
    let cols: Vec<ArrayRef> = builders.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
    RecordBatch::try_new(schema.clone(), cols).map_err(|e| corrupt(e.to_string()))
}

/// What one streaming pass over a CSV file's bytes finds.
struct ByteScan {
    /// Where the text starts (after a UTF-8 byte order mark).
    body_start: u64,
    has_text: bool,
    /// The line (0 = header) of the first byte that is not UTF-8.
    not_utf8_line: Option<usize>,
    /// The line (0 = header) where a quote opens that never closes.
    open_quote_line: Option<usize>,
    /// `;` when the header line has more semicolons than commas outside
    /// quotes (European-locale Excel), else `,`.
    delimiter: u8,
}

fn scan_bytes<R: Read + Seek>(source: &mut R) -> std::io::Result<ByteScan> {
    source.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0u8; 1 << 16];
    let mut carry: Vec<u8> = Vec::new();
    let (mut quoted, mut line, mut open_line) = (false, 0usize, 0usize);
    let mut raw_lines = 0usize;
    let (mut commas, mut semis, mut header_done) = (0usize, 0usize, false);
    let mut scan =
        ByteScan { body_start: 0, has_text: false, not_utf8_line: None, open_quote_line: None, delimiter: b',' };
    let mut first = true;
    loop {
        let n = source.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        if first {
            first = false;
            // A BOM split across reads is not a concern: the first read of a file is never under 3 bytes unless the file is.
            if let Some(rest) = chunk.strip_prefix(b"\xEF\xBB\xBF".as_slice()) {
                chunk = rest;
                scan.body_start = 3;
            }
        }
        if scan.not_utf8_line.is_none() {
            carry.extend_from_slice(chunk);
            match std::str::from_utf8(&carry) {
                Ok(_) => carry.clear(),
                Err(e) if e.error_len().is_none() => {
                    // A character cut by the read: keep its first bytes for the next one.
                    let keep = carry.split_off(e.valid_up_to());
                    carry = keep;
                }
                Err(e) => {
                    let before = carry.len() - chunk.len();
                    let bad = e.valid_up_to().saturating_sub(before);
                    scan.not_utf8_line = Some(raw_lines + chunk[..bad].iter().filter(|&&b| b == b'\n').count());
                    carry.clear();
                }
            }
        }
        raw_lines += chunk.iter().filter(|&&b| b == b'\n').count();
        for &b in chunk {
            if !scan.has_text && !b.is_ascii_whitespace() {
                scan.has_text = true;
            }
            match b {
                b'"' => {
                    quoted = !quoted;
                    if quoted {
                        open_line = line;
                    }
                }
                b'\n' if !quoted => {
                    line += 1;
                    header_done = true;
                }
                b',' if !quoted && !header_done => commas += 1,
                b';' if !quoted && !header_done => semis += 1,
                _ => {}
            }
        }
    }
    if !carry.is_empty() && scan.not_utf8_line.is_none() {
        scan.not_utf8_line = Some(raw_lines);
    }
    scan.open_quote_line = quoted.then_some(open_line);
    scan.delimiter = if semis > commas { b';' } else { b',' };
    Ok(scan)
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
