//! The fedreport pipeline on Apache DataFusion Ballista.
//!
//! This crate owns scale-out: the [`Ballista`] engine that `fedreport run
//! --engine ballista-standalone|ballista://HOST:PORT` plugs into the
//! pipeline runner of `fedreport-engine` (same pipeline, same SQL, same
//! outputs), and the session and runtime producers that the
//! `fedreport-scheduler` and `fedreport-executor` binaries hand to Ballista so
//! its nodes can read the lake.
//!
//! How the lake travels: the client puts a [`LakeOptions`] extension in the
//! session configuration (the lake URL and the object-store options it was
//! opened with). Ballista sends the session configuration with every job; the
//! scheduler's session builder and the executors' runtime producer read it back
//! and open the same lake through `fedreport_engine::session::runtime_for`,
//! the one function that builds a runtime for every engine.
//!
//! It does not decide what the pipeline computes (`fedreport-engine`) and is
//! not part of the default build: the CLI includes it with `--features ballista`.

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use ballista::prelude::SessionContextExt;
use ballista_core::extension::SessionConfigExt;
use datafusion::arrow::array::RecordBatch;
use datafusion::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use fedreport_engine::session::{self, Engine, register_through_lake};
use fedreport_engine::{EngineError, Result};
use fedreport_store::Lake;

/// The lake a Ballista job reads and writes, carried in the session
/// configuration as `fedreport.lake` and `fedreport.store_options`.
///
/// Written by hand rather than with DataFusion's `extensions_options!`,
/// whose entries leave out the `fedreport.` prefix, so Ballista (which sends
/// the configuration as its entries) would send keys no node can set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LakeOptions {
    /// The lake's URL (`s3://bucket/prefix`, `file:///abs/path/`, …).
    pub lake: String,
    /// Object-store options over the node's environment, one `name=value`
    /// per line (object_store's keys: `aws_endpoint`, `aws_region`,
    /// `aws_allow_http`, credentials, …).
    pub store_options: String,
}

impl ConfigExtension for LakeOptions {
    const PREFIX: &'static str = "fedreport";
}

impl ExtensionOptions for LakeOptions {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> datafusion::error::Result<()> {
        match key {
            "lake" => self.lake = value.to_string(),
            "store_options" => self.store_options = value.to_string(),
            other => {
                return Err(DataFusionError::Configuration(format!(
                    "fedreport.{other} is not a fedreport setting (fedreport.lake, fedreport.store_options)"
                )));
            }
        }
        Ok(())
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        vec![
            ConfigEntry { key: "fedreport.lake".into(), value: Some(self.lake.clone()), description: "the lake's URL" },
            ConfigEntry {
                key: "fedreport.store_options".into(),
                value: Some(self.store_options.clone()),
                description: "object-store options, one name=value per line",
            },
        ]
    }
}

impl LakeOptions {
    /// The options for a lake opened on this machine: its URL and the
    /// object-store variables of this process's environment.
    pub fn for_lake(lake: &Lake) -> LakeOptions {
        let location = lake.root_url().as_str().to_string();
        let store_options = fedreport_store::store_options_from_env(&location)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("\n");
        LakeOptions { lake: location, store_options }
    }

    fn options(&self) -> Vec<(String, String)> {
        self.store_options
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect()
    }

    /// Open the lake these options name.
    pub fn open(&self) -> Result<Lake> {
        Ok(Lake::open_with(&self.lake, &self.options())?)
    }
}

/// A runtime for a node of the cluster, from the job's session configuration:
/// the lake's object store registered as on the client. Without a lake in the
/// configuration (a job that did not come from fedreport), a plain runtime.
pub fn runtime_from_config(config: &SessionConfig) -> datafusion::error::Result<Arc<RuntimeEnv>> {
    match config.options().extensions.get::<LakeOptions>() {
        Some(o) if !o.lake.is_empty() => {
            let lake = o.open().map_err(|e| DataFusionError::External(Box::new(e)))?;
            session::runtime_for(&lake).map_err(|e| DataFusionError::External(Box::new(e)))
        }
        _ => RuntimeEnvBuilder::new().build_arc(),
    }
}

/// The session configuration every node starts from: Ballista's, with the
/// [`LakeOptions`] extension registered so the job's `fedreport.*` settings
/// can be read back.
pub fn config_producer() -> SessionConfig {
    SessionConfig::new_with_ballista().with_option_extension(LakeOptions::default())
}

