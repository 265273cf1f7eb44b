//! Log lines: `env_logger`'s text by default, or with `--log-format json` one JSON object per
//! line, with the record's fields (the access log's request id, method, path, status…) as
//! members, for log shippers that read JSON.

use std::io::Write;

use log::kv::{Key, Value, VisitSource};
use serde_json::{Map, Value as Json};

use crate::config::LogFormat;

/// Sets up the process's logger: the level from `RUST_LOG` (`info` by default), the lines in
/// `format`. Call once, before anything logs.
pub fn init(format: LogFormat) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    if format == LogFormat::Json {
        builder.format(|out, record| writeln!(out, "{}", json_line(record, chrono::Utc::now())));
    }
    builder.init();
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
