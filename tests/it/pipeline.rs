//! The indicator pipeline on the golden lake (`tests/golden/`): a small
//! fixed set of returns whose expected tables were computed by hand
//! (`tests/golden/expected/*.csv`), covering zero-row returns, a first year
//! with no earlier year, zero denominators, ties in the capacity ranking and
//! in top_provider, members that never reported, a resubmission, a rejected
//! file, a late return, and five years of one member's capacity needs with
//! an outlier year (W_OUTLIER). Plus invariance, reproducibility and disclosure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use fedreport_contract::{ValidateOptions, Validator};
use fedreport_engine::{RunOptions, RunOutcome};
use fedreport_store::{Lake, intake, submit};

use crate::{block_on, repo};

fn golden() -> PathBuf {
    repo().join("tests/golden")
}

pub fn dataset_of(file: &str) -> &'static str {
    match file.split('_').next().unwrap_or("") {
        "maritime" => "maritime_movements",
        "enforcement" => "enforcement_cases",
        "victims" => "trafficking_victims",
        "legal" => "legal_framework",
        "capacity" => "capacity_needs",
        other => panic!("golden file prefix {other}"),
    }
}

pub fn year_of(file: &str) -> i32 {
    file.split(['_', '.']).find_map(|p| p.parse().ok()).expect("a year in the golden file name")
}

/// The golden inbox files (member, file name, bytes), in order.
pub fn golden_files() -> Vec<(String, String, Vec<u8>)> {
    let mut out = Vec::new();
    for m in ["AUS", "IDN", "NZL"] {
        let mut names: Vec<_> = std::fs::read_dir(golden().join("inbox").join(m))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        names.sort();
        for n in names {
            let bytes = std::fs::read(golden().join("inbox").join(m).join(&n)).unwrap();
            out.push((m.to_string(), n, bytes));
        }
    }
    out
}

fn received(file: &str) -> std::time::SystemTime {
    let t: toml::Table = toml::from_str(&std::fs::read_to_string(golden().join("received.toml")).unwrap()).unwrap();
    let s = t["files"].get(file).unwrap_or(&t["default"]).as_str().unwrap().to_string();
    chrono::DateTime::parse_from_rfc3339(&s).unwrap().into()
}

