//! The meeting file: what the secretariat knows about a meeting that is not
//! in the data (forum, ordinal, venue, date, co-chairs, earlier meetings to
//! recall, membership changes, agenda). TOML; see `meetings/` and docs/briefs.md.

use chrono::{Datelike, NaiveDate};
use fedreport_contract::Registry;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{RenderError, Result};
use crate::filters::{date_words, join_and, ordinal_words};

/// A TOML date (`2013-04-01`, unquoted) as a calendar date.
fn toml_date<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<NaiveDate, D::Error> {
    let v = toml::value::Datetime::deserialize(d)?;
    match v.date {
        Some(date) if v.time.is_none() => NaiveDate::from_ymd_opt(date.year as i32, date.month as u32, date.day as u32)
            .ok_or_else(|| serde::de::Error::custom(format!("{v} is not a calendar date"))),
        _ => Err(serde::de::Error::custom(format!("{v} must be a date like 2013-04-01, without a time"))),
    }
}

/// An earlier meeting to recall.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Recall {
    pub what: String,
    pub venue: Option<String>,
    #[serde(deserialize_with = "toml_date")]
    pub date: NaiveDate,
    pub outcome: Option<String>,
}

/// An application to join.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub applicant: String,
    pub endorsed_by: Option<String>,
    /// `endorsed`, `pending` or `declined`.
    pub decision: String,
}

/// Membership changes since the last meeting.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Membership {
    pub group: Option<String>,
    #[serde(default)]
    pub group_expanded_with: Vec<String>,
    pub group_expanded_by: Option<String>,
    #[serde(default)]
    pub new_members: Vec<String>,
    #[serde(default)]
    pub applications: Vec<Application>,
}

/// One agenda item: a recommendation to endorse or a report to note.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgendaItem {
    /// `recommendation` or `report`.
    pub kind: String,
    pub title: String,
    pub from: Option<String>,
    #[serde(default)]
    pub presented_by: Vec<String>,
    pub text: String,
}

/// A meeting file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Meeting {
    pub forum: String,
    pub forum_short: String,
    pub meeting: String,
    pub ordinal: u32,
    pub venue: String,
    #[serde(deserialize_with = "toml_date")]
    pub date: NaiveDate,
    pub co_chairs: Vec<String>,
    pub reference_year: i32,
    pub submission_deadline: Option<toml::value::Datetime>,
    #[serde(default)]
    pub recall: Vec<Recall>,
    #[serde(default)]
    pub membership: Membership,
    #[serde(default)]
    pub agenda: Vec<AgendaItem>,
}

impl Meeting {
    /// Parse and check a meeting file; member codes are checked against `reg`.
    pub fn parse(file: &str, text: &str, reg: &Registry) -> Result<Meeting> {
        let err = |message: String| RenderError::Meeting { file: file.to_string(), message };
        let m: Meeting = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let known = |code: &str| reg.member(code).is_some();
        if m.ordinal == 0 {
            return Err(err("ordinal must be 1 or more (the fifth meeting is ordinal = 5)".into()));
        }
        if m.co_chairs.is_empty() {
            return Err(err("co_chairs must name at least one member code".into()));
        }
        for (field, codes) in [
            ("co_chairs", &m.co_chairs),
            ("membership.group_expanded_with", &m.membership.group_expanded_with),
            ("membership.new_members", &m.membership.new_members),
        ] {
            for c in codes {
                if !known(c) {
                    return Err(err(format!("{field}: '{c}' is not a member code of the forum's registry")));
                }
            }
        }
        for (i, a) in m.agenda.iter().enumerate() {
            if !matches!(a.kind.as_str(), "recommendation" | "report") {
                return Err(err(format!(
                    "agenda item {} ({}): kind must be recommendation or report, not '{}'",
                    i + 1,
                    a.title,
                    a.kind
                )));
            }
            for c in &a.presented_by {
                if !known(c) {
                    return Err(err(format!(
                        "agenda item {} ({}): presented_by '{c}' is not a member code",
                        i + 1,
                        a.title
                    )));
                }
            }
        }
        for a in &m.membership.applications {
            if !matches!(a.decision.as_str(), "endorsed" | "pending" | "declined") {
                return Err(err(format!(
                    "application of {}: decision must be endorsed, pending or declined",
                    a.applicant
                )));
            }
        }
        if m.reference_year > m.date.year() {
            return Err(err(format!("reference_year {} is after the meeting date {}", m.reference_year, m.date)));
        }
        Ok(m)
    }

    /// Read a meeting file from disk.
    pub fn load(path: &std::path::Path, reg: &Registry) -> Result<Meeting> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| RenderError::Io { path: path.display().to_string(), source })?;
        Meeting::parse(&path.display().to_string(), &text, reg)
    }

    /// The view templates see: the file plus words made from it (member names from `reg`).
    pub fn view(&self, reg: &Registry) -> MeetingView {
        let name = |c: &String| reg.member(c).map(|m| m.name.clone()).unwrap_or_else(|| c.clone());
        let names = |v: &[String]| v.iter().map(name).collect::<Vec<_>>();
        MeetingView {
            file: self.clone(),
            ordinal_words: ordinal_words(self.ordinal),
            date_words: date_words(self.date),
            co_chair_names: join_and(&names(&self.co_chairs)),
            group_expanded_with_names: join_and(&names(&self.membership.group_expanded_with)),
            new_member_names: join_and(&names(&self.membership.new_members)),
            recall: self
                .recall
                .iter()
                .map(|r| RecallView { date_words: date_words(r.date), item: r.clone() })
                .collect(),
            agenda: self
                .agenda
                .iter()
                .map(|a| AgendaView { presenters: join_and(&names(&a.presented_by)), item: a.clone() })
                .collect(),
        }
    }
}

/// A recalled meeting with its date in words.
#[derive(Debug, Clone, Serialize)]
pub struct RecallView {
    pub item: Recall,
    pub date_words: String,
}

/// An agenda item with its presenters' names.
#[derive(Debug, Clone, Serialize)]
pub struct AgendaView {
    pub item: AgendaItem,
    pub presenters: String,
}

/// The meeting as templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct MeetingView {
    pub file: Meeting,
    pub ordinal_words: String,
    pub date_words: String,
    pub co_chair_names: String,
    pub group_expanded_with_names: String,
    pub new_member_names: String,
    pub recall: Vec<RecallView>,
    pub agenda: Vec<AgendaView>,
}
