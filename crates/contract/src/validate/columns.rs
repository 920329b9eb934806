//! Column checks: the header against the declared columns (missing,
//! unknown, repeated, unconvertible types), then each column's values —
//! required values (`E_NULL`), code lists (`E_CODELIST`), ranges, lengths
//! and dates against the reference year (`E_RANGE`), and uniqueness.

use std::collections::HashSet;

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::compute::{max, min};
use arrow::datatypes::{DataType, Date32Type, Int8Type, Int32Type, SchemaRef};

use super::unique::{Unique, unique_finding};
use super::validation::{Present, Validation};
use crate::convert;
use crate::finding::{Finding, RuleCode, did_you_mean, truncate};
use crate::registry::Registry;
use crate::schema::{CodeList, ColType, Column, DateRule, Identity};

/// Columns pandas writes for a stored index.
const PANDAS_INDEX: &str = "__index_level_";

/// First and last day (days since 1970-01-01) of a calendar year.
fn year_days(year: i32) -> Option<(i32, i32)> {
    let first = chrono::NaiveDate::from_ymd_opt(year, 1, 1)?;
    let last = chrono::NaiveDate::from_ymd_opt(year, 12, 31)?;
    Some((Date32Type::from_naive_date(first), Date32Type::from_naive_date(last)))
}

