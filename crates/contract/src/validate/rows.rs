//! Rules across the columns of one row (`E_ROW_RULE`), declared in the
//! schema files: sums that must not exceed a limit, sums that must be
//! positive when a column has a value, a column present exactly when a flag
//! is true, and a column that must differ from another. Vectorised over a
//! batch where the rule allows; rows whose inputs failed conversion are
//! skipped (they already have their finding).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, StringArray};
use arrow::datatypes::{DataType, Int64Type};

use super::validation::Validation;
use crate::finding::{Finding, RuleCode};
use crate::schema::RowRule;

impl Validation<'_> {
    /// Check one row rule over a batch.
    pub(super) fn row_rule(
        &mut self,
        rule: &RowRule,
        arrays: &[Option<ArrayRef>],
        bad: &[Option<Vec<bool>>],
        offset: u64,
    ) {
        let idx = |name: &str| self.schema.column_index(name).expect("checked when loading");
        let cols: Vec<usize> = rule.columns().iter().map(|c| idx(c)).collect();
        // a text column read as a dictionary is compared as it is when its
        // values are Utf8 (the comparison kernels look at the values once),
        // else made text first
        let utf8_dictionary =
            |a: &ArrayRef| matches!(a.data_type(), DataType::Dictionary(_, v) if **v == DataType::Utf8);
        let arrays: Vec<Option<ArrayRef>> = arrays
            .iter()
            .enumerate()
            .map(|(i, a)| {
                a.as_ref().map(|a| match cols.contains(&i) && !utf8_dictionary(a) {
                    true => super::validation::as_text(a),
                    false => a.clone(),
                })
            })
            .collect();
        let arrays = arrays.as_slice();
        if cols.iter().any(|&c| arrays[c].is_none()) {
            return;
        }
        let any_bad = cols.iter().any(|&c| bad[c].is_some());
        let usable = |i: usize| !any_bad || cols.iter().all(|&c| !bad[c].as_ref().is_some_and(|b| b[i]));
        // Integer columns as Int64, resolved once per batch.
        let int_cols: HashMap<&str, Int64Array> = rule
            .columns()
            .into_iter()
            .filter_map(|name| {
                let a = arrays[idx(name)].as_ref()?;
                matches!(a.data_type(), DataType::Int8 | DataType::Int32)
                    .then(|| arrow::compute::cast(a, &DataType::Int64).ok())
                    .flatten()
                    .map(|c| (name, c.as_primitive::<Int64Type>().clone()))
            })
            .collect();
        // Sum of integer columns, null where any is null (vectorised).
        let sum_of = |names: &[String]| -> Option<Int64Array> {
            let mut acc: Option<ArrayRef> = None;
            for name in names {
                let a: ArrayRef = Arc::new(int_cols.get(name.as_str())?.clone());
                acc = Some(match acc {
                    None => a,
                    Some(x) => arrow::compute::kernels::numeric::add_wrapping(&x, &a).ok()?,
                });
            }
            acc.map(|a| a.as_primitive::<Int64Type>().clone())
        };
        let text =
            |name: &str| arrays[idx(name)].as_ref().map(|a| super::validation::as_text(a).as_string::<i32>().clone());
        let n = arrays[cols[0]].as_ref().map_or(0, |a| a.len());
        let row = |i: usize| offset + i as u64 + 1;
        let hits = |mask: &BooleanArray| -> Vec<usize> {
            let valid = mask.nulls().map(|nulls| nulls.inner().clone());
            let set = match valid {
                Some(v) => &v & mask.values(),
                None => mask.values().clone(),
            };
            set.set_indices().filter(|&i| usable(i)).collect()
        };
        let mut out = Vec::new();
        match rule {
            RowRule::SumAtMost { columns, limit, description } => {
                let (Some(sum), Some(lim)) = (sum_of(columns), int_cols.get(limit.as_str())) else { return };
                let Ok(over) = arrow::compute::kernels::cmp::gt(&sum, lim) else { return };
                for i in hits(&over) {
                    let (total, lim) = (sum.value(i), lim.value(i));
                    out.push(
                        Finding::new(
                            RuleCode::RowRule,
                            format!("{} = {total} exceeds {limit} = {lim}: {description}", columns.join(" + ")),
                        )
                        .column(&columns[0])
                        .row(row(i))
                        .value(format!("{total} > {lim}")),
                    );
                }
            }
            RowRule::WhenValueSumPositive { when_column, when_value, columns, description } => {
                let (Some(w), Some(sum)) = (arrays[idx(when_column)].as_ref(), sum_of(columns)) else { return };
                let target = StringArray::new_scalar(when_value.as_str());
                let zero = Int64Array::new_scalar(0);
                let (Ok(is_value), Ok(none)) =
                    (arrow::compute::kernels::cmp::eq(w, &target), arrow::compute::kernels::cmp::lt_eq(&sum, &zero))
                else {
                    return;
                };
                let Ok(both) = arrow::compute::and(&is_value, &none) else { return };
                for i in hits(&both) {
                    out.push(
                        Finding::new(
                            RuleCode::RowRule,
                            format!("{when_column} is {when_value} but {} is 0: {description}", columns.join(" + ")),
                        )
                        .column(when_column)
                        .row(row(i))
                        .value(when_value),
                    );
                }
            }
            RowRule::PresentIffTrue { column, flag, description } => {
                let flags: BooleanArray = arrays[idx(flag)].as_ref().expect("present").as_boolean().clone();
                let vals = arrays[idx(column)].as_ref().expect("present");
                for i in (0..n).filter(|&i| usable(i) && flags.is_valid(i)) {
                    let (f, has) = (flags.value(i), vals.is_valid(i));
                    if f != has {
                        let msg = if f {
                            format!("{column} is empty but {flag} is true: {description}")
                        } else {
                            format!("{column} is given but {flag} is false: {description}")
                        };
                        out.push(Finding::new(RuleCode::RowRule, msg).column(column).row(row(i)));
                    }
                }
            }
            RowRule::DiffersFrom { column, other, description } => {
                let (Some(a), Some(b)) = (text(column), text(other)) else { return };
                for i in (0..n).filter(|&i| usable(i)) {
                    if a.is_valid(i) && b.is_valid(i) && a.value(i) == b.value(i) {
                        out.push(
                            Finding::new(
                                RuleCode::RowRule,
                                format!("{column} '{}' is the reporting member itself: {description}", a.value(i)),
                            )
                            .column(column)
                            .row(row(i))
                            .value(a.value(i)),
                        );
                    }
                }
            }
        }
        for f in out {
            self.collector.push(f);
        }
    }
}
