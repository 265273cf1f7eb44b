//! Mapping: how a record of a source becomes rows of a target entity.
//!
//! A pipeline's `map:` section says which target field gets which value of the source record.
//! It extends the ideas of the CSV import mappings (`trim`, `case`, `map`, `default`,
//! `lookups`) to JSON records: values are found by [JSONPath](https://www.rfc-editor.org/rfc/rfc9535)
//! expressions or built by [minijinja](https://docs.rs/minijinja) templates.
//!
//! # Example
//!
//! A product from a PIM:
//!
//! ```json
//! {
//!   "identifier": " shirt-1 ",
//!   "enabled": true,
//!   "family": "clothing",
//!   "created": "2024-03-01T09:30:00+01:00",
//!   "values": {
//!     "name": [
//!       { "locale": "en_US", "data": "Shirt" },
//!       { "locale": "de_DE", "data": "Hemd" }
//!     ],
//!     "price": [{ "amount": "19.90", "currency": "EUR" }],
//!     "in_stock": [{ "data": "Y" }]
//!   },
//!   "categories": ["summer", "men"]
//! }
//! ```
//!
//! and a mapping that gives one row per localized name:
//!
//! ```yaml
//! map:
//!   skip_when:
//!     - record.enabled == false
//!   split: $.values.name[*]
//!   fields:
//!     sku: { path: $.identifier, trim: true, case: upper, required: true }
//!     locale: "@.locale"                        # `@`: the split item
//!     name: "@.data"
//!     price: { path: "$.values.price[0].amount", cast: number }
//!     in_stock:
//!       path: $.values.in_stock[0].data
//!       map: { "Y": true, "N": false }
//!       default: false
//!     categories: { path: "$.categories[*]", join: "," }
//!     created_at: { path: $.created, cast: datetime }
//!     label: { template: "{{ record.family }}: {{ item.data }} ({{ vars.channel }})" }
//!     source: { value: pim }
//!   lookups:
//!     fk_family: { entity: families, by: code, path: $.family }
//! ```
//!
//! The record becomes two rows; the first one:
//!
//! ```json
//! { "sku": "SHIRT-1", "locale": "en_US", "name": "Shirt", "price": "19.90",
//!   "in_stock": true, "categories": "summer,men", "created_at": "2024-03-01T08:30:00Z",
//!   "label": "clothing: Shirt (web)", "source": "pim" }
//! ```
//!
//! with the lookup `fk_family` ← the `families` row whose `code` is `clothing` (the target
//! resolves it, see [Lookups](#lookups)).
//!
//! # The `map` section
//!
//! | Key | Meaning |
//! | --- | --- |
//! | `fields` | target field → where its value comes from (below), in the order of the row |
//! | `skip_when` | a list of conditions; a record for which one is true is skipped (counted as skipped, not as an error) |
//! | `split` | a JSONPath: the record gives one row per value it finds, seen as `item` |
//! | `lookups` | target field → `{ entity, by, path }`: a reference to a row of another entity by a natural key |
//!
//! An unknown key, here or in a field's options, refuses the definition.
//!
//! # Fields
//!
//! A field is either a JSONPath, as text (`name: $.values.name[0].data`), or a mapping with
//! exactly one of these:
//!
//! | Option | Value |
//! | --- | --- |
//! | `path` | a JSONPath: the value it finds |
//! | `value` | a constant: any JSON/YAML value, `~` (null) included |
//! | `template` | a minijinja template, rendered as text; empty output gives null |
//!
//! and any of these:
//!
//! | Option | Does |
//! | --- | --- |
//! | `first: true` | keeps the first of several values found |
//! | `join: SEP` | joins several values found into one text (numbers and booleans as text, nulls left out; an object or array refuses the record) |
//! | `trim: true` | removes white space around text |
//! | `map: { FROM: TO, … }` | replaces a value listed (matched as text: `1`, `true` and `"1"` all match the key `1`; spaces around text are ignored); `_default: TO` replaces any value not listed. Without `_default` a value not listed refuses the record; null is left to `default` |
//! | `default: VALUE` | the value when the path finds nothing or null (also after `map`) |
//! | `case: upper` or `lower` | changes the letter case of text |
//! | `cast: TYPE` | converts the value, exactly (below) |
//! | `required: true` | a value that is still null refuses the record instead of giving null |
//!
//! They apply in this order: find (path, value or template), `first`/`join`, `trim`, `map`,
//! `default`, `case`, `cast`, `required`. A `map` target and a `default` are written as
//! values of the target: they go through `case` and `cast` too, and a definition whose `map`
//! or `default` does not pass its `cast` is refused.
//!
//! ## Paths
//!
//! Paths are [RFC 9535](https://www.rfc-editor.org/rfc/rfc9535) JSONPath: `$.a.b`, `$['a b']`,
//! `$.list[0]`, `$.list[-1]`, `$.list[*].code`, `$..code`, `$.list[?@.locale == 'de_DE'].data`.
//! A path that starts with `$` is evaluated against the source record; a path that starts with
//! `@` **instead of `$`** (`@.data`, `@['data']`) is evaluated against the current `item` of the
//! split (see [Split](#split)); `@` paths need a `split`.
//! Quote paths that start with `@` in YAML (`"@.data"`): a bare `@` cannot start a YAML value.
//! Inside `{ … }` also quote paths with `[`, `]` or `,` (`{ path: "$.list[0]", cast: integer }`):
//! there they would end the YAML value.
//!
//! A path that finds nothing gives null; one value gives that value, as it is (an object or
//! array included); several values give an array of them, unless `first` or `join` says how to
//! make one value out of them. For `first` and `join`, one value that is an array counts as its
//! elements (`$.categories` and `$.categories[*]` join alike).
//!
//! An array value is transformed element by element (`trim`, `map`, `case`, `cast`).
//!
//! ## Casts
//!
//! | `cast` | Accepts | Gives |
//! | --- | --- | --- |
//! | `string` | text, numbers, booleans | text |
//! | `integer` | JSON numbers without fraction (`42`, `42.0`), text of an integer (`"42"`, `"-7"`) | a JSON integer |
//! | `number` | JSON numbers (kept as they are); text of a decimal (`"19.90"`, `"1.5e3"`) | for text: the decimal as text, normalised but with every digit (`"+007.50"` → `"7.50"`, `"1.5e3"` → `"1500"`) |
//! | `boolean` | `true`/`false`, `1`/`0`, the texts `true`/`false`, `1`/`0`, `yes`/`no` (any case) | a JSON boolean |
//! | `date` | `YYYY-MM-DD`, RFC 3339 dates and times (the day as written, not the UTC day), `YYYY-MM-DD HH:MM:SS`, Unix seconds (UTC day) | `YYYY-MM-DD` |
//! | `datetime` | RFC 3339 (`2024-03-01T09:30:00+01:00`, `2024-03-01 09:30:00Z`), Unix seconds (a JSON number) | RFC 3339 in UTC: `2024-03-01T08:30:00Z` |
//!
//! A `number` cast of text gives text, not a JSON number, because a JSON number would go
//! through a binary float and lose digits (`0.1`, a 20-digit amount); the target validates a
//! decimal given as text exactly. A value a cast does not accept refuses the record, with a
//! message that names the field and the value. Null stays null.
//!
//! ## Templates
//!
//! A template sees:
//!
//! - `record`: the source record;
//! - `item`: the current item of the split (undefined without a split);
//! - `vars`: the variables of the pipeline run.
//!
//! Undefined values render as nothing and can be followed (`record.a.b` with no `a` is
//! undefined, not an error). Templates and conditions are checked when the definition is
//! saved; an error while one is rendered refuses the record.
//!
//! ```yaml
//! full_name: { template: "{{ record.first }} {{ record.last }}", trim: true }
//! slug: { template: "{{ record.name | lower | replace(' ', '-') }}" }
//! ```
//!
//! # Skip conditions
//!
//! `skip_when` lists minijinja expressions (as in `{% if … %}`, without the braces) that see
//! the same `record`, `item` and `vars`; the first that is true skips the record:
//!
//! ```yaml
//! skip_when:
//!   - record.enabled == false
//!   - record.deleted_at                 # any non-empty value is true
//!   - vars.channel not in record.channels
//! ```
//!
//! A condition that uses `item` is evaluated for each item of the split and leaves out that
//! item's row only; a record whose rows are all left out counts as skipped.
//!
//! # Split
//!
//! `split: $.values.name[*]` makes one row per value found; the fields of each row see that
//! value as `item` (`@` paths, `item` in templates) and still see the whole `record`. A split
//! that finds nothing gives no row, and the record counts as skipped. Write `[*]` to split an
//! array: `$.values.name` finds one value, the array itself.
//!
//! # Lookups
//!
//! ```yaml
//! lookups:
//!   fk_country: { entity: countries, by: iso2_code, path: $.address.country }
//! ```
//!
//! The field `fk_country` gets the identifier of the `countries` row whose `iso2_code` is the
//! value found. The mapping only finds the natural key (each row lists it in
//! [`Row::lookups`]); the target resolves it. A path that finds nothing gives null (no
//! reference) unless `required: true`; several values, an object or an array refuse the
//! record. A field cannot be both in `fields` and in `lookups`.
//!
//! # Checks
//!
//! [`MapSpec::compile`] parses every path, template and condition once and reports every
//! problem it finds, each with where it is (`map.fields.name.path`): a JSONPath that does not
//! parse (with the parser's message), a template or condition that does not parse, an unknown
//! `cast` or `case`, a field with none or more than one of `path`, `value` and `template`,
//! `first` together with `join`, a `map` value or `default` that its `cast` refuses, `@` paths
//! or `item` without a `split`, no field at all, a lookup without `entity`, `by` or `path`.

