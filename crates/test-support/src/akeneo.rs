//! A small Akeneo PIM for tests: a real HTTP server on 127.0.0.1 that answers as Akeneo's REST
//! API reference documents, with a generated catalog.
//!
//! No real Akeneo can be installed here, so the PIM integration app (`fixtures/apps/pim-catalog`)
//! is tested against this server. It follows the published reference, not Akeneo's code:
//!
//! - `POST /api/oauth/v1/token`: the password grant, the client id and secret in HTTP Basic, the
//!   body as JSON or a form; answers `access_token`, `expires_in`, `token_type`, `scope`,
//!   `refresh_token`. Every other route answers 401 (`{"code":401,"message":…}`) without a token
//!   it gave.
//! - `GET /api/rest/v1/categories`, `/attributes`, `/product-models` and `/products-uuid`: lists
//!   as `{"_links": {"self", "first", "next"}, "current_page", "_embedded": {"items": […]}}`, each
//!   item with its own `_links.self`. `limit` (10 by default, at most 100, more is a 422),
//!   `page` (from 1), and for products `pagination_type=search_after` with `search_after`. The
//!   `next` link is absolute and carries every parameter of the request.
//! - `search`: a JSON filter, `{"updated":[{"operator":">","value":"2026-01-10 09:00:00"}]}`.
//!   `updated` takes `>`, `<` and `BETWEEN` with `YYYY-MM-DD hh:mm:ss` in the server's time zone
//!   (UTC+01:00 here, as the records' `updated` say); anything else is a 422. As the reference
//!   notes, a variant whose parent product model matches the filter is listed too.
//! - Products (`products-uuid`) carry `uuid`, `enabled`, `family`, `categories`, `groups`,
//!   `parent` (the product model's code, `null` for a simple product), `values` (the identifier
//!   attribute `sku` among them; a variant's values include its model's), `created`, `updated`.
//!   Values are `{"locale", "scope", "data"}`; a price is `data: [{"amount": "12.99",
//!   "currency": "EUR"}]`.
//!
//! The catalog: 11 categories in one tree (`master`), 7 attributes, two locales (`en_US`,
//! `de_DE`), two channels (`ecommerce`, `print`), 40 product models with 6 variants each (colour
//! × size) and 30 simple products: 270 products, 219 variants and the 30 simple products with a price in EUR.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// The client id the test server knows.
pub const AKENEO_CLIENT_ID: &str = "dynex_app";
/// That client's secret.
pub const AKENEO_CLIENT_SECRET: &str = "s3cr3t-c1ient";
/// The API user's name.
pub const AKENEO_USERNAME: &str = "dynex";
/// The API user's password.
pub const AKENEO_PASSWORD: &str = "pa55:word";

/// Product models in the generated catalog.
pub const AKENEO_MODELS: usize = 40;
/// Variants per product model.
pub const AKENEO_VARIANTS_PER_MODEL: usize = 6;
/// Simple products (without a parent) in the generated catalog.
pub const AKENEO_SIMPLE_PRODUCTS: usize = 30;

const LEAVES: [&str; 8] = [
    "cameras_compact",
    "cameras_dslr",
    "computers_laptops",
    "computers_desktops",
    "computers_tablets",
    "phones_smart",
    "phones_feature",
    "cameras_compact",
];
const COLORS: [&str; 2] = ["red", "black"];
const SIZES: [&str; 3] = ["s", "m", "l"];

/// The catalog the server answers from; tests change it through [`AkeneoServer::edit`].
#[derive(Debug, Clone)]
pub struct AkeneoCatalog {
    /// Categories, by code order.
    pub categories: Vec<Value>,
    /// Attributes.
    pub attributes: Vec<Value>,
    /// Product models (their own values only).
    pub models: Vec<Value>,
    /// Products (a variant with its own values only; the answer adds its model's).
    pub products: Vec<Value>,
}

