//! The briefing's charts, as plain SVG: horizontal bars with each category's
//! label and value written beside its own bar, drawn in one pass over the
//! same rows, so a label can never drift from its bar. Dark bars on white
//! read the same in greyscale; every value is also written as text. Each
//! chart carries its title, its source (table, key, run), a sentence of alt
//! text and its categories, which the HTML exposes for checking.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::error::Result;
use crate::facts::Facts;
use crate::filters::thousands;
use crate::run::RunData;
use crate::words::Words;

/// One bar: its category, its value and the text written beside it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub text: String,
}

/// One chart.
#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    /// Short name (`sea`, `victims`, `capacity`, `partners`).
    pub id: String,
    pub title: String,
    /// `table (key) — run id`
    pub source: String,
    /// One sentence saying what the chart shows, for screen readers and Word.
    pub alt: String,
    pub bars: Vec<Bar>,
    /// The categories in order, as JSON (for the page's `data-categories`).
    pub categories_json: String,
    /// The SVG element.
    pub svg: String,
    /// False when there was no data to draw (the template says so instead).
    pub drawn: bool,
}

const FONT: f64 = 12.0;
/// Average advance of a DejaVu Sans character at 12 px, generously rounded.
const CHAR_W: f64 = 7.0;
const ROW: f64 = 24.0;
const BAR: f64 = 15.0;
const BAR_AREA: f64 = 330.0;
const INK: &str = "#1b2631";
const BAR_FILL: &str = "#1f4e79";

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

impl Chart {
    /// A chart of these bars (drawn when there is at least one).
    pub fn new(id: &str, title: String, source: String, alt: String, bars: Vec<Bar>) -> Chart {
        let categories: Vec<&str> = bars.iter().map(|b| b.label.as_str()).collect();
        let categories_json = serde_json::to_string(&categories).unwrap_or_else(|_| "[]".into());
        let drawn = !bars.is_empty();
        let svg = if drawn { svg(id, &title, &alt, &bars) } else { String::new() };
        Chart { id: id.to_string(), title, source, alt, bars, categories_json, svg, drawn }
    }
}

/// A horizontal bar chart: label, bar, value text, one row per bar.
fn svg(id: &str, title: &str, alt: &str, bars: &[Bar]) -> String {
    let longest = |f: &dyn Fn(&Bar) -> usize| bars.iter().map(f).max().unwrap_or(0) as f64;
    let label_w = (longest(&|b| b.label.chars().count()) * CHAR_W).max(40.0) + 10.0;
    let text_w = longest(&|b| b.text.chars().count()) * CHAR_W + 10.0;
    let width = (label_w + BAR_AREA + text_w).ceil();
    let height = (bars.len() as f64 * ROW + 8.0).ceil();
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1) as f64;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {width} {height}" width="{width}" height="{height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="{FONT}">"#
    );
    out.push_str(&format!(
        r#"<title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        escape(title),
        escape(alt)
    ));
    out.push_str(&format!(
        r#"<line x1="{label_w}" y1="2" x2="{label_w}" y2="{}" stroke="{INK}" stroke-width="1"/>"#,
        height - 2.0
    ));
    for (i, b) in bars.iter().enumerate() {
        let y = 4.0 + i as f64 * ROW;
        let mid = y + ROW / 2.0;
        let w = (b.value.max(0) as f64 / max * BAR_AREA).round();
        out.push_str(&format!(
            r#"<text class="category" x="{}" y="{mid}" text-anchor="end" dominant-baseline="central" fill="{INK}">{}</text>"#,
            label_w - 6.0,
            escape(&b.label)
        ));
        out.push_str(&format!(
            r#"<rect x="{label_w}" y="{}" width="{w}" height="{BAR}" fill="{BAR_FILL}"/>"#,
            mid - BAR / 2.0
        ));
        out.push_str(&format!(
            r#"<text class="value" x="{}" y="{mid}" dominant-baseline="central" fill="{INK}">{}</text>"#,
            label_w + w + 5.0,
            escape(&b.text)
        ));
    }
    out.push_str("</svg>");
    out
}

/// Draw every chart of a run.
pub fn all(run: &RunData, facts: &Facts, words: &Words) -> Result<BTreeMap<String, Chart>> {
    let id = run.view().id;
    let y = facts.year;
    let mut out = BTreeMap::new();
    for c in [sea(run, &id, y), victims(run, &id, y, words), capacity(run, &id, y, words), partners(run, &id, y, words)]
    {
        out.insert(c.id.clone(), c);
    }
    Ok(out)
}

fn sea(run: &RunData, id: &str, y: i64) -> Chart {
    let t = run.table("maritime_regional");
    let bars: Vec<Bar> = t
        .rows
        .iter()
        .filter_map(|r| {
            let year = t.int(r, "reference_year")?;
            let persons = t.int(r, "persons")?;
            let dead = t.int(r, "dead_or_missing")?;
            (year <= y).then(|| Bar {
                label: year.to_string(),
                value: persons,
                text: format!("{} · {} dead or missing", thousands(persons), thousands(dead)),
            })
        })
        .collect();
    let alt = match (bars.first(), bars.last()) {
        (Some(a), Some(b)) if bars.len() > 1 => format!(
            "Persons moving irregularly by sea each year from {} to {}: {} in {}, {} in {}.",
            a.label,
            b.label,
            thousands(a.value),
            a.label,
            thousands(b.value),
            b.label
        ),
        (Some(b), _) => format!("Persons moving irregularly by sea in {}: {}.", b.label, thousands(b.value)),
        _ => String::new(),
    };
    Chart::new(
        "sea",
        "Persons moving irregularly by sea, by year, and how many were dead or missing".into(),
        format!("maritime_regional (reference_year: persons, dead_or_missing) — run {id}"),
        alt,
        bars,
    )
}

