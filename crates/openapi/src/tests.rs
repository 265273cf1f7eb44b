//! The document follows the configuration: paths, methods, schemas with the rules, parameters,
//! scopes and error codes; every reference resolves; and the document passes the official
//! OpenAPI 3.1 schema.

use std::collections::BTreeSet;

use dynex_schema::{Catalog, ColumnInfo, Entity, EntityConfig, TableInfo};
use serde_json::{Value, json};

use crate::{Options, describe};

/// Countries (not deletable, with tax rates), tax rates (deletable; a relation back to their
/// country), and notes (a relation to an entity that is not served).
fn catalog() -> Catalog {
    let configs = json!([
        {
            "tableName": "spy_country", "tableAlias": "countries", "isActive": true,
            "definition": {
                "identifier": "id_country", "isDeletable": false,
                "fields": [
                    {"fieldName": "id_country", "fieldVisibleName": "id_country", "type": "integer",
                     "isCreatable": false, "isEditable": false},
                    {"fieldName": "iso2_code", "fieldVisibleName": "iso2_code", "type": "string",
                     "isCreatable": true, "isEditable": true, "description": "ISO 3166-1 alpha-2.",
                     "examples": "AT,DE",
                     "validation": {"isRequired": true, "minLength": 2, "maxLength": 2}},
                    {"fieldName": "name", "fieldVisibleName": "name", "type": "string",
                     "isCreatable": true, "isEditable": true, "validation": {"maxLength": 255}},
                    {"fieldName": "population", "fieldVisibleName": "population", "type": "integer",
                     "isCreatable": true, "isEditable": false, "validation": {"min": 0, "max": 2000000000}},
                    {"fieldName": "status", "fieldVisibleName": "status", "type": "string",
                     "isCreatable": true, "isEditable": true, "enumValues": ["active", "retired"]},
                    {"fieldName": "founded", "fieldVisibleName": "founded", "type": "date",
                     "isCreatable": true, "isEditable": true},
                    {"fieldName": "updated_at", "fieldVisibleName": "updated_at", "type": "datetime",
                     "isCreatable": false, "isEditable": false},
                    {"fieldName": "extra", "fieldVisibleName": "extra", "type": "json",
                     "isCreatable": true, "isEditable": true},
                    {"fieldName": "homepage", "fieldVisibleName": "homepage", "type": "string",
                     "isCreatable": true, "isEditable": true,
                     "validation": {"constraints": [{"name": "url"}]}}
                ]
            },
            "childRelations": [
                {"name": "countryTaxRates", "isEditable": true,
                 "childDynamicEntityConfiguration": {"tableAlias": "tax-rates"},
                 "relationFieldMappings": [{"childFieldName": "fk_country", "parentFieldName": "id_country"}]},
                {"name": "countryNotes", "isEditable": true,
                 "childDynamicEntityConfiguration": {"tableAlias": "notes"},
                 "relationFieldMappings": [{"childFieldName": "fk_country", "parentFieldName": "id_country"}]}
            ]
        },
        {
            "tableName": "spy_tax_rate", "tableAlias": "tax-rates", "isActive": true,
            "definition": {
                "identifier": "id_tax_rate", "isDeletable": true,
                "fields": [
                    {"fieldName": "id_tax_rate", "fieldVisibleName": "id_tax_rate", "type": "integer",
                     "isCreatable": true, "isEditable": false},
                    {"fieldName": "fk_country", "fieldVisibleName": "fk_country", "type": "integer",
                     "isCreatable": true, "isEditable": true, "validation": {"isRequired": true}},
                    {"fieldName": "rate", "fieldVisibleName": "rate", "type": "decimal",
                     "isCreatable": true, "isEditable": true,
                     "validation": {"isRequired": true, "precision": 8, "scale": 2}},
                    {"fieldName": "share", "fieldVisibleName": "share", "type": "float",
                     "isCreatable": true, "isEditable": true},
                    {"fieldName": "is_default", "fieldVisibleName": "is_default", "type": "boolean",
                     "isCreatable": true, "isEditable": true}
                ]
            },
            "childRelations": [
                {"name": "taxRateCountry", "isEditable": false,
                 "childDynamicEntityConfiguration": {"tableAlias": "countries"},
                 "relationFieldMappings": [{"childFieldName": "id_country", "parentFieldName": "fk_country"}]}
            ]
        }
    ]);
    let configs: Vec<EntityConfig> = serde_json::from_value(configs).unwrap();
    Catalog::new(configs.into_iter().map(|c| {
        let table = if c.table_name == "spy_tax_rate" {
            // `share` is NOT NULL in the table although no rule requires it.
            Some(TableInfo {
                name: c.table_name.clone(),
                columns: vec![
                    ColumnInfo::from_declared("id_tax_rate", "INTEGER", false, None, true),
                    ColumnInfo::from_declared("fk_country", "INTEGER", false, None, false),
                    ColumnInfo::from_declared("rate", "DECIMAL(8,2)", false, None, false),
                    ColumnInfo::from_declared("share", "DOUBLE", false, Some("0".into()), false),
                    ColumnInfo::from_declared("is_default", "BOOLEAN", true, None, false),
                ],
                primary_key: vec!["id_tax_rate".into()],
                unique_keys: vec![],
                foreign_keys: vec![],
            })
        } else {
            None
        };
        let e = Entity::new(c).unwrap();
        match table {
            Some(t) => e.with_table(t),
            None => e,
        }
    }))
}

fn options() -> Options {
    Options {
        version: "9.9.9".into(),
        ..Options::default()
    }
}

fn doc() -> Value {
    describe(&catalog(), &options())
}

fn methods(doc: &Value, path: &str) -> BTreeSet<String> {
    doc["paths"][path]
        .as_object()
        .unwrap_or_else(|| panic!("no path {path}"))
        .keys()
        .cloned()
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    let s = &doc["components"]["schemas"][name];
    assert!(s.is_object(), "no schema {name}");
    s
}

fn parameter_names(doc: &Value, op: &Value) -> Vec<String> {
    op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| resolve(doc, p)["name"].as_str().unwrap().to_string())
        .collect()
}

/// Whether `instance` fits `schema`, a schema of `doc` (its `$ref`s resolved in `doc`).
fn fits_in(doc: &Value, schema: &Value, instance: &Value) -> bool {
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap()
        .is_valid(instance)
}

/// The JSON schema of the `status` answer of `method path` in `doc`.
fn json_answer(doc: &Value, path: &str, method: &str, status: &str) -> Value {
    resolve(doc, &doc["paths"][path][method]["responses"][status])["content"]["application/json"]
        ["schema"]
        .clone()
}

fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => doc
            .pointer(r.strip_prefix('#').unwrap())
            .unwrap_or_else(|| panic!("dangling {r}")),
        None => v,
    }
}

