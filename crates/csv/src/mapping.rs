//! Import mappings: how the columns of another system's CSV file become fields.
//!
//! A mapping is a small YAML document (`dynex import --mapping FILE.yml`):
//!
//! ```yaml
//! columns:
//!   Artikelnummer: sku                                  # rename
//!   Preis: { field: price, decimal_comma: true }
//!   Aktiv: { field: is_active, map: { "ja": true, "nein": false } }
//!   Name: { field: name, trim: true, case: upper }
//!   Datum: { field: valid_from, date_format: "%d.%m.%Y" }
//!   Farbe: { field: color_code, default: "#000000" }
//!   Steuersatz: { field: fk_tax_set, lookup: { entity: tax-sets, by: name } }
//!   Intern: ignore
//! constants:
//!   fk_tax_set: 1
//! unmapped: error
//! ```
//!
//! [`Mapping::from_yaml`] checks the document on its own; [`Mapping::plan_in`] binds it to an
//! entity of a catalog and a file's header, checking the field names, and gives a
//! [`MappingPlan`] whose [`MappingPlan::header`] is the header of visible field names the import
//! uses and whose [`MappingPlan::apply`] turns the cells of each record into cells under that
//! header. A column with a `lookup` (a natural key) gives the text to look up; the import
//! resolves it, in bulk, to the identifier of the row it names ([`MappingPlan::lookups`]).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::format::{Item, StrftimeItems};
use chrono::{NaiveDate, NaiveDateTime};
use dynex_schema::{Catalog, Entity, FieldType};
use serde_norway::Value as Yaml;

use crate::cell_value;

/// What to do with file columns that the mapping does not mention and that are no field names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Unmapped {
    /// Refuse the file before anything is written (the default).
    #[default]
    Error,
    /// Leave those columns out.
    Ignore,
}

/// Letter case a cell is changed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Upper,
    Lower,
}

/// A value map: cell texts to replacement texts, and what to do with the other texts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ValueMap {
    /// The listed texts, in the mapping's order (for messages).
    keys: Vec<String>,
    /// Listed text → replacement.
    values: HashMap<String, String>,
    /// The replacement of texts that are not listed (`_default`); without it they refuse the row.
    otherwise: Option<String>,
}

impl ValueMap {
    fn apply(&self, text: String) -> Result<String, String> {
        let key = text.trim();
        if let Some(v) = self.values.get(key) {
            return Ok(v.clone());
        }
        if key.is_empty() {
            // Empty cells are left to `default`; they only match an explicit `""` entry.
            return Ok(text);
        }
        if let Some(v) = &self.otherwise {
            return Ok(v.clone());
        }
        let mut listed: Vec<String> = self
            .keys
            .iter()
            .take(10)
            .map(|k| format!("`{k}`"))
            .collect();
        if self.keys.len() > 10 {
            listed.push("…".into());
        }
        Err(format!(
            "`{key}` is not in the value map ({}) and the map has no `_default`",
            listed.join(", ")
        ))
    }
}

/// The transforms of one mapped column, in the order they apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Rule {
    /// The visible name of the field the column fills.
    field: String,
    trim: bool,
    /// Replaces an empty cell (after `trim`).
    default: Option<String>,
    map: Option<ValueMap>,
    case: Option<Case>,
    decimal_comma: bool,
    /// A chrono `strftime` format the cells are written in.
    date_format: Option<String>,
    /// The cell (after the transforms) names a row of another entity by a field of it.
    lookup: Option<Box<LookupSpec>>,
}

/// `lookup: { entity: ALIAS, by: FIELD }` as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct LookupSpec {
    entity: String,
    by: String,
}

impl Rule {
    /// Whether the cell is copied as it is.
    fn is_plain(&self) -> bool {
        !self.trim
            && self.default.is_none()
            && self.map.is_none()
            && self.case.is_none()
            && !self.decimal_comma
            && self.date_format.is_none()
    }

    /// The cell's text for a field of type `ty`, or why the cell cannot be one.
    fn apply(&self, text: &str, ty: FieldType) -> Result<String, String> {
        let mut text = if self.trim { text.trim() } else { text }.to_string();
        if text.is_empty()
            && let Some(default) = &self.default
        {
            text = default.clone();
        }
        if let Some(map) = &self.map {
            text = map.apply(text)?;
        }
        if text.is_empty() {
            return Ok(text);
        }
        match self.case {
            Some(Case::Upper) => text = text.to_uppercase(),
            Some(Case::Lower) => text = text.to_lowercase(),
            None => {}
        }
        if self.decimal_comma {
            text = decimal_comma(&text)?;
        }
        if let Some(format) = &self.date_format {
            text = date(&text, format, ty)?;
        }
        Ok(text)
    }
}

/// `1.234,50` → `1234.50`: dots are thousands separators, the comma is the decimal point.
fn decimal_comma(text: &str) -> Result<String, String> {
    let refuse = || format!("`{text}` is not a number with a decimal comma (such as 1.234,50)");
    let (int, frac) = match text.split_once(',') {
        Some((int, frac)) => (int, Some(frac)),
        None => (text, None),
    };
    if frac.is_some_and(|f| f.contains([',', '.'])) {
        return Err(refuse());
    }
    // Thousands separators stand between groups of three digits: `12.50` is no such number.
    let mut groups = int.split('.');
    groups.next();
    if groups.any(|g| g.len() != 3) {
        return Err(refuse());
    }
    let int = int.replace('.', "");
    Ok(match frac {
        Some(frac) => format!("{int}.{frac}"),
        None => int,
    })
}

