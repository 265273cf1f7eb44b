//! Changes another process makes (the CLI, another server) take effect on a running server at
//! once: keys created and revoked, entities disabled, users' tokens revoked.

use std::time::{Duration, Instant};

use actix_web::http::{Method, StatusCode};
use dynex_core::{DEFAULT_WATCH_INTERVAL, Dynex, Options};
use dynex_test_support::{TestDb, async_backend_tests, open_demo};

use crate::support::{TestApp, open_demo_with_secret};

/// How long after the other process returns a change must be in force.
const AFTER: Duration = Duration::from_millis(10);

/// A server handle over `db` watching for changes as `dynex-server` does.
async fn server(db: &TestDb) -> (Dynex, TestApp) {
    let dynex = Dynex::open_with(
        &db.url,
        Options {
            watch_interval: Some(DEFAULT_WATCH_INTERVAL),
            ..Options::default()
        },
    )
    .expect("open the server's handle");
    let app = TestApp::new(dynex.clone()).await;
    (dynex, app)
}

/// Polls `check` until it holds; returns whether it held at `AFTER` already. Panics after a
/// second: a change made elsewhere must never wait for a long poll.
async fn in_force(mut check: impl AsyncFnMut() -> bool) -> bool {
    let started = Instant::now();
    actix_rt::time::sleep(AFTER).await;
    if check().await {
        return true;
    }
    while started.elapsed() < Duration::from_secs(1) {
        actix_rt::time::sleep(Duration::from_millis(2)).await;
        if check().await {
            return false;
        }
    }
    panic!("not in force after a second");
}

/// Keys created by the CLI work on the server, and keys the CLI revoked are refused, without a
/// restart and within a second at worst; an entity disabled elsewhere is gone and back the same
/// way. How many were in force 10 ms after the CLI returned is printed (a timing, so not
/// asserted: a loaded test machine can delay the watcher thread).
async fn keys_and_entities_changed_elsewhere_apply_at_once(db: TestDb) {
    let cli = open_demo(&db);
    let (_server, app) = server(&db).await;
    let (mut accepted, mut refused) = (0, 0);
    for i in 0..50 {
        let name = format!("script-{i}");
        let key = cli.create_api_key(&name, &[], None).expect("create").key;
        let path = "countries?page[limit]=1";
        accepted += usize::from(
            in_force(async || app.api(path, &key).await.status == StatusCode::OK).await,
        );
        cli.revoke_api_key(&name).expect("revoke");
        refused += usize::from(
            in_force(async || {
                let reply = app.api(path, &key).await;
                reply.status != StatusCode::OK && {
                    reply.assert_error(reply.status.as_u16(), "002");
                    true
                }
            })
            .await,
        );
    }
    eprintln!(
        "{:?}: after 10 ms, {accepted}/50 new keys accepted, {refused}/50 revoked keys refused",
        db.backend
    );

    let key = cli.create_api_key("steady", &[], None).expect("create").key;
    for _ in 0..10 {
        cli.set_entity_active("countries", false).expect("disable");
        in_force(async || app.api("countries", &key).await.status == StatusCode::NOT_FOUND).await;
        cli.set_entity_active("countries", true).expect("enable");
        in_force(async || app.api("countries", &key).await.status == StatusCode::OK).await;
    }
}

/// A key created by the CLI works on the very next request, with no wait at all: an unknown key
/// makes the server look for a change before it refuses.
async fn a_new_key_works_at_once(db: TestDb) {
    let cli = open_demo(&db);
    let server = Dynex::open_with(
        &db.url,
        Options {
            watch_interval: None,
            ..Options::default()
        },
    )
    .expect("open");
    let app = TestApp::new(server).await;
    for i in 0..10 {
        let key = cli
            .create_api_key(&format!("now-{i}"), &[], None)
            .expect("create")
            .key;
        let reply = app.api("countries?page[limit]=1", &key).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    }
    let reply = app.api("countries?page[limit]=1", "no-such-key").await;
    assert!(reply.status.is_client_error(), "{reply:?}");
}

/// A token issued by one server for a user the other server has not loaded yet is accepted
/// there at once; revoking the user's tokens elsewhere refuses it soon after.
async fn tokens_follow_users_created_and_revoked_elsewhere(db: TestDb) {
    let cli = open_demo_with_secret(&db);
    let (_server, app) = {
        let dynex = Dynex::open_with(
            &db.url,
            Options {
                watch_interval: Some(DEFAULT_WATCH_INTERVAL),
                tokens: dynex_core::TokenOptions {
                    secret: Some(crate::support::TEST_SECRET.to_string()),
                    ..Default::default()
                },
                ..Options::default()
            },
        )
        .expect("open");
        let app = TestApp::new(dynex.clone()).await;
        (dynex, app)
    };
    cli.add_user(
        "ops",
        crate::support::TEST_PASSWORD,
        dynex_auth::Role::Admin,
    )
    .expect("add a user");
    let issuer = TestApp::new(cli.clone()).await;
    let grant = issuer
        .password_token("ops", crate::support::TEST_PASSWORD, None)
        .await;
    let token = grant["access_token"].as_str().expect("a token").to_string();
    let uri = "/dynamic-entity/countries?page[limit]=1";
    let reply = app.bearer(Method::GET, uri, &token, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    cli.revoke_user_tokens("ops").expect("revoke");
    in_force(async || {
        app.bearer(Method::GET, uri, &token, None).await.status == StatusCode::UNAUTHORIZED
    })
    .await;
}

async_backend_tests!(
    keys_and_entities_changed_elsewhere_apply_at_once,
    a_new_key_works_at_once,
    tokens_follow_users_created_and_revoked_elsewhere,
);
