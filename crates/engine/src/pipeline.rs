//! Pipeline folders: `pipeline.toml` (parameters and steps) and one `.sql`
//! file per step. The step order comes from the tables each SQL file reads,
//! as DataFusion's own parser resolves them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use datafusion::sql::parser::DFParser;
use datafusion::sql::resolve::resolve_table_references;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use fedreport_store::Param;
use fedreport_store::manifest::{AnnexYears, TableMeta};

use crate::error::{EngineError, Result, sql_error};

/// The parameter every disclosure step reads its threshold from.
pub const DISCLOSURE_K: &str = "disclosure_k";
/// The parameter holding the cycle's reference year.
pub const CYCLE_YEAR: &str = "cycle_year";

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
    title: Option<String>,
    #[serde(default)]
    columns: BTreeMap<String, String>,
    #[serde(default)]
    annex: AnnexYears,
    dataset: Option<String>,
    #[serde(default)]
    fractions: Vec<String>,
    #[serde(default)]
    per_return: bool,
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
    /// How readers see its table (title, headings, annex years).
    pub meta: TableMeta,
    /// Declared `per_return = true`: its rows for a (reporting_member,
    /// reference_year) come only from that member's rows of that year in the
    /// tables it reads, so the engine computes them only for returns that
    /// changed (see [`crate::incremental`]).
    pub per_return: bool,
    /// Every table its SQL reads (inputs and earlier steps), lower-cased.
    pub reads: BTreeSet<String>,
}

/// The key columns a `per_return` step must have.
pub const RETURN_KEY: [&str; 2] = ["reference_year", "reporting_member"];

fn param_from_toml(v: &toml::Value) -> Option<Param> {
    Some(match v {
        toml::Value::Integer(i) => Param::Int(*i),
        toml::Value::Float(f) => Param::Float(*f),
        toml::Value::Boolean(b) => Param::Bool(*b),
        toml::Value::String(s) => Param::Text(s.clone()),
        _ => return None,
    })
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
    /// Where it came from (a folder, or `embedded:pipelines/som`).
    pub source: String,
}