mod cast;
mod context;
mod path;
mod spec;

use std::collections::HashMap;
use std::fmt;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value as Jinja};
use serde_json::{Map, Value};

use crate::Record;
use crate::problem::Checker;
use cast::{CASTS, Cast, show};
use context::Need;
use path::{Found, Path, Root};

pub use spec::{Entries, FieldOptions, FieldSpec, LookupSpec, MapSpec};

/// The result of mapping one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapped {
    /// The record gives no row, on purpose.
    Skipped(Skip),
    /// The rows the record gives (at least one), in the split's order.
    Rows(Vec<Row>),
}

/// Why a record gives no row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// A `skip_when` condition is true.
    When {
        /// Its position in `skip_when`, from 0.
        index: usize,
        /// Its text.
        condition: String,
    },
    /// The `split` path found nothing.
    NothingToSplit,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::When { condition, .. } => write!(f, "skip_when `{condition}` is true"),
            Skip::NothingToSplit => f.write_str("the split found nothing"),
        }
    }
}

/// One row for the target entity.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    /// Target field name → value, in the order of the mapping's `fields`.
    pub fields: Map<String, Value>,
    /// The references by natural key, in the order of the mapping's `lookups`.
    pub lookups: Vec<Lookup>,
}

/// A reference to a row of another entity by a natural key, for the target to resolve.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    /// The target field that gets the identifier of the row found.
    pub field: String,
    /// The entity of that row.
    pub entity: String,
    /// The field of that entity that holds the natural key.
    pub by: String,
    /// The natural key found in the record (null: no reference).
    pub value: Value,
}

