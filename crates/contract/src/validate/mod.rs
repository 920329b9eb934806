//! The validator: checks a return against its dataset schema and converts it
//! to canonical types, collecting every finding (up to a cap).
//!
//! Works batch by batch on a stream, so memory is bounded by one batch plus
//! the ids held for uniqueness (themselves bounded: [`unique`]). Never panics
//! on input: anything a file can contain becomes a finding.
//!
//! This module opens the file and picks the dataset; one [`Validation`]
//! (`validation.rs`) holds the state of checking one file, with its jobs in
//! their own modules: the header and each column's values (`columns.rs`),
//! the file's identity (`identity.rs`), rules across a row (`rows.rs`) and
//! uniqueness in bounded memory (`unique.rs`).

mod columns;
mod identity;
mod rows;
mod unique;
mod validation;

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::ObjectStoreExt;
use object_store::memory::InMemory;
use object_store::path::Path;

use crate::contract::Contract;
use crate::error::Result;
use crate::finding::{Finding, Report, RuleCode};
use crate::read::{self, Format, Opened};
use crate::registry::Registry;
use crate::schema::{DatasetSchema, Schemas};
use validation::Validation;

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

/// Checks returns against a forum's contract.
#[derive(Debug, Clone)]
pub struct Validator {
    contract: Contract,
    options: ValidateOptions,
    /// Names of the text columns with a code list (in any dataset): read
    /// from Parquet as dictionaries and checked value by value.
    coded: Arc<HashSet<String>>,
}

impl Validator {
    /// A validator for a contract.
    pub fn new(contract: &Contract, options: ValidateOptions) -> Validator {
        let coded = contract
            .schemas()
            .iter()
            .flat_map(|s| s.columns.iter())
            .filter(|c| {
                c.ty == crate::schema::ColType::String && !c.unique && (c.values.is_some() || c.codelist.is_some())
            })
            .map(|c| c.name.clone())
            .collect();
        Validator { contract: contract.clone(), options, coded: Arc::new(coded) }
    }

    /// The contract checked against.
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// The schemas in use.
    pub fn schemas(&self) -> &Schemas {
        self.contract.schemas()
    }

    /// The registry in use.
    pub fn registry(&self) -> &Registry {
        self.contract.registry()
    }

    /// The options in use.
    pub fn options(&self) -> &ValidateOptions {
        &self.options
    }

    /// Validate bytes (a file already in memory), named `name` in findings.
    pub async fn validate_bytes(&self, bytes: bytes::Bytes, name: &str, expected: &Expected) -> Validated {
        let store = Arc::new(InMemory::new());
        let path = Path::from("input");
        if let Err(e) = store.put(&path, bytes.into()).await {
            return self.corrupt_report(name, None, Finding::new(RuleCode::CorruptFile, e.to_string()), expected);
        }
        self.check(store, &path, name, expected).await
    }

    /// Validate a file without converting it: the report only (what
    /// `fedreport validate`, a submission and the web front's check want).
    pub async fn check(&self, store: Arc<dyn ObjectStore>, path: &Path, name: &str, expected: &Expected) -> Validated {
        self.run(store, path, name, expected, false, &mut |_| Ok(())).await
    }

    /// The text columns read from Parquet as dictionaries (see [`read::open_with`]).
    pub fn dictionary_columns(&self) -> &HashSet<String> {
        &self.coded
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
        mut sink: impl FnMut(RecordBatch) -> Result<()> + Send,
    ) -> Validated {
        self.run(store, path, name, expected, true, &mut sink).await
    }

    async fn run(
        &self,
        store: Arc<dyn ObjectStore>,
        path: &Path,
        name: &str,
        expected: &Expected,
        canonical: bool,
        sink: &mut (dyn FnMut(RecordBatch) -> Result<()> + Send),
    ) -> Validated {
        let opened = match read::open_with(store, path, name, &self.coded).await {
            Ok(o) => o,
            Err(f) => return self.corrupt_report(name, Format::from_name(name), f, expected),
        };
        self.validate_opened(opened, name, expected, canonical, sink).await
    }