/// `2026-01-10T09:00:00+01:00` plus `seconds` (less than 15 hours).
pub fn akeneo_time(seconds: u32) -> String {
    let total = 9 * 3600 + seconds;
    format!(
        "2026-01-10T{:02}:{:02}:{:02}+01:00",
        total / 3600,
        total / 60 % 60,
        total % 60
    )
}

fn value(data: Value) -> Value {
    json!([{"locale": null, "scope": null, "data": data}])
}

fn localized(en: String, de: String) -> Value {
    json!([
        {"locale": "en_US", "scope": null, "data": en},
        {"locale": "de_DE", "scope": null, "data": de},
    ])
}

impl AkeneoCatalog {
    /// The catalog the server starts with, the same every time.
    pub fn generate() -> AkeneoCatalog {
        let created = "2026-01-05T08:00:00+01:00";
        let tree = [
            ("master", None, "Master catalog", "Hauptkatalog"),
            ("master_cameras", Some("master"), "Cameras", "Kameras"),
            ("master_computers", Some("master"), "Computers", "Computer"),
            ("master_phones", Some("master"), "Phones", "Telefone"),
            (
                "cameras_compact",
                Some("master_cameras"),
                "Compact cameras",
                "Kompaktkameras",
            ),
            (
                "cameras_dslr",
                Some("master_cameras"),
                "DSLR",
                "Spiegelreflex",
            ),
            (
                "computers_laptops",
                Some("master_computers"),
                "Laptops",
                "Notebooks",
            ),
            (
                "computers_desktops",
                Some("master_computers"),
                "Desktops",
                "Desktop-PCs",
            ),
            (
                "computers_tablets",
                Some("master_computers"),
                "Tablets",
                "Tablets",
            ),
            (
                "phones_smart",
                Some("master_phones"),
                "Smartphones",
                "Smartphones",
            ),
            (
                "phones_feature",
                Some("master_phones"),
                "Feature phones",
                "Tastenhandys",
            ),
        ];
        let categories = tree
            .iter()
            .enumerate()
            .map(|(i, (code, parent, en, de))| {
                json!({
                    "code": code,
                    "parent": parent,
                    "updated": akeneo_time(i as u32),
                    "position": i + 1,
                    "labels": {"en_US": en, "de_DE": de},
                })
            })
            .collect();
        let attribute = |code: &str, kind: &str, localizable: bool, scopable: bool| {
            json!({
                "code": code,
                "type": kind,
                "group": "marketing",
                "unique": kind == "pim_catalog_identifier",
                "localizable": localizable,
                "scopable": scopable,
                "decimals_allowed": kind == "pim_catalog_price_collection",
                "labels": {"en_US": code, "de_DE": code},
            })
        };
        let attributes = vec![
            attribute("sku", "pim_catalog_identifier", false, false),
            attribute("name", "pim_catalog_text", true, false),
            attribute("description", "pim_catalog_textarea", true, true),
            attribute("brand", "pim_catalog_text", false, false),
            attribute("color", "pim_catalog_simpleselect", false, false),
            attribute("size", "pim_catalog_simpleselect", false, false),
            attribute("price", "pim_catalog_price_collection", false, false),
        ];
        let families = [
            ("camera", "Camera", "Kamera", "Lumix"),
            ("computer", "Laptop", "Notebook", "Tuxedo"),
            ("phone", "Phone", "Telefon", "Fairphone"),
        ];
        let description = |en: &str, de: &str| {
            json!([
                {"locale": "en_US", "scope": "ecommerce", "data": format!("{en} for the shop")},
                {"locale": "de_DE", "scope": "ecommerce", "data": format!("{de} für den Shop")},
                {"locale": "en_US", "scope": "print", "data": format!("{en} for the catalogue")},
                {"locale": "de_DE", "scope": "print", "data": format!("{de} für den Katalog")},
            ])
        };
        let mut models = Vec::new();
        let mut products = Vec::new();
        let mut product_number = 0u32;
        for i in 1..=AKENEO_MODELS {
            let (family, en, de, brand) = families[i % families.len()];
            let code = format!("model_{i:03}");
            let en = format!("{en} {i}");
            let de = format!("{de} {i}");
            models.push(json!({
                "code": code,
                "family": family,
                "family_variant": format!("{family}_color_size"),
                "parent": null,
                "categories": [LEAVES[i % LEAVES.len()], "master"],
                "values": {
                    "name": localized(en.clone(), de.clone()),
                    "description": description(&en, &de),
                    "brand": value(json!(brand)),
                },
                "created": created,
                "updated": akeneo_time(600 + i as u32 * 60),
            }));
            for (c, color) in COLORS.iter().enumerate() {
                for (s, size) in SIZES.iter().enumerate() {
                    let j = c * SIZES.len() + s;
                    product_number += 1;
                    let sku = format!("M{i:03}-{}-{}", color.to_uppercase(), size.to_uppercase());
                    let mut values = json!({
                        "sku": value(json!(sku)),
                        "color": value(json!(color)),
                        "size": value(json!(size)),
                    });
                    if !product_number.is_multiple_of(11) {
                        let amount = format!("{}.{}9", 20 + i, j);
                        values["price"] = value(json!([{"amount": amount, "currency": "EUR"}]));
                    }
                    products.push(json!({
                        "uuid": uuid(product_number),
                        "enabled": j != 5,
                        "family": family,
                        "categories": [],
                        "groups": [],
                        "parent": code,
                        "values": values,
                        "created": created,
                        "updated": akeneo_time(4000 + product_number * 7),
                    }));
                }
            }
        }
        for k in 1..=AKENEO_SIMPLE_PRODUCTS {
            product_number += 1;
            let sku = format!("SIMPLE-{k:03}");
            products.push(json!({
                "uuid": uuid(product_number),
                "enabled": true,
                "family": "accessory",
                "categories": [LEAVES[k % LEAVES.len()]],
                "groups": [],
                "parent": null,
                "values": {
                    "sku": value(json!(sku)),
                    "name": localized(format!("Accessory {k}"), format!("Zubehör {k}")),
                    "price": value(json!([{"amount": format!("{k}.50"), "currency": "EUR"}])),
                },
                "created": created,
                "updated": akeneo_time(4000 + product_number * 7),
            }));
        }
        AkeneoCatalog {
            categories,
            attributes,
            models,
            products,
        }
    }

