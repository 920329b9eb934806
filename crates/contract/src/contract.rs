//! A forum's contract: its datasets (the schema files) and its member
//! registry, held together as one value that validation, intake, the
//! engine and the renderer are given. Nothing in the project reaches a
//! global registry or schema set; whoever starts an operation passes its
//! forum's contract down (see the `fedreport-forum` crate).

use std::sync::Arc;

use crate::error::{ContractError, Result};
use crate::registry::Registry;
use crate::schema::Schemas;

/// Datasets and members of one forum. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Contract {
    title: Arc<str>,
    schemas: Arc<Schemas>,
    registry: Arc<Registry>,
}

impl Contract {
    /// A contract named `title` (e.g. "Standard Return v1") from parsed schemas and registry.
    pub fn new(title: &str, schemas: Schemas, registry: Registry) -> Contract {
        Contract { title: title.into(), schemas: Arc::new(schemas), registry: Arc::new(registry) }
    }

    /// Load from files: a folder of schema files, a members CSV and an ISO 3166-1 alpha-3 list.
    pub fn load(
        title: &str,
        schemas: &std::path::Path,
        members_csv: &std::path::Path,
        iso3: &std::path::Path,
    ) -> Result<Contract> {
        let read = |p: &std::path::Path| {
            std::fs::read_to_string(p).map_err(|source| ContractError::Io { path: p.display().to_string(), source })
        };
        Ok(Contract::new(title, Schemas::from_dir(schemas)?, Registry::parse(&read(members_csv)?, &read(iso3)?)?))
    }

    /// The contract's name, as focal points know it.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The datasets.
    pub fn schemas(&self) -> &Schemas {
        &self.schemas
    }

    /// The member registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}
