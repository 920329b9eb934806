//! Dataset schemas, loaded from a forum's schema files (`schemas/*.toml`
//! for the Bali Process's Standard Return v1; the forum crate embeds them in
//! the binary, [`Schemas::from_dir`] loads a folder).
//!
//! Everything the validator, the templates and `fedreport schema` know about
//! a dataset comes from these files, never from Rust literals.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::error::{ContractError, Result};

/// Canonical column types of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColType {
    String,
    Int32,
    Int8,
    Date32,
    Bool,
}

impl ColType {
    /// The Arrow type a validated column has.
    pub fn arrow(self) -> DataType {
        match self {
            ColType::String => DataType::Utf8,
            ColType::Int32 => DataType::Int32,
            ColType::Int8 => DataType::Int8,
            ColType::Date32 => DataType::Date32,
            ColType::Bool => DataType::Boolean,
        }
    }

    /// Name used in schema files and messages.
    pub fn name(self) -> &'static str {
        match self {
            ColType::String => "string",
            ColType::Int32 => "int32",
            ColType::Int8 => "int8",
            ColType::Date32 => "date32",
            ColType::Bool => "bool",
        }
    }
}

/// A named external code list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CodeList {
    /// ISO 3166-1 alpha-3 or `UNK`.
    Iso3,
    /// A registry member of kind state or territory.
    Member,
}

/// Which identity a column carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Identity {
    Member,
    Year,
}

/// Rules for date columns relative to the file's reference year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateRule {
    InsideReferenceYear,
    OnOrBeforeEndOfReferenceYear,
}

/// One declared column.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColType,
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    /// Words for some of the values, for drafts (`sexual` → "sexual exploitation").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codelist: Option<CodeList>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unique: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_rule: Option<DateRule>,
}

/// A rule across columns of one row (`E_ROW_RULE`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum RowRule {
    /// The sum of `columns` must not exceed `limit`.
    SumAtMost { columns: Vec<String>, limit: String, description: String },
    /// When `when_column` equals `when_value`, the sum of `columns` must be > 0.
    WhenValueSumPositive { when_column: String, when_value: String, columns: Vec<String>, description: String },
    /// `column` is non-null exactly when the bool `flag` is true.
    PresentIffTrue { column: String, flag: String, description: String },
    /// `column`, when non-null, differs from `other`.
    DiffersFrom { column: String, other: String, description: String },
}

impl RowRule {
    /// Columns the rule reads.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            RowRule::SumAtMost { columns, limit, .. } => {
                columns.iter().map(String::as_str).chain([limit.as_str()]).collect()
            }
            RowRule::WhenValueSumPositive { when_column, columns, .. } => {
                columns.iter().map(String::as_str).chain([when_column.as_str()]).collect()
            }
            RowRule::PresentIffTrue { column, flag, .. } => vec![column, flag],
            RowRule::DiffersFrom { column, other, .. } => vec![column, other],
        }
    }

    /// The human description from the schema file.
    pub fn description(&self) -> &str {
        match self {
            RowRule::SumAtMost { description, .. }
            | RowRule::WhenValueSumPositive { description, .. }
            | RowRule::PresentIffTrue { description, .. }
            | RowRule::DiffersFrom { description, .. } => description,
        }
    }
}

/// One dataset of Standard Return v1.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSchema {
    pub dataset: String,
    pub schema_version: String,
    pub title: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_rows: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows: Option<usize>,
    pub columns: Vec<Column>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub row_rules: Vec<RowRule>,
}

impl DatasetSchema {
    /// The canonical Arrow schema (declared column order).
    pub fn arrow_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns.iter().map(|c| Field::new(&c.name, c.ty.arrow(), c.nullable)).collect::<Vec<_>>(),
        ))
    }

    /// Index of a declared column.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The declared column carrying an identity.
    pub fn identity_column(&self, identity: Identity) -> Option<&Column> {
        self.columns.iter().find(|c| c.identity == Some(identity))
    }

    /// Whether a zero-row file is a valid "none to report" return.
    pub fn allows_empty(&self) -> bool {
        self.min_rows.unwrap_or(0) == 0
    }

    fn check(&self, file: &str) -> Result<()> {
        let err = |message: String| ContractError::Schema { file: file.to_string(), message };
        let mut seen = std::collections::HashSet::new();
        for c in &self.columns {
            if !seen.insert(c.name.as_str()) {
                return Err(err(format!("column '{}' is declared twice", c.name)));
            }
            if (c.values.is_some() || c.codelist.is_some() || c.min_length.is_some() || c.max_length.is_some())
                && c.ty != ColType::String
            {
                return Err(err(format!("column '{}': value lists and lengths apply to string columns only", c.name)));
            }
            if let (Some(labels), values) = (&c.labels, &c.values)
                && let Some(v) = labels.keys().find(|v| !values.iter().flatten().any(|x| x == *v))
            {
                return Err(err(format!("column '{}': labels name '{v}', which is not one of its values", c.name)));
            }
            if (c.min.is_some() || c.max.is_some()) && !matches!(c.ty, ColType::Int32 | ColType::Int8) {
                return Err(err(format!("column '{}': min/max apply to integer columns only", c.name)));
            }
            if c.date_rule.is_some() && c.ty != ColType::Date32 {
                return Err(err(format!("column '{}': date_rule applies to date32 columns only", c.name)));
            }
        }
        for ident in [Identity::Member, Identity::Year] {
            if self.identity_column(ident).is_none() {
                return Err(err(format!("no column carries identity {ident:?}")));
            }
        }
        for rule in &self.row_rules {
            for col in rule.columns() {
                if self.column_index(col).is_none() {
                    return Err(err(format!("row rule '{}' names unknown column '{col}'", rule.description())));
                }
            }
        }
        Ok(())
    }
}