impl Validation<'_> {
    /// Match the file's columns to the declared ones and plan each conversion.
    pub(super) fn match_header(&mut self, file: &SchemaRef) {
        let schema = self.schema.clone();
        let mut found = HashSet::new();
        for (i, field) in file.fields().iter().enumerate() {
            let name = field.name();
            match schema.column_index(name) {
                Some(d) if found.insert(d) => {
                    let col = &schema.columns[d];
                    let plan = match convert::plan(col, field.data_type(), self.format.is_text()) {
                        Ok(p) => Some(p),
                        Err(why) => {
                            self.collector.push(
                                Finding::new(RuleCode::Type, why)
                                    .column(name)
                                    .value(convert::type_name(field.data_type())),
                            );
                            None
                        }
                    };
                    self.present.push(Present { decl: d, file_index: i, plan });
                }
                Some(_) => self.collector.push(
                    Finding::new(RuleCode::UnknownColumn, format!("column {name} appears twice; keep one of them"))
                        .column(name),
                ),
                None if name.starts_with(PANDAS_INDEX) => self.collector.push(
                    Finding::new(
                        RuleCode::IgnoredColumn,
                        format!(
                            "column {name} is a stored pandas index and is ignored (save with index=False to avoid it)"
                        ),
                    )
                    .column(name),
                ),
                None => {
                    let declared = schema.columns.iter().map(|c| c.name.as_str());
                    let hint = match did_you_mean(name, declared) {
                        Some(m) => format!("; did you mean {m}?"),
                        None => format!(
                            "; the columns of {} are: {}",
                            schema.dataset,
                            schema.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    };
                    self.collector.push(
                        Finding::new(
                            RuleCode::UnknownColumn,
                            format!("column {name} is not part of {}{hint}", schema.dataset),
                        )
                        .column(name),
                    );
                }
            }
        }
        for (d, col) in schema.columns.iter().enumerate() {
            if !found.contains(&d) {
                let typo = file
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .filter(|n| schema.column_index(n).is_none())
                    .find(|n| did_you_mean(n, [col.name.as_str()]).is_some());
                let hint = typo.map(|t| format!(" (is column {t} meant to be {}?)", col.name)).unwrap_or_default();
                self.collector.push(
                    Finding::new(
                        RuleCode::MissingColumn,
                        format!(
                            "column {} ({}) is required in {} but missing{hint}",
                            col.name,
                            col.ty.name(),
                            schema.dataset
                        ),
                    )
                    .column(&col.name),
                );
            }
        }
        self.complete = found.len() == schema.columns.len() && self.present.iter().all(|p| p.plan.is_some());
        self.present.sort_by_key(|p| p.decl);
    }

    /// Check one canonical column of a batch.
    pub(super) fn check_column(
        &mut self,
        d: usize,
        arr: &ArrayRef,
        bad: Option<&[bool]>,
        offset: u64,
        arrays: &[Option<ArrayRef>],
    ) {
        let col = self.col(d).clone();
        let is_bad = |i: usize| bad.is_some_and(|b| b[i]);
        let row = |i: usize| offset + i as u64 + 1;
        if !col.nullable && arr.null_count() > 0 && !self.null_columns.contains(&d) {
            for i in 0..arr.len() {
                if arr.is_null(i) && !is_bad(i) {
                    self.collector.push(
                        Finding::new(RuleCode::Null, format!("{} is empty, but a value is required", col.name))
                            .column(&col.name)
                            .row(row(i)),
                    );
                }
            }
        }
        match col.ty {
            ColType::String if arr.as_any_dictionary_opt().is_some() => self.check_dictionary(&col, arr, offset),
            ColType::String => self.check_strings(d, &col, arr.as_string::<i32>(), offset),
            ColType::Int32 | ColType::Int8 => self.check_range(&col, arr, offset),
            ColType::Date32 => self.check_dates(&col, arr, offset, arrays),
            ColType::Bool => {}
        }
    }

    fn check_range(&mut self, col: &Column, arr: &ArrayRef, offset: u64) {
        if col.min.is_none() && col.max.is_none() {
            return;
        }
        let (lo, hi) = (col.min.unwrap_or(i64::MIN), col.max.unwrap_or(i64::MAX));
        let bound = match (col.min, col.max) {
            (Some(a), Some(b)) => format!("from {a} to {b}"),
            (Some(a), None) => format!("at least {a}"),
            (_, Some(b)) => format!("at most {b}"),
            (None, None) => return,
        };
        // most columns are within their bounds: the smallest and largest
        // values (a vectorised pass) settle it without looking at each row
        let within = |min: Option<i64>, max: Option<i64>| min.is_none_or(|m| m >= lo) && max.is_none_or(|m| m <= hi);
        let settled = if col.ty == ColType::Int8 {
            let a = arr.as_primitive::<Int8Type>();
            within(min(a).map(i64::from), max(a).map(i64::from))
        } else {
            let a = arr.as_primitive::<Int32Type>();
            within(min(a).map(i64::from), max(a).map(i64::from))
        };
        if settled {
            return;
        }
        let mut check = |i: usize, v: i64| {
            if v < lo || v > hi {
                self.collector.push(
                    Finding::new(RuleCode::Range, format!("{} is {v} but must be {bound}", col.name))
                        .column(&col.name)
                        .row(offset + i as u64 + 1)
                        .value(v.to_string()),
                );
            }
        };
        if col.ty == ColType::Int8 {
            for (i, v) in arr.as_primitive::<Int8Type>().iter().enumerate() {
                if let Some(v) = v {
                    check(i, v as i64)
                }
            }
        } else {
            for (i, v) in arr.as_primitive::<Int32Type>().iter().enumerate() {
                if let Some(v) = v {
                    check(i, v as i64)
                }
            }
        }
    }

    fn check_dates(&mut self, col: &Column, arr: &ArrayRef, offset: u64, arrays: &[Option<ArrayRef>]) {
        let Some(rule) = col.date_rule else { return };
        let years = self.identity_index(Identity::Year).and_then(|y| arrays[y].clone());
        let a = arr.as_primitive::<Date32Type>();
        let years = years.as_ref().map(|y| y.as_primitive::<Int32Type>().clone());
        let file_year = self.year.first_year();
        // one year in every row (as the identity rule wants): the earliest
        // and latest dates settle it without looking at each row
        let one_year = match &years {
            Some(y) if y.null_count() == 0 => min(y).filter(|lo| Some(*lo) == max(y)),
            Some(_) => None,
            None => file_year,
        };
        if let Some((lo, hi)) = one_year.and_then(year_days)
            && min(a).is_none_or(|first| rule == DateRule::OnOrBeforeEndOfReferenceYear || first >= lo)
            && max(a).is_none_or(|last| last <= hi)
        {
            return;
        }
        let mut bounds: Option<(i32, i32, i32)> = None; // (year, first day, last day)
        for i in 0..a.len() {
            if a.is_null(i) {
                continue;
            }
            let year = years.as_ref().and_then(|y| y.is_valid(i).then(|| y.value(i))).or(file_year);
            let Some(year) = year else { continue };
            if bounds.is_none_or(|b| b.0 != year) {
                bounds = year_days(year).map(|(lo, hi)| (year, lo, hi));
            }
            let Some((_, lo, hi)) = bounds else { continue };
            let day = a.value(i);
            let ok = match rule {
                DateRule::InsideReferenceYear => (lo..=hi).contains(&day),
                DateRule::OnOrBeforeEndOfReferenceYear => day <= hi,
            };
            if !ok {
                let date =
                    Date32Type::to_naive_date_opt(day).map(|d| d.to_string()).unwrap_or_else(|| format!("day {day}"));
                let want = match rule {
                    DateRule::InsideReferenceYear => format!("inside the reference year {year}"),
                    DateRule::OnOrBeforeEndOfReferenceYear => format!("on or before 31 December {year}"),
                };
                self.collector.push(
                    Finding::new(RuleCode::Range, format!("{} {date} must be {want}", col.name))
                        .column(&col.name)
                        .row(offset + i as u64 + 1)
                        .value(date),
                );
            }
        }
    }

    fn check_strings(&mut self, d: usize, col: &Column, a: &StringArray, offset: u64) {
        if col.unique {
            let budget = self.validator.options.unique_ids_in_memory;
            self.unique.entry(d).or_insert_with(|| Unique::with_budget(budget)).add_batch(offset, a.clone());
        }
        let row = |i: usize| offset + i as u64 + 1;
        let validator = self.validator;
        let reg = validator.registry();
        let identity = col.identity.is_some();
        let coded = col.values.is_some() || col.codelist.is_some();
        let lengths = (col.min_length.is_some() || col.max_length.is_some()) && !lengths_within(col, a);
        if !coded && !lengths && !col.unique {
            return;
        }
        if col.unique && !coded && !lengths {
            let u = self.unique.get_mut(&d).expect("added above");
            let collector = &mut self.collector;
            u.check_batch(offset, a, |row, first, v| collector.push(unique_finding(&col.name, v, row, first)));
            return;
        }
        // a coded column repeats a few values: the last one found in the list is not looked up again
        let mut listed: Option<&str> = None;
        for i in 0..a.len() {
            if a.is_null(i) {
                continue;
            }
            let v = a.value(i);
            if coded && listed != Some(v) {
                match code_problem(col, v, reg, identity) {
                    None => listed = Some(v),
                    Some(why) => {
                        let message = format!("{} '{}' {why}", col.name, truncate(v, 40));
                        self.collector
                            .push(Finding::new(RuleCode::Codelist, message).column(&col.name).row(row(i)).value(v));
                    }
                }
            }
            if lengths && let Some(message) = length_problem(col, v) {
                self.collector.push(Finding::new(RuleCode::Range, message).column(&col.name).row(row(i)).value(v));
            }
            if col.unique
                && let Some(first) = self.unique.get_mut(&d).and_then(|u| u.check(v, row(i)))
            {
                self.collector.push(unique_finding(&col.name, v, row(i), first));
            }
        }
    }
}

