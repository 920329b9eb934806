//! The `fedreport` binary as people use it: verbs, output and exit codes
//! (0 ok, 1 invalid or rejected, 2 usage or environment error).

use std::path::Path;
use std::process::{Command, Output};

use crate::repo;

fn fedreport(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fedreport")).args(args).output().expect("run fedreport")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn fixture(rel: &str) -> String {
    repo().join("tests/returns").join(rel).to_string_lossy().to_string()
}

#[test]
fn every_verb_has_help() {
    for verb in [
        "schema",
        "template",
        "validate",
        "convert",
        "submit",
        "intake",
        "receipts",
        "status",
        "run",
        "render",
        "access-policy",
        "demo",
        "export",
        "log",
        "review",
        "cycle",
        "draft",
        "diff",
    ] {
        let o = fedreport(&[verb, "--help"]);
        assert!(o.status.success(), "{verb} --help: {}", text(&o));
        assert!(text(&o).contains("Usage: fedreport"), "{verb}");
    }
    assert_eq!(fedreport(&["no-such-verb"]).status.code(), Some(2));
}

#[test]
fn validate_exit_codes_and_json_report() {
    let o = fedreport(&["validate", &fixture("valid/maritime_basic.csv")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("OK:"), "{}", text(&o));
    assert!(text(&o).contains("inferred"), "says how the dataset was found: {}", text(&o));

    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let o = fedreport(&[
        "validate",
        &fixture("invalid/E_CODELIST__landed_ashore.csv"),
        "--member",
        "AUS",
        "--json",
        &json.to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("error[E_CODELIST]") && text(&o).contains("row 2, column outcome"), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["findings"][0]["code"], "E_CODELIST");
    assert_eq!(report["findings"][0]["row"], 2);

    let o = fedreport(&["validate", "/no/such/file.parquet"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no such file"), "{}", text(&o));
    let o = fedreport(&["validate", &fixture("valid/maritime_basic.csv"), "--dataset", "maritime"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("did you mean 'maritime_movements'"), "{}", text(&o));
}

#[test]
fn templates_are_typed_and_validate() {
    let dir = tempfile::tempdir().unwrap();
    for (dataset, ok) in [("maritime_movements", true), ("legal_framework", false)] {
        for format in ["parquet", "csv"] {
            let out = dir.path().join(format!("{dataset}.{format}"));
            let o = fedreport(&["template", dataset, "--format", format, "-o", &out.to_string_lossy()]);
            assert!(o.status.success(), "{}", text(&o));
            let o = fedreport(&["validate", &out.to_string_lossy(), "--member", "AUS", "--year", "2012"]);
            assert_eq!(o.status.success(), ok, "{dataset}.{format}: {}", text(&o));
        }
    }
    let o = fedreport(&["schema", "capacity_needs"]);
    assert!(text(&o).contains("priority") && text(&o).contains("1..=3"), "{}", text(&o));
    let o = fedreport(&["schema", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 5);
}

#[test]
fn convert_csv_to_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.parquet");
    let o = fedreport(&["convert", &fixture("valid/maritime_semicolons_bom.csv"), "-o", &out.to_string_lossy()]);
    assert!(o.status.success(), "{}", text(&o));
    let o = fedreport(&["validate", &out.to_string_lossy()]);
    assert!(o.status.success(), "{}", text(&o));
    let bad = dir.path().join("bad.parquet");
    let o = fedreport(&["convert", &fixture("invalid/E_TYPE__ambiguous_date.csv"), "-o", &bad.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!Path::new(&bad).exists(), "no output for an invalid file");
}

#[test]
fn submit_intake_receipts_status() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake = lake.to_string_lossy();
    let o = fedreport(&["submit", &fixture("valid/maritime_basic.csv"), "--lake", &lake, "--member", "AUS"]);
    assert!(o.status.success(), "{}", text(&o));
    let id = text(&o).split_whitespace().find(|w| w.starts_with("s-")).unwrap().to_string();
    let o = fedreport(&["submit", &fixture("valid/maritime_basic.csv"), "--lake", &lake, "--member", "NZL"]);
    assert_eq!(o.status.code(), Some(1), "AUS's file cannot be submitted by NZL: {}", text(&o));
    let o = fedreport(&["submit", &fixture("valid/maritime_basic.csv"), "--lake", &lake, "--member", "XYZ"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = fedreport(&["intake", "--lake", &lake]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 new versions"), "{}", text(&o));
    let o = fedreport(&["receipts", "--lake", &lake, "--member", "AUS", &id]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("version 1"), "{}", text(&o));
    let o = fedreport(&["receipts", "--lake", &lake, "--member", "AUS", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["status"], "accepted");
    assert_eq!(v[0]["submission_id"], id.as_str());
    let o = fedreport(&["status", "--lake", &lake, "--year", "2012"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("AUS") && text(&o).contains("v1"), "{}", text(&o));
    assert!(text(&o).contains("1 of 225 returns accepted"), "{}", text(&o));
}

/// A lake with the golden returns, built through the library.
fn golden_lake(dir: &Path) -> String {
    let lake = dir.join("lake");
    crate::block_on(crate::pipeline::build_lake(&lake, crate::pipeline::golden_as_submitted()));
    lake.to_string_lossy().to_string()
}

#[test]
fn run_writes_tables_and_replay_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let lake = golden_lake(dir.path());
    let out = dir.path().join("out");
    let o = fedreport(&["run", "--lake", &lake, "--year", "2012", "--out", &out.to_string_lossy()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("2012: 145 persons moved irregularly by sea"), "{}", text(&o));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let run_id = manifest["run_id"].as_str().unwrap().to_string();
    assert_eq!(manifest["inputs"].as_array().unwrap().len(), 23);
    assert!(out.join("tables/maritime_regional.csv").exists() && out.join("tables/completeness.parquet").exists());
    assert!(!out.join("tables/victims_counts.csv").exists(), "internal tables are never written");
    // the drafts, from the run folder and from the lake
    let meeting = repo().join("meetings/som5-bali-2013.toml").to_string_lossy().to_string();
    let drafts = dir.path().join("drafts");
    let o = fedreport(&[
        "render",
        "--run",
        &out.to_string_lossy(),
        "--meeting",
        &meeting,
        "--out",
        &drafts.to_string_lossy(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let from_folder = std::fs::read(drafts.join("cochairs-statement.md")).unwrap();
    let o = fedreport(&[
        "render",
        "--lake",
        &lake,
        "--run",
        &run_id,
        "--meeting",
        &meeting,
        "--out",
        &drafts.to_string_lossy(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(drafts.join("cochairs-statement.md")).unwrap(), from_folder, "same run, same bytes");
    let o = fedreport(&[
        "run",
        "--lake",
        &lake,
        "--out",
        &dir.path().join("out2").to_string_lossy(),
        "--meeting",
        &meeting,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(dir.path().join("out2/drafts/ministerial-briefing.html").exists(), "{}", text(&o));
    let o = fedreport(&["run", "--lake", &lake, "--replay", &run_id]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("byte-identical"), "{}", text(&o));
    let o = fedreport(&["run", "--lake", &lake, "--replay", "r-no-such-run"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = fedreport(&["run", "--lake", &lake, "--set", "no_such_parameter=1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no such parameter"), "{}", text(&o));
}

#[test]
fn a_broken_sql_file_is_reported_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let lake = golden_lake(dir.path());
    let pipeline = dir.path().join("som");
    std::fs::create_dir_all(&pipeline).unwrap();
    for e in std::fs::read_dir(repo().join("pipelines/som")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, pipeline.join(p.file_name().unwrap())).unwrap();
    }
    let sql = std::fs::read_to_string(pipeline.join("cooperation_links.sql")).unwrap();
    let broken = sql.replace("partner_member IS NOT NULL", "partner_membr IS NOT NULL");
    let line = broken.lines().position(|l| l.contains("partner_membr")).unwrap() + 1;
    std::fs::write(pipeline.join("cooperation_links.sql"), broken).unwrap();
    let o = fedreport(&["run", "--lake", &lake, "--pipeline", &pipeline.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains(&format!("cooperation_links.sql:{line}:")), "{t}");
    assert!(t.contains("partner_membr"), "DataFusion's message is kept: {t}");
    // a syntax error carries the parser's line
    std::fs::write(
        pipeline.join("cooperation_links.sql"),
        "SELECT reference_year,\n  reporting_member\nFROM FROM enforcement_cases",
    )
    .unwrap();
    let o = fedreport(&["run", "--lake", &lake, "--pipeline", &pipeline.to_string_lossy()]);
    assert!(text(&o).contains("cooperation_links.sql:3:"), "{}", text(&o));
}

#[test]
fn access_policy_for_a_member() {
    let o = fedreport(&[
        "access-policy",
        "--lake",
        "s3://bali-returns/lake",
        "--member",
        "AUS",
        "--principal",
        "arn:aws:iam::123456789012:role/aus",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(p["Statement"][0]["Resource"], "arn:aws:s3:::bali-returns/lake/inbox/AUS/*");
    let o = fedreport(&["access-policy", "--lake", "/tmp/x", "--member", "AUS", "--principal", "p"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn demo_runs_the_whole_chain_and_refuses_a_foreign_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = fedreport(&["demo", "--out", &out.to_string_lossy(), "--years", "2011..2012", "--scale", "0.3"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("rejected with receipts") && t.contains("1 identical resubmissions"), "{t}");
    assert!(t.contains("Reporting completeness 2012") && t.contains("persons moved irregularly by sea"), "{t}");
    // one full cycle: a return sent back and corrected, approvals, the lock, the review, the clearance
    for says in [
        "review: sent back ",
        "correction: ",
        "(late: after the deadline)",
        "returns of 2012 approved",
        "cycle 2012 locked by the secretariat (secretariat) on ",
        "final: cleared by every co-chair (co-chair-",
        "files frozen",
        "chain whole",
    ] {
        assert!(t.contains(says), "the demo says {says:?}: {t}");
    }
    let lake = out.join("lake");
    let l = lake.to_string_lossy();
    let o = fedreport(&["log", "--lake", &l, "--verify"]);
    assert!(o.status.success() && text(&o).starts_with("the log is whole"), "{}", text(&o));
    let frozen = std::fs::read_dir(lake.join("runs"))
        .unwrap()
        .filter(|r| r.as_ref().unwrap().path().join("final").is_dir())
        .count();
    assert_eq!(frozen, 1, "the cleared drafts are frozen");
    for f in [
        "drafts/cochairs-statement.md",
        "drafts/ministerial-briefing.html",
        "run/manifest.json",
        "run/tables/quality_flags.csv",
        "templates/maritime_movements.xlsx",
        "sdmx/structure.xml",
        "sdmx/victims_by_member.csv",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    // running it again replaces the demo; a folder it did not make is left alone
    assert!(
        fedreport(&["demo", "--out", &out.to_string_lossy(), "--years", "2012..2012", "--scale", "0.1"])
            .status
            .success()
    );
    let other = dir.path().join("mine");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("keep.txt"), "mine").unwrap();
    let o = fedreport(&["demo", "--out", &other.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(other.join("keep.txt")).unwrap(), "mine");
    let o = fedreport(&["demo", "--out", &out.to_string_lossy(), "--years", "2012..2008"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// `fedreport validate … | head`: the reader closes the pipe after a few
/// lines; the command ends quietly (the status of SIGPIPE, 141), without a
/// panic. The report is longer than a pipe holds (64 KiB), so the writes
/// after the close do fail.
#[test]
fn a_reader_that_stops_early_ends_the_output_without_a_panic() {
    use std::io::{BufRead, BufReader};
    use std::sync::Arc;
    let batch = fedreport_synth::return_batch(crate::contract(), 5, "AUS", "maritime_movements", 2012, 4.0).unwrap();
    let at = batch.schema().index_of("outcome").unwrap();
    let mut cols = batch.columns().to_vec();
    cols[at] = Arc::new(arrow::array::StringArray::from(vec!["Landed"; batch.num_rows()]));
    let batch = arrow::array::RecordBatch::try_new(batch.schema(), cols).unwrap();
    assert!(batch.num_rows() >= 1000, "a finding a row, a thousand kept and printed ({} rows)", batch.num_rows());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("AUS_maritime_movements_2012.parquet");
    std::fs::write(&file, fedreport_synth::parquet(&batch).unwrap()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fedreport"))
        .args(["validate", "--member", "AUS", "--year", "2012"])
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.contains("E_CODELIST") || first.starts_with("note:"), "{first}");
    // the reader is gone: the pipe is closed
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "{stderr}");
}
