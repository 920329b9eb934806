//! The member registry (a forum's `members.csv`: code, name, kind,
//! sub-region) and the ISO 3166-1 alpha-3 code list. The Bali Process
//! registry ships in `reference/`; a forum folder can bring its own.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::error::{ContractError, Result};

/// What kind of participant a registry entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberKind {
    State,
    Territory,
    Organisation,
}

impl MemberKind {
    /// States and territories report; organisations do not.
    pub fn reports(self) -> bool {
        matches!(self, MemberKind::State | MemberKind::Territory)
    }
}

/// One entry of the registry.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub code: String,
    pub name: String,
    pub kind: MemberKind,
    pub subregion: Option<String>,
}

/// Members and code lists.
#[derive(Debug, Clone)]
pub struct Registry {
    members: BTreeMap<String, Member>,
    iso3: HashSet<String>,
    /// One bit per upper-case three-letter code (26³), for fast checks.
    iso3_bits: Vec<u64>,
}

fn iso3_index(code: &str) -> Option<usize> {
    let b = code.as_bytes();
    (b.len() == 3 && b.iter().all(u8::is_ascii_uppercase))
        .then(|| (b[0] - b'A') as usize * 676 + (b[1] - b'A') as usize * 26 + (b[2] - b'A') as usize)
}

impl Registry {
    /// Parse a members CSV (`code,name,kind,subregion`) and an ISO3 list.
    pub fn parse(members_csv: &str, iso3_txt: &str) -> Result<Registry> {
        let err = |message: String| ContractError::Reference { file: "members.csv".into(), message };
        let mut reader = csv::Reader::from_reader(members_csv.as_bytes());
        let mut members = BTreeMap::new();
        for (i, rec) in reader.records().enumerate() {
            let rec = rec.map_err(|e| err(e.to_string()))?;
            let field = |n: usize| rec.get(n).unwrap_or("").trim().to_string();
            let kind = match field(2).as_str() {
                "state" => MemberKind::State,
                "territory" => MemberKind::Territory,
                "organisation" => MemberKind::Organisation,
                other => return Err(err(format!("row {}: unknown kind '{other}'", i + 1))),
            };
            let sub = field(3);
            let m = Member { code: field(0), name: field(1), kind, subregion: (!sub.is_empty()).then_some(sub) };
            if members.insert(m.code.clone(), m).is_some() {
                return Err(err(format!("row {}: duplicate code", i + 1)));
            }
        }
        let iso3: HashSet<String> =
            iso3_txt.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
        let mut iso3_bits = vec![0u64; 26 * 26 * 26 / 64 + 1];
        for code in iso3.iter().map(String::as_str).chain(["UNK"]) {
            if let Some(i) = iso3_index(code) {
                iso3_bits[i / 64] |= 1 << (i % 64);
            }
        }
        Ok(Registry { members, iso3, iso3_bits })
    }

    /// A registry entry by code.
    pub fn member(&self, code: &str) -> Option<&Member> {
        self.members.get(code)
    }

    /// All entries in code order.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    /// States and territories (those expected to report), in code order.
    pub fn reporting_members(&self) -> impl Iterator<Item = &Member> {
        self.members.values().filter(|m| m.kind.reports())
    }

    /// Whether `code` is a state or territory of the registry.
    pub fn is_reporting_member(&self, code: &str) -> bool {
        self.member(code).is_some_and(|m| m.kind.reports())
    }

    /// Whether `code` is an ISO 3166-1 alpha-3 code or `UNK`.
    pub fn is_iso3(&self, code: &str) -> bool {
        iso3_index(code).is_some_and(|i| self.iso3_bits[i / 64] & (1 << (i % 64)) != 0)
    }

    /// The ISO3 codes, sorted (for did-you-mean).
    pub fn iso3_codes(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.iso3.iter().map(String::as_str).collect();
        v.push("UNK");
        v.sort_unstable();
        v
    }
}
