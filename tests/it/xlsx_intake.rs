//! Excel returns in: a template filled in by an independent writer (openpyxl)
//! converts to the very Parquet bytes of the same return as CSV, for every
//! dataset; each way a workbook goes wrong gives its finding and the cell as
//! Excel shows it; the CLI and the web front take `.xlsx`; random and damaged
//! workbooks never panic.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::DataType;
use fedreport_contract::{Expected, Finding, Report, RuleCode, ValidateOptions, Validator};
use object_store::ObjectStoreExt;
use proptest::prelude::*;
use rust_xlsxwriter::{Format, Formula, Table, TableColumn, Workbook};
use serde_json::{Value, json};

use crate::block_on;

/// Validate and convert a file held in memory: the report and, when valid, the canonical Parquet.
fn convert(bytes: Vec<u8>, name: &str) -> (Report, Option<Vec<u8>>) {
    let v = Validator::new(crate::contract(), ValidateOptions::default());
    block_on(async {
        let store = Arc::new(object_store::memory::InMemory::new());
        let p = object_store::path::Path::from("f");
        store.put(&p, bytes.into()).await.unwrap();
        let expected = Expected { dataset: None, member: Some("AUS".into()), year: Some(2012) };
        let (validated, out) = v.convert(store, &p, name, &expected, Vec::new()).await.unwrap();
        (validated.report, out)
    })
}

fn synthetic(dataset: &str, scale: f64) -> RecordBatch {
    synthetic_of("AUS", dataset, scale)
}

fn synthetic_of(member: &str, dataset: &str, scale: f64) -> RecordBatch {
    fedreport_synth::return_batch(crate::contract(), 11, member, dataset, 2012, scale).unwrap()
}

fn text(batch: &RecordBatch, col: usize, row: usize) -> Option<String> {
    let c = batch.column(col);
    (!c.is_null(row)).then(|| arrow::util::display::array_value_to_string(c, row).unwrap())
}

/// The rows as fill_xlsx.py takes them: each value with the kind a person types.
fn typed_rows(batch: &RecordBatch) -> Value {
    let schema = batch.schema();
    let kinds: Vec<&str> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Boolean => "bool",
            DataType::Date32 => "date",
            t if t.is_integer() => "int",
            _ => "text",
        })
        .collect();
    let rows: Vec<Value> = (0..batch.num_rows())
        .map(|r| {
            Value::Array(
                (0..batch.num_columns())
                    .map(|c| match text(batch, c, r) {
                        None => Value::Null,
                        Some(t) if kinds[c] == "bool" => json!(["bool", t == "true"]),
                        Some(t) => json!([kinds[c], t]),
                    })
                    .collect(),
            )
        })
        .collect();
    json!({"columns": schema.fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>(), "rows": rows})
}

/// A template filled by openpyxl, or `None` (failing when openpyxl is required).
fn filled_by_openpyxl(dir: &Path, dataset: &str, batch: &RecordBatch) -> Option<Vec<u8>> {
    let contract = crate::contract();
    let schema = contract.schemas().get(dataset).unwrap();
    let template = dir.join(format!("{dataset}-template.xlsx"));
    std::fs::write(&template, fedreport_office::xlsx::template(schema, contract.registry(), contract.title()).unwrap())
        .unwrap();
    let rows = dir.join(format!("{dataset}.json"));
    std::fs::write(&rows, serde_json::to_vec(&typed_rows(batch)).unwrap()).unwrap();
    let out = dir.join(format!("{dataset}.xlsx"));
    // the script prints nothing but `null`: it writes the workbook
    crate::support::python_json(
        "fill_xlsx.py",
        &[&template, &rows, &out],
        "FEDREPORT_REQUIRE_OPENPYXL",
        "openpyxl",
        "openpyxl",
    )?;
    Some(std::fs::read(&out).unwrap())
}

#[test]
fn every_datasets_template_filled_in_excel_converts_to_the_parquet_bytes_of_the_same_csv() {
    let dir = tempfile::tempdir().unwrap();
    for schema in crate::contract().schemas().iter() {
        let dataset = schema.dataset.as_str();
        // more rows than the template's table holds, so the table is grown as Excel grows it
        let batch = synthetic(dataset, 1.0);
        let (csv_report, csv_parquet) = convert(fedreport_synth::csv(&batch).unwrap(), "r.csv");
        assert!(csv_report.is_valid(), "{dataset} as CSV:\n{}", csv_report.to_human());
        let Some(workbook) = filled_by_openpyxl(dir.path(), dataset, &batch) else { return };
        let (report, parquet) = convert(workbook, "r.xlsx");
        assert!(report.is_valid(), "{dataset} as Excel:\n{}", report.to_human());
        assert_eq!(report.format, "xlsx");
        assert_eq!(report.rows, batch.num_rows() as u64, "{dataset}: every row read");
        assert!(
            report.notes.iter().any(|n| n == &format!("read table Return_{dataset} on sheet Return")),
            "{dataset}: {:?}",
            report.notes
        );
        assert!(
            parquet.is_some() && parquet == csv_parquet,
            "{dataset}: the workbook converts to other bytes than the CSV"
        );
    }
}

