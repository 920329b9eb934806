//! The drafts rendered from the golden lake: snapshots of both documents in
//! Markdown and HTML (with the run id and hashes redacted, since those change
//! from run to run), member text never live, byte-identical re-renders, and
//! the wording rules where data is missing.

use fedreport_render::{Meeting, Renderer, RunData};

use crate::{bali, block_on, repo};

fn meeting() -> Meeting {
    Meeting::load(&repo().join("meetings/som5-bali-2013.toml"), bali().contract.registry())
        .expect("the example meeting file is valid")
}

/// Render the Bali Process documents of a run.
fn render(run: &RunData, meeting: &Meeting) -> fedreport_render::Result<Vec<(String, Vec<u8>)>> {
    bali().renderer().unwrap().render(run, meeting)
}

/// A renderer with edited templates.
fn renderer_with(templates: Vec<(String, String)>) -> fedreport_render::Result<Renderer> {
    Renderer::new(templates, bali().documents.clone(), bali().contract.clone())
}

/// The golden run as the renderer reads it from a run folder.
pub fn golden_run(dir: &std::path::Path) -> RunData {
    let outcome = block_on(async {
        let lake = crate::pipeline::build_lake(&dir.join("lake"), crate::pipeline::golden_as_submitted()).await;
        crate::pipeline::run(&lake, 2).await
    });
    let out = dir.join("run");
    std::fs::create_dir_all(out.join("tables")).unwrap();
    for (name, batch) in &outcome.tables {
        std::fs::write(
            out.join("tables").join(format!("{name}.parquet")),
            fedreport_engine::output::parquet(batch, name).unwrap(),
        )
        .unwrap();
    }
    std::fs::write(out.join("manifest.json"), outcome.manifest.to_json().unwrap()).unwrap();
    RunData::from_folder(&out).unwrap()
}

/// The run id and the inputs' sha256 (whole, and the 16-character prefixes
/// the Markdown shows) change from run to run: replace exactly those.
fn redact(s: &str, run: &RunData) -> String {
    let view = run.view();
    let mut out = s.replace(&view.id, "[run id]").replace(&view.created_at, "[created at]");
    for input in &view.inputs {
        let sha = input.sha256.as_str();
        out = out.replace(sha, "[sha256]").replace(&sha[..16], "[sha256]");
    }
    out
}

#[test]
fn drafts_of_the_golden_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = golden_run(dir.path());
    let id = run.view().id;
    let files = render(&run, &meeting()).unwrap();
    assert_eq!(
        files.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
        [
            "cochairs-statement.md",
            "cochairs-statement.html",
            "ministerial-briefing.md",
            "ministerial-briefing.html",
            "statistical-annex.md",
            "statistical-annex.html"
        ]
    );
    for (name, bytes) in &files {
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("DRAFT") && text.contains(&id), "{name} says DRAFT and carries the run id");
        let text = redact(&text, &run);
        insta::assert_snapshot!(name.clone(), text);
    }
    // the statement states the golden figures, with the rule-chosen words
    let statement = String::from_utf8(files[0].1.clone()).unwrap();
    assert!(statement.contains("hosted the fifth Senior Officials Meeting in Bali on 1 April 2013"), "{statement}");
    assert!(
        statement.contains("2012 saw unprecedented irregular movements by sea in the region: 145 persons"),
        "{statement}"
    );
    assert!(statement.contains("9 persons were reported dead or missing at sea"), "{statement}");
    assert!(statement.contains("1 of the 3 reporting members had fully criminalised people smuggling"), "{statement}");
    // the members' own words, in the annex by area: one request per line in Markdown (8 in the golden cycle)
    let annex_md = String::from_utf8(files[4].1.clone()).unwrap();
    let words: Vec<&str> = annex_md
        .lines()
        .skip_while(|l| !l.starts_with("## 3. Capacity needs"))
        .take_while(|l| !l.starts_with("## 4."))
        .filter(|l| l.starts_with("- "))
        .collect();
    assert_eq!(words.len(), 8, "one request per line: {words:?}");
    assert!(
        words.contains(&"- **AUS**, equipment, priority 2, preferred provider UNODC: *no description*"),
        "{words:?}"
    );
    // HTML: self-contained, every figure with its source
    let html = String::from_utf8(files[3].1.clone()).unwrap();
    for forbidden in ["<script src", "<link ", "http://", "https://", "@import", "url("] {
        assert!(
            !html.replace("http://www.w3.org/2000/svg", "").contains(forbidden),
            "the HTML fetches nothing: found {forbidden}"
        );
    }
    assert!(html.contains("<svg"), "charts are inline SVG");
    assert!(
        html.contains("title=\"maritime_regional (reference_year = 2012, persons) — run"),
        "figures carry their source"
    );
    assert!(html.contains("@page { size: A4"), "A4 print stylesheet");
}

