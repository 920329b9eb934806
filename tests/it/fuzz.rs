//! Property tests: no input makes `validate` or `intake` panic. Arbitrary
//! bytes (as Parquet and as CSV), damaged valid files, and arbitrary Arrow
//! batches (random types, nulls, missing and extra columns) written as
//! Parquet all end in a report or a receipt.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int8Array, Int64Array, RecordBatch, StringArray, UInt32Array,
    new_null_array,
};
use arrow::datatypes::{DataType, Field, Schema};
use fedreport_contract::{Expected, ValidateOptions, Validator};
use fedreport_store::{Lake, intake, receipt};
use proptest::prelude::*;

use crate::block_on;

fn check(bytes: Vec<u8>, name: &str) {
    let v = Validator::new(crate::contract(), ValidateOptions::findings(50));
    let r = block_on(v.validate_bytes(bytes.into(), name, &Expected::default())).report;
    assert!(r.findings.len() <= 50);
    if !r.is_valid() {
        assert!(!r.findings.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        check(bytes.clone(), "x.parquet");
        check(bytes.clone(), "x.csv");
        let mut magic = b"PAR1".to_vec();
        magic.extend(&bytes);
        magic.extend(b"PAR1");
        check(magic, "x.parquet");
    }

    #[test]
    fn csv_like_text_never_panics(text in "[a-z_,;\"\r\n0-9 \\-]{0,400}") {
        let mut s = String::from("reporting_member,reference_year,movement_id,event_date,outcome\n");
        s.push_str(&text);
        check(s.into_bytes(), "x.csv");
    }

    #[test]
    fn damaged_parquet_never_panics(cut in 0usize..4000, flips in proptest::collection::vec((0usize..4000, any::<u8>()), 0..6)) {
        let batch = fedreport_synth::return_batch(crate::contract(), 3, "AUS", "maritime_movements", 2012, 0.2).unwrap();
        let mut bytes = fedreport_synth::parquet(&batch).unwrap();
        for (at, b) in flips {
            let n = bytes.len();
            bytes[at % n] ^= b;
        }
        let n = bytes.len();
        bytes.truncate(n - cut % n);
        check(bytes, "x.parquet");
    }

    #[test]
    fn arbitrary_batches_never_panic_validate_or_intake(spec in batch_spec()) {
        let bytes = write(&spec);
        check(bytes.clone(), "x.parquet");
        block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let lake = Lake::open(&dir.path().to_string_lossy()).unwrap();
            lake.put_new("inbox/AUS/x.parquet", bytes.into()).await.unwrap();
            let v = Validator::new(crate::contract(), ValidateOptions::default());
            let sum = intake(&lake, &v, &Default::default(), &mut |_, _, _| {}).await.unwrap();
            assert_eq!(sum.decisions.len(), 1);
            assert_eq!(receipt::list(&lake, Some("AUS")).await.unwrap().len(), 1);
        });
    }
}

/// One column: (name index or random name, type choice, values).
#[derive(Debug, Clone)]
struct ColSpec {
    name: String,
    ty: u8,
    ints: Vec<Option<i64>>,
    texts: Vec<Option<String>>,
}

fn batch_spec() -> impl Strategy<Value = Vec<ColSpec>> {
    let schema = crate::contract().schemas().get("maritime_movements").unwrap().clone();
    let names: Vec<String> =
        schema.columns.iter().map(|c| c.name.clone()).chain(["__index_level_0__".into(), "extra".into()]).collect();
    (0usize..12).prop_flat_map(move |rows| {
        let names = names.clone();
        proptest::collection::vec(
            (
                proptest::sample::select(names),
                0u8..9,
                proptest::collection::vec(proptest::option::weighted(0.9, -3_000_000_000i64..3_000_000_000), rows),
                proptest::collection::vec(
                    proptest::option::weighted(
                        0.9,
                        prop_oneof!["AUS", "2012", "landed", "IDN", "[A-Za-z0-9 _é]{0,70}"],
                    ),
                    rows,
                ),
            )
                .prop_map(|(name, ty, ints, texts)| ColSpec { name, ty, ints, texts }),
            0..12,
        )
    })
}

fn write(spec: &[ColSpec]) -> Vec<u8> {
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for c in spec {
        if !seen.insert(c.name.clone()) {
            continue;
        }
        let n = c.ints.len();
        let (dt, arr): (DataType, ArrayRef) = match c.ty {
            0 => (DataType::Int64, Arc::new(Int64Array::from(c.ints.clone()))),
            1 => (
                DataType::Int8,
                Arc::new(Int8Array::from(c.ints.iter().map(|v| v.map(|x| x as i8)).collect::<Vec<_>>())),
            ),
            2 => (
                DataType::UInt32,
                Arc::new(UInt32Array::from(c.ints.iter().map(|v| v.map(|x| x as u32)).collect::<Vec<_>>())),
            ),
            3 => (
                DataType::Float64,
                Arc::new(Float64Array::from(c.ints.iter().map(|v| v.map(|x| x as f64 / 3.0)).collect::<Vec<_>>())),
            ),
            4 => (
                DataType::Date32,
                Arc::new(Date32Array::from(c.ints.iter().map(|v| v.map(|x| (x % 40_000) as i32)).collect::<Vec<_>>())),
            ),
            5 => (
                DataType::Boolean,
                Arc::new(BooleanArray::from(c.ints.iter().map(|v| v.map(|x| x % 2 == 0)).collect::<Vec<_>>())),
            ),
            6 => (DataType::Null, new_null_array(&DataType::Null, n)),
            7 => {
                let a: ArrayRef = Arc::new(StringArray::from(c.texts.clone()));
                (DataType::LargeUtf8, arrow::compute::cast(&a, &DataType::LargeUtf8).unwrap())
            }
            _ => (DataType::Utf8, Arc::new(StringArray::from(c.texts.clone()))),
        };
        fields.push(Field::new(&c.name, dt, true));
        cols.push(arr);
    }
    let rows = spec.first().map_or(0, |c| c.ints.len());
    let batch = if cols.is_empty() {
        RecordBatch::try_new_with_options(
            Arc::new(Schema::empty()),
            vec![],
            &arrow::array::RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .unwrap()
    } else {
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
    };
    fedreport_synth::parquet(&batch).unwrap()
}