/// What kind of value refused a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MapErrorCode {
    /// A `required` field or lookup has no value.
    Missing,
    /// A `cast` does not accept the value.
    Cast,
    /// The value is not in the field's `map`, which has no `_default`.
    NotInMap,
    /// A value of the wrong shape: an object to `join`, several values for a lookup.
    Shape,
    /// A template or condition failed while it was rendered.
    Template,
}

/// Why a record cannot be mapped: a value of one field that the mapping cannot convert.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {message}")]
pub struct MapError {
    /// The target field (or `skip_when[N]` for a condition).
    pub field: String,
    /// What kind of problem.
    pub code: MapErrorCode,
    /// What is wrong, naming the value (cut when long).
    pub message: String,
}

impl MapError {
    fn new(field: &str, code: MapErrorCode, message: impl Into<String>) -> MapError {
        MapError {
            field: field.to_string(),
            code,
            message: message.into(),
        }
    }
}

/// Letter case of text values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Upper,
    Lower,
}

/// Where a compiled field's value comes from.
#[derive(Debug)]
enum From {
    Path(Path),
    Value(Value),
    /// The name of the template in the mapping's environment.
    Template(String),
}

/// A compiled value map.
#[derive(Debug, Default)]
struct ValueMap {
    /// Listed key → target value (already cased and cast).
    values: HashMap<String, Value>,
    /// The target value of keys not listed (`_default`).
    otherwise: Option<Value>,
    /// The first listed keys, for messages.
    listed: String,
}

