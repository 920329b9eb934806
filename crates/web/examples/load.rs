//! A load test of `fedreport serve` on loopback: 45 focal points at once,
//! each signing in, uploading a return, submitting it and polling its
//! receipt and its returns page, while the secretariat refreshes the
//! completeness board. Prints requests per second and p50/p99 latency per
//! kind of request, and checks in the lake that every upload has exactly
//! one receipt. Bounded: `--rounds` uploads per focal point, and it stops
//! with an error after `--max-secs`.
//!
//! Run by `bench/web_load.sh`, which builds the lake, adds the accounts,
//! starts the server and reads its peak memory.
//!
//! ```sh
//! cargo run --release -p fedreport-web --example load -- --base http://127.0.0.1:8080 --lake DIR --password P
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::http::{Request, StatusCode, header};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

type Http = Client<HttpConnector, Full<Bytes>>;

struct Args {
    base: String,
    lake: String,
    password: String,
    rounds: usize,
    rows: usize,
    max_secs: u64,
}

fn args() -> Args {
    let mut a = Args {
        base: String::new(),
        lake: String::new(),
        password: String::new(),
        rounds: 3,
        rows: 2000,
        max_secs: 600,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--base" => a.base = value(),
            "--lake" => a.lake = value(),
            "--password" => a.password = value(),
            "--rounds" => a.rounds = value().parse().expect("--rounds N"),
            "--rows" => a.rows = value().parse().expect("--rows N"),
            "--max-secs" => a.max_secs = value().parse().expect("--max-secs N"),
            other => panic!("unknown argument {other}; see the example's doc comment"),
        }
    }
    assert!(
        !a.base.is_empty() && !a.lake.is_empty() && !a.password.is_empty(),
        "--base, --lake and --password are needed"
    );
    a
}

/// One request: status, Location, Set-Cookie, body, and its time.
async fn call(http: &Http, req: Request<Full<Bytes>>) -> (StatusCode, String, Option<String>, Bytes, Duration) {
    let start = Instant::now();
    let r = http.request(req).await.expect("the server answers");
    let status = r.status();
    let location = r.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let cookie =
        r.headers().get(header::SET_COOKIE).map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
    let body = r.into_body().collect().await.expect("a whole body").to_bytes();
    (status, location, cookie, body, start.elapsed())
}

fn get(base: &str, path: &str, cookie: &str) -> Request<Full<Bytes>> {
    Request::get(format!("{base}{path}")).header(header::COOKIE, cookie).body(Full::default()).unwrap()
}

fn post(base: &str, path: &str, cookie: &str, kind: &str, body: Vec<u8>) -> Request<Full<Bytes>> {
    Request::post(format!("{base}{path}"))
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, kind)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

async fn login(http: &Http, base: &str, user: &str, password: &str) -> String {
    let form = format!("username={user}&password={}", password.replace(' ', "+"));
    let (status, _, cookie, _, _) =
        call(http, post(base, "/login", "", "application/x-www-form-urlencoded", form.into_bytes())).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{user} signs in");
    cookie.expect("a session cookie")
}

/// An enforcement return of `rows` cases for `member`, distinct per round.
fn return_file(member: &str, partner: &str, round: usize, rows: usize) -> Vec<u8> {
    let mut s = String::from(
        "reporting_member,reference_year,case_id,offence,furthest_stage,opened_date,suspects,persons_involved,cross_border_cooperation,partner_member\n",
    );
    for i in 0..rows {
        let (offence, stage) =
            if i % 3 == 0 { ("trafficking_in_persons", "investigation") } else { ("migrant_smuggling", "prosecution") };
        let coop = i % 4 == 0;
        s.push_str(&format!(
            "{member},2012,L{round}-{i},{offence},{stage},2012-{:02}-{:02},{},{},{coop},{}\n",
            1 + i % 12,
            1 + i % 28,
            1 + i % 5,
            1 + (i + round) % 40,
            if coop { partner } else { "" }
        ));
    }
    s.into_bytes()
}