/// A date (and time) written in `format`, as ISO text for a field of type `ty`: `YYYY-MM-DD`
/// for a date field, `YYYY-MM-DD HH:MM:SS` for a date and time field; for other fields the
/// date alone when the format has no time.
fn date(text: &str, format: &str, ty: FieldType) -> Result<String, String> {
    const DATE: &str = "%Y-%m-%d";
    const DATETIME: &str = "%Y-%m-%d %H:%M:%S%.f";
    if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
        return Ok(match ty {
            FieldType::Date => t.format(DATE).to_string(),
            _ => t.format(DATETIME).to_string(),
        });
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, format) {
        return Ok(match ty {
            FieldType::DateTime => d
                .and_time(chrono::NaiveTime::MIN)
                .format(DATETIME)
                .to_string(),
            _ => d.format(DATE).to_string(),
        });
    }
    Err(format!("`{text}` is not a date in the format `{format}`"))
}

/// What the mapping says about one column of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Column {
    /// Left out.
    Ignore,
    /// Fills a field.
    Field(Rule),
}

/// A column mapping for imports: renamed and ignored columns, constants and cell transforms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapping {
    /// File column → what becomes of it, in the mapping's order.
    columns: Vec<(String, Column)>,
    /// Field → the cell text it gets on every row.
    constants: Vec<(String, String)>,
    unmapped: Unmapped,
}

/// The text of a YAML scalar as a CSV cell: strings as they are, numbers and booleans as written,
/// `null` as an empty cell.
fn scalar_text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::Null => Some(String::new()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// A YAML value in a message.
fn shown(value: &Yaml) -> String {
    match value {
        Yaml::Sequence(_) => "a list".into(),
        Yaml::Mapping(_) => "a mapping".into(),
        Yaml::Tagged(t) => format!("a value tagged `{}`", t.tag),
        other => format!("`{}`", scalar_text(other).unwrap_or_default()),
    }
}

fn entries<'a>(value: &'a Yaml, what: &str) -> Result<Vec<(String, &'a Yaml)>, String> {
    match value {
        Yaml::Null => Ok(Vec::new()),
        Yaml::Mapping(m) => m
            .iter()
            .map(|(k, v)| match scalar_text(k) {
                Some(k) => Ok((k, v)),
                None => Err(format!("{what}: the key {} is not a name", shown(k))),
            })
            .collect(),
        other => Err(format!("{what} must be a mapping, not {}", shown(other))),
    }
}

fn boolean(value: &Yaml, what: &str) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("{what} must be true or false, not {}", shown(value)))
}

fn string(value: &Yaml, what: &str) -> Result<String, String> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{what} must be a string, not {}", shown(value)))
}

fn scalar(value: &Yaml, what: &str) -> Result<String, String> {
    scalar_text(value).ok_or_else(|| {
        format!(
            "{what} must be a string, a number or a boolean, not {}",
            shown(value)
        )
    })
}

/// Reads the entry of one column.
fn column(name: &str, value: &Yaml) -> Result<Column, String> {
    let what = format!("the column `{name}`");
    let options = match value {
        Yaml::String(s) if s == "ignore" => return Ok(Column::Ignore),
        Yaml::String(s) if s.is_empty() => return Err(format!("{what}: the field name is empty")),
        Yaml::String(s) => {
            return Ok(Column::Field(Rule {
                field: s.clone(),
                ..Rule::default()
            }));
        }
        Yaml::Mapping(_) => entries(value, &what)?,
        other => {
            return Err(format!(
                "{what} must map to a field name, `ignore` or options such as {{ field: NAME }}, \
                 not {}",
                shown(other)
            ));
        }
    };
    let mut rule = Rule {
        // Without `field`, the column fills the field of its own name.
        field: name.to_string(),
        ..Rule::default()
    };
    let mut ignore = false;
    for (key, v) in options {
        let option = format!("{what}: `{key}`");
        match key.as_str() {
            "field" => {
                rule.field = string(v, &option)?;
                if rule.field.is_empty() {
                    return Err(format!("{what}: the field name is empty"));
                }
            }
            "ignore" => ignore = boolean(v, &option)?,
            "trim" => rule.trim = boolean(v, &option)?,
            "decimal_comma" => rule.decimal_comma = boolean(v, &option)?,
            "default" => rule.default = Some(scalar(v, &option)?),
            "case" => {
                rule.case = Some(match string(v, &option)?.as_str() {
                    "upper" => Case::Upper,
                    "lower" => Case::Lower,
                    other => {
                        return Err(format!(
                            "{option} must be `upper` or `lower`, not `{other}`"
                        ));
                    }
                });
            }
            "date_format" => {
                let format = string(v, &option)?;
                let bad = format.is_empty()
                    || StrftimeItems::new(&format).any(|item| matches!(item, Item::Error));
                if bad {
                    return Err(format!(
                        "{option}: `{format}` is not a date format (chrono strftime, such as \
                         %d.%m.%Y)"
                    ));
                }
                rule.date_format = Some(format);
            }
            "lookup" => rule.lookup = Some(Box::new(lookup(v, &option)?)),
            "map" => {
                let mut map = ValueMap::default();
                for (from, to) in entries(v, &option)? {
                    let to = scalar(to, &format!("{option}: the value of `{from}`"))?;
                    if from == "_default" {
                        map.otherwise = Some(to);
                    } else {
                        map.keys.push(from.clone());
                        map.values.insert(from, to);
                    }
                }
                rule.map = Some(map);
            }
            _ => {
                return Err(format!(
                    "{what}: unknown option `{key}` (the options are field, ignore, trim, \
                     default, map, case, decimal_comma, date_format and lookup)"
                ));
            }
        }
    }
    if ignore {
        if options_given(&rule, name) {
            return Err(format!("{what} is ignored and has other options too"));
        }
        return Ok(Column::Ignore);
    }
    Ok(Column::Field(rule))
}

