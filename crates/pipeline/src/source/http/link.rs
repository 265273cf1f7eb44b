//! Small pieces of HTTP: the `Link` header, `Retry-After`, and URLs and messages fit for errors.

use std::time::Duration;

use url::Url;

/// The target of the first `rel="next"` link of `Link` header values (RFC 8288), as written.
pub(super) fn next_link<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    values.into_iter().find_map(next_in)
}

fn next_in(value: &str) -> Option<String> {
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let after_open = rest.strip_prefix('<')?;
        let close = after_open.find('>')?;
        let target = &after_open[..close];
        rest = &after_open[close + 1..];
        // The parameters run to the next comma outside a quoted string.
        let mut end = rest.len();
        let mut quoted = false;
        let mut escaped = false;
        for (index, c) in rest.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                ',' if !quoted => {
                    end = index;
                    break;
                }
                _ => {}
            }
        }
        let params = &rest[..end];
        rest = &rest[end..];
        let is_next = params.split(';').any(|param| {
            let Some((name, value)) = param.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.trim().to_owned());
        }
        if rest.is_empty() {
            return None;
        }
    }
}

/// How long a `Retry-After` value asks to wait: seconds or an HTTP date; `None` when unreadable.
pub(super) fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.signed_duration_since(chrono::Utc::now());
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// Whether two URLs have the same origin: scheme, host and port.
pub(super) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Sets query parameter `name` of `url` to `value`, replacing any it had.
pub(super) fn set_param(url: &mut Url, name: &str, value: &str) {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != name)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    let mut pairs = url.query_pairs_mut();
    pairs.clear();
    for (key, value) in &kept {
        pairs.append_pair(key, value);
    }
    pairs.append_pair(name, value);
}

/// Removes what must not be shown of a spec's requests: its secrets and where they travel.
#[derive(Debug, Clone, Default)]
pub(super) struct Redactor {
    secrets: Vec<String>,
    key_param: Option<String>,
}

impl Redactor {
    /// A redactor that hides `secrets` and the value of the query parameter `key_param`.
    pub(super) fn new(secrets: Vec<String>, key_param: Option<String>) -> Redactor {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        // Longest first, so a secret containing another is hidden whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor { secrets, key_param }
    }

    /// Adds a secret learnt while running (an access token).
    pub(super) fn add(&mut self, secret: &str) {
        if !secret.is_empty() && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_owned());
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// `url` without userinfo, with the API key's query value hidden, and scrubbed.
    pub(super) fn url(&self, url: &Url) -> String {
        let mut shown = url.clone();
        // Only URLs that cannot have userinfo refuse these, and they have none to hide.
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        if let Some(name) = &self.key_param
            && shown.query_pairs().any(|(key, _)| key == name.as_str())
        {
            let pairs: Vec<(String, String)> = shown
                .query_pairs()
                .map(|(key, value)| {
                    let value = if key == name.as_str() {
                        "***".to_owned()
                    } else {
                        value.into_owned()
                    };
                    (key.into_owned(), value)
                })
                .collect();
            shown.query_pairs_mut().clear().extend_pairs(pairs);
        }
        self.text(shown.as_str())
    }

    /// `text` with every known secret (also URL-encoded) replaced by `***`.
    pub(super) fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            out = out.replace(secret.as_str(), "***");
            let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            if encoded != *secret {
                out = out.replace(encoded.as_str(), "***");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_next_link_among_others() {
        let header = r#"<https://x/a?page=1>; rel="prev first", <https://x/a?p=3,4>; title="a, b"; rel="NEXT""#;
        assert_eq!(next_link([header]).as_deref(), Some("https://x/a?p=3,4"));
        assert_eq!(
            next_link([r#"</a?page=2>; rel=next"#]).as_deref(),
            Some("/a?page=2")
        );
        assert_eq!(next_link([r#"<https://x/a>; rel="last""#]), None);
        assert_eq!(next_link(["garbage"]), None);
    }

    #[test]
    fn reads_retry_after_in_seconds_and_dates() {
        assert_eq!(retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn hides_credentials_of_urls() {
        let redactor = Redactor::new(vec!["s3cr/t".into()], Some("key".into()));
        let url = Url::parse("https://me:pw@x.test/a?key=k1&b=s3cr%2Ft").unwrap();
        assert_eq!(redactor.url(&url), "https://x.test/a?key=***&b=***");
    }
}
