//! The drafts as their readers get them, in real Chromium: for the demo
//! cycle and for the small golden cycle, no document is wider than a laptop
//! (1280 px) or a phone (390 px) screen; the ministerial briefing prints on
//! two to four A4 pages and the statistical annex prints; "DRAFT" and the run
//! are on every printed page; and every chart's labels are its data's
//! categories, in order, none repeated.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::browser::{Browser, first_page_png, pdf_pages, screenshot_dir};
use crate::{bali, repo};

const DOCUMENTS: [&str; 3] = ["cochairs-statement", "ministerial-briefing", "statistical-annex"];

/// The demo's drafts (`fedreport demo`, the default synthetic cycle).
fn demo_drafts(dir: &Path) -> PathBuf {
    let out = dir.join("demo");
    let o = Command::new(env!("CARGO_BIN_EXE_fedreport"))
        .args(["demo", "--out", out.to_str().unwrap()])
        .env_remove("FEDREPORT_FORUM")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out.join("drafts")
}

/// The golden cycle's drafts.
fn golden_drafts(dir: &Path) -> PathBuf {
    let run = crate::render::golden_run(&dir.join("golden"));
    let out = dir.join("golden-drafts");
    bali().renderer().unwrap().write(&run, bali().latest_meeting().unwrap(), &out).unwrap();
    out
}

/// A column of a hand-computed golden table, for the rows of `year`.
fn golden_column(table: &str, column: &str, year: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("tests/golden/expected").join(format!("{table}.csv"))).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let headers = rows.headers().unwrap().clone();
    let (y, c) = (
        headers.iter().position(|h| h == "reference_year").unwrap(),
        headers.iter().position(|h| h == column).unwrap(),
    );
    rows.records().map(|r| r.unwrap()).filter(|r| year == "*" || &r[y] == year).map(|r| r[c].to_string()).collect()
}

fn pdf_text(pdf: &Path) -> Option<String> {
    match Command::new("pdftotext").args(["-layout"]).arg(pdf).arg("-").output() {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).to_string()),
        _ => {
            crate::support::missing(
                "FEDREPORT_REQUIRE_POPPLER",
                "pdftotext is not installed (apt-get install poppler-utils)",
            );
            None
        }
    }
}

#[test]
fn drafts_fit_every_screen_print_short_and_chart_their_data() {
    let Some(browser) = Browser::start() else { return };
    let chromium = crate::support::chromium().expect("started above");
    let dir = tempfile::tempdir().unwrap();
    let shots = screenshot_dir();
    for (cycle, drafts) in [("golden", golden_drafts(dir.path())), ("demo", demo_drafts(dir.path()))] {
        for doc in DOCUMENTS {
            let html = drafts.join(format!("{doc}.html"));
            for (width, height) in [(1280, 900), (390, 844)] {
                browser.size(width, height);
                browser.open(&html);
                assert_eq!(browser.overflows(), None, "{cycle} {doc} runs off a {width} px screen");
                if width == 390
                    && cycle == "demo"
                    && doc == "ministerial-briefing"
                    && let Some(d) = &shots
                {
                    std::fs::write(d.join(format!("{cycle}-{doc}-phone.png")), browser.screenshot()).unwrap();
                }
            }
            let charts = browser.js("return [...document.querySelectorAll('figure[data-chart]')].map(f => ({
                    id: f.dataset.chart,
                    categories: JSON.parse(f.dataset.categories),
                    labels: [...f.querySelectorAll('svg text.category')].map(t => t.textContent),
                    alt: (f.querySelector('svg desc') || {}).textContent || '',
                }))");
            for c in charts.as_array().unwrap() {
                let labels: Vec<&str> = c["labels"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
                let categories: Vec<&str> =
                    c["categories"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
                assert_eq!(labels, categories, "{cycle} {doc} chart {}: labels are the data's categories", c["id"]);
                assert_eq!(
                    labels.iter().collect::<BTreeSet<_>>().len(),
                    labels.len(),
                    "{cycle} {doc} {}: a label repeats",
                    c["id"]
                );
                assert!(
                    labels.is_empty() || !c["alt"].as_str().unwrap().is_empty(),
                    "{cycle} {doc} {}: alt text",
                    c["id"]
                );
            }
            if cycle == "golden" && doc == "ministerial-briefing" {
                // against the hand-computed tables, not the renderer's own lists
                let chart = |id: &str| -> BTreeSet<String> {
                    charts.as_array().unwrap().iter().find(|c| c["id"] == id).unwrap()["labels"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap().to_string())
                        .collect()
                };
                let words = fedreport_render::words::Words::new(&bali().contract);
                let forms: BTreeSet<String> = golden_column("victims_regional", "exploitation", "2012")
                    .iter()
                    .map(|f| words.value("exploitation", f))
                    .collect();
                assert_eq!(chart("victims"), forms);
                let years: BTreeSet<String> =
                    golden_column("maritime_regional", "reference_year", "*").into_iter().collect();
                assert_eq!(chart("sea"), years);
            }
            // printed
            let pdf = drafts.join(format!("{doc}.pdf"));
            fedreport_render::pdf::print_to_pdf(&chromium, &html, &pdf).unwrap();
            let bytes = std::fs::read(&pdf).unwrap();
            assert!(bytes.starts_with(b"%PDF"), "{cycle} {doc}: a PDF");
            let pages = pdf_pages(&bytes);
            if doc == "ministerial-briefing" {
                let expected = if cycle == "demo" { 2..=4 } else { 1..=4 };
                assert!(expected.contains(&pages), "{cycle} briefing prints on {pages} pages");
            }
            assert!(pages >= 1, "{cycle} {doc} prints");
            if let Some(text) = pdf_text(&pdf) {
                let run = text
                    .split("run r-")
                    .nth(1)
                    .and_then(|t| t.split_whitespace().next())
                    .unwrap_or_default()
                    .to_string();
                assert_eq!(
                    text.matches("DRAFT — not for circulation").count(),
                    pages,
                    "{cycle} {doc}: DRAFT on every page"
                );
                assert_eq!(
                    text.matches(&format!("page {pages} of {pages}")).count(),
                    1,
                    "{cycle} {doc}: numbered pages"
                );
                assert!(
                    !run.is_empty() && text.matches(run.as_str()).count() >= pages,
                    "{cycle} {doc}: the run on every page"
                );
            }
            if cycle == "demo"
                && let Some(d) = &shots
            {
                first_page_png(&pdf, &d.join(format!("{doc}.png")));
            }
        }
    }
}
