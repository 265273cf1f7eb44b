//! Log lines: `env_logger`'s text by default, or with `--log-format json` one JSON object per
//! line, with the record's fields (the access log's request id, method, path, status…) as
//! members, for log shippers that read JSON.
//!
//! `env_logger` filters (`RUST_LOG`); the lines are written here. Access lines go to stderr in
//! batches: at most [`FLUSH_EVERY`] after they were logged, or when [`FLUSH_BYTES`] have
//! gathered. Written through `env_logger`, one `write` each, they cost a GET by id 26,000
//! instructions and about a sixth of its throughput. Every other line (a warning, an error, a
//! start-up message) is written at once, after the access lines before it, and so are the
//! waiting ones when the process panics or the server stops.

use std::cell::RefCell;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use log::kv::{Key, Value, VisitSource};
use serde_json::{Map, Value as Json};

use crate::config::LogFormat;
use crate::observe::ACCESS_LOG;

/// The longest an access line waits to be written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// The bytes of waiting lines that are written without waiting for [`FLUSH_EVERY`].
pub const FLUSH_BYTES: usize = 32 * 1024;

/// Sets up the process's logger: the level from `RUST_LOG` (`info` by default), the lines in
/// `format`. Call once, before anything logs.
pub fn init(format: LogFormat) {
    let filter =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).build();
    log::set_max_level(filter.filter());
    let colour = format == LogFormat::Text
        && std::env::var_os("NO_COLOR").is_none()
        && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logger = Batching {
        filter,
        format,
        colour,
    };
    if log::set_boxed_logger(Box::new(logger)).is_err() {
        return;
    }
    std::thread::Builder::new()
        .name("log-flush".into())
        .spawn(|| {
            loop {
                std::thread::sleep(FLUSH_EVERY);
                WAITING.flush();
            }
        })
        .ok();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        WAITING.flush();
        previous(info);
    }));
}

/// Writes the waiting access lines now (the server calls it when it stops).
pub fn flush() {
    WAITING.flush();
}

/// Filters with `env_logger`, formats, and holds access lines back (see the module
/// documentation).
struct Batching {
    filter: env_logger::Logger,
    format: LogFormat,
    /// Level names in colour, as `env_logger` writes them on a terminal.
    colour: bool,
}

thread_local! {
    /// The line being formatted, kept to save an allocation per line.
    static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl log::Log for Batching {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.filter.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.filter.matches(record) {
            return;
        }
        let access = record.level() == log::Level::Info && record.target() == ACCESS_LOG;
        let write = |line: &mut Vec<u8>| {
            line.clear();
            match self.format {
                LogFormat::Text => text_line(line, record, self.colour),
                LogFormat::Json => {
                    line.extend_from_slice(json_line(record, chrono::Utc::now()).as_bytes());
                    line.push(b'\n');
                }
            }
            if WAITING.push(line) >= FLUSH_BYTES || !access {
                WAITING.flush();
            }
        };
        // A value whose formatting logs would find the buffer taken.
        LINE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut line) => write(&mut line),
            Err(_) => write(&mut Vec::new()),
        });
    }

    fn flush(&self) {
        WAITING.flush();
    }
}

/// `[TIME LEVEL TARGET] MESSAGE`, as `env_logger` writes it, the time in whole seconds.
fn text_line(line: &mut Vec<u8>, record: &log::Record<'_>, colour: bool) {
    thread_local! {
        /// The last second written, and its text: formatted once a second.
        static STAMP: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    STAMP.with_borrow_mut(|(second, text)| {
        if *second != now {
            *second = now;
            *text = chrono::DateTime::from_timestamp(i64::try_from(now).unwrap_or(0), 0)
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
        }
        line.push(b'[');
        line.extend_from_slice(text.as_bytes());
    });
    let level = record.level();
    // Written piece by piece, as the access line's message is (`observe::access_text`): the
    // two cost a read by id 1,600 instructions less than `write!` did.
    let code = match level {
        log::Level::Error => "31",
        log::Level::Warn => "33",
        log::Level::Info => "32",
        log::Level::Debug => "34",
        log::Level::Trace => "36",
    };
    line.push(b' ');
    if colour {
        line.extend_from_slice(b"\x1b[");
        line.extend_from_slice(code.as_bytes());
        line.push(b'm');
    }
    let name = level.as_str();
    line.extend_from_slice(name.as_bytes());
    line.extend(std::iter::repeat_n(b' ', 5usize.saturating_sub(name.len())));
    if colour {
        line.extend_from_slice(b"\x1b[0m");
    }
    line.push(b' ');
    line.extend_from_slice(record.target().as_bytes());
    line.extend_from_slice(b"] ");
    let _ = line.write_fmt(*record.args());
    line.push(b'\n');
}

/// Lines formatted and not yet written to stderr.
static WAITING: Waiting = Waiting {
    lines: Mutex::new(Vec::new()),
    out: Mutex::new(Vec::new()),
};

struct Waiting {
    /// What loggers append to.
    lines: Mutex<Vec<u8>>,
    /// Held while writing, so that lines leave in the order they came; its buffer is swapped
    /// with `lines` so that neither allocates again.
    out: Mutex<Vec<u8>>,
}

impl Waiting {
    /// Appends a line; the bytes now waiting.
    fn push(&self, line: &[u8]) -> usize {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines.extend_from_slice(line);
        lines.len()
    }

    fn flush(&self) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        {
            let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
            if lines.is_empty() {
                return;
            }
            std::mem::swap(&mut *lines, &mut *out);
        }
        // Nothing to tell if stderr is gone.
        let _ = std::io::stderr().lock().write_all(&out);
        out.clear();
    }
}

