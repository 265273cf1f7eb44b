//! Entity configuration in Spryker's shape, and the resolved, indexed form served at run time.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};

use crate::table::{ColumnInfo, TableInfo};

/// The type of a configured field.
///
/// Spryker's four types plus dynex's extensions; `int` is read as `integer` because Spryker's
/// own sample configurations use it. Any other name is a configuration error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum FieldType {
    /// A JSON integer (64-bit).
    Integer,
    /// A JSON string.
    String,
    /// A decimal, rendered as a string with its scale (`"20.00"`).
    Decimal,
    /// A JSON boolean.
    Boolean,
    /// A JSON number (extension).
    Float,
    /// A date `YYYY-MM-DD` (extension).
    Date,
    /// A date and time `YYYY-MM-DD HH:MM:SS` (extension).
    DateTime,
    /// Any JSON value, stored as JSON text (extension).
    Json,
}

impl FieldType {
    /// The name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Integer => "integer",
            FieldType::String => "string",
            FieldType::Decimal => "decimal",
            FieldType::Boolean => "boolean",
            FieldType::Float => "float",
            FieldType::Date => "date",
            FieldType::DateTime => "datetime",
            FieldType::Json => "json",
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for FieldType {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Ok(match s.as_str() {
            "integer" | "int" => FieldType::Integer,
            "string" => FieldType::String,
            "decimal" => FieldType::Decimal,
            "boolean" | "bool" => FieldType::Boolean,
            "float" => FieldType::Float,
            "date" => FieldType::Date,
            "datetime" => FieldType::DateTime,
            "json" => FieldType::Json,
            other => {
                return Err(format!(
                    "unsupported field type `{other}` (expected one of integer, string, decimal, \
                     boolean, float, date, datetime, json)"
                ));
            }
        })
    }
}

impl From<FieldType> for String {
    fn from(t: FieldType) -> String {
        t.as_str().to_string()
    }
}

/// A named constraint on a field's value, e.g. `{"name": "url"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    /// The constraint's name; `url` is the one Spryker ships.
    pub name: String,
}

/// Validation rules of a field (Spryker's `validation` object).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rules {
    /// The field must be present and non-null on create and upsert.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub is_required: bool,
    /// Inclusive minimum (integer and float fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    /// Inclusive maximum (integer and float fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    /// Minimum length in characters (string fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    /// Maximum length in characters (string fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// Total number of digits (decimal fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<u32>,
    /// Digits after the decimal point (decimal fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<u32>,
    /// Named constraints such as `url`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
}

/// One exposed column (Spryker's field definition).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    /// The physical column.
    pub field_name: String,
    /// The name used in API payloads, responses and filters.
    pub field_visible_name: String,
    /// The value type.
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// May be supplied on create.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub is_creatable: bool,
    /// May be supplied on update.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub is_editable: bool,
    /// Validation rules.
    #[serde(default)]
    pub validation: Rules,
    /// Documentation shown in the API description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Example values, comma-separated (an array in the file is joined, as Spryker does).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "examples"
    )]
    pub examples: Option<String>,
    /// The allowed values, when the field is an enumeration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enum_values: Option<Vec<serde_json::Value>>,
}

/// Spryker's `definition` JSON: identifier, deletability and fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Definition {
    /// The column that identifies a row in `/{alias}/{id}` (a `fieldName`).
    pub identifier: String,
    /// Whether DELETE is allowed; anything but `true` means no.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub is_deletable: bool,
    /// Exposed columns; columns not listed are inaccessible.
    #[serde(default)]
    pub fields: Vec<Field>,
    /// The field (a `fieldName`) that holds when a row last changed, so that exports can take
    /// only the rows changed since a time (a dynex extension, `updatedAtField`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at_field: Option<String>,
}

/// Maps a child column to the parent column it references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldMapping {
    /// The foreign key column in the child table.
    pub child_field_name: String,
    /// The referenced column in the parent table.
    pub parent_field_name: String,
}

/// The child side of a relation in the installer format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelationTarget {
    /// Alias of the child entity.
    pub table_alias: String,
}

