//! SVG charts drawn with plotters: persons moving by sea and lives lost over
//! the years, victims by form of exploitation, capacity needs ranked, and the
//! cooperation network between members. Each chart carries its source (table,
//! key, run) for the caption and the hover title.

use std::collections::BTreeMap;

use plotters::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::error::{RenderError, Result};
use crate::facts::Facts;
use crate::run::RunData;

/// One chart.
#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    pub title: String,
    /// `table (key) — run id`
    pub source: String,
    /// The SVG element.
    pub svg: String,
    /// False when there was no data to draw (the template says so instead).
    pub drawn: bool,
}

const W: u32 = 640;
const H: u32 = 300;
const BLUE: RGBColor = RGBColor(31, 78, 121);
const RED: RGBColor = RGBColor(176, 58, 46);

fn err<E: std::fmt::Display>(e: E) -> RenderError {
    RenderError::Chart(e.to_string())
}

/// Draw every chart of a run.
pub fn all(run: &RunData, facts: &Facts) -> Result<BTreeMap<String, Chart>> {
    let id = run.view().id;
    let y = facts.year;
    let mut out = BTreeMap::new();
    out.insert("sea".to_string(), sea(run, &id)?);
    out.insert("victims".to_string(), victims(run, &id, y)?);
    out.insert("capacity".to_string(), capacity(run, &id, y)?);
    out.insert("network".to_string(), network(run, &id, y)?);
    Ok(out)
}

fn empty(title: String, source: String) -> Chart {
    Chart { title, source, svg: String::new(), drawn: false }
}