#[test]
fn the_document_is_openapi_3_1_with_the_options() {
    let d = doc();
    assert_eq!(d["openapi"], "3.1.0");
    assert_eq!(d["info"]["version"], "9.9.9");
    assert_eq!(d["servers"], json!([{"url": "/"}]));
    let with_url = describe(
        &catalog(),
        &Options {
            server_url: Some("https://shop.example/".into()),
            route_prefix: "/data/".into(),
            ..options()
        },
    );
    assert_eq!(with_url["servers"][0]["url"], "https://shop.example");
    assert!(with_url["paths"]["/data/countries"].is_object());
    assert_eq!(
        with_url["components"]["securitySchemes"]["oauth2"]["flows"]["password"]["tokenUrl"],
        "https://shop.example/token"
    );
}

#[test]
fn paths_and_methods_follow_the_configuration() {
    let d = doc();
    assert_eq!(
        methods(&d, "/dynamic-entity/countries"),
        set(&["get", "post", "patch", "put"]),
        "not deletable: no DELETE"
    );
    assert_eq!(
        methods(&d, "/dynamic-entity/countries/{id}"),
        set(&["get", "patch", "put"])
    );
    assert_eq!(
        methods(&d, "/dynamic-entity/tax-rates"),
        set(&["get", "post", "patch", "put", "delete"])
    );
    assert_eq!(
        methods(&d, "/dynamic-entity/tax-rates/{id}"),
        set(&["get", "patch", "put", "delete"])
    );
    assert!(d["paths"]["/dynamic-entity/notes"].is_null(), "not served");
    for path in ["/token", "/token/revoke"] {
        assert_eq!(methods(&d, path), set(&["post"]));
    }
    for path in ["/health/live", "/health/ready", "/openapi.json"] {
        assert_eq!(methods(&d, path), set(&["get"]));
    }
    assert_eq!(methods(&d, "/admin/api/users"), set(&["get", "post"]));
    let no_admin = describe(
        &catalog(),
        &Options {
            admin_api: false,
            ..options()
        },
    );
    assert!(
        !no_admin["paths"]
            .as_object()
            .unwrap()
            .keys()
            .any(|p| p.starts_with("/admin"))
    );
    // Spryker's operation ids.
    assert_eq!(
        d["paths"]["/dynamic-entity/countries"]["post"]["operationId"],
        "save-collection-dynamic-api-countries"
    );
    assert_eq!(
        d["paths"]["/dynamic-entity/tax-rates/{id}"]["delete"]["operationId"],
        "delete-entity-dynamic-api-tax-rates"
    );
    let empty = describe(&Catalog::default(), &options());
    assert!(
        !empty["paths"]
            .as_object()
            .unwrap()
            .keys()
            .any(|p| p.starts_with("/dynamic-entity"))
    );
}

#[test]
fn read_rows_carry_types_nullability_and_read_only() {
    let d = doc();
    let c = schema(&d, "countries");
    assert_eq!(c["additionalProperties"], false);
    assert!(
        c.get("required").is_none(),
        "`fields[countries]` may leave out any field"
    );
    let p = &c["properties"];
    assert_eq!(p["id_country"]["type"], "integer");
    assert_eq!(p["id_country"]["readOnly"], true);
    assert!(p["iso2_code"].get("readOnly").is_none());
    // Without table information, any non-identifier field may be NULL.
    assert_eq!(p["iso2_code"]["type"], json!(["string", "null"]));
    assert_eq!(p["iso2_code"]["examples"], json!(["AT", "DE"]));
    assert_eq!(p["founded"]["format"], "date");
    assert!(p["updated_at"]["pattern"].as_str().unwrap().contains(' '));
    assert!(p["extra"].get("type").is_none(), "json: any value");
    assert!(
        p["iso2_code"].get("maxLength").is_none(),
        "rules describe writes"
    );
    assert_eq!(
        p["countryTaxRates"],
        json!({
            "type": "array",
            "items": {"$ref": "#/components/schemas/tax-rates"},
            "description": "Rows of `tax-rates` related to this row; present with `include=countryTaxRates`."
        })
    );
    assert!(p.get("countryNotes").is_none(), "notes are not served");
    let t = &schema(&d, "tax-rates")["properties"];
    assert_eq!(t["rate"]["type"], "string", "decimals are strings");
    assert_eq!(t["rate"]["pattern"], r"^-?[0-9]+(\.[0-9]+)?$");
    assert_eq!(t["share"]["type"], "number", "NOT NULL column");
    assert_eq!(t["is_default"]["type"], json!(["boolean", "null"]));
    assert_eq!(
        t["taxRateCountry"]["items"]["$ref"],
        "#/components/schemas/countries"
    );
}

#[test]
fn write_schemas_carry_the_rules() {
    let d = doc();
    let create = schema(&d, "countries.create");
    assert_eq!(create["additionalProperties"], false);
    assert_eq!(create["required"], json!(["iso2_code"]));
    let p = &create["properties"];
    assert!(p.get("id_country").is_none(), "not creatable");
    assert!(p.get("updated_at").is_none());
    assert_eq!(p["iso2_code"]["type"], "string", "required: not null");
    assert_eq!(p["iso2_code"]["minLength"], 2);
    assert_eq!(p["iso2_code"]["maxLength"], 2);
    assert_eq!(p["iso2_code"]["description"], "ISO 3166-1 alpha-2.");
    assert_eq!(p["name"]["type"], json!(["string", "null"]));
    assert_eq!(p["population"]["minimum"], 0);
    assert_eq!(p["population"]["maximum"], 2_000_000_000);
    assert_eq!(p["status"]["enum"], json!(["active", "retired", null]));
    assert_eq!(p["homepage"]["pattern"], "^/");
    assert_eq!(
        p["countryTaxRates"]["items"]["$ref"],
        "#/components/schemas/countries.countryTaxRates.create"
    );

    let update = schema(&d, "countries.update");
    let p = &update["properties"];
    assert!(p.get("population").is_none(), "not editable");
    assert_eq!(p["id_country"]["type"], "integer", "the key of the row");
    assert_eq!(p["identifier"]["type"], "integer");
    assert!(update.get("required").is_none(), "PATCH requires nothing");
    assert_eq!(
        update["anyOf"],
        json!([{"required": ["id_country"]}, {"required": ["identifier"]}])
    );
    let by_id = schema(&d, "countries.update-by-id");
    assert!(by_id["properties"].get("id_country").is_none());
    assert!(by_id["properties"].get("identifier").is_none());
    assert!(by_id.get("anyOf").is_none());

    let upsert = schema(&d, "countries.upsert");
    assert!(
        upsert["properties"].get("population").is_some(),
        "creatable"
    );
    assert_eq!(upsert["required"], json!(["iso2_code"]));

    let rates = schema(&d, "tax-rates.create");
    let p = &rates["properties"];
    assert_eq!(p["rate"]["type"], "string");
    assert_eq!(p["rate"]["x-precision"], 8);
    assert_eq!(p["rate"]["x-scale"], 2);
    assert_eq!(
        p["share"]["type"],
        json!(["number", "null"]),
        "null leaves the default"
    );
    assert!(
        p.get("taxRateCountry").is_none(),
        "a relation that is not editable is not written"
    );
    assert_eq!(
        schema(&d, "tax-rates.update")["properties"]["share"]["type"],
        "number",
        "PATCH to NULL of a NOT NULL column is refused"
    );

    // Nested rows: the foreign key comes from the parent, so it is not required.
    let nested = schema(&d, "countries.countryTaxRates.create");
    assert_eq!(nested["required"], json!(["rate"]));
    assert!(
        nested["properties"]["fk_country"]["description"]
            .as_str()
            .unwrap()
            .contains("parent")
    );
}