/// Whether a rule says more than "the field of the column's own name".
fn options_given(rule: &Rule, name: &str) -> bool {
    rule.field != name || !rule.is_plain() || rule.lookup.is_some()
}

/// Reads `lookup: { entity: ALIAS, by: FIELD }`.
fn lookup(value: &Yaml, what: &str) -> Result<LookupSpec, String> {
    if !matches!(value, Yaml::Mapping(_)) {
        return Err(format!(
            "{what} must be a mapping such as {{ entity: ALIAS, by: FIELD }}, not {}",
            shown(value)
        ));
    }
    let (mut entity, mut by) = (None, None);
    for (key, v) in entries(value, what)? {
        let option = format!("{what}: `{key}`");
        match key.as_str() {
            "entity" => entity = Some(string(v, &option)?),
            "by" => by = Some(string(v, &option)?),
            _ => {
                return Err(format!(
                    "{what}: unknown option `{key}` (the options are entity and by)"
                ));
            }
        }
    }
    match (entity, by) {
        (Some(entity), Some(by)) if !entity.is_empty() && !by.is_empty() => {
            Ok(LookupSpec { entity, by })
        }
        _ => Err(format!(
            "{what} needs both `entity` (the alias of the entity looked up) and `by` (its field \
             the cells are matched against)"
        )),
    }
}

impl Mapping {
    /// Reads a mapping document and checks it on its own (the field names are checked by
    /// [`Mapping::plan`]).
    ///
    /// Refuses text that is not YAML, unknown keys and options, values of the wrong kind, bad
    /// date formats, two columns mapped to one field and a constant for a field that a column
    /// fills.
    pub fn from_yaml(text: &str) -> Result<Mapping, String> {
        let doc: Yaml = serde_norway::from_str(text)
            .map_err(|e| format!("the mapping is not valid YAML: {e}"))?;
        let top = match &doc {
            Yaml::Mapping(_) => entries(&doc, "the mapping")?,
            Yaml::Null => return Err("the mapping is empty".into()),
            other => {
                return Err(format!(
                    "the mapping must be a YAML mapping with `columns`, `constants` or \
                     `unmapped`, not {}",
                    shown(other)
                ));
            }
        };
        let mut mapping = Mapping::default();
        for (key, value) in top {
            match key.as_str() {
                "columns" => {
                    for (name, v) in entries(value, "`columns`")? {
                        let column = column(&name, v)?;
                        mapping.columns.push((name, column));
                    }
                }
                "constants" => {
                    for (field, v) in entries(value, "`constants`")? {
                        let text = match v {
                            // A list or mapping is JSON text, for a `json` field.
                            Yaml::Sequence(_) | Yaml::Mapping(_) => serde_json::to_string(v)
                                .map_err(|e| format!("the constant `{field}`: {e}"))?,
                            _ => scalar(v, &format!("the constant `{field}`"))?,
                        };
                        mapping.constants.push((field, text));
                    }
                }
                "unmapped" => {
                    mapping.unmapped = match value.as_str() {
                        Some("error") => Unmapped::Error,
                        Some("ignore") => Unmapped::Ignore,
                        _ => {
                            return Err(format!(
                                "`unmapped` must be `error` or `ignore`, not {}",
                                shown(value)
                            ));
                        }
                    };
                }
                _ => {
                    return Err(format!(
                        "unknown key `{key}` in the mapping (the keys are columns, constants and \
                         unmapped)"
                    ));
                }
            }
        }
        let mut by_field: HashMap<&str, &str> = HashMap::new();
        for (name, column) in &mapping.columns {
            if let Column::Field(rule) = column
                && let Some(other) = by_field.insert(&rule.field, name)
            {
                return Err(format!(
                    "the columns `{other}` and `{name}` both map to the field `{}`",
                    rule.field
                ));
            }
        }
        for (i, (field, _)) in mapping.constants.iter().enumerate() {
            if let Some(column) = by_field.get(field.as_str()) {
                return Err(format!(
                    "the field `{field}` is both a constant and mapped from the column `{column}`"
                ));
            }
            if mapping.constants[..i].iter().any(|(f, _)| f == field) {
                return Err(format!("the constant `{field}` is given twice"));
            }
        }
        Ok(mapping)
    }

    /// What to do with columns the mapping does not mention.
    pub fn unmapped(&self) -> Unmapped {
        self.unmapped
    }

