//! Jobs in the admin API (`/admin/api/jobs`): CSV imports that run in the background with their
//! progress, summary and rejected lines kept (and resume after their server stopped), CSV
//! exports recorded as they are downloaded, and the history of both. The back office's Jobs
//! page is built on these routes.

use std::io::Write;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use dynex_auth::{Action, Principal};
use dynex_core::{CoreError, Dynex, ImportMode, ImportOptions, JobKind, JobResume, NewJob};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

use crate::config::AppState;
use crate::error::ApiError;
use crate::extract::{Admin, query_pairs};
use crate::handlers::{blocking, csv};
use crate::respond::ok;

/// Jobs listed by `GET /admin/api/jobs` unless `limit` says otherwise, and the most it takes.
const LIST_DEFAULT: u64 = 50;
const LIST_MAX: u64 = 500;

/// Refuses a job on `alias` unless the principal may also `action` it on the Data Exchange API:
/// the `admin` scope alone configures entities, it does not read or write their rows.
fn entity_scope(principal: &Principal, action: Action, alias: &str) -> Result<(), ApiError> {
    if principal.allows(action, alias) {
        return Ok(());
    }
    Err(ApiError::Core(CoreError::MissingScope(
        Principal::missing_scope(action, alias).to_string(),
    )))
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::Core(CoreError::Invalid(message.into()))
}

fn flag(value: Option<&String>, name: &str) -> Result<bool, ApiError> {
    match value.map(String::as_str) {
        None | Some("false" | "0" | "") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(other) => Err(invalid(format!("`{name}` is true or false, not `{other}`"))),
    }
}

/// `GET /admin/api/jobs[?limit=N]`: the latest jobs, newest first.
pub(crate) async fn list(
    state: web::Data<AppState>,
    _: Admin,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let pairs = query_pairs(&req);
    let limit = match pairs.iter().find(|(k, _)| k == "limit") {
        None => LIST_DEFAULT,
        Some((_, v)) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=LIST_MAX).contains(n))
            .ok_or_else(|| invalid(format!("`limit` is a number from 1 to {LIST_MAX}")))?,
    };
    let dynex = state.dynex.clone();
    Ok(ok(blocking(move || dynex.jobs(limit)).await?))
}

/// `GET /admin/api/jobs/{id}`: one job with its progress or summary.
pub(crate) async fn show(
    state: web::Data<AppState>,
    _: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let dynex = state.dynex.clone();
    let id = id.into_inner();
    Ok(ok(blocking(move || dynex.job(&id)).await?))
}

/// `GET /admin/api/jobs/{id}/rejects[?limit=N]`: an import's rejected lines as a CSV file, the
/// first `N` of them when asked (the back office shows those on the job's card).
pub(crate) async fn rejects(
    state: web::Data<AppState>,
    _: Admin,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let limit = match query_pairs(&req).iter().find(|(k, _)| k == "limit") {
        None => None,
        Some((_, v)) => Some(
            v.parse::<u64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| invalid("`limit` is a whole number from 1"))?,
        ),
    };
    let dynex = state.dynex.clone();
    let id = id.into_inner();
    let (job, csv) = blocking(move || {
        let mut csv = Vec::new();
        let job = dynex.job_rejects(&id, limit, &mut csv)?;
        Ok((job, csv))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(attachment(&format!("{}-rejects.csv", job.entity)))
        .body(csv))
}

/// `Content-Disposition: attachment` with a file name made of safe characters only.
fn attachment(name: &str) -> (header::HeaderName, String) {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    (
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{safe}\""),
    )
}

