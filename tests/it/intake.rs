//! Intake on a real local lake: versions, idempotence, identity, and
//! recovery after a failure injected between every pair of write steps.

use std::collections::BTreeMap;
use std::sync::Arc;

use fedreport_contract::{RuleCode, ValidateOptions, Validator};
use fedreport_store::{Lake, Status, intake, receipt, submit};

use crate::block_on;
use crate::faults::FaultyStore;

fn validator() -> Validator {
    Validator::new(crate::contract(), ValidateOptions::default())
}

fn lake() -> (tempfile::TempDir, Lake) {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(&dir.path().to_string_lossy()).unwrap();
    (dir, lake)
}

fn parquet(member: &str, dataset: &str, year: i32, scale: f64) -> Vec<u8> {
    fedreport_synth::parquet(
        &fedreport_synth::return_batch(crate::contract(), 11, member, dataset, year, scale).unwrap(),
    )
    .unwrap()
}

async fn drop_in(lake: &Lake, member: &str, name: &str, bytes: Vec<u8>) {
    lake.put_new(&format!("inbox/{member}/{name}"), bytes.into()).await.unwrap();
}

async fn run(lake: &Lake) -> fedreport_store::IntakeSummary {
    intake(lake, &validator(), &Default::default(), &mut |_, _, _| {}).await.unwrap()
}

async fn keys(lake: &Lake, prefix: &str) -> Vec<String> {
    lake.list(prefix).await.unwrap().iter().map(|m| lake.rel(&m.location)).collect()
}

/// The version objects of the lake (without the claims that reserve their numbers).
async fn versions(lake: &Lake) -> Vec<String> {
    keys(lake, "accepted/").await.into_iter().filter(|k| k.ends_with(".parquet")).collect()
}

#[test]
fn same_bytes_twice_make_one_version() {
    block_on(async {
        let (_d, lake) = lake();
        let b = parquet("AUS", "maritime_movements", 2012, 1.0);
        let v = validator();
        for _ in 0..2 {
            let s = submit(&lake, &v, b.clone().into(), "m.parquet", "AUS", None, None).await.unwrap();
            assert!(s.submission.is_some(), "{}", s.report.to_human());
        }
        let sum = run(&lake).await;
        assert_eq!(sum.decisions.len(), 2);
        assert_eq!(sum.new_versions(), 1);
        assert_eq!(sum.duplicates(), 1);
        assert_eq!(versions(&lake).await, vec!["accepted/maritime_movements/2012/AUS/v000001.parquet"]);
        assert!(keys(&lake, "inbox/").await.is_empty());
        let rs = receipt::list(&lake, Some("AUS")).await.unwrap();
        assert_eq!(rs.len(), 2);
        assert!(rs.iter().all(|r| r.status == Status::Accepted && r.version == Some(1)));
        assert_eq!(rs.iter().filter(|r| r.duplicate).count(), 1);
        // and running intake again changes nothing
        assert!(run(&lake).await.decisions.is_empty());
    });
}

#[test]
fn a_resubmission_is_version_2_and_version_1_is_kept() {
    block_on(async {
        let (_d, lake) = lake();
        let v = validator();
        let first = parquet("IDN", "maritime_movements", 2011, 1.0);
        submit(&lake, &v, first.clone().into(), "a.parquet", "IDN", None, None).await.unwrap();
        run(&lake).await;
        let v1 = lake.get("accepted/maritime_movements/2011/IDN/v000001.parquet").await.unwrap();
        let second = parquet("IDN", "maritime_movements", 2011, 1.3);
        submit(&lake, &v, second.into(), "b.parquet", "IDN", None, None).await.unwrap();
        let sum = run(&lake).await;
        assert_eq!(sum.decisions[0].version, Some(2));
        assert_eq!(
            versions(&lake).await,
            vec![
                "accepted/maritime_movements/2011/IDN/v000001.parquet",
                "accepted/maritime_movements/2011/IDN/v000002.parquet"
            ]
        );
        assert_eq!(lake.get("accepted/maritime_movements/2011/IDN/v000001.parquet").await.unwrap(), v1, "v1 untouched");
        let current = fedreport_store::current_versions(&lake, None).await.unwrap();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0].version, 2);
        // the footer carries the provenance
        let key = "accepted/maritime_movements/2011/IDN/v000002.parquet";
        let m = lake.head(key).await.unwrap();
        let md = intake::footer(&lake, &m.location, m.size).await.unwrap();
        assert_eq!(md["fedreport.version"], "2");
        assert_eq!(md["fedreport.member"], "IDN");
    });
}

