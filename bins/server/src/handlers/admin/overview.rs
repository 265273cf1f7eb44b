//! The overview in the admin API (`GET /admin/api/overview`): what the back office's landing
//! page shows first thing in the morning. The served endpoints with their row counts, the
//! latest jobs, this instance's requests and errors minute by minute over the last hour, and
//! whether the database answers.

use actix_web::{HttpResponse, web};
use dynex_auth::Action;
use dynex_core::{CoreError, RowCount};
use serde::Serialize;

use crate::config::{AppState, MetricsAccess};
use crate::error::ApiError;
use crate::extract::Admin;
use crate::handlers::blocking;
use crate::metrics::Minute;
use crate::respond::ok;

/// Rows counted per entity at most: a larger table is reported as "more than this" after
/// reading this many rows (or index entries), so the page costs the same on a huge table.
pub(crate) const ROW_COUNT_CAP: u64 = 100_000;

/// Jobs the overview lists, newest first.
const RECENT_JOBS: u64 = 10;

/// The answer's `data`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Overview {
    entities: Vec<EntityRows>,
    row_count_cap: u64,
    jobs: Vec<dynex_core::JobInfo>,
    /// Whether this instance counts its requests: not with `--metrics off`.
    requests_counted: bool,
    requests: Vec<Minute>,
    health: Health,
}

/// A served entity and its rows.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntityRows {
    alias: String,
    table: String,
    /// `None` when the caller may not read the entity, or the database did not answer.
    rows: Option<u64>,
    /// Whether the table holds more than [`ROW_COUNT_CAP`] rows (then `rows` is the cap).
    rows_capped: bool,
}

/// Whether the database answers, and the connection pool of this instance.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Health {
    /// `ready` or `unavailable`, as `/health/ready` would answer.
    database: &'static str,
    /// That the database is unavailable, in words (the cause is logged, not answered).
    error: Option<String>,
    backend: &'static str,
    config_version: i64,
    pool: Pool,
}

#[derive(Serialize)]
struct Pool {
    connections: u32,
    idle: u32,
    max: u32,
    waiting: usize,
}

/// `GET /admin/api/overview`.
///
/// Rows are counted only of the entities the caller may read (the `admin` scope alone reads
/// no rows); the counts and the jobs are left out when the database does not answer, and the
/// answer says why instead of failing.
pub(crate) async fn show(
    state: web::Data<AppState>,
    admin: Admin,
) -> Result<HttpResponse, ApiError> {
    let served: Vec<(String, String, bool)> = state
        .dynex
        .snapshot()
        .catalog
        .entities()
        .iter()
        .map(|e| {
            let alias = e.alias().to_string();
            let may_read = admin.principal.allows(Action::Read, &alias);
            (alias, e.config.table_name.clone(), may_read)
        })
        .collect();
    let dynex = admin.dynex.clone();
    let counted = served.clone();
    let (ready, counts, jobs) = blocking(move || {
        // As `/health/ready` does; a changed configuration is loaded on the way. When the
        // database does not answer, counting would only wait for the pool's timeout again.
        if let Err(e) = dynex.refresh() {
            return Ok((Err(e), Vec::new(), Vec::new()));
        }
        let mut counts = Vec::with_capacity(counted.len());
        for (alias, _, may_read) in &counted {
            counts.push(match *may_read {
                false => None,
                true => match dynex.count_rows(alias, ROW_COUNT_CAP) {
                    Ok(n) => Some(n),
                    // Removed since the list was taken.
                    Err(CoreError::UnknownEntity(_)) => None,
                    Err(e) => return Err(e),
                },
            });
        }
        Ok((Ok(()), counts, dynex.jobs(RECENT_JOBS)?))
    })
    .await?;
    let entities = served
        .into_iter()
        .enumerate()
        .map(|(i, (alias, table, _))| {
            let count: Option<RowCount> = counts.get(i).copied().flatten();
            EntityRows {
                alias,
                table,
                rows: count.map(|c| c.rows),
                rows_capped: count.is_some_and(|c| c.capped),
            }
        })
        .collect();
    let (database, error) = match ready {
        Ok(()) => ("ready", None),
        Err(e) => {
            // Like server-side failures elsewhere, the details go to the log only.
            log::error!("overview: the database is not ready: {e}");
            (
                "unavailable",
                Some("The database does not answer; the server's log says why.".to_string()),
            )
        }
    };
    let pool = state.dynex.db().status();
    Ok(ok(Overview {
        entities,
        row_count_cap: ROW_COUNT_CAP,
        jobs,
        requests_counted: state.metrics_access != MetricsAccess::Off,
        requests: state.metrics.last_hour(),
        health: Health {
            database,
            error,
            backend: backend_name(state.dynex.dialect()),
            config_version: state.dynex.snapshot().version,
            pool: Pool {
                connections: pool.connections,
                idle: pool.idle,
                max: pool.max,
                waiting: pool.waiting,
            },
        },
    }))
}

fn backend_name(dialect: dynex_query::Dialect) -> &'static str {
    match dialect {
        dynex_query::Dialect::Sqlite => "sqlite",
        dynex_query::Dialect::Postgres => "postgres",
        dynex_query::Dialect::Mysql => "mysql",
    }
}