#[test]
fn member_text_is_never_live_markup() {
    let dir = tempfile::tempdir().unwrap();
    let run = golden_run(dir.path());
    let files = render(&run, &meeting()).unwrap();
    let md = String::from_utf8(files[4].1.clone()).unwrap();
    let html = String::from_utf8(files[5].1.clone()).unwrap();
    // the golden IDN need, in the annex: <script>alert('x')</script> **bold** [link](http://example.invalid)
    assert!(html.contains("&lt;script&gt;alert("), "escaped in HTML");
    assert!(!html.contains("<script>alert"), "never live in HTML");
    assert!(md.contains("&lt;script&gt;alert"), "{md}");
    assert!(!md.contains("<script>") && !md.contains("**bold**") && !md.contains("[link](http"), "inert in Markdown");
    assert!(md.contains("\\*\\*bold\\*\\*"));
}

/// Text from the meeting file is inert too, in every Markdown and HTML draft:
/// no live HTML, no emphasis, links or images, no heading or list started
/// by a line break the secretariat typed.
#[test]
fn meeting_text_is_never_live_markup() {
    let dir = tempfile::tempdir().unwrap();
    let run = golden_run(dir.path());
    let hostile = "<img src=x onerror=alert(1)> **bold** [link](javascript:alert(1)) ![i](http://example.invalid/i.png)\n# Fake heading\n- fake item | cell";
    let text = std::fs::read_to_string(repo().join("meetings/som5-bali-2013.toml")).unwrap();
    let text = text.replacen(
        "title = \"the Regional Support Office\"",
        &format!("title = {}", toml::Value::String(hostile.to_string())),
        1,
    );
    let text = text.replacen("venue = \"Bali\"", "venue = \"Bali <b>&amp;</b> *Lombok*\"", 1);
    let meeting = Meeting::parse("hostile.toml", &text, bali().contract.registry()).unwrap();
    for (name, bytes) in render(&run, &meeting).unwrap() {
        let out = String::from_utf8(bytes).unwrap();
        assert!(!out.contains("<img src=x") && !out.contains("<b>&amp;</b>"), "{name}: live HTML");
        if name.ends_with(".md") {
            for live in ["**bold**", "[link](", "![i](", "*Lombok*", "\n# Fake heading", "\n- fake item"] {
                assert!(!out.contains(live), "{name}: {live:?} is live Markdown");
            }
        } else {
            assert!(out.contains("&lt;img src=x") || !out.contains("img src=x"), "{name}: escaped");
        }
    }
    let statement = String::from_utf8(render(&run, &meeting).unwrap()[0].1.clone()).unwrap();
    assert!(statement.contains("\\*\\*bold\\*\\* \\[link\\](javascript:alert(1))"), "{statement}");
    assert!(statement.contains("Bali &lt;b&gt;&amp;amp;&lt;/b&gt; \\*Lombok\\*"), "{statement}");
}

#[test]
fn rendering_the_same_run_twice_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let run = golden_run(dir.path());
    let a = render(&run, &meeting()).unwrap();
    let b = render(&RunData::from_folder(&dir.path().join("run")).unwrap(), &meeting()).unwrap();
    assert_eq!(a, b);
}

#[test]
fn missing_data_gives_drafting_notes_not_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = golden_run(dir.path());
    // no member reported maritime movements or victims for 2012
    for t in ["maritime_regional", "maritime_by_member", "victims_regional"] {
        let table = run.tables.get_mut(t).unwrap();
        table.rows.retain(|r| r[0] != 2012);
    }
    let files = render(&run, &meeting()).unwrap();
    let statement = String::from_utf8(files[0].1.clone()).unwrap();
    assert!(
        statement.contains("Drafting note for the secretariat:** No member reported maritime movements for 2012"),
        "{statement}"
    );
    assert!(!statement.contains("dead or missing at sea"), "no sea sentence without data");
    assert!(statement.contains("No member reported identified trafficking victims for 2012"), "{statement}");
    // a year with no earlier year: no trend word at all
    let mut first = golden_run(dir.path().join("again").as_path());
    let table = first.tables.get_mut("maritime_regional").unwrap();
    table.rows.retain(|r| r[0] == 2012);
    let i = table.columns.iter().position(|c| c == "persons_change_pct").unwrap();
    let u = table.columns.iter().position(|c| c == "unprecedented").unwrap();
    table.rows[0][i] = serde_json::Value::Null;
    table.rows[0][u] = serde_json::Value::Bool(false);
    let files = render(&first, &meeting()).unwrap();
    let statement = String::from_utf8(files[0].1.clone()).unwrap();
    assert!(
        !statement.contains("unprecedented")
            && !statement.contains("increased by")
            && !statement.contains("decreased by"),
        "{statement}"
    );
    assert!(statement.contains("There are no comparable figures for 2011"), "{statement}");
}

