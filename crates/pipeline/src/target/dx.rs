//! The `dx` target: rows written to an entity of a Data Exchange API (another dynex, or
//! Spryker's Dynamic Entity API) in batches.
//!
//! Each batch is one request, `POST` (`create`), `PATCH` (`update`) or `PUT` (`upsert`) of
//! `{"data": [row, …]}` to the collection, with `X-Is-Transactional: false`: every row is saved
//! on its own, and the answer's `errors` name the refused ones by their index in the batch
//! (`` `countries[3].name` ``). Each refused row becomes a [`Refusal`] with the error's code,
//! field and message (every message of the row, joined); the others are written.
//!
//! Requests go through an [`HttpSource`] opened on the collection, so auth (API key, bearer,
//! OAuth2, login), retries of network errors, `429` and `5xx` (with `Retry-After`), and the
//! redaction of secrets are the http source's. A batch refused as a whole (`401`, `403`, `413`,
//! an answer that names no row) ends the run with the server's answer.
//!
//! **Counts.** The API says which rows it saved, not whether a `PUT` created or replaced one:
//! rows sent less rows refused are counted `inserted` with `create` and `updated` with
//! `update` and `upsert`. Nothing is counted `unchanged`: the other side decides that.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use crate::problem::Checker;
use crate::source::Start;
use crate::source::dx::{Connection, check_connection, default_prefix, endpoint, http_base};
use crate::source::http::{Call, HttpAuth, HttpSource, Retry, default_timeout, is_no_auth};
use crate::target::{Delivered, RecordRow, Refusal, Target, TargetError};

/// How a `dx` target writes rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DxMode {
    /// `POST`: every row is created.
    Create,
    /// `PATCH`: rows name the row they change by its identifier.
    Update,
    /// `PUT`: rows with an existing identifier are replaced, the others created.
    #[default]
    Upsert,
}

impl DxMode {
    fn method(self) -> &'static str {
        match self {
            DxMode::Create => "POST",
            DxMode::Update => "PATCH",
            DxMode::Upsert => "PUT",
        }
    }
}

/// The definition of a `dx` target: one entity of a Data Exchange API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DxTarget {
    /// The server's base URL (`http://host:8080`).
    pub url: String,
    /// The route prefix, `dynamic-entity` by default.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// The entity's alias.
    pub entity: String,
    /// `upsert` (default, `PUT`), `create` (`POST`) or `update` (`PATCH`).
    #[serde(default)]
    pub mode: DxMode,
    /// Rows per request, 100 by default.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// How to log in; nothing by default.
    #[serde(
        default,
        with = "serde_norway::with::singleton_map",
        skip_serializing_if = "is_no_auth"
    )]
    pub auth: HttpAuth,
    /// How often and how patiently a failed request is tried again.
    #[serde(default)]
    pub retry: Retry,
    /// Seconds a request may take, 30 by default.
    #[serde(default = "default_timeout")]
    pub timeout: u64,
}

fn default_batch() -> usize {
    100
}

/// The largest batch: dynex refuses bodies over 16 MiB, which hold about 20,000 rows.
const MAX_BATCH: usize = 10_000;

impl DxTarget {
    /// Records every problem of this spec in `checker`, under the dotted `path` of the spec.
    pub fn check(&self, path: &str, checker: &mut Checker) {
        let at = |field: &str| format!("{path}.{field}");
        check_connection(
            &Connection {
                url: &self.url,
                prefix: &self.prefix,
                entity: &self.entity,
                auth: &self.auth,
                retry: &self.retry,
                timeout: self.timeout,
            },
            &at,
            checker,
        );
        if self.batch == 0 || self.batch > MAX_BATCH {
            checker.add(at("batch"), format!("a batch holds 1 to {MAX_BATCH} rows"));
        }
    }