/// A parent→child relation (Spryker's `childRelations` entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Relation {
    /// Name used in `include=` and as the nested payload key.
    pub name: String,
    /// `false` limits the relation to reads.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub is_editable: bool,
    /// The child entity.
    pub child_dynamic_entity_configuration: RelationTarget,
    /// Column mappings; all of them are used (Spryker uses only the first).
    #[serde(default)]
    pub relation_field_mappings: Vec<FieldMapping>,
}

impl Relation {
    /// Alias of the child entity.
    pub fn child_alias(&self) -> &str {
        &self.child_dynamic_entity_configuration.table_alias
    }

    /// The indexes of `child`'s fields that the mappings fill in from the parent row.
    pub fn fields_from_parent(&self, child: &Entity) -> Vec<usize> {
        child
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                self.relation_field_mappings
                    .iter()
                    .any(|m| m.child_field_name == f.field_name)
            })
            .map(|(i, _)| i)
            .collect()
    }
}

fn yes() -> bool {
    true
}

/// One entry of a Spryker installer `configuration.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityConfig {
    /// The physical table.
    pub table_name: String,
    /// The alias used in URLs.
    pub table_alias: String,
    /// Inactive entities are not served.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub is_active: bool,
    /// Identifier, deletability and fields.
    pub definition: Definition,
    /// Relations to child entities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub child_relations: Vec<Relation>,
}

impl EntityConfig {
    /// Parses an installer `configuration.json` (an array of entries) or a single entry.
    ///
    /// An object that names a member twice is refused rather than read as its last value.
    pub fn parse_many(json: &str) -> Result<Vec<EntityConfig>, serde_json::Error> {
        let value = crate::json::from_slice(json.as_bytes()).map_err(|e| match e {
            crate::json::StrictJsonError::Syntax(e) => e,
            duplicate => serde::de::Error::custom(duplicate),
        })?;
        if value.is_array() {
            serde_json::from_value(value)
        } else {
            Ok(vec![serde_json::from_value(value)?])
        }
    }
}

/// Accepts `true`/`false`, `0`/`1`, `"true"`/`"false"`/`"1"`/`"0"` and `null` (false).
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    match &v {
        serde_json::Value::Null => Ok(false),
        serde_json::Value::Bool(b) => Ok(*b),
        serde_json::Value::Number(n) if n.as_i64() == Some(0) => Ok(false),
        serde_json::Value::Number(n) if n.as_i64() == Some(1) => Ok(true),
        serde_json::Value::String(s) if s == "true" || s == "1" => Ok(true),
        serde_json::Value::String(s) if s == "false" || s == "0" || s.is_empty() => Ok(false),
        _ => Err(serde::de::Error::custom(format!(
            "expected a boolean, found {v}"
        ))),
    }
}

fn examples<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Array(items)) => Some(
            items
                .iter()
                .map(|i| match i {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
        ),
        Some(other) => Some(other.to_string()),
    })
}

/// An entity resolved for serving: its configuration plus lookup indexes.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// The configuration as stored.
    pub config: EntityConfig,
    identifier: usize,
    /// Every row of a write looks up each of its keys here, so the hasher is a fast one.
    by_visible: HashMap<String, usize, foldhash::fast::RandomState>,
    table: Option<TableInfo>,
}

/// A configuration whose identifier is not one of its fields, so it cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("identifier `{0}` is not one of the configured fields")]
pub struct UnknownIdentifier(pub String);

