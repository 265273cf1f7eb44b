//! CSV over HTTP: `GET` with `Accept: text/csv` streams an export, and `POST`, `PATCH` and `PUT`
//! with `Content-Type: text/csv` run the import engine of `dynex import`.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use dynex_auth::Principal;
use dynex_core::{CoreError, Dynex, ImportMode, ImportObserver, ImportOptions, Reject};
use dynex_csv::EntityWriter;
use dynex_query::QueryError;
use serde::Serialize;
use serde_json::json;

use super::blocking;
use crate::config::AppState;
use crate::error::ApiError;

/// Whether the request asks for CSV (`Accept: text/csv`, ahead of JSON).
pub(crate) fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            let csv = accept.find("text/csv");
            let json = accept.find("application/json");
            matches!((csv, json), (Some(c), j) if j.is_none_or(|j| c < j))
        })
}

/// Whether the request body is CSV (`Content-Type: text/csv`).
pub(crate) fn sends_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/csv"))
        })
}

/// A chunk of the CSV answer, sent from the blocking export to the response body.
pub(crate) type Chunk = Result<web::Bytes, std::io::Error>;

/// Collects CSV output and sends it in chunks of about 64 KiB.
struct ChunkWriter {
    buffer: Vec<u8>,
    sender: tokio::sync::mpsc::Sender<Chunk>,
}

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = web::Bytes::from(std::mem::take(&mut self.buffer));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client gone"))
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= 64 * 1024 {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// `GET /{alias}` as CSV: every row matching the filters, streamed in keyset pages; the
/// caller needs the read scope of every entity a relation filter looks into, as for JSON.
pub(crate) async fn export(
    state: web::Data<AppState>,
    alias: String,
    pairs: Vec<(String, String)>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    if let Some((name, _)) = pairs
        .iter()
        .find(|(k, _)| k.starts_with("page") || k == "include" || k == "meta")
    {
        return Err(ApiError::Core(CoreError::Query(
            QueryError::InvalidParameter {
                name: name.clone(),
                reason: "a CSV answer holds every matching row, without relations".into(),
            },
        )));
    }
    let mut request = dynex_core::ExportRequest::default();
    let mut escape = false;
    for (k, v) in pairs {
        if k == "formulas" {
            escape = escape_formulas(&v, "formulas")?;
        } else if k.starts_with("filter") {
            request.filters.push((k, v));
        } else if k == "sort" {
            request.sort = Some(v);
        } else if k == format!("fields[{alias}]") {
            request.fields = v.split(',').map(str::to_string).collect();
        } else if k.starts_with("fields") {
            return Err(ApiError::Core(CoreError::Query(
                QueryError::InvalidParameter {
                    name: k,
                    reason: format!("a CSV answer holds only fields of `{alias}`"),
                },
            )));
        }
    }
    let plan = state
        .dynex
        .plan_export(&alias, &request, Some(&principal))
        .map_err(|e| match e {
            // The only invalid input left here is the list of fields.
            CoreError::Invalid(reason) => {
                ApiError::Core(CoreError::Query(QueryError::InvalidParameter {
                    name: format!("fields[{alias}]"),
                    reason,
                }))
            }
            e => ApiError::Core(e),
        })?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .streaming(stream_export(&state, plan, None, escape)))
}

/// Reads a `formulas` option: `escape` neutralises text cells a spreadsheet would evaluate
/// ([`EntityWriter::escape_formulas`]), `keep` writes them as stored.
pub(crate) fn escape_formulas(value: &str, name: &str) -> Result<bool, ApiError> {
    match value {
        "escape" => Ok(true),
        "keep" => Ok(false),
        other => Err(ApiError::Core(CoreError::Query(
            QueryError::InvalidParameter {
                name: name.to_string(),
                reason: format!("`{other}` is neither `escape` nor `keep`"),
            },
        ))),
    }
}

