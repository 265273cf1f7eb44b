//! Faults of the database under a running app: sessions the database ends, a database that
//! refuses connections, statements past the statement timeout, a SQLite file locked by another
//! process.
//!
//! Sessions and statement timeouts exist on the database servers only, the writer lock on
//! SQLite only; each test names the backends it runs on.

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use dynex_core::db::run_script;
use dynex_core::{Db, DbOptions, Dynex, Options};
use dynex_test_support::{Backend, TestDb, open_demo_with};
use futures_util::future::join_all;
use serde_json::json;

use crate::support::{Reply, TestApp};

/// The name of the test's database: the last segment of its URL.
fn database_name(db: &TestDb) -> String {
    let path = db.url.split('?').next().unwrap_or(&db.url);
    path.rsplit('/')
        .next()
        .expect("a database name")
        .to_string()
}

/// The server URL of `backend` from the test environment (the admin connection).
fn admin_url(backend: Backend) -> String {
    let var = match backend {
        Backend::Postgres => "DYNEX_TEST_POSTGRES_URL",
        Backend::Mysql => "DYNEX_TEST_MYSQL_URL",
        Backend::Sqlite => unreachable!("SQLite has no server"),
    };
    std::env::var(var).expect("the server's URL")
}

/// The test database, opened as `user` (MariaDB) or as the test's own role (PostgreSQL), with a
/// small pool and short timeouts so that faults show within a test's patience.
struct Served {
    dynex: Dynex,
    app: TestApp,
    key: String,
    admin: Db,
    name: String,
    backend: Backend,
}

impl Served {
    async fn new(db: &TestDb, statement_timeout: Option<Duration>) -> Served {
        let name = database_name(db);
        let admin = Db::connect(&admin_url(db.backend), 2).expect("admin connection");
        let options = Options {
            db: DbOptions {
                pool_size: 4,
                connection_timeout: Duration::from_secs(2),
                statement_timeout,
                ..DbOptions::default()
            },
            ..Options::default()
        };
        // The demo is loaded over the test's URL; the app is served by the same handle, except
        // on MariaDB, where a user of its own lets the test lock it out and kill its sessions.
        let demo = open_demo_with(db, options.clone());
        let dynex = match db.backend {
            Backend::Mysql => {
                let user = format!("u{}", &name[name.len() - 12..]);
                run_script(
                    &mut admin.conn().expect("admin"),
                    &format!(
                        "CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-{user}';\n\
                         GRANT ALL PRIVILEGES ON {name}.* TO '{user}'@'%'"
                    ),
                )
                .expect("create the test's user");
                drop(demo);
                let url = db
                    .url
                    .replacen("://root@", &format!("://{user}:pw-{user}@"), 1);
                assert_ne!(url, db.url, "the test URL names root: {}", db.url);
                Dynex::open_with(
                    &url,
                    Options {
                        watch_interval: None,
                        ..options
                    },
                )
                .expect("open as the test's user")
            }
            _ => demo,
        };
        let key = dynex.create_api_key("faults", &[], None).expect("key").key;
        let app = TestApp::new(dynex.clone()).await;
        Served {
            dynex,
            app,
            key,
            admin,
            name,
            backend: db.backend,
        }
    }

    fn user(&self) -> String {
        format!("u{}", &self.name[self.name.len() - 12..])
    }

    /// Ends every session of the app's database, as a restart or a failover does.
    fn terminate_sessions(&self) {
        let sql = match self.backend {
            Backend::Postgres => format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{}' AND pid <> pg_backend_pid()",
                self.name
            ),
            _ => format!("KILL CONNECTION USER '{}'", self.user()),
        };
        run_script(&mut self.admin.conn().expect("admin"), &sql).expect("end the sessions");
    }

    /// Makes the database refuse new connections (`false`) or accept them again (`true`).
    fn accept_connections(&self, accept: bool) {
        let sql = match self.backend {
            Backend::Postgres => {
                format!("ALTER DATABASE {} ALLOW_CONNECTIONS {accept}", self.name)
            }
            _ => format!(
                "ALTER USER '{}'@'%' ACCOUNT {}",
                self.user(),
                if accept { "UNLOCK" } else { "LOCK" }
            ),
        };
        run_script(&mut self.admin.conn().expect("admin"), &sql).expect("lock or unlock");
    }

    /// Sixteen reads at once and a PATCH: every connection of the pool open and used.
    async fn load(&self) -> Vec<Reply> {
        let paths: Vec<String> = (0..16)
            .map(|i| format!("countries?page[limit]=5&page[offset]={i}"))
            .collect();
        let mut replies = join_all(paths.iter().map(|p| self.app.api(p, &self.key))).await;
        replies.push(
            self.app
                .patch(
                    "countries/1",
                    &self.key,
                    &json!({"data": {"name": "Austria"}}),
                )
                .await,
        );
        replies
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.accept_connections(true);
        if self.backend == Backend::Mysql {
            let _ = run_script(
                &mut self.admin.conn().expect("admin"),
                &format!("DROP USER IF EXISTS '{}'@'%'", self.user()),
            );
        }
    }
}