/// A workbook written cell by cell: the header, then rows of values a test shapes.
struct Sheet {
    columns: Vec<String>,
    rows: Vec<Vec<Cell>>,
    table: bool,
    /// Rows the table covers, when not all (a tool that does not grow it).
    table_rows: Option<usize>,
    merge: Option<(u32, u16, u32, u16)>,
    title_sheet_first: bool,
}

#[derive(Clone, Debug)]
enum Cell {
    Empty,
    Text(String),
    Number(f64),
    /// A number shown with a date format.
    Date(f64, &'static str),
    Bool(bool),
    /// A formula and the value Excel last calculated for it.
    Formula(String, String),
}

impl Sheet {
    /// A synthetic return as Excel holds it: numbers, dates as formatted serial numbers, text.
    fn of(batch: &RecordBatch) -> Sheet {
        let schema = batch.schema();
        let rows = (0..batch.num_rows())
            .map(|r| {
                schema
                    .fields()
                    .iter()
                    .enumerate()
                    .map(|(c, f)| match (text(batch, c, r), f.data_type()) {
                        (None, _) => Cell::Empty,
                        (Some(t), DataType::Boolean) => Cell::Bool(t == "true"),
                        (Some(t), DataType::Date32) => Cell::Date(serial(&t), "yyyy-mm-dd"),
                        (Some(t), d) if d.is_integer() => Cell::Number(t.parse().unwrap()),
                        (Some(t), _) => Cell::Text(t),
                    })
                    .collect()
            })
            .collect();
        Sheet {
            columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
            rows,
            table: true,
            table_rows: None,
            merge: None,
            title_sheet_first: false,
        }
    }

    fn col(&self, name: &str) -> usize {
        self.columns.iter().position(|c| c == name).unwrap()
    }

    fn bytes(&self) -> Vec<u8> {
        let mut book = Workbook::new();
        if self.title_sheet_first {
            book.add_worksheet().set_name("Notes").unwrap().write_string(0, 0, "Notes for the focal point").unwrap();
        }
        let ws = book.add_worksheet().set_name("Return").unwrap();
        for (c, name) in self.columns.iter().enumerate() {
            ws.write_string(0, c as u16, name).unwrap();
        }
        for (r, row) in self.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, cell) in row.iter().enumerate() {
                let c = c as u16;
                match cell {
                    Cell::Empty => {}
                    Cell::Text(t) => {
                        ws.write_string(r, c, t).unwrap();
                    }
                    Cell::Number(n) => {
                        ws.write_number(r, c, *n).unwrap();
                    }
                    Cell::Date(n, format) => {
                        ws.write_number_with_format(r, c, *n, &Format::new().set_num_format(*format)).unwrap();
                    }
                    Cell::Bool(b) => {
                        ws.write_boolean(r, c, *b).unwrap();
                    }
                    Cell::Formula(f, result) => {
                        ws.write_formula(r, c, Formula::new(f).set_result(result)).unwrap();
                    }
                }
            }
        }
        if self.table {
            let columns: Vec<TableColumn> = self.columns.iter().map(|n| TableColumn::new().set_header(n)).collect();
            let table = Table::new().set_name("Return_test").set_columns(&columns);
            let rows = self.table_rows.unwrap_or(self.rows.len()).max(1) as u32;
            ws.add_table(0, 0, rows, self.columns.len() as u16 - 1, &table).unwrap();
        }
        if let Some((r1, c1, r2, c2)) = self.merge {
            ws.merge_range(r1, c1, r2, c2, "merged", &Format::new()).unwrap();
        }
        book.save_to_buffer().unwrap()
    }
}

/// `2012-03-12` → its Excel serial number (1900 date system).
fn serial(date: &str) -> f64 {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    (d - chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap()).num_days() as f64
}

fn letter(col: usize) -> char {
    (b'A' + col as u8) as char
}

