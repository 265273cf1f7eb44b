use chrono::{Duration, Utc};
use dynex_auth::{Action, Scope};
use dynex_core::{CoreError, KeyRefusal};
use dynex_test_support::{TestDb, backend_tests};

use crate::demo;

backend_tests!(keys_are_hashed_expire_and_revoke);

fn keys_are_hashed_expire_and_revoke(db: TestDb) {
    let dx = demo(&db);
    let k = dx.create_api_key("integration", &[], None).unwrap();
    let p = dx.authenticate_api_key(&k.key).unwrap();
    assert_eq!(p.name, "integration");
    assert!(p.allows(Action::Delete, "countries"));
    assert!(matches!(
        dx.create_api_key("integration", &[], None),
        Err(CoreError::AlreadyExists { .. })
    ));
    let listed = dx.list_api_keys().unwrap();
    assert_eq!(listed.len(), 1);
    assert!(k.key.starts_with(&listed[0].prefix));
    let scoped = dx
        .create_api_key(
            "reader",
            &[Scope::Entity {
                alias: Some("countries".into()),
                action: Action::Read,
            }],
            None,
        )
        .unwrap();
    let p = dx.authenticate_api_key(&scoped.key).unwrap();
    assert!(p.allows(Action::Read, "countries") && !p.allows(Action::Read, "tax-rates"));
    let old = dx
        .create_api_key(
            "old",
            &[],
            Some((Utc::now() - Duration::hours(1)).naive_utc()),
        )
        .unwrap();
    assert_eq!(dx.authenticate_api_key(&old.key), Err(KeyRefusal::Expired));
    dx.revoke_api_key("integration").unwrap();
    assert_eq!(dx.authenticate_api_key(&k.key), Err(KeyRefusal::Unknown));
    assert!(matches!(
        dx.revoke_api_key("integration"),
        Err(CoreError::NotFound { .. })
    ));
    assert_eq!(
        dx.authenticate_api_key("dnx_guess"),
        Err(KeyRefusal::Unknown)
    );
    let stored = dx.list_api_keys().unwrap();
    assert!(
        stored
            .iter()
            .find(|i| i.name == "integration")
            .unwrap()
            .revoked_at
            .is_some()
    );
}
