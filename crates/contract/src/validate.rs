//! The validator: checks a return against its dataset schema and converts it
//! to canonical types, collecting every finding (up to a cap).
//!
//! Works batch by batch on a stream, so memory is bounded by one batch plus
//! the set of ids seen (for uniqueness). Never panics on input: anything a
//! file can contain becomes a finding.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault};
use std::io::{Read, Seek, Write};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Date32Type, Int8Type, Int32Type, Int64Type, SchemaRef};
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::ObjectStoreExt;
use object_store::memory::InMemory;
use object_store::path::Path;

use crate::convert::{self, Plan};
use crate::error::Result;
use crate::finding::{Finding, Report, RuleCode, did_you_mean, truncate};
use crate::read::{self, Format, Opened};
use crate::registry::Registry;
use crate::schema::{CodeList, ColType, Column, DatasetSchema, DateRule, Identity, RowRule, Schemas};

/// Options of a validation run.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// How many findings to keep (all are counted).
    pub max_findings: usize,
    /// How many distinct ids of a column the uniqueness check holds in memory
    /// (about 50 bytes each) before it moves them to a sorted run in a
    /// temporary file; what bounds memory for very large returns.
    pub unique_ids_in_memory: usize,
}

impl ValidateOptions {
    /// At most `max_findings` findings kept; the default memory bound.
    pub fn findings(max_findings: usize) -> ValidateOptions {
        ValidateOptions { max_findings, ..ValidateOptions::default() }
    }
}

impl Default for ValidateOptions {
    fn default() -> Self {
        ValidateOptions { max_findings: 1000, unique_ids_in_memory: 2_000_000 }
    }
}

/// What the submission claims the file is; `None` means "infer it".
#[derive(Debug, Clone, Default)]
pub struct Expected {
    pub dataset: Option<String>,
    pub member: Option<String>,
    pub year: Option<i32>,
}

/// A report plus the dataset schema it was checked against.
#[derive(Debug, Clone)]
pub struct Validated {
    pub report: Report,
    pub schema: Option<Arc<DatasetSchema>>,
}

/// Checks returns against the contract.
#[derive(Debug, Clone)]
pub struct Validator {
    schemas: Schemas,
    registry: Registry,
    options: ValidateOptions,
}

const PANDAS_INDEX: &str = "__index_level_";

impl Validator {
    /// A validator over the embedded schemas and registry.
    pub fn new(options: ValidateOptions) -> Validator {
        Validator { schemas: Schemas::embedded().clone(), registry: Registry::embedded().clone(), options }
    }

    /// A validator over given schemas and registry.
    pub fn with(schemas: Schemas, registry: Registry, options: ValidateOptions) -> Validator {
        Validator { schemas, registry, options }
    }

    /// The schemas in use.
    pub fn schemas(&self) -> &Schemas {
        &self.schemas
    }

    /// The registry in use.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Validate bytes (a file already in memory), named `name` in findings.
    pub async fn validate_bytes(&self, bytes: bytes::Bytes, name: &str, expected: &Expected) -> Validated {
        let store = Arc::new(InMemory::new());
        let path = Path::from("input");
        if let Err(e) = store.put(&path, bytes.into()).await {
            return self.corrupt_report(name, None, Finding::new(RuleCode::CorruptFile, e.to_string()), expected);
        }
        self.validate(store, &path, name, expected, |_| Ok(())).await
    }

    /// Validate a file in an object store; every canonical batch of a file
    /// with no column-level problem is handed to `sink` (used by `convert`
    /// and intake to write the standardised Parquet).
    pub async fn validate(
        &self,
        store: Arc<dyn ObjectStore>,
        path: &Path,
        name: &str,
        expected: &Expected,
        mut sink: impl FnMut(RecordBatch) -> Result<()>,
    ) -> Validated {
        let opened = match read::open(store, path, name).await {
            Ok(o) => o,
            Err(f) => return self.corrupt_report(name, Format::from_name(name), f, expected),
        };
        self.validate_opened(opened, name, expected, &mut sink).await
    }

