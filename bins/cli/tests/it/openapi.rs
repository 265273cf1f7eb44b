//! `dynex openapi`: the description `dynex-server` serves, printed or written to a file, with
//! the server's settings.

use dynex_core::Dynex;
use dynex_test_support::{TestDb, backend_tests, open_demo};
use serde_json::Value;

use crate::dynex;

backend_tests!(
    openapi_prints_the_servers_description,
    openapi_takes_the_servers_settings,
);

fn openapi_prints_the_servers_description(db: TestDb) {
    let _demo = open_demo(&db);
    let printed = dynex(&db, &["openapi"]).ok().json();
    assert_eq!(printed["openapi"], "3.1.0");
    let check = Dynex::open(&db.url).unwrap();
    // The server's test proves that GET /openapi.json is this document of its settings.
    let served = dynex_openapi::describe(
        &check.snapshot().catalog,
        &dynex_openapi::Options::served(
            "dynamic-entity",
            20,
            1000,
            dynex_core::DEFAULT_MAX_BODY_BYTES,
            None,
        ),
    );
    assert_eq!(printed, served, "the document of GET /openapi.json");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    let file = file.to_str().unwrap();
    let summary = dynex(&db, &["openapi", "-o", file, "--json"]).ok().json();
    assert_eq!(summary["file"], file);
    assert_eq!(summary["entities"], 13);
    let written: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(written, printed);
    let text = dynex(&db, &["openapi", "-o", file]).ok().stdout;
    assert!(
        text.starts_with("wrote the OpenAPI 3.1 description"),
        "{text}"
    );

    // It describes the configuration as it is now.
    dynex(&db, &["entity", "disable", "countries"]).ok();
    let printed = dynex(&db, &["openapi"]).ok().json();
    assert!(printed["paths"]["/dynamic-entity/countries"].is_null());
    assert!(printed["paths"]["/dynamic-entity/tax-rates"].is_object());
}

fn openapi_takes_the_servers_settings(db: TestDb) {
    let _demo = open_demo(&db);
    let printed = dynex(
        &db,
        &[
            "openapi",
            "--route-prefix",
            "api/v1",
            "--server-url",
            "https://shop.example/",
            "--page-limit-max",
            "50",
        ],
    )
    .ok()
    .json();
    assert!(printed["paths"]["/api/v1/countries/{id}"].is_object());
    assert_eq!(printed["servers"][0]["url"], "https://shop.example");
    assert_eq!(
        printed["components"]["securitySchemes"]["oauth2"]["flows"]["password"]["tokenUrl"],
        "https://shop.example/token"
    );
    assert_eq!(
        printed["components"]["parameters"]["page.limit"]["schema"]["maximum"],
        50
    );
}