    /// Binds the mapping to `entity` and to a file's `header`, with no other entity to look
    /// up (a `lookup` is refused): [`Mapping::plan_in`] with an empty catalog.
    pub fn plan(&self, entity: &Entity, header: &[String]) -> Result<MappingPlan, String> {
        self.plan_in(&Catalog::default(), entity, header)
    }

    /// Binds the mapping to `entity` and to a file's `header`; lookups name entities of
    /// `catalog`.
    ///
    /// Refuses field names that `entity` does not have, constants that its fields do not
    /// accept, columns of the file that are neither mentioned nor field names (unless
    /// `unmapped: ignore`), two sources for one field, and lookups of an entity that `catalog`
    /// does not serve or by a field that entity does not have.
    pub fn plan_in(
        &self,
        catalog: &Catalog,
        entity: &Entity,
        header: &[String],
    ) -> Result<MappingPlan, String> {
        let alias = entity.alias();
        let ty = |field: &str| entity.field_index(field).map(|i| entity.fields()[i].ty);
        // The entity and the type of the field each column with a lookup is matched against.
        let mut looked_up: HashMap<&str, (Arc<Entity>, FieldType)> = HashMap::new();
        for (name, column) in &self.columns {
            if let Column::Field(Rule {
                lookup: Some(spec), ..
            }) = column
            {
                let what = format!("the column `{name}`: `lookup`");
                let other = catalog.entity(&spec.entity).ok_or_else(|| {
                    format!(
                        "{what}: no entity `{}` is configured and active",
                        spec.entity
                    )
                })?;
                let by = other.field_index(&spec.by).ok_or_else(|| {
                    let known: Vec<&str> = other
                        .fields()
                        .iter()
                        .map(|f| f.field_visible_name.as_str())
                        .collect();
                    format!(
                        "{what}: `{}` has no field `{}` (its fields are: {})",
                        spec.entity,
                        spec.by,
                        known.join(", ")
                    )
                })?;
                let by_ty = other.fields()[by].ty;
                looked_up.insert(name, (other.clone(), by_ty));
            }
        }
        let mut unknown = Vec::new();
        for (name, column) in &self.columns {
            if let Column::Field(rule) = column
                && ty(&rule.field).is_none()
            {
                unknown.push(format!("`{}` (column `{name}`)", rule.field));
            }
        }
        for (field, _) in &self.constants {
            if ty(field).is_none() {
                unknown.push(format!("`{field}` (constant)"));
            }
        }
        if !unknown.is_empty() {
            let known: Vec<&str> = entity
                .fields()
                .iter()
                .map(|f| f.field_visible_name.as_str())
                .collect();
            return Err(format!(
                "the mapping names {} that `{alias}` does not have: {} (the fields of `{alias}` \
                 are: {})",
                if unknown.len() > 1 {
                    "fields"
                } else {
                    "a field"
                },
                unknown.join(", "),
                known.join(", ")
            ));
        }

        let mut plan = MappingPlan::default();
        // Field → where it comes from, to refuse two sources for one field.
        let mut sources: HashMap<String, String> = HashMap::new();
        let mut add = |field: &str, source: String| match sources.get(field) {
            Some(first) => Err(format!(
                "the field `{field}` would be filled from both {first} and {source}"
            )),
            None => {
                sources.insert(field.to_string(), source);
                Ok(())
            }
        };
        let mut unmapped = Vec::new();
        for (index, name) in header.iter().enumerate() {
            let mentioned = self.columns.iter().find(|(c, _)| c == name).map(|(_, c)| c);
            let rule = match mentioned {
                Some(Column::Ignore) => continue,
                Some(Column::Field(rule)) => rule.clone(),
                None if ty(name).is_some() => Rule {
                    field: name.clone(),
                    ..Rule::default()
                },
                None => {
                    if self.unmapped == Unmapped::Error {
                        unmapped.push(format!("`{name}`"));
                    }
                    continue;
                }
            };
            add(&rule.field, format!("the column `{name}`"))?;
            // The cells of a lookup are values of the field they are matched against.
            let field_ty = match (&rule.lookup, looked_up.get(name.as_str())) {
                (Some(spec), Some((_, by_ty))) => {
                    plan.lookups.push(Lookup {
                        position: plan.header.len(),
                        column: name.clone(),
                        field: rule.field.clone(),
                        entity: spec.entity.clone(),
                        by: spec.by.clone(),
                    });
                    *by_ty
                }
                _ => ty(&rule.field).unwrap_or(FieldType::String),
            };
            plan.header.push(rule.field.clone());
            plan.outputs.push(Output::Column {
                index,
                name: name.clone(),
                rule: (!rule.is_plain()).then_some((rule, field_ty)),
            });
        }
        if !unmapped.is_empty() {
            return Err(format!(
                "the column{} {} of the file {} neither in the mapping nor {} of `{alias}` (map \
                 {} under `columns`, mark {} `ignore`, or set `unmapped: ignore`)",
                if unmapped.len() > 1 { "s" } else { "" },
                unmapped.join(", "),
                if unmapped.len() > 1 { "are" } else { "is" },
                if unmapped.len() > 1 {
                    "fields"
                } else {
                    "a field"
                },
                if unmapped.len() > 1 { "them" } else { "it" },
                if unmapped.len() > 1 { "them" } else { "it" },
            ));
        }
        for (field, text) in &self.constants {
            add(field, "the constant".to_string())?;
            let f = &entity.fields()[entity.field_index(field).unwrap_or_default()];
            cell_value(f, text).map_err(|e| format!("the constant `{field}`: {e}"))?;
            plan.header.push(field.clone());
            plan.outputs.push(Output::Constant(text.clone()));
        }
        Ok(plan)
    }
}

