//! Data-driven validation tests: every file in `tests/returns/invalid/` is
//! named `<RULE_CODE>__<what>.<ext>` and must trigger that rule; every file in
//! `tests/returns/valid/` must pass (a `W_…` prefix names a warning it must
//! raise). The human reports are snapshotted.

use std::collections::BTreeSet;

use fedreport_contract::{Expected, Report, RuleCode, ValidateOptions, Validator};

use crate::{block_on, repo};

fn claim() -> Expected {
    Expected { dataset: None, member: Some("AUS".into()), year: Some(2012) }
}

pub fn validate_file(path: &std::path::Path, expected: &Expected) -> Report {
    let bytes = std::fs::read(path).expect("fixture");
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let v = Validator::new(crate::contract(), ValidateOptions::default());
    block_on(v.validate_bytes(bytes.into(), &name, expected)).report
}

fn code_of(path: &std::path::Path) -> Option<String> {
    let stem = path.file_stem()?.to_string_lossy().to_string();
    stem.split_once("__").map(|(c, _)| c.to_string())
}

#[test]
fn invalid_returns_trigger_their_rule() {
    insta::glob!("..", "returns/invalid/*", |path| {
        let code = code_of(path).expect("invalid files are named CODE__what");
        let report = validate_file(path, &claim());
        assert!(!report.is_valid(), "{} should be rejected", path.display());
        assert!(
            report.findings.iter().any(|f| f.code.as_str() == code),
            "{} should trigger {code}, got:\n{}",
            path.display(),
            report.to_human()
        );
        for f in &report.findings {
            assert!(!f.message.is_empty());
        }
        insta::assert_snapshot!(report.to_human());
    });
}

#[test]
fn valid_returns_pass() {
    insta::glob!("..", "returns/valid/*", |path| {
        let report = validate_file(path, &claim());
        assert!(report.is_valid(), "{} should be valid:\n{}", path.display(), report.to_human());
        if let Some(code) = code_of(path) {
            assert!(report.findings.iter().any(|f| f.code.as_str() == code), "{} should warn {code}", path.display());
        }
        insta::assert_snapshot!(report.to_human());
    });
}

#[test]
fn every_rule_code_has_a_file_that_triggers_it() {
    let mut codes = BTreeSet::new();
    for dir in ["invalid", "valid"] {
        for e in std::fs::read_dir(repo().join("tests/returns").join(dir)).unwrap() {
            if let Some(c) = code_of(&e.unwrap().path()) {
                codes.insert(c);
            }
        }
    }
    for code in RuleCode::ALL {
        assert!(codes.contains(code.as_str()), "no test file triggers {code}");
    }
}

#[test]
fn findings_name_row_column_value_and_allowed_values() {
    let r = validate_file(&repo().join("tests/returns/invalid/E_CODELIST__landed_ashore.csv"), &claim());
    let f = r.findings.iter().find(|f| f.code == RuleCode::Codelist).unwrap();
    assert_eq!(f.row, Some(2));
    assert_eq!(f.column.as_deref(), Some("outcome"));
    assert_eq!(f.value.as_deref(), Some("landed_ashore"));
    assert!(f.message.contains("prevented_departure, intercepted_at_sea"), "{}", f.message);
    assert!(f.message.contains("did you mean 'landed'?"), "{}", f.message);

    let r = validate_file(&repo().join("tests/returns/invalid/E_UNIQUE__repeated_id.csv"), &claim());
    let f = r.findings.iter().find(|f| f.code == RuleCode::Unique).unwrap();
    assert_eq!(f.row, Some(3));
    assert!(f.message.contains("repeats row 1"), "{}", f.message);

    let r = validate_file(&repo().join("tests/returns/invalid/E_UNKNOWN_COLUMN__typo_persons.csv"), &claim());
    assert!(
        r.findings.iter().any(|f| f.code == RuleCode::MissingColumn && f.column.as_deref() == Some("persons_on_board"))
    );
    let f = r.findings.iter().find(|f| f.code == RuleCode::UnknownColumn).unwrap();
    assert!(f.message.contains("did you mean persons_on_board?"), "{}", f.message);

    let r = validate_file(&repo().join("tests/returns/invalid/E_TYPE__ambiguous_date.csv"), &claim());
    let f = r.findings.iter().find(|f| f.code == RuleCode::Type).unwrap();
    assert!(f.message.contains("YYYY-MM-DD"), "{}", f.message);
    assert_eq!((f.row, f.column.as_deref()), (Some(2), Some("event_date")));

    let r = validate_file(&repo().join("tests/returns/invalid/E_CORRUPT_FILE__ragged_row.csv"), &claim());
    assert_eq!(r.findings[0].row, Some(2));
    let r = validate_file(&repo().join("tests/returns/invalid/E_CORRUPT_FILE__not_utf8.csv"), &claim());
    assert!(r.findings[0].message.contains("CSV UTF-8"), "{}", r.findings[0].message);
}

#[test]
fn findings_are_capped_but_all_counted() {
    let mut csv = String::from(
        "reporting_member,reference_year,movement_id,event_date,outcome,embarkation_country,intended_destination,persons_on_board,deaths,missing\n",
    );
    for i in 0..50 {
        csv.push_str(&format!("AUS,2012,M-{i},2012-01-01,sunk,IDN,AUS,10,0,0\n"));
    }
    let v = Validator::new(crate::contract(), ValidateOptions::findings(7));
    let r = block_on(v.validate_bytes(csv.into_bytes().into(), "many.csv", &claim())).report;
    assert_eq!(r.findings.len(), 7);
    assert_eq!(r.errors, 50);
    assert!(r.truncated);
}

