//! The DataFusion runtime and session for a lake.
//!
//! [`runtime_for`] is the one function that builds a DataFusion runtime: it
//! registers the lake's object store (built by `fedreport_store::build_store`
//! from the lake URL) so `file://`, `s3://`, `az://` and `gs://` table paths
//! resolve. The local engine uses it; the distributed runner reuses it for
//! its executors.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::{MemoryCatalogProviderList, Session};
use datafusion::common::Statistics;
use datafusion::common::stats::Precision;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::options::ReadOptions;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl, PartitionedFile,
};
use datafusion::datasource::physical_plan::parquet::metadata::CachedParquetMetaData;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::cache::cache_manager::CachedFileMetadataEntry;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use fedreport_store::Lake;
use futures::{StreamExt, TryStreamExt};
use tokio::sync::OnceCell;

use crate::codes::{self, Codes, Interner};
use crate::error::Result;
use crate::output;

/// Where a run's SQL executes: this process ([`Local`]) or a cluster (the
/// `fedreport-distributed` crate's Ballista engine). The pipeline, its SQL and
/// its outputs are the same on every engine.
#[async_trait]
pub trait Engine: Send + Sync + std::fmt::Debug {
    /// What the manifest records as the engine, e.g. `datafusion 55.2.0`.
    fn describe(&self) -> String;

    /// A session over the lake with this configuration.
    async fn session(&self, lake: &Lake, config: SessionConfig) -> Result<SessionContext>;

    /// Make a table the run built itself (an auxiliary input or a step's
    /// result) readable by later SQL under `name`. `work` is a lake folder of
    /// this run the engine may write it to. The local engine keeps it in memory.
    async fn register_batch(
        &self,
        ctx: &SessionContext,
        _lake: &Lake,
        _work: &str,
        name: &str,
        batch: RecordBatch,
    ) -> Result<()> {
        ctx.register_table(name, Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]])?))?;
        Ok(())
    }

    /// The session for a step that reads only small tables (the auxiliary
    /// inputs and earlier steps' results): `run` itself unless the engine
    /// plans those better otherwise (the local engine: on one partition,
    /// see [`one_partition`]).
    fn for_small_tables(&self, run: &SessionContext) -> SessionContext {
        run.clone()
    }

    /// Make pinned Parquet files (all with the same columns) readable as one
    /// table. By default through DataFusion's `ListingTable`, which every
    /// engine can ship to its workers; [`Local`] reads them with a
    /// [`PinnedTable`], which never lists or stats them.
    async fn register_files(&self, ctx: &SessionContext, name: &str, files: &[ScanFile]) -> Result<()> {
        let urls: Vec<String> = files.iter().map(|f| f.url.clone()).collect();
        register_parquet_files(ctx, name, &urls).await
    }

    /// Make a dataset's pinned files readable as one table, as
    /// [`Engine::register_files`] does; `coded` names its columns of closed
    /// code lists, which an engine may group on as integers
    /// ([`crate::codes`]; the local engine does).
    async fn register_dataset(
        &self,
        ctx: &SessionContext,
        name: &str,
        files: &[ScanFile],
        _coded: &[String],
    ) -> Result<()> {
        self.register_files(ctx, name, files).await
    }
}

/// A Parquet file a run reads, with what the pin knows of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanFile {
    /// Full URL (`file://…`, `s3://…`).
    pub url: String,
    pub size: u64,
    pub rows: u64,
}

/// DataFusion in this process, grouping the datasets' coded columns on
/// integer codes ([`crate::codes`]) unless made with [`Local::on_strings`].
#[derive(Debug, Clone, Copy)]
pub struct Local {
    group_on_codes: bool,
}

impl Default for Local {
    fn default() -> Self {
        Self { group_on_codes: true }
    }
}

impl Local {
    /// The local engine grouping coded columns as the strings they are: what
    /// grouping on codes is compared with (it must give the same bytes).
    pub fn on_strings() -> Self {
        Self { group_on_codes: false }
    }
}

#[async_trait]
impl Engine for Local {
    fn describe(&self) -> String {
        format!("datafusion {}", datafusion::DATAFUSION_VERSION)
    }

    async fn session(&self, lake: &Lake, config: SessionConfig) -> Result<SessionContext> {
        let ctx = SessionContext::new_with_config_rt(config, runtime_for(lake)?);
        if self.group_on_codes {
            ctx.add_optimizer_rule(Arc::new(codes::GroupOnCodes));
        }
        Ok(ctx)
    }

    fn for_small_tables(&self, run: &SessionContext) -> SessionContext {
        one_partition(run)
    }

    async fn register_files(&self, ctx: &SessionContext, name: &str, files: &[ScanFile]) -> Result<()> {
        ctx.register_table(name, Arc::new(PinnedTable::new(ctx, name, files).await?))?;
        Ok(())
    }

