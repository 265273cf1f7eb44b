//! Validating configurations against the live schema, and building them from it.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::model::{Definition, EntityConfig, Field, FieldType, Rules};
use crate::table::{ColumnKind, TableInfo};

static ALIAS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_-]+$").unwrap());

/// The field types an `updatedAtField` may have: those that hold a time in an order.
const UPDATED_AT_TYPES: &[FieldType] = &[FieldType::String, FieldType::Date, FieldType::DateTime];

/// Constraint names dynex knows how to check.
const KNOWN_CONSTRAINTS: &[&str] = &["url"];

/// One problem in a configuration, located by entity and JSON path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigError {
    /// The entity's alias (or table name when the alias is the problem).
    pub entity: String,
    /// Where in the entry the problem is, e.g. `definition.fields[2].validation.min`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.entity, self.message)
        } else {
            write!(f, "{} ({}): {}", self.entity, self.path, self.message)
        }
    }
}

/// Whether a table belongs to dynex itself (or to diesel's bookkeeping) and may not be exposed.
pub fn is_reserved_table(table: &str) -> bool {
    let t = table.to_ascii_lowercase();
    t.starts_with("dynex_") || t == "__diesel_schema_migrations" || t.starts_with("sqlite_")
}

/// Derives an alias from a table name as Spryker's back office does: `spy_tax_rate` → `tax-rates`.
pub fn derive_alias(table: &str) -> String {
    let mut base = table.to_ascii_lowercase();
    for prefix in ["spy_", "pyz_"] {
        if let Some(rest) = base.strip_prefix(prefix) {
            base = rest.to_string();
            break;
        }
    }
    let base = base.replace('_', "-");
    let plural = if base.ends_with('s')
        || base.ends_with('x')
        || base.ends_with("ch")
        || base.ends_with("sh")
    {
        if base.ends_with("ss") || !base.ends_with('s') {
            format!("{base}es")
        } else {
            base
        }
    } else if let Some(stem) = base.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        format!("{stem}ies")
    } else {
        format!("{base}s")
    };
    plural
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Builds a configuration for a live table as Spryker's back office does.
///
/// Column types map to entity types, `isRequired` comes from NOT NULL without default,
/// `maxLength` from the column size, precision and scale from decimal columns, and the primary key
/// becomes the identifier (not creatable or editable when the database generates it). Unlike
/// Spryker's back office, the other fields start creatable and editable and the entity inactive.
pub fn suggest_config(table: &TableInfo, alias: Option<&str>) -> EntityConfig {
    let identifier = table
        .primary_key
        .first()
        .cloned()
        .or_else(|| table.unique_keys.first().and_then(|k| k.first().cloned()))
        .unwrap_or_else(|| table.columns[0].name.clone());
    let fields = table
        .columns
        .iter()
        .filter(|c| c.kind != ColumnKind::Other)
        .map(|c| {
            let ty = match c.kind {
                ColumnKind::Integer => FieldType::Integer,
                ColumnKind::Decimal => FieldType::Decimal,
                ColumnKind::Float => FieldType::Float,
                ColumnKind::Boolean => FieldType::Boolean,
                ColumnKind::Date => FieldType::Date,
                ColumnKind::DateTime => FieldType::DateTime,
                ColumnKind::Json => FieldType::Json,
                ColumnKind::String | ColumnKind::Other => FieldType::String,
            };
            let generated = c.auto_increment;
            let description = if c.name == identifier {
                Some("The primary key of this table.".to_string())
            } else if table
                .foreign_keys
                .iter()
                .any(|fk| fk.columns.contains(&c.name))
            {
                Some("A foreign key to another table.".to_string())
            } else {
                None
            };
            Field {
                field_name: c.name.clone(),
                field_visible_name: c.name.clone(),
                ty,
                is_creatable: !generated,
                is_editable: !(generated || c.name == identifier),
                validation: Rules {
                    is_required: !c.nullable && c.default.is_none() && !generated,
                    max_length: if ty == FieldType::String {
                        c.max_length
                    } else {
                        None
                    },
                    precision: if ty == FieldType::Decimal {
                        c.precision
                    } else {
                        None
                    },
                    scale: if ty == FieldType::Decimal {
                        c.scale
                    } else {
                        None
                    },
                    ..Rules::default()
                },
                description,
                examples: None,
                enum_values: None,
            }
        })
        .collect::<Vec<Field>>();
    // A column called `updated_at` is the near-universal convention (Spryker's, Rails',
    // Laravel's) for the time a row last changed; delta exports find it by this key.
    let updated_at_field = fields
        .iter()
        .find(|f| f.field_name == "updated_at" && UPDATED_AT_TYPES.contains(&f.ty))
        .map(|f| f.field_name.clone());
    EntityConfig {
        table_name: table.name.clone(),
        table_alias: alias.map_or_else(|| derive_alias(&table.name), str::to_string),
        is_active: false,
        definition: Definition {
            identifier,
            is_deletable: false,
            fields,
            updated_at_field,
        },
        child_relations: Vec::new(),
    }
}

