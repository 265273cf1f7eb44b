//! `dynex import --manifest FILE.yml`: several files ordered parents first by the configured
//! relations (or as listed with `order: manifest`), Spryker's `data_import.yml` form, per-step
//! mode, key and mapping, the global flags on every step, a failing step, the rejects directory,
//! the JSON report, and invalid manifests refused before anything is written. Every test runs
//! the real binary on each backend and reads the rows back.

use std::path::Path;

use dynex_core::Dynex;
use dynex_test_support::{TestDb, all_rows, backend_tests, open_demo, write_file};
use serde_json::{Value, json};

use crate::{Run, dynex};

/// The row of `alias` whose identifier field `id` is `value`, if any.
fn row(dx: &Dynex, alias: &str, id: &str, value: i64) -> Option<Value> {
    all_rows(dx, alias)
        .into_iter()
        .find(|r| r[id] == json!(value))
}

/// `dynex import --manifest MANIFEST args…`.
fn import(db: &TestDb, manifest: &str, args: &[&str]) -> Run {
    let mut all = vec!["import", "--manifest", manifest];
    all.extend_from_slice(args);
    dynex(db, &all)
}

/// Opens the demo catalog with the tax entities' identifiers made creatable, so that files can
/// give the ids that child rows refer to.
fn tax_demo(db: &TestDb) -> Dynex {
    let dx = open_demo(db);
    let mut configs = Vec::new();
    for alias in ["countries", "tax-rates", "tax-sets", "tax-set-taxes"] {
        let mut config = dynex(db, &["entity", "show", alias, "--json"]).ok().json();
        config["definition"]["fields"][0]["isCreatable"] = json!(true);
        configs.push(config);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "tax.json", Value::from(configs).to_string());
    dynex(db, &["entity", "import", &path]).ok();
    dx
}

/// The data of the tax entities: what a test compares before and after a refused manifest.
fn tax_data(dx: &Dynex) -> Vec<Vec<Value>> {
    ["countries", "tax-rates", "tax-sets", "tax-set-taxes"]
        .into_iter()
        .map(|alias| all_rows(dx, alias))
        .collect()
}

/// A step of the JSON report, its timings checked to be numbers and then left out.
fn step(value: &Value) -> Value {
    let mut value = value.clone();
    let object = value.as_object_mut().unwrap();
    for timing in ["seconds", "rows_per_second"] {
        let t = object.remove(timing).expect(timing);
        assert!(t.as_f64().is_some_and(|n| n >= 0.0), "{timing}: {t}");
    }
    // Nothing is skipped unless a run is resumed (tests/it/resume.rs checks that).
    if object.get("skipped") == Some(&serde_json::json!(0)) {
        object.remove("skipped");
    }
    // The first rejected lines: as many as were rejected, ten at most.
    let first = object.remove("first_rejects").expect("first_rejects");
    assert_eq!(
        first.as_array().unwrap().len() as u64,
        object["rejected"].as_u64().unwrap().min(10),
        "{first}"
    );
    value
}

/// A step of the JSON report as it should read (timings left out): `[read, inserted, updated,
/// unchanged, rejected]`.
fn expected(entity: &str, file: &str, mode: &str, [r, i, u, n, x]: [u64; 5]) -> Value {
    json!({"entity": entity, "file": file, "mode": mode, "dry_run": false, "atomic": false,
           "committed": true, "read": r, "inserted": i, "updated": u, "unchanged": n,
           "rejected": x, "stopped_early": false})
}

fn total([r, i, u, n, x]: [u64; 5]) -> Value {
    json!({"read": r, "inserted": i, "updated": u, "unchanged": n, "rejected": x})
}

const COUNTRIES: &str = "id_country,iso2_code,iso3_code,name\n900,WA,WAK,Wakanda\n";
const RATES: &str = "id_tax_rate,fk_country,name,rate\n900,900,Wakanda standard,17.00\n\
                     901,900,Wakanda reduced,7.00\n";
const SETS: &str = "id_tax_set,name\n900,Wakanda taxes\n";
const SET_TAXES: &str = "id_tax_set_tax,fk_tax_set,fk_tax_rate\n900,900,900\n901,900,901\n";

/// Writes the four tax files into `dir`.
fn tax_files(dir: &Path) {
    write_file(dir, "countries.csv", COUNTRIES);
    write_file(dir, "rates.csv", RATES);
    write_file(dir, "sets.csv", SETS);
    write_file(dir, "set-taxes.csv", SET_TAXES);
}

