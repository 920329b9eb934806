//! SDMX out: the golden run exported by `fedreport export --format sdmx-csv`
//! and read back by an independent SDMX library (sdmx1, from PyPI) against
//! the generated structure: every figure of every published numeric table
//! equal to the run's, every code in its code list, every hidden cell empty
//! with OBS_STATUS Q and CONF_STATUS C (primary) or D (secondary) exactly as
//! the run's disclosure control decided.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

const REQUIRE: &str = "FEDREPORT_REQUIRE_SDMX1";

/// What sdmx1 reads from an export folder, or `None` (failing when required).
fn read_back(dir: &std::path::Path) -> Option<Value> {
    crate::support::python_json("read_sdmx.py", &[dir], REQUIRE, "sdmx", "sdmx1")
}

#[test]
fn the_golden_runs_sdmx_export_reads_back_in_sdmx1_with_every_figure_and_no_hidden_one() {
    let dir = tempfile::tempdir().unwrap();
    let run = crate::render::golden_run(dir.path());
    let out = dir.path().join("sdmx");
    let o = Command::new(env!("CARGO_BIN_EXE_fedreport"))
        .args(["export", "--format", "sdmx-csv", "--run"])
        .arg(dir.path().join("run"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{said}{}", String::from_utf8_lossy(&o.stderr));
    assert!(said.contains("victims_by_member.csv: BALI_PROCESS:VICTIMS_BY_MEMBER"), "{said}");

    // the library gives the same files the CLI wrote
    let export = fedreport_office::sdmx::export(&run, crate::contract(), "BALI_PROCESS").unwrap();
    for (name, bytes) in &export.files {
        assert_eq!(&std::fs::read(out.join(name)).unwrap(), bytes, "{name}");
    }
    // the same again: byte for byte
    let again = fedreport_office::sdmx::export(&run, crate::contract(), "BALI_PROCESS").unwrap();
    assert_eq!(again.files, export.files, "an export is deterministic");

    let Some(read) = read_back(&out) else { return };
    let flows = read["flows"].as_object().unwrap();
    assert_eq!(flows.len(), export.flows.len(), "{:?}", flows.keys().collect::<Vec<_>>());
    let (mut primary, mut secondary, mut figures) = (0, 0, 0);
    for flow in &export.flows {
        let got = &flows[&flow.id];
        let table = &run.tables[&flow.table];
        let output = run.manifest.outputs.iter().find(|o| o.table == flow.table).unwrap();
        let disclosure = run.manifest.disclosure.iter().find(|d| d.table == flow.table);
        // observations by key, as sdmx1 read them
        let obs: BTreeMap<Vec<String>, &Value> = got["observations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o["key"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect(), o))
            .collect();
        assert_eq!(obs.len() as u64, flow.observations, "{}", flow.id);
        assert_eq!(got["pandas_rows"].as_u64(), Some(flow.observations), "{}: pandas sees every observation", flow.id);
        let col = |n: &str| table.columns.iter().position(|c| c == n).unwrap();
        for row in &table.rows {
            for (column, code) in &flow.measures {
                let mut key: Vec<String> = output
                    .key
                    .iter()
                    .filter(|k| k.as_str() != "reference_year")
                    .map(|k| match &row[col(k)] {
                        Value::String(s) => s.clone(),
                        Value::Null => "_Z".into(),
                        v => v.to_string(),
                    })
                    .collect();
                key.push(code.clone());
                if flow.time {
                    key.push(row[col("reference_year")].to_string());
                }
                let o = obs.get(&key).unwrap_or_else(|| panic!("{}: no observation {key:?}", flow.id));
                let hidden = disclosure.is_some_and(|d| d.columns.contains(column)) && row[col(column)].is_null();
                match &row[col(column)] {
                    Value::Null if hidden => {
                        assert!(o["value"].is_null(), "{} {key:?}: a hidden cell carries a value: {o}", flow.id);
                        assert_eq!(o["OBS_STATUS"], "Q", "{} {key:?}", flow.id);
                        let year = row[col("reference_year")].as_i64().unwrap();
                        let unit = row[col("reporting_member")].as_str().unwrap();
                        let is_primary = disclosure
                            .unwrap()
                            .primary
                            .iter()
                            .any(|h| h.group == year && h.unit == unit && &h.column == column);
                        let want = if is_primary { "C" } else { "D" };
                        assert_eq!(o["CONF_STATUS"], want, "{} {key:?}", flow.id);
                        if is_primary { primary += 1 } else { secondary += 1 }
                    }
                    Value::Null => {
                        assert!(o["value"].is_null() && o["OBS_STATUS"] == "O", "{} {key:?}: {o}", flow.id);
                    }
                    v => {
                        let read: f64 = o["value"].as_str().unwrap().parse().unwrap();
                        assert_eq!(read, v.as_f64().unwrap(), "{} {key:?}", flow.id);
                        assert_eq!((o["OBS_STATUS"].as_str(), o["CONF_STATUS"].as_str()), (Some("A"), Some("F")));
                        figures += 1;
                    }
                }
            }
        }
        // the member dimension is coded by the registry
        if let Some(codes) = got["codes"].get("REPORTING_MEMBER") {
            assert!(codes.as_array().unwrap().iter().any(|c| c == "AUS"), "{}", flow.id);
        }
    }
    let d = run.manifest.disclosure.iter().find(|d| d.table == "victims_by_member").unwrap();
    assert!(primary > 0 && secondary > 0, "the golden run hides cells of both kinds ({primary} C, {secondary} D)");
    assert_eq!(primary, d.primary.len(), "every primary cell is C");
    assert_eq!((primary + secondary) as u64, d.hidden_cells, "every hidden cell is in the export, empty");
    assert!(figures > 200, "{figures} figures compared");
    // a table of text has no figures to exchange, and the CLI says so
    for (table, why) in &export.left_out {
        assert!(said.contains(&format!("not exported: {table} ({why})")), "{said}");
    }
}
