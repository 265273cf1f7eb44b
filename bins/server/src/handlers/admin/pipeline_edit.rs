//! Pipelines edited and looked after in the admin API, for the back office's Pipelines page: a
//! definition read and saved (checked as `dynex pipeline add` checks it), removed, its run
//! history and dead letters (replayed or skipped), the mapping tester, and the variables
//! definitions read as `${NAME}`.
//!
//! A definition refused is answered `400` with one error object per problem, each with the
//! problem's `path` (`map.fields.name.path`) and, where it can be found in the text, its `line`,
//! so that a page shows every problem at its place.

use actix_web::{HttpRequest, HttpResponse, web};
use dynex_core::{CoreError, Dynex, Saved};
use dynex_pipeline::definition::Definition;
use dynex_pipeline::problem::Checker;
use dynex_pipeline::run::{RunError, RunOptions, Sample};
use dynex_pipeline::variables::LoadError;
use dynex_pipeline::{Problem, Problems, Record};
use dynex_wire::{Code, WireError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{body, run};
use crate::config::AppState;
use crate::error::ApiError;
use crate::extract::{Admin, query_pairs};
use crate::respond::{created, ok};

/// The routes of this module, under `/admin/api` after the pipelines' health routes (so that
/// `/pipelines/health` stays theirs).
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/pipelines/test", web::post().to(test_unsaved))
        .route("/pipelines/{name}", web::get().to(show))
        .route("/pipelines/{name}", web::put().to(save))
        .route("/pipelines/{name}", web::delete().to(remove))
        .route("/pipelines/{name}/runs", web::get().to(runs))
        .route(
            "/pipelines/{name}/dead-letters",
            web::get().to(dead_letters),
        )
        .route(
            "/pipelines/{name}/dead-letters/retry",
            web::post().to(retry),
        )
        .route("/pipelines/{name}/dead-letters/skip", web::post().to(skip))
        .route("/pipelines/{name}/test", web::post().to(test_stored))
        .route("/variables", web::get().to(variables))
        .route("/variables/{name}", web::put().to(set_variable))
        .route("/variables/{name}", web::delete().to(remove_variable));
}

/// Records the mapping tester maps at most, pasted or fetched.
const MAX_SAMPLES: usize = 100;

/// What a handler ends with: an answer, or a definition's problems.
enum Outcome<T> {
    Done(T),
    Refused(Problems),
}

impl<T> From<Problems> for Outcome<T> {
    fn from(p: Problems) -> Self {
        Outcome::Refused(p)
    }
}

/// `400` with one error object per problem, each with its `path` and `line` (1-based) in `text`.
fn refused(problems: &Problems, text: &str) -> HttpResponse {
    let code = Code::InvalidInput;
    let all: Vec<Value> = problems
        .0
        .iter()
        .map(|p| {
            json!({
                "code": code.as_str(),
                "status": code.status(),
                "message": p.to_string(),
                "path": p.path,
                "line": line_of(text, &p.path),
            })
        })
        .collect();
    HttpResponse::BadRequest().json(all)
}

/// Runs `f` off the async workers; problems are answered at their places in `text`.
async fn checked<R: Serialize + Send + 'static>(
    admin: &Admin,
    text: String,
    answer: impl FnOnce(R) -> HttpResponse,
    f: impl FnOnce(Dynex) -> Result<Outcome<R>, CoreError> + Send + 'static,
) -> Result<HttpResponse, ApiError> {
    Ok(match run(admin, f).await? {
        Outcome::Done(r) => answer(r),
        Outcome::Refused(problems) => refused(&problems, &text),
    })
}

fn load_error<T>(e: LoadError) -> Result<Outcome<T>, CoreError> {
    match e {
        LoadError::Invalid(p) => Ok(Outcome::Refused(p)),
        LoadError::Core(c) => Err(c),
    }
}

