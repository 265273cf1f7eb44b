// The dynex back office: a small single-page app over the admin API (/admin/api), the token
// endpoint (/token) and the Data Exchange API. No build step and no dependencies: the server
// embeds this file as it is. Every value reaches the page as text (never as HTML).
"use strict";

const PREFIX = document.querySelector('meta[name="dynex-prefix"]')?.content || "dynamic-entity";
const main = document.getElementById("main");
const TYPES = ["integer", "string", "decimal", "float", "boolean", "date", "datetime", "json"];
/** The scope actions of docs/auth.md: one scope grants one of them on one or every entity. */
const SCOPE_ACTIONS = ["read", "write", "delete"];

// ---------------------------------------------------------------------------------------------
// DOM and HTTP helpers

/** Creates an element: h("button", {type: "button", onclick}, "Save"). */
function h(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** Creates an SVG element, as `h` does an HTML one. */
function svg(tag, attrs, ...children) {
  return fill(document.createElementNS("http://www.w3.org/2000/svg", tag), attrs, children);
}

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = !!v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Element ids for aria-describedby and aria-controls. */
let lastId = 0;
const newId = (base) => `${base}-${++lastId}`;

/** Shows one message at a time: a new one replaces the old, so an error never sits beside an
 * earlier "Saved". Errors stay until replaced or cleared; confirmations fade. */
function toast(text, kind = "ok") {
  const t = document.querySelector(".toast");
  t.textContent = text;
  t.dataset.kind = kind;
  t.classList.add("show");
  clearTimeout(toast.timer);
  if (kind !== "error") toast.timer = setTimeout(() => t.classList.remove("show"), 2500);
}
toast.clear = () => {
  const t = document.querySelector(".toast");
  clearTimeout(toast.timer);
  t.classList.remove("show");
  t.textContent = "";
};

/** The messages of an error answer: dynex's error arrays, OAuth errors, or the status. */
function messages(body, status) {
  if (Array.isArray(body)) return body.map((e) => (e.code ? `${e.code}: ${e.message}` : JSON.stringify(e)));
  if (body && body.errors) return messages(body.errors, status);
  if (body && body.error) return [body.error_description || body.error];
  return [`HTTP ${status}`];
}

class HttpError extends Error {
  constructor(status, body) {
    super(messages(body, status).join("\n"));
    this.status = status;
    this.body = body;
    this.list = messages(body, status);
    /** The error objects, `{code, message}`, when the answer had them. */
    this.objects = Array.isArray(body) ? body : body && Array.isArray(body.errors) ? body.errors : [];
  }
}

const session = {
  get token() { return sessionStorage.getItem("dynex.token"); },
  get user() { return sessionStorage.getItem("dynex.user"); },
  set(token, user) { sessionStorage.setItem("dynex.token", token); sessionStorage.setItem("dynex.user", user); },
  clear() { sessionStorage.removeItem("dynex.token"); sessionStorage.removeItem("dynex.user"); },
  /** The page asked for before the login, to go back to after it. */
  get next() { return sessionStorage.getItem("dynex.next"); },
  set next(hash) { if (hash) sessionStorage.setItem("dynex.next", hash); else sessionStorage.removeItem("dynex.next"); },
};

/** Sends the browser to the login page, remembering where it was. */
function toLogin() {
  if (location.hash && location.hash !== "#/login") session.next = location.hash;
  location.hash = "#/login";
}

/** Calls the server with the session's bearer token; JSON in and out unless told otherwise. */
async function api(method, path, body, extra = {}) {
  const headers = { Authorization: `Bearer ${session.token}`, ...(extra.headers || {}) };
  let payload;
  if (body !== undefined && typeof body !== "string" && !(body instanceof Blob)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  } else payload = body;
  const resp = await fetch(path, { method, headers, body: payload });
  if (resp.status === 401) {
    session.clear();
    toLogin();
    throw new HttpError(401, [{ code: "001", message: "Your session ended: please log in again." }]);
  }
  if (extra.raw) {
    if (!resp.ok) throw new HttpError(resp.status, await resp.json().catch(() => null));
    return resp;
  }
  const text = await resp.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!resp.ok) throw new HttpError(resp.status, json);
  return json;
}

const admin = (method, path, body) => api(method, `admin/api/${path}`, body);
const enc = encodeURIComponent;

function errorBox(err) {
  // An error on the page makes any earlier confirmation stale.
  toast.clear();
  const list = err instanceof HttpError ? err.list : [String(err.message || err)];
  return h("div", { class: "errors", role: "alert" },
    list.length === 1 ? list[0] : h("ul", {}, list.map((m) => h("li", {}, m))));
}

function download(name, blob) {
  const a = h("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/** Copies `text` to the clipboard: the Clipboard API, or a selected text area where that is
 * missing (plain HTTP on another host than localhost) or refused. */
async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(text); return true; }
  } catch { /* refused: try the old way */ }
  const area = h("textarea", { readonly: true, "aria-hidden": "true", class: "offscreen" });
  area.value = text;
  document.body.append(area);
  area.select();
  let done = false;
  try { done = document.execCommand("copy"); } catch { done = false; }
  area.remove();
  return done;
}

/** A button that copies `text`; `what` names it for screen readers. */
function copyButton(text, what) {
  return h("button", { type: "button", class: "secondary small", "aria-label": `Copy ${what}`, onclick: async () => {
    if (await copyText(text)) toast(`Copied ${what} to the clipboard`);
    else toast("The browser refused to copy: select the text and copy it by hand.", "error");
  } }, "Copy");
}

function page(title, ...children) {
  document.title = `${title} · dynex`;
  main.replaceChildren(h("h1", {}, title), ...children.filter((c) => c !== null && c !== undefined && c !== false));
  main.focus();
}

async function guarded(render) {
  try {
    await render();
  } catch (err) {
    if (err instanceof HttpError && err.status === 401) return;
    main.append(errorBox(err));
  }
}

/** A number with thousands separators. */
const num = (n) => Number(n).toLocaleString("en-US");

/** The time of an RFC 3339 text, as `YYYY-MM-DD HH:MM:SS` (UTC). */
const when = (t) => (t ? t.replace("T", " ").slice(0, 19) : "");

/** Parses CSV text (RFC 4180: quoted cells may hold commas, quotes and line breaks) into rows. */
function parseCsv(text) {
  const rows = [];
  let row = [], cell = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(cell); cell = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(cell); rows.push(row); row = []; cell = "";
    } else cell += c;
  }
  if (cell !== "" || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

/** Marks `input` invalid with `message` shown below it (cleared by `clearInvalid`). */
function markInvalid(input, message) {
  // A second error of the same input joins the first one's note.
  const earlier = input.getAttribute("aria-invalid") === "true" && document.getElementById(input.getAttribute("aria-describedby"));
  if (earlier) { earlier.append(h("div", {}, message)); return earlier; }
  const id = newId("error");
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", id);
  const note = h("div", { class: "field-error", id, "data-error-for": input.getAttribute("aria-label") || input.name || "" }, message);
  // Below the input: at the end of a row form's field, else right after the input's label.
  const field = input.closest(".field-edit");
  if (field) field.append(note); else (input.closest("label") || input).after(note);
  return note;
}

function clearInvalid(root) {
  for (const el of root.querySelectorAll('[aria-invalid="true"]')) { el.removeAttribute("aria-invalid"); el.removeAttribute("aria-describedby"); }
  for (const el of root.querySelectorAll(".field-error")) el.remove();
}

// ---------------------------------------------------------------------------------------------
// Login

function login() {
  // Logged out: no menu and no Log out button, only the form.
  document.querySelector(".top").hidden = true;
  const error = h("div");
  const form = h("form", { class: "card login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Log in to dynex"),
    h("label", {}, "User name", h("input", { type: "text", name: "username", autocomplete: "username", required: true })),
    h("label", {}, "Password", h("input", { type: "password", name: "password", autocomplete: "current-password", required: true })),
    error,
    h("button", { type: "submit" }, "Log in"),
    h("p", { class: "muted" }, "An admin user: the demo prints one at start, or create one with ",
      h("code", {}, "dynex user add NAME --role admin"), "."));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.replaceChildren();
    const data = new URLSearchParams({ grant_type: "password", username: form.username.value, password: form.password.value });
    const resp = await fetch("token", { method: "POST", body: data });
    const body = await resp.json().catch(() => null);
    if (!resp.ok) {
      error.append(errorBox(new HttpError(resp.status, body && body.error === "invalid_grant"
        ? { error: "Wrong user name or password." } : body)));
      return;
    }
    session.set(body.access_token, form.username.value);
    // Back to the page that was asked for before the login (a deep link), else the overview.
    const next = session.next;
    session.next = null;
    location.hash = next && next !== "#/login" ? next : "#/overview";
  });
  document.title = "Log in · dynex";
  main.replaceChildren(form);
  form.username.focus();
}

// ---------------------------------------------------------------------------------------------
// Overview: the landing page

/** A small bar chart of one value per minute, as inline SVG with a text equivalent. */
function minuteChart(minutes, value, { label, unit, max, bad }) {
  const width = 300, height = 64, gap = 1;
  const values = minutes.map(value);
  const top = Math.max(max || 0, ...values, 1);
  const bar = width / values.length;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height + 14}`, width, height: height + 14, role: "img", "aria-label": label, class: `chart${bad ? " bad" : ""}` },
    svg("title", {}, label),
    svg("line", { x1: 0, y1: height + 0.5, x2: width, y2: height + 0.5, class: "axis" }),
    values.map((v, i) => {
      const hgt = v ? Math.max(1, (v / top) * (height - 4)) : 0;
      const m = minutes[i];
      return svg("rect", { x: (i * bar).toFixed(2), y: (height - hgt).toFixed(2), width: Math.max(bar - gap, 1).toFixed(2), height: hgt.toFixed(2) },
        svg("title", {}, `${new Date(m.start * 1000).toISOString().slice(11, 16)} UTC: ${unit(v)}`));
    }),
    svg("text", { x: 0, y: height + 12, class: "tick" }, "−60 min"),
    svg("text", { x: width, y: height + 12, class: "tick", "text-anchor": "end" }, "now"));
  return chart;
}

async function overview() {
  const o = (await admin("GET", "overview")).data;
  const hour = o.requests;
  const total = hour.reduce((n, m) => n + m.requests, 0);
  const errors = hour.reduce((n, m) => n + m.clientErrors + m.serverErrors, 0);
  const serverErrors = hour.reduce((n, m) => n + m.serverErrors, 0);
  const rate = (m) => (m.requests ? (100 * (m.clientErrors + m.serverErrors)) / m.requests : 0);
  const pct = (x) => `${x.toFixed(1)}%`;
  const ready = o.health.database === "ready";
  const pool = o.health.pool;
  const health = h("section", { "aria-labelledby": "health-title", class: "health" },
    h("h2", { id: "health-title" }, "Health"),
    h("dl", { class: "facts" },
      h("dt", {}, "Database"), h("dd", {}, h("span", { class: `badge ${ready ? "on" : "off"}` }, ready ? "ready" : "unavailable"), " ", o.health.backend, o.health.error ? h("div", { class: "muted" }, o.health.error) : null),
      h("dt", {}, "Connections"), h("dd", {}, `${pool.connections - pool.idle} in use, ${pool.idle} idle, at most ${pool.max}`, pool.waiting ? `, ${pool.waiting} waiting` : ""),
      h("dt", {}, "Configuration"), h("dd", {}, `version ${o.health.configVersion}`)));
  const traffic = h("section", { "aria-labelledby": "traffic-title", class: "traffic" },
    h("h2", { id: "traffic-title" }, "The last hour on this server"),
    o.requestsCounted ? null : h("p", { class: "muted" }, "This server runs with --metrics off: it counts no requests."),
    h("p", { class: "summary-line" }, `${num(total)} requests, ${num(errors)} answered with an error (${pct(total ? (100 * errors) / total : 0)})`, serverErrors ? `, ${num(serverErrors)} of them server errors` : "", "."),
    h("div", { class: "charts" },
      h("figure", {}, minuteChart(hour, (m) => m.requests, { label: `Requests per minute over the last hour: ${num(total)} in all`, unit: (v) => `${num(v)} requests` }),
        h("figcaption", {}, "Requests per minute")),
      h("figure", {}, minuteChart(hour, rate, { label: `Error rate per minute over the last hour: ${pct(total ? (100 * errors) / total : 0)} overall`, unit: pct, max: 100, bad: true }),
        h("figcaption", {}, "Error rate (4xx and 5xx), % per minute"))));
  const rows = (e) => (e.rows === null ? h("span", { class: "muted", title: "Your credentials lack this endpoint's read scope, or the database did not answer." }, "—", h("span", { class: "sr-only" }, " not counted"))
    : e.rowsCapped ? h("span", { title: `Counting stops at ${num(o.rowCountCap)} rows.` }, `more than ${num(e.rows)}`) : num(e.rows));
  const endpoints = h("section", { "aria-labelledby": "endpoints-title" },
    h("h2", { id: "endpoints-title" }, "Endpoints"),
    o.entities.length
      ? h("div", { class: "scroll" }, h("table", { "aria-label": "Endpoints and their rows" },
        h("thead", {}, h("tr", {}, ["Endpoint", "Table", "Rows"].map((c) => h("th", { scope: "col", class: c === "Rows" ? "num" : null }, c)))),
        h("tbody", {}, o.entities.map((e) => h("tr", {},
          h("td", {}, h("a", { href: `#/data/${enc(e.alias)}` }, e.alias)), h("td", {}, h("code", {}, e.table)), h("td", { class: "num" }, rows(e)))))))
      : h("p", { class: "empty" }, "No endpoint is served yet. ", h("a", { href: "#/endpoints" }, "Expose a table"), "."));
  const jobs = h("section", { "aria-labelledby": "recent-title" },
    h("h2", { id: "recent-title" }, "Recent jobs"),
    o.jobs.length
      ? h("ul", { class: "recent", "aria-label": "Recent jobs" }, o.jobs.map((j) => h("li", {},
        stateBadge(j), " ", h("strong", {}, `${j.kind} ${j.entity}`), ` ${j.file_name} · ${when(j.started_at)} UTC`,
        h("div", { class: "muted" }, jobSummary(j)))))
      : h("p", { class: "empty" }, "No import or export yet. ", h("a", { href: "#/jobs" }, "Start one"), "."),
    h("p", {}, h("a", { href: "#/jobs" }, "All jobs")));
  page("Overview", h("div", { class: "overview" }, health, traffic), endpoints, jobs);
}

