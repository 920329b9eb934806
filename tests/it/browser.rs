//! Real headless Chromium for the page tests: Debian's `chromium`, driven
//! through `chromedriver` with fantoccini over plain HTTP on loopback.
//! Nothing here downloads a browser. Without Chromium or its driver the
//! tests fail when `FEDREPORT_REQUIRE_CHROMIUM` is set (CI, and the test
//! command once it has installed them) and are skipped otherwise.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use crate::support::{chromium, free_port, missing, spawn_server};

const REQUIRE: &str = "FEDREPORT_REQUIRE_CHROMIUM";

/// A chromedriver and one headless Chromium session; both end on drop.
pub struct Browser {
    client: Option<Client>,
    driver: Child,
    rt: tokio::runtime::Runtime,
    _profile: tempfile::TempDir,
}

fn chromedriver() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FEDREPORT_CHROMEDRIVER") {
        return Some(PathBuf::from(p));
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join("chromedriver")).find(|p| p.is_file())
}

impl Browser {
    /// Start chromedriver and a session, or `None` (failing when required).
    pub fn start() -> Option<Browser> {
        let binary = chromium()?;
        let Some(driver_bin) = chromedriver() else {
            missing(REQUIRE, "chromedriver is not installed (apt-get install chromium-driver)");
            return None;
        };
        let port = free_port(REQUIRE)?;
        let mut cmd = Command::new(driver_bin);
        cmd.arg(format!("--port={port}")).stdin(Stdio::null());
        let driver = spawn_server(cmd, port, "chromedriver", REQUIRE, "apt-get install chromium-driver")?;
        let profile = tempfile::tempdir().expect("a profile folder");
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
        let mut caps = Capabilities::new();
        caps.insert(
            "goog:chromeOptions".to_string(),
            json!({
                "binary": binary,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--hide-scrollbars", "--force-device-scale-factor=1",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let client = rt
            .block_on(async {
                let mut b = ClientBuilder::new(HttpConnector::new());
                b.capabilities(caps);
                b.connect(&format!("http://127.0.0.1:{port}")).await
            })
            .unwrap_or_else(|e| panic!("chromedriver on port {port} gave no session: {e}"));
        Some(Browser { client: Some(client), driver, rt, _profile: profile })
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("open until drop")
    }

    /// Set the window's outer size; the page's layout viewport follows.
    pub fn size(&self, width: u32, height: u32) {
        self.rt.block_on(self.client().set_window_size(width, height)).expect("window size");
    }

    /// Load a URL and wait for it.
    pub fn goto(&self, url: &str) {
        self.rt.block_on(self.client().goto(url)).unwrap_or_else(|e| panic!("cannot load {url}: {e}"));
    }

    /// Load a local file.
    pub fn open(&self, file: &Path) {
        self.goto(&format!("file://{}", std::path::absolute(file).expect("absolute").display()));
    }

    /// Run a script (`return …`) in the page.
    pub fn js(&self, script: &str) -> Value {
        self.rt
            .block_on(self.client().execute(script, vec![]))
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Type into the field `css`, after clearing it.
    pub fn fill(&self, css: &str, text: &str) {
        self.rt
            .block_on(async {
                let e = self.client().find(Locator::Css(css)).await?;
                e.clear().await?;
                e.send_keys(text).await
            })
            .unwrap_or_else(|e| panic!("cannot fill {css}: {e}"));
    }

    /// Choose a local file in the file input `css`.
    pub fn choose_file(&self, css: &str, file: &Path) {
        let path = std::path::absolute(file).expect("absolute").display().to_string();
        self.rt
            .block_on(async { self.client().find(Locator::Css(css)).await?.send_keys(&path).await })
            .unwrap_or_else(|e| panic!("cannot choose {path} in {css}: {e}"));
    }

    /// Click the element `css` (a link or a button) and let the page load.
    pub fn click(&self, css: &str) {
        self.rt
            .block_on(async { self.client().find(Locator::Css(css)).await?.click().await })
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    /// Click `css` and wait until the browser is at a path starting with `path`.
    pub fn click_to(&self, css: &str, path: &str) {
        self.click(css);
        let path = serde_json::to_string(path).expect("a string");
        self.wait_until(
            &format!("return location.pathname.startsWith({path}) && document.readyState === 'complete'"),
            30,
        );
    }

    /// The page's path (and query).
    pub fn path(&self) -> String {
        let url = self.rt.block_on(self.client().current_url()).expect("url");
        url[url::Position::BeforePath..].to_string()
    }

    /// The visible text of the page.
    pub fn text(&self) -> String {
        self.js("return document.body.innerText").as_str().unwrap_or_default().to_string()
    }

    /// Wait (up to `secs`) until the script returns true.
    pub fn wait_until(&self, script: &str, secs: u64) {
        let start = std::time::Instant::now();
        while self.js(script) != Value::Bool(true) {
            assert!(start.elapsed().as_secs() < secs, "waited {secs} s for: {script}\n{}", self.text());
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        self.rt.block_on(self.client().screenshot()).expect("screenshot")
    }

    /// Whether the page is wider than its viewport (something runs off the right edge).
    pub fn overflows(&self) -> Option<String> {
        let v = self.js(
            "const d = document.documentElement;
             if (d.scrollWidth <= d.clientWidth) return null;
             const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > d.clientWidth + 1);
             return `scrollWidth ${d.scrollWidth} > clientWidth ${d.clientWidth}; widest: ` +
                    wide.slice(0, 3).map(e => e.tagName + '.' + e.className).join(', ');",
        );
        v.as_str().map(str::to_string)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = self.rt.block_on(c.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Where the tests save screenshots for the docs: `FEDREPORT_SCREENSHOTS`
/// (e.g. `docs/screenshots`), or nowhere.
pub fn screenshot_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("FEDREPORT_SCREENSHOTS")?);
    let dir = if dir.is_absolute() { dir } else { crate::repo().join(dir) };
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    Some(dir)
}

/// Page 1 of a PDF as a PNG (poppler's `pdftoppm`), for the docs.
pub fn first_page_png(pdf: &Path, png: &Path) {
    let stem = png.with_extension("");
    let ok = Command::new("pdftoppm")
        .args(["-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile"])
        .arg(pdf)
        .arg(&stem)
        .status()
        .unwrap_or_else(|e| panic!("pdftoppm (poppler-utils) is needed to save page images: {e}"));
    assert!(ok.success(), "pdftoppm failed on {}", pdf.display());
}

/// Pages of a PDF Chromium printed (each page is one `/Type /Page` object).
pub fn pdf_pages(pdf: &[u8]) -> usize {
    let needle = b"/Type /Page";
    pdf.windows(needle.len() + 1).filter(|w| &w[..needle.len()] == needle && w[needle.len()] != b's').count()
}
