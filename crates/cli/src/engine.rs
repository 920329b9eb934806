//! `--engine`: where a run's SQL executes.

use std::sync::Arc;

use anyhow::{Result, bail};
use fedreport_engine::{Engine, Local};

/// The engine named on the command line.
pub fn choose(name: &str) -> Result<Arc<dyn Engine>> {
    if name == "local" {
        return Ok(Arc::new(Local::default()));
    }
    if name == "ballista-standalone" || name.starts_with("ballista://") {
        return ballista(name);
    }
    bail!("--engine {name}: use local, ballista-standalone or ballista://HOST:PORT")
}

#[cfg(feature = "ballista")]
fn ballista(name: &str) -> Result<Arc<dyn Engine>> {
    match fedreport_distributed::Ballista::parse(name) {
        Some(b) => Ok(Arc::new(b)),
        None => bail!("--engine {name}: write ballista://HOST:PORT, e.g. ballista://localhost:50050"),
    }
}

#[cfg(not(feature = "ballista"))]
fn ballista(name: &str) -> Result<Arc<dyn Engine>> {
    bail!(
        "--engine {name}: this fedreport was built without Ballista; rebuild with \
         `cargo build --release --features ballista` (or use --engine local)"
    )
}
