//! Uploads streamed into the lake: a return arrives as a multipart form and
//! goes, chunk by chunk, to `staging/{member}/{upload}/{file}` — one put for
//! a small file, a multipart upload past 16 MiB — so memory stays bounded
//! whatever its size. The size limit is counted as the bytes arrive; a file
//! over it is dropped and nothing is kept.

use axum::extract::Multipart;
use bytes::BytesMut;
use fedreport_contract::read::Format;
use fedreport_store::Lake;
use object_store::{ObjectStoreExt, WriteMultipart};

use crate::error::{AppError, Result};

/// Kept in memory up to this size, then streamed in parts.
const IN_MEMORY: usize = 16 * 1024 * 1024;
const PART: usize = 8 * 1024 * 1024;

/// An upload as it was received.
#[derive(Debug, Clone, Default)]
pub struct Received {
    /// File name as the browser sent it (path parts removed).
    pub file: String,
    pub size: u64,
    /// Optional fields of the form: the dataset and year of a return
    /// without rows.
    pub dataset: Option<String>,
    pub year: Option<i32>,
}

/// A file name as sent, reduced to its last part and to characters that are
/// safe in a lake key; refused when it is not a return file.
fn file_name(raw: &str) -> Result<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let clean: String = last
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .take(120)
        .collect();
    if clean.trim_matches(['.', '_']).is_empty() || Format::from_name(&clean).is_none() {
        return Err(AppError::BadRequest(format!(
            "'{}' is not a return file: upload the return as an Excel workbook (.xlsx), a CSV file (.csv) or a Parquet file (.parquet)",
            last.chars().take(80).collect::<String>()
        )));
    }
    Ok(clean)
}

/// A size as people write it: "256 MiB", "64 KiB".
pub fn size_words(bytes: u64) -> String {
    match bytes {
        b if b >= 1024 * 1024 && b % (1024 * 1024) == 0 => format!("{} MiB", b / (1024 * 1024)),
        b if b >= 1024 * 1024 => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
        b if b >= 1024 => format!("{} KiB", b / 1024),
        b => format!("{b} bytes"),
    }
}

fn limit_message(limit: u64) -> String {
    format!(
        "The file is larger than the {} an upload may have. Split it by year, save it as Parquet (much smaller than CSV), or ask the secretariat to take it in with `fedreport submit`.",
        size_words(limit)
    )
}

/// Stream the form's `file` field to `folder{file}` in the lake.
pub async fn receive(lake: &Lake, folder: &str, mut form: Multipart, limit: u64) -> Result<Received> {
    let mut received = Received::default();
    let bad_form = |e: axum::extract::multipart::MultipartError| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            AppError::TooLarge(limit_message(limit))
        } else {
            AppError::BadRequest(format!("the upload did not arrive whole ({e}); send it again"))
        }
    };
    let mut got_file = false;
    while let Some(mut field) = form.next_field().await.map_err(bad_form)? {
        match field.name() {
            Some("dataset") => {
                let v = field.text().await.map_err(bad_form)?;
                received.dataset = Some(v.trim().to_string()).filter(|v| !v.is_empty());
            }
            Some("year") => {
                let v = field.text().await.map_err(bad_form)?;
                let v = v.trim();
                if !v.is_empty() {
                    received.year = Some(
                        v.parse().map_err(|_| AppError::BadRequest(format!("year '{v}' is not a year like 2012")))?,
                    );
                }
            }
            Some("file") if !got_file => {
                got_file = true;
                received.file = file_name(field.file_name().unwrap_or(""))?;
                let key = format!("{folder}{}", received.file);
                let mut buffer = BytesMut::new();
                let mut parts: Option<WriteMultipart> = None;
                let mut size = 0u64;
                loop {
                    let chunk = match field.chunk().await {
                        Ok(Some(c)) => c,
                        Ok(None) => break,
                        Err(e) => {
                            if let Some(p) = parts.take() {
                                let _ = p.abort().await;
                            }
                            return Err(bad_form(e));
                        }
                    };
                    size += chunk.len() as u64;
                    if size > limit {
                        if let Some(p) = parts.take() {
                            let _ = p.abort().await;
                        }
                        return Err(AppError::TooLarge(limit_message(limit)));
                    }
                    match parts.as_mut() {
                        Some(p) => {
                            p.wait_for_capacity(4).await.map_err(AppError::internal)?;
                            p.write(&chunk);
                        }
                        None => {
                            buffer.extend_from_slice(&chunk);
                            if buffer.len() > IN_MEMORY {
                                let upload =
                                    lake.store().put_multipart(&lake.path(&key)).await.map_err(AppError::internal)?;
                                let mut p = WriteMultipart::new_with_chunk_size(upload, PART);
                                p.write(&buffer.split());
                                parts = Some(p);
                            }
                        }
                    }
                }
                match parts {
                    Some(p) => {
                        p.finish().await.map_err(AppError::internal)?;
                    }
                    None => {
                        lake.put(&key, buffer.freeze()).await.map_err(AppError::internal)?;
                    }
                }
                received.size = size;
            }
            _ => {
                // an unknown field, or a second file: read and dropped
                while field.chunk().await.map_err(bad_form)?.is_some() {}
            }
        }
    }
    if !got_file {
        return Err(AppError::BadRequest("choose a file to upload".into()));
    }
    Ok(received)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_reduced_and_checked() {
        assert_eq!(file_name("C:\\Users\\me\\maritime 2012.csv").unwrap(), "maritime_2012.csv");
        assert_eq!(file_name("../../etc/x.parquet").unwrap(), "x.parquet");
        for bad in ["report.pdf", "", "..", "notes"] {
            assert!(file_name(bad).is_err(), "{bad}");
        }
    }
}