    /// Product `sku` as the API answers it (a variant's values with its model's).
    pub fn product(&self, sku: &str) -> Option<Value> {
        self.products
            .iter()
            .find(|p| p["values"]["sku"][0]["data"] == sku)
            .map(|p| self.answered(p))
    }

    /// `product` as the API answers it.
    fn answered(&self, product: &Value) -> Value {
        let mut answer = product.clone();
        if let Some(model) = self.model_of(product) {
            let mut values: Map<String, Value> =
                model["values"].as_object().cloned().unwrap_or_default();
            for (code, own) in product["values"].as_object().into_iter().flatten() {
                values.insert(code.clone(), own.clone());
            }
            answer["values"] = Value::Object(values);
        }
        answer
    }

    fn model_of(&self, product: &Value) -> Option<&Value> {
        let parent = product["parent"].as_str()?;
        self.models.iter().find(|m| m["code"] == parent)
    }
}

/// A UUID (version 4 layout) made of `n`, so that the order of products is the order of `n`.
fn uuid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

struct State {
    catalog: AkeneoCatalog,
    tokens: Vec<String>,
    /// `METHOD path?query` of every request.
    requests: Vec<String>,
}

/// The running server; it stops when dropped.
pub struct AkeneoServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AkeneoServer {
    /// Starts a server on a free port of 127.0.0.1 with [`AkeneoCatalog::generate`].
    pub fn start() -> AkeneoServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the Akeneo test server");
        let addr = listener.local_addr().expect("its address");
        let state = Arc::new(Mutex::new(State {
            catalog: AkeneoCatalog::generate(),
            tokens: Vec::new(),
            requests: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let state = Arc::clone(&state);
                    // A thread per connection: a client may keep one idle while it opens another.
                    std::thread::spawn(move || serve(stream, addr, &state));
                }
            })
        };
        AkeneoServer {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// The base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `METHOD path?query` of every request so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    /// How many tokens the server gave.
    pub fn tokens_given(&self) -> usize {
        self.state.lock().unwrap().tokens.len()
    }

    /// A copy of the catalog as it is now.
    pub fn catalog(&self) -> AkeneoCatalog {
        self.state.lock().unwrap().catalog.clone()
    }

    /// Changes the catalog (a product's price and `updated`, a model's name).
    pub fn edit(&self, change: impl FnOnce(&mut AkeneoCatalog)) {
        change(&mut self.state.lock().unwrap().catalog);
    }
}