#[derive(Debug)]
struct Field {
    name: String,
    from: From,
    first: bool,
    join: Option<String>,
    trim: bool,
    map: Option<ValueMap>,
    /// Already cased and cast.
    default: Option<Value>,
    case: Option<Case>,
    cast: Option<Cast>,
    required: bool,
}

#[derive(Debug)]
struct CompiledLookup {
    field: String,
    entity: String,
    by: String,
    path: Path,
    required: bool,
}

#[derive(Debug)]
struct Condition {
    index: usize,
    text: String,
    /// The name of its template in the mapping's environment.
    template: String,
    /// Evaluated per item of the split rather than per record.
    per_item: bool,
}

/// The variable a condition's template sets to the condition's value.
const WHEN: &str = "__dynex_when";

/// A checked mapping, ready to map records: every path, template and condition parsed once.
pub struct Mapping {
    fields: Vec<Field>,
    lookups: Vec<CompiledLookup>,
    conditions: Vec<Condition>,
    split: Option<Path>,
    env: Environment<'static>,
    /// What the templates and conditions use of `record`, `item` and `vars`.
    record_need: Need,
    item_need: Need,
    vars_need: Need,
    /// Whether a field template or a per-item condition needs a context for each row.
    templated: bool,
}

impl fmt::Debug for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mapping")
            .field("fields", &self.fields)
            .field("lookups", &self.lookups)
            .field("conditions", &self.conditions)
            .field("split", &self.split)
            .finish_non_exhaustive()
    }
}

fn at(prefix: &str, part: &str) -> String {
    if prefix.is_empty() {
        part.to_string()
    } else {
        format!("{prefix}.{part}")
    }
}

/// The text a value is matched by in a value map; `None` for values no key can match.
fn key_text(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match v {
        Value::String(s) => Some(s.trim().into()),
        Value::Number(n) => Some(n.to_string().into()),
        Value::Bool(b) => Some(if *b { "true" } else { "false" }.into()),
        _ => None,
    }
}

impl MapSpec {
    /// The target fields the mapping fills, lookup fields included, so that the caller can
    /// check them against the target entity.
    pub fn target_fields(&self) -> Vec<&str> {
        self.fields
            .iter()
            .map(|(k, _)| k)
            .chain(self.lookups.iter().map(|(k, _)| k))
            .collect()
    }

    /// Checks the mapping and parses its paths, templates and conditions; every problem goes
    /// to `checker` under `path` (the mapping's own place in the definition, such as `map`),
    /// and `None` is returned when there is one.
    pub fn compile(&self, path: &str, checker: &mut Checker) -> Option<Mapping> {
        let mut c = Compiler {
            ok: true,
            checker,
            env: environment(),
            record_need: Need::Nothing,
            item_need: Need::Nothing,
            vars_need: Need::Nothing,
            has_split: self.split.is_some(),
        };
        if self.fields.is_empty() && self.lookups.is_empty() {
            c.problem(at(path, "fields"), "the mapping fills no field");
        }
        let split = self.split.as_deref().and_then(|text| {
            let p = at(path, "split");
            if text.starts_with('@') {
                c.problem(
                    p,
                    "the split path must start with `$`: it is evaluated against the record",
                );
                return None;
            }
            c.path(&p, text)
        });
        let mut conditions = Vec::new();
        for (index, text) in self.skip_when.iter().enumerate() {
            if let Some(cond) =
                c.condition(&format!("{}[{index}]", at(path, "skip_when")), index, text)
            {
                conditions.push(cond);
            }
        }
        let mut fields = Vec::new();
        let fields_at = at(path, "fields");
        for (name, spec) in self.fields.iter() {
            if let Some(f) = c.field(&at(&fields_at, name), name, spec) {
                fields.push(f);
            }
        }
        let mut lookups = Vec::new();
        let lookups_at = at(path, "lookups");
        for (name, spec) in self.lookups.iter() {
            let p = at(&lookups_at, name);
            if self.fields.iter().any(|(f, _)| f == name) {
                c.problem(
                    p.clone(),
                    format!("`{name}` is also in `fields`; a field is filled by one of them"),
                );
            }
            if let Some(l) = c.lookup(&p, name, spec) {
                lookups.push(l);
            }
        }
        if !c.ok {
            return None;
        }
        let templated = fields.iter().any(|f| matches!(f.from, From::Template(_)))
            || conditions.iter().any(|c| c.per_item);
        Some(Mapping {
            fields,
            lookups,
            conditions,
            split,
            env: c.env,
            record_need: c.record_need,
            item_need: c.item_need,
            vars_need: c.vars_need,
            templated,
        })
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // Mapped values are data, not HTML.
    env.set_auto_escape_callback(|_| AutoEscape::None);
    // Records are sparse: a missing member anywhere in `record.a.b.c` is undefined, not an error.
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env
}

struct Compiler<'c> {
    ok: bool,
    checker: &'c mut Checker,
    env: Environment<'static>,
    record_need: Need,
    item_need: Need,
    vars_need: Need,
    has_split: bool,
}