    async fn register_dataset(
        &self,
        ctx: &SessionContext,
        name: &str,
        files: &[ScanFile],
        coded: &[String],
    ) -> Result<()> {
        let coded = if self.group_on_codes { coded } else { &[] };
        ctx.register_table(name, Arc::new(PinnedTable::new(ctx, name, files).await?.with_codes(coded)))?;
        Ok(())
    }
}

/// Hand footers the pin has read (with their page indexes) to DataFusion's
/// file-metadata cache, keyed as [`PinnedTable`] names the files, so that
/// gathering a scan's statistics and opening its files neither read nor
/// parse them again: one footer read per version in a cold run instead of
/// two (on S3, one `GET` less per version). The cache keeps at most its
/// limit (DataFusion's `metadata_cache_limit`); a footer it drops is read
/// again when needed.
pub fn remember_footers(ctx: &SessionContext, lake: &Lake, footers: &[crate::pin::Footer]) -> Result<()> {
    let cache = ctx.runtime_env().cache_manager.get_file_metadata_cache();
    for f in footers {
        let url = ListingTableUrl::parse(lake.url(&f.key).as_str())?;
        let meta = PartitionedFile::new(url.prefix().as_ref(), f.size).object_meta;
        let entry =
            CachedFileMetadataEntry::new(meta.clone(), Arc::new(CachedParquetMetaData::new(f.metadata.clone())));
        cache.put(&meta.location, entry);
    }
    Ok(())
}

/// Pinned Parquet files as one table, scanned as they are.
///
/// DataFusion's `ListingTable` stats every file it is given on every scan
/// (a `HEAD` request per file on S3) and gathers each file's column
/// statistics when planning. A run knows its files' sizes and rows from
/// the pin, so this table hands them to DataFusion's Parquet scan directly:
/// a cold run reads each footer once (DataFusion's metadata cache) and never
/// lists or stats a file.
#[derive(Debug)]
pub struct PinnedTable {
    schema: SchemaRef,
    format: Arc<dyn FileFormat>,
    store: ObjectStoreUrl,
    /// The files and their rows, as pinned.
    files: Vec<(PartitionedFile, u64)>,
    with_statistics: OnceCell<Vec<PartitionedFile>>,
    /// Its columns that may be grouped on as codes ([`crate::codes`]).
    codes: Codes,
}

impl PinnedTable {
    /// The table over `files`; its columns are the first file's (as
    /// DataFusion reads them with the session's options, e.g. strings as views).
    pub async fn new(ctx: &SessionContext, name: &str, files: &[ScanFile]) -> Result<Self> {
        let (options, urls) = parquet_files(ctx, name, files.iter().map(|f| f.url.as_str()))?;
        let first = &urls[0];
        let files: Vec<(PartitionedFile, u64)> = urls
            .iter()
            .zip(files)
            .map(|(url, f)| (PartitionedFile::new(url.prefix().as_ref(), f.size), f.rows))
            .collect();
        // the columns from the first file's footer, without stat'ing it
        let state = ctx.state();
        let store = state.runtime_env().object_store(first)?;
        let schema = options.format.infer_schema(&state, &store, &[files[0].0.object_meta.clone()]).await?;
        Ok(Self {
            schema,
            format: options.format,
            store: first.object_store(),
            files,
            with_statistics: OnceCell::new(),
            codes: Codes::new(),
        })
    }

    /// The table with `columns` (those of them that are strings) open to
    /// grouping on codes.
    pub fn with_codes(mut self, columns: &[String]) -> Self {
        self.codes = columns
            .iter()
            .filter(|c| self.schema.field_with_name(c).is_ok_and(|f| f.data_type() == &DataType::Utf8View))
            .map(|c| (c.clone(), Arc::new(Interner::new(c))))
            .collect();
        self
    }

    /// Its columns that may be grouped on as codes, with their codes.
    pub fn codes(&self) -> &Codes {
        &self.codes
    }

    /// The files with their statistics, gathered at the first scan (a run
    /// that takes every step from its cache reads no footer).
    ///
    /// Column statistics as a ListingTable gathers them (DataFusion plans
    /// better with them: 250 ms more CPU a cold run without, measured), from
    /// footers read once into DataFusion's metadata cache, which the scans
    /// then reuse; rows as the pin counted them.
    async fn files(&self, state: &dyn Session) -> datafusion::error::Result<&[PartitionedFile]> {
        let gathered = self.with_statistics.get_or_try_init(|| async {
            let store = state.runtime_env().object_store(&self.store)?;
            let collect = state.config().collect_statistics();
            let (format, store, schema) = (&self.format, &store, &self.schema);
            futures::stream::iter(self.files.clone().into_iter().map(|(file, rows)| async move {
                let mut stats = if collect {
                    format.infer_stats(state, store, Arc::clone(schema), &file.object_meta).await?
                } else {
                    Statistics::new_unknown(schema)
                };
                stats.num_rows = Precision::Exact(rows as usize);
                Ok::<_, datafusion::error::DataFusionError>(file.with_statistics(Arc::new(stats)))
            }))
            .buffered(state.config_options().execution.meta_fetch_concurrency.get())
            .try_collect::<Vec<_>>()
            .await
        });
        Ok(gathered.await?.as_slice())
    }

