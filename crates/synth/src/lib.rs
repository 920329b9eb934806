//! Synthetic returns for the demo, the tests and the benchmarks.
//!
//! Generates a whole reporting cycle for every reporting member of the
//! registry over several years, with realistic magnitudes (a handful of
//! maritime hubs carry most movements, landlocked members report none,
//! trafficking victims are few for many members so disclosure control has
//! work to do), plus corrections (resubmissions) and a few deliberately
//! invalid submissions. Everything is seeded: the same configuration gives
//! the same bytes.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Date32Array, Int8Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::Date32Type;
use chrono::{Datelike, NaiveDate};
use fedreport_contract::{Contract, canonical};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Errors of the generator.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error(transparent)]
    Contract(#[from] fedreport_contract::ContractError),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
}

/// Result alias of this crate.
pub type Result<T, E = SynthError> = std::result::Result<T, E>;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    pub seed: u64,
    pub years: RangeInclusive<i32>,
    /// Multiplies case-level row counts (1.0 ≈ 40 thousand rows a year).
    pub scale: f64,
    /// Include corrections, missing returns and invalid submissions.
    pub realistic_mess: bool,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig { seed: 2013, years: 2008..=2012, scale: 1.0, realistic_mess: true }
    }
}

/// One generated file, ready to drop into a member's inbox.
#[derive(Debug, Clone)]
pub struct SynthFile {
    pub member: String,
    pub dataset: String,
    pub year: i32,
    /// File name (with extension) for the inbox.
    pub name: String,
    pub bytes: Vec<u8>,
    /// Whether intake should accept it.
    pub valid: bool,
    /// Why it exists (for people reading the demo).
    pub note: &'static str,
}

/// Members with busy sea routes, and a weight for their traffic.
const MARITIME: &[(&str, f64)] = &[
    ("IDN", 1.0),
    ("AUS", 0.9),
    ("MYS", 0.8),
    ("THA", 0.6),
    ("LKA", 0.5),
    ("MMR", 0.5),
    ("BGD", 0.5),
    ("PHL", 0.3),
    ("VNM", 0.3),
    ("PNG", 0.2),
    ("TLS", 0.15),
    ("NZL", 0.05),
    ("FJI", 0.05),
    ("SGP", 0.1),
    ("KHM", 0.1),
    ("IND", 0.3),
    ("PAK", 0.2),
    ("IRN", 0.15),
    ("TUR", 0.4),
    ("JPN", 0.05),
    ("KOR", 0.05),
    ("CHN", 0.1),
    ("BRN", 0.03),
    ("NRU", 0.02),
    ("SLB", 0.02),
    ("VUT", 0.02),
    ("TON", 0.01),
    ("WSM", 0.01),
];

/// Relative regional flow by year: rising to a peak in 2012, as in the SOM5 statement.
fn flow(year: i32) -> f64 {
    match year {
        ..=2007 => 0.5,
        2008 => 0.55,
        2009 => 0.8,
        2010 => 0.95,
        2011 => 0.9,
        2012 => 1.5,
        y => 1.0 + 0.1 * ((y * 7919) % 5) as f64,
    }
}

fn size_of(code: &str) -> f64 {
    match code {
        "CHN" | "IND" | "IDN" | "USA" | "PAK" | "BGD" => 3.0,
        "JPN" | "PHL" | "VNM" | "THA" | "MMR" | "IRN" | "TUR" | "AUS" | "MYS" | "KOR" => 1.5,
        "NRU" | "PLW" | "KIR" | "TON" | "WSM" | "VUT" | "SLB" | "MDV" | "BTN" | "BRN" | "MAC" | "NCL" => 0.08,
        _ => 0.5,
    }
}

const OUTCOMES: &[(&str, f64)] = &[
    ("prevented_departure", 0.25),
    ("intercepted_at_sea", 0.3),
    ("rescued_at_sea", 0.15),
    ("landed", 0.27),
    ("lost_at_sea", 0.03),
];
const ORIGINS: &[&str] = &["AFG", "IRN", "IRQ", "LKA", "MMR", "BGD", "PAK", "IDN", "MYS", "VNM", "SYR", "UNK"];
const DESTS: &[&str] = &["AUS", "MYS", "IDN", "THA", "NZL", "ITA", "UNK"];
const STAGES: &[(&str, f64)] =
    &[("investigation", 0.5), ("prosecution", 0.25), ("conviction", 0.2), ("acquittal", 0.05)];
