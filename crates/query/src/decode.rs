//! Decoding what reads return into wire values: each row's JSON array into the object of
//! visible names and output types, and text columns into cells or JSON values.

use std::borrow::Cow;

use dynex_schema::{Entity, Field, FieldType, Value, format_decimal, normalize_datetime};
use serde_json::{Map, Value as Json};

use crate::typed::{Stored, StoredRow};

/// The text of a field's wire value, from the text of its column ([`select_cells`]): what
/// [`decode_row`] makes of the column, written as a CSV cell (`None`, SQL `NULL`, is empty).
///
/// [`select_cells`]: crate::select_cells
pub fn cell_text<'r>(field: &Field, raw: Option<&'r str>) -> Cow<'r, str> {
    let Some(raw) = raw else {
        return Cow::Borrowed("");
    };
    match field.ty {
        FieldType::Boolean => {
            let on = match raw.parse::<f64>() {
                Ok(n) => n != 0.0,
                Err(_) => matches!(raw, "t" | "true" | "TRUE"),
            };
            Cow::Borrowed(if on { "true" } else { "false" })
        }
        FieldType::Decimal => match field.validation.scale {
            Some(scale) => Cow::Owned(format_decimal(raw, scale)),
            None => Cow::Borrowed(raw),
        },
        FieldType::DateTime => normalize_datetime(raw).map_or(Cow::Borrowed(raw), Cow::Owned),
        FieldType::Date => Cow::Borrowed(raw.get(..10).unwrap_or(raw)),
        // As JSON values: numbers in their shortest form, JSON documents compact.
        FieldType::Float => raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Cow::Borrowed(raw), |n| Cow::Owned(n.to_string())),
        FieldType::Json => serde_json::from_str::<Json>(raw)
            .map(|v| match v {
                Json::String(s) => Cow::Owned(s),
                other => Cow::Owned(other.to_string()),
            })
            .unwrap_or(Cow::Borrowed(raw)),
        FieldType::Integer | FieldType::String => Cow::Borrowed(raw),
    }
}

/// The wire value of a field from the text of its column ([`select_cells`]).
///
/// It is what [`decode_row`] makes of the column's JSON: what [`cell_text`] writes, typed (a
/// number, a boolean, a JSON document) where the field's type is not text. Rows to compare are
/// read this way without a JSON document per row; the text is moved into the value where it is
/// kept as it is.
///
/// [`select_cells`]: crate::select_cells
pub fn decode_cell(field: &Field, raw: Option<String>) -> Json {
    let Some(raw) = raw else {
        return Json::Null;
    };
    match field.ty {
        FieldType::Integer => raw.parse::<i64>().map_or(Json::String(raw), Json::from),
        FieldType::Float => match raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
        {
            Some(n) => Json::Number(n),
            None => Json::String(raw),
        },
        FieldType::Boolean => Json::Bool(cell_text(field, Some(&raw)) == "true"),
        FieldType::Json => serde_json::from_str(&raw).unwrap_or(Json::String(raw)),
        FieldType::String => Json::String(raw),
        FieldType::Decimal | FieldType::DateTime | FieldType::Date => {
            let text = cell_text(field, Some(&raw));
            if matches!(text, Cow::Borrowed(t) if t.len() == raw.len()) {
                Json::String(raw)
            } else {
                Json::String(text.into_owned())
            }
        }
    }
}

/// Decodes one `row_json` into the wire object (visible names, Spryker's output types) and the
/// values of the extra columns.
pub fn decode_row(
    entity: &Entity,
    row_json: &str,
) -> Result<(Map<String, Json>, Vec<Json>), String> {
    decode_fields(entity, None, row_json)
}

/// [`decode_row`] of a row read with [`crate::Select::fields`] `fields`.
pub fn decode_fields(
    entity: &Entity,
    fields: Option<&[usize]>,
    row_json: &str,
) -> Result<(Map<String, Json>, Vec<Json>), String> {
    let (values, extras) = decode_values(entity, fields, row_json)?;
    let object = selected(entity, fields)
        .into_iter()
        .zip(values)
        .map(|(field, v)| (field.field_visible_name.clone(), v))
        .collect();
    Ok((object, extras))
}

