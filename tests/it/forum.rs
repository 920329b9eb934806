//! A forum is configuration: a second, small forum (`tests/forums/coral`,
//! five members, two datasets, its own SQL and a one-page note) runs the
//! whole chain through the `fedreport` binary — schema, validate, submit,
//! intake, status, run, render — and nothing of the Bali Process is reached.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::repo;

fn coral() -> PathBuf {
    repo().join("tests/forums/coral")
}

fn fedreport(args: &[&str]) -> Output {
    let forum = coral();
    let mut all = vec!["--forum", forum.to_str().unwrap()];
    all.extend(args);
    Command::new(env!("CARGO_BIN_EXE_fedreport")).args(all).env_remove("FEDREPORT_FORUM").output().expect("run")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ret(name: &str) -> String {
    coral().join("returns").join(name).to_string_lossy().to_string()
}

#[test]
fn a_second_forum_runs_the_whole_chain() {
    let o = fedreport(&["schema"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("Coral Return v1 datasets:") && t.contains("border_crossings") && t.contains("shelters"), "{t}");
    assert!(!t.contains("maritime_movements"), "no Bali dataset: {t}");

    // validation against the forum's schemas and registry
    let o = fedreport(&["validate", &ret("fji_crossings_2014.csv")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = fedreport(&["validate", &ret("wsm_shelters_2014_bad.csv")]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("E_ROW_RULE") && text(&o).contains("occupied must not exceed capacity"), "{}", text(&o));

    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    // a Bali member is not a member here
    let o = fedreport(&["submit", &ret("fji_crossings_2014.csv"), "--lake", lake, "--member", "AUS"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    for (file, member) in [
        ("fji_crossings_2013.csv", "FJI"),
        ("fji_crossings_2014.csv", "FJI"),
        ("png_crossings_2014.csv", "PNG"),
        ("fji_shelters_2014.csv", "FJI"),
        ("vut_shelters_2014.csv", "VUT"),
    ] {
        let o = fedreport(&["submit", &ret(file), "--lake", lake, "--member", member]);
        assert!(o.status.success(), "{file}: {}", text(&o));
    }
    // a zero-row return says its year on the command line
    let o = fedreport(&[
        "submit",
        &ret("slb_crossings_2014.csv"),
        "--lake",
        lake,
        "--member",
        "SLB",
        "--dataset",
        "border_crossings",
        "--year",
        "2014",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // the invalid file arrives by hand and is rejected at intake
    let inbox = dir.path().join("lake/inbox/WSM");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::copy(ret("wsm_shelters_2014_bad.csv"), inbox.join("shelters.csv")).unwrap();
    let o = fedreport(&["intake", "--lake", lake]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("7 files decided — 6 new versions, 0 identical resubmissions, 1 rejected"),
        "{}",
        text(&o)
    );

    let o = fedreport(&["status", "--lake", lake, "--year", "2014"]);
    let t = text(&o);
    assert!(t.contains("Samoa") && t.contains("REJ") && !t.contains("Australia"), "{t}");
    assert!(t.contains("5 of 10 returns accepted"), "{t}");

    // the forum's own pipeline, hand-computed tables
    let out = dir.path().join("run");
    let o = fedreport(&["run", "--lake", lake, "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    for e in std::fs::read_dir(coral().join("expected")).unwrap() {
        let p = e.unwrap().path();
        let got = std::fs::read_to_string(out.join("tables").join(p.file_name().unwrap())).unwrap();
        assert_eq!(got, std::fs::read_to_string(&p).unwrap(), "{}", p.display());
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["cycle_year"], 2014);
    assert_eq!(manifest["pipeline_name"], "coral");
    let run_id = manifest["run_id"].as_str().unwrap().to_string();

    // the one-page note, for the forum's meeting, from the run in the lake
    let drafts = dir.path().join("drafts");
    let o = fedreport(&[
        "render",
        "--lake",
        lake,
        "--run",
        &run_id,
        "--meeting",
        "cm2-suva-2015",
        "--out",
        drafts.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let note = std::fs::read_to_string(drafts.join("regional-note.md")).unwrap();
    assert!(
        note.contains("Members reported 5 irregular border crossings by 27 persons in 2014 (2 members reporting)."),
        "{note}"
    );
    assert!(note.contains("38 beds, 25 of them occupied at the end of 2014 (65.8 per cent)"), "{note}");
    assert!(note.contains("co-chaired by Fiji and Vanuatu") && note.contains("second Ministerial Meeting"), "{note}");
    let html = std::fs::read_to_string(drafts.join("regional-note.html")).unwrap();
    assert!(html.contains("DRAFT — run ") && html.contains("65.8 per cent"), "{html}");
    let files: Vec<_> = std::fs::read_dir(&drafts).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(files.len(), 2, "only the forum's documents: {files:?}");
}

#[test]
fn a_broken_forum_names_the_file_and_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("coral");
    for sub in ["", "schemas", "pipeline", "templates", "meetings"] {
        std::fs::create_dir_all(copy.join(sub)).unwrap();
        for e in std::fs::read_dir(coral().join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, copy.join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    // a co-chair that is not a member of this forum
    let m = copy.join("meetings/cm2-suva-2015.toml");
    std::fs::write(&m, std::fs::read_to_string(&m).unwrap().replace("\"VUT\"]", "\"AUS\"]")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_fedreport"))
        .args(["--forum", copy.to_str().unwrap(), "schema"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let t = text(&o);
    assert!(t.contains("cm2-suva-2015.toml") && t.contains("co_chairs") && t.contains("AUS"), "{t}");
    // a document whose template is missing
    std::fs::write(&m, std::fs::read_to_string(&m).unwrap().replace("\"AUS\"]", "\"VUT\"]")).unwrap();
    std::fs::remove_file(copy.join("templates/note.html.j2")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_fedreport"))
        .args(["--forum", copy.to_str().unwrap(), "schema"])
        .output()
        .unwrap();
    let t = text(&o);
    assert!(t.contains("note.html.j2") && t.contains("regional-note"), "{t}");
}
