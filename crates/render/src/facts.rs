//! The facts a draft states, with the explicit rules that choose its words.
//! Every figure comes from a table of the run; where the data is missing the
//! fact is `None` and the templates leave the sentence out or write a
//! drafting note, never a zero or an invented trend.

use serde::Serialize;
use serde_json::Value;

use fedreport_contract::Registry;

use crate::error::Result;
use crate::filters::{join_and, per_cent, thousands};
use crate::run::RunData;
use crate::words::Words;

/// How sea movements changed, as words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    /// `unprecedented`, `increased`, `decreased` or `stable`.
    pub kind: String,
    /// The sentence fragment, e.g. "increased by 81.3 per cent on 2011".
    pub words: String,
}

/// The rule for the sea-movement trend:
/// - `unprecedented` only when `maritime_regional.unprecedented` is true;
/// - otherwise, with a change figure: within ±1 per cent "remained broadly
///   stable", else "increased/decreased by N per cent" on the previous year;
/// - without a change figure (no previous year, or it had no persons): no
///   trend at all (`None`).
pub fn sea_trend(change_pct: Option<f64>, unprecedented: bool, previous_year: i64) -> Option<Trend> {
    if unprecedented {
        let words = match change_pct {
            Some(c) => format!("reached an unprecedented level, {} higher than in {previous_year}", per_cent(c.abs())),
            None => "reached an unprecedented level".to_string(),
        };
        return Some(Trend { kind: "unprecedented".into(), words });
    }
    let c = change_pct?;
    Some(if c.abs() < 1.0 {
        Trend { kind: "stable".into(), words: format!("remained broadly stable compared with {previous_year}") }
    } else if c > 0.0 {
        Trend { kind: "increased".into(), words: format!("increased by {} on {previous_year}", per_cent(c)) }
    } else {
        Trend { kind: "decreased".into(), words: format!("decreased by {} on {previous_year}", per_cent(-c)) }
    })
}

/// Irregular movements by sea in the reference year.
#[derive(Debug, Clone, Serialize)]
pub struct Sea {
    pub persons: String,
    pub movements: String,
    pub dead_or_missing: String,
    pub reporting_members: i64,
    pub mortality_per_1000: Option<f64>,
    pub trend: Option<Trend>,
}

/// Law enforcement cooperation in the reference year.
#[derive(Debug, Clone, Serialize)]
pub struct Enforcement {
    pub smuggling_cases: String,
    pub trafficking_cases: String,
    pub convictions: String,
    pub cross_border_share: Option<String>,
    pub cooperation_links: i64,
}

/// Criminalisation in the reference year.
#[derive(Debug, Clone, Serialize)]
pub struct Criminalisation {
    pub reporting_members: i64,
    pub smuggling_full: i64,
    pub trafficking_full: i64,
    pub not_full: i64,
    /// Change in members fully criminalising smuggling since the previous year, when known.
    pub smuggling_full_change: Option<i64>,
}

/// Trafficking victims in the reference year (regional, unsuppressed totals).
#[derive(Debug, Clone, Serialize)]
pub struct Victims {
    pub identified: String,
    pub children: String,
    /// The one or two most common forms of exploitation, in words ("sexual
    /// exploitation and forced labour").
    pub main_forms: String,
    /// How many forms `main_forms` names (0, 1 or 2).
    pub main_forms_count: usize,
}

/// One of the most requested capacity needs.
#[derive(Debug, Clone, Serialize)]
pub struct Need {
    pub area: String,
    pub members_requesting: i64,
    pub provider: Option<String>,
}

/// Reporting completeness in the reference year.
#[derive(Debug, Clone, Serialize)]
pub struct Completeness {
    pub expected: i64,
    pub accepted: i64,
    pub on_time: i64,
    pub late: i64,
    pub missing_members: Vec<String>,
}

/// One sub-region of the registry in the reference year.
#[derive(Debug, Clone, Serialize)]
pub struct SubRegion {
    pub name: String,
    pub members: i64,
    pub expected: i64,
    pub accepted: i64,
    pub persons: i64,
    pub cases: i64,
}

