//! The PIM → catalog app (`fixtures/apps/pim-catalog`) against the Akeneo test server: installed
//! and run with the commands of docs/pipelines.md as printed, then run again after changes in
//! the PIM, which writes only what changed.

use std::path::Path;
use std::process::Command;

use dynex_test_support::{
    AKENEO_CLIENT_SECRET, AKENEO_MODELS, AKENEO_PASSWORD, AKENEO_VARIANTS_PER_MODEL, AkeneoServer,
    TestDb, akeneo_time, all_rows, backend_tests, open_demo,
};
use serde_json::{Value, json};

use crate::{Run, dynex, finish};

const DOCS: &str = include_str!("../../../../docs/pipelines.md");

/// The `sh` block of docs/pipelines.md marked `<!-- pipelines:pim -->`.
fn documented_commands() -> String {
    let (_, after) = DOCS
        .split_once("<!-- pipelines:pim -->")
        .expect("the marked commands");
    after
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block.to_string())
        .expect("a sh block")
}

/// Runs `script` with `sh -e` in the repository (where `fixtures/apps/pim-catalog` is), with
/// the `dynex` under test first on the `PATH`, the database and key in the environment, and the
/// PIM's secrets in the variables the docs read them from.
fn shell(db: &TestDb, key: &str, script: &str) -> Run {
    let bin = Path::new(env!("CARGO_BIN_EXE_dynex")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    finish(
        Command::new("sh")
            .args(["-e", "-c", script])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .env("PATH", path)
            .env("DYNEX_DATABASE_URL", &db.url)
            .env("DYNEX_SECRET_KEY", key)
            .env("PIM_CLIENT_SECRET", AKENEO_CLIENT_SECRET)
            .env("PIM_PASSWORD", AKENEO_PASSWORD)
            .output()
            .expect("run sh"),
    )
}

/// The rows of `alias` by `field`.
fn by(rows: &[Value], field: &str, value: &str) -> Value {
    rows.iter()
        .find(|r| r[field] == value)
        .unwrap_or_else(|| panic!("no row with {field} = {value}"))
        .clone()
}

/// The summary of `name` among the chain's runs.
fn summary<'a>(chain: &'a Value, name: &str) -> &'a Value {
    chain["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["pipeline"] == name)
        .unwrap_or_else(|| panic!("no run of {name} in {chain}"))
}

fn counts(run: &Value) -> [i64; 5] {
    ["read", "skipped", "inserted", "updated", "unchanged"].map(|k| run[k].as_i64().unwrap())
}

