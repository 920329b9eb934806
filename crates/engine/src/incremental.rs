//! Incremental steps: a step declared `per_return = true` in `pipeline.toml`
//! promises that its rows for a (reporting_member, reference_year) come only
//! from that member's rows of that year in the tables it reads — the
//! datasets, `returns`, `submissions` and earlier `per_return` steps — and
//! from small tables it reads whole (`members`, `codelists`, `params`, …).
//!
//! Its result is cached in the lake (`cache/steps/{step}/{key}.parquet`),
//! keyed by its SQL and the content of the small tables it reads whole, with
//! a fingerprint per return: the sha256 of exactly the rows of that member
//! and year it read. A later run recomputes only the returns whose
//! fingerprint changed (a new or revised return), drops the rows of returns
//! no longer pinned (a withdrawn member), keeps the rest, and sorts the
//! whole as a cold run would, so the table is byte-identical to one
//! computed from scratch. A changed SQL file or parameter changes the key of
//! exactly the steps that read it, and those run cold.
//!
//! The promise is checked where it can be: a row for a member and year the
//! step was not given is an error naming the step.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{Array, BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::metadata::KeyValue;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::SessionContext;
use fedreport_store::Lake;
use fedreport_store::layout::{self, sha256_hex};
use fedreport_store::manifest::{Input, StepReuse, Submission};

use crate::error::{EngineError, Result, sql_error};
use crate::output;
use crate::pipeline::Step;
use crate::session::{self, Engine};

/// One return as incremental steps see it: (member, year).
pub type Ret = (String, i32);

/// Fingerprint per return of a step.
pub type Fingerprints = BTreeMap<Ret, String>;

/// Version of the cache's layout and keys: part of every key.
const CACHE_LAYOUT: &str = "incremental/1";
/// Footer metadata of a cached result: its fingerprints, as JSON.
const FINGERPRINTS: &str = "fedreport.fingerprints";

/// What a run knows when it comes to a `per_return` step.
pub struct Scope<'a> {
    pub engine: &'a dyn Engine,
    pub lake: &'a Lake,
    /// The run's session (the full tables).
    pub ctx: &'a SessionContext,
    /// A lake folder of the run an engine may write tables to.
    pub work: &'a str,
    pub pipeline_source: &'a str,
    pub inputs: &'a [Input],
    pub submissions: &'a [Submission],
    /// The dataset tables.
    pub datasets: &'a BTreeSet<String>,
    /// The auxiliary tables as registered (`returns`, `members`, `params`, …).
    pub aux: &'a BTreeMap<String, RecordBatch>,
    /// The tables of earlier steps.
    pub tables: &'a BTreeMap<String, RecordBatch>,
    /// The fingerprints of earlier `per_return` steps.
    pub fingerprints: &'a BTreeMap<String, Fingerprints>,
    /// Read and write the cache (a replay computes everything and leaves the cache alone).
    pub use_cache: bool,
}

fn label(r: &Ret) -> String {
    format!("{}/{}", r.0, r.1)
}

fn parse_label(s: &str) -> Option<Ret> {
    let (m, y) = s.rsplit_once('/')?;
    Some((m.to_string(), y.parse().ok()?))
}