#[test]
fn parameters_cover_the_query_grammar() {
    let d = doc();
    let get = &d["paths"]["/dynamic-entity/countries"]["get"];
    let names = parameter_names(&d, get);
    for expected in [
        "filter[countries.id_country]",
        "filter[countries.iso2_code]",
        "page[offset]",
        "page[limit]",
        "include",
    ] {
        assert!(
            names.contains(&expected.to_string()),
            "{expected}: {names:?}"
        );
    }
    let limit = &d["components"]["parameters"]["page.limit"]["schema"];
    assert_eq!(limit["maximum"], 1000);
    assert_eq!(limit["default"], 20);
    let include = get["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "include")
        .unwrap();
    assert_eq!(include["explode"], false);
    assert_eq!(
        include["schema"]["items"]["enum"],
        json!(["countryTaxRates", "countryTaxRates.taxRateCountry"]),
        "chains to served entities, never through an entity twice"
    );
    let filter = &d["components"]["parameters"]["countries.filter.id_country"];
    assert_eq!(filter["name"], "filter[countries.id_country]");
    assert_eq!(filter["schema"]["anyOf"][0]["type"], "integer");
    assert_eq!(
        filter["schema"]["anyOf"][1]["contentMediaType"],
        "application/json"
    );
    let names = parameter_names(&d, get);
    for expected in [
        "filter[or]",
        "sort",
        "fields[countries]",
        "fields[tax-rates]",
        "page[size]",
        "page[after]",
        "meta",
    ] {
        assert_eq!(
            names.iter().filter(|n| *n == expected).count(),
            1,
            "{expected} once: {names:?}"
        );
    }
    let one = &d["paths"]["/dynamic-entity/tax-rates/{id}"]["get"];
    let id = &one["parameters"][0];
    assert_eq!(id["in"], "path");
    assert_eq!(id["schema"]["type"], "integer");
    let delete = &d["paths"]["/dynamic-entity/tax-rates"]["delete"];
    let names = parameter_names(&d, delete);
    assert!(names.iter().all(|n| n.starts_with("filter[")), "{names:?}");
    let post = &d["paths"]["/dynamic-entity/tax-rates"]["post"];
    assert_eq!(
        parameter_names(&d, post),
        ["X-Is-Transactional", "key"],
        "the per-row mode and the CSV key"
    );
}

#[test]
fn security_lists_the_schemes_and_scopes() {
    let d = doc();
    let schemes = &d["components"]["securitySchemes"];
    assert_eq!(schemes["apiKey"]["name"], "X-Api-Key");
    assert_eq!(schemes["apiKey"]["in"], "header");
    assert_eq!(schemes["apiKeyQuery"]["name"], "api_key");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    let flows = &schemes["oauth2"]["flows"];
    assert_eq!(flows["password"]["tokenUrl"], "/token");
    assert_eq!(flows["clientCredentials"]["tokenUrl"], "/token");
    let scopes = flows["password"]["scopes"].as_object().unwrap();
    for s in [
        "dynamic-entity:read",
        "dynamic-entity:write",
        "dynamic-entity:delete",
        "dynamic-entity:countries:read",
        "dynamic-entity:tax-rates:delete",
        "admin",
    ] {
        assert!(scopes.contains_key(s), "{s}");
    }
    let get = &d["paths"]["/dynamic-entity/countries"]["get"]["security"];
    assert!(
        get.as_array()
            .unwrap()
            .contains(&json!({"oauth2": ["dynamic-entity:countries:read"]}))
    );
    let delete = &d["paths"]["/dynamic-entity/tax-rates/{id}"]["delete"]["security"];
    assert!(
        delete
            .as_array()
            .unwrap()
            .contains(&json!({"oauth2": ["dynamic-entity:delete"]}))
    );
    assert_eq!(d["paths"]["/health/live"]["get"]["security"], json!([{}]));
    let token = &d["paths"]["/token"]["post"];
    assert!(
        token["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object(),
        "form-encoded"
    );
    let grants: Vec<&Value> = schema(&d, "dynex.TokenRequest")["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| &g["properties"]["grant_type"]["const"])
        .collect();
    assert_eq!(grants, ["password", "client_credentials", "refresh_token"]);
}

#[test]
fn errors_list_the_servers_codes() {
    let d = doc();
    let code = schema(&d, "dynex.ErrorCode");
    let all: Vec<&str> = dynex_wire::Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(code["enum"], json!(all));
    assert!(
        code["description"].as_str().unwrap().contains(
            "| `1314` | 422 | Write: nested rows under a relation that is not editable. |"
        )
    );
    let error = schema(&d, "dynex.Error");
    assert_eq!(error["required"], json!(["code", "status", "message"]));
    let not_found = &d["components"]["responses"]["NotFound"];
    assert_eq!(not_found["description"], "Not found. Codes: `007`, `1303`.");
    assert_eq!(
        d["components"]["responses"]["AdminNotFound"]["description"],
        "Not found. Codes: `007`, `1402`.",
        "admin codes only on admin routes"
    );
    let post = &d["paths"]["/dynamic-entity/countries"]["post"]["responses"];
    let statuses: Vec<&String> = post.as_object().unwrap().keys().collect();
    assert_eq!(
        statuses,
        ["201", "400", "401", "403", "404", "413", "422", "503"]
    );
}

/// A filter value is the field's value or a JSON object of the operators its type takes.
#[test]
fn filters_take_operator_objects() {
    let d = doc();
    let params = &d["components"]["parameters"];
    let ops_of = |name: &str| -> Value {
        let any = params[name]["schema"]["anyOf"].as_array().unwrap();
        let ops = any
            .iter()
            .find(|s| s.get("contentSchema").is_some())
            .unwrap_or_else(|| panic!("{name}: no operator object"));
        assert_eq!(ops["type"], "string");
        assert_eq!(ops["contentMediaType"], "application/json");
        assert_eq!(ops["pattern"], r"^\s*\{[\s\S]*\}\s*$");
        let re = regex::Regex::new(ops["pattern"].as_str().unwrap()).unwrap();
        assert!(re.is_match(" {\"gte\": 10,\n \"lt\": 20} "));
        assert!(!re.is_match("10"));
        let object = &ops["contentSchema"];
        assert_eq!(object["type"], "object");
        assert_eq!(object["additionalProperties"], false);
        assert_eq!(object["minProperties"], 1);
        object["properties"].clone()
    };
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };

    let id = ops_of("countries.filter.id_country");
    assert_eq!(
        keys(&id),
        ["eq", "neq", "gt", "gte", "lt", "lte", "in", "nin", "isNull"],
        "like and ilike apply to strings only"
    );
    assert_eq!(id["gte"]["type"], "integer");
    assert_eq!(id["eq"]["type"], json!(["integer", "null"]));
    assert_eq!(id["in"]["type"], "array");
    assert_eq!(id["nin"]["items"]["type"], json!(["integer", "null"]));
    assert_eq!(id["isNull"]["type"], "boolean");
    assert!(id["gte"].get("readOnly").is_none());

    let name = ops_of("countries.filter.name");
    assert_eq!(keys(&name).len(), 11, "a string field takes every operator");
    assert_eq!(name["like"]["type"], "string");
    assert_eq!(name["ilike"]["type"], "string");
    assert!(
        params["countries.filter.name"]["schema"]["anyOf"]
            .as_array()
            .unwrap()
            .contains(&json!({"type": "string"})),
        "any text is a value of a string field"
    );

    let extra = ops_of("countries.filter.extra");
    assert_eq!(
        keys(&extra),
        ["eq", "neq", "in", "nin", "isNull"],
        "JSON has no order and no text"
    );

    let rate = ops_of("tax-rates.filter.rate");
    assert_eq!(rate["lt"]["type"], json!(["string", "number"]));
    let updated = ops_of("countries.filter.updated_at");
    assert!(updated["gt"]["pattern"].as_str().unwrap().contains("[ T]"));

    let description = params["countries.filter.id_country"]["description"]
        .as_str()
        .unwrap();
    for text in [
        "`gte`",
        "`isNull`",
        "1325",
        "1319",
        "filter[relation.field]",
    ] {
        assert!(description.contains(text), "{text}: {description}");
    }
    assert!(!description.contains("`like`"));
    assert!(!description.contains("http"), "link-free");
}

/// `filter[or]`, `sort`, `fields[…]`, keyset paging and `meta` on collection GETs only.
#[test]
fn collection_reads_take_the_read_grammar() {
    let d = doc();
    let params = &d["components"]["parameters"];

    let or = &params["countries.filter-or"];
    assert_eq!(or["name"], "filter[or]");
    assert_eq!(or["in"], "query");
    assert_eq!(or["schema"]["type"], "string");
    assert_eq!(or["schema"]["contentMediaType"], "application/json");
    assert_eq!(or["schema"]["contentSchema"]["type"], "array");
    let pattern = or["schema"]["pattern"].as_str().unwrap();
    assert_eq!(pattern, r"^\s*\[[\s\S]*\]\s*$");
    let example = or["examples"]["or"]["value"].as_str().unwrap();
    assert!(regex::Regex::new(pattern).unwrap().is_match(example));
    let example: Value = serde_json::from_str(example).unwrap();
    assert_eq!(
        example,
        json!([{"id_country": 1}, {"id_country": {"gte": 10, "lt": 20}}])
    );
    let description = or["description"].as_str().unwrap();
    assert!(description.contains("relation.field"), "{description}");

    let sort = &params["countries.sort"];
    assert_eq!(sort["name"], "sort");
    let description = sort["description"].as_str().unwrap();
    assert!(description.contains("`iso2_code`"), "{description}");
    assert!(!description.contains("`extra`"), "JSON is not sortable");
    let re = regex::Regex::new(sort["schema"]["pattern"].as_str().unwrap()).unwrap();
    for ok in [
        "name",
        "-name",
        "-population,iso2_code",
        "identifier",
        "-updated_at,id_country",
    ] {
        assert!(re.is_match(ok), "{ok}");
    }
    for bad in [
        "",
        "extra",
        "-extra",
        "capital",
        "name,",
        "--name",
        "name;-population",
    ] {
        assert!(!re.is_match(bad), "{bad}");
    }

    let fields = &params["countries.fields"];
    assert_eq!(fields["name"], "fields[countries]");
    let re = regex::Regex::new(fields["schema"]["pattern"].as_str().unwrap()).unwrap();
    for ok in ["iso2_code", "name,extra", "identifier,iso2_code"] {
        assert!(re.is_match(ok), "{ok}");
    }
    for bad in ["", "capital", "name,", "-name", "countryTaxRates"] {
        assert!(!re.is_match(bad), "{bad}");
    }
    let rates = &params["tax-rates.fields"];
    assert_eq!(rates["name"], "fields[tax-rates]");
    let re = regex::Regex::new(rates["schema"]["pattern"].as_str().unwrap()).unwrap();
    assert!(re.is_match("rate,is_default"));
    assert!(!re.is_match("iso2_code"));
    // The included entity's parameter is shared by the reads that reach it.
    let get_rates = &d["paths"]["/dynamic-entity/tax-rates"]["get"];
    let names = parameter_names(&d, get_rates);
    for expected in ["fields[tax-rates]", "fields[countries]"] {
        assert_eq!(
            names.iter().filter(|n| *n == expected).count(),
            1,
            "{names:?}"
        );
    }

    let size = &params["page.size"];
    assert_eq!(size["name"], "page[size]");
    assert_eq!(size["schema"]["type"], "integer");
    assert_eq!(size["schema"]["minimum"], 1);
    assert_eq!(size["schema"]["maximum"], 1000);
    let after = &params["page.after"];
    assert_eq!(after["name"], "page[after]");
    assert_eq!(after["schema"], json!({"type": "string", "minLength": 1}));
    assert!(after["description"].as_str().unwrap().contains("1326"));
    let meta = &params["meta"];
    assert_eq!(meta["name"], "meta");
    assert_eq!(meta["schema"], json!({"type": "string", "enum": ["count"]}));

    for (name, p) in params.as_object().unwrap() {
        let text = p["description"].as_str().unwrap_or_default();
        assert!(!text.contains("  "), "{name}: a broken line in {text:?}");
    }

    // Not on the other operations.
    let new = ["filter[or]", "sort", "page[size]", "page[after]", "meta"];
    for (path, method) in [
        ("/dynamic-entity/countries/{id}", "get"),
        ("/dynamic-entity/tax-rates", "delete"),
        ("/dynamic-entity/tax-rates", "post"),
    ] {
        let names = parameter_names(&d, &d["paths"][path][method]);
        assert!(
            names
                .iter()
                .all(|n| !new.contains(&n.as_str()) && !n.starts_with("fields[")),
            "{method} {path}: {names:?}"
        );
    }
}

/// Names with characters regular expressions treat specially are matched literally.
#[test]
fn sort_and_fields_patterns_escape_names() {
    let configs: Vec<EntityConfig> = serde_json::from_value(json!([{
        "tableName": "t", "tableAlias": "odd", "isActive": true,
        "definition": {
            "identifier": "id", "isDeletable": false,
            "fields": [
                {"fieldName": "id", "fieldVisibleName": "id", "type": "integer",
                 "isCreatable": false, "isEditable": false},
                {"fieldName": "p", "fieldVisibleName": "price(net).v|2", "type": "decimal",
                 "isCreatable": true, "isEditable": true},
                {"fieldName": "c", "fieldVisibleName": "a,b", "type": "string",
                 "isCreatable": true, "isEditable": true}
            ]
        }
    }]))
    .unwrap();
    let catalog = Catalog::new(configs.into_iter().map(|c| Entity::new(c).unwrap()));
    let d = describe(&catalog, &options());
    let params = &d["components"]["parameters"];
    let sort =
        regex::Regex::new(params["odd.sort"]["schema"]["pattern"].as_str().unwrap()).unwrap();
    assert!(sort.is_match("-price(net).v|2,id"));
    assert!(!sort.is_match("price(net)xv|2"));
    assert!(!sort.is_match("a,b"), "the server splits at the comma");
    let fields =
        regex::Regex::new(params["odd.fields"]["schema"]["pattern"].as_str().unwrap()).unwrap();
    assert!(fields.is_match("price(net).v|2"));
    assert!(!fields.is_match("2"));
}

/// The collection GET answers `links` and `meta` when asked for; writes answer rows only.
#[test]
fn collection_answers_carry_links_and_meta() {
    let d = doc();
    let get = &d["paths"]["/dynamic-entity/countries"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    assert_eq!(get["$ref"], "#/components/schemas/countries.page");
    let page = schema(&d, "countries.page");
    assert_eq!(page["required"], json!(["data"]));
    assert_eq!(page["additionalProperties"], false);
    assert_eq!(
        page["properties"]["data"]["items"]["$ref"],
        "#/components/schemas/countries"
    );
    let links = resolve(&d, &page["properties"]["links"]);
    assert_eq!(links["type"], "object");
    assert_eq!(
        links["properties"]["next"]["type"],
        json!(["string", "null"])
    );
    assert_eq!(links["required"], json!(["next"]));
    let meta = resolve(&d, &page["properties"]["meta"]);
    assert_eq!(meta["type"], "object");
    assert_eq!(meta["properties"]["count"]["type"], "integer");
    assert_eq!(meta["properties"]["count"]["minimum"], 0);
    assert_eq!(meta["required"], json!(["count"]));
    let rows = schema(&d, "countries.rows");
    assert!(
        rows["properties"].get("links").is_none(),
        "writes do not page"
    );
    assert!(rows["properties"].get("meta").is_none());

    let check = |instance: Value, valid: bool| {
        let mut root = json!({ "$ref": "#/components/schemas/countries.page" });
        root["components"] = d["components"].clone();
        let v = jsonschema::validator_for(&root).unwrap();
        assert_eq!(v.is_valid(&instance), valid, "{instance}");
    };
    check(json!({"data": [{"iso2_code": "AT"}]}), true);
    check(
        json!({"data": [{"iso2_code": "US"}], "links": {"next": "/dynamic-entity/countries?page%5Bsize%5D=1&page%5Bafter%5D=x"}}),
        true,
    );
    check(json!({"data": [], "links": {"next": null}}), true);
    check(json!({"data": [], "links": {}}), false);
    check(json!({"data": [], "meta": {"count": 7}}), true);
    check(json!({"data": [], "meta": {"count": -1}}), false);
    check(json!({"data": [], "meta": {"total": 7}}), false);
    check(
        json!({"data": [{"iso2_code": "AT", "countryTaxRates": [{"rate": "20.00"}]}], "meta": {"count": 1}, "links": {"next": null}}),
        true,
    );
    check(json!({"data": [], "other": 1}), false);
}

/// Every `$ref` points at something, and every component schema is used.
#[test]
fn every_reference_resolves() {
    fn walk<'a>(v: &'a Value, refs: &mut Vec<&'a str>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("$ref") {
                    refs.push(r);
                }
                o.values().for_each(|v| walk(v, refs));
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, refs)),
            _ => {}
        }
    }
    let d = doc();
    let mut refs = Vec::new();
    walk(&d, &mut refs);
    assert!(refs.len() > 50);
    for r in &refs {
        let pointer = r.strip_prefix('#').expect("local reference");
        assert!(d.pointer(pointer).is_some(), "dangling {r}");
    }
    for name in d["components"]["schemas"].as_object().unwrap().keys() {
        let r = format!("#/components/schemas/{name}");
        assert!(refs.contains(&r.as_str()), "unused schema {name}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)),
            "component name {name}"
        );
    }
}

