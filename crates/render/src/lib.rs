//! Briefing drafts: the SOM Co-Chairs' Statement and the ministerial briefing
//! paper, rendered by minijinja templates (`templates/`) from the tables and
//! manifest of one pipeline run plus a meeting file.
//!
//! This crate owns the meeting file format and its checks, the facts and
//! wording rules the templates use (trend words, drafting notes where data is
//! missing), the reader-friendly filters, the SVG charts (plotters) and the
//! rendering itself. It reads a run; it never computes indicators.

pub mod charts;
pub mod error;
pub mod facts;
pub mod filters;
pub mod meeting;
pub mod pdf;
pub mod run;

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

pub use error::{RenderError, Result};
pub use meeting::Meeting;
pub use run::RunData;

/// The templates shipped with the project, embedded at build time.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html.j2", include_str!("../../../templates/base.html.j2")),
    ("statement.md.j2", include_str!("../../../templates/statement.md.j2")),
    ("statement.html.j2", include_str!("../../../templates/statement.html.j2")),
    ("briefing.md.j2", include_str!("../../../templates/briefing.md.j2")),
    ("briefing.html.j2", include_str!("../../../templates/briefing.html.j2")),
];

/// The documents rendered, by output file name.
pub const OUTPUTS: &[(&str, &str)] = &[
    ("statement.md.j2", "cochairs-statement.md"),
    ("statement.html.j2", "cochairs-statement.html"),
    ("briefing.md.j2", "ministerial-briefing.md"),
    ("briefing.html.j2", "ministerial-briefing.html"),
];

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

/// The embedded templates as (name, text).
pub fn embedded_templates() -> Vec<(String, String)> {
    TEMPLATES.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect()
}

/// Everything the templates see.
#[derive(Debug, Serialize)]
pub struct Context {
    pub meeting: meeting::MeetingView,
    pub run: run::RunView,
    pub facts: facts::Facts,
    pub charts: BTreeMap<String, charts::Chart>,
    pub tables: BTreeMap<String, run::Table>,
}

/// Render every document: (file name, bytes), in a fixed order.
pub fn render(run: &RunData, meeting: &Meeting, templates: Vec<(String, String)>) -> Result<Vec<(String, Vec<u8>)>> {
    let env = environment(templates)?;
    let facts = facts::Facts::from_run(run)?;
    let charts = charts::all(run, &facts)?;
    let ctx = Context { meeting: meeting.view(), run: run.view(), facts, charts, tables: run.tables.clone() };
    let mut out = Vec::new();
    for (template, file) in OUTPUTS {
        let t = env
            .get_template(template)
            .map_err(|e| RenderError::Template { name: template.to_string(), message: e.to_string() })?;
        let text = t
            .render(minijinja::Value::from(minijinja::value::Serde(&ctx)))
            .map_err(|e| RenderError::Template { name: template.to_string(), message: describe(&e) })?;
        out.push((file.to_string(), text.into_bytes()));
    }
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
