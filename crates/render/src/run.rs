//! A pipeline run as the templates see it: the manifest and the published
//! tables, read from a run folder (`runs/{run_id}/` in the lake, or the
//! folder `fedreport run --out` wrote).

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int32Type, Int64Type, TimeUnit, TimestampMillisecondType};
use bytes::Bytes;
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
        let mut rows = Vec::new();
        for batch in builder.build().map_err(|e| err(e.to_string()))? {
            let batch = batch.map_err(|e| err(e.to_string()))?;
            for i in 0..batch.num_rows() {
                rows.push(batch.columns().iter().map(|c| cell(c.as_ref(), i)).collect());
            }
        }
        Ok(Table { columns, rows })
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
        DataType::Date32 => {
            chrono::NaiveDate::from_num_days_from_ce_opt(c.as_primitive::<Date32Type>().value(i) + 719_163)
                .map(|d| d.to_string())
                .unwrap_or_default()
                .into()
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            chrono::DateTime::from_timestamp_millis(c.as_primitive::<TimestampMillisecondType>().value(i))
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default()
                .into()
        }
        _ => arrow::util::display::array_value_to_string(c, i).unwrap_or_default().into(),
    }
}

/// A run: its manifest (as JSON) and its published tables.
#[derive(Debug, Clone)]
pub struct RunData {
    pub manifest: Value,
    pub tables: BTreeMap<String, Table>,
}

impl RunData {
    /// From the manifest bytes and each table's Parquet bytes.
    pub fn from_parts(manifest: &[u8], tables: Vec<(String, Bytes)>) -> Result<RunData> {
        let manifest: Value = serde_json::from_slice(manifest)
            .map_err(|e| RenderError::Run { path: "manifest.json".into(), message: e.to_string() })?;
        let mut out = BTreeMap::new();
        for (name, bytes) in tables {
            out.insert(name.clone(), Table::from_parquet(&name, bytes)?);
        }
        for o in manifest["outputs"].as_array().into_iter().flatten() {
            let t = o["table"].as_str().unwrap_or_default();
            if !out.contains_key(t) {
                return Err(RenderError::Run {
                    path: "tables".into(),
                    message: format!("table {t} listed in the manifest is missing"),
                });
            }
        }
        Ok(RunData { manifest, tables: out })
    }

    /// From a local run folder (`manifest.json`, `tables/*.parquet`).
    pub fn from_folder(dir: &std::path::Path) -> Result<RunData> {
        let read = |p: std::path::PathBuf| {
            std::fs::read(&p).map_err(|source| RenderError::Io { path: p.display().to_string(), source })
        };
        let manifest = read(dir.join("manifest.json"))?;
        let mut tables = Vec::new();
        let tdir = dir.join("tables");
        let entries =
            std::fs::read_dir(&tdir).map_err(|source| RenderError::Io { path: tdir.display().to_string(), source })?;
        let mut names: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .collect();
        names.sort();
        for p in names {
            let name = p.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
            tables.push((name, Bytes::from(read(p)?)));
        }
        RunData::from_parts(&manifest, tables)
    }

    /// The cycle year of the run.
    pub fn year(&self) -> i64 {
        self.manifest["parameters"]["cycle_year"].as_i64().unwrap_or(0)
    }

    /// A table, or an empty one.
    pub fn table(&self, name: &str) -> &Table {
        static EMPTY: std::sync::OnceLock<Table> = std::sync::OnceLock::new();
        self.tables.get(name).unwrap_or_else(|| EMPTY.get_or_init(Table::default))
    }

    /// What the templates see of the run.
    pub fn view(&self) -> RunView {
        let m = &self.manifest;
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        RunView {
            id: s(&m["run_id"]),
            created_at: s(&m["created_at"]),
            engine: s(&m["engine"]),
            pipeline: format!("{} {}", s(&m["pipeline_name"]), s(&m["pipeline_version"])),
            pipeline_sha256: s(&m["pipeline_sha256"]),
            year: self.year(),
            inputs: m["inputs"].as_array().cloned().unwrap_or_default(),
            outputs: m["outputs"].as_array().cloned().unwrap_or_default(),
            warnings: m["warnings"].as_array().map(|w| w.iter().map(s).collect()).unwrap_or_default(),
            disclosure_k: m["parameters"]["disclosure_k"].as_i64().unwrap_or(5),
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
    pub inputs: Vec<Value>,
    pub outputs: Vec<Value>,
    pub warnings: Vec<String>,
    pub disclosure_k: i64,
}
