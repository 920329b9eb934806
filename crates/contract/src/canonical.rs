//! The canonical Parquet writers: every Parquet file the project writes
//! uses fixed settings, so equal data always gives equal bytes.
//!
//! Two codecs. Published tables and templates, which people download, are
//! zstd ([`writer_properties`]). Converted returns and accepted versions
//! ([`CanonicalWriter`]), which every run reads again, are LZ4: the parquet
//! crate (59) makes a zstd compression and decompression context for every
//! column chunk it opens, and snapshot parts hold one row group per
//! version, so with zstd those contexts were 14 % of a cold run's time
//! (perf, docs/benchmarks.md).

use std::collections::BTreeMap;
use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::error::Result;

/// Writer properties of every canonical Parquet file the project writes:
/// zstd, statistics, fixed created-by (so equal data gives equal bytes), and
/// the given key/value metadata in key order.
pub fn writer_properties(metadata: &BTreeMap<String, String>) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("valid level")))
        .set_created_by("fedreport".to_string())
        .set_key_value_metadata(Some(metadata.iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())).collect()))
        .build()
}

/// Writer properties of converted returns and accepted versions: as
/// [`writer_properties`], but LZ4 (raw), whose codec costs nothing to set up.
pub fn stored_properties(metadata: &BTreeMap<String, String>) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .set_created_by("fedreport".to_string())
        .set_key_value_metadata(Some(metadata.iter().map(|(k, v)| KeyValue::new(k.clone(), v.clone())).collect()))
        .build()
}

/// Parquet bytes holding `batches` with `schema`.
pub fn parquet_bytes(
    schema: SchemaRef,
    batches: &[RecordBatch],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, schema, Some(writer_properties(metadata)))?;
    for b in batches {
        w.write(b)?;
    }
    w.close()?;
    Ok(buf)
}

/// Streams the canonical batches of a validation into Parquet as they come
/// (memory bounded by a row group), the key/value metadata added at the end
/// once it is known. A return without rows still gives a file with the
/// dataset's schema.
pub struct CanonicalWriter<W: Write + Send> {
    out: Option<W>,
    writer: Option<ArrowWriter<W>>,
}

impl<W: Write + Send> CanonicalWriter<W> {
    /// A writer into `out`.
    pub fn new(out: W) -> CanonicalWriter<W> {
        CanonicalWriter { out: Some(out), writer: None }
    }

    /// Append one canonical batch (the validator's sink).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.writer.is_none()
            && let Some(out) = self.out.take()
        {
            self.writer = Some(ArrowWriter::try_new(out, batch.schema(), Some(stored_properties(&BTreeMap::new())))?);
        }
        if let Some(w) = self.writer.as_mut() {
            w.write(batch)?;
        }
        Ok(())
    }

    /// Close the file with `metadata` in its footer; `schema` is used when no batch came.
    pub fn finish(mut self, schema: SchemaRef, metadata: &BTreeMap<String, String>) -> Result<W> {
        let mut writer = match (self.writer.take(), self.out.take()) {
            (Some(w), _) => w,
            (None, Some(out)) => ArrowWriter::try_new(out, schema, Some(stored_properties(&BTreeMap::new())))?,
            (None, None) => unreachable!("a CanonicalWriter holds its output or its writer"),
        };
        for (k, v) in metadata {
            writer.append_key_value_metadata(KeyValue::new(k.clone(), v.clone()));
        }
        Ok(writer.into_inner()?)
    }
}