/// `POST /admin/api/jobs/import?entity=A[&mode=insert|upsert|update][&key=F][&dryRun=true]
/// [&atomic=true][&maxErrors=N][&fileName=F][&mapping=YAML]` with the CSV file as the body.
///
/// The body is stored in a temporary file first (up to the upload limit, not the API's body
/// limit), then the import starts in the background and the answer is `202 Accepted` with the
/// job; `GET /admin/api/jobs/{id}` follows it.
pub(crate) async fn import(
    state: web::Data<AppState>,
    admin: Admin,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let pairs = query_pairs(&req);
    const PARAMETERS: [&str; 8] = [
        "entity",
        "mode",
        "key",
        "dryRun",
        "atomic",
        "maxErrors",
        "fileName",
        "mapping",
    ];
    // `api_key` is a credential, read by the `Admin` extractor.
    if let Some((k, _)) = pairs
        .iter()
        .find(|(k, _)| k != "api_key" && !PARAMETERS.contains(&k.as_str()))
    {
        return Err(invalid(format!(
            "unknown parameter `{k}` (known: {})",
            PARAMETERS.join(", ")
        )));
    }
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let entity = get("entity")
        .cloned()
        .ok_or_else(|| invalid("`entity` names the endpoint to import into"))?;
    // Checked now, so that a mistyped alias is an answer rather than a failed job.
    if state.dynex.snapshot().catalog.entity(&entity).is_none() {
        return Err(ApiError::Core(CoreError::UnknownEntity(entity)));
    }
    entity_scope(&admin.principal, Action::Write, &entity)?;
    let mode = get("mode")
        .map_or(Ok(ImportMode::Insert), |m| m.parse())
        .map_err(invalid)?;
    let max_errors = get("maxErrors")
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| invalid("`maxErrors` is a whole number"))
        })
        .transpose()?;
    let mapping_text = get("mapping").filter(|m| !m.trim().is_empty()).cloned();
    let mapping = mapping_text
        .as_deref()
        .map(|m| dynex_csv::Mapping::from_yaml(m).map_err(|e| invalid(format!("mapping: {e}"))))
        .transpose()?;
    let options = ImportOptions {
        mode,
        key: get("key").filter(|k| !k.is_empty()).cloned(),
        dry_run: flag(get("dryRun"), "dryRun")?,
        atomic: flag(get("atomic"), "atomic")?,
        max_errors,
        mapping,
        ..ImportOptions::default()
    };
    let file_name = get("fileName")
        .cloned()
        .unwrap_or_else(|| format!("{entity}.csv"));
    // Before the upload is stored, not as a failure to record the job after it.
    dynex_core::check_file_name(&file_name).map_err(ApiError::Core)?;
    let shown = json!({
        "mode": mode.as_str(),
        "key": options.key,
        "dryRun": options.dry_run,
        "atomic": options.atomic,
        "maxErrors": options.max_errors,
        "mapping": options.mapping.is_some(),
    });

    // The file goes to disk as it arrives: the import then streams it in constant memory. An
    // import that can be resumed keeps it under a name until the job ends, so that it outlives
    // a server that stops; the others in a file the system removes with the process.
    let resumable = !options.atomic && !options.dry_run;
    let upload = if resumable {
        let dir = upload_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| ApiError::Internal(format!("cannot keep the upload: {e}")))?;
        Some(
            tempfile::Builder::new()
                .prefix("job-")
                .suffix(".csv")
                .tempfile_in(&dir)
                .map_err(|e| ApiError::Internal(format!("cannot keep the upload: {e}")))?,
        )
    } else {
        None
    };
    let mut file = match &upload {
        Some(named) => named
            .reopen()
            .map_err(|e| ApiError::Internal(e.to_string()))?,
        None => tempfile::tempfile().map_err(|e| ApiError::Internal(e.to_string()))?,
    };
    let mut size: u64 = 0;
    let limit = state.max_upload_bytes;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| invalid(format!("the upload broke off: {e}")))?;
        size += chunk.len() as u64;
        if size > limit as u64 {
            return Err(ApiError::BodyTooLarge(limit));
        }
        file.write_all(&chunk)
            .map_err(|e| ApiError::Internal(format!("cannot store the upload: {e}")))?;
    }
    // Kept until the job ends, by the job's thread.
    let kept = upload
        .map(|named| named.into_temp_path().keep())
        .transpose()
        .map_err(|e| ApiError::Internal(format!("cannot keep the upload: {e}")))?;
    let resume = kept.as_ref().map(|path| JobResume {
        mode: mode.as_str().to_string(),
        key: options.key.clone(),
        max_errors: options.max_errors,
        mapping: mapping_text,
        upload: path.to_string_lossy().into_owned(),
    });
    let dynex = admin.dynex.clone();
    let created = blocking(move || {
        let job = dynex.create_job(NewJob {
            kind: JobKind::Import,
            entity,
            file_name,
            options: shown,
            created_by: admin.principal.name.clone(),
            bytes_total: Some(size),
            resume: resume.clone(),
        })?;
        // A resumable job records its progress under its own source from the first batch on.
        let options = match &resume {
            Some(r) => r.options(&job.id, false)?,
            None => options,
        };
        Ok((job, options))
    })
    .await;
    let (job, options) = match created {
        Ok(created) => created,
        Err(e) => {
            if let Some(path) = &kept {
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
    };
    let metrics = state.metrics.clone();
    spawn_import(
        admin.dynex.clone(),
        metrics,
        job.id.clone(),
        file,
        kept,
        options,
    )?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("jobs/{}", job.id)))
        .json(json!({ "data": job })))
}

/// Where uploads of imports that can be resumed are kept until their jobs end.
fn upload_dir() -> std::path::PathBuf {
    std::env::temp_dir().join("dynex-jobs")
}

