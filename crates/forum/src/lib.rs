//! A forum: the configuration of one regional consultative process.
//!
//! This crate owns what makes fedreport serve the Bali Process rather than
//! another forum — the member registry, the datasets of the return contract,
//! the indicator pipeline, the templates and list of drafted documents, and
//! the meeting files — read from one folder with a `forum.toml`
//! ([`Forum::load`]), or the Bali Process shipped inside the binary
//! ([`Forum::bali`]: the repository's own `forum.toml` and the files it
//! names). Every front end (the CLI, the web server) loads one forum and
//! passes its parts down; nothing below reaches a global registry, schema
//! set or embedded path.
//!
//! It does not validate, store, compute or render anything itself.

mod embedded;

use std::path::{Path, PathBuf};

use fedreport_contract::{Contract, Registry, Schemas};
use fedreport_engine::Pipeline;
use fedreport_render::{Document, Meeting, Renderer};
use serde::Deserialize;
use thiserror::Error;

/// Result alias of this crate.
pub type Result<T, E = ForumError> = std::result::Result<T, E>;

/// A forum that cannot be loaded.
#[derive(Debug, Error)]
pub enum ForumError {
    /// `forum.toml` or a file it names is missing or wrong.
    #[error("forum {file}: {message}")]
    Config { file: String, message: String },
    #[error(transparent)]
    Contract(#[from] fedreport_contract::ContractError),
    #[error(transparent)]
    Pipeline(#[from] fedreport_engine::EngineError),
    #[error(transparent)]
    Render(#[from] fedreport_render::RenderError),
    #[error(transparent)]
    Store(#[from] fedreport_store::StoreError),
}

/// `forum.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForumFile {
    name: String,
    title: String,
    short: String,
    contract: String,
    members: String,
    /// The ISO 3166-1 alpha-3 list; the one shipped with fedreport when omitted.
    iso3: Option<String>,
    schemas: String,
    pipeline: String,
    templates: String,
    #[serde(default)]
    meetings: Vec<String>,
    documents: Vec<Document>,
}

/// Where a forum's files come from.
trait Files {
    /// A file's text by path relative to the forum folder.
    fn read(&self, rel: &str) -> Result<String>;
    /// The files of a folder ending in `suffix`, as relative paths in name order.
    fn list(&self, dir: &str, suffix: &str) -> Result<Vec<String>>;
    /// How to name a file of the forum in messages: this prefix and its relative path.
    fn origin(&self) -> String;
}

struct Disk(PathBuf);

impl Files for Disk {
    fn read(&self, rel: &str) -> Result<String> {
        let p = self.0.join(rel);
        std::fs::read_to_string(&p)
            .map_err(|e| ForumError::Config { file: p.display().to_string(), message: format!("cannot read it: {e}") })
    }

    fn list(&self, dir: &str, suffix: &str) -> Result<Vec<String>> {
        let p = self.0.join(dir);
        let entries = std::fs::read_dir(&p).map_err(|e| ForumError::Config {
            file: p.display().to_string(),
            message: format!("cannot list the folder: {e}"),
        })?;
        let mut out: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(suffix))
            .map(|n| format!("{}/{n}", dir.trim_end_matches('/')))
            .collect();
        out.sort();
        Ok(out)
    }

    fn origin(&self) -> String {
        format!("{}/", self.0.display())
    }
}

/// One regional process: registry, contract, pipeline, documents, meetings.
#[derive(Debug, Clone)]
pub struct Forum {
    /// Short machine name, e.g. `bali-process`.
    pub name: String,
    /// Full name, e.g. "Bali Process on People Smuggling, …".
    pub title: String,
    /// Name in running text, e.g. "Bali Process".
    pub short: String,
    /// Datasets and members.
    pub contract: Contract,
    /// The indicator pipeline.
    pub pipeline: Pipeline,
    /// Draft templates (name, text).
    pub templates: Vec<(String, String)>,
    /// The documents drafted from a run.
    pub documents: Vec<Document>,
    /// Meeting files (relative path, parsed), oldest first.
    pub meetings: Vec<(String, Meeting)>,
    /// Where the forum was loaded from.
    pub source: String,
}

impl Forum {
    /// The Bali Process, as shipped inside this build.
    pub fn bali() -> Forum {
        Forum::from_files(&embedded::Embedded).expect("the shipped forum is checked by the test suite")
    }

    /// A forum from a folder holding `forum.toml`, or from the `forum.toml` file itself.
    pub fn load(path: &Path) -> Result<Forum> {
        let dir = if path.is_file() { path.parent().unwrap_or(Path::new(".")).to_path_buf() } else { path.into() };
        if !dir.join("forum.toml").is_file() {
            return Err(ForumError::Config {
                file: dir.join("forum.toml").display().to_string(),
                message: "not found: a forum folder holds a forum.toml (see docs/forums.md)".into(),
            });
        }
        Forum::from_files(&Disk(dir))
    }

    /// `--forum`: the given folder, or the Bali Process when none is given.
    pub fn from_option(path: Option<&Path>) -> Result<Forum> {
        match path {
            Some(p) => Forum::load(p),
            None => Ok(Forum::bali()),
        }
    }

    fn from_files(files: &dyn Files) -> Result<Forum> {
        let origin = files.origin();
        let decl: ForumFile = toml::from_str(&files.read("forum.toml")?)
            .map_err(|e| ForumError::Config { file: format!("{origin}forum.toml"), message: e.to_string() })?;
        let iso3 = match &decl.iso3 {
            Some(p) => files.read(p)?,
            None => embedded::ISO3.to_string(),
        };
        let registry = Registry::parse(&files.read(&decl.members)?, &iso3)?;
        let mut schema_files = Vec::new();
        for p in files.list(&decl.schemas, ".toml")? {
            schema_files.push((format!("{origin}{p}"), files.read(&p)?));
        }
        if schema_files.is_empty() {
            return Err(ForumError::Config {
                file: format!("{origin}{}", decl.schemas),
                message: "no schema files (*.toml) in the folder".into(),
            });
        }
        let contract = Contract::new(&decl.contract, Schemas::parse(schema_files)?, registry);
        let mut pipeline_files = Vec::new();
        for suffix in [".sql", "pipeline.toml"] {
            for p in files.list(&decl.pipeline, suffix)? {
                let name = p.rsplit('/').next().unwrap_or(&p).to_string();
                pipeline_files.push((name, files.read(&p)?));
            }
        }
        let pipeline = Pipeline::parse(&format!("{origin}{}", decl.pipeline), pipeline_files)?;
        let mut templates = Vec::new();
        for p in files.list(&decl.templates, ".j2")? {
            templates.push((p.rsplit('/').next().unwrap_or(&p).to_string(), files.read(&p)?));
        }
        let mut meetings = Vec::new();
        for p in &decl.meetings {
            let m = Meeting::parse(&format!("{origin}{p}"), &files.read(p)?, contract.registry())?;
            meetings.push((p.clone(), m));
        }
        let forum = Forum {
            name: decl.name,
            title: decl.title,
            short: decl.short,
            contract,
            pipeline,
            templates,
            documents: decl.documents,
            meetings,
            source: origin,
        };
        forum.renderer()?; // every document's templates exist and compile
        Ok(forum)
    }

    /// The renderer of the forum's documents.
    pub fn renderer(&self) -> Result<Renderer> {
        Ok(Renderer::new(self.templates.clone(), self.documents.clone(), self.contract.clone())?)
    }

    /// The renderer with the templates of another folder (`--templates DIR`).
    pub fn renderer_with(&self, templates: Option<&Path>) -> Result<Renderer> {
        match templates {
            None => self.renderer(),
            Some(dir) => Ok(Renderer::new(
                fedreport_render::templates_from_dir(dir)?,
                self.documents.clone(),
                self.contract.clone(),
            )?),
        }
    }

    /// A meeting: one of the forum's by file name or stem (`som5-bali-2013`),
    /// else a meeting file on disk, checked against the forum's registry.
    pub fn meeting(&self, name_or_path: &str) -> Result<Meeting> {
        let stem = |p: &str| p.rsplit('/').next().unwrap_or(p).trim_end_matches(".toml").to_string();
        if let Some((_, m)) = self.meetings.iter().find(|(p, _)| p == name_or_path || stem(p) == stem(name_or_path))
            && !Path::new(name_or_path).is_file()
        {
            return Ok(m.clone());
        }
        Ok(Meeting::load(Path::new(name_or_path), self.contract.registry())?)
    }

    /// The forum's latest meeting file, if it has any.
    pub fn latest_meeting(&self) -> Option<&Meeting> {
        self.meetings.last().map(|(_, m)| m)
    }

    /// The meeting that discusses the figures of `year` (the latest such), if any.
    pub fn meeting_for(&self, year: i32) -> Option<&Meeting> {
        self.meetings.iter().rev().map(|(_, m)| m).find(|m| m.reference_year == year)
    }

    /// The meeting a run's drafts are for: the one that discusses its cycle,
    /// else the forum's latest.
    pub fn meeting_of_cycle(&self, year: i32) -> Option<&Meeting> {
        self.meeting_for(year).or_else(|| self.latest_meeting())
    }

    /// A co-chair clears a run's drafts (see [`fedreport_store::cycle::clear`]
    /// for the refusals). When every co-chair in `co_chairs` has cleared them,
    /// the drafts are rendered once more (with their changes since the last
    /// reviewed run, as the co-chairs read them) and frozen in the lake
    /// (`runs/{run}/final/`), and the log records their sha256.
    pub async fn clear_draft(
        &self,
        lake: &fedreport_store::Lake,
        run_id: &str,
        who: &str,
        co_chairs: &[String],
    ) -> Result<fedreport_store::cycle::Draft> {
        use fedreport_store::cycle;
        let (_, draft) = cycle::clear(lake, who, run_id, co_chairs).await?;
        if !draft.cleared_by_all(co_chairs) {
            return Ok(draft);
        }
        let run = fedreport_render::RunData::from_lake(lake, run_id).await?;
        let meeting = self.meeting_of_cycle(run.manifest.cycle_year).ok_or_else(|| ForumError::Config {
            file: "forum.toml".into(),
            message: "the forum has no meeting file to draft for".into(),
        })?;
        let since = fedreport_render::last_reviewed_before(lake, &run.manifest).await?;
        let files: Vec<(String, bytes::Bytes)> = self
            .renderer()?
            .render_since(&run, meeting, since.as_ref())?
            .into_iter()
            .map(|(n, b)| (n, bytes::Bytes::from(b)))
            .collect();
        match cycle::finalise(lake, who, run_id, co_chairs, &files).await {
            Ok(_) | Err(fedreport_store::StoreError::Refused(_)) => {} // another co-chair's clearance finalised it
            Err(e) => return Err(e.into()),
        }
        let events = fedreport_store::audit::read(lake).await?;
        Ok(cycle::draft(&events, run_id))
    }

    /// The submission deadline of every cycle that has one (each meeting's
    /// reference year, and the pipeline's cycle year).
    pub fn deadlines(&self) -> std::collections::BTreeMap<i32, chrono::DateTime<chrono::Utc>> {
        let years = self.meetings.iter().map(|(_, m)| m.reference_year).chain([self.pipeline.cycle_year()]);
        years.filter_map(|y| self.deadline(y).map(|d| (y, d))).collect()
    }

    /// Intake options for this forum: its deadlines, the default findings cap.
    pub fn intake_options(&self) -> fedreport_store::IntakeOptions {
        fedreport_store::IntakeOptions { deadlines: self.deadlines(), ..Default::default() }
    }

    /// The submission deadline of the returns for `year`: the meeting file's,
    /// else the pipeline's `submission_deadline` when its cycle is that year.
    pub fn deadline(&self, year: i32) -> Option<chrono::DateTime<chrono::Utc>> {
        let from_meeting = self.meeting_for(year).and_then(|m| m.submission_deadline.as_ref()).map(|d| d.to_string());
        let from_pipeline = (self.pipeline.cycle_year() == year)
            .then(|| match self.pipeline.parameters.get("submission_deadline") {
                Some(fedreport_engine::pipeline::Param::Text(t)) => Some(t.clone()),
                _ => None,
            })
            .flatten();
        from_meeting
            .or(from_pipeline)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// The shipped forum is exactly the repository's forum.toml and the files it names.
    #[test]
    fn the_shipped_forum_is_the_repository_folder() {
        let shipped = Forum::bali();
        let folder = Forum::load(&repo()).unwrap();
        assert_eq!(shipped.name, "bali-process");
        assert_eq!(shipped.pipeline.hash(), folder.pipeline.hash(), "embedded pipeline files = pipelines/som");
        assert_eq!(shipped.templates, folder.templates, "embedded templates = templates/");
        assert_eq!(
            shipped.contract.schemas().names().collect::<Vec<_>>(),
            folder.contract.schemas().names().collect::<Vec<_>>()
        );
        let codes = |f: &Forum| f.contract.registry().members().map(|m| m.code.clone()).collect::<Vec<_>>();
        assert_eq!(codes(&shipped), codes(&folder));
        assert_eq!(codes(&shipped).len(), 49, "45 states and territories and 4 organisations");
        assert_eq!(shipped.meetings.len(), folder.meetings.len());
        for (path, text) in embedded::FILES {
            let on_disk = std::fs::read_to_string(repo().join(path)).unwrap();
            assert_eq!(&on_disk, text, "{path} is embedded as it is on disk");
        }
    }

    #[test]
    fn a_missing_forum_file_says_what_a_forum_folder_holds() {
        let dir = std::env::temp_dir();
        let e = Forum::load(&dir.join("no-such-forum")).unwrap_err().to_string();
        assert!(e.contains("forum.toml") && e.contains("docs/forums.md"), "{e}");
    }

    #[test]
    fn the_deadline_of_a_cycle() {
        let f = Forum::bali();
        assert_eq!(f.deadline(2012).unwrap().to_rfc3339(), "2013-02-28T23:59:59+00:00");
        assert_eq!(f.deadline(1990), None);
    }

    #[test]
    fn meetings_by_name_or_path() {
        let f = Forum::bali();
        assert_eq!(f.meeting("som5-bali-2013").unwrap().ordinal, 5);
        assert_eq!(f.meeting("meetings/som5-bali-2013.toml").unwrap().ordinal, 5);
        assert!(f.meeting("/no/such/meeting.toml").is_err());
    }
}
