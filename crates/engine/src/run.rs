//! Running a pipeline: pin, register, execute the steps, write, record.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::prelude::SessionContext;
use fedreport_contract::Contract;
use fedreport_store::Lake;
use fedreport_store::layout::{self, sha256_hex};
use fedreport_store::manifest::{DisclosureRecord, FileRef, Manifest, Output, Reuse, StepRecord, Submission};
use futures::StreamExt;

use crate::disclosure;
use crate::error::{EngineError, Result};
use crate::incremental;
use crate::output;
use crate::pin::{self, Snapshot};
use crate::pipeline::{CYCLE_YEAR, DISCLOSURE_K, Param, Pipeline, Step, StepKind};
use crate::session::{self, Engine, Local, ScanFile};

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
    /// Compute everything afresh, reusing no snapshot part and no cached
    /// step result (they are written again): to check that an incremental
    /// run gives the same tables.
    pub cold: bool,
    /// A dataset and year whose versions average this many bytes or more
    /// is read where intake stored the versions; smaller ones are written
    /// again into one file (default 16 KiB, see [`crate::pin`]).
    pub read_in_place_from: Option<u64>,
}

/// Progress of a run, for a progress bar.
#[derive(Debug, Clone)]
pub enum Progress {
    Pinning {
        done: usize,
        total: usize,
    },
    /// A step started (`index` steps started before it; steps that do not
    /// read each other run at the same time, and write their tables as they end).
    Step {
        name: String,
        index: usize,
        total: usize,
    },
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub manifest: Manifest,
    /// Published tables by name, as written.
    pub tables: BTreeMap<String, RecordBatch>,
}

