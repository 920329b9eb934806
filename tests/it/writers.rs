//! Files written the way real tools write them validate cleanly and convert
//! to the same canonical data: pandas, polars, DuckDB and pyarrow files
//! (committed, made by `tests/returns/writers/make.py`), and arrow-rs
//! variants of every lenient type conversion, compression and row-group size.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
use fedreport_contract::{Expected, Report, RuleCode, ValidateOptions, Validator};
use object_store::ObjectStoreExt;
use parquet::arrow::ArrowWriter;
use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::{block_on, repo};

/// Validate bytes and return the report plus the canonical data.
pub fn canonical(bytes: Vec<u8>, name: &str, expected: &Expected) -> (Report, Option<RecordBatch>) {
    let v = Validator::new(crate::contract(), ValidateOptions::default());
    block_on(async {
        let store = Arc::new(object_store::memory::InMemory::new());
        let p = object_store::path::Path::from("f");
        store.put(&p, bytes.into()).await.unwrap();
        let mut batches = Vec::new();
        let r = v
            .validate(store, &p, name, expected, |b| {
                batches.push(b);
                Ok(())
            })
            .await;
        let data = r
            .schema
            .as_ref()
            .filter(|_| r.report.is_valid())
            .map(|s| concat_batches(&s.arrow_schema(), &batches).unwrap());
        (r.report, data)
    })
}

fn aus2012() -> Expected {
    Expected { dataset: None, member: Some("AUS".into()), year: Some(2012) }
}

fn fixture(name: &str) -> (Report, Option<RecordBatch>) {
    let bytes = std::fs::read(repo().join("tests/returns/writers").join(name)).unwrap();
    canonical(bytes, name, &aus2012())
}

#[test]
fn real_writers_validate_cleanly_and_agree() {
    let (_, reference) = fixture("r_arrow_maritime.parquet");
    let reference = reference.expect("R arrow file is valid");
    for name in [
        "pandas_maritime.parquet",
        "pandas_maritime_index.parquet",
        "pandas_maritime_tz.parquet",
        "polars_maritime.parquet",
        "polars_maritime_categorical.parquet",
        "pyarrow_dictionary_uint.parquet",
    ] {
        let (report, data) = fixture(name);
        assert!(report.is_valid(), "{name}:\n{}", report.to_human());
        assert_eq!(data.unwrap(), reference, "{name} converts to different data");
    }
    let (index, _) = fixture("pandas_maritime_index.parquet");
    assert_eq!(index.count(RuleCode::IgnoredColumn), 1, "{}", index.to_human());

    let (duck, data) = fixture("duckdb_maritime.parquet");
    assert!(duck.is_valid(), "{}", duck.to_human());
    assert_eq!(data.unwrap().num_rows(), 49);

    let (_, cap_ref) = fixture("pandas_capacity.parquet");
    let cap_ref = cap_ref.expect("pandas capacity valid");
    let (polars, data) = fixture("polars_capacity.parquet");
    assert!(polars.is_valid(), "{}", polars.to_human());
    assert_eq!(data.unwrap(), cap_ref);
    for name in ["duckdb_capacity.parquet", "pandas_capacity_null_column.parquet"] {
        let (r, _) = fixture(name);
        assert!(r.is_valid(), "{name}:\n{}", r.to_human());
    }
}

/// A canonical maritime batch from the synthetic generator.
fn maritime() -> RecordBatch {
    fedreport_synth::return_batch(crate::contract(), 7, "AUS", "maritime_movements", 2012, 1.0).unwrap()
}

fn write(batch: &RecordBatch, compression: Compression, row_group: usize) -> Vec<u8> {
    let props =
        WriterProperties::builder().set_compression(compression).set_max_row_group_row_count(Some(row_group)).build();
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props)).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
    buf
}