/// Every operation id is unique.
#[test]
fn operation_ids_are_unique() {
    let d = doc();
    let mut seen = BTreeSet::new();
    for item in d["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap().to_string();
            assert!(seen.insert(id.clone()), "duplicate {id}");
        }
    }
}

/// The official OpenAPI 3.1 schema (2022-10-07), as shipped by `openapi-spec-validator`.
const OAS_SCHEMA: &str = include_str!("../testdata/oas-3.1-schema.json");

/// The document passes the official OpenAPI 3.1 schema, and each of its schemas is a valid JSON
/// Schema 2020-12 whose references and patterns compile.
#[test]
fn the_document_passes_the_openapi_3_1_schema() {
    let meta: Value = serde_json::from_str(OAS_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&meta).expect("the OpenAPI schema compiles");
    let mut broken = doc();
    broken["paths"]["/x"] = json!({"get": {"responses": {"200": {"content": {}}}}});
    assert!(
        !validator.is_valid(&broken),
        "a response needs a description"
    );
    for d in [doc(), describe(&Catalog::default(), &Options::default())] {
        let errors: Vec<String> = validator
            .iter_errors(&d)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        for (name, schema) in d["components"]["schemas"].as_object().unwrap() {
            jsonschema::meta::validate(schema)
                .unwrap_or_else(|e| panic!("{name} is not JSON Schema 2020-12: {e}"));
            let mut root = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$ref": format!("#/components/schemas/{name}"),
            });
            root["components"] = d["components"].clone();
            jsonschema::validator_for(&root)
                .unwrap_or_else(|e| panic!("{name} does not compile: {e}"));
        }
    }
}

