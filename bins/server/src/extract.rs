//! What handlers take from a request besides the shared state: who is calling and what they may
//! do, the query pairs, and the body.
//!
//! The credential extractors, [`Authorized`] and [`Admin`], run the checks of [`crate::auth`]
//! before the handler starts. A handler lists its extractors first-to-last in the order their
//! checks must run: docs/auth.md ("Error answers") promises that credentials and scopes are
//! checked before the alias is looked up and before a write's body is read.

use std::future::{Ready, ready};
use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use dynex_auth::{Action, Principal, TokenError};
use dynex_core::{Dynex, KeyRefusal};
use futures_util::future::{Either, LocalBoxFuture};
use serde::Deserialize;

use crate::auth;
use crate::config::AppState;
use crate::error::ApiError;

/// The query string as decoded name and value pairs, in order (repeats kept).
pub(crate) fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    parse_query(req.query_string())
}

/// The pairs of `query` exactly as `form_urlencoded::parse` decodes them: `&`-separated, empty
/// parts skipped, split at the first `=`, `+` read as a space, `%` and two hex digits as a byte
/// (any other `%` as itself), and bytes that are not UTF-8 replaced.
///
/// `form_urlencoded` decodes a byte at a time through iterators, which cost a filter of twenty
/// keys (300 percent-encoded bytes) 18,000 instructions, a twentieth of the whole read.
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            (decode_component(name), decode_component(value))
        })
        .collect()
}

/// One name or value of a query string, decoded as [`parse_query`] says.
fn decode_component(text: &str) -> String {
    let bytes = text.as_bytes();
    if !bytes.iter().any(|&b| b == b'%' || b == b'+') {
        return text.to_owned();
    }
    let hex = |b: Option<&u8>| b.and_then(|&b| char::from(b).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                (Some(high), Some(low)) => {
                    // Two hex digits make one byte.
                    out.push((high * 16 + low) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Reads a request body of at most `limit` bytes into one buffer sized from `Content-Length`
/// (growing a buffer chunk by chunk costs more than parsing the JSON).
pub(crate) async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    use futures_util::StreamExt;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::BodyTooLarge(limit));
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(8192));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::Core(dynex_core::CoreError::Rows(vec![
                dynex_validate::RowError::InvalidFormat,
            ]))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::BodyTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The state [`crate::create_app`] registers; every application built there has it.
fn state(req: &HttpRequest) -> Result<&web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("the application state is not registered".into()))
}

/// A caller holding the `admin` scope: the guard of every admin API route.
///
/// Admin handlers that take their body as `web::Bytes` list `Admin` after it: actix polls
/// extractors in argument order, so a body declared or found too large is still refused (413)
/// before the credentials are looked at, as when the check ran inside the handler.
pub(crate) struct Admin {
    /// Who is calling.
    pub principal: Principal,
    /// The database, recording the caller and their address in the audit log.
    pub dynex: Dynex,
}

impl Admin {
    fn check(req: &HttpRequest) -> Result<Self, ApiError> {
        let state = state(req)?;
        let pairs = query_pairs(req);
        let principal = auth::authorize_admin(&state.dynex, req, &pairs)?;
        refuse_nul(req, &pairs)?;
        let dynex = auth::acting_as(state, &principal, req);
        Ok(Admin { principal, dynex })
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Checked<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        checked(req, Admin::check)
    }
}

/// The answer of a credential extractor: at once, or after a look at the database.
pub(crate) type Checked<T> =
    Either<Ready<Result<T, ApiError>>, LocalBoxFuture<'static, Result<T, ApiError>>>;

/// Runs `check`, and when it refuses credentials that may be newer than this server's snapshot
/// (a key, user or client created by the CLI or another server since the last look), refreshes
/// the snapshot and runs it once more.
///
/// The snapshot follows changes within milliseconds, but an integration script that creates a
/// key and uses it at once must not depend on that. Only refused requests pay the version check
/// (one primary-key read, in the blocking pool); accepted ones never do.
fn checked<T: 'static>(
    req: &HttpRequest,
    check: fn(&HttpRequest) -> Result<T, ApiError>,
) -> Checked<T> {
    match check(req) {
        Err(
            ApiError::InvalidKey(KeyRefusal::Unknown) | ApiError::InvalidToken(TokenError::Revoked),
        ) => {
            let req = req.clone();
            Either::Right(Box::pin(async move {
                if let Ok(state) = state(&req) {
                    let dynex = state.dynex.clone();
                    if let Err(e) = crate::handlers::blocking(move || dynex.refresh()).await {
                        log::debug!("refresh for unknown credentials failed: {e}");
                    }
                }
                check(&req)
            }))
        }
        answer => Either::Left(ready(answer)),
    }
}

