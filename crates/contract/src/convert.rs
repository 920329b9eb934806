//! Lenient, lossless conversion of one file column to its canonical type.
//!
//! Decides per column whether the physical type found can be converted
//! without loss (the "plan"), and converts batch by batch, reporting the rows
//! whose value cannot be converted (overflow, a time part, unparsable text).

use std::str::FromStr;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Date32Builder, Int8Array, Int32Array, StringArray,
    new_null_array,
};
use arrow::compute::{CastOptions, cast, cast_with_options};
use arrow::datatypes::{DataType, Int64Type, TimeUnit};
use chrono::{FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Timelike};

use crate::schema::{ColType, Column};

/// A zone for timestamp columns that carry one.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Zone {
    Fixed(FixedOffset),
    Named(chrono_tz::Tz),
}

/// How a column is converted.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    /// Already the canonical type.
    Same,
    /// A cast that cannot lose anything (string encodings).
    Cast,
    /// An integer cast; rows that do not fit are reported.
    CheckedCast,
    /// date64 milliseconds; must be whole days.
    Date64,
    /// Timestamps at midnight become dates.
    Timestamp { per_day: i64, per_sec: i64, zone: Option<Zone> },
    /// Arrow null type: every value is null.
    AllNull,
    /// CSV text parsed to the target type.
    Text,
}

/// A value that could not be converted.
pub(crate) struct BadValue {
    pub row: usize,
    pub value: String,
    pub message: String,
}

fn is_stringish(dt: &DataType) -> bool {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => is_stringish(v),
        _ => false,
    }
}

fn is_integer(dt: &DataType) -> bool {
    match dt {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => true,
        DataType::Decimal32(_, 0)
        | DataType::Decimal64(_, 0)
        | DataType::Decimal128(_, 0)
        | DataType::Decimal256(_, 0) => true,
        DataType::Dictionary(_, v) => is_integer(v),
        _ => false,
    }
}

fn parse_zone(tz: &str) -> Option<Zone> {
    if tz.eq_ignore_ascii_case("utc") || tz == "Z" {
        return Some(Zone::Fixed(FixedOffset::east_opt(0)?));
    }
    if let Ok(off) = FixedOffset::from_str(tz) {
        return Some(Zone::Fixed(off));
    }
    chrono_tz::Tz::from_str(tz).ok().map(Zone::Named)
}

/// Describe a type for people.
pub(crate) fn type_name(dt: &DataType) -> String {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "text".into(),
        DataType::Dictionary(_, values) => type_name(values),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => format!("floating point ({dt})"),
        other => other.to_string().to_lowercase(),
    }
}

/// Choose the conversion plan, or explain (for `E_TYPE`) why none exists.
pub(crate) fn plan(col: &Column, found: &DataType, csv: bool) -> Result<Plan, String> {
    let target = col.ty.arrow();
    if found == &DataType::Null {
        return Ok(Plan::AllNull);
    }
    if found == &target {
        return Ok(Plan::Same);
    }
    if csv {
        return Ok(Plan::Text);
    }
    let want = col.ty.name();
    match col.ty {
        ColType::String if is_stringish(found) => Ok(Plan::Cast),
        ColType::Int32 | ColType::Int8 if is_integer(found) => Ok(Plan::CheckedCast),
        ColType::Int32 | ColType::Int8
            if matches!(found, DataType::Float16 | DataType::Float32 | DataType::Float64) =>
        {
            Err(format!(
                "column {} is {}, but {want} whole numbers are required; floats are never accepted, even whole-valued \
                 ones (in pandas, convert with .astype('int32') before saving)",
                col.name,
                type_name(found)
            ))
        }
        ColType::Date32 if found == &DataType::Date64 => Ok(Plan::Date64),
        ColType::Date32 => match found {
            DataType::Timestamp(unit, tz) => {
                let per_sec = match unit {
                    TimeUnit::Second => 1,
                    TimeUnit::Millisecond => 1_000,
                    TimeUnit::Microsecond => 1_000_000,
                    TimeUnit::Nanosecond => 1_000_000_000,
                };
                let zone =
                    match tz {
                        None => None,
                        Some(tz) => Some(parse_zone(tz).ok_or_else(|| {
                            format!("column {} has timestamps in an unknown time zone '{tz}'", col.name)
                        })?),
                    };
                Ok(Plan::Timestamp { per_day: per_sec * 86_400, per_sec, zone })
            }
            _ => Err(format!(
                "column {} is {}, but dates (date32) are required; write dates as dates, or as timestamps at midnight",
                col.name,
                type_name(found)
            )),
        },
        _ => Err(format!(
            "column {} is {}, but {want} is required{}",
            col.name,
            type_name(found),
            match col.ty {
                ColType::Int32 | ColType::Int8 if is_stringish(found) =>
                    "; numbers stored as text are not accepted (save the column as a number)",
                ColType::Bool => "; use true/false values",
                _ => "",
            }
        )),
    }
}

