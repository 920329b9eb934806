//! What changed between two runs, and why: every figure of every published
//! table that differs, each with its causes — a new, revised or withdrawn
//! return (member, dataset, year, versions), a changed pipeline file, a
//! changed parameter, or disclosure control (a cell newly hidden or shown)
//! — and every sentence of the drafts that differs.
//!
//! A figure is attributed to a changed return only when it can depend on
//! it: a row of another member, another reference year or another dataset
//! cannot. A pipeline file is a cause of the tables built from it (the
//! step and every step it depends on); a parameter, of every table.

use std::collections::{BTreeMap, BTreeSet};

use fedreport_contract::Registry;
use fedreport_store::manifest::Manifest;
use serde::Serialize;
use serde_json::Value;

use crate::run::{RunData, Table};

/// Why figures changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cause {
    /// A return the earlier run did not have.
    NewReturn { member: String, dataset: String, year: i32, version: u32 },
    /// A return revised between the runs: its two versions.
    RevisedReturn { member: String, dataset: String, year: i32, before: u32, after: u32 },
    /// A return the later run no longer has.
    WithdrawnReturn { member: String, dataset: String, year: i32, version: u32 },
    /// A pipeline file that changed (or came, or went).
    Pipeline { file: String },
    /// A parameter that changed.
    Parameter { name: String, before: String, after: String },
    /// Disclosure control now hides the cell (counts from 1 to k−1, and their complements).
    Suppressed { k: i64 },
    /// Disclosure control hid the cell before and shows it now.
    Unsuppressed,
}

impl Cause {
    /// The cause in a sentence, with members by name.
    pub fn words(&self, registry: &Registry) -> String {
        let name = |code: &str| match registry.member(code) {
            Some(m) => format!("{} ({code})", m.name),
            None => code.to_string(),
        };
        let ds = |d: &str| d.replace('_', " ");
        match self {
            Cause::NewReturn { member, dataset, year, version } => {
                format!(
                    "{} sent its {} return for {year} (version {version}), not in the earlier run",
                    name(member),
                    ds(dataset)
                )
            }
            Cause::RevisedReturn { member, dataset, year, before, after } => format!(
                "{} revised its {} return for {year}: version {before} became version {after}",
                name(member),
                ds(dataset)
            ),
            Cause::WithdrawnReturn { member, dataset, year, version } => format!(
                "{}'s {} return for {year} (version {version}) is no longer among the inputs",
                name(member),
                ds(dataset)
            ),
            Cause::Pipeline { file } => format!("the pipeline file {file} changed"),
            Cause::Parameter { name, before, after } => {
                format!("the parameter {name} changed from {before} to {after}")
            }
            Cause::Suppressed { k } => format!("disclosure control now hides this cell (counts from 1 to {})", k - 1),
            Cause::Unsuppressed => "disclosure control no longer hides this cell".to_string(),
        }
    }

    fn is_input(&self) -> bool {
        matches!(self, Cause::NewReturn { .. } | Cause::RevisedReturn { .. } | Cause::WithdrawnReturn { .. })
    }

    fn input(&self) -> Option<(&str, &str, i32)> {
        match self {
            Cause::NewReturn { member, dataset, year, .. }
            | Cause::RevisedReturn { member, dataset, year, .. }
            | Cause::WithdrawnReturn { member, dataset, year, .. } => Some((member, dataset, *year)),
            _ => None,
        }
    }
}

/// One figure that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FigureChange {
    pub table: String,
    pub title: String,
    /// The row, by its key columns: (column, value as text).
    pub row: Vec<(String, String)>,
    pub column: String,
    /// None: no such row (or a hidden cell) in that run.
    pub before: Option<String>,
    pub after: Option<String>,
    /// Indices into [`RunDiff::causes`].
    pub causes: Vec<usize>,
}

