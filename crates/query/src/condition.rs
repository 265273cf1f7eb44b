//! Rendering [`Condition`]s to SQL per dialect: comparisons, lists, patterns, `or` groups,
//! relation filters, the rows after a keyset position, and lists of keys (children to load,
//! rows to delete).

use dynex_schema::{Entity, Value};

use crate::ast::{Comparison, Condition, PatternPart, Related};
use crate::cast::{
    array_literal, array_type, compare_value, exact_column, exact_text, exact_value, field_lhs,
    field_rhs, sort_expr,
};
use crate::sort::{Keyset, Sort, nullable};
use crate::sql::{Dialect, Sql};

pub(crate) fn condition(sql: &mut Sql, dialect: Dialect, entity: &Entity, c: &Condition) {
    condition_at(sql, dialect, entity, c, 0);
}

/// The name the table of the entity at `depth` goes by: the table itself at the top, an alias
/// in the subqueries of relation filters (`dynex_r1`, `dynex_r2`…).
fn scope(sql: &mut Sql, entity: &Entity, depth: usize) {
    if depth == 0 {
        sql.ident(entity.table());
    } else {
        sql.ident(&format!("dynex_r{depth}"));
    }
}

/// A condition on `entity`, whose table is in scope as [`scope`] names it at `depth`.
fn condition_at(sql: &mut Sql, dialect: Dialect, entity: &Entity, c: &Condition, depth: usize) {
    let (index, values, single) = match c {
        Condition::Eq(i, v) => (*i, std::slice::from_ref(v), true),
        Condition::In(i, vs) => (*i, vs.as_slice(), false),
        Condition::After(keyset) => {
            keyset_after(sql, dialect, entity, keyset);
            return;
        }
        Condition::AtLeast(i, v) => {
            sql.push("(");
            sort_expr(sql, dialect, entity, *i);
            sql.push(" >= ");
            compare_value(sql, dialect, entity, *i, v);
            sql.push(")");
            return;
        }
        Condition::NotIn(i, vs) => {
            not_in(sql, dialect, entity, *i, vs);
            return;
        }
        Condition::Compare(i, op, v) => {
            let field = &entity.fields()[*i];
            sql.push("(");
            if *op == Comparison::Ne && exact_text(dialect, entity, *i) {
                // No index serves `<>`: the exact comparison alone.
                exact_column(sql, &field.field_name);
                sql.push(" <> ");
                exact_value(sql, v);
            } else {
                field_lhs(sql, dialect, field.ty, &field.field_name);
                sql.push(" ").push(op.sql()).push(" ");
                field_rhs(sql, dialect, v);
            }
            sql.push(")");
            return;
        }
        Condition::Like {
            field,
            pattern,
            case_insensitive,
        } => {
            like(sql, dialect, entity, *field, pattern, *case_insensitive);
            return;
        }
        Condition::IsNull(i, null) => {
            sql.push("(")
                .ident(&entity.fields()[*i].field_name)
                .push(if *null { " IS NULL)" } else { " IS NOT NULL)" });
            return;
        }
        Condition::Any(groups) => {
            sql.push("(");
            for (g, group) in groups.iter().enumerate() {
                if g > 0 {
                    sql.push(" OR ");
                }
                sql.push("(");
                for (i, c) in group.iter().enumerate() {
                    if i > 0 {
                        sql.push(" AND ");
                    }
                    condition_at(sql, dialect, entity, c, depth);
                }
                if group.is_empty() {
                    sql.push("1 = 1");
                }
                sql.push(")");
            }
            if groups.is_empty() {
                sql.push("1 = 0");
            }
            sql.push(")");
            return;
        }
        Condition::Related(related) => {
            related_exists(sql, dialect, entity, related, depth);
            return;
        }
    };
    let field = &entity.fields()[index];
    let non_null: Vec<&Value> = values.iter().filter(|v| **v != Value::Null).collect();
    let has_null = non_null.len() < values.len();
    sql.push("(");
    if non_null.is_empty() && !has_null {
        sql.push("1 = 0");
    }
    if !non_null.is_empty() {
        let exact = exact_text(dialect, entity, index);
        if exact {
            sql.push("(");
        }
        field_lhs(sql, dialect, field.ty, &field.field_name);
        if single {
            sql.push(" = ");
            field_rhs(sql, dialect, non_null[0]);
        } else if dialect == Dialect::Postgres {
            in_array(sql, &non_null);
        } else {
            let (start, separator, end) = in_list(dialect);
            sql.push(start);
            for (i, v) in non_null.iter().enumerate() {
                if i > 0 {
                    sql.push(separator);
                }
                field_rhs(sql, dialect, v);
            }
            sql.push(end);
        }
        if exact {
            // The collation's comparison finds the candidates (in an index, if there is one);
            // this one keeps those equal byte for byte.
            sql.push(" AND ");
            exact_column(sql, &field.field_name);
            sql.push(if single { " = " } else { " IN (" });
            for (i, v) in non_null.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                exact_value(sql, v);
            }
            sql.push(if single { ")" } else { "))" });
        }
    }
    if has_null {
        if !non_null.is_empty() {
            sql.push(" OR ");
        }
        sql.ident(&field.field_name).push(" IS NULL");
    }
    sql.push(")");
}

