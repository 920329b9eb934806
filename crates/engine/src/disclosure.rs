//! Disclosure control for small counts (see docs/disclosure.md).
//!
//! Rules, per group (a reference year) and count column:
//! 1. primary: a count from 1 to k−1 is hidden;
//! 2. secondary: when exactly one cell is hidden, the smallest other
//!    positive cell is hidden too (ties: the first unit, i.e. member code);
//! 3. further: while an attacker who knows the column total (published as
//!    regional totals), the published cells and these rules could still pin
//!    a hidden cell to one value, the next smallest positive cell is hidden;
//!    when no positive cell is left, the zero cells are hidden as well.
//!
//! Zeros are never hidden by rules 1–2: a hidden zero would not protect a
//! small cell (the attacker would know the sum is below k).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};

use crate::error::{EngineError, Result};
use crate::pipeline::Disclosure;

/// What an attacker knows of one hidden cell: bounds on its value.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub lo: i64,
    pub hi: i64,
}

/// For each hidden cell, the range of values consistent with the known
/// total: `[max(lo_i, S - Σ_{j≠i} hi_j), min(hi_i, S - Σ_{j≠i} lo_j)]`.
pub fn feasible(bounds: &[Bounds], hidden_sum: i64) -> Vec<(i64, i64)> {
    let sum_lo: i64 = bounds.iter().map(|b| b.lo).sum();
    let sum_hi: i64 = bounds.iter().map(|b| b.hi.min(i64::MAX / 1024)).sum();
    bounds
        .iter()
        .map(|b| {
            let hi_i = b.hi.min(i64::MAX / 1024);
            (b.lo.max(hidden_sum - (sum_hi - hi_i)), hi_i.min(hidden_sum - (sum_lo - b.lo)))
        })
        .collect()
}

/// Bounds an attacker can put on the hidden cells of one column of one group.
fn attacker_bounds(values: &[i64], hidden: &[bool], k: i64) -> Vec<Bounds> {
    let zeros_hidden = values.iter().zip(hidden).any(|(v, h)| *h && *v == 0);
    let min_published = values.iter().zip(hidden).filter(|(v, h)| !**h && **v > 0).map(|(v, _)| *v).min();
    let lo = if zeros_hidden { 0 } else { 1 };
    // A hidden cell is a small count (< k) or a complement no larger than the smallest published positive cell.
    let hi = match min_published {
        Some(m) => m.max(k - 1),
        None => i64::MAX / 1024,
    };
    hidden.iter().filter(|h| **h).map(|_| Bounds { lo, hi }).collect()
}

/// Whether some hidden cell of a column could be worked out exactly.
fn exposed(values: &[i64], hidden: &[bool], k: i64) -> bool {
    let n_hidden = hidden.iter().filter(|h| **h).count();
    if n_hidden == 0 {
        return false;
    }
    if n_hidden == 1 {
        return true;
    }
    let s: i64 = values.iter().zip(hidden).filter(|(_, h)| **h).map(|(v, _)| *v).sum();
    feasible(&attacker_bounds(values, hidden, k), s).iter().any(|(a, b)| a >= b)
}

/// Suppression of one column of one group: which cells are hidden.
pub fn suppress(values: &[i64], k: i64) -> Vec<bool> {
    let mut hidden: Vec<bool> = values.iter().map(|v| *v >= 1 && *v < k).collect();
    if !hidden.iter().any(|h| *h) {
        return hidden;
    }
    while exposed(values, &hidden, k) {
        // the smallest published positive cell (first unit on ties)…
        let next = (0..values.len()).filter(|&i| !hidden[i] && values[i] > 0).min_by_key(|&i| (values[i], i));
        match next {
            Some(i) => hidden[i] = true,
            None => {
                // …or, with none left, the zeros.
                if hidden.iter().all(|h| *h) {
                    break; // a group of one: its total is public anyway (reported as a warning)
                }
                hidden.iter_mut().for_each(|h| *h = true);
            }
        }
    }
    hidden
}

