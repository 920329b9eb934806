//! A real object store wrapped so that its N-th write (put or delete) fails,
//! to check that intake recovers from a failure between any two write steps;
//! it also keeps a log of what it was asked to read.

use std::fmt;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// Fails every write after the first `allowed` ones.
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    allowed: usize,
    writes: AtomicUsize,
    reads: Mutex<Vec<(&'static str, String)>>,
    /// Where each ranged read ended (`None`: at the object's end).
    ends: Mutex<Vec<(String, Option<u64>)>>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn ObjectStore>, allowed: usize) -> FaultyStore {
        FaultyStore {
            inner,
            allowed,
            writes: AtomicUsize::new(0),
            reads: Mutex::new(Vec::new()),
            ends: Mutex::new(Vec::new()),
        }
    }

    /// The reads since the last call, in order: (`get` for a whole object,
    /// `range` for part of one, `head` or `list`; its path or prefix).
    pub fn take_reads(&self) -> Vec<(&'static str, String)> {
        std::mem::take(&mut *self.reads.lock().unwrap())
    }

    /// The ranged reads since the last call: path, and where the range
    /// ended (`None` when it was asked to run to the object's end).
    pub fn take_range_ends(&self) -> Vec<(String, Option<u64>)> {
        std::mem::take(&mut *self.ends.lock().unwrap())
    }

    fn read(&self, kind: &'static str, path: Option<&Path>) {
        self.reads.lock().unwrap().push((kind, path.map(|p| p.to_string()).unwrap_or_default()));
    }

    /// Writes attempted so far.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    fn write(&self) -> Result<()> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst);
        if n >= self.allowed {
            return Err(object_store::Error::Generic {
                store: "faulty",
                source: format!("injected failure at write {n}").into(),
            });
        }
        Ok(())
    }
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.write()?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.write()?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let kind = match (options.head, &options.range) {
            (true, _) => "head",
            (false, Some(_)) => "range",
            (false, None) => "get",
        };
        self.read(kind, Some(location));
        if let Some(range) = &options.range {
            let end = match range {
                GetRange::Bounded(r) => Some(r.end),
                GetRange::Offset(_) | GetRange::Suffix(_) => None,
            };
            self.ends.lock().unwrap().push((location.to_string(), end));
        }
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        match self.write() {
            Ok(()) => self.inner.delete_stream(locations),
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        }
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.read("list", prefix);
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.read("list", prefix);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.write()?;
        self.inner.copy_opts(from, to, options).await
    }
}
