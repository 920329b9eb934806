//! What tests need from the machine — a free loopback port, a server
//! program, Chromium — and the one rule for when it is missing: with
//! `FEDREPORT_REQUIRE_<WHAT>` set (the test command sets every one of them in
//! CI, and each one whose tool it installed), the test fails with a message
//! saying what to install; otherwise it is skipped, and the skip is written to
//! `$FEDREPORT_SKIP_LOG` so the test command can say how many were skipped.
//! No test passes by skipping silently.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A resource is missing: panic when `require` is set, else record the skip.
pub fn missing(require: &str, what: &str) {
    let log = std::env::var_os("FEDREPORT_SKIP_LOG").map(std::path::PathBuf::from);
    let test = std::thread::current().name().unwrap_or("?").to_string();
    if let Err(e) = skip_or_fail(std::env::var_os(require).is_some(), require, what, &test, log.as_deref()) {
        panic!("{e}");
    }
}

/// The rule itself: an error when the resource is required, else a line in the skip log.
fn skip_or_fail(
    required: bool,
    require: &str,
    what: &str,
    test: &str,
    log: Option<&std::path::Path>,
) -> Result<(), String> {
    if required {
        return Err(format!("{what} (required: {require} is set)"));
    }
    eprintln!("SKIPPED: {what}");
    if let Some(log) = log {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(log).map_err(|e| e.to_string())?;
        writeln!(f, "{test}: {what}").map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A free port on loopback, or `None` (failing when `require` is set).
pub fn free_port(require: &str) -> Option<u16> {
    match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(a) => Some(a.port()),
        Err(e) => {
            missing(require, &format!("no loopback port can be bound ({e})"));
            None
        }
    }
}

/// Start a test server listening on `port` and wait until it accepts
/// connections; `None` where it cannot start and `require` is not set.
pub fn spawn_server(mut cmd: Command, port: u16, name: &str, require: &str, install: &str) -> Option<Child> {
    let child = match cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
        Ok(c) => c,
        Err(e) => {
            missing(require, &format!("{name} cannot start ({e}); install it: {install}"));
            return None;
        }
    };
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "{name} did not start within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(child)
}

/// Debian's Chromium, or `None` where it is not installed and not required.
pub fn chromium() -> Option<std::path::PathBuf> {
    let found = fedreport_render::pdf::find_chromium();
    if found.is_none() {
        missing("FEDREPORT_REQUIRE_CHROMIUM", "Chromium is not installed (apt-get install chromium)");
    }
    found
}

#[test]
fn a_missing_resource_fails_when_required_and_is_counted_otherwise() {
    let e = skip_or_fail(true, "FEDREPORT_REQUIRE_X", "x is not installed", "t", None).unwrap_err();
    assert!(e.contains("x is not installed") && e.contains("FEDREPORT_REQUIRE_X is set"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("skips");
    skip_or_fail(false, "FEDREPORT_REQUIRE_X", "x is not installed", "a::t", Some(&log)).unwrap();
    skip_or_fail(false, "FEDREPORT_REQUIRE_Y", "y is not installed", "a::u", Some(&log)).unwrap();
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "a::t: x is not installed\na::u: y is not installed\n");
}

/// Run one of the independent readers in `tests/office/` (`python3 SCRIPT ARGS…`)
/// and parse the JSON it prints; `None` when python3 or the PyPI `module` is
/// missing (a failure when `require` is set), a panic when the script fails.
pub fn python_json(
    script: &str,
    args: &[&std::path::Path],
    require: &str,
    module: &str,
    package: &str,
) -> Option<serde_json::Value> {
    let o = match Command::new("python3").arg(crate::repo().join("tests/office").join(script)).args(args).output() {
        Ok(o) => o,
        Err(e) => {
            missing(require, &format!("python3 cannot run ({e}); install python3 and {package}"));
            return None;
        }
    };
    if !o.status.success() {
        let err = String::from_utf8_lossy(&o.stderr);
        if err.contains(&format!("No module named '{module}'")) {
            missing(require, &format!("{package} is not installed (python3 -m pip install {package})"));
            return None;
        }
        panic!("{script} {args:?} failed:\n{err}");
    }
    Some(serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{script} printed no JSON ({e})")))
}