fn only(report: &Report, code: RuleCode) -> &Finding {
    let found: Vec<&Finding> = report.findings.iter().filter(|f| f.code == code).collect();
    assert_eq!(found.len(), 1, "one {code} finding expected:\n{}", report.to_human());
    assert_eq!(report.errors, 1, "nothing else:\n{}", report.to_human());
    found[0]
}

#[test]
fn each_way_a_workbook_goes_wrong_gives_its_finding_and_cell() {
    let batch = synthetic("maritime_movements", 0.3);
    let base = Sheet::of(&batch);
    let (csv_report, csv_parquet) = convert(fedreport_synth::csv(&batch).unwrap(), "r.csv");
    assert!(csv_report.is_valid(), "{}", csv_report.to_human());
    let date = base.col("event_date");
    let people = base.col("persons_on_board");

    // Written by rust_xlsxwriter as a table, the return converts like its CSV.
    let (report, parquet) = convert(base.bytes(), "r.xlsx");
    assert!(report.is_valid(), "{}", report.to_human());
    assert_eq!(parquet, csv_parquet);

    // Rows typed under a table that was not grown are read too.
    let mut s = Sheet::of(&batch);
    s.table_rows = Some(10);
    let (report, parquet) = convert(s.bytes(), "r.xlsx");
    assert_eq!(report.rows, batch.num_rows() as u64, "{}", report.to_human());
    assert_eq!(parquet, csv_parquet);

    // A formula is read as the value Excel last calculated.
    let mut s = Sheet::of(&batch);
    let Cell::Number(n) = s.rows[2][people].clone() else { panic!("persons_on_board is a number") };
    s.rows[2][people] = Cell::Formula(format!("={}+0", n - 1.0), format!("{n}"));
    let (report, parquet) = convert(s.bytes(), "r.xlsx");
    assert!(report.is_valid(), "{}", report.to_human());
    assert_eq!(parquet, csv_parquet, "a formula's cached value is the value");

    // A cell holding an Excel error: E_TYPE at that cell, nothing more about it.
    let mut s = Sheet::of(&batch);
    s.rows[2][people] = Cell::Formula("=1/0".into(), "#DIV/0!".into());
    let (report, _) = convert(s.bytes(), "r.xlsx");
    let f = only(&report, RuleCode::Type);
    assert_eq!((f.row, f.column.as_deref()), (Some(3), Some("persons_on_board")));
    assert_eq!(f.cell.as_deref(), Some(format!("Return!{}4", letter(people)).as_str()));
    assert_eq!(f.value.as_deref(), Some("#DIV/0!"));
    assert!(f.message.contains("holds the Excel error #DIV/0!"), "{}", f.message);
    assert!(
        report.to_human().contains(&format!("row 3, column persons_on_board, cell Return!{}4:", letter(people))),
        "{}",
        report.to_human()
    );

    // A date typed as text in a day/month form: refused at its cell, with the form to use.
    let mut s = Sheet::of(&batch);
    s.rows[4][date] = Cell::Text("12/03/2012".into());
    let (report, _) = convert(s.bytes(), "r.xlsx");
    let f = only(&report, RuleCode::Type);
    assert_eq!(f.cell.as_deref(), Some(format!("Return!{}6", letter(date)).as_str()));
    assert!(f.message.contains("ambiguous") && f.message.contains("YYYY-MM-DD"), "{}", f.message);
    // … as ISO text it is the date
    let mut s = Sheet::of(&batch);
    let Cell::Date(d, _) = s.rows[4][date] else { panic!() };
    let iso = text(&batch, date, 4).unwrap();
    s.rows[4][date] = Cell::Text(iso.clone());
    assert_eq!(convert(s.bytes(), "r.xlsx").1, csv_parquet, "{iso} as text");
    // … as a number with any date format it is the date
    s.rows[4][date] = Cell::Date(d, "dd/mm/yyyy");
    assert_eq!(convert(s.bytes(), "r.xlsx").1, csv_parquet, "a date shown as dd/mm/yyyy");
    // … as a bare number it is not a date
    s.rows[4][date] = Cell::Number(d);
    let (report, _) = convert(s.bytes(), "r.xlsx");
    let f = only(&report, RuleCode::Type);
    assert_eq!(f.cell.as_deref(), Some(format!("Return!{}6", letter(date)).as_str()));
    assert_eq!(f.value.as_deref(), Some(format!("{d}").as_str()));

    // Merged cells in the return: the file is refused naming the cells.
    let mut s = Sheet::of(&batch);
    s.merge = Some((3, 1, 3, 2));
    let (report, parquet) = convert(s.bytes(), "r.xlsx");
    let f = only(&report, RuleCode::CorruptFile);
    assert!(f.message.starts_with("cells Return!B4:C4 are merged"), "{}", f.message);
    assert!(f.message.contains("Unmerge"), "{}", f.message);
    assert!(parquet.is_none());

    // No table: the first sheet's first row is the header; the same bytes.
    let mut s = Sheet::of(&batch);
    s.table = false;
    let (report, parquet) = convert(s.bytes(), "r.xlsx");
    assert!(report.is_valid(), "{}", report.to_human());
    assert!(report.notes.iter().any(|n| n == "read sheet Return (the workbook has no table)"), "{:?}", report.notes);
    assert_eq!(parquet, csv_parquet);
    // … and a finding there still names its cell
    let deaths = s.col("deaths");
    s.rows[0][deaths] = Cell::Number(-1.0);
    let (report, _) = convert(s.bytes(), "r.xlsx");
    let f = only(&report, RuleCode::Range);
    assert_eq!(f.cell.as_deref(), Some(format!("Return!{}2", letter(deaths)).as_str()));

    // The table is found on whichever sheet holds it.
    let mut s = Sheet::of(&batch);
    s.title_sheet_first = true;
    let (report, parquet) = convert(s.bytes(), "r.xlsx");
    assert!(report.is_valid(), "{}", report.to_human());
    assert_eq!(parquet, csv_parquet);
    // … but with no table, the first sheet is the return, and it is not one
    s.table = false;
    let (report, _) = convert(s.bytes(), "r.xlsx");
    assert!(!report.is_valid());

    // An empty workbook, and bytes that are no workbook.
    let mut book = Workbook::new();
    book.add_worksheet().set_name("Sheet1").unwrap();
    let (report, _) = convert(book.save_to_buffer().unwrap(), "r.xlsx");
    let f = only(&report, RuleCode::CorruptFile);
    assert_eq!(
        f.message,
        "the workbook has no table and its first sheet (Sheet1) is empty; put the return on the first sheet, its column names in the first row"
    );
    let (report, _) = convert(b"PK\x03\x04 not really a zip".to_vec(), "r.xlsx");
    let f = only(&report, RuleCode::CorruptFile);
    assert!(f.message.starts_with("not readable as an Excel workbook"), "{}", f.message);

    // Blank rows are skipped and cells still named by their sheet row.
    let mut s = Sheet::of(&batch);
    s.rows.insert(3, vec![Cell::Empty; s.columns.len()]);
    let deaths = s.col("deaths");
    s.rows[5][deaths] = Cell::Number(-1.0);
    let (report, _) = convert(s.bytes(), "r.xlsx");
    let f = only(&report, RuleCode::Range);
    assert_eq!((f.row, f.cell.as_deref()), (Some(5), Some(format!("Return!{}7", letter(deaths)).as_str())));

    // A stray value far from the table costs one cell, not a dense grid.
    let mut book = Workbook::new();
    let ws = book.add_worksheet().set_name("Return").unwrap();
    ws.write_string(0, 0, "x").unwrap();
    ws.write_string(1_048_575, 16_383, "far away").unwrap();
    let (report, _) = convert(book.save_to_buffer().unwrap(), "r.xlsx");
    assert!(!report.is_valid());

    // A value under a column with no name.
    let mut s = Sheet::of(&batch);
    s.table = false;
    s.columns.push(String::new());
    for row in &mut s.rows {
        row.push(Cell::Empty);
    }
    *s.rows[1].last_mut().unwrap() = Cell::Text("note".into());
    let (report, _) = convert(s.bytes(), "r.xlsx");
    let f = only(&report, RuleCode::CorruptFile);
    let col = letter(s.columns.len() - 1);
    assert!(
        f.message
            .starts_with(&format!("column {col} has values (first at Return!{col}3) but no name in the header row")),
        "{}",
        f.message
    );
}

