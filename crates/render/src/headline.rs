//! The headline of a run for the terminal: where it was written and the
//! regional figures of its cycle year, read from its tables by column name.
//! A table the pipeline does not have simply gives no line.

use serde_json::Value;

use crate::filters::thousands;
use crate::run::RunData;

/// A cell as plain text (numbers as written, empty for null).
fn plain(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A whole number with thousands separators; anything else as it is.
fn big(s: String) -> String {
    s.parse::<i64>().map(thousands).unwrap_or(s)
}

/// The headline of a run.
pub fn headline(run: &RunData) -> String {
    let m = &run.manifest;
    let y = run.year();
    let year = Value::from(y);
    let mut out = format!(
        "run {} — {} inputs pinned, {} tables written to {}\n",
        m.run_id,
        m.inputs.len(),
        m.outputs.len(),
        fedreport_store::layout::run_folder(&m.run_id)
    );
    let mr = run.table("maritime_regional");
    if let Some(r) = mr.filter("reference_year", &year).last() {
        let change = plain(mr.get(r, "persons_change_pct"));
        out.push_str(&format!(
            "  {y}: {} persons moved irregularly by sea (change on the previous year: {} per cent; unprecedented: {}); {} dead or missing\n",
            big(plain(mr.get(r, "persons"))),
            if change.is_empty() { "no change figure".to_string() } else { change },
            plain(mr.get(r, "unprecedented")),
            big(plain(mr.get(r, "dead_or_missing")))
        ));
    }
    let er = run.table("enforcement_regional");
    for r in er.filter("reference_year", &year) {
        out.push_str(&format!(
            "  {y}: {} {} cases\n",
            big(plain(er.get(r, "cases"))),
            plain(er.get(r, "offence")).replace('_', " ")
        ));
    }
    let vr = run.table("victims_regional");
    if vr.columns.iter().any(|c| c == "victims") {
        let total: i64 = vr.filter("reference_year", &year).filter_map(|r| vr.int(r, "victims")).sum();
        out.push_str(&format!("  {y}: {} trafficking victims identified\n", thousands(total)));
    }
    let c = run.table("completeness");
    if c.columns.iter().any(|c| c == "status") {
        let rows: Vec<_> = c.filter("reference_year", &year).collect();
        let accepted = rows.iter().filter(|r| c.text(r, "status") == Some("accepted")).count();
        out.push_str(&format!("  {y}: {accepted} of {} expected returns accepted\n", rows.len()));
    }
    if !m.warnings.is_empty() {
        out.push_str(&format!("  {} warnings (see manifest.json)\n", m.warnings.len()));
    }
    out
}
