//! Office formats as people open them: every dataset's Excel template read
//! back by an independent reader (openpyxl, from PyPI) — the return as a
//! named table with the schema's columns, a dropdown on every code-list
//! column whose list (on a hidden sheet) holds exactly the allowed values,
//! whole-number and date rules, an input message on every column, and the
//! instructions — from the library, the CLI and the web front.

use std::path::Path;
use std::process::Command;

use fedreport_office::xlsx;
use serde_json::Value;

const REQUIRE: &str = "FEDREPORT_REQUIRE_OPENPYXL";

/// What openpyxl finds in a workbook, or `None` (failing when required).
fn read_back(file: &Path) -> Option<Value> {
    crate::support::python_json("read_xlsx.py", &[file], REQUIRE, "openpyxl", "openpyxl")
}

/// Excel column letters → 0-based index.
fn column_index(letters: &str) -> usize {
    letters.bytes().fold(0, |n, b| n * 26 + (b - b'A' + 1) as usize) - 1
}

#[test]
fn every_datasets_excel_template_reads_back_with_its_table_dropdowns_rules_and_instructions() {
    let dir = tempfile::tempdir().unwrap();
    let contract = &crate::bali().contract;
    let registry = contract.registry();
    for schema in contract.schemas().iter() {
        let file = dir.path().join(format!("{}.xlsx", schema.dataset));
        std::fs::write(&file, xlsx::template(schema, registry, contract.title()).unwrap()).unwrap();
        let Some(wb) = read_back(&file) else { return };
        let what = &schema.dataset;
        let names: Vec<String> = schema.columns.iter().map(|c| c.name.clone()).collect();
        // the sheets: the return, the instructions, the lists hidden
        let sheets: Vec<(&str, &str)> = wb["sheets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["name"].as_str().unwrap(), s["state"].as_str().unwrap()))
            .collect();
        assert_eq!(sheets, [("Return", "visible"), ("Instructions", "visible"), ("Lists", "hidden")], "{what}");
        // the return as a named table with the schema's columns
        let table = &wb["tables"][xlsx::table_name(schema)];
        assert_eq!(table["columns"], serde_json::json!(names), "{what}: the table's columns");
        let last = (b'A' + names.len() as u8 - 1) as char;
        assert_eq!(table["ref"], format!("A1:{last}{}", xlsx::TEMPLATE_ROWS + 1), "{what}");
        assert_eq!(wb["headers"], serde_json::json!(names), "{what}: the header row");
        // one validation per column, with its input message
        let validations = wb["validations"].as_array().unwrap();
        let lists = wb["lists"].as_array().unwrap();
        for (i, c) in schema.columns.iter().enumerate() {
            let letter = (b'A' + i as u8) as char;
            let v = validations
                .iter()
                .find(|v| v["sqref"] == format!("{letter}2:{letter}{}", xlsx::TEMPLATE_ROWS + 1))
                .unwrap_or_else(|| panic!("{what}.{}: no validation in column {letter}", c.name));
            assert!(
                v["show_input"].as_bool().unwrap() && v["prompt_title"] == c.name.as_str(),
                "{what}.{}: {v}",
                c.name
            );
            let prompt = v["prompt"].as_str().unwrap();
            assert!(prompt.contains(c.ty.name()), "{what}.{}: the message names the type: {prompt}", c.name);
            if let Some(d) = &c.description {
                assert!(prompt.starts_with(&d.chars().take(40).collect::<String>()), "{what}.{}: {prompt}", c.name);
            }
            match xlsx::allowed_values(c, registry) {
                Some(allowed) => {
                    // a dropdown whose range on the hidden sheet holds exactly the allowed values
                    assert_eq!(v["type"], "list", "{what}.{}", c.name);
                    let f = v["formula1"].as_str().unwrap();
                    let range = f.strip_prefix("Lists!$").unwrap_or_else(|| panic!("{what}.{}: {f}", c.name));
                    let col = range.split('$').next().unwrap();
                    let list = &lists[column_index(col)];
                    assert_eq!(list["header"], c.name.as_str(), "{what}.{}: {f}", c.name);
                    assert_eq!(list["values"], serde_json::json!(allowed), "{what}.{}", c.name);
                    assert!(
                        f.ends_with(&format!("${}", allowed.len() + 1)),
                        "{what}.{}: {f} covers the whole list",
                        c.name
                    );
                }
                None => match c.ty {
                    fedreport_contract::schema::ColType::Int32 | fedreport_contract::schema::ColType::Int8 => {
                        assert_eq!(v["type"], "whole", "{what}.{}", c.name);
                        if let Some(min) = c.min {
                            assert_eq!(v["formula1"], min.to_string(), "{what}.{}", c.name);
                        }
                        if let Some(max) = c.max {
                            assert_eq!(v["formula2"], max.to_string(), "{what}.{}", c.name);
                        }
                    }
                    fedreport_contract::schema::ColType::Date32 => assert_eq!(v["type"], "date", "{what}.{}", c.name),
                    _ => {}
                },
            }
        }
        // the member and country lists are long: 250 ISO codes work from the hidden sheet
        if let Some(c) = schema.columns.iter().find(|c| c.codelist == Some(fedreport_contract::schema::CodeList::Iso3))
        {
            assert!(xlsx::allowed_values(c, registry).unwrap().len() > 240, "{what}.{}", c.name);
        }
    }
}

#[test]
fn the_excel_template_from_the_cli_and_the_web_front() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("maritime.xlsx");
    let o = Command::new(env!("CARGO_BIN_EXE_fedreport"))
        .args(["template", "maritime_movements", "--format", "xlsx", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..2], b"PK", "an xlsx is a zip");
    let again = xlsx::template(
        crate::bali().contract.schemas().get("maritime_movements").unwrap(),
        crate::bali().contract.registry(),
        crate::bali().contract.title(),
    )
    .unwrap();
    let Some(cli) = read_back(&out) else { return };
    let lib = dir.path().join("lib.xlsx");
    std::fs::write(&lib, again).unwrap();
    assert_eq!(cli, read_back(&lib).unwrap(), "the CLI writes the library's template");
    // the web front serves it to a signed-in focal point
    let site = crate::web::Site::golden(1024 * 1024);
    let aus = site.login("aus");
    let r = site.get("/datasets/maritime_movements/template/xlsx", Some(&aus));
    assert_eq!(r.status, axum::http::StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.headers.get(axum::http::header::CONTENT_TYPE).unwrap(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let web = dir.path().join("web.xlsx");
    std::fs::write(&web, &r.bytes).unwrap();
    assert_eq!(cli, read_back(&web).unwrap(), "the web front serves the same template");
    assert!(site.get("/datasets/maritime_movements", Some(&aus)).body.contains("/template/xlsx"));
}
