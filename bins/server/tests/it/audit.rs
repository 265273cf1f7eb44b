//! The audit log: changes through the admin API recorded with who, from where, what and to
//! what, never a secret; listed newest first with filters and paging; data writes recorded
//! only when asked; retention.

use std::time::Duration;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use dynex_core::{AuditFilter, Options};
use dynex_test_support::{TestDb, async_backend_tests, open_demo_with};
use serde_json::{Value, json};

use crate::admin::{Cred, call, created, no_content};
use crate::support::{TestApp, scoped_key};

async_backend_tests!(
    admin_changes_are_recorded_with_who_and_from_where,
    the_log_is_filtered_and_paged,
    data_writes_are_recorded_only_when_asked,
    old_entries_are_pruned,
);

/// The `data` of a 200 answer of `GET /admin/api/audit…`.
async fn audit(app: &TestApp, cred: &Cred, query: &str) -> Vec<Value> {
    let reply = call(app, Method::GET, &format!("audit{query}"), cred, None).await;
    reply.data().as_array().expect("a list").clone()
}

/// `(action, target)` of each entry.
fn actions(entries: &[Value]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_string(),
                e["target"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn admin_changes_are_recorded_with_who_and_from_where(db: TestDb) {
    let dynex = open_demo_with(&db, Options::default());
    let admin_key = scoped_key(&dynex, "ops-key", "admin");
    let app = TestApp::new(dynex.clone()).await;
    let cred = Cred::Key(admin_key);
    // The peer address of these requests: the test service has none unless told.
    let from = |req: TestRequest| req.peer_addr("192.0.2.7:40000".parse().expect("address"));

    let key = app
        .send(from(
            cred.apply(
                TestRequest::post()
                    .uri("/admin/api/keys")
                    .insert_header(("Content-Type", "application/json"))
                    .set_payload(
                        json!({"name": "etl", "scopes": ["dynamic-entity:countries:read"]})
                            .to_string(),
                    ),
            ),
        ))
        .await;
    let secret = created(&key)["key"].as_str().expect("the key").to_string();
    no_content(&call(&app, Method::DELETE, "keys/etl", &cred, None).await);
    let user = call(
        &app,
        Method::POST,
        "users",
        &cred,
        Some(&json!({"name": "mia", "password": crate::support::TEST_PASSWORD})),
    )
    .await;
    created(&user);
    no_content(&call(&app, Method::POST, "users/mia/revoke-tokens", &cred, None).await);
    no_content(&call(&app, Method::DELETE, "users/mia", &cred, None).await);
    // A revocation of a key that is not there changed nothing and is not recorded.
    call(&app, Method::DELETE, "keys/nobody", &cred, None).await;

    let entries = audit(&app, &cred, "").await;
    let ours: Vec<(String, String)> = actions(&entries)
        .into_iter()
        .filter(|(_, target)| target != "ops-key")
        .collect();
    let expected = [
        ("user.remove", "mia"),
        ("user.revoke-tokens", "mia"),
        ("user.add", "mia"),
        ("key.revoke", "etl"),
        ("key.create", "etl"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, t)| ((*a).to_string(), (*t).to_string()))
        .collect();
    assert_eq!(&ours[..5], &expected[..], "{entries:#?}");
    let create = &entries[4];
    assert_eq!(create["actor"], "ops-key");
    assert_eq!(create["source"], "192.0.2.7");
    assert_eq!(
        create["detail"]["scopes"],
        json!(["dynamic-entity:countries:read"])
    );
    assert!(
        create["at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.len() == 24),
        "{create}"
    );
    assert!(entries[0]["id"].as_i64() > entries[1]["id"].as_i64());
    let raw = call(&app, Method::GET, "audit", &cred, None).await.raw;
    assert!(!raw.contains(&secret), "the key's value is in the log");
    assert!(!raw.contains(crate::support::TEST_PASSWORD));
    // The setup (the demo, the admin key), made through the core without an actor, is the
    // embedding program's.
    let setup = entries.last().expect("the setup's key");
    assert_eq!(
        (&setup["actor"], &setup["source"]),
        (&json!("local"), &json!("local"))
    );

    // Entities and jobs too.
    no_content(&call(&app, Method::DELETE, "entities/stores", &cred, None).await);
    let latest = audit(&app, &cred, "?limit=1").await;
    assert_eq!(
        actions(&latest),
        [("entity.remove".to_string(), "stores".to_string())]
    );

    // Reading the log needs `admin`.
    let reader = scoped_key(&dynex, "reader", "dynamic-entity:read");
    call(&app, Method::GET, "audit", &Cred::Key(reader), None)
        .await
        .assert_error(403, "002");
}

async fn the_log_is_filtered_and_paged(db: TestDb) {
    let dynex = open_demo_with(&db, Options::default());
    let cred = Cred::Key(scoped_key(&dynex, "ops", "admin"));
    let app = TestApp::new(dynex.clone()).await;
    for name in ["a", "b", "c"] {
        created(
            &call(
                &app,
                Method::POST,
                "keys",
                &cred,
                Some(&json!({"name": name})),
            )
            .await,
        );
    }
    no_content(&call(&app, Method::DELETE, "keys/b", &cred, None).await);
    created(
        &call(
            &app,
            Method::POST,
            "clients",
            &cred,
            Some(&json!({"client_id": "erp", "scopes": ["dynamic-entity:read"]})),
        )
        .await,
    );

    let keys = audit(&app, &cred, "?action=key.").await;
    assert!(
        keys.iter()
            .all(|e| e["action"].as_str().is_some_and(|a| a.starts_with("key.")))
    );
    assert_eq!(
        keys.len(),
        5,
        "ops, a, b, c created and b revoked: {keys:#?}"
    );
    let revoked = audit(&app, &cred, "?action=key.revoke").await;
    assert_eq!(
        actions(&revoked),
        [("key.revoke".to_string(), "b".to_string())]
    );
    assert_eq!(audit(&app, &cred, "?target=erp").await.len(), 1);
    assert_eq!(audit(&app, &cred, "?actor=ops").await.len(), 5);

    let first = audit(&app, &cred, "?limit=2").await;
    let last_id = first[1]["id"].as_i64().expect("an id");
    let next = audit(&app, &cred, &format!("?limit=2&before={last_id}")).await;
    assert_eq!(next.len(), 2);
    assert!(next[0]["id"].as_i64().expect("an id") < last_id);

    for bad in [
        "?limit=0",
        "?limit=x",
        "?before=x",
        "?action=KEY%25",
        "?colour=red",
    ] {
        call(&app, Method::GET, &format!("audit{bad}"), &cred, None)
            .await
            .assert_error(400, "1401");
    }
}

async fn data_writes_are_recorded_only_when_asked(db: TestDb) {
    let quiet = open_demo_with(&db, Options::default());
    let key = scoped_key(
        &quiet,
        "writer",
        "dynamic-entity:write dynamic-entity:read dynamic-entity:delete",
    );
    let app = TestApp::new(quiet.clone()).await;
    let patch = json!({"data": {"name": "Andorra!"}});
    assert_eq!(app.patch("countries/1", &key, &patch).await.status, 200);
    let data = AuditFilter {
        action: Some("data.".into()),
        ..AuditFilter::default()
    };
    assert!(quiet.audit_log(&data).expect("log").is_empty());

    let recording = dynex_core::Dynex::open_with(
        &db.url,
        Options {
            watch_interval: None,
            audit_data_writes: true,
            ..Options::default()
        },
    )
    .expect("open");
    let app = TestApp::new(recording.clone()).await;
    assert_eq!(app.patch("countries/1", &key, &patch).await.status, 200);
    let posted = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "QA", "iso3_code": "QQA", "name": "Q"}]}),
        )
        .await;
    assert_eq!(posted.status, 201, "{posted:?}");
    let id = posted.written_rows(201)[0]["id_country"].clone();
    let price =
        app.api("price-products?page[limit]=1", &key).await.rows()[0]["id_price_product"].clone();
    let deleted = app.delete(&format!("price-products/{price}"), &key).await;
    assert_eq!(deleted.status, 204, "{deleted:?}");
    let entries = recording.audit_log(&data).expect("log");
    let summary: Vec<(String, Value)> = entries
        .iter()
        .map(|e| (e.action.clone(), e.detail["identifiers"].clone()))
        .collect();
    assert_eq!(
        summary,
        [
            ("data.delete".to_string(), json!([price.to_string()])),
            ("data.create".to_string(), json!([id])),
            ("data.update".to_string(), json!([1])),
        ]
    );
    assert!(entries.iter().all(|e| e.actor == "writer"));
    assert_eq!(entries[0].target, "price-products");
    assert_eq!(entries[1].target, "countries");
}

async fn old_entries_are_pruned(db: TestDb) {
    let dynex = open_demo_with(&db, Options::default());
    dynex.create_api_key("old", &[], None).expect("key");
    // Margins wide enough for a loaded machine: the new entry must stay younger than the age.
    std::thread::sleep(Duration::from_millis(1500));
    dynex.create_api_key("new", &[], None).expect("key");
    let pruned = dynex
        .prune_audit(Duration::from_millis(750))
        .expect("prune");
    assert!(pruned >= 1, "{pruned}");
    let left = dynex.audit_log(&AuditFilter::default()).expect("log");
    assert_eq!(actions_of(&left), [("key.create", "new")]);
}

fn actions_of(entries: &[dynex_core::AuditEntry]) -> Vec<(&str, &str)> {
    entries
        .iter()
        .map(|e| (e.action.as_str(), e.target.as_str()))
        .collect()
}
