//! The `dx` source: the rows of an entity of a Data Exchange API (another dynex, or Spryker's
//! Dynamic Entity API), read a page at a time.
//!
//! It is an [`http`](super::http) source with the API's conventions filled in: a [`DxSpec`]
//! becomes an [`HttpSpec`] (the collection's URL, `filter[…]` parameters, paging, records at
//! `$.data[*]`) and is read by an [`HttpSource`], so auth, retries, rate limits and redaction are
//! the http source's.
//!
//! - **`flavor: dynex`** (the default) pages by keyset (`page[size]`, then `links.next`), which
//!   stays stable while rows are written between two pages. The pipeline's cursor reaches the
//!   server as a range filter on the cursor field: `filter[ALIAS.FIELD]={"gte": CURSOR}`, the
//!   cursor as JSON (a number stays a number), and the rows come sorted by that field
//!   (`sort=FIELD`), so `incremental.ordered: true` holds. The field is `cursor_field`, or the
//!   field `incremental.cursor` names when it is a plain `$.FIELD`.
//! - **`flavor: spryker`** pages by offset (`page[offset]`, `page[limit]`; Spryker sorts
//!   nothing, so rows written during a run may be missed or read twice) and knows equality and
//!   `{"in": […]}` filters only: no cursor reaches the request, so every run reads the whole
//!   collection and the target matches what it already has.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use crate::incremental::Incremental;
use crate::problem::Checker;
use crate::source::http::{
    HttpAuth, HttpSource, HttpSpec, Paginate, Retry, check_url, default_timeout, is_no_auth,
};
use crate::source::{SourceError, Start};

/// The Data Exchange API a `dx` source or target talks to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavor {
    /// dynex: keyset pages and range filters.
    #[default]
    Dynex,
    /// Spryker's Dynamic Entity API: offset pages and equality filters only.
    Spryker,
}

/// How the stored cursor compares with the cursor field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CursorOperator {
    /// Rows at the cursor or after it: rows that share the cursor's value are read again and
    /// found unchanged, none is lost.
    #[default]
    Gte,
    /// Rows after the cursor only: right for a unique, increasing field (an identifier), where
    /// no later row can share the cursor's value.
    Gt,
}

/// The definition of a `dx` source: one entity of a Data Exchange API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DxSpec {
    /// The server's base URL (`http://host:8080`).
    pub url: String,
    /// The route prefix, `dynamic-entity` by default.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// The entity's alias.
    pub entity: String,
    /// Filters: field → value (equality) or, with dynex, an object of operators
    /// (`{"gte": 10}`); sent as `filter[ALIAS.FIELD]`. The field `or` is `filter[or]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filter: BTreeMap<String, Value>,
    /// Rows per page, 100 by default (at most 1000, dynex's largest page).
    #[serde(default = "default_page_size")]
    pub page_size: u64,
    /// How to log in; nothing by default.
    #[serde(
        default,
        with = "serde_norway::with::singleton_map",
        skip_serializing_if = "is_no_auth"
    )]
    pub auth: HttpAuth,
    /// dynex (default) or spryker.
    #[serde(default)]
    pub flavor: Flavor,
    /// The field the stored cursor filters on (dynex only); by default the field
    /// `incremental.cursor` names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_field: Option<String>,
    /// `gte` (default) or `gt`.
    #[serde(default, skip_serializing_if = "is_default_operator")]
    pub cursor_operator: CursorOperator,
    /// At most this many pages per run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pages: Option<u32>,
    /// How often and how patiently a failed request is tried again.
    #[serde(default)]
    pub retry: Retry,
    /// Seconds a request may take, 30 by default.
    #[serde(default = "default_timeout")]
    pub timeout: u64,
}

pub(crate) fn default_prefix() -> String {
    "dynamic-entity".to_owned()
}

fn default_page_size() -> u64 {
    100
}

impl CursorOperator {
    /// The operator's name in a filter.
    pub fn as_str(self) -> &'static str {
        match self {
            CursorOperator::Gte => "gte",
            CursorOperator::Gt => "gt",
        }
    }
}