/// Streams a planned export as CSV, header first, from the runtime's bounded blocking pool;
/// with `job`, ends that job with the row count (or the failure) when the export is done.
/// `escape` neutralises formula-like text cells.
///
/// The status line is sent before the first row is read, so a failure can only be told by the
/// body: the stream then ends with an error, and the server closes the connection without the
/// terminating chunk, which every HTTP/1.1 client reports as an incomplete body. Only an export
/// that wrote its last row ends the body cleanly: one that stops any other way (a panic, a
/// task dropped at shutdown) is reported as failed too, never as a shorter file.
pub(crate) fn stream_export(
    state: &web::Data<AppState>,
    plan: dynex_core::ExportPlan,
    job: Option<String>,
    escape: bool,
) -> impl futures_util::Stream<Item = Chunk> + use<> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Chunk>(8);
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = finished.clone();
    let dynex = state.dynex.clone();
    let metrics = state.metrics.clone();
    // A body dropped before its end (the client went away) cancels the export's statement.
    let cancel = dynex_core::Cancel::new();
    let unfinished = super::CancelOnDrop(Some(cancel.clone()));
    // The export runs on the runtime's bounded blocking pool (not a thread per request) and
    // hands chunks over as they fill.
    actix_web::rt::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let entity = plan.entity().clone();
        let alias = entity.alias().to_string();
        let mut out = ChunkWriter {
            buffer: Vec::with_capacity(64 * 1024),
            sender: sender.clone(),
        };
        let mut export = || -> Result<u64, String> {
            let mut writer = EntityWriter::with_fields(&entity, plan.fields(), &mut out)
                .map_err(|e| e.to_string())?
                .escape_formulas(escape);
            let summary = dynex
                .export_cells(&plan, |cells| {
                    writer
                        .write_cells(cells)
                        .map_err(|e| CoreError::Invalid(e.to_string()))
                })
                .map_err(|e| e.to_string())?;
            writer.finish().map_err(|e| e.to_string())?;
            out.send().map_err(|e| e.to_string())?;
            Ok(summary.rows)
        };
        let result = cancel
            .within(|| Ok(export()))
            .unwrap_or_else(|e| Err(e.to_string()));
        metrics.export(result.as_ref().ok().copied());
        if let Some(id) = job {
            let outcome = match &result {
                Ok(rows) => Ok(json!({
                    "rows": rows,
                    "seconds": started.elapsed().as_secs_f64(),
                })),
                Err(e) => Err(json!({ "code": dynex_wire::Code::Internal.as_str(), "message": e })),
            };
            if let Err(e) = dynex.finish_job(&id, outcome) {
                log::error!("cannot record the end of export job {id}: {e}");
            }
        }
        match result {
            // Before the senders go: the stream sees the mark once the channel closes.
            Ok(_) => done.store(true, std::sync::atomic::Ordering::Release),
            Err(e) => {
                // The status line is gone already: end the body with an error so the client
                // sees a broken transfer instead of a short file.
                log::error!("CSV export of `{alias}` failed: {e}");
                let _ = sender.blocking_send(Err(std::io::Error::other("export failed")));
            }
        }
    });
    finish_or_fail(
        futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx)),
        finished,
        unfinished,
    )
}

/// `chunks` as a body that ends cleanly only when `finished` is set by then; otherwise its end
/// is an error, so that the connection is closed without the terminating chunk. Dropped before
/// its end, it cancels the export through `unfinished`.
fn finish_or_fail(
    chunks: impl futures_util::Stream<Item = Chunk> + Unpin,
    finished: std::sync::Arc<std::sync::atomic::AtomicBool>,
    mut unfinished: super::CancelOnDrop,
) -> impl futures_util::Stream<Item = Chunk> {
    use futures_util::StreamExt;
    let mut failed = false;
    chunks
        .map(Some)
        .chain(futures_util::stream::once(async { None }))
        .filter_map(move |item| {
            if item.is_none() {
                unfinished.disarm();
            }
            let item = match item {
                Some(Err(e)) => {
                    failed = true;
                    Some(Err(e))
                }
                Some(chunk) => Some(chunk),
                None if failed || finished.load(std::sync::atomic::Ordering::Acquire) => None,
                None => {
                    log::error!("a CSV export ended before its last row");
                    Some(Err(std::io::Error::other("export ended early")))
                }
            };
            std::future::ready(item)
        })
}

/// How many times an all-or-nothing CSV import that the database gave up on is repeated.
const ATOMIC_RETRIES: u32 = 3;

