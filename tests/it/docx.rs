//! Word drafts as co-chairs' offices open them: every draft of the golden
//! run written by `fedreport render --docx`, opened by LibreOffice and
//! converted to PDF without error, with every figure the Markdown draft
//! states in the PDF's text (poppler's pdftotext); python-docx (from PyPI)
//! reads the heading styles, numbered paragraphs, tables, header and page
//! numbers back; a draft after a revision carries the revised figure as a
//! tracked deletion and insertion by fedreport. The briefing's charts are
//! PNG pictures with alt text, sharp on paper, and LibreOffice prints them.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::missing;

/// What python-docx finds in a document, or `None` (failing when required).
fn read_back(file: &Path) -> Option<Value> {
    crate::support::python_json("read_docx.py", &[file], "FEDREPORT_REQUIRE_PYTHON_DOCX", "docx", "python-docx")
}

/// The document as LibreOffice prints it, as text; `None` when LibreOffice or poppler is missing.
fn pdf_text(docx: &Path, work: &Path) -> Option<String> {
    let profile = work.join("lo-profile");
    let o = match Command::new("soffice")
        .arg(format!("-env:UserInstallation=file://{}", profile.display()))
        .args(["--headless", "--convert-to", "pdf", "--outdir"])
        .arg(work)
        .arg(docx)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            missing(
                "FEDREPORT_REQUIRE_LIBREOFFICE",
                &format!("soffice cannot run ({e}); apt-get install libreoffice-writer-nogui"),
            );
            return None;
        }
    };
    let pdf = work.join(docx.file_name().unwrap()).with_extension("pdf");
    assert!(
        o.status.success() && pdf.exists(),
        "LibreOffice could not convert {}: {}{}",
        docx.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let o = match Command::new("pdftotext").args(["-layout"]).arg(&pdf).arg("-").output() {
        Ok(o) => o,
        Err(e) => {
            missing("FEDREPORT_REQUIRE_POPPLER", &format!("pdftotext cannot run ({e})"));
            return None;
        }
    };
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Some(String::from_utf8_lossy(&o.stdout).to_string())
}

/// The text of an ordered list item (`1. …`, `12. …`), or `None`.
fn list_item(line: &str) -> Option<&str> {
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    (digits > 0).then(|| line[digits..].strip_prefix(". ")).flatten()
}