/// Rows as the server renders them validate against the read schemas, and request bodies the
/// server accepts against the write schemas; values it refuses do not.
#[test]
fn sample_rows_fit_the_schemas() {
    let d = doc();
    let check = |name: &str, instance: Value, valid: bool| {
        let mut root = json!({ "$ref": format!("#/components/schemas/{name}") });
        root["components"] = d["components"].clone();
        let v = jsonschema::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap();
        assert_eq!(v.is_valid(&instance), valid, "{name}: {instance}");
    };
    check(
        "tax-rates",
        json!({"id_tax_rate": 1, "fk_country": 2, "rate": "20.00", "share": 0.5, "is_default": null}),
        true,
    );
    check(
        "tax-rates",
        json!({"id_tax_rate": 1, "fk_country": 2, "rate": 20, "share": 0.5, "is_default": null}),
        false,
    );
    check("tax-rates", json!({"id_tax_rate": 1}), true);
    check("tax-rates", json!({"rate": "20.00"}), true);
    check("tax-rates", json!({"rate": 20}), false);
    let country = json!({
        "id_country": 2, "iso2_code": "AT", "name": "Austria", "population": null,
        "status": "active", "founded": "1918-11-12", "updated_at": "2024-01-02 03:04:05",
        "extra": {"any": [1, true]}, "homepage": null,
        "countryTaxRates": [
            {"id_tax_rate": 1, "fk_country": 2, "rate": "20.00", "share": 1.0, "is_default": true}
        ]
    });
    check("countries", country.clone(), true);
    let mut extra = country;
    extra["capital"] = json!("Vienna");
    check("countries", extra, false);

    check(
        "countries.create",
        json!({"iso2_code": "WA", "name": null}),
        true,
    );
    check("countries.create", json!({"name": "Wakanda"}), false);
    check("countries.create", json!({"iso2_code": "WAK"}), false);
    check(
        "countries.create",
        json!({"iso2_code": "WA", "id_country": 9}),
        false,
    );
    check(
        "countries.create",
        json!({"iso2_code": "WA", "status": "gone"}),
        false,
    );
    check(
        "countries.create",
        json!({"iso2_code": "WA", "homepage": "/wakanda"}),
        true,
    );
    check(
        "countries.create",
        json!({"iso2_code": "WA", "countryTaxRates": [{"rate": "16.00"}]}),
        true,
    );
    check(
        "countries.create",
        json!({"iso2_code": "WA", "countryTaxRates": [{"rate": "1234567.00"}]}),
        false,
    );
    check(
        "countries.update",
        json!({"identifier": 3, "name": "B"}),
        true,
    );
    check("countries.update", json!({"name": "B"}), false);
    check("countries.update-by-id", json!({"name": "B"}), true);
    check(
        "tax-rates.upsert",
        json!({"fk_country": 2, "rate": "7.50", "share": 0.5}),
        true,
    );
    check(
        "tax-rates.upsert",
        json!({"fk_country": 2, "share": 0.5}),
        false,
    );
    // `share` is editable and NOT NULL: a replaced row without it would be left NULL.
    check(
        "tax-rates.upsert",
        json!({"fk_country": 2, "rate": "7.50"}),
        false,
    );
    check(
        "tax-rates.create",
        json!({"fk_country": 2, "rate": "7.50"}),
        true,
    );
    check(
        "tax-rates.create",
        json!({"fk_country": 2, "rate": 7.5}),
        false,
    );
}