/// ` IN (SELECT unnest(CAST(? AS type[])))` of the non-null `values` (PostgreSQL), all in one
/// array parameter so that the statement text is the same for any number of values.
///
/// `= ANY(CAST(? AS type[]))` said the same, but PostgreSQL does not fold that cast into a
/// constant (text to array is a stable conversion), so a scan read the array again for every
/// row and compared the row with each element: a 1000-value list on an unindexed column of
/// 100,000 rows took 5 to 13 seconds. `IN` of a subquery reads the array once and hashes it
/// (a hash semi-join, or a hashed subplan under `NOT`), or looks each value up in an index.
fn in_array(sql: &mut Sql, values: &[&Value]) {
    sql.push(" IN (SELECT unnest(CAST(")
        .bind(Value::Text(array_literal(values.iter().copied())))
        .push(" AS ")
        .push(array_type(values[0]))
        .push("[])))");
}

/// `EXISTS` a child row of the relation, joined on its key columns, matching the conditions.
///
/// The child table is aliased (`dynex_r1`…) so that a relation of an entity to its own table
/// still tells the child's columns from the parent's; the child's conditions name its columns
/// unqualified, which SQL resolves to the innermost table.
fn related_exists(
    sql: &mut Sql,
    dialect: Dialect,
    entity: &Entity,
    related: &Related,
    depth: usize,
) {
    let Some(relation) = entity.relation(&related.relation) else {
        sql.push("(1 = 0)");
        return;
    };
    let inner = depth + 1;
    let alias = format!("dynex_r{inner}");
    sql.push("EXISTS (SELECT 1 FROM ")
        .ident(related.child.table())
        .push(" AS ")
        .ident(&alias)
        .push(" WHERE ");
    for (i, m) in relation.relation_field_mappings.iter().enumerate() {
        if i > 0 {
            sql.push(" AND ");
        }
        sql.ident(&alias)
            .push(".")
            .ident(&m.child_field_name)
            .push(" = ");
        scope(sql, entity, depth);
        sql.push(".").ident(&m.parent_field_name);
    }
    for c in &related.conditions {
        sql.push(" AND ");
        condition_at(sql, dialect, &related.child, c, inner);
    }
    sql.push(")");
}

/// `field NOT IN (values)`: `NULL` never matches (a `NULL` among the values changes nothing).
fn not_in(sql: &mut Sql, dialect: Dialect, entity: &Entity, index: usize, values: &[Value]) {
    let field = &entity.fields()[index];
    let non_null: Vec<&Value> = values.iter().filter(|v| **v != Value::Null).collect();
    sql.push("(");
    if non_null.is_empty() {
        if values.is_empty() {
            sql.push("1 = 1");
        } else {
            sql.ident(&field.field_name).push(" IS NOT NULL");
        }
    } else if dialect == Dialect::Postgres {
        // `NOT IN` of the subquery: never true for NULL, like `nin`.
        sql.push("NOT (");
        field_lhs(sql, dialect, field.ty, &field.field_name);
        in_array(sql, &non_null);
        sql.push(")");
    } else if exact_text(dialect, entity, index) {
        exact_column(sql, &field.field_name);
        sql.push(" NOT IN (");
        for (i, v) in non_null.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            exact_value(sql, v);
        }
        sql.push(")");
    } else {
        field_lhs(sql, dialect, field.ty, &field.field_name);
        sql.push(" NOT IN (");
        for (i, v) in non_null.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            field_rhs(sql, dialect, v);
        }
        sql.push(")");
    }
    sql.push(")");
}

