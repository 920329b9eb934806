//! Disclosure control for small counts (see docs/disclosure.md).
//!
//! Rules, per group (a reference year) and count column:
//! 1. primary: a count from 1 to k−1 is hidden;
//! 2. secondary: when exactly one cell is hidden, the smallest other
//!    positive cell is hidden too (ties: the first unit, i.e. member code);
//! 3. further: while an attacker who knows the column total (published as
//!    regional totals), the published cells and these rules could still pin
//!    a hidden cell to one value, the next smallest positive cell is hidden;
//!    when no positive cell is left, the zero cells are hidden as well. The
//!    attacker reasons with roles: each hidden cell is a small count, or a
//!    complement (at least k, and no larger than the published cells, since
//!    the smallest is taken first), or a hidden zero.
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
/// total: `[max(lo_i, S - Σ_{j≠i} hi_j), min(hi_i, S - Σ_{j≠i} lo_j)]`
/// (exact for whole numbers within their bounds: every sum between is reachable).
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

/// More hidden cells than this are not worth an exact role search (3^n
/// combinations): with so many cells hidden, no single one is pinned.
const ROLE_SEARCH_LIMIT: usize = 10;

/// What each hidden cell can be, as an attacker who knows the rules sees it:
/// a small count (1..k−1), a complement, or — once the zeros are hidden — a
/// zero. A complement is at least k (smaller positive counts are primary) and
/// no larger than any published positive cell, strictly smaller than one of
/// an earlier unit (ties go to the first unit, so an equal earlier cell would
/// have been hidden instead).
fn roles(values: &[i64], hidden: &[bool], k: i64, i: usize) -> Vec<Bounds> {
    let zeros_hidden = values.iter().zip(hidden).any(|(v, h)| *h && *v == 0);
    let cap = (0..values.len())
        .filter(|&j| !hidden[j] && values[j] > 0)
        .map(|j| if j < i { values[j] - 1 } else { values[j] })
        .min()
        .unwrap_or(i64::MAX / 1024);
    let mut out = vec![Bounds { lo: 1, hi: k - 1 }];
    if cap >= k {
        out.push(Bounds { lo: k, hi: cap });
    }
    if zeros_hidden {
        out.push(Bounds { lo: 0, hi: 0 });
    }
    out
}

/// Whether some hidden cell of a column could be worked out exactly by an
/// attacker who knows the published cells, the column total and the rules:
/// over every assignment of roles to the hidden cells (at least one of them
/// a small count, since suppression starts from one), the values each cell
/// can take; a cell with one possible value is exposed.
fn exposed(values: &[i64], hidden: &[bool], k: i64) -> bool {
    let idx: Vec<usize> = (0..values.len()).filter(|&i| hidden[i]).collect();
    if idx.is_empty() {
        return false;
    }
    if idx.len() == 1 {
        return true;
    }
    if idx.len() > ROLE_SEARCH_LIMIT {
        return false;
    }
    let s: i64 = idx.iter().map(|&i| values[i]).sum();
    let options: Vec<Vec<Bounds>> = idx.iter().map(|&i| roles(values, hidden, k, i)).collect();
    // possible[c]: the values cell c can take, as a set of ranges
    let mut possible: Vec<Vec<(i64, i64)>> = vec![Vec::new(); idx.len()];
    let mut choice = vec![0usize; idx.len()];
    loop {
        let bounds: Vec<Bounds> = choice.iter().zip(&options).map(|(&c, o)| o[c]).collect();
        if bounds.iter().any(|b| b.lo == 1 && b.hi == k - 1) {
            for (c, (a, b)) in feasible(&bounds, s).into_iter().enumerate() {
                if a <= b {
                    possible[c].push((a, b));
                }
            }
        }
        // next role assignment
        let mut c = 0;
        while c < choice.len() {
            choice[c] += 1;
            if choice[c] < options[c].len() {
                break;
            }
            choice[c] = 0;
            c += 1;
        }
        if c == choice.len() {
            break;
        }
    }
    possible.iter().any(|ranges| {
        let mut ranges = ranges.clone();
        ranges.sort_unstable();
        let (mut values, mut end) = (0i64, i64::MIN);
        for (a, b) in ranges {
            let a = a.max(end.saturating_add(1));
            if a <= b {
                values += b - a + 1;
                end = b;
            }
            if values > 1 {
                return false;
            }
        }
        values == 1
    })
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

/// The outcome of disclosure control on one table.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The published table: counts null where hidden, plus `suppressed`.
    pub table: RecordBatch,
    /// Cells hidden, over all groups and columns.
    pub hidden_cells: u64,
    /// The cells hidden by rule 1 (a count from 1 to k−1): (group, unit,
    /// column), sorted. The others hidden are secondary.
    pub primary: Vec<(i64, String, String)>,
    pub warnings: Vec<String>,
}