impl Pipeline {
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
            let p = param_from_toml(v)
                .ok_or_else(|| err("pipeline.toml", format!("parameter {k} must be a number, boolean or string")))?;
            parameters.insert(k.clone(), p);
        }
        if !matches!(parameters.get(CYCLE_YEAR), Some(Param::Int(_))) {
            return Err(err("pipeline.toml", "parameters.cycle_year (an integer year) is required".into()));
        }
        if decl.steps.iter().any(|s| s.disclosure.is_some())
            && !matches!(parameters.get(DISCLOSURE_K), Some(Param::Int(_)))
        {
            return Err(err(
                "pipeline.toml",
                "a disclosure step needs parameters.disclosure_k (an integer threshold: counts from 1 to k-1 are hidden)"
                    .into(),
            ));
        }
        // a step's name is the table later SQL reads, and DataFusion folds unquoted names to lower case
        if let Some(s) = decl.steps.iter().find(|s| {
            s.name.is_empty()
                || s.name.starts_with(|c: char| c.is_ascii_digit())
                || !s.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        }) {
            return Err(err(
                "pipeline.toml",
                format!(
                    "step '{}': a step's name is the table later SQL reads it as, so it must be lower-case \
                     letters, digits and _, not starting with a digit (SQL folds unquoted names to lower case)",
                    s.name
                ),
            ));
        }
        let names: BTreeSet<String> = decl.steps.iter().map(|s| s.name.clone()).collect();
        if names.len() != decl.steps.len() {
            return Err(err("pipeline.toml", "two steps have the same name".into()));
        }
        let mut steps = Vec::new();
        for s in decl.steps {
            let mut reads = BTreeSet::new();
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
                    let read = tables_read(&text).map_err(|e| sql_error(format!("{source}/{file}"), &e))?;
                    let deps = names.iter().filter(|n| **n != s.name && read.contains(n.as_str())).cloned().collect();
                    reads = read;
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
            if s.per_return {
                if !matches!(kind, StepKind::Sql { .. }) {
                    return Err(err(
                        "pipeline.toml",
                        format!(
                            "step {}: per_return is for SQL steps (disclosure control looks across members)",
                            s.name
                        ),
                    ));
                }
                if let Some(missing) = RETURN_KEY.iter().find(|c| !s.key.iter().any(|k| k == *c)) {
                    return Err(err(
                        "pipeline.toml",
                        format!(
                            "step {}: a per_return step's key must include {} (it has no {missing})",
                            s.name,
                            RETURN_KEY.join(" and ")
                        ),
                    ));
                }
            }
            let meta = TableMeta {
                title: s.title,
                columns: s.columns,
                annex: s.annex,
                dataset: s.dataset,
                fractions: s.fractions,
            };
            steps.push(Step {
                name: s.name,
                key: s.key,
                publish: s.publish,
                kind,
                depends_on: deps,
                meta,
                per_return: s.per_return,
                reads,
            });
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
        match self.parameters.get(CYCLE_YEAR) {
            Some(Param::Int(y)) => *y as i32,
            _ => unreachable!("checked when parsing"),
        }
    }

    /// The parameters with `--set NAME=VALUE` overrides (and a cycle year) applied;
    /// an unknown name or a value of the wrong kind is refused.
    pub fn parameters_with(&self, year: Option<i32>, set: &[(String, String)]) -> Result<BTreeMap<String, Param>> {
        let mut params = self.parameters.clone();
        if let Some(y) = year {
            params.insert(CYCLE_YEAR.into(), Param::Int(y as i64));
        }
        let err = |message: String| EngineError::Pipeline { file: format!("{}/pipeline.toml", self.source), message };
        for (k, v) in set {
            let current = params.get(k).ok_or_else(|| {
                err(format!(
                    "--set {k}: no such parameter (parameters: {})",
                    params.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?;
            let p = current.parse_like(v).ok_or_else(|| {
                err(format!("--set {k}={v}: the value must be {}, like the default {current:?}", current.kind()))
            })?;
            params.insert(k.clone(), p);
        }
        Ok(params)
    }
}

/// The tables a SQL text reads (CTE names excluded), lower-cased as
/// DataFusion resolves unquoted names. A text that does not parse is an
/// error, located like any other SQL error.
fn tables_read(sql: &str) -> std::result::Result<BTreeSet<String>, datafusion::error::DataFusionError> {
    let mut out = BTreeSet::new();
    for statement in &DFParser::parse_sql(sql)? {
        let (tables, _ctes) = resolve_table_references(statement, true)?;
        out.extend(tables.into_iter().map(|t| t.table().to_string()));
    }
    Ok(out)
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

    /// The SOM pipeline of the repository (the one the Bali Process forum ships).
    fn som() -> Pipeline {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/som");
        Pipeline::load(&dir).unwrap()
    }

    #[test]
    fn som_pipeline_orders_its_steps() {
        let p = som();
        let pos = |n: &str| p.steps.iter().position(|s| s.name == n).unwrap();
        assert!(pos("maritime_by_member") < pos("maritime_regional"));
        assert!(pos("victims_counts") < pos("victims_by_member"));
        assert!(pos("member_series") < pos("quality_flags"));
        assert!(pos("maritime_by_member") < pos("member_series"));
        assert_eq!(p.cycle_year(), 2012);
    }

    #[test]
    fn tables_read_skip_comments_strings_and_ctes() {
        let read = tables_read(
            "-- reads maritime_regional\nWITH t AS (SELECT * FROM Members)\nSELECT 'victims_counts' FROM maritime_by_member JOIN t ON true",
        )
        .unwrap();
        assert_eq!(read.into_iter().collect::<Vec<_>>(), ["maritime_by_member", "members"]);
        assert!(tables_read("SELECT a FROM t WHERE (").is_err());
    }

    #[test]
    fn disclosure_needs_its_threshold() {
        let files = vec![
            ("pipeline.toml".to_string(), "name='x'\ntitle='x'\nversion='1'\n[parameters]\ncycle_year=2012\n[[steps]]\nname='a'\nkey=['k']\n[[steps]]\nname='b'\nkey=['k']\ndisclosure={input='a', columns=['n'], group='k', unit='u'}\n".to_string()),
            ("a.sql".to_string(), "SELECT 1 AS k".to_string()),
        ];
        let e = Pipeline::parse("t", files).unwrap_err().to_string();
        assert!(e.contains("disclosure_k"), "{e}");
    }

    #[test]
    fn per_return_steps_are_declared_with_the_return_key() {
        let p = som();
        let per_return: Vec<&str> = p.steps.iter().filter(|s| s.per_return).map(|s| s.name.as_str()).collect();
        assert!(per_return.contains(&"maritime_by_member") && per_return.contains(&"enforcement_by_member"));
        let decl = |key: &str| {
            vec![
                (
                    "pipeline.toml".to_string(),
                    format!(
                        "name='x'\ntitle='x'\nversion='1'\n[parameters]\ncycle_year=2012\n[[steps]]\nname='a'\nkey={key}\nper_return=true\n"
                    ),
                ),
                ("a.sql".to_string(), "SELECT 1 AS k".to_string()),
            ]
        };
        let e = Pipeline::parse("t", decl("['reference_year']")).unwrap_err().to_string();
        assert!(e.contains("step a: a per_return step's key must include reference_year and reporting_member (it has no reporting_member)"), "{e}");
        assert!(Pipeline::parse("t", decl("['reference_year', 'reporting_member']")).is_ok());
    }

    #[test]
    fn step_names_are_lower_case_table_names() {
        let named = |name: &str| {
            vec![
                (
                    "pipeline.toml".to_string(),
                    format!(
                        "name='x'\ntitle='x'\nversion='1'\n[parameters]\ncycle_year=2012\n[[steps]]\nname='{name}'\nkey=['k']\nsql='a.sql'\n"
                    ),
                ),
                ("a.sql".to_string(), "SELECT 1 AS k".to_string()),
            ]
        };
        for bad in ["Maritime_Regional", "2nd", "a-b", ""] {
            let e = Pipeline::parse("t", named(bad)).unwrap_err().to_string();
            assert!(e.contains(&format!("step '{bad}': a step's name is the table later SQL reads")), "{e}");
        }
        assert!(Pipeline::parse("t", named("maritime_regional_2")).is_ok());
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