/// A rejected line as the API lists it: Spryker's error object plus the line and field.
#[derive(Debug, Serialize)]
struct LineError {
    code: String,
    status: u16,
    message: String,
    line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

/// Keeps the rejects for the answer.
#[derive(Default)]
struct Collect {
    errors: Vec<LineError>,
}

impl ImportObserver for Collect {
    fn reject(&mut self, r: &Reject) -> Result<(), CoreError> {
        self.errors.push(LineError {
            code: r.code.clone(),
            status: r.status,
            message: r.message.clone(),
            line: r.line,
            field: r.field.clone(),
        });
        Ok(())
    }
}

/// `POST`, `PATCH` or `PUT /{alias}` with a CSV body: insert, update or upsert, matched by the
/// identifier or by the field named in `?key=`.
///
/// By default the file is one transaction: any rejected line leaves the table untouched and the
/// answer lists every rejected line with the first one's status. With `X-Is-Transactional:
/// false` the good lines are kept, and the answer is `{"data", "errors"}`.
pub(crate) async fn import(
    state: &AppState,
    dynex: Dynex,
    alias: String,
    pairs: Vec<(String, String)>,
    body: web::Bytes,
    mode: ImportMode,
    transactional: bool,
) -> Result<HttpResponse, ApiError> {
    let key = pairs
        .iter()
        .find(|(k, _)| k == "key")
        .map(|(_, v)| v.clone());
    let options = ImportOptions {
        mode,
        key,
        atomic: transactional,
        ..ImportOptions::default()
    };
    let metrics = state.metrics.clone();
    let (summary, collected) = blocking(move || {
        let mut tries = 0;
        loop {
            let mut collect = Collect::default();
            match dynex.import(&alias, &body[..], &options, &mut collect) {
                // A deadlock ends the victim's whole transaction on MariaDB (two imports that
                // upsert the same new key, say): all or nothing, the body is imported again.
                Err(CoreError::Busy) if options.atomic && tries < ATOMIC_RETRIES => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10 << tries));
                }
                result => {
                    metrics.import(result.as_ref());
                    return result.map(|summary| (summary, collect));
                }
            }
        }
    })
    .await?;
    let success = if mode == ImportMode::Insert {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let Some(first) = collected.errors.first() else {
        return Ok(HttpResponse::build(success).json(json!({ "data": summary })));
    };
    let first_status = StatusCode::from_u16(first.status).unwrap_or(StatusCode::BAD_REQUEST);
    if transactional {
        return Ok(HttpResponse::build(first_status).json(&collected.errors));
    }
    let saved = summary.inserted + summary.updated > 0;
    Ok(
        HttpResponse::build(if saved { success } else { first_status })
            .json(json!({ "data": summary, "errors": collected.errors })),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use futures_util::StreamExt;

    use super::*;

    /// What the body yields for `chunks`: the bytes, then `Err` for an error.
    async fn body(chunks: Vec<Chunk>, finished: bool) -> Vec<Result<String, String>> {
        finish_or_fail(
            futures_util::stream::iter(chunks),
            Arc::new(AtomicBool::new(finished)),
            crate::handlers::CancelOnDrop(None),
        )
        .map(|c| {
            c.map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|e| e.to_string())
        })
        .collect()
        .await
    }

    /// An export that stops without writing its last row (a panic, a task dropped at
    /// shutdown) ends the body with an error, as a failed one does; only a finished one ends
    /// cleanly.
    #[actix_rt::test]
    async fn only_a_finished_export_ends_its_body_cleanly() {
        let rows = || vec![Ok(web::Bytes::from("a\n")), Ok(web::Bytes::from("1\n"))];
        assert_eq!(
            body(rows(), true).await,
            [Ok("a\n".to_string()), Ok("1\n".to_string())]
        );
        assert_eq!(
            body(rows(), false).await,
            [
                Ok("a\n".to_string()),
                Ok("1\n".to_string()),
                Err("export ended early".to_string())
            ]
        );
        let mut failed = rows();
        failed.push(Err(std::io::Error::other("export failed")));
        assert_eq!(
            body(failed, false).await.last(),
            Some(&Err("export failed".to_string())),
            "one error, not two"
        );
    }
}
