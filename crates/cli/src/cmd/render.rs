//! `render`: the forum's drafts from one run, optionally printed to PDF.

use std::path::PathBuf;

use anyhow::{Context, Result};
use fedreport_forum::Forum;
use fedreport_render::RunData;
use fedreport_store::Lake;

use super::Outcome;

#[derive(clap::Args)]
pub struct RenderArgs {
    /// A run id in the lake (with --lake), or a run folder written by `fedreport run --out`.
    #[arg(long)]
    run: String,
    #[arg(long, env = "FEDREPORT_LAKE")]
    lake: Option<String>,
    /// The meeting: a meeting file, or one of the forum's by name (e.g. som5-bali-2013).
    #[arg(long)]
    meeting: String,
    /// Folder for the drafts.
    #[arg(long)]
    out: PathBuf,
    /// Template folder (default: the forum's templates, templates/ for the Bali Process).
    #[arg(long)]
    templates: Option<PathBuf>,
    /// Also print each HTML draft to PDF with headless Chromium (must be installed).
    #[arg(long)]
    pdf: bool,
}

pub async fn render(forum: &Forum, a: RenderArgs) -> Result<Outcome> {
    let meeting = forum.meeting(&a.meeting)?;
    // from the lake, the drafts say what changed since the last ones the co-chairs saw
    let (data, since) = match &a.lake {
        Some(l) => {
            let lake = Lake::open(l)?;
            let data = RunData::from_lake(&lake, &a.run).await?;
            let since = fedreport_render::last_reviewed_before(&lake, &data.manifest).await?;
            (data, since)
        }
        None => (RunData::from_folder(std::path::Path::new(&a.run))?, None),
    };
    if let Some(s) = &since {
        println!("the drafts carry the changes since run {}, the last put up for review", s.manifest.run_id);
    }
    let written = forum.renderer_with(a.templates.as_deref())?.write_since(&data, &meeting, since.as_ref(), &a.out)?;
    for path in &written {
        println!("draft: {}", path.display());
    }
    if a.pdf {
        let chromium = fedreport_render::pdf::find_chromium()
            .context("--pdf needs Chromium: install Debian's chromium package or set FEDREPORT_CHROMIUM")?;
        for html in written.iter().filter(|p| p.extension().is_some_and(|e| e == "html")) {
            let target = html.with_extension("pdf");
            fedreport_render::pdf::print_to_pdf(&chromium, html, &target)?;
            println!("draft: {}", target.display());
        }
    }
    Ok(Outcome::Done)
}