/// Apply disclosure control to the raw counts table. Returns the published
/// table (counts null where hidden, plus `suppressed`) and warnings.
pub fn apply(raw: &RecordBatch, d: &Disclosure, k: i64) -> Result<(RecordBatch, Vec<String>)> {
    let schema = raw.schema();
    let col = |name: &str| {
        schema.index_of(name).map_err(|_| EngineError::Pipeline {
            file: "pipeline.toml".into(),
            message: format!("disclosure input {} has no column {name}", d.input),
        })
    };
    let group_idx = col(&d.group)?;
    let unit_idx = col(&d.unit)?;
    let group = datafusion::arrow::compute::cast(raw.column(group_idx), &DataType::Int64)?;
    let group = group.as_primitive::<Int64Type>();
    let n = raw.num_rows();
    // rows of each group, in unit order (the input is sorted by its key)
    let mut groups: std::collections::BTreeMap<i64, Vec<usize>> = std::collections::BTreeMap::new();
    for i in 0..n {
        groups.entry(group.value(i)).or_default().push(i);
    }
    let units = datafusion::arrow::compute::cast(raw.column(unit_idx), &DataType::Utf8)?;
    let units = units.as_string::<i32>();
    for rows in groups.values_mut() {
        rows.sort_by(|a, b| units.value(*a).cmp(units.value(*b)));
    }
    let mut warnings = Vec::new();
    let mut any_hidden = vec![false; n];
    let mut out_cols: Vec<ArrayRef> = Vec::new();
    let mut fields = vec![schema.field(group_idx).clone(), schema.field(unit_idx).clone()];
    out_cols.push(raw.column(group_idx).clone());
    out_cols.push(raw.column(unit_idx).clone());
    for c in &d.columns {
        let idx = col(c)?;
        let values = datafusion::arrow::compute::cast(raw.column(idx), &DataType::Int64)?;
        let values = values.as_primitive::<Int64Type>();
        let mut published: Vec<Option<i64>> = (0..n).map(|i| values.is_valid(i).then(|| values.value(i))).collect();
        for (g, rows) in &groups {
            let v: Vec<i64> = rows.iter().map(|&i| if values.is_valid(i) { values.value(i) } else { 0 }).collect();
            let hidden = suppress(&v, k);
            if rows.len() == 1 && hidden[0] {
                warnings.push(format!(
                    "{} {c} for {g}: only one {} reported, so its count equals the published regional total",
                    d.input, d.unit
                ));
            }
            for (pos, &i) in rows.iter().enumerate() {
                if hidden[pos] {
                    published[i] = None;
                    any_hidden[i] = true;
                }
            }
        }
        fields.push(Field::new(c, DataType::Int64, true));
        out_cols.push(Arc::new(Int64Array::from(published)));
    }
    fields.push(Field::new("suppressed", DataType::Boolean, false));
    out_cols.push(Arc::new(BooleanArray::from(any_hidden)));
    Ok((RecordBatch::try_new(Arc::new(Schema::new(fields)), out_cols)?, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_and_secondary() {
        // one small cell: the smallest other positive cell goes too
        assert_eq!(suppress(&[3, 0, 40, 12, 12], 5), vec![true, false, false, true, false]);
        // nothing small: nothing hidden
        assert_eq!(suppress(&[0, 5, 9], 5), vec![false, false, false]);
    }

    #[test]
    fn no_hidden_cell_is_pinned_down() {
        // two ones: sum 2 over two cells of at least 1 each gives both away
        let h = suppress(&[1, 1, 30, 50], 5);
        assert!(!exposed(&[1, 1, 30, 50], &h, 5), "{h:?}");
        // primary 4 with complement 5 where 5 is also the smallest published: 9 = 4 + 5 pins both
        let v = [4, 5, 5, 80];
        let h = suppress(&v, 5);
        assert!(!exposed(&v, &h, 5), "{h:?}");
    }
}