/// Validates configurations against the live schema.
///
/// `tables` holds what introspection found for every table the configurations name (a missing
/// entry means the table does not exist); `known_aliases` maps the aliases already stored (and not
/// replaced by `configs`) to their table names, so relations may point at them. Returns every
/// problem found, not just the first.
pub fn check(
    configs: &[EntityConfig],
    tables: &HashMap<String, TableInfo>,
    known_aliases: &HashMap<String, String>,
) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let mut aliases: HashMap<&str, &str> = known_aliases
        .iter()
        .map(|(a, t)| (a.as_str(), t.as_str()))
        .collect();
    let mut seen_alias = HashSet::new();
    let mut seen_table = HashSet::new();
    for c in configs {
        if !seen_alias.insert(c.table_alias.as_str()) {
            errors.push(err(c, "tableAlias", "the alias is configured twice".into()));
        }
        if !seen_table.insert(c.table_name.as_str()) {
            errors.push(err(c, "tableName", "the table is configured twice".into()));
        }
        aliases.insert(&c.table_alias, &c.table_name);
    }
    for c in configs {
        check_one(c, tables.get(&c.table_name), &mut errors);
        for (ri, r) in c.child_relations.iter().enumerate() {
            let path = format!("childRelations[{ri}]");
            let Some(child_table) = aliases.get(r.child_alias()) else {
                errors.push(err(
                    c,
                    &path,
                    format!(
                        "relation `{}`: child entity `{}` is not configured",
                        r.name,
                        r.child_alias()
                    ),
                ));
                continue;
            };
            if r.relation_field_mappings.is_empty() {
                errors.push(err(
                    c,
                    &path,
                    format!("relation `{}` has no field mappings", r.name),
                ));
            }
            for (mi, m) in r.relation_field_mappings.iter().enumerate() {
                let mpath = format!("{path}.relationFieldMappings[{mi}]");
                if let Some(t) = tables.get(&c.table_name)
                    && t.column(&m.parent_field_name).is_none()
                {
                    errors.push(err(
                        c,
                        &mpath,
                        format!(
                            "field `{}` not found in table `{}`",
                            m.parent_field_name, c.table_name
                        ),
                    ));
                }
                match tables.get(*child_table) {
                    Some(t) if t.column(&m.child_field_name).is_none() => errors.push(err(
                        c,
                        &mpath,
                        format!(
                            "field `{}` not found in table `{}`",
                            m.child_field_name, child_table
                        ),
                    )),
                    _ => {}
                }
            }
            if c.child_relations[..ri].iter().any(|o| o.name == r.name) {
                errors.push(err(
                    c,
                    &path,
                    format!("relation `{}` is defined twice", r.name),
                ));
            }
        }
    }
    errors
}

/// The text of configurations that holds a NUL character (U+0000), one error per entity.
///
/// No table, column or name has one, and the databases disagree about it (PostgreSQL refuses
/// it, SQLite cuts a name at it, so an entity of table `a\0b` would read table `a`). Checked
/// before anything is looked up in the database.
pub fn nul_errors(configs: &[EntityConfig]) -> Vec<ConfigError> {
    configs
        .iter()
        .filter_map(|c| {
            let value = serde_json::to_value(c).ok()?;
            let path = crate::json::nul_path(&value)?;
            Some(ConfigError {
                entity: c.table_alias.replace('\0', "\\u0000"),
                path,
                message: "holds a NUL character (U+0000), which no name or text of a \
                          configuration may hold"
                    .into(),
            })
        })
        .collect()
}

fn err(c: &EntityConfig, path: &str, message: String) -> ConfigError {
    ConfigError {
        entity: c.table_alias.clone(),
        path: path.to_string(),
        message,
    }
}

