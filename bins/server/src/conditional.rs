//! Conditional requests on one row (RFC 9110, section 13): the `ETag` of a read, `If-None-Match`
//! on a read (304), and `If-Match` / `If-None-Match` on a write, which dynex-core checks inside
//! the write's transaction.

use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderName};
use dynex_core::{EntityTags, Precondition};

/// The tags a conditional header lists, weak ones marked: `*` or `"a", W/"b"`. A member that is
/// not a quoted tag is kept as it is: it names no row, so an `If-Match` with it fails.
fn tags(req: &HttpRequest, name: HeaderName) -> Option<Vec<(bool, String)>> {
    let mut values = req.headers().get_all(name).peekable();
    values.peek()?;
    let mut out = Vec::new();
    for value in values {
        let text = String::from_utf8_lossy(value.as_bytes());
        for member in text.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            let (weak, tag) = match member.strip_prefix("W/") {
                Some(rest) => (true, rest),
                None => (false, member),
            };
            let tag = tag
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or(tag);
            out.push((weak, tag.to_string()));
        }
    }
    Some(out)
}

/// `*` alone, or the tags.
fn entity_tags(list: Vec<(bool, String)>, weak_ones_match: bool) -> EntityTags {
    if list.len() == 1 && list[0] == (false, "*".to_string()) {
        return EntityTags::Any;
    }
    EntityTags::List(
        list.into_iter()
            .filter(|(weak, _)| weak_ones_match || !weak)
            .map(|(_, tag)| tag)
            .collect(),
    )
}

/// The precondition of a write: `If-Match` compared strongly (a weak tag never matches), and
/// `If-None-Match` weakly.
pub(crate) fn of_write(req: &HttpRequest) -> Precondition {
    Precondition {
        if_match: tags(req, header::IF_MATCH).map(|t| entity_tags(t, false)),
        if_none_match: tags(req, header::IF_NONE_MATCH).map(|t| entity_tags(t, true)),
    }
}

/// Whether a read's `If-None-Match` names `etag`, the row's current tag: then the answer is
/// `304 Not Modified`.
pub(crate) fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    tags(req, header::IF_NONE_MATCH).is_some_and(|t| entity_tags(t, true).names(Some(etag)))
}

/// The `ETag` header's value of a tag.
pub(crate) fn header_value(etag: &str) -> String {
    // Not `format!`, which cost a read by id 800 instructions for two quotes.
    let mut value = String::with_capacity(etag.len() + 2);
    value.push('"');
    value.push_str(etag);
    value.push('"');
    value
}

/// Whether a read of one row answers the row alone, which its `ETag` describes: no `include`
/// and no sparse `fields[…]`.
pub(crate) fn whole_row(pairs: &[(String, String)]) -> bool {
    !pairs
        .iter()
        .any(|(k, _)| k == "include" || k.starts_with("fields"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn precondition(headers: &[(&str, &str)]) -> Precondition {
        let mut req = TestRequest::default();
        for h in headers {
            req = req.append_header(*h);
        }
        of_write(&req.to_http_request())
    }

    #[test]
    fn headers_parse_as_rfc_9110_lists() {
        let list = |t: &[&str]| Some(EntityTags::List(t.iter().map(|s| s.to_string()).collect()));
        assert_eq!(precondition(&[]), Precondition::default());
        assert_eq!(
            precondition(&[("If-Match", "*")]).if_match,
            Some(EntityTags::Any)
        );
        assert_eq!(
            precondition(&[("If-Match", "\"a\", W/\"b\""), ("If-Match", "\"c\"")]).if_match,
            list(&["a", "c"])
        );
        assert_eq!(
            precondition(&[("If-None-Match", "W/\"a\", \"b\"")]).if_none_match,
            list(&["a", "b"])
        );
        // Only weak tags: If-Match can never hold.
        assert_eq!(precondition(&[("If-Match", "W/\"a\"")]).if_match, list(&[]));
    }
}