fn victims(run: &RunData, id: &str, y: i64, words: &Words) -> Chart {
    let t = run.table("victims_regional");
    let mut by: BTreeMap<String, i64> = BTreeMap::new();
    for r in t.filter("reference_year", &Value::from(y)) {
        if let (Some(form), Some(n)) = (t.text(r, "exploitation"), t.int(r, "victims")) {
            *by.entry(form.to_string()).or_default() += n;
        }
    }
    let mut items: Vec<(String, i64)> = by.into_iter().collect();
    items.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let bars: Vec<Bar> = items
        .iter()
        .map(|(form, n)| Bar { label: words.value("exploitation", form), value: *n, text: thousands(*n) })
        .collect();
    let total: i64 = bars.iter().map(|b| b.value).sum();
    let alt = bars
        .first()
        .map(|b| {
            format!(
                "{} victims of trafficking identified in {y}; the most common form was {} ({}).",
                thousands(total),
                b.label,
                thousands(b.value)
            )
        })
        .unwrap_or_default();
    Chart::new(
        "victims",
        format!("Victims of trafficking identified in {y}, by form of exploitation"),
        format!("victims_regional (reference_year = {y}, summed over sex and age group) — run {id}"),
        alt,
        bars,
    )
}

fn capacity(run: &RunData, id: &str, y: i64, words: &Words) -> Chart {
    let t = run.table("capacity_needs_ranked");
    let mut rows: Vec<_> = t.filter("reference_year", &Value::from(y)).collect();
    rows.sort_by_key(|r| t.int(r, "rank").unwrap_or(i64::MAX));
    let bars: Vec<Bar> = rows
        .iter()
        .filter_map(|r| {
            let n = t.int(r, "members_requesting")?;
            Some(Bar {
                label: words.value("area", t.text(r, "area")?),
                value: n,
                text: format!("{n} member{}", if n == 1 { "" } else { "s" }),
            })
        })
        .collect();
    let alt = bars
        .first()
        .map(|b| {
            format!("Capacity needs in {y} by members asking for support; most asked for: {} ({}).", b.label, b.text)
        })
        .unwrap_or_default();
    Chart::new(
        "capacity",
        format!("Capacity needs in {y}, by members asking for support"),
        format!("capacity_needs_ranked (reference_year = {y}: area, members_requesting, rank) — run {id}"),
        alt,
        bars,
    )
}

/// The strongest partnerships: member pairs by cases handled together (both
/// directions of a pair added up), the ten largest.
fn partners(run: &RunData, id: &str, y: i64, words: &Words) -> Chart {
    let t = run.table("cooperation_links");
    let mut pairs: BTreeMap<(String, String), i64> = BTreeMap::new();
    for r in t.filter("reference_year", &Value::from(y)) {
        let (Some(a), Some(b), Some(n)) =
            (t.text(r, "reporting_member"), t.text(r, "partner_member"), t.int(r, "cases"))
        else {
            continue;
        };
        let key = if a <= b { (a.to_string(), b.to_string()) } else { (b.to_string(), a.to_string()) };
        *pairs.entry(key).or_default() += n;
    }
    let mut items: Vec<((String, String), i64)> = pairs.into_iter().collect();
    items.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let shown = items.len().min(10);
    let bars: Vec<Bar> = items[..shown]
        .iter()
        .map(|((a, b), n)| Bar {
            label: format!("{} – {}", words.member(a), words.member(b)),
            value: *n,
            text: format!("{} case{}", thousands(*n), if *n == 1 { "" } else { "s" }),
        })
        .collect();
    let alt = bars
        .first()
        .map(|b| {
            format!(
                "The {shown} member pairs that handled most cases together in {y} (of {} pairs); most: {}, {}.",
                items.len(),
                b.label,
                b.text
            )
        })
        .unwrap_or_default();
    Chart::new(
        "partners",
        format!("Members that handled most cases together in {y}"),
        format!("cooperation_links (reference_year = {y}: pairs of members, cases, both directions added) — run {id}"),
        alt,
        bars,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_label_sits_beside_its_own_bar() {
        let bars = vec![
            Bar { label: "sexual exploitation".into(), value: 40, text: "40".into() },
            Bar { label: "forced labour".into(), value: 10, text: "10".into() },
            Bar { label: "<b>".into(), value: 0, text: "0".into() },
        ];
        let c = Chart::new("t", "T".into(), "s".into(), "a".into(), bars);
        let labels: Vec<&str> = c
            .svg
            .split(r#"class="category""#)
            .skip(1)
            .map(|s| s.split('>').nth(1).unwrap().split('<').next().unwrap())
            .collect();
        assert_eq!(labels, ["sexual exploitation", "forced labour", "&lt;b&gt;"]);
        assert_eq!(c.categories_json, r#"["sexual exploitation","forced labour","<b>"]"#);
        assert!(c.svg.contains("<title id=\"t-title\">T</title>") && c.svg.contains("role=\"img\""));
        // the bar of the largest value spans the whole bar area, the others in proportion
        assert!(c.svg.contains(&format!(r#"width="{BAR_AREA}""#)) && c.svg.contains(r#"width="83""#));
    }
}
