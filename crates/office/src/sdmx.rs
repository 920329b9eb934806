//! SDMX for the statistical systems: every published indicator table of a
//! run as SDMX-CSV 2.0, and their data structure definitions, code lists and
//! dataflows as one SDMX-ML 2.1 structure message beside them.
//!
//! Everything is derived, never written by hand: the dimensions are the
//! step's key columns (`reference_year` becomes `TIME_PERIOD`), one `MEASURE`
//! dimension names the table's numeric columns (coded by their headings in
//! `pipeline.toml`), and a key column's code list is its closed list in
//! `schemas/` (member codes from the registry). A hidden cell is never a
//! value: `OBS_VALUE` is empty, `OBS_STATUS` is `Q` and `CONF_STATUS` is `C`
//! where its own count was small (primary suppression, from the run's
//! manifest) or `D` where it protects another (secondary). A value that is
//! missing for any other reason is `OBS_STATUS` `O`.

use std::collections::{BTreeMap, BTreeSet};

use fedreport_contract::Contract;
use fedreport_contract::schema::CodeList;
use fedreport_render::run::{RunData, Table};
use serde::Serialize;
use serde_json::Value;

use crate::{OfficeError, Result};

/// The SDMX-ML structure message's template (a file in the repository).
const STRUCTURE_TEMPLATE: &str = include_str!("../../../templates/sdmx/structure.xml.j2");

/// The file of the structure message in an export.
pub const STRUCTURE_FILE: &str = "structure.xml";

/// A code of a code list.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Code {
    pub id: String,
    pub name: String,
}

/// A code list.
#[derive(Debug, Clone, Serialize)]
pub struct Codelist {
    pub id: String,
    pub name: String,
    pub codes: Vec<Code>,
}

/// A dimension of a data structure: its concept, and its code list or none (free text).
#[derive(Debug, Clone, Serialize)]
pub struct Dimension {
    pub id: String,
    pub column: Option<String>,
    pub codelist: Option<String>,
}

/// One published table as an SDMX data structure and dataflow.
#[derive(Debug, Clone, Serialize)]
pub struct Flow {
    pub id: String,
    pub table: String,
    pub name: String,
    /// Dimensions in order, `MEASURE` last; `TIME_PERIOD` is separate.
    pub dimensions: Vec<Dimension>,
    pub time: bool,
    /// The measures: (column, code).
    pub measures: Vec<(String, String)>,
    /// The SDMX-CSV file.
    pub file: String,
    pub observations: u64,
    pub suppressed: u64,
}

/// An export: the files to write (name, bytes) and what they hold.
#[derive(Debug, Clone)]
pub struct Export {
    pub files: Vec<(String, Vec<u8>)>,
    pub flows: Vec<Flow>,
    /// Published tables with nothing to exchange as figures (no numeric column), with why.
    pub left_out: Vec<(String, String)>,
}