/// [`decode_fields`] without the names: the wire values by position, then the extra columns.
///
/// The values are those of the fields read: every field in the entity's order, or `fields`.
/// Matching many rows by position costs no object per row.
pub fn decode_values(
    entity: &Entity,
    fields: Option<&[usize]>,
    row_json: &str,
) -> Result<(Vec<Json>, Vec<Json>), String> {
    let values: Vec<Json> =
        serde_json::from_str(row_json).map_err(|e| format!("row is not a JSON array: {e}"))?;
    let fields = selected(entity, fields);
    if values.len() < fields.len() {
        return Err(format!(
            "row has {} values, the entity {} fields",
            values.len(),
            fields.len()
        ));
    }
    let mut values = values.into_iter();
    let converted = fields
        .iter()
        .zip(values.by_ref())
        .map(|(field, v)| output(field.ty, field.validation.scale, v))
        .collect();
    Ok((converted, values.collect()))
}

/// Writes the wire object of one `row_json` to `out`, byte for byte what `serde_json` writes
/// of [`decode_fields`]'s object, and returns the values of the extra columns.
///
/// A page is answered without a JSON value per row: the row's array is split into its
/// elements' text, and each element is copied when its wire form is that same text (strings
/// escaped as `serde_json` escapes them, whole numbers, `null`) or converted otherwise. Entity
/// tags hash these bytes, so every other case goes through the same conversion as
/// [`decode_fields`]. [`RowWriter`] writes many rows.
pub fn write_fields(
    entity: &Entity,
    fields: Option<&[usize]>,
    row_json: &str,
    out: &mut Vec<u8>,
) -> Result<Vec<Json>, String> {
    RowWriter::new(entity, fields)
        .write(row_json, out)?
        .into_iter()
        .map(|raw| serde_json::from_str(raw).map_err(|e| e.to_string()))
        .collect()
}

/// [`write_fields`] for the rows of one read: each field's name is escaped once, not per row.
#[derive(Debug, Clone)]
pub struct RowWriter {
    /// Per field read: its type, its decimal scale, and `{"name":` (the first) or `,"name":`.
    columns: Vec<(FieldType, Option<u32>, Box<[u8]>)>,
}

impl RowWriter {
    /// A writer of rows of `entity` read with [`crate::Select::fields`] `fields`.
    pub fn new(entity: &Entity, fields: Option<&[usize]>) -> Self {
        let columns = selected(entity, fields)
            .into_iter()
            .enumerate()
            .map(|(i, field)| {
                let mut key = vec![if i == 0 { b'{' } else { b',' }];
                push_json_str(&mut key, &field.field_visible_name);
                key.push(b':');
                (field.ty, field.validation.scale, key.into_boxed_slice())
            })
            .collect();
        RowWriter { columns }
    }

    /// The number of fields written, checked against the `values` a row holds.
    fn fields_in(&self, values: usize) -> Result<usize, String> {
        let count = self.columns.len();
        if values < count {
            return Err(format!(
                "row has {values} values, the entity {count} fields"
            ));
        }
        Ok(count)
    }

    /// Writes the wire object of `row_json` to `out` ([`write_fields`]) and returns the JSON
    /// text of the extra columns' values, unchecked: a page needs those of its last row only.
    pub fn write<'r>(&self, row_json: &'r str, out: &mut Vec<u8>) -> Result<Vec<&'r str>, String> {
        let raws = elements(row_json).ok_or("row is not a JSON array")?;
        let count = self.fields_in(raws.len())?;
        for ((ty, scale, key), raw) in self.columns.iter().zip(&raws) {
            out.extend_from_slice(key);
            write_output(*ty, *scale, raw, out)?;
        }
        if count == 0 {
            out.push(b'{');
        }
        out.push(b'}');
        let mut raws = raws;
        raws.drain(..count);
        Ok(raws)
    }

    /// Writes the wire object of a row read with [`select_values`](crate::select_values)
    /// to `out`: byte for byte what [`RowWriter::write`] writes of the JSON array SQLite
    /// builds of the same values.
    ///
    /// Each value goes through the same conversion as the element SQLite's `json_array` would
    /// make of it, except text of a string field, which is escaped straight into `out` (SQLite
    /// escapes strings as `serde_json` does, so that element would be copied as it is).
    pub fn write_typed<R: StoredRow + ?Sized>(
        &self,
        row: &R,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let count = self.fields_in(row.len())?;
        let mut buf = Vec::new();
        for (i, (ty, scale, key)) in self.columns.iter().enumerate() {
            out.extend_from_slice(key);
            match row.value(i) {
                Stored::Null => out.extend_from_slice(b"null"),
                Stored::Text(text) if *ty == FieldType::String => push_json_str(out, &text),
                // An integer is written as it is in an integer or floating-point field.
                Stored::Int(n) if matches!(ty, FieldType::Integer | FieldType::Float) => {
                    push_int(out, n);
                }
                value => write_output(*ty, *scale, raw_json(&value, &mut buf)?, out)?,
            }
        }
        if count == 0 {
            out.push(b'{');
        }
        out.push(b'}');
        Ok(())
    }
}