/// Where a cell of the mapped record comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Output {
    /// A column of the file (`name` at `index`), transformed by a rule (`None`: as it is).
    Column {
        index: usize,
        name: String,
        rule: Option<(Rule, FieldType)>,
    },
    /// The same text on every row.
    Constant(String),
}

/// A mapping bound to an entity and a file's header: the header it gives and the cells of each
/// record under it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappingPlan {
    header: Vec<String>,
    outputs: Vec<Output>,
    lookups: Vec<Lookup>,
}

/// A column whose cells name rows of another entity by one of its fields (a natural key, such
/// as a product's `abstract_sku`): the import replaces each cell with the identifier of the row
/// it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The position of the field in [`MappingPlan::header`].
    pub position: usize,
    /// The file's column.
    pub column: String,
    /// The visible name of the field that gets the identifier of the row found.
    pub field: String,
    /// The alias of the entity looked up.
    pub entity: String,
    /// The visible name of its field that the cells are matched against.
    pub by: String,
}

/// A cell that a mapping's transform refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellError {
    /// The file's column.
    pub column: String,
    /// The visible name of the field the column fills.
    pub field: String,
    /// Why the cell was refused.
    pub reason: String,
}

impl std::fmt::Display for CellError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "column `{}`: {}", self.column, self.reason)
    }
}

impl MappingPlan {
    /// The visible field names the mapped records have cells for: the kept columns of the file,
    /// in its order, then the constants.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The columns of [`MappingPlan::header`] whose cells [`MappingPlan::apply`] leaves as the
    /// text to look up, in header order.
    pub fn lookups(&self) -> &[Lookup] {
        &self.lookups
    }

    /// The cells of a record under [`MappingPlan::header`], from its cells under the file's
    /// header; the first cell that a transform refuses stops it.
    pub fn apply(&self, cells: &[String]) -> Result<Vec<String>, CellError> {
        let mut out = Vec::with_capacity(self.outputs.len());
        for (output, field) in self.outputs.iter().zip(&self.header) {
            out.push(match output {
                Output::Constant(text) => text.clone(),
                Output::Column { index, name, rule } => {
                    let text = cells.get(*index).map_or("", String::as_str);
                    match rule {
                        None => text.to_string(),
                        Some((rule, ty)) => rule.apply(text, *ty).map_err(|reason| CellError {
                            column: name.clone(),
                            field: field.clone(),
                            reason,
                        })?,
                    }
                }
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynex_schema::EntityConfig;

    fn entity() -> Entity {
        let c = EntityConfig::parse_many(
            r#"{"tableName":"t","tableAlias":"things","definition":{"identifier":"id","fields":[
              {"fieldName":"id","fieldVisibleName":"id","type":"integer"},
              {"fieldName":"sku","fieldVisibleName":"sku","type":"string"},
              {"fieldName":"name","fieldVisibleName":"name","type":"string"},
              {"fieldName":"price","fieldVisibleName":"price","type":"decimal"},
              {"fieldName":"active","fieldVisibleName":"is_active","type":"boolean"},
              {"fieldName":"valid_from","fieldVisibleName":"valid_from","type":"date"},
              {"fieldName":"seen_at","fieldVisibleName":"seen_at","type":"datetime"},
              {"fieldName":"color","fieldVisibleName":"color_code","type":"string"},
              {"fieldName":"tax","fieldVisibleName":"fk_tax_set","type":"integer"},
              {"fieldName":"attrs","fieldVisibleName":"attributes","type":"json"}]}}"#,
        )
        .unwrap()
        .remove(0);
        Entity::new(c).unwrap()
    }

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_string()).collect()
    }

    const GERMAN: &str = r##"
columns:
  Artikelnummer: sku
  Preis: { field: price, decimal_comma: true }
  Aktiv: { field: is_active, map: { "ja": true, "nein": false, 1: true, 0: false } }
  Name: { field: name, trim: true, case: upper }
  Datum: { field: valid_from, date_format: "%d.%m.%Y" }
  Gesehen: { field: seen_at, date_format: "%d.%m.%Y %H:%M" }
  Farbe: { field: color_code, default: "#000000" }
  Intern: ignore
  Notiz: { ignore: true }
constants:
  fk_tax_set: 1
