//! Validation of written rows against an entity's fields, types and rules.
//!
//! The API's writes and CSV import share these checks, so a row gets the same codes and
//! messages whichever way it arrives. [`split_row`] sorts a JSON object's members into fields and
//! nested relations; [`check_row`] applies the required, type, rule and immutability checks and
//! returns typed [`Value`]s ready to bind. Every problem is collected, none stops the others.

mod decimal;
mod error;

use std::sync::LazyLock;

use dynex_schema::{
    Entity, Field, FieldType, Relation, Rules, Value, canonical_decimal, plain_decimal,
};
use serde_json::{Map, Value as Json};

pub use decimal::SQLITE_DECIMAL_DIGITS;
pub use error::RowError;

/// Why a text value does not fit a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The value has the wrong type (Spryker 1305).
    #[error("invalid data type for field `{field}`: expected {expected}")]
    Type {
        /// The field's visible name.
        field: String,
        /// The expected type.
        expected: FieldType,
    },
}

/// Parses text (a path identifier, a CSV cell) as a value of `field`'s type.
///
/// Text with a NUL character is no value of any field: no row can hold it.
pub fn parse_text(field: &Field, text: &str) -> Result<Value, ValueError> {
    let typed = if text.contains('\0') {
        Err(())
    } else {
        field.ty.parse_text(text).map_err(|_| ())
    };
    typed.map_err(|()| ValueError::Type {
        field: field.field_visible_name.clone(),
        expected: field.ty,
    })
}

/// Why one JSON value does not fit its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Wrong JSON type or unparsable text (1305).
    Type,
    /// Breaks a rule: range, length, precision, enumeration (1306).
    Rule,
    /// Breaks the `url` constraint (1316).
    Url,
    /// Text holding a NUL character (U+0000), which no backend stores alike (1306).
    Nul,
}

/// The rules text of a 1306 for a value with a NUL character.
pub const NUL_RULE: &str = "text without NUL characters (U+0000)";

/// What a field of this type accepts, in words for error messages.
pub fn expected(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Integer => "a JSON integer",
        FieldType::String => "a JSON string",
        FieldType::Decimal => "a decimal number or a string such as \"12.50\"",
        FieldType::Boolean => "true or false",
        FieldType::Float => "a JSON number",
        FieldType::Date => "a date string YYYY-MM-DD",
        FieldType::DateTime => "a date and time string YYYY-MM-DD HH:MM:SS",
        FieldType::Json => "any JSON value",
    }
}

/// Spryker's relative URL check, anchored at both ends (Spryker only anchors the start).
static URL: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^(/|/[a-z0-9\-._~%!$&'()*+,;=@]+(/[a-zA-Z0-9\-._~%!$&'()*+,;=:@]+)*/?)$")
        .expect("valid URL pattern")
});