/// The JSON text SQLite's `json_array` writes of `value`, into `buf`; it refuses a BLOB.
fn raw_json<'b>(value: &Stored<'_>, buf: &'b mut Vec<u8>) -> Result<&'b str, String> {
    buf.clear();
    match value {
        Stored::Null => buf.extend_from_slice(b"null"),
        Stored::Int(n) => push_int(buf, *n),
        Stored::Real(text) => buf.extend_from_slice(text.as_bytes()),
        // SQLite escapes a string as `serde_json` does (`jsonAppendString`).
        Stored::Text(text) => push_json_str(buf, text),
        Stored::Blob => return Err("JSON cannot hold BLOB values".into()),
    }
    // Only ASCII escapes and whole UTF-8 strings were written.
    Ok(std::str::from_utf8(buf).unwrap_or_default())
}

/// The values of `row` from `from` on as JSON, as a row's JSON array would have them: the
/// values of a page's order keys, for the position of its last row.
pub fn json_from<R: StoredRow + ?Sized>(row: &R, from: usize) -> Result<Vec<Json>, String> {
    let mut buf = Vec::new();
    (from..row.len())
        .map(|i| {
            let raw = raw_json(&row.value(i), &mut buf)?;
            serde_json::from_str(raw).map_err(|e| e.to_string())
        })
        .collect()
}

/// The text of each element of the JSON array `row`, or `None` when it is no array.
///
/// Only the elements' bounds are found here. What is copied as it is, is checked to be a
/// string, a whole number or `null` ([`write_output`]); everything else is parsed, and refused
/// when it is not JSON.
fn elements(row: &str) -> Option<Vec<&str>> {
    let b = row.as_bytes();
    let mut i = skip_space(b, 0);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    i = skip_space(b, i + 1);
    let mut found = Vec::with_capacity(16);
    if b.get(i) == Some(&b']') {
        return (skip_space(b, i + 1) == b.len()).then_some(found);
    }
    loop {
        let start = i;
        i = skip_value(b, i)?;
        found.push(row.get(start..i)?);
        i = skip_space(b, i);
        match b.get(i)? {
            b',' => i = skip_space(b, i + 1),
            b']' => return (skip_space(b, i + 1) == b.len()).then_some(found),
            _ => return None,
        }
    }
}

/// The position after the JSON whitespace at `i`.
fn skip_space(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\n' | b'\r' | b'\t')) {
        i += 1;
    }
    i
}

/// The position after the JSON value that starts at `i`.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => skip_string(b, i),
        b'[' | b'{' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'[' | b'{' => depth += 1,
                    b']' | b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let len = b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b']' | b'}' | b' ' | b'\n' | b'\r' | b'\t'))
                .unwrap_or(b.len() - i);
            (len > 0).then_some(i + len)
        }
    }
}

/// The position after the JSON string that starts at `i`.
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        match b.get(j)? {
            b'"' => return Some(j + 1),
            b'\\' => j += 2,
            _ => j += 1,
        }
    }
}