    /// Opens the target: nothing is sent until the first rows are delivered.
    pub fn open(&self) -> Result<DxWriter, TargetError> {
        let mut checker = Checker::default();
        self.check("target.dx", &mut checker);
        checker
            .finish()
            .map_err(|problems| TargetError(format!("the dx target is not valid: {problems}")))?;
        let endpoint = endpoint(&self.url, &self.prefix, &self.entity).map_err(TargetError)?;
        let client = crate::source::http::HttpSpec {
            auth: self.auth.clone(),
            retry: self.retry.clone(),
            timeout: self.timeout,
            ..http_base(endpoint.to_string())
        }
        .open(&Start::default())
        .map_err(|e| TargetError(e.to_string()))?;
        Ok(DxWriter {
            spec: self.clone(),
            endpoint,
            client,
        })
    }
}

/// An open `dx` target.
pub struct DxWriter {
    spec: DxTarget,
    endpoint: Url,
    client: HttpSource,
}

impl Target for DxWriter {
    fn deliver(&mut self, rows: Vec<RecordRow>) -> Result<Delivered, TargetError> {
        let mut delivered = Delivered::default();
        for batch in rows.chunks(self.spec.batch.max(1)) {
            let refused = self.send(batch)?;
            let written = (batch.len() - refused.len()) as u64;
            match self.spec.mode {
                DxMode::Create => delivered.inserted += written,
                DxMode::Update | DxMode::Upsert => delivered.updated += written,
            }
            delivered.refused.extend(refused);
        }
        Ok(delivered)
    }
}

