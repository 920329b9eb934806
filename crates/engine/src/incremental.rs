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
//!
//! Every other SQL step is cached whole (`cache/steps/{step}/last.parquet`),
//! keyed by its SQL and the content of every table it reads: each table of
//! a run has a content id ([`Ids`]) — a dataset its columns and the keys of
//! its snapshot parts (named by the immutable versions they hold), every
//! other table the sha256 of its Parquet bytes (types and nulls included;
//! the bytes a published table is written as anyway) — so a regional step
//! none of whose inputs changed is read from the cache instead of being
//! run. Every key also holds the engine, its partitions and the fedreport
//! version ([`salt`]). A table read that has no id is never cached. Steps
//! must be deterministic for this, as for replay.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{Array, BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::prelude::SessionContext;
use fedreport_store::Lake;
use fedreport_store::layout::{self, sha256_hex};
use fedreport_store::manifest::{Input, StepReuse, Submission};

use crate::error::{EngineError, Result};
use crate::output;
use crate::pipeline::Step;
use crate::session::{Engine, ScanFile};

/// One return as incremental steps see it: (member, year).
pub type Ret = (String, i32);

/// Fingerprint per return of a step.
pub type Fingerprints = BTreeMap<Ret, String>;

/// The content id of each table of a run, by name: equal ids, equal rows.
pub type Ids = BTreeMap<String, String>;

/// Version of the cache's layout and keys: part of every key.
const CACHE_LAYOUT: &str = "incremental/2";
/// Footer metadata of a cached per-return result: its fingerprints, as JSON.
const FINGERPRINTS: &str = "fedreport.fingerprints";

/// What every cache key holds besides a step's own inputs: the engine (and
/// its DataFusion version), the partitions and the fedreport version.
pub fn salt(engine: &str, partitions: usize) -> String {
    format!("{engine}\npartitions {partitions}\nfedreport {}", env!("CARGO_PKG_VERSION"))
}

/// The content ids of the snapshot's datasets, made from their columns and
/// the keys of their parts (a part is named by the versions it holds, which
/// never change).
pub fn dataset_ids(parts: &[crate::pin::Part], schemas: &fedreport_contract::Schemas) -> Result<Ids> {
    let mut by_dataset: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for p in parts {
        by_dataset.entry(p.dataset.as_str()).or_default().push(p.key.as_str());
    }
    let mut ids = Ids::new();
    for (dataset, mut keys) in by_dataset {
        keys.sort();
        let columns: Vec<String> = schemas
            .get(dataset)?
            .arrow_schema()
            .fields()
            .iter()
            .map(|f| format!("{}:{:?}:{}", f.name(), f.data_type(), f.is_nullable()))
            .collect();
        let text = format!("parts\n{}\n{}", columns.join(","), keys.join("\n"));
        ids.insert(dataset.to_string(), sha256_hex(text.as_bytes()));
    }
    Ok(ids)
}

/// The content id of a table the run made: the sha256 of its Parquet bytes
/// (as [`output::parquet`] writes a published table and
/// [`output::internal_parquet`] one kept internal: equal tables, equal
/// bytes; another type or a null for an empty string, other bytes).
pub fn content_id(parquet: &[u8]) -> String {
    sha256_hex(parquet)
}

/// The key of a step's whole result: the salt, its name, SQL and key
/// columns, and the content id of every table it reads; `None` (not cached)
/// when a table it reads has no id.
pub fn whole_key(step: &Step, sql: &str, ids: &Ids, salt: &str) -> Option<String> {
    // published or not: the cached bytes are encoded as the one or the other (`output`)
    let publish = if step.publish { "published" } else { "internal" };
    let mut text = format!("{CACHE_LAYOUT}\n{salt}\nwhole\n{}\n{}\n{publish}\n{sql}\n", step.name, step.key.join(","));
    for t in &step.reads {
        text.push_str(&format!("{t}:{}\n", ids.get(t)?));
    }
    Some(sha256_hex(text.as_bytes()))
}

/// A step's result an earlier run computed for `key`, if the cache holds
/// it: its table, and its Parquet bytes as the step's content id and its
/// publication are made of, so a step read from the cache is not encoded
/// again.
pub async fn read_whole(lake: &Lake, step: &str, key: &str) -> Result<Option<(RecordBatch, Bytes)>> {
    let Some(stored) = lake.get_opt(&layout::step_result(step)).await? else { return Ok(None) };
    // the key it was computed for, a newline, then the bytes
    if stored.len() <= key.len() || !stored.starts_with(key.as_bytes()) || stored[key.len()] != b'\n' {
        return Ok(None);
    }
    let bytes = stored.slice(key.len() + 1..);
    Ok(decode(bytes.clone()).map(|(batch, _)| (batch, bytes)))
}