impl Compiler<'_> {
    fn problem(&mut self, path: String, message: impl Into<String>) {
        self.ok = false;
        self.checker.add(path, message);
    }

    fn path(&mut self, at: &str, text: &str) -> Option<Path> {
        match Path::parse(text) {
            Ok(p) => {
                if p.root == Root::Item && !self.has_split {
                    self.problem(
                        at.to_string(),
                        format!("`{text}` starts with `@` (the split item) but the mapping has no `split`"),
                    );
                    return None;
                }
                Some(p)
            }
            Err(message) => {
                self.problem(at.to_string(), message);
                None
            }
        }
    }

    /// Adds a template to the environment under the name `name`; records what it uses.
    /// Returns whether it uses `item`.
    fn template(&mut self, name: &str, source: String, shown: &str) -> Option<bool> {
        // minijinja does not report a variable it meets only inside a slice
        // (`record.code3[:3]`): a variable named in the text but not reported is converted
        // whole rather than left undefined.
        let named: Vec<&'static str> = ["record", "item", "vars"]
            .into_iter()
            .filter(|v| source.contains(v))
            .collect();
        if let Err(e) = self.env.add_template_owned(name.to_string(), source) {
            self.problem(name.to_string(), format!("`{shown}` does not parse: {e}"));
            return None;
        }
        let used = match self.env.get_template(name) {
            Ok(t) => t.undeclared_variables(true),
            Err(_) => return None,
        };
        self.record_need.add_uses("record", &used);
        self.item_need.add_uses("item", &used);
        self.vars_need.add_uses("vars", &used);
        let reported = |var: &str| {
            used.iter()
                .any(|u| u == var || u.starts_with(&format!("{var}.")))
        };
        for var in named {
            if !reported(var) {
                match var {
                    "record" => self.record_need = Need::All,
                    "item" => self.item_need = Need::All,
                    _ => self.vars_need = Need::All,
                }
            }
        }
        let uses_item = used.iter().any(|u| u == "item" || u.starts_with("item."));
        if uses_item && !self.has_split {
            self.problem(
                name.to_string(),
                format!("`{shown}` uses `item` (the split item) but the mapping has no `split`"),
            );
        }
        Some(uses_item)
    }

    fn condition(&mut self, at: &str, index: usize, text: &str) -> Option<Condition> {
        // Parsed as an expression first, so that a condition is one expression and its
        // errors read as such; it runs as a template that sets a variable, because an
        // `Expression` borrows its environment and could not be kept next to it.
        if let Err(e) = self.env.compile_expression(text) {
            self.problem(
                at.to_string(),
                format!("`{text}` is not an expression: {e}"),
            );
            return None;
        }
        let per_item = self.template(at, format!("{{% set {WHEN} = ({text}) %}}"), text)?;
        Some(Condition {
            index,
            text: text.to_string(),
            template: at.to_string(),
            per_item,
        })
    }

    fn field(&mut self, at_: &str, name: &str, spec: &FieldSpec) -> Option<Field> {
        if name.is_empty() {
            self.problem(at_.to_string(), "a field name is empty");
        }
        let o = match spec {
            FieldSpec::Path(text) => {
                let path = self.path(at_, text)?;
                return Some(Field {
                    name: name.to_string(),
                    from: From::Path(path),
                    first: false,
                    join: None,
                    trim: false,
                    map: None,
                    default: None,
                    case: None,
                    cast: None,
                    required: false,
                });
            }
            FieldSpec::Options(o) => o,
        };
        let given: Vec<&str> = [
            ("path", o.path.is_some()),
            ("value", o.value.is_some()),
            ("template", o.template.is_some()),
        ]
        .iter()
        .filter(|(_, g)| *g)
        .map(|(k, _)| *k)
        .collect();
        let mut ok = true;
        if given.len() != 1 {
            ok = false;
            let message = if given.is_empty() {
                "needs one of `path`, `value` or `template`".to_string()
            } else {
                format!(
                    "has {}; give only one of `path`, `value` or `template`",
                    given
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                )
            };
            self.problem(at_.to_string(), message);
        }
        let from = if let Some(text) = &o.path {
            self.path(&at(at_, "path"), text).map(From::Path)
        } else if let Some(v) = &o.value {
            Some(From::Value(v.clone()))
        } else if let Some(t) = &o.template {
            let tname = at(at_, "template");
            self.template(&tname, t.clone(), t)
                .map(|_| From::Template(tname))
        } else {
            None
        };
        if o.first && o.join.is_some() {
            ok = false;
            self.problem(at(at_, "join"), "`join` and `first` exclude each other");
        }
        let cast = match o.cast.as_deref() {
            None => None,
            Some(name) => {
                let cast = Cast::parse(name);
                if cast.is_none() {
                    ok = false;
                    self.problem(
                        at(at_, "cast"),
                        format!("`{name}` is not a cast; use one of {CASTS}"),
                    );
                }
                cast
            }
        };
        let case = match o.case.as_deref() {
            None => None,
            Some("upper") => Some(Case::Upper),
            Some("lower") => Some(Case::Lower),
            Some(other) => {
                ok = false;
                self.problem(
                    at(at_, "case"),
                    format!("`{other}` is not a case; use `upper` or `lower`"),
                );
                None
            }
        };
        // Targets of `map` and the default are values of the target: cased and cast once here.
        let finish = |v: &Value| -> Result<Value, String> {
            let v = match (case, v) {
                (Some(case), Value::String(s)) => Value::String(recase(case, s)),
                _ => v.clone(),
            };
            match cast {
                Some(cast) => cast.apply(v),
                None => Ok(v),
            }
        };
        let default = match &o.default {
            None => None,
            Some(v) => match finish(v) {
                Ok(v) => Some(v),
                Err(e) => {
                    ok = false;
                    self.problem(at(at_, "default"), e);
                    None
                }
            },
        };
        let map = match &o.map {
            None => None,
            Some(entries) => {
                let mut map = ValueMap::default();
                let mut listed = Vec::new();
                for (key, v) in entries.iter() {
                    let v = match finish(v) {
                        Ok(v) => v,
                        Err(e) => {
                            ok = false;
                            self.problem(at(&at(at_, "map"), key), e);
                            continue;
                        }
                    };
                    if key == "_default" {
                        map.otherwise = Some(v);
                    } else {
                        if listed.len() < 10 {
                            listed.push(format!("`{key}`"));
                        } else if listed.len() == 10 {
                            listed.push("…".to_string());
                        }
                        map.values.insert(key.trim().to_string(), v);
                    }
                }
                map.listed = listed.join(", ");
                Some(map)
            }
        };
        if !ok {
            return None;
        }
        Some(Field {
            name: name.to_string(),
            from: from?,
            first: o.first,
            join: o.join.clone(),
            trim: o.trim,
            map,
            default,
            case,
            cast,
            required: o.required,
        })
    }

    fn lookup(&mut self, at_: &str, name: &str, spec: &LookupSpec) -> Option<CompiledLookup> {
        let mut ok = true;
        for (key, v) in [
            ("entity", &spec.entity),
            ("by", &spec.by),
            ("path", &spec.path),
        ] {
            if v.is_empty() {
                ok = false;
                self.problem(at(at_, key), format!("a lookup needs `{key}`"));
            }
        }
        let path = if spec.path.is_empty() {
            None
        } else {
            self.path(&at(at_, "path"), &spec.path)
        };
        if !ok {
            return None;
        }
        Some(CompiledLookup {
            field: name.to_string(),
            entity: spec.entity.clone(),
            by: spec.by.clone(),
            path: path?,
            required: spec.required,
        })
    }
}