fn the_pim_catalog_app_imports_and_then_writes_only_what_changed(db: TestDb) {
    let dx = open_demo(&db);
    let pim = AkeneoServer::start();
    let before: Vec<usize> = [
        "categories",
        "product-abstracts",
        "product-categories",
        "product-concretes",
        "price-products",
    ]
    .iter()
    .map(|alias| all_rows(&dx, alias).len())
    .collect();

    let key = dynex(&db, &["variable", "new-key"])
        .ok()
        .stdout
        .trim()
        .to_string();
    // The app's README prints the same commands.
    let readme = include_str!("../../../../fixtures/apps/pim-catalog/README.md");
    assert!(readme.contains(&format!("```sh\n{}```", documented_commands())));
    let script = documented_commands().replace("https://pim.example.com", &pim.url());
    let installed = shell(&db, &key, &script).ok();
    for name in [
        "pim-categories",
        "pim-abstracts",
        "pim-abstract-categories",
        "pim-concretes",
        "pim-prices",
    ] {
        assert!(
            installed
                .stdout
                .contains(&format!("pipeline `{name}` added")),
            "{}",
            installed.stdout
        );
    }
    // Added in dependency order, then run in it.
    let added: Vec<&str> = installed
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("pipeline `")?.split('`').next())
        .collect();
    assert_eq!(
        added,
        [
            "pim-categories",
            "pim-abstracts",
            "pim-abstract-categories",
            "pim-concretes",
            "pim-prices"
        ]
    );
    assert!(
        !installed.stdout.contains(AKENEO_PASSWORD) && !installed.stderr.contains(AKENEO_PASSWORD)
    );
    // Every product is read (3 pages of 100), simple products are skipped.
    for line in [
        "run 3 of `pim-concretes` succeeded",
        "  pages read:    3\n  records read:  270\n  skipped:       30\n  inserted:      240\n",
        "  inserted:      219\n",
    ] {
        assert!(
            installed.stdout.contains(line),
            "{line:?} in {}",
            installed.stdout
        );
    }
    let listed = dynex(&db, &["variable", "list"]).ok().stdout;
    assert!(
        !listed.contains(AKENEO_CLIENT_SECRET) && !listed.contains(AKENEO_PASSWORD),
        "{listed}"
    );

    let variants = AKENEO_MODELS * AKENEO_VARIANTS_PER_MODEL;
    let priced = pim
        .catalog()
        .products
        .iter()
        .filter(|p| !p["parent"].is_null() && p["values"]["price"].is_array())
        .count();
    assert_eq!(priced, 219);
    let categories = all_rows(&dx, "categories");
    let abstracts = all_rows(&dx, "product-abstracts");
    let assignments = all_rows(&dx, "product-categories");
    let concretes = all_rows(&dx, "product-concretes");
    let prices = all_rows(&dx, "price-products");
    assert_eq!(
        [
            categories.len(),
            abstracts.len(),
            assignments.len(),
            concretes.len(),
            prices.len()
        ],
        [
            before[0] + 11,
            before[1] + AKENEO_MODELS,
            before[2] + AKENEO_MODELS,
            before[3] + variants,
            before[4] + priced
        ]
    );

    // A model: its values in the channel and locale of the variables, its times as stored.
    let model = by(&abstracts, "sku", "model_007");
    let attributes: Value = serde_json::from_str(model["attributes"].as_str().unwrap()).unwrap();
    assert_eq!(
        attributes,
        json!({
            "name": "Notebook 7",
            "description": "Notebook 7 für den Shop",
            "brand": "Tuxedo",
        })
    );
    assert_eq!(model["updated_at"], "2026-01-10 09:17:00");
    // Its category, and a variant linked to it with the model's name and its own values.
    let compact = by(&categories, "category_key", "cameras_compact");
    let assignment = assignments
        .iter()
        .find(|a| a["fk_product_abstract"] == model["id_product_abstract"])
        .expect("model_007 has a category");
    assert_eq!(assignment["fk_category"], compact["id_category"]);
    let variant = by(&concretes, "sku", "M007-RED-M");
    assert_eq!(variant["fk_product_abstract"], model["id_product_abstract"]);
    assert_eq!(variant["is_active"], true);
    let values: Value = serde_json::from_str(variant["attributes"].as_str().unwrap()).unwrap();
    assert_eq!(values["name"], "Notebook 7");
    assert_eq!(
        (&values["color"], &values["size"]),
        (&json!("red"), &json!("m"))
    );
    assert!(values.get("price").is_none() && values.get("sku").is_none());
    assert_eq!(by(&concretes, "sku", "M007-BLACK-L")["is_active"], false);
    // Its price: EUR 27.19 as 2719 cents, the DEFAULT price of the store DE.
    let price = prices
        .iter()
        .find(|p| p["fk_product"] == variant["id_product"])
        .expect("a price");
    assert_eq!(
        (
            &price["gross_price"],
            &price["currency"],
            &price["fk_store"],
            &price["fk_price_type"]
        ),
        (&json!(2719), &json!("EUR"), &json!(1), &json!(1))
    );
    // A variant without a price in the PIM has none; simple products are no concretes.
    let unpriced = by(&concretes, "sku", "M002-BLACK-M");
    assert!(
        !prices
            .iter()
            .any(|p| p["fk_product"] == unpriced["id_product"])
    );
    assert!(!concretes.iter().any(|c| c["sku"] == "SIMPLE-001"));

    // The PIM changes: two variants' prices, one model's German name.
    let later = akeneo_time(20_000);
    pim.edit(|catalog| {
        for (sku, amount) in [("M003-RED-S", "99.99"), ("M010-BLACK-S", "55.55")] {
            let product = catalog
                .products
                .iter_mut()
                .find(|p| p["values"]["sku"][0]["data"] == sku)
                .unwrap();
            product["values"]["price"][0]["data"][0]["amount"] = json!(amount);
            product["updated"] = json!(later);
        }
        let model = catalog
            .models
            .iter_mut()
            .find(|m| m["code"] == "model_020")
            .unwrap();
        model["values"]["name"][1]["data"] = json!("Telefon 20 (neu)");
        model["updated"] = json!(later);
    });
    let requests_before = pim.requests().len();
    let second = crate::dynex_env(
        &db,
        &[
            "pipeline",
            "run",
            "--with-dependencies",
            "pim-prices",
            "--json",
        ],
        &[("DYNEX_SECRET_KEY", &key)],
        None,
    )
    .ok()
    .json();
    assert_eq!(second["notRun"], json!([]), "{second}");
    // [read, skipped, inserted, updated, unchanged]
    assert_eq!(
        counts(summary(&second, "pim-categories")),
        [11, 0, 0, 0, 11]
    );
    // model_040 is at the cursor (read again, unchanged), model_020 changed.
    assert_eq!(counts(summary(&second, "pim-abstracts")), [2, 0, 0, 1, 1]);
    assert_eq!(
        counts(summary(&second, "pim-abstract-categories")),
        [2, 0, 0, 0, 2]
    );
    // The two changed variants, the 6 of model_020 and the simple product at the cursor.
    assert_eq!(counts(summary(&second, "pim-concretes")), [9, 1, 0, 8, 0]);
    // The same records: two new prices, the 6 of model_020 as they were.
    assert_eq!(counts(summary(&second, "pim-prices")), [9, 1, 0, 2, 6]);

    // Only the changed product requests carried the filter from the stored cursor.
    let searched: Vec<String> = pim.requests()[requests_before..]
        .iter()
        .filter(|r| r.contains("/product-models?"))
        .cloned()
        .collect();
    assert!(
        searched.iter().all(|r| r.contains(
            "search=%7B%22updated%22%3A%5B%7B%22operator%22%3A%22%3E%22%2C%22value%22%3A%222026-01-10+09%3A49%3A59%22%7D%5D%7D"
        )),
        "{searched:?}"
    );

    // What changed is written, what did not is untouched.
    let abstracts_after = all_rows(&dx, "product-abstracts");
    let renamed = by(&abstracts_after, "sku", "model_020");
    assert!(
        renamed["attributes"]
            .as_str()
            .unwrap()
            .contains("Telefon 20 (neu)")
    );
    let untouched = |before: &[Value], after: &[Value], changed: &dyn Fn(&Value) -> bool| {
        let keep = |rows: &[Value]| -> Vec<Value> {
            rows.iter().filter(|r| !changed(r)).cloned().collect()
        };
        assert_eq!(keep(before), keep(after));
    };
    untouched(&abstracts, &abstracts_after, &|r| r["sku"] == "model_020");
    let concretes_after = all_rows(&dx, "product-concretes");
    untouched(&concretes, &concretes_after, &|r| {
        let sku = r["sku"].as_str().unwrap();
        sku.starts_with("M020-") || sku == "M003-RED-S" || sku == "M010-BLACK-S"
    });
    let changed_ids: Vec<Value> = concretes_after
        .iter()
        .filter(|c| c["sku"] == "M003-RED-S" || c["sku"] == "M010-BLACK-S")
        .map(|c| c["id_product"].clone())
        .collect();
    let prices_after = all_rows(&dx, "price-products");
    untouched(&prices, &prices_after, &|p| {
        changed_ids.contains(&p["fk_product"])
    });
    let repriced: Vec<&Value> = prices_after
        .iter()
        .filter(|p| changed_ids.contains(&p["fk_product"]))
        .map(|p| &p["gross_price"])
        .collect();
    assert_eq!(repriced, [&json!(9999), &json!(5555)]);

    // The documented full run reads everything again and writes nothing.
    let full = crate::dynex_env(
        &db,
        &[
            "pipeline",
            "run",
            "--with-dependencies",
            "--full",
            "pim-prices",
            "--json",
        ],
        &[("DYNEX_SECRET_KEY", &key)],
        None,
    )
    .ok()
    .json();
    assert!(DOCS.contains("`dynex pipeline run --with-dependencies --full pim-prices`"));
    assert_eq!(counts(summary(&full, "pim-abstracts")), [40, 0, 0, 0, 40]);
    assert_eq!(
        counts(summary(&full, "pim-concretes")),
        [270, 30, 0, 0, 240]
    );
    assert_eq!(counts(summary(&full, "pim-prices")), [270, 51, 0, 0, 219]);
    assert_eq!(all_rows(&dx, "product-concretes"), concretes_after);
}

