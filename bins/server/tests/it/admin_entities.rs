//! The admin API's configuration routes: live tables, entities (list, show, expose a table,
//! change, remove) and Spryker's `configuration.json`, with an admin token and an admin key.
//! Every change is checked where it matters: on the Data Exchange API it configures.

use actix_web::http::Method;
use dynex_test_support::{TestDb, async_backend_tests, run_sql};
use serde_json::{Value, json};

use crate::admin::{Cred, call, call_raw, created, no_content, setup};
use crate::support::{Reply, TestApp};

async_backend_tests!(
    tables_are_listed_with_their_entity_and_a_suggestion,
    a_table_becomes_an_endpoint_that_can_be_changed_and_removed,
    invalid_configurations_are_refused_problem_by_problem,
    configuration_json_round_trips,
);

/// The `data` of a 200 answer.
fn data(r: &Reply) -> &Value {
    assert_eq!(r.status.as_u16(), 200, "unexpected reply: {r:?}");
    r.assert_json();
    &r.body["data"]
}

/// Creates `gadgets` (three rows) and `gadget_parts` (two rows of gadget 1), tables no entity
/// exposes yet.
fn create_tables(db: &TestDb, dx: &dynex_core::Dynex) {
    let id = db.id_column();
    let script = format!(
        "CREATE TABLE gadgets ({id}, name VARCHAR(40) NOT NULL, price DECIMAL(10,2));\n\
         CREATE TABLE gadget_parts ({id}, fk_gadget INT NOT NULL, label VARCHAR(20));\n\
         INSERT INTO gadgets (id, name, price) VALUES (1, 'lamp', 9.50), (2, 'fan', 20.00), \
         (3, 'radio', NULL);\n\
         INSERT INTO gadget_parts (id, fk_gadget, label) VALUES (1, 1, 'bulb'), (2, 1, 'cord');\n"
    );
    run_sql(dx, &script);
}

/// `GET /dynamic-entity/{path}` with `key`, after a refresh: the test's handle runs no watcher,
/// so it sees configuration changes (and new keys) only when told.
async fn api(app: &TestApp, dx: &dynex_core::Dynex, key: &str, path: &str) -> Reply {
    dx.refresh().unwrap();
    app.api(path, key).await
}

