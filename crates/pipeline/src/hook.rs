//! Incoming webhooks: a pipeline that another system starts by posting records to
//! `POST /hooks/{pipeline}` of `dynex-server`.
//!
//! ```yaml
//! hook:
//!   secret: ${PIM_HOOK_SECRET}        # or  hmac: ${PIM_HOOK_SECRET}
//! ```
//!
//! A caller proves it knows the shared secret either by sending it in a header
//! (`X-Dynex-Hook-Secret` by default, compared in constant time), or, with `hmac`, by signing
//! the body: `sha256=` and the hexadecimal HMAC-SHA256 of the exact body bytes, in
//! `X-Dynex-Signature` by default. The body is a JSON object (one record), a JSON array of
//! records, or CSV (`Content-Type: text/csv`: a header line, each line a record of header →
//! cell text, an empty cell `null`). The records replace the pipeline's source for that run
//! ([`Posted`]); mapping and target are the definition's.

use hmac::Mac;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Record;
use crate::problem::Checker;
use crate::source::http::Secret;
use crate::source::{Page, Source, SourceError};

/// The header a plain shared secret comes in when `header` is not given.
pub const SECRET_HEADER: &str = "X-Dynex-Hook-Secret";
/// The header an HMAC signature comes in when `header` is not given.
pub const SIGNATURE_HEADER: &str = "X-Dynex-Signature";
/// Records per page of a posted body.
const PAGE: usize = 1000;

/// How a pipeline is called by webhook: the secret a caller must show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    /// A shared secret the caller sends as it is, in `header`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    /// A shared secret the caller signs the body with (HMAC-SHA256), the signature in `header`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac: Option<Secret>,
    /// The header of the secret or signature; [`SECRET_HEADER`] or [`SIGNATURE_HEADER`] by
    /// default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
}

/// Why a posted body is no records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

impl Hook {
    /// Records the problems of the hook in `checker`, under `at`.
    pub fn check(&self, at: &str, checker: &mut Checker) {
        match (&self.secret, &self.hmac) {
            (Some(_), Some(_)) => {
                checker.add(at, "give `secret` or `hmac`, not both");
            }
            (None, None) => checker.add(at, "give `secret` or `hmac`: a hook needs a secret"),
            (Some(s), None) | (None, Some(s)) if s.expose().len() < 16 => checker.add(
                at,
                "the secret is shorter than 16 characters: use a long random one",
            ),
            _ => {}
        }
        if let Some(header) = &self.header
            && (header.is_empty()
                || !header
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        {
            checker.add(format!("{at}.header"), "not a header name");
        }
    }

    /// The header the caller's secret or signature comes in.
    pub fn header(&self) -> &str {
        match (&self.header, &self.hmac) {
            (Some(h), _) => h,
            (None, Some(_)) => SIGNATURE_HEADER,
            (None, None) => SECRET_HEADER,
        }
    }

    /// Whether `shown` (the header's value, if any) proves the caller knows the secret for
    /// `body`. Compared in constant time.
    pub fn allows(&self, shown: Option<&[u8]>, body: &[u8]) -> bool {
        let Some(shown) = shown else {
            return false;
        };
        if let Some(secret) = &self.secret {
            return constant_time_eq(secret.expose().as_bytes(), shown);
        }
        let Some(key) = &self.hmac else {
            return false;
        };
        let Some(hex) = shown.strip_prefix(b"sha256=") else {
            return false;
        };
        let Some(given) = from_hex(hex) else {
            return false;
        };
        let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.expose().as_bytes())
        else {
            return false;
        };
        mac.update(body);
        // `verify_slice` compares in constant time.
        mac.verify_slice(&given).is_ok()
    }
}

/// Whether `a` equals `b`, in a time that depends on their lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn from_hex(hex: &[u8]) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

/// The records of a posted body: a JSON object or array of records, or CSV when `csv`.
pub fn records(body: &[u8], csv: bool) -> Result<Vec<Record>, Malformed> {
    if csv {
        return csv_records(body);
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Malformed(format!("the body is not JSON: {e}")))?;
    match value {
        Value::Object(_) => Ok(vec![value]),
        Value::Array(items) => Ok(items),
        _ => Err(Malformed(
            "the body must be a JSON object (a record) or an array of records".into(),
        )),
    }
}

fn csv_records(body: &[u8]) -> Result<Vec<Record>, Malformed> {
    let mut reader = dynex_csv::RecordReader::new(body)
        .map_err(|e| Malformed(format!("the body is not CSV: {e}")))?;
    let header = reader.header().to_vec();
    let mut out = Vec::new();
    loop {
        match reader.next_record() {
            Ok(None) => return Ok(out),
            Ok(Some(Ok(line))) => {
                let record: Map<String, Value> = header
                    .iter()
                    .zip(line.cells)
                    .map(|(name, cell)| {
                        let value = if cell.is_empty() {
                            Value::Null
                        } else {
                            Value::String(cell)
                        };
                        (name.clone(), value)
                    })
                    .collect();
                out.push(Value::Object(record));
            }
            Ok(Some(Err(m))) => {
                return Err(Malformed(format!("line {}: {}", m.line, m.reason)));
            }
            Err(e) => return Err(Malformed(format!("the body is not CSV: {e}"))),
        }
    }
}

/// Posted records as a run's source, a page of up to 1000 at a time.
#[derive(Debug)]
pub struct Posted(std::collections::VecDeque<Record>);

impl Posted {
    /// A source of `records`.
    pub fn new(records: Vec<Record>) -> Posted {
        Posted(records.into())
    }
}

impl Source for Posted {
    fn next_page(&mut self) -> Result<Option<Page>, SourceError> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let n = self.0.len().min(PAGE);
        Ok(Some(Page {
            records: self.0.drain(..n).collect(),
            ..Page::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_signatures_are_checked() {
        let plain = Hook {
            secret: Some(Secret("0123456789abcdef".into())),
            hmac: None,
            header: None,
        };
        assert_eq!(plain.header(), SECRET_HEADER);
        assert!(plain.allows(Some(b"0123456789abcdef"), b"{}"));
        assert!(!plain.allows(Some(b"0123456789abcdeX"), b"{}"));
        assert!(!plain.allows(None, b"{}"));
        let signed = Hook {
            secret: None,
            hmac: Some(Secret("key".into())),
            header: None,
        };
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), RFC 4231 style.
        let good = b"sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
        let body = b"The quick brown fox jumps over the lazy dog";
        assert!(signed.allows(Some(good), body));
        assert!(!signed.allows(Some(good), b"other"));
        assert!(!signed.allows(Some(b"sha256=zz"), body));
    }

    #[test]
    fn bodies_become_records() {
        assert_eq!(records(br#"{"a":1}"#, false).unwrap().len(), 1);
        assert_eq!(records(br#"[{"a":1},{"a":2}]"#, false).unwrap().len(), 2);
        assert!(records(b"3", false).is_err());
        assert!(records(b"{", false).is_err());
        let rows = records(b"sku,name\nA,\nB,Bee\n", true).unwrap();
        assert_eq!(rows[0], serde_json::json!({"sku": "A", "name": null}));
        assert_eq!(rows[1], serde_json::json!({"sku": "B", "name": "Bee"}));
        assert!(records(b"sku,name\nA\n", true).is_err());
    }
}