const SEXES: &[(&str, f64)] = &[("female", 0.62), ("male", 0.34), ("other", 0.01), ("unknown", 0.03)];
const AGES: &[(&str, f64)] = &[("child", 0.28), ("adult", 0.68), ("unknown", 0.04)];
const EXPLOIT: &[(&str, f64)] = &[
    ("sexual", 0.42),
    ("forced_labour", 0.38),
    ("forced_marriage", 0.06),
    ("forced_criminality", 0.05),
    ("organ_removal", 0.005),
    ("other", 0.035),
    ("unknown", 0.05),
];
const AREAS: &[(&str, f64)] = &[
    ("law_enforcement_cooperation", 0.2),
    ("immigration_management", 0.12),
    ("legislative_drafting", 0.1),
    ("victim_identification_protection", 0.18),
    ("maritime_search_rescue", 0.1),
    ("border_management", 0.14),
    ("document_examination", 0.08),
    ("data_and_statistics", 0.08),
];
const ASSIST: &[&str] = &["training", "technical_assistance", "equipment", "policy_guidance"];
const PROVIDERS: &[&str] = &["RSO", "JCLEC", "UNODC", "IOM", "UNHCR", "ILO", "bilateral"];

fn pick<'a>(rng: &mut ChaCha8Rng, weighted: &'a [(&'a str, f64)]) -> &'a str {
    let total: f64 = weighted.iter().map(|w| w.1).sum();
    let mut x = rng.random::<f64>() * total;
    for (v, w) in weighted {
        if x < *w {
            return v;
        }
        x -= w;
    }
    weighted[weighted.len() - 1].0
}

fn count(rng: &mut ChaCha8Rng, mean: f64) -> usize {
    if mean <= 0.0 {
        return 0;
    }
    let jitter = 0.7 + 0.6 * rng.random::<f64>();
    (mean * jitter).round() as usize
}

fn day_in(rng: &mut ChaCha8Rng, year: i32) -> i32 {
    let start = NaiveDate::from_ymd_opt(year, 1, 1).expect("year");
    let days = if NaiveDate::from_ymd_opt(year, 12, 31).expect("year").ordinal() == 366 { 366 } else { 365 };
    Date32Type::from_naive_date(start + chrono::Duration::days(rng.random_range(0..days)))
}

fn s(v: Vec<String>) -> ArrayRef {
    Arc::new(StringArray::from(v))
}

fn rng_for(seed: u64, member: &str, dataset: &str, year: i32) -> ChaCha8Rng {
    let mut h: u64 = seed ^ 0x9E37_79B9_7F4A_7C15;
    for b in member.bytes().chain(dataset.bytes()).chain(year.to_le_bytes()) {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01B3);
    }
    ChaCha8Rng::seed_from_u64(h)
}

/// Generate one valid return of the Bali Process contract as a canonical
/// batch. `scale` multiplies row counts.
pub fn return_batch(
    contract: &Contract,
    seed: u64,
    member: &str,
    dataset: &str,
    year: i32,
    scale: f64,
) -> Result<RecordBatch> {
    let (schemas, registry) = (contract.schemas(), contract.registry());
    let schema = schemas.get(dataset)?.arrow_schema();
    let mut rng = rng_for(seed, member, dataset, year);
    let size = size_of(member);
    let partners: Vec<&str> = registry.reporting_members().map(|m| m.code.as_str()).filter(|c| *c != member).collect();
    let ids = |prefix: &str, n: usize| -> ArrayRef {
        s((1..=n).map(|i| format!("{member}-{year}-{prefix}{i:06}")).collect())
    };
    let consts = |n: usize| -> (ArrayRef, ArrayRef) {
        (s(vec![member.to_string(); n]), Arc::new(Int32Array::from(vec![year; n])) as ArrayRef)
    };
    let cols: Vec<ArrayRef> = match dataset {
        "maritime_movements" => {
            let w = MARITIME.iter().find(|m| m.0 == member).map_or(0.0, |m| m.1);
            let n = count(&mut rng, 220.0 * w * flow(year) * scale);
            let (mut date, mut outc, mut emb, mut dest, mut pob, mut dead, mut miss) =
                (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
            for _ in 0..n {
                let o = pick(&mut rng, OUTCOMES);
                let top = if rng.random::<f64>() < 0.1 { 400 } else { 90 };
                let p = rng.random_range(4..=top);
                let (d, m) = if o == "lost_at_sea" {
                    let lost = rng.random_range(1..=p);
                    let d = rng.random_range(0..=lost);
                    (d, lost - d)
                } else if rng.random::<f64>() < 0.03 {
                    (rng.random_range(0..=2.min(p)), 0)
                } else {
                    (0, 0)
                };
                date.push(day_in(&mut rng, year));
                outc.push(o.to_string());
                emb.push(ORIGINS[rng.random_range(0..ORIGINS.len())].to_string());
                dest.push(DESTS[rng.random_range(0..DESTS.len())].to_string());
                pob.push(p);
                dead.push(d);
                miss.push(m);
            }
            let (rm, ry) = consts(n);
            vec![
                rm,
                ry,
                ids("M", n),
                Arc::new(Date32Array::from(date)),
                s(outc),
                s(emb),
                s(dest),
                Arc::new(Int32Array::from(pob)),
                Arc::new(Int32Array::from(dead)),
                Arc::new(Int32Array::from(miss)),
            ]
        }
        "enforcement_cases" => {
            let n = count(&mut rng, 60.0 * size * scale * (0.8 + 0.05 * (year - 2008) as f64));
            let (mut off, mut stage, mut opened, mut sus, mut inv, mut cross, mut partner) =
                (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
            for _ in 0..n {
                off.push(
                    if rng.random::<f64>() < 0.55 { "migrant_smuggling" } else { "trafficking_in_persons" }.to_string(),
                );
                stage.push(pick(&mut rng, STAGES).to_string());
                let y = if rng.random::<f64>() < 0.2 { year - 1 } else { year };
                opened.push(day_in(&mut rng, y));
                sus.push(rng.random_range(1..=6));
                inv.push(rng.random_range(0..=40));
                let c = rng.random::<f64>() < 0.22;
                cross.push(c);
                partner.push(c.then(|| partners[rng.random_range(0..partners.len().min(12))].to_string()));
            }
            let (rm, ry) = consts(n);
            vec![
                rm,
                ry,
                ids("C", n),
                s(off),
                s(stage),
                Arc::new(Date32Array::from(opened)),
                Arc::new(Int32Array::from(sus)),
                Arc::new(Int32Array::from(inv)),
                Arc::new(BooleanArray::from(cross)),
                Arc::new(StringArray::from(partner)),
            ]
        }
        "trafficking_victims" => {
            let mean = if size < 0.1 { 2.5 } else { 45.0 * size * scale };
            let n = count(&mut rng, mean);
            let (mut date, mut sex, mut age, mut cit, mut ex, mut refd) =
                (vec![], vec![], vec![], vec![], vec![], vec![]);
            for _ in 0..n {
                date.push(day_in(&mut rng, year));
                sex.push(pick(&mut rng, SEXES).to_string());
                age.push(pick(&mut rng, AGES).to_string());
                cit.push(if rng.random::<f64>() < 0.6 {
                    member.to_string()
                } else {
                    ORIGINS[rng.random_range(0..ORIGINS.len())].to_string()
                });
                ex.push(pick(&mut rng, EXPLOIT).to_string());
                refd.push(rng.random::<f64>() < 0.7);
            }
            let cit: Vec<String> =
                cit.into_iter().map(|c| if registry.is_iso3(&c) { c } else { "UNK".into() }).collect();
            let (rm, ry) = consts(n);
            vec![
                rm,
                ry,
                ids("V", n),
                Arc::new(Date32Array::from(date)),
                s(sex),
                s(age),
                s(cit),
                s(ex),
                Arc::new(BooleanArray::from(refd)),
            ]
        }
        "legal_framework" => {
            // Progress over time: the later the year, the likelier full criminalisation.
            let base = (member.bytes().map(|b| b as u32).sum::<u32>() % 10) as f64 / 10.0;
            let t = (year - 2005).max(0) as f64 / 10.0;
            let level = |x: f64| {
                if x > 0.9 {
                    "full"
                } else if x > 0.55 {
                    "partial"
                } else {
                    "none"
                }
            };
            let party = base + t > 0.7;
            let (rm, ry) = consts(1);
            vec![
                rm,
                ry,
                s(vec![level(base + t).into()]),
                s(vec![level(base + t + 0.15).into()]),
                Arc::new(BooleanArray::from(vec![party || base > 0.3])),
                Arc::new(BooleanArray::from(vec![party])),
                Arc::new(BooleanArray::from(vec![party || base > 0.5])),
                Arc::new(BooleanArray::from(vec![year >= 2014 && base + t > 0.8])),
            ]
        }
        "capacity_needs" => {
            let n = rng.random_range(0..=6usize);
            let (mut area, mut kind, mut prio, mut prov, mut desc) = (vec![], vec![], vec![], vec![], vec![]);
            for _ in 0..n {
                let a = pick(&mut rng, AREAS);
                area.push(a.to_string());
                kind.push(ASSIST[rng.random_range(0..ASSIST.len())].to_string());
                prio.push(rng.random_range(1..=3i8));
                prov.push(
                    (rng.random::<f64>() < 0.8).then(|| PROVIDERS[rng.random_range(0..PROVIDERS.len())].to_string()),
                );
                desc.push(
                    (rng.random::<f64>() < 0.7).then(|| format!("Support for {} in {year}", a.replace('_', " "))),
                );
            }
            let (rm, ry) = consts(n);
            vec![
                rm,
                ry,
                ids("N", n),
                s(area),
                s(kind),
                Arc::new(Int8Array::from(prio)),
                Arc::new(StringArray::from(prov)),
                Arc::new(StringArray::from(desc)),
            ]
        }
        other => {
            return Err(fedreport_contract::ContractError::Schema {
                file: other.into(),
                message: "no generator".into(),
            }
            .into());
        }
    };
    Ok(RecordBatch::try_new(schema, cols)?)
}

/// Parquet bytes of a batch (plain, no fedreport metadata: as a focal point would write it).
pub fn parquet(batch: &RecordBatch) -> Result<Vec<u8>> {
    Ok(canonical::parquet_bytes(batch.schema(), std::slice::from_ref(batch), &BTreeMap::new())?)
}

/// CSV bytes of a batch, as a spreadsheet would save it.
pub fn csv(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut w = ::csv::WriterBuilder::new().terminator(::csv::Terminator::CRLF).from_writer(Vec::new());
    w.write_record(batch.schema().fields().iter().map(|f| f.name().as_str()))?;
    for row in 0..batch.num_rows() {
        let rec: Vec<String> = batch
            .columns()
            .iter()
            .map(|c| {
                if c.is_null(row) {
                    String::new()
                } else {
                    arrow::util::display::array_value_to_string(c, row).unwrap_or_default()
                }
            })
            .collect();
        w.write_record(&rec)?;
    }
    w.flush().map_err(::csv::Error::from)?;
    Ok(w.into_inner().map_err(|e| ::csv::Error::from(e.into_error()))?)
}

use arrow::array::Array;

/// Every file of a cycle, in a stable order: all members × datasets × years,
/// then (with `realistic_mess`) corrections and invalid submissions.
pub fn generate(contract: &Contract, cfg: &SynthConfig) -> Result<Vec<SynthFile>> {
    let (schemas, registry) = (contract.schemas(), contract.registry());
    let mut out = Vec::new();
    let members: Vec<&str> = registry.reporting_members().map(|m| m.code.as_str()).collect();
    for &year in cfg.years.clone().collect::<Vec<_>>().iter() {
        for (mi, member) in members.iter().enumerate() {
            for dataset in schemas.names() {
                // A few members never report some datasets, and a few miss a year.
                if cfg.realistic_mess
                    && ((mi * 7 + dataset.len() + year as usize).is_multiple_of(23) || (*member == "PRK"))
                {
                    continue;
                }
                let batch = return_batch(contract, cfg.seed, member, dataset, year, cfg.scale)?;
                let use_csv = cfg.realistic_mess && (mi + year as usize).is_multiple_of(6);
                let (name, bytes) = if use_csv {
                    (format!("{dataset}_{year}.csv"), csv(&batch)?)
                } else {
                    (format!("{dataset}_{year}.parquet"), parquet(&batch)?)
                };
                out.push(SynthFile {
                    member: member.to_string(),
                    dataset: dataset.to_string(),
                    year,
                    name,
                    bytes,
                    valid: true,
                    note: if use_csv { "return saved from a spreadsheet as CSV" } else { "return" },
                });
            }
        }
    }
    if cfg.realistic_mess {
        let again = mess(contract, cfg, &out)?;
        out.extend(again);
    }
    Ok(out)
}

/// Corrections and invalid submissions for the last year of the cycle.
fn mess(contract: &Contract, cfg: &SynthConfig, cycle: &[SynthFile]) -> Result<Vec<SynthFile>> {
    let year = *cfg.years.end();
    let mut out = Vec::new();
    let file = |member: &str, dataset: &str, name: String, bytes: Vec<u8>, valid, note| SynthFile {
        member: member.into(),
        dataset: dataset.into(),
        year,
        name,
        bytes,
        valid,
        note,
    };
    // A correction: Australia resubmits its maritime return with one more movement.
    let mut b = return_batch(contract, cfg.seed, "AUS", "maritime_movements", year, cfg.scale * 1.02)?;
    if b.num_rows() == 0 {
        b = return_batch(contract, cfg.seed, "AUS", "maritime_movements", year, 1.0)?;
    }
    out.push(file(
        "AUS",
        "maritime_movements",
        format!("maritime_movements_{year}_corrected.parquet"),
        parquet(&b)?,
        true,
        "a corrected resubmission",
    ));
    // The same file sent twice: one version only.
    if let Some(first) = cycle.iter().find(|f| f.member == "NZL" && f.dataset == "legal_framework" && f.year == year) {
        out.push(SynthFile { note: "the same file sent twice", ..first.clone() });
    }
    // Invalid: a wrong outcome code and deaths exceeding persons on board.
    let base = csv(&return_batch(contract, cfg.seed, "MYS", "maritime_movements", year, cfg.scale)?)?;
    let text = String::from_utf8(base).expect("csv is utf-8");
    let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    if lines.len() > 3 {
        lines[1] = lines[1].replace(",landed,", ",landed_ashore,").replace(",intercepted_at_sea,", ",intercepted,");
        let mut f: Vec<String> = lines[2].split(',').map(str::to_string).collect();
        if f.len() == 10 {
            f[8] = "999".into();
            lines[2] = f.join(",");
        }
    }
    out.push(file(
        "MYS",
        "maritime_movements",
        format!("maritime_{year}_draft.csv"),
        lines.join("\r\n").into_bytes(),
        false,
        "a draft with a wrong outcome code and impossible deaths",
    ));
    // Invalid: Thailand's inbox receives a return that names Viet Nam.
    let other = parquet(&return_batch(contract, cfg.seed, "VNM", "enforcement_cases", year, cfg.scale)?)?;
    out.push(file(
        "THA",
        "enforcement_cases",
        format!("enforcement_cases_{year}.parquet"),
        other,
        false,
        "a return naming another member",
    ));
    // Invalid: dates written day/month/year in a spreadsheet.
    let v = csv(&return_batch(contract, cfg.seed, "PHL", "trafficking_victims", year, cfg.scale)?)?;
    let v = String::from_utf8(v).expect("utf-8");
    let reformatted: String = v
        .split("\r\n")
        .map(|l| {
            let mut f: Vec<String> = l.split(',').map(str::to_string).collect();
            if f.len() > 3 && f[3].len() == 10 && f[3].as_bytes()[4] == b'-' {
                let (y, m, d) = (&f[3][0..4], &f[3][5..7], &f[3][8..10]);
                f[3] = format!("{}/{}/{y}", d.trim_start_matches('0'), m.trim_start_matches('0'));
            }
            f.join(",")
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    out.push(file(
        "PHL",
        "trafficking_victims",
        format!("victims_{year}.csv"),
        reformatted.into_bytes(),
        false,
        "dates typed as day/month/year",
    ));
    // Invalid: not a Parquet file at all.
    out.push(file(
        "FJI",
        "legal_framework",
        format!("legal_framework_{year}.parquet"),
        b"PK\x03\x04 this is a spreadsheet, not Parquet".to_vec(),
        false,
        "an Excel workbook renamed to .parquet",
    ));
    Ok(out)
}
