//! Test support: every test gets its own fresh database on SQLite, PostgreSQL and MariaDB.
//!
//! SQLite runs everywhere. PostgreSQL and MariaDB run when `DYNEX_TEST_POSTGRES_URL` and
//! `DYNEX_TEST_MYSQL_URL` name a server (a database on it is used to create and drop one database
//! per test); with `DYNEX_TEST_REQUIRE_ALL=1` (set by CI) a missing URL fails the test instead of
//! skipping it, so no backend is ever skipped silently.
//!
//! The fixtures the server's and the CLI's tests share live here too: the demo catalog and the
//! ways tests change it ([`open_demo`], [`reconfigure`]), the demo's rows as the API returns them
//! ([`country`], [`tax_rate`]), assertions on the wire format of errors ([`assert_error`]), and
//! servers of other systems: PocketBase ([`PocketBase`]) and an Akeneo PIM ([`AkeneoServer`]).

mod akeneo;
mod csv;
mod demo;
mod pocketbase;
mod rows;
mod wire;

use dynex_core::{Db, db::run_script};
use rand::Rng;

pub use akeneo::{
    AKENEO_CLIENT_ID, AKENEO_CLIENT_SECRET, AKENEO_MODELS, AKENEO_PASSWORD, AKENEO_SIMPLE_PRODUCTS,
    AKENEO_USERNAME, AKENEO_VARIANTS_PER_MODEL, AkeneoCatalog, AkeneoServer, akeneo_time,
};
pub use csv::csv_line;
pub use demo::{
    all_rows, config_field, open_demo, open_demo_with, reconfigure, run_sql, write_file,
};
pub use pocketbase::{
    POCKETBASE_ADMIN, POCKETBASE_PASSWORD, POCKETBASE_VERSION, PocketBase, pocketbase_bin,
};
pub use rows::{COUNTRY_FIELDS, countries, country, country_with_rates, ids, tax_rate, tax_rates};
pub use wire::{assert_error, assert_persist_message, code, error_list};

/// The backends a test can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite in a temporary directory.
    Sqlite,
    /// A fresh database on the PostgreSQL server of `DYNEX_TEST_POSTGRES_URL`.
    Postgres,
    /// A fresh database on the MariaDB/MySQL server of `DYNEX_TEST_MYSQL_URL`.
    Mysql,
}

/// A database that exists for one test and is dropped after it.
pub struct TestDb {
    /// The URL to open it with.
    pub url: String,
    /// Its backend.
    pub backend: Backend,
    admin: Option<(Db, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb").field("url", &self.url).finish()
    }
}

fn required() -> bool {
    std::env::var("DYNEX_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

fn server_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if required() => panic!("{var} is not set and DYNEX_TEST_REQUIRE_ALL=1"),
        _ => {
            eprintln!("skipped: {var} is not set");
            None
        }
    }
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl TestDb {
    /// A fresh database on `backend`, or `None` when that backend is not configured here.
    pub fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => Some(TestDb::sqlite()),
            Backend::Postgres => {
                let url = server_url("DYNEX_TEST_POSTGRES_URL")?;
                Some(TestDb::on_server(backend, &url))
            }
            Backend::Mysql => {
                let url = server_url("DYNEX_TEST_MYSQL_URL")?;
                Some(TestDb::on_server(backend, &url))
            }
        }
    }

    /// A fresh SQLite database in a temporary directory.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        TestDb {
            url,
            backend: Backend::Sqlite,
            admin: None,
            _dir: Some(dir),
        }
    }

    fn on_server(backend: Backend, admin_url: &str) -> TestDb {
        let name = format!("dynex_t_{:016x}", rand::rng().random::<u64>());
        let admin = Db::connect(admin_url, 2)
            .unwrap_or_else(|e| panic!("{backend:?} test server unreachable: {e}"));
        let create = match backend {
            Backend::Mysql => {
                format!("CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            }
            _ => format!("CREATE DATABASE {name}"),
        };
        run_script(&mut admin.conn().expect("admin connection"), &create)
            .unwrap_or_else(|e| panic!("cannot create {name}: {e}"));
        TestDb {
            url: with_database(admin_url, &name),
            backend,
            admin: Some((admin, name)),
            _dir: None,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.admin {
            let drop = match self.backend {
                Backend::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                _ => format!("DROP DATABASE IF EXISTS {name}"),
            };
            if let Ok(mut conn) = admin.conn() {
                let _ = run_script(&mut conn, &drop);
            }
        }
    }
}

/// Declares, for each named `fn name(db: TestDb)`, a module `name` with one test per backend.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::TestDb::sqlite());
            }
            #[test]
            fn postgres() {
                if let Some(db) = $crate::TestDb::new($crate::Backend::Postgres) {
                    super::$name(db);
                }
            }
            #[test]
            fn mysql() {
                if let Some(db) = $crate::TestDb::new($crate::Backend::Mysql) {
                    super::$name(db);
                }
            }
        }
    )*};
}

/// Like [`backend_tests!`] for `async fn name(db: TestDb)`, run on actix's runtime.
#[macro_export]
macro_rules! async_backend_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[::actix_rt::test]
            async fn sqlite() {
                super::$name($crate::TestDb::sqlite()).await;
            }
            #[::actix_rt::test]
            async fn postgres() {
                if let Some(db) = $crate::TestDb::new($crate::Backend::Postgres) {
                    super::$name(db).await;
                }
            }
            #[::actix_rt::test]
            async fn mysql() {
                if let Some(db) = $crate::TestDb::new($crate::Backend::Mysql) {
                    super::$name(db).await;
                }
            }
        }
    )*};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_replace_the_path() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("mysql://root@h:3306", "x"),
            "mysql://root@h:3306/x"
        );
        assert_eq!(
            with_database("postgres://h/db?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }
}
