//! The web front, request by request through its router (no network), and
//! in real headless Chromium over loopback: every route asks for a role and
//! a member on the server, forged and oversized requests are refused with
//! nothing written, hostile text is shown as text, logins are throttled, and
//! a focal point, the secretariat and a co-chair each get their work done.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fedreport_access::{Accounts, NewAccount, Role};
use fedreport_store::{Lake, receipt};
use fedreport_web::{AppState, ROUTES, ServeConfig, SessionKey};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::browser::{Browser, screenshot_dir};
use crate::{bali, repo};

pub const PASSWORD: &str = "a long test passphrase";

/// The accounts of the test lake: (user, role, member).
const PEOPLE: [(&str, Role, Option<&str>); 5] = [
    ("aus", Role::FocalPoint, Some("AUS")),
    ("idn", Role::FocalPoint, Some("IDN")),
    ("chair", Role::CoChair, None),
    ("observer", Role::Observer, None),
    ("secretariat", Role::Secretariat, None),
];

/// A reply, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Reply {
    fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// A server over the golden lake, driven request by request.
pub struct Site {
    pub rt: tokio::runtime::Runtime,
    pub app: Router,
    pub lake: Lake,
    _dir: tempfile::TempDir,
}

/// Every object of the lake but the sessions (which a request may touch), with its size.
fn contents(rt: &tokio::runtime::Runtime, lake: &Lake) -> BTreeMap<String, u64> {
    rt.block_on(lake.list(""))
        .unwrap()
        .into_iter()
        .map(|m| (lake.rel(&m.location), m.size))
        .filter(|(k, _)| !k.starts_with("sessions/"))
        .collect()
}

impl Site {
    /// The golden lake with its accepted returns, the five people above and
    /// an upload limit of `limit` bytes.
    pub fn golden(limit: u64) -> Site {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let lake = rt.block_on(crate::pipeline::build_lake(dir.path(), crate::pipeline::golden_as_submitted()));
        let accounts = Accounts::new(&lake);
        for (user, role, member) in PEOPLE {
            let new =
                NewAccount { username: user.into(), role, member: member.map(Into::into), password: PASSWORD.into() };
            rt.block_on(accounts.add(new, bali().contract.registry(), "test")).unwrap();
        }
        let config = ServeConfig { upload_limit: limit, ..ServeConfig::default() };
        let state = AppState::new(lake.clone(), bali().clone(), config, SessionKey::random()).unwrap();
        Site { app: fedreport_web::router(state), lake, _dir: dir, rt }
    }

    pub fn send(&self, request: Request<Body>) -> Reply {
        self.rt.block_on(async {
            let r = self.app.clone().oneshot(request).await.unwrap();
            let (parts, body) = r.into_parts();
            let bytes = body.collect().await.unwrap().to_bytes();
            Reply {
                status: parts.status,
                headers: parts.headers,
                body: String::from_utf8_lossy(&bytes).to_string(),
                bytes: bytes.to_vec(),
            }
        })
    }

    fn request(method: &str, path: &str, cookie: Option<&str>) -> axum::http::request::Builder {
        let mut b = Request::builder().method(method).uri(path).header(header::HOST, "localhost");
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        b
    }