impl DxWriter {
    /// Sends one batch; the rows refused.
    fn send(&mut self, batch: &[RecordRow]) -> Result<Vec<Refusal>, TargetError> {
        let body = json!({
            "data": batch.iter().map(|r| Value::Object(r.fields.clone())).collect::<Vec<_>>(),
        });
        let call = Call {
            method: self.spec.mode.method(),
            body: Some(&body),
            headers: &[("X-Is-Transactional", "false")],
            any_answer: false,
            sign: None,
        };
        let shown = self.client.shown(&self.endpoint);
        let (status, answer) = self
            .client
            .send(&self.endpoint, &call, true)
            .map_err(|e| TargetError(e.to_string()))?;
        let whole = |why: &str| {
            let text = self.client.redact(&quote(&answer));
            TargetError(format!(
                "{} {shown} refused the batch as a whole ({status}){why}: {text}",
                call.method
            ))
        };
        if matches!(status, 401 | 403 | 404 | 405 | 413) {
            return Err(whole(""));
        }
        let errors = match &answer {
            Value::Object(members) => match members.get("errors") {
                Some(Value::Array(errors)) => errors.as_slice(),
                None if (200..300).contains(&status) => &[],
                _ => return Err(whole("")),
            },
            // An array of errors is a request-level refusal, not per row.
            _ if (200..300).contains(&status) => &[],
            _ => return Err(whole("")),
        };
        let Some(refused) = row_errors(errors, &self.spec.entity, batch.len()) else {
            return Err(whole(", and its errors name no row"));
        };
        Ok(refused
            .into_iter()
            .map(|(index, errors)| {
                let first = &errors[0];
                Refusal {
                    number: batch[index].number,
                    code: first.code.clone(),
                    field: first.field.clone(),
                    message: self.client.redact(
                        &errors
                            .iter()
                            .map(|e| e.message.as_str())
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                }
            })
            .collect())
    }
}

/// A refused answer, shortened, for an error.
fn quote(answer: &Value) -> String {
    let text = match answer {
        Value::Null => "no JSON".to_owned(),
        other => other.to_string(),
    };
    let mut end = text.len().min(300);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let more = if end < text.len() { "…" } else { "" };
    format!("{}{more}", &text[..end])
}

/// One error object of an answer, with where it points.
#[derive(Debug, Clone, PartialEq)]
struct RowError {
    code: String,
    field: Option<String>,
    message: String,
}

/// The errors of a batch grouped by the index of the row they name, in row order; `None` when
/// there are errors and none names a row. An error that names no row (a relation's, `1313`)
/// belongs to the row of the error before it (errors come grouped by row), or of the one after.
fn row_errors(errors: &[Value], entity: &str, rows: usize) -> Option<Vec<(usize, Vec<RowError>)>> {
    let parsed: Vec<(Option<usize>, RowError)> = errors
        .iter()
        .map(|e| {
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let code = match e.get("code") {
                Some(Value::String(code)) => code.clone(),
                Some(Value::Number(code)) => code.to_string(),
                _ => String::new(),
            };
            let (index, field) = locate(&message, entity);
            (
                index.filter(|i| *i < rows),
                RowError {
                    code,
                    field,
                    message,
                },
            )
        })
        .collect();
    if parsed.is_empty() {
        return Some(Vec::new());
    }
    let first_known = parsed.iter().find_map(|(i, _)| *i)?;
    let mut out: Vec<(usize, Vec<RowError>)> = Vec::new();
    let mut current = first_known;
    for (index, error) in parsed {
        if let Some(i) = index {
            current = i;
        }
        match out.iter_mut().find(|(i, _)| *i == current) {
            Some((_, list)) => list.push(error),
            None => out.push((current, vec![error])),
        }
    }
    out.sort_by_key(|(i, _)| *i);
    Some(out)
}

/// The root row index and the field an error message names: `` `countries[3].name` ``,
/// `` `countries[3]` for field `name` ``.
fn locate(message: &str, entity: &str) -> (Option<usize>, Option<String>) {
    let needle = format!("`{entity}[");
    let Some(start) = message.find(&needle) else {
        return (None, None);
    };
    let rest = &message[start + needle.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let Ok(index) = digits.parse::<usize>() else {
        return (None, None);
    };
    let after = &rest[digits.len()..];
    let Some(after) = after.strip_prefix(']') else {
        return (None, None);
    };
    let field = if let Some(path) = after.strip_prefix('.') {
        path.split('`').next().map(str::to_owned)
    } else {
        ["field `", "field: `"].iter().find_map(|marker| {
            let at = after.find(marker)? + marker.len();
            after[at..].split('`').next().map(str::to_owned)
        })
    };
    (Some(index), field.filter(|f| !f.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_name_their_row_and_field() {
        let cases = [
            (
                "Failed to persist the data for `countries[0].iso2_code`. Please verify.",
                Some(0),
                Some("iso2_code"),
            ),
            (
                "Invalid data value `countries[12]` for field: `name`. Field rules: max_length: 20",
                Some(12),
                Some("name"),
            ),
            (
                "Invalid data type `countries[3]` for field `iso2_code`: expected a JSON string.",
                Some(3),
                Some("iso2_code"),
            ),
            (
                "The required field must not be empty. Field: `countries[1].tax-rates[0].rate`",
                Some(1),
                Some("tax-rates[0].rate"),
            ),
            (
                "Failed to persist the data for `countries[4]`.",
                Some(4),
                None,
            ),
            ("Relation `regions` not found.", None, None),
        ];
        for (message, index, field) in cases {
            assert_eq!(
                locate(message, "countries"),
                (index, field.map(str::to_owned)),
                "{message}"
            );
        }
    }

    #[test]
    fn errors_are_grouped_by_row() {
        let errors = vec![
            json!({"code": "1311", "status": 400, "message": "The provided `e[2].x` is incorrect or invalid."}),
            json!({"code": "1313", "status": 400, "message": "Relation `r` not found."}),
            json!({"code": "1306", "status": 400, "message": "Invalid data value `e[0]` for field: `name`."}),
        ];
        let grouped = row_errors(&errors, "e", 3).unwrap();
        assert_eq!(grouped.len(), 2);
        assert_eq!(grouped[0].0, 0);
        assert_eq!(grouped[0].1[0].code, "1306");
        assert_eq!(grouped[1].0, 2);
        assert_eq!(
            grouped[1]
                .1
                .iter()
                .map(|e| e.code.as_str())
                .collect::<Vec<_>>(),
            ["1311", "1313"]
        );
        // An index beyond the batch, or none at all, names no row.
        let stray = vec![json!({"code": "1302", "message": "`e[7]` broke"})];
        assert_eq!(row_errors(&stray, "e", 3), None);
    }
}
