//! Writing canonical files: the empty templates handed to focal points and
//! the standardised Parquet that `convert` and intake produce.

use std::collections::BTreeMap;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::error::Result;
use crate::schema::DatasetSchema;

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

/// Parquet bytes holding `batches` with the dataset's canonical schema.
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

/// An empty, correctly typed Parquet template for a dataset.
pub fn empty_parquet(schema: &DatasetSchema) -> Result<Vec<u8>> {
    let mut md = BTreeMap::new();
    md.insert("fedreport.dataset".into(), schema.dataset.clone());
    md.insert("fedreport.schema_version".into(), schema.schema_version.clone());
    parquet_bytes(schema.arrow_schema(), &[], &md)
}

/// An empty CSV template: the header row only.
pub fn empty_csv(schema: &DatasetSchema) -> Vec<u8> {
    let mut out = schema.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    out.into_bytes()
}
