//! PDF output through headless Chromium, when it is installed (Debian's
//! `chromium`). Chromium runs with the network closed to it (an unreachable
//! proxy, no background services), so a draft that tried to fetch anything
//! would show it in the log this returns.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{RenderError, Result};

/// The Chromium binary: `$FEDREPORT_CHROMIUM`, else `chromium`,
/// `chromium-browser` or `google-chrome` on the PATH.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FEDREPORT_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Print `html` to `pdf` (A4, from the page's own print stylesheet) and
/// return Chromium's log (stderr), which lists console messages and any
/// network request it refused.
pub fn print_to_pdf(chromium: &Path, html: &Path, pdf: &Path) -> Result<String> {
    // A profile of its own for every print: two prints at once (threads of one
    // process) must not share Chromium's profile lock.
    static PRINTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = PRINTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let profile = std::env::temp_dir().join(format!("fedreport-chromium-{}-{n}", std::process::id()));
    let html =
        std::path::absolute(html).map_err(|source| RenderError::Io { path: html.display().to_string(), source })?;
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--proxy-server=http://127.0.0.1:9",
            "--proxy-bypass-list=<-loopback>",
            "--enable-logging=stderr",
            "--v=1",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .map_err(|source| RenderError::Io { path: chromium.display().to_string(), source })?;
    let _ = std::fs::remove_dir_all(&profile);
    let log = String::from_utf8_lossy(&output.stderr).to_string();
    if !output.status.success() || !pdf.exists() {
        return Err(RenderError::Chart(format!("Chromium could not print {}: {log}", html.display())));
    }
    Ok(log)
}

/// Chromium's own background services, which it contacts whatever the page
/// (they are refused here like everything else).
const CHROMIUM_SERVICES: &[&str] =
    &["clients2.google.com/time/", "accounts.google.com/ListAccounts", "update.googleapis.com/service/update2"];

/// URLs the page asked for (from a Chromium log), other than the file itself
/// and Chromium's own background services.
pub fn page_requests(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split("NotifyBeforeURLRequest: ").nth(1))
        .map(str::trim)
        .filter(|u| !u.starts_with("file:") && !u.starts_with("data:"))
        .filter(|u| !CHROMIUM_SERVICES.iter().any(|s| u.contains(s)))
        .map(str::to_string)
        .collect()
}

/// Console messages the page logged.
pub fn console_messages(log: &str) -> Vec<String> {
    log.lines().filter(|l| l.contains(":CONSOLE")).map(str::to_string).collect()
}