fn check_one(c: &EntityConfig, table: Option<&TableInfo>, errors: &mut Vec<ConfigError>) {
    if !ALIAS.is_match(&c.table_alias) {
        errors.push(err(
            c,
            "tableAlias",
            format!(
                "resource name `{}` is not valid. Allowed characters: a-z, A-Z, 0-9, _ and -",
                c.table_alias
            ),
        ));
    }
    if is_reserved_table(&c.table_name) {
        errors.push(err(
            c,
            "tableName",
            format!(
                "table `{}` belongs to dynex and cannot be exposed",
                c.table_name
            ),
        ));
        return;
    }
    let Some(table) = table else {
        errors.push(err(
            c,
            "tableName",
            format!("table `{}` does not exist in the database", c.table_name),
        ));
        return;
    };
    let def = &c.definition;
    if def.fields.is_empty() {
        errors.push(err(
            c,
            "definition.fields",
            "at least one field is required".into(),
        ));
    }
    if !def.fields.iter().any(|f| f.field_name == def.identifier) {
        errors.push(err(
            c,
            "definition.identifier",
            format!(
                "identifier `{}` is not defined in the field definitions",
                def.identifier
            ),
        ));
    }
    let mut names = HashSet::new();
    let mut visible = HashSet::new();
    for (i, f) in def.fields.iter().enumerate() {
        let path = format!("definition.fields[{i}]");
        if !names.insert(f.field_name.as_str()) {
            errors.push(err(
                c,
                &path,
                format!("field `{}` is configured twice", f.field_name),
            ));
        }
        if f.field_visible_name.is_empty() || !ALIAS.is_match(&f.field_visible_name) {
            errors.push(err(
                c,
                &format!("{path}.fieldVisibleName"),
                format!(
                    "visible name `{}` is not valid. Allowed characters: a-z, A-Z, 0-9, _ and -",
                    f.field_visible_name
                ),
            ));
        } else if !visible.insert(f.field_visible_name.as_str()) {
            errors.push(err(
                c,
                &format!("{path}.fieldVisibleName"),
                format!("visible name `{}` is used twice", f.field_visible_name),
            ));
        }
        if f.field_visible_name == "identifier" && f.field_name != def.identifier {
            errors.push(err(
                c,
                &format!("{path}.fieldVisibleName"),
                "the visible name `identifier` is reserved for the identifier field".into(),
            ));
        }
        if table.column(&f.field_name).is_none() {
            errors.push(err(
                c,
                &format!("{path}.fieldName"),
                format!(
                    "column `{}` not found in table `{}`",
                    f.field_name, c.table_name
                ),
            ));
        }
        check_rules(c, &path, f, errors);
    }
    if let Some(name) = &def.updated_at_field {
        match def.fields.iter().find(|f| &f.field_name == name) {
            None => errors.push(err(
                c,
                "definition.updatedAtField",
                format!("`{name}` is not the fieldName of a configured field"),
            )),
            Some(f) if !UPDATED_AT_TYPES.contains(&f.ty) => errors.push(err(
                c,
                "definition.updatedAtField",
                format!(
                    "field `{name}` is of type `{}`; the updated-at field must be of type \
                     string, date or datetime",
                    f.ty
                ),
            )),
            Some(_) => {}
        }
    }
}