/// One sentence of a draft that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentenceChange {
    /// The document's title.
    pub document: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Everything that differs between two runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDiff {
    pub from: String,
    pub to: String,
    pub causes: Vec<Cause>,
    pub figures: Vec<FigureChange>,
    pub sentences: Vec<SentenceChange>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The causes the two manifests record, in a fixed order.
pub fn causes(a: &Manifest, b: &Manifest) -> Vec<Cause> {
    let mut out = BTreeSet::new();
    let inputs = |m: &Manifest| -> BTreeMap<(String, String, i32), u32> {
        m.inputs.iter().map(|i| ((i.member.clone(), i.dataset.clone(), i.year), i.version)).collect()
    };
    let (ia, ib) = (inputs(a), inputs(b));
    for ((member, dataset, year), &after) in &ib {
        let (member, dataset, year) = (member.clone(), dataset.clone(), *year);
        match ia.get(&(member.clone(), dataset.clone(), year)) {
            None => out.insert(Cause::NewReturn { member, dataset, year, version: after }),
            Some(&before) if before != after => {
                out.insert(Cause::RevisedReturn { member, dataset, year, before, after })
            }
            Some(_) => false,
        };
    }
    for ((member, dataset, year), &version) in &ia {
        if !ib.contains_key(&(member.clone(), dataset.clone(), *year)) {
            out.insert(Cause::WithdrawnReturn {
                member: member.clone(),
                dataset: dataset.clone(),
                year: *year,
                version,
            });
        }
    }
    let files = |m: &Manifest| -> BTreeMap<String, Option<String>> {
        m.steps.iter().filter_map(|s| s.file.clone().map(|f| (f, s.sha256.clone()))).collect()
    };
    let (fa, fb) = (files(a), files(b));
    for f in fa.keys().chain(fb.keys()) {
        if fa.get(f) != fb.get(f) {
            out.insert(Cause::Pipeline { file: f.clone() });
        }
    }
    let show = |p: Option<&fedreport_store::Param>| {
        p.map(|p| serde_json::to_string(p).unwrap_or_default()).unwrap_or_else(|| "(none)".into())
    };
    for name in a.parameters.keys().chain(b.parameters.keys()).collect::<BTreeSet<_>>() {
        let (pa, pb) = (a.parameters.get(name), b.parameters.get(name));
        if pa != pb {
            out.insert(Cause::Parameter { name: name.clone(), before: show(pa), after: show(pb) });
        }
    }
    out.into_iter().collect()
}

/// The pipeline files a published table is built from: its step (or the
/// internal table disclosure control protects) and every step before it.
fn files_of(m: &Manifest, table: &str) -> BTreeSet<String> {
    let mut todo = vec![table.to_string()];
    if let Some(d) = m.disclosure_of(table) {
        todo.push(d.input.clone());
    }
    let mut seen = BTreeSet::new();
    let mut files = BTreeSet::new();
    while let Some(t) = todo.pop() {
        if !seen.insert(t.clone()) {
            continue;
        }
        if let Some(s) = m.steps.iter().find(|s| s.name == t) {
            files.extend(s.file.clone());
            todo.extend(s.depends_on.iter().cloned());
        }
    }
    files
}

/// Every figure that differs between two runs, each with its causes.
pub fn figures(a: &RunData, b: &RunData) -> RunDiff {
    let mut causes = causes(&a.manifest, &b.manifest);
    let mut figures = Vec::new();
    let names: BTreeSet<&String> = a.tables.keys().chain(b.tables.keys()).collect();
    let empty = Table::default();
    for name in names {
        let (ta, tb) = (a.tables.get(name).unwrap_or(&empty), b.tables.get(name).unwrap_or(&empty));
        let out = b.manifest.output(name).or_else(|| a.manifest.output(name));
        let key: Vec<String> = out.map(|o| o.key.clone()).unwrap_or_default();
        let title = out.and_then(|o| o.meta.title.clone()).unwrap_or_else(|| name.clone());
        let table_dataset = out.and_then(|o| o.meta.dataset.clone());
        let files: BTreeSet<String> =
            files_of(&a.manifest, name).into_iter().chain(files_of(&b.manifest, name)).collect();
        let disclosure = b.manifest.disclosure_of(name).or_else(|| a.manifest.disclosure_of(name));
        let rows = |t: &Table| -> BTreeMap<Vec<String>, BTreeMap<String, Value>> {
            t.rows
                .iter()
                .map(|r| {
                    let cells: BTreeMap<String, Value> = t.columns.iter().cloned().zip(r.iter().cloned()).collect();
                    let k = key.iter().map(|c| cells.get(c).and_then(text).unwrap_or_default()).collect();
                    (k, cells)
                })
                .collect()
        };
        let (ra, rb) = (rows(ta), rows(tb));
        let columns: Vec<String> = {
            let mut c: Vec<String> = tb.columns.clone();
            c.extend(ta.columns.iter().filter(|x| !tb.columns.contains(x)).cloned());
            c.retain(|x| !key.contains(x));
            c
        };
        for k in ra.keys().chain(rb.keys()).collect::<BTreeSet<_>>() {
            let (ca, cb) = (ra.get(k), rb.get(k));
            let row: Vec<(String, String)> = key.iter().cloned().zip(k.iter().cloned()).collect();
            let field = |col: &str| {
                cb.or(ca)
                    .and_then(|c| c.get(col))
                    .and_then(text)
                    .or_else(|| row.iter().find(|(c, _)| c == col).map(|(_, v)| v.clone()))
            };
            let (member, year, dataset) =
                (field("reporting_member"), field("reference_year"), field("dataset").or(table_dataset.clone()));
            for col in &columns {
                let before = ca.and_then(|c| c.get(col)).and_then(text);
                let after = cb.and_then(|c| c.get(col)).and_then(text);
                if before == after {
                    continue;
                }
                let mut why: Vec<usize> = Vec::new();
                for (i, c) in causes.iter().enumerate() {
                    let applies = match c {
                        _ if c.is_input() => {
                            let (m, d, y) = c.input().expect("an input cause");
                            member.as_deref().is_none_or(|x| x == m)
                                && year.as_deref().is_none_or(|x| x == y.to_string())
                                && dataset.as_deref().is_none_or(|x| x == d)
                        }
                        Cause::Pipeline { file } => files.contains(file),
                        Cause::Parameter { .. } => true,
                        _ => false,
                    };
                    if applies {
                        why.push(i);
                    }
                }
                // a protected count hidden in one run and shown in the other
                if let Some(d) = disclosure.filter(|d| d.columns.contains(col)) {
                    let cause = match (ca.is_some() && before.is_none(), cb.is_some() && after.is_none()) {
                        (false, true) => Some(Cause::Suppressed { k: d.k }),
                        (true, false) => Some(Cause::Unsuppressed),
                        _ => None,
                    };
                    if let Some(cause) = cause {
                        let i = causes.iter().position(|x| *x == cause).unwrap_or_else(|| {
                            causes.push(cause);
                            causes.len() - 1
                        });
                        why.push(i);
                    }
                }
                figures.push(FigureChange {
                    table: name.clone(),
                    title: title.clone(),
                    row: row.clone(),
                    column: col.clone(),
                    before,
                    after,
                    causes: why,
                });
            }
        }
    }
    RunDiff { from: a.manifest.run_id.clone(), to: b.manifest.run_id.clone(), causes, figures, sentences: Vec::new() }
}

/// The sentences of a Markdown draft: prose only (table rows are the
/// figures' business), one item per sentence, with the run's id made
/// neutral so that two runs' drafts compare by their words.
fn sentences(markdown: &str, run_id: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in markdown.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('|') || line.starts_with("**DRAFT") {
            continue;
        }
        let line = line.replace(run_id, "this run");
        let mut start = 0;
        let bytes = line.as_bytes();
        for i in 0..bytes.len() {
            if matches!(bytes[i], b'.' | b'?' | b'!') && bytes.get(i + 1) == Some(&b' ') {
                out.push(line[start..=i].trim().to_string());
                start = i + 2;
            }
        }
        if start < line.len() {
            out.push(line[start..].trim().to_string());
        }
    }
    out
}