impl Validation<'_> {
    /// Check a text column read as a dictionary: each value of the
    /// dictionary once and then, only for values with a problem, the rows
    /// holding them (each gets the finding a row-by-row check would give).
    fn check_dictionary(&mut self, col: &Column, arr: &ArrayRef, offset: u64) {
        let dict = arr.as_any_dictionary();
        let values = match dict.values().data_type() {
            DataType::Utf8 => dict.values().clone(),
            // LargeUtf8 or Utf8View (polars, pyarrow)
            _ => arrow::compute::cast(dict.values(), &DataType::Utf8).expect("text casts to text"),
        };
        let values = values.as_string::<i32>();
        let reg = self.validator.registry();
        let identity = col.identity.is_some();
        let problems: Vec<Vec<(RuleCode, String)>> = (0..values.len())
            .map(|k| {
                let v = values.value(k);
                let code = code_problem(col, v, reg, identity)
                    .map(|why| (RuleCode::Codelist, format!("{} '{}' {why}", col.name, truncate(v, 40))));
                code.into_iter().chain(length_problem(col, v).map(|m| (RuleCode::Range, m))).collect()
            })
            .collect();
        if problems.iter().all(Vec::is_empty) {
            return;
        }
        for (i, k) in dict.normalized_keys().into_iter().enumerate() {
            if arr.is_valid(i) {
                for (code, message) in &problems[k] {
                    self.collector.push(
                        Finding::new(*code, message.clone())
                            .column(&col.name)
                            .row(offset + i as u64 + 1)
                            .value(values.value(k)),
                    );
                }
            }
        }
    }
}

