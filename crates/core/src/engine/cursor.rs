//! Opaque `page[after]` cursors: the position of the last row of a page, signed so that a
//! cursor this server did not issue, or issued for another entity or order, is refused.
//!
//! A cursor is `base64url(payload) "." base64url(tag)`: the payload is JSON naming the entity,
//! the order (visible names, `-` for descending) and the row's key values; the tag is the first
//! 16 bytes of its HMAC-SHA256 under a key derived from the token signing secret, which every
//! instance on one database shares, so any instance accepts any instance's cursors.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dynex_query::{Keyset, QueryError, Sort, Value};
use dynex_schema::Entity;
use hmac::{Hmac, Mac};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

/// Tag bytes kept: 128 bits, beyond any guessing, and a shorter URL.
const TAG_BYTES: usize = 16;

/// The key cursors are signed with.
pub(crate) struct CursorKey([u8; 32]);

impl CursorKey {
    /// The cursor key of a token signing secret; a separate key, so a cursor tag is never a
    /// token signature.
    pub(crate) fn new(secret: &[u8]) -> CursorKey {
        let mut hash = Sha256::new();
        hash.update(b"dynex page cursor v1\0");
        hash.update(secret);
        CursorKey(hash.finalize().into())
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length")
    }

    /// The cursor of the position `keyset` in a read of `entity`.
    pub(crate) fn encode(&self, entity: &Entity, keyset: &Keyset) -> String {
        let values: Vec<Json> = keyset.values.iter().map(value_json).collect();
        let payload = json!({
            "e": entity.alias(),
            "o": order_text(entity, &keyset.keys),
            "v": values,
        })
        .to_string();
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES])
        )
    }

    /// The position a cursor names, checked to be this server's cursor for a read of `entity`
    /// in the order `order`.
    pub(crate) fn decode(
        &self,
        entity: &Entity,
        order: &[Sort],
        cursor: &str,
    ) -> Result<Keyset, QueryError> {
        let invalid = |reason: &str| QueryError::InvalidCursor(reason.to_string());
        let (payload, tag) = cursor
            .split_once('.')
            .ok_or_else(|| invalid("not a cursor from this API's links.next"))?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| invalid("not a cursor from this API's links.next"))?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| invalid("not a cursor from this API's links.next"))?;
        let mut mac = self.mac();
        mac.update(&payload);
        // Constant time: a timing difference must not reveal how much of a forged tag is right.
        mac.verify_truncated_left(&tag)
            .ok()
            .filter(|()| tag.len() == TAG_BYTES)
            .ok_or_else(|| invalid("the cursor was altered or was issued by another server"))?;
        let payload: Json = serde_json::from_slice(&payload)
            .map_err(|_| invalid("the cursor was altered or was issued by another server"))?;
        if payload["e"] != entity.alias() {
            return Err(invalid("the cursor belongs to another entity"));
        }
        if payload["o"] != order_text(entity, order) {
            return Err(invalid(
                "the cursor belongs to another sort (keep the sort of the first page)",
            ));
        }
        let Some(Json::Array(values)) = payload.get("v") else {
            return Err(invalid("the cursor holds no position"));
        };
        if values.len() != order.len() {
            return Err(invalid("the cursor holds no position"));
        }
        Keyset::from_row(order, values).map_err(|e| QueryError::InvalidCursor(e.to_string()))
    }
}

/// An order as the cursor records it: `-price,sku,id`.
fn order_text(entity: &Entity, order: &[Sort]) -> String {
    order
        .iter()
        .map(|k| {
            let name = &entity.fields()[k.field].field_visible_name;
            if k.descending {
                format!("-{name}")
            } else {
                name.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A key value as JSON, read back by [`Keyset::from_row`] as the same value.
fn value_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(n) => Json::from(*n),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Text(s)
        | Value::Decimal(s)
        | Value::Date(s)
        | Value::DateTime(s)
        | Value::Json(s) => Json::String(s.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynex_schema::EntityConfig;

    fn products() -> Entity {
        let json = r#"{"tableName":"p","tableAlias":"products","definition":{"identifier":"id","fields":[
            {"fieldName":"id","fieldVisibleName":"id","type":"integer"},
            {"fieldName":"price","fieldVisibleName":"price","type":"decimal"}]}}"#;
        Entity::new(EntityConfig::parse_many(json).unwrap().remove(0)).unwrap()
    }

    #[test]
    fn cursors_round_trip_and_refuse_tampering() {
        let e = products();
        let key = CursorKey::new(b"secret");
        let order = [Sort::desc(1), Sort::asc(0)];
        let keyset = Keyset {
            keys: order.to_vec(),
            values: vec![Value::Text("20.000000000000004".into()), Value::Int(7)],
        };
        let cursor = key.encode(&e, &keyset);
        assert!(
            cursor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "{cursor}"
        );
        assert_eq!(key.decode(&e, &order, &cursor), Ok(keyset.clone()));

        let refused = |c: &str, order: &[Sort]| match key.decode(&e, order, c) {
            Err(QueryError::InvalidCursor(reason)) => reason,
            other => panic!("{c}: {other:?}"),
        };
        // Another key, another order, a changed payload, a cut tag, garbage.
        let other = CursorKey::new(b"other").encode(&e, &keyset);
        assert!(refused(&other, &order).contains("altered"));
        assert!(refused(&cursor, &[Sort::asc(1), Sort::asc(0)]).contains("another sort"));
        let (payload, tag) = cursor.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(
            String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap())
                .unwrap()
                .replace("\"7\"", "\"8\"")
                .replace(",7]", ",8]"),
        );
        assert!(refused(&format!("{forged}.{tag}"), &order).contains("altered"));
        assert!(refused(&format!("{payload}.{}", &tag[..8]), &order).contains("altered"));
        for junk in ["", "x", "a.b", "....", "%%%.%%%", "eyJ9.AAAA"] {
            refused(junk, &order);
        }
    }
}