/// Build the golden lake in `dir`, converting each file with `transform`
/// (to write the same returns as other writers would).
pub async fn build_lake(dir: &Path, files: Vec<GoldenFile>) -> Lake {
    let lake = Lake::open(&dir.to_string_lossy()).unwrap();
    let v = Validator::new(crate::contract(), ValidateOptions::default());
    for (member, name, name2, bytes) in files {
        let s = submit(&lake, &v, bytes.clone().into(), &name2, &member, Some(dataset_of(&name)), Some(year_of(&name)))
            .await
            .unwrap();
        let key = match s.submission {
            Some((_, key)) => key,
            None => {
                // invalid: dropped in the inbox by hand, as focal points do
                let key = format!("inbox/{member}/{name2}");
                lake.put_new(&key, bytes.into()).await.unwrap();
                key
            }
        };
        let path = dir.join(&key);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(received(&format!("{member}/{name}")))
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
    let sum = intake(&lake, &v, &Default::default(), &mut |_, _, _| {}).await.unwrap();
    assert_eq!(sum.rejected(), 1, "only the NZL draft is rejected");
    lake
}

pub fn options(partitions: usize) -> RunOptions {
    RunOptions {
        year: Some(2012),
        set: vec![("yoy_factor".into(), "1.4".into()), ("drop_min_rows".into(), "1".into())],
        target_partitions: Some(partitions),
        engine: None,
        cold: false,
        read_in_place_from: None,
    }
}

pub async fn run(lake: &Lake, partitions: usize) -> RunOutcome {
    fedreport_engine::run(lake, crate::contract(), &crate::bali().pipeline, &options(partitions), &mut |_| {})
        .await
        .unwrap()
}

fn csv(outcome: &RunOutcome, table: &str) -> String {
    String::from_utf8(fedreport_engine::output::csv(&outcome.tables[table]).unwrap()).unwrap()
}

/// The golden files, each converted with `transform` (member, name, new name, bytes).
/// (member, original name, name as submitted, bytes)
type GoldenFile = (String, String, String, Vec<u8>);

/// Rewrites one golden file (member, name, bytes) as another writer would.
type Transform = dyn Fn(&str, &str, Vec<u8>) -> (String, Vec<u8>);

fn files(transform: &Transform) -> Vec<GoldenFile> {
    golden_files()
        .into_iter()
        .map(|(m, n, b)| {
            let (n2, b) = transform(&m, &n, b);
            (m, n, n2, b)
        })
        .collect()
}

/// The golden files as focal points submit them.
pub fn golden_as_submitted() -> Vec<GoldenFile> {
    files(&same_name)
}

fn same_name(_member: &str, name: &str, b: Vec<u8>) -> (String, Vec<u8>) {
    (name.to_string(), b)
}

#[test]
fn golden_tables_match_the_hand_computed_ones() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let lake = build_lake(dir.path(), files(&same_name)).await;
        let outcome = run(&lake, 2).await;
        let mut checked = 0;
        for e in std::fs::read_dir(golden().join("expected")).unwrap() {
            let path = e.unwrap().path();
            let table = path.file_stem().unwrap().to_string_lossy().to_string();
            let expected = std::fs::read_to_string(&path).unwrap();
            assert_eq!(csv(&outcome, &table), expected, "table {table} differs from tests/golden/expected/{table}.csv");
            checked += 1;
        }
        assert_eq!(checked, 11);
        // completeness: 5 years (2008–2012) × 45 members × 5 datasets, snapshotted and spot-checked
        let c = csv(&outcome, "completeness");
        assert_eq!(c.lines().count(), 1 + 5 * 45 * 5);
        assert!(c.contains("2012,NZL,maritime_movements,rejected,,,\n"), "rejected only");
        assert!(
            c.contains("2012,AUS,legal_framework,accepted,2,2013-02-01T09:00:00.000Z,true\n"),
            "resubmission is version 2"
        );
        assert!(c.contains("2012,NZL,capacity_needs,accepted,1,2013-03-05T09:00:00.000Z,false\n"), "late");
        assert!(
            c.contains("2012,IDN,trafficking_victims,accepted,1,2013-02-28T23:59:59.000Z,true\n"),
            "on the deadline is on time"
        );
        assert!(c.contains("2010,VNM,capacity_needs,missing,,,\n"), "never reported");
        insta::assert_snapshot!("golden_completeness", c);
        // unpublished steps are not written
        assert!(!outcome.tables.contains_key("victims_counts") && !outcome.tables.contains_key("member_series"));
        assert!(outcome.manifest.outputs.iter().all(|o| o.table != "victims_counts"));
        assert!(outcome.manifest.warnings.iter().any(|w| w.contains("only one")), "{:?}", outcome.manifest.warnings);
        // every output table is in the lake, as the manifest says
        for o in &outcome.manifest.outputs {
            let bytes = lake.get(&o.csv.key).await.unwrap();
            assert_eq!(fedreport_store::layout::sha256_hex(&bytes), o.csv.sha256);
        }
        assert_eq!(
            outcome.manifest.inputs.len(),
            23,
            "24 accepted files, two of them versions of one slot: 23 current versions"
        );
        // five years of AUS capacity needs: 12 rows in 2008 against 1, 1, 0 and 3 is an outlier
        assert!(c.contains("2008,AUS,capacity_needs,accepted,1,"), "{c}");
    });
}