/// `like` and `ilike`: case-sensitive `LIKE` on every backend (SQLite's `LIKE` ignores the
/// case of ASCII letters, so a `GLOB` there; MariaDB compares in a binary collation), and
/// `ilike` ignoring case (SQLite folds ASCII letters only).
///
/// The pattern is rewritten with `!` as the escape character: backslashes mean different
/// things in the string literals of each backend, `!` in none.
fn like(
    sql: &mut Sql,
    dialect: Dialect,
    entity: &Entity,
    index: usize,
    pattern: &[PatternPart],
    case_insensitive: bool,
) {
    let col = &entity.fields()[index].field_name;
    sql.push("(");
    match (dialect, case_insensitive) {
        (Dialect::Sqlite, false) => {
            sql.ident(col)
                .push(" GLOB ")
                .bind(Value::Text(glob(pattern)));
        }
        (Dialect::Sqlite, true) => {
            sql.ident(col).push(" LIKE ");
            sql.bind(Value::Text(escaped_like(pattern)))
                .push(" ESCAPE '!'");
        }
        (Dialect::Postgres, ci) => {
            sql.push("CAST(").ident(col).push(if ci {
                " AS TEXT) ILIKE "
            } else {
                " AS TEXT) LIKE "
            });
            sql.bind(Value::Text(escaped_like(pattern)))
                .push(" ESCAPE '!'");
        }
        (Dialect::Mysql, ci) => {
            sql.push("CONVERT(").ident(col).push(if ci {
                " USING utf8mb4) COLLATE utf8mb4_unicode_ci LIKE "
            } else {
                " USING utf8mb4) COLLATE utf8mb4_bin LIKE "
            });
            sql.bind(Value::Text(escaped_like(pattern)))
                .push(" ESCAPE '!'");
        }
    }
    sql.push(")");
}

/// A pattern as `LIKE … ESCAPE '!'` text.
fn escaped_like(pattern: &[PatternPart]) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    for p in pattern {
        match *p {
            PatternPart::AnyRun => out.push('%'),
            PatternPart::AnyOne => out.push('_'),
            PatternPart::Literal(c @ ('%' | '_' | '!')) => {
                out.push('!');
                out.push(c);
            }
            PatternPart::Literal(c) => out.push(c),
        }
    }
    out
}

/// A pattern as SQLite `GLOB` text: `*` and `?` for the wildcards, brackets around literal
/// `*`, `?` and `[`.
fn glob(pattern: &[PatternPart]) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    for p in pattern {
        match *p {
            PatternPart::AnyRun => out.push('*'),
            PatternPart::AnyOne => out.push('?'),
            PatternPart::Literal(c @ ('*' | '?' | '[')) => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            PatternPart::Literal(c) => out.push(c),
        }
    }
    out
}

/// The start, separator and end of `column IN (values)`. SQLite gets the values as a `VALUES`
/// list: an `IN` list of parameters on an indexed column makes SQLite (with STAT4 statistics)
/// prepare the statement again for every new set of values, which costs more than the lookup
/// itself; the two forms compare with the same affinity.
fn in_list(dialect: Dialect) -> (&'static str, &'static str, &'static str) {
    if dialect == Dialect::Sqlite {
        (" IN (VALUES (", "), (", "))")
    } else {
        (" IN (", ", ", ")")
    }
}

/// `column IN (…)` (or `(a, b) IN ((…), …)`) of the key tuples; on PostgreSQL a single column
/// takes one array parameter, so the statement text is the same for any number of keys.
pub(crate) fn key_condition(
    sql: &mut Sql,
    dialect: Dialect,
    columns: &[String],
    tuples: &[Vec<Value>],
) {
    if tuples.is_empty() {
        sql.push("1 = 0");
        return;
    }
    if columns.len() == 1 && dialect == Dialect::Postgres {
        // As a filter's `in` ([`in_array`]): a key column without an index (a child's foreign
        // key) costs one pass over the table, not one per key.
        let values = || tuples.iter().map(|t| &t[0]);
        let element = values()
            .find(|v| **v != Value::Null)
            .map_or("TEXT", array_type);
        sql.ident(&columns[0])
            .push(" IN (SELECT unnest(CAST(")
            .bind(Value::Text(array_literal(values())))
            .push(" AS ")
            .push(element)
            .push("[])))");
        return;
    }
    if columns.len() == 1 {
        let (start, separator, end) = in_list(dialect);
        sql.ident(&columns[0]).push(start);
        for (i, t) in tuples.iter().enumerate() {
            if i > 0 {
                sql.push(separator);
            }
            sql.bind(t[0].clone());
        }
        sql.push(end);
    } else {
        sql.push("(");
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.ident(c);
        }
        sql.push(") IN (");
        for (i, t) in tuples.iter().enumerate() {
            sql.push(if i > 0 { ", (" } else { "(" });
            for (j, v) in t.iter().enumerate() {
                if j > 0 {
                    sql.push(", ");
                }
                sql.bind(v.clone());
            }
            sql.push(")");
        }
        sql.push(")");
    }
}