fn is_default_operator(op: &CursorOperator) -> bool {
    *op == CursorOperator::Gte
}

/// The largest page dynex serves.
const MAX_PAGE: u64 = 1000;

/// The collection URL `{url}/{prefix}/{entity}`, or why it cannot be built.
pub(crate) fn endpoint(url: &str, prefix: &str, entity: &str) -> Result<Url, String> {
    let mut endpoint = Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    {
        let mut segments = endpoint
            .path_segments_mut()
            .map_err(|()| "the URL cannot have a path".to_owned())?;
        segments.pop_if_empty();
        for part in prefix.split('/').filter(|p| !p.is_empty()) {
            segments.push(part);
        }
        segments.push(entity);
    }
    Ok(endpoint)
}

/// The parts a `dx` source and target share, to be checked.
pub(crate) struct Connection<'a> {
    pub url: &'a str,
    pub prefix: &'a str,
    pub entity: &'a str,
    pub auth: &'a HttpAuth,
    pub retry: &'a Retry,
    pub timeout: u64,
}

/// Records the problems of the parts a `dx` source and target share.
pub(crate) fn check_connection(
    connection: &Connection<'_>,
    at: &dyn Fn(&str) -> String,
    checker: &mut Checker,
) {
    let Connection {
        url,
        prefix,
        entity,
        auth,
        retry,
        timeout,
    } = *connection;
    check_url(url, &at("url"), checker);
    if Url::parse(url).is_ok_and(|u| u.query().is_some() || u.fragment().is_some()) {
        checker.add(at("url"), "the base URL takes no query or fragment");
    }
    if prefix.split('/').all(str::is_empty) {
        checker.add(at("prefix"), "the route prefix is empty");
    }
    if entity.is_empty()
        || !entity
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        checker.add(
            at("entity"),
            "an entity alias is 1 or more of `A-Z a-z 0-9 _ -`",
        );
    }
    let http = HttpSpec {
        auth: auth.clone(),
        ..http_base(url.to_owned())
    };
    http.check_auth(&at("auth"), checker);
    if retry.attempts == 0 {
        checker.add(at("retry.attempts"), "a request is tried at least once");
    }
    if timeout == 0 {
        checker.add(at("timeout"), "a request needs at least one second");
    }
}

/// An `http` spec with nothing but its URL.
pub(crate) fn http_base(url: String) -> HttpSpec {
    HttpSpec {
        url,
        method: Default::default(),
        query: BTreeMap::new(),
        headers: BTreeMap::new(),
        body: None,
        records: "$[*]".to_owned(),
        paginate: Paginate::None,
        max_pages: None,
        auth: HttpAuth::None,
        retry: Retry::default(),
        rate_limit: None,
        timeout: default_timeout(),
        incremental: None,
    }
}

