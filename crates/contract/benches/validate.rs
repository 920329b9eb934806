//! Validation throughput on a 1,000,000-row `maritime_movements` return.
//!
//! `cargo bench -p fedreport-contract --bench validate` — prints the median
//! of 7 runs (after a warm-up) in rows per second. Validation here is the
//! whole path a focal point's file takes: Parquet decoding, type conversion,
//! every column and row rule, uniqueness, identity.

use std::time::Instant;

use fedreport_contract::{Expected, ValidateOptions, Validator};

const ROWS: usize = 1_000_000;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let contract = fedreport_forum::Forum::bali().contract;
    let batch = fedreport_synth::return_batch(&contract, 1, "IDN", "maritime_movements", 2012, 3100.0)
        .expect("synthetic batch");
    assert!(batch.num_rows() >= ROWS, "generator gave {} rows", batch.num_rows());
    let batch = batch.slice(0, ROWS);
    let bytes = bytes::Bytes::from(fedreport_synth::parquet(&batch).expect("parquet"));
    let validator = Validator::new(&contract, ValidateOptions::default());
    let expected = Expected { dataset: None, member: Some("IDN".into()), year: Some(2012) };

    let mut times = Vec::new();
    for i in 0..8 {
        let t = Instant::now();
        let r = rt.block_on(validator.validate_bytes(bytes.clone(), "bench.parquet", &expected)).report;
        let e = t.elapsed();
        assert!(r.is_valid(), "{}", r.to_human());
        assert_eq!(r.rows as usize, ROWS);
        if i > 0 {
            times.push(e.as_secs_f64());
        }
    }
    // Reading alone (Parquet decoding into Arrow), to show where the time goes.
    let mut decode = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let rows: usize = rt.block_on(async {
            use futures::StreamExt;
            use object_store::ObjectStoreExt;
            let store = std::sync::Arc::new(object_store::memory::InMemory::new());
            let path = object_store::path::Path::from("f.parquet");
            store.put(&path, bytes.clone().into()).await.expect("put");
            let mut opened = fedreport_contract::read::open(store, &path, "f.parquet").await.expect("open");
            let mut n = 0;
            while let Some(b) = opened.batches.next().await {
                n += b.expect("batch").num_rows();
            }
            n
        });
        assert_eq!(rows, ROWS);
        decode.push(t.elapsed().as_secs_f64());
    }
    decode.sort_by(f64::total_cmp);
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "validate maritime_movements: {ROWS} rows, {:.1} MiB Parquet (zstd), median of {} runs {:.1} ms → {:.0} rows/s (min {:.1} ms, max {:.1} ms; target 2,000,000 rows/s)",
        bytes.len() as f64 / 1048576.0,
        times.len(),
        median * 1e3,
        ROWS as f64 / median,
        times[0] * 1e3,
        times[times.len() - 1] * 1e3
    );
    let d = decode[decode.len() / 2];
    println!(
        "  of which reading and decoding the Parquet file: median {:.1} ms ({:.0} per cent); checks and conversion: {:.1} ms",
        d * 1e3,
        100.0 * d / median,
        (median - d) * 1e3
    );
}