backend_tests!(the_pim_catalog_app_imports_and_then_writes_only_what_changed);

/// A folder with a broken definition adds none of its definitions, and names the file.
fn an_app_folder_is_added_whole_or_not_at_all(db: TestDb) {
    let _dx = open_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let app = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/apps/pim-catalog"
    ));
    for entry in std::fs::read_dir(app).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    let folder = dir.path().to_str().unwrap();
    // Without the variables, every definition names what is missing.
    let refused = dynex(&db, &["pipeline", "add", folder]).failed(3);
    assert!(
        refused.stderr.contains("pim-abstracts.yml: ") && refused.stderr.contains("AKENEO_URL"),
        "{}",
        refused.stderr
    );
    for (name, value) in [
        ("AKENEO_URL", "https://pim.example.com"),
        ("AKENEO_CLIENT_ID", "c"),
        ("AKENEO_CLIENT_SECRET", "s"),
        ("AKENEO_USERNAME", "u"),
        ("AKENEO_PASSWORD", "p"),
        ("AKENEO_CHANNEL", "ecommerce"),
        ("AKENEO_LOCALE", "en_US"),
    ] {
        crate::dynex_with_stdin(&db, &["variable", "set", name], value).ok();
    }
    // One broken file: nothing is saved, the problem is named with its file.
    let prices = dir.path().join("pim-prices.yml");
    let text = std::fs::read_to_string(&prices).unwrap();
    std::fs::write(
        &prices,
        text.replace("entity: price-products", "entity: prizes"),
    )
    .unwrap();
    let refused = dynex(&db, &["pipeline", "add", folder]).failed(3);
    assert!(
        refused
            .stderr
            .contains("pim-prices.yml: target.entity.entity: `prizes` is not an entity"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        dynex(&db, &["pipeline", "list", "--json"]).ok().json(),
        json!([])
    );
    std::fs::write(&prices, text).unwrap();
    let checked = dynex(&db, &["pipeline", "check", folder, "--json"])
        .ok()
        .json();
    assert_eq!(checked.as_array().unwrap().len(), 5, "{checked}");
    assert_eq!(
        dynex(&db, &["pipeline", "list", "--json"]).ok().json(),
        json!([])
    );
    let added = dynex(&db, &["pipeline", "add", folder, "--json"])
        .ok()
        .json();
    assert_eq!(
        added[0],
        json!({"name": "pim-categories", "saved": "created"})
    );
    assert_eq!(added[4], json!({"name": "pim-prices", "saved": "created"}));
    let again = dynex(&db, &["pipeline", "add", folder]).ok().stdout;
    assert_eq!(again.matches(" unchanged\n").count(), 5, "{again}");
    // An empty folder is refused.
    let empty = tempfile::tempdir().unwrap();
    let refused = dynex(&db, &["pipeline", "add", empty.path().to_str().unwrap()]).failed(3);
    assert!(
        refused.stderr.contains("holds no pipeline definition"),
        "{}",
        refused.stderr
    );
}

backend_tests!(an_app_folder_is_added_whole_or_not_at_all);