/// An SDMX id from a name: upper case, anything but letters, digits and `_` as `_`.
pub fn sdmx_id(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

/// Export a run's published tables. `agency` is the maintaining agency's id (the forum's).
pub fn export(run: &RunData, contract: &Contract, agency: &str) -> Result<Export> {
    let manifest = &run.manifest;
    let version = version_of(&manifest.pipeline_version);
    let mut codelists: BTreeMap<String, Codelist> = BTreeMap::new();
    let mut concepts: BTreeMap<String, String> = BTreeMap::new();
    for (id, name) in [
        ("TIME_PERIOD", "Reference year"),
        ("MEASURE", "Measure"),
        ("OBS_VALUE", "Observation value"),
        ("OBS_STATUS", "Observation status"),
        ("CONF_STATUS", "Confidentiality status"),
    ] {
        concepts.insert(id.into(), name.into());
    }
    let mut flows = Vec::new();
    let mut left_out = Vec::new();
    let mut files = Vec::new();
    for output in &manifest.outputs {
        let table = run.tables.get(&output.table).ok_or_else(|| OfficeError::Sdmx {
            what: output.table.clone(),
            message: "the table is listed in the run's manifest but not in the run".into(),
        })?;
        let heading = |c: &str| output.meta.columns.get(c).cloned().unwrap_or_else(|| c.replace('_', " "));
        let disclosure = manifest.disclosure.iter().find(|d| d.table == output.table);
        let measures: Vec<String> = table
            .columns
            .iter()
            // the key, and a protected table's `suppressed` flag (carried by OBS_STATUS), are not figures
            .filter(|c| !output.key.contains(c))
            .filter(|c| disclosure.is_none() || c.as_str() != "suppressed")
            .filter(|c| numeric(table, c))
            .cloned()
            .collect();
        if measures.is_empty() {
            left_out.push((output.table.clone(), "it has no numeric column: its figures are text".into()));
            continue;
        }
        let id = sdmx_id(&output.table);
        // dimensions: the key (the year as TIME_PERIOD), then MEASURE
        let mut dimensions = Vec::new();
        let mut time = false;
        for k in &output.key {
            if k == "reference_year" {
                time = true;
                continue;
            }
            let dim = sdmx_id(k);
            concepts.entry(dim.clone()).or_insert_with(|| heading(k));
            let codelist = codelist_for(contract, output.meta.dataset.as_deref(), k, table).map(|mut cl| {
                cl.id = format!("CL_{dim}");
                let id = cl.id.clone();
                match codelists.get_mut(&id) {
                    // one list per concept: the union, in first-seen order
                    Some(existing) => {
                        for code in cl.codes {
                            if !existing.codes.iter().any(|c| c.id == code.id) {
                                existing.codes.push(code);
                            }
                        }
                    }
                    None => {
                        codelists.insert(id.clone(), cl);
                    }
                }
                id
            });
            dimensions.push(Dimension { id: dim, column: Some(k.clone()), codelist });
        }
        let measure_list = format!("CL_{id}_MEASURE");
        let measure_codes: Vec<(String, String)> = measures.iter().map(|m| (m.clone(), sdmx_id(m))).collect();
        codelists.insert(
            measure_list.clone(),
            Codelist {
                id: measure_list.clone(),
                name: format!("Measures of {}", output.meta.title.as_deref().unwrap_or(&output.table)),
                codes: measure_codes.iter().map(|(c, code)| Code { id: code.clone(), name: heading(c) }).collect(),
            },
        );
        dimensions.push(Dimension { id: "MEASURE".into(), column: None, codelist: Some(measure_list) });

        let primary: BTreeSet<(i64, &str, &str)> = disclosure
            .map(|d| d.primary.iter().map(|h| (h.group, h.unit.as_str(), h.column.as_str())).collect())
            .unwrap_or_default();
        let file = format!("{}.csv", output.table);
        let structure_id = format!("{agency}:{id}({version})");
        let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
        let mut header = vec!["STRUCTURE".to_string(), "STRUCTURE_ID".into(), "ACTION".into()];
        header.extend(dimensions.iter().map(|d| d.id.clone()));
        if time {
            header.push("TIME_PERIOD".into());
        }
        header.extend(["OBS_VALUE", "OBS_STATUS", "CONF_STATUS"].map(String::from));
        let csv_error = |e: csv::Error| OfficeError::Sdmx { what: file.clone(), message: e.to_string() };
        w.write_record(&header).map_err(csv_error)?;
        let col = |name: &str| table.columns.iter().position(|c| c == name);
        let (mut observations, mut suppressed) = (0u64, 0u64);
        for row in &table.rows {
            let suppressed_row = col("suppressed").is_some_and(|i| row[i] == Value::Bool(true));
            for (column, code) in &measure_codes {
                let mut record = vec!["dataflow".to_string(), structure_id.clone(), "I".into()];
                for d in &dimensions {
                    match &d.column {
                        Some(c) => record.push(code_text(&row[col(c).expect("key column")])),
                        None => record.push(code.clone()),
                    }
                }
                let year = col("reference_year").and_then(|i| row[i].as_i64());
                if time {
                    record.push(year.map(|y| y.to_string()).unwrap_or_default());
                }
                let value = &row[col(column).expect("measure column")];
                let protected = disclosure.is_some_and(|d| d.columns.contains(column));
                let (obs, status, conf) = match value {
                    Value::Null if protected && suppressed_row => {
                        suppressed += 1;
                        let unit = col(&unit_of(&output.key)).map(|i| code_text(&row[i])).unwrap_or_default();
                        let is_primary = year.is_some_and(|y| primary.contains(&(y, unit.as_str(), column.as_str())));
                        (String::new(), "Q", if is_primary { "C" } else { "D" })
                    }
                    Value::Null => (String::new(), "O", "F"),
                    v => (number_text(v), "A", "F"),
                };
                record.extend([obs, status.to_string(), conf.to_string()]);
                w.write_record(&record).map_err(csv_error)?;
                observations += 1;
            }
        }
        w.flush().map_err(|e| csv_error(e.into()))?;
        let bytes = w.into_inner().map_err(|e| csv_error(e.into_error().into()))?;
        files.push((file.clone(), bytes));
        flows.push(Flow {
            id,
            table: output.table.clone(),
            name: output.meta.title.clone().unwrap_or_else(|| output.table.clone()),
            dimensions,
            time,
            measures: measure_codes,
            file,
            observations,
            suppressed,
        });
    }
    let structure = structure_message(agency, &version, contract, manifest, &flows, &codelists, &concepts)?;
    files.insert(0, (STRUCTURE_FILE.to_string(), structure.into_bytes()));
    Ok(Export { files, flows, left_out })
}

/// The unit column of a protected table: its key column other than the year (the group).
fn unit_of(key: &[String]) -> String {
    key.iter().find(|k| k.as_str() != "reference_year").cloned().unwrap_or_default()
}

/// `1.0` stays; anything SDMX would not take as a version becomes `1.0`.
fn version_of(v: &str) -> String {
    if !v.is_empty() && v.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())) {
        v.to_string()
    } else {
        "1.0".to_string()
    }
}