fn display(arr: &dyn Array, i: usize) -> String {
    arrow::util::display::array_value_to_string(arr, i).unwrap_or_else(|_| "?".into())
}

/// Convert one batch's column according to its plan.
pub(crate) fn convert(col: &Column, plan: &Plan, arr: &ArrayRef) -> (ArrayRef, Vec<BadValue>) {
    let target = col.ty.arrow();
    let mut bad = Vec::new();
    let out: ArrayRef = match plan {
        Plan::Same => arr.clone(),
        Plan::AllNull => new_null_array(&target, arr.len()),
        Plan::Cast => cast(arr, &target).unwrap_or_else(|_| new_null_array(&target, arr.len())),
        Plan::CheckedCast => {
            let opts = CastOptions { safe: true, ..Default::default() };
            let out = cast_with_options(arr, &target, &opts).unwrap_or_else(|_| new_null_array(&target, arr.len()));
            if out.null_count() != arr.null_count() {
                for i in 0..arr.len() {
                    if arr.is_valid(i) && out.is_null(i) {
                        let v = display(arr.as_ref(), i);
                        bad.push(BadValue {
                            row: i,
                            message: format!("{} value {v} does not fit {}", col.name, col.ty.name()),
                            value: v,
                        });
                    }
                }
            }
            out
        }
        Plan::Date64 => whole_days(
            arr,
            |ms| (ms.rem_euclid(86_400_000) == 0).then(|| ms.div_euclid(86_400_000)),
            &mut bad,
            |v| format!("{} value {v} has a time part; dates must be whole days", col.name),
        ),
        Plan::Timestamp { per_day, per_sec, zone } => {
            let zone_words = match arr.data_type() {
                DataType::Timestamp(_, Some(tz)) => format!(" in time zone {tz}"),
                _ => String::new(),
            };
            let to_day = |v: i64| match zone {
                None => (v.rem_euclid(*per_day) == 0).then(|| v.div_euclid(*per_day)),
                Some(z) => local_midnight_day(v, *per_sec, *z),
            };
            whole_days(arr, to_day, &mut bad, |v| {
                format!(
                    "{} value {v} has a time part{zone_words}; dates must be at midnight (write a date column)",
                    col.name
                )
            })
        }
        Plan::Text => {
            let text = cast(arr, &DataType::Utf8).expect("text column");
            let text = text.as_string::<i32>();
            parse_text(col, text, &mut bad)
        }
    };
    (out, bad)
}

/// Dates from an integer time column (date64, timestamps): `to_day` gives a
/// value's day since 1970, or `None` when it has a time part, which becomes a
/// bad value with `message(value)`.
fn whole_days(
    arr: &ArrayRef,
    to_day: impl Fn(i64) -> Option<i64>,
    bad: &mut Vec<BadValue>,
    message: impl Fn(&str) -> String,
) -> ArrayRef {
    let raw = cast(arr, &DataType::Int64).expect("a time column casts to int64");
    let raw = raw.as_primitive::<Int64Type>();
    let mut b = Date32Builder::with_capacity(arr.len());
    for i in 0..raw.len() {
        if raw.is_null(i) {
            b.append_null();
            continue;
        }
        match to_day(raw.value(i)).and_then(|d| i32::try_from(d).ok()) {
            Some(d) => b.append_value(d),
            None => {
                let v = display(arr.as_ref(), i);
                bad.push(BadValue { row: i, message: message(&v), value: v });
                b.append_null();
            }
        }
    }
    Arc::new(b.finish())
}

fn local_midnight_day(v: i64, per_sec: i64, zone: Zone) -> Option<i64> {
    let secs = v.div_euclid(per_sec);
    let nanos = (v.rem_euclid(per_sec) * (1_000_000_000 / per_sec)) as u32;
    let utc = chrono::DateTime::from_timestamp(secs, nanos)?;
    let local: NaiveDateTime = match zone {
        Zone::Fixed(off) => off.from_utc_datetime(&utc.naive_utc()).naive_local(),
        Zone::Named(tz) => tz.from_utc_datetime(&utc.naive_utc()).naive_local(),
    };
    if local.num_seconds_from_midnight() != 0 || local.nanosecond() != 0 {
        return None;
    }
    Some(local.date().signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days())
}