/// Keep a step's result for a later run with the same inputs (one per step:
/// the last): `parquet` is its table as its content id is made of.
pub async fn write_whole(lake: &Lake, step: &str, key: &str, parquet: &[u8]) -> Result<()> {
    let mut body = Vec::with_capacity(key.len() + 1 + parquet.len());
    body.extend_from_slice(key.as_bytes());
    body.push(b'\n');
    body.extend_from_slice(parquet);
    lake.put(&layout::step_result(step), Bytes::from(body)).await?;
    Ok(())
}

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
    /// The content id of every table so far.
    pub ids: &'a Ids,
    /// See [`salt`].
    pub salt: &'a str,
    /// Read the cache (not on replay or `--cold`).
    pub read_cache: bool,
    /// Write the cache (`--cold` does, a replay leaves it alone).
    pub write_cache: bool,
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

    /// The cache key: the salt, the step, its SQL and key, and the content
    /// of every table it reads whole; `None` when one of those has no id.
    fn cache_key(&self, step: &Step, sql: &str) -> Option<String> {
        let mut text = format!("{CACHE_LAYOUT}\n{}\n{}\n{}\n{sql}\n", self.salt, step.name, step.key.join(","));
        for t in step.reads.iter().filter(|t| !self.partitioned(t)) {
            text.push_str(&format!("{t}:{}\n", self.ids.get(t.as_str())?));
        }
        Some(sha256_hex(text.as_bytes())[..24].to_string())
    }

    /// Run a `per_return` step: from the cache where its returns did not
    /// change. Returns its table, fingerprints and what it reused.
    pub async fn run(&self, step: &Step, file: &str, sql: &str) -> Result<(RecordBatch, Fingerprints, StepReuse)> {
        let now = self.fingerprints_of(step);
        let (batch, reuse) = match self.cache_key(step, sql) {
            Some(key) => self.compute(step, file, sql, &key, &now).await?,
            None => {
                let batch = self.query(self.ctx, step, file, sql).await?;
                check_rows(step, &batch, &now.keys().cloned().collect::<BTreeSet<Ret>>())?;
                let why = "a table it reads whole has no content id: every return computed, nothing cached";
                (batch, StepReuse { cold: Some(why.into()), ..StepReuse::default() })
            }
        };
        Ok((batch, now, reuse))
    }

    async fn compute(
        &self,
        step: &Step,
        file: &str,
        sql: &str,
        key: &str,
        now: &Fingerprints,
    ) -> Result<(RecordBatch, StepReuse)> {
        let cache_key = layout::step_cache(&step.name, key);
        let cached = if self.read_cache { read_fingerprinted(self.lake, &cache_key).await? } else { None };
        let Some((before, before_fps)) = cached else {
            let batch = self.query(self.ctx, step, file, sql).await?;
            check_rows(step, &batch, &now.keys().cloned().collect::<BTreeSet<Ret>>())?;
            if self.write_cache {
                write_fingerprinted(self.lake, &cache_key, &step.name, &batch, now).await?;
            }
            let why = if self.read_cache {
                "no cached result for this SQL and these tables: every return computed"
            } else {
                "every return computed (replay or --cold)"
            };
            return Ok((batch, StepReuse { cold: Some(why.into()), ..StepReuse::default() }));
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
            return Ok((before, reuse));
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
        if self.write_cache {
            write_fingerprinted(self.lake, &cache_key, &step.name, &batch, now).await?;
        }
        Ok((batch, reuse))
    }

    /// The step's rows for `only`: its SQL run in a session of its own in
    /// which every table it reads per return holds only those returns' rows
    /// (the run's session is left as it is: other steps may be reading it).
    async fn delta(&self, step: &Step, file: &str, sql: &str, only: &BTreeSet<Ret>) -> Result<RecordBatch> {
        let ctx = crate::session::fresh(self.ctx);
        let work = format!("{}delta-{}/", self.work, step.name);
        for t in &step.reads {
            // a table the run does not have: the SQL will say so
            let Ok(provider) = self.ctx.table_provider(t.as_str()).await else { continue };
            if self.datasets.contains(t) {
                let files: Vec<ScanFile> = self
                    .inputs
                    .iter()
                    .filter(|i| &i.dataset == t && only.contains(&(i.member.clone(), i.year)))
                    .map(|i| ScanFile { url: self.lake.url(&i.key).to_string(), size: i.size, rows: i.rows })
                    .collect();
                if files.is_empty() {
                    let empty = RecordBatch::new_empty(provider.schema());
                    self.engine.register_batch(&ctx, self.lake, &work, t, empty).await?;
                } else {
                    self.engine.register_files(&ctx, t, &files).await?;
                }
            } else if let Some(b) = self.aux.get(t).or_else(|| self.tables.get(t)) {
                let b = if self.partitioned(t) { filter_returns(b, |r| only.contains(r))? } else { b.clone() };
                self.engine.register_batch(&ctx, self.lake, &work, t, b).await?;
            }
        }
        self.query(&ctx, step, file, sql).await
    }

    /// The step's SQL over a session, its rows in key order.
    async fn query(&self, ctx: &SessionContext, step: &Step, file: &str, sql: &str) -> Result<RecordBatch> {
        crate::session::query(ctx, sql, format!("{}/{file}", self.pipeline_source), &step.key, &step.name).await
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

/// Fingerprints by `MEMBER/year`, as kept in a cached result's footer.
fn labels(fps: &Fingerprints) -> BTreeMap<String, &String> {
    fps.iter().map(|(r, fp)| (label(r), fp)).collect()
}

async fn read_fingerprinted(lake: &Lake, key: &str) -> Result<Option<(RecordBatch, Fingerprints)>> {
    let Some((batch, md)) = read_cache(lake, key).await? else { return Ok(None) };
    // unreadable fingerprints are only slower: the step runs cold
    let parsed = md
        .get(FINGERPRINTS)
        .and_then(|j| serde_json::from_str::<BTreeMap<String, String>>(j).ok())
        .and_then(|fps| fps.into_iter().map(|(k, v)| Some((parse_label(&k)?, v))).collect::<Option<Fingerprints>>());
    Ok(parsed.map(|fps| (batch, fps)))
}

async fn write_fingerprinted(
    lake: &Lake,
    key: &str,
    step: &str,
    batch: &RecordBatch,
    fps: &Fingerprints,
) -> Result<()> {
    let md = BTreeMap::from([(FINGERPRINTS.to_string(), serde_json::to_string(&labels(fps))?)]);
    write_cache(lake, key, step, batch, md).await
}

/// A cached table and its footer metadata; `None` when absent or unreadable.
async fn read_cache(lake: &Lake, key: &str) -> Result<Option<(RecordBatch, BTreeMap<String, String>)>> {
    Ok(lake.get_opt(key).await?.and_then(decode))
}

/// A cached table and its footer metadata; `None` when it cannot be read
/// (an unreadable cache entry is only slower: the step runs cold).
fn decode(bytes: Bytes) -> Option<(RecordBatch, BTreeMap<String, String>)> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).ok()?;
    let md: BTreeMap<String, String> = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()?
        .iter()
        .filter_map(|kv| Some((kv.key.clone(), kv.value.clone()?)))
        .collect();
    let schema = builder.schema().clone();
    let batches: Vec<RecordBatch> = builder.build().ok()?.collect::<std::result::Result<_, _>>().ok()?;
    let batch = datafusion::arrow::compute::concat_batches(&schema, &batches).ok()?;
    // the schema exactly as `output::finish` makes it (no footer metadata in it)
    let fields: Vec<Field> =
        schema.fields().iter().map(|f| Field::new(f.name(), f.data_type().clone(), true)).collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), batch.columns().to_vec()).ok()?;
    Some((batch, md))
}

async fn write_cache(
    lake: &Lake,
    key: &str,
    step: &str,
    batch: &RecordBatch,
    mut md: BTreeMap<String, String>,
) -> Result<()> {
    md.insert("fedreport.table".to_string(), step.to_string());
    // LZ4: the cache is the engine's own (zstd's context set-up cost more than the compression saved)
    let props = fedreport_contract::canonical::stored_properties(&md);
    let mut w = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props))?;
    w.write(batch)?;
    lake.put(key, Bytes::from(w.into_inner()?)).await?;
    Ok(())
}
