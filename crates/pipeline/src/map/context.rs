//! What templates and conditions see: `record`, `item` and `vars` as minijinja values.
//!
//! Converting a whole record for every template would cost more than the rest of the mapping
//! (a PIM product is easily a few kilobytes), so the conversion keeps only the parts that the
//! templates and conditions name: `record.sku` converts `sku` alone, `record.values.name`
//! converts `values.name` alone. Any use that cannot be followed (`record[key]`, `record` passed
//! to a filter) converts the whole value. (minijinja without its `pycompat` methods has no
//! `record.items()`, so an attribute is always a member.)

use std::collections::BTreeMap;

use minijinja::Value as Jinja;
use serde_json::Value;

/// Which parts of a value the templates use.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) enum Need {
    /// Not used: the variable stays undefined.
    #[default]
    Nothing,
    /// Used as a whole.
    All,
    /// Only these members (of an object), each with its own need.
    Keys(BTreeMap<String, Need>),
}

impl Need {
    /// Adds what a template uses of the variable `var`, from its undeclared variables as
    /// minijinja reports them with `nested` (`record.values.name`).
    pub(super) fn add_uses<'a>(&mut self, var: &str, used: impl IntoIterator<Item = &'a String>) {
        for name in used {
            let Some(rest) = name.strip_prefix(var) else {
                continue;
            };
            if rest.is_empty() {
                *self = Need::All;
            } else if let Some(rest) = rest.strip_prefix('.') {
                self.add_path(&rest.split('.').collect::<Vec<_>>());
            }
        }
    }

    fn add_path(&mut self, path: &[&str]) {
        let Some((first, rest)) = path.split_first() else {
            *self = Need::All;
            return;
        };
        match self {
            Need::All => {}
            Need::Nothing => {
                *self = Need::Keys(BTreeMap::new());
                self.add_path(path);
            }
            Need::Keys(keys) => keys.entry((*first).to_string()).or_default().add_path(rest),
        }
    }

    /// The part of `v` that is needed, as a minijinja value.
    pub(super) fn convert(&self, v: &Value) -> Jinja {
        match (self, v) {
            (Need::Nothing, _) => Jinja::UNDEFINED,
            (Need::Keys(keys), Value::Object(members)) => keys
                .iter()
                .filter_map(|(k, need)| {
                    members
                        .get(k)
                        .map(|m| (Jinja::from(k.as_str()), need.convert(m)))
                })
                .collect(),
            _ => Jinja::from_serialize(v),
        }
    }

    /// The part of the members `m` that is needed (the run's variables).
    pub(super) fn convert_map(&self, m: &serde_json::Map<String, Value>) -> Jinja {
        match self {
            Need::Nothing => Jinja::UNDEFINED,
            Need::Keys(keys) => keys
                .iter()
                .filter_map(|(k, need)| {
                    m.get(k).map(|v| (Jinja::from(k.as_str()), need.convert(v)))
                })
                .collect(),
            Need::All => Jinja::from_serialize(m),
        }
    }

    pub(super) fn is_used(&self) -> bool {
        *self != Need::Nothing
    }
}