/// Apply disclosure control to the raw counts table.
pub fn apply(raw: &RecordBatch, d: &Disclosure, k: i64) -> Result<Applied> {
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
    let mut hidden_cells = 0u64;
    let mut primary = Vec::new();
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
            } else if hidden.iter().all(|h| *h) && exposed(&v, &hidden, k) {
                warnings.push(format!(
                    "{} {c} for {g}: every {} is hidden, and the published regional total still gives their counts away",
                    d.input, d.unit
                ));
            }
            for (pos, &i) in rows.iter().enumerate() {
                if hidden[pos] {
                    if (1..k).contains(&v[pos]) {
                        primary.push((*g, units.value(i).to_string(), c.clone()));
                    }
                    hidden_cells += 1;
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
    let table = RecordBatch::try_new(Arc::new(Schema::new(fields)), out_cols)?;
    primary.sort();
    Ok(Applied { table, hidden_cells, primary, warnings })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

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

    #[test]
    fn a_complement_tied_with_a_published_cell_is_not_given_away() {
        // 4 is primary; its complement is the first 8. Knowing the rule, a reader
        // could reason: the hidden pair adds up to 12, the small one is at most 4
        // and the complement at most 8 (it was the smallest), so 8 and 4 exactly.
        let v = [8, 8, 9, 4, 0];
        let h = suppress(&v, 5);
        assert!(h.iter().filter(|h| **h).count() >= 3, "{h:?}");
        assert!(!exposed(&v, &h, 5));
    }

    /// Pseudo-random small columns (2 to 5 cells of 0 to 11), the same every run.
    fn columns(n: usize) -> Vec<Vec<i64>> {
        let mut seed = 42u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % 12
        };
        (0..n)
            .map(|_| {
                let len = 2 + (next() % 4) as usize;
                (0..len).map(|_| next() as i64).collect()
            })
            .collect()
    }

    /// Every way of writing `total` as `parts.len()` counts of 0 or more.
    fn compositions(i: usize, left: i64, parts: &mut Vec<i64>, visit: &mut dyn FnMut(&[i64])) {
        if i + 1 == parts.len() {
            parts[i] = left;
            visit(parts);
            return;
        }
        for v in 0..=left {
            parts[i] = v;
            compositions(i + 1, left - v, parts, visit);
        }
    }

    /// The values each hidden cell can take, for an attacker who lists every
    /// table that `consistent` accepts among those whose hidden cells add up
    /// to what the published total leaves.
    fn candidates(values: &[i64], hidden: &[bool], consistent: &dyn Fn(&[i64]) -> bool) -> Vec<BTreeSet<i64>> {
        let idx: Vec<usize> = (0..values.len()).filter(|&i| hidden[i]).collect();
        let rest: i64 = idx.iter().map(|&i| values[i]).sum();
        let mut possible = vec![BTreeSet::new(); idx.len()];
        let mut parts = vec![0i64; idx.len()];
        compositions(0, rest, &mut parts, &mut |p| {
            let mut imagined = values.to_vec();
            for (j, &i) in idx.iter().enumerate() {
                imagined[i] = p[j];
            }
            if consistent(&imagined) {
                for (j, v) in p.iter().enumerate() {
                    possible[j].insert(*v);
                }
            }
        });
        possible
    }

    /// An attacker who knows the published cells of a column, its total (the
    /// regional figure is published), k and the rules as docs/disclosure.md
    /// states them lists every table that could lie behind what was
    /// published — by enumeration, cell by cell, not with the intervals the
    /// suppression loop reasons with: a hidden cell holds a small count
    /// (1..k−1), or a complement (at least k, no larger than any published
    /// positive cell and smaller than an earlier unit's), or a zero once zeros
    /// are hidden; at least one is small. No hidden cell may have only one
    /// possible value.
    #[test]
    fn no_cell_is_pinned_for_an_attacker_who_knows_the_rules() {
        let k = 5;
        let mut checked = 0;
        for values in columns(3000) {
            let hidden = suppress(&values, k);
            if !hidden.iter().any(|h| *h) {
                assert!(values.iter().all(|&v| v == 0 || v >= k), "{values:?}: a small count is published");
                continue;
            }
            if hidden.iter().all(|h| *h) && exposed(&values, &hidden, k) {
                continue; // nothing left to hide: the run warns that the total gives the cells away
            }
            let zeros_hidden = values.iter().zip(&hidden).any(|(v, h)| *h && *v == 0);
            let consistent = |t: &[i64]| {
                let mut small = false;
                for i in (0..t.len()).filter(|&i| hidden[i]) {
                    let below_every_published = (0..t.len())
                        .filter(|&j| !hidden[j] && t[j] > 0)
                        .all(|j| if j < i { t[i] < t[j] } else { t[i] <= t[j] });
                    match t[i] {
                        v if (1..k).contains(&v) => small = true,
                        0 if zeros_hidden => {}
                        v if v >= k && below_every_published => {}
                        _ => return false,
                    }
                }
                small
            };
            let possible = candidates(&values, &hidden, &consistent);
            let idx: Vec<usize> = (0..values.len()).filter(|&i| hidden[i]).collect();
            for (j, p) in possible.iter().enumerate() {
                assert!(p.contains(&values[idx[j]]), "{values:?}: the true table is among the candidates");
                assert!(p.len() > 1, "{values:?} → {hidden:?}: cell {} can only be {p:?}", idx[j]);
            }
            checked += 1;
        }
        assert!(checked > 1000, "enough columns had hidden cells ({checked})");
    }

    /// A stronger attacker replays the whole procedure on every table they
    /// imagine — including the loop's decisions to hide one more cell — and
    /// keeps the tables that give exactly the published pattern. That
    /// attacker can still pin a cell in a few columns (docs/disclosure.md
    /// gives one); this test holds the count where it was measured, so a
    /// change that lets more through fails.
    #[test]
    fn an_attacker_replaying_the_procedure_pins_no_more_than_measured() {
        let k = 5;
        let (mut pinned, mut with_hidden) = (0, 0);
        for values in columns(3000) {
            let hidden = suppress(&values, k);
            if !hidden.iter().any(|h| *h) {
                continue;
            }
            with_hidden += 1;
            let possible = candidates(&values, &hidden, &|t| suppress(t, k) == hidden);
            if possible.iter().any(|p| p.len() == 1) {
                pinned += 1;
            }
        }
        assert_eq!(with_hidden, 2207);
        assert!(pinned <= 11, "{pinned} of {with_hidden} columns have a cell the replaying attacker pins");
    }
}