    /// Validate a return and write its canonical Parquet (dataset and schema
    /// version in the footer) to `out` as it goes. Returns the validation and,
    /// when the file is valid, the finished output; an invalid file's partial
    /// output is dropped (the caller removes it).
    pub async fn convert<W: std::io::Write + Send>(
        &self,
        store: Arc<dyn ObjectStore>,
        path: &Path,
        name: &str,
        expected: &Expected,
        out: W,
    ) -> Result<(Validated, Option<W>)> {
        let mut writer = crate::canonical::CanonicalWriter::new(out);
        let validated = self.validate(store, path, name, expected, |b| writer.write(&b)).await;
        match (&validated.schema, validated.report.is_valid()) {
            (Some(schema), true) => {
                let md = crate::template::return_metadata(schema);
                let out = writer.finish(schema.arrow_schema(), &md)?;
                Ok((validated, Some(out)))
            }
            _ => Ok((validated, None)),
        }
    }

    fn corrupt_report(&self, name: &str, format: Option<Format>, finding: Finding, expected: &Expected) -> Validated {
        let schema = expected.dataset.as_deref().and_then(|d| self.schemas().get(d).ok()).cloned();
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
            .schemas()
            .iter()
            .map(|s| {
                let hits = s.columns.iter().filter(|c| c.identity.is_none() && names.contains(c.name.as_str())).count();
                (hits, s)
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.dataset.cmp(&b.1.dataset)));
        match scored.as_slice() {
            [(0, _), ..] | [] => Err(format!(
                "its columns match no dataset of {} (columns found: {}); name the dataset with --dataset",
                self.contract.title(),
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
        canonical: bool,
        sink: &mut (dyn FnMut(RecordBatch) -> Result<()> + Send),
    ) -> Validated {
        let mut notes = Vec::new();
        let schema = match &expected.dataset {
            Some(d) => match self.schemas().get(d) {
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
        let mut validation = Validation::new(self, schema.clone(), opened.format, &opened.schema, expected.clone());
        validation.notes = notes;
        validation.canonical = canonical;
        for f in std::mem::take(&mut opened.findings) {
            validation.collector.push(f);
        }
        validation.collector.masked = std::mem::take(&mut opened.masked);
        if let Some(layout) = &opened.layout {
            validation.notes.push(match &layout.table {
                Some(t) => format!("read table {t} on sheet {}", layout.sheet),
                None => format!("read sheet {} (the workbook has no table)", layout.sheet),
            });
        }
        let (mut batches, reader) =
            read_ahead(std::mem::replace(&mut opened.batches, futures::stream::empty().boxed()));
        while let Some(next) = batches.next().await {
            match next {
                Ok(batch) => {
                    if let Some(canonical) = validation.batch(&batch)
                        && let Err(e) = sink(canonical)
                    {
                        validation
                            .collector
                            .push(Finding::new(RuleCode::CorruptFile, format!("cannot write the converted file: {e}")));
                        break;
                    }
                }
                Err(f) => {
                    let at = validation.rows + 1;
                    validation.collector.push(Finding { row: f.row.or(Some(at)), ..f });
                    break;
                }
            }
        }
        drop(batches);
        if let Some(reader) = reader
            && let Err(e) = reader.await
            && e.is_panic()
        {
            validation.collector.push(Finding::new(
                RuleCode::CorruptFile,
                format!("reading the file failed after row {} ({e}); please report this file", validation.rows),
            ));
        }
        let mut report = validation.finish(name);
        if let Some(layout) = &opened.layout {
            for f in &mut report.findings {
                f.cell = layout.place(f.row, f.column.as_deref());
            }
        }
        Validated { report, schema: Some(schema) }
    }
}

/// Batches, read one ahead: on a multi-threaded runtime the file is decoded
/// by a task of its own while the batch before is checked (on two cores the
/// two take about as long). The task's handle tells whether it failed.
fn read_ahead(mut batches: Batches) -> (Batches, Option<tokio::task::JoinHandle<()>>) {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if !Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread) {
        return (batches, None);
    }
    let (mut tx, rx) = futures::channel::mpsc::channel(1);
    let reader = tokio::spawn(async move {
        use futures::SinkExt;
        while let Some(next) = batches.next().await {
            let failed = next.is_err();
            if tx.send(next).await.is_err() || failed {
                break;
            }
        }
    });
    (rx.boxed(), Some(reader))
}

type Batches = futures::stream::BoxStream<'static, std::result::Result<RecordBatch, Finding>>;