fn recase(case: Case, s: &str) -> String {
    match case {
        Case::Upper => s.to_uppercase(),
        Case::Lower => s.to_lowercase(),
    }
}

/// The per-record minijinja values of templates and conditions.
struct Scope {
    record: Jinja,
    vars: Jinja,
}

impl Mapping {
    /// Maps one record: skipped, or the rows it gives; `vars` are the run's variables, seen by
    /// templates and conditions as `vars`.
    pub fn apply(&self, record: &Record, vars: &Map<String, Value>) -> Result<Mapped, MapError> {
        let scope = Scope {
            record: self.record_need.convert(record),
            vars: self.vars_need.convert_map(vars),
        };
        let mut record_ctx = None;
        for cond in self.conditions.iter().filter(|c| !c.per_item) {
            let ctx = record_ctx.get_or_insert_with(|| Self::context(&scope, Jinja::UNDEFINED));
            if self.when(cond, ctx)? {
                return Ok(Mapped::Skipped(Skip::When {
                    index: cond.index,
                    condition: cond.text.clone(),
                }));
            }
        }
        let items: Vec<Option<&Value>> = match &self.split {
            None => vec![None],
            Some(split) => match split.find(record, None) {
                Found::Nothing => return Ok(Mapped::Skipped(Skip::NothingToSplit)),
                Found::One(v) => vec![Some(v)],
                Found::Several(vs) => vs.into_iter().map(Some).collect(),
            },
        };
        let mut rows = Vec::with_capacity(items.len());
        let mut dropped: Option<&Condition> = None;
        'items: for item in items {
            // One context per row, shared by its templates and conditions.
            let ctx = if self.templated {
                let item = match item {
                    Some(v) if self.item_need.is_used() => self.item_need.convert(v),
                    _ => Jinja::UNDEFINED,
                };
                Self::context(&scope, item)
            } else {
                Jinja::UNDEFINED
            };
            for cond in self.conditions.iter().filter(|c| c.per_item) {
                if self.when(cond, &ctx)? {
                    dropped.get_or_insert(cond);
                    continue 'items;
                }
            }
            let mut row = Row {
                fields: Map::with_capacity(self.fields.len()),
                lookups: Vec::with_capacity(self.lookups.len()),
            };
            for field in &self.fields {
                let v = self.value(field, record, item, &ctx)?;
                row.fields.insert(field.name.clone(), v);
            }
            for l in &self.lookups {
                row.lookups.push(lookup(l, record, item)?);
            }
            rows.push(row);
        }
        if rows.is_empty()
            && let Some(cond) = dropped
        {
            return Ok(Mapped::Skipped(Skip::When {
                index: cond.index,
                condition: cond.text.clone(),
            }));
        }
        Ok(Mapped::Rows(rows))
    }

    fn context(scope: &Scope, item: Jinja) -> Jinja {
        minijinja::context! {
            record => scope.record.clone(),
            item => item,
            vars => scope.vars.clone(),
        }
    }

    fn when(&self, cond: &Condition, ctx: &Jinja) -> Result<bool, MapError> {
        let failed = |e: minijinja::Error| {
            MapError::new(
                &cond.template,
                MapErrorCode::Template,
                format!("the condition `{}` failed: {e}", cond.text),
            )
        };
        let template = self.env.get_template(&cond.template).map_err(failed)?;
        let captured = template.render_captured(ctx).map_err(failed)?;
        Ok(captured.state().lookup(WHEN).is_some_and(|v| v.is_true()))
    }

    fn value(
        &self,
        field: &Field,
        record: &Value,
        item: Option<&Value>,
        ctx: &Jinja,
    ) -> Result<Value, MapError> {
        let name = field.name.as_str();
        let v = match &field.from {
            From::Path(path) => collapse(field, path.find(record, item))?,
            From::Value(v) => v.clone(),
            From::Template(t) => {
                let failed = |e: minijinja::Error| {
                    MapError::new(
                        name,
                        MapErrorCode::Template,
                        format!("the template failed: {e}"),
                    )
                };
                let text = self
                    .env
                    .get_template(t)
                    .and_then(|t| t.render(ctx))
                    .map_err(failed)?;
                if text.is_empty() {
                    Value::Null
                } else {
                    Value::String(text)
                }
            }
        };
        let v = match v {
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|v| transform(field, v))
                    .collect::<Result<_, _>>()?,
            ),
            v => transform(field, v)?,
        };
        let v = match (v, &field.default) {
            (Value::Null, Some(d)) => d.clone(),
            (v, _) => v,
        };
        if v.is_null() && field.required {
            return Err(MapError::new(
                name,
                MapErrorCode::Missing,
                "is required but the record has no value for it",
            ));
        }
        Ok(v)
    }
}