/// Tables are listed with the entity exposing them; one table shows its columns and the
/// configuration that exposing it would store; unknown tables are 1402.
async fn tables_are_listed_with_their_entity_and_a_suggestion(db: TestDb) {
    let (dx, app, creds) = setup(&db).await;
    create_tables(&db, &dx);
    for cred in &creds {
        let r = call(&app, Method::GET, "tables", cred, None).await;
        let tables = data(&r).as_array().unwrap();
        let find = |name: &str| tables.iter().find(|t| t["name"] == name).cloned();
        assert_eq!(
            find("spy_country"),
            Some(json!({"name": "spy_country", "entity": "countries"}))
        );
        assert_eq!(
            find("gadgets"),
            Some(json!({"name": "gadgets", "entity": null}))
        );
        // The demo leaves one table for a new user to expose.
        assert_eq!(
            find("spy_product_label"),
            Some(json!({"name": "spy_product_label", "entity": null}))
        );
        assert!(
            tables
                .iter()
                .all(|t| !t["name"].as_str().unwrap().starts_with("dynex_")),
            "dynex's own tables are not offered: {tables:?}"
        );

        let r = call(&app, Method::GET, "tables/gadgets", cred, None).await;
        let shown = data(&r);
        let columns: Vec<&str> = shown["table"]["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(columns, ["id", "name", "price"]);
        let suggested = &shown["suggested"];
        assert_eq!(suggested["tableAlias"], "gadgets");
        assert_eq!(suggested["definition"]["identifier"], "id");
        let name = &suggested["definition"]["fields"][1];
        assert_eq!(name["fieldName"], "name");
        assert_eq!(name["validation"]["maxLength"], 40);
        assert_eq!(name["validation"]["isRequired"], true);

        for name in ["no_such_table", "dynex_user"] {
            let r = call(&app, Method::GET, &format!("tables/{name}"), cred, None).await;
            r.assert_error(404, "1402");
        }
    }
}

/// `POST /entities` exposes a table at once; `PUT` changes fields and relations, effective at
/// the next request; `isActive: false` takes the endpoint away; `DELETE` removes it.
async fn a_table_becomes_an_endpoint_that_can_be_changed_and_removed(db: TestDb) {
    let (dx, app, creds) = setup(&db).await;
    create_tables(&db, &dx);
    let cred = &creds[0];
    let reader = dx.create_api_key("reader", &[], None).unwrap().key;
    let r = call(
        &app,
        Method::POST,
        "entities",
        cred,
        Some(&json!({"table": "gadgets"})),
    )
    .await;
    let config = created(&r).clone();
    assert_eq!(config["tableAlias"], "gadgets");
    assert_eq!(config["isActive"], true);
    let r = api(&app, &dx, &reader, "gadgets").await;
    assert_eq!(
        r.body,
        json!({"data": [
            {"id": 1, "name": "lamp", "price": "9.50"},
            {"id": 2, "name": "fan", "price": "20.00"},
            {"id": 3, "name": "radio", "price": null},
        ]})
    );

    // Listed and shown.
    let r = call(&app, Method::GET, "entities", cred, None).await;
    let listed = data(&r)
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["alias"] == "gadgets")
        .cloned()
        .unwrap();
    assert_eq!(listed["table"], "gadgets");
    assert_eq!(listed["active"], true);
    assert_eq!(listed["served"], true);
    assert_eq!(listed["fields"], 3);
    assert_eq!(listed["relations"], 0);
    let r = call(&app, Method::GET, "entities/gadgets", cred, None).await;
    let shown = data(&r).clone();
    assert_eq!(shown["configuration"], config);
    assert_eq!(shown["served"], true);
    assert!(shown["warnings"].is_array());

    // A second entity for the parts, then a relation and a renamed field on gadgets.
    let r = call(
        &app,
        Method::POST,
        "entities",
        &creds[1],
        Some(&json!({"table": "gadget_parts", "alias": "parts", "active": true})),
    )
    .await;
    created(&r);
    let mut changed = config.clone();
    changed["definition"]["fields"][1]["fieldVisibleName"] = json!("title");
    changed["childRelations"] = json!([{
        "name": "gadgetParts",
        "isEditable": false,
        "childDynamicEntityConfiguration": {"tableAlias": "parts"},
        "relationFieldMappings": [{"childFieldName": "fk_gadget", "parentFieldName": "id"}],
    }]);
    let r = call(&app, Method::PUT, "entities/gadgets", cred, Some(&changed)).await;
    assert_eq!(
        data(&r)["definition"]["fields"][1]["fieldVisibleName"],
        "title"
    );
    let r = api(&app, &dx, &reader, "gadgets/1?include=gadgetParts").await;
    assert_eq!(
        r.body,
        json!({"data": {"id": 1, "title": "lamp", "price": "9.50", "gadgetParts": [
            {"id": 1, "fk_gadget": 1, "label": "bulb"},
            {"id": 2, "fk_gadget": 1, "label": "cord"},
        ]}})
    );
    // `fk_gadget` has no index (nor a foreign key, for which MariaDB would make one): the parts
    // warn, naming the relation that reads by it.
    let r = call(&app, Method::GET, "entities/parts", cred, None).await;
    let warnings = data(&r)["warnings"].as_array().unwrap().clone();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("gadget_parts(fk_gadget)")
                && w.as_str().unwrap().contains("gadgets.gadgetParts")),
        "{warnings:?}"
    );

    // Off: the endpoint answers 404 (007) while the entity stays listed.
    changed["isActive"] = json!(false);
    let r = call(&app, Method::PUT, "entities/gadgets", cred, Some(&changed)).await;
    assert_eq!(data(&r)["isActive"], false);
    api(&app, &dx, &reader, "gadgets")
        .await
        .assert_error(404, "007");
    let r = call(&app, Method::GET, "entities/gadgets", cred, None).await;
    assert_eq!(data(&r)["served"], false);

    // Exposing a table twice, or one that does not exist, is refused.
    let r = call(
        &app,
        Method::POST,
        "entities",
        cred,
        Some(&json!({"table": "gadgets", "alias": "gadgets2"})),
    )
    .await;
    assert!(r.assert_error(409, "1403").contains("gadgets"));
    let r = call(
        &app,
        Method::POST,
        "entities",
        cred,
        Some(&json!({"table": "nope"})),
    )
    .await;
    r.assert_error(404, "1402");
    let r = call(
        &app,
        Method::POST,
        "entities",
        cred,
        Some(&json!({"tables": "gadgets"})),
    )
    .await;
    r.assert_error(400, "1401");

    // Removed: gone from the list, 1402 afterwards; the table and its rows stay.
    no_content(&call(&app, Method::DELETE, "entities/parts", cred, None).await);
    no_content(&call(&app, Method::DELETE, "entities/gadgets", cred, None).await);
    call(&app, Method::GET, "entities/gadgets", cred, None)
        .await
        .assert_error(404, "1402");
    call(&app, Method::DELETE, "entities/gadgets", cred, None)
        .await
        .assert_error(404, "1402");
    let r = call(&app, Method::GET, "tables", cred, None).await;
    assert!(
        data(&r)
            .as_array()
            .unwrap()
            .contains(&json!({"name": "gadgets", "entity": null}))
    );
}

