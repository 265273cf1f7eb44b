//! The demo catalog in a test database, and the ways tests read, change and extend it.
//!
//! The server's and the CLI's tests start from the same demo data, so opening it, reading every
//! row of an entity, changing an entity's stored configuration and running SQL next to it live
//! here once.

use dynex_core::{Dynex, Options};
use serde_json::{Value, json};

use crate::{Backend, TestDb};

/// Opens `db` without a background watcher and loads the demo catalog.
pub fn open_demo(db: &TestDb) -> Dynex {
    open_demo_with(db, Options::default())
}

/// Opens `db` with `options` but without a background watcher, and loads the demo catalog.
///
/// Tests refresh explicitly where they need to, so a watcher would only make them racy.
pub fn open_demo_with(db: &TestDb, options: Options) -> Dynex {
    let dynex = Dynex::open_with(
        &db.url,
        Options {
            watch_interval: None,
            ..options
        },
    )
    .expect("open the test database");
    assert!(
        dynex.load_demo().expect("load the demo"),
        "demo loaded once"
    );
    dynex
}

/// Every row of `alias`, in identifier order, read page by page through the API's reader.
pub fn all_rows(dynex: &Dynex, alias: &str) -> Vec<Value> {
    const PAGE: usize = 1000;
    let mut all = Vec::new();
    loop {
        let page = dynex
            .read_collection(
                alias,
                &[
                    ("page[limit]".into(), PAGE.to_string()),
                    ("page[offset]".into(), all.len().to_string()),
                ],
                None,
            )
            .unwrap_or_else(|e| panic!("read {alias}: {e}"))
            .rows;
        let last = page.len() < PAGE;
        all.extend(page);
        if last {
            return all;
        }
    }
}

/// Runs an SQL script (statements separated by `;`) on `dynex`'s database.
pub fn run_sql(dynex: &Dynex, script: &str) {
    let mut conn = dynex.db().conn().expect("a connection");
    dynex_core::db::run_script(&mut conn, script).unwrap_or_else(|e| panic!("run {script}: {e}"));
}

impl TestDb {
    /// The column definition of an auto-increment integer primary key `id` on this backend,
    /// for tables a test creates next to the demo's.
    pub fn id_column(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "id INTEGER PRIMARY KEY",
            Backend::Postgres => "id SERIAL PRIMARY KEY",
            Backend::Mysql => "id INT AUTO_INCREMENT PRIMARY KEY",
        }
    }
}

/// Changes the stored configuration of `alias` with `change` (on its installer JSON) and
/// stores it again; the change applies to the next request.
pub fn reconfigure(dynex: &Dynex, alias: &str, change: impl FnOnce(&mut Value)) {
    let configs = dynex
        .export_configuration(&[alias.to_string()])
        .expect("export the configuration");
    let mut json = serde_json::to_value(&configs[0]).expect("configuration as JSON");
    change(&mut json);
    dynex
        .import_configuration(&json.to_string())
        .expect("import the changed configuration");
}

/// The field with this visible name in an entity's installer JSON.
pub fn config_field<'a>(config: &'a mut Value, visible: &str) -> &'a mut Value {
    config["definition"]["fields"]
        .as_array_mut()
        .expect("fields")
        .iter_mut()
        .find(|f| f["fieldVisibleName"] == json!(visible))
        .unwrap_or_else(|| panic!("no field `{visible}`"))
}

/// Writes `bytes` to `name` under `dir` (creating folders) and returns its path as text.
pub fn write_file(dir: &std::path::Path, name: &str, bytes: impl AsRef<[u8]>) -> String {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create the folders");
    }
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path.to_str().expect("a UTF-8 path").to_string()
}