/// Runs import job `id` over `file` on a thread of its own (an import may take minutes, longer
/// than the blocking pool should be held); records its failure, and removes the kept upload
/// once the job has ended either way.
fn spawn_import(
    dynex: Dynex,
    metrics: crate::metrics::Metrics,
    id: String,
    mut file: std::fs::File,
    kept: Option<std::path::PathBuf>,
    options: ImportOptions,
) -> Result<(), ApiError> {
    std::thread::Builder::new()
        .name(format!("dynex-job-{id}"))
        .spawn(move || {
            use std::io::Seek;
            let result = file
                .rewind()
                .map_err(|e| CoreError::Invalid(format!("cannot read the upload: {e}")))
                .and_then(|()| dynex.run_import_job(&id, std::io::BufReader::new(file), &options));
            metrics.import(result.as_ref());
            if let Err(e) = result {
                let error = ApiError::Core(e).object();
                let error = json!({ "code": error.code, "message": error.message });
                if let Err(e) = dynex.finish_job(&id, Err(error)) {
                    log::error!("cannot record the failure of job {id}: {e}");
                }
            }
            if let Some(path) = kept
                && let Err(e) = std::fs::remove_file(&path)
            {
                log::warn!("cannot remove the upload of job {id}: {e}");
            }
        })
        .map(|_| ())
        .map_err(|e| ApiError::Internal(format!("cannot start the job: {e}")))
}

/// `POST /admin/api/jobs/{id}/resume`: runs an interrupted import job again from its last
/// committed batch (its server stopped while it ran); `202 Accepted` with the job, as when it
/// was started.
pub(crate) async fn resume(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let dynex = admin.dynex.clone();
    let shown = id.clone();
    let job = blocking(move || dynex.job(&shown)).await?;
    entity_scope(&admin.principal, Action::Write, &job.entity)?;
    let dynex = admin.dynex.clone();
    let (job, options, upload) = blocking(move || dynex.resume_job(&id)).await?;
    let file = match std::fs::File::open(&upload) {
        Ok(file) => file,
        Err(e) => {
            let error = json!({ "code": dynex_wire::Code::Internal.as_str(),
                                "message": format!("cannot read the kept upload: {e}") });
            let dynex = state.dynex.clone();
            let failed = job.id.clone();
            blocking(move || dynex.finish_job(&failed, Err(error))).await?;
            return Err(ApiError::Internal(format!(
                "cannot read the kept upload: {e}"
            )));
        }
    };
    spawn_import(
        admin.dynex.clone(),
        state.metrics.clone(),
        job.id.clone(),
        file,
        Some(upload),
        options,
    )?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/admin/api/jobs/{}", job.id)))
        .json(json!({ "data": job })))
}

/// The body of `POST /admin/api/jobs/export`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExportJob {
    entity: String,
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    fields: Vec<String>,
    /// Filters as the API's query pairs: `{"filter[gadgets.price]": "{\"gte\": 10}"}`.
    #[serde(default)]
    filters: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    changed_since: Option<String>,
    /// `escape` (the default: the file is for a spreadsheet) or `keep`.
    #[serde(default)]
    formulas: Option<String>,
}

/// `POST /admin/api/jobs/export` with `{entity, sort?, fields?, filters?, changedSince?}`:
/// answers the CSV file (as `Accept: text/csv` on the API does) and records the export as a job,
/// done with its row count when the last row is sent. The job's id is in `X-Dynex-Job`.
pub(crate) async fn export(
    state: web::Data<AppState>,
    bytes: web::Bytes,
    admin: Admin,
) -> Result<HttpResponse, ApiError> {
    let asked: ExportJob = super::body(&bytes)?;
    let escape = match asked.formulas.as_deref() {
        None | Some("escape") => true,
        Some("keep") => false,
        Some(other) => {
            return Err(invalid(format!(
                "`formulas` is `escape` or `keep`, not `{other}`"
            )));
        }
    };
    let mut request = dynex_core::ExportRequest {
        sort: asked.sort.clone().filter(|s| !s.is_empty()),
        fields: asked.fields.clone(),
        changed_since: asked.changed_since.clone().filter(|s| !s.is_empty()),
        ..Default::default()
    };
    for (k, v) in &asked.filters {
        if !k.starts_with("filter") {
            return Err(invalid(format!("`{k}` is not a filter parameter")));
        }
        let v = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        request.filters.push((k.clone(), v));
    }
    if state
        .dynex
        .snapshot()
        .catalog
        .entity(&asked.entity)
        .is_none()
    {
        return Err(ApiError::Core(CoreError::UnknownEntity(asked.entity)));
    }
    entity_scope(&admin.principal, Action::Read, &asked.entity)?;
    let dynex = admin.dynex.clone();
    let principal = admin.principal.clone();
    let alias = asked.entity.clone();
    let (plan, job) = blocking(move || {
        let plan = dynex.plan_export(&alias, &request, Some(&principal))?;
        let job = dynex.create_job(NewJob {
            kind: JobKind::Export,
            resume: None,
            entity: alias.clone(),
            file_name: format!("{alias}.csv"),
            options: json!({
                "sort": request.sort,
                "fields": request.fields,
                "filters": request.filters.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
                "changedSince": request.changed_since,
                "formulas": if escape { "escape" } else { "keep" },
            }),
            created_by: admin.principal.name.clone(),
            bytes_total: None,
        })?;
        Ok((plan, job))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(attachment(&job.file_name))
        .insert_header(("X-Dynex-Job", job.id.clone()))
        .streaming(csv::stream_export(&state, plan, Some(job.id), escape)))
}