#[test]
fn dataset_member_and_year_are_inferred_and_said() {
    let r = validate_file(&repo().join("tests/returns/valid/maritime_basic.csv"), &Expected::default());
    assert!(r.is_valid());
    assert_eq!(r.dataset.as_deref(), Some("maritime_movements"));
    assert_eq!(r.member.as_deref(), Some("AUS"));
    assert_eq!(r.year, Some(2012));
    assert!(r.notes.iter().any(|n| n.contains("inferred")), "{:?}", r.notes);
}

#[test]
fn embedded_schemas_and_registry_load() {
    let s = crate::contract().schemas();
    assert_eq!(s.names().collect::<Vec<_>>().len(), 5);
    let reg = crate::contract().registry();
    assert_eq!(reg.reporting_members().count(), 45);
    assert!(reg.is_iso3("UNK") && reg.is_iso3("AUS") && !reg.is_iso3("aus"));
    let from_dir = fedreport_contract::Schemas::from_dir(&repo().join("schemas")).unwrap();
    assert_eq!(from_dir.names().collect::<Vec<_>>(), s.names().collect::<Vec<_>>());
}

/// Text columns with a code list are read from Parquet as dictionaries and
/// checked value by value; ids are checked in order until one is out of
/// order. Both must say exactly what a row-by-row check says: the same
/// return with bad codes, a bad length, an empty required value and
/// repeated ids, as Parquet and as CSV (read as text, row by row), gives the
/// same findings (rule, row, column, value, message).
#[test]
fn parquet_read_as_dictionaries_finds_what_text_read_row_by_row_finds() {
    use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
    use std::sync::Arc;
    let batch = fedreport_synth::return_batch(crate::contract(), 5, "AUS", "maritime_movements", 2012, 2.0).unwrap();
    let n = batch.num_rows();
    assert!(n > 500, "enough rows ({n})");
    let schema = batch.schema();
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    let text =
        |name: &str| cols[schema.index_of(name).unwrap()].as_any().downcast_ref::<StringArray>().unwrap().clone();
    let edit = |a: StringArray, f: &dyn Fn(usize, Option<&str>) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from((0..a.len()).map(|i| f(i, a.is_valid(i).then(|| a.value(i)))).collect::<Vec<_>>()))
    };
    let outcome = text("outcome");
    let embarkation = text("embarkation_country");
    let ids = text("movement_id");
    let repeated = ids.value(38).to_string();
    cols[schema.index_of("outcome").unwrap()] = edit(outcome, &|i, v| match i % 97 {
        13 => Some("Landed".into()),
        14 => Some("Rescued_at_sea".into()),
        15 => Some("lost_at_sea".into()),
        _ => v.map(str::to_string),
    });
    // lost at sea with no one dead or missing: the row rule, on a dictionary column
    for name in ["deaths", "missing"] {
        let at = schema.index_of(name).unwrap();
        let a = cols[at].as_any().downcast_ref::<arrow::array::Int32Array>().unwrap().clone();
        cols[at] = Arc::new(arrow::array::Int32Array::from_iter(
            (0..a.len()).map(|i| if i % 97 == 15 { Some(0) } else { a.is_valid(i).then(|| a.value(i)) }),
        ));
    }
    cols[schema.index_of("embarkation_country").unwrap()] = edit(embarkation, &|i, v| match i % 89 {
        7 => Some("idn".into()),
        8 => Some("XXX".into()),
        _ => v.map(str::to_string),
    });
    // ids in order, then a repeat, then out of order, then a long one
    cols[schema.index_of("movement_id").unwrap()] = edit(ids, &|i, v| match i {
        40 => Some(repeated.clone()),
        300 => Some("AUS-0000".into()),
        301 => Some("x".repeat(70)),
        _ => v.map(str::to_string),
    });
    let batch = RecordBatch::try_new(schema, cols).unwrap();
    let v = Validator::new(crate::contract(), ValidateOptions::findings(100_000));
    let expected = claim();
    let parquet = block_on(v.validate_bytes(fedreport_synth::parquet(&batch).unwrap().into(), "r.parquet", &expected));
    let csv = block_on(v.validate_bytes(fedreport_synth::csv(&batch).unwrap().into(), "r.csv", &expected));
    let said = |r: &Report| {
        r.findings
            .iter()
            .map(|f| (f.code, f.row, f.column.clone(), f.value.clone(), f.message.clone()))
            .collect::<Vec<_>>()
    };
    let (p, c) = (said(&parquet.report), said(&csv.report));
    assert_eq!(p, c, "Parquet:\n{}\nCSV:\n{}", parquet.report.to_human(), csv.report.to_human());
    let count = |code: RuleCode| p.iter().filter(|f| f.0 == code).count();
    assert!(count(RuleCode::Codelist) >= 4 * (n / 97).min(n / 89), "{}", parquet.report.to_human());
    assert_eq!(count(RuleCode::Unique), 1, "{}", parquet.report.to_human());
    assert!(count(RuleCode::RowRule) >= n / 97, "{}", parquet.report.to_human());
    assert!(p.iter().any(|f| f.0 == RuleCode::Range && f.2.as_deref() == Some("movement_id")));
    assert!(p.iter().any(|f| f.3.as_deref() == Some("idn") && f.4.contains("upper case")));
}