/// Whether the rows of the four tax files are stored.
fn tax_rows_stored(dx: &Dynex) -> bool {
    row(dx, "countries", "id_country", 900).is_some_and(|r| r["name"] == "Wakanda")
        && row(dx, "tax-rates", "id_tax_rate", 901).is_some_and(|r| r["fk_country"] == 900)
        && row(dx, "tax-sets", "id_tax_set", 900).is_some()
        && row(dx, "tax-set-taxes", "id_tax_set_tax", 901)
            .is_some_and(|r| r["fk_tax_set"] == 900 && r["fk_tax_rate"] == 901)
}

fn relations_put_parents_first(db: TestDb) {
    let dx = tax_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    tax_files(dir.path());
    // Children first: the relations countries → tax-rates and tax-sets → tax-set-taxes move
    // the parents up; tax-rates and tax-set-taxes have no relation, so tax-rates stays before.
    let manifest = write_file(
        dir.path(),
        "manifest.yml",
        "# the tax catalog\nimports:\n\
         \x20 - entity: tax-set-taxes\n    file: set-taxes.csv\n\
         \x20 - entity: tax-rates\n    file: rates.csv\n\
         \x20 - entity: countries\n    file: countries.csv\n\
         \x20 - {entity: tax-sets, file: sets.csv}\n",
    );
    let report = import(&db, &manifest, &["--json"]).ok().json();
    let steps: Vec<Value> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(step)
        .collect();
    assert_eq!(
        steps,
        [
            expected("countries", "countries.csv", "insert", [1, 1, 0, 0, 0]),
            expected("tax-rates", "rates.csv", "insert", [2, 2, 0, 0, 0]),
            expected("tax-sets", "sets.csv", "insert", [1, 1, 0, 0, 0]),
            expected("tax-set-taxes", "set-taxes.csv", "insert", [2, 2, 0, 0, 0]),
        ]
    );
    assert_eq!(report["total"], total([6, 6, 0, 0, 0]));
    assert_eq!(
        report.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["steps", "total"]
    );
    assert!(tax_rows_stored(&dx));

    // Again in upsert mode, as text: every row unchanged, one line per step and a total.
    let upsert = write_file(
        dir.path(),
        "upsert.yml",
        "imports:\n\
         \x20 - {entity: tax-rates, file: rates.csv, mode: upsert}\n\
         \x20 - {entity: countries, file: countries.csv, mode: upsert}\n",
    );
    let run = import(&db, &upsert, &[]).ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "1/2 countries <- countries.csv (upsert): read 1, inserted 0, updated 0, \
             unchanged 1, rejected 0",
            "2/2 tax-rates <- rates.csv (upsert): read 2, inserted 0, updated 0, unchanged 2, \
             rejected 0",
            "total: read 3, inserted 0, updated 0, unchanged 3, rejected 0 in 2 file(s)",
        ],
        "{}",
        run.stdout
    );
}

fn manifest_order_is_kept_when_asked(db: TestDb) {
    let dx = tax_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    tax_files(dir.path());
    let manifest = write_file(
        dir.path(),
        "manifest.yml",
        "imports:\n\
         \x20 - {entity: tax-rates, file: rates.csv}\n\
         \x20 - {entity: countries, file: countries.csv}\n\
         order: manifest\n",
    );
    // The rates come first and refer to a country that does not exist yet: refused, exit 5.
    let report = import(&db, &manifest, &["--json"]).failed(5).json();
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps[0]["entity"], "tax-rates");
    assert_eq!(steps[0]["rejected"], 2);
    assert_eq!(steps[1]["entity"], "countries");
    assert_eq!(steps[1]["inserted"], 1);
    assert_eq!(report["total"], total([3, 1, 0, 0, 2]));
    assert!(row(&dx, "countries", "id_country", 900).is_some());
    assert!(row(&dx, "tax-rates", "id_tax_rate", 900).is_none());
}

fn spryker_data_import_yml_is_read_as_it_is(db: TestDb) {
    let dx = tax_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data/import");
    tax_files(&data);
    // `version` and the actions' other keys are Spryker's: left alone. Sources are relative to
    // the manifest's directory.
    let manifest = write_file(
        dir.path(),
        "data_import.yml",
        "version: 0\n\nactions:\n\
         \x20 - data_entity: tax-rates\n    source: data/import/rates.csv\n\
         \x20 - data_entity: countries\n    source: data/import/countries.csv\n\
         \x20 - data_entity: tax-sets\n    source: data/import/sets.csv\n",
    );
    let report = import(&db, &manifest, &["--json"]).ok().json();
    let order: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["entity"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["countries", "tax-rates", "tax-sets"]);
    assert_eq!(report["steps"][0]["file"], "data/import/countries.csv");
    assert_eq!(report["total"], total([4, 4, 0, 0, 0]));
    assert!(row(&dx, "tax-rates", "id_tax_rate", 901).is_some_and(|r| r["fk_country"] == 900));
    assert!(row(&dx, "tax-sets", "id_tax_set", 900).is_some());
}

