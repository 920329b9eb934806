//! Briefing drafts: the SOM Co-Chairs' Statement and the ministerial briefing
//! paper, rendered by minijinja templates (`templates/`) from the tables and
//! manifest of one pipeline run plus a meeting file.
//!
//! This crate owns the meeting file format and its checks, the facts and
//! wording rules the templates use (trend words, drafting notes where data is
//! missing), the reader-friendly filters, the SVG charts (plotters), the
//! run headline printed after a run, and the rendering itself. Which
//! documents exist and which templates make them is the forum's
//! configuration ([`Document`]). It reads a run; it never computes indicators.

pub mod annex;
pub mod charts;
pub mod diff;
pub mod error;
pub mod facts;
pub mod filters;
pub mod headline;
pub mod meeting;
pub mod pdf;
pub mod run;
pub mod words;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fedreport_contract::Contract;
use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};

pub use error::{RenderError, Result};
pub use headline::headline;
pub use meeting::Meeting;
pub use run::RunData;

/// One document a forum drafts from a run: its file stem and the template
/// of each format it comes in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// File stem of the outputs, e.g. `cochairs-statement`.
    pub name: String,
    /// What readers call it, e.g. "Co-Chairs' Statement".
    pub title: String,
    /// Template of the Markdown version, if any.
    #[serde(default)]
    pub markdown: Option<String>,
    /// Template of the self-contained HTML version (also printed to PDF), if any.
    #[serde(default)]
    pub html: Option<String>,
}

impl Document {
    /// (template, output file) for each format, Markdown first.
    pub fn outputs(&self) -> Vec<(&str, String)> {
        let mut out = Vec::new();
        if let Some(t) = &self.markdown {
            out.push((t.as_str(), format!("{}.md", self.name)));
        }
        if let Some(t) = &self.html {
            out.push((t.as_str(), format!("{}.html", self.name)));
        }
        out
    }
}

/// A template environment: strict undefined, HTML escaping for `.html.j2`.
pub fn environment(templates: Vec<(String, String)>) -> Result<Environment<'static>> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html.j2") { minijinja::AutoEscape::Html } else { minijinja::AutoEscape::None }
    });
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .map_err(|e| RenderError::Template { name: "syntax".into(), message: e.to_string() })?;
    env.set_syntax(syntax);
    filters::register(&mut env);
    for (name, text) in templates {
        env.add_template_owned(name.clone(), text)
            .map_err(|e| RenderError::Template { name, message: e.to_string() })?;
    }
    Ok(env)
}

/// Everything the templates see.
#[derive(Debug, Serialize)]
pub struct Context {
    pub meeting: meeting::MeetingView,
    pub run: run::RunView,
    pub facts: facts::Facts,
    pub charts: BTreeMap<String, charts::Chart>,
    pub annex: annex::Annex,
    pub tables: BTreeMap<String, run::Table>,
    /// The documents of the forum (for links between them).
    pub documents: Vec<Document>,
    /// What changed since the last run of the cycle whose drafts went to the co-chairs.
    pub changes: Option<diff::Changes>,
}

/// Renders a forum's documents: its templates compiled once, its document
/// list and its contract (member names, sub-regions, codes in words).
#[derive(Debug)]
pub struct Renderer {
    env: Environment<'static>,
    documents: Vec<Document>,
    contract: Contract,
}

impl Renderer {
    /// A renderer over `templates` (name, text); every template a document names must be among them.
    pub fn new(templates: Vec<(String, String)>, documents: Vec<Document>, contract: Contract) -> Result<Renderer> {
        let env = environment(templates)?;
        for d in &documents {
            for (t, _) in d.outputs() {
                env.get_template(t).map_err(|e| RenderError::Template {
                    name: t.to_string(),
                    message: format!("document {} needs it: {e}", d.name),
                })?;
            }
        }
        Ok(Renderer { env, documents, contract })
    }

    /// The documents this renderer writes.
    pub fn documents(&self) -> &[Document] {
        &self.documents
    }

    /// Render every document: (file name, bytes), in a fixed order.
    pub fn render(&self, run: &RunData, meeting: &Meeting) -> Result<Vec<(String, Vec<u8>)>> {
        self.render_since(run, meeting, None)
    }

    /// Every figure and every sentence of the drafts that differ between
    /// `since` and `run`, each figure with its causes.
    pub fn diff(&self, since: &RunData, run: &RunData, meeting: &Meeting) -> Result<diff::RunDiff> {
        let mut d = diff::figures(since, run);
        let (va, vb) = (self.context(since, meeting, None)?, self.context(run, meeting, None)?);
        for doc in &self.documents {
            let Some(t) = &doc.markdown else { continue };
            let (ma, mb) = (self.render_template(t, &va)?, self.render_template(t, &vb)?);
            d.sentences.extend(diff::changed_sentences(
                &doc.title,
                (&String::from_utf8_lossy(&ma), &since.manifest.run_id),
                (&String::from_utf8_lossy(&mb), &run.manifest.run_id),
            ));
        }
        Ok(d)
    }

    /// Render every document; with `since` (the last run of the cycle whose
    /// drafts went to the co-chairs), the drafts carry what changed since.
    pub fn render_since(
        &self,
        run: &RunData,
        meeting: &Meeting,
        since: Option<&RunData>,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let changes = self.changes(run, meeting, since)?;
        let value = self.context(run, meeting, changes)?;
        let mut out = Vec::new();
        for d in &self.documents {
            for (template, file) in d.outputs() {
                out.push((file, self.render_template(template, &value)?));
            }
        }
        Ok(out)
    }