/// One value out of what a path found, following `first` and `join`.
fn collapse(field: &Field, found: Found<'_>) -> Result<Value, MapError> {
    let several: Vec<&Value> = match found {
        Found::Nothing => return Ok(Value::Null),
        Found::One(Value::Array(a)) if field.first || field.join.is_some() => a.iter().collect(),
        Found::One(v) => return Ok(v.clone()),
        Found::Several(vs) => vs,
    };
    if field.first {
        return Ok(several.first().map_or(Value::Null, |v| (*v).clone()));
    }
    let Some(sep) = &field.join else {
        return Ok(Value::Array(several.into_iter().cloned().collect()));
    };
    let mut out = String::new();
    let mut empty = true;
    for v in several {
        let text = match v {
            Value::Null => continue,
            Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
            Value::Number(n) => n.to_string().into(),
            Value::Bool(b) => b.to_string().into(),
            _ => {
                return Err(MapError::new(
                    &field.name,
                    MapErrorCode::Shape,
                    format!(
                        "cannot join {}: only texts, numbers and booleans join",
                        show(v)
                    ),
                ));
            }
        };
        if !empty {
            out.push_str(sep);
        }
        empty = false;
        out.push_str(&text);
    }
    Ok(if empty {
        Value::Null
    } else {
        Value::String(out)
    })
}

