//! Pipelines that run by themselves, in real `dynex-server` processes: two servers on one
//! database run each scheduled tick exactly once, a run whose server is killed is found
//! interrupted and the next run resumes from its cursor with nothing lost or repeated; a run
//! stops when asked to or past its timeout; health and `/metrics` tell an unhealthy pipeline.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use dynex_core::{Dynex, PipelineRun};
use dynex_test_support::{Backend, TestDb, all_rows, backend_tests, open_demo};
use serde_json::{Value, json};

use crate::oauth::Server;

backend_tests!(
    a_run_stops_when_asked_and_past_its_timeout,
    failing_and_overdue_pipelines_are_unhealthy,
);

/// Records per page of [`Feed`].
const PAGE: i64 = 10;

/// An HTTP API of numbered records `{"seq": n, "name": "Tick n"}`, of which `produced` exist:
/// `GET /records?since=S&after=A` answers the next [`PAGE`] records after the larger of `S`
/// and `A`, with `next` (the last one's number) when the page is full, each answer after
/// `delay`.
struct Feed {
    port: u16,
    produced: Arc<AtomicI64>,
    stop: Arc<AtomicBool>,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

impl Feed {
    fn start(delay: Duration) -> Feed {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
        let port = listener.local_addr().expect("its address").port();
        let produced = Arc::new(AtomicI64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (Arc::clone(&produced), Arc::clone(&stop));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut stream) = stream else { continue };
                let count = Arc::clone(&count);
                std::thread::spawn(move || {
                    let mut line = String::new();
                    let mut reader = BufReader::new(stream.try_clone().expect("a second handle"));
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    // The rest of the head.
                    let mut header = String::new();
                    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                        header.clear();
                    }
                    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let param = |name: &str| -> i64 {
                        target
                            .split_once('?')
                            .map(|(_, q)| q)
                            .unwrap_or("")
                            .split('&')
                            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0)
                    };
                    std::thread::sleep(delay);
                    let from = param("since").max(param("after"));
                    let last = (from + PAGE).min(count.load(Ordering::SeqCst));
                    let items: Vec<Value> = (from + 1..=last)
                        .map(|n| json!({ "seq": n, "name": format!("Tick {n}") }))
                        .collect();
                    let next = (items.len() as i64 == PAGE).then_some(last);
                    let body = json!({ "items": items, "next": next }).to_string();
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \
                         {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        Feed {
            port,
            produced,
            stop,
        }
    }

    /// A pipeline that copies the feed's records into the demo's tax sets, by name.
    fn pipeline(&self, name: &str, extra: &str) -> String {
        format!(
            "name: {name}
{extra}
source:
  http:
    url: http://127.0.0.1:{port}/records
    records: $.items[*]
    paginate:
      cursor: {{ param: after, path: $.next }}
    incremental: {{ cursor_param: since }}
incremental:
  cursor: $.seq
  ordered: true
map:
  fields:
    name: $.name
target:
  entity:
    entity: tax-sets
    mode: upsert
    key: name
",
            port = self.port
        )
    }
}

/// The runs of `pipeline`, oldest first.
fn runs(dynex: &Dynex, pipeline: &str) -> Vec<PipelineRun> {
    let mut runs = dynex.pipeline_runs(pipeline, 1000).expect("the runs");
    runs.reverse();
    runs
}

/// The tax sets named `Tick n`, by number.
fn ticks_written(dynex: &Dynex) -> Vec<i64> {
    let mut seqs: Vec<i64> = all_rows(dynex, "tax-sets")
        .iter()
        .filter_map(|r| r["name"].as_str()?.strip_prefix("Tick ")?.parse().ok())
        .collect();
    seqs.sort_unstable();
    seqs
}

/// Waits until `done` holds, for at most `limit`.
fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The minute boundary after `t` (Unix milliseconds).
fn next_minute(t: i64) -> i64 {
    (t / 60_000 + 1) * 60_000
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Two servers on one database and a pipeline scheduled every minute, for five minutes: each
/// tick is claimed once and runs once. At the third tick, the server running it is killed
/// mid-run (and started again); the next tick finds the run interrupted and resumes from its
/// last committed cursor, so that in the end every record was inserted exactly once.
///
/// The three backends run side by side, as the test mostly waits.
#[test]
fn two_servers_run_each_tick_once_and_resume_after_a_kill() {
    let backends = [Backend::Sqlite, Backend::Postgres, Backend::Mysql];
    let handles: Vec<_> = backends
        .into_iter()
        .filter_map(TestDb::new)
        .map(|db| {
            std::thread::Builder::new()
                .name(format!("{:?}", db.backend))
                .spawn(move || two_servers_on(db))
                .expect("a thread")
        })
        .collect();
    let mut failures = Vec::new();
    for handle in handles {
        let name = handle.thread().name().unwrap_or_default().to_string();
        if handle.join().is_err() {
            failures.push(name);
        }
    }
    assert!(failures.is_empty(), "failed on {failures:?}");
}

fn two_servers_on(db: TestDb) {
    let dynex = open_demo(&db);
    let feed = Feed::start(Duration::from_millis(700));
    // A record a second, from now on.
    let producing = Arc::new(AtomicBool::new(true));
    {
        let (produced, producing) = (Arc::clone(&feed.produced), Arc::clone(&producing));
        std::thread::spawn(move || {
            while producing.load(Ordering::SeqCst) {
                produced.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_secs(1));
            }
        });
    }
    // `ticker` runs after `ticker-first`, which has no schedule of its own: each tick runs
    // both, in that order.
    let out = tempfile::tempdir().expect("a folder");
    dynex
        .save_pipeline(
            "ticker-first",
            &format!(
                "name: ticker-first\nsource:\n  entity: {{ entity: countries }}\nmap:\n  fields:\n    \
                 iso2_code: $.iso2_code\ntarget:\n  csv: {{ file: \"{}\" }}\n",
                out.path().join("countries.csv").display()
            ),
        )
        .expect("save the dependency");
    dynex
        .save_pipeline(
            "ticker",
            &feed.pipeline(
                "ticker",
                "schedule: { cron: \"* * * * *\" }\nafter: [ticker-first]",
            ),
        )
        .expect("save the pipeline");
    let mut servers = [
        Server::start(&db.url, &[], &[]),
        Server::start(&db.url, &[], &[]),
    ];
    // The servers read schedules every 5 s: the first tick counted is one they both know.
    let first = next_minute(now_ms() + 10_000);
    let ticks: Vec<i64> = (0..6).map(|i| first + i * 60_000).collect();
    for (i, &tick) in ticks.iter().enumerate() {
        let run_of = |dynex: &Dynex| {
            runs(dynex, "ticker")
                .into_iter()
                .find(|r| r.options["trigger"] == "schedule" && started_ms(r) >= tick)
        };
        if i == 5 {
            // Nothing more after this tick's run: it must read every record.
            wait_for(Duration::from_secs(75), "the last tick", || {
                now_ms() >= tick - 5_000
            });
            producing.store(false, Ordering::SeqCst);
        }
        wait_for(Duration::from_secs(90), "the tick's run", || {
            run_of(&dynex).is_some()
        });
        if i == 2 {
            // Kill the server that runs it once it has committed a page, then start another.
            wait_for(Duration::from_secs(30), "a committed page", || {
                run_of(&dynex).is_some_and(|r| r.summary["pages"].as_u64() >= Some(2))
            });
            let run = run_of(&dynex).expect("the run");
            assert_eq!(run.state, "running", "{run:?}");
            let pid = run.options["owner"]["pid"]
                .as_u64()
                .expect("the owner's pid");
            let victim = servers
                .iter()
                .position(|s| u64::from(s.pid()) == pid)
                .expect("the run belongs to one of the servers");
            servers[victim].stop();
            servers[victim] = Server::start(&db.url, &[], &[]);
            continue;
        }
        wait_for(Duration::from_secs(50), "the tick's run to end", || {
            run_of(&dynex).is_some_and(|r| r.state != "running")
        });
    }
    // Each tick claimed once, each claim started one run, and no other scheduled run exists.
    // A tick before the first counted one may have run while the servers started.
    let last = ticks[ticks.len() - 1];
    let claims: Vec<(i64, String, Option<i64>)> = dynex
        .pipeline_ticks("ticker", first)
        .expect("the claimed ticks")
        .into_iter()
        .filter(|c| c.0 <= last)
        .collect();
    let due: Vec<i64> = claims.iter().map(|c| c.0).collect();
    assert_eq!(due, ticks, "{claims:?}");
    let all = runs(&dynex, "ticker");
    let scheduled: Vec<&PipelineRun> = all
        .iter()
        .filter(|r| {
            r.options["trigger"] == "schedule" && (first..last + 60_000).contains(&started_ms(r))
        })
        .collect();
    assert_eq!(scheduled.len(), ticks.len(), "{all:#?}");
    for (claim, run) in claims.iter().zip(&scheduled) {
        assert_eq!(claim.2, Some(run.id), "{claims:?} {all:#?}");
    }
    // Each scheduled run came after a successful run of its dependency in the same tick.
    let firsts = runs(&dynex, "ticker-first");
    for run in &scheduled {
        let tick = (started_ms(run) / 60_000) * 60_000;
        assert!(
            firsts.iter().any(|f| f.state == "succeeded"
                && f.options["trigger"] == "schedule"
                && (tick..=started_ms(run)).contains(&started_ms(f))),
            "no run of ticker-first before {run:#?} in {firsts:#?}"
        );
    }
    // The killed run was found interrupted; the next resumed from its committed cursor.
    let killed = scheduled[2];
    assert_eq!(killed.state, "interrupted", "{killed:#?}");
    assert!(
        killed
            .error
            .as_deref()
            .is_some_and(|e| e.contains("is gone")),
        "{killed:#?}"
    );
    let resumed = scheduled[3];
    assert_eq!(resumed.cursor_before, killed.cursor_after, "{all:#?}");
    for run in [
        &scheduled[0],
        &scheduled[1],
        &scheduled[3],
        &scheduled[4],
        &scheduled[5],
    ] {
        assert_eq!(run.state, "succeeded", "{run:#?}");
    }
    // Every record once: inserted exactly once over all runs, never updated.
    let produced = feed.produced.load(Ordering::SeqCst);
    assert_eq!(ticks_written(&dynex), (1..=produced).collect::<Vec<_>>());
    let inserted: u64 = all
        .iter()
        .map(|r| r.summary["inserted"].as_u64().unwrap_or(0))
        .sum();
    let updated: u64 = all
        .iter()
        .map(|r| r.summary["updated"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(inserted, produced as u64, "{all:#?}");
    assert_eq!(updated, 0, "{all:#?}");
}

fn started_ms(run: &PipelineRun) -> i64 {
    chrono::DateTime::parse_from_rfc3339(&run.started_at)
        .map(|t| t.timestamp_millis())
        .unwrap_or(0)
}

/// An admin API key of `dynex`.
fn admin_key(dynex: &Dynex) -> String {
    dynex
        .create_api_key("pipelines-admin", &[dynex_auth::Scope::Admin], None)
        .expect("an admin key")
        .key
}

fn call(method: &str, url: &str, key: &str) -> (u16, Value) {
    let answer = ureq::request(method, url).set("X-Api-Key", key).call();
    let response = match answer {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A run started from the admin API stops between two pages when asked to (its server sees
/// the request within a second), and another stops once its timeout has passed; both keep
/// what they committed and are recorded as failed with the reason.
fn a_run_stops_when_asked_and_past_its_timeout(db: TestDb) {
    let dynex = open_demo(&db);
    let key = admin_key(&dynex);
    let feed = Feed::start(Duration::from_millis(400));
    feed.produced.store(1000, Ordering::SeqCst);
    dynex
        .save_pipeline("slow", &feed.pipeline("slow", ""))
        .expect("save");
    dynex
        .save_pipeline("short", &feed.pipeline("short", "timeout: 2"))
        .expect("save");
    let server = Server::start(&db.url, &["--scheduler", "off"], &[]);
    let (status, body) = call(
        "POST",
        &format!("{}/admin/api/pipelines/slow/run", server.base),
        &key,
    );
    assert_eq!(status, 202, "{body}");
    let id = body["data"]["run"].as_i64().expect("the run's id");
    // A second start while it runs is refused.
    let (status, body) = call(
        "POST",
        &format!("{}/admin/api/pipelines/slow/run", server.base),
        &key,
    );
    assert_eq!(status, 409, "{body}");
    wait_for(Duration::from_secs(20), "a page", || {
        runs(&dynex, "slow")
            .last()
            .is_some_and(|r| r.summary["pages"].as_u64() >= Some(1))
    });
    let (status, body) = call(
        "POST",
        &format!("{}/admin/api/pipelines/slow/stop", server.base),
        &key,
    );
    assert_eq!(
        (status, body["data"]["run"].as_i64()),
        (202, Some(id)),
        "{body}"
    );
    wait_for(Duration::from_secs(10), "the stop", || {
        runs(&dynex, "slow")
            .last()
            .is_some_and(|r| r.state != "running")
    });
    let stopped = runs(&dynex, "slow").pop().expect("the run");
    assert_eq!(stopped.state, "failed", "{stopped:#?}");
    assert!(
        stopped
            .error
            .as_deref()
            .is_some_and(|e| e.contains("asked the run to stop")),
        "{stopped:#?}"
    );
    let pages = stopped.summary["pages"].as_u64().unwrap_or(0);
    assert!((1..100).contains(&pages), "{stopped:#?}");
    // What it committed stays.
    assert_eq!(
        ticks_written(&dynex).len() as u64,
        stopped.summary["inserted"].as_u64().unwrap_or(0)
    );
    let (status, _) = call(
        "POST",
        &format!("{}/admin/api/pipelines/short/run", server.base),
        &key,
    );
    assert_eq!(status, 202);
    wait_for(Duration::from_secs(20), "the timeout", || {
        runs(&dynex, "short")
            .last()
            .is_some_and(|r| r.state != "running")
    });
    let timed_out = runs(&dynex, "short").pop().expect("the run");
    assert_eq!(timed_out.state, "failed", "{timed_out:#?}");
    assert!(
        timed_out
            .error
            .as_deref()
            .is_some_and(|e| e.contains("longer than its timeout of 2 s")),
        "{timed_out:#?}"
    );
    // Nobody runs: stopping answers no run; an unknown pipeline is 404.
    let (status, body) = call(
        "POST",
        &format!("{}/admin/api/pipelines/slow/stop", server.base),
        &key,
    );
    assert_eq!((status, body["data"]["run"].clone()), (202, Value::Null));
    let (status, _) = call(
        "POST",
        &format!("{}/admin/api/pipelines/nope/run", server.base),
        &key,
    );
    assert_eq!(status, 404);
}

/// Three failed runs in a row make a pipeline unhealthy, as does a schedule it has not met;
/// the admin route answers 503 then, and `/metrics` reports the gauges.
fn failing_and_overdue_pipelines_are_unhealthy(db: TestDb) {
    let dynex = open_demo(&db);
    let key = admin_key(&dynex);
    let feed = Feed::start(Duration::ZERO);
    feed.produced.store(5, Ordering::SeqCst);
    dynex
        .save_pipeline("fine", &feed.pipeline("fine", ""))
        .expect("save");
    // A closed port: every run fails.
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let failing = feed
        .pipeline("failing", "")
        .replace(&format!(":{}/", feed.port), &format!(":{closed}/"))
        // Failing fast: no retries.
        .replace(
            "records: $.items[*]",
            "records: $.items[*]\n    retry: { attempts: 1 }",
        );
    dynex.save_pipeline("failing", &failing).expect("save");
    let server = Server::start(&db.url, &["--scheduler", "off"], &[]);
    let health = |name: &str| {
        let (status, body) = call(
            "GET",
            &format!("{}/admin/api/pipelines/{name}/health", server.base),
            &key,
        );
        assert_eq!(status, 200, "{body}");
        body["data"].clone()
    };
    let run_once = |name: &str| {
        let (status, body) = call(
            "POST",
            &format!("{}/admin/api/pipelines/{name}/run", server.base),
            &key,
        );
        assert_eq!(status, 202, "{body}");
        let id = body["data"]["run"].as_i64().expect("an id");
        wait_for(Duration::from_secs(30), "the run", || {
            runs(&dynex, name)
                .iter()
                .any(|r| r.id == id && r.state != "running")
        });
    };
    run_once("fine");
    for i in 1..=3 {
        run_once("failing");
        let h = health("failing");
        assert_eq!(h["consecutiveFailures"], i, "{h}");
        assert_eq!(h["healthy"], i < 3, "{h}");
    }
    let h = health("failing");
    assert_eq!(h["problems"][0], "the last 3 runs failed", "{h}");
    assert_eq!(h["lastRun"]["state"], "failed", "{h}");
    let h = health("fine");
    assert_eq!(
        (h["healthy"].clone(), h["recordsLastRun"].clone()),
        (json!(true), json!(5)),
        "{h}"
    );
    let (status, body) = call(
        "GET",
        &format!("{}/admin/api/pipelines/health", server.base),
        &key,
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["data"]["healthy"], false);
    // A success resets the count.
    let fixed = failing.replace(&format!(":{closed}/"), &format!(":{}/", feed.port));
    dynex.save_pipeline("failing", &fixed).expect("save");
    run_once("failing");
    assert_eq!(health("failing")["healthy"], true);
    let (status, body) = call("GET", &format!("{}/admin/api/pipelines", server.base), &key);
    assert_eq!(
        (status, body["data"]["healthy"].clone()),
        (200, json!(true)),
        "{body}"
    );
    // Scheduled hourly, and saved three hours ago without a run since: overdue.
    let hourly = feed.pipeline(
        "hourly",
        "schedule: { cron: \"0 * * * *\", timezone: Europe/Berlin }",
    );
    dynex.save_pipeline("hourly", &hourly).expect("save");
    dynex_test_support::run_sql(
        &dynex,
        &format!(
            "UPDATE dynex_pipeline SET updated_at_ms = {} WHERE name = 'hourly'",
            now_ms() - 3 * 3_600_000
        ),
    );
    let h = health("hourly");
    assert_eq!(
        (h["stale"].clone(), h["healthy"].clone()),
        (json!(true), json!(false)),
        "{h}"
    );
    assert!(
        h["nextRunAt"]
            .as_str()
            .is_some_and(|t| t.ends_with(":00:00.000Z")),
        "{h}"
    );
    // /metrics: runs and records this server ran, and the health of every pipeline.
    let text = ureq::get(&format!("{}/metrics", server.base))
        .call()
        .expect("metrics")
        .into_string()
        .expect("text");
    for line in [
        "dynex_pipeline_runs_total{pipeline=\"failing\",state=\"failed\"} 3",
        "dynex_pipeline_runs_total{pipeline=\"failing\",state=\"succeeded\"} 1",
        "dynex_pipeline_records_total{pipeline=\"fine\",result=\"inserted\"} 5",
        "dynex_pipeline_healthy{pipeline=\"hourly\"} 0",
        "dynex_pipeline_healthy{pipeline=\"fine\"} 1",
        "dynex_pipeline_consecutive_failures{pipeline=\"failing\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
    }
}