impl Column {
    /// The column's rules in words, e.g. `one of: a, b; unique`.
    pub fn rules_in_words(&self) -> Vec<String> {
        let mut rule = Vec::new();
        if let Some(v) = &self.values {
            rule.push(format!("one of: {}", v.join(", ")));
        }
        match self.codelist {
            Some(CodeList::Iso3) => rule.push("ISO 3166-1 alpha-3 code or UNK".into()),
            Some(CodeList::Member) => rule.push("registry state or territory".into()),
            None => {}
        }
        if let (Some(a), Some(b)) = (self.min, self.max) {
            rule.push(format!("{a}..={b}"));
        } else if let Some(a) = self.min {
            rule.push(format!(">= {a}"));
        }
        if let Some(m) = self.max_length {
            rule.push(format!("{}..{m} chars", self.min_length.unwrap_or(0)));
        }
        if self.unique {
            rule.push("unique".into());
        }
        rule
    }
}

impl DatasetSchema {
    /// The dataset described for people: one line per column with its type,
    /// whether it is required and its rules, then the row rules and row count.
    pub fn describe(&self) -> String {
        let mut out = format!("{} — {} (schema {})\n", self.dataset, self.description, self.schema_version);
        for c in &self.columns {
            let rule = c.rules_in_words();
            out.push_str(&format!(
                "  {:<26} {:<7} {:<9} {}{}\n",
                c.name,
                c.ty.name(),
                if c.nullable { "nullable" } else { "required" },
                c.description.as_deref().unwrap_or(""),
                if rule.is_empty() { String::new() } else { format!(" [{}]", rule.join("; ")) }
            ));
        }
        for r in &self.row_rules {
            out.push_str(&format!("  rule: {}\n", r.description()));
        }
        if let (Some(a), Some(b)) = (self.min_rows, self.max_rows) {
            out.push_str(&format!("  rows: {a}..={b}\n"));
        }
        out
    }
}

/// All datasets of the contract, by name.
#[derive(Debug, Clone)]
pub struct Schemas {
    datasets: BTreeMap<String, Arc<DatasetSchema>>,
}

impl Schemas {
    /// Load every `*.toml` in a folder (an edited copy of `schemas/`).
    pub fn from_dir(dir: &std::path::Path) -> Result<Schemas> {
        let io = |source| ContractError::Io { path: dir.display().to_string(), source };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| ContractError::Io { path: path.display().to_string(), source })?;
                files.push((path.display().to_string(), text));
            }
        }
        files.sort();
        Schemas::parse(files)
    }

    /// Parse schema files given as (name, text).
    pub fn parse(files: impl IntoIterator<Item = (String, String)>) -> Result<Schemas> {
        let mut datasets = BTreeMap::new();
        for (file, text) in files {
            let schema: DatasetSchema = toml::from_str(&text)
                .map_err(|e| ContractError::Schema { file: file.clone(), message: e.to_string() })?;
            schema.check(&file)?;
            if datasets.insert(schema.dataset.clone(), Arc::new(schema)).is_some() {
                return Err(ContractError::Schema { file, message: "dataset declared twice".into() });
            }
        }
        Ok(Schemas { datasets })
    }

    /// A dataset by name, with a did-you-mean in the error.
    pub fn get(&self, name: &str) -> Result<&Arc<DatasetSchema>> {
        self.datasets.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.names().collect();
            let hint = crate::finding::did_you_mean(name, known.iter().copied())
                .map(|m| format!("; did you mean '{m}'?"))
                .unwrap_or_default();
            ContractError::UnknownDataset { name: name.to_string(), known: known.join(", "), hint }
        })
    }

    /// Dataset names in byte order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.datasets.keys().map(String::as_str)
    }

    /// Every dataset in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<DatasetSchema>> {
        self.datasets.values()
    }

    /// The datasets listed for people, under the contract's title.
    pub fn summary(&self, title: &str) -> String {
        let mut out = format!("{title} datasets:\n");
        for s in self.iter() {
            out.push_str(&format!("  {:<22} {} (schema {})\n", s.dataset, s.description, s.schema_version));
        }
        out.push_str("`fedreport schema DATASET` lists the columns of one.\n");
        out
    }
}