fn check_rules(c: &EntityConfig, path: &str, f: &Field, errors: &mut Vec<ConfigError>) {
    let r = &f.validation;
    let mut not_allowed = Vec::new();
    let numeric = matches!(f.ty, FieldType::Integer | FieldType::Float);
    if !numeric {
        if r.min.is_some() {
            not_allowed.push("min");
        }
        if r.max.is_some() {
            not_allowed.push("max");
        }
    }
    if f.ty != FieldType::String {
        if r.min_length.is_some() {
            not_allowed.push("minLength");
        }
        if r.max_length.is_some() {
            not_allowed.push("maxLength");
        }
    }
    if f.ty != FieldType::Decimal {
        if r.precision.is_some() {
            not_allowed.push("precision");
        }
        if r.scale.is_some() {
            not_allowed.push("scale");
        }
    }
    let vpath = format!("{path}.validation");
    if !not_allowed.is_empty() {
        errors.push(err(
            c,
            &vpath,
            format!(
                "validation rule(s) `{}` not allowed for field type `{}`",
                not_allowed.join("`, `"),
                f.ty
            ),
        ));
    }
    if let (Some(min), Some(max)) = (r.min, r.max)
        && min > max
    {
        errors.push(err(
            c,
            &vpath,
            format!("`min` ({min}) must not be greater than `max` ({max})"),
        ));
    }
    if let (Some(min), Some(max)) = (r.min_length, r.max_length)
        && min > max
    {
        errors.push(err(
            c,
            &vpath,
            format!("`minLength` ({min}) must not be greater than `maxLength` ({max})"),
        ));
    }
    if let Some(p) = r.precision {
        if p == 0 || p > 65 {
            errors.push(err(
                c,
                &vpath,
                format!("`precision` ({p}) must be between 1 and 65"),
            ));
        }
        if let Some(s) = r.scale
            && s > p
        {
            errors.push(err(
                c,
                &vpath,
                format!("`scale` ({s}) must not be greater than `precision` ({p})"),
            ));
        }
    }
    for k in &r.constraints {
        if !KNOWN_CONSTRAINTS.contains(&k.name.as_str()) {
            errors.push(err(
                c,
                &format!("{vpath}.constraints"),
                format!(
                    "unknown constraint `{}` (known: {})",
                    k.name,
                    KNOWN_CONSTRAINTS.join(", ")
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::ColumnInfo;

    fn country_table() -> TableInfo {
        TableInfo {
            name: "spy_country".into(),
            columns: vec![
                ColumnInfo::from_declared("id_country", "INTEGER", false, None, true),
                ColumnInfo::from_declared("iso2_code", "VARCHAR(2)", false, None, false),
                ColumnInfo::from_declared("name", "VARCHAR(255)", true, None, false),
                ColumnInfo::from_declared("rate", "DECIMAL(8,2)", false, Some("0".into()), false),
            ],
            primary_key: vec!["id_country".into()],
            unique_keys: vec![vec!["iso2_code".into()]],
            foreign_keys: vec![],
        }
    }

    #[test]
    fn aliases_are_derived_like_spryker() {
        assert_eq!(derive_alias("spy_tax_rate"), "tax-rates");
        assert_eq!(derive_alias("spy_country"), "countries");
        assert_eq!(derive_alias("spy_tax_set_tax"), "tax-set-taxes");
        assert_eq!(derive_alias("pyz_product_abstract"), "product-abstracts");
        assert_eq!(derive_alias("spy_stock"), "stocks");
        assert_eq!(derive_alias("spy_glossary_key"), "glossary-keys");
    }

    #[test]
    fn suggested_config_follows_the_live_schema() {
        let c = suggest_config(&country_table(), None);
        assert_eq!(c.table_alias, "countries");
        assert_eq!(c.definition.identifier, "id_country");
        let f = &c.definition.fields;
        assert!(!f[0].is_creatable && !f[0].is_editable && !f[0].validation.is_required);
        assert!(f[1].validation.is_required);
        assert_eq!(f[1].validation.max_length, Some(2));
        assert!(!f[2].validation.is_required);
        assert_eq!(
            (f[3].ty, f[3].validation.scale),
            (FieldType::Decimal, Some(2))
        );
        assert!(
            !f[3].validation.is_required,
            "a default makes a column optional"
        );
        let tables = HashMap::from([("spy_country".to_string(), country_table())]);
        assert_eq!(check(&[c], &tables, &HashMap::new()), vec![]);
    }

    #[test]
    fn every_problem_is_reported() {
        let mut c = suggest_config(&country_table(), Some("bad alias!"));
        c.definition.identifier = "nope".into();
        c.definition.fields[1].validation.min = Some(1);
        c.definition.fields[2].field_name = "missing".into();
        c.definition.fields[1].validation.min_length = Some(3);
        let tables = HashMap::from([("spy_country".to_string(), country_table())]);
        let errors = check(&[c], &tables, &HashMap::new());
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|e| e.contains("resource name `bad alias!` is not valid")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|e| e.contains("identifier `nope`")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|e| e.contains("`min` not allowed for field type `string`")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|e| e.contains("column `missing` not found")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|e| e.contains("`minLength` (3) must not be greater")),
            "{text:?}"
        );
    }

    #[test]
    fn updated_at_fields_are_found_and_checked() {
        let mut table = country_table();
        table.columns.push(ColumnInfo::from_declared(
            "updated_at",
            "TIMESTAMP",
            true,
            None,
            false,
        ));
        let c = suggest_config(&table, None);
        assert_eq!(c.definition.updated_at_field.as_deref(), Some("updated_at"));
        let json = serde_json::to_value(&c.definition).unwrap();
        assert_eq!(json["updatedAtField"], "updated_at");
        assert!(
            serde_json::to_value(&suggest_config(&country_table(), None).definition)
                .unwrap()
                .get("updatedAtField")
                .is_none(),
            "left out when there is none"
        );
        let tables = HashMap::from([("spy_country".to_string(), table)]);
        assert_eq!(
            check(std::slice::from_ref(&c), &tables, &HashMap::new()),
            vec![]
        );

        let problem = |field: &str| {
            let mut bad = c.clone();
            bad.definition.updated_at_field = Some(field.into());
            let errors = check(&[bad], &tables, &HashMap::new());
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].path, "definition.updatedAtField");
            errors[0].message.clone()
        };
        assert!(problem("changed").contains("`changed` is not the fieldName"));
        assert!(problem("rate").contains("of type `decimal`"));
    }

    #[test]
    fn own_tables_and_missing_tables_are_refused() {
        let mut c = suggest_config(&country_table(), None);
        c.table_name = "dynex_api_key".into();
        let e = check(&[c.clone()], &HashMap::new(), &HashMap::new());
        assert!(e[0].message.contains("belongs to dynex"));
        c.table_name = "spy_nothing".into();
        let e = check(&[c], &HashMap::new(), &HashMap::new());
        assert!(e[0].message.contains("does not exist"));
    }
}
