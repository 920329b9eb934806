//! The uniqueness check of one column (`E_UNIQUE`), in bounded memory.
//!
//! Ids are checked in memory without copying them: a map from a 64-bit hash
//! to the first row, the column's arrays kept to compare strings when hashes
//! meet, and an exact map for the (rare) true hash collisions. Once the
//! budget of distinct ids is held, they go to a sorted run in a temporary
//! file and the map starts again, so memory stays bounded whatever the
//! file's size. At the end the runs are merged (external-memory k-way merge)
//! and an id first seen in one run and again in a later one is reported then.
//!
//! Files are often sorted by their id (exports from a case system usually
//! are). While every id is greater than the one before, none can repeat an
//! earlier one, so none is hashed: the check is one comparison. The first id
//! out of order puts the earlier ids in the map and the check goes on as
//! above; the in-order ids count against the budget like the others.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault};
use std::io::{Read, Seek, Write};

use arrow::array::{Array, StringArray};

use crate::finding::{Finding, RuleCode, truncate};

/// The uniqueness state of one column.
#[derive(Default)]
pub(super) struct Unique {
    first_row: HashMap<u64, u64, BuildHasherDefault<PassThrough>>,
    batches: Vec<(u64, StringArray)>,
    collided: HashMap<Box<str>, u64>,
    budget: usize,
    runs: Vec<std::fs::File>,
    /// An id was not greater than the one before: ids are hashed.
    unordered: bool,
    /// While in order: the row of the last id checked, and how many ids
    /// since the last spill are held only in `batches` (not in the map).
    last: Option<u64>,
    in_order: usize,
    /// While in order: the last id before the last spill (its batch is gone).
    spilled_last: Option<String>,
}

static ID_HASH: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0x5eed);

impl Unique {
    pub(super) fn with_budget(budget: usize) -> Unique {
        Unique { budget: budget.max(1), ..Unique::default() }
    }

    pub(super) fn add_batch(&mut self, offset: u64, ids: StringArray) {
        if self.budget > 0 && self.first_row.len() + self.collided.len() + self.in_order >= self.budget {
            self.spill();
        }
        if self.unordered {
            self.first_row.reserve(ids.len());
        }
        self.batches.push((offset, ids));
    }

    /// The 1-based row `row` holds `v`; returns the first row holding it, if
    /// earlier. Every id of a batch is checked, in row order.
    pub(super) fn check(&mut self, v: &str, row: u64) -> Option<u64> {
        if !self.unordered {
            let before = match self.last {
                Some(r) => self.value_at(r),
                None => self.spilled_last.as_deref(),
            };
            if before.is_none_or(|b| v > b) {
                self.last = Some(row);
                self.in_order += 1;
                return None;
            }
            self.hash_in_order();
        }
        self.hashed(ID_HASH.hash_one(v), v, row)
    }

    /// Check every id of the batch last added (its first row after
    /// `offset`), calling `repeat(row, first row, id)` for each repeat; ids
    /// in order are compared with the one before and nothing else.
    pub(super) fn check_batch(&mut self, offset: u64, ids: &StringArray, mut repeat: impl FnMut(u64, u64, &str)) {
        let mut i = 0;
        if !self.unordered {
            let mut before = match self.last {
                Some(r) => self.value_at(r),
                None => self.spilled_last.as_deref(),
            };
            let (mut last, mut n) = (None, 0);
            while i < ids.len() {
                if ids.is_valid(i) {
                    let v = ids.value(i);
                    if before.is_some_and(|b| v <= b) {
                        break;
                    }
                    (before, last, n) = (Some(v), Some(offset + i as u64 + 1), n + 1);
                }
                i += 1;
            }
            if last.is_some() {
                self.last = last;
            }
            self.in_order += n;
            if i == ids.len() {
                return;
            }
            self.hash_in_order();
        }
        for i in i..ids.len() {
            if ids.is_valid(i) {
                let row = offset + i as u64 + 1;
                if let Some(first) = self.hashed(ID_HASH.hash_one(ids.value(i)), ids.value(i), row) {
                    repeat(row, first, ids.value(i));
                }
            }
        }
    }