/// Re-type columns of a batch: strings, ints and dates as other tools store them.
fn retype(batch: &RecordBatch, string: &DataType, int: &DataType, date: &DataType) -> RecordBatch {
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        let to = match f.data_type() {
            DataType::Utf8 => string.clone(),
            DataType::Int32 => int.clone(),
            DataType::Date32 => date.clone(),
            other => other.clone(),
        };
        let arr = match (&to, f.data_type()) {
            (DataType::Timestamp(unit, tz), DataType::Date32) => {
                // midnight in the zone: for +10:00, the UTC instant is 14:00 the day before
                let days = c.as_primitive::<arrow::datatypes::Date32Type>();
                let per_day: i64 = match unit {
                    TimeUnit::Second => 86_400,
                    TimeUnit::Millisecond => 86_400_000,
                    TimeUnit::Microsecond => 86_400_000_000,
                    TimeUnit::Nanosecond => 86_400_000_000_000,
                };
                let shift = if tz.as_deref() == Some("+10:00") { per_day / 24 * 10 } else { 0 };
                let vals: Vec<i64> = days.values().iter().map(|d| *d as i64 * per_day - shift).collect();
                let a = arrow::array::Int64Array::from(vals);
                cast(&a, &to).unwrap()
            }
            _ => cast(c, &to).unwrap(),
        };
        fields.push(Field::new(f.name(), to, f.is_nullable()));
        cols.push(arr);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

#[test]
fn lenient_types_compressions_and_row_groups_give_identical_data() {
    let reference = maritime();
    assert!(reference.num_rows() > 50, "the generator gives AUS traffic");
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let variants: Vec<(&str, DataType, DataType, DataType)> = vec![
        ("large strings, int64, date64", DataType::LargeUtf8, DataType::Int64, DataType::Date64),
        (
            "string view, uint32, ns timestamps",
            DataType::Utf8View,
            DataType::UInt32,
            DataType::Timestamp(TimeUnit::Nanosecond, None),
        ),
        (
            "dictionary, int16, us timestamps UTC",
            dict,
            DataType::Int16,
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ),
        (
            "utf8, uint64, ms timestamps +10:00",
            DataType::Utf8,
            DataType::UInt64,
            DataType::Timestamp(TimeUnit::Millisecond, Some("+10:00".into())),
        ),
        ("utf8, int32, s timestamps", DataType::Utf8, DataType::Int32, DataType::Timestamp(TimeUnit::Second, None)),
    ];
    let compressions = [
        Compression::UNCOMPRESSED,
        Compression::SNAPPY,
        Compression::GZIP(GzipLevel::default()),
        Compression::ZSTD(ZstdLevel::default()),
        Compression::LZ4_RAW,
        Compression::BROTLI(BrotliLevel::default()),
    ];
    for (i, (what, s, n, d)) in variants.iter().enumerate() {
        let batch = retype(&reference, s, n, d);
        for (j, c) in compressions.iter().enumerate() {
            let row_group = [1, 7, 1000][(i + j) % 3];
            let (report, data) = canonical(write(&batch, *c, row_group), "x.parquet", &aus2012());
            assert!(report.is_valid(), "{what} {c:?} rg {row_group}:\n{}", report.to_human());
            assert_eq!(data.unwrap(), reference, "{what} {c:?} rg {row_group}");
        }
    }
}

#[test]
fn lossy_types_are_refused_with_the_type_named() {
    let reference = maritime();
    // floats for integer columns, even whole-valued
    let floats = retype(&reference, &DataType::Utf8, &DataType::Float64, &DataType::Date32);
    let (r, _) = canonical(write(&floats, Compression::SNAPPY, 1000), "f.parquet", &aus2012());
    let f = r.findings.iter().find(|f| f.code == RuleCode::Type).expect("E_TYPE");
    assert!(f.message.contains("floating point"), "{}", f.message);

    // a time part in a timestamp
    let ts = retype(&reference, &DataType::Utf8, &DataType::Int32, &DataType::Timestamp(TimeUnit::Second, None));
    let mut cols = ts.columns().to_vec();
    let dates = cols[3].as_primitive::<arrow::datatypes::TimestampSecondType>().clone();
    let shifted: Vec<i64> =
        dates.values().iter().enumerate().map(|(i, v)| if i == 4 { v + 3600 } else { *v }).collect();
    cols[3] = Arc::new(arrow::array::TimestampSecondArray::from(shifted));
    let (r, _) = canonical(
        write(&RecordBatch::try_new(ts.schema(), cols).unwrap(), Compression::SNAPPY, 1000),
        "t.parquet",
        &aus2012(),
    );
    let f = r.findings.iter().find(|f| f.code == RuleCode::Type).expect("E_TYPE for a time part");
    assert_eq!((f.row, f.column.as_deref()), (Some(5), Some("event_date")));

    // int64 that overflows int32, and text for numbers
    let big = retype(&reference, &DataType::Utf8, &DataType::Int64, &DataType::Date32);
    let mut cols = big.columns().to_vec();
    let mut v: Vec<i64> = cols[7].as_primitive::<arrow::datatypes::Int64Type>().values().to_vec();
    v[2] = 5_000_000_000;
    cols[7] = Arc::new(arrow::array::Int64Array::from(v));
    cols[8] = cast(&cols[8], &DataType::Utf8).unwrap();
    let mut fields: Vec<Field> = big.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[8] = Field::new("deaths", DataType::Utf8, false);
    let b = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
    let (r, _) = canonical(write(&b, Compression::SNAPPY, 1000), "o.parquet", &aus2012());
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == RuleCode::Type && f.row == Some(3) && f.value.as_deref() == Some("5000000000")),
        "{}",
        r.to_human()
    );
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == RuleCode::Type && f.column.as_deref() == Some("deaths") && f.message.contains("text")),
        "{}",
        r.to_human()
    );
}

