//! Running a pipeline: pin, register, execute the steps, write, record.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use fedreport_contract::{Registry, Schemas};
use fedreport_store::Lake;
use fedreport_store::layout::sha256_hex;

use crate::disclosure;
use crate::error::{EngineError, Result};
use crate::manifest::{FileRef, Manifest, Output, StepRecord, Submission};
use crate::output;
use crate::pin::{self, Snapshot};
use crate::pipeline::{Param, Pipeline, StepKind};
use crate::session::{self, Engine, Local};

/// Options of a run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The cycle year (overrides the pipeline's `cycle_year`).
    pub year: Option<i32>,
    /// Parameter overrides (`--set name=value`).
    pub set: Vec<(String, String)>,
    /// DataFusion partitions (default: number of cores).
    pub target_partitions: Option<usize>,
    /// Where the SQL runs (default: DataFusion in this process).
    pub engine: Option<Arc<dyn Engine>>,
}

/// Progress of a run, for a progress bar.
#[derive(Debug, Clone)]
pub enum Progress {
    Pinning { done: usize, total: usize },
    Step { name: String, index: usize, total: usize },
    Writing { table: String },
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub manifest: Manifest,
    /// Published tables by name, as written.
    pub tables: BTreeMap<String, RecordBatch>,
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Run a pipeline over the lake's current accepted returns.
pub async fn run(
    lake: &Lake,
    pipeline: &Pipeline,
    opts: &RunOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunOutcome> {
    let mut params = pipeline.parameters.clone();
    if let Some(y) = opts.year {
        params.insert("cycle_year".into(), Param::Int(y as i64));
    }
    for (k, v) in &opts.set {
        let current = params.get(k).ok_or_else(|| EngineError::Pipeline {
            file: "pipeline.toml".into(),
            message: format!(
                "--set {k}: no such parameter (parameters: {})",
                params.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        })?;
        let p = current.parse_like(v).ok_or_else(|| EngineError::Pipeline {
            file: "pipeline.toml".into(),
            message: format!("--set {k}={v}: the value must have the type of the default {current:?}"),
        })?;
        params.insert(k.clone(), p);
    }
    let year = match params.get("cycle_year") {
        Some(Param::Int(y)) => *y as i32,
        _ => pipeline.cycle_year(),
    };
    let schemas = Schemas::embedded();
    let t = Instant::now();
    let snapshot =
        pin::pin(lake, schemas, year, &mut |done, total| progress(Progress::Pinning { done, total })).await?;
    let pin_ms = t.elapsed().as_millis() as u64;
    let submissions = read_submissions(lake).await?;
    let partitions = opts.target_partitions.unwrap_or_else(session::default_partitions);
    let run_id = format!("r-{}-{}", Utc::now().format("%Y%m%dT%H%M%S%3fZ"), &snapshot.id[..8]);
    let engine = opts.engine.clone().unwrap_or_else(|| Arc::new(Local));
    execute(engine.as_ref(), lake, pipeline, params, snapshot, submissions, partitions, run_id, None, pin_ms, progress)
        .await
}

/// Re-run a past run from its manifest (a run id in the lake, or a manifest
/// file), with its pinned inputs, parameters and pipeline files. Returns the
/// new run and the outputs whose bytes differ from the original's.
pub async fn replay(
    lake: &Lake,
    manifest: &Manifest,
    progress: &mut dyn FnMut(Progress),
) -> Result<(RunOutcome, Vec<String>)> {
    replay_on(&Local, lake, manifest, progress).await
}

/// [`replay`] on a chosen engine.
pub async fn replay_on(
    engine: &dyn Engine,
    lake: &Lake,
    manifest: &Manifest,
    progress: &mut dyn FnMut(Progress),
) -> Result<(RunOutcome, Vec<String>)> {
    let folder = Manifest::folder(&manifest.run_id);
    let mut files = Vec::new();
    for m in lake.list(&format!("{folder}pipeline/")).await? {
        let key = lake.rel(&m.location);
        let name = key.rsplit('/').next().unwrap_or_default().to_string();
        let text = String::from_utf8(lake.get(&key).await?.to_vec())
            .map_err(|e| EngineError::Manifest { path: key.clone(), message: e.to_string() })?;
        files.push((name, text));
    }
    let pipeline = Pipeline::parse(&format!("{}{folder}pipeline", lake.root_url()), files)?;
    if pipeline.hash() != manifest.pipeline_sha256 {
        return Err(EngineError::Manifest {
            path: folder,
            message: "the pipeline files kept with the run do not match its manifest".into(),
        });
    }
    let t = Instant::now();
    let snapshot = pin::pin_exact(lake, Schemas::embedded(), &manifest.inputs, &mut |done, total| {
        progress(Progress::Pinning { done, total })
    })
    .await?;
    let pin_ms = t.elapsed().as_millis() as u64;
    let run_id = format!("r-{}-{}", Utc::now().format("%Y%m%dT%H%M%S%3fZ"), &snapshot.id[..8]);
    let outcome = execute(
        engine,
        lake,
        &pipeline,
        manifest.parameters.clone(),
        snapshot,
        manifest.submissions.clone(),
        manifest.target_partitions,
        run_id,
        Some(manifest.run_id.clone()),
        pin_ms,
        progress,
    )
    .await?;
    let mut differences = Vec::new();
    for o in &manifest.outputs {
        match outcome.manifest.output(&o.table) {
            Some(n) if n.parquet.sha256 == o.parquet.sha256 && n.csv.sha256 == o.csv.sha256 => {}
            Some(_) => differences.push(format!("{}: different bytes", o.table)),
            None => differences.push(format!("{}: not produced", o.table)),
        }
    }
    Ok((outcome, differences))
}

/// Read a manifest from a run id in the lake, or from a file path or URL.
pub async fn load_manifest(lake: &Lake, run_or_path: &str) -> Result<Manifest> {
    let bytes = if run_or_path.ends_with(".json") {
        match lake.get_opt(run_or_path).await? {
            Some(b) => b,
            None => Bytes::from(
                std::fs::read(run_or_path).map_err(|source| EngineError::Io { path: run_or_path.into(), source })?,
            ),
        }
    } else {
        let key = format!("{}manifest.json", Manifest::folder(run_or_path));
        lake.get_opt(&key).await?.ok_or_else(|| EngineError::Manifest {
            path: key,
            message: "no such run in this lake; list runs under runs/ or pass a manifest.json path".into(),
        })?
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| EngineError::Manifest { path: run_or_path.into(), message: e.to_string() })
}

async fn read_submissions(lake: &Lake) -> Result<Vec<Submission>> {
    let mut out: Vec<Submission> = fedreport_store::receipt::list(lake, None)
        .await?
        .into_iter()
        .map(|r| Submission {
            member: r.member,
            dataset: r.dataset,
            year: r.year,
            status: match r.status {
                fedreport_store::Status::Accepted => "accepted".into(),
                fedreport_store::Status::Rejected => "rejected".into(),
            },
            submission_id: r.submission_id,
        })
        .collect();
    out.sort_by(|a, b| a.submission_id.cmp(&b.submission_id));
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
async fn execute(
    engine: &dyn Engine,
    lake: &Lake,
    pipeline: &Pipeline,
    params: BTreeMap<String, Param>,
    snapshot: Snapshot,
    submissions: Vec<Submission>,
    partitions: usize,
    run_id: String,
    replay_of: Option<String>,
    pin_ms: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunOutcome> {
    let created_at = now();
    let year = match params.get("cycle_year") {
        Some(Param::Int(y)) => *y as i32,
        _ => pipeline.cycle_year(),
    };
    let ctx = engine.session(lake, session::config(partitions)).await?;
    let folder = Manifest::folder(&run_id);
    let work = format!("{folder}work/");
    register_inputs(engine, &ctx, lake, &work, &snapshot, &submissions, &params, year).await?;

    for (name, text) in &pipeline.files {
        lake.put(&format!("{folder}pipeline/{name}"), Bytes::from(text.clone())).await?;
    }
    let mut timings = BTreeMap::new();
    timings.insert("pin".to_string(), pin_ms);
    let mut warnings = Vec::new();
    let mut steps = Vec::new();
    let mut tables = BTreeMap::new();
    let mut outputs = Vec::new();
    let k = match params.get("disclosure_k") {
        Some(Param::Int(k)) => *k,
        _ => 5,
    };
    let total = pipeline.steps.len();
    for (index, step) in pipeline.steps.iter().enumerate() {
        progress(Progress::Step { name: step.name.clone(), index, total });
        let t = Instant::now();
        let (batch, file, sha) = match &step.kind {
            StepKind::Sql { file, text } => {
                let df = ctx.sql(text).await.map_err(|e| sql_error(pipeline, file, text, e))?;
                let schema = Arc::new(df.schema().as_arrow().clone());
                let batches = df.collect().await.map_err(|e| sql_error(pipeline, file, text, e))?;
                (
                    output::finish(schema, &batches, &step.key, &step.name)?,
                    Some(file.clone()),
                    Some(sha256_hex(text.as_bytes())),
                )
            }
            StepKind::Disclosure(d) => {
                let raw = ctx.table(d.input.as_str()).await?;
                let schema = Arc::new(raw.schema().as_arrow().clone());
                let raw = output::finish(schema, &raw.collect().await?, &step.key, &step.name)?;
                let (published, w) = disclosure::apply(&raw, d, k)?;
                warnings.extend(w);
                (output::finish(published.schema(), &[published], &step.key, &step.name)?, None, None)
            }
        };
        check_unique_key(&batch, &step.key, &step.name, &mut warnings);
        engine.register_batch(&ctx, lake, &work, &step.name, batch.clone()).await?;
        let millis = t.elapsed().as_millis() as u64;
        timings.insert(format!("step:{}", step.name), millis);
        steps.push(StepRecord {
            name: step.name.clone(),
            file,
            sha256: sha,
            depends_on: step.depends_on.clone(),
            millis,
        });
        if step.publish {
            progress(Progress::Writing { table: step.name.clone() });
            let pq = output::parquet(&batch, &step.name)?;
            let csv = output::csv(&batch)?;
            let pq_ref = put(lake, &format!("{folder}tables/{}.parquet", step.name), pq).await?;
            let csv_ref = put(lake, &format!("{folder}tables/{}.csv", step.name), csv).await?;
            outputs.push(Output {
                table: step.name.clone(),
                rows: batch.num_rows() as u64,
                key: step.key.clone(),
                parquet: pq_ref,
                csv: csv_ref,
            });
            tables.insert(step.name.clone(), batch);
        }
    }
    let manifest = Manifest {
        run_id: run_id.clone(),
        created_at,
        replay_of,
        engine: engine.describe(),
        target_partitions: partitions,
        pipeline_name: pipeline.name.clone(),
        pipeline_version: pipeline.version.clone(),
        pipeline_source: pipeline.source.clone(),
        pipeline_sha256: pipeline.hash(),
        steps,
        parameters: params,
        snapshot: snapshot.id.clone(),
        inputs: snapshot.inputs,
        submissions,
        outputs,
        timings_ms: timings,
        warnings,
    };
    lake.put(&format!("{folder}manifest.json"), Bytes::from(serde_json::to_vec_pretty(&manifest)?)).await?;
    Ok(RunOutcome { manifest, tables })
}

async fn put(lake: &Lake, key: &str, bytes: Vec<u8>) -> Result<FileRef> {
    let r = FileRef { key: key.to_string(), sha256: sha256_hex(&bytes), bytes: bytes.len() as u64 };
    lake.put(key, Bytes::from(bytes)).await?;
    Ok(r)
}

fn check_unique_key(batch: &RecordBatch, key: &[String], step: &str, warnings: &mut Vec<String>) {
    let cols: Vec<&ArrayRef> =
        key.iter().filter_map(|k| batch.schema().index_of(k).ok().map(|i| batch.column(i))).collect();
    let mut prev: Option<Vec<String>> = None;
    for i in 0..batch.num_rows() {
        let row: Vec<String> = cols.iter().map(|c| output::cell(c.as_ref(), i)).collect();
        if prev.as_ref() == Some(&row) {
            warnings.push(format!("{step}: key ({}) repeats at ({})", key.join(", "), row.join(", ")));
            return;
        }
        prev = Some(row);
    }
}

/// A DataFusion error as `file:line: message`: the line from the parser's
/// location, else the first line naming the identifier the message quotes.
fn sql_error(pipeline: &Pipeline, file: &str, text: &str, e: datafusion::error::DataFusionError) -> EngineError {
    let message = e.to_string();
    let line = line_of(&message, text);
    EngineError::Sql { file: format!("{}/{file}", pipeline.source), line, message }
}

fn line_of(message: &str, text: &str) -> usize {
    if let Some(pos) = message.find("Line: ") {
        let digits: String = message[pos + 6..].chars().take_while(|c| c.is_ascii_digit()).collect();
        if let Ok(n) = digits.parse() {
            return n;
        }
    }
    let quoted: Vec<&str> = message.split(['\'', '"', '`']).skip(1).step_by(2).collect();
    let mut words: Vec<&str> = quoted.iter().flat_map(|q| q.rsplit('.').next()).filter(|w| !w.is_empty()).collect();
    if let Some(pos) = message.find("named ") {
        let after = &message[pos + 6..];
        let word = after.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.')).next().unwrap_or("");
        if let Some(w) = word.trim_end_matches('.').rsplit('.').next() {
            words.insert(0, w);
        }
    }
    for w in words {
        for (i, line) in text.lines().enumerate() {
            let code = line.split("--").next().unwrap_or("");
            if code.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|t| t.eq_ignore_ascii_case(w)) {
                return i + 1;
            }
        }
    }
    1
}

/// Register the snapshot's datasets and the auxiliary input tables.
#[allow(clippy::too_many_arguments)]
async fn register_inputs(
    engine: &dyn Engine,
    ctx: &SessionContext,
    lake: &Lake,
    work: &str,
    snapshot: &Snapshot,
    submissions: &[Submission],
    params: &BTreeMap<String, Param>,
    year: i32,
) -> Result<()> {
    let schemas = Schemas::embedded();
    // One folder per dataset, one file per year. (Declaring the files' sort
    // order made DataFusion 55.2 slower here: 1.8x, measured.)
    for s in schemas.iter() {
        let url = format!("{}/", lake.url(&snapshot.folder(&s.dataset)));
        let options = ParquetReadOptions::default();
        ctx.register_parquet(s.dataset.as_str(), &url, options).await?;
    }
    let mut aux: Vec<(&str, RecordBatch)> = Vec::new();
    let mut mem = |name: &'static str, cols: Vec<(&str, ArrayRef)>| -> Result<()> {
        aux.push((name, batch_of(cols)?));
        Ok(())
    };
    let inputs = &snapshot.inputs;
    let ts = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_millis());
    mem(
        "returns",
        vec![
            ("reporting_member", Arc::new(StringArray::from_iter_values(inputs.iter().map(|i| i.member.as_str())))),
            ("dataset", Arc::new(StringArray::from_iter_values(inputs.iter().map(|i| i.dataset.as_str())))),
            ("reference_year", Arc::new(Int32Array::from_iter_values(inputs.iter().map(|i| i.year)))),
            ("version", Arc::new(Int64Array::from_iter_values(inputs.iter().map(|i| i.version as i64)))),
            (
                "received_at",
                Arc::new(
                    TimestampMillisecondArray::from(inputs.iter().map(|i| ts(&i.received_at)).collect::<Vec<_>>())
                        .with_timezone("UTC"),
                ),
            ),
            ("rows", Arc::new(Int64Array::from_iter_values(inputs.iter().map(|i| i.rows as i64)))),
            ("submission_id", Arc::new(StringArray::from_iter_values(inputs.iter().map(|i| i.submission_id.as_str())))),
        ],
    )?;
    mem(
        "submissions",
        vec![
            (
                "reporting_member",
                Arc::new(StringArray::from_iter_values(submissions.iter().map(|s| s.member.as_str()))),
            ),
            ("dataset", Arc::new(StringArray::from(submissions.iter().map(|s| s.dataset.clone()).collect::<Vec<_>>()))),
            ("reference_year", Arc::new(Int32Array::from(submissions.iter().map(|s| s.year).collect::<Vec<_>>()))),
            ("status", Arc::new(StringArray::from_iter_values(submissions.iter().map(|s| s.status.as_str())))),
            (
                "submission_id",
                Arc::new(StringArray::from_iter_values(submissions.iter().map(|s| s.submission_id.as_str()))),
            ),
        ],
    )?;
    let reg = Registry::embedded();
    let members: Vec<_> = reg.members().collect();
    mem(
        "members",
        vec![
            ("code", Arc::new(StringArray::from_iter_values(members.iter().map(|m| m.code.as_str())))),
            ("name", Arc::new(StringArray::from_iter_values(members.iter().map(|m| m.name.as_str())))),
            (
                "kind",
                Arc::new(StringArray::from_iter_values(members.iter().map(|m| match m.kind {
                    fedreport_contract::MemberKind::State => "state",
                    fedreport_contract::MemberKind::Territory => "territory",
                    fedreport_contract::MemberKind::Organisation => "organisation",
                }))),
            ),
            ("subregion", Arc::new(StringArray::from(members.iter().map(|m| m.subregion.clone()).collect::<Vec<_>>()))),
        ],
    )?;
    mem("datasets", vec![("dataset", Arc::new(StringArray::from_iter_values(schemas.names())))])?;
    let mut cl = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for s in schemas.iter() {
        for c in &s.columns {
            for (i, v) in c.values.iter().flatten().enumerate() {
                cl.0.push(s.dataset.clone());
                cl.1.push(c.name.clone());
                cl.2.push(v.clone());
                cl.3.push(i as i32 + 1);
            }
        }
    }
    mem(
        "codelists",
        vec![
            ("dataset", Arc::new(StringArray::from(cl.0))),
            ("column_name", Arc::new(StringArray::from(cl.1))),
            ("value", Arc::new(StringArray::from(cl.2))),
            ("position", Arc::new(Int32Array::from(cl.3))),
        ],
    )?;
    let first = inputs.iter().map(|i| i.year).min().unwrap_or(year).min(year);
    mem("cycle_years", vec![("reference_year", Arc::new(Int32Array::from_iter_values(first..=year)))])?;
    let mut cols: Vec<(&str, ArrayRef)> = Vec::new();
    for (k, v) in params {
        let arr: ArrayRef = match v {
            Param::Int(i) if k == "cycle_year" => Arc::new(Int32Array::from(vec![*i as i32])),
            Param::Int(i) => Arc::new(Int64Array::from(vec![*i])),
            Param::Float(f) => Arc::new(Float64Array::from(vec![*f])),
            Param::Bool(b) => Arc::new(BooleanArray::from(vec![*b])),
            Param::Text(t) => match ts(t) {
                Some(ms) => Arc::new(TimestampMillisecondArray::from(vec![ms]).with_timezone("UTC")),
                None => Arc::new(StringArray::from(vec![t.clone()])),
            },
        };
        cols.push((k.as_str(), arr));
    }
    mem("params", cols)?;
    for (name, batch) in aux {
        engine.register_batch(ctx, lake, work, name, batch).await?;
    }
    Ok(())
}

fn batch_of(cols: Vec<(&str, ArrayRef)>) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(
        cols.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect::<Vec<_>>(),
    ));
    Ok(RecordBatch::try_new(schema, cols.into_iter().map(|(_, a)| a).collect())?)
}

#[cfg(test)]
mod tests {
    use super::line_of;

    #[test]
    fn sql_errors_point_at_a_line() {
        let sql = "SELECT a,\n  b\nFROM t\nWHERE nope = 1";
        assert_eq!(line_of("Schema error: No field named nope. Valid fields are t.a.", sql), 4);
        assert_eq!(
            line_of("SQL error: ParserError(\"Expected: end of statement, found: x at Line: 3, Column: 6\")", sql),
            3
        );
        assert_eq!(line_of("Error during planning: table 'datafusion.public.t' not found", sql), 3);
    }
}
