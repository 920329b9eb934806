//! The statistical annex as the templates see it: every published indicator
//! table with human headings and units, formatted cells, footnotes for
//! hidden cells and quality flags; completeness by member; capacity requests
//! grouped by area; provenance in summary. All of it from one run's tables
//! and manifest; nothing is computed that the run did not compute.

use std::collections::BTreeMap;

use fedreport_contract::Registry;
use fedreport_store::manifest::{AnnexYears, Output};
use serde::Serialize;
use serde_json::Value;

use crate::filters::{per_cent, thousands};
use crate::run::{RunData, Table};
use crate::words::Words;

/// Tables with a section of their own in the annex, not a generic table.
const OWN_SECTIONS: &[&str] = &["completeness", "capacity_requests", "quality_flags"];

/// Tables with more columns than this print on a landscape page.
const PORTRAIT_COLUMNS: usize = 8;

/// One cell as printed.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub text: String,
    pub numeric: bool,
    /// Footnote mark (`a`, `b`, …), if any.
    pub note: Option<String>,
}

/// One column heading.
#[derive(Debug, Clone, Serialize)]
pub struct Heading {
    pub label: String,
    pub numeric: bool,
}

/// A footnote of a table.
#[derive(Debug, Clone, Serialize)]
pub struct Note {
    pub mark: String,
    pub text: String,
}

/// One published table, ready to print.
#[derive(Debug, Clone, Serialize)]
pub struct AnnexTable {
    pub name: String,
    pub title: String,
    /// "2012" or "2008–2012".
    pub years: String,
    pub headings: Vec<Heading>,
    pub rows: Vec<Vec<Cell>>,
    pub notes: Vec<Note>,
    /// Printed on a landscape page.
    pub wide: bool,
}

/// A member's returns for the cycle year.
#[derive(Debug, Clone, Serialize)]
pub struct MemberReturns {
    pub code: String,
    pub name: String,
    pub subregion: String,
    /// One short status per dataset: `v1`, `v2 late`, `rejected`, `missing`.
    pub cells: Vec<String>,
}

/// Capacity requests of one area.
#[derive(Debug, Clone, Serialize)]
pub struct AreaRequests {
    pub area: String,
    pub requests: Vec<Request>,
}

/// One capacity request in the member's words.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub member: String,
    pub assistance: String,
    pub priority: String,
    pub provider: String,
    pub description: Option<String>,
}

/// Provenance in summary.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    pub inputs: usize,
    pub members: usize,
    pub datasets: usize,
    pub years: String,
    pub snapshot: String,
    pub manifest_key: String,
}

/// Everything the annex template sees besides the run and meeting.
#[derive(Debug, Clone, Serialize)]
pub struct Annex {
    pub datasets: Vec<String>,
    pub completeness: Vec<MemberReturns>,
    pub tables: Vec<AnnexTable>,
    pub requests: Vec<AreaRequests>,
    pub provenance: Provenance,
}

impl Annex {
    /// The annex of a run.
    pub fn from_run(run: &RunData, registry: &Registry, words: &Words) -> Annex {
        let y = run.year();
        let tables = run
            .manifest
            .outputs
            .iter()
            .filter(|o| !OWN_SECTIONS.contains(&o.table.as_str()))
            .map(|o| annex_table(run, o, words))
            .collect();
        let mut members: Vec<&str> = run.manifest.inputs.iter().map(|i| i.member.as_str()).collect();
        members.sort_unstable();
        members.dedup();
        let mut datasets: Vec<&str> = run.manifest.inputs.iter().map(|i| i.dataset.as_str()).collect();
        datasets.sort_unstable();
        datasets.dedup();
        let mut years: Vec<i32> = run.manifest.inputs.iter().map(|i| i.year).collect();
        years.sort_unstable();
        let span = match (years.first(), years.last()) {
            (Some(a), Some(b)) if a != b => format!("{a}–{b}"),
            (Some(a), _) => a.to_string(),
            _ => y.to_string(),
        };
        let (datasets_c, completeness) = completeness(run, registry);
        Annex {
            datasets: datasets_c,
            completeness,
            tables,
            requests: requests(run, words),
            provenance: Provenance {
                inputs: run.manifest.inputs.len(),
                members: members.len(),
                datasets: datasets.len(),
                years: span,
                snapshot: run.manifest.snapshot.clone(),
                manifest_key: fedreport_store::layout::run_manifest(&run.manifest.run_id),
            },
        }
    }
}