/// The scheduler's session builder: Ballista's default session state on a
/// runtime that reaches the job's lake (the scheduler lists the lake's files
/// when it plans a job).
pub fn session_builder(config: SessionConfig) -> datafusion::error::Result<SessionState> {
    let runtime = runtime_from_config(&config)?;
    ballista_state(config, runtime)
}

/// Ballista's session state (its restricted DataFusion settings, optimizer
/// rules and functions) on the given runtime: what the scheduler plans with,
/// and so also what a standalone cluster's in-process scheduler is given.
fn ballista_state(config: SessionConfig, runtime: Arc<RuntimeEnv>) -> datafusion::error::Result<SessionState> {
    let state = ballista_core::utils::default_session_builder(config.upgrade_for_ballista())?;
    Ok(SessionStateBuilder::new_from_existing(state).with_runtime_env(runtime).build())
}

/// Fail early, and say what to do, when no scheduler listens at `url`
/// (Ballista itself would only find out at the first query).
async fn reachable(url: &str) -> Result<()> {
    let parsed = url::Url::parse(url).ok();
    let host = parsed.as_ref().and_then(|u| u.host_str()).unwrap_or("localhost").to_string();
    let port = parsed.as_ref().and_then(|u| u.port()).unwrap_or(50050);
    let attempt =
        tokio::time::timeout(std::time::Duration::from_secs(10), tokio::net::TcpStream::connect((host.as_str(), port)));
    match attempt.await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(unreachable_scheduler(&host, port, &e.to_string())),
        Err(_) => Err(unreachable_scheduler(&host, port, "no answer in 10 s")),
    }
}

fn unreachable_scheduler(host: &str, port: u16, why: &str) -> EngineError {
    EngineError::Pipeline {
        file: "--engine".into(),
        message: format!(
            "no Ballista scheduler at ballista://{host}:{port} ({why}); start one with `fedreport-scheduler \
             --bind-port {port}` and executors with `fedreport-executor --scheduler-port {port}`, or use --engine local"
        ),
    }
}

/// Ballista as the engine of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ballista {
    /// A scheduler and an executor started inside this process.
    Standalone,
    /// A running scheduler, `df://host:port` or `ballista://host:port`.
    Remote(String),
}

impl Ballista {
    /// Parse `ballista-standalone` or `ballista://HOST:PORT`.
    pub fn parse(engine: &str) -> Option<Ballista> {
        if engine == "ballista-standalone" {
            return Some(Ballista::Standalone);
        }
        let rest = engine.strip_prefix("ballista://")?;
        Some(Ballista::Remote(format!("df://{rest}")))
    }
}

#[async_trait]
impl Engine for Ballista {
    fn describe(&self) -> String {
        let how = match self {
            Ballista::Standalone => "standalone".to_string(),
            Ballista::Remote(url) => url.replacen("df://", "ballista://", 1),
        };
        format!("ballista {} ({how}) on datafusion {}", ballista_core::BALLISTA_VERSION, datafusion::DATAFUSION_VERSION)
    }

    async fn session(&self, lake: &Lake, config: SessionConfig) -> Result<SessionContext> {
        if let Ballista::Remote(url) = self {
            reachable(url).await?;
        }
        let config = config.with_option_extension(LakeOptions::for_lake(lake));
        let state = ballista_state(config, session::runtime_for(lake)?)?;
        let ctx = match self {
            Ballista::Standalone => SessionContext::standalone_with_state(state).await,
            Ballista::Remote(url) => SessionContext::remote_with_state(url, state).await,
        };
        ctx.map_err(|e| match self {
            Ballista::Remote(url) => EngineError::Pipeline {
                file: "--engine".into(),
                message: format!(
                    "cannot reach the Ballista scheduler at {}: {e}; start one with `fedreport-scheduler` \
                     (and executors with `fedreport-executor`), or use --engine local",
                    url.replacen("df://", "ballista://", 1)
                ),
            },
            Ballista::Standalone => EngineError::DataFusion(e),
        })
    }

    async fn register_batch(
        &self,
        ctx: &SessionContext,
        lake: &Lake,
        work: &str,
        name: &str,
        batch: RecordBatch,
    ) -> Result<()> {
        register_through_lake(ctx, lake, work, name, batch).await
    }
}