/// Checks one JSON value against a field's type and rules and converts it to a bindable value.
///
/// Types are strict as in Spryker: integers must be JSON integers and booleans JSON booleans;
/// a decimal may be a JSON number or a string of digits. Lengths count characters, not bytes.
/// `null` passes (whether it is allowed is the required check's and the database's business).
pub fn check_value(field: &Field, v: &Json) -> Result<Value, Fault> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let rules = &field.validation;
    let value = match field.ty {
        FieldType::Integer => {
            let n = v.as_i64().ok_or(Fault::Type)?;
            if rules.min.is_some_and(|m| n < m) || rules.max.is_some_and(|m| n > m) {
                return Err(Fault::Rule);
            }
            Value::Int(n)
        }
        FieldType::Float => {
            let f = v.as_f64().filter(|f| f.is_finite()).ok_or(Fault::Type)?;
            if rules.min.is_some_and(|m| f < m as f64) || rules.max.is_some_and(|m| f > m as f64) {
                return Err(Fault::Rule);
            }
            Value::Float(f)
        }
        FieldType::Boolean => Value::Bool(v.as_bool().ok_or(Fault::Type)?),
        FieldType::String => {
            let s = v.as_str().ok_or(Fault::Type)?;
            if s.contains('\0') {
                return Err(Fault::Nul);
            }
            // A text has at most as many characters as bytes: one no longer in bytes than the
            // maximum needs no count.
            let chars = || s.chars().count() as u64;
            if rules.min_length.is_some_and(|m| chars() < u64::from(m))
                || rules
                    .max_length
                    .is_some_and(|m| s.len() as u64 > u64::from(m) && chars() > u64::from(m))
            {
                return Err(Fault::Rule);
            }
            if rules.constraints.iter().any(|c| c.name == "url") && !URL.is_match(s) {
                return Err(Fault::Url);
            }
            Value::Text(s.to_string())
        }
        FieldType::Decimal => {
            let text = match v {
                Json::String(s) => canonical_decimal(s).ok_or(Fault::Type)?,
                // A number's digits, also where it is written with an exponent (`1e-10`, as
                // serde_json writes small and large doubles). The API's writes hand over the
                // digits as sent wherever the double lost some (see dynex-core).
                Json::Number(n) => plain_decimal(&n.to_string()).ok_or(Fault::Type)?,
                _ => return Err(Fault::Type),
            };
            if !fits_precision(&text, rules) {
                return Err(Fault::Rule);
            }
            Value::Decimal(text)
        }
        FieldType::Date => {
            let s = v.as_str().ok_or(Fault::Type)?;
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| Fault::Type)?;
            Value::Date(s.to_string())
        }
        FieldType::DateTime => {
            let s = v.as_str().ok_or(Fault::Type)?;
            let normal = dynex_schema::normalize_datetime(s).ok_or(Fault::Type)?;
            chrono::NaiveDateTime::parse_from_str(&normal, "%Y-%m-%d %H:%M:%S%.f")
                .map_err(|_| Fault::Type)?;
            Value::DateTime(normal)
        }
        // PostgreSQL's `jsonb` refuses `\u0000`; MariaDB and SQLite would store it.
        FieldType::Json if dynex_schema::json::has_nul(v) => return Err(Fault::Nul),
        FieldType::Json => Value::Json(v.to_string()),
    };
    if let Some(allowed) = &field.enum_values
        && !allowed.is_empty()
        && !allowed.iter().any(|a| a == v)
    {
        return Err(Fault::Rule);
    }
    Ok(value)
}

/// Integer digits (leading zeros aside) within `precision - scale`, fraction digits (trailing
/// zeros aside) within `scale`.
fn fits_precision(text: &str, rules: &Rules) -> bool {
    let body = text.trim_start_matches('-');
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let int_digits = int.trim_start_matches('0').len() as u32;
    let frac_digits = frac.trim_end_matches('0').len() as u32;
    let scale = rules.scale.unwrap_or(0);
    if rules.scale.is_some() && frac_digits > scale {
        return false;
    }
    match rules.precision {
        Some(p) => int_digits <= p.saturating_sub(scale),
        None => true,
    }
}

/// The field's rules as Spryker lists them in 1306 messages: `name: value` pairs.
pub fn rules_text(field: &Field) -> String {
    let r = &field.validation;
    let mut parts = Vec::new();
    if r.is_required {
        parts.push("is_required: true".to_string());
    }
    let mut num = |name: &str, v: Option<String>| {
        if let Some(v) = v {
            parts.push(format!("{name}: {v}"));
        }
    };
    num("min", r.min.map(|v| v.to_string()));
    num("max", r.max.map(|v| v.to_string()));
    num("min_length", r.min_length.map(|v| v.to_string()));
    num("max_length", r.max_length.map(|v| v.to_string()));
    num("precision", r.precision.map(|v| v.to_string()));
    num("scale", r.scale.map(|v| v.to_string()));
    if let Some(values) = field.enum_values.as_ref().filter(|v| !v.is_empty()) {
        let list: Vec<String> = values.iter().map(Json::to_string).collect();
        parts.push(format!("enum_values: [{}]", list.join(", ")));
    }
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(", ")
    }
}