/// Footnote marks: a, b, c, …
fn mark(i: usize) -> String {
    char::from(b'a' + (i % 26) as u8).to_string()
}

fn annex_table(run: &RunData, o: &Output, words: &Words) -> AnnexTable {
    let t = run.table(&o.table);
    let y = Value::from(run.year());
    let meta = &o.meta;
    let cycle_only = meta.annex == AnnexYears::CycleYear;
    let rows: Vec<&Vec<Value>> =
        t.rows.iter().filter(|r| !cycle_only || t.get(r, "reference_year").is_none_or(|v| *v == y)).collect();
    // the year column says nothing when only one year is shown
    let shown: Vec<usize> =
        (0..t.columns.len()).filter(|&i| !(cycle_only && t.columns[i] == "reference_year")).collect();
    let numeric = |i: usize| rows.iter().any(|r| r[i].is_number());
    let headings = shown
        .iter()
        .map(|&i| {
            let mut label = meta.heading(&t.columns[i]);
            if meta.fractions.contains(&t.columns[i]) && !label.contains('%') {
                label.push_str(" (%)");
            }
            Heading { label, numeric: numeric(i) }
        })
        .collect();
    let mut notes: Vec<Note> = Vec::new();
    let disclosure = run.manifest.disclosure_of(&o.table);
    let hidden_mark = disclosure.map(|d| {
        notes.push(Note {
            mark: mark(notes.len()),
            text: format!(
                "Hidden to protect victims: counts from 1 to {} and the cells that would reveal them (docs/disclosure.md).",
                d.k - 1
            ),
        });
        notes[notes.len() - 1].mark.clone()
    });
    // quality flags on this table's dataset, by (year, member)
    let qf = run.table("quality_flags");
    let mut flags: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    if let Some(dataset) = &meta.dataset {
        for r in qf.rows.iter().filter(|r| qf.text(r, "dataset") == Some(dataset.as_str())) {
            if let (Some(year), Some(member), Some(message)) =
                (qf.get(r, "reference_year"), qf.text(r, "reporting_member"), qf.text(r, "message"))
            {
                flags.entry((year.to_string(), member.to_string())).or_default().push(message.to_string());
            }
        }
    }
    let member_col = t.columns.iter().position(|c| c == "reporting_member");
    let mut flag_marks: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut out_rows = Vec::new();
    for r in &rows {
        let flag_mark = member_col.and_then(|m| {
            let year = t.get(r, "reference_year").map(Value::to_string).unwrap_or_default();
            let member = r[m].as_str()?.to_string();
            let messages = flags.get(&(year.clone(), member.clone()))?;
            // one note per member and year, however many rows it has
            let mk = flag_marks.entry((year, member.clone())).or_insert_with(|| {
                let mk = mark(notes.len());
                notes.push(Note { mark: mk.clone(), text: format!("{member}: {}.", messages.join("; ")) });
                mk
            });
            Some(mk.clone())
        });
        let cells = shown
            .iter()
            .map(|&i| {
                let column = &t.columns[i];
                let v = &r[i];
                let note = match v {
                    Value::Null if disclosure.is_some_and(|d| d.columns.contains(column)) => hidden_mark.clone(),
                    _ if Some(i) == member_col => flag_mark.clone(),
                    _ => None,
                };
                Cell {
                    text: format_cell(v, column, meta.fractions.contains(column), words),
                    numeric: v.is_number(),
                    note,
                }
            })
            .collect();
        out_rows.push(cells);
    }
    let years = if cycle_only {
        run.year().to_string()
    } else {
        let ys: Vec<i64> = rows.iter().filter_map(|r| t.int(r, "reference_year")).collect();
        match (ys.iter().min(), ys.iter().max()) {
            (Some(a), Some(b)) if a != b => format!("{a}–{b}"),
            (Some(a), _) => a.to_string(),
            _ => run.year().to_string(),
        }
    };
    AnnexTable {
        name: o.table.clone(),
        title: meta.title.clone().unwrap_or_else(|| o.table.replace('_', " ")),
        years,
        wide: shown.len() > PORTRAIT_COLUMNS,
        headings,
        rows: out_rows,
        notes,
    }
}