    /// The files in `n` groups, with the statistics of each group and of the
    /// whole, to be read with `schema` (the table's, or [`Self::scan_as`]'s
    /// with the `coded` columns as dictionaries).
    async fn groups(
        &self,
        state: &dyn Session,
        schema: &SchemaRef,
        coded: &[usize],
    ) -> datafusion::error::Result<(Vec<FileGroup>, Statistics)> {
        let mut files = self.files(state).await?.to_vec();
        if !coded.is_empty() {
            for f in &mut files {
                // the Parquet reader reads each file's columns with these
                // types (it checks their names against the file's)
                f.arrow_schema = Some(Arc::clone(schema));
                f.statistics = f.statistics.as_ref().map(|s| Arc::new(codes::without_bounds(s, coded)));
            }
        }
        let groups = FileGroup::new(files).split_files(state.config().target_partitions().max(1));
        let collect = state.config().collect_statistics();
        datafusion_datasource::compute_all_files_statistics(groups, Arc::clone(schema), collect, false)
    }

    /// The scan of [`TableProvider::scan`] with the table's columns read as
    /// `schema` says: the same columns, the `coded` ones as dictionaries of
    /// strings (for [`codes::CodedTable`]).
    pub(crate) async fn scan_as(
        &self,
        state: &dyn Session,
        schema: &SchemaRef,
        coded: &[usize],
        projection: Option<&Vec<usize>>,
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        // Filters are left to DataFusion, which pushes them into the Parquet
        // scan as it does for a ListingTable (see supports_filters_pushdown).
        let (groups, statistics) = self.groups(state, schema, coded).await?;
        let source = self.format.file_source(TableSchema::from(schema));
        let config = FileScanConfigBuilder::new(self.store.clone(), source)
            .with_file_groups(groups)
            .with_statistics(statistics)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        self.format.create_physical_plan(state, config).await
    }
}

#[async_trait]
impl TableProvider for PinnedTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        self.scan_as(state, &self.schema, &[], projection, limit).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    fn statistics(&self) -> Option<Statistics> {
        // before the first scan, only the rows are known
        let mut stats = Statistics::new_unknown(&self.schema);
        stats.num_rows = Precision::Exact(self.files.iter().map(|(_, rows)| *rows as usize).sum());
        Some(stats)
    }
}

/// Register a run-built table by writing it to the lake as Parquet under
/// `{work}{name}.parquet` and reading it from there: for engines whose
/// workers cannot receive in-memory tables (Ballista ships logical plans,
/// and an in-memory table has no serialised form).
pub async fn register_through_lake(
    ctx: &SessionContext,
    lake: &Lake,
    work: &str,
    name: &str,
    batch: RecordBatch,
) -> Result<()> {
    let key = fedreport_store::layout::work_table(work, name);
    lake.put(&key, Bytes::from(output::parquet(&batch, name)?)).await?;
    ctx.register_parquet(name, lake.url(&key).as_str(), ParquetReadOptions::default()).await?;
    Ok(())
}

/// Register Parquet files (full URLs, every one with the same columns) as
/// one table, as `register_parquet` does for a folder.
pub async fn register_parquet_files(ctx: &SessionContext, name: &str, urls: &[String]) -> Result<()> {
    let (options, paths) = parquet_files(ctx, name, urls.iter().map(String::as_str))?;
    let schema = options.infer_schema(&ctx.state(), &paths[0]).await?;
    let config = ListingTableConfig::new_with_multi_paths(paths).with_listing_options(options).with_schema(schema);
    let table = ListingTable::try_new(config)?.with_cache(ctx.runtime_env().cache_manager.get_file_statistic_cache());
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
}

/// The session's options for Parquet and the files of table `name`, parsed;
/// refused when there is none.
fn parquet_files<'a>(
    ctx: &SessionContext,
    name: &str,
    urls: impl IntoIterator<Item = &'a str>,
) -> Result<(ListingOptions, Vec<ListingTableUrl>)> {
    let options = ParquetReadOptions::default().to_listing_options(&ctx.copied_config(), ctx.copied_table_options());
    let urls = urls.into_iter().map(ListingTableUrl::parse).collect::<datafusion::error::Result<Vec<_>>>()?;
    if urls.is_empty() {
        return Err(crate::error::EngineError::Pipeline {
            file: name.to_string(),
            message: "no file to register as this table".into(),
        });
    }
    Ok((options, urls))
}