fn multipart(name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----fedreport-load";
    let mut body =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\r\n")
            .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

type Timings = BTreeMap<&'static str, Vec<Duration>>;

async fn focal_point(http: Http, a: std::sync::Arc<Args>, member: String) -> (Timings, Vec<String>) {
    let mut t: Timings = BTreeMap::new();
    let user = format!("fp-{}", member.to_lowercase());
    let start = Instant::now();
    let cookie = login(&http, &a.base, &user, &a.password).await;
    t.entry("sign in").or_default().push(start.elapsed());
    let partner = if member == "AUS" { "NZL" } else { "AUS" };
    let mut receipts = Vec::new();
    for round in 0..a.rounds {
        let (kind, body) = multipart("enforcement_2012.csv", &return_file(&member, partner, round, a.rows));
        let (s, upload, _, _, d) =
            call(&http, post(&a.base, &format!("/members/{member}/uploads"), &cookie, &kind, body)).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{member} upload");
        t.entry("upload and check").or_default().push(d);
        let (s, _, _, page, d) = call(&http, get(&a.base, &upload, &cookie)).await;
        assert_eq!(s, StatusCode::OK);
        assert!(String::from_utf8_lossy(&page).contains("is a valid return"), "{member}: the return is valid");
        t.entry("findings page").or_default().push(d);
        let (s, receipt, _, _, d) = call(
            &http,
            post(&a.base, &format!("{upload}/submit"), &cookie, "application/x-www-form-urlencoded", Vec::new()),
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{member} submit");
        t.entry("submit and intake").or_default().push(d);
        receipts.push(receipt.rsplit('/').next().unwrap().to_string());
        for path in [receipt.clone(), format!("/members/{member}/returns")] {
            let (s, _, _, _, d) = call(&http, get(&a.base, &path, &cookie)).await;
            assert_eq!(s, StatusCode::OK);
            t.entry(if path.contains("/receipts/") { "receipt page" } else { "returns page" }).or_default().push(d);
        }
    }
    (t, receipts)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let a = std::sync::Arc::new(args());
    let http: Http = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(64).build_http();
    let forum = fedreport_forum::Forum::bali();
    let registry = forum.contract.registry();
    let members: Vec<String> =
        registry.members().filter(|m| registry.is_reporting_member(&m.code)).map(|m| m.code.clone()).collect();
    let started = Instant::now();
    let deadline = Duration::from_secs(a.max_secs);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // the secretariat refreshes the board until the focal points are done
    let board = {
        let (http, a, done) = (http.clone(), a.clone(), done.clone());
        tokio::spawn(async move {
            let cookie = login(&http, &a.base, "secretariat", &a.password).await;
            let mut t = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let (s, _, _, _, d) = call(&http, get(&a.base, "/board?year=2012", &cookie)).await;
                assert_eq!(s, StatusCode::OK);
                t.push(d);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            t
        })
    };
    let tasks: Vec<_> = members.iter().map(|m| tokio::spawn(focal_point(http.clone(), a.clone(), m.clone()))).collect();
    let mut timings: Timings = BTreeMap::new();
    let mut receipts = Vec::new();
    for task in tasks {
        let (t, r) = tokio::time::timeout(deadline.saturating_sub(started.elapsed()), task)
            .await
            .unwrap_or_else(|_| panic!("the load test ran over {} s", a.max_secs))
            .expect("a focal point's task");
        for (k, v) in t {
            timings.entry(k).or_default().extend(v);
        }
        receipts.extend(r);
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    timings.insert("board", board.await.expect("the secretariat's task"));
    let elapsed = started.elapsed().as_secs_f64();

    // every upload has exactly one receipt
    let lake = fedreport_store::Lake::open(&a.lake).expect("the lake");
    let stored = fedreport_store::receipt::list(&lake, None).await.expect("receipts");
    let mut per_id: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &stored {
        *per_id.entry(r.submission_id.as_str()).or_default() += 1;
    }
    let uploads = members.len() * a.rounds;
    assert_eq!(receipts.len(), uploads);
    for id in &receipts {
        assert_eq!(per_id.get(id.as_str()), Some(&1), "submission {id} has exactly one receipt");
    }
    let requests: usize = timings.values().map(Vec::len).sum();
    println!(
        "{} focal points × {} uploads of {} rows ({} uploads), secretariat refreshing the board",
        members.len(),
        a.rounds,
        a.rows,
        uploads
    );
    println!("{requests} requests in {elapsed:.1} s: {:.1} requests/s", requests as f64 / elapsed);
    println!("{:<20} {:>6} {:>9} {:>9}", "request", "count", "p50 ms", "p99 ms");
    for (kind, mut v) in timings {
        v.sort();
        println!("{kind:<20} {:>6} {:>9.1} {:>9.1}", v.len(), percentile(&v, 0.5), percentile(&v, 0.99));
    }
    println!("every one of the {uploads} uploads has exactly one receipt");
}
