//! JSONPath expressions of a mapping, parsed once: `$…` against the record, `@…` against the
//! split item.
//!
//! Most paths of a mapping are plain chains of member names and indexes (`$.values.name[0].data`);
//! those are followed directly, which is several times cheaper than the general RFC 9535
//! evaluation (no node list is built). Every other path goes through `serde_json_path`. Both
//! give the same results: the fast form is only taken for paths whose meaning it has exactly.

use serde_json::Value;
use serde_json_path::JsonPath;

/// What a path is evaluated against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Root {
    /// `$`: the source record.
    Record,
    /// `@`: the current item of the split.
    Item,
}

/// One step of a plain path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Member(String),
    Index(i64),
}

#[derive(Debug, Clone)]
enum Query {
    Plain(Vec<Step>),
    General(JsonPath),
}

/// A parsed path.
#[derive(Debug, Clone)]
pub(super) struct Path {
    pub(super) root: Root,
    query: Query,
}

/// What a path found.
pub(super) enum Found<'a> {
    Nothing,
    One(&'a Value),
    Several(Vec<&'a Value>),
}

impl Path {
    /// Parses `text`; the error is the parser's message.
    pub(super) fn parse(text: &str) -> Result<Path, String> {
        let (root, dollar) = match text.strip_prefix('@') {
            Some(rest) => (Root::Item, format!("${rest}")),
            None => (Root::Record, text.to_string()),
        };
        let general = JsonPath::parse(&dollar).map_err(|e| {
            format!(
                "`{text}` is not a JSONPath: {e} (at character {})",
                e.position()
            )
        })?;
        let query = match plain(&dollar) {
            Some(steps) => Query::Plain(steps),
            None => Query::General(general),
        };
        Ok(Path { root, query })
    }

    /// Evaluates the path against `record` or `item`, following its root.
    pub(super) fn find<'a>(&self, record: &'a Value, item: Option<&'a Value>) -> Found<'a> {
        let start = match self.root {
            Root::Record => record,
            Root::Item => match item {
                Some(item) => item,
                None => return Found::Nothing,
            },
        };
        match &self.query {
            Query::Plain(steps) => {
                let mut at = start;
                for step in steps {
                    let next = match (step, at) {
                        (Step::Member(name), Value::Object(m)) => m.get(name),
                        (Step::Index(i), Value::Array(a)) => {
                            let i = if *i < 0 { a.len() as i64 + i } else { *i };
                            usize::try_from(i).ok().and_then(|i| a.get(i))
                        }
                        _ => None,
                    };
                    match next {
                        Some(v) => at = v,
                        None => return Found::Nothing,
                    }
                }
                Found::One(at)
            }
            Query::General(path) => {
                let nodes = path.query(start);
                match nodes.len() {
                    0 => Found::Nothing,
                    1 => nodes.first().map_or(Found::Nothing, Found::One),
                    _ => Found::Several(nodes.all()),
                }
            }
        }
    }
}

/// The steps of a plain path (`$`, then `.name`, `['name']` or `[index]`), or `None` when the
/// path uses anything else (wildcards, slices, filters, escapes, descendants).
fn plain(text: &str) -> Option<Vec<Step>> {
    let mut rest = text.strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(r.len());
            let name = &r[..end];
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                return None;
            }
            steps.push(Step::Member(name.to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix("['") {
            let end = r.find('\'')?;
            let name = &r[..end];
            if name.contains('\\') {
                return None;
            }
            steps.push(Step::Member(name.to_string()));
            rest = r[end + 1..].strip_prefix(']')?;
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let index = &r[..end];
            let digits = index.strip_prefix('-').unwrap_or(index);
            // RFC 9535 allows no leading zeros and no `-0`; leave those to the parser's verdict.
            if digits.is_empty()
                || !digits.bytes().all(|b| b.is_ascii_digit())
                || digits.len() > 1 && digits.starts_with('0')
                || index == "-0"
            {
                return None;
            }
            steps.push(Step::Index(index.parse().ok()?));
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}
