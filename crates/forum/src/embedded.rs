//! The Bali Process forum inside the binary: the repository's `forum.toml`
//! and every file it names, so `fedreport` works anywhere without a forum
//! folder. The test `the_shipped_forum_is_the_repository_folder` checks this
//! list against the files on disk.

use crate::{Files, ForumError, Result};

/// The ISO 3166-1 alpha-3 list shipped with fedreport (a forum may bring its own).
pub(crate) const ISO3: &str = include_str!("../../../reference/iso3166-1-alpha3.txt");

/// (path relative to the repository root, text).
pub(crate) const FILES: &[(&str, &str)] = &[
    ("forum.toml", include_str!("../../../forum.toml")),
    ("reference/members.csv", include_str!("../../../reference/members.csv")),
    ("reference/iso3166-1-alpha3.txt", include_str!("../../../reference/iso3166-1-alpha3.txt")),
    ("schemas/capacity_needs.toml", include_str!("../../../schemas/capacity_needs.toml")),
    ("schemas/enforcement_cases.toml", include_str!("../../../schemas/enforcement_cases.toml")),
    ("schemas/legal_framework.toml", include_str!("../../../schemas/legal_framework.toml")),
    ("schemas/maritime_movements.toml", include_str!("../../../schemas/maritime_movements.toml")),
    ("schemas/trafficking_victims.toml", include_str!("../../../schemas/trafficking_victims.toml")),
    ("pipelines/som/capacity_needs_ranked.sql", include_str!("../../../pipelines/som/capacity_needs_ranked.sql")),
    ("pipelines/som/capacity_requests.sql", include_str!("../../../pipelines/som/capacity_requests.sql")),
    ("pipelines/som/completeness.sql", include_str!("../../../pipelines/som/completeness.sql")),
    ("pipelines/som/cooperation_links.sql", include_str!("../../../pipelines/som/cooperation_links.sql")),
    ("pipelines/som/enforcement_by_member.sql", include_str!("../../../pipelines/som/enforcement_by_member.sql")),
    ("pipelines/som/enforcement_regional.sql", include_str!("../../../pipelines/som/enforcement_regional.sql")),
    ("pipelines/som/legal_framework_summary.sql", include_str!("../../../pipelines/som/legal_framework_summary.sql")),
    ("pipelines/som/maritime_by_member.sql", include_str!("../../../pipelines/som/maritime_by_member.sql")),
    ("pipelines/som/maritime_regional.sql", include_str!("../../../pipelines/som/maritime_regional.sql")),
    ("pipelines/som/member_series.sql", include_str!("../../../pipelines/som/member_series.sql")),
    ("pipelines/som/pipeline.toml", include_str!("../../../pipelines/som/pipeline.toml")),
    ("pipelines/som/quality_flags.sql", include_str!("../../../pipelines/som/quality_flags.sql")),
    ("pipelines/som/victims_counts.sql", include_str!("../../../pipelines/som/victims_counts.sql")),
    ("pipelines/som/victims_profile.sql", include_str!("../../../pipelines/som/victims_profile.sql")),
    ("pipelines/som/victims_regional.sql", include_str!("../../../pipelines/som/victims_regional.sql")),
    ("templates/annex.html.j2", include_str!("../../../templates/annex.html.j2")),
    ("templates/annex.md.j2", include_str!("../../../templates/annex.md.j2")),
    ("templates/base.html.j2", include_str!("../../../templates/base.html.j2")),
    ("templates/briefing.html.j2", include_str!("../../../templates/briefing.html.j2")),
    ("templates/briefing.md.j2", include_str!("../../../templates/briefing.md.j2")),
    ("templates/macros.html.j2", include_str!("../../../templates/macros.html.j2")),
    ("templates/statement.html.j2", include_str!("../../../templates/statement.html.j2")),
    ("templates/statement.md.j2", include_str!("../../../templates/statement.md.j2")),
    ("meetings/som5-bali-2013.toml", include_str!("../../../meetings/som5-bali-2013.toml")),
];

pub(crate) struct Embedded;

impl Files for Embedded {
    fn read(&self, rel: &str) -> Result<String> {
        FILES.iter().find(|(p, _)| *p == rel).map(|(_, t)| t.to_string()).ok_or_else(|| ForumError::Config {
            file: format!("embedded:{rel}"),
            message: "not embedded in this build (crates/forum/src/embedded.rs lists the shipped files)".into(),
        })
    }

    fn list(&self, dir: &str, suffix: &str) -> Result<Vec<String>> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        let mut out: Vec<String> = FILES
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| p.strip_prefix(&prefix).is_some_and(|rest| !rest.contains('/')) && p.ends_with(suffix))
            .map(str::to_string)
            .collect();
        out.sort();
        Ok(out)
    }

    fn origin(&self) -> String {
        "embedded:".to_string()
    }
}