    /// The ids checked in order so far, as (row, id).
    fn in_order_ids(&self) -> impl Iterator<Item = (u64, &str)> {
        let last = self.last.unwrap_or(0);
        self.batches.iter().flat_map(move |(offset, ids)| {
            (0..ids.len())
                .map(move |i| (offset + i as u64 + 1, i))
                .take_while(move |(row, _)| *row <= last)
                .filter(|(_, i)| ids.is_valid(*i))
                .map(|(row, i)| (row, ids.value(i)))
        })
    }

    /// An id came out of order: from now on ids are hashed, the earlier ones first.
    fn hash_in_order(&mut self) {
        self.unordered = true;
        let last = self.last.unwrap_or(0);
        for (offset, ids) in self.batches.clone() {
            for i in (0..ids.len()).take_while(|i| offset + (*i as u64) < last) {
                if ids.is_valid(i) {
                    self.hashed(ID_HASH.hash_one(ids.value(i)), ids.value(i), offset + i as u64 + 1);
                }
            }
        }
        (self.last, self.in_order, self.spilled_last) = (None, 0, None);
    }

    /// Check `v`, whose hash is `h`, in the maps.
    fn hashed(&mut self, h: u64, v: &str, row: u64) -> Option<u64> {
        match self.first_row.entry(h) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(row);
                None
            }
            std::collections::hash_map::Entry::Occupied(e) => {
                let first = *e.get();
                if self.value_at(first) == Some(v) {
                    return Some(first);
                }
                match self.collided.entry(v.into()) {
                    std::collections::hash_map::Entry::Occupied(o) => Some(*o.get()),
                    std::collections::hash_map::Entry::Vacant(o) => {
                        o.insert(row);
                        None
                    }
                }
            }
        }
    }

    fn value_at(&self, row: u64) -> Option<&str> {
        let at = self.batches.partition_point(|(offset, _)| *offset < row).checked_sub(1)?;
        let (offset, ids) = self.batches.get(at)?;
        let i = (row - offset - 1) as usize;
        (i < ids.len() && ids.is_valid(i)).then(|| ids.value(i))
    }

    /// Move the ids held in memory to a sorted run on disk. If there is no
    /// temporary space, keep going in memory (correct, only not bounded).
    fn spill(&mut self) {
        let mut entries: Vec<(u64, &str, u64)> =
            Vec::with_capacity(self.first_row.len() + self.collided.len() + self.in_order);
        let spilled_last = if self.unordered {
            None
        } else {
            entries.extend(self.in_order_ids().map(|(row, v)| (ID_HASH.hash_one(v), v, row)));
            self.last.and_then(|r| self.value_at(r)).map(str::to_string).or(self.spilled_last.clone())
        };
        for (&h, &row) in &self.first_row {
            if let Some(v) = self.value_at(row) {
                entries.push((h, v, row));
            }
        }
        for (v, &row) in &self.collided {
            entries.push((ID_HASH.hash_one(&**v), v, row));
        }
        entries.sort_unstable();
        let written = (|| -> std::io::Result<std::fs::File> {
            let mut out = std::io::BufWriter::new(tempfile::tempfile()?);
            for (h, v, row) in &entries {
                out.write_all(&h.to_le_bytes())?;
                out.write_all(&row.to_le_bytes())?;
                out.write_all(&(v.len() as u32).to_le_bytes())?;
                out.write_all(v.as_bytes())?;
            }
            let mut file = out.into_inner().map_err(|e| e.into_error())?;
            file.seek(std::io::SeekFrom::Start(0))?;
            Ok(file)
        })();
        match written {
            Ok(file) => {
                self.runs.push(file);
                if !self.unordered {
                    (self.last, self.in_order, self.spilled_last) = (None, 0, spilled_last);
                }
                self.first_row = HashMap::default();
                self.collided = HashMap::new();
                self.batches.clear();
            }
            Err(_) => self.budget = usize::MAX,
        }
    }

    /// After the last batch: every id of a later run that repeats an id of an
    /// earlier one, as (row, first row, id). Within a run, repeats were
    /// reported as they were read.
    pub(super) fn finish(mut self, mut report: impl FnMut(u64, u64, &str)) {
        if self.runs.is_empty() {
            return;
        }
        self.spill();
        let mut readers: Vec<RunReader> = self
            .runs
            .into_iter()
            .map(|f| RunReader { input: std::io::BufReader::new(f), value: String::new() })
            .collect();
        let mut heap = std::collections::BinaryHeap::new();
        for (i, r) in readers.iter_mut().enumerate() {
            if let Some((h, row)) = r.next() {
                heap.push(std::cmp::Reverse((h, r.value.clone(), row, i)));
            }
        }
        let mut current: Option<(u64, String, u64)> = None;
        while let Some(std::cmp::Reverse((h, v, row, i))) = heap.pop() {
            match &current {
                Some((ch, cv, first)) if *ch == h && *cv == v => report(row.max(*first), row.min(*first), &v),
                _ => current = Some((h, v, row)),
            }
            if let Some((h, row)) = readers[i].next() {
                heap.push(std::cmp::Reverse((h, readers[i].value.clone(), row, i)));
            }
        }
    }
}

