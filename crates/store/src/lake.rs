//! The lake: one object store plus a prefix inside it.
//!
//! [`build_store`] is the one function in the project that turns a location
//! into an object store. A plain path is a local folder (made absolute);
//! `file://`, `s3://`, `s3a://`, `az://`, `abfs(s)://`, `gs://` and `memory://`
//! URLs go through object_store's own builders, configured from each cloud's
//! standard environment variables (`AWS_ENDPOINT`, `AWS_REGION`,
//! `AWS_ALLOW_HTTP`, `AZURE_STORAGE_ACCOUNT_NAME`, `GOOGLE_SERVICE_ACCOUNT`, …).

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use url::Url;

use crate::error::{Result, StoreError};

/// Turn a location into (store, URL of the lake root, prefix inside the store).
pub fn build_store(location: &str) -> Result<(Arc<dyn ObjectStore>, Url, Path)> {
    build_store_with(location, &[])
}

/// The environment variables the object store of `location` would be
/// configured from (`AWS_*` for s3://, `AZURE_*` for az://, `GOOGLE_*` for
/// gs://), as lower-case option names with their values: what a distributed
/// run ships to its workers so they reach the same store.
pub fn store_options_from_env(location: &str) -> Vec<(String, String)> {
    let scheme = Url::parse(location).map(|u| u.scheme().to_string()).unwrap_or_default();
    let prefix = match scheme.as_str() {
        "s3" | "s3a" => "AWS_",
        "az" | "adl" | "azure" | "abfs" | "abfss" => "AZURE_",
        "gs" => "GOOGLE_",
        _ => return Vec::new(),
    };
    let mut out: Vec<(String, String)> =
        std::env::vars().filter(|(k, _)| k.starts_with(prefix)).map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
    out.sort();
    out
}

/// [`build_store`] with options (object_store's configuration keys, such as
/// `aws_endpoint` or `aws_allow_http`) applied over the environment's.
/// Unknown keys are ignored, as the environment's are.
pub fn build_store_with(location: &str, options: &[(String, String)]) -> Result<(Arc<dyn ObjectStore>, Url, Path)> {
    let err = |message: String| StoreError::Location { location: location.to_string(), message };
    let url = match Url::parse(location) {
        Ok(u) if u.scheme().len() > 1 => u,
        _ => {
            let abs = std::path::absolute(location).map_err(|e| err(e.to_string()))?;
            Url::from_directory_path(&abs).map_err(|_| err("not a usable folder path".into()))?
        }
    };
    let prefix = Path::from_url_path(url.path()).map_err(|e| err(e.to_string()))?;
    let store: Arc<dyn ObjectStore> = match url.scheme() {
        "file" => Arc::new(object_store::local::LocalFileSystem::new()),
        "memory" => Arc::new(object_store::memory::InMemory::new()),
        "s3" | "s3a" => Arc::new(
            options
                .iter()
                .filter_map(|(k, v)| Some((k.parse::<object_store::aws::AmazonS3ConfigKey>().ok()?, v)))
                .fold(object_store::aws::AmazonS3Builder::from_env(), |b, (k, v)| b.with_config(k, v))
                .with_url(url.as_str())
                .build()
                .map_err(|e| err(format!("{e}; set AWS_ENDPOINT, AWS_REGION and credentials (and AWS_ALLOW_HTTP=true for a plain-http test server)")))?,
        ),
        "az" | "adl" | "azure" | "abfs" | "abfss" => Arc::new(
            options
                .iter()
                .filter_map(|(k, v)| Some((k.parse::<object_store::azure::AzureConfigKey>().ok()?, v)))
                .fold(object_store::azure::MicrosoftAzureBuilder::from_env(), |b, (k, v)| b.with_config(k, v))
                .with_url(url.as_str())
                .build()
                .map_err(|e| err(format!("{e}; set AZURE_STORAGE_ACCOUNT_NAME and credentials")))?,
        ),
        "gs" => Arc::new(
            options
                .iter()
                .filter_map(|(k, v)| Some((k.parse::<object_store::gcp::GoogleConfigKey>().ok()?, v)))
                .fold(object_store::gcp::GoogleCloudStorageBuilder::from_env(), |b, (k, v)| b.with_config(k, v))
                .with_url(url.as_str())
                .build()
                .map_err(|e| err(format!("{e}; set GOOGLE_SERVICE_ACCOUNT or GOOGLE_APPLICATION_CREDENTIALS")))?,
        ),
        other => {
            return Err(err(format!(
                "scheme '{other}' is not supported; use a folder path or an s3://, az://, gs:// or file:// URL"
            )));
        }
    };
    Ok((store, url, prefix))
}

/// A lake of returns.
#[derive(Debug, Clone)]
pub struct Lake {
    store: Arc<dyn ObjectStore>,
    root: Url,
    prefix: Path,
    location: String,
}

/// Whether a conditional create wrote the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Written,
    AlreadyExists,
}

impl Lake {
    /// Open a lake from a folder path or URL.
    pub fn open(location: &str) -> Result<Lake> {
        Lake::open_with(location, &[])
    }

    /// Open a lake with object-store options over the environment's (see
    /// [`build_store_with`]).
    pub fn open_with(location: &str, options: &[(String, String)]) -> Result<Lake> {
        let (store, root, prefix) = build_store_with(location, options)?;
        Ok(Lake { store, root, prefix, location: location.to_string() })
    }