/// A configuration that does not fit the live table answers one 1401 per problem, with the
/// CLI's messages, and changes nothing.
async fn invalid_configurations_are_refused_problem_by_problem(db: TestDb) {
    let (dx, app, creds) = setup(&db).await;
    let cred = &creds[1];
    let r = call(&app, Method::GET, "entities/countries", cred, None).await;
    let before = data(&r)["configuration"].clone();
    let mut bad = before.clone();
    bad["definition"]["fields"][1]["fieldName"] = json!("no_such_column");
    bad["definition"]["fields"][2]["validation"] = json!({"minLength": 5, "maxLength": 2});
    let r = call(&app, Method::PUT, "entities/countries", cred, Some(&bad)).await;
    assert_eq!(r.status.as_u16(), 400, "{r:?}");
    let errors = r.body.as_array().unwrap();
    assert!(errors.len() >= 2, "{errors:?}");
    assert!(errors.iter().all(|e| e["code"] == "1401"), "{errors:?}");
    let messages: Vec<&str> = errors
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("no_such_column")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("definition.fields[2].validation")),
        "{messages:?}"
    );
    // The CLI says the same.
    let cli = dx
        .import_configuration(&bad.to_string())
        .unwrap_err()
        .to_string();
    for m in &messages {
        assert!(cli.contains(m), "{cli}\n{m}");
    }
    let r = call(&app, Method::GET, "entities/countries", cred, None).await;
    assert_eq!(data(&r)["configuration"], before);

    // Another alias in the body than in the path, and bodies that are no configuration.
    let mut renamed = before.clone();
    renamed["tableAlias"] = json!("lands");
    call(
        &app,
        Method::PUT,
        "entities/countries",
        cred,
        Some(&renamed),
    )
    .await
    .assert_error(400, "1401");
    call_raw(&app, Method::PUT, "entities/countries", cred, "{")
        .await
        .assert_error(400, "1401");
    call(
        &app,
        Method::PUT,
        "entities/countries",
        cred,
        Some(&json!({"tableAlias": "countries"})),
    )
    .await
    .assert_error(400, "1401");
    assert!(dx.stored_entity("lands").is_err());
}

/// `GET /configuration` is Spryker's installer `configuration.json` with every entity;
/// `POST` of it changes nothing, of an edited one applies all or nothing.
async fn configuration_json_round_trips(db: TestDb) {
    let (dx, app, creds) = setup(&db).await;
    let cred: &Cred = &creds[0];
    let r = call(&app, Method::GET, "configuration", cred, None).await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    assert!(
        r.header("content-disposition")
            .is_some_and(|h| h.contains("configuration.json")),
        "{r:?}"
    );
    let exported = r.body.clone();
    let all = exported.as_array().unwrap();
    assert_eq!(all.len(), dx.entities().unwrap().len());
    let before = dx.entities().unwrap();

    let r = call_raw(
        &app,
        Method::POST,
        "configuration",
        cred,
        &exported.to_string(),
    )
    .await;
    assert_eq!(data(&r)["imported"].as_array().unwrap().len(), all.len());
    let after = dx.entities().unwrap();
    assert_eq!(
        after.iter().map(|e| &e.config).collect::<Vec<_>>(),
        before.iter().map(|e| &e.config).collect::<Vec<_>>()
    );

    // One good change and one bad entry: nothing is applied.
    let mut edited = exported.clone();
    let stores = edited
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["tableAlias"] == "stores")
        .unwrap();
    stores["isActive"] = json!(false);
    edited.as_array_mut().unwrap().push(
        json!({"tableName": "no_such_table", "tableAlias": "ghosts",
                     "definition": {"identifier": "id", "fields": [
                        {"fieldName": "id", "fieldVisibleName": "id", "type": "integer"}]}}),
    );
    let r = call(&app, Method::POST, "configuration", cred, Some(&edited)).await;
    let message = r.assert_error(400, "1401");
    assert!(message.contains("no_such_table"), "{message}");
    assert!(dx.stored_entity("stores").unwrap().config.is_active);
    // Without the bad entry it applies.
    edited.as_array_mut().unwrap().pop();
    let r = call(&app, Method::POST, "configuration", cred, Some(&edited)).await;
    data(&r);
    assert!(!dx.stored_entity("stores").unwrap().config.is_active);
    call_raw(&app, Method::POST, "configuration", cred, "not json")
        .await
        .assert_error(400, "1401");
}