pub(super) fn unique_finding(column: &str, v: &str, row: u64, first: u64) -> Finding {
    Finding::new(
        RuleCode::Unique,
        format!("{column} '{}' in row {row} repeats row {first}; each must be unique in the file", truncate(v, 40)),
    )
    .column(column)
    .row(row)
    .value(v)
}

/// Reads one sorted run back: (hash, row), the id in `value`.
struct RunReader {
    input: std::io::BufReader<std::fs::File>,
    value: String,
}

impl RunReader {
    fn next(&mut self) -> Option<(u64, u64)> {
        let mut head = [0u8; 20];
        self.input.read_exact(&mut head).ok()?;
        let h = u64::from_le_bytes(head[0..8].try_into().ok()?);
        let row = u64::from_le_bytes(head[8..16].try_into().ok()?);
        let len = u32::from_le_bytes(head[16..20].try_into().ok()?) as usize;
        let mut bytes = vec![0u8; len];
        self.input.read_exact(&mut bytes).ok()?;
        self.value = String::from_utf8(bytes).ok()?;
        Some((h, row))
    }
}

/// A hasher for keys that are already hashes.
#[derive(Default)]
struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Every repeat is reported once, naming an earlier row with the same id,
    /// whether the ids stay in memory or go through sorted runs on disk.
    #[test]
    fn spilled_uniqueness_finds_exactly_the_repeats() {
        let (mut spills, mut sorted_spills) = (0, 0);
        for seed in 1..60u64 {
            let mut x = seed;
            let mut next = || {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                x >> 33
            };
            let distinct = 1 + next() % 40;
            // random ids; sorted ones, then random; sorted with a repeat now
            // and then; sorted without one (in order, spilled and merged)
            let rows: Vec<String> = match seed % 4 {
                0 => (0..300).map(|_| format!("id-{:03}", next() % distinct)).collect(),
                1 => {
                    let k = next() % 300;
                    (0..300).map(|i| format!("id-{:03}", if i < k { i } else { next() % 300 })).collect()
                }
                2 => (0..300u64).map(|i| format!("id-{:03}", i - u64::from(i % 97 == 96))).collect(),
                _ => (0..300).map(|i| format!("id-{i:03}")).collect(),
            };
            let budget = 1 + (seed as usize % 7);
            let mut u = Unique::with_budget(budget);
            let mut reported: Vec<(u64, u64)> = Vec::new();
            let mut offset = 0u64;
            for chunk in rows.chunks(1 + seed as usize % 11) {
                let ids = StringArray::from(chunk.to_vec());
                u.add_batch(offset, ids.clone());
                // a batch at once or row by row
                if seed % 8 < 4 {
                    u.check_batch(offset, &ids, |row, first, _| reported.push((row, first)));
                } else {
                    for (i, v) in chunk.iter().enumerate() {
                        let row = offset + i as u64 + 1;
                        if let Some(first) = u.check(v, row) {
                            reported.push((row, first));
                        }
                    }
                }
                offset += chunk.len() as u64;
            }
            spills += u.runs.len();
            if seed % 4 == 3 {
                sorted_spills += u.runs.len();
            }
            u.finish(|row, first, v| {
                assert_eq!(rows[row as usize - 1], v);
                reported.push((row, first));
            });
            reported.sort_unstable();
            let mut seen = HashSet::new();
            let expected: Vec<u64> =
                rows.iter().enumerate().filter(|(_, v)| !seen.insert(v.as_str())).map(|(i, _)| i as u64 + 1).collect();
            assert_eq!(reported.iter().map(|r| r.0).collect::<Vec<_>>(), expected, "seed {seed}");
            for (row, first) in reported {
                assert!(first < row && rows[first as usize - 1] == rows[row as usize - 1], "seed {seed}");
            }
        }
        assert!(spills > 100, "the runs on disk were exercised ({spills} runs)");
        assert!(sorted_spills > 10, "ids in order were spilled too ({sorted_spills} runs)");
    }

    #[test]
    fn ids_in_order_are_not_hashed_until_one_is_out_of_order() {
        let mut u = Unique::with_budget(100);
        u.add_batch(0, StringArray::from(vec![Some("a"), None, Some("c")]));
        assert_eq!(u.check("a", 1), None);
        assert_eq!(u.check("c", 3), None);
        u.add_batch(3, StringArray::from(vec!["d", "e", "c"]));
        assert_eq!(u.check("d", 4), None);
        assert_eq!(u.check("e", 5), None);
        assert!(u.first_row.is_empty() && !u.unordered, "nothing hashed while in order");
        assert_eq!(u.check("c", 6), Some(3), "the repeat names the first row");
        assert!(u.unordered);
        assert_eq!(u.first_row.len(), 4, "a, c, d and e hashed, the empty row not");
    }

    #[test]
    fn a_batch_checked_whole_finds_what_row_by_row_finds() {
        let batches = [vec![Some("a"), Some("b"), None, Some("d")], vec![Some("e"), Some("c"), Some("e"), Some("f")]];
        let (mut whole, mut rows) = (Unique::with_budget(3), Unique::with_budget(3));
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut offset = 0;
        for ids in batches {
            let ids = StringArray::from(ids);
            whole.add_batch(offset, ids.clone());
            whole.check_batch(offset, &ids, |row, first, v| a.push((row, first, v.to_string())));
            rows.add_batch(offset, ids.clone());
            for i in 0..ids.len() {
                let row = offset + i as u64 + 1;
                if ids.is_valid(i)
                    && let Some(first) = rows.check(ids.value(i), row)
                {
                    b.push((row, first, ids.value(i).to_string()));
                }
            }
            offset += ids.len() as u64;
        }
        whole.finish(|row, first, v| a.push((row, first, v.to_string())));
        rows.finish(|row, first, v| b.push((row, first, v.to_string())));
        assert_eq!(a, b);
        assert_eq!(a.iter().map(|r| r.0).collect::<Vec<_>>(), [7], "the second e repeats row 5");
    }

    #[test]
    fn unique_ids_across_batches_name_the_first_row() {
        let mut u = Unique::with_budget(100);
        u.add_batch(0, StringArray::from(vec!["a", "b", "c"]));
        assert_eq!(u.check("a", 1), None);
        assert_eq!(u.check("b", 2), None);
        assert_eq!(u.check("c", 3), None);
        u.add_batch(3, StringArray::from(vec!["d", "b", "a"]));
        assert_eq!(u.check("d", 4), None);
        assert_eq!(u.check("b", 5), Some(2));
        assert_eq!(u.check("a", 6), Some(1));
        assert_eq!(u.value_at(4), Some("d"));
        assert!(u.unordered, "b after d is out of order");
        assert_eq!(u.value_at(1), Some("a"));
    }
}
