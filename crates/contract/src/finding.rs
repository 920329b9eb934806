//! Findings and the validation report: what a focal point reads after
//! `fedreport validate`, and what the JSON report and receipts carry.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Whether a finding rejects the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// Stable rule codes of Standard Return v1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RuleCode {
    #[serde(rename = "E_CORRUPT_FILE")]
    CorruptFile,
    #[serde(rename = "E_MISSING_COLUMN")]
    MissingColumn,
    #[serde(rename = "E_UNKNOWN_COLUMN")]
    UnknownColumn,
    #[serde(rename = "E_TYPE")]
    Type,
    #[serde(rename = "E_NULL")]
    Null,
    #[serde(rename = "E_CODELIST")]
    Codelist,
    #[serde(rename = "E_RANGE")]
    Range,
    #[serde(rename = "E_UNIQUE")]
    Unique,
    #[serde(rename = "E_ROW_RULE")]
    RowRule,
    #[serde(rename = "E_ROW_COUNT")]
    RowCount,
    #[serde(rename = "E_IDENTITY")]
    Identity,
    #[serde(rename = "W_IGNORED_COLUMN")]
    IgnoredColumn,
}

impl RuleCode {
    /// Every code, in the order of the spec.
    pub const ALL: [RuleCode; 12] = [
        RuleCode::CorruptFile,
        RuleCode::MissingColumn,
        RuleCode::UnknownColumn,
        RuleCode::Type,
        RuleCode::Null,
        RuleCode::Codelist,
        RuleCode::Range,
        RuleCode::Unique,
        RuleCode::RowRule,
        RuleCode::RowCount,
        RuleCode::Identity,
        RuleCode::IgnoredColumn,
    ];

    /// The code as written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleCode::CorruptFile => "E_CORRUPT_FILE",
            RuleCode::MissingColumn => "E_MISSING_COLUMN",
            RuleCode::UnknownColumn => "E_UNKNOWN_COLUMN",
            RuleCode::Type => "E_TYPE",
            RuleCode::Null => "E_NULL",
            RuleCode::Codelist => "E_CODELIST",
            RuleCode::Range => "E_RANGE",
            RuleCode::Unique => "E_UNIQUE",
            RuleCode::RowRule => "E_ROW_RULE",
            RuleCode::RowCount => "E_ROW_COUNT",
            RuleCode::Identity => "E_IDENTITY",
            RuleCode::IgnoredColumn => "W_IGNORED_COLUMN",
        }
    }

    /// Severity implied by the code's prefix.
    pub fn severity(self) -> Severity {
        if self.as_str().starts_with("W_") { Severity::Warning } else { Severity::Error }
    }
}

impl fmt::Display for RuleCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in a return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: RuleCode,
    /// Column concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// 1-based data row (header not counted), if the finding is about a row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// The offending value, truncated for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Where an Excel return's finding is on the sheet, as Excel shows it
    /// (`Return!C7`, `Return!A7:L7` for a row, the header cell for a column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
    /// A sentence a focal point understands.
    pub message: String,
}

impl Finding {
    /// A finding with the code's own severity.
    pub fn new(code: RuleCode, message: impl Into<String>) -> Finding {
        Finding {
            severity: code.severity(),
            code,
            column: None,
            row: None,
            value: None,
            cell: None,
            message: message.into(),
        }
    }

    /// Attach a column.
    pub fn column(mut self, column: impl Into<String>) -> Finding {
        self.column = Some(column.into());
        self
    }

    /// Attach a 1-based row.
    pub fn row(mut self, row: u64) -> Finding {
        self.row = Some(row);
        self
    }

    /// Attach an offending value (truncated to 80 characters).
    pub fn value(mut self, value: impl AsRef<str>) -> Finding {
        self.value = Some(truncate(value.as_ref(), 80));
        self
    }
}

/// "1 row", "2 rows".
pub fn plural(n: u64, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// Truncate to `max` code points, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

/// The closest candidate by edit distance, when close enough to be a typo.
pub fn did_you_mean<'a>(value: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = value.to_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        if c.to_lowercase() == lower {
            return Some(c);
        }
        let score = strsim::jaro_winkler(&lower, &c.to_lowercase());
        let score =
            if c.to_lowercase().contains(&lower) || lower.contains(&c.to_lowercase()) { score.max(0.9) } else { score };
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.filter(|(s, _)| *s >= 0.8).map(|(_, c)| c)
}

/// The outcome of validating one file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The file as the user named it.
    pub file: String,
    /// `parquet`, `csv` or `xlsx`.
    pub format: String,
    /// Dataset validated against (None when it could not be determined).
    pub dataset: Option<String>,
    pub schema_version: Option<String>,
    /// Member and year the file was checked for (given or inferred).
    pub member: Option<String>,
    pub year: Option<i32>,
    /// How member/year/dataset were determined, for people.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Data rows read.
    pub rows: u64,
    pub errors: u64,
    pub warnings: u64,
    /// True when more findings existed than the cap allowed to keep.
    pub truncated: bool,
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether the file passes (no error findings).
    pub fn is_valid(&self) -> bool {
        self.errors == 0
    }

    /// Count of kept findings with a code.
    pub fn count(&self, code: RuleCode) -> usize {
        self.findings.iter().filter(|f| f.code == code).count()
    }

    /// The report for people, as printed by `fedreport validate`.
    pub fn to_human(&self) -> String {
        let mut out = String::new();
        let what = match (&self.dataset, &self.member, self.year) {
            (Some(d), Some(m), Some(y)) => format!("{d} return of {m} for {y}"),
            (Some(d), _, _) => format!("{d} return"),
            _ => "return".to_string(),
        };
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        for f in &self.findings {
            let sev = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let mut place = Vec::new();
            if let Some(r) = f.row {
                place.push(format!("row {r}"));
            }
            if let Some(c) = &f.column {
                place.push(format!("column {c}"));
            }
            if let Some(cell) = &f.cell {
                place.push(format!("cell {cell}"));
            }
            let place = if place.is_empty() { String::new() } else { format!(" {}", place.join(", ")) };
            out.push_str(&format!("{sev}[{}] {}{}: {}\n", f.code, self.file, place, f.message));
        }
        if self.truncated {
            out.push_str(&format!(
                "… only the first {} findings are listed; fix these and validate again (or raise --max-findings)\n",
                self.findings.len()
            ));
        }
        if self.is_valid() {
            out.push_str(&format!(
                "OK: {} is a valid {what} ({}{}).\n",
                self.file,
                plural(self.rows, "row"),
                if self.warnings > 0 { format!(", {}", plural(self.warnings, "warning")) } else { String::new() }
            ));
        } else {
            out.push_str(&format!(
                "REJECTED: {} is not a valid {what}: {}, {} in {}.\n",
                self.file,
                plural(self.errors, "error"),
                plural(self.warnings, "warning"),
                plural(self.rows, "row")
            ));
        }
        out
    }
}