    pub fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        self.send(Site::request("GET", path, cookie).body(Body::empty()).unwrap())
    }

    pub fn post_form(&self, path: &str, cookie: Option<&str>, form: &str) -> Reply {
        let r = Site::request("POST", path, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.to_string()))
            .unwrap();
        self.send(r)
    }

    pub fn post_file(&self, path: &str, cookie: Option<&str>, name: &str, bytes: &[u8]) -> Reply {
        let (kind, body) = multipart(name, bytes);
        let r = Site::request("POST", path, cookie).header(header::CONTENT_TYPE, kind).body(Body::from(body)).unwrap();
        self.send(r)
    }

    /// Sign in and return the session cookie (`name=value`).
    pub fn login(&self, user: &str) -> String {
        let r = self.post_form("/login", None, &format!("username={user}&password={}", PASSWORD.replace(' ', "+")));
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{user} signs in: {}", r.body);
        let cookie = r.headers.get(header::SET_COOKIE).expect("a session cookie").to_str().unwrap();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
        cookie.split(';').next().unwrap().to_string()
    }

    pub fn contents(&self) -> BTreeMap<String, u64> {
        contents(&self.rt, &self.lake)
    }

    /// Upload a file as `cookie` for `member`; the upload's id.
    pub fn upload(&self, cookie: &str, member: &str, name: &str, bytes: &[u8]) -> String {
        let r = self.post_file(&format!("/members/{member}/uploads"), Some(cookie), name, bytes);
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        r.location().rsplit('/').next().unwrap().to_string()
    }

    /// Start a run as the secretariat and wait for it; the job and run ids.
    pub fn run(&self, cookie: &str) -> (String, String) {
        let r = self.post_form("/runs", Some(cookie), "year=2012");
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let job = r.location().rsplit('/').next().unwrap().to_string();
        let start = Instant::now();
        loop {
            let bytes = self.rt.block_on(self.lake.get(&fedreport_store::layout::job(&job))).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            match v["state"].as_str().unwrap() {
                "done" => return (job, v["run_id"].as_str().unwrap().to_string()),
                "failed" => panic!("the run failed: {v}"),
                _ => {}
            }
            assert!(start.elapsed() < Duration::from_secs(120), "the run did not end within two minutes");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A multipart form with one `file` field.
fn multipart(name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----fedreport-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo().join("tests/web").join(name)).unwrap()
}

/// What each person gets from each route, as a word: `page` (200), `go`
/// (a redirect inside the site), `login` (sent to sign in), `no` (403),
/// `bad` (401, wrong password), `refused` (409: allowed, but the state of
/// the cycle does not let it happen). Columns: nobody, aus, chair, observer,
/// secretariat. Paths name IDN, so the AUS focal point is a stranger there.
const EXPECTED: &[(&str, &str, [&str; 5])] = &[
    ("GET", "/login", ["page", "page", "page", "page", "page"]),
    ("POST", "/login", ["bad", "bad", "bad", "bad", "bad"]),
    ("GET", "/static/htmx-2.0.11.min.js", ["page", "page", "page", "page", "page"]),
    ("GET", "/static/site.css", ["page", "page", "page", "page", "page"]),
    ("GET", "/", ["login", "go", "go", "go", "go"]),
    ("GET", "/datasets", ["login", "page", "page", "page", "page"]),
    ("GET", "/datasets/{dataset}", ["login", "page", "page", "page", "page"]),
    ("GET", "/datasets/{dataset}/template/{format}", ["login", "page", "page", "page", "page"]),
    ("GET", "/members/{member}/returns", ["login", "no", "no", "page", "page"]),
    ("GET", "/members/{member}/uploads/{upload}", ["login", "no", "no", "page", "page"]),
    ("GET", "/members/{member}/uploads/{upload}/report.json", ["login", "no", "no", "page", "page"]),
    ("GET", "/members/{member}/receipts/{receipt}", ["login", "no", "no", "page", "page"]),
    ("GET", "/board", ["login", "no", "page", "page", "page"]),
    ("GET", "/runs", ["login", "no", "page", "page", "page"]),
    ("GET", "/jobs/{job}", ["login", "no", "page", "page", "page"]),
    ("GET", "/runs/{run}", ["login", "no", "page", "page", "page"]),
    ("GET", "/runs/{run}/tables/{table}", ["login", "no", "page", "page", "page"]),
    ("GET", "/runs/{run}/drafts/{file}", ["login", "no", "page", "page", "page"]),
    ("GET", "/runs/{run}/changes?since={run}", ["login", "no", "page", "page", "page"]),
    ("GET", "/members/{member}/returns/{dataset}/{year}", ["login", "no", "no", "page", "page"]),
    ("GET", "/cycles/{year}", ["login", "no", "page", "page", "page"]),
    ("GET", "/log", ["login", "no", "page", "page", "page"]),
    // the writes come last: the secretariat's change the lake
    ("POST", "/members/{member}/uploads", ["no", "no", "no", "no", "go"]),
    ("POST", "/members/{member}/uploads/{upload}/submit", ["no", "no", "no", "no", "go"]),
    ("POST", "/intake", ["no", "no", "no", "no", "page"]),
    // IDN's enforcement return, submitted just above, is approved
    ("POST", "/members/{member}/returns/{dataset}/{year}/review", ["no", "no", "no", "no", "go"]),
    // the run was made before this lock: it cannot go up for review; its drafts are not up
    ("POST", "/cycles/{year}", ["no", "no", "no", "no", "go"]),
    ("POST", "/runs/{run}/review", ["no", "no", "no", "no", "refused"]),
    ("POST", "/runs/{run}/comments", ["no", "no", "refused", "no", "no"]),
    ("POST", "/runs/{run}/clear", ["no", "no", "refused", "no", "no"]),
    // IDN's returns of the years before 2012 no longer count (2012 is locked just above)
    ("POST", "/members/{member}/withdraw", ["no", "no", "no", "no", "page"]),
    // a run goes on in the background: last, so it writes while nothing else is checked
    ("POST", "/runs", ["no", "no", "no", "no", "go"]),
    ("POST", "/logout", ["go", "go", "go", "go", "go"]),
];

#[test]
fn every_route_asks_for_role_and_member_on_the_server() {
    let site = Site::golden(1024 * 1024);
    // the table above is the router's, route for route
    let listed: Vec<_> = ROUTES.iter().map(|r| (r.method, r.path)).collect();
    let mut tested: Vec<_> = EXPECTED.iter().map(|(m, p, _)| (*m, p.split('?').next().unwrap())).collect();
    let mut all = listed.clone();
    all.sort();
    tested.sort();
    assert_eq!(tested, all, "every route of fedreport_web::ROUTES is in this test, and no other");

    let sec = site.login("secretariat");
    let idn = site.login("idn");
    let upload = site.upload(&idn, "IDN", "enforcement_2012.csv", &fixture("enforcement_2012.csv"));
    let receipt = site.rt.block_on(receipt::list(&site.lake, Some("IDN"))).unwrap()[0].submission_id.clone();
    let (job, run) = site.run(&sec);
    let draft = bali().renderer().unwrap().documents()[0].outputs()[0].1.clone();
    let fill = |p: &str| {
        p.replace("{member}", "IDN")
            .replace("{dataset}", "enforcement_cases")
            .replace("{format}", "csv")
            .replace("{upload}", &upload)
            .replace("{receipt}", &receipt)
            .replace("{job}", &job)
            .replace("{run}", &run)
            .replace("{table}", "enforcement_regional")
            .replace("{file}", &draft)
            .replace("{year}", "2012")
    };
    let cookies: Vec<Option<String>> =
        std::iter::once(None).chain(["aus", "chair", "observer", "secretariat"].map(|u| Some(site.login(u)))).collect();
    for (method, path, expected) in EXPECTED {
        let url = fill(path);
        for (i, (who, want)) in ["nobody", "aus", "chair", "observer", "secretariat"].iter().zip(expected).enumerate() {
            let cookie = cookies[i].as_deref();
            let before = site.contents();
            let r = match (*method, *path) {
                ("GET", _) => site.get(&url, cookie),
                (_, "/login") => site.post_form(&url, cookie, "username=nobody&password=wrong+password+here"),
                (_, "/members/{member}/uploads") => {
                    site.post_file(&url, cookie, "enforcement_2012.csv", &fixture("enforcement_2012.csv"))
                }
                (_, "/runs") => site.post_form(&url, cookie, "year=2012"),
                (_, "/members/{member}/returns/{dataset}/{year}/review") => {
                    site.post_form(&url, cookie, "action=approve")
                }
                (_, "/cycles/{year}") => site.post_form(&url, cookie, "action=lock&why=figures+agreed"),
                (_, "/members/{member}/withdraw") => site.post_form(&url, cookie, "why=left+the+process"),
                (_, "/runs/{run}/comments") => site.post_form(&url, cookie, "paragraph=p1&text=a+comment"),
                _ => site.post_form(&url, cookie, ""),
            };
            let got = match (r.status, r.location()) {
                (StatusCode::OK, _) => "page",
                (StatusCode::SEE_OTHER, l) if l.starts_with("/login?next=") => "login",
                (StatusCode::SEE_OTHER, l) if l.starts_with('/') => "go",
                (StatusCode::FORBIDDEN, _) => "no",
                (StatusCode::UNAUTHORIZED, _) => "bad",
                (StatusCode::CONFLICT, _) => "refused",
                (s, l) => panic!("{method} {url} as {who}: {s} {l}\n{}", r.body),
            };
            assert_eq!(got, *want, "{method} {url} as {who}: {} {}", r.status, r.location());
            if matches!(got, "no" | "login" | "bad" | "refused") {
                let after = site.contents();
                let failures = |m: &BTreeMap<String, u64>| {
                    m.keys().filter(|k| !k.contains("/failures/")).cloned().collect::<Vec<_>>()
                };
                assert_eq!(
                    failures(&before),
                    failures(&after),
                    "{method} {url} as {who} was refused but wrote to the lake"
                );
            }
            if got == "no" {
                assert!(
                    r.body.contains("cannot do this")
                        || r.body.contains("not IDN")
                        || r.body.contains("not signed in")
                        || r.body.contains("only a co-chair comments on and clears drafts"),
                    "{}",
                    r.body
                );
            }
        }
    }
    // the secretariat's run started above finishes before the lake goes
    let jobs = site.rt.block_on(site.lake.list("jobs/")).unwrap();
    for j in jobs {
        let key = site.lake.rel(&j.location);
        let id = key.trim_start_matches("jobs/").trim_end_matches(".json").to_string();
        let start = Instant::now();
        while site
            .rt
            .block_on(site.lake.get(&key))
            .map(|b| String::from_utf8_lossy(&b).contains("\"running\""))
            .unwrap()
        {
            assert!(start.elapsed() < Duration::from_secs(120), "job {id} did not end");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn a_focal_point_cannot_reach_another_members_files_by_crafting_urls() {
    let site = Site::golden(1024 * 1024);
    let (aus, idn) = (site.login("aus"), site.login("idn"));
    let upload = site.upload(&idn, "IDN", "enforcement_2012.csv", &fixture("enforcement_2012.csv"));
    let idn_receipt = site.rt.block_on(receipt::list(&site.lake, Some("IDN"))).unwrap()[0].submission_id.clone();
    let before = site.contents();
    // IDN's upload and receipt asked for under AUS's own pages, and paths that climb out
    for url in [
        format!("/members/AUS/uploads/{upload}"),
        format!("/members/AUS/uploads/{upload}/report.json"),
        format!("/members/AUS/receipts/{idn_receipt}"),
        "/members/AUS/uploads/..%2F..%2FIDN%2F".to_string(),
        "/members/AUS/receipts/..%2F..%2Freceipts%2FIDN".to_string(),
        "/runs/..%2Faccounts/tables/x.csv".to_string(),
        "/runs/r-x/drafts/..%2F..%2Faccounts%2Faus%2Fv000001.json".to_string(),
    ] {
        // AUS's own member pages look only in AUS's folders (404); runs and
        // drafts are not a focal point's to read at all (403)
        let want = if url.starts_with("/members/") { StatusCode::NOT_FOUND } else { StatusCode::FORBIDDEN };
        let r = site.get(&url, Some(&aus));
        assert_eq!(r.status, want, "{url}: {}", r.body);
        assert!(!r.body.contains("J-2012-001"), "{url} shows IDN's return");
    }
    let r = site.post_form(&format!("/members/AUS/uploads/{upload}/submit"), Some(&aus), "");
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    // a focal point bound to AUS names IDN in the form's fields: still refused
    let r =
        site.post_file("/members/IDN/uploads", Some(&aus), "enforcement_2012.csv", &fixture("enforcement_2012.csv"));
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("this account acts for AUS, not IDN"), "{}", r.body);
    assert_eq!(site.contents(), before, "nothing was written");
    // and the IDN upload is untouched: its owner still sees it
    assert_eq!(site.get(&format!("/members/IDN/uploads/{upload}"), Some(&idn)).status, StatusCode::OK);
}

#[test]
fn a_forged_cross_site_post_is_refused() {
    let site = Site::golden(1024 * 1024);
    let sec = site.login("secretariat");
    let idn = site.login("idn");
    let upload = site.upload(&idn, "IDN", "enforcement_2012.csv", &fixture("enforcement_2012.csv"));
    let before = site.contents();
    let forged = |path: &str, headers: &[(&str, &str)]| {
        let mut b =
            Request::builder().method("POST").uri(path).header(header::HOST, "localhost").header(header::COOKIE, &sec);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        site.send(
            b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(Body::from("year=2012")).unwrap(),
        )
    };
    for headers in [
        &[("sec-fetch-site", "cross-site")][..],
        &[("sec-fetch-site", "same-site")][..],
        &[("origin", "https://evil.example")][..],
        &[("origin", "http://localhost.evil.example")][..],
    ] {
        for path in ["/runs", "/intake", &format!("/members/IDN/uploads/{upload}/submit"), "/logout"] {
            let r = forged(path, headers);
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} with {headers:?}");
        }
    }
    assert_eq!(site.contents(), before, "no forged request wrote anything");
    // the same request from the site's own page goes through
    let r = forged("/intake", &[("sec-fetch-site", "same-origin"), ("origin", "http://localhost")]);
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[test]
fn hostile_text_in_a_return_is_shown_as_text() {
    let site = Site::golden(1024 * 1024);
    let idn = site.login("idn");
    let upload =
        site.upload(&idn, "IDN", "<img src=x onerror=alert(1)>.csv", &fixture("enforcement_2012_with_errors.csv"));
    for url in [format!("/members/IDN/uploads/{upload}"), "/members/IDN/returns".to_string()] {
        let r = site.get(&url, Some(&idn));
        assert_eq!(r.status, StatusCode::OK);
        assert!(
            !r.body.contains("<script>alert") && !r.body.contains("<img src=x"),
            "{url} carries live HTML:\n{}",
            r.body
        );
        let csp = r.headers.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    }
    let page = site.get(&format!("/members/IDN/uploads/{upload}"), Some(&idn)).body;
    // every finding a person acts on, a table row each: row, column, value, rule, what to do
    let found: Vec<Vec<String>> = table_rows(&page).into_iter().map(|r| r[..4].to_vec()).collect();
    let want = [
        ["1", "partner_member", "<code>aus</code>", "E_CODELIST"],
        ["2", "offence", "<code>&lt;script&gt;alert(&#x27;case&#x27;)&lt;&#x2f;script&gt;</code>", "E_CODELIST"],
        ["2", "opened_date", "<code>2013-07-02</code>", "E_RANGE"],
        ["2", "persons_involved", "<code>-3</code>", "E_RANGE"],
        ["3", "offence", "<code>migrant_smugling</code>", "E_CODELIST"],
        ["3", "partner_member", "–", "E_ROW_RULE"],
    ];
    assert_eq!(found, want.map(|r| r.map(String::from).to_vec()).to_vec(), "{page}");
    assert!(
        page.contains("did you mean &#x27;migrant_smuggling&#x27;?") && page.contains("did you mean &#x27;AUS&#x27;?"),
        "the misspelt offence and the lower-case partner get suggestions:\n{page}"
    );
    assert!(!page.contains("Submit this return"), "a file with errors cannot be submitted");
    // filtered by rule
    let only = site.get(&format!("/members/IDN/uploads/{upload}?rule=E_RANGE"), Some(&idn)).body;
    assert!(only.contains("persons_involved") && !only.contains("migrant_smugling"), "{only}");
    // the JSON report is the CLI's
    let json = site.get(&format!("/members/IDN/uploads/{upload}/report.json"), Some(&idn));
    let report: fedreport_contract::Report = serde_json::from_str(&json.body).unwrap();
    assert!(!report.is_valid() && report.errors >= 5, "{}", json.body);
}

#[test]
fn oversized_uploads_and_files_that_are_not_returns_are_refused_and_nothing_is_kept() {
    let site = Site::golden(64 * 1024);
    let idn = site.login("idn");
    let before = site.contents();
    let mut big = fixture("enforcement_2012.csv");
    let row = b"IDN,2012,J-2012-999,migrant_smuggling,prosecution,2012-03-14,2,11,true,AUS\n".to_vec();
    while big.len() <= 64 * 1024 {
        big.extend_from_slice(&row);
    }
    let r = site.post_file("/members/IDN/uploads", Some(&idn), "enforcement_2012.csv", &big);
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert!(r.body.contains("larger than the 64 KiB an upload may have"), "{}", r.body);
    // far over the limit: refused by the body limit before the handler
    let huge = vec![b'x'; 3 * 1024 * 1024];
    let r = site.post_file("/members/IDN/uploads", Some(&idn), "enforcement_2012.csv", &huge);
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    for name in ["report.docx", "enforcement_2012.exe", "..", "enforcement_2012"] {
        let r = site.post_file("/members/IDN/uploads", Some(&idn), name, b"reporting_member\nIDN\n");
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name}");
        assert!(r.body.contains("is not a return file"), "{name}: {}", r.body);
    }
    assert_eq!(site.contents(), before, "nothing in the inbox or the staging area");
}

#[test]
fn wrong_passwords_are_throttled() {
    let site = Site::golden(1024 * 1024);
    for _ in 0..fedreport_access::MAX_FAILURES {
        let r = site.post_form("/login", None, "username=aus&password=not+the+password");
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.body.contains("Sign-in failed: the user name or the password is wrong."), "{}", r.body);
    }
    let right = format!("username=aus&password={}", PASSWORD.replace(' ', "+"));
    let r = site.post_form("/login", None, &right);
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    let wait: u64 = r.headers.get(header::RETRY_AFTER).unwrap().to_str().unwrap().parse().unwrap();
    assert!(wait > 0 && wait <= 15 * 60, "{wait}");
    assert!(r.body.contains("try again in"), "{}", r.body);
    // another account is not held up
    site.login("idn");
}

#[test]
fn sessions_end_at_logout_and_when_an_account_is_disabled_or_reset() {
    let site = Site::golden(1024 * 1024);
    let aus = site.login("aus");
    let returns = site.get("/members/AUS/returns", Some(&aus));
    assert_eq!(returns.status, StatusCode::OK);
    // the file picker offers the Excel template as well as CSV and Parquet
    assert!(returns.body.contains(r#"accept=".xlsx,.csv,.parquet,.txt""#), "{}", returns.body);
    let r = site.post_form("/logout", Some(&aus), "");
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(site.get("/members/AUS/returns", Some(&aus)).location().starts_with("/login"), "the old cookie is dead");
    let accounts = Accounts::new(&site.lake);
    let aus = site.login("aus");
    site.rt.block_on(accounts.disable("aus", "test")).unwrap();
    assert!(site.get("/members/AUS/returns", Some(&aus)).location().starts_with("/login"), "disabled: signed out");
    site.rt.block_on(accounts.enable("aus", "test")).unwrap();
    let aus = site.login("aus");
    site.rt.block_on(accounts.reset("aus", "another long passphrase", "test")).unwrap();
    assert!(site.get("/members/AUS/returns", Some(&aus)).location().starts_with("/login"), "reset: signed out");
    // a forged cookie is no session
    let forged = format!("{}=AAAAAAAAAAAAAAAAAAAAAA.forged", fedreport_web::SESSION_COOKIE);
    assert!(site.get("/board", Some(&forged)).location().starts_with("/login"));
}

#[test]
fn forty_five_focal_points_submit_at_once_and_each_gets_one_receipt() {
    let site = Site::golden(1024 * 1024);
    let accounts = Accounts::new(&site.lake);
    let members: Vec<String> = bali()
        .contract
        .registry()
        .members()
        .filter(|m| bali().contract.registry().is_reporting_member(&m.code))
        .map(|m| m.code.clone())
        .collect();
    assert_eq!(members.len(), 45);
    for m in &members {
        let new = NewAccount {
            username: format!("fp-{}", m.to_lowercase()),
            role: Role::FocalPoint,
            member: Some(m.clone()),
            password: PASSWORD.into(),
        };
        site.rt.block_on(accounts.add(new, bali().contract.registry(), "test")).unwrap();
    }
    let before = site.rt.block_on(receipt::list(&site.lake, None)).unwrap();
    let template = String::from_utf8(fixture("enforcement_2012.csv")).unwrap();
    let handles: Vec<_> = members
        .iter()
        .map(|m| {
            let (app, m) = (site.app.clone(), m.clone());
            let body = template
                .replace("IDN,", &format!("{m},"))
                .replace(",AUS\n", if m == "AUS" { ",IDN\n" } else { ",AUS\n" })
                .replace(",MYS\n", if m == "MYS" { ",IDN\n" } else { ",MYS\n" });
            site.rt.spawn(async move {
                let call = |r: Request<Body>| {
                    let app = app.clone();
                    async move {
                        let r = app.oneshot(r).await.unwrap();
                        let status = r.status();
                        let location = r
                            .headers()
                            .get(header::LOCATION)
                            .map(|l| l.to_str().unwrap().to_string())
                            .unwrap_or_default();
                        let cookie = r
                            .headers()
                            .get(header::SET_COOKIE)
                            .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string());
                        (status, location, cookie)
                    }
                };
                let form = format!("username=fp-{}&password={}", m.to_lowercase(), PASSWORD.replace(' ', "+"));
                let login = Site::request("POST", "/login", None)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(form))
                    .unwrap();
                let (_, _, cookie) = call(login).await;
                let cookie = cookie.expect("signed in");
                let (kind, bytes) = multipart("enforcement_2012.csv", body.as_bytes());
                let up = Site::request("POST", &format!("/members/{m}/uploads"), Some(&cookie))
                    .header(header::CONTENT_TYPE, kind)
                    .body(Body::from(bytes))
                    .unwrap();
                let (status, at, _) = call(up).await;
                assert_eq!(status, StatusCode::SEE_OTHER, "{m} uploads");
                let submit = Site::request("POST", &format!("{at}/submit"), Some(&cookie)).body(Body::empty()).unwrap();
                let (status, receipt, _) = call(submit).await;
                assert_eq!(status, StatusCode::SEE_OTHER, "{m} submits");
                let (status, _, _) =
                    call(Site::request("GET", &receipt, Some(&cookie)).body(Body::empty()).unwrap()).await;
                assert_eq!(status, StatusCode::OK, "{m} reads the receipt");
                (m, receipt.rsplit('/').next().unwrap().to_string())
            })
        })
        .collect();
    let submitted: BTreeMap<String, String> = handles.into_iter().map(|h| site.rt.block_on(h).unwrap()).collect();
    let receipts = site.rt.block_on(receipt::list(&site.lake, None)).unwrap();
    assert_eq!(receipts.len(), before.len() + 45, "one new receipt per upload, no more");
    for m in &members {
        let mine: Vec<_> = receipts.iter().filter(|r| &r.member == m && r.submission_id == submitted[m]).collect();
        assert_eq!(
            mine.len(),
            1,
            "{m} has exactly one receipt for its upload: {:?}",
            receipts.iter().filter(|r| &r.member == m).map(|r| &r.file).collect::<Vec<_>>()
        );
        assert_eq!(mine[0].status, fedreport_store::Status::Accepted, "{m}: {:?}", mine[0].findings);
    }
}

#[test]
fn htmx_is_the_vendored_release() {
    use sha2::Digest;
    let sum = hex::encode(sha2::Sha256::digest(fedreport_web::HTMX));
    assert_eq!(sum, fedreport_web::HTMX_SHA256, "crates/web/static/htmx-2.0.11.min.js is not the vendored release");
    let readme = std::fs::read_to_string(repo().join("crates/web/static/README.md")).unwrap();
    assert!(readme.contains(&sum), "static/README.md records the sha256");
    // and no page loads anything from elsewhere
    for entry in std::fs::read_dir(repo().join("templates/web")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(
            !text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"),
            "a template loads from another site"
        );
    }
}

/// The site served on a loopback port to a real browser, with the steps
/// every tour takes: sign in, sign out, check a page at two widths and keep
/// its screenshot.
struct Tour<'a> {
    browser: &'a Browser,
    base: String,
    shots: Option<std::path::PathBuf>,
}

