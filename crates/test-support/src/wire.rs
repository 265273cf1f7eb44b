//! Assertions on the wire format of errors, the array `[{"code", "status", "message"}, …]`.
//!
//! Every error object must have exactly these three members, and its status must be the one
//! [`Code`] gives its code, so a test that names the code checks the status as well.

use dynex_wire::Code;
use serde_json::Value;

/// The [`Code`] sent as `text` (`"1303"`), failing the test for a code that is not in the table.
pub fn code(text: &str) -> Code {
    Code::ALL
        .iter()
        .copied()
        .find(|c| c.as_str() == text)
        .unwrap_or_else(|| panic!("`{text}` is not an error code"))
}

/// The `(code, message)` of each error of a non-empty wire error array, asserting each object's
/// members and that its status is its code's.
pub fn error_list(body: &Value) -> Vec<(String, String)> {
    let errors = body
        .as_array()
        .unwrap_or_else(|| panic!("error body is not an array: {body}"));
    assert!(!errors.is_empty(), "no errors: {body}");
    errors.iter().map(|e| error_object(e, body)).collect()
}

/// Asserts that `body` is the wire array of exactly one error with `code` and that code's
/// status, and returns its message.
pub fn assert_error(body: &Value, code: Code) -> String {
    let errors = error_list(body);
    assert_eq!(errors.len(), 1, "one error expected: {body}");
    let (sent, message) = errors.into_iter().next().expect("one error");
    assert_eq!(sent, code.as_str(), "{body}");
    message
}

/// Asserts that `message` is a persistence error (1302, 1309, 1317, 1321) for the row at
/// `path` (or a field of it) that ends with `outcome` ("Entry is duplicated.").
///
/// Only the start of the path is checked: whether the database names the field differs by
/// backend.
pub fn assert_persist_message(message: &str, path: &str, outcome: &str) {
    assert!(
        message.starts_with(&format!("Failed to persist the data for `{path}")),
        "{message}"
    );
    assert!(
        message.ends_with(&format!(
            "Please verify the provided data and try again. {outcome}"
        )),
        "{message}"
    );
}

/// Checks one error object's members and status; returns `(code, message)`.
fn error_object(e: &Value, body: &Value) -> (String, String) {
    let o = e
        .as_object()
        .unwrap_or_else(|| panic!("error is not an object: {body}"));
    let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let sent = o["code"]
        .as_str()
        .unwrap_or_else(|| panic!("code is not a string: {body}"));
    // A server-side failure also names the request, so that its log line can be found.
    if code(sent).is_server_error() {
        assert_eq!(keys, ["code", "message", "requestId", "status"], "{body}");
    } else {
        assert_eq!(keys, ["code", "message", "status"], "{body}");
    }
    let status = o["status"]
        .as_u64()
        .unwrap_or_else(|| panic!("status is not a number: {body}"));
    assert_eq!(
        status,
        u64::from(code(sent).status()),
        "status of {sent}: {body}"
    );
    let message = o["message"]
        .as_str()
        .unwrap_or_else(|| panic!("message is not a string: {body}"));
    (sent.to_string(), message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_error_with_the_status_of_its_code() {
        let body = json!([{"code": "1303", "status": 404, "message": "gone"}]);
        assert_eq!(assert_error(&body, Code::RowNotFound), "gone");
        assert_eq!(Code::RowNotFound.as_str(), "1303");
        assert_eq!(
            error_list(&json!([{"code": "1314", "status": 422, "message": "a"},
                               {"code": "1305", "status": 400, "message": "b"}])),
            [("1314".into(), "a".into()), ("1305".into(), "b".into())]
        );
    }

    #[test]
    #[should_panic(expected = "status of 1303")]
    fn a_status_that_is_not_the_codes_fails() {
        error_list(&json!([{"code": "1303", "status": 400, "message": "gone"}]));
    }

    #[test]
    #[should_panic(expected = "one error expected")]
    fn two_errors_are_not_one() {
        assert_error(
            &json!([{"code": "1305", "status": 400, "message": "a"},
                    {"code": "1305", "status": 400, "message": "b"}]),
            Code::InvalidType,
        );
    }

    #[test]
    #[should_panic(expected = "error body is not an array")]
    fn a_body_that_is_no_array_fails() {
        error_list(&json!({"data": []}));
    }
}