impl Drop for AkeneoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Request {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Serves one connection, request after request, until the client closes it.
fn serve(stream: TcpStream, addr: SocketAddr, state: &Mutex<State>) {
    let Ok(reader) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(reader);
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("").to_owned();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        let length = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let request = Request {
            method,
            path: path.to_owned(),
            query: url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            headers,
            body,
        };
        let (status, answer) = {
            let mut state = state.lock().unwrap();
            state.requests.push(format!("{} {target}", request.method));
            answer(&mut state, addr, &request)
        };
        let body = answer.to_string();
        let head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            reason(status),
            body.len()
        );
        if stream.write_all(head.as_bytes()).is_err() || stream.write_all(body.as_bytes()).is_err()
        {
            return;
        }
        let _ = stream.flush();
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Unprocessable Entity",
    }
}

fn error(status: u16, message: &str) -> (u16, Value) {
    (status, json!({"code": status, "message": message}))
}

fn answer(state: &mut State, addr: SocketAddr, request: &Request) -> (u16, Value) {
    if request.path == "/api/oauth/v1/token" {
        if request.method != "POST" {
            return error(405, "Method not allowed");
        }
        return token(state, request);
    }
    let Some(resource) = request.path.strip_prefix("/api/rest/v1/") else {
        return error(404, "Resource not found");
    };
    let token = request
        .header("Authorization")
        .and_then(|h| h.strip_prefix("Bearer "));
    match token {
        None => return error(401, "Authentication is required"),
        Some(token) if !state.tokens.iter().any(|t| t == token) => {
            return error(401, "The access token provided is invalid.");
        }
        Some(_) => {}
    }
    if request.method != "GET" {
        return error(405, "Method not allowed");
    }
    let catalog = &state.catalog;
    let (items, key): (Vec<Value>, &str) = match resource {
        "categories" => (catalog.categories.clone(), "code"),
        "attributes" => (catalog.attributes.clone(), "code"),
        "product-models" => (catalog.models.clone(), "code"),
        "products-uuid" => (
            catalog
                .products
                .iter()
                .map(|p| catalog.answered(p))
                .collect(),
            "uuid",
        ),
        _ => return error(404, "Resource not found"),
    };
    let items = match request.param("search") {
        None => items,
        Some(search) => match filter(catalog, items, search) {
            Ok(items) => items,
            Err(message) => return error(422, &message),
        },
    };
    list(addr, request, resource, items, key)
}