/// A limit from the query (`limit`, from 1 to 1000), `default` without one.
fn limit(req: &HttpRequest, default: i64) -> Result<i64, ApiError> {
    let mut limit = default;
    for (name, value) in query_pairs(req) {
        match name.as_str() {
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| invalid("`limit` is a number from 1 to 1000"))?;
            }
            "api_key" => {}
            other => return Err(invalid(&format!("unknown parameter `{other}`"))),
        }
    }
    Ok(limit)
}

fn invalid(why: &str) -> ApiError {
    ApiError::Core(CoreError::Invalid(why.to_string()))
}

/// A pipeline's definition as stored, with its health.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    name: String,
    /// The text as its author wrote it, `${VAR}` references and all.
    definition: String,
    /// The variables it refers to.
    variables: Vec<String>,
    created_at: String,
    updated_at: String,
    health: dynex_pipeline::health::PipelineHealth,
}

fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// `GET /admin/api/pipelines/{name}`: the definition as stored, and its health.
pub(crate) async fn show(admin: Admin, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let stored = run(&admin, move |d| {
        let stored = d.pipeline(&name)?;
        let health = dynex_pipeline::health::one(&d, &name, chrono::Utc::now())?;
        Ok(Stored {
            variables: dynex_pipeline::variables::referenced(&stored.definition),
            created_at: utc(stored.created_at_ms),
            updated_at: utc(stored.updated_at_ms),
            name: stored.name,
            definition: stored.definition,
            health,
        })
    })
    .await?;
    Ok(ok(stored))
}

/// A definition's text, as the page sends it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Text {
    definition: String,
}

/// `PUT /admin/api/pipelines/{name}` with `{"definition": "…"}`: checked as `dynex pipeline add`
/// checks it (variables, the entities, the dependencies), then saved: `201` when new, `200`
/// otherwise, with `{name, saved}`. The definition's `name` must be the path's.
pub(crate) async fn save(
    bytes: web::Bytes,
    admin: Admin,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let Text { definition: text } = body(&bytes)?;
    let check = text.clone();
    let result = run(&admin, move |d| {
        let definition = match dynex_pipeline::variables::for_check(&d, &check) {
            Ok(definition) => definition,
            Err(e) => return load_error(e),
        };
        if definition.name != name {
            return Ok(Outcome::Refused(Problems(vec![Problem::new(
                "name",
                format!(
                    "the definition's name `{}` is not the name in the path, `{name}` (to \
                     rename, save it under the new name and remove the old one)",
                    definition.name
                ),
            )])));
        }
        if let Err(p) = definition.check(&d.snapshot().catalog) {
            return Ok(p.into());
        }
        if let Err(p) =
            dynex_pipeline::order::check(&definition, &dynex_pipeline::order::stored(&d)?)
        {
            return Ok(p.into());
        }
        let saved = d.save_pipeline(&name, &check)?;
        Ok(Outcome::Done((name, saved)))
    })
    .await?;
    Ok(match result {
        Outcome::Done((name, saved)) => {
            let data = json!({ "name": name, "saved": saved });
            if saved == Saved::Created {
                created(data)
            } else {
                ok(data)
            }
        }
        Outcome::Refused(problems) => refused(&problems, &text),
    })
}