fn steps_have_their_own_mode_key_and_mapping(db: TestDb) {
    let dx = tax_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    // Countries upserted by their ISO code: Austria renamed, Wakanda created.
    write_file(
        dir.path(),
        "countries.csv",
        "iso2_code,iso3_code,name\nAT,AUT,Österreich\nWA,WAK,Wakanda\n",
    );
    // Tax sets from another system, through a mapping (relative to the manifest).
    write_file(
        dir.path(),
        "sets.csv",
        "Nummer,Bezeichnung,Intern\n900,  Steuern ,x\n",
    );
    write_file(
        dir.path(),
        "maps/sets.yml",
        "columns:\n  Nummer: id_tax_set\n  Bezeichnung: { field: name, trim: true }\n  \
         Intern: ignore\n",
    );
    let manifest = write_file(
        dir.path(),
        "manifest.yml",
        "imports:\n\
         \x20 - entity: countries\n    file: countries.csv\n    mode: upsert\n    key: iso2_code\n\
         \x20 - entity: tax-sets\n    file: sets.csv\n    mapping: maps/sets.yml\n",
    );
    let report = import(&db, &manifest, &["--json"]).ok().json();
    assert_eq!(
        step(&report["steps"][0]),
        expected("countries", "countries.csv", "upsert", [2, 1, 1, 0, 0])
    );
    assert_eq!(
        step(&report["steps"][1]),
        expected("tax-sets", "sets.csv", "insert", [1, 1, 0, 0, 0])
    );
    assert_eq!(
        row(&dx, "countries", "id_country", 2).unwrap()["name"],
        "Österreich"
    );
    assert!(
        all_rows(&dx, "countries")
            .iter()
            .any(|r| r["iso2_code"] == "WA" && r["name"] == "Wakanda")
    );
    assert_eq!(
        row(&dx, "tax-sets", "id_tax_set", 900).unwrap()["name"],
        "Steuern"
    );

    // --key, --mode and --mapping belong in the manifest; ALIAS and FILE do not go with it.
    for extra in [
        &["--key", "iso2_code"][..],
        &["--mode", "upsert"],
        &["--mapping", "maps/sets.yml"],
    ] {
        import(&db, &manifest, extra).failed(2);
    }
    dynex(
        &db,
        &[
            "import",
            "countries",
            "countries.csv",
            "--manifest",
            &manifest,
        ],
    )
    .failed(2);
    dynex(&db, &["import"]).failed(2);
}

fn global_flags_apply_to_every_step(db: TestDb) {
    let dx = tax_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    tax_files(dir.path());
    let manifest = write_file(
        dir.path(),
        "manifest.yml",
        "imports:\n\
         \x20 - {entity: countries, file: countries.csv}\n\
         \x20 - {entity: tax-sets, file: sets.csv}\n",
    );
    let before = tax_data(&dx);
    let report = import(&db, &manifest, &["--dry-run", "--json"]).ok().json();
    for s in report["steps"].as_array().unwrap() {
        assert_eq!(s["dry_run"], true, "{s}");
        assert_eq!(s["committed"], false, "{s}");
        assert_eq!(s["inserted"], 1, "{s}");
    }
    assert_eq!(tax_data(&dx), before, "a dry run writes nothing");

    // --atomic is per file: the countries file with a bad row is rolled back, the sets kept.
    write_file(
        dir.path(),
        "countries.csv",
        "id_country,iso2_code,iso3_code,name\n900,WA,WAK,Wakanda\n901,TOOLONG,XXX,Nope\n",
    );
    let report = import(&db, &manifest, &["--atomic", "--json"])
        .failed(5)
        .json();
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(
        (steps[0]["committed"].clone(), steps[0]["rejected"].clone()),
        (json!(false), json!(1))
    );
    assert_eq!(
        (steps[1]["committed"].clone(), steps[1]["atomic"].clone()),
        (json!(true), json!(true))
    );
    assert!(row(&dx, "countries", "id_country", 900).is_none());
    assert!(row(&dx, "tax-sets", "id_tax_set", 900).is_some());
}

