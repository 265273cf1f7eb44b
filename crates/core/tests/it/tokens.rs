//! Access tokens at the edge of their lifetime, with the clock frozen on the test's thread.

use dynex_auth::{Role, TokenError};
use dynex_core::TokenRequest;
use dynex_core::clock::freeze;
use dynex_test_support::{TestDb, backend_tests};

use crate::demo;

backend_tests!(an_access_token_is_refused_from_its_exp_second);

/// docs/auth.md: "An expired token is refused from its `exp` second on, with no leeway". The
/// whole `exp` second was accepted (the JWT library counts a token expired when `exp < now`).
fn an_access_token_is_refused_from_its_exp_second(db: TestDb) {
    let dx = demo(&db);
    dx.add_user("alice", "correct horse battery", Role::Admin)
        .unwrap();
    // Issued 250 ms into a second, after the user's creation.
    let issued = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        / 1000
        + 2)
        * 1000
        + 250;
    let grant = {
        let _at = freeze(issued);
        dx.token(&TokenRequest {
            grant_type: "password".into(),
            username: Some("alice".into()),
            password: Some("correct horse battery".into()),
            address: "test".into(),
            ..TokenRequest::default()
        })
        .unwrap()
    };
    let ttl = i64::try_from(grant.expires_in).unwrap();
    let exp_ms = (issued / 1000 + ttl) * 1000;
    let at = |ms: i64| {
        let _at = freeze(ms);
        dx.authenticate_token(&grant.access_token).map(|p| p.name)
    };
    assert_eq!(at(issued), Ok("alice".to_string()));
    assert_eq!(at(exp_ms - 1), Ok("alice".to_string()));
    assert_eq!(at(exp_ms), Err(TokenError::Expired));
    assert_eq!(at(exp_ms + 500), Err(TokenError::Expired));
}
