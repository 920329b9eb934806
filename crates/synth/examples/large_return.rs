//! Write one large, valid maritime_movements return (every id distinct), in
//! chunks, so a return of any size can be made without holding it in memory:
//!
//!     cargo run --release -p fedreport-synth --example large_return -- OUT.parquet|OUT.csv MEGABYTES
//!
//! Used by bench/large_return.sh to measure validation and intake memory.

use std::io::Write;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(out), Some(mb)) = (args.get(1), args.get(2).and_then(|m| m.parse::<u64>().ok())) else {
        return Err("usage: large_return OUT.parquet|OUT.csv MEGABYTES".into());
    };
    let target = mb * 1024 * 1024;
    let file = std::fs::File::create(out)?;
    let csv = out.ends_with(".csv");
    let mut rows = 0u64;
    let mut chunk = 0u64;
    let mut parquet: Option<ArrowWriter<std::fs::File>> = None;
    let mut text = std::io::BufWriter::new(file.try_clone()?);
    let contract = fedreport_forum::Forum::bali().contract;
    loop {
        let written = if csv {
            text.get_ref().metadata()?.len()
        } else {
            parquet.as_ref().map_or(0, |w| w.bytes_written() as u64)
        };
        if written >= target {
            break;
        }
        chunk += 1;
        let batch = fedreport_synth::return_batch(&contract, chunk, "IDN", "maritime_movements", 2012, 2_000.0)?;
        let n = batch.num_rows();
        let id = batch.schema().index_of("movement_id")?;
        let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
        cols[id] =
            Arc::new(StringArray::from_iter_values((0..n as u64).map(|i| format!("IDN-2012-M{:010}", rows + i + 1))));
        let batch = RecordBatch::try_new(batch.schema(), cols)?;
        rows += n as u64;
        if csv {
            let bytes = fedreport_synth::csv(&batch)?;
            // The header once, at the top.
            let body = if chunk == 1 {
                &bytes[..]
            } else {
                &bytes[bytes.iter().position(|&b| b == b'\n').map_or(0, |p| p + 1)..]
            };
            text.write_all(body)?;
            text.flush()?;
        } else {
            let w = match parquet.as_mut() {
                Some(w) => w,
                None => {
                    let props = WriterProperties::builder()
                        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
                        .set_max_row_group_row_count(Some(1 << 20))
                        .build();
                    parquet.insert(ArrowWriter::try_new(file.try_clone()?, batch.schema(), Some(props))?)
                }
            };
            w.write(&batch)?;
            w.flush()?;
        }
    }
    if let Some(w) = parquet {
        w.close()?;
    }
    text.flush()?;
    eprintln!("{out}: {rows} rows, {} bytes", std::fs::metadata(out)?.len());
    Ok(())
}