/// A cell as readers see it: whole numbers with thousands separators,
/// shares as per cent, yes/no, codes in words, a dash for nothing.
fn format_cell(v: &Value, column: &str, fraction: bool, words: &Words) -> String {
    match v {
        Value::Null => "–".into(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Number(n) if fraction => {
            n.as_f64().map(|f| per_cent(100.0 * f).replace(" per cent", "")).unwrap_or_default()
        }
        Value::Number(n) => match n.as_i64() {
            Some(i) if column == "reference_year" => i.to_string(),
            Some(i) => thousands(i),
            None => n.as_f64().map(|f| format!("{}", (f * 100.0).round() / 100.0)).unwrap_or_default(),
        },
        Value::String(s) if column == "reporting_member" || column == "partner_member" => s.clone(),
        Value::String(s) => words.value(column, s),
        other => other.to_string(),
    }
}

/// Completeness by member for the cycle year, from the `completeness` table.
fn completeness(run: &RunData, registry: &Registry) -> (Vec<String>, Vec<MemberReturns>) {
    let c = run.table("completeness");
    let y = Value::from(run.year());
    let rows: Vec<&Vec<Value>> = c.filter("reference_year", &y).collect();
    let mut datasets: Vec<String> = rows.iter().filter_map(|r| c.text(r, "dataset")).map(str::to_string).collect();
    datasets.sort();
    datasets.dedup();
    let mut by_member: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for r in &rows {
        let (Some(m), Some(d)) = (c.text(r, "reporting_member"), c.text(r, "dataset")) else { continue };
        let status = match c.text(r, "status") {
            Some("accepted") => {
                let v = c.int(r, "version").map(|v| format!("v{v}")).unwrap_or_else(|| "accepted".into());
                if c.get(r, "on_time").and_then(Value::as_bool) == Some(false) { format!("{v} late") } else { v }
            }
            Some(other) => other.to_string(),
            None => "–".into(),
        };
        by_member.entry(m.to_string()).or_default().insert(d.to_string(), status);
    }
    let mut members: Vec<MemberReturns> = by_member
        .into_iter()
        .map(|(code, cells)| {
            let m = registry.member(&code);
            MemberReturns {
                name: m.map(|m| m.name.clone()).unwrap_or_else(|| code.clone()),
                subregion: m.and_then(|m| m.subregion.clone()).unwrap_or_default(),
                cells: datasets.iter().map(|d| cells.get(d).cloned().unwrap_or_else(|| "–".into())).collect(),
                code,
            }
        })
        .collect();
    members.sort_by(|a, b| a.name.cmp(&b.name).then(a.code.cmp(&b.code)));
    (datasets, members)
}

/// The cycle year's capacity requests grouped by area, areas in name order
/// of their words, requests by member.
fn requests(run: &RunData, words: &Words) -> Vec<AreaRequests> {
    let t: &Table = run.table("capacity_requests");
    let mut by_area: BTreeMap<String, Vec<Request>> = BTreeMap::new();
    for r in &t.rows {
        let Some(area) = t.text(r, "area") else { continue };
        by_area.entry(words.value("area", area)).or_default().push(Request {
            member: t.text(r, "reporting_member").unwrap_or_default().to_string(),
            assistance: t.text(r, "assistance_type").map(|a| words.value("assistance_type", a)).unwrap_or_default(),
            priority: t.int(r, "priority").map(|p| p.to_string()).unwrap_or_else(|| "–".into()),
            provider: t
                .text(r, "preferred_provider")
                .map(|p| words.value("preferred_provider", p))
                .unwrap_or_else(|| "–".into()),
            description: t.text(r, "description").map(str::to_string),
        });
    }
    by_area.into_iter().map(|(area, requests)| AreaRequests { area, requests }).collect()
}