    /// Render the one output named `file` (e.g. `ministerial-briefing.html`),
    /// or `None` when no document writes it.
    pub fn render_file(&self, run: &RunData, meeting: &Meeting, file: &str) -> Result<Option<Vec<u8>>> {
        self.render_file_since(run, meeting, file, None)
    }

    /// [`Renderer::render_file`] with the changes since `since`.
    pub fn render_file_since(
        &self,
        run: &RunData,
        meeting: &Meeting,
        file: &str,
        since: Option<&RunData>,
    ) -> Result<Option<Vec<u8>>> {
        let Some((template, _)) = self.documents.iter().flat_map(|d| d.outputs()).find(|(_, f)| f == file) else {
            return Ok(None);
        };
        let changes = self.changes(run, meeting, since)?;
        Ok(Some(self.render_template(template, &self.context(run, meeting, changes)?)?))
    }

    fn changes(&self, run: &RunData, meeting: &Meeting, since: Option<&RunData>) -> Result<Option<diff::Changes>> {
        match since {
            None => Ok(None),
            Some(s) => {
                let d = self.diff(s, run, meeting)?;
                Ok(Some(diff::Changes::from_diff(&d, run, self.contract.registry())))
            }
        }
    }

    fn render_template(&self, template: &str, value: &minijinja::Value) -> Result<Vec<u8>> {
        let t = self
            .env
            .get_template(template)
            .map_err(|e| RenderError::Template { name: template.to_string(), message: e.to_string() })?;
        let text = t
            .render(value.clone())
            .map_err(|e| RenderError::Template { name: template.to_string(), message: describe(&e) })?;
        Ok(text.into_bytes())
    }

    /// The run's charts, as the drafts draw them (for the Word drafts' pictures).
    pub fn charts(&self, run: &RunData) -> Result<BTreeMap<String, charts::Chart>> {
        let words = words::Words::new(&self.contract);
        let facts = facts::Facts::from_run(run, self.contract.registry(), &words)?;
        charts::all(run, &facts, &words)
    }

    /// What every template sees: the meeting, the run, its facts, charts and annex.
    fn context(&self, run: &RunData, meeting: &Meeting, changes: Option<diff::Changes>) -> Result<minijinja::Value> {
        let registry = self.contract.registry();
        let words = words::Words::new(&self.contract);
        let facts = facts::Facts::from_run(run, registry, &words)?;
        let charts = charts::all(run, &facts, &words)?;
        let ctx = Context {
            meeting: meeting.view(registry),
            run: run.view(),
            facts,
            charts,
            annex: annex::Annex::from_run(run, registry, &words),
            tables: run.tables.clone(),
            documents: self.documents.clone(),
            changes,
        };
        Ok(minijinja::Value::from(minijinja::value::Serde(&ctx)))
    }

    /// Render every document into `dir`; returns the files written.
    pub fn write(&self, run: &RunData, meeting: &Meeting, dir: &Path) -> Result<Vec<PathBuf>> {
        self.write_since(run, meeting, None, dir)
    }

    /// [`Renderer::write`] with the changes since `since`.
    pub fn write_since(
        &self,
        run: &RunData,
        meeting: &Meeting,
        since: Option<&RunData>,
        dir: &Path,
    ) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|source| RenderError::Io { path: dir.display().to_string(), source })?;
        let mut written = Vec::new();
        for (name, bytes) in self.render_since(run, meeting, since)? {
            let path = dir.join(&name);
            std::fs::write(&path, bytes)
                .map_err(|source| RenderError::Io { path: path.display().to_string(), source })?;
            written.push(path);
        }
        Ok(written)
    }
}

/// The run whose drafts last went to the co-chairs on the same cycle
/// before `run` was made, if any: the drafts of `run` say what changed since.
pub async fn last_reviewed_before(
    lake: &fedreport_store::Lake,
    run: &fedreport_store::Manifest,
) -> Result<Option<RunData>> {
    let events = fedreport_store::audit::read(lake).await?;
    let previous = fedreport_store::cycle::drafts(&events)
        .into_iter()
        .filter(|d| d.run_id != run.run_id && d.year == Some(run.cycle_year))
        .filter(|d| d.put_up.as_ref().is_some_and(|s| s.at < run.created_at))
        .max_by(|a, b| a.put_up.as_ref().map(|s| &s.at).cmp(&b.put_up.as_ref().map(|s| &s.at)));
    match previous {
        None => Ok(None),
        Some(d) => Ok(Some(RunData::from_lake(lake, &d.run_id).await?)),
    }
}

/// Every `*.j2` file of a folder as (name, text), in name order.
pub fn templates_from_dir(dir: &Path) -> Result<Vec<(String, String)>> {
    let io = |source| RenderError::Io { path: dir.display().to_string(), source };
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io)? {
        let p = e.map_err(io)?.path();
        let name = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if name.ends_with(".j2") {
            let text = std::fs::read_to_string(&p)
                .map_err(|source| RenderError::Io { path: p.display().to_string(), source })?;
            out.push((name, text));
        }
    }
    out.sort();
    Ok(out)
}

fn describe(e: &minijinja::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    msg
}
