//! `fedreport-executor`: Ballista's executor with fedreport's runtime
//! producer, so tasks read the job's lake (S3 endpoint and credentials,
//! Azure, GCS or a shared folder) from the session configuration the client
//! sent. Takes Ballista's own executor options (`--scheduler-host`,
//! `--scheduler-port`, `--bind-port`, `--bind-grpc-port`, `--work-dir`, …).

use std::sync::Arc;

use ballista_executor::config::Config;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ballista_core::error::Result<()> {
    let opt = Config::parse();
    let mut config: ExecutorProcessConfig = opt.try_into()?;
    config.override_config_producer = Some(Arc::new(fedreport_distributed::config_producer));
    config.override_runtime_producer = Some(Arc::new(fedreport_distributed::runtime_from_config));
    let filter = std::env::var(EnvFilter::DEFAULT_ENV).unwrap_or_else(|_| config.special_mod_log_level.clone());
    tracing_subscriber::fmt().with_ansi(false).with_env_filter(EnvFilter::new(filter)).init();
    start_executor_process(Arc::new(config)).await
}