/// The password grant: the client in HTTP Basic, the user in a JSON or form body.
fn token(state: &mut State, request: &Request) -> (u16, Value) {
    let client = request
        .header("Authorization")
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    if client.as_deref() != Some(&format!("{AKENEO_CLIENT_ID}:{AKENEO_CLIENT_SECRET}")) {
        return error(
            422,
            "Parameter \"client_id\" is missing or does not match any client, or secret is invalid",
        );
    }
    let fields: BTreeMap<String, String> = if request
        .header("Content-Type")
        .is_some_and(|t| t.starts_with("application/json"))
    {
        serde_json::from_slice::<BTreeMap<String, Value>>(&request.body)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
            .collect()
    } else {
        url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect()
    };
    let field = |name: &str| fields.get(name).map(String::as_str);
    if field("grant_type") != Some("password") {
        return error(422, "Parameter \"grant_type\" is missing or invalid");
    }
    if field("username") != Some(AKENEO_USERNAME) || field("password") != Some(AKENEO_PASSWORD) {
        return error(422, "No user found for the given username and password");
    }
    let token = format!("t{:08}", state.tokens.len() + 1);
    state.tokens.push(token.clone());
    (
        200,
        json!({
            "access_token": token,
            "expires_in": 3600,
            "token_type": "bearer",
            "scope": null,
            "refresh_token": format!("r-{token}"),
        }),
    )
}

/// `2026-01-10T09:00:00+01:00` as the filter's `2026-01-10 09:00:00` in the server's zone.
fn local(time: &Value) -> String {
    time.as_str()
        .unwrap_or_default()
        .chars()
        .take(19)
        .collect::<String>()
        .replace('T', " ")
}

/// The items `search` keeps, or the 422 message of a filter the reference does not allow.
fn filter(catalog: &AkeneoCatalog, items: Vec<Value>, search: &str) -> Result<Vec<Value>, String> {
    let search: Map<String, Value> =
        serde_json::from_str(search).map_err(|_| "Search query parameter should be valid JSON.")?;
    let mut items = items;
    for (property, conditions) in &search {
        if property != "updated" {
            return Err(format!(
                "Filter on property \"{property}\" is not supported"
            ));
        }
        for condition in conditions.as_array().ok_or("Structure of filter \"updated\" should respect this structure: {\"updated\":[{\"operator\": \"my_operator\", \"value\": \"my_value\"}]}")? {
            let operator = condition["operator"].as_str().unwrap_or_default();
            let wanted = |v: &Value| -> Result<String, String> {
                let text = v.as_str().unwrap_or_default();
                let ok = text.len() == 19
                    && text.char_indices().all(|(i, c)| match i {
                        4 | 7 => c == '-',
                        10 => c == ' ',
                        13 | 16 => c == ':',
                        _ => c.is_ascii_digit(),
                    });
                if ok {
                    Ok(text.to_owned())
                } else {
                    Err(format!("Property \"updated\" expects a string with the format \"yyyy-mm-dd H:i:s\" as data, \"{text}\" given."))
                }
            };
            let keep: Box<dyn Fn(&str) -> bool> = match operator {
                ">" => {
                    let at = wanted(&condition["value"])?;
                    Box::new(move |t| t > at.as_str())
                }
                "<" => {
                    let at = wanted(&condition["value"])?;
                    Box::new(move |t| t < at.as_str())
                }
                "BETWEEN" => {
                    let from = wanted(&condition["value"][0])?;
                    let to = wanted(&condition["value"][1])?;
                    Box::new(move |t| t >= from.as_str() && t <= to.as_str())
                }
                other => {
                    return Err(format!(
                        "Filter on property \"updated\" is not supported or does not support operator \"{other}\""
                    ));
                }
            };
            items.retain(|item| {
                // A variant is listed when its model matches, as the reference says.
                keep(&local(&item["updated"]))
                    || catalog
                        .model_of(item)
                        .is_some_and(|m| keep(&local(&m["updated"])))
            });
        }
    }
    Ok(items)
}

