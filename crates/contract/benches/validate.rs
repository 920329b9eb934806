//! Validation throughput on a 1,000,000-row `maritime_movements` return.
//!
//! `cargo bench --workspace --features fedreport/ballista --bench validate`
//! (the workspace's feature set, so nothing is built a second time) — prints,
//! for the return with its ids in order (as a case system exports them) and
//! with its rows shuffled, the median of 7 runs (after a warm-up) in rows per
//! second:
//!
//! - in memory: the whole path a focal point's file takes, from Parquet
//!   bytes to the report: decoding, type conversion, every column and row
//!   rule, uniqueness, identity; and decoding alone, to show where the time
//!   goes;
//! - the `fedreport validate` process on the same file, start to exit, when
//!   the release binary is built (`target/release/fedreport`, beside this
//!   benchmark's own folder).

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{RecordBatch, UInt32Array};
use fedreport_contract::{Expected, ValidateOptions, Validator};

const ROWS: usize = 1_000_000;
const RUNS: usize = 7;

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let contract = fedreport_forum::Forum::bali().contract;
    let batch = fedreport_synth::return_batch(&contract, 1, "IDN", "maritime_movements", 2012, 3100.0)
        .expect("synthetic batch");
    assert!(batch.num_rows() >= ROWS, "generator gave {} rows", batch.num_rows());
    let batch = batch.slice(0, ROWS);
    let id = batch.schema().index_of("movement_id").expect("movement_id");
    let sorted = arrow::compute::sort_to_indices(batch.column(id), None, None).expect("sort");
    // a fixed permutation (an LCG's Fisher–Yates), so every run shuffles alike
    let mut order: Vec<u32> = (0..ROWS as u32).collect();
    let mut x = 0x5eed_u64;
    for i in (1..ROWS).rev() {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        order.swap(i, (x >> 33) as usize % (i + 1));
    }
    let fedreport = std::env::current_exe().ok().and_then(|e| Some(e.parent()?.parent()?.join("fedreport")));
    let fedreport = fedreport.filter(|f| f.exists());
    let dir = tempfile::tempdir().expect("temporary folder");
    for (label, rows) in [("ids in order", sorted), ("rows shuffled", UInt32Array::from(order))] {
        let columns = batch.columns().iter().map(|c| arrow::compute::take(c, &rows, None).expect("take")).collect();
        let batch = RecordBatch::try_new(batch.schema(), columns).expect("batch");
        let bytes = bytes::Bytes::from(fedreport_synth::parquet(&batch).expect("parquet"));
        let (memory, decode) = in_memory(&rt, &contract, &bytes);
        println!(
            "validate maritime_movements, {label}: {ROWS} rows, {:.1} MiB Parquet (zstd), median of {RUNS} runs",
            bytes.len() as f64 / 1048576.0,
        );
        println!(
            "  in memory: {:.1} ms → {:.2} million rows/s (target 10); reading and decoding alone {:.1} ms",
            memory * 1e3,
            ROWS as f64 / memory / 1e6,
            decode * 1e3,
        );
        let Some(fedreport) = &fedreport else {
            println!("  the process: not measured (build the release binary first: cargo build --release)");
            continue;
        };
        let file = dir.path().join("IDN_maritime_movements_2012.parquet");
        std::fs::write(&file, &bytes).expect("write the file");
        let mut times = Vec::new();
        for i in 0..=RUNS {
            let t = Instant::now();
            let out = Command::new(fedreport)
                .args(["validate", "--member", "IDN", "--year", "2012"])
                .arg(&file)
                .output()
                .expect("run fedreport validate");
            let e = t.elapsed().as_secs_f64();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
            if i > 0 {
                times.push(e);
            }
        }
        let process = median(times);
        println!(
            "  `fedreport validate` process: {:.1} ms → {:.2} million rows/s (target 8)",
            process * 1e3,
            ROWS as f64 / process / 1e6
        );
    }
}

/// Median seconds to validate `bytes` in memory, and to decode them alone.
fn in_memory(
    rt: &tokio::runtime::Runtime,
    contract: &fedreport_contract::Contract,
    bytes: &bytes::Bytes,
) -> (f64, f64) {
    let validator = Validator::new(contract, ValidateOptions::default());
    let expected = Expected { dataset: None, member: Some("IDN".into()), year: Some(2012) };
    let mut times = Vec::new();
    for i in 0..=RUNS {
        let t = Instant::now();
        let r = rt.block_on(validator.validate_bytes(bytes.clone(), "bench.parquet", &expected)).report;
        let e = t.elapsed();
        assert!(r.is_valid(), "{}", r.to_human());
        assert_eq!(r.rows as usize, ROWS);
        if i > 0 {
            times.push(e.as_secs_f64());
        }
    }
    let mut decode = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let rows: usize = rt.block_on(async {
            use futures::StreamExt;
            use object_store::ObjectStoreExt;
            let store = Arc::new(object_store::memory::InMemory::new());
            let path = object_store::path::Path::from("f.parquet");
            store.put(&path, bytes.clone().into()).await.expect("put");
            let coded = validator.dictionary_columns();
            let mut opened = fedreport_contract::read::open_with(store, &path, "f.parquet", coded).await.expect("open");
            let mut n = 0;
            while let Some(b) = opened.batches.next().await {
                n += b.expect("batch").num_rows();
            }
            n
        });
        assert_eq!(rows, ROWS);
        decode.push(t.elapsed().as_secs_f64());
    }
    (median(times), median(decode))
}
