//! The audit log in the admin API.

use actix_web::{HttpRequest, HttpResponse};
use dynex_core::{AuditFilter, CoreError};

use super::run;
use crate::error::ApiError;
use crate::extract::{Admin, query_pairs};
use crate::respond::ok;

/// `GET /admin/api/audit[?limit=N&before=ID&action=A&actor=X&target=T]`: entries, newest first.
pub(crate) async fn list(admin: Admin, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let invalid = |why: String| ApiError::Core(CoreError::Invalid(why));
    let mut filter = AuditFilter::default();
    for (name, value) in query_pairs(&req) {
        match name.as_str() {
            "limit" => {
                filter.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| invalid("`limit` is a number from 1 to 1000".into()))?;
            }
            "before" => {
                filter.before = Some(
                    value
                        .parse()
                        .map_err(|_| invalid("`before` is an entry's id".into()))?,
                );
            }
            "action" => filter.action = Some(value),
            "actor" => filter.actor = Some(value),
            "target" => filter.target = Some(value),
            "api_key" => {}
            other => return Err(invalid(format!("unknown parameter `{other}`"))),
        }
    }
    Ok(ok(run(&admin, move |d| d.audit_log(&filter)).await?))
}