/// Writes [`output`] of one element's JSON text `raw` as `serde_json` writes it.
fn write_output(
    ty: FieldType,
    scale: Option<u32>,
    raw: &str,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if ty == FieldType::String && canonical_string(raw) {
        out.extend_from_slice(raw.as_bytes());
        return Ok(());
    }
    if let Some(text) = plain_string(raw) {
        match ty {
            FieldType::DateTime => {
                match normalize_datetime(text) {
                    Some(t) => push_json_str(out, &t),
                    None => out.extend_from_slice(raw.as_bytes()),
                }
                return Ok(());
            }
            FieldType::Decimal => {
                match scale {
                    Some(sc) => push_json_str(out, &format_decimal(text, sc)),
                    None => out.extend_from_slice(raw.as_bytes()),
                }
                return Ok(());
            }
            FieldType::Date => {
                push_json_str(out, text.get(..10).unwrap_or(text));
                return Ok(());
            }
            _ => {}
        }
    } else if whole_number(raw) {
        match ty {
            FieldType::Integer | FieldType::Float => {
                out.extend_from_slice(raw.as_bytes());
                return Ok(());
            }
            FieldType::String => {
                out.push(b'"');
                out.extend_from_slice(raw.as_bytes());
                out.push(b'"');
                return Ok(());
            }
            FieldType::Boolean => {
                // A whole number without leading zeros is zero only as `0`.
                out.extend_from_slice(if raw == "0" { b"false" } else { b"true" });
                return Ok(());
            }
            FieldType::Decimal => {
                match scale {
                    Some(sc) => push_json_str(out, &format_decimal(raw, sc)),
                    None => push_json_str(out, raw),
                }
                return Ok(());
            }
            _ => {}
        }
    } else if raw == "null" {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    let value: Json = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    serde_json::to_writer(&mut *out, &output(ty, scale, value)).map_err(|e| e.to_string())
}

/// The content of the JSON string `raw` when it has no escapes, so that its text is the
/// string itself and `serde_json` writes it back unchanged.
fn plain_string(raw: &str) -> Option<&str> {
    let text = raw.strip_prefix('"')?.strip_suffix('"')?;
    (!text.contains('\\')).then_some(text)
}

/// Whether `raw` is a JSON string escaped exactly as `serde_json` escapes its content: only
/// `\"`, `\\`, the short escapes of control characters, and `\u00xx` (lowercase) for the other
/// control characters. Databases write the text of strings that way (a string column holding a
/// JSON document has its quotes escaped), so the common case is copied.
fn canonical_string(raw: &str) -> bool {
    let Some(text) = raw.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
        return false;
    };
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = bytes[i..].iter().position(|&b| b == b'\\') {
        i += at;
        match bytes.get(i + 1) {
            Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
            Some(b'u') => {
                let Some(&[b'0', b'0', high, low]) = bytes.get(i + 2..i + 6) else {
                    return false;
                };
                let nibble = |c: u8| match c {
                    b'0'..=b'9' => Some(c - b'0'),
                    b'a'..=b'f' => Some(c - b'a' + 10),
                    _ => None,
                };
                match (nibble(high), nibble(low)) {
                    // Those with a short escape are written short.
                    (Some(h @ 0..=1), Some(l)) if !matches!(h * 16 + l, 8 | 9 | 10 | 12 | 13) => {
                        i += 6;
                    }
                    _ => return false,
                }
            }
            _ => return false,
        }
    }
    true
}

/// Whether `raw`, a JSON number, is an integer that `serde_json` reads as one and writes back
/// unchanged: no fraction or exponent, not `-0` (read as `-0.0`), and within 64 bits.
fn whole_number(raw: &str) -> bool {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    !digits.is_empty()
        && digits.len() <= 18
        && digits.bytes().all(|b| b.is_ascii_digit())
        && raw != "-0"
}