#[test]
fn partitions_runs_and_replays_give_byte_identical_tables() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let lake = build_lake(dir.path(), files(&same_name)).await;
        let one = run(&lake, 1).await;
        let eight = run(&lake, 8).await;
        let again = run(&lake, 8).await;
        for o in &one.manifest.outputs {
            let e = eight.manifest.output(&o.table).unwrap();
            let a = again.manifest.output(&o.table).unwrap();
            assert_eq!(o.csv.sha256, e.csv.sha256, "{} differs between 1 and 8 partitions", o.table);
            assert_eq!(o.parquet.sha256, e.parquet.sha256, "{} parquet differs between 1 and 8 partitions", o.table);
            assert_eq!(e.csv.sha256, a.csv.sha256, "{} differs between two runs", o.table);
        }
        // a resubmission after the run does not change the replay of the run
        let v = Validator::new(crate::contract(), ValidateOptions::default());
        let legal = b"reporting_member,reference_year,smuggling_criminalised,trafficking_criminalised,untoc_party,smuggling_protocol_party,tip_protocol_party,policy_guide_adopted\nIDN,2012,full,full,true,true,true,true\n";
        submit(&lake, &v, legal.to_vec().into(), "l.csv", "IDN", None, None).await.unwrap();
        intake(&lake, &v, &Default::default(), &mut |_, _, _| {}).await.unwrap();
        let manifest = fedreport_store::manifest::load_manifest(&lake, &one.manifest.run_id).await.unwrap();
        let (replayed, diffs) =
            fedreport_engine::replay(&lake, crate::contract(), &manifest, &mut |_| {}).await.unwrap();
        assert!(diffs.is_empty(), "{diffs:?}");
        assert_eq!(replayed.manifest.replay_of.as_deref(), Some(one.manifest.run_id.as_str()));
        let newer = run(&lake, 2).await;
        assert_ne!(
            newer.manifest.output("legal_framework_summary").unwrap().csv.sha256,
            one.manifest.output("legal_framework_summary").unwrap().csv.sha256,
            "a new run sees the resubmission"
        );
    });
}

/// The same return written as another tool would write it.
fn as_parquet_variant(variant: usize) -> impl Fn(&str, &str, Vec<u8>) -> (String, Vec<u8>) {
    move |member: &str, name: &str, bytes: Vec<u8>| {
        if name.contains("draft") {
            return (name.to_string(), bytes);
        }
        let (report, data) = crate::writers::canonical(
            bytes,
            name,
            &fedreport_contract::Expected {
                dataset: Some(dataset_of(name).into()),
                member: Some(member.into()),
                year: Some(year_of(name)),
            },
        );
        let batch = data.unwrap_or_else(|| panic!("{name}: {}", report.to_human()));
        let (string, int, compression, rg) = match variant {
            0 => (DataType::LargeUtf8, DataType::Int64, Compression::SNAPPY, 1),
            1 => (DataType::Utf8View, DataType::UInt16, Compression::ZSTD(Default::default()), 2),
            _ => (
                DataType::Dictionary(Box::new(DataType::Int16), Box::new(DataType::Utf8)),
                DataType::Int32,
                Compression::UNCOMPRESSED,
                1000,
            ),
        };
        let fields: Vec<Field> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Utf8 => Field::new(f.name(), string.clone(), true),
                DataType::Int32 => Field::new(f.name(), int.clone(), true),
                _ => f.as_ref().clone(),
            })
            .collect();
        let cols = batch.columns().iter().zip(&fields).map(|(c, f)| cast(c, f.data_type()).unwrap()).collect();
        let b = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
        let props =
            WriterProperties::builder().set_compression(compression).set_max_row_group_row_count(Some(rg)).build();
        let mut buf = Vec::new();
        let mut w = ArrowWriter::try_new(&mut buf, b.schema(), Some(props)).unwrap();
        w.write(&b).unwrap();
        w.close().unwrap();
        (name.replace(".csv", ".parquet"), buf)
    }
}

#[test]
fn writers_types_compressions_and_row_groups_do_not_change_the_tables() {
    let variants: Vec<_> = (0..3).map(|v| files(&as_parquet_variant(v))).collect();
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let reference = run(&build_lake(dir.path(), files(&same_name)).await, 2).await;
        for (variant, variant_files) in variants.into_iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let lake = build_lake(dir.path(), variant_files).await;
            let outcome = run(&lake, 2).await;
            for o in &reference.manifest.outputs {
                assert_eq!(csv(&outcome, &o.table), csv(&reference, &o.table), "variant {variant}: {}", o.table);
            }
        }
    });
}