/// The finding's message when `v` is shorter or longer than its column allows.
fn length_problem(col: &Column, v: &str) -> Option<String> {
    let (lo, hi) = match (col.min_length, col.max_length) {
        (None, None) => return None,
        (lo, hi) => (lo.unwrap_or(0), hi.unwrap_or(usize::MAX)),
    };
    let len = if v.is_ascii() { v.len() } else { v.chars().count() };
    if (lo..=hi).contains(&len) {
        return None;
    }
    let bound = match col.min_length {
        Some(a) if hi < usize::MAX => format!("{a} to {hi} characters"),
        Some(a) => format!("at least {a} characters"),
        None => format!("at most {hi} characters"),
    };
    Some(format!("{} has {len} characters but must have {bound}", col.name))
}

/// Whether every value of `a` has a length within the column's bounds,
/// told from the values' byte lengths alone (a value of `n` bytes has from
/// `n / 4` to `n` characters); `false` when only counting would tell.
fn lengths_within(col: &Column, a: &StringArray) -> bool {
    let (lo, hi) = (col.min_length.unwrap_or(0), col.max_length.unwrap_or(usize::MAX));
    let (mut shortest, mut longest) = (usize::MAX, 0);
    for (i, w) in a.value_offsets().windows(2).enumerate() {
        if a.is_valid(i) {
            let n = (w[1] - w[0]) as usize;
            (shortest, longest) = (shortest.min(n), longest.max(n));
        }
    }
    shortest == usize::MAX || (shortest.div_ceil(4) >= lo && longest <= hi)
}

/// Why a value is not in its column's code list (the value list, the ISO
/// 3166 codes or the registry's states and territories), with a hint; `None`
/// when it is. The identity column's member is checked by `identity.rs`.
fn code_problem(col: &Column, v: &str, reg: &Registry, identity: bool) -> Option<String> {
    let hint = |m: Option<&str>| m.map(|m| format!("; did you mean '{m}'?")).unwrap_or_default();
    if let Some(values) = &col.values
        && !values.iter().any(|x| x == v)
    {
        let near = hint(did_you_mean(v, values.iter().map(String::as_str)));
        return Some(format!("is not allowed; use one of: {}{near}", values.join(", ")));
    }
    match col.codelist {
        Some(CodeList::Iso3) if !reg.is_iso3(v) => {
            let upper = v.to_uppercase();
            let near = if reg.is_iso3(&upper) {
                format!("; codes are upper case: '{upper}'")
            } else {
                hint(did_you_mean(v, reg.iso3_codes()))
            };
            Some(format!("is not an ISO 3166-1 alpha-3 country code (or UNK for unknown){near}"))
        }
        Some(CodeList::Member) if !identity && !reg.is_reporting_member(v) => {
            let near = hint(did_you_mean(v, reg.reporting_members().map(|m| m.code.as_str())));
            Some(format!("is not a state or territory of the registry{near}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_bounds() {
        assert_eq!(year_days(1970), Some((0, 364)));
        assert_eq!(year_days(2012).map(|(a, b)| b - a), Some(365)); // leap year
    }

    #[test]
    fn a_length_problem_names_the_bounds_the_column_has() {
        let col = |min_length, max_length| -> Column {
            let mut c: Column =
                serde_json::from_value(serde_json::json!({"name": "case_id", "type": "string", "nullable": false}))
                    .unwrap();
            (c.min_length, c.max_length) = (min_length, max_length);
            c
        };
        let said = |c: &Column, v: &str| length_problem(c, v);
        assert_eq!(said(&col(None, None), ""), None);
        assert_eq!(said(&col(Some(2), Some(4)), "abc"), None);
        assert_eq!(
            said(&col(Some(2), Some(4)), "é"),
            Some("case_id has 1 characters but must have 2 to 4 characters".into())
        );
        assert_eq!(
            said(&col(Some(2), None), "a"),
            Some("case_id has 1 characters but must have at least 2 characters".into())
        );
        assert_eq!(
            said(&col(None, Some(3)), "ééééé"),
            Some("case_id has 5 characters but must have at most 3 characters".into())
        );
    }
}