/// A row's members, sorted into configured fields and nested relations.
#[derive(Debug)]
pub struct SplitRow<'a> {
    /// Field index and the value as sent, in payload order; each field at most once.
    pub fields: Vec<(usize, &'a Json)>,
    /// Nested rows per relation, in payload order.
    pub relations: Vec<(&'a Relation, &'a [Json])>,
}

impl SplitRow<'_> {
    /// The value sent for the field at `index`, if any.
    pub fn get(&self, index: usize) -> Option<&Json> {
        self.fields
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, v)| *v)
    }
}

/// Sorts a row's members into configured fields, configured relations and errors.
///
/// Fields are found by visible name (or `identifier` for the identifier); relations that are
/// not editable are 1314; other members are 1313 when nested and 1311 when scalar. A `json`
/// field takes any value, nested or not.
pub fn split_row<'a>(
    entity: &'a Entity,
    row: &'a Map<String, Json>,
    path: &str,
    errors: &mut Vec<RowError>,
) -> SplitRow<'a> {
    let mut split = SplitRow {
        fields: Vec::with_capacity(row.len()),
        relations: Vec::new(),
    };
    for (key, value) in row {
        if let Some(index) = entity.field_index(key) {
            // `identifier` and the identifier's visible name both sent: the same value, or a
            // row that does not say which one it means.
            if let Some((_, sent)) = split.fields.iter().find(|(i, _)| *i == index) {
                if *sent != value {
                    errors.push(RowError::IdentifierConflict {
                        path: path.to_string(),
                        field: entity.fields()[index].field_visible_name.clone(),
                    });
                }
            } else {
                split.fields.push((index, value));
            }
            continue;
        }
        if let Some(relation) = entity.relation(key) {
            if !relation.is_editable {
                errors.push(RowError::RelationNotEditable {
                    relation: key.clone(),
                });
                continue;
            }
            match value.as_array() {
                Some(items) if items.iter().all(Json::is_object) => {
                    split.relations.push((relation, items.as_slice()));
                }
                _ => errors.push(RowError::InvalidType {
                    path: path.to_string(),
                    field: key.clone(),
                    expected: "an array of objects (nested rows)",
                }),
            }
            continue;
        }
        if value.is_array() || value.is_object() {
            errors.push(RowError::UnknownRelation {
                relation: key.clone(),
            });
        } else {
            errors.push(RowError::UnknownField {
                path: path.to_string(),
                field: key.clone(),
            });
        }
    }
    split
}

/// How a row is written, which decides the required and immutability checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// A new row: `isCreatable` applies.
    Create,
    /// An existing row: `isEditable` applies.
    Update,
}

/// The checks that apply to one row.
#[derive(Debug, Clone, Copy)]
pub struct RowCheck<'a> {
    /// Whether the row is created or updated; `None` leaves the immutability check to the
    /// caller (PUT only knows once it has looked the row up).
    pub intent: Option<Intent>,
    /// Required fields must be present and non-null (create, and PUT of an existing row).
    pub require: bool,
    /// The identifier in the body names the row to update (collection PATCH and PUT) instead of
    /// changing it, so it is exempt from the immutability check.
    pub identifier_is_key: bool,
    /// Field indexes that are filled in from the parent row (nested writes): never required,
    /// never immutable.
    pub from_parent: &'a [usize],
    /// Field indexes given outside the body (the identifier of `/{alias}/{id}`): they count as
    /// present for the required check.
    pub given: &'a [usize],
    /// The database stores a decimal written to a numeric column as a binary double (SQLite):
    /// a decimal it would not give back exactly is refused (1306) instead of rounded.
    pub decimals_as_doubles: bool,
}