#[test]
fn a_file_naming_another_member_is_rejected_and_nothing_is_accepted() {
    block_on(async {
        let (_d, lake) = lake();
        let v = validator();
        let nzl = parquet("NZL", "enforcement_cases", 2012, 1.0);
        // submit refuses it locally…
        let s = submit(&lake, &v, nzl.clone().into(), "e.parquet", "AUS", None, None).await.unwrap();
        assert!(s.submission.is_none());
        assert!(s.report.findings.iter().any(|f| f.code == RuleCode::Identity));
        // …and intake rejects it when dropped in the inbox by hand.
        drop_in(&lake, "AUS", "e.parquet", nzl).await;
        let sum = run(&lake).await;
        assert_eq!(sum.rejected(), 1);
        assert!(keys(&lake, "accepted/").await.is_empty());
        let r = &receipt::list(&lake, Some("AUS")).await.unwrap()[0];
        assert_eq!(r.status, Status::Rejected);
        assert!(r.findings.iter().any(|f| f.code == RuleCode::Identity), "{:?}", r.findings);
        assert_eq!(keys(&lake, "rejected/").await.len(), 1, "the rejected file is kept");
    });
}

/// Receipts and stored keys, without the decision time (which differs between runs).
async fn state(lake: &Lake) -> (Vec<String>, BTreeMap<String, (Status, Option<u32>, bool)>, Vec<String>) {
    let mut stored = keys(lake, "accepted/").await;
    stored.extend(keys(lake, "rejected/").await);
    let receipts = receipt::list(lake, None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (format!("{}/{}", r.member, r.file), (r.status, r.version, r.duplicate)))
        .collect();
    (stored, receipts, keys(lake, "inbox/").await)
}

/// The intake ledger says what a listing of the lake says: the same
/// current versions, and a record of every receipt.
async fn ledger_agrees(lake: &Lake, context: &str) {
    let read = fedreport_store::ledger::read(lake, false, false).await.unwrap().expect("intake wrote a ledger");
    let from_ledger: Vec<String> = read.state.current(None).into_iter().map(|v| v.key).collect();
    let listed: Vec<String> =
        fedreport_store::listed_versions(lake, None).await.unwrap().into_iter().map(|v| v.key).collect();
    assert_eq!(from_ledger, listed, "{context}: the ledger's current versions");
    let filed: Vec<String> = read.state.filed().into_iter().map(|f| f.submission_id).collect();
    let mut receipts: Vec<String> =
        receipt::list(lake, None).await.unwrap().into_iter().map(|r| r.submission_id).collect();
    let mut sorted = filed.clone();
    sorted.sort();
    receipts.sort();
    assert_eq!(sorted, receipts, "{context}: the ledger's receipts");
    for v in read.state.current(None) {
        let bytes = lake.get(&v.key).await.unwrap();
        let sha = fedreport_store::layout::sha256_hex(&bytes);
        assert_eq!(v.sha256.as_deref(), Some(sha.as_str()), "{context}: the ledger's sha256 of {}", v.key);
    }
}

async fn seed(lake: &Lake) {
    // a new return, its correction, a duplicate, and an invalid file
    drop_in(lake, "AUS", "a1.parquet", parquet("AUS", "maritime_movements", 2012, 1.0)).await;
    drop_in(lake, "AUS", "a2.parquet", parquet("AUS", "maritime_movements", 2012, 1.2)).await;
    drop_in(lake, "MYS", "m1.parquet", parquet("MYS", "legal_framework", 2012, 1.0)).await;
    drop_in(lake, "MYS", "m2.parquet", parquet("MYS", "legal_framework", 2012, 1.0)).await;
    drop_in(lake, "THA", "bad.csv", b"reporting_member,reference_year\nTHA,2012\n".to_vec()).await;
}

#[test]
fn a_failure_between_any_two_writes_is_completed_by_the_next_intake() {
    block_on(async {
        let (_d, reference) = lake();
        seed(&reference).await;
        let counting = Arc::new(FaultyStore::new(reference.store(), usize::MAX));
        run(&reference.with_store(counting.clone())).await;
        // intake hashes each version it writes on the way up and reads none
        // back whole, but for the version a duplicate (MYS's second legal
        // framework file, the same bytes) is recorded against
        let read_back: Vec<String> = counting
            .take_reads()
            .into_iter()
            .filter(|(k, p)| *k == "get" && p.contains("/accepted/") && p.ends_with(".parquet"))
            .map(|(_, p)| p)
            .collect();
        assert_eq!(read_back.len(), 1, "{read_back:?}");
        assert!(read_back[0].ends_with("accepted/legal_framework/2012/MYS/v000001.parquet"), "{read_back:?}");
        let expected = state(&reference).await;
        let total = counting.writes();
        assert!(total >= 12, "intake made {total} writes");
        assert!(expected.2.is_empty());
        ledger_agrees(&reference, "without a failure").await;

        for allowed in 0..total {
            let (_d, lake) = lake();
            seed(&lake).await;
            let faulty = lake.with_store(Arc::new(FaultyStore::new(lake.store(), allowed)));
            let crashed = intake(&faulty, &validator(), &Default::default(), &mut |_, _, _| {}).await;
            assert!(crashed.is_err(), "write {allowed} should have failed");
            run(&lake).await;
            let got = state(&lake).await;
            // inbox files are named differently per lake; compare the rest
            assert_eq!(got, expected, "after a failure at write {allowed}");
            ledger_agrees(&lake, &format!("after a failure at write {allowed}")).await;
        }
    });
}