/// One page of `items`, sorted by `key`, with the links of Akeneo's lists.
fn list(
    addr: SocketAddr,
    request: &Request,
    resource: &str,
    mut items: Vec<Value>,
    key: &str,
) -> (u16, Value) {
    let limit = match request.param("limit").map(str::parse::<usize>) {
        None => 10,
        Some(Ok(limit)) if (1..=100).contains(&limit) => limit,
        Some(Ok(limit)) if limit > 100 => {
            return error(422, "You cannot request more than 100 items.");
        }
        Some(_) => return error(422, "\"limit\" must be a positive integer."),
    };
    items.sort_by(|a, b| a[key].as_str().cmp(&b[key].as_str()));
    let base = format!("http://{addr}/api/rest/v1/{resource}");
    let link = |params: &[(&str, String)]| -> Value {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in params {
            query.append_pair(name, value);
        }
        json!({"href": format!("{base}?{}", query.finish())})
    };
    let mut common: Vec<(&str, String)> = vec![("limit", limit.to_string())];
    if let Some(search) = request.param("search") {
        common.push(("search", search.to_owned()));
    }
    let with_links = |items: &[Value]| -> Vec<Value> {
        items
            .iter()
            .map(|item| {
                let mut item = item.clone();
                let id = item[key].as_str().unwrap_or_default().to_owned();
                if let Some(object) = item.as_object_mut() {
                    let mut linked = Map::new();
                    linked.insert(
                        "_links".into(),
                        json!({"self": {"href": format!("{base}/{id}")}}),
                    );
                    linked.extend(std::mem::take(object));
                    *object = linked;
                }
                item
            })
            .collect()
    };
    if request.param("pagination_type") == Some("search_after") {
        if resource != "products-uuid" {
            return error(422, "Pagination type is not supported.");
        }
        let after = request.param("search_after").unwrap_or("");
        let rest: Vec<Value> = items
            .into_iter()
            .filter(|i| i[key].as_str().unwrap_or_default() > after)
            .collect();
        let page = &rest[..rest.len().min(limit)];
        let mut params = common.clone();
        params.push(("pagination_type", "search_after".into()));
        let mut links = json!({"self": link(&params), "first": link(&params)});
        if rest.len() > limit {
            let last = page[page.len() - 1][key].as_str().unwrap_or_default();
            params.push(("search_after", last.to_owned()));
            links["next"] = link(&params);
        }
        return (
            200,
            json!({"_links": links, "_embedded": {"items": with_links(page)}}),
        );
    }
    let page_number = match request.param("page").map(str::parse::<usize>) {
        None => 1,
        Some(Ok(page)) if page >= 1 => page,
        Some(_) => return error(422, "\"page\" must be a positive integer."),
    };
    let from = ((page_number - 1) * limit).min(items.len());
    let to = (from + limit).min(items.len());
    let at = |page: usize| {
        let mut params = common.clone();
        params.push(("page", page.to_string()));
        link(&params)
    };
    let mut links = json!({"self": at(page_number), "first": at(1)});
    if page_number > 1 {
        links["previous"] = at(page_number - 1);
    }
    if to < items.len() {
        links["next"] = at(page_number + 1);
    }
    (
        200,
        json!({
            "_links": links,
            "current_page": page_number,
            "_embedded": {"items": with_links(&items[from..to])},
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(server: &AkeneoServer, password: &str) -> Result<Value, u16> {
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{AKENEO_CLIENT_ID}:{AKENEO_CLIENT_SECRET}"));
        let answer = ureq::post(&format!("{}/api/oauth/v1/token", server.url()))
            .set("Authorization", &format!("Basic {basic}"))
            .send_json(json!({
                "grant_type": "password",
                "username": AKENEO_USERNAME,
                "password": password,
            }));
        match answer {
            Ok(answer) => Ok(answer.into_json().unwrap()),
            Err(ureq::Error::Status(status, _)) => Err(status),
            Err(e) => panic!("{e}"),
        }
    }

    fn get(url: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = ureq::get(url);
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        match request.call() {
            Ok(answer) => (answer.status(), answer.into_json().unwrap()),
            Err(ureq::Error::Status(status, answer)) => (status, answer.into_json().unwrap()),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn the_password_grant_gives_a_token_and_nothing_is_listed_without_one() {
        let server = AkeneoServer::start();
        assert_eq!(token(&server, "wrong").unwrap_err(), 422);
        let granted = token(&server, AKENEO_PASSWORD).unwrap();
        assert_eq!(granted["token_type"], "bearer");
        assert_eq!(granted["expires_in"], 3600);
        let access = granted["access_token"].as_str().unwrap();
        let url = format!("{}/api/rest/v1/categories", server.url());
        let (status, body) = get(&url, None);
        assert_eq!((status, body["code"].clone()), (401, json!(401)));
        assert_eq!(get(&url, Some("forged")).0, 401);
        let (status, body) = get(&url, Some(access));
        assert_eq!(status, 200);
        assert_eq!(body["current_page"], 1);
        assert_eq!(body["_embedded"]["items"].as_array().unwrap().len(), 10);
        assert_eq!(server.tokens_given(), 1);
    }

    #[test]
    fn pages_follow_next_links_and_search_filters_on_updated() {
        let server = AkeneoServer::start();
        let access = token(&server, AKENEO_PASSWORD).unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        // Page paging: 11 categories, 4 a page, three pages, the last without `next`.
        let mut next = Some(format!("{}/api/rest/v1/categories?limit=4", server.url()));
        let mut codes = Vec::new();
        while let Some(url) = next {
            let (status, body) = get(&url, Some(&access));
            assert_eq!(status, 200, "{body}");
            for item in body["_embedded"]["items"].as_array().unwrap() {
                assert!(
                    item["_links"]["self"]["href"]
                        .as_str()
                        .unwrap()
                        .ends_with(&format!(
                            "/api/rest/v1/categories/{}",
                            item["code"].as_str().unwrap()
                        ))
                );
                codes.push(item["code"].as_str().unwrap().to_owned());
            }
            next = body["_links"]["next"]["href"].as_str().map(str::to_owned);
        }
        assert_eq!(codes.len(), 11);
        assert_eq!(codes[0], "cameras_compact", "sorted by code");

        // search_after paging keeps the filter in its next links; a variant is listed when
        // its model matches.
        server.edit(|catalog| catalog.models[0]["updated"] = json!(akeneo_time(30_000)));
        server.edit(|catalog| catalog.products[100]["updated"] = json!(akeneo_time(30_000)));
        let search = r#"{"updated":[{"operator":">","value":"2026-01-10 17:00:00"}]}"#;
        let mut url =
            url::Url::parse(&format!("{}/api/rest/v1/products-uuid", server.url())).unwrap();
        url.query_pairs_mut()
            .append_pair("search", search)
            .append_pair("limit", "5")
            .append_pair("pagination_type", "search_after");
        let (status, body) = get(url.as_str(), Some(&access));
        assert_eq!(status, 200, "{body}");
        let items = body["_embedded"]["items"].as_array().unwrap();
        assert_eq!(items.len(), 5);
        assert!(items.iter().all(|p| p["parent"] == "model_001"));
        assert_eq!(
            items[0]["values"]["name"][1]["data"], "Notebook 1",
            "the model's values"
        );
        let next = body["_links"]["next"]["href"].as_str().unwrap();
        let (_, rest) = get(next, Some(&access));
        let rest = rest["_embedded"]["items"].as_array().unwrap();
        assert_eq!(
            rest.len(),
            2,
            "the last variant of model_001 and product 101"
        );
        assert!(rest[1]["_links"]["next"].is_null());

        // What the reference does not allow is a 422.
        for (search, limit) in [
            (
                r#"{"updated":[{"operator":">=","value":"2026-01-10 17:00:00"}]}"#,
                "5",
            ),
            (
                r#"{"updated":[{"operator":">","value":"2026-01-10T17:00:00"}]}"#,
                "5",
            ),
            (r#"{"enabled":[{"operator":"=","value":true}]}"#, "5"),
            (r#"{}"#, "101"),
        ] {
            let mut url =
                url::Url::parse(&format!("{}/api/rest/v1/product-models", server.url())).unwrap();
            url.query_pairs_mut()
                .append_pair("search", search)
                .append_pair("limit", limit);
            assert_eq!(get(url.as_str(), Some(&access)).0, 422, "{search} {limit}");
        }
    }
}