/// Checks a split row and returns its typed values (only those that passed), in field order.
///
/// Errors are pushed in Spryker's validator order: required (1307), then type and rules per
/// field (1305, 1306, 1316), then immutability (1304).
pub fn check_row(
    entity: &Entity,
    row: &SplitRow<'_>,
    path: &str,
    check: &RowCheck<'_>,
    errors: &mut Vec<RowError>,
) -> Vec<(usize, Value)> {
    let fields = entity.fields();
    if check.require {
        for (i, f) in fields.iter().enumerate() {
            if f.validation.is_required
                && !check.from_parent.contains(&i)
                && !check.given.contains(&i)
                && row.get(i).is_none_or(Json::is_null)
            {
                errors.push(RowError::Required {
                    path: path.to_string(),
                    field: f.field_visible_name.clone(),
                });
            }
        }
    }
    let mut values = Vec::with_capacity(row.fields.len());
    for &(i, v) in &row.fields {
        let f = &fields[i];
        match check_value(f, v) {
            Ok(Value::Decimal(text)) => {
                match decimal::stored(entity, f, text, check.decimals_as_doubles) {
                    Ok(value) => values.push((i, value)),
                    Err(limit) => {
                        let rules = match rules_text(f) {
                            own if own == "none" => limit,
                            own => format!("{own}; {limit}"),
                        };
                        errors.push(RowError::InvalidValue {
                            path: path.to_string(),
                            field: f.field_visible_name.clone(),
                            rules,
                        });
                    }
                }
            }
            Ok(value) => values.push((i, value)),
            Err(fault) => errors.push(fault_error(f, fault, path)),
        }
    }
    if let Some(intent) = check.intent {
        check_immutable(entity, row, path, intent, check, errors);
    }
    values.sort_by_key(|(i, _)| *i);
    values
}

/// The immutability check (1304): fields sent that this intent may not set.
pub fn check_immutable(
    entity: &Entity,
    row: &SplitRow<'_>,
    path: &str,
    intent: Intent,
    check: &RowCheck<'_>,
    errors: &mut Vec<RowError>,
) {
    let fields = entity.fields();
    let identifier = entity.identifier_index();
    for &(i, v) in &row.fields {
        let f = &fields[i];
        let allowed = match intent {
            // A null on create writes nothing, so it modifies nothing (Spryker drops it too).
            Intent::Create => f.is_creatable || v.is_null(),
            Intent::Update => f.is_editable || (i == identifier && check.identifier_is_key),
        };
        if !allowed && !check.from_parent.contains(&i) {
            errors.push(RowError::Immutable {
                path: path.to_string(),
                field: f.field_visible_name.clone(),
            });
        }
    }
}

