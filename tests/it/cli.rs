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
    for verb in ["schema", "template", "validate", "convert", "submit", "intake", "receipts", "status", "demo"] {
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
