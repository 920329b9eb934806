//! Pipeline folders: `pipeline.toml` (parameters and steps) and one `.sql`
//! file per step. The step order comes from the tables each SQL file names.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{EngineError, Result};

/// The SOM pipeline shipped with the project (embedded so `demo` works anywhere).
const SOM: &[(&str, &str)] = &[
    ("pipeline.toml", include_str!("../../../pipelines/som/pipeline.toml")),
    ("capacity_needs_ranked.sql", include_str!("../../../pipelines/som/capacity_needs_ranked.sql")),
    ("capacity_requests.sql", include_str!("../../../pipelines/som/capacity_requests.sql")),
    ("completeness.sql", include_str!("../../../pipelines/som/completeness.sql")),
    ("cooperation_links.sql", include_str!("../../../pipelines/som/cooperation_links.sql")),
    ("enforcement_by_member.sql", include_str!("../../../pipelines/som/enforcement_by_member.sql")),
    ("enforcement_regional.sql", include_str!("../../../pipelines/som/enforcement_regional.sql")),
    ("legal_framework_summary.sql", include_str!("../../../pipelines/som/legal_framework_summary.sql")),
    ("maritime_by_member.sql", include_str!("../../../pipelines/som/maritime_by_member.sql")),
    ("maritime_regional.sql", include_str!("../../../pipelines/som/maritime_regional.sql")),
    ("member_series.sql", include_str!("../../../pipelines/som/member_series.sql")),
    ("quality_flags.sql", include_str!("../../../pipelines/som/quality_flags.sql")),
    ("victims_counts.sql", include_str!("../../../pipelines/som/victims_counts.sql")),
    ("victims_regional.sql", include_str!("../../../pipelines/som/victims_regional.sql")),
];

/// Disclosure control settings of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disclosure {
    /// The (internal) table of raw counts.
    pub input: String,
    /// Count columns to protect.
    pub columns: Vec<String>,
    /// Column whose values form independent groups (totals are known per group).
    pub group: String,
    /// Column naming the unit (member) of a row; ties go to the first unit.
    pub unit: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepDecl {
    name: String,
    key: Vec<String>,
    #[serde(default = "yes")]
    publish: bool,
    sql: Option<String>,
    disclosure: Option<Disclosure>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineDecl {
    name: String,
    title: String,
    version: String,
    #[serde(default)]
    parameters: toml::Table,
    steps: Vec<StepDecl>,
}

/// What a step runs.
#[derive(Debug, Clone)]
pub enum StepKind {
    Sql { file: String, text: String },
    Disclosure(Disclosure),
}

/// One step, ready to run.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub key: Vec<String>,
    pub publish: bool,
    pub kind: StepKind,
    /// Earlier steps this one reads.
    pub depends_on: Vec<String>,
}

/// A parameter value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Param {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
}

impl Param {
    fn from_toml(v: &toml::Value) -> Option<Param> {
        Some(match v {
            toml::Value::Integer(i) => Param::Int(*i),
            toml::Value::Float(f) => Param::Float(*f),
            toml::Value::Boolean(b) => Param::Bool(*b),
            toml::Value::String(s) => Param::Text(s.clone()),
            _ => return None,
        })
    }

    /// Parse a `--set` value as the same kind as `self`.
    pub fn parse_like(&self, s: &str) -> Option<Param> {
        Some(match self {
            Param::Int(_) => Param::Int(s.parse().ok()?),
            Param::Float(_) => Param::Float(s.parse().ok()?),
            Param::Bool(_) => Param::Bool(s.parse().ok()?),
            Param::Text(_) => Param::Text(s.to_string()),
        })
    }
}

/// A loaded pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    pub title: String,
    pub version: String,
    pub parameters: BTreeMap<String, Param>,
    /// Steps in execution order.
    pub steps: Vec<Step>,
    /// The files the pipeline was loaded from (name, text), for the run record.
    pub files: Vec<(String, String)>,
    /// Where it came from (folder or "embedded:som").
    pub source: String,
}

impl Pipeline {
    /// The SOM pipeline shipped with this build.
    pub fn embedded_som() -> Result<Pipeline> {
        Pipeline::parse("embedded:pipelines/som", SOM.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect())
    }