    fn corrupt_report(&self, name: &str, format: Option<Format>, finding: Finding, expected: &Expected) -> Validated {
        let schema = expected.dataset.as_deref().and_then(|d| self.schemas.get(d).ok()).cloned();
        Validated {
            report: Report {
                file: name.to_string(),
                format: format.map(|f| f.as_str().to_string()).unwrap_or_else(|| "unknown".into()),
                dataset: schema.as_ref().map(|s| s.dataset.clone()),
                schema_version: schema.as_ref().map(|s| s.schema_version.clone()),
                member: expected.member.clone(),
                year: expected.year,
                notes: vec![],
                rows: 0,
                errors: 1,
                warnings: 0,
                truncated: false,
                findings: vec![finding],
            },
            schema,
        }
    }

    /// Which dataset a file's columns belong to.
    pub fn infer_dataset(&self, file_schema: &SchemaRef) -> std::result::Result<Arc<DatasetSchema>, String> {
        let names: HashSet<&str> = file_schema.fields().iter().map(|f| f.name().as_str()).collect();
        let mut scored: Vec<(usize, &Arc<DatasetSchema>)> = self
            .schemas
            .iter()
            .map(|s| {
                let hits = s.columns.iter().filter(|c| c.identity.is_none() && names.contains(c.name.as_str())).count();
                (hits, s)
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.dataset.cmp(&b.1.dataset)));
        match scored.as_slice() {
            [(0, _), ..] | [] => Err(format!(
                "its columns match no dataset of Standard Return v1 (columns found: {}); name the dataset with --dataset",
                file_schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
            )),
            [(a, s1), (b, s2), ..] if a == b => Err(format!(
                "its columns match {} and {} equally well; name the dataset with --dataset",
                s1.dataset, s2.dataset
            )),
            [(_, s), ..] => Ok((*s).clone()),
        }
    }

    async fn validate_opened(
        &self,
        mut opened: Opened,
        name: &str,
        expected: &Expected,
        sink: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Validated {
        let mut notes = Vec::new();
        let schema = match &expected.dataset {
            Some(d) => match self.schemas.get(d) {
                Ok(s) => s.clone(),
                Err(e) => {
                    let f = Finding::new(RuleCode::MissingColumn, e.to_string());
                    return self.corrupt_report(name, Some(opened.format), f, expected);
                }
            },
            None => match self.infer_dataset(&opened.schema) {
                Ok(s) => {
                    notes.push(format!("dataset {} inferred from the columns", s.dataset));
                    s
                }
                Err(why) => {
                    let f =
                        Finding::new(RuleCode::MissingColumn, format!("cannot tell which dataset this file is: {why}"));
                    return self.corrupt_report(name, Some(opened.format), f, expected);
                }
            },
        };
        let mut run = Run::new(self, schema.clone(), opened.format, &opened.schema, expected.clone());
        run.notes = notes;
        while let Some(next) = opened.batches.next().await {
            match next {
                Ok(batch) => {
                    if let Some(canonical) = run.batch(&batch)
                        && let Err(e) = sink(canonical)
                    {
                        run.collector
                            .push(Finding::new(RuleCode::CorruptFile, format!("cannot write the converted file: {e}")));
                        break;
                    }
                }
                Err(f) => {
                    let at = run.rows + 1;
                    run.collector.push(Finding { row: f.row.or(Some(at)), ..f });
                    break;
                }
            }
        }
        Validated { report: run.finish(name), schema: Some(schema) }
    }
}

/// The uniqueness check of one column. Ids are checked in memory without
/// copying them: a map from a 64-bit hash to the first row, the column's
/// arrays kept to compare strings when hashes meet, and an exact map for the
/// (rare) true hash collisions. Once `budget` distinct ids are held, they
/// go to a sorted run in a temporary file and the map starts again, so memory
/// stays bounded whatever the file's size. At the end the runs are merged and
/// an id first seen in one run and again in a later one is reported then.
#[derive(Default)]
struct Unique {
    first_row: HashMap<u64, u64, BuildHasherDefault<PassThrough>>,
    batches: Vec<(u64, StringArray)>,
    collided: HashMap<Box<str>, u64>,
    budget: usize,
    runs: Vec<std::fs::File>,
}

static ID_HASH: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0x5eed);

