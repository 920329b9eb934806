//! Output tables: sorted by their key in the writer (whatever the SQL's
//! ORDER BY did), strings normalised to Utf8, and written as Parquet and CSV
//! byte-identically for identical data.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::{SortColumn, SortOptions, cast, concat_batches, lexsort_to_indices, take};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;
use fedreport_contract::canonical::stored_properties;

use crate::error::{EngineError, Result};

/// Normalise a column type for publication (view and large strings → Utf8).
fn published_type(dt: &DataType) -> DataType {
    match dt {
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::Dictionary(_, v) => published_type(v),
        other => other.clone(),
    }
}

/// Concatenate, normalise types and sort by `key` (ascending, nulls first).
pub fn finish(schema: SchemaRef, batches: &[RecordBatch], key: &[String], step: &str) -> Result<RecordBatch> {
    let batch = concat_batches(&schema, batches)?;
    let fields: Vec<Field> =
        schema.fields().iter().map(|f| Field::new(f.name(), published_type(f.data_type()), true)).collect();
    let cols: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .zip(&fields)
        .map(|(c, f)| if c.data_type() == f.data_type() { Ok(c.clone()) } else { cast(c, f.data_type()) })
        .collect::<std::result::Result<_, _>>()?;
    let out_schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(out_schema.clone(), cols)?;
    if batch.num_rows() <= 1 {
        return Ok(batch);
    }
    let mut sort = Vec::new();
    for k in key {
        let idx = out_schema.index_of(k).map_err(|_| EngineError::Pipeline {
            file: "pipeline.toml".into(),
            message: format!("step {step}: key column '{k}' is not in its output (columns: {})", names(&out_schema)),
        })?;
        sort.push(SortColumn {
            values: batch.column(idx).clone(),
            options: Some(SortOptions { descending: false, nulls_first: true }),
        });
    }
    // Every other column too, so rows equal on the key still come out in one order.
    for (i, f) in out_schema.fields().iter().enumerate() {
        if !key.contains(f.name()) {
            sort.push(SortColumn {
                values: batch.column(i).clone(),
                options: Some(SortOptions { descending: false, nulls_first: true }),
            });
        }
    }
    let idx = lexsort_to_indices(&sort, None)?;
    let cols: Vec<ArrayRef> =
        batch.columns().iter().map(|c| take(c, &idx, None)).collect::<std::result::Result<_, _>>()?;
    Ok(RecordBatch::try_new(out_schema, cols)?)
}

fn names(s: &Schema) -> String {
    s.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
}

/// Parquet bytes of a table (fixed writer settings, so equal data gives equal bytes).
pub fn parquet(batch: &RecordBatch, table: &str) -> Result<Vec<u8>> {
    let mut md = BTreeMap::new();
    md.insert("fedreport.table".to_string(), table.to_string());
    Ok(fedreport_contract::canonical::parquet_bytes(batch.schema(), std::slice::from_ref(batch), &md)?)
}

/// The Parquet bytes of a table a run keeps to itself (a step with
/// `publish = false`, whose bytes serve only as its content id): as
/// [`parquet`], but LZ4, whose codec costs nothing to set up, where zstd
/// makes a compression and a decompression context for every column.
pub fn internal_parquet(batch: &RecordBatch, table: &str) -> Result<Vec<u8>> {
    let md = BTreeMap::from([("fedreport.table".to_string(), table.to_string())]);
    let mut w = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(stored_properties(&md)))?;
    w.write(batch)?;
    Ok(w.into_inner()?)
}

/// One cell as CSV text: integers plainly, floats in shortest form, dates
/// ISO 8601, timestamps RFC 3339 in UTC, nulls empty.
pub fn cell(col: &dyn Array, i: usize) -> String {
    let mut out = String::new();
    write_cell(&mut out, col, i);
    out
}

/// [`cell`], appended to `out`.
fn write_cell(out: &mut String, col: &dyn Array, i: usize) {
    use datafusion::arrow::datatypes::*;
    use std::fmt::Write;
    if col.is_null(i) {
        return;
    }
    // writing to a String cannot fail
    let _ = match col.data_type() {
        DataType::Int64 => write!(out, "{}", col.as_primitive::<Int64Type>().value(i)),
        DataType::Int32 => write!(out, "{}", col.as_primitive::<Int32Type>().value(i)),
        DataType::UInt64 => write!(out, "{}", col.as_primitive::<UInt64Type>().value(i)),
        DataType::Float64 => {
            let v = col.as_primitive::<Float64Type>().value(i);
            if v == 0.0 { write!(out, "0") } else { write!(out, "{v}") }
        }
        DataType::Boolean => write!(out, "{}", col.as_boolean().value(i)),
        DataType::Utf8 => write!(out, "{}", col.as_string::<i32>().value(i)),
        DataType::Date32 => match Date32Type::to_naive_date_opt(col.as_primitive::<Date32Type>().value(i)) {
            Some(d) => write!(out, "{d}"),
            None => Ok(()),
        },
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            match chrono::DateTime::from_timestamp_millis(col.as_primitive::<TimestampMillisecondType>().value(i)) {
                Some(t) => write!(out, "{}", t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                None => Ok(()),
            }
        }
        _ => write!(out, "{}", datafusion::arrow::util::display::array_value_to_string(col, i).unwrap_or_default()),
    };
}

/// CSV bytes of a table: header row, LF line ends, RFC 4180 quoting.
pub fn csv(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut w = ::csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(batch.schema().fields().iter().map(|f| f.name().as_str()))?;
    let mut field = String::new();
    for i in 0..batch.num_rows() {
        for c in batch.columns() {
            field.clear();
            write_cell(&mut field, c.as_ref(), i);
            w.write_field(&field)?;
        }
        w.write_record(None::<&[u8]>)?;
    }
    w.into_inner().map_err(|e| EngineError::Io { path: "csv".into(), source: e.into_error() })
}