/// Everything the drafts state.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    pub year: i64,
    pub sea: Option<Sea>,
    pub enforcement: Option<Enforcement>,
    pub criminalisation: Option<Criminalisation>,
    pub victims: Option<Victims>,
    pub needs: Vec<Need>,
    pub completeness: Completeness,
    pub subregions: Vec<SubRegion>,
    /// Notes for the secretariat where data is missing.
    pub drafting_notes: Vec<String>,
    /// Data caveats for the annex: quality flags, suppressed cells, missing members.
    pub caveats: Vec<String>,
    pub key_messages: Vec<String>,
    /// What the briefing's "about the data" box says.
    pub about: About,
}

/// The figures behind the briefing's "about the data" box.
#[derive(Debug, Clone, Serialize)]
pub struct About {
    /// Quality flags raised on the cycle year's returns.
    pub quality_flags: usize,
    /// Members whose victim figures for the cycle year are partly or wholly hidden.
    pub hidden_members: usize,
    /// The disclosure threshold, when victim counts are protected.
    pub disclosure_k: Option<i64>,
    /// Warnings of the run.
    pub warnings: usize,
}

impl Facts {
    /// Work out the facts of a run; `words` gives codes in words and the
    /// registry's members and sub-regions.
    pub fn from_run(run: &RunData, registry: &Registry, words: &Words) -> Result<Facts> {
        let y = run.year();
        let year = Value::from(y);
        let mut notes = Vec::new();

        let mr = run.table("maritime_regional");
        // A figure the table does not have (null) leaves the whole paragraph out.
        let sea = mr.filter("reference_year", &year).next().and_then(|r| {
            Some(Sea {
                persons: thousands(mr.int(r, "persons")?),
                movements: thousands(mr.int(r, "movements")?),
                dead_or_missing: thousands(mr.int(r, "dead_or_missing")?),
                reporting_members: mr.int(r, "reporting_members")?,
                mortality_per_1000: mr.float(r, "mortality_per_1000"),
                trend: sea_trend(
                    mr.float(r, "persons_change_pct"),
                    mr.get(r, "unprecedented").and_then(Value::as_bool) == Some(true),
                    y - 1,
                ),
            })
        });
        match &sea {
            None => notes.push(format!(
                "No member reported maritime movements for {y}: the paragraph on movements by sea is left out."
            )),
            Some(s) if s.trend.is_none() => notes
                .push(format!("There are no comparable figures for {}: no trend in sea movements is stated.", y - 1)),
            _ => {}
        }

        let er = run.table("enforcement_regional");
        let rows: Vec<_> = er.filter("reference_year", &year).collect();
        let enforcement = (!rows.is_empty()).then(|| {
            let by = |offence: &str, col: &str| {
                rows.iter()
                    .filter(|r| er.text(r, "offence") == Some(offence))
                    .filter_map(|r| er.int(r, col))
                    .sum::<i64>()
            };
            let cases: i64 = rows.iter().filter_map(|r| er.int(r, "cases")).sum();
            let cross: i64 = rows.iter().filter_map(|r| er.int(r, "cross_border_cases")).sum();
            let links = run.table("cooperation_links");
            Enforcement {
                smuggling_cases: thousands(by("migrant_smuggling", "cases")),
                trafficking_cases: thousands(by("trafficking_in_persons", "cases")),
                convictions: thousands(rows.iter().filter_map(|r| er.int(r, "convictions")).sum()),
                cross_border_share: (cases > 0).then(|| per_cent(100.0 * cross as f64 / cases as f64)),
                cooperation_links: links.filter("reference_year", &year).count() as i64,
            }
        });
        if enforcement.is_none() {
            notes.push(format!("No member reported enforcement cases for {y}: the paragraph on law enforcement cooperation is left out."));
        }

        let lf = run.table("legal_framework_summary");
        let criminalisation = lf.filter("reference_year", &year).next().and_then(|r| {
            let n = lf.int(r, "reporting_members")?;
            let sf = lf.int(r, "smuggling_full")?;
            let tf = lf.int(r, "trafficking_full")?;
            let prev =
                lf.filter("reference_year", &Value::from(y - 1)).next().and_then(|p| lf.int(p, "smuggling_full"));
            Some(Criminalisation {
                reporting_members: n,
                smuggling_full: sf,
                trafficking_full: tf,
                not_full: n - sf.min(tf),
                smuggling_full_change: prev.map(|p| sf - p),
            })
        });
        if criminalisation.is_none() {
            notes.push(format!(
                "No member reported its legal framework for {y}: the paragraph on criminalisation is left out."
            ));
        }

        let vr = run.table("victims_regional");
        let vrows: Vec<_> = vr.filter("reference_year", &year).collect();
        let victims = (!vrows.is_empty()).then(|| {
            let total: i64 = vrows.iter().filter_map(|r| vr.int(r, "victims")).sum();
            let children: i64 = vrows
                .iter()
                .filter(|r| vr.text(r, "age_group") == Some("child"))
                .filter_map(|r| vr.int(r, "victims"))
                .sum();
            let mut forms: std::collections::BTreeMap<String, i64> = Default::default();
            for r in &vrows {
                if let (Some(form), Some(n)) = (vr.text(r, "exploitation"), vr.int(r, "victims")) {
                    *forms.entry(form.to_string()).or_default() += n;
                }
            }
            let mut forms: Vec<(String, i64)> =
                forms.into_iter().filter(|(f, _)| f != "unknown" && f != "other").collect();
            forms.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let main: Vec<String> = forms.iter().take(2).map(|(f, _)| words.value("exploitation", f)).collect();
            Victims {
                identified: thousands(total),
                children: thousands(children),
                main_forms: join_and(&main),
                main_forms_count: main.len(),
            }
        });
        if victims.is_none() {
            notes.push(format!(
                "No member reported identified trafficking victims for {y}: the sentence on victims is left out."
            ));
        }

        let cn = run.table("capacity_needs_ranked");
        let mut ranked: Vec<_> = cn.filter("reference_year", &year).collect();
        ranked.sort_by_key(|r| cn.int(r, "rank").unwrap_or(i64::MAX));
        let needs: Vec<Need> = ranked
            .iter()
            .filter_map(|r| {
                Some(Need {
                    area: words.value("area", cn.text(r, "area")?),
                    members_requesting: cn.int(r, "members_requesting")?,
                    provider: cn.text(r, "top_provider").map(str::to_string),
                })
            })
            .take(3)
            .collect();
        if needs.is_empty() {
            notes.push(format!(
                "No member reported capacity needs for {y}: the paragraph on capacity needs is left out."
            ));
        }

        let c = run.table("completeness");
        let crow: Vec<_> = c.filter("reference_year", &year).collect();
        let accepted = crow.iter().filter(|r| c.text(r, "status") == Some("accepted")).count() as i64;
        let on_time = crow.iter().filter(|r| c.get(r, "on_time").and_then(Value::as_bool) == Some(true)).count() as i64;
        let mut missing_members: Vec<String> = Vec::new();
        for r in &crow {
            if c.text(r, "status") != Some("accepted") {
                let m = c.text(r, "reporting_member").unwrap_or_default().to_string();
                if !missing_members.contains(&m) {
                    missing_members.push(m);
                }
            }
        }
        let completeness =
            Completeness { expected: crow.len() as i64, accepted, on_time, late: accepted - on_time, missing_members };

        // Sub-regions of the registry: members, returns, persons by sea, cases.
        let mut subregions: std::collections::BTreeMap<String, SubRegion> = Default::default();
        for m in registry.reporting_members() {
            let name = m.subregion.clone().unwrap_or_else(|| "other".into());
            let e = subregions.entry(name.clone()).or_insert(SubRegion {
                name,
                members: 0,
                expected: 0,
                accepted: 0,
                persons: 0,
                cases: 0,
            });
            e.members += 1;
            let code = Value::from(m.code.as_str());
            for r in crow.iter().filter(|r| c.get(r, "reporting_member") == Some(&code)) {
                e.expected += 1;
                if c.text(r, "status") == Some("accepted") {
                    e.accepted += 1;
                }
            }
            let mb = run.table("maritime_by_member");
            e.persons += mb
                .filter("reference_year", &year)
                .filter(|r| mb.get(r, "reporting_member") == Some(&code))
                .filter_map(|r| mb.int(r, "persons"))
                .sum::<i64>();
            let eb = run.table("enforcement_by_member");
            e.cases += eb
                .filter("reference_year", &year)
                .filter(|r| eb.get(r, "reporting_member") == Some(&code))
                .filter_map(|r| eb.int(r, "cases"))
                .sum::<i64>();
        }
        let subregions: Vec<SubRegion> = subregions.into_values().collect();

        let mut caveats = Vec::new();
        let qf = run.table("quality_flags");
        let quality_flags = qf.filter("reference_year", &year).count();
        for r in qf.filter("reference_year", &year) {
            caveats.push(format!(
                "{} {} ({}): {}",
                qf.text(r, "reporting_member").unwrap_or_default(),
                qf.text(r, "dataset").unwrap_or_default().replace('_', " "),
                qf.text(r, "code").unwrap_or_default(),
                qf.text(r, "message").unwrap_or_default()
            ));
        }
        let vb = run.table("victims_by_member");
        let hidden = vb
            .filter("reference_year", &year)
            .filter(|r| vb.get(r, "suppressed").and_then(Value::as_bool) == Some(true))
            .count();
        if let Some(d) = run.manifest.disclosure_of("victims_by_member")
            && hidden > 0
        {
            caveats.push(format!(
                "{hidden} members' victim figures for {y} are partly or wholly suppressed to protect victims (counts below {} and the cells that would reveal them).",
                d.k
            ));
        }
        caveats.extend(run.manifest.warnings.iter().cloned());
        let about = About {
            quality_flags,
            hidden_members: hidden,
            disclosure_k: run.manifest.disclosure_of("victims_by_member").map(|d| d.k),
            warnings: run.manifest.warnings.len(),
        };

        let mut key_messages = Vec::new();
        if let Some(s) = &sea {
            match &s.trend {
                Some(t) => {
                    key_messages.push(format!("Irregular movements by sea {} ({} persons in {y}).", t.words, s.persons))
                }
                None => key_messages.push(format!("{} persons moved irregularly by sea in {y}.", s.persons)),
            }
            key_messages.push(format!("{} persons were reported dead or missing at sea in {y}.", s.dead_or_missing));
        }
        if let Some(c) = &criminalisation
            && c.not_full > 0
        {
            key_messages.push(format!(
                "{} of {} reporting members do not yet fully criminalise both people smuggling and trafficking in persons.",
                c.not_full, c.reporting_members
            ));
        }
        if let Some(n) = needs.first() {
            key_messages.push(format!(
                "Members most often asked for support in {} ({} members).",
                n.area, n.members_requesting
            ));
        }
        key_messages.push(format!(
            "{} of {} expected returns for {y} were accepted, {} of them on time.",
            completeness.accepted, completeness.expected, completeness.on_time
        ));
        key_messages.truncate(5);
        Ok(Facts {
            year: y,
            sea,
            enforcement,
            criminalisation,
            victims,
            needs,
            completeness,
            subregions,
            drafting_notes: notes,
            caveats,
            key_messages,
            about,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trend_words_at_their_boundaries() {
        assert_eq!(sea_trend(Some(81.25), true, 2011).unwrap().kind, "unprecedented");
        assert_eq!(sea_trend(Some(81.25), false, 2011).unwrap().words, "increased by 81.3 per cent on 2011");
        assert_eq!(sea_trend(Some(-12.0), false, 2011).unwrap().words, "decreased by 12 per cent on 2011");
        assert_eq!(sea_trend(Some(0.99), false, 2011).unwrap().kind, "stable");
        assert_eq!(sea_trend(Some(1.0), false, 2011).unwrap().kind, "increased");
        assert_eq!(sea_trend(Some(-1.0), false, 2011).unwrap().kind, "decreased");
        assert_eq!(sea_trend(None, false, 2011), None, "no previous year: no trend");
        assert_eq!(sea_trend(None, true, 2011).unwrap().kind, "unprecedented");
        assert_ne!(sea_trend(Some(300.0), false, 2011).unwrap().kind, "unprecedented", "never without the flag");
    }
}