// ---------------------------------------------------------------------------------------------
// Endpoints

async function endpoints() {
  const [entities, tables] = await Promise.all([admin("GET", "entities"), admin("GET", "tables")]);
  const free = tables.data.filter((t) => !t.entity);
  const rows = entities.data.map((e) => h("tr", { class: "clickable", onclick: () => (location.hash = `#/endpoints/${enc(e.alias)}`) },
    h("td", {}, h("a", { href: `#/endpoints/${enc(e.alias)}` }, e.alias)),
    h("td", {}, e.table),
    h("td", {}, h("span", { class: `badge ${e.served ? "on" : "off"}` }, e.served ? "served" : e.active ? "active, not served" : "inactive")),
    h("td", {}, e.fields), h("td", {}, e.relations), h("td", {}, e.isDeletable ? "yes" : "no"),
    h("td", {}, h("code", {}, `/${PREFIX}/${e.alias}`))));
  const table = h("select", { name: "table", required: true },
    free.length ? free.map((t) => h("option", { value: t.name }, t.name)) : h("option", { value: "" }, "every table is exposed"));
  const alias = h("input", { type: "text", name: "alias", placeholder: "derived from the table", pattern: "[a-z0-9-]+" });
  const error = h("div");
  const create = h("form", { class: "card", "aria-labelledby": "new-title" },
    h("h2", { id: "new-title" }, "New endpoint from a table"),
    h("div", { class: "row" },
      h("label", {}, "Table", table),
      h("label", {}, "Alias (URL name)", alias),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "active", checked: true }), "Active at once"),
      h("button", { type: "submit", disabled: !free.length }, "Create endpoint")),
    h("p", { class: "muted" }, "Fields, types and rules are filled in from the table's columns; change them next."),
    error);
  create.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.replaceChildren();
    try {
      const made = await admin("POST", "entities", { table: table.value, alias: alias.value || undefined, active: create.active.checked });
      toast(`Endpoint ${made.data.tableAlias} created`);
      location.hash = `#/endpoints/${enc(made.data.tableAlias)}`;
    } catch (err) { error.append(errorBox(err)); }
  });
  const file = h("input", { type: "file", accept: "application/json,.json", "aria-label": "configuration.json to import" });
  const importError = h("div");
  const config = h("section", { "aria-labelledby": "config-title" },
    h("h2", { id: "config-title" }, "Spryker configuration.json"),
    h("div", { class: "row" },
      h("button", { type: "button", class: "secondary", onclick: async () => {
        const resp = await api("GET", "admin/api/configuration", undefined, { raw: true });
        download("configuration.json", await resp.blob());
      } }, "Export configuration.json"),
      file,
      h("button", { type: "button", class: "secondary", onclick: async () => {
        importError.replaceChildren();
        if (!file.files[0]) { importError.append(errorBox(new Error("Choose a file first."))); return; }
        try {
          const done = await api("POST", "admin/api/configuration", await file.files[0].text(), { headers: { "Content-Type": "application/json" } });
          toast(`Imported ${done.data.imported.length} entities`);
          route();
        } catch (err) { importError.append(errorBox(err)); }
      } }, "Import")),
    importError);
  page("Endpoints",
    entities.data.length ? h("div", { class: "scroll" }, h("table", { "aria-label": "Endpoints" },
      h("thead", {}, h("tr", {}, ["Alias", "Table", "State", "Fields", "Relations", "Deletable", "Path"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows))) : h("p", { class: "empty" }, "No endpoint yet: create one from a table below."),
    create, config);
}

/** The rules of a field that the compact list keeps in its per-field panel, with their labels. */
const MORE_RULES = [["min", "Min"], ["max", "Max"], ["minLength", "Min length"], ["precision", "Precision"], ["scale", "Scale"]];

/** The input of a field row that a path under `definition.fields[i]` names. */
const FIELD_PATHS = {
  fieldName: "exposed", fieldVisibleName: "visible", type: "type", isCreatable: "creatable", isEditable: "editable",
  "validation.isRequired": "required", "validation.min": "min", "validation.max": "max", "validation.minLength": "minLength",
  "validation.maxLength": "maxLength", "validation.precision": "precision", "validation.scale": "scale",
  enumValues: "enum", examples: "examples", description: "description",
};

/** The editor of one endpoint: entity flags, every column as a field, relations. */
async function endpoint(alias) {
  const [shown, all] = await Promise.all([admin("GET", `entities/${enc(alias)}`), admin("GET", "entities")]);
  const config = shown.data.configuration;
  const table = (await admin("GET", `tables/${enc(config.tableName)}`)).data;
  const byName = Object.fromEntries(config.definition.fields.map((f) => [f.fieldName, f]));
  const suggested = Object.fromEntries(table.suggested.definition.fields.map((f) => [f.fieldName, f]));
  const blank = (v) => (v === undefined || v === null ? "" : v);
  const fieldRows = table.table.columns.map((c) => {
    const f = byName[c.name] || suggested[c.name] || { fieldName: c.name, fieldVisibleName: c.name, type: "string", validation: {} };
    const v = f.validation || {};
    const moreId = newId("more");
    const toggle = h("button", { type: "button", class: "secondary small", "aria-expanded": "false", "aria-controls": moreId }, "More");
    const more = h("tr", { class: "more", id: moreId, hidden: true },
      h("td", { colspan: 6 }, h("div", { class: "row" },
        h("label", { class: "check" }, h("input", { type: "checkbox", name: "creatable", checked: f.isCreatable !== false, "aria-label": `${c.name} creatable` }), "Creatable"),
        h("label", { class: "check" }, h("input", { type: "checkbox", name: "editable", checked: f.isEditable !== false, "aria-label": `${c.name} editable` }), "Editable"),
        MORE_RULES.map(([k, text]) => h("label", {}, text, h("input", { type: "number", name: k, value: blank(v[k]), class: "narrow", "aria-label": `${text} of ${c.name}` })))),
      h("div", { class: "row" },
        h("label", { class: "grow" }, "Enum values", h("input", { type: "text", name: "enum", value: (f.enumValues || []).join(", "), placeholder: "a, b", "aria-label": `Enum values of ${c.name}` })),
        h("label", { class: "grow" }, "Examples", h("input", { type: "text", name: "examples", value: f.examples || "", "aria-label": `Examples of ${c.name}` })),
        h("label", { class: "grow" }, "Description", h("input", { type: "text", name: "description", value: f.description || "", "aria-label": `Description of ${c.name}` })))));
    toggle.addEventListener("click", () => {
      more.hidden = !more.hidden;
      toggle.setAttribute("aria-expanded", String(!more.hidden));
    });
    // The count of rules set in the panel, so that a closed panel still says it holds some.
    const set = MORE_RULES.filter(([k]) => v[k] !== undefined && v[k] !== null).length + (f.enumValues?.length ? 1 : 0) + (f.description ? 1 : 0) + (f.examples ? 1 : 0);
    if (set) toggle.append(` (${set})`);
    toggle.setAttribute("aria-label", `More rules of ${c.name}${set ? ` (${set} set)` : ""}`);
    const row = h("tr", { "data-column": c.name, class: "field" },
      h("td", {}, h("label", { class: "check" }, h("input", { type: "checkbox", name: "exposed", checked: !!byName[c.name], "aria-label": `Expose ${c.name}` }), h("code", {}, c.name)),
        h("div", { class: "muted" }, c.sql_type)),
      h("td", {}, h("input", { type: "text", name: "visible", class: "wide", value: f.fieldVisibleName, "aria-label": `Visible name of ${c.name}` })),
      h("td", {}, h("select", { name: "type", "aria-label": `Type of ${c.name}` }, TYPES.map((t) => h("option", { value: t, selected: t === f.type }, t)))),
      h("td", { class: "center" }, h("input", { type: "checkbox", name: "required", checked: !!v.isRequired, "aria-label": `${c.name} required` })),
      h("td", {}, h("input", { type: "number", name: "maxLength", class: "narrow", value: blank(v.maxLength), "aria-label": `Max length of ${c.name}` })),
      h("td", {}, toggle));
    row.field = f;
    row.more = more;
    row.toggle = toggle;
    row.get = (n) => row.querySelector(`[name="${n}"]`) || more.querySelector(`[name="${n}"]`);
    return row;
  });
  const identifier = h("select", { name: "identifier" }, table.table.columns.map((c) => h("option", { value: c.name, selected: c.name === config.definition.identifier }, c.name)));
  const relations = h("tbody", {}, (config.childRelations || []).map((r) => relationRow(r, all.data)));
  const errors = h("div");
  const form = h("form", { class: "card", "aria-labelledby": "fields-title", novalidate: true },
    h("div", { class: "row" },
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "active", checked: config.isActive }), "Active"),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "deletable", checked: config.definition.isDeletable }), "Deletable (DELETE allowed)"),
      h("label", {}, "Identifier", identifier)),
    h("h2", { id: "fields-title" }, "Fields"),
    h("p", { class: "muted" }, "Each column of the table. ", h("strong", {}, "More"), " holds the rarely used rules: creatable, editable, min and max, lengths, precision, enum values, examples, description."),
    h("div", { class: "scroll" }, h("table", { class: "fields", "aria-label": "Fields" },
      h("thead", {}, h("tr", {}, ["Column", "Visible name", "Type", "Required", "Max length", "Rules"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, fieldRows.flatMap((r) => [r, r.more])))),
    h("h2", {}, "Relations"),
    h("p", { class: "muted" }, "Child rows that ", h("code", {}, "include=NAME"), " loads and nested writes create: the child entity's field that holds this entity's field."),
    h("table", { "aria-label": "Relations" },
      h("thead", {}, h("tr", {}, ["Name", "Child endpoint", "Child field", "Parent field", "Editable", ""].map((c) => h("th", { scope: "col" }, c)))),
      relations),
    h("div", { class: "row" }, h("button", { type: "button", class: "secondary", onclick: () => relations.append(relationRow({ name: "", isEditable: true, childDynamicEntityConfiguration: { tableAlias: "" }, relationFieldMappings: [{ childFieldName: "", parentFieldName: config.definition.identifier }] }, all.data)) }, "Add relation")),
    errors,
    h("div", { class: "row" },
      h("button", { type: "submit" }, "Save"),
      h("a", { class: "button secondary", href: `#/data/${enc(alias)}` }, "Browse data"),
      h("button", { type: "button", class: "danger", onclick: async () => {
        if (!confirm(`Remove the endpoint ${alias}? The table and its rows stay.`)) return;
        try { await admin("DELETE", `entities/${enc(alias)}`); toast(`Endpoint ${alias} removed`); location.hash = "#/endpoints"; }
        catch (err) { errors.replaceChildren(errorBox(err)); }
      } }, "Remove endpoint")));

  /** The input a configuration path names, with what to call it in the list of problems. */
  const target = (path, exposed) => {
    let m = /^definition\.fields\[(\d+)\](?:\.(.+))?$/.exec(path);
    if (m) {
      const row = exposed[Number(m[1])];
      if (!row) return null;
      // A rule the list has no input for is shown at the field's name.
      const input = row.get(FIELD_PATHS[m[2] || ""] || "visible");
      return { input, row, label: labelOf(input) };
    }
    if (path === "definition.identifier") return { input: identifier, label: "Identifier" };
    if (path === "definition.isDeletable") return { input: form.deletable, label: "Deletable" };
    m = /^childRelations\[(\d+)\](?:\.(.+))?$/.exec(path);
    if (m) {
      const row = [...relations.children].filter((r) => r.read().name)[Number(m[1])];
      if (!row) return null;
      const rest = m[2] || "";
      const input = rest.startsWith("childDynamicEntityConfiguration") ? row.child
        : rest.includes("childFieldName") ? row.childField : rest.includes("parentFieldName") ? row.parentField
          : rest.startsWith("isEditable") ? row.editable : row.name;
      return { input, label: `Relation ${row.name.value || Number(m[1]) + 1}: ${labelOf(input)}` };
    }
    return null;
  };
  const labelOf = (input) => (input ? (input.getAttribute("aria-label") || input.closest("label")?.firstChild?.textContent || input.name) : "");

  /** Shows the refused configuration's problems at their inputs, and as a list of links. */
  const showProblems = (err, exposed) => {
    const items = [];
    for (const o of err.objects) {
      // `dynex entity import`'s messages: `alias (path): message`, or `alias: message`.
      const m = /^[^\s(]+ \(([^)]*)\): ([\s\S]*)$/.exec(o.message || "");
      const t = m ? target(m[1], exposed) : null;
      if (t && t.input) {
        if (t.row && t.row.more.contains(t.input) && t.row.more.hidden) t.row.toggle.click();
        markInvalid(t.input, m[2]);
        items.push(h("li", {}, h("a", { href: "#", onclick: (e) => { e.preventDefault(); t.input.focus(); } }, t.label), `: ${m[2]}`));
      } else items.push(h("li", {}, o.message || JSON.stringify(o)));
    }
    if (!items.length) { errors.replaceChildren(errorBox(err)); return; }
    toast.clear();
    errors.replaceChildren(h("div", { class: "errors", role: "alert" },
      h("strong", {}, items.length === 1 ? "Not saved: one problem." : `Not saved: ${items.length} problems.`), h("ul", {}, items)));
    form.querySelector('[aria-invalid="true"]')?.focus();
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    clearInvalid(form);
    const next = structuredClone(config);
    next.isActive = form.active.checked;
    next.definition.isDeletable = form.deletable.checked;
    next.definition.identifier = identifier.value;
    const exposed = fieldRows.filter((r) => r.get("exposed").checked);
    next.definition.fields = exposed.map((r) => {
      const get = r.get;
      const f = structuredClone(r.field);
      f.fieldName = r.dataset.column;
      f.fieldVisibleName = get("visible").value;
      f.type = get("type").value;
      f.isCreatable = get("creatable").checked;
      f.isEditable = get("editable").checked;
      f.validation = { ...(f.validation || {}), isRequired: get("required").checked };
      for (const k of ["min", "max", "minLength", "maxLength", "precision", "scale"]) {
        const raw = get(k).value;
        if (raw === "") delete f.validation[k]; else f.validation[k] = Number(raw);
      }
      const d = get("description").value;
      if (d) f.description = d; else delete f.description;
      const x = get("examples").value.trim();
      if (x) f.examples = x; else delete f.examples;
      // Enum values of integer and float fields are JSON numbers; others (decimals too) text.
      const numeric = ["integer", "float"].includes(f.type);
      const values = get("enum").value.split(",").map((v) => v.trim()).filter(Boolean)
        .map((v) => (numeric && !Number.isNaN(Number(v)) ? Number(v) : v));
      if (values.length) f.enumValues = values; else delete f.enumValues;
      return f;
    });
    next.childRelations = [...relations.children].map((r) => r.read()).filter((r) => r.name);
    if (!next.childRelations.length) delete next.childRelations;
    try {
      await admin("PUT", `entities/${enc(alias)}`, next);
      toast("Saved: the endpoint works this way now");
      route();
    } catch (err) {
      if (err instanceof HttpError && err.objects.length) showProblems(err, exposed);
      else errors.replaceChildren(errorBox(err));
    }
  });
  page(`Endpoint ${alias}`,
    h("p", {}, "Table ", h("code", {}, config.tableName), " at ", h("code", {}, `/${PREFIX}/${alias}`), " ",
      h("span", { class: `badge ${shown.data.served ? "on" : "off"}` }, shown.data.served ? "served" : "not served")),
    shown.data.warnings.length ? h("div", { class: "card" }, h("strong", {}, "Index warnings"), h("ul", {}, shown.data.warnings.map((w) => h("li", {}, w)))) : null,
    form);
}