/// The rows after a position: `(k1 after v1) OR (k1 = v1 AND k2 after v2) OR …`, behind a
/// bound on the first key (`k1 >= v1 AND (…)`).
///
/// Row-value comparisons (`(a, b) > (?, ?)`) would be shorter, but they cannot mix directions
/// and treat `NULL` as unknown; the chain handles both the same way on every backend. No
/// backend turns the chain's `OR` into a range of an index, so without the bound, which says
/// the same as the chain's first key, the database reads the index from its start up to the
/// position: a deep page cost as much as an `OFFSET`.
fn keyset_after(sql: &mut Sql, dialect: Dialect, entity: &Entity, keyset: &Keyset) {
    let n = keyset.keys.len().min(keyset.values.len());
    let bounded = n > 1 && keyset.values[0] != Value::Null;
    if bounded {
        let key = keyset.keys[0];
        let value = &keyset.values[0];
        sql.push("(");
        let nulls_after = key.descending && nullable(entity, key.field);
        if nulls_after {
            sql.push("(");
        }
        sort_expr(sql, dialect, entity, key.field);
        sql.push(if key.descending { " <= " } else { " >= " });
        cursor_value(sql, dialect, entity, key.field, value);
        if nulls_after {
            sql.push(" OR ");
            sort_expr(sql, dialect, entity, key.field);
            sql.push(" IS NULL)");
        }
        sql.push(" AND ");
    }
    keyset_chain(sql, dialect, entity, keyset, n);
    if bounded {
        sql.push(")");
    }
}

/// The chain of [`keyset_after`] over the first `n` keys.
fn keyset_chain(sql: &mut Sql, dialect: Dialect, entity: &Entity, keyset: &Keyset, n: usize) {
    let mut terms = 0;
    sql.push("(");
    for i in 0..n {
        let key = keyset.keys[i];
        let value = &keyset.values[i];
        if *value == Value::Null && key.descending {
            continue;
        }
        if terms > 0 {
            sql.push(" OR ");
        }
        terms += 1;
        if i > 0 {
            sql.push("(");
        }
        for j in 0..i {
            key_equals(
                sql,
                dialect,
                entity,
                keyset.keys[j].field,
                &keyset.values[j],
            );
            sql.push(" AND ");
        }
        key_after(sql, dialect, entity, key, value);
        if i > 0 {
            sql.push(")");
        }
    }
    if terms == 0 {
        sql.push("1 = 0");
    }
    sql.push(")");
}

/// A keyset's `value` of field `index`, bound, as [`compare_value`] binds it; on SQLite inside
/// a scalar subquery.
///
/// SQLite's planner reads the value of a parameter compared with an indexed column in its
/// samples of the index (`sqlite_stat4`, which `PRAGMA optimize` gathers), and such a statement
/// is then prepared again each time a new value is bound: 116,000 instructions per page of a
/// cursor deep in a table (callgrind), which made it cost 1.7 times the first page. The
/// subquery's value is unknown to the planner; the index still serves the range.
fn cursor_value(sql: &mut Sql, dialect: Dialect, entity: &Entity, index: usize, value: &Value) {
    if dialect == Dialect::Sqlite {
        sql.push("(SELECT ");
        compare_value(sql, dialect, entity, index, value);
        sql.push(")");
    } else {
        compare_value(sql, dialect, entity, index, value);
    }
}

/// `key = value`, or `key IS NULL`.
fn key_equals(sql: &mut Sql, dialect: Dialect, entity: &Entity, index: usize, value: &Value) {
    sort_expr(sql, dialect, entity, index);
    if *value == Value::Null {
        sql.push(" IS NULL");
    } else {
        sql.push(" = ");
        cursor_value(sql, dialect, entity, index, value);
    }
}