#[test]
fn a_template_naming_a_missing_value_fails_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let run = golden_run(dir.path());
    let mut templates = bali().templates.clone();
    for t in templates.iter_mut().filter(|t| t.0 == "statement.md.j2") {
        t.1.push_str("{{ facts.no_such_fact }}");
    }
    let e = renderer_with(templates).unwrap().render(&run, &meeting()).unwrap_err().to_string();
    assert!(e.contains("statement.md.j2") && e.contains("undefined"), "{e}");
}

#[test]
fn meeting_files_are_checked_with_the_field_named() {
    let text = std::fs::read_to_string(repo().join("meetings/som5-bali-2013.toml")).unwrap();
    let bad = text.replace("co_chairs = [\"IDN\", \"AUS\"]", "co_chairs = [\"IDN\", \"XXX\"]");
    let e = Meeting::parse("m.toml", &bad, bali().contract.registry()).unwrap_err().to_string();
    assert!(e.contains("co_chairs") && e.contains("XXX"), "{e}");
    let bad = text.replace("kind = \"report\"", "kind = \"speech\"");
    let e = Meeting::parse("m.toml", &bad, bali().contract.registry()).unwrap_err().to_string();
    assert!(e.contains("kind must be recommendation or report"), "{e}");
    let bad = text.replace("date = 2013-04-01", "date = \"1/4/2013\"");
    assert!(Meeting::parse("m.toml", &bad, bali().contract.registry()).is_err());
}

/// Headless Chromium loads the HTML with the network closed to it, logs no
/// console error and no refused request, and prints it to PDF. Skipped (with a
/// message) only where Chromium is not installed and the test command did not
/// ask for it (`FEDREPORT_REQUIRE_CHROMIUM=1`, which `scripts/test` sets once
/// it has installed Chromium).
#[test]
fn html_loads_offline_without_errors_and_prints_to_pdf() {
    let Some(chromium) = crate::support::chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let run = golden_run(dir.path());
    for (name, bytes) in render(&run, &meeting()).unwrap() {
        if !name.ends_with(".html") {
            continue;
        }
        let html = dir.path().join(&name);
        std::fs::write(&html, bytes).unwrap();
        let pdf = html.with_extension("pdf");
        let log = fedreport_render::pdf::print_to_pdf(&chromium, &html, &pdf).unwrap();
        let pdf_bytes = std::fs::read(&pdf).unwrap();
        assert!(pdf_bytes.starts_with(b"%PDF") && pdf_bytes.len() > 5_000, "{name}: a real PDF");
        assert_eq!(fedreport_render::pdf::console_messages(&log), Vec::<String>::new(), "{name}: console messages");
        assert_eq!(fedreport_render::pdf::page_requests(&log), Vec::<String>::new(), "{name}: network requests");
    }
    // the check itself sees a page that logs an error and fetches an image
    let bad = dir.path().join("bad.html");
    std::fs::write(
        &bad,
        "<html><body><script>console.error('boom')</script><img src='http://example.invalid/a.png'></body></html>",
    )
    .unwrap();
    let log = fedreport_render::pdf::print_to_pdf(&chromium, &bad, &bad.with_extension("pdf")).unwrap();
    assert_eq!(fedreport_render::pdf::console_messages(&log).len(), 1, "{log}");
    assert_eq!(fedreport_render::pdf::page_requests(&log), vec!["http://example.invalid/a.png".to_string()], "{log}");
}

/// One draft rendered alone (the web front's draft pages) is the same bytes
/// as in the full set; a name no document writes is none.
#[test]
fn one_draft_alone_is_the_same_as_in_the_full_set() {
    let dir = tempfile::tempdir().unwrap();
    let run = golden_run(dir.path());
    let renderer = bali().renderer().unwrap();
    for (file, bytes) in render(&run, &meeting()).unwrap() {
        assert_eq!(renderer.render_file(&run, &meeting(), &file).unwrap(), Some(bytes), "{file}");
    }
    assert_eq!(renderer.render_file(&run, &meeting(), "manifest.json").unwrap(), None);
}