    /// A lake over an existing store (tests wrap stores to inject faults).
    pub fn from_store(store: Arc<dyn ObjectStore>, root: Url, prefix: Path) -> Lake {
        let location = root.to_string();
        Lake { store, root, prefix, location }
    }

    /// The same lake through another store (e.g. a fault-injecting wrapper).
    pub fn with_store(&self, store: Arc<dyn ObjectStore>) -> Lake {
        Lake { store, ..self.clone() }
    }

    /// The location as the user gave it.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The underlying store.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// URL of the lake root (ends with `/`).
    pub fn root_url(&self) -> &Url {
        &self.root
    }

    /// `scheme://authority` of the store, as DataFusion registers it.
    pub fn store_url(&self) -> Url {
        let mut u = self.root.clone();
        u.set_path("/");
        u.set_query(None);
        u
    }

    /// Store path of a lake-relative key.
    pub fn path(&self, rel: &str) -> Path {
        let mut parts: Vec<String> = self.prefix.parts().map(|p| p.as_ref().to_string()).collect();
        parts.extend(rel.split('/').filter(|s| !s.is_empty()).map(str::to_string));
        Path::from_iter(parts)
    }

    /// Lake-relative key of a store path.
    pub fn rel(&self, path: &Path) -> String {
        let prefix: Vec<String> = self.prefix.parts().map(|p| p.as_ref().to_string()).collect();
        let parts: Vec<String> = path.parts().map(|p| p.as_ref().to_string()).collect();
        parts[prefix.len().min(parts.len())..].join("/")
    }

    /// Full URL of a lake-relative key (for DataFusion table paths).
    pub fn url(&self, rel: &str) -> Url {
        let mut u = self.store_url();
        u.set_path(&format!("/{}", self.path(rel)));
        u
    }

    /// Objects under a lake-relative prefix, sorted by key.
    pub async fn list(&self, rel_prefix: &str) -> Result<Vec<ObjectMeta>> {
        let prefix = self.path(rel_prefix);
        let mut all: Vec<ObjectMeta> = self.store.list(Some(&prefix)).try_collect().await?;
        all.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(all)
    }

    /// As [`Lake::list`], but each folder directly under the prefix is
    /// listed at the same time: for the wide trees a run lists (`accepted/`
    /// by dataset, `receipts/` by member), where a listing is mostly waiting
    /// on the file system or the network.
    pub async fn list_wide(&self, rel_prefix: &str) -> Result<Vec<ObjectMeta>> {
        let prefix = self.path(rel_prefix);
        let top = self.store.list_with_delimiter(Some(&prefix)).await?;
        let folders = top.common_prefixes.iter().map(|p| self.store.list(Some(p)).try_collect::<Vec<_>>());
        let mut all = top.objects;
        for listed in futures::future::try_join_all(folders).await? {
            all.extend(listed);
        }
        all.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(all)
    }

    /// The folders directly under a prefix, as lake-relative keys ending in `/`, in order.
    pub async fn folders(&self, rel_prefix: &str) -> Result<Vec<String>> {
        let listed = self.store.list_with_delimiter(Some(&self.path(rel_prefix))).await?;
        let mut out: Vec<String> = listed.common_prefixes.iter().map(|p| format!("{}/", self.rel(p))).collect();
        out.sort();
        Ok(out)
    }

    /// Read a whole object.
    pub async fn get(&self, rel: &str) -> Result<Bytes> {
        Ok(self.store.get(&self.path(rel)).await?.bytes().await?)
    }

    /// Read an object if it exists.
    pub async fn get_opt(&self, rel: &str) -> Result<Option<Bytes>> {
        match self.store.get(&self.path(rel)).await {
            Ok(r) => Ok(Some(r.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Create an object that must not exist yet (conditional put).
    pub async fn put_new(&self, rel: &str, bytes: Bytes) -> Result<Created> {
        let opts = PutOptions { mode: PutMode::Create, ..Default::default() };
        match self.store.put_opts(&self.path(rel), PutPayload::from(bytes), opts).await {
            Ok(_) => Ok(Created::Written),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(Created::AlreadyExists),
            Err(e) => Err(e.into()),
        }
    }

    /// Write an object, replacing any previous one (run outputs only).
    pub async fn put(&self, rel: &str, bytes: Bytes) -> Result<()> {
        self.store.put(&self.path(rel), PutPayload::from(bytes)).await?;
        Ok(())
    }

    /// Delete an object; a missing object is not an error.
    pub async fn delete(&self, rel: &str) -> Result<()> {
        match self.store.delete(&self.path(rel)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Metadata of an object.
    pub async fn head(&self, rel: &str) -> Result<ObjectMeta> {
        Ok(self.store.head(&self.path(rel)).await?)
    }
}

/// Open a single file by path or URL: (store, path in the store, file name).
pub fn open_file(location: &str) -> Result<(Arc<dyn ObjectStore>, Path, String)> {
    let err = |message: String| StoreError::Location { location: location.to_string(), message };
    if let Ok(u) = Url::parse(location)
        && u.scheme().len() > 1
    {
        let (store, _, path) = build_store(location)?;
        let name = path.filename().unwrap_or(location).to_string();
        return Ok((store, path, name));
    }
    let abs = std::path::absolute(location).map_err(|e| err(e.to_string()))?;
    if !abs.is_file() {
        return Err(err("no such file; check the path".into()));
    }
    let path = Path::from_absolute_path(&abs).map_err(|e| err(e.to_string()))?;
    let name = abs.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| location.to_string());
    Ok((Arc::new(object_store::local::LocalFileSystem::new()), path, name))
}