#[test]
fn a_null_typed_column_is_accepted_only_where_nulls_are() {
    let schema = crate::contract().schemas().get("capacity_needs").unwrap().arrow_schema();
    let batch = fedreport_synth::return_batch(crate::contract(), 1, "AUS", "capacity_needs", 2012, 1.0).unwrap();
    let batch = if batch.num_rows() == 0 {
        fedreport_synth::return_batch(crate::contract(), 2, "AUS", "capacity_needs", 2012, 1.0).unwrap()
    } else {
        batch
    };
    assert!(batch.num_rows() > 0);
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut cols = batch.columns().to_vec();
    // description (nullable) as Arrow null: fine
    fields[7] = Field::new("description", DataType::Null, true);
    cols[7] = arrow::array::new_null_array(&DataType::Null, batch.num_rows());
    let b = RecordBatch::try_new(Arc::new(Schema::new(fields.clone())), cols.clone()).unwrap();
    let (r, _) = canonical(write(&b, Compression::SNAPPY, 100), "n.parquet", &aus2012());
    assert!(r.is_valid(), "{}", r.to_human());
    // area (required) as Arrow null: E_NULL
    fields[3] = Field::new("area", DataType::Null, true);
    cols[3] = arrow::array::new_null_array(&DataType::Null, batch.num_rows());
    let b = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
    let (r, _) = canonical(write(&b, Compression::SNAPPY, 100), "n.parquet", &aus2012());
    assert!(
        r.findings.iter().any(|f| f.code == RuleCode::Null && f.column.as_deref() == Some("area")),
        "{}",
        r.to_human()
    );
}

#[test]
fn converted_files_keep_every_value() {
    let reference = maritime();
    let csv = fedreport_synth::csv(&reference).unwrap();
    let (r, data) = canonical(csv, "m.csv", &aus2012());
    assert!(r.is_valid(), "{}", r.to_human());
    let data = data.unwrap();
    assert_eq!(data, reference);
    let years = data.column(1).as_primitive::<Int32Type>();
    assert!(years.iter().all(|y| y == Some(2012)));
    assert_eq!(data.column(0).null_count(), 0);
}