/// The row error for a value fault.
pub fn fault_error(field: &Field, fault: Fault, path: &str) -> RowError {
    let name = field.field_visible_name.clone();
    match fault {
        Fault::Type => RowError::InvalidType {
            path: path.to_string(),
            field: name,
            expected: expected(field.ty),
        },
        Fault::Rule => RowError::InvalidValue {
            path: path.to_string(),
            field: name,
            rules: rules_text(field),
        },
        Fault::Url => RowError::InvalidUrl {
            path: path.to_string(),
            field: name,
        },
        Fault::Nul => RowError::InvalidValue {
            path: path.to_string(),
            field: name,
            rules: NUL_RULE.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynex_schema::EntityConfig;
    use serde_json::json;

    fn field(json: Json) -> Field {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn identifiers_are_typed() {
        let f = field(json!({"fieldName":"id","fieldVisibleName":"id","type":"integer"}));
        assert_eq!(parse_text(&f, "7"), Ok(Value::Int(7)));
        assert!(parse_text(&f, "seven").is_err());
    }

    #[test]
    fn text_with_a_nul_character_is_no_value() {
        let s = field(json!({"fieldName":"s","fieldVisibleName":"s","type":"string"}));
        assert_eq!(check_value(&s, &json!("a\u{0}b")), Err(Fault::Nul));
        assert_eq!(
            check_value(&s, &json!("a\\u0000b")),
            Ok(Value::Text("a\\u0000b".into()))
        );
        let j = field(json!({"fieldName":"j","fieldVisibleName":"j","type":"json"}));
        assert_eq!(check_value(&j, &json!({"k": ["\u{0}"]})), Err(Fault::Nul));
        assert_eq!(check_value(&j, &json!({"k\u{0}": 1})), Err(Fault::Nul));
        assert!(check_value(&j, &json!({"k": [1]})).is_ok());
        assert!(parse_text(&s, "a\u{0}").is_err());
        let d = field(json!({"fieldName":"d","fieldVisibleName":"d","type":"date"}));
        assert_eq!(check_value(&d, &json!("2024-01-01\u{0}")), Err(Fault::Type));
    }

    #[test]
    fn types_are_strict_as_in_spryker() {
        let int = field(
            json!({"fieldName":"n","fieldVisibleName":"n","type":"integer",
            "validation":{"min":0,"max":127}}),
        );
        assert_eq!(check_value(&int, &json!(5)), Ok(Value::Int(5)));
        assert_eq!(check_value(&int, &json!("5")), Err(Fault::Type));
        assert_eq!(check_value(&int, &json!(5.5)), Err(Fault::Type));
        assert_eq!(check_value(&int, &json!(128)), Err(Fault::Rule));
        assert_eq!(check_value(&int, &Json::Null), Ok(Value::Null));
        let b = field(json!({"fieldName":"b","fieldVisibleName":"b","type":"boolean"}));
        assert_eq!(check_value(&b, &json!(1)), Err(Fault::Type));
        assert_eq!(check_value(&b, &json!(true)), Ok(Value::Bool(true)));
    }

    #[test]
    fn lengths_count_characters() {
        let s = field(
            json!({"fieldName":"s","fieldVisibleName":"s","type":"string",
            "validation":{"minLength":2,"maxLength":3}}),
        );
        assert_eq!(
            check_value(&s, &json!("äöü")),
            Ok(Value::Text("äöü".into()))
        );
        assert_eq!(check_value(&s, &json!("äöüß")), Err(Fault::Rule));
        assert_eq!(check_value(&s, &json!("a")), Err(Fault::Rule));
        // Two bytes, one character: too short although long enough in bytes.
        assert_eq!(check_value(&s, &json!("ä")), Err(Fault::Rule));
        assert_eq!(
            check_value(&s, &json!("abc")),
            Ok(Value::Text("abc".into()))
        );
    }

    #[test]
    fn decimals_respect_precision_and_scale() {
        let d = field(
            json!({"fieldName":"d","fieldVisibleName":"d","type":"decimal",
            "validation":{"precision":5,"scale":2}}),
        );
        assert_eq!(
            check_value(&d, &json!("123.45")),
            Ok(Value::Decimal("123.45".into()))
        );
        assert_eq!(
            check_value(&d, &json!(12.5)),
            Ok(Value::Decimal("12.5".into()))
        );
        assert_eq!(
            check_value(&d, &json!("0123.450")),
            Ok(Value::Decimal("0123.450".into()))
        );
        assert_eq!(check_value(&d, &json!("1234.5")), Err(Fault::Rule));
        assert_eq!(check_value(&d, &json!("1.234")), Err(Fault::Rule));
        assert_eq!(check_value(&d, &json!("1e3")), Err(Fault::Type));
        assert_eq!(check_value(&d, &json!(true)), Err(Fault::Type));
        assert_eq!(rules_text(&d), "precision: 5, scale: 2");
    }

    #[test]
    fn urls_enums_and_dates() {
        let u = field(
            json!({"fieldName":"u","fieldVisibleName":"u","type":"string",
            "validation":{"constraints":[{"name":"url"}]}}),
        );
        assert!(check_value(&u, &json!("/en/shoes")).is_ok());
        assert!(check_value(&u, &json!("/")).is_ok());
        assert_eq!(check_value(&u, &json!("https://x.test/")), Err(Fault::Url));
        assert_eq!(check_value(&u, &json!("/en/a b")), Err(Fault::Url));
        let e = field(
            json!({"fieldName":"e","fieldVisibleName":"e","type":"string",
            "enumValues":["EUR","CHF"]}),
        );
        assert!(check_value(&e, &json!("EUR")).is_ok());
        assert_eq!(check_value(&e, &json!("USD")), Err(Fault::Rule));
        let d = field(json!({"fieldName":"d","fieldVisibleName":"d","type":"date"}));
        assert_eq!(check_value(&d, &json!("2024-02-30")), Err(Fault::Type));
        let t = field(json!({"fieldName":"t","fieldVisibleName":"t","type":"datetime"}));
        assert_eq!(
            check_value(&t, &json!("2024-02-03T04:05:06Z")),
            Ok(Value::DateTime("2024-02-03 04:05:06".into()))
        );
        assert_eq!(
            check_value(&t, &json!("2024-02-03 25:00:00")),
            Err(Fault::Type)
        );
    }

    fn countries() -> Entity {
        let json = json!({"tableName":"spy_country","tableAlias":"countries","isActive":true,
            "definition":{"identifier":"id_country","fields":[
              {"fieldName":"id_country","fieldVisibleName":"id_country","type":"integer",
               "isCreatable":false,"isEditable":false},
              {"fieldName":"iso2_code","fieldVisibleName":"iso2_code","type":"string",
               "isCreatable":true,"isEditable":true,"validation":{"isRequired":true,"maxLength":2}},
              {"fieldName":"name","fieldVisibleName":"name","type":"string",
               "isCreatable":true,"isEditable":false}]},
            "childRelations":[
              {"name":"rates","isEditable":true,"childDynamicEntityConfiguration":{"tableAlias":"tax-rates"},
               "relationFieldMappings":[{"childFieldName":"fk_country","parentFieldName":"id_country"}]},
              {"name":"frozen","isEditable":false,"childDynamicEntityConfiguration":{"tableAlias":"tax-rates"},
               "relationFieldMappings":[{"childFieldName":"fk_country","parentFieldName":"id_country"}]}]});
        Entity::new(serde_json::from_value::<EntityConfig>(json).unwrap()).unwrap()
    }

    #[test]
    fn rows_collect_every_error_in_order() {
        let e = countries();
        let row = json!({"id_country": 3, "iso2_code": 7, "bogus": 1, "nested": [{}],
            "frozen": [], "rates": [{"rate": "1"}]});
        let mut errors = Vec::new();
        let split = split_row(&e, row.as_object().unwrap(), "countries[0]", &mut errors);
        assert_eq!(split.relations.len(), 1);
        let check = RowCheck {
            intent: Some(Intent::Create),
            require: true,
            identifier_is_key: false,
            from_parent: &[],
            given: &[],
            decimals_as_doubles: false,
        };
        let values = check_row(&e, &split, "countries[0]", &check, &mut errors);
        assert_eq!(values, vec![(0, Value::Int(3))]);
        let codes: Vec<&str> = errors.iter().map(|e| e.code().as_str()).collect();
        assert_eq!(codes, ["1311", "1313", "1314", "1305", "1304"]);
        assert_eq!(
            errors[4].to_string(),
            "Modification of immutable field `countries[0].id_country` is prohibited."
        );
    }

    #[test]
    fn identifier_and_its_visible_name_must_agree() {
        let e = countries();
        let split = |row: Json| {
            let mut errors = Vec::new();
            let s = split_row(&e, row.as_object().unwrap(), "countries[0]", &mut errors);
            (
                s.fields.len(),
                errors.iter().map(|e| e.code().as_str()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            split(json!({"identifier": 3, "id_country": 3})),
            (1, vec![])
        );
        assert_eq!(
            split(json!({"identifier": 3, "id_country": 4})),
            (1, vec!["1330"])
        );
        assert_eq!(
            split(json!({"id_country": 4, "identifier": null})),
            (1, vec!["1330"])
        );
    }

    #[test]
    fn updates_check_editability_and_the_identifier_key() {
        let e = countries();
        let row = json!({"identifier": 3, "name": "X"});
        let mut errors = Vec::new();
        let split = split_row(&e, row.as_object().unwrap(), "countries[0]", &mut errors);
        let check = RowCheck {
            intent: Some(Intent::Update),
            require: false,
            identifier_is_key: true,
            from_parent: &[],
            given: &[],
            decimals_as_doubles: false,
        };
        check_row(&e, &split, "countries[0]", &check, &mut errors);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].code(), "1304");
        assert!(errors[0].to_string().contains("countries[0].name"));
    }
}