impl Unique {
    fn with_budget(budget: usize) -> Unique {
        Unique { budget: budget.max(1), ..Unique::default() }
    }

    fn add_batch(&mut self, offset: u64, ids: StringArray) {
        if self.budget > 0 && self.first_row.len() + self.collided.len() >= self.budget {
            self.spill();
        }
        self.first_row.reserve(ids.len());
        self.batches.push((offset, ids));
    }

    /// The 1-based row `row` holds `v`; returns the first row holding it, if earlier.
    fn check(&mut self, v: &str, row: u64) -> Option<u64> {
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
    fn finish(mut self, mut report: impl FnMut(u64, u64, &str)) {
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

fn unique_finding(column: &str, v: &str, row: u64, first: u64) -> Finding {
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

/// First and last day (days since 1970-01-01) of a calendar year.
fn year_days(year: i32) -> Option<(i32, i32)> {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    let first = chrono::NaiveDate::from_ymd_opt(year, 1, 1)?.signed_duration_since(epoch).num_days();
    let last = chrono::NaiveDate::from_ymd_opt(year, 12, 31)?.signed_duration_since(epoch).num_days();
    Some((i32::try_from(first).ok()?, i32::try_from(last).ok()?))
}

/// Findings with a cap.
struct Collector {
    cap: usize,
    findings: Vec<Finding>,
    errors: u64,
    warnings: u64,
}

impl Collector {
    fn push(&mut self, f: Finding) {
        match f.severity {
            crate::Severity::Error => self.errors += 1,
            crate::Severity::Warning => self.warnings += 1,
        }
        if self.findings.len() < self.cap {
            self.findings.push(f);
        }
    }
}

/// A declared column found in the file.
struct Present {
    decl: usize,
    file_index: usize,
    plan: Option<Plan>,
}

/// State of one validation.
struct Run<'a> {
    v: &'a Validator,
    schema: Arc<DatasetSchema>,
    format: Format,
    expected: Expected,
    notes: Vec<String>,
    collector: Collector,
    present: Vec<Present>,
    /// Whether every declared column is present with a usable plan.
    complete: bool,
    rows: u64,
    seen_ids: HashMap<usize, Unique>,
    member: Option<String>,
    year: Option<i32>,
    other_members: HashSet<String>,
    other_years: HashSet<i32>,
    value_sets: Vec<Option<Vec<String>>>,
    null_columns: HashSet<usize>,
}

impl<'a> Run<'a> {
    fn new(
        v: &'a Validator,
        schema: Arc<DatasetSchema>,
        format: Format,
        file: &SchemaRef,
        expected: Expected,
    ) -> Run<'a> {
        let mut collector =
            Collector { cap: v.options.max_findings.max(1), findings: Vec::new(), errors: 0, warnings: 0 };
        let mut present = Vec::new();
        let mut found = HashSet::new();
        for (i, field) in file.fields().iter().enumerate() {
            let name = field.name();
            match schema.column_index(name) {
                Some(d) if found.insert(d) => {
                    let col = &schema.columns[d];
                    let plan = match convert::plan(col, field.data_type(), format == Format::Csv) {
                        Ok(p) => Some(p),
                        Err(why) => {
                            collector.push(
                                Finding::new(RuleCode::Type, why)
                                    .column(name)
                                    .value(convert::type_name(field.data_type())),
                            );
                            None
                        }
                    };
                    present.push(Present { decl: d, file_index: i, plan });
                }
                Some(_) => collector.push(
                    Finding::new(RuleCode::UnknownColumn, format!("column {name} appears twice; keep one of them"))
                        .column(name),
                ),
                None if name.starts_with(PANDAS_INDEX) => collector.push(
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
                    collector.push(
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
                collector.push(
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
        let complete = found.len() == schema.columns.len() && present.iter().all(|p| p.plan.is_some());
        present.sort_by_key(|p| p.decl);
        let value_sets = schema.columns.iter().map(|c| c.values.clone()).collect();
        Run {
            v,
            schema,
            format,
            member: None,
            year: None,
            expected,
            notes: Vec::new(),
            collector,
            present,
            complete,
            rows: 0,
            seen_ids: HashMap::new(),
            other_members: HashSet::new(),
            other_years: HashSet::new(),
            value_sets,
            null_columns: HashSet::new(),
        }
    }

    fn col(&self, d: usize) -> &Column {
        &self.schema.columns[d]
    }

    /// Check one batch; return its canonical form when the file is structurally complete.
    fn batch(&mut self, batch: &RecordBatch) -> Option<RecordBatch> {
        let n = batch.num_rows();
        let offset = self.rows;
        // Canonical arrays by declared index, with rows that failed conversion.
        let mut arrays: Vec<Option<ArrayRef>> = vec![None; self.schema.columns.len()];
        let mut bad: Vec<Option<Vec<bool>>> = vec![None; self.schema.columns.len()];
        let present: Vec<(usize, usize, Option<Plan>)> =
            self.present.iter().map(|p| (p.decl, p.file_index, p.plan.clone())).collect();
        for (d, fi, plan) in present {
            let Some(plan) = plan else { continue };
            let col = self.col(d).clone();
            if matches!(plan, Plan::AllNull) && !col.nullable && n > 0 {
                if self.null_columns.insert(d) {
                    self.collector.push(
                        Finding::new(
                            RuleCode::Null,
                            format!("column {} is empty, but a value is required in every row", col.name),
                        )
                        .column(&col.name)
                        .row(offset + 1),
                    );
                }
                bad[d] = Some(vec![true; n]);
            }
            let (arr, failures) = convert::convert(&col, &plan, batch.column(fi));
            if !failures.is_empty() {
                let mut mask = vec![false; n];
                for f in failures {
                    mask[f.row] = true;
                    self.collector.push(
                        Finding::new(RuleCode::Type, f.message)
                            .column(&col.name)
                            .row(offset + f.row as u64 + 1)
                            .value(f.value),
                    );
                }
                bad[d] = Some(mask);
            }
            arrays[d] = Some(arr);
        }
        self.identity(&arrays, offset);
        for d in 0..self.schema.columns.len() {
            if let Some(arr) = arrays[d].clone() {
                self.check_column(d, &arr, bad[d].as_deref(), offset, &arrays);
            }
        }
        for rule in self.schema.row_rules.clone() {
            self.row_rule(&rule, &arrays, &bad, offset);
        }
        self.rows += n as u64;
        if self.complete {
            let cols: Vec<ArrayRef> = arrays.into_iter().map(|a| a.expect("complete")).collect();
            RecordBatch::try_new(self.schema.arrow_schema(), cols).ok()
        } else {
            None
        }
    }

    fn identity(&mut self, arrays: &[Option<ArrayRef>], offset: u64) {
        let v = self.v;
        let reg = &v.registry;
        if let Some(d) = self.schema.columns.iter().position(|c| c.identity == Some(Identity::Member))
            && let Some(arr) = &arrays[d]
        {
            let name = self.col(d).name.clone();
            let arr = arr.as_string::<i32>();
            for i in 0..arr.len() {
                if arr.is_null(i) {
                    continue;
                }
                let v = arr.value(i);
                let row = offset + i as u64 + 1;
                match &self.member {
                    None => {
                        self.member = Some(v.to_string());
                        self.first_member(v, row, &name, reg);
                    }
                    Some(m) if m != v && self.other_members.insert(v.to_string()) => {
                        self.collector.push(
                            Finding::new(
                                RuleCode::Identity,
                                format!("{name} must be the same in every row: row {row} has '{v}' where earlier rows have '{m}'"),
                            )
                            .column(&name)
                            .row(row)
                            .value(v),
                        );
                    }
                    _ => {}
                }
            }
        }
        if let Some(d) = self.schema.columns.iter().position(|c| c.identity == Some(Identity::Year))
            && let Some(arr) = &arrays[d]
        {
            let name = self.col(d).name.clone();
            let arr = arr.as_primitive::<Int32Type>();
            for i in 0..arr.len() {
                if arr.is_null(i) {
                    continue;
                }
                let v = arr.value(i);
                let row = offset + i as u64 + 1;
                match self.year {
                    None => {
                        self.year = Some(v);
                        match self.expected.year {
                            Some(y) if y != v => self.collector.push(
                                Finding::new(
                                    RuleCode::Identity,
                                    format!("{name} is {v} but this return is submitted for {y}; correct the file or the year given"),
                                )
                                .column(&name)
                                .row(row)
                                .value(v.to_string()),
                            ),
                            Some(_) => {}
                            None => self.notes.push(format!("reference year {v} read from the {name} column")),
                        }
                    }
                    Some(y) if y != v && self.other_years.insert(v) => {
                        self.collector.push(
                            Finding::new(
                                RuleCode::Identity,
                                format!("{name} must be the same in every row: row {row} has {v} where earlier rows have {y}"),
                            )
                            .column(&name)
                            .row(row)
                            .value(v.to_string()),
                        );
                    }
                    _ => {}
                }
            }
        }
    }

    fn first_member(&mut self, v: &str, row: u64, name: &str, reg: &Registry) {
        match self.expected.member.clone() {
            Some(m) if m != v => self.collector.push(
                Finding::new(
                    RuleCode::Identity,
                    format!(
                        "{name} is '{v}' but this return is submitted for '{m}'; a member can only submit its own returns"
                    ),
                )
                .column(name)
                .row(row)
                .value(v),
            ),
            Some(_) => {}
            None => self.notes.push(format!("member {v} read from the {name} column")),
        }
        match reg.member(v) {
            Some(m) if m.kind.reports() => {}
            Some(m) => self.collector.push(
                Finding::new(
                    RuleCode::Identity,
                    format!("{name} '{v}' is an organisation ({}); only states and territories submit returns", m.name),
                )
                .column(name)
                .row(row)
                .value(v),
            ),
            None => {
                let codes: Vec<&str> = reg.reporting_members().map(|m| m.code.as_str()).collect();
                let hint = did_you_mean(v, codes).map(|c| format!("; did you mean '{c}'?")).unwrap_or_default();
                self.collector.push(
                    Finding::new(
                        RuleCode::Identity,
                        format!("{name} '{v}' is not a member code of the registry{hint}"),
                    )
                    .column(name)
                    .row(row)
                    .value(v),
                );
            }
        }
    }

    fn check_column(
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
            ColType::String => self.check_strings(d, &col, arr.as_string::<i32>(), offset),
            ColType::Int32 | ColType::Int8 => {
                if col.min.is_none() && col.max.is_none() {
                    return;
                }
                let (lo, hi) = (col.min.unwrap_or(i64::MIN), col.max.unwrap_or(i64::MAX));
                let mut check = |i: usize, v: i64| {
                    if v < lo || v > hi {
                        let bound = match (col.min, col.max) {
                            (Some(a), Some(b)) => format!("from {a} to {b}"),
                            (Some(a), None) => format!("at least {a}"),
                            (None, Some(b)) => format!("at most {b}"),
                            (None, None) => unreachable!("checked above"),
                        };
                        self.collector.push(
                            Finding::new(RuleCode::Range, format!("{} is {v} but must be {bound}", col.name))
                                .column(&col.name)
                                .row(row(i))
                                .value(v.to_string()),
                        );
                    }
                };
                if col.ty == ColType::Int8 {
                    let a = arr.as_primitive::<Int8Type>();
                    for (i, v) in a.iter().enumerate() {
                        if let Some(v) = v {
                            check(i, v as i64)
                        }
                    }
                } else {
                    let a = arr.as_primitive::<Int32Type>();
                    for (i, v) in a.iter().enumerate() {
                        if let Some(v) = v {
                            check(i, v as i64)
                        }
                    }
                }
            }
            ColType::Date32 => {
                let Some(rule) = col.date_rule else { return };
                let years = self
                    .schema
                    .columns
                    .iter()
                    .position(|c| c.identity == Some(Identity::Year))
                    .and_then(|y| arrays[y].clone());
                let a = arr.as_primitive::<Date32Type>();
                let years = years.as_ref().map(|y| y.as_primitive::<Int32Type>().clone());
                let mut bounds: Option<(i32, i32, i32)> = None; // (year, first day, last day)
                for i in 0..a.len() {
                    if a.is_null(i) {
                        continue;
                    }
                    let year = years.as_ref().and_then(|y| y.is_valid(i).then(|| y.value(i))).or(self.year);
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
                        let date = chrono::NaiveDate::from_num_days_from_ce_opt(day + 719_163)
                            .map(|d| d.to_string())
                            .unwrap_or_else(|| format!("day {day}"));
                        let want = match rule {
                            DateRule::InsideReferenceYear => format!("inside the reference year {year}"),
                            DateRule::OnOrBeforeEndOfReferenceYear => format!("on or before 31 December {year}"),
                        };
                        self.collector.push(
                            Finding::new(RuleCode::Range, format!("{} {date} must be {want}", col.name))
                                .column(&col.name)
                                .row(row(i))
                                .value(date),
                        );
                    }
                }
            }
            ColType::Bool => {}
        }
    }

    fn check_strings(&mut self, d: usize, col: &Column, a: &StringArray, offset: u64) {
        if col.unique {
            let budget = self.v.options.unique_ids_in_memory;
            self.seen_ids.entry(d).or_insert_with(|| Unique::with_budget(budget)).add_batch(offset, a.clone());
        }
        let row = |i: usize| offset + i as u64 + 1;
        let reg = &self.v.registry;
        let identity = col.identity.is_some();
        for i in 0..a.len() {
            if a.is_null(i) {
                continue;
            }
            let v = a.value(i);
            if let Some(set) = &self.value_sets[d]
                && !set.iter().any(|x| x == v)
            {
                let values = col.values.as_ref().expect("value set");
                let hint = did_you_mean(v, values.iter().map(String::as_str))
                    .map(|m| format!("; did you mean '{m}'?"))
                    .unwrap_or_default();
                self.collector.push(
                    Finding::new(
                        RuleCode::Codelist,
                        format!(
                            "{} '{}' is not allowed; use one of: {}{hint}",
                            col.name,
                            truncate(v, 40),
                            values.join(", ")
                        ),
                    )
                    .column(&col.name)
                    .row(row(i))
                    .value(v),
                );
            }
            match col.codelist {
                Some(CodeList::Iso3) if !reg.is_iso3(v) => {
                    let upper = v.to_uppercase();
                    let hint = if reg.is_iso3(&upper) {
                        format!("; codes are upper case: '{upper}'")
                    } else {
                        did_you_mean(v, reg.iso3_codes()).map(|m| format!("; did you mean '{m}'?")).unwrap_or_default()
                    };
                    self.collector.push(
                        Finding::new(
                            RuleCode::Codelist,
                            format!(
                                "{} '{}' is not an ISO 3166-1 alpha-3 country code (or UNK for unknown){hint}",
                                col.name,
                                truncate(v, 40)
                            ),
                        )
                        .column(&col.name)
                        .row(row(i))
                        .value(v),
                    );
                }
                Some(CodeList::Member) if !identity && !reg.is_reporting_member(v) => {
                    let codes: Vec<&str> = reg.reporting_members().map(|m| m.code.as_str()).collect();
                    let hint = did_you_mean(v, codes).map(|m| format!("; did you mean '{m}'?")).unwrap_or_default();
                    self.collector.push(
                        Finding::new(
                            RuleCode::Codelist,
                            format!(
                                "{} '{}' is not a state or territory of the registry{hint}",
                                col.name,
                                truncate(v, 40)
                            ),
                        )
                        .column(&col.name)
                        .row(row(i))
                        .value(v),
                    );
                }
                _ => {}
            }
            if col.min_length.is_some() || col.max_length.is_some() {
                let len = if v.is_ascii() { v.len() } else { v.chars().count() };
                let (lo, hi) = (col.min_length.unwrap_or(0), col.max_length.unwrap_or(usize::MAX));
                if len < lo || len > hi {
                    let bound = match (col.min_length, col.max_length) {
                        (Some(a), Some(b)) => format!("{a} to {b} characters"),
                        (Some(a), None) => format!("at least {a} characters"),
                        (_, Some(b)) => format!("at most {b} characters"),
                        _ => unreachable!("a bound exists"),
                    };
                    self.collector.push(
                        Finding::new(
                            RuleCode::Range,
                            format!("{} has {len} characters but must have {bound}", col.name),
                        )
                        .column(&col.name)
                        .row(row(i))
                        .value(v),
                    );
                }
            }
            if col.unique
                && let Some(first) = self.seen_ids.get_mut(&d).and_then(|u| u.check(v, row(i)))
            {
                self.collector.push(unique_finding(&col.name, v, row(i), first));
            }
        }
    }

    fn row_rule(&mut self, rule: &RowRule, arrays: &[Option<ArrayRef>], bad: &[Option<Vec<bool>>], offset: u64) {
        let idx = |name: &str| self.schema.column_index(name).expect("checked when loading");
        let cols: Vec<usize> = rule.columns().iter().map(|c| idx(c)).collect();
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
        let text = |name: &str| arrays[idx(name)].as_ref().map(|a| a.as_string::<i32>().clone());
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
                let (Some(w), Some(sum)) = (text(when_column), sum_of(columns)) else { return };
                let target = StringArray::new_scalar(when_value.as_str());
                let zero = Int64Array::new_scalar(0);
                let (Ok(is_value), Ok(none)) =
                    (arrow::compute::kernels::cmp::eq(&w, &target), arrow::compute::kernels::cmp::lt_eq(&sum, &zero))
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

    fn finish(mut self, name: &str) -> Report {
        let mut spilled: Vec<(usize, Unique)> = self.seen_ids.drain().collect();
        spilled.sort_by_key(|(d, _)| *d);
        for (d, u) in spilled {
            let col = &self.schema.columns[d];
            let collector = &mut self.collector;
            u.finish(|row, first, v| collector.push(unique_finding(&col.name, v, row, first)));
        }
        let rows = self.rows;
        let (lo, hi) = (self.schema.min_rows.unwrap_or(0), self.schema.max_rows.unwrap_or(usize::MAX));
        if (rows as usize) < lo || (rows as usize) > hi {
            let want = if lo == hi {
                format!("exactly {lo} row{}", if lo == 1 { "" } else { "s" })
            } else {
                format!("{lo} to {hi} rows")
            };
            self.collector.push(Finding::new(
                RuleCode::RowCount,
                format!("{} must have {want}, but the file has {rows}", self.schema.dataset),
            ));
        }
        // A file without rows cannot tell whose return it is or for which year.
        let missing_identity: Vec<String> = [
            (Identity::Member, self.expected.member.is_none() && self.member.is_none()),
            (Identity::Year, self.expected.year.is_none() && self.year.is_none()),
        ]
        .into_iter()
        .filter(|(_, unknown)| *unknown)
        .filter_map(|(i, _)| self.schema.identity_column(i).map(|c| c.name.clone()))
        .filter(|c| self.present.iter().any(|p| self.schema.columns[p.decl].name == *c))
        .collect();
        for c in missing_identity {
            let flag = if c == "reference_year" { "--year" } else { "--member" };
            self.collector.push(
                Finding::new(
                    RuleCode::Identity,
                    format!("{c} cannot be read from a file without values in it; give it with {flag} when validating or submitting"),
                )
                .column(c),
            );
        }
        let order: HashMap<&str, usize> =
            self.schema.columns.iter().enumerate().map(|(i, c)| (c.name.as_str(), i)).collect();
        let mut findings = std::mem::take(&mut self.collector.findings);
        findings.sort_by_key(|f| {
            (f.row.unwrap_or(0), f.column.as_deref().and_then(|c| order.get(c).copied()).unwrap_or(usize::MAX), f.code)
        });
        let kept = findings.len() as u64;
        Report {
            file: name.to_string(),
            format: self.format.as_str().to_string(),
            dataset: Some(self.schema.dataset.clone()),
            schema_version: Some(self.schema.schema_version.clone()),
            member: self.expected.member.clone().or(self.member.clone()),
            year: self.expected.year.or(self.year),
            notes: self.notes,
            rows,
            errors: self.collector.errors,
            warnings: self.collector.warnings,
            truncated: kept < self.collector.errors + self.collector.warnings,
            findings,
        }
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn year_bounds() {
        assert_eq!(year_days(1970), Some((0, 364)));
        assert_eq!(year_days(2012).map(|(a, b)| b - a), Some(365)); // leap year
    }
}