/// A runtime that can read and write the lake.
pub fn runtime_for(lake: &Lake) -> Result<Arc<RuntimeEnv>> {
    let runtime = RuntimeEnvBuilder::new().build_arc()?;
    runtime.register_object_store(&lake.store_url(), lake.store());
    Ok(runtime)
}

/// Session configuration of pipeline runs. DataFusion's own settings can be
/// tuned from the environment (`DATAFUSION_EXECUTION_BATCH_SIZE=…`, see
/// DataFusion's configuration reference); target partitions and string
/// types are set here.
pub fn config(target_partitions: usize) -> SessionConfig {
    let config = SessionConfig::from_env()
        .unwrap_or_default()
        .with_target_partitions(target_partitions.max(1))
        .with_information_schema(false)
        // spans in plans, so a SQL error names the line of its file
        .set_bool("datafusion.sql_parser.collect_spans", true);
    // Strings as Utf8View unless the environment says otherwise: plain Utf8
    // was 40 per cent slower on this workload (docs/benchmarks.md).
    if std::env::var_os("DATAFUSION_EXECUTION_PARQUET_SCHEMA_FORCE_VIEW_TYPES").is_some() {
        config
    } else {
        config.set_bool("datafusion.execution.parquet.schema_force_view_types", true)
    }
}

/// A session like `run`'s — its configuration, planner (on Ballista, the
/// same cluster) and runtime (object stores, footer and statistics caches) —
/// with none of its tables: for SQL that must see other tables under the
/// same names while `run`'s session is in use (see `incremental`).
pub fn fresh(run: &SessionContext) -> SessionContext {
    let config = run.copied_config().with_create_default_catalog_and_schema(true);
    let state = SessionStateBuilder::new_from_existing(run.state())
        .with_config(config)
        .with_catalog_list(Arc::new(MemoryCatalogProviderList::new()))
        .build();
    SessionContext::new_with_state(state)
}

/// A session like `run`'s, sharing its tables, that plans with one
/// partition: for steps over the small tables (the auxiliary inputs and
/// earlier steps' results, a few thousand rows), where splitting the work
/// over the cores costs more than it saves (repartitioning, a hash join's
/// partitions): reruns at 10.5 M rows run back to back, median 77 → 67 ms
/// (docs/benchmarks.md).
/// For the local engine only: on a Ballista cluster a session made so gave
/// wrong rows (`quality_flags` with rows repeated, on the S3 cluster test).
pub fn one_partition(run: &SessionContext) -> SessionContext {
    // the same catalogs: a default catalog made afresh would replace the run's
    let config = run.copied_config().with_target_partitions(1).with_create_default_catalog_and_schema(false);
    SessionContext::new_with_state(SessionStateBuilder::new_from_existing(run.state()).with_config(config).build())
}

/// Run a step's SQL and sort its rows by key ([`output::finish`]), on the
/// runtime's worker threads: planning, the last stage of the plan and the
/// sort then run beside the other steps of a wave, not one after another on
/// the thread that drives the run. `file` names the SQL file in errors.
pub async fn query(ctx: &SessionContext, sql: &str, file: String, key: &[String], step: &str) -> Result<RecordBatch> {
    let (ctx, sql, key, step) = (ctx.clone(), sql.to_string(), key.to_vec(), step.to_string());
    let task = tokio::spawn(async move {
        let located = |e: datafusion::error::DataFusionError| crate::error::sql_error(file.clone(), &e);
        let df = ctx.sql(&sql).await.map_err(located)?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await.map_err(located)?;
        output::finish(schema, &batches, &key, &step)
    });
    joined(task.await)
}

/// A table's rows sorted by key, read on the runtime's worker threads (see [`query`]).
pub async fn table_sorted(ctx: &SessionContext, table: &str, key: &[String], step: &str) -> Result<RecordBatch> {
    let (ctx, table, key, step) = (ctx.clone(), table.to_string(), key.to_vec(), step.to_string());
    let task = tokio::spawn(async move {
        let df = ctx.table(table.as_str()).await?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        output::finish(schema, &df.collect().await?, &key, &step)
    });
    joined(task.await)
}

/// The result of a task this module spawned; its panic goes on as a panic here.
pub(crate) fn joined<T>(r: std::result::Result<Result<T>, tokio::task::JoinError>) -> Result<T> {
    match r {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // the runtime is shutting down: nothing is left to run the step
        Err(e) => Err(datafusion::error::DataFusionError::External(Box::new(e)).into()),
    }
}

/// Number of cores, the default partitioning.
pub fn default_partitions() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}
