use dynex_auth::Role;
use dynex_core::CoreError;
use dynex_test_support::{TestDb, backend_tests};

use crate::demo;

backend_tests!(users_are_added_authenticated_and_removed);

const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "another long passphrase";

fn users_are_added_authenticated_and_removed(db: TestDb) {
    let dx = demo(&db);
    let alice = dx.add_user("alice", PASSWORD, Role::Admin).unwrap();
    assert_eq!(alice.name, "alice");
    assert_eq!(alice.role, Role::Admin);
    assert_eq!(alice.created_at.len(), 19, "{}", alice.created_at);
    dx.add_user("ci.bot@example.com", PASSWORD, Role::Integrator)
        .unwrap();

    // Duplicates (also differing in case only), bad names and weak passwords are refused.
    for name in ["alice", "ALICE"] {
        assert!(matches!(
            dx.add_user(name, PASSWORD, Role::Integrator),
            Err(CoreError::AlreadyExists { kind: "user", .. })
        ));
    }
    for name in ["", "bob smith", &"b".repeat(65)] {
        assert!(matches!(
            dx.add_user(name, PASSWORD, Role::Admin),
            Err(CoreError::Invalid(_))
        ));
    }
    for weak in [
        "tiny1",
        "aaaabbbbcccc",
        "changemechangeme",
        "bob.the.builder",
    ] {
        let err = dx
            .add_user("bob.the.builder", weak, Role::Admin)
            .unwrap_err();
        match err {
            CoreError::Invalid(message) => assert!(!message.contains(weak), "{message}"),
            other => panic!("{weak}: {other:?}"),
        }
    }

    let listed = dx.list_users().unwrap();
    let names: Vec<_> = listed.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["alice", "ci.bot@example.com"]);
    assert_eq!(listed[1].role, Role::Integrator);
    assert_eq!(listed[0], alice);
    let json = serde_json::to_string(&listed).unwrap();
    assert!(
        json.contains(r#""role":"admin""#) && !json.contains("argon2"),
        "{json}"
    );

    // Authentication: right password, wrong password, unknown user, wrong case.
    assert_eq!(
        dx.authenticate_user("alice", PASSWORD).unwrap().role,
        Role::Admin
    );
    for (name, password) in [
        ("alice", NEW_PASSWORD),
        ("alice", ""),
        ("nobody", PASSWORD),
        ("ALICE", PASSWORD),
    ] {
        assert!(
            matches!(
                dx.authenticate_user(name, password),
                Err(CoreError::BadCredentials)
            ),
            "{name}"
        );
    }

    // Changing the password: the old one stops working at once.
    assert!(matches!(
        dx.set_user_password("alice", "alice"),
        Err(CoreError::Invalid(_))
    ));
    dx.set_user_password("alice", NEW_PASSWORD).unwrap();
    assert!(dx.authenticate_user("alice", NEW_PASSWORD).is_ok());
    assert!(matches!(
        dx.authenticate_user("alice", PASSWORD),
        Err(CoreError::BadCredentials)
    ));
    let changed = dx.list_users().unwrap().remove(0);
    assert!(changed.password_changed_at >= alice.password_changed_at);
    assert_eq!(changed.created_at, alice.created_at);
    assert!(matches!(
        dx.set_user_password("nobody", NEW_PASSWORD),
        Err(CoreError::NotFound { kind: "user", .. })
    ));

    dx.remove_user("alice").unwrap();
    assert!(matches!(
        dx.remove_user("alice"),
        Err(CoreError::NotFound { kind: "user", .. })
    ));
    assert!(matches!(
        dx.authenticate_user("alice", NEW_PASSWORD),
        Err(CoreError::BadCredentials)
    ));
    assert_eq!(dx.list_users().unwrap().len(), 1);
    // The name is free again.
    dx.add_user("alice", PASSWORD, Role::Integrator).unwrap();
}