/// The sentences that differ between two renderings of one document.
pub fn changed_sentences(document: &str, a: (&str, &str), b: (&str, &str)) -> Vec<SentenceChange> {
    let (sa, sb) = (sentences(a.0, a.1), sentences(b.0, b.1));
    let (ra, rb): (Vec<&str>, Vec<&str>) =
        (sa.iter().map(String::as_str).collect(), sb.iter().map(String::as_str).collect());
    let diff = similar::TextDiff::from_slices(&ra, &rb);
    let mut out = Vec::new();
    for op in diff.ops() {
        let (old, new) = (op.old_range(), op.new_range());
        match op.tag() {
            similar::DiffTag::Equal => {}
            _ => {
                let n = old.len().max(new.len());
                for i in 0..n {
                    out.push(SentenceChange {
                        document: document.to_string(),
                        before: old.clone().nth(i).map(|j| sa[j].clone()),
                        after: new.clone().nth(i).map(|j| sb[j].clone()),
                    });
                }
            }
        }
    }
    out
}

/// A changed figure as the annex prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FigureLine {
    pub table: String,
    pub row: String,
    pub column: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub because: String,
}

/// The "changes since the last draft" annex: the diff in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Changes {
    /// The run whose drafts the co-chairs saw last.
    pub since: String,
    pub summary: String,
    pub causes: Vec<String>,
    pub figures: Vec<FigureLine>,
    pub sentences: Vec<SentenceChange>,
}

impl Changes {
    /// The diff of `since` → `run`, in words, members by name.
    pub fn from_diff(diff: &RunDiff, run: &RunData, registry: &Registry) -> Changes {
        let causes: Vec<String> = diff.causes.iter().map(|c| c.words(registry)).collect();
        let name = |v: &str| match registry.member(v) {
            Some(m) => m.name.clone(),
            None => v.replace('_', " "),
        };
        let figures = diff
            .figures
            .iter()
            .map(|f| FigureLine {
                table: f.title.clone(),
                row: f.row.iter().map(|(_, v)| name(v)).collect::<Vec<_>>().join(", "),
                column: run
                    .manifest
                    .output(&f.table)
                    .map(|o| o.meta.heading(&f.column))
                    .unwrap_or_else(|| f.column.clone()),
                before: f.before.clone(),
                after: f.after.clone(),
                because: if f.causes.is_empty() {
                    "no recorded cause".into()
                } else {
                    f.causes.iter().map(|&i| causes[i].clone()).collect::<Vec<_>>().join("; ")
                },
            })
            .collect();
        let plural = |n: usize, w: &str| if n == 1 { format!("1 {w}") } else { format!("{n} {w}s") };
        let summary = if diff.figures.is_empty() && diff.sentences.is_empty() {
            format!("No figure and no sentence changed since the drafts of run {} went to the co-chairs.", diff.from)
        } else {
            format!(
                "Since the drafts of run {} went to the co-chairs, {} and {} of the drafts changed, for {}:",
                diff.from,
                plural(diff.figures.len(), "figure"),
                plural(diff.sentences.len(), "sentence"),
                if causes.len() == 1 { "this reason" } else { "these reasons" }
            )
        };
        Changes { since: diff.from.clone(), summary, causes, figures, sentences: diff.sentences.clone() }
    }
}