function relationRow(r, entities) {
  const m = (r.relationFieldMappings || [{}])[0] || {};
  const child = h("select", { name: "child", "aria-label": "Child endpoint" },
    h("option", { value: "" }, "choose…"),
    entities.map((e) => h("option", { value: e.alias, selected: e.alias === r.childDynamicEntityConfiguration.tableAlias }, e.alias)));
  const name = h("input", { type: "text", name: "relation", value: r.name, "aria-label": "Relation name" });
  const childField = h("input", { type: "text", name: "childField", value: m.childFieldName || "", "aria-label": "Child field" });
  const parentField = h("input", { type: "text", name: "parentField", value: m.parentFieldName || "", "aria-label": "Parent field" });
  const editable = h("input", { type: "checkbox", checked: r.isEditable !== false, "aria-label": "Relation editable" });
  const row = h("tr", {}, h("td", {}, name), h("td", {}, child), h("td", {}, childField), h("td", {}, parentField), h("td", {}, editable),
    h("td", {}, h("button", { type: "button", class: "danger", onclick: () => row.remove() }, "Remove")));
  Object.assign(row, { name, child, childField, parentField, editable });
  row.read = () => ({
    name: name.value.trim(),
    isEditable: editable.checked,
    childDynamicEntityConfiguration: { tableAlias: child.value },
    relationFieldMappings: [{ childFieldName: childField.value.trim(), parentFieldName: parentField.value.trim() }],
  });
  return row;
}

// ---------------------------------------------------------------------------------------------
// Data: browse, filter, sort, search, create, edit and delete rows through the Data Exchange
// API itself, so that the session's scopes and the entity's validation apply as to any client.

/** Filter operators by field type, with their labels; `isNull` and `notNull` take no value. */
const OPS = {
  eq: "=", neq: "≠", gt: ">", gte: "≥", lt: "<", lte: "≤", like: "like (% any, _ one)", ilike: "like, any case",
  in: "in (a, b, …)", nin: "not in", isNull: "is null", notNull: "is not null",
};
const ORDERED = ["eq", "neq", "gt", "gte", "lt", "lte", "in", "nin", "isNull", "notNull"];
const OPS_BY_TYPE = {
  integer: ORDERED, float: ORDERED, decimal: ORDERED, date: ORDERED, datetime: ORDERED,
  string: ["eq", "neq", "like", "ilike", "in", "nin", "gt", "lt", "isNull", "notNull"],
  boolean: ["eq", "neq", "isNull", "notNull"],
  json: ["eq", "neq", "isNull", "notNull"],
};
const NO_VALUE = new Set(["isNull", "notNull"]);

/** A text typed in as the field's JSON value: numbers as numbers, booleans, JSON; text that
 * is not of the type goes as it is, for the API to refuse with its own message. */
function typed(field, text) {
  const t = text.trim();
  switch (field.type) {
    case "integer": case "float": return /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(t) ? Number(t) : text;
    case "boolean": return t === "true" ? true : t === "false" ? false : text;
    case "json": try { return JSON.parse(text); } catch { return text; }
    default: return text;
  }
}

/** `%`, `_` and `\` taken literally in a like pattern. */
const likeLiteral = (text) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The data view's state as the URL keeps it: `#/data/alias?f=field:op:value&sort=-x&q=…`. */
function readState(params) {
  const q = new URLSearchParams(params || "");
  const filters = q.getAll("f").map((f) => {
    const [field, op, ...rest] = f.split(":");
    return { field, op: op || "eq", value: rest.join(":") };
  });
  return {
    filters, sort: q.get("sort") || "", q: q.get("q") || "", include: q.get("include") || "",
    limit: Math.min(Math.max(Number(q.get("limit")) || 20, 1), 1000), offset: Math.max(Number(q.get("offset")) || 0, 0),
  };
}

function writeState(st) {
  const q = new URLSearchParams();
  for (const f of st.filters) q.append("f", `${f.field}:${f.op}:${f.value}`);
  if (st.sort) q.set("sort", st.sort);
  if (st.q) q.set("q", st.q);
  if (st.include) q.set("include", st.include);
  if (st.limit !== 20) q.set("limit", st.limit);
  if (st.offset) q.set("offset", st.offset);
  return q.toString();
}

/** The query of the Data Exchange API for a state: filters by field (operators on one field
 * in one object), the search as a `filter[or]` of `ilike` over the string fields, count. */
function dataQuery(entity, st) {
  const query = new URLSearchParams({ "page[offset]": st.offset, "page[limit]": st.limit, meta: "count" });
  if (st.sort) query.set("sort", st.sort);
  if (st.include) query.set("include", st.include);
  const byField = new Map();
  const alone = [];
  for (const f of st.filters) {
    const field = entity.byName[f.field];
    if (!field) continue;
    let op = f.op, value;
    if (op === "isNull") value = true;
    else if (op === "notNull") { op = "isNull"; value = false; }
    else if (op === "in" || op === "nin") value = f.value.split(",").map((v) => typed(field, v.trim()));
    else value = typed(field, f.value);
    const ops = byField.get(f.field) || {};
    // The same operator twice on one field: ANDed as a group of its own.
    if (op in ops) alone.push({ [f.field]: { [op]: value } });
    else { ops[op] = value; byField.set(f.field, ops); }
  }
  for (const [name, ops] of byField) query.set(`filter[${entity.alias}.${name}]`, JSON.stringify(ops));
  for (const group of alone) query.append("filter[or]", JSON.stringify([group]));
  if (st.q && entity.strings.length) {
    const pattern = `%${likeLiteral(st.q)}%`;
    query.append("filter[or]", JSON.stringify(entity.strings.map((n) => ({ [n]: { ilike: pattern } }))));
  }
  return query;
}

/** The field an error message of the API names: ``for field `x` ``, ``Field: `alias[0].x` ``,
 * ``Filter field `x` `` and the like; `null` when it names none of `fields`. */