/// A filter value as a query parameter: strings as they are, anything else as JSON.
fn filter_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The field a plain `$.FIELD` or `$['FIELD']` path names.
fn plain_field(path: &str) -> Option<String> {
    let rest = path
        .strip_prefix("$.")
        .or_else(|| path.strip_prefix("$['").and_then(|p| p.strip_suffix("']")))?;
    (!rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    .then(|| rest.to_owned())
}

impl DxSpec {
    /// The field the stored cursor filters on: `cursor_field`, or the one `incremental.cursor`
    /// names; never with the spryker flavor.
    pub fn cursor_field(&self, incremental: Option<&Incremental>) -> Option<String> {
        if self.flavor == Flavor::Spryker {
            return None;
        }
        self.cursor_field
            .clone()
            .or_else(|| incremental.and_then(|i| plain_field(&i.cursor)))
    }

    /// Records every problem of this spec in `checker`, under the dotted `path` of the spec.
    pub fn check(&self, path: &str, incremental: Option<&Incremental>, checker: &mut Checker) {
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
        if self.page_size == 0 || self.page_size > MAX_PAGE {
            checker.add(at("page_size"), "a page holds 1 to 1000 rows");
        }
        if self.max_pages == Some(0) {
            checker.add(at("max_pages"), "at least one page must be allowed");
        }
        for (field, value) in &self.filter {
            let here = at(&format!("filter.{field}"));
            if field.is_empty() {
                checker.add(at("filter"), "a filter needs a field");
            }
            match (self.flavor, value) {
                (_, Value::Null | Value::Array(_)) => checker.add(
                    here,
                    "a filter value is a string, a number, a boolean or an object of operators \
                     (`{in: [...]}`)",
                ),
                (Flavor::Spryker, Value::Object(ops))
                    if !(ops.len() == 1
                        && ops
                            .iter()
                            .all(|(op, v)| op.eq_ignore_ascii_case("in") && v.is_array())) =>
                {
                    checker.add(
                        here,
                        "Spryker knows equality and `{in: [...]}` filters only",
                    );
                }
                (Flavor::Spryker, _) if field == "or" => {
                    checker.add(here, "Spryker has no `or` filters");
                }
                _ => {}
            }
        }
        if self.flavor == Flavor::Spryker && self.cursor_field.is_some() {
            checker.add(
                at("cursor_field"),
                "Spryker has no range filters, so no cursor reaches its requests: leave \
                 `cursor_field` out (every run reads the whole collection)",
            );
        }
        if let Some(field) = self.cursor_field(incremental) {
            if field.is_empty() {
                checker.add(at("cursor_field"), "the cursor field is empty");
            } else if let Some(Value::Object(ops)) = self.filter.get(&field)
                && ops.contains_key(self.cursor_operator.as_str())
            {
                checker.add(
                    at(&format!("filter.{field}")),
                    format!(
                        "`{field}` is the cursor field: the cursor sends its own `{}`",
                        self.cursor_operator.as_str()
                    ),
                );
            } else if self.filter.get(&field).is_some_and(|v| !v.is_object()) {
                checker.add(
                    at(&format!("filter.{field}")),
                    format!(
                        "`{field}` is the cursor field: its filter must be an object of \
                         operators, which the cursor's is added to"
                    ),
                );
            }
        }
    }

    /// The `http` source this spec reads with, for a run that starts from `cursor`.
    pub fn http_spec(
        &self,
        cursor: Option<&Value>,
        incremental: Option<&Incremental>,
    ) -> Result<HttpSpec, SourceError> {
        let invalid =
            |why: String| SourceError::Other(format!("the dx source is not valid: {why}"));
        let endpoint = endpoint(&self.url, &self.prefix, &self.entity).map_err(invalid)?;
        let mut filters = self.filter.clone();
        let cursor_field = self.cursor_field(incremental);
        if let (Some(field), Some(cursor)) = (&cursor_field, cursor) {
            if !(cursor.is_string() || cursor.is_number()) {
                return Err(SourceError::Other(
                    "the stored cursor is not a string or a number".to_owned(),
                ));
            }
            let op = self.cursor_operator.as_str();
            match filters.entry(field.clone()).or_insert_with(|| json!({})) {
                Value::Object(ops) => {
                    ops.insert(op.to_owned(), cursor.clone());
                }
                _ => {
                    return Err(invalid(format!(
                        "the cursor field `{field}` has a filter that is not an object"
                    )));
                }
            }
        }
        let mut query = BTreeMap::new();
        for (field, value) in &filters {
            let name = if field == "or" {
                "filter[or]".to_owned()
            } else {
                format!("filter[{}.{field}]", self.entity)
            };
            query.insert(name, Value::String(filter_text(value)));
        }
        let paginate = match self.flavor {
            Flavor::Dynex => {
                query.insert("page[size]".to_owned(), json!(self.page_size));
                if let Some(field) = &cursor_field {
                    query.insert("sort".to_owned(), Value::String(field.clone()));
                }
                Paginate::NextLink {
                    path: "$.links.next".to_owned(),
                }
            }
            Flavor::Spryker => Paginate::Offset {
                param: "page[offset]".to_owned(),
                limit_param: "page[limit]".to_owned(),
                limit: self.page_size,
            },
        };
        Ok(HttpSpec {
            query,
            records: "$.data[*]".to_owned(),
            paginate,
            max_pages: self.max_pages,
            auth: self.auth.clone(),
            retry: self.retry.clone(),
            timeout: self.timeout,
            ..http_base(endpoint.to_string())
        })
    }

    /// Opens the source for a run that continues from `start`; `incremental` is the
    /// definition's, whose cursor field the stored cursor filters on.
    pub fn open(
        &self,
        start: &Start,
        incremental: Option<&Incremental>,
    ) -> Result<HttpSource, SourceError> {
        self.http_spec(start.cursor.as_ref(), incremental)?
            .open(&Start::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> DxSpec {
        serde_norway::from_str(yaml).unwrap()
    }

    #[test]
    fn the_cursor_reaches_a_range_filter_as_json() {
        let dx = spec(
            "{url: 'http://h:8080/api/', entity: countries, filter: {name: {like: 'A%'}, iso2_code: AT}, page_size: 5}",
        );
        let incremental = Incremental {
            cursor: "$.id_country".into(),
            ordered: true,
        };
        let http = dx.http_spec(Some(&json!(12)), Some(&incremental)).unwrap();
        assert_eq!(http.url, "http://h:8080/api/dynamic-entity/countries");
        assert_eq!(http.records, "$.data[*]");
        assert_eq!(
            http.query["filter[countries.id_country]"],
            json!(r#"{"gte":12}"#)
        );
        assert_eq!(http.query["filter[countries.iso2_code]"], json!("AT"));
        assert_eq!(
            http.query["filter[countries.name]"],
            json!(r#"{"like":"A%"}"#)
        );
        assert_eq!(http.query["page[size]"], json!(5));
        assert_eq!(http.query["sort"], json!("id_country"));
        assert!(matches!(http.paginate, Paginate::NextLink { .. }));
        // A first run has no cursor: no range filter, still sorted.
        let http = dx.http_spec(None, Some(&incremental)).unwrap();
        assert!(!http.query.contains_key("filter[countries.id_country]"));
        // A text cursor stays text; `gt` when asked.
        let dx =
            spec("{url: 'http://h', entity: e, cursor_field: updated_at, cursor_operator: gt}");
        let http = dx
            .http_spec(Some(&json!("2026-01-02 03:04:05")), None)
            .unwrap();
        assert_eq!(
            http.query["filter[e.updated_at]"],
            json!(r#"{"gt":"2026-01-02 03:04:05"}"#)
        );
    }

    #[test]
    fn spryker_pages_by_offset_without_a_cursor() {
        let dx = spec("{url: 'http://h', entity: countries, flavor: spryker, page_size: 50}");
        let incremental = Incremental {
            cursor: "$.id_country".into(),
            ordered: false,
        };
        let http = dx.http_spec(Some(&json!(3)), Some(&incremental)).unwrap();
        assert!(http.query.is_empty(), "{:?}", http.query);
        assert_eq!(
            http.paginate,
            Paginate::Offset {
                param: "page[offset]".into(),
                limit_param: "page[limit]".into(),
                limit: 50
            }
        );
    }

    #[test]
    fn every_problem_is_named() {
        let dx = spec(
            "{url: 'ftp://h', entity: 'a b', page_size: 0, flavor: spryker, cursor_field: x, \
             filter: {name: {like: 'A%'}, code: [1], or: '[]'}, retry: {attempts: 0}}",
        );
        let mut checker = Checker::default();
        dx.check("source.dx", None, &mut checker);
        let paths: Vec<String> = checker
            .finish()
            .unwrap_err()
            .0
            .into_iter()
            .map(|p| p.path)
            .collect();
        assert_eq!(
            paths,
            [
                "source.dx.url",
                "source.dx.entity",
                "source.dx.retry.attempts",
                "source.dx.page_size",
                "source.dx.filter.code",
                "source.dx.filter.name",
                "source.dx.filter.or",
                "source.dx.cursor_field",
            ]
        );
    }
}