/// Whether every value of a column is a number (and there is one).
fn numeric(table: &Table, column: &str) -> bool {
    let Some(i) = table.columns.iter().position(|c| c == column) else { return false };
    let mut any = false;
    for row in &table.rows {
        match &row[i] {
            Value::Null => {}
            Value::Number(_) => any = true,
            _ => return false,
        }
    }
    any || table.rows.is_empty()
}

fn code_text(v: &Value) -> String {
    match v {
        Value::Null => "_Z".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A number as SDMX-CSV writes it: integers as such, others in the shortest
/// form that reads back to the same double.
fn number_text(v: &Value) -> String {
    match v {
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => format!("{f}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// The code list of a key column: its closed list in the schemas (the
/// table's own dataset first), member codes from the registry, or none when
/// the column is free text. Values the run holds beyond the list (`_Z` for
/// none) are added, so every observation's codes are in the structure.
fn codelist_for(contract: &Contract, dataset: Option<&str>, column: &str, table: &Table) -> Option<Codelist> {
    let schemas = contract.schemas();
    let mut candidates: Vec<&fedreport_contract::Column> = Vec::new();
    if let Some(s) = dataset.and_then(|d| schemas.get(d).ok())
        && let Some(c) = s.columns.iter().find(|c| c.name == column)
    {
        candidates.push(c);
    }
    for s in schemas.iter() {
        if let Some(c) = s.columns.iter().find(|c| c.name == column) {
            candidates.push(c);
        }
    }
    let registry = contract.registry();
    let mut codes: Vec<Code> = match candidates.first() {
        Some(c) if c.values.as_ref().is_some_and(|v| !v.is_empty()) => {
            c.values.iter().flatten().map(|v| Code { id: v.clone(), name: v.replace('_', " ") }).collect()
        }
        Some(c) if c.codelist == Some(CodeList::Iso3) => registry
            .iso3_codes()
            .into_iter()
            .map(|code| Code { id: code.to_string(), name: code.to_string() })
            .collect(),
        Some(c) if c.codelist == Some(CodeList::Member) => {
            registry.members().map(|m| Code { id: m.code.clone(), name: m.name.clone() }).collect()
        }
        _ if column.ends_with("_member") => {
            registry.members().map(|m| Code { id: m.code.clone(), name: m.name.clone() }).collect()
        }
        _ => return None,
    };
    if let Some(i) = table.columns.iter().position(|c| c == column) {
        for row in &table.rows {
            let v = code_text(&row[i]);
            if !codes.iter().any(|c| c.id == v) {
                let name = if v == "_Z" { "Not applicable".to_string() } else { v.clone() };
                codes.push(Code { id: v, name });
            }
        }
    }
    Some(Codelist { id: String::new(), name: format!("Codes of {}", column.replace('_', " ")), codes })
}

#[allow(clippy::too_many_arguments)]
fn structure_message(
    agency: &str,
    version: &str,
    contract: &Contract,
    manifest: &fedreport_store::Manifest,
    flows: &[Flow],
    codelists: &BTreeMap<String, Codelist>,
    concepts: &BTreeMap<String, String>,
) -> Result<String> {
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_template("structure.xml", STRUCTURE_TEMPLATE)
        .map_err(|e| OfficeError::Sdmx { what: STRUCTURE_FILE.into(), message: e.to_string() })?;
    let lists: Vec<&Codelist> = codelists.values().collect();
    let concepts: Vec<Code> = concepts.iter().map(|(id, name)| Code { id: id.clone(), name: name.clone() }).collect();
    env.get_template("structure.xml")
        .and_then(|t| {
            t.render(minijinja::context! {
                agency,
                version,
                title => contract.title(),
                prepared => manifest.created_at.split('.').next().unwrap_or(&manifest.created_at).trim_end_matches('Z'),
                run => manifest.run_id.as_str(),
                flows => minijinja::value::Serde(flows),
                codelists => minijinja::value::Serde(&lists),
                concepts => minijinja::value::Serde(&concepts),
            })
        })
        .map_err(|e| OfficeError::Sdmx { what: STRUCTURE_FILE.into(), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_numbers() {
        assert_eq!(sdmx_id("victims_by_member"), "VICTIMS_BY_MEMBER");
        assert_eq!(sdmx_id("bali-process"), "BALI_PROCESS");
        assert_eq!(number_text(&serde_json::json!(12)), "12");
        assert_eq!(number_text(&serde_json::json!(0.1)), "0.1");
        assert_eq!(number_text(&serde_json::json!(2.5)), "2.5");
        assert_eq!(version_of("1.0"), "1.0");
        assert_eq!(version_of("v2"), "1.0");
    }
}