function errorField(message, fields) {
  const found = [/[Ff]ield:? `([^`]+)`/.exec(message), /`[^`]*\]\.([^`.]+)`/.exec(message)]
    .filter(Boolean).map((m) => m[1].split(".").pop());
  return found.find((f) => fields.includes(f)) || null;
}

/** A value as a table cell shows it: `null` as a badge distinct from any text. */
function cell(v) {
  if (v === null || v === undefined) return h("span", { class: "null" }, "null");
  if (Array.isArray(v)) return `${v.length} ${v.length === 1 ? "row" : "rows"}`;
  if (typeof v === "object") return JSON.stringify(v);
  if (v === "") return h("span", { class: "null", title: "empty text" }, "empty");
  return String(v);
}

async function data(alias, params) {
  const entities = (await admin("GET", "entities")).data.filter((e) => e.served);
  if (!alias) {
    page("Data", entities.length
      ? h("ul", { class: "links" }, entities.map((e) => h("li", {}, h("a", { href: `#/data/${enc(e.alias)}` }, e.alias), h("span", { class: "muted" }, ` ${e.table}`))))
      : h("p", { class: "empty" }, "No endpoint is served yet. ", h("a", { href: "#/endpoints" }, "Expose a table"), "."));
    return;
  }
  const config = (await admin("GET", `entities/${enc(alias)}`)).data.configuration;
  const fields = config.definition.fields.map((f) => ({ ...f, name: f.fieldVisibleName }));
  const entity = {
    alias, fields, byName: Object.fromEntries(fields.map((f) => [f.name, f])),
    strings: fields.filter((f) => f.type === "string").map((f) => f.name),
    id: (fields.find((f) => f.fieldName === config.definition.identifier) || fields[0]).name,
    deletable: config.definition.isDeletable, relations: config.childRelations || [],
  };
  const names = fields.map((f) => f.name);
  const st = readState(params);

  // The toolbar: search, filters, include, page size.
  const search = h("input", { type: "search", name: "q", value: st.q, placeholder: entity.strings.length ? `in ${entity.strings.join(", ")}` : "no text fields", disabled: !entity.strings.length, "aria-label": "Search the text fields" });
  const filterList = h("div", { class: "filters", role: "group", "aria-label": "Filters" });
  const addFilter = (f) => {
    const field = h("select", { name: "field", "aria-label": "Filter field" }, names.map((n) => h("option", { value: n, selected: n === f.field }, n)));
    const op = h("select", { name: "op", "aria-label": "Operator" });
    const value = h("input", { type: "text", name: "value", value: f.value, "aria-label": "Value" });
    const fillOps = () => {
      const type = entity.byName[field.value]?.type || "string";
      const keep = op.value || f.op;
      op.replaceChildren(...OPS_BY_TYPE[type].map((o) => h("option", { value: o, selected: o === keep }, OPS[o])));
      value.hidden = NO_VALUE.has(op.value);
      value.placeholder = type === "boolean" ? "true or false" : type === "date" ? "YYYY-MM-DD" : type === "datetime" ? "YYYY-MM-DD HH:MM:SS" : "";
    };
    field.addEventListener("change", fillOps);
    op.addEventListener("change", () => { value.hidden = NO_VALUE.has(op.value); });
    const row = h("div", { class: "filter row" }, field, op, value,
      h("button", { type: "button", class: "secondary small", "aria-label": "Remove this filter", onclick: () => { row.remove(); } }, "Remove"));
    row.read = () => ({ field: field.value, op: op.value, value: NO_VALUE.has(op.value) ? "" : value.value });
    row.field = field;
    row.valueInput = value;
    fillOps();
    filterList.append(row);
    return row;
  };
  for (const f of st.filters) addFilter(f);
  const include = h("select", { name: "include", "aria-label": "Include" }, h("option", { value: "" }, "no relations"),
    entity.relations.map((r) => h("option", { value: r.name, selected: r.name === st.include }, r.name)));
  const limit = h("select", { name: "limit", "aria-label": "Rows per page" }, [10, 20, 50, 100, 500].map((n) => h("option", { value: n, selected: n === st.limit }, n)));
  const toolbarError = h("div");
  const toolbar = h("form", { class: "card toolbar", "aria-label": "Filter and search", role: "search" },
    h("div", { class: "row" },
      h("label", { class: "grow" }, "Search", search),
      h("label", {}, "Include relation", include),
      h("label", {}, "Rows per page", limit)),
    filterList,
    h("div", { class: "row" },
      h("button", { type: "button", class: "secondary", onclick: () => addFilter({ field: names[0], op: "eq", value: "" }).field.focus() }, "Add filter"),
      h("button", { type: "submit" }, "Apply"),
      h("button", { type: "button", class: "secondary", onclick: () => { filterList.replaceChildren(); search.value = ""; apply(); } }, "Clear filters")),
    toolbarError);
  toolbar.addEventListener("submit", (e) => { e.preventDefault(); apply(); });

  // The table, its status line and the pager; kept on screen while a new page loads or fails.
  const status = h("p", { class: "muted status", "aria-live": "polite" });
  const frame = h("div", { class: "scroll table-frame" });
  const prev = h("button", { type: "button", class: "secondary", disabled: true, onclick: () => move(-1) }, "Previous page");
  const next = h("button", { type: "button", class: "secondary", disabled: true, onclick: () => move(1) }, "Next page");
  const position = h("span", { class: "position" });
  const panel = h("aside", { class: "panel", "aria-labelledby": "panel-title", hidden: true });
  const request = h("code", { class: "request" });
  let shownRows = [];

  function apply() {
    st.filters = [...filterList.children].map((r) => r.read());
    st.q = search.value.trim();
    st.include = include.value;
    st.limit = Number(limit.value);
    st.offset = 0;
    load();
  }
  function move(step) {
    st.offset = Math.max(0, st.offset + step * st.limit);
    load();
  }
  function sortBy(name) {
    // Ascending, then descending, then the default order (by identifier).
    st.sort = st.sort === name ? `-${name}` : st.sort === `-${name}` ? "" : name;
    st.offset = 0;
    load();
  }

  function renderTable(rows) {
    const columns = [...names, ...(st.include ? [st.include] : [])];
    const sortable = new Set(fields.filter((f) => f.type !== "json").map((f) => f.name));
    frame.replaceChildren(h("table", { "aria-label": `Rows of ${alias}`, class: "data" },
      h("thead", {}, h("tr", {}, columns.map((c) => {
        const dir = st.sort === c ? "ascending" : st.sort === `-${c}` ? "descending" : "none";
        if (!sortable.has(c)) return h("th", { scope: "col" }, c);
        return h("th", { scope: "col", "aria-sort": dir },
          h("button", { type: "button", class: "sort", onclick: () => sortBy(c), title: `Sort by ${c}` }, c,
            h("span", { class: "arrow", "aria-hidden": "true" }, dir === "ascending" ? " ▲" : dir === "descending" ? " ▼" : " ↕")));
      }))),
      h("tbody", {}, rows.map((r) => {
        const tr = h("tr", { class: "clickable", tabindex: 0, "aria-label": `Row ${r[entity.id]}`, onclick: () => openRow(r),
          onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openRow(r); } } },
        columns.map((c) => h("td", {}, cell(r[c]))));
        return tr;
      }))));
  }

  async function load() {
    const query = dataQuery(entity, st);
    const path = `${PREFIX}/${enc(alias)}?${query}`;
    history.replaceState(null, "", `#/data/${enc(alias)}${writeState(st) ? `?${writeState(st)}` : ""}`);
    frame.setAttribute("aria-busy", "true");
    frame.classList.add("loading");
    status.textContent = "Loading…";
    toolbarError.replaceChildren();
    clearInvalid(toolbar);
    try {
      const result = await api("GET", path);
      shownRows = result.data;
      const count = result.meta.count;
      renderTable(shownRows);
      request.textContent = `GET /${decodeURIComponent(path)}`;
      const filtered = st.filters.length || st.q;
      if (!shownRows.length) {
        status.replaceChildren(count === 0 && !filtered
          ? h("span", { class: "empty" }, `${alias} has no rows yet. `, h("button", { type: "button", class: "link", onclick: () => openRow(null) }, "Create the first one"))
          : count === 0 ? h("span", { class: "empty" }, "No row matches these filters.") : h("span", { class: "empty" }, "No rows on this page."));
      } else status.textContent = `${num(count)} ${count === 1 ? "row matches" : "rows match"}${filtered ? " the filters" : ""}.`;
      position.textContent = shownRows.length ? `Rows ${num(st.offset + 1)}–${num(st.offset + shownRows.length)} of ${num(count)}` : `0 of ${num(count)}`;
      prev.disabled = st.offset === 0;
      next.disabled = st.offset + shownRows.length >= count;
    } catch (err) {
      // The rows stay; the error goes beside the filter it is about, else above the table.
      status.textContent = "The rows shown are from before this change.";
      if (err instanceof HttpError && err.status === 401) return;
      const rowsOf = [...filterList.children];
      const unplaced = [];
      for (const o of (err instanceof HttpError ? err.objects : [])) {
        const name = errorField(o.message || "", names);
        const row = rowsOf.find((r) => r.field.value === name);
        if (row) markInvalid(NO_VALUE.has(row.read().op) ? row.field : row.valueInput, `${o.code}: ${o.message}`);
        else unplaced.push(o);
      }
      if (unplaced.length || !(err instanceof HttpError) || !err.objects.length) {
        toolbarError.append(errorBox(err instanceof HttpError && err.objects.length ? new HttpError(err.status, unplaced) : err));
      } else toast.clear();
    } finally {
      frame.removeAttribute("aria-busy");
      frame.classList.remove("loading");
    }
  }

  // ------------------------------------------------------------------------------------------
  // The side panel: one row to edit or delete, a new row to create, and its related rows.

  async function openRow(row) {
    const creating = row === null;
    const idValue = creating ? null : row[entity.id];
    const formError = h("div");
    const inputs = fields.map((f) => {
      const locked = creating ? f.isCreatable === false : f.isEditable === false || f.name === entity.id;
      const current = creating ? null : row[f.name];
      let input;
      if (f.type === "boolean") {
        input = h("select", { name: f.name }, creating ? h("option", { value: "" }, "(default)") : null,
          h("option", { value: "true", selected: current === true }, "true"), h("option", { value: "false", selected: current === false }, "false"));
      } else if (f.type === "json") {
        input = h("textarea", { name: f.name, rows: 3 });
        input.value = current === null || current === undefined ? "" : JSON.stringify(current, null, 2);
      } else {
        input = h("input", { type: "text", name: f.name, value: current === null || current === undefined ? "" : String(current),
          inputmode: ["integer", "float", "decimal"].includes(f.type) ? "decimal" : null,
          placeholder: f.type === "date" ? "YYYY-MM-DD" : f.type === "datetime" ? "YYYY-MM-DD HH:MM:SS" : null });
      }
      input.setAttribute("aria-label", f.name);
      const isNull = h("input", { type: "checkbox", name: `${f.name}.null`, checked: !creating && current === null, "aria-label": `${f.name} is null` });
      const sync = () => { input.disabled = locked || isNull.checked; };
      isNull.addEventListener("change", () => { sync(); if (!isNull.checked) input.focus(); });
      isNull.disabled = locked;
      sync();
      const required = f.validation?.isRequired;
      const wrap = h("div", { class: `field-edit${locked ? " locked" : ""}` },
        h("label", {}, h("span", {}, f.name, required ? h("span", { class: "req", title: "required" }, " *") : null, h("span", { class: "type" }, ` ${f.type}`)), input),
        h("label", { class: "check nulltoggle" }, isNull, "null"),
        locked ? h("div", { class: "muted hint" }, creating ? "Set by the database" : "Not editable") : null);
      return { f, input, isNull, locked, current, wrap };
    });
    const valueOf = (i) => (i.isNull.checked ? null : i.f.type === "boolean" ? (i.input.value === "" ? undefined : i.input.value === "true") : typed(i.f, i.input.value));
    const save = async (e) => {
      e.preventDefault();
      formError.replaceChildren();
      clearInvalid(form);
      const body = {};
      for (const i of inputs) {
        if (i.locked) continue;
        const v = valueOf(i);
        if (creating) {
          // An empty input leaves the field to its default, as a field not sent.
          if (v === undefined || (v === "" && !i.isNull.checked)) continue;
          body[i.f.name] = v;
        } else if (JSON.stringify(v) !== JSON.stringify(i.current)) body[i.f.name] = v;
      }
      if (!creating && !Object.keys(body).length) { toast("Nothing changed"); return; }
      try {
        const saved = creating
          ? (await api("POST", `${PREFIX}/${enc(alias)}`, { data: [body] })).data[0]
          : (await api("PATCH", `${PREFIX}/${enc(alias)}/${enc(idValue)}`, { data: body })).data;
        // The table first, then the message: what the message says is on screen.
        await load();
        toast(creating ? `Created row ${saved[entity.id]}` : `Saved row ${saved[entity.id]}`);
        openRow(saved);
      } catch (err) { showWriteErrors(err); }
    };
    const showWriteErrors = (err) => {
      const unplaced = [];
      for (const o of (err instanceof HttpError ? err.objects : [])) {
        const name = errorField(o.message || "", names);
        const i = inputs.find((x) => x.f.name === name);
        if (i) markInvalid(i.locked || i.isNull.checked ? i.isNull : i.input, `${o.code}: ${o.message}`);
        else unplaced.push(o);
      }
      if (unplaced.length || !(err instanceof HttpError) || !err.objects.length) {
        formError.replaceChildren(errorBox(err instanceof HttpError && err.objects.length ? new HttpError(err.status, unplaced) : err));
      } else {
        toast.clear();
        formError.replaceChildren(h("div", { class: "errors", role: "alert" }, err.objects.length === 1 ? "Not saved: see the field marked." : `Not saved: see the ${err.objects.length} fields marked.`));
      }
      form.querySelector('[aria-invalid="true"]')?.focus();
    };
    const remove = async () => {
      if (!confirm(`Delete row ${idValue} of ${alias}?`)) return;
      try {
        await api("DELETE", `${PREFIX}/${enc(alias)}/${enc(idValue)}`);
        panel.hidden = true;
        await load();
        toast(`Deleted row ${idValue}`);
      } catch (err) { formError.replaceChildren(errorBox(err)); }
    };
    const form = h("form", { class: "row-form", "aria-label": creating ? "New row" : `Row ${idValue}`, novalidate: true },
      inputs.map((i) => i.wrap),
      formError,
      h("div", { class: "row" },
        h("button", { type: "submit" }, creating ? "Create row" : "Save row"),
        !creating && entity.deletable ? h("button", { type: "button", class: "danger", onclick: remove }, "Delete row") : null,
        h("button", { type: "button", class: "secondary", onclick: () => { panel.hidden = true; } }, "Close")),
      !creating && !entity.deletable ? h("p", { class: "muted" }, "Rows of this endpoint cannot be deleted (see Deletable in its editor).") : null);
    form.addEventListener("submit", save);
    const related = h("div", { class: "related" });
    panel.replaceChildren(...[
      h("h2", { id: "panel-title" }, creating ? `New row of ${alias}` : `Row ${idValue}`),
      form,
      related,
      creating ? null : h("details", {}, h("summary", {}, "Row as JSON"), h("pre", { "aria-label": "Row as JSON" }, JSON.stringify(row, null, 2))),
    ].filter(Boolean));
    panel.hidden = false;
    (inputs.find((i) => !i.locked)?.input || panel).focus();
    if (!creating && entity.relations.length) loadRelated(idValue, related);
  }

  /** The rows of every relation of one row, each with a link to them in their own view. */
  async function loadRelated(id, into) {
    into.replaceChildren(h("h3", {}, "Related rows"), h("p", { class: "muted" }, "Loading…"));
    try {
      const names = entity.relations.map((r) => r.name).join(",");
      const [one, children] = await Promise.all([
        api("GET", `${PREFIX}/${enc(alias)}/${enc(id)}?include=${enc(names)}`),
        Promise.all(entity.relations.map((r) => admin("GET", `entities/${enc(r.childDynamicEntityConfiguration.tableAlias)}`).catch(() => null))),
      ]);
      into.replaceChildren(h("h3", {}, "Related rows"), ...entity.relations.map((r, n) => {
        const rows = one.data[r.name] || [];
        const child = r.childDynamicEntityConfiguration.tableAlias;
        const childConfig = children[n]?.data.configuration;
        const m = (r.relationFieldMappings || [])[0] || {};
        const visible = (cfg, column) => cfg?.definition.fields.find((f) => f.fieldName === column)?.fieldVisibleName;
        const childField = visible(childConfig, m.childFieldName);
        const parentValue = one.data[visible(config, m.parentFieldName)];
        const link = childField !== undefined && parentValue !== undefined && parentValue !== null
          ? h("a", { href: `#/data/${enc(child)}?${new URLSearchParams({ f: `${childField}:eq:${parentValue}` })}` }, `Open in ${child}`) : null;
        const columns = rows.length ? Object.keys(rows[0]).filter((k) => !Array.isArray(rows[0][k])) : [];
        return h("section", { class: "relation", "aria-label": `${r.name} of row ${id}` },
          h("h4", {}, `${r.name} `, h("span", { class: "muted" }, `(${rows.length} ${rows.length === 1 ? "row" : "rows"} of ${child})`), " ", link),
          rows.length ? h("div", { class: "scroll" }, h("table", { class: "data small", "aria-label": `${r.name} rows` },
            h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
            h("tbody", {}, rows.map((cr) => h("tr", {}, columns.map((c) => h("td", {}, cell(cr[c])))))))) : h("p", { class: "muted" }, "None."));
      }));
    } catch (err) { into.replaceChildren(h("h3", {}, "Related rows"), errorBox(err)); }
  }

  page(`Data: ${alias}`,
    h("div", { class: "row spread" },
      h("p", { class: "muted" }, "Rows are read and written through the Data Exchange API with your session's scopes; the endpoint's rules apply."),
      h("button", { type: "button", onclick: () => openRow(null) }, "New row")),
    toolbar,
    h("div", { class: "data-layout" },
      h("div", { class: "data-main" }, status, frame,
        h("div", { class: "row pager" }, prev, position, next),
        h("p", { class: "muted" }, request)),
      panel));
  await load();
}