    /// Load a pipeline folder.
    pub fn load(dir: &std::path::Path) -> Result<Pipeline> {
        let io = |source| EngineError::Io { path: dir.display().to_string(), source };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            if name.ends_with(".sql") || name == "pipeline.toml" {
                let text = std::fs::read_to_string(&path)
                    .map_err(|source| EngineError::Io { path: path.display().to_string(), source })?;
                files.push((name, text));
            }
        }
        Pipeline::parse(&dir.display().to_string(), files)
    }

    /// Parse a pipeline from its files (name, text).
    pub fn parse(source: &str, mut files: Vec<(String, String)>) -> Result<Pipeline> {
        files.sort();
        let texts: HashMap<&str, &str> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
        let err = |file: &str, message: String| EngineError::Pipeline { file: format!("{source}/{file}"), message };
        let decl_text = texts
            .get("pipeline.toml")
            .ok_or_else(|| err("pipeline.toml", "missing; a pipeline folder needs a pipeline.toml".into()))?;
        let decl: PipelineDecl = toml::from_str(decl_text).map_err(|e| err("pipeline.toml", e.to_string()))?;
        let mut parameters = BTreeMap::new();
        for (k, v) in &decl.parameters {
            let p = Param::from_toml(v)
                .ok_or_else(|| err("pipeline.toml", format!("parameter {k} must be a number, boolean or string")))?;
            parameters.insert(k.clone(), p);
        }
        if !matches!(parameters.get("cycle_year"), Some(Param::Int(_))) {
            return Err(err("pipeline.toml", "parameters.cycle_year (an integer year) is required".into()));
        }
        let names: BTreeSet<String> = decl.steps.iter().map(|s| s.name.clone()).collect();
        if names.len() != decl.steps.len() {
            return Err(err("pipeline.toml", "two steps have the same name".into()));
        }
        let mut steps = Vec::new();
        for s in decl.steps {
            let (kind, deps) = match (&s.disclosure, &s.sql) {
                (Some(d), None) => {
                    if !names.contains(&d.input) {
                        return Err(err(
                            "pipeline.toml",
                            format!("step {}: disclosure input '{}' is not a step", s.name, d.input),
                        ));
                    }
                    (StepKind::Disclosure(d.clone()), vec![d.input.clone()])
                }
                (None, sql) => {
                    let file = sql.clone().unwrap_or_else(|| format!("{}.sql", s.name));
                    let text = texts
                        .get(file.as_str())
                        .ok_or_else(|| err(&file, format!("missing: step {} needs it", s.name)))?
                        .to_string();
                    let words = identifiers(&text);
                    let deps = names.iter().filter(|n| **n != s.name && words.contains(n.as_str())).cloned().collect();
                    (StepKind::Sql { file, text }, deps)
                }
                (Some(_), Some(_)) => {
                    return Err(err(
                        "pipeline.toml",
                        format!("step {}: give either sql or disclosure, not both", s.name),
                    ));
                }
            };
            if s.key.is_empty() {
                return Err(err(
                    "pipeline.toml",
                    format!("step {}: key must name the key columns the output is sorted by", s.name),
                ));
            }
            steps.push(Step { name: s.name, key: s.key, publish: s.publish, kind, depends_on: deps });
        }
        let steps = order(steps).map_err(|m| err("pipeline.toml", m))?;
        Ok(Pipeline {
            name: decl.name,
            title: decl.title,
            version: decl.version,
            parameters,
            steps,
            files,
            source: source.to_string(),
        })
    }

    /// sha256 over every file of the pipeline (names and texts).
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        for (n, t) in &self.files {
            h.update(n.as_bytes());
            h.update([0]);
            h.update(t.as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }

    /// The cycle year parameter.
    pub fn cycle_year(&self) -> i32 {
        match self.parameters.get("cycle_year") {
            Some(Param::Int(y)) => *y as i32,
            _ => unreachable!("checked when parsing"),
        }
    }
}

/// Identifiers of a SQL text, outside comments and string literals.
fn identifiers(sql: &str) -> BTreeSet<&str> {
    let mut out = BTreeSet::new();
    let b = sql.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'\'' => {
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.insert(&sql[start..i]);
            }
            _ => i += 1,
        }
    }
    out
}

/// Topological order, keeping the declared order where dependencies allow.
fn order(steps: Vec<Step>) -> std::result::Result<Vec<Step>, String> {
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut left = steps;
    let mut out = Vec::new();
    while !left.is_empty() {
        let pos = left.iter().position(|s| s.depends_on.iter().all(|d| done.contains(d)));
        match pos {
            Some(p) => {
                let s = left.remove(p);
                done.insert(s.name.clone());
                out.push(s);
            }
            None => {
                return Err(format!(
                    "the steps {} depend on each other in a cycle",
                    left.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_pipeline_orders_its_steps() {
        let p = Pipeline::embedded_som().unwrap();
        let pos = |n: &str| p.steps.iter().position(|s| s.name == n).unwrap();
        assert!(pos("maritime_by_member") < pos("maritime_regional"));
        assert!(pos("victims_counts") < pos("victims_by_member"));
        assert!(pos("member_series") < pos("quality_flags"));
        assert!(pos("enforcement_by_member") < pos("member_series"));
        assert_eq!(p.cycle_year(), 2012);
    }

    #[test]
    fn identifiers_skip_comments_and_strings() {
        let ids = identifiers("-- reads maritime_regional\nSELECT 'victims_counts' FROM maritime_by_member");
        assert!(ids.contains("maritime_by_member"));
        assert!(!ids.contains("maritime_regional") && !ids.contains("victims_counts"));
    }

    #[test]
    fn cycles_are_refused() {
        let files = vec![
            ("pipeline.toml".to_string(), "name='x'\ntitle='x'\nversion='1'\n[parameters]\ncycle_year=2012\n[[steps]]\nname='a'\nkey=['k']\n[[steps]]\nname='b'\nkey=['k']\n".to_string()),
            ("a.sql".to_string(), "SELECT * FROM b".to_string()),
            ("b.sql".to_string(), "SELECT * FROM a".to_string()),
        ];
        let e = Pipeline::parse("t", files).unwrap_err().to_string();
        assert!(e.contains("cycle"), "{e}");
    }
}
