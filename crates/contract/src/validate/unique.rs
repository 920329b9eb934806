//! The uniqueness check of one column (`E_UNIQUE`), in bounded memory.
//!
//! Ids are checked in memory without copying them: a map from a 64-bit hash
//! to the first row, the column's arrays kept to compare strings when hashes
//! meet, and an exact map for the (rare) true hash collisions. Once the
//! budget of distinct ids is held, they go to a sorted run in a temporary
//! file and the map starts again, so memory stays bounded whatever the
//! file's size. At the end the runs are merged (external-memory k-way merge)
//! and an id first seen in one run and again in a later one is reported then.

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
}

static ID_HASH: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0x5eed);

impl Unique {
    pub(super) fn with_budget(budget: usize) -> Unique {
        Unique { budget: budget.max(1), ..Unique::default() }
    }

    pub(super) fn add_batch(&mut self, offset: u64, ids: StringArray) {
        if self.budget > 0 && self.first_row.len() + self.collided.len() >= self.budget {
            self.spill();
        }
        self.first_row.reserve(ids.len());
        self.batches.push((offset, ids));
    }

    /// The 1-based row `row` holds `v`; returns the first row holding it, if earlier.
    pub(super) fn check(&mut self, v: &str, row: u64) -> Option<u64> {
        match self.first_row.entry(ID_HASH.hash_one(v)) {
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
        let at = self.batches.partition_point(|(offset, _)| *offset < row) - 1;
        let (offset, ids) = self.batches.get(at)?;
        let i = (row - offset - 1) as usize;
        (i < ids.len() && ids.is_valid(i)).then(|| ids.value(i))
    }

    /// Move the ids held in memory to a sorted run on disk. If there is no
    /// temporary space, keep going in memory (correct, only not bounded).
    fn spill(&mut self) {
        let mut entries: Vec<(u64, &str, u64)> = Vec::with_capacity(self.first_row.len() + self.collided.len());
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
        let mut spills = 0;
        for seed in 1..60u64 {
            let mut x = seed;
            let mut next = || {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                x >> 33
            };
            let distinct = 1 + next() % 40;
            let rows: Vec<String> = (0..300).map(|_| format!("id-{}", next() % distinct)).collect();
            let budget = 1 + (seed as usize % 7);
            let mut u = Unique::with_budget(budget);
            let mut reported: Vec<(u64, u64)> = Vec::new();
            let mut offset = 0u64;
            for chunk in rows.chunks(1 + seed as usize % 11) {
                u.add_batch(offset, StringArray::from(chunk.to_vec()));
                for (i, v) in chunk.iter().enumerate() {
                    let row = offset + i as u64 + 1;
                    if let Some(first) = u.check(v, row) {
                        reported.push((row, first));
                    }
                }
                offset += chunk.len() as u64;
            }
            spills += u.runs.len();
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
        assert_eq!(u.value_at(1), Some("a"));
    }
}