fn a_failing_step_stops_the_run(db: TestDb) {
    let dx = tax_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    tax_files(dir.path());
    // The rates file names a column tax-rates does not have: steps 1 ran, 3 does not.
    write_file(
        dir.path(),
        "rates.csv",
        "id_tax_rate,fk_country,name,rate,colour\n900,900,Wakanda standard,17.00,red\n",
    );
    let manifest = write_file(
        dir.path(),
        "manifest.yml",
        "imports:\n\
         \x20 - {entity: countries, file: countries.csv}\n\
         \x20 - {entity: tax-rates, file: rates.csv}\n\
         \x20 - {entity: tax-sets, file: sets.csv}\n\
         order: manifest\n",
    );
    let run = import(&db, &manifest, &[]).failed(2);
    assert!(
        run.stdout
            .starts_with("1/3 countries <- countries.csv (insert): read 1, inserted 1")
            && run.stdout.contains("stopped: step 2 of 3 failed"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .starts_with("error: step 2 of 3: rates.csv into `tax-rates`: ")
            && run.stderr.contains("colour"),
        "{}",
        run.stderr
    );
    assert!(row(&dx, "countries", "id_country", 900).is_some());
    assert!(row(&dx, "tax-sets", "id_tax_set", 900).is_none());

    // With --json: one document with the steps done and the failed one; nothing on stderr.
    std::fs::write(
        dir.path().join("countries.csv"),
        COUNTRIES.replace("900", "901").replace("WA,WAK", "WB,WBK"),
    )
    .unwrap();
    let run = import(&db, &manifest, &["--json"]).failed(2);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["steps"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["total"], total([1, 1, 0, 0, 0]));
    assert_eq!(report["failed"]["step"], 2);
    assert_eq!(report["failed"]["entity"], "tax-rates");
    assert_eq!(report["failed"]["file"], "rates.csv");
    assert_eq!(report["failed"]["error"]["code"], "invalid");
    assert!(
        report["failed"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{report}"
    );
}

fn rejects_go_to_a_directory(db: TestDb) {
    let dx = tax_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    write_file(
        dir.path(),
        "countries.csv",
        "id_country,iso2_code,iso3_code,name\n900,WA,WAK,Wakanda\n901,TOOLONG,XXX,Nope\n",
    );
    write_file(
        dir.path(),
        "rates.csv",
        "id_tax_rate,fk_country,name,rate\n900,900,Wakanda standard,17.00\n901,900,,7.00\n",
    );
    write_file(dir.path(), "sets.csv", SETS);
    let manifest = write_file(
        dir.path(),
        "manifest.yml",
        "imports:\n\
         \x20 - {entity: tax-rates, file: rates.csv}\n\
         \x20 - {entity: countries, file: countries.csv}\n\
         \x20 - {entity: tax-sets, file: sets.csv}\n",
    );
    let out = dir.path().join("out/rejects");
    let out_arg = out.to_str().unwrap();
    let run = import(&db, &manifest, &["--rejects", out_arg]).failed(5);
    assert!(
        run.stdout.contains(&format!(
            "rejected 1, rejected lines: {}",
            out.join("countries.rejects.csv").display()
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.ends_with(
            "total: read 5, inserted 3, updated 0, unchanged 0, rejected 2 in 3 file(s)\n"
        ),
        "{}",
        run.stdout
    );
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    let countries = read("countries.rejects.csv");
    assert!(
        countries.starts_with("line,code,field,message,id_country,iso2_code,iso3_code,name\n3,")
            && countries.trim_end().ends_with(",901,TOOLONG,XXX,Nope")
            && countries.lines().count() == 2,
        "{countries}"
    );
    let rates = read("tax-rates.rejects.csv");
    assert!(
        rates.starts_with("line,code,field,message,id_tax_rate,fk_country,name,rate\n3,")
            && rates.contains(",name,")
            && rates.lines().count() == 2,
        "{rates}"
    );
    assert_eq!(
        read("tax-sets.rejects.csv"),
        "line,code,field,message,id_tax_set,name\n"
    );
    assert!(row(&dx, "tax-rates", "id_tax_rate", 900).is_some());

    // The JSON report names each step's rejects file.
    let report = import(&db, &manifest, &["--rejects", out_arg, "--json"])
        .failed(5)
        .json();
    assert_eq!(
        report["steps"][0]["rejects_file"],
        out.join("countries.rejects.csv").to_str().unwrap()
    );
    // A file is no directory.
    let not_dir = write_file(dir.path(), "plain", "");
    import(&db, &manifest, &["--rejects", &not_dir]).failed(2);
}

fn invalid_manifests_write_nothing(db: TestDb) {
    let dx = tax_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    tax_files(dir.path());
    let before = tax_data(&dx);
    let out = dir.path().join("rejects");
    let case = |name: &str, text: &str, code: i32, says: &str| {
        let manifest = write_file(dir.path(), name, text);
        let run = import(&db, &manifest, &["--rejects", out.to_str().unwrap()]).failed(code);
        assert!(run.stderr.contains(says), "{name}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{name}: {}", run.stdout);
        let json = import(&db, &manifest, &["--json"]).failed(code).json();
        assert!(
            json["error"]["message"].as_str().unwrap().contains(says),
            "{json}"
        );
    };
    let good = "imports:\n  - {entity: countries, file: countries.csv}\n";
    case(
        "unknown-entity.yml",
        &format!("{good}  - {{entity: planets, file: sets.csv}}\n"),
        4,
        "planets",
    );
    case(
        "missing-file.yml",
        &format!("{good}  - {{entity: tax-sets, file: nope.csv}}\n"),
        2,
        "nope.csv",
    );
    case(
        "missing-mapping.yml",
        &format!("{good}  - {{entity: tax-sets, file: sets.csv, mapping: nope.yml}}\n"),
        2,
        "nope.yml",
    );
    case(
        "bad-mapping.yml",
        &format!("{good}  - {{entity: tax-sets, file: sets.csv, mapping: sets.csv}}\n"),
        2,
        "sets.csv",
    );
    case(
        "unknown-key-field.yml",
        &format!("{good}  - {{entity: tax-sets, file: sets.csv, mode: upsert, key: code}}\n"),
        2,
        "`code`",
    );
    case("bad-yaml.yml", "imports: [\n", 2, "not valid YAML");
    case(
        "unknown-step-key.yml",
        &format!("{good}  - {{entity: tax-sets, file: sets.csv, separator: ';'}}\n"),
        2,
        "unknown field `separator`",
    );
    case(
        "unknown-top-key.yml",
        &format!("{good}version: 0\n"),
        2,
        "unknown field `version`",
    );
    case(
        "bad-mode.yml",
        "imports:\n  - {entity: countries, file: countries.csv, mode: merge}\n",
        2,
        "merge",
    );
    case("empty.yml", "", 2, "empty");
    case("no-imports.yml", "files: []\n", 2, "imports");
    dynex(
        &db,
        &[
            "import",
            "--manifest",
            dir.path().join("absent.yml").to_str().unwrap(),
        ],
    )
    .failed(2);
    assert_eq!(tax_data(&dx), before);
    assert!(!out.exists(), "no rejects directory for a refused manifest");
}

/// A relation back from tax-rates to countries makes a cycle: refused unless `order: manifest`.
fn a_cycle_needs_manifest_order(db: TestDb) {
    let dx = tax_demo(&db);
    let dir = tempfile::tempdir().unwrap();
    tax_files(dir.path());
    let mut rates = dynex(&db, &["entity", "show", "tax-rates", "--json"])
        .ok()
        .json();
    rates["childRelations"] = json!([{
        "name": "rateCountry",
        "isEditable": false,
        "childDynamicEntityConfiguration": {"tableAlias": "countries"},
        "relationFieldMappings": [{"childFieldName": "id_country", "parentFieldName": "fk_country"}]
    }]);
    let config = write_file(dir.path(), "rates.json", rates.to_string());
    dynex(&db, &["entity", "import", &config]).ok();
    let text = "imports:\n\
                \x20 - {entity: countries, file: countries.csv}\n\
                \x20 - {entity: tax-rates, file: rates.csv}\n";
    let manifest = write_file(dir.path(), "manifest.yml", text);
    let before = tax_data(&dx);
    let run = import(&db, &manifest, &[]).failed(2);
    assert!(
        run.stderr.contains("`countries`, `tax-rates` form a cycle")
            && run.stderr.contains("order: manifest"),
        "{}",
        run.stderr
    );
    assert_eq!(tax_data(&dx), before);
    let manifest = write_file(
        dir.path(),
        "ordered.yml",
        format!("{text}order: manifest\n"),
    );
    let report = import(&db, &manifest, &["--json"]).ok().json();
    assert_eq!(report["total"], total([3, 3, 0, 0, 0]));
}

backend_tests!(
    relations_put_parents_first,
    manifest_order_is_kept_when_asked,
    spryker_data_import_yml_is_read_as_it_is,
    steps_have_their_own_mode_key_and_mapping,
    global_flags_apply_to_every_step,
    a_failing_step_stops_the_run,
    rejects_go_to_a_directory,
    invalid_manifests_write_nothing,
    a_cycle_needs_manifest_order,
);
