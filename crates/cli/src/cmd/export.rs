//! `fedreport export`: a run's published tables for other systems (SDMX).

use std::path::PathBuf;

use anyhow::{Context, Result};
use fedreport_forum::Forum;
use fedreport_render::run::RunData;
use fedreport_store::Lake;

use super::Outcome;

/// Formats a run can be exported in.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    /// SDMX-CSV 2.0, one file per published table, with the SDMX-ML 2.1 structure (structure.xml).
    SdmxCsv,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// A run id in the lake (with --lake), or a run folder written by `fedreport run --out`.
    #[arg(long)]
    run: String,
    #[arg(long, env = "FEDREPORT_LAKE")]
    lake: Option<String>,
    #[arg(long, value_enum)]
    format: ExportFormat,
    /// Folder for the files (created if needed).
    #[arg(long)]
    out: PathBuf,
}

pub async fn export(forum: &Forum, a: ExportArgs) -> Result<Outcome> {
    let data = match &a.lake {
        Some(l) => RunData::from_lake(&Lake::open(l)?, &a.run).await?,
        None => RunData::from_folder(std::path::Path::new(&a.run))?,
    };
    match a.format {
        ExportFormat::SdmxCsv => {
            let agency = fedreport_office::sdmx::sdmx_id(&forum.name);
            let export = fedreport_office::sdmx::export(&data, &forum.contract, &agency)?;
            std::fs::create_dir_all(&a.out).with_context(|| format!("cannot create {}", a.out.display()))?;
            for (name, bytes) in &export.files {
                let path = a.out.join(name);
                std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
            }
            println!(
                "{}: the structure (SDMX-ML 2.1) of {} dataflows",
                a.out.join(fedreport_office::sdmx::STRUCTURE_FILE).display(),
                export.flows.len()
            );
            for f in &export.flows {
                println!(
                    "{}: {agency}:{} — {} observations, {} suppressed",
                    a.out.join(&f.file).display(),
                    f.id,
                    f.observations,
                    f.suppressed
                );
            }
            for (table, why) in &export.left_out {
                println!("not exported: {table} ({why})");
            }
        }
    }
    Ok(Outcome::Done)
}
