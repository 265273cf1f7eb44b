//! `dynex client …`, `dynex user revoke-tokens` and `dynex key create` with a scope and an expiry.

use dynex_core::{Dynex, TokenRequest};
use dynex_test_support::{TestDb, backend_tests, open_demo};
use serde_json::{Value, json};

use crate::{dynex, dynex_with_stdin};

/// Asks for an access token with the client credentials grant, as `POST /token` does.
fn client_token(check: &Dynex, id: &str, secret: &str) -> Option<String> {
    check
        .token(&TokenRequest {
            grant_type: "client_credentials".into(),
            client_id: Some(id.into()),
            client_secret: Some(secret.into()),
            address: "127.0.0.1".into(),
            ..TokenRequest::default()
        })
        .ok()
        .map(|grant| grant.access_token)
}

fn clients_are_added_listed_revoked_and_removed(db: TestDb) {
    let _demo = open_demo(&db);
    let added = dynex(
        &db,
        &[
            "client",
            "add",
            "erp",
            "--scope",
            "dynamic-entity:read,dynamic-entity:countries:write",
            "--json",
        ],
    )
    .ok();
    assert!(added.stderr.is_empty(), "{}", added.stderr);
    let added = added.json();
    let keys: Vec<&String> = added.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["client_id", "client_secret", "scopes"], "{added}");
    assert_eq!(added["client_id"], "erp");
    assert_eq!(
        added["scopes"],
        json!(["dynamic-entity:read", "dynamic-entity:countries:write"])
    );
    let secret = added["client_secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 32, "{added}");

    // The text form shows the secret once, says so, and shows how to get a token.
    let text = dynex(
        &db,
        &[
            "client",
            "add",
            "shop",
            "--scope",
            "dynamic-entity:countries:read",
            "--scope",
            "dynamic-entity:tax-rates:read",
        ],
    )
    .ok()
    .stdout;
    let shop_secret = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&secret[..4]) && !l.contains(' '))
        .unwrap_or_else(|| panic!("no secret line: {text}"))
        .to_string();
    assert_ne!(shop_secret, secret);
    assert!(text.contains("shown once"), "{text}");
    assert!(
        text.contains(&format!(
            "curl -u shop:{shop_secret} -d grant_type=client_credentials http://127.0.0.1:8080/token"
        )),
        "{text}"
    );
    assert!(
        text.contains("dynamic-entity:countries:read dynamic-entity:tax-rates:read"),
        "{text}"
    );

    // Both secrets work with the client credentials grant.
    let check = Dynex::open(&db.url).unwrap();
    let erp_token = client_token(&check, "erp", &secret).expect("erp gets a token");
    assert!(client_token(&check, "shop", &shop_secret).is_some());
    assert!(client_token(&check, "erp", &shop_secret).is_none());
    assert_eq!(check.authenticate_token(&erp_token).unwrap().name, "erp");

    // list never shows a secret.
    let list = dynex(&db, &["client", "list", "--json"]).ok();
    assert!(
        !list.stdout.contains(&secret) && !list.stdout.contains(&shop_secret),
        "{}",
        list.stdout
    );
    let listed = list.json();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(listed[0]["client_id"], "erp");
    assert_eq!(listed[0]["scopes"], added["scopes"]);
    assert!(listed[0]["created_at"].is_string(), "{listed}");
    assert!(listed[0].get("client_secret").is_none(), "{listed}");
    assert_eq!(listed[1]["client_id"], "shop");
    let text = dynex(&db, &["client", "list"]).ok().stdout;
    assert!(text.starts_with("CLIENT ID"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("erp ") && l.contains("dynamic-entity:countries:write")),
        "{text}"
    );
    assert!(
        !text.contains(&secret) && !text.contains(&shop_secret),
        "{text}"
    );

    // Only the secret's SHA-256 is stored: no row holds the secret itself.
    let mut conn = check.db().conn().unwrap();
    let delete_where =
        |hash: &str| format!("DELETE FROM dynex_client WHERE secret_hash = '{hash}'");
    dynex_core::db::run_script(&mut conn, &delete_where(&shop_secret)).unwrap();
    assert_eq!(
        dynex(&db, &["client", "list", "--json"]).ok().json()[1]["client_id"],
        "shop",
        "the plain secret matches no row"
    );
    dynex_core::db::run_script(
        &mut conn,
        &delete_where(&dynex_auth::hash_secret(&shop_secret)),
    )
    .unwrap();
    drop(conn);
    let listed = dynex(&db, &["client", "list", "--json"]).ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["client_id"], "erp");
    assert!(client_token(&check, "shop", &shop_secret).is_none());

    // Taken ids, missing or bad scopes and bad ids are refused, and change nothing.
    let run = dynex(&db, &["client", "add", "erp", "--scope", "admin", "--json"]).failed(2);
    assert_eq!(run.json()["error"]["code"], "already_exists");
    let run = dynex(&db, &["client", "add", "erp", "--scope", "admin"]).failed(2);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    let run = dynex(&db, &["client", "add", "nobody"]).failed(2);
    assert!(run.stderr.contains("--scope"), "{}", run.stderr);
    let run = dynex(&db, &["client", "add", "nobody", "--json"]).failed(2);
    assert_eq!(run.json()["error"]["code"], "usage");
    assert!(
        run.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--scope"),
        "{}",
        run.stdout
    );
    for bad in [
        "dynamic-entity:everything",
        "root",
        "dynamic-entity:read,nope",
    ] {
        let run = dynex(&db, &["client", "add", "nobody", "--scope", bad]).failed(2);
        assert!(run.stderr.contains("--scope"), "{bad}: {}", run.stderr);
    }
    for bad_id in ["a:b", "has space", ""] {
        let run = dynex(&db, &["client", "add", bad_id, "--scope", "admin"]).failed(2);
        assert!(run.stderr.contains("invalid client id"), "{}", run.stderr);
    }
    assert_eq!(
        dynex(&db, &["client", "list", "--json"]).ok().json(),
        listed
    );

    // revoke-tokens voids the tokens issued so far; the client may get new ones.
    let revoked = dynex(&db, &["client", "revoke-tokens", "erp", "--json"])
        .ok()
        .json();
    assert_eq!(revoked, json!({ "tokensRevoked": "erp" }));
    check.refresh().unwrap();
    assert!(check.authenticate_token(&erp_token).is_err());
    let fresh = client_token(&check, "erp", &secret).expect("a new token after revocation");
    assert!(check.authenticate_token(&fresh).is_ok());
    let text = dynex(&db, &["client", "revoke-tokens", "erp"]).ok().stdout;
    assert!(text.contains("`erp`"), "{text}");
    let run = dynex(&db, &["client", "revoke-tokens", "nope", "--json"]).failed(4);
    assert_eq!(run.json()["error"]["code"], "not_found");
    let run = dynex(&db, &["client", "revoke-tokens", "nope"]).failed(4);
    assert!(
        run.stderr.starts_with("error: ") && run.stderr.contains("nope"),
        "{}",
        run.stderr
    );

    // remove: the client and its tokens are gone at once.
    let removed = dynex(&db, &["client", "remove", "erp", "--json"])
        .ok()
        .json();
    assert_eq!(removed, json!({ "removed": "erp" }));
    check.refresh().unwrap();
    assert!(client_token(&check, "erp", &secret).is_none());
    dynex(&db, &["client", "remove", "erp"]).failed(4);
    let run = dynex(&db, &["client", "remove", "nope", "--json"]).failed(4);
    assert_eq!(run.json()["error"]["code"], "not_found");
    assert_eq!(
        dynex(&db, &["client", "list", "--json"]).ok().json(),
        json!([])
    );
    let empty = dynex(&db, &["client", "list"]).ok();
    assert!(
        empty.stdout.is_empty() && empty.stderr.contains("dynex client add"),
        "{}",
        empty.stderr
    );

    // The id is free again, with a new secret.
    let again = dynex(&db, &["client", "add", "erp", "--scope", "admin", "--json"])
        .ok()
        .json();
    assert_ne!(again["client_secret"], Value::from(secret));
}