/// Links lead from created rows (and users, clients, keys) to operations that exist, with the
/// parameters those operations take.
#[test]
fn links_lead_to_described_operations() {
    let d = doc();
    let mut operations = std::collections::BTreeMap::new();
    for item in d["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            operations.insert(op["operationId"].as_str().unwrap().to_string(), op.clone());
        }
    }
    let mut count = 0;
    for item in d["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            for response in op["responses"].as_object().unwrap().values() {
                let Some(links) = response.get("links").and_then(Value::as_object) else {
                    continue;
                };
                for link in links.values() {
                    let target = &operations[link["operationId"].as_str().unwrap()];
                    for name in link["parameters"].as_object().unwrap().keys() {
                        assert!(
                            parameter_names(&d, target).contains(name),
                            "{name} of {link}"
                        );
                    }
                    count += 1;
                }
            }
        }
    }
    let post = &d["paths"]["/dynamic-entity/tax-rates"]["post"]["responses"]["201"]["links"];
    assert_eq!(
        post["DeleteSaved"]["parameters"]["id"],
        "$response.body#/data/0/id_tax_rate"
    );
    assert!(
        d["paths"]["/dynamic-entity/countries"]["post"]["responses"]["201"]["links"]
            .get("DeleteSaved")
            .is_none(),
        "countries are not deletable"
    );
    assert!(count > 10);
}