impl Entity {
    /// Indexes a configuration; fails when the identifier is not one of the fields.
    pub fn new(config: EntityConfig) -> Result<Entity, UnknownIdentifier> {
        let identifier = config
            .definition
            .fields
            .iter()
            .position(|f| f.field_name == config.definition.identifier)
            .ok_or_else(|| UnknownIdentifier(config.definition.identifier.clone()))?;
        let by_visible = config
            .definition
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.field_visible_name.clone(), i))
            .collect();
        Ok(Entity {
            config,
            identifier,
            by_visible,
            table: None,
        })
    }

    /// Attaches what introspection found about the live table; writes use its column types.
    pub fn with_table(mut self, table: TableInfo) -> Entity {
        self.table = Some(table);
        self
    }

    /// The live table as introspected, when it was attached.
    pub fn table_info(&self) -> Option<&TableInfo> {
        self.table.as_ref()
    }

    /// The live column called `name`, when the table was introspected.
    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.table.as_ref().and_then(|t| t.column(name))
    }

    /// The alias used in URLs.
    pub fn alias(&self) -> &str {
        &self.config.table_alias
    }

    /// The physical table.
    pub fn table(&self) -> &str {
        &self.config.table_name
    }

    /// Configured fields in configuration order.
    pub fn fields(&self) -> &[Field] {
        &self.config.definition.fields
    }

    /// Index of the identifier field in [`Self::fields`].
    pub fn identifier_index(&self) -> usize {
        self.identifier
    }

    /// The identifier field.
    pub fn identifier(&self) -> &Field {
        &self.config.definition.fields[self.identifier]
    }

    /// Index of the field with this visible name; the literal `identifier` names the identifier.
    pub fn field_index(&self, visible_name: &str) -> Option<usize> {
        self.by_visible
            .get(visible_name)
            .copied()
            .or_else(|| (visible_name == "identifier").then_some(self.identifier))
    }

    /// Index of the field named by `updatedAtField`, when the definition has one.
    pub fn updated_at_index(&self) -> Option<usize> {
        let name = self.config.definition.updated_at_field.as_deref()?;
        self.fields().iter().position(|f| f.field_name == name)
    }

    /// The relation called `name`.
    pub fn relation(&self, name: &str) -> Option<&Relation> {
        self.config.child_relations.iter().find(|r| r.name == name)
    }
}

/// All active entities by alias: the snapshot a server serves from.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    entities: HashMap<String, Arc<Entity>>,
}

impl Catalog {
    /// Builds a catalog from active, already validated configurations.
    pub fn new(entities: impl IntoIterator<Item = Entity>) -> Catalog {
        Catalog {
            entities: entities
                .into_iter()
                .map(|e| (e.alias().to_string(), Arc::new(e)))
                .collect(),
        }
    }

    /// The entity served under `alias`.
    pub fn entity(&self, alias: &str) -> Option<&Arc<Entity>> {
        self.entities.get(alias)
    }

    /// All entities, sorted by alias.
    pub fn entities(&self) -> Vec<&Arc<Entity>> {
        let mut all: Vec<_> = self.entities.values().collect();
        all.sort_by(|a, b| a.alias().cmp(b.alias()));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spryker_installer_format_reads_unchanged() {
        let json = r#"[{"tableName":"spy_country","tableAlias":"countries","isActive":true,
            "definition":{"identifier":"id_country","isDeletable":null,"fields":[
              {"fieldName":"id_country","fieldVisibleName":"id_country","isEditable":false,"isCreatable":false,"type":"int","validation":{"isRequired":false}},
              {"fieldName":"iso2_code","fieldVisibleName":"iso2_code","type":"string","isEditable":true,"isCreatable":true,"isEnabled":true,
               "examples":["AT","DE"],"validation":{"isRequired":true,"maxLength":2,"minLength":2}}]},
            "childRelations":[{"name":"countryTaxRates","isEditable":true,"childDynamicEntityConfiguration":{"tableAlias":"tax-rates"},
               "relationFieldMappings":[{"childFieldName":"fk_country","parentFieldName":"id_country"}]}]}]"#;
        let configs = EntityConfig::parse_many(json).unwrap();
        let c = &configs[0];
        assert_eq!(c.definition.fields[0].ty, FieldType::Integer);
        assert!(!c.definition.is_deletable);
        assert_eq!(c.definition.fields[1].examples.as_deref(), Some("AT,DE"));
        assert_eq!(c.child_relations[0].child_alias(), "tax-rates");
        let e = Entity::new(c.clone()).unwrap();
        assert_eq!(e.field_index("identifier"), Some(0));
        assert_eq!(e.field_index("iso2_code"), Some(1));
    }

    #[test]
    fn unknown_types_are_refused() {
        let err = serde_json::from_str::<Field>(
            r#"{"fieldName":"a","fieldVisibleName":"a","type":"money"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unsupported field type `money`"));
    }
}