unmapped: error
"##;

    #[test]
    fn a_german_export_becomes_visible_fields() {
        let mapping = Mapping::from_yaml(GERMAN).unwrap();
        let header = strings(&[
            "Artikelnummer",
            "Intern",
            "Preis",
            "Aktiv",
            "Name",
            "Datum",
            "Gesehen",
            "Farbe",
            "Notiz",
            "attributes",
        ]);
        let plan = mapping.plan(&entity(), &header).unwrap();
        assert_eq!(
            plan.header(),
            [
                "sku",
                "price",
                "is_active",
                "name",
                "valid_from",
                "seen_at",
                "color_code",
                "attributes",
                "fk_tax_set"
            ]
        );
        let row = strings(&[
            "A-1",
            "x",
            "1.234,50",
            "ja",
            "  Tisch ",
            "01.03.2024",
            "02.03.2024 14:05",
            "",
            "y",
            "{}",
        ]);
        assert_eq!(
            plan.apply(&row).unwrap(),
            [
                "A-1",
                "1234.50",
                "true",
                "TISCH",
                "2024-03-01",
                "2024-03-02 14:05:00",
                "#000000",
                "{}",
                "1"
            ]
        );
        let mut bad = row.clone();
        bad[5] = "31.02.2024".into();
        assert_eq!(
            plan.apply(&bad).unwrap_err(),
            CellError {
                column: "Datum".into(),
                field: "valid_from".into(),
                reason: "`31.02.2024` is not a date in the format `%d.%m.%Y`".into()
            }
        );
        let mut bad = row.clone();
        bad[3] = "vielleicht".into();
        let e = plan.apply(&bad).unwrap_err();
        assert_eq!(
            (e.column.as_str(), e.field.as_str()),
            ("Aktiv", "is_active")
        );
        assert_eq!(
            e.reason,
            "`vielleicht` is not in the value map (`ja`, `nein`, `1`, `0`) and the map has no \
             `_default`"
        );
        assert_eq!(e.to_string(), format!("column `Aktiv`: {}", e.reason));
    }

    fn rule(yaml: &str) -> Rule {
        match column("c", &serde_norway::from_str(yaml).unwrap()).unwrap() {
            Column::Field(rule) => rule,
            Column::Ignore => panic!("ignored"),
        }
    }

    #[test]
    fn transforms_apply_in_order() {
        let s = FieldType::String;
        // trim → default → map → case.
        let r =
            rule(r#"{ trim: true, default: "none", map: { none: "n/a", x: "yes" }, case: upper }"#);
        assert_eq!(r.apply("   ", s).unwrap(), "N/A");
        assert_eq!(r.apply(" x ", s).unwrap(), "YES");
        assert!(r.apply("y", s).is_err());
        // Without trim the spaces stay, but the map matches the text without them.
        let r = rule(r#"{ map: { ja: true, _default: false } }"#);
        assert_eq!(r.apply(" ja ", s).unwrap(), "true");
        assert_eq!(r.apply("nein", s).unwrap(), "false");
        assert_eq!(r.apply("", s).unwrap(), "", "empty cells pass a map");
        let r = rule(r#"{ map: { "": "-", 1.5: 2 } }"#);
        assert_eq!(r.apply("", s).unwrap(), "-");
        assert_eq!(r.apply("1.5", s).unwrap(), "2");
        assert_eq!(
            rule(r#"{ map: { 1: ~ } }"#).apply("1", s).unwrap(),
            "",
            "null is an empty cell"
        );
        let r = rule("{ trim: false, case: lower }");
        assert_eq!(r.apply(" ÄB ", s).unwrap(), " äb ");
        let r = rule("{ default: 0 }");
        assert_eq!(r.apply("", s).unwrap(), "0");
        assert_eq!(r.apply(" ", s).unwrap(), " ", "not empty without trim");
    }

    #[test]
    fn decimal_commas() {
        let d = FieldType::Decimal;
        let r = rule("{ decimal_comma: true }");
        for (from, to) in [
            ("1.234,50", "1234.50"),
            ("-1.234.567,5", "-1234567.5"),
            ("12,5", "12.5"),
            ("12", "12"),
            ("1.000", "1000"),
            ("", ""),
        ] {
            assert_eq!(r.apply(from, d).unwrap(), to, "{from}");
        }
        for bad in ["12.50", "1,2,3", "1,234.5", "1.23.456,0"] {
            assert_eq!(
                r.apply(bad, d).unwrap_err(),
                format!("`{bad}` is not a number with a decimal comma (such as 1.234,50)")
            );
        }
    }

    #[test]
    fn dates_are_written_as_iso_for_their_field() {
        let r = rule(r#"{ date_format: "%d.%m.%Y" }"#);
        assert_eq!(
            r.apply("05.11.2026", FieldType::Date).unwrap(),
            "2026-11-05"
        );
        assert_eq!(
            r.apply("05.11.2026", FieldType::DateTime).unwrap(),
            "2026-11-05 00:00:00"
        );
        assert_eq!(
            r.apply("05.11.2026", FieldType::String).unwrap(),
            "2026-11-05"
        );
        assert_eq!(r.apply("", FieldType::Date).unwrap(), "");
        assert!(r.apply("2026-11-05", FieldType::Date).is_err());
        let r = rule(r#"{ date_format: "%m/%d/%Y %I:%M %p" }"#);
        assert_eq!(
            r.apply("11/05/2026 02:30 PM", FieldType::DateTime).unwrap(),
            "2026-11-05 14:30:00"
        );
        assert_eq!(
            r.apply("11/05/2026 02:30 PM", FieldType::Date).unwrap(),
            "2026-11-05"
        );
        assert_eq!(
            r.apply("11/05/2026 02:30 PM", FieldType::String).unwrap(),
            "2026-11-05 14:30:00"
        );
        let r = rule(r#"{ date_format: "%Y%m%d%H%M%S%.f" }"#);
        assert_eq!(
            r.apply("20261105143000.25", FieldType::DateTime).unwrap(),
            "2026-11-05 14:30:00.250"
        );
    }

    #[test]
    fn columns_not_mentioned_keep_their_name() {
        let e = entity();
        let mapping =
            Mapping::from_yaml("columns:\n  Preis: { field: price, decimal_comma: true }\n")
                .unwrap();
        let plan = mapping
            .plan(&e, &strings(&["sku", "Preis", "name"]))
            .unwrap();
        assert_eq!(plan.header(), ["sku", "price", "name"]);
        assert_eq!(
            plan.apply(&strings(&[" a ", "2,5", "b"])).unwrap(),
            [" a ", "2.5", "b"]
        );
        // Options without `field` apply to the column's own field.
        let mapping = Mapping::from_yaml("columns:\n  price: { decimal_comma: true }\n").unwrap();
        let plan = mapping.plan(&e, &strings(&["price"])).unwrap();
        assert_eq!(plan.apply(&strings(&["3,25"])).unwrap(), ["3.25"]);
        // Columns the mapping names need not be in the file.
        let plan = Mapping::from_yaml(GERMAN)
            .unwrap()
            .plan(&e, &strings(&["sku"]))
            .unwrap();
        assert_eq!(plan.header(), ["sku", "fk_tax_set"]);
    }

    #[test]
    fn unmapped_columns() {
        let e = entity();
        let header = strings(&["sku", "Extra", "Other"]);
        let error = Mapping::from_yaml("columns: {}")
            .unwrap()
            .plan(&e, &header)
            .unwrap_err();
        assert!(
            error.starts_with(
                "the columns `Extra`, `Other` of the file are neither in the mapping nor fields \
                 of `things`"
            ),
            "{error}"
        );
        let mapping = Mapping::from_yaml("unmapped: ignore").unwrap();
        assert_eq!(mapping.unmapped(), Unmapped::Ignore);
        let plan = mapping.plan(&e, &header).unwrap();
        assert_eq!(plan.header(), ["sku"]);
        assert_eq!(plan.apply(&strings(&["a", "b", "c"])).unwrap(), ["a"]);
    }

    #[test]
    fn constants_are_typed_and_json_may_be_structured() {
        let e = entity();
        let mapping = Mapping::from_yaml(
            "constants:\n  fk_tax_set: 2\n  is_active: true\n  attributes: { color: red }\n  \
             name: ~\n",
        )
        .unwrap();
        let plan = mapping.plan(&e, &strings(&["sku"])).unwrap();
        assert_eq!(
            plan.header(),
            ["sku", "fk_tax_set", "is_active", "attributes", "name"]
        );
        assert_eq!(
            plan.apply(&strings(&["a"])).unwrap(),
            ["a", "2", "true", r#"{"color":"red"}"#, ""]
        );
        let bad = Mapping::from_yaml("constants:\n  fk_tax_set: one\n").unwrap();
        assert_eq!(
            bad.plan(&e, &[]).unwrap_err(),
            "the constant `fk_tax_set`: `one` is not an integer"
        );
    }

    /// A catalog with `things` and `taxes` (looked up by `name`, a string, or `since`, a date).
    fn catalog() -> Catalog {
        let taxes = EntityConfig::parse_many(
            r#"{"tableName":"x","tableAlias":"taxes","definition":{"identifier":"id","fields":[
              {"fieldName":"id","fieldVisibleName":"id","type":"integer"},
              {"fieldName":"name","fieldVisibleName":"name","type":"string"},
              {"fieldName":"since","fieldVisibleName":"since","type":"date"}]}}"#,
        )
        .unwrap()
        .remove(0);
        Catalog::new([entity(), Entity::new(taxes).unwrap()])
    }

    #[test]
    fn lookups_leave_the_text_to_look_up() {
        let e = entity();
        let mapping = Mapping::from_yaml(
            "columns:\n  Steuer: { field: fk_tax_set, trim: true, case: upper, lookup: { entity: \
             taxes, by: name } }\n  Ab: { field: color_code, date_format: \"%d.%m.%Y\", lookup: \
             { entity: taxes, by: since } }\n  fk_tax_set2: ignore\n",
        )
        .unwrap();
        let plan = mapping
            .plan_in(&catalog(), &e, &strings(&["sku", "Steuer", "Ab"]))
            .unwrap();
        assert_eq!(plan.header(), ["sku", "fk_tax_set", "color_code"]);
        assert_eq!(
            plan.lookups(),
            [
                Lookup {
                    position: 1,
                    column: "Steuer".into(),
                    field: "fk_tax_set".into(),
                    entity: "taxes".into(),
                    by: "name".into()
                },
                Lookup {
                    position: 2,
                    column: "Ab".into(),
                    field: "color_code".into(),
                    entity: "taxes".into(),
                    by: "since".into()
                }
            ]
        );
        // Transforms apply, typed by the field looked up (a date here, not a string).
        assert_eq!(
            plan.apply(&strings(&["a", " full ", "05.11.2026"]))
                .unwrap(),
            ["a", "FULL", "2026-11-05"]
        );
        // A column with a lookup that is not in the file is no lookup.
        let plan = mapping.plan_in(&catalog(), &e, &strings(&["sku"])).unwrap();
        assert!(plan.lookups().is_empty());
        // Without a field, the column's own field gets the identifier.
        let plan =
            Mapping::from_yaml("columns:\n  fk_tax_set: { lookup: { entity: taxes, by: name } }")
                .unwrap()
                .plan_in(&catalog(), &e, &strings(&["fk_tax_set"]))
                .unwrap();
        assert_eq!(plan.lookups()[0].field, "fk_tax_set");
        assert_eq!(plan.apply(&strings(&["x"])).unwrap(), ["x"]);
    }

    #[test]
    fn invalid_lookups_are_refused() {
        let e = entity();
        let refused = |yaml: &str, message: &str| {
            let error = Mapping::from_yaml(yaml)
                .and_then(|m| m.plan_in(&catalog(), &e, &strings(&["A"])))
                .unwrap_err();
            assert!(error.contains(message), "{yaml}: {error}");
        };
        refused(
            "columns: { A: { field: fk_tax_set, lookup: taxes } }",
            "the column `A`: `lookup` must be a mapping such as { entity: ALIAS, by: FIELD }, \
             not `taxes`",
        );
        refused(
            "columns: { A: { field: fk_tax_set, lookup: { entity: taxes } } }",
            "the column `A`: `lookup` needs both `entity`",
        );
        refused(
            "columns: { A: { field: fk_tax_set, lookup: { entity: taxes, by: name, on: x } } }",
            "the column `A`: `lookup`: unknown option `on` (the options are entity and by)",
        );
        refused(
            "columns: { A: { field: fk_tax_set, lookup: { entity: taxis, by: name } } }",
            "the column `A`: `lookup`: no entity `taxis` is configured and active",
        );
        refused(
            "columns: { A: { field: fk_tax_set, lookup: { entity: taxes, by: nam } } }",
            "the column `A`: `lookup`: `taxes` has no field `nam` (its fields are: id, name, \
             since)",
        );
        refused(
            "columns: { A: { field: fk_tax, lookup: { entity: taxes, by: name } } }",
            "the mapping names a field that `things` does not have: `fk_tax` (column `A`)",
        );
        refused(
            "columns: { A: { ignore: true, lookup: { entity: taxes, by: name } } }",
            "ignored and has other options",
        );
        // Without a catalog, nothing can be looked up.
        let error = Mapping::from_yaml(
            "columns: { A: { field: fk_tax_set, lookup: { entity: taxes, by: name } } }",
        )
        .unwrap()
        .plan(&e, &strings(&["A"]))
        .unwrap_err();
        assert!(error.contains("no entity `taxes`"), "{error}");
    }

    #[test]
    fn invalid_mappings_are_refused() {
        let e = entity();
        let refused = |yaml: &str, header: &[&str], message: &str| {
            let error = Mapping::from_yaml(yaml)
                .and_then(|m| m.plan(&e, &strings(header)))
                .unwrap_err();
            assert!(error.contains(message), "{yaml}: {error}");
        };
        refused("", &[], "the mapping is empty");
        refused("columns: [", &[], "the mapping is not valid YAML");
        refused("- a", &[], "must be a YAML mapping");
        refused("colums: {}", &[], "unknown key `colums` in the mapping");
        refused(
            "columns: [a]",
            &[],
            "`columns` must be a mapping, not a list",
        );
        refused(
            "columns: { A: { field: sku, trimm: true } }",
            &[],
            "the column `A`: unknown option `trimm`",
        );
        refused(
            "columns: { A: 3 }",
            &[],
            "the column `A` must map to a field name",
        );
        refused(
            "columns: { A: { field: sku, trim: yes } }",
            &[],
            "`trim` must be true or false",
        );
        refused(
            "columns: { A: { case: title } }",
            &[],
            "must be `upper` or `lower`, not `title`",
        );
        refused(
            "columns: { A: { date_format: \"%d.%Q\" } }",
            &[],
            "`%d.%Q` is not a date format",
        );
        refused(
            "columns: { A: { map: [1] } }",
            &[],
            "`map` must be a mapping",
        );
        refused(
            "columns: { A: { map: { x: [1] } } }",
            &[],
            "the value of `x` must be a string",
        );
        refused(
            "columns: { A: { ignore: true, field: sku } }",
            &[],
            "ignored and has other options",
        );
        refused(
            "unmapped: maybe",
            &[],
            "`unmapped` must be `error` or `ignore`, not `maybe`",
        );
        refused(
            "columns: { A: sku, B: sku }",
            &[],
            "the columns `A` and `B` both map to the field `sku`",
        );
        refused(
            "columns: { A: fk_tax_set }\nconstants: { fk_tax_set: 1 }",
            &[],
            "the field `fk_tax_set` is both a constant and mapped from the column `A`",
        );
        refused(
            "columns: { A: prise, B: { field: name } }\nconstants: { fk_tax: 1 }",
            &[],
            "the mapping names fields that `things` does not have: `prise` (column `A`), \
             `fk_tax` (constant) (the fields of `things` are: id, sku,",
        );
        refused(
            "columns: { A: sku }",
            &["A", "sku"],
            "the field `sku` would be filled from both the column `A` and the column `sku`",
        );
        refused(
            "constants: { sku: x }",
            &["sku"],
            "the field `sku` would be filled from both the column `sku` and the constant",
        );
        refused(
            "columns: { A: { field: \"\" } }",
            &[],
            "the field name is empty",
        );
    }
}