impl Scope<'_> {
    /// Is `table` read per return (rather than whole)?
    fn partitioned(&self, table: &str) -> bool {
        self.datasets.contains(table)
            || table == "returns"
            || table == "submissions"
            || self.fingerprints.contains_key(table)
    }

    /// Per return the step can have rows for, the sha256 of what it reads of it.
    fn fingerprints_of(&self, step: &Step) -> Fingerprints {
        let mut parts: BTreeMap<Ret, Vec<String>> = BTreeMap::new();
        let mut add = |r: Ret, s: String| parts.entry(r).or_default().push(s);
        for t in &step.reads {
            if self.datasets.contains(t) {
                for i in self.inputs.iter().filter(|i| &i.dataset == t) {
                    add((i.member.clone(), i.year), format!("{t}:{}", i.sha256));
                }
            } else if t == "returns" {
                for i in self.inputs {
                    add(
                        (i.member.clone(), i.year),
                        format!("returns:{}:{}:{}:{}:{}", i.dataset, i.version, i.received_at, i.rows, i.submission_id),
                    );
                }
            } else if t == "submissions" {
                // a submission that named no year is in no return's rows
                for s in self.submissions {
                    if let Some(y) = s.year {
                        let dataset = s.dataset.as_deref().unwrap_or("-");
                        add((s.member.clone(), y), format!("submissions:{dataset}:{}:{}", s.status, s.submission_id));
                    }
                }
            } else if let Some(fps) = self.fingerprints.get(t) {
                for (r, fp) in fps {
                    add(r.clone(), format!("{t}:{fp}"));
                }
            }
        }
        parts
            .into_iter()
            .map(|(r, mut p)| {
                p.sort();
                (r, sha256_hex(p.join("\n").as_bytes()))
            })
            .collect()
    }

    /// The cache key: the step, its SQL and key, and the content of every table it reads whole.
    fn cache_key(&self, step: &Step, sql: &str) -> Result<String> {
        let mut text = format!("{CACHE_LAYOUT}\n{}\n{}\n{sql}\n", step.name, step.key.join(","));
        for t in step.reads.iter().filter(|t| !self.partitioned(t)) {
            let whole = self.aux.get(t).or_else(|| self.tables.get(t));
            let hash = match whole {
                Some(b) => sha256_hex(&output::csv(b)?),
                None => "-".into(),
            };
            text.push_str(&format!("{t}:{hash}\n"));
        }
        Ok(sha256_hex(text.as_bytes())[..24].to_string())
    }

    /// Run a `per_return` step: from the cache where its returns did not change.
    pub async fn run(&self, step: &Step, file: &str, sql: &str) -> Result<(RecordBatch, Fingerprints, StepReuse)> {
        let now = self.fingerprints_of(step);
        let key = self.cache_key(step, sql)?;
        let cache_key = layout::step_cache(&step.name, &key);
        let located = |e: datafusion::error::DataFusionError| sql_error(format!("{}/{file}", self.pipeline_source), &e);
        let cached = if self.use_cache { read_cache(self.lake, &cache_key).await? } else { None };
        let Some((before, before_fps)) = cached else {
            let df = self.ctx.sql(sql).await.map_err(located)?;
            let schema = Arc::new(df.schema().as_arrow().clone());
            let batch = output::finish(schema, &df.collect().await.map_err(located)?, &step.key, &step.name)?;
            check_rows(step, &batch, &now.keys().cloned().collect::<BTreeSet<Ret>>())?;
            if self.use_cache {
                write_cache(self.lake, &cache_key, &step.name, &batch, &now).await?;
            }
            let why = if self.use_cache {
                "no cached result for this SQL and these tables: every return computed"
            } else {
                "every return computed (replay or --cold)"
            };
            return Ok((batch, now, StepReuse { cold: Some(why.into()), ..StepReuse::default() }));
        };
        let changed: BTreeSet<Ret> =
            now.iter().filter(|(r, fp)| before_fps.get(*r) != Some(*fp)).map(|(r, _)| r.clone()).collect();
        let dropped: BTreeSet<Ret> = before_fps.keys().filter(|r| !now.contains_key(*r)).cloned().collect();
        let reused = now.len() - changed.len();
        let reuse = StepReuse {
            cold: None,
            recomputed: changed.iter().map(label).collect(),
            reused,
            dropped: dropped.iter().map(label).collect(),
        };
        if changed.is_empty() && dropped.is_empty() {
            return Ok((before, now, reuse));
        }
        let gone: BTreeSet<Ret> = changed.union(&dropped).cloned().collect();
        let keep = filter_returns(&before, |r| !gone.contains(r))?;
        let mut parts = vec![keep];
        if !changed.is_empty() {
            let delta = self.delta(step, file, sql, &changed).await?;
            check_rows(step, &delta, &changed)?;
            parts.push(delta);
        }
        let batch = output::finish(before.schema(), &parts, &step.key, &step.name)?;
        write_cache(self.lake, &cache_key, &step.name, &batch, &now).await?;
        Ok((batch, now, reuse))
    }

    /// The step's rows for `only`: its SQL run while every table it reads
    /// per return holds only those returns' rows (swapped in the run's
    /// session for the while, and put back whatever happens).
    async fn delta(&self, step: &Step, file: &str, sql: &str, only: &BTreeSet<Ret>) -> Result<RecordBatch> {
        let mut saved = Vec::new();
        let swapped = self.swap_in(step, only, &mut saved).await;
        let result = match swapped {
            Ok(()) => {
                let located =
                    |e: datafusion::error::DataFusionError| sql_error(format!("{}/{file}", self.pipeline_source), &e);
                match self.ctx.sql(sql).await.map_err(located) {
                    Ok(df) => {
                        let schema = Arc::new(df.schema().as_arrow().clone());
                        match df.collect().await.map_err(located) {
                            Ok(batches) => output::finish(schema, &batches, &step.key, &step.name),
                            Err(e) => Err(e),
                        }
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        for (t, provider) in saved {
            self.ctx.deregister_table(t.as_str())?;
            if let Some(p) = provider {
                self.ctx.register_table(t.as_str(), p)?;
            }
        }
        result
    }

    /// Register the per-return tables `step` reads restricted to `only`, keeping what they replace in `saved`.
    async fn swap_in(
        &self,
        step: &Step,
        only: &BTreeSet<Ret>,
        saved: &mut Vec<(String, Option<Arc<dyn datafusion::catalog::TableProvider>>)>,
    ) -> Result<()> {
        let ctx = self.ctx;
        let work = format!("{}delta-{}/", self.work, step.name);
        for t in step.reads.iter().filter(|t| self.partitioned(t)) {
            let schema = match ctx.table_provider(t.as_str()).await {
                Ok(p) => p.schema(),
                // not a table of the run: the SQL will say so
                Err(_) => continue,
            };
            saved.push((t.clone(), ctx.deregister_table(t.as_str())?));
            if self.datasets.contains(t) {
                let urls: Vec<String> = self
                    .inputs
                    .iter()
                    .filter(|i| &i.dataset == t && only.contains(&(i.member.clone(), i.year)))
                    .map(|i| self.lake.url(&i.key).to_string())
                    .collect();
                if urls.is_empty() {
                    self.engine.register_batch(ctx, self.lake, &work, t, RecordBatch::new_empty(schema)).await?;
                } else {
                    session::register_parquet_files(ctx, t, &urls).await?;
                }
            } else if let Some(b) = self.aux.get(t).or_else(|| self.tables.get(t)) {
                self.engine.register_batch(ctx, self.lake, &work, t, filter_returns(b, |r| only.contains(r))?).await?;
            }
        }
        Ok(())
    }
}

/// The return of each row of a table with `reporting_member` and `reference_year` columns.
fn returns_of(batch: &RecordBatch) -> Result<Vec<Option<Ret>>> {
    let col = |name: &str| {
        batch.schema().index_of(name).map(|i| batch.column(i).clone()).map_err(|_| EngineError::Pipeline {
            file: "pipeline.toml".into(),
            message: format!("a table read per return has no {name} column"),
        })
    };
    let (m, y) = (col("reporting_member")?, col("reference_year")?);
    Ok((0..batch.num_rows())
        .map(|i| {
            if m.is_null(i) || y.is_null(i) {
                return None;
            }
            Some((output::cell(m.as_ref(), i), output::cell(y.as_ref(), i).parse().ok()?))
        })
        .collect())
}

/// The rows of `batch` whose return passes `keep` (rows of no return are dropped).
fn filter_returns(batch: &RecordBatch, keep: impl Fn(&Ret) -> bool) -> Result<RecordBatch> {
    let mask: BooleanArray = returns_of(batch)?.iter().map(|r| Some(r.as_ref().is_some_and(&keep))).collect();
    Ok(filter_record_batch(batch, &mask)?)
}

/// Every row of a `per_return` step's result belongs to a return it was given.
fn check_rows(step: &Step, batch: &RecordBatch, given: &BTreeSet<Ret>) -> Result<()> {
    if let Some(bad) = returns_of(batch)?.into_iter().find(|r| r.as_ref().is_none_or(|r| !given.contains(r))) {
        let which = bad.map(|r| label(&r)).unwrap_or_else(|| "a row with no member or year".into());
        return Err(EngineError::Pipeline {
            file: "pipeline.toml".into(),
            message: format!(
                "step {} is declared per_return, but it made a row for {which}, which is not a return it read; \
                 its rows must come from the member and year they name (remove per_return, or fix its SQL)",
                step.name
            ),
        });
    }
    Ok(())
}

async fn read_cache(lake: &Lake, key: &str) -> Result<Option<(RecordBatch, Fingerprints)>> {
    let Some(bytes) = lake.get_opt(key).await? else { return Ok(None) };
    // an unreadable cache entry is only slower: the step runs cold
    let read = || -> Option<(RecordBatch, Fingerprints)> {
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes.clone()).ok()?;
        let fps: BTreeMap<String, String> = builder
            .metadata()
            .file_metadata()
            .key_value_metadata()?
            .iter()
            .find(|kv| kv.key == FINGERPRINTS)
            .and_then(|kv| serde_json::from_str(kv.value.as_deref()?).ok())?;
        let schema = builder.schema().clone();
        let batches: Vec<RecordBatch> = builder.build().ok()?.collect::<std::result::Result<_, _>>().ok()?;
        let batch = datafusion::arrow::compute::concat_batches(&schema, &batches).ok()?;
        // the schema exactly as `output::finish` makes it (no footer metadata in it)
        let fields: Vec<Field> =
            schema.fields().iter().map(|f| Field::new(f.name(), f.data_type().clone(), true)).collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), batch.columns().to_vec()).ok()?;
        let fps = fps.into_iter().map(|(k, v)| Some((parse_label(&k)?, v))).collect::<Option<Fingerprints>>()?;
        Some((batch, fps))
    };
    Ok(read())
}

async fn write_cache(lake: &Lake, key: &str, step: &str, batch: &RecordBatch, fps: &Fingerprints) -> Result<()> {
    let mut md = BTreeMap::new();
    md.insert("fedreport.table".to_string(), step.to_string());
    let labels: BTreeMap<String, &String> = fps.iter().map(|(r, fp)| (label(r), fp)).collect();
    md.insert(FINGERPRINTS.to_string(), serde_json::to_string(&labels)?);
    // LZ4: the cache is the engine's own (zstd's context set-up cost more than the compression saved)
    let props = WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .set_created_by("fedreport".to_string())
        .set_key_value_metadata(Some(md.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect()))
        .build();
    let mut w = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props))?;
    w.write(batch)?;
    lake.put(key, Bytes::from(w.into_inner()?)).await?;
    Ok(())
}
