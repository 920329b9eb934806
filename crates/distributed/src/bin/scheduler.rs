//! `fedreport-scheduler`: Ballista's scheduler with fedreport's session
//! builder, so the scheduler can list and plan over the job's lake (S3,
//! Azure, GCS or a folder) from the session configuration. Takes Ballista's
//! own scheduler options (`--bind-port`, `--bind-host`, …; see `--help`).

use std::sync::Arc;

use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::{Config, SchedulerConfig};
use ballista_scheduler::scheduler_process::start_server;
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ballista_core::error::Result<()> {
    // Ballista's planner recurses over deep plans: a large stack, as its own binary has.
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(32 * 1024 * 1024).build()?;
    runtime.block_on(serve())
}

async fn serve() -> ballista_core::error::Result<()> {
    let opt = Config::parse();
    let filter = std::env::var(EnvFilter::DEFAULT_ENV).unwrap_or_else(|_| opt.log_level_setting.clone());
    tracing_subscriber::fmt().with_ansi(false).with_env_filter(EnvFilter::new(filter)).init();
    let addr = format!("{}:{}", opt.bind_host, opt.bind_port).parse().map_err(|e: std::net::AddrParseError| {
        ballista_core::error::BallistaError::Configuration(format!("--bind-host/--bind-port: {e}"))
    })?;
    let config: SchedulerConfig = opt.try_into()?;
    let config = config
        .with_override_config_producer(Arc::new(fedreport_distributed::config_producer))
        .with_override_session_builder(Arc::new(fedreport_distributed::session_builder));
    let cluster = BallistaCluster::new_from_config(&config).await?;
    start_server(cluster, addr, Arc::new(config)).await
}