/// A reply that is a success or the retryable `503`/`1390`, never a `500`.
fn ok_or_unavailable(reply: &Reply) -> bool {
    if reply.status.is_success() {
        return true;
    }
    reply.assert_error(503, "1390");
    false
}

/// Sessions the database ended under load are replaced: at most one request per pooled session
/// sees `503`/`1390` (never `500`), and service resumes by itself.
async fn lost_sessions_are_replaced(db: TestDb) {
    let s = Served::new(&db, None).await;
    for reply in s.load().await {
        assert!(reply.status.is_success(), "{reply:?}");
    }
    s.terminate_sessions();
    let started = Instant::now();
    let mut failed = 0;
    let recovered = loop {
        let replies = s.load().await;
        let ok = replies.iter().filter(|r| ok_or_unavailable(r)).count();
        failed += replies.len() - ok;
        if ok == replies.len() {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no recovery after 10 s"
        );
    };
    assert!(
        failed <= 4,
        "{failed} requests failed; the pool holds 4 sessions"
    );
    eprintln!("recovered in {recovered:?} after {failed} failed requests");
    let ready = s.app.get("/health/ready", "").await;
    assert_eq!(ready.status, StatusCode::OK, "{ready:?}");
}

/// While the database refuses connections every route answers `503`/`1390` within the pool
/// timeout, readiness too, and service resumes when it accepts them again.
async fn an_unreachable_database_is_503_until_it_returns(db: TestDb) {
    let s = Served::new(&db, None).await;
    s.load().await;
    s.accept_connections(false);
    s.terminate_sessions();
    for _ in 0..2 {
        let started = Instant::now();
        s.app
            .api("countries?page[limit]=1", &s.key)
            .await
            .assert_error(503, "1390");
        assert!(started.elapsed() < Duration::from_secs(5));
        s.app
            .get("/health/ready", "")
            .await
            .assert_error(503, "1390");
        s.app
            .patch("countries/1", &s.key, &json!({"data": {"name": "X"}}))
            .await
            .assert_error(503, "1390");
    }
    assert_eq!(s.app.get("/health/live", "").await.status, StatusCode::OK);
    s.accept_connections(true);
    let started = Instant::now();
    for reply in s.load().await {
        assert!(reply.status.is_success(), "{reply:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(s.app.get("/health/ready", "").await.status, StatusCode::OK);
    let austria = s.dynex.read_one("countries", "1", &[], None).expect("read");
    assert_eq!(
        austria["name"], "Austria",
        "the refused PATCH changed nothing"
    );
}

/// A read that waits on another session's lock past the statement timeout is cancelled by the
/// database and answered `503`/`1392`; the session stays usable.
async fn statements_past_the_timeout_are_cancelled(db: TestDb) {
    let s = Served::new(&db, Some(Duration::from_millis(500))).await;
    let other = Db::connect(&db.url, 2).expect("a second connection");
    let lock = match s.backend {
        Backend::Postgres => "BEGIN;\nLOCK TABLE spy_country IN ACCESS EXCLUSIVE MODE",
        _ => "LOCK TABLES spy_country WRITE",
    };
    let mut holder = other.conn().expect("a connection");
    run_script(&mut holder, lock).expect("lock the table");
    let started = Instant::now();
    let reply = s.app.api("countries?page[limit]=1", &s.key).await;
    reply.assert_error(503, "1392");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(3),
        "cancelled after {waited:?}"
    );
    let release = match s.backend {
        Backend::Postgres => "ROLLBACK",
        _ => "UNLOCK TABLES",
    };
    run_script(&mut holder, release).expect("release");
    for reply in s.load().await {
        assert!(reply.status.is_success(), "{reply:?}");
    }
}

/// Statements of the app's sessions waiting on a lock now.
fn waiting_on_a_lock(s: &Served) -> u64 {
    let mut sql = dynex_query::Sql::default();
    match s.backend {
        Backend::Postgres => sql.push(&format!(
            "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = '{}' \
             AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
            s.name
        )),
        _ => sql.push(&format!(
            "SELECT COUNT(*) AS n FROM information_schema.processlist \
             WHERE user = '{}' AND state LIKE 'Waiting for table%'",
            s.user()
        )),
    };
    dynex_core::db::load_count(&mut s.admin.conn().expect("admin"), &sql).expect("count")
}

/// A request whose client goes away while its read waits on a lock: the statement is cancelled
/// on the database within a second, long before the statement timeout, and the pool serves on.
async fn statements_of_a_client_that_left_are_cancelled(db: TestDb) {
    use std::io::Write;
    let s = Served::new(&db, Some(Duration::from_secs(30))).await;
    let other = Db::connect(&db.url, 2).expect("a second connection");
    let mut holder = other.conn().expect("a connection");
    let lock = match s.backend {
        Backend::Postgres => "BEGIN;\nLOCK TABLE spy_country IN ACCESS EXCLUSIVE MODE",
        _ => "LOCK TABLES spy_country WRITE",
    };
    run_script(&mut holder, lock).expect("lock the table");

    let server = crate::support::LiveServer::start(&s.dynex);
    let port = server.port();

    let key = s.key.clone();
    let client = std::thread::spawn(move || {
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        write!(
            tcp,
            "GET /dynamic-entity/countries?page[limit]=1 HTTP/1.1\r\n\
             Host: localhost\r\nX-Api-Key: {key}\r\n\r\n"
        )
        .expect("send the request");
        tcp
    })
    .join()
    .expect("the client");
    let started = Instant::now();
    while waiting_on_a_lock(&s) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the request never waited on the lock"
        );
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    drop(client);
    let left = Instant::now();
    while waiting_on_a_lock(&s) > 0 {
        assert!(
            left.elapsed() < Duration::from_secs(3),
            "the statement still runs {:?} after its client left",
            left.elapsed()
        );
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("cancelled {:?} after the client left", left.elapsed());
    let release = match s.backend {
        Backend::Postgres => "ROLLBACK",
        _ => "UNLOCK TABLES",
    };
    run_script(&mut holder, release).expect("release");
    for reply in s.load().await {
        assert!(reply.status.is_success(), "{reply:?}");
    }
    drop(server);
}

macro_rules! server_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[actix_rt::test]
            async fn postgres() {
                let db = dynex_test_support::TestDb::new(dynex_test_support::Backend::Postgres);
                if let Some(db) = db {
                    super::$name(db).await;
                }
            }
            #[actix_rt::test]
            async fn mysql() {
                let db = dynex_test_support::TestDb::new(dynex_test_support::Backend::Mysql);
                if let Some(db) = db {
                    super::$name(db).await;
                }
            }
        }
    )*};
}

