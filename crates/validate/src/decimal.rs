//! Decimals as their column will store them: refused rather than rounded when the column would
//! change them.
//!
//! A field's `precision` and `scale` are checked with its other rules ([`crate::check_value`]).
//! Two more limits come from the storage: a `DECIMAL(p,s)` column rounds (PostgreSQL, MariaDB)
//! or overflows values beyond its own precision and scale, also when the field declares none;
//! and SQLite stores a decimal written to a numeric column as a binary double, read back with 15
//! significant digits.

use dynex_schema::{ColumnKind, Entity, Field, Value};

/// The most significant digits of a decimal with a fraction that SQLite gives back exactly.
///
/// In a numeric column SQLite stores the value as a binary double, which holds any 15 digits,
/// and reads it as text with 15 (`printf('%!.15g')`).
pub const SQLITE_DECIMAL_DIGITS: usize = 15;

/// The digits of a canonical decimal text: its sign, its integer digits without leading zeros
/// and its fraction without trailing zeros.
fn parts(text: &str) -> (bool, &str, &str) {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    (
        negative,
        int.trim_start_matches('0'),
        frac.trim_end_matches('0'),
    )
}

/// Whether SQLite turns text written to a column of this declared type into a number: its
/// `INTEGER`, `REAL` and `NUMERIC` affinities, by SQLite's rules (a type naming `CHAR`, `CLOB`
/// or `TEXT` keeps text, as does one naming `BLOB` or none).
fn sqlite_numeric_affinity(declared: &str) -> bool {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        return true;
    }
    !(t.contains("CHAR")
        || t.contains("CLOB")
        || t.contains("TEXT")
        || t.contains("BLOB")
        || t.trim().is_empty())
}

/// A checked decimal of `field` as its column stores it, or the limit it breaks, in the words of
/// a `1306` message's rules.
///
/// `doubles` says that decimals written to numeric columns are stored as binary doubles
/// (SQLite). There a whole number is written without its zero fraction, so that it is stored
/// as an integer, exact within 64 bits.
pub(crate) fn stored(
    entity: &Entity,
    field: &Field,
    text: String,
    doubles: bool,
) -> Result<Value, String> {
    let column = entity.column(&field.field_name);
    if let Some(c) = column.filter(|c| c.kind == ColumnKind::Decimal)
        && let Some(precision) = c.precision
    {
        let scale = c.scale.unwrap_or(0);
        let (_, int, frac) = parts(&text);
        if frac.len() > scale as usize || int.len() > precision.saturating_sub(scale) as usize {
            return Err(format!(
                "precision: {precision}, scale: {scale} (of the column `{}`)",
                c.name
            ));
        }
    }
    if !doubles || column.is_some_and(|c| !sqlite_numeric_affinity(&c.sql_type)) {
        return Ok(Value::Decimal(text));
    }
    let (negative, int, frac) = parts(&text);
    if frac.is_empty() {
        let whole = match (negative, int) {
            (_, "") => "0".to_string(),
            (true, int) => format!("-{int}"),
            (false, int) => int.to_string(),
        };
        // Within 64 bits SQLite stores the integer itself; beyond, a double.
        if whole.parse::<i64>().is_ok() || int.trim_end_matches('0').len() <= SQLITE_DECIMAL_DIGITS
        {
            return Ok(Value::Decimal(whole));
        }
    } else {
        let digits = format!("{int}{frac}");
        if digits.trim_start_matches('0').len() <= SQLITE_DECIMAL_DIGITS {
            return Ok(Value::Decimal(text));
        }
    }
    Err(format!(
        "at most {SQLITE_DECIMAL_DIGITS} significant digits, or a whole number within 64 bits \
         (SQLite stores decimals as binary floating point; send fewer digits or use a TEXT \
         column)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynex_schema::{ColumnInfo, EntityConfig, TableInfo};

    /// An entity with a decimal field `d` on a column of the declared type `declared`.
    fn entity(declared: &str) -> Entity {
        let json = r#"{"tableName":"t","tableAlias":"t","definition":{"identifier":"id","fields":[
            {"fieldName":"id","fieldVisibleName":"id","type":"integer"},
            {"fieldName":"d","fieldVisibleName":"d","type":"decimal"}]}}"#;
        let e = Entity::new(EntityConfig::parse_many(json).unwrap().remove(0)).unwrap();
        e.with_table(TableInfo {
            name: "t".into(),
            columns: vec![
                ColumnInfo::from_declared("id", "INTEGER", false, None, false),
                ColumnInfo::from_declared("d", declared, true, None, false),
            ],
            primary_key: vec!["id".into()],
            unique_keys: vec![],
            foreign_keys: vec![],
        })
    }

    fn on(declared: &str, text: &str, doubles: bool) -> Result<Value, String> {
        let e = entity(declared);
        stored(&e, &e.fields()[1], text.to_string(), doubles)
    }

    #[test]
    fn sqlite_keeps_what_a_double_gives_back() {
        let ok = |text: &str, stored: &str| {
            assert_eq!(
                on("NUMERIC", text, true),
                Ok(Value::Decimal(stored.into())),
                "{text}"
            );
        };
        ok("12345678901234.5", "12345678901234.5");
        ok("1.005", "1.005");
        ok("-0.000000000000001", "-0.000000000000001");
        ok("9007199254740993", "9007199254740993");
        ok("9007199254740993.000", "9007199254740993");
        ok("-9223372036854775808", "-9223372036854775808");
        ok("100000000000000000000000", "100000000000000000000000");
        ok("0.00", "0");
        for lossy in [
            "12345678901234.56",
            "0.30000000000000004",
            "9223372036854775808",
            "12345678901234567.5",
        ] {
            assert!(on("DECIMAL(30,10)", lossy, true).is_err(), "{lossy}");
            // PostgreSQL and MariaDB store them exactly; so does a SQLite text column.
            assert_eq!(
                on("NUMERIC", lossy, false),
                Ok(Value::Decimal(lossy.into()))
            );
            assert_eq!(
                on("VARCHAR(40)", lossy, true),
                Ok(Value::Decimal(lossy.into()))
            );
        }
    }

    #[test]
    fn the_column_limits_a_field_that_declares_none() {
        assert_eq!(
            on("DECIMAL(8,2)", "123456.78", false),
            Ok(Value::Decimal("123456.78".into()))
        );
        assert_eq!(
            on("DECIMAL(8,2)", "1.500", false),
            Ok(Value::Decimal("1.500".into()))
        );
        assert_eq!(
            on("DECIMAL(8,2)", "1.005", false),
            Err("precision: 8, scale: 2 (of the column `d`)".into())
        );
        assert!(on("DECIMAL(8,2)", "1234567.8", false).is_err());
        assert!(on("NUMERIC", "1.23456789", false).is_ok());
    }
}
