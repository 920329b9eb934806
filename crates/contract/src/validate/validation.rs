//! The state of checking one file, batch by batch: which declared columns
//! were found and how each converts, the findings so far, the file's
//! identity and the uniqueness checks. Each job is a module of its own; this
//! one runs them over a batch and writes the report at the end.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};

use super::identity::IdentityState;
use super::unique::{Unique, unique_finding};
use super::{Expected, Validator};
use crate::convert::{self, Plan};
use crate::finding::{Finding, Report, RuleCode};
use crate::read::Format;
use crate::schema::{ColType, Column, DatasetSchema, Identity};

/// Findings with a cap: all are counted, the first `cap` are kept.
pub(super) struct Collector {
    cap: usize,
    findings: Vec<Finding>,
    errors: u64,
    warnings: u64,
    /// (row, column) of values the reader already reported (an Excel error
    /// in a cell): nothing more is said about them.
    pub(super) masked: std::collections::HashSet<(u64, String)>,
}

impl Collector {
    pub(super) fn push(&mut self, f: Finding) {
        if !self.masked.is_empty()
            && let (Some(row), Some(column)) = (f.row, &f.column)
            && self.masked.contains(&(row, column.clone()))
        {
            return;
        }
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
pub(super) struct Present {
    pub(super) decl: usize,
    pub(super) file_index: usize,
    pub(super) plan: Option<Plan>,
}

/// The validation of one file.
pub(super) struct Validation<'a> {
    pub(super) validator: &'a Validator,
    pub(super) schema: Arc<DatasetSchema>,
    pub(super) format: Format,
    pub(super) expected: Expected,
    pub(super) notes: Vec<String>,
    pub(super) collector: Collector,
    pub(super) present: Vec<Present>,
    /// Whether every declared column is present with a usable plan.
    pub(super) complete: bool,
    pub(super) rows: u64,
    pub(super) unique: HashMap<usize, Unique>,
    pub(super) member: IdentityState,
    pub(super) year: IdentityState,
    /// Required columns found wholly empty (reported once).
    pub(super) null_columns: std::collections::HashSet<usize>,
    /// Whether each batch's canonical form is wanted (to be written).
    pub(super) canonical: bool,
}

impl<'a> Validation<'a> {
    pub(super) fn new(
        validator: &'a Validator,
        schema: Arc<DatasetSchema>,
        format: Format,
        file: &SchemaRef,
        expected: Expected,
    ) -> Validation<'a> {
        let collector = Collector {
            cap: validator.options.max_findings.max(1),
            findings: Vec::new(),
            errors: 0,
            warnings: 0,
            masked: Default::default(),
        };
        let mut v = Validation {
            validator,
            schema,
            format,
            expected,
            notes: Vec::new(),
            collector,
            present: Vec::new(),
            complete: false,
            rows: 0,
            unique: HashMap::new(),
            member: IdentityState::default(),
            year: IdentityState::default(),
            null_columns: Default::default(),
            canonical: true,
        };
        v.match_header(file);
        v
    }

    pub(super) fn col(&self, d: usize) -> &Column {
        &self.schema.columns[d]
    }

    /// Check one batch; return its canonical form when the file is
    /// structurally complete and the caller wants it (`canonical`).
    pub(super) fn batch(&mut self, batch: &RecordBatch) -> Option<RecordBatch> {
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
            let source = batch.column(fi);
            if matches!(plan, Plan::Cast) && col.ty == ColType::String && !col.unique && is_text_dictionary(source) {
                // checked as it is, value by value; made text only to be written
                arrays[d] = Some(source.clone());
                continue;
            }
            let (arr, failures) = convert::convert(&col, &plan, source);
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
        if self.complete && self.canonical {
            let cols: Vec<ArrayRef> = arrays.into_iter().map(|a| as_text(&a.expect("complete"))).collect();
            RecordBatch::try_new(self.schema.arrow_schema(), cols).ok()
        } else {
            None
        }
    }

    /// After the last batch: uniqueness across spilled runs, the row count,
    /// an identity no row could give, and the report in a stable order.
    pub(super) fn finish(mut self, name: &str) -> Report {
        let mut spilled: Vec<(usize, Unique)> = self.unique.drain().collect();
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
        self.unreadable_identity();
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
            member: self.expected.member.clone().or(self.member.first_text()),
            year: self.expected.year.or(self.year.first_year()),
            notes: self.notes,
            rows,
            errors: self.collector.errors,
            warnings: self.collector.warnings,
            truncated: kept < self.collector.errors + self.collector.warnings,
            findings,
        }
    }

    /// The declared column carrying an identity, by index.
    pub(super) fn identity_index(&self, identity: Identity) -> Option<usize> {
        self.schema.columns.iter().position(|c| c.identity == Some(identity))
    }
}

/// Whether a column was read as a dictionary of text without empty values.
fn is_text_dictionary(a: &ArrayRef) -> bool {
    a.as_any_dictionary_opt().is_some_and(|d| {
        d.values().null_count() == 0
            && matches!(d.values().data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
    })
}

/// A column read as a dictionary of text, as canonical text; any other as it is.
pub(super) fn as_text(a: &ArrayRef) -> ArrayRef {
    match a.data_type() {
        DataType::Dictionary(..) => {
            arrow::compute::cast(a, &DataType::Utf8).expect("a dictionary of text casts to text")
        }
        _ => a.clone(),
    }
}