fn user_tokens_are_revoked(db: TestDb) {
    const PASSWORD: &str = "correct horse battery";
    let _demo = open_demo(&db);
    dynex_with_stdin(
        &db,
        &[
            "user",
            "add",
            "alice",
            "--role",
            "admin",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    )
    .ok();
    let check = Dynex::open(&db.url).unwrap();
    let login = || {
        check
            .token(&TokenRequest {
                grant_type: "password".into(),
                username: Some("alice".into()),
                password: Some(PASSWORD.into()),
                address: "127.0.0.1".into(),
                ..TokenRequest::default()
            })
            .expect("alice logs in")
    };
    let grant = login();
    assert_eq!(
        check.authenticate_token(&grant.access_token).unwrap().name,
        "alice"
    );

    let revoked = dynex(&db, &["user", "revoke-tokens", "alice", "--json"])
        .ok()
        .json();
    assert_eq!(revoked, json!({ "tokensRevoked": "alice" }));
    check.refresh().unwrap();
    assert!(check.authenticate_token(&grant.access_token).is_err());
    let refresh = check.token(&TokenRequest {
        grant_type: "refresh_token".into(),
        refresh_token: grant.refresh_token.clone(),
        address: "127.0.0.1".into(),
        ..TokenRequest::default()
    });
    assert!(refresh.is_err(), "the refresh token is revoked too");
    // Logging in again works.
    let again = login();
    assert!(check.authenticate_token(&again.access_token).is_ok());

    let text = dynex(&db, &["user", "revoke-tokens", "alice"]).ok().stdout;
    assert!(text.contains("`alice`"), "{text}");
    let run = dynex(&db, &["user", "revoke-tokens", "nope"]).failed(4);
    assert!(
        run.stderr.starts_with("error: ") && run.stderr.contains("nope"),
        "{}",
        run.stderr
    );
    let run = dynex(&db, &["user", "revoke-tokens", "nope", "--json"]).failed(4);
    assert_eq!(run.json()["error"]["code"], "not_found");
}

fn key_create_takes_scopes_and_an_expiry_together(db: TestDb) {
    let _demo = open_demo(&db);
    let created = dynex(
        &db,
        &[
            "key",
            "create",
            "partner",
            "--scope",
            "dynamic-entity:countries:read,dynamic-entity:tax-rates:read",
            "--scope",
            "dynamic-entity:countries:write",
            "--valid-to",
            "2999-06-30",
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!(created["name"], "partner");
    assert_eq!(
        created["scopes"],
        json!([
            "dynamic-entity:countries:read",
            "dynamic-entity:tax-rates:read",
            "dynamic-entity:countries:write"
        ])
    );
    assert_eq!(created["validTo"], "2999-06-30 23:59:59");
    let check = Dynex::open(&db.url).unwrap();
    let principal = check
        .authenticate_api_key(created["key"].as_str().unwrap())
        .expect("the key authenticates");
    assert_eq!(principal.name, "partner");
    let listed = dynex(&db, &["key", "list", "--json"]).ok().json();
    assert_eq!(listed[0]["status"], "active");
    assert_eq!(listed[0]["validTo"], "2999-06-30 23:59:59");
    assert_eq!(listed[0]["scopes"], created["scopes"]);

    let text = dynex(
        &db,
        &[
            "key",
            "create",
            "feed",
            "--scope",
            "dynamic-entity:tax-rates:read",
            "--valid-to",
            "2999-01-01T08:00:00Z",
        ],
    )
    .ok()
    .stdout;
    assert!(text.contains("2999-01-01 08:00:00"), "{text}");
    assert!(text.contains("dynamic-entity/tax-rates"), "{text}");
}

backend_tests!(
    clients_are_added_listed_revoked_and_removed,
    user_tokens_are_revoked,
    key_create_takes_scopes_and_an_expiry_together,
);