/// The figures a Markdown draft states: every number in its text, list
/// markers aside, and not the digits inside an id or a hash (`r-2026…Z`,
/// `0436…f5`), which are not figures and which a printer may wrap anywhere.
fn figures(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in markdown.lines() {
        let chars: Vec<char> = list_item(line).unwrap_or(line).chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if !chars[i].is_ascii_digit() || (i > 0 && chars[i - 1].is_alphanumeric()) {
                i += 1;
                continue;
            }
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (matches!(chars[i], ',' | '.') && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            if chars.get(i).is_some_and(|c| c.is_alphabetic()) {
                while i < chars.len() && chars[i].is_alphanumeric() {
                    i += 1;
                }
                continue;
            }
            out.push(chars[start..i].iter().collect::<String>());
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn every_word_draft_opens_in_libreoffice_with_every_figure_and_reads_back_in_python_docx() {
    let dir = tempfile::tempdir().unwrap();
    let run = crate::render::golden_run(dir.path());
    let out = dir.path().join("drafts");
    let o = Command::new(env!("CARGO_BIN_EXE_fedreport"))
        .args(["render", "--meeting", "som5-bali-2013", "--docx", "--run"])
        .arg(dir.path().join("run"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mds: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    assert!(mds.len() >= 3, "{mds:?}");
    for md in mds {
        let docx = md.with_extension("docx");
        assert!(docx.exists(), "{} has no Word draft", md.display());
        let markdown = std::fs::read_to_string(&md).unwrap();
        let what = md.file_name().unwrap().to_string_lossy().to_string();

        let Some(text) = pdf_text(&docx, dir.path()) else { return };
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let wanted = figures(&markdown);
        assert!(wanted.len() > 5, "{what}: {wanted:?}");
        for f in &wanted {
            assert!(flat.contains(f.as_str()), "{what}: the figure {f} is not in the PDF LibreOffice printed:\n{text}");
        }
        assert!(flat.contains(&format!("DRAFT — run {}", run.manifest.run_id)), "{what}: the header on the page");

        let Some(doc) = read_back(&docx) else { return };
        // headings in Word's styles, in the Markdown's order
        let headings: Vec<(String, String)> = markdown
            .lines()
            .filter_map(|l| {
                let level = l.chars().take_while(|c| *c == '#').count();
                (level > 0 && l[level..].starts_with(' ')).then(|| {
                    let style = match level {
                        1 => "Title",
                        2 => "Heading 1",
                        3 => "Heading 2",
                        _ => "Heading 3",
                    };
                    (style.to_string(), l[level + 1..].trim().replace("**", "").replace('*', ""))
                })
            })
            .collect();
        let found: Vec<(String, String)> = doc["paragraphs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["style"] != "Body Text" && p["style"] != "Table Text")
            .map(|p| (p["style"].as_str().unwrap().to_string(), p["text"].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(found, headings, "{what}: headings");
        // numbered paragraphs: Word numbers them, as many as the draft has
        let numbered = doc["paragraphs"].as_array().unwrap().iter().filter(|p| p["numbered"] == true).count();
        assert_eq!(
            numbered,
            markdown.lines().filter(|l| list_item(l).is_some()).count(),
            "{what}: numbered paragraphs"
        );
        // tables: as many as the draft's, the first one's header row read back
        let md_tables = markdown.lines().filter(|l| l.starts_with("|---") || l.starts_with("|:--")).count();
        assert_eq!(doc["tables"].as_array().unwrap().len(), md_tables, "{what}: tables");
        if let Some(first) = markdown.lines().find(|l| l.starts_with('|')) {
            let header: Vec<String> = first.trim_matches('|').split('|').map(|c| c.trim().to_string()).collect();
            assert_eq!(doc["tables"][0][0], serde_json::json!(header), "{what}: the first table's header");
        }
        assert_eq!(
            doc["header"][0].as_str().unwrap(),
            format!("DRAFT — run {} — for review, not for circulation", run.manifest.run_id)
        );
        assert!(doc["footer_fields"].to_string().contains("PAGE"), "{what}: page numbers");
        assert_eq!(doc["changes"], serde_json::json!([]), "{what}: a first draft has no tracked changes");

        // each chart the draft places is a PNG picture with the chart's title and alt text,
        // no wider than the text, and LibreOffice prints it
        let lines: Vec<&str> = markdown.lines().collect();
        let titles: Vec<String> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.starts_with("<!-- chart:"))
            .map(|(i, _)| lines[..i].iter().rev().find(|l| !l.is_empty()).unwrap().trim_matches('*').to_string())
            .collect();
        if what.starts_with("ministerial-briefing") {
            assert!(titles.len() >= 3, "{what}: the briefing's charts {titles:?}");
        }
        let pictures = doc["pictures"].as_array().unwrap();
        let names: Vec<&str> = pictures.iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, titles, "{what}: one picture per chart, in the draft's order");
        for (i, p) in pictures.iter().enumerate() {
            assert_eq!(p["id"], serde_json::json!((i + 1).to_string()), "{what}: picture ids");
            assert!(p["descr"].as_str().unwrap().len() > 20, "{what}: alt text {p}");
            let (cx, cy) = (p["cx"].as_u64().unwrap(), p["cy"].as_u64().unwrap());
            assert!(cx <= 560 * 9525 && cy > 0, "{what}: within the margins {p}");
            let (w, h) = (p["png"][0].as_u64().unwrap(), p["png"][1].as_u64().unwrap());
            // at least 250 dpi where it is printed
            assert!(w * 914_400 / cx >= 250 && h * 914_400 / cy >= 250, "{what}: sharp on paper {p}");
        }
        let pdf = dir.path().join(docx.file_name().unwrap()).with_extension("pdf");
        assert_eq!(pdf_images(&pdf), titles.len(), "{what}: the pictures LibreOffice printed");
    }
}

/// How many images poppler's `pdfimages -list` finds in a PDF.
fn pdf_images(pdf: &Path) -> usize {
    let o = Command::new("pdfimages").arg("-list").arg(pdf).output().expect("pdfimages (poppler-utils) runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // two header lines, then one line per image (an alpha channel is its own `smask` line)
    String::from_utf8_lossy(&o.stdout).lines().skip(2).filter(|l| l.split_whitespace().nth(2) == Some("image")).count()
}

#[test]
fn a_revised_figure_is_a_tracked_deletion_and_insertion_by_fedreport() {
    let dir = tempfile::tempdir().unwrap();
    let run = crate::render::golden_run(dir.path());
    let meeting = crate::bali().meeting("som5-bali-2013").unwrap();
    let renderer = crate::bali().renderer().unwrap();
    let new =
        String::from_utf8(renderer.render_file(&run, &meeting, "cochairs-statement.md").unwrap().unwrap()).unwrap();
    // the earlier draft said 140 where this one says 145
    assert!(new.contains("145 persons in 4 movements"), "{new}");
    let old = new.replace("145 persons in 4 movements", "140 persons in 4 movements");
    let options = fedreport_office::docx::DocxOptions {
        header: "DRAFT — run r-2".into(),
        date: "2013-03-05T10:15:00Z".into(),
        previous: Some(&old),
        pictures: &[],
    };
    let bytes = fedreport_office::docx::from_markdown(&new, &options).unwrap();
    assert_eq!(bytes, fedreport_office::docx::from_markdown(&new, &options).unwrap(), "same draft, same bytes");
    let file = dir.path().join("statement.docx");
    std::fs::write(&file, &bytes).unwrap();
    let Some(doc) = read_back(&file) else { return };
    assert_eq!(
        doc["changes"],
        serde_json::json!([
            {"kind": "ins", "author": "fedreport", "text": "145"},
            {"kind": "del", "author": "fedreport", "text": "140"},
        ]),
        "exactly the revised figure, attributed to fedreport"
    );
    // LibreOffice opens it and shows both
    let Some(text) = pdf_text(&file, dir.path()) else { return };
    assert!(text.contains("145") && text.contains("140"), "{text}");
    // without an earlier draft, nothing is tracked
    let plain =
        fedreport_office::docx::from_markdown(&new, &fedreport_office::docx::DocxOptions { previous: None, ..options })
            .unwrap();
    std::fs::write(&file, &plain).unwrap();
    assert_eq!(read_back(&file).unwrap()["changes"], serde_json::json!([]));
}