/// `trim`, `map`, `case` and `cast` of one value (null stays null, for `default`).
fn transform(field: &Field, v: Value) -> Result<Value, MapError> {
    if v.is_null() {
        return Ok(v);
    }
    let v = match (field.trim, v) {
        (true, Value::String(s)) if s.trim().len() != s.len() => {
            Value::String(s.trim().to_string())
        }
        (_, v) => v,
    };
    if let Some(map) = &field.map {
        let hit = key_text(&v).and_then(|k| map.values.get(k.as_ref()));
        return match hit.or(map.otherwise.as_ref()) {
            // Map targets are final: cased and cast when the mapping was compiled.
            Some(target) => Ok(target.clone()),
            None => Err(MapError::new(
                &field.name,
                MapErrorCode::NotInMap,
                format!(
                    "{} is not in the value map ({}) and the map has no `_default`",
                    show(&v),
                    map.listed
                ),
            )),
        };
    }
    let v = match (field.case, v) {
        (Some(case), Value::String(s)) => Value::String(recase(case, &s)),
        (_, v) => v,
    };
    match field.cast {
        Some(cast) => cast
            .apply(v)
            .map_err(|m| MapError::new(&field.name, MapErrorCode::Cast, m)),
        None => Ok(v),
    }
}

fn lookup(l: &CompiledLookup, record: &Value, item: Option<&Value>) -> Result<Lookup, MapError> {
    let value = match l.path.find(record, item) {
        Found::Nothing => Value::Null,
        Found::One(v @ (Value::Array(_) | Value::Object(_))) => {
            return Err(MapError::new(
                &l.field,
                MapErrorCode::Shape,
                format!(
                    "{} is no natural key of `{}`: it is not a single value",
                    show(v),
                    l.entity
                ),
            ));
        }
        Found::One(v) => v.clone(),
        Found::Several(vs) => {
            return Err(MapError::new(
                &l.field,
                MapErrorCode::Shape,
                format!("the path finds {} values; a lookup needs one", vs.len()),
            ));
        }
    };
    if value.is_null() && l.required {
        return Err(MapError::new(
            &l.field,
            MapErrorCode::Missing,
            "is required but the record has no natural key for it",
        ));
    }
    Ok(Lookup {
        field: l.field.clone(),
        entity: l.entity.clone(),
        by: l.by.clone(),
        value,
    })
}

#[cfg(test)]
mod tests;