server_tests!(
    lost_sessions_are_replaced,
    an_unreachable_database_is_503_until_it_returns,
    statements_past_the_timeout_are_cancelled,
    statements_of_a_client_that_left_are_cancelled,
);

/// A SQLite file another process holds the write lock of: a write waits the busy timeout, is
/// retried, and answers `503`/`1390` with nothing written if the lock outlasts every attempt; a
/// lock released in time costs only the wait.
#[actix_rt::test]
async fn sqlite_writes_wait_for_another_process_then_answer_busy() {
    let db = TestDb::sqlite();
    let dynex = open_demo_with(
        &db,
        Options {
            db: DbOptions {
                sqlite_busy_timeout: Duration::from_millis(100),
                ..DbOptions::default()
            },
            ..Options::default()
        },
    );
    let key = dynex.create_api_key("busy", &[], None).expect("key").key;
    let app = TestApp::new(dynex.clone()).await;
    let other = Db::connect(&db.url, 2).expect("another process's connection");
    let hold = |for_ms: u64| {
        let other = other.clone();
        let (locked, is_locked) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            let mut conn = other.conn().expect("a connection");
            run_script(&mut conn, "BEGIN IMMEDIATE").expect("take the write lock");
            locked.send(()).expect("tell");
            std::thread::sleep(Duration::from_millis(for_ms));
            run_script(&mut conn, "ROLLBACK").expect("release");
        });
        is_locked.recv().expect("locked");
        holder
    };
    let body = json!({"data": [{"iso2_code": "Q1", "iso3_code": "QQ1", "name": "Q1"}]});

    let holder = hold(3000);
    let started = Instant::now();
    let reply = app.post("countries", &key, &body).await;
    let message = reply.assert_error(503, "1390");
    assert!(message.contains("busy"), "{message}");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "retried: {:?}",
        started.elapsed()
    );
    holder.join().expect("holder");
    let found = app
        .api("countries?filter[countries.iso2_code]=Q1", &key)
        .await;
    assert!(found.rows().is_empty(), "nothing written: {found:?}");

    let holder = hold(250);
    let reply = app.post("countries", &key, &body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    holder.join().expect("holder");
}