/// Refuses a NUL character (U+0000) in the path or query of an admin request: no name, alias
/// or option holds one, and PostgreSQL would refuse it with a server error.
fn refuse_nul(req: &HttpRequest, pairs: &[(String, String)]) -> Result<(), ApiError> {
    let raw = req.uri().path();
    let in_path = raw.contains('\0')
        || raw
            .as_bytes()
            .windows(3)
            .any(|w| w.eq_ignore_ascii_case(b"%00"));
    let in_query = pairs
        .iter()
        .find(|(k, v)| k.contains('\0') || v.contains('\0'));
    let place = match (in_path, in_query) {
        (true, _) => "the path".to_string(),
        (false, Some((k, _))) => format!("the parameter `{}`", k.replace('\0', "\\u0000")),
        (false, None) => return Ok(()),
    };
    Err(ApiError::Core(dynex_core::CoreError::Invalid(format!(
        "{place} holds a NUL character (U+0000), which no name or option may hold"
    ))))
}

/// An action on the Data Exchange API as a type, so that a handler's signature names the scope
/// it needs: `Authorized<Read>`, `Authorized<Write>`, `Authorized<Delete>`.
pub(crate) trait Permission {
    /// The action this type stands for.
    const ACTION: Action;
}

/// Reading rows: `GET`.
pub(crate) enum Read {}

/// Writing rows: `POST`, `PATCH` and `PUT`.
pub(crate) enum Write {}

/// Deleting rows: `DELETE`.
pub(crate) enum Delete {}

impl Permission for Read {
    const ACTION: Action = Action::Read;
}

impl Permission for Write {
    const ACTION: Action = Action::Write;
}

impl Permission for Delete {
    const ACTION: Action = Action::Delete;
}

/// A Data Exchange API request whose caller may do `A` on the entity its path names: who calls,
/// the path's alias and id, and the query pairs.
///
/// Only the credentials and that scope are checked: whether the alias names an entity is the
/// handler's business, answered after this, and dynex-core checks the scopes of the entities
/// the request reaches from there (includes, nested rows), given the principal.
pub(crate) struct Authorized<A> {
    /// Who is calling.
    pub principal: Principal,
    /// The `{alias}` of the path.
    pub alias: String,
    /// The `{id}` of the path, on `/{alias}/{id}`.
    pub id: Option<String>,
    /// The query pairs, credentials (`api_key`) included.
    pub pairs: Vec<(String, String)>,
    action: PhantomData<A>,
}

/// The segments of a Data Exchange API path, decoded as `web::Path` decodes them.
#[derive(Deserialize)]
struct EntityPath {
    alias: String,
    #[serde(default)]
    id: Option<String>,
}

impl<A: Permission> Authorized<A> {
    fn check(req: &HttpRequest) -> Result<Self, ApiError> {
        let state = state(req)?;
        let path: EntityPath = req
            .match_info()
            .load()
            .map_err(|_| ApiError::RouteNotFound)?;
        let pairs = query_pairs(req);
        let principal = auth::authorize(&state.dynex, req, &pairs, A::ACTION, &path.alias)?;
        Ok(Authorized {
            principal,
            alias: path.alias,
            id: path.id,
            pairs,
            action: PhantomData,
        })
    }
}

impl<A: Permission + 'static> FromRequest for Authorized<A> {
    type Error = ApiError;
    type Future = Checked<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        checked(req, Self::check)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_query;

    fn reference(query: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn queries_are_decoded_as_form_urlencoded_decodes_them() {
        for query in [
            "",
            "&&",
            "a",
            "a=",
            "=b",
            "a=b=c&&d",
            "filter%5Bx.sku%5D=%7B%22in%22%3A%5B%22B1%22%2C%22B2%22%5D%7D",
            "q=a+b%2Bc",
            "bad=%&bad2=%4&bad3=%4g&bad4=%g4&end=%",
            "utf8=%C3%A9&broken=%C3&lone=%FF%FE",
            "raw=é😀",
        ] {
            assert_eq!(parse_query(query), reference(query), "{query}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_query_is_decoded_as_form_urlencoded_decodes_it(
            query in "([a-z=&+%]|%[0-9a-fA-FgG]{0,2}|é){0,40}",
        ) {
            proptest::prop_assert_eq!(parse_query(&query), reference(&query));
        }
    }
}