impl RunOutcome {
    /// Copy the run's tables (Parquet and CSV, the bytes the lake holds) and
    /// its manifest to a local folder: `DIR/tables/*.parquet|csv`, `DIR/manifest.json`.
    pub fn copy_to(&self, dir: &std::path::Path) -> Result<()> {
        let tables = dir.join("tables");
        let io = |path: &std::path::Path| {
            let path = path.display().to_string();
            move |source| EngineError::Io { path, source }
        };
        std::fs::create_dir_all(&tables).map_err(io(&tables))?;
        for (name, batch) in &self.tables {
            let csv = tables.join(format!("{name}.csv"));
            std::fs::write(&csv, output::csv(batch)?).map_err(io(&csv))?;
            let pq = tables.join(format!("{name}.parquet"));
            std::fs::write(&pq, output::parquet(batch, name)?).map_err(io(&pq))?;
        }
        let manifest = dir.join("manifest.json");
        std::fs::write(&manifest, self.manifest.to_json()?).map_err(io(&manifest))?;
        Ok(())
    }
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Run a pipeline over the lake's current accepted returns of a forum's
/// contract. The clearance of an earlier run's drafts on the same cycle is
/// withdrawn, saying which run replaced it.
pub async fn run(
    lake: &Lake,
    contract: &Contract,
    pipeline: &Pipeline,
    opts: &RunOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunOutcome> {
    let params = pipeline.parameters_with(opts.year, &opts.set)?;
    let year = int_param(&params, CYCLE_YEAR)? as i32;
    // what intake took in: the current versions and every receipt; beside
    // it, the audit log is read (and its cache brought up to date) for the
    // withdrawal of superseded drafts at the end of the run, which then
    // reads only the events newer than that (without the cache it read
    // every event there, after the steps). An error is left for the
    // withdrawal to report.
    let t = Instant::now();
    let (intake, _) = futures::join!(read_intake(lake, year, !opts.cold), fedreport_store::audit::read(lake));
    let intake = intake?;
    let ledger_ms = t.elapsed().as_millis() as u64;
    let (submissions, receipts_read, receipts_cached) = (intake.submissions, intake.read, intake.cached);
    let t = Instant::now();
    let snapshot =
        pin::pin(lake, contract.schemas(), intake.versions, opts.cold, opts.read_in_place_from, &mut |done, total| {
            progress(Progress::Pinning { done, total })
        })
        .await?;
    let pin_ms = t.elapsed().as_millis() as u64;
    let partitions = opts.target_partitions.unwrap_or_else(session::default_partitions);
    let engine = opts.engine.clone().unwrap_or_else(|| Arc::new(Local::default()));
    let reuse = Reuse {
        snapshot_reused: snapshot.made.reused_snapshot,
        parts_built: snapshot.made.built.clone(),
        parts_reused: snapshot.made.reused,
        receipts_read,
        receipts_cached,
    };
    let exec = Execution {
        engine: engine.as_ref(),
        lake,
        contract,
        pipeline,
        partitions,
        replay_of: None,
        timings: BTreeMap::from([("pin".to_string(), pin_ms), ("ledger".to_string(), ledger_ms)]),
        // --cold reads no cached result but writes every one again
        read_cache: !opts.cold,
        write_cache: true,
        reuse,
    };
    let outcome = exec.run(params, snapshot, submissions, progress).await?;
    // Drafts of an earlier run on this cycle no longer show its latest figures.
    fedreport_store::cycle::withdraw_superseded(lake, "fedreport run", &outcome.manifest).await?;
    Ok(outcome)
}

/// An integer parameter the pipeline must have (checked when it was parsed).
fn int_param(params: &BTreeMap<String, Param>, name: &str) -> Result<i64> {
    match params.get(name) {
        Some(Param::Int(i)) => Ok(*i),
        _ => Err(EngineError::Pipeline {
            file: "pipeline.toml".into(),
            message: format!("parameters.{name} must be an integer"),
        }),
    }
}

/// A new run id: the time to the millisecond and the snapshot it reads.
fn new_run_id(snapshot: &Snapshot) -> String {
    format!("r-{}-{}", Utc::now().format("%Y%m%dT%H%M%S%3fZ"), &snapshot.id[..8])
}

/// Re-run a past run from its manifest, with its pinned inputs, parameters
/// and pipeline files. Returns the new run and the outputs whose bytes differ
/// from the original's.
pub async fn replay(
    lake: &Lake,
    contract: &Contract,
    manifest: &Manifest,
    progress: &mut dyn FnMut(Progress),
) -> Result<(RunOutcome, Vec<String>)> {
    replay_on(&Local::default(), lake, contract, manifest, progress).await
}

/// [`replay`] on a chosen engine.
pub async fn replay_on(
    engine: &dyn Engine,
    lake: &Lake,
    contract: &Contract,
    manifest: &Manifest,
    progress: &mut dyn FnMut(Progress),
) -> Result<(RunOutcome, Vec<String>)> {
    let folder = layout::run_pipeline(&manifest.run_id);
    let mut files = Vec::new();
    for m in lake.list(&folder).await? {
        let key = lake.rel(&m.location);
        let name = key.rsplit('/').next().unwrap_or_default().to_string();
        let text = String::from_utf8(lake.get(&key).await?.to_vec())
            .map_err(|e| EngineError::Manifest { path: key.clone(), message: e.to_string() })?;
        files.push((name, text));
    }
    let pipeline = Pipeline::parse(&format!("{}{}", lake.root_url(), folder.trim_end_matches('/')), files)?;
    if pipeline.hash() != manifest.pipeline_sha256 {
        return Err(EngineError::Manifest {
            path: folder,
            message: "the pipeline files kept with the run do not match its manifest".into(),
        });
    }
    let t = Instant::now();
    let snapshot = pin::pin_exact(lake, contract.schemas(), &manifest.inputs, &mut |done, total| {
        progress(Progress::Pinning { done, total })
    })
    .await?;
    let pin_ms = t.elapsed().as_millis() as u64;
    let reuse = Reuse { parts_built: snapshot.made.built.clone(), ..Reuse::default() };
    // a replay computes every step from the pinned inputs, reusing no cached result
    let exec = Execution {
        engine,
        lake,
        contract,
        pipeline: &pipeline,
        partitions: manifest.target_partitions,
        replay_of: Some(manifest.run_id.clone()),
        timings: BTreeMap::from([("pin".to_string(), pin_ms)]),
        read_cache: false,
        write_cache: false,
        reuse,
    };
    let outcome = exec.run(manifest.parameters.clone(), snapshot, manifest.submissions.clone(), progress).await?;
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

/// What intake took in, as a run records it.
struct Intake {
    /// The current version of every slot of years up to the cycle's.
    versions: Vec<fedreport_store::VersionInfo>,
    /// Every receipt, and how many were read and how many came from a cache.
    submissions: Vec<Submission>,
    read: usize,
    cached: usize,
}

/// The current versions and receipts from the intake ledger (only its new
/// entries, with `cached`), or from listing a lake whose ledger has no entry yet.
async fn read_intake(lake: &Lake, year: i32, cached: bool) -> Result<Intake> {
    let decided = fedreport_store::ledger::decided(lake, Some(year), cached, true).await?;
    let (versions, (receipts, read, cached)) = (decided.versions, decided.receipts.unwrap_or_default());
    let mut out: Vec<Submission> = receipts
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
    Ok(Intake { versions, submissions: out, read, cached })
}

/// What a run is made of, besides its parameters and inputs.
struct Execution<'a> {
    engine: &'a dyn Engine,
    lake: &'a Lake,
    contract: &'a Contract,
    pipeline: &'a Pipeline,
    partitions: usize,
    replay_of: Option<String>,
    /// Milliseconds of what came before the steps (pinning, receipts).
    timings: BTreeMap<String, u64>,
    /// Whether steps read cached results (not on replay or `--cold`).
    read_cache: bool,
    /// Whether steps write their results to the cache (not on replay).
    write_cache: bool,
    reuse: Reuse,
}

impl Execution<'_> {
    /// How many steps of a wave run at once: as many as the session has
    /// partitions, unless `FEDREPORT_STEPS_AT_ONCE` says otherwise (for
    /// measuring; docs/benchmarks.md has 1, 2 and 3 on two cores).
    fn steps_at_once(&self) -> usize {
        std::env::var("FEDREPORT_STEPS_AT_ONCE").ok().and_then(|v| v.parse().ok()).unwrap_or(self.partitions).max(1)
    }

    async fn run(
        mut self,
        params: BTreeMap<String, Param>,
        snapshot: Snapshot,
        submissions: Vec<Submission>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<RunOutcome> {
        let (engine, lake, pipeline) = (self.engine, self.lake, self.pipeline);
        let created_at = now();
        let run_id = new_run_id(&snapshot);
        let year = int_param(&params, CYCLE_YEAR)? as i32;
        let ctx = engine.session(lake, session::config(self.partitions)).await?;
        let work = layout::run_work(&run_id);
        let t = Instant::now();
        let aux =
            register_inputs(engine, &ctx, lake, &work, self.contract, &snapshot, &submissions, &params, year).await?;
        let datasets: BTreeSet<String> = self.contract.schemas().names().map(|n| n.to_string()).collect();
        // a step's table registered under an input table's name would hide
        // that table from every later step (but not from a delta, which
        // registers the inputs it reads afresh): refused before any step runs
        if let Some(s) = pipeline.steps.iter().find(|s| datasets.contains(&s.name) || aux.contains_key(&s.name)) {
            let what = if datasets.contains(&s.name) { "a dataset" } else { "an input table the engine registers" };
            return Err(EngineError::Pipeline {
                file: "pipeline.toml".into(),
                message: format!(
                    "step {}: '{}' is the name of {what}, which later SQL would no longer see; give the step another name",
                    s.name, s.name
                ),
            });
        }

        let folder = layout::run_pipeline(&run_id);
        futures::future::try_join_all(pipeline.files.iter().map(|(name, text)| {
            let key = format!("{folder}{name}");
            async move { lake.put(&key, Bytes::from(text.clone())).await }
        }))
        .await?;
        let register_ms = t.elapsed().as_millis() as u64;
        let mut warnings = Vec::new();
        // every step's table (published or not), and the fingerprints of `per_return` steps
        let mut all_tables: BTreeMap<String, RecordBatch> = BTreeMap::new();
        let mut fingerprints: BTreeMap<String, incremental::Fingerprints> = BTreeMap::new();
        // the content id of every table, which keys the step cache
        let mut ids = incremental::dataset_ids(&snapshot.parts, self.contract.schemas())?;
        // (encoded only for their ids, so the cheaper way)
        for (name, batch) in &aux {
            ids.insert(name.clone(), incremental::content_id(&output::internal_parquet(batch, name)?));
        }
        let salt = incremental::salt(&engine.describe(), self.partitions);
        let mut finished: BTreeMap<String, StepDone> = BTreeMap::new();
        let total = pipeline.steps.len();
        let mut started = 0;
        // Steps that do not read each other run at the same time, a few at
        // once: each step's SQL uses every core while it scans, but its
        // planning, final merge, sorting and writing do not.
        let t = Instant::now();
        for wave in waves(&pipeline.steps) {
            // once a step fails, the steps of its wave not yet started are not started
            let failed = std::sync::atomic::AtomicBool::new(false);
            let mut done: Vec<(usize, Option<Result<StepDone>>)> = {
                let shared = Wave {
                    exec: &self,
                    ctx: &ctx,
                    work: &work,
                    run_id: &run_id,
                    params: &params,
                    snapshot: &snapshot,
                    submissions: &submissions,
                    datasets: &datasets,
                    aux: &aux,
                    tables: &all_tables,
                    fingerprints: &fingerprints,
                    ids: &ids,
                    salt: &salt,
                };
                let (shared, failed) = (&shared, &failed);
                futures::stream::iter(wave.into_iter().enumerate())
                    .map(|(i, step)| {
                        use std::sync::atomic::Ordering::Relaxed;
                        let go = !failed.load(Relaxed);
                        if go {
                            progress(Progress::Step { name: step.name.clone(), index: started, total });
                            started += 1;
                        }
                        async move {
                            if !go || failed.load(Relaxed) {
                                return (i, None);
                            }
                            let r = shared.run(step).await;
                            if r.is_err() {
                                failed.store(true, Relaxed);
                            }
                            (i, Some(r))
                        }
                    })
                    // the next step starts as soon as any one ends
                    .buffer_unordered(self.steps_at_once())
                    .collect()
                    .await
            };
            // the first failure in the pipeline's order of the steps that ran, whichever ended first
            // (a step not started is `None`: there is a failure to report)
            done.sort_by_key(|(i, _)| *i);
            for d in done.into_iter().filter_map(|(_, d)| d) {
                let d = d?;
                ids.insert(d.record.name.clone(), d.id.clone());
                if let Some(fps) = &d.fingerprints {
                    fingerprints.insert(d.record.name.clone(), fps.clone());
                }
                all_tables.insert(d.record.name.clone(), d.batch.clone());
                finished.insert(d.record.name.clone(), d);
            }
        }
        // recorded in the pipeline's order, whatever order the steps ended in
        let mut timings = std::mem::take(&mut self.timings);
        timings.insert("register".to_string(), register_ms);
        // the steps' wall time: they overlap, so their own times add up to more
        timings.insert("steps".to_string(), t.elapsed().as_millis() as u64);
        let (mut steps, mut tables, mut outputs, mut disclosure_records) =
            (Vec::new(), BTreeMap::new(), Vec::new(), Vec::new());
        for step in &pipeline.steps {
            let d = finished.remove(&step.name).expect("every step ran in one of the waves");
            timings.insert(format!("step:{}", step.name), d.record.millis);
            warnings.extend(d.warnings);
            disclosure_records.extend(d.disclosure);
            steps.push(d.record);
            if let Some(o) = d.output {
                outputs.push(o);
                tables.insert(step.name.clone(), d.batch);
            }
        }
        let manifest = Manifest {
            run_id: run_id.clone(),
            created_at,
            replay_of: self.replay_of,
            engine: engine.describe(),
            target_partitions: self.partitions,
            pipeline_name: pipeline.name.clone(),
            pipeline_version: pipeline.version.clone(),
            pipeline_source: pipeline.source.clone(),
            pipeline_sha256: pipeline.hash(),
            cycle_year: year,
            steps,
            parameters: params,
            disclosure: disclosure_records,
            snapshot: snapshot.id.clone(),
            inputs: snapshot.inputs,
            submissions,
            outputs,
            timings_ms: timings,
            warnings,
            reuse: self.reuse,
        };
        lake.put(&layout::run_manifest(&run_id), Bytes::from(manifest.to_json()?)).await?;
        Ok(RunOutcome { manifest, tables })
    }
}

/// The steps in waves, each step in the first wave after every step it
/// reads; in the pipeline's order within a wave.
fn waves(steps: &[Step]) -> Vec<Vec<&Step>> {
    let mut level: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out: Vec<Vec<&Step>> = Vec::new();
    // the steps are in dependency order (`Pipeline::parse`)
    for s in steps {
        let l = s.depends_on.iter().filter_map(|d| level.get(d.as_str())).map(|l| l + 1).max().unwrap_or(0);
        level.insert(&s.name, l);
        if out.len() <= l {
            out.resize_with(l + 1, Vec::new);
        }
        out[l].push(s);
    }
    out
}

/// What the steps of one wave share: the run, and the tables of the waves before it.
struct Wave<'a, 'e> {
    exec: &'a Execution<'e>,
    ctx: &'a SessionContext,
    work: &'a str,
    run_id: &'a str,
    params: &'a BTreeMap<String, Param>,
    snapshot: &'a Snapshot,
    submissions: &'a [Submission],
    datasets: &'a BTreeSet<String>,
    aux: &'a BTreeMap<String, RecordBatch>,
    tables: &'a BTreeMap<String, RecordBatch>,
    fingerprints: &'a BTreeMap<String, incremental::Fingerprints>,
    ids: &'a incremental::Ids,
    salt: &'a str,
}

/// A step that ran: its table, what the manifest records of it, and what it published.
struct StepDone {
    batch: RecordBatch,
    /// The content id of its table.
    id: String,
    /// A `per_return` step's fingerprints.
    fingerprints: Option<incremental::Fingerprints>,
    record: StepRecord,
    output: Option<Output>,
    warnings: Vec<String>,
    disclosure: Option<DisclosureRecord>,
}

impl Wave<'_, '_> {
    /// Run one step (from the cache where it can), register its table for
    /// later steps and write it when it is published.
    async fn run(&self, step: &Step) -> Result<StepDone> {
        let (exec, ctx) = (self.exec, self.ctx);
        let (engine, lake, pipeline) = (exec.engine, exec.lake, exec.pipeline);
        let t = Instant::now();
        let mut warnings = Vec::new();
        let (mut reuse_of_step, mut fingerprints, mut disclosure, mut cached) = (None, None, None, false);
        // a whole step's bytes when read from the cache, and the cache key to keep it under when computed
        let (mut encoded, mut keep_as): (Option<Bytes>, Option<String>) = (None, None);
        let (batch, file, sha) = match &step.kind {
            StepKind::Sql { file, text } if step.per_return => {
                let scope = incremental::Scope {
                    engine,
                    lake,
                    ctx,
                    work: self.work,
                    pipeline_source: &pipeline.source,
                    inputs: &self.snapshot.inputs,
                    submissions: self.submissions,
                    datasets: self.datasets,
                    aux: self.aux,
                    tables: self.tables,
                    fingerprints: self.fingerprints,
                    ids: self.ids,
                    salt: self.salt,
                    read_cache: exec.read_cache,
                    write_cache: exec.write_cache,
                };
                let (batch, fps, reuse) = scope.run(step, file, text).await?;
                fingerprints = Some(fps);
                reuse_of_step = Some(reuse);
                (batch, Some(file.clone()), Some(sha256_hex(text.as_bytes())))
            }
            StepKind::Sql { file, text } => {
                // read from the cache when an earlier run computed it from tables with the same content
                let key = incremental::whole_key(step, text, self.ids, self.salt);
                let from_cache = match &key {
                    Some(key) if exec.read_cache => incremental::read_whole(lake, &step.name, key).await?,
                    _ => None,
                };
                cached = from_cache.is_some();
                let batch = match from_cache {
                    Some((batch, bytes)) => {
                        encoded = Some(bytes);
                        batch
                    }
                    None => {
                        let located = format!("{}/{file}", pipeline.source);
                        keep_as = key.filter(|_| exec.write_cache);
                        if step.reads.iter().any(|t| self.datasets.contains(t)) {
                            session::query(ctx, text, located, &step.key, &step.name).await?
                        } else {
                            let small = engine.for_small_tables(ctx);
                            session::query(&small, text, located, &step.key, &step.name).await?
                        }
                    }
                };
                (batch, Some(file.clone()), Some(sha256_hex(text.as_bytes())))
            }
            StepKind::Disclosure(d) => {
                let k = int_param(self.params, DISCLOSURE_K)?;
                let raw = session::table_sorted(ctx, &d.input, &step.key, &step.name).await?;
                let applied = disclosure::apply(&raw, d, k)?;
                warnings.extend(applied.warnings);
                disclosure = Some(DisclosureRecord {
                    table: step.name.clone(),
                    input: d.input.clone(),
                    columns: d.columns.clone(),
                    k,
                    hidden_cells: applied.hidden_cells,
                    primary: applied
                        .primary
                        .iter()
                        .map(|(group, unit, column)| fedreport_store::manifest::HiddenCell {
                            group: *group,
                            unit: unit.clone(),
                            column: column.clone(),
                        })
                        .collect(),
                });
                let published = applied.table;
                (output::finish(published.schema(), &[published], &step.key, &step.name)?, None, None)
            }
        };
        // Its Parquet bytes are its content id, and what it is published as
        // (a table kept internal is encoded the cheaper way, for its id
        // only); a table read from the cache comes with them. Encoded off
        // the thread that drives the run, beside the other steps.
        let (b, key, name, publish) = (batch.clone(), step.key.clone(), step.name.clone(), step.publish);
        let (repeats, pq, id, csv) = session::joined(
            tokio::task::spawn_blocking(move || -> Result<_> {
                let mut repeats = Vec::new();
                check_unique_key(&b, &key, &name, &mut repeats);
                let pq = match encoded {
                    Some(bytes) => bytes,
                    None if publish => Bytes::from(output::parquet(&b, &name)?),
                    None => Bytes::from(output::internal_parquet(&b, &name)?),
                };
                let id = incremental::content_id(&pq);
                let csv = if publish { Some(output::csv(&b)?) } else { None };
                Ok((repeats, pq, id, csv))
            })
            .await,
        )?;
        warnings.extend(repeats);
        if let Some(key) = keep_as {
            incremental::write_whole(lake, &step.name, &key, &pq).await?;
        }
        engine.register_batch(ctx, lake, self.work, &step.name, batch.clone()).await?;
        let millis = t.elapsed().as_millis() as u64;
        let record = StepRecord {
            name: step.name.clone(),
            file,
            sha256: sha,
            depends_on: step.depends_on.clone(),
            millis,
            incremental: reuse_of_step,
            cached,
        };
        let output = if let Some(csv) = csv {
            check_meta(&batch, step)?;
            let (pq_key, csv_key) = (
                layout::run_table(self.run_id, &step.name, "parquet"),
                layout::run_table(self.run_id, &step.name, "csv"),
            );
            let (parquet, csv) = futures::try_join!(put(lake, &pq_key, pq), put(lake, &csv_key, Bytes::from(csv)))?;
            Some(Output {
                table: step.name.clone(),
                rows: batch.num_rows() as u64,
                key: step.key.clone(),
                parquet,
                csv,
                meta: step.meta.clone(),
            })
        } else {
            None
        };
        Ok(StepDone { batch, id, fingerprints, record, output, warnings, disclosure })
    }
}

async fn put(lake: &Lake, key: &str, bytes: Bytes) -> Result<FileRef> {
    let r = FileRef { key: key.to_string(), sha256: sha256_hex(&bytes), bytes: bytes.len() as u64 };
    lake.put(key, bytes).await?;
    Ok(r)
}

/// The headings and fractions a step declares must name columns of its table.
fn check_meta(batch: &RecordBatch, step: &Step) -> Result<()> {
    let schema = batch.schema();
    let named = step.meta.columns.keys().chain(&step.meta.fractions);
    if let Some(c) = named.into_iter().find(|c| schema.index_of(c).is_err()) {
        return Err(EngineError::Pipeline {
            file: "pipeline.toml".into(),
            message: format!(
                "step {}: [steps.columns] or fractions name '{c}', which is not a column of its table ({})",
                step.name,
                schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    Ok(())
}

fn check_unique_key(batch: &RecordBatch, key: &[String], step: &str, warnings: &mut Vec<String>) {
    let cols: Vec<ArrayRef> =
        key.iter().filter_map(|k| batch.schema().index_of(k).ok().map(|i| batch.column(i).clone())).collect();
    if cols.is_empty() || batch.num_rows() < 2 {
        return;
    }
    // the rows are in key order: a repeated key is two neighbours with equal
    // row-format bytes, or equal cells where a key type has no row format
    let rows = RowConverter::new(cols.iter().map(|c| SortField::new(c.data_type().clone())).collect())
        .and_then(|converter| converter.convert_columns(&cols));
    let cells = |i: usize| -> Vec<String> { cols.iter().map(|c| output::cell(c.as_ref(), i)).collect() };
    let repeat = match &rows {
        Ok(rows) => (1..rows.num_rows()).find(|&i| rows.row(i) == rows.row(i - 1)),
        Err(_) => (1..batch.num_rows()).find(|&i| cells(i) == cells(i - 1)),
    };
    if let Some(i) = repeat {
        warnings.push(format!("{step}: key ({}) repeats at ({})", key.join(", "), cells(i).join(", ")));
    }
}

/// Register the snapshot's datasets and the auxiliary input tables; returns the auxiliary tables.
#[allow(clippy::too_many_arguments)]
async fn register_inputs(
    engine: &dyn Engine,
    ctx: &SessionContext,
    lake: &Lake,
    work: &str,
    contract: &Contract,
    snapshot: &Snapshot,
    submissions: &[Submission],
    params: &BTreeMap<String, Param>,
    year: i32,
) -> Result<BTreeMap<String, RecordBatch>> {
    let schemas = contract.schemas();
    session::remember_footers(ctx, lake, &snapshot.footers)?;
    // The snapshot's files: a part's own file, or its versions read in
    // place. They hold rows in (reference_year, reporting_member) order,
    // but that order is not declared to DataFusion: declaring it made
    // DataFusion 55.2 slower here (1.8x, measured).
    for s in schemas.iter() {
        let files: Vec<ScanFile> = snapshot
            .parts
            .iter()
            .filter(|p| p.dataset == s.dataset)
            .map(|p| ScanFile { url: lake.url(&p.key).to_string(), size: p.size, rows: p.rows })
            .collect();
        engine.register_dataset(ctx, &s.dataset, &files, &crate::codes::coded_columns(s)).await?;
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
    let members: Vec<_> = contract.registry().members().collect();
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
            Param::Int(i) if k == CYCLE_YEAR => Arc::new(Int32Array::from(vec![*i as i32])),
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
    let mut out = BTreeMap::new();
    for (name, batch) in aux {
        engine.register_batch(ctx, lake, work, name, batch.clone()).await?;
        out.insert(name.to_string(), batch);
    }
    Ok(out)
}

fn batch_of(cols: Vec<(&str, ArrayRef)>) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(
        cols.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect::<Vec<_>>(),
    ));
    Ok(RecordBatch::try_new(schema, cols.into_iter().map(|(_, a)| a).collect())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_runs_in_the_first_wave_after_every_step_it_reads() {
        let som = Pipeline::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../pipelines/som")))
            .expect("the SOM pipeline loads");
        let waves = waves(&som.steps);
        let wave_of = |name: &str| waves.iter().position(|w| w.iter().any(|s| s.name == name)).expect(name);
        // every step once, in the pipeline's order within its wave
        let mut seen: Vec<&str> = waves.iter().flatten().map(|s| s.name.as_str()).collect();
        assert_eq!(seen.len(), som.steps.len());
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), som.steps.len());
        for w in &waves {
            let at: Vec<usize> = w.iter().map(|s| som.steps.iter().position(|t| t.name == s.name).unwrap()).collect();
            assert!(at.windows(2).all(|p| p[0] < p[1]), "pipeline order within a wave");
        }
        for s in &som.steps {
            let own = wave_of(&s.name);
            // after every step it reads, and in the first such wave
            assert!(s.depends_on.iter().all(|d| wave_of(d) < own), "{}", s.name);
            assert_eq!(own, s.depends_on.iter().map(|d| wave_of(d) + 1).max().unwrap_or(0), "{}", s.name);
        }
        // the scans of the datasets run together in the first wave
        for s in
            ["maritime_by_member", "enforcement_by_member", "cooperation_links", "victims_profile", "victims_counts"]
        {
            assert_eq!(wave_of(s), 0, "{s}");
        }
        assert!(wave_of("victims_by_member") > wave_of("victims_counts"));
    }
}