/// The rows strictly after `value` on one key, `NULL` being the smallest value.
fn key_after(sql: &mut Sql, dialect: Dialect, entity: &Entity, key: Sort, value: &Value) {
    match (*value == Value::Null, key.descending) {
        (true, false) => {
            sort_expr(sql, dialect, entity, key.field);
            sql.push(" IS NOT NULL");
        }
        (false, false) => {
            sort_expr(sql, dialect, entity, key.field);
            sql.push(" > ");
            cursor_value(sql, dialect, entity, key.field, value);
        }
        (false, true) if nullable(entity, key.field) => {
            sql.push("(");
            sort_expr(sql, dialect, entity, key.field);
            sql.push(" < ");
            cursor_value(sql, dialect, entity, key.field, value);
            sql.push(" OR ");
            sort_expr(sql, dialect, entity, key.field);
            sql.push(" IS NULL)");
        }
        (false, true) => {
            sort_expr(sql, dialect, entity, key.field);
            sql.push(" < ");
            cursor_value(sql, dialect, entity, key.field, value);
        }
        // Nothing comes after NULL in descending order; the caller leaves the term out.
        (true, true) => {
            sql.push("1 = 0");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{after, products};

    /// Renders `c` on the products for `dialect`.
    fn render(dialect: Dialect, e: &Entity, c: &Condition) -> String {
        let mut sql = Sql::default();
        condition(&mut sql, dialect, e, c);
        sql.debug_text()
    }

    #[test]
    fn mariadb_compares_text_exactly_behind_the_collation() {
        let e = products(Some(&[
            ("id", "int(11)", false),
            ("sku", "varchar(64)", true),
            ("price", "decimal(10,2)", true),
        ]));
        let text = |s: &str| Value::Text(s.into());
        let eq = Condition::Eq(1, text("a"));
        let within = Condition::In(1, vec![text("a"), text("b"), Value::Null]);
        let ne = Condition::Compare(1, Comparison::Ne, text("a"));
        let out = Condition::NotIn(1, vec![text("a"), text("b")]);
        let bytes = "CAST(CONVERT(\"sku\" USING utf8mb4) AS BINARY)";
        assert_eq!(
            render(Dialect::Mysql, &e, &eq),
            format!("((\"sku\" = ? AND {bytes} = CAST(? AS BINARY)))")
        );
        assert_eq!(
            render(Dialect::Mysql, &e, &within),
            format!(
                "((\"sku\" IN (?, ?) AND {bytes} IN (CAST(? AS BINARY), CAST(? AS BINARY))) \
                 OR \"sku\" IS NULL)"
            )
        );
        assert_eq!(
            render(Dialect::Mysql, &e, &ne),
            format!("({bytes} <> CAST(? AS BINARY))")
        );
        assert_eq!(
            render(Dialect::Mysql, &e, &out),
            format!("({bytes} NOT IN (CAST(? AS BINARY), CAST(? AS BINARY)))")
        );
        // Ranges follow the column's collation, as its order does; numbers need no check.
        let gt = Condition::Compare(1, Comparison::Gt, text("a"));
        assert_eq!(render(Dialect::Mysql, &e, &gt), "(\"sku\" > ?)");
        let price = Condition::Eq(2, Value::Decimal("1.50".into()));
        assert_eq!(
            render(Dialect::Mysql, &e, &price),
            "(\"price\" = CAST(? AS DECIMAL(65,30)))"
        );
        // The other backends compare text exactly already.
        assert_eq!(render(Dialect::Sqlite, &e, &eq), "(\"sku\" = ?)");
        assert_eq!(render(Dialect::Sqlite, &e, &ne), "(\"sku\" <> ?)");
    }

    #[test]
    fn identifier_order_pages_after_the_last_identifier() {
        let e = products(None);
        let keys = crate::order_keys(&e, &[]);
        for d in [Dialect::Postgres, Dialect::Mysql] {
            assert_eq!(after(d, &e, &keys, vec![Value::Int(7)]), "(\"id\" > ?)");
        }
        // SQLite's planner does not see a cursor's values (`cursor_value`).
        assert_eq!(
            after(Dialect::Sqlite, &e, &keys, vec![Value::Int(7)]),
            "(\"id\" > (SELECT ?))"
        );
    }

    #[test]
    fn keysets_chain_equal_prefixes_per_dialect() {
        let e = products(None);
        let keys = crate::order_keys(&e, &[Sort::desc(2), Sort::asc(1)]);
        let values = || {
            vec![
                Value::Text("20.00".into()),
                Value::Text("a".into()),
                Value::Int(7),
            ]
        };
        // The chain behind a bound on the first key that an index range can serve.
        let chain = |v: &str, b: &str| {
            format!(
                "((\"price\" <= {v} OR \"price\" IS NULL) AND \
                 ((\"price\" < {v} OR \"price\" IS NULL) OR (\"price\" = {v} AND \"sku\" > {b}) \
                 OR (\"price\" = {v} AND \"sku\" = {b} AND \"id\" > {b})))"
            )
        };
        assert_eq!(
            after(Dialect::Sqlite, &e, &keys, values()),
            chain("(SELECT ?)", "(SELECT ?)")
        );
        assert_eq!(
            after(Dialect::Postgres, &e, &keys, values()),
            chain("CAST(? AS NUMERIC)", "?")
        );
        assert_eq!(
            after(Dialect::Mysql, &e, &keys, values()),
            chain("CAST(? AS DECIMAL(65,30))", "?")
        );
    }
}