#[test]
fn the_cli_validates_converts_and_submits_a_workbook() {
    let dir = tempfile::tempdir().unwrap();
    let batch = synthetic("enforcement_cases", 0.3);
    let mut s = Sheet::of(&batch);
    let good = dir.path().join("enforcement 2012.xlsx");
    std::fs::write(&good, s.bytes()).unwrap();
    let status = s.col("furthest_stage");
    s.rows[1][status] = Cell::Text("Closed!".into());
    let bad = dir.path().join("bad.xlsx");
    std::fs::write(&bad, s.bytes()).unwrap();
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_fedreport")).args(args).output().unwrap();
    let o = run(&["validate", bad.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "error[E_CODELIST] bad.xlsx row 2, column furthest_stage, cell Return!{}3:",
            letter(status)
        )),
        "{out}"
    );
    let parquet = dir.path().join("out.parquet");
    let o = run(&["convert", good.to_str().unwrap(), "-o", parquet.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (_, from_csv) = convert(fedreport_synth::csv(&batch).unwrap(), "r.csv");
    assert_eq!(std::fs::read(&parquet).unwrap(), from_csv.unwrap(), "fedreport convert of the workbook");
    let lake = dir.path().join("lake");
    let o =
        run(&["submit", good.to_str().unwrap(), "--lake", lake.to_str().unwrap(), "--member", "AUS", "--year", "2012"]);
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let inbox: Vec<String> = std::fs::read_dir(lake.join("inbox/AUS"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(inbox.len() == 1 && inbox[0].ends_with(".enforcement_cases.2012.xlsx"), "{inbox:?}");
    let o = run(&["intake", "--lake", lake.to_str().unwrap()]);
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let o = run(&["receipts", "--lake", lake.to_str().unwrap(), "--member", "AUS"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("accepted"), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn the_web_front_takes_an_excel_return() {
    let batch = synthetic_of("IDN", "enforcement_cases", 0.3);
    let mut s = Sheet::of(&batch);
    let site = crate::web::Site::golden(1024 * 1024);
    let idn = site.login("idn");
    let good = site.upload(&idn, "IDN", "enforcement 2012.xlsx", &s.bytes());
    let page = site.get(&format!("/members/IDN/uploads/{good}"), Some(&idn)).body;
    assert!(page.contains("enforcement_cases"), "{page}");
    assert!(!page.contains("E_"), "no findings: {page}");
    let stage = s.col("furthest_stage");
    s.rows[1][stage] = Cell::Text("<b>Closed</b>".into());
    let bad = site.upload(&idn, "IDN", "enforcement 2012.xlsx", &s.bytes());
    let page = site.get(&format!("/members/IDN/uploads/{bad}"), Some(&idn)).body;
    assert!(
        page.contains(&format!("furthest_stage<br><span class=\"cell\">Return!{}3</span>", letter(stage))),
        "the finding names the cell: {page}"
    );
    assert!(page.contains("&lt;b&gt;Closed&lt;&#x2f;b&gt;") && !page.contains("<b>Closed</b>"), "{page}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random workbooks (any cell in any place, tables, merges) and damaged
    /// ones (bytes flipped, cut short) give a report, never a panic.
    #[test]
    fn random_and_damaged_workbooks_never_panic(
        cells in prop::collection::vec((0u32..40, 0u16..12, 0u8..7, ".{0,12}", -1e12f64..1e12), 0..60),
        table in any::<bool>(),
        merge in prop::option::of((0u32..20, 0u16..8)),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let mut book = Workbook::new();
        let ws = book.add_worksheet().set_name("Return").unwrap();
        let names = ["reporting_member", "reference_year", "movement_id", "event_date", "persons_on_board", "x"];
        for (c, n) in names.iter().enumerate() {
            ws.write_string(0, c as u16, *n).unwrap();
        }
        for (r, c, kind, s, n) in &cells {
            let (r, c) = (r + 1, *c);
            let _ = match kind {
                0 => ws.write_string(r, c, s).map(|_| ()),
                1 => ws.write_number(r, c, *n).map(|_| ()),
                2 => ws.write_number_with_format(r, c, n.abs() % 3e6, &Format::new().set_num_format("yyyy-mm-dd")).map(|_| ()),
                3 => ws.write_boolean(r, c, *n > 0.0).map(|_| ()),
                4 => ws.write_formula(r, c, Formula::new("=1/0").set_result("#DIV/0!")).map(|_| ()),
                5 => ws.write_formula(r, c, Formula::new("=A1").set_result(s.as_str())).map(|_| ()),
                _ => ws.write_string(r, c, "AUS").map(|_| ()),
            };
        }
        if table {
            let _ = ws.add_table(0, 0, 41, 5, &Table::new());
        }
        if let Some((r, c)) = merge {
            let _ = ws.merge_range(r + 1, c, r + 2, c + 1, "m", &Format::new());
        }
        let mut bytes = book.save_to_buffer().unwrap();
        let (report, _) = convert(bytes.clone(), "r.xlsx");
        prop_assert!(report.errors > 0 || report.is_valid());
        for (i, b) in &flips {
            let at = i.index(bytes.len());
            bytes[at] ^= b | 1;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        let (report, _) = convert(bytes, "r.xlsx");
        prop_assert!(report.errors > 0 || report.is_valid());
    }
}