// ---------------------------------------------------------------------------------------------
// Jobs: CSV imports that run on the server, exports, and their history (/admin/api/jobs)

/** Rejected lines a job's card shows; the download has all of them. */
const REJECTS_PREVIEW = 10;

/** A job's counts in one line. */
function jobSummary(j) {
  const s = j.summary;
  if (j.state === "failed") return j.error ? `${j.error.code}: ${j.error.message}` : "failed";
  if (!s) return "";
  if (j.kind === "export") return `${s.rows} rows`;
  const parts = [`read ${s.read}`, `inserted ${s.inserted}`, `updated ${s.updated}`, `unchanged ${s.unchanged}`, `rejected ${s.rejected}`];
  if (s.dry_run) parts.push("dry run: nothing written");
  else if (s.atomic && !s.committed && j.state === "done") parts.push("rolled back: nothing written");
  if (s.stopped_early) parts.push("stopped at the error limit");
  return parts.join(", ");
}

/** A button that downloads the rejected lines of a job (the CLI's --rejects report). */
function rejectsButton(j, label) {
  return h("button", { type: "button", class: "secondary", onclick: async () => {
    try {
      const resp = await api("GET", `admin/api/jobs/${enc(j.id)}/rejects`, undefined, { raw: true });
      download(`${j.entity}-rejects.csv`, await resp.blob());
    } catch (e) { toast(e.message, "error"); }
  } }, label);
}

/** The first rejected lines of a job with their reasons, loaded into a table. */
function rejectsPreview(j) {
  const box = h("div", { class: "rejects" }, h("p", { class: "muted" }, "Loading the rejected lines…"));
  (async () => {
    try {
      const resp = await api("GET", `admin/api/jobs/${enc(j.id)}/rejects?limit=${REJECTS_PREVIEW}`, undefined, { raw: true });
      const [header, ...lines] = parseCsv(await resp.text());
      const total = j.summary?.rejected ?? lines.length;
      // The report's first four columns; the file's own cells follow.
      const cells = header ? header.slice(4) : [];
      box.replaceChildren(
        h("p", {}, h("strong", {}, total > lines.length ? `The first ${lines.length} of ${num(total)} rejected lines` : `${lines.length === 1 ? "The rejected line" : `The ${lines.length} rejected lines`}`)),
        h("div", { class: "scroll" }, h("table", { class: "small", "aria-label": `Rejected lines of ${j.file_name}` },
          h("thead", {}, h("tr", {}, ["Line", "Code", "Field", "Message", "Cells"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, lines.map((l) => h("tr", {},
            h("td", {}, l[0]), h("td", {}, l[1]), h("td", {}, l[2] ? h("code", {}, l[2]) : ""), h("td", {}, l[3]),
            h("td", { class: "muted" }, l.slice(4).map((v, i) => `${cells[i]}=${JSON.stringify(v)}`).join(", "))))))),
        rejectsButton(j, total > lines.length ? `Download all ${num(total)} rejects` : "Download rejects"));
    } catch (e) { box.replaceChildren(errorBox(e)); }
  })();
  return box;
}

/** A button that resumes an interrupted import after its last committed batch; `then` runs once
 * the server has taken it up. */
function resumeButton(j, then) {
  return h("button", { type: "button", onclick: async () => {
    try {
      await api("POST", `admin/api/jobs/${enc(j.id)}/resume`);
      toast(`Resumed the import of ${j.file_name}`);
      then();
    } catch (e) { toast(e.message, "error"); }
  } }, `Resume ${j.file_name}`);
}

/** A job's state as a badge: done green, failed or interrupted red. */
function stateBadge(j) {
  return h("span", { class: `badge ${j.state === "done" ? "on" : j.state === "running" ? "" : "off"}` }, j.state);
}

/** The live view of a running or finished import job, with its first rejects once it ended. */
function jobCard(j) {
  const s = j.summary || {};
  const total = j.bytes_total || 0;
  const done = j.state !== "running";
  const percent = total ? Math.round((100 * (done && j.state === "done" ? total : j.bytes_read)) / total) : 0;
  return h("div", { class: "card job", "data-state": j.state, "aria-label": `Job ${j.file_name}` },
    h("div", { class: "row" },
      h("strong", {}, `${j.kind === "import" ? "Import" : "Export"} of ${j.file_name} into ${j.entity}`),
      stateBadge(j)),
    h("progress", { max: 100, value: percent, "aria-label": "Progress" }, `${percent}%`),
    h("p", { class: "summary" }, done ? jobSummary(j) : `${s.read || 0} rows read (${s.rows_per_second ? Math.round(s.rows_per_second) : 0} rows/s), ${s.rejected || 0} rejected, ${percent}%`),
    done && j.kind === "import" && s.rejected ? rejectsPreview(j) : null);
}

/** Field pickers of an export: the sort keys (field and direction) and the fields to write. */
function exportPickers(form) {
  const sortList = h("div", { class: "sortkeys", role: "group", "aria-label": "Sort" });
  const fieldBox = h("fieldset", { class: "fieldpick" }, h("legend", {}, "Fields"));
  let fields = [];
  const addSort = (name = fields[0], desc = false) => {
    const field = h("select", { name: "sortField", "aria-label": "Sort by field" }, fields.map((f) => h("option", { value: f, selected: f === name }, f)));
    const dir = h("select", { name: "sortDir", "aria-label": "Sort direction" }, h("option", { value: "", selected: !desc }, "ascending"), h("option", { value: "-", selected: desc }, "descending"));
    const row = h("div", { class: "row" }, field, dir, h("button", { type: "button", class: "secondary small", "aria-label": "Remove this sort field", onclick: () => row.remove() }, "Remove"));
    row.read = () => `${dir.value}${field.value}`;
    sortList.append(row);
    return field;
  };
  const load = async (alias) => {
    sortList.replaceChildren();
    fieldBox.replaceChildren(h("legend", {}, "Fields"), h("span", { class: "muted" }, "Loading…"));
    try {
      const config = (await admin("GET", `entities/${enc(alias)}`)).data.configuration;
      fields = config.definition.fields.map((f) => f.fieldVisibleName);
      fieldBox.replaceChildren(h("legend", {}, "Fields (all checked: every field)"),
        ...fields.map((f) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "exportField", value: f, checked: true }), f)));
    } catch (e) { fieldBox.replaceChildren(h("legend", {}, "Fields"), errorBox(e)); }
  };
  return {
    load,
    element: h("div", {},
      h("div", { class: "row" }, h("span", { class: "label" }, "Sort"), sortList,
        h("button", { type: "button", class: "secondary small", onclick: () => addSort().focus() }, "Add sort field")),
      fieldBox),
    sort: () => [...sortList.children].map((r) => r.read()).join(","),
    fields: () => {
      const boxes = [...form.querySelectorAll('input[name="exportField"]')];
      const checked = boxes.filter((b) => b.checked).map((b) => b.value);
      return checked.length === boxes.length ? [] : checked;
    },
  };
}

async function jobs() {
  const entities = (await admin("GET", "entities")).data.filter((e) => e.served);
  const pick = () => h("select", { name: "entity" }, entities.map((e) => h("option", { value: e.alias }, e.alias)));
  const live = h("div", { "aria-live": "polite" });
  const importError = h("div");
  const importForm = h("form", { class: "card", "aria-labelledby": "import-title" },
    h("h2", { id: "import-title" }, "Import a CSV file"),
    h("div", { class: "row" },
      h("label", {}, "Endpoint", pick()),
      h("label", {}, "Mode", h("select", { name: "mode" }, ["insert", "upsert", "update"].map((m) => h("option", { value: m }, m)))),
      h("label", {}, "Match rows by (upsert, update)", h("input", { type: "text", name: "key", placeholder: "identifier" })),
      h("label", {}, "CSV file", h("input", { type: "file", name: "file", accept: ".csv,text/csv", required: true })),
      h("label", {}, "Mapping (optional YAML)", h("input", { type: "file", name: "mapping", accept: ".yml,.yaml" }))),
    h("div", { class: "row" },
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "dryRun" }), "Dry run (validate, write nothing)"),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "atomic" }), "All or nothing"),
      h("label", {}, "Stop after N rejects", h("input", { type: "number", name: "maxErrors", min: 1, class: "narrow" }))),
    h("p", { class: "muted" }, "Rows are checked by the same rules as the API. A refused row does not cost its neighbours: it is listed with its line, code and reason."),
    h("button", { type: "submit" }, "Import"),
    importError, live);
  importForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    importError.replaceChildren();
    const file = importForm.file.files[0];
    if (!file) { importError.append(errorBox(new Error("Choose a CSV file first."))); return; }
    const params = new URLSearchParams({ entity: importForm.entity.value, mode: importForm.mode.value, fileName: file.name });
    if (importForm.key.value) params.set("key", importForm.key.value);
    if (importForm.dryRun.checked) params.set("dryRun", "true");
    if (importForm.atomic.checked) params.set("atomic", "true");
    if (importForm.maxErrors.value) params.set("maxErrors", importForm.maxErrors.value);
    if (importForm.mapping.files[0]) params.set("mapping", await importForm.mapping.files[0].text());
    try {
      let job = (await api("POST", `admin/api/jobs/import?${params}`, file, { headers: { "Content-Type": "text/csv" } })).data;
      live.replaceChildren(jobCard(job));
      // Follow the job until it ends; it goes on on the server if this page is left.
      while (job.state === "running" && document.body.contains(live)) {
        await new Promise((ok) => setTimeout(ok, 300));
        job = (await admin("GET", `jobs/${enc(job.id)}`)).data;
        live.replaceChildren(jobCard(job));
      }
      renderHistory();
    } catch (err) { importError.append(errorBox(err)); }
  });
  const exportError = h("div");
  const exportForm = h("form", { class: "card", "aria-labelledby": "export-title" });
  const pickers = exportPickers(exportForm);
  const exportEntity = pick();
  exportEntity.addEventListener("change", () => pickers.load(exportEntity.value));
  exportForm.append(
    h("h2", { id: "export-title" }, "Export to CSV"),
    h("div", { class: "row" }, h("label", {}, "Endpoint", exportEntity),
      h("label", {}, "Changed since", h("input", { type: "text", name: "changedSince", placeholder: "2024-01-01" }))),
    pickers.element,
    h("button", { type: "submit" }, "Export"),
    exportError);
  exportForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    exportError.replaceChildren();
    const alias = exportEntity.value;
    const body = { entity: alias, sort: pickers.sort(), changedSince: exportForm.changedSince.value, fields: pickers.fields() };
    try {
      const resp = await api("POST", "admin/api/jobs/export", JSON.stringify(body), { raw: true, headers: { "Content-Type": "application/json" } });
      download(`${alias}.csv`, await resp.blob());
      toast(`Exported ${alias}`);
      renderHistory();
    } catch (err) { exportError.append(errorBox(err)); }
  });
  if (entities.length) pickers.load(exportEntity.value);
  const list = h("tbody");
  const history = h("div", { class: "scroll" });
  const renderHistory = async () => {
    const all = (await admin("GET", "jobs")).data;
    list.replaceChildren(...all.map((j) => h("tr", {},
      h("td", {}, when(j.started_at)), h("td", {}, j.kind), h("td", {}, j.entity), h("td", {}, j.file_name),
      h("td", {}, j.created_by), h("td", {}, stateBadge(j)),
      h("td", {}, jobSummary(j)),
      h("td", {}, j.resumable ? resumeButton(j, renderHistory) : "",
        j.kind === "import" && j.summary && j.summary.rejected && j.state !== "running"
          ? h("button", { type: "button", class: "secondary", onclick: () => { live.replaceChildren(jobCard(j)); live.scrollIntoView({ block: "nearest" }); } }, `Rejects of ${j.file_name}`) : ""))));
    history.replaceChildren(all.length
      ? h("table", { "aria-label": "Job history" },
        h("thead", {}, h("tr", {}, ["Started (UTC)", "Job", "Endpoint", "File", "By", "State", "Summary", ""].map((c) => h("th", { scope: "col" }, c)))), list)
      : h("p", { class: "empty" }, "No job yet."));
  };
  await renderHistory();
  page("Jobs", importForm, exportForm,
    h("section", { "aria-labelledby": "history-title" }, h("h2", { id: "history-title" }, "History"), history));
}