/// An attacker who knows everything published — the member table, the
/// regional victim totals and the rules — tries every assignment of the
/// hidden cells of a year (each column's hidden cells must add up to the
/// regional total where one is published; children and referred never exceed
/// victims in a row) and checks whether some hidden cell has only one
/// possible value.
fn recoverable_cells(by_member: &RecordBatch, regional: &RecordBatch, k: i64) -> Vec<String> {
    let year_of = |b: &RecordBatch, i: usize| b.column(0).as_primitive::<Int32Type>().value(i);
    let col = |b: &RecordBatch, n: &str| cast(b.column(b.schema().index_of(n).unwrap()), &DataType::Int64).unwrap();
    let mut years: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for i in 0..by_member.num_rows() {
        years.entry(year_of(by_member, i)).or_default().push(i);
    }
    let mut totals: BTreeMap<(i32, &str), i64> = BTreeMap::new();
    let rv = col(regional, "victims");
    let rv = rv.as_primitive::<Int64Type>();
    let age = regional.column(2).as_string::<i32>();
    for i in 0..regional.num_rows() {
        let y = year_of(regional, i);
        *totals.entry((y, "victims")).or_default() += rv.value(i);
        if age.value(i) == "child" {
            *totals.entry((y, "children")).or_default() += rv.value(i);
        }
    }
    let cols = ["victims", "children", "referred"];
    let arrays: Vec<_> = cols.iter().map(|c| col(by_member, c)).collect();
    let mut found = Vec::new();
    for (y, rows) in years {
        // cells: (row, column) hidden
        let hidden: Vec<(usize, usize)> =
            rows.iter().flat_map(|&r| (0..3).map(move |c| (r, c))).filter(|&(r, c)| arrays[c].is_null(r)).collect();
        if hidden.is_empty() {
            continue;
        }
        let max_v = totals.get(&(y, "victims")).copied().unwrap_or(200).max(k);
        let mut possible: Vec<std::collections::BTreeSet<i64>> = vec![Default::default(); hidden.len()];
        let mut values = vec![0i64; hidden.len()];
        fn search(
            i: usize,
            hidden: &[(usize, usize)],
            values: &mut Vec<i64>,
            possible: &mut Vec<std::collections::BTreeSet<i64>>,
            check: &dyn Fn(&[i64]) -> bool,
            max_v: i64,
            budget: &mut u64,
        ) {
            if *budget == 0 {
                return;
            }
            if i == hidden.len() {
                *budget -= 1;
                if check(values) {
                    for (j, v) in values.iter().enumerate() {
                        possible[j].insert(*v);
                    }
                }
                return;
            }
            for v in 0..=max_v {
                values[i] = v;
                search(i + 1, hidden, values, possible, check, max_v, budget);
            }
        }
        let check = |vals: &[i64]| -> bool {
            let get = |r: usize, c: usize| -> i64 {
                match hidden.iter().position(|&h| h == (r, c)) {
                    Some(p) => vals[p],
                    None => arrays[c].as_primitive::<Int64Type>().value(r),
                }
            };
            for (ci, name) in cols.iter().enumerate() {
                if let Some(t) = totals.get(&(y, *name))
                    && rows.iter().map(|&r| get(r, ci)).sum::<i64>() != *t
                {
                    return false;
                }
            }
            rows.iter().all(|&r| get(r, 1) <= get(r, 0) && get(r, 2) <= get(r, 0))
        };
        let mut budget = 5_000_000u64;
        search(0, &hidden, &mut values, &mut possible, &check, max_v, &mut budget);
        for (j, p) in possible.iter().enumerate() {
            if p.len() == 1 {
                let (r, c) = hidden[j];
                found.push(format!("{y} row {r} {}: {:?}", cols[c], p));
            }
        }
    }
    found
}

#[test]
fn no_hidden_victim_count_can_be_recovered() {
    block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let lake = build_lake(dir.path(), files(&same_name)).await;
        let outcome = run(&lake, 2).await;
        let by_member = &outcome.tables["victims_by_member"];
        assert!(by_member.column(2).null_count() > 0, "the golden lake has suppressed cells");
        let found = recoverable_cells(by_member, &outcome.tables["victims_regional"], 5);
        assert!(found.is_empty(), "recoverable: {found:?}");
        // and the published files never hold a hidden value: compare with the raw counts
        let published = String::from_utf8(
            lake.get(&outcome.manifest.output("victims_by_member").unwrap().csv.key).await.unwrap().to_vec(),
        )
        .unwrap();
        assert!(published.contains("2012,IDN,,,,true"), "{published}");
    });
}
