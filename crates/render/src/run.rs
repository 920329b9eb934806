//! A pipeline run as the templates see it: the typed manifest and the
//! published tables, read from the lake (`runs/{run_id}/`, each table checked
//! against its sha256 in the manifest), from the folder `fedreport run --out`
//! wrote, or from the batches a run just produced.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int32Type, Int64Type, TimeUnit, TimestampMillisecondType};
use bytes::Bytes;
use fedreport_store::Lake;
use fedreport_store::manifest::{self, DisclosureRecord, Input, Manifest, Output};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;
use serde_json::Value;

use crate::error::{RenderError, Result};

/// One table: column names and rows of JSON values (null, number, string, bool).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    fn index(&self, col: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == col)
    }

    /// Rows whose `col` equals `v`.
    pub fn filter<'a>(&'a self, col: &str, v: &Value) -> impl Iterator<Item = &'a Vec<Value>> + 'a {
        let i = self.index(col);
        let v = v.clone();
        self.rows.iter().filter(move |r| i.is_some_and(|i| r[i] == v))
    }

    /// A cell by column name.
    pub fn get<'a>(&self, row: &'a [Value], col: &str) -> Option<&'a Value> {
        self.index(col).map(|i| &row[i])
    }

    /// An integer cell.
    pub fn int(&self, row: &[Value], col: &str) -> Option<i64> {
        self.get(row, col).and_then(Value::as_i64)
    }

    /// A float cell.
    pub fn float(&self, row: &[Value], col: &str) -> Option<f64> {
        self.get(row, col).and_then(Value::as_f64)
    }

    /// A text cell.
    pub fn text<'a>(&self, row: &'a [Value], col: &str) -> Option<&'a str> {
        self.get(row, col).and_then(Value::as_str)
    }

    /// Read a table from Parquet bytes.
    pub fn from_parquet(name: &str, bytes: Bytes) -> Result<Table> {
        let err = |m: String| RenderError::Run { path: name.to_string(), message: m };
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| err(e.to_string()))?;
        let columns: Vec<String> = builder.schema().fields().iter().map(|f| f.name().clone()).collect();
        let mut table = Table { columns, rows: Vec::new() };
        for batch in builder.build().map_err(|e| err(e.to_string()))? {
            table.push_batch(&batch.map_err(|e| err(e.to_string()))?);
        }
        Ok(table)
    }

    /// A table from record batches (what a run just computed).
    pub fn from_batch(batch: &RecordBatch) -> Table {
        let columns = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        let mut table = Table { columns, rows: Vec::new() };
        table.push_batch(batch);
        table
    }

    fn push_batch(&mut self, batch: &RecordBatch) {
        for i in 0..batch.num_rows() {
            self.rows.push(batch.columns().iter().map(|c| cell(c.as_ref(), i)).collect());
        }
    }
}

fn cell(c: &dyn Array, i: usize) -> Value {
    if c.is_null(i) {
        return Value::Null;
    }
    match c.data_type() {
        DataType::Int64 => c.as_primitive::<Int64Type>().value(i).into(),
        DataType::Int32 => c.as_primitive::<Int32Type>().value(i).into(),
        DataType::Float64 => c.as_primitive::<Float64Type>().value(i).into(),
        DataType::Boolean => c.as_boolean().value(i).into(),
        DataType::Utf8 => c.as_string::<i32>().value(i).into(),
        DataType::Date32 => Date32Type::to_naive_date_opt(c.as_primitive::<Date32Type>().value(i))
            .map(|d| d.to_string())
            .unwrap_or_default()
            .into(),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            chrono::DateTime::from_timestamp_millis(c.as_primitive::<TimestampMillisecondType>().value(i))
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default()
                .into()
        }
        _ => arrow::util::display::array_value_to_string(c, i).unwrap_or_default().into(),
    }
}

/// A run: its manifest and its published tables.
#[derive(Debug, Clone)]
pub struct RunData {
    pub manifest: Manifest,
    pub tables: BTreeMap<String, Table>,
}

impl RunData {
    /// From a manifest and each table's Parquet bytes; every table the
    /// manifest lists must be there.
    pub fn from_parts(manifest: Manifest, tables: Vec<(String, Bytes)>) -> Result<RunData> {
        let mut out = BTreeMap::new();
        for (name, bytes) in tables {
            out.insert(name.clone(), Table::from_parquet(&name, bytes)?);
        }
        RunData::checked(manifest, out)
    }

    /// From the batches a run just produced (no re-reading of what it wrote).
    pub fn from_batches(manifest: Manifest, tables: &BTreeMap<String, RecordBatch>) -> Result<RunData> {
        RunData::checked(manifest, tables.iter().map(|(n, b)| (n.clone(), Table::from_batch(b))).collect())
    }

    fn checked(manifest: Manifest, tables: BTreeMap<String, Table>) -> Result<RunData> {
        if let Some(o) = manifest.outputs.iter().find(|o| !tables.contains_key(&o.table)) {
            return Err(RenderError::Run {
                path: "tables".into(),
                message: format!("table {} listed in the manifest is missing", o.table),
            });
        }
        Ok(RunData { manifest, tables })
    }

    /// A run in the lake: its manifest and published tables, each checked
    /// against the sha256 the manifest recorded.
    pub async fn from_lake(lake: &Lake, run_id: &str) -> Result<RunData> {
        let manifest = manifest::read_manifest(lake, run_id).await?;
        let tables = manifest::read_tables(lake, &manifest).await?;
        RunData::from_parts(manifest, tables)
    }

    /// From a local run folder (`manifest.json`, `tables/*.parquet`).
    pub fn from_folder(dir: &std::path::Path) -> Result<RunData> {
        let read = |p: std::path::PathBuf| {
            std::fs::read(&p).map_err(|source| RenderError::Io { path: p.display().to_string(), source })
        };
        let path = dir.join("manifest.json");
        let manifest = Manifest::from_json(&path.display().to_string(), &read(path.clone())?)?;
        let mut tables = Vec::new();
        for o in &manifest.outputs {
            let p = dir.join("tables").join(format!("{}.parquet", o.table));
            tables.push((o.table.clone(), Bytes::from(read(p)?)));
        }
        RunData::from_parts(manifest, tables)
    }

    /// The cycle year of the run.
    pub fn year(&self) -> i64 {
        self.manifest.cycle_year as i64
    }

    /// A table, or an empty one.
    pub fn table(&self, name: &str) -> &Table {
        static EMPTY: std::sync::OnceLock<Table> = std::sync::OnceLock::new();
        self.tables.get(name).unwrap_or_else(|| EMPTY.get_or_init(Table::default))
    }

    /// What the templates see of the run.
    pub fn view(&self) -> RunView {
        let m = &self.manifest;
        RunView {
            id: m.run_id.clone(),
            created_at: m.created_at.clone(),
            engine: m.engine.clone(),
            pipeline: format!("{} {}", m.pipeline_name, m.pipeline_version),
            pipeline_sha256: m.pipeline_sha256.clone(),
            year: self.year(),
            inputs: m.inputs.clone(),
            outputs: m.outputs.clone(),
            warnings: m.warnings.clone(),
            disclosure: m.disclosure.clone(),
        }
    }
}

/// The run as templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub id: String,
    pub created_at: String,
    pub engine: String,
    pub pipeline: String,
    pub pipeline_sha256: String,
    pub year: i64,
    pub inputs: Vec<Input>,
    pub outputs: Vec<Output>,
    pub warnings: Vec<String>,
    /// Disclosure control applied, one record per protected table.
    pub disclosure: Vec<DisclosureRecord>,
}