/// `DELETE /admin/api/pipelines/{name}`: `204`; refused (`400`, at `after`) while other
/// pipelines run after it, as `dynex pipeline remove` refuses. Its cursor and dead letters go
/// with it; its run history stays.
pub(crate) async fn remove(
    admin: Admin,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    checked(
        &admin,
        String::new(),
        |()| HttpResponse::NoContent().finish(),
        move |d| {
            d.pipeline(&name)?;
            let dependents =
                dynex_pipeline::order::dependents(&name, &dynex_pipeline::order::stored(&d)?);
            if !dependents.is_empty() {
                return Ok(Outcome::Refused(Problems(vec![Problem::new(
                    "after",
                    format!(
                        "`{name}` cannot be removed: {} run after it (remove it from their \
                         `after` first)",
                        dependents
                            .iter()
                            .map(|d| format!("`{d}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )])));
            }
            d.remove_pipeline(&name)?;
            Ok(Outcome::Done(()))
        },
    )
    .await
}

/// `GET /admin/api/pipelines/{name}/runs[?limit=N]`: its runs, newest first (50 unless told).
pub(crate) async fn runs(
    admin: Admin,
    name: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let limit = limit(&req, 50)?;
    let runs = run(&admin, move |d| {
        // An unknown pipeline is 404, not an empty history.
        d.pipeline(&name)?;
        d.pipeline_runs(&name, limit)
    })
    .await?;
    Ok(ok(runs))
}

/// `GET /admin/api/pipelines/{name}/dead-letters[?limit=N]`: oldest first (100 unless told).
pub(crate) async fn dead_letters(
    admin: Admin,
    name: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let limit = limit(&req, 100)?;
    let letters = run(&admin, move |d| {
        d.pipeline(&name)?;
        d.dead_letters(&name, limit)
    })
    .await?;
    Ok(ok(letters))
}

/// What to replay.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Retry {
    /// At most this many dead letters, oldest first (1000 unless told).
    #[serde(default)]
    limit: Option<usize>,
}

/// `POST /admin/api/pipelines/{name}/dead-letters/retry[ {"limit": N}]`: replays its dead
/// letters through its current mapping and target, as `dynex pipeline retry` does, and answers
/// the replay's summary once it ends (the request waits for it: a replay reads no source, and
/// is bounded by `limit`). A record refused again is a new dead letter; `409` while a run goes.
pub(crate) async fn retry(
    bytes: web::Bytes,
    state: web::Data<AppState>,
    admin: Admin,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let Retry { limit } = if bytes.is_empty() {
        Retry::default()
    } else {
        body(&bytes)?
    };
    let limit = limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(invalid("`limit` is a number from 1 to 10000"));
    }
    let metrics = state.metrics.clone();
    let text = String::new();
    checked(&admin, text, ok, move |d| {
        let (definition, redactor) = match dynex_pipeline::stored::load(&d, &name) {
            Ok(loaded) => loaded,
            Err(RunError::Invalid(p)) => return Ok(p.into()),
            Err(RunError::Core(e)) => return Err(e),
            Err(e @ RunError::Failed(_)) => return Err(super::pipelines::run_error(e)),
        };
        let options = RunOptions {
            redactor,
            trigger: Some(crate::pipelines::Trigger::BackOffice.as_str().into()),
            cancel: dynex_pipeline::run::StopSignal::with_timeout(definition.run_timeout()),
            ..RunOptions::default()
        };
        let result = dynex_pipeline::run::retry(&d, &definition, &options, limit, &mut ());
        metrics.pipeline_run(&name, &result);
        match result {
            Ok(summary) => Ok(Outcome::Done(summary)),
            // The replay ran and failed: its summary says why.
            Err(RunError::Failed(summary)) => Ok(Outcome::Done(*summary)),
            Err(RunError::Invalid(p)) => Ok(p.into()),
            Err(RunError::Core(e)) => Err(e),
        }
    })
    .await
}

/// Dead letters to skip.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Skip {
    ids: Vec<i64>,
}

/// `POST /admin/api/pipelines/{name}/dead-letters/skip` with `{"ids": [..]}`: removes those
/// dead letters without delivering them; answers how many were removed (ids of other pipelines
/// or already gone are not counted).
pub(crate) async fn skip(
    bytes: web::Bytes,
    admin: Admin,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let Skip { ids } = body(&bytes)?;
    if ids.is_empty() {
        return Err(invalid("`ids` names at least one dead letter"));
    }
    let skipped = run(&admin, move |d| {
        d.pipeline(&name)?;
        d.remove_dead_letters(&name, &ids)
    })
    .await?;
    Ok(ok(json!({ "skipped": skipped })))
}

/// What the mapping tester maps.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Test {
    /// A definition's text (the editor's, maybe unsaved); the stored one when absent.
    #[serde(default)]
    definition: Option<String>,
    /// Records to map; when absent, up to `sample` are fetched from the source.
    #[serde(default)]
    records: Option<Vec<Record>>,
    /// Records to fetch from the source (5 unless told).
    #[serde(default)]
    sample: Option<usize>,
    /// Fetch from the source's beginning rather than where the next run would start.
    #[serde(default)]
    full: bool,
}

/// What the tester answers: each record beside what the mapping makes of it.
#[derive(Serialize)]
struct Tested {
    /// `pasted` or `source`.
    from: &'static str,
    samples: Vec<Checked>,
}

/// A sample with what the target entity's field rules say of its rows.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Checked {
    #[serde(flatten)]
    sample: Sample,
    /// Each rule a mapped row breaks: `{row, code, message}` (`row` counts from 0). Only for an
    /// `entity` target; required fields are checked for `mode: insert` only, as an upsert's row
    /// may update one that has them, and keys (unique, references) only by a run.
    row_errors: Vec<Value>,
}

/// Checks each sample's rows against the field rules of the definition's target entity, as a
/// run's write would before it sends them to the database.
fn check_rows(d: &Dynex, definition: &Definition, samples: Vec<Sample>) -> Vec<Checked> {
    let snapshot = d.snapshot();
    let target = match &definition.target {
        dynex_pipeline::definition::TargetSpec::Entity(t) => snapshot
            .catalog
            .entity(&t.entity)
            .map(|e| (e.clone(), t.mode)),
        _ => None,
    };
    let decimals_as_doubles = d.dialect() == dynex_query::Dialect::Sqlite;
    samples
        .into_iter()
        .map(|sample| {
            let mut row_errors = Vec::new();
            if let (Some((entity, mode)), Some(rows)) = (&target, &sample.rows) {
                for (i, row) in rows.iter().enumerate() {
                    // A row with lookups carries its fields apart; the looked-up fields are
                    // filled by the run.
                    let fields = row.get("lookups").map_or(row, |_| &row["fields"]);
                    let Some(fields) = fields.as_object() else {
                        continue;
                    };
                    let mut errors = Vec::new();
                    let split =
                        dynex_validate::split_row(entity, fields, entity.alias(), &mut errors);
                    let check = dynex_validate::RowCheck {
                        intent: None,
                        require: *mode == dynex_pipeline::definition::WriteMode::Insert,
                        identifier_is_key: true,
                        from_parent: &[],
                        given: &[],
                        decimals_as_doubles,
                    };
                    dynex_validate::check_row(entity, &split, entity.alias(), &check, &mut errors);
                    row_errors.extend(errors.iter().map(|e| {
                        json!({
                            "row": i,
                            "code": WireError::code(e).as_str(),
                            "message": WireError::message(e),
                        })
                    }));
                }
            }
            Checked { sample, row_errors }
        })
        .collect()
}

/// `POST /admin/api/pipelines/{name}/test`: the mapping tester of the stored pipeline (or of
/// the `definition` in the body, which must be named `name`).
pub(crate) async fn test_stored(
    bytes: web::Bytes,
    admin: Admin,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    test(bytes, admin, Some(name.into_inner())).await
}

/// `POST /admin/api/pipelines/test` with `{"definition", "records"}`: the mapping tester of a
/// definition not saved yet.
pub(crate) async fn test_unsaved(
    bytes: web::Bytes,
    admin: Admin,
) -> Result<HttpResponse, ApiError> {
    test(bytes, admin, None).await
}

/// Maps the pasted records, or a sample fetched from the source as `dynex pipeline test` does;
/// writes nothing and records no run.
async fn test(
    bytes: web::Bytes,
    admin: Admin,
    name: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let request: Test = if bytes.is_empty() {
        Test::default()
    } else {
        body(&bytes)?
    };
    if name.is_none() && request.definition.is_none() {
        return Err(invalid(
            "`definition` is required without a stored pipeline",
        ));
    }
    let sample = request.sample.unwrap_or(5);
    if !(1..=MAX_SAMPLES).contains(&sample) {
        return Err(invalid(&format!(
            "`sample` is a number from 1 to {MAX_SAMPLES}"
        )));
    }
    if request
        .records
        .as_ref()
        .is_some_and(|r| r.len() > MAX_SAMPLES)
    {
        return Err(invalid(&format!(
            "at most {MAX_SAMPLES} records are tested at once"
        )));
    }
    let text = request.definition.clone().unwrap_or_default();
    checked(&admin, text, ok, move |d| {
        let text = match (&request.definition, &name) {
            (Some(text), _) => text.clone(),
            (None, Some(name)) => d.pipeline(name)?.definition,
            (None, None) => unreachable!("refused above"),
        };
        match request.records {
            Some(records) => {
                let definition = match dynex_pipeline::variables::for_check(&d, &text) {
                    Ok(definition) => definition,
                    Err(e) => return load_error(e),
                };
                if let Err(p) = named(&definition, name.as_deref()) {
                    return Ok(p.into());
                }
                if let Err(p) = definition.check(&d.snapshot().catalog) {
                    return Ok(p.into());
                }
                let samples = map_records(&definition, records)?;
                Ok(Outcome::Done(Tested {
                    from: "pasted",
                    samples: check_rows(&d, &definition, samples),
                }))
            }
            None => {
                let key = dynex_pipeline::stored::secret_key()?;
                let (definition, redactor) =
                    match dynex_pipeline::variables::load(&d, &text, key.as_ref()) {
                        Ok(loaded) => loaded,
                        Err(e) => return load_error(e),
                    };
                if let Err(p) = named(&definition, name.as_deref()) {
                    return Ok(p.into());
                }
                let options = RunOptions {
                    full: request.full,
                    redactor,
                    ..RunOptions::default()
                };
                match dynex_pipeline::run::sample(&d, &definition, &options, sample) {
                    Ok(samples) => Ok(Outcome::Done(Tested {
                        from: "source",
                        samples: check_rows(&d, &definition, samples),
                    })),
                    Err(RunError::Invalid(p)) => Ok(p.into()),
                    Err(RunError::Core(e)) => Err(e),
                    Err(RunError::Failed(summary)) => Err(CoreError::Invalid(format!(
                        "no sample: the source failed: {}",
                        summary.error.unwrap_or_default()
                    ))),
                }
            }
        }
    })
    .await
}

/// The definition of a stored pipeline under test must keep its name.
fn named(definition: &Definition, name: Option<&str>) -> Result<(), Problems> {
    match name {
        Some(name) if definition.name != name => Err(Problems(vec![Problem::new(
            "name",
            format!(
                "the definition's name `{}` is not the name in the path, `{name}`",
                definition.name
            ),
        )])),
        _ => Ok(()),
    }
}

/// Each record beside its rows, or why the mapping skips or refuses it, as
/// [`dynex_pipeline::run::sample`] answers for fetched ones.
fn map_records(definition: &Definition, records: Vec<Record>) -> Result<Vec<Sample>, CoreError> {
    let mut checker = Checker::default();
    let mapping = definition.map.compile("map", &mut checker);
    // Checked before: a mapping that does not compile was refused with its problems.
    let Some(mapping) = mapping else {
        return Ok(Vec::new());
    };
    let vars = serde_json::Map::new();
    Ok(records
        .into_iter()
        .map(|record| {
            let mut sample = Sample {
                record: Value::Null,
                rows: None,
                skipped: None,
                error: None,
            };
            match mapping.apply(&record, &vars) {
                Ok(dynex_pipeline::map::Mapped::Rows(rows)) => {
                    sample.rows = Some(
                        rows.into_iter()
                            .map(|r| {
                                if r.lookups.is_empty() {
                                    Value::Object(r.fields)
                                } else {
                                    let lookups: Vec<Value> = r
                                        .lookups
                                        .into_iter()
                                        .map(|l| {
                                            json!({"field": l.field, "entity": l.entity, "by": l.by, "value": l.value})
                                        })
                                        .collect();
                                    json!({"fields": r.fields, "lookups": lookups})
                                }
                            })
                            .collect(),
                    );
                }
                Ok(dynex_pipeline::map::Mapped::Skipped(why)) => {
                    sample.skipped = Some(why.to_string());
                }
                Err(e) => {
                    sample.error =
                        Some(json!({"field": e.field, "code": e.code, "message": e.message}));
                }
            }
            sample.record = record;
            sample
        })
        .collect())
}

/// The variables as the page lists them, and whether secrets can be set here.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Variables {
    /// Each with its value when plain; a secret's is never sent.
    variables: Vec<dynex_core::VariableInfo>,
    /// Whether this server holds `DYNEX_SECRET_KEY`, which setting a secret needs.
    secrets_settable: bool,
}

/// `GET /admin/api/variables`: every variable, secrets without their values.
pub(crate) async fn variables(admin: Admin) -> Result<HttpResponse, ApiError> {
    let list = run(&admin, |d| {
        Ok(Variables {
            variables: d.list_variables()?,
            secrets_settable: dynex_pipeline::stored::secret_key()?.is_some(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(json!({ "data": list })))
}

/// A variable's new value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewValue {
    value: String,
    #[serde(default)]
    secret: bool,
}

/// `PUT /admin/api/variables/{name}` with `{"value", "secret"?}`: sets it, as `dynex variable
/// set` does; a secret is encrypted with the server's `DYNEX_SECRET_KEY` (refused without one).
pub(crate) async fn set_variable(
    bytes: web::Bytes,
    admin: Admin,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let NewValue { value, secret } = body(&bytes)?;
    let saved = run(&admin, move |d| {
        let key = if secret {
            Some(dynex_pipeline::stored::secret_key()?.ok_or_else(|| {
                CoreError::Invalid(format!(
                    "a secret needs {} on the server: the key that encrypts it (make one with \
                     `dynex variable new-key`)",
                    dynex_pipeline::stored::SECRET_KEY_VAR
                ))
            })?)
        } else {
            None
        };
        d.set_variable(&name, &value, key.as_ref())?;
        Ok(json!({ "name": name, "secret": secret }))
    })
    .await?;
    Ok(ok(saved))
}

/// `DELETE /admin/api/variables/{name}`: `204`.
pub(crate) async fn remove_variable(
    admin: Admin,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    run(&admin, move |d| d.remove_variable(&name)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The line (1-based) of `path` in a YAML definition's `text`: the line of the deepest key of
/// the path found by indentation (`map.fields.name.path`, `after[1]`), or the line a YAML error
/// names (`line 4, column 3`). A best effort for the page: `None` when not even the first key
/// is found.
pub(crate) fn line_of(text: &str, path: &str) -> Option<usize> {
    if let Some(rest) = path.strip_prefix("line ") {
        return rest.split(',').next().and_then(|n| n.trim().parse().ok());
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut found: Option<usize> = None;
    // The range of lines the next key is looked for in, and the indentation of its parent.
    let (mut from, mut to, mut parent) = (0usize, lines.len(), -1i64);
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (key, indexes) = match segment.find('[') {
            Some(at) => (&segment[..at], &segment[at..]),
            None => (segment, ""),
        };
        let Some((at, indent)) = find_key(&lines, from, to, parent, key) else {
            break;
        };
        found = Some(at);
        from = at + 1;
        to = block_end(&lines, from, indent);
        parent = indent;
        for index in indexes
            .split(['[', ']'])
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse::<usize>().ok())
        {
            let Some((item, dash)) = find_item(&lines, from, to, index) else {
                return found.map(|l| l + 1);
            };
            found = Some(item);
            from = item;
            to = block_end(&lines, item + 1, dash);
            // The item's own keys sit after its dash.
            parent = dash;
        }
    }
    found.map(|l| l + 1)
}

/// The indentation of a line and its text after it, `- ` of a list item counted as indentation.
fn indented(line: &str) -> (i64, &str) {
    let trimmed = line.trim_start();
    let mut indent = (line.len() - trimmed.len()) as i64;
    let mut rest = trimmed;
    while let Some(after) = rest.strip_prefix("- ") {
        let inner = after.trim_start();
        indent += (rest.len() - inner.len()) as i64;
        rest = inner;
    }
    (indent, rest)
}

fn blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// The first line in `from..to` that holds `key:` indented deeper than `parent`.
fn find_key(
    lines: &[&str],
    from: usize,
    to: usize,
    parent: i64,
    key: &str,
) -> Option<(usize, i64)> {
    (from..to.min(lines.len())).find_map(|i| {
        if blank(lines[i]) {
            return None;
        }
        let (indent, rest) = indented(lines[i]);
        let rest = rest.trim_start_matches(['"', '\'']);
        let matches = rest
            .strip_prefix(key)
            .map(|r| r.trim_start_matches(['"', '\'']).starts_with(':'))
            .unwrap_or(false);
        (indent > parent && matches).then_some((i, indent))
    })
}

/// The end of the block of lines from `from` indented deeper than `indent`.
fn block_end(lines: &[&str], from: usize, indent: i64) -> usize {
    (from..lines.len())
        .find(|&i| {
            !blank(lines[i]) && (lines[i].len() - lines[i].trim_start().len()) as i64 <= indent
        })
        .unwrap_or(lines.len())
}

/// The line of the `index`-th `- ` item in `from..to`, and the indentation of its dash.
fn find_item(lines: &[&str], from: usize, to: usize, index: usize) -> Option<(usize, i64)> {
    let items: Vec<(usize, i64)> = (from..to.min(lines.len()))
        .filter(|&i| lines[i].trim_start().starts_with("- ") || lines[i].trim() == "-")
        .map(|i| (i, (lines[i].len() - lines[i].trim_start().len()) as i64))
        .collect();
    let top = items.iter().map(|(_, d)| *d).min()?;
    items.into_iter().filter(|(_, d)| *d == top).nth(index)
}

#[cfg(test)]
mod tests {
    use super::line_of;

    const TEXT: &str = "name: a\n\
                        source:\n  csv:\n    folder: /tmp\n\
                        map:\n  fields:\n    code: $.code\n    name: { path: $.name }\n\
                        after:\n  - one\n  - two\n\
                        target:\n  entity:\n    entity: countries\n";

    #[test]
    fn paths_are_found_by_indentation() {
        assert_eq!(line_of(TEXT, "name"), Some(1));
        assert_eq!(line_of(TEXT, "source.csv.folder"), Some(4));
        assert_eq!(line_of(TEXT, "map.fields.name"), Some(8));
        // Inside a flow mapping: the line of its key.
        assert_eq!(line_of(TEXT, "map.fields.name.path"), Some(8));
        assert_eq!(line_of(TEXT, "after[1]"), Some(11));
        assert_eq!(line_of(TEXT, "target.entity.entity"), Some(14));
        assert_eq!(line_of(TEXT, "target.entity.key"), Some(13));
        assert_eq!(line_of(TEXT, "line 3, column 5"), Some(3));
        assert_eq!(line_of(TEXT, "nowhere.at.all"), None);
        assert_eq!(line_of(TEXT, ""), None);
    }
}