impl<'a> Tour<'a> {
    fn new(browser: &'a Browser, site: &Site) -> Tour<'a> {
        let listener = site.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
        site.rt.spawn(axum::serve(listener, site.app.clone()).into_future());
        Tour { browser, base, shots: screenshot_dir() }
    }

    /// The page fits a 1280 px and a 390 px screen; its screenshot is kept as `web-{name}.png`.
    fn shot(&self, name: &str) {
        for (width, height) in [(1280, 900), (390, 844)] {
            self.browser.size(width, height);
            assert_eq!(self.browser.overflows(), None, "{name} runs off a {width} px screen");
        }
        self.browser.size(1280, 900);
        if let Some(d) = &self.shots {
            std::fs::write(d.join(format!("web-{name}.png")), self.browser.screenshot()).unwrap();
        }
    }

    fn sign_in(&self, user: &str) {
        self.browser.goto(&format!("{}/", self.base));
        assert!(self.browser.path().starts_with("/login?next="), "{}", self.browser.path());
        self.browser.fill("#username", user);
        self.browser.fill("#password", PASSWORD);
        self.browser.click("form.stack button[type=submit]");
        self.browser
            .wait_until("return !location.pathname.startsWith('/login') && document.readyState === 'complete'", 10);
    }

    fn sign_out(&self) {
        self.browser.click_to("form.who button", "/login");
    }
}

/// The text of IDN's enforcement cell on the completeness board.
const IDN_ENFORCEMENT: &str = "const heads = [...document.querySelectorAll('table.board thead th')].map(t => t.innerText.trim());
     const row = [...document.querySelectorAll('table.board tbody tr')].find(r => r.querySelector('th').innerText.includes('IDN'));
     return row.children[heads.indexOf('enforcement cases')].innerText.trim();";

#[test]
fn a_focal_point_the_secretariat_and_a_co_chair_in_chromium() {
    let Some(browser) = Browser::start() else { return };
    let site = Site::golden(1024 * 1024);
    let tour = Tour::new(&browser, &site);
    let (base, shot, sign_in, sign_out) =
        (&tour.base, |n: &str| tour.shot(n), |u: &str| tour.sign_in(u), || tour.sign_out());

    // the secretariat: IDN's enforcement return for 2012 is missing
    sign_in("secretariat");
    assert_eq!(browser.path(), "/board");
    assert_eq!(browser.js(IDN_ENFORCEMENT), "missing");
    sign_out();

    // IDN's focal point: the sign-in page, their returns, a template
    browser.goto(&format!("{base}/"));
    shot("login");
    sign_in("idn");
    assert_eq!(browser.path(), "/members/IDN/returns");
    shot("returns");
    browser.click_to("nav a[href='/datasets']", "/datasets");
    browser.click_to("a[href='/datasets/enforcement_cases']", "/datasets/enforcement_cases");
    shot("dataset");
    let template = browser.js("const a = document.querySelector('a[href$=\"/template/csv\"]');
         const r = new XMLHttpRequest(); r.open('GET', a.href, false); r.send();
         return [r.status, r.getResponseHeader('content-disposition'), r.responseText];");
    assert_eq!(template[0], 200, "{template}");
    assert!(template[1].as_str().unwrap().contains("enforcement_cases-template.csv"), "{template}");
    let header_row = String::from_utf8(fixture("enforcement_2012.csv")).unwrap().lines().next().unwrap().to_string();
    assert_eq!(template[2].as_str().unwrap().lines().next().unwrap(), header_row, "the template's columns");

    // a file with mistakes: the findings, filtered by rule with htmx
    browser.goto(&format!("{base}/members/IDN/returns"));
    browser.choose_file("#file", &repo().join("tests/web/enforcement_2012_with_errors.csv"));
    browser.click_to("form[enctype] button[type=submit]", "/members/IDN/uploads/u-");
    assert!(browser.path().starts_with("/members/IDN/uploads/u-"), "{}", browser.path());
    let text = browser.text();
    assert!(
        text.contains("Not submitted")
            && text.contains("E_CODELIST")
            && text.contains("<script>alert('case')</script>"),
        "{text}"
    );
    assert_eq!(browser.js("return document.querySelectorAll('script').length"), 1, "the hostile case id stayed text");
    shot("findings");
    let rows = "return [...document.querySelectorAll('table.findings tbody tr td:nth-child(4)')].map(t => t.innerText)";
    assert!(browser.js(rows).as_array().unwrap().len() >= 5);
    browser.js("const s = document.querySelector('#rule'); s.value = 'E_RANGE'; s.dispatchEvent(new Event('change', {bubbles: true})); return 1");
    browser.wait_until(
        "const r = [...document.querySelectorAll('table.findings tbody tr td:nth-child(4)')].map(t => t.innerText);
         return r.length > 0 && r.every(c => c === 'E_RANGE')",
        10,
    );
    assert!(browser.path().starts_with("/members/IDN/uploads/u-"), "htmx filtered in place");

    // the same mistakes in the Excel template: each finding names its cell as Excel shows it
    browser.goto(&format!("{base}/members/IDN/returns"));
    browser.choose_file("#file", &repo().join("tests/web/enforcement_2012_with_errors.xlsx"));
    browser.click_to("form[enctype] button[type=submit]", "/members/IDN/uploads/u-");
    let cells =
        "return [...document.querySelectorAll('table.findings tbody tr td:nth-child(2) .cell')].map(t => t.innerText)";
    assert_eq!(
        browser.js(cells),
        serde_json::json!(["Return!J2", "Return!D3", "Return!F3", "Return!H3", "Return!D4", "Return!J4"]),
        "{}",
        browser.text()
    );
    assert_eq!(browser.js("return document.querySelectorAll('script').length"), 1, "the hostile case id stayed text");
    shot("findings-excel");

    // the corrected file: valid, submitted, a receipt
    browser.goto(&format!("{base}/members/IDN/returns"));
    browser.choose_file("#file", &repo().join("tests/web/enforcement_2012.csv"));
    browser.click_to("form[enctype] button[type=submit]", "/members/IDN/uploads/u-");
    assert!(browser.text().contains("The file is a valid return"), "{}", browser.text());
    browser.click_to("form[action$='/submit'] button", "/members/IDN/receipts/");
    assert!(browser.path().starts_with("/members/IDN/receipts/"), "{}", browser.path());
    let receipt = browser.text();
    assert!(receipt.contains("Accepted as version 1, late: it arrived after the submission deadline."), "{receipt}");
    shot("receipt");
    sign_out();

    // the secretariat: the board has changed; a run, followed to its end
    sign_in("secretariat");
    let cell = browser.js(IDN_ENFORCEMENT);
    assert!(cell.as_str().unwrap().starts_with("v1"), "{cell}");
    shot("board");
    browser.click_to("nav a[href='/runs']", "/runs");
    browser.click_to("form[action='/runs'] button", "/jobs/j-");
    assert!(browser.path().starts_with("/jobs/j-"), "{}", browser.path());
    browser.wait_until("return !!document.querySelector('#job a[href^=\"/runs/r-\"]')", 120);
    shot("job");
    browser.click_to("#job a[href^='/runs/r-']", "/runs/r-");
    let run_path = browser.path();
    shot("run");
    browser.click_to("a[href*='/tables/enforcement_by_member']", "/runs/r-");
    assert!(browser.text().contains("Indonesia") || browser.text().contains("IDN"), "{}", browser.text());
    shot("table");
    sign_out();

    // a co-chair's office: the runs, then the briefing as drafted
    sign_in("chair");
    assert_eq!(browser.path(), "/runs");
    browser.click_to(&format!("a[href='{run_path}']"), &run_path);
    browser.click_to("a[href$='/drafts/ministerial-briefing.html']", "/runs/r-");
    let draft = browser.text();
    assert!(draft.contains("DRAFT") && draft.contains(run_path.trim_start_matches("/runs/")), "{draft}");
    shot("draft");
    // the co-chair cannot reach a member's pages, however the URL is typed
    browser.goto(&format!("{base}/members/IDN/returns"));
    assert!(browser.text().contains("a co-chair account cannot do this"), "{}", browser.text());
}

/// The data cells of a page's first table body, row by row (a cell's
/// inner HTML, whatever the attributes of its `<tr>` and `<td>`).
fn table_rows(html: &str) -> Vec<Vec<String>> {
    let body = html.split("<tbody>").nth(1).unwrap().split("</tbody>").next().unwrap();
    body.split("<tr")
        .skip(1)
        .map(|r| {
            r.split("<td")
                .skip(1)
                .map(|c| c.split_once('>').unwrap().1.split("</td>").next().unwrap().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn tables_are_sorted_paged_and_downloaded_as_the_run_wrote_them() {
    let site = Site::golden(1024 * 1024);
    let chair = site.login("chair");
    let (_, run) = site.run(&site.login("secretariat"));
    let path = format!("/runs/{run}/tables/enforcement_by_member");
    let column = |rows: &[Vec<String>], i: usize| rows.iter().map(|r| r[i].parse::<i64>().unwrap()).collect::<Vec<_>>();
    // persons_involved is the tenth column, largest first
    let sorted = table_rows(&site.get(&format!("{path}?sort=persons_involved&desc=true"), Some(&chair)).body);
    let mut want = column(&sorted, 9);
    want.sort_by(|a, b| b.cmp(a));
    assert_eq!(column(&sorted, 9), want);
    // three rows a page: the pages together are the whole table, in order
    let mut paged = Vec::new();
    for page in 1..=sorted.len().div_ceil(3) {
        let html = site.get(&format!("{path}?sort=persons_involved&desc=true&per=3&page={page}"), Some(&chair)).body;
        assert!(html.contains(&format!("page {page} of {}", sorted.len().div_ceil(3))), "{html}");
        paged.extend(table_rows(&html));
    }
    assert_eq!(paged, sorted);
    // the downloads are the run's own files, byte for byte
    let manifest = site.rt.block_on(fedreport_store::manifest::read_manifest(&site.lake, &run)).unwrap();
    let output = manifest.output("enforcement_by_member").unwrap();
    for (ext, key) in [("csv", &output.csv.key), ("parquet", &output.parquet.key)] {
        let r = site.get(&format!("{path}.{ext}"), Some(&chair));
        assert_eq!(r.status, StatusCode::OK);
        let stored = site.rt.block_on(site.lake.get(key)).unwrap();
        assert_eq!(r.bytes, &stored[..], "the {ext} download is the run's file");
        let disposition = r.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
        assert!(disposition.contains(&format!("enforcement_by_member-{run}.{ext}")), "{disposition}");
    }
}

/// `fedreport` with a password on standard input.
fn fedreport(args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fedreport"))
        .args(args)
        .env_remove("FEDREPORT_PASSWORD")
        .env_remove("FEDREPORT_LAKE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn accounts_are_managed_from_the_cli_and_serve_answers() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    std::fs::create_dir_all(&lake).unwrap();
    let lake = lake.to_str().unwrap();
    let ok = |args: &[&str], stdin: &str| {
        let o = fedreport(args, stdin);
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let refused = |args: &[&str], stdin: &str| {
        let o = fedreport(args, stdin);
        assert!(!o.status.success(), "{args:?} was accepted");
        String::from_utf8(o.stderr).unwrap()
    };
    assert!(ok(&["user", "list", "--lake", lake], "").contains("no accounts yet"));
    let added = ok(&["user", "add", "sec1", "--role", "secretariat", "--lake", lake], "a long test passphrase\n");
    assert!(added.contains("sec1") && added.contains("secretariat"), "{added}");
    ok(
        &["user", "add", "aus-fp", "--role", "focal-point", "--member", "AUS", "--lake", lake],
        "another long passphrase\n",
    );
    // refusals that say what to do
    for (args, stdin, says) in [
        (vec!["user", "add", "sec1", "--role", "secretariat"], "a long test passphrase\n", "already an account"),
        (
            vec!["user", "add", "x-fp", "--role", "focal-point", "--member", "UNHCR"],
            "a long test passphrase\n",
            "not a state or territory",
        ),
        (
            vec!["user", "add", "y", "--role", "minister"],
            "a long test passphrase\n",
            "focal-point, secretariat, co-chair, observer",
        ),
        (vec!["user", "add", "z", "--role", "observer"], "a long test passphrase\n", "3 to 64 lower-case letters"),
        (vec!["user", "add", "zed", "--role", "observer"], "short\n", "at least 12 characters"),
        (vec!["user", "disable", "nobody"], "", "nobody"),
    ] {
        let mut args = args.clone();
        args.extend(["--lake", lake]);
        let e = refused(&args, stdin);
        assert!(e.contains(says), "{args:?} should say {says:?}: {e}");
    }
    let listed = ok(&["user", "list", "--lake", lake], "");
    assert!(listed.contains("aus-fp") && listed.contains("AUS") && listed.contains("sec1"), "{listed}");
    assert!(ok(&["user", "disable", "aus-fp", "--lake", lake], "").contains("DISABLED"));
    assert!(ok(&["user", "enable", "aus-fp", "--lake", lake], "").contains("active"));
    ok(&["user", "reset", "aus-fp", "--lake", lake], "a third long passphrase\n");

    // serve (our own binary, on a loopback port: nothing to skip): the
    // sign-in page, and a signed-in page only with a session
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_fedreport"))
        .args(["serve", "--lake", lake, "--listen", &format!("127.0.0.1:{port}")])
        .arg("--session-key")
        .arg(dir.path().join("session.key"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "fedreport serve did not listen within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let get = |path: &str| {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let login = get("/login");
    let board = get("/board");
    let _ = server.kill();
    let _ = server.wait();
    assert!(login.starts_with("HTTP/1.1 200") && login.contains("Sign in"), "{login}");
    assert!(board.starts_with("HTTP/1.1 303") && board.contains("location: /login?next=/board"), "{board}");
    let key = std::fs::read_to_string(dir.path().join("session.key")).unwrap();
    assert_eq!(key.len(), 128, "serve made its session key");
}

/// IDN's enforcement return with its line endings changed: the same rows,
/// other bytes, so a new version.
fn enforcement_again(n: usize) -> Vec<u8> {
    let text = String::from_utf8(fixture("enforcement_2012.csv")).unwrap();
    let mut out = text.replace('\n', "\r\n").into_bytes();
    out.extend(std::iter::repeat_n(b'\n', n));
    out
}

/// Submit an upload as its focal point; the receipt page's path.
fn submit_upload(site: &Site, cookie: &str, member: &str, upload: &str) -> String {
    let r = site.post_form(&format!("/members/{member}/uploads/{upload}/submit"), Some(cookie), "");
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    r.location().to_string()
}

#[test]
fn the_cycle_in_the_web_front_refuses_with_reasons_and_shows_them_to_the_sender() {
    let site = Site::golden(1024 * 1024);
    let (sec, idn, aus, chair, observer) =
        (site.login("secretariat"), site.login("idn"), site.login("aus"), site.login("chair"), site.login("observer"));
    let page = "/members/IDN/returns/enforcement_cases/2012";
    let review = format!("{page}/review");
    // IDN's return arrives after the Bali Process's 2012 deadline: taken, and late
    let up = site.upload(&idn, "IDN", "enforcement_2012.csv", &fixture("enforcement_2012.csv"));
    let receipt = submit_upload(&site, &idn, "IDN", &up);
    let r = site.get(&receipt, Some(&idn));
    assert!(r.body.contains("Accepted as version 1, late: it arrived after the submission deadline."), "{}", r.body);
    assert!(r.body.contains("waiting for the secretariat's review"), "{}", r.body);
    let board = site.get("/board?year=2012", Some(&sec)).body;
    assert!(board.contains(&format!("<a href=\"{page}\">v1 late</a>")), "the board links the return: {board}");

    // sending back needs a reason; the reason, however hostile, reaches the focal point as text
    let r = site.post_form(&review, Some(&sec), "action=send_back&version=1&why=");
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("say why: the focal point reads your reason on the receipt"), "{}", r.body);
    let why = "<b>cases</b> opened in 2011 are counted in 2012";
    let r = site.post_form(&review, Some(&sec), &format!("action=send_back&version=1&why={}", why.replace(' ', "+")));
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, page));
    for path in [page, receipt.as_str()] {
        let body = site.get(path, Some(&idn)).body;
        assert!(
            body.contains("was sent back by secretariat on ")
                && body.contains("&lt;b&gt;cases&lt;&#x2f;b&gt; opened in 2011"),
            "{path}: {body}"
        );
        assert!(!body.contains("<b>cases"), "{path}");
    }
    // nobody but the secretariat reviews; AUS's focal point cannot even look
    for cookie in [&idn, &aus, &chair, &observer] {
        let before = site.contents();
        assert_eq!(site.post_form(&review, Some(cookie), "action=approve").status, StatusCode::FORBIDDEN);
        assert_eq!(site.contents(), before);
    }
    assert_eq!(site.get(page, Some(&aus)).status, StatusCode::FORBIDDEN);
    let r = site.post_form(&review, Some(&sec), "action=burn");
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);

    // the correction goes back to review and is approved
    let up = site.upload(&idn, "IDN", "enforcement_2012.csv", &enforcement_again(1));
    submit_upload(&site, &idn, "IDN", &up);
    assert!(site.get(page, Some(&idn)).body.contains("Version 2 is waiting for the secretariat"));
    let r = site.post_form(&review, Some(&sec), "action=approve&version=1");
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.body.contains("version 1 of IDN&#x27;s enforcement_cases return for 2012 is no longer the current one"),
        "{}",
        r.body
    );
    assert_eq!(site.post_form(&review, Some(&sec), "action=approve&version=2").status, StatusCode::SEE_OTHER);
    assert!(site.get(page, Some(&idn)).body.contains("Version 2 is approved by secretariat on "));
    let board = site.get("/board?year=2012", Some(&sec)).body;
    assert!(board.contains("v2 late · approved"), "{board}");

    // locked with a reason; a new version is not taken, and the receipt says exactly why
    let r = site.post_form("/cycles/2012", Some(&sec), "action=lock&why=");
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = site.post_form("/cycles/2012", Some(&sec), "action=lock&why=figures+agreed+for+SOM5");
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/cycles/2012"));
    let cycle = site.get("/cycles/2012", Some(&chair)).body;
    assert!(
        cycle.contains("cycle 2012 locked by the secretariat (secretariat) on ")
            && cycle.contains("figures agreed for SOM5"),
        "{cycle}"
    );
    assert!(!cycle.contains("Lock cycle") && !cycle.contains("Unlock cycle"), "a co-chair sees no forms");
    let r = site.post_form("/cycles/2012", Some(&sec), "action=exception&member=XYZ&why=x");
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let up = site.upload(&idn, "IDN", "enforcement_2012.csv", &enforcement_again(2));
    let receipt = submit_upload(&site, &idn, "IDN", &up);
    let body = site.get(&receipt, Some(&idn)).body;
    assert!(
        body.contains("Not taken: cycle 2012 locked by the secretariat (secretariat) on ")
            && body.contains("figures agreed for SOM5. A new version would not count"),
        "{body}"
    );

    // a run on the locked figures, put up, commented and cleared by the one co-chair: final, frozen
    let (_, run) = site.run(&sec);
    let run_page = format!("/runs/{run}");
    assert_eq!(site.post_form(&format!("{run_page}/review"), Some(&sec), "").status, StatusCode::SEE_OTHER);
    assert!(site.get(&run_page, Some(&chair)).body.contains("These drafts are up for review"));
    let r = site.post_form(&format!("{run_page}/comments"), Some(&chair), "paragraph=&text=x");
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = site.post_form(
        &format!("{run_page}/comments"),
        Some(&chair),
        "paragraph=Statement+%C2%B63&text=Name+the+late+members",
    );
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(site.post_form(&format!("{run_page}/clear"), Some(&sec), "").status, StatusCode::FORBIDDEN);
    assert_eq!(site.post_form(&format!("{run_page}/clear"), Some(&chair), "").status, StatusCode::SEE_OTHER);
    let body = site.get(&run_page, Some(&observer)).body;
    assert!(
        body.contains("These drafts are final: cleared by every co-chair (chair), files frozen.")
            && body.contains("Name the late members"),
        "{body}"
    );
    let frozen = site.rt.block_on(site.lake.list(&format!("runs/{run}/final/"))).unwrap();
    assert!(frozen.len() >= 4, "{frozen:?}");
    let r = site.post_form(&format!("{run_page}/clear"), Some(&chair), "");
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("are final"), "{}", r.body);
    // the log, whole
    let log = site.get("/log?year=2012", Some(&observer)).body;
    assert!(
        log.contains("The chain is whole") && log.contains("made the drafts final") && log.contains("sent back"),
        "{log}"
    );
    assert_eq!(site.get("/log", Some(&idn)).status, StatusCode::FORBIDDEN);
}

#[test]
fn the_secretariat_a_focal_point_and_a_co_chair_close_a_cycle_in_chromium() {
    let Some(browser) = Browser::start() else { return };
    let site = Site::golden(1024 * 1024);
    let tour = Tour::new(&browser, &site);
    let (base, shot, sign_in, sign_out) =
        (&tour.base, |n: &str| tour.shot(n), |u: &str| tour.sign_in(u), || tour.sign_out());
    let idn = site.login("idn");
    let up = site.upload(&idn, "IDN", "enforcement_2012.csv", &fixture("enforcement_2012.csv"));
    submit_upload(&site, &idn, "IDN", &up);

    // the secretariat opens IDN's return from the board and sends it back with a reason
    sign_in("secretariat");
    browser.click_to(
        "a[href='/members/IDN/returns/enforcement_cases/2012']",
        "/members/IDN/returns/enforcement_cases/2012",
    );
    shot("return-review");
    let why = "Case J-2012-001 was opened in 2011; please move it to the 2011 return.";
    browser.fill("#back-why", why);
    browser.click_to("form:has(input[value='send_back']) button", "/members/IDN/returns/enforcement_cases/2012");
    // the form posts to the page it is on: wait for the answer, not for the address
    browser.wait_until("return document.body.innerText.includes('was sent back by')", 10);
    assert!(browser.text().contains("Version 1 was sent back by secretariat on "), "{}", browser.text());
    sign_out();

    // the focal point reads why, on its returns page and the return's own
    sign_in("idn");
    assert!(browser.text().contains(why), "{}", browser.text());
    browser.click_to(
        "a[href='/members/IDN/returns/enforcement_cases/2012']",
        "/members/IDN/returns/enforcement_cases/2012",
    );
    assert!(
        browser.text().contains(why) && browser.text().contains("Correct the return and submit it again"),
        "{}",
        browser.text()
    );
    shot("return-sent-back");
    sign_out();

    // the secretariat locks the cycle with its reason
    sign_in("secretariat");
    browser.goto(&format!("{base}/board?year=2012"));
    browser.click_to("a[href='/cycles/2012']", "/cycles/2012");
    browser.fill("#lock-why", "Figures agreed with the co-chairs for SOM5.");
    browser.click_to("form:has(input[value='lock']) button", "/cycles/2012");
    browser.wait_until("return document.body.innerText.includes('locked by the secretariat')", 10);
    assert!(browser.text().contains("cycle 2012 locked by the secretariat (secretariat) on"), "{}", browser.text());
    shot("cycle-locked");
    sign_out();

    // the focal point's correction now is not taken, and the receipt says why
    sign_in("idn");
    browser.goto(&format!("{base}/members/IDN/returns"));
    let corrected = tempfile::tempdir().unwrap();
    let file = corrected.path().join("enforcement_2012.csv");
    std::fs::write(&file, enforcement_again(1)).unwrap();
    browser.choose_file("#file", &file);
    browser.click_to("form[enctype] button[type=submit]", "/members/IDN/uploads/u-");
    browser.click_to("form[action$='/submit'] button", "/members/IDN/receipts/");
    let text = browser.text();
    assert!(
        text.contains("Not taken: cycle 2012 locked by the secretariat (secretariat) on ")
            && text.contains("Figures agreed with the co-chairs for SOM5."),
        "{text}"
    );
    shot("receipt-locked");
    sign_out();

    // a run on the locked figures goes up for review
    let sec = site.login("secretariat");
    let (_, run) = site.run(&sec);
    sign_in("secretariat");
    browser.goto(&format!("{base}/runs/{run}"));
    browser.click_to("form[action$='/review'] button", &format!("/runs/{run}"));
    // the sentence itself is waited for: a page still loading is not read
    browser.wait_until("return document.body.innerText.includes('These drafts are up for review')", 10);
    sign_out();

    // the co-chair comments on a paragraph and clears: final
    sign_in("chair");
    browser.goto(&format!("{base}/runs/{run}"));
    browser.fill("#c-part", "Co-Chairs' Statement ¶3");
    browser.fill("#c-text", "Please name the members that reported late.");
    browser.click_to("form[action$='/comments'] button", &format!("/runs/{run}"));
    browser.wait_until("return document.body.innerText.includes('Please name the members')", 10);
    assert!(browser.text().contains("Please name the members that reported late."), "{}", browser.text());
    shot("draft-review");
    browser.click_to("form[action$='/clear'] button", &format!("/runs/{run}"));
    browser.wait_until("return document.body.innerText.includes('These drafts are final')", 10);
    let text = browser.text();
    assert!(text.contains("These drafts are final: cleared by every co-chair (chair), files frozen."), "{text}");
    shot("draft-final");
    browser.goto(&format!("{base}/log"));
    assert!(browser.text().contains("The chain is whole"), "{}", browser.text());
    shot("log");
}

#[test]
fn a_withdrawal_says_which_returns_no_longer_count_and_which_a_locked_cycle_keeps() {
    let site = Site::golden(1024 * 1024);
    let sec = site.login("secretariat");
    let r = site.post_form("/cycles/2012", Some(&sec), "action=lock&why=figures+agreed");
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = site.post_form("/members/IDN/withdraw", Some(&sec), "why=left+the+process");
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Still counted") && r.body.contains("Cycle 2012, locked"), "{}", r.body);
    assert!(r.body.contains(" 2011 (version ") && !r.body.contains(" 2012 (version "), "{}", r.body);
    // the returns page still shows the kept returns of 2012, and only those
    let page = site.get("/members/IDN/returns", Some(&sec)).body;
    assert!(page.contains(" 2012</a>: version") && !page.contains(" 2011</a>: version"), "{page}");
}

#[test]
fn the_secretariat_withdraws_a_member_with_a_reason_and_the_board_says_so() {
    let site = Site::golden(1024 * 1024);
    let sec = site.login("secretariat");
    let page = site.get("/members/IDN/returns", Some(&sec));
    assert!(page.body.contains("Withdraw the returns of IDN"), "{}", page.body);
    // no reason: refused, nothing written
    let before = site.contents();
    let r = site.post_form("/members/IDN/withdraw", Some(&sec), "why=");
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("say why: withdrawing a member&#x27;s returns"), "{}", r.body);
    assert_eq!(site.contents(), before);
    // a member that does not report
    let r = site.post_form("/members/XXX/withdraw", Some(&sec), "why=x");
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    // hostile text in the reason is kept as text
    let why = "IDN asked <script>alert(1)</script> that its figures not be used";
    let body = format!(
        "why={}",
        why.replace(' ', "+").replace('<', "%3C").replace('>', "%3E").replace('(', "%28").replace(')', "%29")
    );
    let r = site.post_form("/members/IDN/withdraw", Some(&sec), &body);
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("of IDN no longer count in a run") && !r.body.contains("Still counted"), "{}", r.body);
    let page = site.get("/members/IDN/returns", Some(&sec));
    assert!(page.body.contains("None yet.") && !page.body.contains("Withdraw the returns of IDN"), "{}", page.body);
    let board = site.get("/board?year=2012", Some(&sec)).body;
    assert!(board.contains("withdrawn"), "the board says withdrawn: {board}");
    let log = site.get("/log", Some(&sec)).body;
    assert!(log.contains("&lt;script&gt;") && !log.contains("<script>alert"), "{log}");
    // once is enough
    let r = site.post_form("/members/IDN/withdraw", Some(&sec), "why=again");
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("nothing to withdraw"), "{}", r.body);
}
