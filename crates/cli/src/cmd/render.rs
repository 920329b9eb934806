//! `render`: the forum's drafts from one run, optionally printed to PDF and
//! written as Word documents.

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
    /// Also write each draft as a Word document (.docx); from a lake, with the changes since the
    /// drafts last put up for review as tracked changes.
    #[arg(long)]
    docx: bool,
}

/// Each Markdown draft written as a Word document beside it (`.docx`), with
/// the changes since `since`'s drafts as tracked changes.
pub fn write_docx(
    renderer: &fedreport_render::Renderer,
    data: &RunData,
    meeting: &fedreport_render::meeting::Meeting,
    since: Option<&RunData>,
    written: &[PathBuf],
) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let pictures = fedreport_office::chart::pictures(renderer.charts(data)?.values())?;
    for md in written.iter().filter(|p| p.extension().is_some_and(|e| e == "md")) {
        let text = std::fs::read_to_string(md).with_context(|| format!("cannot read {}", md.display()))?;
        let file = md.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default();
        let previous = match since {
            Some(s) => renderer.render_file(s, meeting, &file)?.map(|b| String::from_utf8_lossy(&b).into_owned()),
            None => None,
        };
        let options = fedreport_office::docx::DocxOptions {
            header: format!("DRAFT — run {} — for review, not for circulation", data.manifest.run_id),
            date: data.manifest.created_at.clone(),
            previous: previous.as_deref(),
            pictures: &pictures,
        };
        let target = md.with_extension("docx");
        std::fs::write(&target, fedreport_office::docx::from_markdown(&text, &options)?)
            .with_context(|| format!("cannot write {}", target.display()))?;
        out.push(target);
    }
    Ok(out)
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
    let renderer = forum.renderer_with(a.templates.as_deref())?;
    let written = renderer.write_since(&data, &meeting, since.as_ref(), &a.out)?;
    for path in &written {
        println!("draft: {}", path.display());
    }
    if a.docx {
        for path in write_docx(&renderer, &data, &meeting, since.as_ref(), &written)? {
            println!("draft: {}", path.display());
        }
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