// ---------------------------------------------------------------------------------------------
// Pipelines: health, definitions, runs, dead letters, the mapping tester, variables

/** A pipeline's health as a heart: green when healthy, red with the reasons when not. */
function heart(p) {
  const why = p.healthy ? "healthy" : `unhealthy: ${p.problems.join("; ")}`;
  return h("span", { class: `heart ${p.healthy ? "good" : "bad"}`, title: why, "data-health": p.healthy ? "healthy" : "unhealthy" },
    h("span", { "aria-hidden": "true" }, "♥"), " ", p.healthy ? "healthy" : "unhealthy");
}

/** A run's state as a badge: succeeded green, failed or interrupted red. */
function runBadge(state) {
  return h("span", { class: `badge ${state === "succeeded" ? "on" : state === "running" ? "" : "off"}` }, state);
}

/** A schedule in words: its cron expression and time zone, or "by hand". */
function scheduleText(s) {
  return s ? `${s.cron}${s.timezone && s.timezone !== "UTC" ? ` (${s.timezone})` : ""}` : "by hand";
}

/** Rows a run wrote: inserted and updated. */
const written = (r) => (r.summary?.inserted || 0) + (r.summary?.updated || 0);

/** The name in a definition's text (`name: …` at the top), to save a new one under it. */
function definitionName(text) {
  const m = /^name:\s*["']?([^"'\s#]+)/m.exec(text);
  return m ? m[1] : "";
}

/** Shows a refused definition's problems: each at its line (a link that selects the line in the
 * editor), with its path; the editor is marked invalid. */
function showDefinitionProblems(err, editor, box) {
  const items = err.objects.map((o) => {
    const message = o.path && o.message.startsWith(`${o.path}: `) ? o.message.slice(o.path.length + 2) : o.message;
    return h("li", { "data-path": o.path || "", "data-line": o.line || "" },
      o.line ? h("a", { href: "#", onclick: (e) => { e.preventDefault(); selectLine(editor, o.line); } }, `Line ${o.line}`) : null,
      o.line ? " " : null, o.path && !o.path.startsWith("line ") ? h("code", {}, o.path) : null, o.path ? ": " : null, message);
  });
  if (!items.length) { box.replaceChildren(errorBox(err)); return; }
  toast.clear();
  const id = newId("problems");
  editor.setAttribute("aria-invalid", "true");
  editor.setAttribute("aria-describedby", id);
  box.replaceChildren(h("div", { class: "errors", role: "alert", id },
    h("strong", {}, items.length === 1 ? "Not saved: one problem." : `Not saved: ${items.length} problems.`), h("ul", { "aria-label": "Problems of the definition" }, items)));
  const first = err.objects.find((o) => o.line);
  if (first) selectLine(editor, first.line);
}

/** Selects line `n` (1-based) of a text area and scrolls it into view. */
function selectLine(area, n) {
  const lines = area.value.split("\n");
  const start = lines.slice(0, n - 1).reduce((k, l) => k + l.length + 1, 0);
  area.focus();
  area.setSelectionRange(start, start + (lines[n - 1] || "").length);
  const lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 18;
  area.scrollTop = Math.max(0, (n - 3) * lineHeight);
}

/** A text area for a definition with line numbers beside it. */
function definitionEditor(text, label) {
  const area = h("textarea", { class: "code", "aria-label": label, spellcheck: "false", rows: Math.min(Math.max(text.split("\n").length + 1, 12), 30), value: text });
  const gutter = h("pre", { class: "gutter", "aria-hidden": "true" });
  const numbers = () => { gutter.textContent = area.value.split("\n").map((_, i) => i + 1).join("\n"); gutter.scrollTop = area.scrollTop; };
  area.addEventListener("input", numbers);
  area.addEventListener("scroll", () => { gutter.scrollTop = area.scrollTop; });
  numbers();
  return { area, element: h("div", { class: "editor" }, gutter, area) };
}

/** A bar chart of the records of the last runs, oldest left: read in grey, written in blue,
 * dead letters in red; a failed run's bar is outlined red. */
function runsChart(runs) {
  const width = 420, height = 64;
  const shown = runs.slice(0, 30).reverse();
  const top = Math.max(1, ...shown.map((r) => r.summary?.read || 0));
  const slot = width / Math.max(shown.length, 1);
  const bar = Math.max(Math.min(slot / 3 - 1, 12), 1);
  const y = (v) => height - (v ? Math.max(1, (v / top) * (height - 4)) : 0);
  const total = (k) => shown.reduce((n, r) => n + (k === "written" ? written(r) : r.summary?.[k] || 0), 0);
  const label = `Records of the last ${shown.length} runs: ${num(total("read"))} read, ${num(total("written"))} written, ${num(total("deadLetters"))} dead letters`;
  return svg("svg", { viewBox: `0 0 ${width} ${height + 14}`, width, height: height + 14, role: "img", "aria-label": label, class: "chart runs-chart" },
    svg("title", {}, label),
    svg("line", { x1: 0, y1: height + 0.5, x2: width, y2: height + 0.5, class: "axis" }),
    shown.map((r, i) => {
      const s = r.summary || {};
      const x = i * slot;
      const tip = `run ${r.id}, ${when(r.startedAt)} UTC, ${r.state}: ${num(s.read || 0)} read, ${num(written(r))} written, ${num(s.deadLetters || 0)} dead letters`;
      return svg("g", { class: `run ${r.state}` }, svg("title", {}, tip),
        [["read", s.read || 0], ["written", written(r)], ["dead", s.deadLetters || 0]].map(([k, v], j) =>
          svg("rect", { class: k, x: (x + j * (bar + 1)).toFixed(2), y: y(v).toFixed(2), width: bar.toFixed(2), height: (height - y(v)).toFixed(2) })),
        r.state === "failed" || r.state === "interrupted" ? svg("rect", { class: "failed-mark", x: x.toFixed(2), y: height + 2, width: (3 * (bar + 1)).toFixed(2), height: 3 }) : null);
    }),
    svg("text", { x: 0, y: height + 12, class: "tick" }, shown.length ? when(shown[0].startedAt).slice(0, 16) : ""),
    svg("text", { x: width, y: height + 12, class: "tick", "text-anchor": "end" }, shown.length ? when(shown.at(-1).startedAt).slice(0, 16) : ""));
}

async function pipelines() {
  const [list, vars] = await Promise.all([admin("GET", "pipelines"), admin("GET", "variables")]);
  const all = list.data.pipelines;
  const table = all.length
    ? h("div", { class: "scroll card flush" }, h("table", { "aria-label": "Pipelines" },
      h("thead", {}, h("tr", {}, ["Health", "Pipeline", "Schedule", "Next run (UTC)", "Last run", "Last success (UTC)", "Failures in a row", "State"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, all.map((p) => h("tr", { class: "clickable", "data-pipeline": p.name, onclick: (e) => { if (!e.target.closest("a")) location.hash = `#/pipelines/${enc(p.name)}`; } },
        h("td", {}, heart(p), p.healthy ? null : h("div", { class: "muted small" }, p.problems.join("; "))),
        h("td", {}, h("a", { href: `#/pipelines/${enc(p.name)}` }, p.name), p.description ? h("div", { class: "muted small" }, p.description) : null,
          p.after.length ? h("div", { class: "muted small" }, `after ${p.after.join(", ")}`) : null),
        h("td", {}, p.schedule ? h("code", {}, scheduleText(p.schedule)) : h("span", { class: "muted" }, "by hand")),
        h("td", {}, when(p.nextRunAt) || "—"),
        h("td", {}, p.lastRun ? [runBadge(p.lastRun.state), ` ${when(p.lastRun.startedAt)}`] : h("span", { class: "muted" }, "never")),
        h("td", {}, when(p.lastSuccessAt) || "—"),
        h("td", { class: "num" }, p.consecutiveFailures),
        h("td", {}, p.state === "running" ? h("span", { class: "badge" }, "running") : "idle"))))))
    : h("p", { class: "empty" }, "No pipeline yet: add one below, or with ", h("code", {}, "dynex pipeline add FILE.yml"), ".");
  const unhealthy = all.filter((p) => !p.healthy).length;
  const summary = h("p", { class: "summary-line" }, all.length
    ? unhealthy ? `${unhealthy} of ${all.length} pipelines unhealthy.` : `All ${all.length} pipelines healthy.` : "");
  const editor = definitionEditor(NEW_PIPELINE, "New pipeline definition");
  const problems = h("div");
  const create = h("form", { class: "card", "aria-labelledby": "new-pipeline-title" },
    h("h2", { id: "new-pipeline-title" }, "New pipeline"),
    h("p", { class: "muted" }, "A definition in YAML, as in ", h("code", {}, "docs/pipelines.md"), "; it is checked against the endpoints and the other pipelines before it is saved."),
    editor.element, problems,
    h("div", { class: "row" }, h("button", { type: "submit" }, "Add pipeline")));
  create.addEventListener("submit", async (e) => {
    e.preventDefault();
    problems.replaceChildren();
    clearInvalid(create);
    const name = definitionName(editor.area.value);
    if (!name) { showDefinitionProblems(new HttpError(400, [{ code: "1401", message: "name: a definition starts with `name: …`", path: "name", line: 1 }]), editor.area, problems); return; }
    try {
      await admin("PUT", `pipelines/${enc(name)}`, { definition: editor.area.value });
      toast(`Pipeline ${name} added`);
      location.hash = `#/pipelines/${enc(name)}`;
    } catch (err) {
      if (err instanceof HttpError && err.objects.length && err.status === 400) showDefinitionProblems(err, editor.area, problems);
      else problems.replaceChildren(errorBox(err));
    }
  });
  page("Pipelines", summary, table, create, variablesSection(vars.data));
}

const NEW_PIPELINE = `name: my-pipeline
description: What it is for
source:
  csv:
    folder: /var/lib/dynex/inbox
    pattern: "*.csv"
map:
  fields:
    iso2_code: $.code
    name: { path: $.name, trim: true }
target:
  entity:
    entity: countries
    key: iso2_code
`;

/** The variables definitions read as `${NAME}`: plain ones with their values, secrets masked
 * (the server never sends them); set and removed here. */
function variablesSection(v) {
  const reload = async () => section.replaceWith(variablesSection((await admin("GET", "variables")).data));
  const err = h("div");
  const secret = h("input", { type: "checkbox", name: "secret", disabled: !v.secretsSettable });
  const form = h("form", { class: "stack", "aria-label": "Set a variable" },
    h("div", { class: "row" },
      h("label", {}, "Variable name", h("input", { type: "text", name: "name", required: true, pattern: "[A-Za-z_][A-Za-z0-9_]*", placeholder: "AKENEO_URL" })),
      h("label", { class: "grow" }, "Value", h("input", { type: "password", name: "value", autocomplete: "off", class: "wide" })),
      h("label", { class: "check", title: v.secretsSettable ? "" : "This server has no DYNEX_SECRET_KEY: secrets can be set with the CLI where the key is." }, secret, "secret (encrypted, never shown)"),
      h("button", { type: "submit" }, "Set variable")),
    v.secretsSettable ? null : h("p", { class: "muted" }, "Secrets need DYNEX_SECRET_KEY on this server; set them with ", h("code", {}, "dynex variable set NAME --secret"), " where the key is."),
    err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.replaceChildren();
    clearInvalid(form);
    try {
      await admin("PUT", `variables/${enc(form.name.value)}`, { value: form.value.value, secret: secret.checked });
      toast(`Variable ${form.name.value} set`);
      await reload();
    } catch (x) {
      if (x instanceof HttpError && /name/i.test(x.message)) markInvalid(form.name, x.list.join(" "));
      else err.append(errorBox(x));
    }
  });
  const section = h("section", { "aria-labelledby": "variables-title" },
    h("h2", { id: "variables-title" }, "Variables"),
    h("p", { class: "muted" }, "Definitions read them as ", h("code", {}, "${NAME}"), ". A secret's value is encrypted in the database and never sent to this page."),
    v.variables.length ? h("div", { class: "scroll" }, h("table", { "aria-label": "Variables" },
      h("thead", {}, h("tr", {}, ["Name", "Value", "Set (UTC)", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, v.variables.map((x) => h("tr", {},
        h("td", {}, h("code", {}, x.name)),
        h("td", {}, x.secret ? h("span", { class: "masked", "data-secret-variable": x.name }, "•••••••• ", h("span", { class: "badge" }, "secret")) : h("code", {}, x.value)),
        h("td", {}, when(x.updatedAt)),
        h("td", {}, h("button", { type: "button", class: "danger small", onclick: async () => {
          if (!confirm(`Remove variable ${x.name}?`)) return;
          try { await admin("DELETE", `variables/${enc(x.name)}`); toast(`Variable ${x.name} removed`); await reload(); } catch (e) { toast(e.message, "error"); }
        } }, `Remove ${x.name}`))))))) : h("p", { class: "empty" }, "No variable yet."),
    form);
  return section;
}

/** A pipeline's page: health and controls, its definition, runs, dead letters and tester. */
async function pipeline(name, params) {
  const q = new URLSearchParams(params || "");
  const limit = Math.min(Math.max(Number(q.get("runs")) || 20, 1), 1000);
  const [shown, runs, letters] = await Promise.all([
    admin("GET", `pipelines/${enc(name)}`), admin("GET", `pipelines/${enc(name)}/runs?limit=${limit}`), admin("GET", `pipelines/${enc(name)}/dead-letters?limit=100`)]);
  const p = shown.data;
  const hp = p.health;
  const live = { stopped: false };
  const reload = () => { live.stopped = true; route(); };

  const status = h("section", { "aria-labelledby": "status-title", class: "pipeline-status" },
    h("h2", { id: "status-title" }, "Health"),
    h("dl", { class: "facts" },
      h("dt", {}, "Health"), h("dd", {}, heart(hp), hp.problems.length ? h("ul", { class: "problems" }, hp.problems.map((x) => h("li", {}, x))) : null),
      h("dt", {}, "State"), h("dd", { "data-state": hp.state }, hp.state === "running" ? h("span", { class: "badge" }, "running") : "idle"),
      h("dt", {}, "Schedule"), h("dd", {}, hp.schedule ? h("code", {}, scheduleText(hp.schedule)) : "by hand", hp.nextRunAt ? `, next ${when(hp.nextRunAt)} UTC` : ""),
      hp.after.length ? [h("dt", {}, "Runs after"), h("dd", {}, hp.after.flatMap((a, i) => [i ? ", " : "", h("a", { href: `#/pipelines/${enc(a)}` }, a)]))] : null,
      h("dt", {}, "Last success"), h("dd", {}, hp.lastSuccessAt ? `${when(hp.lastSuccessAt)} UTC` : "never"),
      h("dt", {}, "Failures in a row"), h("dd", {}, String(hp.consecutiveFailures)),
      p.variables.length ? [h("dt", {}, "Variables"), h("dd", {}, p.variables.flatMap((v, i) => [i ? ", " : "", h("code", {}, v)]))] : null),
    h("div", { class: "row" },
      h("button", { type: "button", disabled: hp.state === "running", onclick: async () => {
        try {
          const started = await admin("POST", `pipelines/${enc(name)}/run`);
          toast(`Run ${started.data.run} started`);
          reload();
        } catch (e) { toast(e.message, "error"); }
      } }, "Run now"),
      h("button", { type: "button", class: "secondary", disabled: hp.state !== "running", onclick: async () => {
        try {
          const stopped = await admin("POST", `pipelines/${enc(name)}/stop`);
          toast(stopped.data.run ? `Asked run ${stopped.data.run} to stop` : "No run to stop");
          reload();
        } catch (e) { toast(e.message, "error"); }
      } }, "Stop"),
      h("button", { type: "button", class: "danger", onclick: async () => {
        if (!confirm(`Remove pipeline ${name}? Its cursor and dead letters go with it; its run history stays.`)) return;
        try { await admin("DELETE", `pipelines/${enc(name)}`); toast(`Pipeline ${name} removed`); location.hash = "#/pipelines"; } catch (e) { toast(e.message, "error"); }
      } }, "Remove pipeline")));

  // The definition, saved as `dynex pipeline add` checks it.
  const editor = definitionEditor(p.definition, "Definition");
  const problems = h("div");
  const def = h("form", { class: "card", "aria-labelledby": "definition-title" },
    h("h2", { id: "definition-title" }, "Definition"),
    h("p", { class: "muted" }, `Saved ${when(p.updatedAt)} UTC. Variables stay as `, h("code", {}, "${NAME}"), " references; the mapping tester below tests this text, saved or not."),
    editor.element, problems,
    h("div", { class: "row" }, h("button", { type: "submit" }, "Save definition")));
  def.addEventListener("submit", async (e) => {
    e.preventDefault();
    problems.replaceChildren();
    clearInvalid(def);
    try {
      await admin("PUT", `pipelines/${enc(name)}`, { definition: editor.area.value });
      toast("Saved: the next run uses this definition");
      reload();
    } catch (err) {
      if (err instanceof HttpError && err.objects.length && err.status === 400) showDefinitionProblems(err, editor.area, problems);
      else problems.replaceChildren(errorBox(err));
    }
  });

  // Run history, with the counts over time.
  const history = h("section", { "aria-labelledby": "runs-title" },
    h("h2", { id: "runs-title" }, "Runs"),
    runs.data.length ? [
      h("figure", { class: "runs-figure" }, runsChart(runs.data),
        h("figcaption", {}, h("span", { class: "key read" }, "read"), " ", h("span", { class: "key written" }, "written"), " ", h("span", { class: "key dead" }, "dead letters"), " per run, oldest left")),
      h("div", { class: "scroll" }, h("table", { "aria-label": "Runs" },
        h("thead", {}, h("tr", {}, ["Run", "Started (UTC)", "Trigger", "State", "Read", "Written", "Unchanged", "Dead letters", "Seconds", "Error"].map((c) => h("th", { scope: "col", class: ["Read", "Written", "Unchanged", "Dead letters", "Seconds"].includes(c) ? "num" : null }, c)))),
        h("tbody", {}, runs.data.map((r) => {
          const s = r.summary || {};
          const secs = r.finishedAt ? (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000 : null;
          return h("tr", { "data-run": r.id, "data-state": r.state },
            h("td", {}, String(r.id)), h("td", {}, when(r.startedAt)), h("td", {}, r.options?.trigger || (r.options?.replay ? "retry" : "")),
            h("td", {}, runBadge(r.state), r.options?.dryRun ? " dry run" : "", r.options?.replay ? " replay" : ""),
            h("td", { class: "num" }, num(s.read || 0)), h("td", { class: "num" }, num(written(r))), h("td", { class: "num" }, num(s.unchanged || 0)),
            h("td", { class: "num" }, num(s.deadLetters || 0)), h("td", { class: "num" }, secs === null ? "" : secs.toFixed(1)),
            h("td", { class: "error-text" }, r.error || ""));
        })))),
      runs.data.length >= limit ? h("p", {}, h("a", { href: `#/pipelines/${enc(name)}?runs=${limit * 5}` }, "Show more runs")) : null]
      : h("p", { class: "empty" }, "No run yet: ", h("strong", {}, "Run now"), " starts one."));

  // Dead letters: retried through the current mapping, or skipped.
  const lettersError = h("div");
  const checks = letters.data.map((d) => h("input", { type: "checkbox", value: d.id, "aria-label": `Select dead letter ${d.id}` }));
  const dead = h("section", { "aria-labelledby": "dead-title" },
    h("h2", { id: "dead-title" }, `Dead letters (${letters.data.length >= 100 ? "the first 100" : letters.data.length})`),
    letters.data.length ? [
      h("p", { class: "muted" }, "Records the mapping could not convert or the target refused. Fix the definition, then retry them through it; or skip the ones that should not be delivered."),
      h("div", { class: "scroll" }, h("table", { "aria-label": "Dead letters" },
        h("thead", {}, h("tr", {}, [h("input", { type: "checkbox", "aria-label": "Select every dead letter", onchange: (e) => { for (const c of checks) c.checked = e.target.checked; } }), "Id", "Run", "Stage", "Code", "Field", "Message", "Record"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, letters.data.map((d, i) => h("tr", { "data-dead-letter": d.id },
          h("td", {}, checks[i]), h("td", {}, String(d.id)), h("td", {}, String(d.runId)), h("td", {}, d.stage), h("td", {}, d.code),
          h("td", {}, d.field ? h("code", {}, d.field) : ""), h("td", { class: "error-text" }, d.message),
          h("td", {}, h("code", { class: "record" }, JSON.stringify(d.record)))))))),
      h("div", { class: "row" },
        h("button", { type: "button", onclick: async () => {
          lettersError.replaceChildren();
          try {
            const s = (await admin("POST", `pipelines/${enc(name)}/dead-letters/retry`, {})).data;
            toast(`Retried: ${s.inserted + s.updated} written, ${s.unchanged} unchanged, ${s.deadLetters} dead letters again`, s.state === "failed" ? "error" : "ok");
            reload();
          } catch (e) { lettersError.append(errorBox(e)); }
        } }, "Retry all"),
        h("button", { type: "button", class: "secondary", onclick: async () => {
          lettersError.replaceChildren();
          const ids = checks.filter((c) => c.checked).map((c) => Number(c.value));
          if (!ids.length) { lettersError.append(errorBox(new Error("Select the dead letters to skip first."))); return; }
          try {
            const s = (await admin("POST", `pipelines/${enc(name)}/dead-letters/skip`, { ids })).data;
            toast(`Skipped ${s.skipped} dead letter${s.skipped === 1 ? "" : "s"}`);
            reload();
          } catch (e) { lettersError.append(errorBox(e)); }
        } }, "Skip selected"),
        h("button", { type: "button", class: "secondary", onclick: () => {
          samples.value = JSON.stringify(letters.data.map((d) => d.record), null, 2);
          samples.scrollIntoView({ block: "center" });
          samples.focus();
        } }, "Test these records")),
      lettersError]
      : h("p", { class: "empty" }, "No dead letter."));

  // The mapping tester: pasted records, or a sample read from the source.
  const samples = h("textarea", { class: "code", "aria-label": "Sample records", rows: 8, placeholder: '{"code": "de", "name": " Germany "}\n(one JSON object, or an array of them)' });
  const testOut = h("div", { "aria-live": "polite" });
  const showSamples = (t) => {
    if (!t.samples.length) { testOut.replaceChildren(h("p", { class: "empty" }, t.from === "source" ? "The source gave no record (a CSV file already read is in done/)." : "No record.")); return; }
    const bad = (s) => s.error || (s.rowErrors && s.rowErrors.length);
    const ok = t.samples.filter((s) => s.rows && !bad(s)).length;
    testOut.replaceChildren(
      h("p", { class: "summary-line" }, `${t.samples.length} record${t.samples.length === 1 ? "" : "s"} ${t.from === "source" ? "read from the source" : "pasted"}: ${ok} mapped, ${t.samples.filter(bad).length} refused, ${t.samples.filter((s) => s.skipped).length} skipped.`),
      h("div", { class: "scroll" }, h("table", { "aria-label": "Mapped records", class: "tester" },
        h("thead", {}, h("tr", {}, ["#", "Record", "Mapped output", "Errors"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, t.samples.map((s, i) => h("tr", { "data-sample": i + 1, class: bad(s) ? "refused" : "" },
          h("td", {}, String(i + 1)),
          h("td", {}, h("pre", {}, JSON.stringify(s.record, null, 2))),
          h("td", {}, s.rows ? h("pre", { class: "mapped" }, s.rows.map((r) => JSON.stringify(r, null, 2)).join("\n")) : s.skipped ? h("span", { class: "muted" }, `skipped: ${s.skipped}`) : h("span", { class: "muted" }, "no row")),
          h("td", { class: "error-text" }, s.error ? h("div", { class: "field-error", "data-error-for": s.error.field }, h("code", {}, s.error.field), `: ${s.error.message}`, h("span", { class: "muted" }, ` (${s.error.code})`)) : "",
            (s.rowErrors || []).map((e) => h("div", { class: "field-error row-error" }, s.rows.length > 1 ? `row ${e.row + 1}: ` : "", `${e.code}: ${e.message}`)))))))));
  };
  const test = async (body) => {
    testOut.replaceChildren(h("p", { class: "muted" }, "Mapping…"));
    clearInvalid(tester);
    try {
      showSamples((await admin("POST", `pipelines/${enc(name)}/test`, { definition: editor.area.value, ...body })).data);
    } catch (err) {
      if (err instanceof HttpError && err.objects.some((o) => o.path !== undefined)) {
        testOut.replaceChildren();
        showDefinitionProblems(err, editor.area, problems);
        testOut.append(h("p", { class: "errors" }, "The definition above has problems: fix them first."));
      } else testOut.replaceChildren(errorBox(err));
    }
  };
  const tester = h("form", { class: "card", "aria-labelledby": "tester-title" },
    h("h2", { id: "tester-title" }, "Mapping tester"),
    h("p", { class: "muted" }, "Maps records with the definition above (saved or not), writing nothing: paste records, or fetch a few from the source where the next run would start. Rows for an endpoint are checked against its field rules too."),
    samples,
    h("div", { class: "row" },
      h("button", { type: "submit" }, "Map these records"),
      h("label", {}, "Records to fetch", h("input", { type: "number", name: "sample", min: 1, max: 100, value: 5, class: "narrow" })),
      h("button", { type: "button", class: "secondary", onclick: () => test({ sample: Number(tester.sample.value) || 5 }) }, "Fetch a sample from the source")),
    testOut);
  tester.addEventListener("submit", (e) => {
    e.preventDefault();
    let records;
    try {
      const parsed = JSON.parse(samples.value);
      records = Array.isArray(parsed) ? parsed : [parsed];
    } catch (err) {
      markInvalid(samples, `Not JSON: ${err.message}`);
      return;
    }
    test({ records });
  });

  page(`Pipeline ${name}`, p.health.description ? h("p", {}, p.health.description) : null, status, def, history, dead, tester);

  // A running run's counts refresh until it ends (while this page is shown).
  if (hp.state === "running") {
    const view = main.firstChild;
    (async () => {
      while (!live.stopped && main.contains(view)) {
        await new Promise((ok) => setTimeout(ok, 1000));
        if (live.stopped || !main.contains(view)) return;
        const now = (await admin("GET", `pipelines/${enc(name)}/health`).catch(() => null))?.data;
        if (now && now.state !== "running") { reload(); return; }
        const latest = (await admin("GET", `pipelines/${enc(name)}/runs?limit=1`).catch(() => null))?.data?.[0];
        const row = latest && history.querySelector(`tr[data-run="${latest.id}"]`);
        if (row) {
          const s = latest.summary || {};
          row.cells[4].textContent = num(s.read || 0);
          row.cells[5].textContent = num(written(latest));
          row.cells[6].textContent = num(s.unchanged || 0);
          row.cells[7].textContent = num(s.deadLetters || 0);
        }
      }
    })();
  }
}

// ---------------------------------------------------------------------------------------------
// Access: API keys, users, integration clients

/** A scope picker: an endpoint (or every one) and an action, which can only make the scopes of
 * docs/auth.md (`dynamic-entity[:<alias>]:<action>`, `admin`). */
function scopePicker(entities, title) {
  const chosen = [];
  const list = h("ul", { class: "chips", "aria-label": `Chosen ${title.toLowerCase()}` });
  const empty = h("span", { class: "muted" });
  const endpoint = h("select", { "aria-label": `${title}: endpoint` }, h("option", { value: "" }, "every endpoint"),
    entities.map((e) => h("option", { value: e.alias }, e.alias)));
  const action = h("select", { "aria-label": `${title}: action` }, SCOPE_ACTIONS.map((a) => h("option", { value: a }, a)));
  const adminScope = h("input", { type: "checkbox", "aria-label": `${title}: admin` });
  const render = () => {
    list.replaceChildren(...chosen.map((scope) => h("li", {}, h("code", {}, scope),
      h("button", { type: "button", class: "chip-remove", "aria-label": `Remove scope ${scope}`, onclick: () => { chosen.splice(chosen.indexOf(scope), 1); render(); } }, "×"))));
    empty.hidden = chosen.length > 0 || adminScope.checked;
  };
  const add = () => {
    const scope = endpoint.value ? `dynamic-entity:${endpoint.value}:${action.value}` : `dynamic-entity:${action.value}`;
    if (!chosen.includes(scope)) chosen.push(scope);
    render();
  };
  adminScope.addEventListener("change", render);
  const element = h("fieldset", { class: "scopes" }, h("legend", {}, title),
    h("div", { class: "row" },
      endpoint, action,
      h("button", { type: "button", class: "secondary small", onclick: add }, "Add scope"),
      h("label", { class: "check" }, adminScope, "admin (the admin API and this back office)")),
    list, empty);
  return {
    element,
    values: () => [...chosen, ...(adminScope.checked ? ["admin"] : [])],
    emptyText: (text) => { empty.textContent = text; render(); },
  };
}

/** Keys, users and clients; `shown` is a secret just created, shown once above the lists. */
async function access(shown) {
  const [keys, users, clients, entities] = await Promise.all([admin("GET", "keys"), admin("GET", "users"), admin("GET", "clients"), admin("GET", "entities")]);
  const aliases = entities.data;
  const secret = h("div", { "aria-live": "polite" }, shown ? h("div", { class: "card" },
    h("strong", {}, `${shown.label} (shown once: copy it now)`),
    h("div", { class: "row secret-row" }, h("div", { class: "secret", "data-secret": "" }, shown.value), copyButton(shown.value, shown.what))) : null);
  const showSecret = (label, what, value) => reload({ label, what, value });
  const form = (title, fieldsList, submit, button) => {
    const err = h("div");
    const f = h("form", { class: "stack", "aria-label": title }, fieldsList, h("div", {}, h("button", { type: "submit" }, button)), err);
    f.addEventListener("submit", async (e) => { e.preventDefault(); err.replaceChildren(); try { await submit(f); } catch (x) { err.append(errorBox(x)); } });
    return f;
  };
  const reload = (next) => access(next).catch((e) => main.append(errorBox(e)));
  const keyScopes = scopePicker(aliases, "Key scopes");
  keyScopes.emptyText("No scope chosen: the key gets dynamic-entity:read, dynamic-entity:write and dynamic-entity:delete.");
  const clientScopes = scopePicker(aliases, "Client scopes");
  clientScopes.emptyText("Choose at least one scope.");
  page("Access",
    secret,
    h("section", { "aria-labelledby": "keys-title" }, h("h2", { id: "keys-title" }, "API keys"),
      keys.data.length ? h("div", { class: "scroll" }, h("table", { "aria-label": "API keys" }, h("thead", {}, h("tr", {}, ["Name", "Prefix", "Scopes", "Valid to", "State", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, keys.data.map((k) => h("tr", {}, h("td", {}, k.name), h("td", {}, h("code", {}, k.prefix)), h("td", {}, k.scopes.join(" ") || "everything"), h("td", {}, k.valid_to || "—"),
          h("td", {}, k.revoked_at ? h("span", { class: "badge off" }, "revoked") : h("span", { class: "badge on" }, "active")),
          h("td", {}, k.revoked_at ? "" : h("button", { type: "button", class: "danger", onclick: async () => {
            try { await admin("DELETE", `keys/${enc(k.name)}`); toast(`Key ${k.name} revoked`); reload(); } catch (e) { toast(e.message, "error"); }
          } }, `Revoke ${k.name}`))))))) : h("p", { class: "empty" }, "No API key yet."),
      form("New API key", [h("div", { class: "row" }, h("label", {}, "Key name", h("input", { type: "text", name: "name", required: true })),
        h("label", {}, "Valid to (UTC, empty: never)", h("input", { type: "text", name: "valid_to", placeholder: "2027-12-31" }))), keyScopes.element],
      async (f) => { const made = await admin("POST", "keys", { name: f.name.value, scopes: keyScopes.values(), valid_to: f.valid_to.value || undefined }); await showSecret(`API key ${made.data.name}`, "the key", made.data.key); }, "Create key")),
    h("section", { "aria-labelledby": "users-title" }, h("h2", { id: "users-title" }, "Users"),
      h("div", { class: "scroll" }, h("table", { "aria-label": "Users" }, h("thead", {}, h("tr", {}, ["Name", "Role", "Created", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, users.data.map((u) => h("tr", {}, h("td", {}, u.name), h("td", {}, u.role), h("td", {}, u.created_at),
          h("td", {}, u.name === session.user ? "you" : h("button", { type: "button", class: "danger", onclick: async () => { if (confirm(`Remove user ${u.name}?`)) { await admin("DELETE", `users/${enc(u.name)}`); reload(); } } }, `Remove ${u.name}`))))))),
      form("New user", [h("div", { class: "row" }, h("label", {}, "User name", h("input", { type: "text", name: "name", required: true })),
        h("label", {}, "Password", h("input", { type: "password", name: "password", required: true, autocomplete: "new-password" })),
        h("label", {}, "Role", h("select", { name: "role" }, h("option", { value: "integrator" }, "integrator"), h("option", { value: "admin" }, "admin"))))],
      async (f) => { await admin("POST", "users", { name: f.name.value, password: f.password.value, role: f.role.value }); toast("User added"); reload(); }, "Add user")),
    h("section", { "aria-labelledby": "clients-title" }, h("h2", { id: "clients-title" }, "Integration clients (OAuth 2.0 client credentials)"),
      clients.data.length ? h("div", { class: "scroll" }, h("table", { "aria-label": "Clients" }, h("thead", {}, h("tr", {}, ["Client id", "Scopes", "Created", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, clients.data.map((c) => h("tr", {}, h("td", {}, c.client_id), h("td", {}, c.scopes.join(" ")), h("td", {}, c.created_at),
          h("td", {}, h("button", { type: "button", class: "danger", onclick: async () => { if (confirm(`Remove client ${c.client_id}?`)) { await admin("DELETE", `clients/${enc(c.client_id)}`); reload(); } } }, `Remove ${c.client_id}`))))))) : h("p", { class: "empty" }, "No integration client yet."),
      form("New client", [h("div", { class: "row" }, h("label", {}, "Client id", h("input", { type: "text", name: "client_id", required: true }))), clientScopes.element],
      async (f) => { const made = await admin("POST", "clients", { client_id: f.client_id.value, scopes: clientScopes.values() }); await showSecret(`Secret of ${made.data.client_id}`, "the client secret", made.data.client_secret); }, "Add client")));
}

// ---------------------------------------------------------------------------------------------
// API: the interactive docs and a request playground

async function playground() {
  const entities = (await admin("GET", "entities")).data.filter((e) => e.served);
  const out = h("pre", { "aria-label": "Response" });
  const form = h("form", { class: "card", "aria-label": "Request" },
    h("div", { class: "row" },
      h("label", {}, "Method", h("select", { name: "method" }, ["GET", "POST", "PATCH", "PUT", "DELETE"].map((m) => h("option", { value: m }, m)))),
      h("label", { class: "grow" }, "Path", h("input", { type: "text", name: "path", value: entities[0] ? `/${PREFIX}/${entities[0].alias}?page[limit]=2` : `/${PREFIX}/` }))),
    h("label", { class: "wide" }, "JSON body", h("textarea", { name: "body", placeholder: '{"data": [{"...": "..."}]}' })),
    h("button", { type: "submit" }, "Send"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const init = { method: form.method.value, headers: { Authorization: `Bearer ${session.token}` } };
    if (form.body.value.trim() && form.method.value !== "GET") { init.body = form.body.value; init.headers["Content-Type"] = "application/json"; }
    const resp = await fetch(form.path.value.replace(/^\//, ""), init);
    const text = await resp.text();
    let shown = text;
    try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch { /* not JSON */ }
    out.textContent = `HTTP ${resp.status}\n${shown}`;
  });
  page("API",
    h("p", {}, "Every endpoint is described live at ", h("a", { href: "openapi.json" }, "/openapi.json"), " and can be tried in the ", h("a", { href: "docs" }, "interactive API docs"), ". Requests here are sent with your session's token."),
    form, out);
}

// ---------------------------------------------------------------------------------------------
// Routing

async function route() {
  const hash = location.hash || "#/overview";
  if (hash === "#/login") { login(); return; }
  if (!session.token) { toLogin(); return; }
  const top = document.querySelector(".top");
  top.hidden = false;
  top.querySelector(".who").textContent = session.user || "";
  const [path, params] = hash.slice(2).split("?");
  const [section, ...rest] = path.split("/");
  for (const a of top.querySelectorAll("nav a")) {
    if (a.getAttribute("href") === `#/${section}`) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const arg = rest.length ? decodeURIComponent(rest.join("/")) : "";
  main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  await guarded(async () => {
    switch (section) {
      case "overview": return overview();
      case "endpoints": return arg ? endpoint(arg) : endpoints();
      case "data": return data(arg, params);
      case "jobs": return jobs();
      case "pipelines": return arg ? pipeline(arg, params) : pipelines();
      case "access": return access();
      case "api": return playground();
      default: location.hash = "#/overview";
    }
  });
}

document.querySelector(".logout").addEventListener("click", async () => {
  const token = session.token;
  session.clear();
  session.next = null;
  toast.clear();
  if (token) await fetch("token/revoke", { method: "POST", body: new URLSearchParams({ token }) }).catch(() => {});
  location.hash = "#/login";
});
window.addEventListener("hashchange", route);
route();