/// How `serde_json` escapes each byte of a string: 0 not at all, `u` as `\u00xx`, any other
/// as a backslash and that byte.
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Writes `text` as a JSON string, escaped as `serde_json` escapes it.
///
/// From the first byte to escape on, the text is escaped a block at a time into room made for
/// the worst case and cut to what was written: strings that hold JSON documents have a quote
/// every few bytes, and copying the runs between them as slices (as `serde_json` does) or
/// pushing byte by byte cost three to five times as much.
pub(crate) fn push_json_str(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    /// Bytes escaped per block: the room made is six times that, as `\u00xx` is.
    const BLOCK: usize = 256;
    let bytes = text.as_bytes();
    let first = bytes
        .iter()
        .position(|&b| ESCAPE[usize::from(b)] != 0)
        .unwrap_or(bytes.len());
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    out.extend_from_slice(&bytes[..first]);
    for block in bytes[first..].chunks(BLOCK) {
        let at = out.len();
        out.resize(at + block.len() * 6, 0);
        let room = &mut out[at..];
        let mut n = 0;
        for &b in block {
            match ESCAPE[usize::from(b)] {
                0 => {
                    room[n] = b;
                    n += 1;
                }
                b'u' => {
                    room[n..n + 6].copy_from_slice(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[usize::from(b >> 4)],
                        HEX[usize::from(b & 0xf)],
                    ]);
                    n += 6;
                }
                short => {
                    room[n] = b'\\';
                    room[n + 1] = short;
                    n += 2;
                }
            }
        }
        out.truncate(at + n);
    }
    out.push(b'"');
}

/// Writes the decimal text of `n`, as `serde_json` and SQLite write an integer.
pub(crate) fn push_int(out: &mut Vec<u8>, n: i64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        // The remainder of a division by ten is a digit.
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[at..]);
}

/// A value read back from the database as JSON, to bind again: numbers as integers where they
/// are whole, strings as text, arrays and objects as their JSON text.
pub fn value_from_json(v: &Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or_default())),
        Json::String(s) => Value::Text(s.clone()),
        other => Value::Text(other.to_string()),
    }
}

/// The fields a read returns: `fields`, or every field of the entity.
fn selected<'e>(entity: &'e Entity, fields: Option<&[usize]>) -> Vec<&'e Field> {
    let all = entity.fields();
    match fields {
        Some(indexes) => indexes.iter().filter_map(|&i| all.get(i)).collect(),
        None => all.iter().collect(),
    }
}

