//! `/openapi.json` and `/docs`: the description is OpenAPI 3.1.0 and passes the official schema,
//! follows the configuration at the next request (inactive, deletable, added entities, the
//! route prefix), carries the validation rules, and real answers of the server on every backend
//! match it; the interactive docs are served from the binary with nothing external.

use actix_web::http::Method;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::test::TestRequest;
use dynex_core::Dynex;
use dynex_test_support::{TestDb, async_backend_tests, reconfigure};
use serde_json::{Value, json};

use crate::support::{NON_TRANSACTIONAL, PREFIX, Reply, TestApp, demo};

async_backend_tests!(
    the_description_is_openapi_3_1_and_public,
    paths_follow_the_configuration_at_the_next_request,
    another_servers_change_shows_within_a_second,
    the_route_prefix_is_described,
    schemas_carry_the_rules,
    answers_match_the_description,
    docs_are_served_from_the_binary,
);

/// The official OpenAPI 3.1 schema, vendored by `dynex-openapi` for its tests.
const OAS_SCHEMA: &str = include_str!("../../../../crates/openapi/testdata/oas-3.1-schema.json");

async fn description(app: &TestApp) -> Value {
    let r = app.send(TestRequest::get().uri("/openapi.json")).await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    r.body
}

fn methods(doc: &Value, path: &str) -> Vec<String> {
    doc["paths"][path]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Served without credentials, as JSON, and valid against the OpenAPI 3.1 schema.
async fn the_description_is_openapi_3_1_and_public(db: TestDb) {
    let (dx, app, _) = demo(&db).await;
    let doc = description(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let meta: Value = serde_json::from_str(OAS_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&meta).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // Every active entity, and nothing else under the prefix.
    let snapshot = dx.snapshot();
    let mut described: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter_map(|p| p.strip_prefix(&format!("/{PREFIX}/")))
        .filter(|p| !p.ends_with("/{id}"))
        .map(str::to_string)
        .collect();
    described.sort();
    let served: Vec<String> = snapshot
        .catalog
        .entities()
        .iter()
        .map(|e| e.alias().to_string())
        .collect();
    assert_eq!(described, served);
    // The error codes are the server's table.
    let codes = &doc["components"]["schemas"]["dynex.ErrorCode"]["enum"];
    let table: Vec<&str> = dynex_wire::Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(codes, &json!(table));
    // `dynex openapi` prints the same document.
    assert_eq!(
        doc,
        dynex_server::openapi_document(
            &snapshot.catalog,
            &dynex_server::AppConfig::default(),
            dx.page_limits(),
            None
        )
    );
}

/// An inactive entity is absent, a deletable one has DELETE, and an entity added through the
/// configuration appears: each at the next request.
async fn paths_follow_the_configuration_at_the_next_request(db: TestDb) {
    let (dx, app, _) = demo(&db).await;
    let countries = format!("/{PREFIX}/countries");
    let countries_one = format!("{countries}/{{id}}");
    let doc = description(&app).await;
    assert_eq!(methods(&doc, &countries), ["get", "post", "patch", "put"]);
    assert_eq!(methods(&doc, &countries_one), ["get", "patch", "put"]);
    assert_eq!(
        methods(&doc, &format!("/{PREFIX}/stock-products/{{id}}")),
        ["get", "patch", "put", "delete"],
        "stock-products is deletable"
    );

    reconfigure(&dx, "countries", |c| {
        c["definition"]["isDeletable"] = json!(true);
    });
    let doc = description(&app).await;
    assert_eq!(
        methods(&doc, &countries),
        ["get", "post", "patch", "put", "delete"]
    );
    assert_eq!(
        methods(&doc, &countries_one),
        ["get", "patch", "put", "delete"]
    );

    dx.set_entity_active("countries", false).unwrap();
    let doc = description(&app).await;
    assert!(doc["paths"][&countries].is_null());
    assert!(doc["paths"][&countries_one].is_null());
    assert!(doc["components"]["schemas"]["countries"].is_null());
    assert!(
        !doc["components"]["securitySchemes"]["oauth2"]["flows"]["password"]["scopes"]
            .as_object()
            .unwrap()
            .contains_key("dynamic-entity:countries:read")
    );

    dx.remove_entity("stores").unwrap();
    assert!(description(&app).await["paths"][&format!("/{PREFIX}/stores")].is_null());
    dx.add_entity("spy_store", Some("shops"), true).unwrap();
    let doc = description(&app).await;
    assert_eq!(
        methods(&doc, &format!("/{PREFIX}/shops")),
        ["get", "post", "patch", "put"]
    );
    let shop = &doc["components"]["schemas"]["shops"]["properties"];
    assert!(
        shop["id_store"].is_object() && shop["name"].is_object(),
        "{shop}"
    );
}

/// A change made through another handle (a CLI, another server) shows in the description as
/// soon as this server's watcher swaps its snapshot.
async fn another_servers_change_shows_within_a_second(db: TestDb) {
    let (first, _, _) = demo(&db).await;
    let second = Dynex::open(&db.url).expect("open a second handle");
    let app = TestApp::new(second).await;
    let path = format!("/{PREFIX}/countries");
    assert!(description(&app).await["paths"][&path].is_object());
    first.set_entity_active("countries", false).unwrap();
    let started = std::time::Instant::now();
    loop {
        if description(&app).await["paths"][&path].is_null() {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "the description still has {path} a second later"
        );
        actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn the_route_prefix_is_described(db: TestDb) {
    let (dx, _, _) = demo(&db).await;
    let app = TestApp::with_config(
        dx,
        dynex_server::AppConfig {
            route_prefix: "/api/v2/".into(),
            ..dynex_server::AppConfig::default()
        },
    )
    .await;
    let doc = description(&app).await;
    assert!(doc["paths"]["/api/v2/countries/{id}"]["get"].is_object());
    assert!(doc["paths"][&format!("/{PREFIX}/countries")].is_null());
}

async fn schemas_carry_the_rules(db: TestDb) {
    let (_, app, _) = demo(&db).await;
    let doc = description(&app).await;
    let schemas = &doc["components"]["schemas"];
    let create = &schemas["countries.create"];
    assert_eq!(create["required"], json!(["iso2_code", "name"]));
    assert_eq!(create["additionalProperties"], false);
    let iso2 = &create["properties"]["iso2_code"];
    assert_eq!(iso2["type"], "string");
    assert_eq!(iso2["minLength"], 2);
    assert_eq!(iso2["maxLength"], 2);
    assert_eq!(iso2["description"], "ISO 3166-1 alpha-2 country code.");
    assert_eq!(
        create["properties"]["iso3_code"]["type"],
        json!(["string", "null"])
    );
    assert!(create["properties"].get("id_country").is_none());
    assert_eq!(
        create["properties"]["countryTaxRates"]["items"]["$ref"],
        "#/components/schemas/countries.countryTaxRates.create"
    );
    let row = &schemas["countries"]["properties"];
    assert_eq!(row["id_country"]["readOnly"], true);
    assert_eq!(row["id_country"]["type"], "integer");
    let rate = &schemas["tax-rates.create"]["properties"]["rate"];
    assert_eq!(rate["type"], "string");
    assert_eq!(rate["x-precision"], 8);
    assert_eq!(rate["x-scale"], 2);
    assert_eq!(schemas["tax-rates"]["properties"]["rate"]["type"], "string");
    let patch = &schemas["countries.update"];
    assert!(patch.get("required").is_none());
    assert!(patch["anyOf"].is_array(), "the identifier names the row");
    // Relations: readable ones in `include`, editable ones in writes.
    let get = &doc["paths"][&format!("/{PREFIX}/product-abstracts")]["get"];
    let include = get["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "include")
        .unwrap();
    let chains = include["schema"]["items"]["enum"].as_array().unwrap();
    for chain in [
        "productAbstractProducts",
        "productAbstractCategories",
        "productAbstractProducts.productPrices",
    ] {
        assert!(chains.contains(&json!(chain)), "{chain}: {chains:?}");
    }
    let write = &schemas["product-abstracts.create"]["properties"];
    assert!(write["productAbstractProducts"].is_object());
    assert!(
        write.get("productAbstractCategories").is_none(),
        "not editable"
    );
}

/// The answer's status is documented for the operation and its JSON body fits the schema.
pub(crate) fn conforms(doc: &Value, path: &str, method: &str, reply: &Reply) {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not described");
    let status = reply.status.as_u16().to_string();
    let mut response = &op["responses"][&status];
    assert!(
        response.is_object(),
        "{method} {path}: status {status} is not described: {reply:?}"
    );
    if let Some(r) = response["$ref"].as_str() {
        response = doc.pointer(r.trim_start_matches('#')).unwrap();
    }
    let Some(ct) = reply.content_type.as_deref() else {
        assert!(
            response.get("content").is_none() || reply.raw.is_empty(),
            "{method} {path}: a body without a content type"
        );
        return;
    };
    let media = ct.split(';').next().unwrap().trim();
    let content = &response["content"][media];
    assert!(
        content.is_object(),
        "{method} {path} {status}: {media} is not described"
    );
    if media != "application/json" {
        return;
    }
    let mut schema = content["schema"].clone();
    schema["components"] = doc["components"].clone();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{method} {path} {status}: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(&reply.body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status} does not fit its schema: {errors:#?}\n{}",
        reply.raw
    );
}

/// A request body the server accepted fits the operation's request schema.
fn request_fits(doc: &Value, path: &str, method: &str, body: &Value) {
    let mut schema =
        doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"].clone();
    assert!(schema.is_object(), "{method} {path} takes no JSON body");
    schema["components"] = doc["components"].clone();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{method} {path}: {body} {errors:#?}");
}

/// Reads of every entity (with every described `include` chain), writes, their errors, the
/// token endpoint and the admin API answer as described, on every backend.
async fn answers_match_the_description(db: TestDb) {
    let (dx, app, key) = demo(&db).await;
    let doc = description(&app).await;
    for entity in dx.snapshot().catalog.entities() {
        let alias = entity.alias();
        let collection = format!("/{PREFIX}/{alias}");
        let one = format!("{collection}/{{id}}");
        let get = &doc["paths"][&collection]["get"];
        let includes: Vec<String> = get["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "include")
            .map(|p| {
                p["schema"]["items"]["enum"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let mut query = "page[limit]=1000".to_string();
        if !includes.is_empty() {
            query.push_str(&format!("&include={}", includes.join(",")));
        }
        let r = app.api(&format!("{alias}?{query}"), &key).await;
        conforms(&doc, &collection, "get", &r);
        let rows = r.rows().clone();
        if let Some(first) = rows.first() {
            let id = &first[&entity.identifier().field_visible_name];
            let r = app.api(&format!("{alias}/{id}"), &key).await;
            conforms(&doc, &one, "get", &r);
        }
        let r = app.api(&format!("{alias}/999999"), &key).await;
        conforms(&doc, &one, "get", &r);
        let r = app.api(&format!("{alias}?page[limit]=0"), &key).await;
        conforms(&doc, &collection, "get", &r);
        let r = app
            .send(TestRequest::get().uri(&format!("/{PREFIX}/{alias}?page[limit]=1")))
            .await;
        conforms(&doc, &collection, "get", &r);
    }
    let countries = format!("/{PREFIX}/countries");
    let countries_one = format!("{countries}/{{id}}");
    let r = app
        .send(
            TestRequest::get()
                .uri(&format!("{countries}?filter[countries.iso2_code]=AT"))
                .insert_header(("X-Api-Key", key.as_str()))
                .insert_header(("Accept", "text/csv")),
        )
        .await;
    conforms(&doc, &countries, "get", &r);

    // Writes: success, refusals, the per-row mode, CSV bodies.
    let body = json!({"data": [{"iso2_code": "WA", "name": "Wakanda",
            "countryTaxRates": [{"name": "Wakanda VAT", "rate": "16.00"}]}]});
    request_fits(&doc, &countries, "post", &body);
    let r = app.post("countries", &key, &body).await;
    conforms(&doc, &countries, "post", &r);
    let id = r.written_rows(201)[0]["id_country"].clone();
    let r = app
        .post("countries", &key, &json!({"data": [{"iso2_code": "W"}]}))
        .await;
    conforms(&doc, &countries, "post", &r);
    let r = app
        .non_transactional(
            Method::POST,
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "WB", "name": "B"}, {"name": "no code"}]}),
        )
        .await;
    conforms(&doc, &countries, "post", &r);
    let r = app
        .request(
            Method::POST,
            "countries",
            &key,
            "not json",
            &[NON_TRANSACTIONAL],
        )
        .await;
    conforms(&doc, &countries, "post", &r);
    let body = json!({"data": {"name": "Wakanda Republic", "iso3_code": null}});
    request_fits(&doc, &countries_one, "patch", &body);
    let r = app.patch(&format!("countries/{id}"), &key, &body).await;
    conforms(&doc, &countries_one, "patch", &r);
    assert_eq!(r.status.as_u16(), 200);
    let r = app
        .patch(
            "countries/999999",
            &key,
            &json!({"data": {"name": "Atlantis"}}),
        )
        .await;
    conforms(&doc, &countries_one, "patch", &r);
    let r = app
        .non_transactional(
            Method::PATCH,
            "countries/999999",
            &key,
            &json!({"data": {"name": "Atlantis"}}),
        )
        .await;
    conforms(&doc, &countries_one, "patch", &r);
    let body = json!({"data": [{"identifier": id, "name": "W"}]});
    request_fits(&doc, &countries, "patch", &body);
    let r = app.patch("countries", &key, &body).await;
    conforms(&doc, &countries, "patch", &r);
    assert_eq!(r.status.as_u16(), 200);
    let body = json!({"data": {"iso2_code": "WA", "name": "Wakanda"}});
    request_fits(&doc, &countries_one, "put", &body);
    let r = app.put(&format!("countries/{id}"), &key, &body).await;
    conforms(&doc, &countries_one, "put", &r);
    assert_eq!(r.status.as_u16(), 200);
    let body = json!({"data": [{"fk_product": 1, "fk_stock": 2, "quantity": "3.5",
            "is_never_out_of_stock": false}]});
    request_fits(&doc, &format!("/{PREFIX}/stock-products"), "put", &body);
    let r = app.put("stock-products", &key, &body).await;
    conforms(&doc, &format!("/{PREFIX}/stock-products"), "put", &r);
    let r = app
        .put(
            "countries",
            &key,
            &json!({"data": [{"id_country": 999999, "iso2_code": "QQ", "name": "Q"}]}),
        )
        .await;
    conforms(&doc, &countries, "put", &r);
    let r = app
        .post(
            "countries",
            &key,
            &json!({"data": [{"iso2_code": "WC", "name": "C", "countryTaxRates": "x"}]}),
        )
        .await;
    conforms(&doc, &countries, "post", &r);
    let r = app
        .post(
            "product-abstracts",
            &key,
            &json!({"data": [{"sku": "x", "attributes": "{}",
                    "productAbstractCategories": [{"fk_category": 1}]}]}),
        )
        .await;
    conforms(&doc, &format!("/{PREFIX}/product-abstracts"), "post", &r);
    for (body, transactional) in [
        ("iso2_code,name\nWD,Dlandia\n", true),
        ("iso2_code,name\nWE,Elandia\nWEX,\n", true),
        ("iso2_code,name\nWF,Flandia\nWFX,\n", false),
    ] {
        let mut headers = vec![("Content-Type", "text/csv")];
        if !transactional {
            headers.push(NON_TRANSACTIONAL);
        }
        let r = app
            .request(Method::POST, "countries", &key, body, &headers)
            .await;
        conforms(&doc, &countries, "post", &r);
    }

    // Deletes.
    let stock = format!("/{PREFIX}/stock-products");
    let r = app.delete("stock-products/1", &key).await;
    conforms(&doc, &format!("{stock}/{{id}}"), "delete", &r);
    let r = app.delete("stock-products", &key).await;
    conforms(&doc, &stock, "delete", &r);
    let r = app
        .delete("stock-products?filter[stock-products.fk_stock]=1", &key)
        .await;
    conforms(&doc, &stock, "delete", &r);
    let r = app.delete("stock-products/999999", &key).await;
    conforms(&doc, &format!("{stock}/{{id}}"), "delete", &r);

    // Credentials.
    let r = app
        .get(&format!("/{PREFIX}/countries"), "dnx_not-a-key")
        .await;
    conforms(&doc, &countries, "get", &r);
    let r = app
        .send(
            TestRequest::get()
                .uri(&format!("/{PREFIX}/countries"))
                .insert_header(("Authorization", "Bearer nope")),
        )
        .await;
    conforms(&doc, &countries, "get", &r);
    let r = app
        .form(
            "/token",
            &[
                ("grant_type", "password"),
                ("username", "nobody"),
                ("password", "x"),
            ],
            &[],
        )
        .await;
    conforms(&doc, "/token", "post", &r);
    let r = app.form("/token", &[("grant_type", "magic")], &[]).await;
    conforms(&doc, "/token", "post", &r);
    dx.add_user(
        "ops",
        "purple monkey dishwasher 42",
        dynex_auth::Role::Admin,
    )
    .unwrap();
    let r = app
        .form(
            "/token",
            &[
                ("grant_type", "password"),
                ("username", "ops"),
                ("password", "purple monkey dishwasher 42"),
            ],
            &[],
        )
        .await;
    conforms(&doc, "/token", "post", &r);
    let refresh = r.body["refresh_token"].as_str().unwrap().to_string();
    let r = app
        .form("/token/revoke", &[("token", refresh.as_str())], &[])
        .await;
    conforms(&doc, "/token/revoke", "post", &r);

    // Admin API and the service routes.
    let admin = admin_key(&dx);
    for path in ["/admin/api/users", "/admin/api/clients", "/admin/api/keys"] {
        let r = app.get(path, &admin).await;
        conforms(&doc, path, "get", &r);
        let r = app.get(path, &key).await;
        conforms(&doc, path, "get", &r);
    }
    let r = app
        .send(
            TestRequest::post()
                .uri("/admin/api/clients")
                .insert_header(("X-Api-Key", admin.as_str()))
                .insert_header((CONTENT_TYPE, "application/json"))
                .set_payload(r#"{"client_id": "erp", "scopes": ["dynamic-entity:read"]}"#),
        )
        .await;
    conforms(&doc, "/admin/api/clients", "post", &r);
    let r = app
        .send(
            TestRequest::delete()
                .uri("/admin/api/users/nobody")
                .insert_header(("X-Api-Key", admin.as_str())),
        )
        .await;
    conforms(&doc, "/admin/api/users/{name}", "delete", &r);
    jobs_answer_as_described(&dx, &app, &doc, &admin).await;
    for path in ["/health/live", "/health/ready", "/openapi.json"] {
        let r = app.send(TestRequest::get().uri(path)).await;
        conforms(&doc, path, "get", &r);
    }
}

/// The job routes: imports started, followed and their rejects downloaded, exports, refusals.
async fn jobs_answer_as_described(dx: &Dynex, app: &TestApp, doc: &Value, admin_only: &str) {
    let key = crate::support::scoped_key(
        dx,
        "openapi-jobs",
        "admin dynamic-entity:read dynamic-entity:write",
    );
    let list = "/admin/api/jobs";
    let show = "/admin/api/jobs/{id}";
    let rejects = "/admin/api/jobs/{id}/rejects";
    let import = "/admin/api/jobs/import";
    let export = "/admin/api/jobs/export";
    let post = |uri: &str, key: &str, content_type: &str, body: &str| {
        TestRequest::post()
            .uri(uri)
            .insert_header(("X-Api-Key", key))
            .insert_header((CONTENT_TYPE, content_type))
            .set_payload(body.to_string())
    };
    let r = app.get(list, &key).await;
    conforms(doc, list, "get", &r);
    let r = app.get("/admin/api/jobs?limit=0", &key).await;
    assert_eq!(r.status.as_u16(), 400, "{r:?}");
    conforms(doc, list, "get", &r);

    let csv = "iso2_code,name\nWG,Glandia\nWGX,\n";
    let query = "entity=countries&mode=insert&dryRun=false&atomic=false&maxErrors=10\
                 &fileName=glandia.csv";
    let r = app
        .send(post(&format!("{import}?{query}"), &key, "text/csv", csv))
        .await;
    assert_eq!(r.status.as_u16(), 202, "{r:?}");
    conforms(doc, import, "post", &r);
    let id = r.body["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.header("location"), Some(format!("jobs/{id}")));
    for (query, status) in [
        ("entity=nope", 404),
        ("entity=countries&mode=merge", 400),
        ("entity=countries&dryRun=maybe", 400),
        ("mode=insert", 400),
    ] {
        let r = app
            .send(post(&format!("{import}?{query}"), &key, "text/csv", csv))
            .await;
        assert_eq!(r.status.as_u16(), status, "{query}: {r:?}");
        conforms(doc, import, "post", &r);
    }
    let r = app
        .send(post(
            &format!("{import}?entity=countries"),
            admin_only,
            "text/csv",
            csv,
        ))
        .await;
    assert_eq!(r.status.as_u16(), 403, "{r:?}");
    conforms(doc, import, "post", &r);

    // Followed until it ends, each answer as described.
    let mut job = Value::Null;
    for _ in 0..300 {
        let r = app.get(&format!("{list}/{id}"), &key).await;
        conforms(doc, show, "get", &r);
        job = r.body["data"].clone();
        if job["state"] != "running" {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["summary"]["rejected"], 1, "{job}");
    let r = app.get(&format!("{list}/{id}/rejects"), &key).await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    conforms(doc, rejects, "get", &r);
    assert!(r.raw.starts_with("line,code,field,message,"), "{}", r.raw);
    assert!(r.header("content-disposition").is_some());
    for (uri, path) in [("unknown", show), ("unknown/rejects", rejects)] {
        let r = app.get(&format!("{list}/{uri}"), &key).await;
        assert_eq!(r.status.as_u16(), 404, "{r:?}");
        conforms(doc, path, "get", &r);
    }

    let body = json!({"entity": "countries", "sort": "-name", "fields": ["iso2_code", "name"],
        "filters": {"filter[countries.iso2_code]": {"in": ["AT", "WG"]}}});
    request_fits(doc, export, "post", &body);
    let r = app
        .send(post(export, &key, "application/json", &body.to_string()))
        .await;
    assert_eq!(r.status.as_u16(), 200, "{r:?}");
    conforms(doc, export, "post", &r);
    assert!(r.header("content-disposition").is_some());
    let exported = r.header("x-dynex-job").expect("the job's id");
    let r = app.get(&format!("{list}/{exported}"), &key).await;
    conforms(doc, show, "get", &r);
    for (body, status) in [
        (json!({"entity": "nope"}), 404),
        (json!({"entity": "countries", "what": 1}), 400),
        (json!({"entity": "countries", "sort": "colour"}), 400),
        (json!({"entity": "countries", "fields": ["colour"]}), 400),
        (
            json!({"entity": "countries", "filters": {"filter[countries.colour]": "red"}}),
            400,
        ),
    ] {
        let r = app
            .send(post(export, &key, "application/json", &body.to_string()))
            .await;
        assert_eq!(r.status.as_u16(), status, "{body}: {r:?}");
        conforms(doc, export, "post", &r);
    }
    let r = app
        .send(post(export, &key, "application/json", "not json"))
        .await;
    assert_eq!(r.status.as_u16(), 400, "{r:?}");
    conforms(doc, export, "post", &r);
    let r = app.get(list, &key).await;
    assert_eq!(r.body["data"].as_array().map(Vec::len), Some(2), "{r:?}");
    conforms(doc, list, "get", &r);
}

fn admin_key(dx: &Dynex) -> String {
    crate::support::scoped_key(dx, "openapi-admin", "admin")
}

/// `/docs` is an HTML page of Swagger UI on `openapi.json`; its scripts and styles come from
/// the binary with long cache lifetimes, and it names no other site.
async fn docs_are_served_from_the_binary(db: TestDb) {
    let (_, app, _) = demo(&db).await;
    let r = app.send(TestRequest::get().uri("/docs")).await;
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(r.content_type.as_deref(), Some("text/html; charset=utf-8"));
    assert!(r.raw.contains("<div id=\"swagger-ui\">"), "{}", r.raw);
    assert!(
        !r.raw.contains("http://") && !r.raw.contains("https://") && !r.raw.contains("//cdn"),
        "no external URL: {}",
        r.raw
    );
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    // Every script and stylesheet of the page is served here.
    let mut assets = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for part in r.raw.split(attribute).skip(1) {
            let url = part.split('"').next().unwrap();
            if !url.starts_with("data:") && !url.ends_with(".json") {
                assets.push(url.to_string());
            }
        }
    }
    assets.sort();
    assert_eq!(assets.len(), 3, "{assets:?}");
    for url in &assets {
        assert!(url.starts_with("docs/"), "relative to /docs: {url}");
        let r = app.send(TestRequest::get().uri(&format!("/{url}"))).await;
        assert_eq!(r.status.as_u16(), 200, "{url}");
        let expected = if url.contains(".css") {
            "text/css; charset=utf-8"
        } else {
            "text/javascript; charset=utf-8"
        };
        assert_eq!(r.content_type.as_deref(), Some(expected), "{url}");
        assert_eq!(
            r.header("cache-control").as_deref(),
            Some("public, max-age=31536000, immutable"),
            "{url}"
        );
        assert!(r.raw.len() > 100, "{url}");
    }
    let init = app
        .send(TestRequest::get().uri("/docs/swagger-initializer.js"))
        .await;
    assert!(init.raw.contains("\"openapi.json\""), "{}", init.raw);
    assert!(init.raw.contains("validatorUrl: null"));
    let r = app.send(TestRequest::get().uri("/docs/")).await;
    assert_eq!(r.status.as_u16(), 308);
    assert_eq!(r.header("location").as_deref(), Some("../docs"));
    let r = app.send(TestRequest::get().uri("/docs/nope.js")).await;
    r.assert_error(404, "007");
}
