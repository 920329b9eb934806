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
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::options::ReadOptions;
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use fedreport_store::Lake;

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
}

/// DataFusion in this process.
#[derive(Debug, Clone, Copy, Default)]
pub struct Local;

#[async_trait]
impl Engine for Local {
    fn describe(&self) -> String {
        format!("datafusion {}", datafusion::DATAFUSION_VERSION)
    }

    async fn session(&self, lake: &Lake, config: SessionConfig) -> Result<SessionContext> {
        Ok(SessionContext::new_with_config_rt(config, runtime_for(lake)?))
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
    let options = ParquetReadOptions::default().to_listing_options(&ctx.copied_config(), ctx.copied_table_options());
    let paths = urls.iter().map(ListingTableUrl::parse).collect::<datafusion::error::Result<Vec<_>>>()?;
    let Some(first) = paths.first() else {
        return Err(crate::error::EngineError::Pipeline {
            file: name.to_string(),
            message: "no file to register as this table".into(),
        });
    };
    let schema = options.infer_schema(&ctx.state(), first).await?;
    let config = ListingTableConfig::new_with_multi_paths(paths).with_listing_options(options).with_schema(schema);
    let table = ListingTable::try_new(config)?.with_cache(ctx.runtime_env().cache_manager.get_file_statistic_cache());
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
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

/// Number of cores, the default partitioning.
pub fn default_partitions() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}