/// Parse a CSV date: `YYYY-MM-DD`, optionally followed by a midnight time.
pub(crate) fn parse_date(s: &str) -> Result<i32, String> {
    let s = s.trim();
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let looks_iso = date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-';
    if !looks_iso {
        return Err(if date.contains('/') || date.contains('.') {
            "is ambiguous: day and month order cannot be told; write dates as YYYY-MM-DD (e.g. 2013-04-01)".into()
        } else {
            "is not a date; write dates as YYYY-MM-DD (e.g. 2013-04-01)".into()
        });
    }
    let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| "is not a valid calendar date".to_string())?;
    if let Some(t) = time {
        let t = t.trim_end_matches('Z');
        let midnight =
            t.split(':').all(|p| p.trim_start_matches('0').trim_start_matches('.').trim_matches('0').is_empty());
        if !midnight {
            return Err("has a time part; dates must be whole days (YYYY-MM-DD)".into());
        }
    }
    Ok(d.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32)
}

/// Parse a CSV integer: optional sign and digits, no separators or fractions.
pub(crate) fn parse_int(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(if t.contains(',') || t.contains('\u{a0}') || t.contains(' ') {
            "is not a whole number; write integers without thousands separators".into()
        } else if t.contains('.') {
            "is not a whole number; fractions are not accepted".into()
        } else {
            "is not a whole number".into()
        });
    }
    t.parse::<i64>().map_err(|_| "is too large".to_string())
}

/// Parse a CSV boolean: true/false in any letter case, or 1/0.
pub(crate) fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim() {
        "1" => Ok(true),
        "0" => Ok(false),
        t if t.eq_ignore_ascii_case("true") => Ok(true),
        t if t.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err("is not a boolean; use true or false (or 1 and 0)".into()),
    }
}

/// Parse every non-null cell with `parse`; cells that do not parse are
/// reported and become null.
fn parse_cells<T>(
    col: &Column,
    text: &StringArray,
    bad: &mut Vec<BadValue>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Vec<Option<T>> {
    text.iter()
        .enumerate()
        .map(|(row, v)| {
            let v = v?;
            parse(v)
                .map_err(|why| {
                    bad.push(BadValue { row, value: v.to_string(), message: format!("{} value '{v}' {why}", col.name) })
                })
                .ok()
        })
        .collect()
}

fn parse_text(col: &Column, text: &StringArray, bad: &mut Vec<BadValue>) -> ArrayRef {
    let fits = |lo: i64, hi: i64| {
        move |s: &str| {
            let n = parse_int(s)?;
            if (lo..=hi).contains(&n) { Ok(n) } else { Err(format!("does not fit {}", col.ty.name())) }
        }
    };
    match col.ty {
        ColType::String => Arc::new(text.clone()),
        ColType::Int8 => {
            let vals = parse_cells(col, text, bad, fits(i8::MIN.into(), i8::MAX.into()));
            Arc::new(Int8Array::from_iter(vals.into_iter().map(|v| v.map(|n| n as i8))))
        }
        ColType::Int32 => {
            let vals = parse_cells(col, text, bad, fits(i32::MIN.into(), i32::MAX.into()));
            Arc::new(Int32Array::from_iter(vals.into_iter().map(|v| v.map(|n| n as i32))))
        }
        ColType::Date32 => Arc::new(Date32Array::from(parse_cells(col, text, bad, parse_date))),
        ColType::Bool => Arc::new(BooleanArray::from(parse_cells(col, text, bad, parse_bool))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_dates() {
        assert_eq!(parse_date("2013-04-01").unwrap(), 15796);
        assert_eq!(parse_date("2013-04-01 00:00:00").unwrap(), 15796);
        assert!(parse_date("1/4/2013").unwrap_err().contains("ambiguous"));
        assert!(parse_date("2013-02-30").is_err());
        assert!(parse_date("2013-04-01 10:00:00").unwrap_err().contains("time part"));
    }

    #[test]
    fn csv_ints_and_bools() {
        assert_eq!(parse_int(" 42 ").unwrap(), 42);
        assert_eq!(parse_int("-3").unwrap(), -3);
        assert!(parse_int("1,000").unwrap_err().contains("thousands"));
        assert!(parse_int("1.5").unwrap_err().contains("fraction"));
        assert!(parse_int("abc").is_err());
        assert!(parse_bool("TRUE").unwrap());
        assert!(!parse_bool("0").unwrap());
        assert!(parse_bool("yes").is_err());
    }
}