fn sea(run: &RunData, id: &str) -> Result<Chart> {
    let t = run.table("maritime_regional");
    let points: Vec<(i64, i64, i64)> = t
        .rows
        .iter()
        .filter_map(|r| Some((t.int(r, "reference_year")?, t.int(r, "persons")?, t.int(r, "dead_or_missing")?)))
        .collect();
    let title = "Persons moving irregularly by sea, and dead or missing, by year".to_string();
    let source = format!("maritime_regional (reference_year: persons, dead_or_missing) — run {id}");
    if points.is_empty() {
        return Ok(empty(title, source));
    }
    let (y0, y1) = (points[0].0, points[points.len() - 1].0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (top, bottom) = root.split_vertically(H * 3 / 5);
        for (area, label, pick, color) in [(&top, "persons", 1usize, BLUE), (&bottom, "dead or missing", 2usize, RED)] {
            let value = |p: &(i64, i64, i64)| if pick == 1 { p.1 } else { p.2 };
            let max = points.iter().map(value).max().unwrap_or(0).max(1);
            let mut chart = ChartBuilder::on(area)
                .margin(8)
                .x_label_area_size(22)
                .y_label_area_size(64)
                .build_cartesian_2d((y0 - 1)..(y1 + 1), 0..(max + max / 8 + 1))
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(points.len().min(12))
                .x_label_formatter(&|y| y.to_string())
                .y_desc(label)
                .y_labels(4)
                .y_label_formatter(&|v| crate::filters::thousands(*v))
                .draw()
                .map_err(err)?;
            chart
                .draw_series(LineSeries::new(points.iter().map(|p| (p.0, value(p))), color.stroke_width(2)))
                .map_err(err)?;
            chart.draw_series(points.iter().map(|p| Circle::new((p.0, value(p)), 3, color.filled()))).map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(Chart { title, source, svg, drawn: true })
}

fn bars(items: &[(String, i64)], color: RGBColor, x_desc: &str) -> Result<String> {
    let mut svg = String::new();
    {
        let h = (40 + 26 * items.len() as u32).max(120);
        let root = SVGBackend::with_string(&mut svg, (W, h)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let max = items.iter().map(|i| i.1).max().unwrap_or(1).max(1);
        let n = items.len() as i32;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(26)
            .y_label_area_size(230)
            .build_cartesian_2d(0..(max + max / 10 + 1), 0..n)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(items.len().max(1))
            .y_label_formatter(&|i| items.get((n - 1 - *i).max(0) as usize).map(|x| x.0.clone()).unwrap_or_default())
            .x_desc(x_desc)
            .x_labels(5)
            .x_label_formatter(&|v| crate::filters::thousands(*v))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(items.iter().enumerate().map(|(k, (_, v))| {
                let row = n - 1 - k as i32;
                let mut bar = Rectangle::new([(0, row), (*v, row + 1)], color.filled());
                bar.set_margin(4, 4, 0, 0);
                bar
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn victims(run: &RunData, id: &str, y: i64) -> Result<Chart> {
    let t = run.table("victims_regional");
    let mut by: BTreeMap<String, i64> = BTreeMap::new();
    for r in t.filter("reference_year", &Value::from(y)) {
        *by.entry(t.text(r, "exploitation").unwrap_or("unknown").replace('_', " ")).or_default() +=
            t.int(r, "victims").unwrap_or(0);
    }
    let mut items: Vec<(String, i64)> = by.into_iter().collect();
    items.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let title = format!("Trafficking victims identified in {y}, by form of exploitation");
    let source = format!("victims_regional (reference_year = {y}, summed over sex and age group) — run {id}");
    if items.is_empty() {
        return Ok(empty(title, source));
    }
    Ok(Chart { svg: bars(&items, RED, "victims")?, title, source, drawn: true })
}

fn capacity(run: &RunData, id: &str, y: i64) -> Result<Chart> {
    let t = run.table("capacity_needs_ranked");
    let mut rows: Vec<_> = t.filter("reference_year", &Value::from(y)).collect();
    rows.sort_by_key(|r| t.int(r, "rank").unwrap_or(i64::MAX));
    let items: Vec<(String, i64)> = rows
        .iter()
        .map(|r| (t.text(r, "area").unwrap_or_default().replace('_', " "), t.int(r, "members_requesting").unwrap_or(0)))
        .collect();
    let title = format!("Capacity needs in {y}, ranked by members requesting support");
    let source = format!("capacity_needs_ranked (reference_year = {y}, area: members_requesting, rank) — run {id}");
    if items.is_empty() {
        return Ok(empty(title, source));
    }
    Ok(Chart { svg: bars(&items, BLUE, "members requesting")?, title, source, drawn: true })
}

fn network(run: &RunData, id: &str, y: i64) -> Result<Chart> {
    let t = run.table("cooperation_links");
    let mut links: BTreeMap<(String, String), i64> = BTreeMap::new();
    for r in t.filter("reference_year", &Value::from(y)) {
        let (a, b) =
            (t.text(r, "reporting_member").unwrap_or_default(), t.text(r, "partner_member").unwrap_or_default());
        let key = if a <= b { (a.to_string(), b.to_string()) } else { (b.to_string(), a.to_string()) };
        *links.entry(key).or_default() += t.int(r, "cases").unwrap_or(0);
    }
    let title = format!("Law enforcement cooperation between members in {y} (cases handled together)");
    let source =
        format!("cooperation_links (reference_year = {y}: reporting_member, partner_member, cases) — run {id}");
    if links.is_empty() {
        return Ok(empty(title, source));
    }
    let mut nodes: Vec<String> = links.keys().flat_map(|(a, b)| [a.clone(), b.clone()]).collect();
    nodes.sort();
    nodes.dedup();
    let size = 420u32;
    let (cx, cy, radius) = (size as f64 / 2.0, size as f64 / 2.0, size as f64 / 2.0 - 40.0);
    let pos = |i: usize| {
        let a = std::f64::consts::TAU * i as f64 / nodes.len() as f64 - std::f64::consts::FRAC_PI_2;
        ((cx + radius * a.cos()) as i32, (cy + radius * a.sin()) as i32)
    };
    let index = |m: &str| nodes.iter().position(|n| n == m).unwrap_or(0);
    let max = links.values().copied().max().unwrap_or(1).max(1) as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (size, size)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        for ((a, b), cases) in &links {
            let width = 1 + (5.0 * *cases as f64 / max).round() as u32;
            root.draw(&PathElement::new(vec![pos(index(a)), pos(index(b))], BLUE.mix(0.55).stroke_width(width)))
                .map_err(err)?;
        }
        for (i, n) in nodes.iter().enumerate() {
            let (x, y) = pos(i);
            root.draw(&Circle::new((x, y), 5, RED.filled())).map_err(err)?;
            let (dx, dy) = if x >= cx as i32 { (8, -6) } else { (-34, -6) };
            root.draw(&Text::new(n.clone(), (x + dx, y + dy), ("sans-serif", 12).into_font())).map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(Chart { title, source, svg, drawn: true })
}