/// One record as a JSON object: `time` (RFC 3339, UTC), `level`, `target`, `message`, then the
/// record's fields in order.
pub fn json_line(record: &log::Record<'_>, now: chrono::DateTime<chrono::Utc>) -> String {
    let mut object = Map::new();
    object.insert(
        "time".into(),
        now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            .into(),
    );
    object.insert("level".into(), record.level().as_str().into());
    object.insert("target".into(), record.target().into());
    object.insert("message".into(), record.args().to_string().into());
    let _ = record.key_values().visit(&mut Fields(&mut object));
    serde_json::to_string(&Json::Object(object)).unwrap_or_default()
}

/// Copies a record's fields into a JSON object, numbers and booleans as such.
struct Fields<'a>(&'a mut Map<String, Json>);

impl<'kvs> VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        let json = if let Some(n) = value.to_u64() {
            Json::from(n)
        } else if let Some(n) = value.to_i64() {
            Json::from(n)
        } else if let Some(b) = value.to_bool() {
            Json::from(b)
        } else if let Some(f) = value.to_f64() {
            serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)
        } else {
            Json::String(value.to_string())
        };
        self.0.insert(key.as_str().to_string(), json);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A text line is `env_logger`'s: `[TIME LEVEL TARGET] MESSAGE`, the level padded to five
    /// and coloured on a terminal.
    #[test]
    fn text_lines_are_env_logger_lines() {
        let levels = [
            (log::Level::Error, "31"),
            (log::Level::Warn, "33"),
            (log::Level::Info, "32"),
            (log::Level::Debug, "34"),
            (log::Level::Trace, "36"),
        ];
        for (level, code) in levels {
            for colour in [false, true] {
                let mut line = Vec::new();
                let status = 404;
                text_line(
                    &mut line,
                    &log::Record::builder()
                        .level(level)
                        .target("dynex_server::access")
                        .args(format_args!("a \"GET /x\" {status}"))
                        .build(),
                    colour,
                );
                let line = String::from_utf8(line).expect("UTF-8");
                let (stamp, rest) = line.split_at(21);
                assert!(stamp.starts_with("[20") && stamp.ends_with('Z'), "{line}");
                let shown = if colour {
                    format!("\x1b[{code}m{level:<5}\x1b[0m")
                } else {
                    format!("{level:<5}")
                };
                assert_eq!(
                    rest,
                    format!(" {shown} dynex_server::access] a \"GET /x\" 404\n")
                );
            }
        }
    }

    /// Lines are one JSON object each, whatever the message holds (quotes, line breaks), with
    /// the fields typed.
    #[test]
    fn json_lines_are_one_object_with_typed_fields() {
        let fields: [(&str, Value<'_>); 4] = [
            ("requestId", Value::from("abc")),
            ("status", Value::from(503u16)),
            ("seconds", Value::from(0.25f64)),
            ("path", Value::from("/a\"b")),
        ];
        let args = format_args!("two\nlines \"quoted\"");
        let record = log::Record::builder()
            .level(log::Level::Info)
            .target("dynex_server::access")
            .args(args)
            .key_values(&fields)
            .build();
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 123_000).unwrap();
        let line = json_line(&record, now);
        assert!(!line.contains('\n'));
        let parsed: Json = serde_json::from_str(&line).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({
                "time": "2023-11-14T22:13:20.000123Z",
                "level": "INFO",
                "target": "dynex_server::access",
                "message": "two\nlines \"quoted\"",
                "requestId": "abc",
                "status": 503,
                "seconds": 0.25,
                "path": "/a\"b",
            })
        );
    }
}
