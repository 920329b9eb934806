//! The read side of the lake: the current accepted version of every slot and
//! the completeness board (member × dataset) for a year.

use std::collections::BTreeMap;

use fedreport_contract::{Registry, Schemas};

use crate::error::Result;
use crate::lake::Lake;
use crate::layout::{self, VersionInfo};
use crate::receipt::{self, Status};

/// The newest accepted version of every (dataset, year, member) slot, in
/// (dataset, year, member) order, from a listing of `accepted/`. Years
/// after `up_to` are left out. (Readers ask [`crate::ledger::current_versions`],
/// which lists only a lake whose intake ledger has no entry yet.)
pub async fn listed_versions(lake: &Lake, up_to: Option<i32>) -> Result<Vec<VersionInfo>> {
    let mut current: BTreeMap<(String, i32, String), VersionInfo> = BTreeMap::new();
    for m in lake.list_wide(layout::ACCEPTED).await? {
        let Some(v) = VersionInfo::from_key(&lake.rel(&m.location), m.size) else { continue };
        if up_to.is_some_and(|y| v.year > y) {
            continue;
        }
        let slot = (v.dataset.clone(), v.year, v.member.clone());
        if current.get(&slot).is_none_or(|c| c.version < v.version) {
            current.insert(slot, v);
        }
    }
    Ok(current.into_values().collect())
}

/// State of one board cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellState {
    /// The current version; `late` when it arrived after the deadline;
    /// with the secretariat's review of it.
    Accepted {
        version: u32,
        late: bool,
        review: crate::cycle::Review,
    },
    Rejected,
    /// Its returns were withdrawn ([`crate::ledger::withdraw_member`]) and none arrived since.
    Withdrawn,
    Missing,
}

/// Completeness board for one year.
#[derive(Debug, Clone)]
pub struct Board {
    pub year: i32,
    /// The submission deadline the cells are judged against, if known.
    pub deadline: Option<chrono::DateTime<chrono::Utc>>,
    pub datasets: Vec<String>,
    /// (member code, member name, cells in dataset order)
    pub rows: Vec<(String, String, Vec<CellState>)>,
}

impl Board {
    /// Build the board from the lake; with a deadline, accepted versions
    /// received after it are marked late.
    pub async fn build(
        lake: &Lake,
        registry: &Registry,
        schemas: &Schemas,
        year: i32,
        deadline: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Board> {
        let datasets: Vec<String> = schemas.names().map(str::to_string).collect();
        let decided = crate::ledger::decided(lake, Some(year), true, false).await?;
        let (withdrawn, versions) = (decided.withdrawn_in(year), decided.versions);
        let events = crate::audit::read(lake).await?;
        let mut accepted: BTreeMap<(String, String), u32> = BTreeMap::new();
        for v in versions.into_iter().filter(|v| v.year == year) {
            accepted.insert((v.member, v.dataset), v.version);
        }
        let mut rejected = std::collections::HashSet::new();
        // when each accepted version arrived, from its receipts
        let mut received: BTreeMap<(String, String, u32), String> = BTreeMap::new();
        for r in receipt::list(lake, None).await? {
            let (Some(d), true) = (r.dataset.clone(), r.year == Some(year)) else { continue };
            match (r.status, r.version) {
                (Status::Rejected, _) => {
                    rejected.insert((r.member, d));
                }
                (Status::Accepted, Some(v)) if !r.duplicate => {
                    received.insert((r.member, d, v), r.received_at);
                }
                _ => {}
            }
        }
        let late = |member: &str, dataset: &str, version: u32| -> bool {
            let Some(deadline) = deadline else { return false };
            received
                .get(&(member.to_string(), dataset.to_string(), version))
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_some_and(|t| t > deadline)
        };
        let rows = registry
            .reporting_members()
            .map(|m| {
                let cells = datasets
                    .iter()
                    .map(|d| {
                        let k = (m.code.clone(), d.clone());
                        match accepted.get(&k) {
                            Some(&version) => CellState::Accepted {
                                version,
                                late: late(&m.code, d, version),
                                review: crate::cycle::review(&events, &m.code, d, year, version),
                            },
                            None if withdrawn.contains(&k) => CellState::Withdrawn,
                            None if rejected.contains(&k) => CellState::Rejected,
                            None => CellState::Missing,
                        }
                    })
                    .collect();
                (m.code.clone(), m.name.clone(), cells)
            })
            .collect();
        Ok(Board { year, deadline, datasets, rows })
    }

    /// Cells in a state, over the whole board.
    pub fn count(&self, pred: impl Fn(&CellState) -> bool) -> usize {
        self.rows.iter().flat_map(|r| r.2.iter()).filter(|c| pred(c)).count()
    }

    /// The board as a terminal table.
    pub fn to_text(&self) -> String {
        let short: Vec<String> = self
            .datasets
            .iter()
            .map(|d| d.split('_').map(|w| w.chars().next().unwrap_or('?')).collect::<String>())
            .collect();
        let mut out = format!(
            "Reporting completeness {} — v<n>: accepted version{}, ✓ approved, ↩ sent back, REJ: rejected only, WDN: withdrawn, ·: missing\n",
            self.year,
            match self.deadline {
                Some(d) => format!(" (* after the deadline, {})", d.format("%Y-%m-%d %H:%M UTC")),
                None => String::new(),
            }
        );
        out.push_str(&format!("{:<5} {:<40}", "code", "member"));
        for s in &short {
            out.push_str(&format!(" {s:>5}"));
        }
        out.push('\n');
        for (code, name, cells) in &self.rows {
            let name: String = name.chars().take(40).collect();
            out.push_str(&format!("{code:<5} {name:<40}"));
            for c in cells {
                let s = match c {
                    CellState::Accepted { version, late, review } => format!(
                        "v{version}{}{}",
                        if *late { "*" } else { "" },
                        match review {
                            crate::cycle::Review::Approved(_) => "✓",
                            crate::cycle::Review::SentBack(_) => "↩",
                            _ => "",
                        }
                    ),
                    CellState::Rejected => "REJ".into(),
                    CellState::Withdrawn => "WDN".into(),
                    CellState::Missing => "·".into(),
                };
                out.push_str(&format!(" {s:>5}"));
            }
            out.push('\n');
        }
        out.push_str("legend: ");
        out.push_str(
            &self.datasets.iter().zip(&short).map(|(d, s)| format!("{s} = {d}")).collect::<Vec<_>>().join(", "),
        );
        let total = self.rows.len() * self.datasets.len();
        let acc = self.count(|c| matches!(c, CellState::Accepted { .. }));
        let rej = self.count(|c| matches!(c, CellState::Rejected));
        let approved =
            self.count(|c| matches!(c, CellState::Accepted { review: crate::cycle::Review::Approved(_), .. }));
        let sent_back =
            self.count(|c| matches!(c, CellState::Accepted { review: crate::cycle::Review::SentBack(_), .. }));
        let late = self.count(|c| matches!(c, CellState::Accepted { late: true, .. }));
        let wdn = self.count(|c| matches!(c, CellState::Withdrawn));
        out.push_str(&format!(
            "\n{acc} of {total} returns accepted ({:.0} per cent; {late} late, {approved} approved, {sent_back} sent back), {rej} rejected only, {}{} missing\n",
            100.0 * acc as f64 / total.max(1) as f64,
            if wdn > 0 { format!("{wdn} withdrawn, ") } else { String::new() },
            total - acc - rej - wdn
        ));
        out
    }
}