/// Converts a stored value to Spryker's output type for the field.
fn output(ty: FieldType, scale: Option<u32>, v: Json) -> Json {
    match (ty, v) {
        (_, Json::Null) => Json::Null,
        (FieldType::Boolean, Json::Number(n)) => Json::Bool(n.as_f64().is_some_and(|f| f != 0.0)),
        (FieldType::Boolean, Json::String(s)) => {
            Json::Bool(matches!(s.as_str(), "1" | "t" | "true" | "TRUE"))
        }
        (FieldType::Integer, Json::String(s)) => {
            s.parse::<i64>().map(Json::from).unwrap_or(Json::String(s))
        }
        (FieldType::Integer, Json::Bool(b)) => Json::from(i64::from(b)),
        (FieldType::Decimal, Json::String(s)) => {
            Json::String(scale.map_or_else(|| s.clone(), |sc| format_decimal(&s, sc)))
        }
        (FieldType::Decimal, Json::Number(n)) => {
            let s = n.to_string();
            Json::String(scale.map_or_else(|| s.clone(), |sc| format_decimal(&s, sc)))
        }
        (FieldType::String, Json::Number(n)) => Json::String(n.to_string()),
        (FieldType::String, Json::Bool(b)) => Json::String(b.to_string()),
        (FieldType::String, Json::String(s)) => Json::String(s),
        (FieldType::DateTime, Json::String(s)) => Json::String(normalize_datetime(&s).unwrap_or(s)),
        (FieldType::Date, Json::String(s)) => Json::String(s.get(..10).unwrap_or(&s).to_string()),
        (FieldType::Json, Json::String(s)) => serde_json::from_str(&s).unwrap_or(Json::String(s)),
        (_, v) => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::entity;

    #[test]
    fn strings_and_integers_are_written_as_serde_json_writes_them() {
        let mut text: String = (0u8..=0x7f).map(char::from).collect();
        text.push_str("é 😀 \u{2028} end");
        let long: String = (0u8..40)
            .map(|i| format!("{}{}", "x".repeat(usize::from(i % 9)), char::from(i)))
            .collect();
        for s in [
            text.as_str(),
            &long,
            "",
            "plain",
            "\"",
            "a\\b",
            "12345678\"2345678\\",
        ] {
            let mut out = Vec::new();
            push_json_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
        for n in [0, 7, -1, 10, -10, i64::MAX, i64::MIN, 1_000_000_007] {
            let mut out = Vec::new();
            push_int(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_is_escaped_as_serde_json_escapes_it(s in "(?s).{0,40}", n in proptest::num::i64::ANY) {
            let mut out = Vec::new();
            push_json_str(&mut out, &s);
            proptest::prop_assert_eq!(out, serde_json::to_vec(&s).unwrap());
            let mut out = Vec::new();
            push_int(&mut out, n);
            proptest::prop_assert_eq!(out, n.to_string().into_bytes());
        }

        #[test]
        fn long_strings_are_escaped_as_serde_json_escapes_them_across_blocks(
            s in "([a-z\u{e9}\u{1F600}]{0,20}[\"\\\\\\x00-\\x1f]?){0,60}",
        ) {
            // Up to 1,400 bytes: escapes on both sides of the 256-byte blocks' bounds.
            let mut out = Vec::new();
            push_json_str(&mut out, &s);
            proptest::prop_assert_eq!(out, serde_json::to_vec(&s).unwrap());
        }

        #[test]
        fn strings_dense_with_escapes_are_escaped_as_serde_json_escapes_them(
            s in "[\\x00-\\x1f\"\\\\a-z\u{e9}\u{2028}\u{1F600}]{0,60}",
        ) {
            let mut out = b"prefix".to_vec();
            push_json_str(&mut out, &s);
            let mut want = b"prefix".to_vec();
            serde_json::to_writer(&mut want, &s).unwrap();
            proptest::prop_assert_eq!(out, want);
        }
    }

    /// A field `c` of type `ty` with a decimal `scale`.
    fn field(ty: &str, scale: Option<u32>) -> Field {
        let mut f: Field = serde_json::from_value(serde_json::json!({
            "fieldName": "c", "fieldVisibleName": "c", "type": ty
        }))
        .unwrap();
        f.validation.scale = scale;
        f
    }

    #[test]
    fn cells_are_the_text_of_wire_values() {
        let cell =
            |ty: &str, scale, raw: Option<&str>| cell_text(&field(ty, scale), raw).into_owned();
        // Booleans as each backend writes them: PostgreSQL `true`, SQLite and MariaDB `1`.
        assert_eq!(cell("boolean", None, Some("true")), "true");
        assert_eq!(cell("boolean", None, Some("1")), "true");
        assert_eq!(cell("boolean", None, Some("0")), "false");
        assert_eq!(cell("boolean", None, Some("f")), "false");
        assert_eq!(cell("decimal", Some(2), Some("20")), "20.00");
        assert_eq!(cell("decimal", None, Some("20.5")), "20.5");
        // Floats as serde_json writes the number the JSON path decodes.
        let big = serde_json::Number::from_f64(1e20).unwrap().to_string();
        assert_eq!(cell("float", None, Some("100000000000000000000")), big);
        assert_eq!(cell("float", None, Some("0.10000000000000001")), "0.1");
        assert_eq!(cell("json", None, Some("{\"a\": [1, 2]}")), "{\"a\":[1,2]}");
        assert_eq!(cell("json", None, Some("\"text\"")), "text");
        assert_eq!(
            cell("date", None, Some("2024-01-02 00:00:00")),
            "2024-01-02"
        );
        assert_eq!(
            cell("datetime", None, Some("2024-01-02T03:04:05")),
            "2024-01-02 03:04:05"
        );
        assert_eq!(cell("string", None, Some(" a, b ")), " a, b ");
        assert_eq!(cell("integer", None, None), "");
        // Exactly what a row read as JSON becomes.
        let e = entity(3);
        let (object, _) = decode_row(&e, r#"[7, "20", 1]"#).unwrap();
        for (i, raw) in ["7", "20", "1"].iter().enumerate() {
            let f = &e.fields()[i];
            let wire = match &object[&f.field_visible_name] {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(cell_text(f, Some(raw)), wire, "{}", f.field_name);
        }
    }

    #[test]
    fn cell_values_are_the_wire_values_of_the_json_read() {
        // (type, scale, the column as text, the column as the JSON read has it)
        let cases: [(&str, Option<u32>, &str, Json); 15] = [
            ("integer", None, "42", Json::from(42)),
            ("integer", None, "-7", Json::from("-7")),
            ("float", None, "1.5", Json::from(1.5)),
            ("float", None, "100000000000000000000", Json::from(1e20)),
            ("boolean", None, "1", Json::from(1)),
            ("boolean", None, "0", Json::from(0)),
            ("boolean", None, "true", Json::from("true")),
            ("boolean", None, "f", Json::from("f")),
            ("decimal", Some(2), "20.5", Json::from("20.5")),
            ("decimal", None, "20.50", Json::from("20.50")),
            (
                "datetime",
                None,
                "2024-01-02T03:04:05",
                Json::from("2024-01-02T03:04:05"),
            ),
            (
                "date",
                None,
                "2024-01-02 00:00:00",
                Json::from("2024-01-02 00:00:00"),
            ),
            (
                "json",
                None,
                "{\"a\": [1, 2]}",
                Json::from("{\"a\": [1, 2]}"),
            ),
            ("json", None, "not json", Json::from("not json")),
            ("string", None, " a, b ", Json::from(" a, b ")),
        ];
        for (ty, scale, text, stored) in cases {
            let f = field(ty, scale);
            assert_eq!(
                decode_cell(&f, Some(text.to_string())),
                output(f.ty, scale, stored),
                "{ty} {text}"
            );
        }
        assert_eq!(decode_cell(&field("integer", None), None), Json::Null);
        assert_eq!(decode_cell(&field("string", None), None), Json::Null);
    }

    /// An entity of one field of each type, with and without a decimal scale, and a field
    /// whose visible name needs escaping.
    fn every_type() -> Entity {
        let json = r#"{"tableName":"t","tableAlias":"ts","definition":{"identifier":"id","fields":[
          {"fieldName":"id","fieldVisibleName":"id","type":"integer"},
          {"fieldName":"s","fieldVisibleName":"s \"quoted\"\n","type":"string"},
          {"fieldName":"d2","fieldVisibleName":"d2","type":"decimal","validation":{"scale":2}},
          {"fieldName":"d","fieldVisibleName":"d","type":"decimal"},
          {"fieldName":"b","fieldVisibleName":"b","type":"boolean"},
          {"fieldName":"f","fieldVisibleName":"f","type":"float"},
          {"fieldName":"dt","fieldVisibleName":"dt","type":"datetime"},
          {"fieldName":"da","fieldVisibleName":"da","type":"date"},
          {"fieldName":"j","fieldVisibleName":"j","type":"json"}]}}"#;
        Entity::new(
            dynex_schema::EntityConfig::parse_many(json)
                .unwrap()
                .remove(0),
        )
        .unwrap()
    }

    /// The JSON text of one value as a database may write it in a row's array.
    fn element() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let text = prop_oneof![
            "[a-z0-9 .:-]{0,12}",
            "\\PC{0,8}",
            "[\\\\\"\\n\\t\\u{1}/]{0,4}",
            "20[0-9]{2}-[01][0-9]-[0-3][0-9]([ T][0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?)?",
            "-?[0-9]{1,4}(\\.[0-9]{0,3})?",
            Just("true".to_string()),
            Just("1".to_string()),
        ];
        prop_oneof![
            1 => Just("null".to_string()),
            1 => Just("true".to_string()),
            1 => Just("false".to_string()),
            1 => Just("-0".to_string()),
            1 => Just("0".to_string()),
            1 => any::<i64>().prop_map(|n| n.to_string()),
            1 => any::<u64>().prop_map(|n| n.to_string()),
            1 => "-?[1-9][0-9]{15,24}",
            1 => "-?[0-9]{1,3}\\.[0-9]{1,20}([eE][+-]?[0-9]{1,3})?",
            1 => any::<f64>().prop_map(|f| serde_json::json!(f).to_string()),
            // Strings as each backend escapes them, with `\/` and `\u` escapes too.
            1 => text.clone().prop_map(|t| serde_json::to_string(&t).unwrap()),
            1 => text.prop_map(|t| serde_json::to_string(&t).unwrap().replace('/', "\\/")),
            1 => Just(r#""a\u0062c\u00e9""#.to_string()),
            // Escapes serde_json writes, and some it writes otherwise.
            6 => proptest::sample::select(vec![
                r#"\u001f"#, r#"\u0000"#, r#"\b"#, r#"\""#, r#"\\"#, r#"\u000a"#, r#"\u001F"#,
                r#"\/"#, r#"\u0041"#, r#"\u00e9"#, r#"\ud83d\ude00"#, "x", "é",
            ])
            .prop_map(|e| format!("\"a{e}b\"")),
            1 => Just(r#"{"b": [1, 2.50, "x"], "a": {"z": null}}"#.to_string()),
            1 => Just(r#"[ 1 , true ]"#.to_string()),
            1 => Just(r#""{\"k\": [1, 2]}""#.to_string()),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]
        /// `write_fields` writes exactly what `serde_json` writes of `decode_fields`'s object:
        /// the text of an answer and what its entity tag hashes do not depend on the path.
        #[test]
        fn written_rows_are_the_decoded_rows_serialized(
            values in proptest::collection::vec(element(), 11),
            picked in proptest::sample::subsequence((0..9).collect::<Vec<usize>>(), 1..9),
            all in proptest::bool::ANY,
            separator in proptest::sample::select(vec![",", ", ", " ,\n\t"]),
        ) {
            let e = every_type();
            let fields = (!all).then_some(picked.as_slice());
            let n = fields.map_or(9, <[usize]>::len);
            // The row's own fields, then two extra columns.
            let row = format!("[{}]", values[..n].iter().chain(&values[9..]).cloned().collect::<Vec<_>>().join(separator));
            let decoded = decode_fields(&e, fields, &row);
            let mut out = Vec::new();
            let written = write_fields(&e, fields, &row, &mut out);
            match decoded {
                Ok((object, extras)) => {
                    let expected = serde_json::to_vec(&object).unwrap();
                    proptest::prop_assert_eq!(
                        String::from_utf8(out).unwrap(),
                        String::from_utf8(expected).unwrap(),
                        "row {}", row
                    );
                    proptest::prop_assert_eq!(written.unwrap(), extras);
                }
                Err(_) => proptest::prop_assert!(written.is_err(), "row {}", row),
            }
        }
    }

    #[test]
    fn strings_escaped_as_serde_json_escapes_them_are_copied() {
        for (raw, canonical) in [
            (r#""""#, true),
            (r#""a \"b\" \\ \n\t\r\b\f \u0000\u001f""#, true),
            (r#""\u000a""#, false),
            (r#""\u001F""#, false),
            (r#""\u0041""#, false),
            (r#""\/""#, false),
            (r#""\u00""#, false),
            ("7", false),
        ] {
            assert_eq!(canonical_string(raw), canonical, "{raw}");
            if canonical {
                let text: String = serde_json::from_str(raw).unwrap();
                assert_eq!(serde_json::to_string(&text).unwrap(), raw);
            }
        }
    }

    #[test]
    fn written_rows_refuse_what_decoding_refuses() {
        let e = entity(3);
        let mut out = Vec::new();
        assert!(write_fields(&e, None, "[1, 2]", &mut out).is_err());
        assert!(write_fields(&e, None, "{\"id\": 1}", &mut out).is_err());
        for row in [
            "[1, \"2\", 1",
            "[1,, \"2\", 1]",
            "[1, \"2\", 1] x",
            "[1, \"2\", tru]",
            "[1, \"2\", [}]",
            "[1, \"2\", \"1]",
        ] {
            assert!(decode_row(&e, row).is_err(), "{row}");
            assert!(write_fields(&e, None, row, &mut out).is_err(), "{row}");
        }
    }

    #[test]
    fn rows_decode_to_spryker_types() {
        let e = entity(4);
        let (obj, extra) = decode_row(&e, r#"[7, "20", 1, 5, 14]"#).unwrap();
        assert_eq!(
            serde_json::Value::Object(obj),
            serde_json::json!({"id": 7, "taxRate": "20.00", "active": true, "c3": "5"})
        );
        assert_eq!(extra, vec![serde_json::json!(14)]);
    }
}