/// The configuration routes: their operations, path parameters and statuses, and what the
/// server serializes (a live table, the configuration it suggests, the configured entities)
/// fits their schemas.
#[test]
fn configuration_routes_describe_tables_and_entities() {
    let d = doc();
    assert_eq!(methods(&d, "/admin/api/tables"), set(&["get"]));
    assert_eq!(methods(&d, "/admin/api/tables/{name}"), set(&["get"]));
    assert_eq!(methods(&d, "/admin/api/entities"), set(&["get", "post"]));
    assert_eq!(
        methods(&d, "/admin/api/entities/{alias}"),
        set(&["get", "put", "delete"])
    );
    assert_eq!(
        methods(&d, "/admin/api/configuration"),
        set(&["get", "post"])
    );
    let statuses = |path: &str, method: &str| -> Vec<String> {
        d["paths"][path][method]["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(
        statuses("/admin/api/entities", "post"),
        ["201", "400", "401", "403", "404", "409", "413", "503"]
    );
    assert_eq!(
        statuses("/admin/api/entities/{alias}", "put"),
        ["200", "400", "401", "403", "413", "503"]
    );
    assert_eq!(
        statuses("/admin/api/entities/{alias}", "delete"),
        ["204", "400", "401", "403", "404", "503"]
    );
    let show = &d["paths"]["/admin/api/entities/{alias}"]["get"];
    assert_eq!(parameter_names(&d, show), ["alias"]);
    assert_eq!(
        show["security"],
        d["paths"]["/admin/api/users"]["get"]["security"]
    );
    let export = &d["paths"]["/admin/api/configuration"]["get"]["responses"]["200"];
    assert!(export["headers"]["Content-Disposition"].is_object());

    let fits = |schema: &Value, instance: &Value| fits_in(&d, schema, instance);
    let answer = |path: &str, method: &str, status: &str| json_answer(&d, path, method, status);
    let body = |path: &str, method: &str| -> Value {
        d["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"].clone()
    };
    let table = TableInfo {
        name: "spy_gadget".into(),
        columns: vec![
            ColumnInfo::from_declared("id_gadget", "INTEGER", false, None, true),
            ColumnInfo::from_declared("name", "VARCHAR(64)", false, Some("''".into()), false),
            ColumnInfo::from_declared("price", "DECIMAL(8,2)", true, None, false),
            ColumnInfo::from_declared("fk_country", "INTEGER", true, None, false),
        ],
        primary_key: vec!["id_gadget".into()],
        unique_keys: vec![vec!["name".into()]],
        foreign_keys: vec![dynex_schema::ForeignKey {
            columns: vec!["fk_country".into()],
            referenced_table: "spy_country".into(),
            referenced_columns: vec!["id_country".into()],
        }],
    };
    let suggested = dynex_schema::suggest_config(&table, None);
    let shown = json!({"data": {"table": table, "suggested": suggested}});
    assert!(fits(
        &answer("/admin/api/tables/{name}", "get", "200"),
        &shown
    ));
    let tables = json!({"data": [{"name": "spy_gadget", "entity": null},
        {"name": "spy_country", "entity": "countries"}]});
    assert!(fits(&answer("/admin/api/tables", "get", "200"), &tables));
    let entities = json!({"data": [{"alias": "countries", "table": "spy_country", "active": true,
        "served": true, "isDeletable": false, "fields": 9, "relations": 2,
        "updatedAt": "2024-01-02 03:04:05"}]});
    assert!(fits(
        &answer("/admin/api/entities", "get", "200"),
        &entities
    ));

    let configs: Vec<Value> = catalog()
        .entities()
        .iter()
        .map(|e| serde_json::to_value(&e.config).unwrap())
        .collect();
    let configuration = crate::schema_ref("dynex.EntityConfiguration");
    for config in &configs {
        assert!(fits(&configuration, config), "{config}");
        assert!(fits(&body("/admin/api/entities/{alias}", "put"), config));
        assert!(fits(&body("/admin/api/configuration", "post"), config));
        let shown = json!({"data": {"configuration": config, "served": true,
            "updatedAt": "2024-01-02 03:04:05", "warnings": ["no index on `fk_country`"]}});
        assert!(fits(
            &answer("/admin/api/entities/{alias}", "get", "200"),
            &shown
        ));
        let saved = json!({"data": config});
        assert!(fits(
            &answer("/admin/api/entities/{alias}", "put", "200"),
            &saved
        ));
        assert!(fits(&answer("/admin/api/entities", "post", "201"), &saved));
    }
    let all = json!(configs);
    assert!(fits(
        &answer("/admin/api/configuration", "get", "200"),
        &all
    ));
    assert!(fits(&body("/admin/api/configuration", "post"), &all));
    assert!(!fits(
        &body("/admin/api/configuration", "post"),
        &json!({"tableName": "x"})
    ));
    let imported = json!({"data": {"imported": ["countries", "tax-rates"]}});
    assert!(fits(
        &answer("/admin/api/configuration", "post", "200"),
        &imported
    ));
    // Spryker's lenient flags are read.
    let lenient = json!({"tableName": "spy_x", "tableAlias": "x", "isActive": "1",
        "definition": {"identifier": "id_x", "isDeletable": 0, "fields": []}});
    assert!(fits(&configuration, &lenient));

    let add = body("/admin/api/entities", "post");
    assert!(fits(&add, &json!({"table": "spy_gadget"})));
    assert!(fits(
        &add,
        &json!({"table": "spy_gadget", "alias": "gadgets", "active": false})
    ));
    assert!(!fits(&add, &json!({"alias": "gadgets"})));
    assert!(!fits(&add, &json!({"table": "spy_gadget", "other": 1})));
}

/// The job routes: their operations, parameters, statuses, media types and links, and jobs as
/// the server serializes them (running, done, failed) fit `dynex.Job`.
#[test]
fn job_routes_describe_imports_and_exports() {
    let d = doc();
    assert_eq!(methods(&d, "/admin/api/jobs"), set(&["get"]));
    assert_eq!(methods(&d, "/admin/api/jobs/{id}"), set(&["get"]));
    assert_eq!(methods(&d, "/admin/api/jobs/{id}/rejects"), set(&["get"]));
    assert_eq!(methods(&d, "/admin/api/jobs/{id}/resume"), set(&["post"]));
    assert_eq!(methods(&d, "/admin/api/jobs/import"), set(&["post"]));
    assert_eq!(methods(&d, "/admin/api/jobs/export"), set(&["post"]));
    let op = |path: &str, method: &str| d["paths"][path][method].clone();
    let statuses = |path: &str, method: &str| -> Vec<String> {
        op(path, method)["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(
        statuses("/admin/api/jobs", "get"),
        ["200", "400", "401", "403", "503"]
    );
    assert_eq!(
        statuses("/admin/api/jobs/{id}", "get"),
        ["200", "400", "401", "403", "404", "503"]
    );
    assert_eq!(
        statuses("/admin/api/jobs/{id}/rejects", "get"),
        ["200", "400", "401", "403", "404", "503"]
    );
    assert_eq!(
        statuses("/admin/api/jobs/import", "post"),
        ["202", "400", "401", "403", "404", "413", "503"]
    );
    assert_eq!(
        statuses("/admin/api/jobs/export", "post"),
        ["200", "400", "401", "403", "404", "413", "503"]
    );

    let list = op("/admin/api/jobs", "get");
    assert_eq!(parameter_names(&d, &list), ["limit"]);
    let limit = &list["parameters"][0];
    assert_eq!(limit["in"], "query");
    assert_eq!(
        limit["schema"],
        json!({"type": "integer", "minimum": 1, "maximum": 500, "default": 50})
    );
    assert_eq!(
        parameter_names(&d, &op("/admin/api/jobs/{id}", "get")),
        ["id"]
    );
    let rejects = op("/admin/api/jobs/{id}/rejects", "get");
    assert_eq!(parameter_names(&d, &rejects), ["id", "limit"]);
    assert_eq!(
        rejects["parameters"][1]["schema"],
        json!({"type": "integer", "minimum": 1})
    );

    let import = op("/admin/api/jobs/import", "post");
    assert_eq!(
        parameter_names(&d, &import),
        [
            "entity",
            "mode",
            "key",
            "dryRun",
            "atomic",
            "maxErrors",
            "fileName",
            "mapping"
        ]
    );
    for p in import["parameters"].as_array().unwrap() {
        assert_eq!(p["in"], "query", "{p}");
        assert!(p["schema"].is_object(), "{p}");
        assert_eq!(p["required"] == json!(true), p["name"] == "entity", "{p}");
    }
    assert_eq!(
        import["parameters"][1]["schema"]["enum"],
        json!(["insert", "upsert", "update"])
    );
    let content = import["requestBody"]["content"].as_object().unwrap();
    assert_eq!(content.keys().collect::<Vec<_>>(), ["text/csv"]);
    let started = &import["responses"]["202"];
    assert!(started["headers"]["Location"].is_object());
    assert_eq!(
        started["links"]["Show"],
        json!({"operationId": "admin-show-job", "parameters": {"id": "$response.body#/data/id"}})
    );
    assert!(
        import["security"]
            .as_array()
            .unwrap()
            .contains(&json!({"oauth2": ["admin", "dynamic-entity:write"]}))
    );

    let export = op("/admin/api/jobs/export", "post");
    assert!(export.get("parameters").is_none());
    let file = &export["responses"]["200"];
    assert_eq!(
        file["content"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["text/csv"]
    );
    assert!(file["headers"]["Content-Disposition"].is_object());
    assert!(file["headers"]["X-Dynex-Job"].is_object());
    assert_eq!(
        file["links"]["Show"]["parameters"]["id"],
        "$response.header.X-Dynex-Job"
    );
    assert!(
        export["security"]
            .as_array()
            .unwrap()
            .contains(&json!({"oauth2": ["admin", "dynamic-entity:read"]}))
    );
    let rejects = &op("/admin/api/jobs/{id}/rejects", "get")["responses"]["200"];
    assert!(rejects["content"]["text/csv"].is_object());
    assert!(rejects["headers"]["Content-Disposition"].is_object());
    // Every error answer is JSON.
    for (path, method) in [
        ("/admin/api/jobs", "get"),
        ("/admin/api/jobs/{id}", "get"),
        ("/admin/api/jobs/{id}/rejects", "get"),
        ("/admin/api/jobs/import", "post"),
        ("/admin/api/jobs/export", "post"),
    ] {
        for (status, response) in op(path, method)["responses"].as_object().unwrap() {
            if status.starts_with('4') || status.starts_with('5') {
                let content = resolve(&d, response)["content"].as_object().unwrap();
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    ["application/json"],
                    "{method} {path} {status}"
                );
            }
        }
    }

    let fits = |schema: &Value, instance: &Value| fits_in(&d, schema, instance);
    let answer = |path: &str, method: &str, status: &str| json_answer(&d, path, method, status);
    let running = json!({
        "id": "Ab3dEf6hIj9kLm2nOp5q", "kind": "import", "entity": "countries",
        "file_name": "countries.csv",
        "options": {"mode": "upsert", "key": "iso2_code", "dryRun": false, "atomic": false,
                    "maxErrors": null, "mapping": false},
        "state": "running", "created_by": "root", "bytes_total": 1234, "bytes_read": 0,
        "summary": null, "error": null, "started_at": "2024-01-02T03:04:05.678Z",
        "updated_at": "2024-01-02T03:04:05.678Z", "finished_at": null, "resumable": false,
    });
    let mut done = running.clone();
    done["state"] = json!("done");
    done["bytes_read"] = json!(1234);
    done["summary"] = json!({"entity": "countries", "mode": "upsert", "read": 10,
        "inserted": 8, "updated": 0, "unchanged": 0, "rejected": 2, "seconds": 0.1});
    done["finished_at"] = json!("2024-01-02T03:04:06.000Z");
    let mut failed = running.clone();
    failed["state"] = json!("failed");
    failed["error"] = json!({"code": "1401", "message": "unknown column `colour`"});
    failed["finished_at"] = json!("2024-01-02T03:04:06.000Z");
    let export_job = json!({
        "id": "Zy3dEf6hIj9kLm2nOp5q", "kind": "export", "entity": "countries",
        "file_name": "countries.csv",
        "options": {"sort": "-name", "fields": ["name"],
                    "filters": [["filter[countries.population]", "{\"gte\": 10}"]],
                    "changedSince": null},
        "state": "interrupted", "created_by": "ops", "bytes_total": null, "bytes_read": 0,
        "summary": {"rows": 2, "seconds": 0.01}, "error": null,
        "started_at": "2024-01-02T03:04:05.678Z", "updated_at": "2024-01-02T03:04:05.678Z",
        "finished_at": null, "resumable": false,
    });
    let job = crate::schema_ref("dynex.Job");
    for j in [&running, &done, &failed, &export_job] {
        assert!(fits(&job, j), "{j}");
        let one = json!({ "data": j });
        assert!(fits(&answer("/admin/api/jobs/{id}", "get", "200"), &one));
        assert!(fits(&answer("/admin/api/jobs/import", "post", "202"), &one));
        assert!(fits(
            &answer("/admin/api/jobs/{id}/resume", "post", "202"),
            &one
        ));
    }
    let all = json!({"data": [export_job, failed, done, running]});
    assert!(fits(&answer("/admin/api/jobs", "get", "200"), &all));
    let mut unknown = running.clone();
    unknown["state"] = json!("paused");
    assert!(!fits(&job, &unknown));
    let mut extra = running.clone();
    extra["progress"] = json!(0.5);
    assert!(!fits(&job, &extra));

    let body = export["requestBody"]["content"]["application/json"]["schema"].clone();
    assert!(fits(&body, &json!({"entity": "countries"})));
    assert!(fits(
        &body,
        &json!({"entity": "countries", "sort": "-name", "fields": ["name"],
                "filters": {"filter[countries.population]": {"gte": 10},
                            "filter[countries.name]": "Austria"},
                "changedSince": "2024-01-02"})
    ));
    assert!(!fits(&body, &json!({"sort": "name"})), "entity is required");
    assert!(!fits(&body, &json!({"entity": "countries", "what": 1})));
    assert!(!fits(
        &body,
        &json!({"entity": "countries", "filters": {"page[limit]": 1}})
    ));
}

/// Reads of one row describe their `ETag` and `304`; writes and deletes of one row take
/// `If-Match` and may answer 412 (code 1327); collection routes have neither.
#[test]
fn one_row_operations_are_conditional() {
    let d = doc();
    let one = "/dynamic-entity/tax-rates/{id}";
    let names = |op: &Value| -> Vec<String> {
        op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let p = if let Some(r) = p["$ref"].as_str() {
                    &d["components"]["parameters"][r.rsplit('/').next().unwrap()]
                } else {
                    p
                };
                p["name"].as_str().unwrap().to_string()
            })
            .collect()
    };
    let get = &d["paths"][one]["get"];
    let ok = &get["responses"]["200"];
    assert_eq!(ok["headers"]["ETag"]["schema"]["type"], "string");
    assert!(get["responses"]["304"].is_object());
    assert!(names(get).contains(&"If-None-Match".to_string()));
    for method in ["patch", "put", "delete"] {
        let op = &d["paths"][one][method];
        assert!(
            names(op).contains(&"If-Match".to_string()),
            "{method}: {:?}",
            names(op)
        );
        let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
        assert!(
            statuses.contains(&&"412".to_string()),
            "{method}: {statuses:?}"
        );
        let mut sorted = statuses.clone();
        sorted.sort();
        assert_eq!(statuses, sorted, "in status order");
    }
    assert_eq!(
        d["components"]["responses"]["PreconditionFailed"]["description"],
        "Precondition failed: the row changed since it was read. Codes: `1327`."
    );
    let collection = &d["paths"]["/dynamic-entity/tax-rates"]["get"]["responses"];
    assert!(collection["200"]["headers"].is_null() && collection["304"].is_null());
}

/// The overview route: read only, the admin answers, and a schema that refuses a member it
/// does not list (the server's answer is checked against it in the server's tests).
#[test]
fn the_overview_route_is_described() {
    let d = doc();
    assert_eq!(methods(&d, "/admin/api/overview"), set(&["get"]));
    let op = &d["paths"]["/admin/api/overview"]["get"];
    assert_eq!(op["operationId"], "admin-overview");
    let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
    assert_eq!(statuses, ["200", "400", "401", "403", "503"]);
    let data =
        &op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"];
    assert_eq!(data["additionalProperties"], false);
    assert_eq!(
        data["required"],
        json!([
            "entities",
            "rowCountCap",
            "jobs",
            "requestsCounted",
            "requests",
            "health"
        ])
    );
    assert_eq!(
        data["properties"]["jobs"]["items"]["$ref"],
        "#/components/schemas/dynex.Job"
    );
}
