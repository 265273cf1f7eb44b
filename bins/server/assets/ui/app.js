// The dynex back office: a small single-page app over the admin API (/admin/api), the token
// endpoint (/token) and the Data Exchange API. No build step and no dependencies: the server
// embeds this file as it is. Every value reaches the page as text (never as HTML).
"use strict";

const PREFIX = document.querySelector('meta[name="dynex-prefix"]')?.content || "dynamic-entity";
const main = document.getElementById("main");
const TYPES = ["integer", "string", "decimal", "float", "boolean", "date", "datetime", "json"];

// ---------------------------------------------------------------------------------------------
// DOM and HTTP helpers

/** Creates an element: h("button", {type: "button", onclick}, "Save"). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
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

function toast(text) {
  const t = document.querySelector(".toast");
  t.textContent = text;
  t.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove("show"), 2500);
}

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
  }
}

const session = {
  get token() { return sessionStorage.getItem("dynex.token"); },
  get user() { return sessionStorage.getItem("dynex.user"); },
  set(token, user) { sessionStorage.setItem("dynex.token", token); sessionStorage.setItem("dynex.user", user); },
  clear() { sessionStorage.removeItem("dynex.token"); sessionStorage.removeItem("dynex.user"); },
};

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
    location.hash = "#/login";
    throw new HttpError(401, [{ code: "001", message: "Your session ended: please log in again." }]);
  }
  if (extra.raw) {
    if (!resp.ok) throw new HttpError(resp.status, await resp.json().catch(() => null));
    return resp;
  }
  const text = await resp.text();
  const json = text ? JSON.parse(text) : null;
  if (!resp.ok && !(extra.partial && json && json.data)) throw new HttpError(resp.status, json);
  return json;
}

const admin = (method, path, body) => api(method, `admin/api/${path}`, body);

function errorBox(err) {
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

// ---------------------------------------------------------------------------------------------
// Login

function login() {
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
    location.hash = "#/endpoints";
  });
  document.title = "Log in · dynex";
  main.replaceChildren(form);
  form.username.focus();
}

// ---------------------------------------------------------------------------------------------
// Endpoints

async function endpoints() {
  const [entities, tables] = await Promise.all([admin("GET", "entities"), admin("GET", "tables")]);
  const free = tables.data.filter((t) => !t.entity);
  const rows = entities.data.map((e) => h("tr", { class: "clickable", onclick: () => (location.hash = `#/endpoints/${encodeURIComponent(e.alias)}`) },
    h("td", {}, h("a", { href: `#/endpoints/${encodeURIComponent(e.alias)}` }, e.alias)),
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
      location.hash = `#/endpoints/${encodeURIComponent(made.data.tableAlias)}`;
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
    h("div", { class: "scroll" }, h("table", { "aria-label": "Endpoints" },
      h("thead", {}, h("tr", {}, ["Alias", "Table", "State", "Fields", "Relations", "Deletable", "Path"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows))),
    create, config);
}

/** The editor of one endpoint: entity flags, every column as a field, relations. */
async function endpoint(alias) {
  const [shown, all] = await Promise.all([admin("GET", `entities/${encodeURIComponent(alias)}`), admin("GET", "entities")]);
  const config = shown.data.configuration;
  const table = (await admin("GET", `tables/${encodeURIComponent(config.tableName)}`)).data;
  const byName = Object.fromEntries(config.definition.fields.map((f) => [f.fieldName, f]));
  const suggested = Object.fromEntries(table.suggested.definition.fields.map((f) => [f.fieldName, f]));
  const num = (v) => (v === undefined || v === null ? "" : v);
  const fieldRows = table.table.columns.map((c) => {
    const f = byName[c.name] || suggested[c.name] || { fieldName: c.name, fieldVisibleName: c.name, type: "string", validation: {} };
    const v = f.validation || {};
    const row = h("tr", { "data-column": c.name },
      h("td", {}, h("label", { class: "check" }, h("input", { type: "checkbox", name: "exposed", checked: !!byName[c.name], "aria-label": `Expose ${c.name}` }), c.name),
        h("div", { class: "muted" }, c.sql_type)),
      h("td", {}, h("input", { type: "text", name: "visible", value: f.fieldVisibleName, "aria-label": `Visible name of ${c.name}` })),
      h("td", {}, h("select", { name: "type", "aria-label": `Type of ${c.name}` }, TYPES.map((t) => h("option", { value: t, selected: t === f.type }, t)))),
      h("td", {}, h("input", { type: "checkbox", name: "creatable", checked: f.isCreatable !== false, "aria-label": `${c.name} creatable` })),
      h("td", {}, h("input", { type: "checkbox", name: "editable", checked: f.isEditable !== false, "aria-label": `${c.name} editable` })),
      h("td", {}, h("input", { type: "checkbox", name: "required", checked: !!v.isRequired, "aria-label": `${c.name} required` })),
      ["min", "max", "minLength", "maxLength", "precision", "scale"].map((k) =>
        h("td", {}, h("input", { type: "number", name: k, value: num(v[k]), "aria-label": `${k} of ${c.name}` }))),
      h("td", {}, h("input", { type: "text", name: "enum", value: (f.enumValues || []).join(", "), placeholder: "a, b", "aria-label": `Enum values of ${c.name}` })),
      h("td", {}, h("input", { type: "text", name: "examples", value: f.examples || "", "aria-label": `Examples of ${c.name}` })),
      h("td", {}, h("input", { type: "text", name: "description", value: f.description || "", "aria-label": `Description of ${c.name}` })));
    row.field = f;
    return row;
  });
  const identifier = h("select", { name: "identifier" }, table.table.columns.map((c) => h("option", { value: c.name, selected: c.name === config.definition.identifier }, c.name)));
  const relations = h("tbody", {}, (config.childRelations || []).map((r) => relationRow(r, all.data)));
  const errors = h("div");
  const form = h("form", { class: "card", "aria-labelledby": "fields-title" },
    h("div", { class: "row" },
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "active", checked: config.isActive }), "Active"),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "deletable", checked: config.definition.isDeletable }), "Deletable (DELETE allowed)"),
      h("label", {}, "Identifier", identifier)),
    h("h2", { id: "fields-title" }, "Fields"),
    h("div", { class: "scroll" }, h("table", { class: "fields", "aria-label": "Fields" },
      h("thead", {}, h("tr", {}, ["Column", "Visible name", "Type", "Creatable", "Editable", "Required", "Min", "Max", "Min length", "Max length", "Precision", "Scale", "Enum values", "Examples", "Description"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, fieldRows))),
    h("h2", {}, "Relations"),
    h("p", { class: "muted" }, "Child rows that ", h("code", {}, "include=NAME"), " loads and nested writes create: the child entity's field that holds this entity's field."),
    h("table", { "aria-label": "Relations" },
      h("thead", {}, h("tr", {}, ["Name", "Child endpoint", "Child field", "Parent field", "Editable", ""].map((c) => h("th", { scope: "col" }, c)))),
      relations),
    h("div", { class: "row" }, h("button", { type: "button", class: "secondary", onclick: () => relations.append(relationRow({ name: "", isEditable: true, childDynamicEntityConfiguration: { tableAlias: "" }, relationFieldMappings: [{ childFieldName: "", parentFieldName: config.definition.identifier }] }, all.data)) }, "Add relation")),
    errors,
    h("div", { class: "row" },
      h("button", { type: "submit" }, "Save"),
      h("a", { class: "button secondary", href: `#/data/${encodeURIComponent(alias)}` }, "Browse data"),
      h("button", { type: "button", class: "danger", onclick: async () => {
        if (!confirm(`Remove the endpoint ${alias}? The table and its rows stay.`)) return;
        try { await admin("DELETE", `entities/${encodeURIComponent(alias)}`); toast(`Endpoint ${alias} removed`); location.hash = "#/endpoints"; }
        catch (err) { errors.replaceChildren(errorBox(err)); }
      } }, "Remove endpoint")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    const next = structuredClone(config);
    next.isActive = form.active.checked;
    next.definition.isDeletable = form.deletable.checked;
    next.definition.identifier = identifier.value;
    next.definition.fields = fieldRows.filter((r) => r.querySelector('[name="exposed"]').checked).map((r) => {
      const get = (n) => r.querySelector(`[name="${n}"]`);
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
      await admin("PUT", `entities/${encodeURIComponent(alias)}`, next);
      toast("Saved: the endpoint works this way now");
      route();
    } catch (err) { errors.replaceChildren(errorBox(err)); }
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
  row.read = () => ({
    name: name.value.trim(),
    isEditable: editable.checked,
    childDynamicEntityConfiguration: { tableAlias: child.value },
    relationFieldMappings: [{ childFieldName: childField.value.trim(), parentFieldName: parentField.value.trim() }],
  });
  return row;
}

// ---------------------------------------------------------------------------------------------
// Data

async function data(alias, params) {
  const entities = (await admin("GET", "entities")).data.filter((e) => e.served);
  if (!alias) {
    page("Data", h("ul", {}, entities.map((e) => h("li", {}, h("a", { href: `#/data/${encodeURIComponent(e.alias)}` }, e.alias)))));
    return;
  }
  const shown = (await admin("GET", `entities/${encodeURIComponent(alias)}`)).data.configuration;
  const fields = shown.definition.fields.map((f) => f.fieldVisibleName);
  const q = new URLSearchParams(params || "");
  const limit = Number(q.get("limit") || 20);
  const offset = Number(q.get("offset") || 0);
  const query = new URLSearchParams({ "page[offset]": offset, "page[limit]": limit, meta: "count" });
  if (q.get("sort")) query.set("sort", q.get("sort"));
  if (q.get("include")) query.set("include", q.get("include"));
  if (q.get("field") && q.get("value") !== null && q.get("value") !== "") {
    const op = q.get("op") || "eq";
    const value = op === "in" || op === "nin" ? q.get("value").split(",").map((s) => s.trim()) : q.get("value");
    query.set(`filter[${alias}.${q.get("field")}]`, op === "eq" ? q.get("value") : JSON.stringify({ [op]: value }));
  }
  const path = `${PREFIX}/${encodeURIComponent(alias)}?${query}`;
  const form = h("form", { class: "card", "aria-label": "Filter and sort" },
    h("div", { class: "row" },
      h("label", {}, "Filter field", h("select", { name: "field" }, h("option", { value: "" }, "none"), fields.map((f) => h("option", { value: f, selected: f === q.get("field") }, f)))),
      h("label", {}, "Operator", h("select", { name: "op" }, ["eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "in", "nin"].map((o) => h("option", { value: o, selected: o === (q.get("op") || "eq") }, o)))),
      h("label", {}, "Value", h("input", { type: "text", name: "value", value: q.get("value") || "" })),
      h("label", {}, "Sort", h("input", { type: "text", name: "sort", value: q.get("sort") || "", placeholder: "-price,sku" })),
      h("label", {}, "Include", h("select", { name: "include" }, h("option", { value: "" }, "no relations"), (shown.childRelations || []).map((r) => h("option", { value: r.name, selected: r.name === q.get("include") }, r.name)))),
      h("label", {}, "Rows", h("input", { type: "number", name: "limit", value: limit, min: 1, max: 1000 })),
      h("button", { type: "submit" }, "Apply")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const n of ["field", "op", "value", "sort", "include", "limit"]) if (form[n].value) next.set(n, form[n].value);
    location.hash = `#/data/${encodeURIComponent(alias)}?${next}`;
  });
  const body = h("div");
  page(`Data: ${alias}`, form, body);
  try {
    const result = await api("GET", path);
    const rows = result.data;
    const detail = h("pre", { "aria-label": "Row as JSON", hidden: true });
    const columns = rows.length ? Object.keys(rows[0]) : fields;
    const move = (to) => { const n = new URLSearchParams(q); n.set("offset", Math.max(0, to)); location.hash = `#/data/${encodeURIComponent(alias)}?${n}`; };
    body.append(
      h("p", { class: "muted" }, `${result.meta.count} rows match; showing ${rows.length ? offset + 1 : 0}–${offset + rows.length}. `, h("code", {}, `GET /${path}`)),
      h("div", { class: "scroll" }, h("table", { "aria-label": `Rows of ${alias}` },
        h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows.map((r) => h("tr", { class: "clickable", tabindex: 0, onclick: () => { detail.hidden = false; detail.textContent = JSON.stringify(r, null, 2); } },
          columns.map((c) => h("td", {}, typeof r[c] === "object" && r[c] !== null ? `${Array.isArray(r[c]) ? r[c].length + " rows" : "{…}"}` : r[c] === null ? "null" : String(r[c])))))))),
      h("div", { class: "row" },
        h("button", { type: "button", class: "secondary", disabled: offset === 0, onclick: () => move(offset - limit) }, "Previous page"),
        h("button", { type: "button", class: "secondary", disabled: offset + rows.length >= result.meta.count, onclick: () => move(offset + limit) }, "Next page")),
      detail);
  } catch (err) { body.append(errorBox(err)); }
}

// ---------------------------------------------------------------------------------------------
// Jobs: CSV imports that run on the server, exports, and their history (/admin/api/jobs)

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
      const resp = await api("GET", `admin/api/jobs/${encodeURIComponent(j.id)}/rejects`, undefined, { raw: true });
      download(`${j.entity}-rejects.csv`, await resp.blob());
    } catch (e) { toast(e.message); }
  } }, label);
}

/** A button that resumes an interrupted import after its last committed batch; `then` runs once
 * the server has taken it up. */
function resumeButton(j, then) {
  return h("button", { type: "button", onclick: async () => {
    try {
      await api("POST", `admin/api/jobs/${encodeURIComponent(j.id)}/resume`);
      toast(`Resumed the import of ${j.file_name}`);
      then();
    } catch (e) { toast(e.message); }
  } }, `Resume ${j.file_name}`);
}

/** A job's state as a badge: done green, failed or interrupted red. */
function stateBadge(j) {
  return h("span", { class: `badge ${j.state === "done" ? "on" : j.state === "running" ? "" : "off"}` }, j.state);
}

/** The live view of a running or finished import job. */
function jobCard(j) {
  const s = j.summary || {};
  const total = j.bytes_total || 0;
  const done = j.state !== "running";
  const percent = total ? Math.round((100 * (done && j.state === "done" ? total : j.bytes_read)) / total) : 0;
  return h("div", { class: "card job", "data-state": j.state },
    h("div", { class: "row" },
      h("strong", {}, `${j.kind === "import" ? "Import" : "Export"} of ${j.file_name} into ${j.entity}`),
      stateBadge(j)),
    h("progress", { max: 100, value: percent, "aria-label": "Progress" }, `${percent}%`),
    h("p", { class: "summary" }, done ? jobSummary(j) : `${s.read || 0} rows read (${s.rows_per_second ? Math.round(s.rows_per_second) : 0} rows/s), ${s.rejected || 0} rejected, ${percent}%`),
    done && s.rejected ? rejectsButton(j, "Download rejects") : null);
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
      h("label", {}, "Stop after N rejects", h("input", { type: "number", name: "maxErrors", min: 1 }))),
    h("p", { class: "muted" }, "Rows are checked by the same rules as the API. A refused row does not cost its neighbours: it goes to the rejects file with its line, code and reason."),
    h("button", { type: "submit" }, "Import"),
    importError, live);
  importForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    importError.replaceChildren();
    const file = importForm.file.files[0];
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
        job = (await admin("GET", `jobs/${encodeURIComponent(job.id)}`)).data;
        live.replaceChildren(jobCard(job));
      }
      renderHistory();
    } catch (err) { importError.append(errorBox(err)); }
  });
  const exportError = h("div");
  const exportForm = h("form", { class: "card", "aria-labelledby": "export-title" },
    h("h2", { id: "export-title" }, "Export to CSV"),
    h("div", { class: "row" }, h("label", {}, "Endpoint", pick()),
      h("label", {}, "Sort", h("input", { type: "text", name: "sort", placeholder: "-price,sku" })),
      h("label", {}, "Fields (empty: all)", h("input", { type: "text", name: "fields", placeholder: "sku,price" })),
      h("label", {}, "Changed since", h("input", { type: "text", name: "changedSince", placeholder: "2024-01-01" })),
      h("button", { type: "submit" }, "Export")),
    exportError);
  exportForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    exportError.replaceChildren();
    const alias = exportForm.entity.value;
    const body = { entity: alias, sort: exportForm.sort.value, changedSince: exportForm.changedSince.value,
      fields: exportForm.fields.value.split(",").map((f) => f.trim()).filter(Boolean) };
    try {
      const resp = await api("POST", "admin/api/jobs/export", JSON.stringify(body), { raw: true, headers: { "Content-Type": "application/json" } });
      download(`${alias}.csv`, await resp.blob());
      renderHistory();
    } catch (err) { exportError.append(errorBox(err)); }
  });
  const list = h("tbody");
  const renderHistory = async () => {
    const all = (await admin("GET", "jobs")).data;
    list.replaceChildren(...all.map((j) => h("tr", {},
      h("td", {}, j.started_at.replace("T", " ").slice(0, 19)), h("td", {}, j.kind), h("td", {}, j.entity), h("td", {}, j.file_name),
      h("td", {}, j.created_by), h("td", {}, stateBadge(j)),
      h("td", {}, jobSummary(j)),
      h("td", {}, j.resumable ? resumeButton(j, renderHistory) : "",
        j.kind === "import" && j.summary && j.summary.rejected && j.state !== "running"
          ? rejectsButton(j, `Rejects of ${j.file_name}`) : ""))));
  };
  await renderHistory();
  page("Jobs", importForm, exportForm,
    h("section", { "aria-labelledby": "history-title" }, h("h2", { id: "history-title" }, "History"),
      h("div", { class: "scroll" }, h("table", { "aria-label": "Job history" },
        h("thead", {}, h("tr", {}, ["Started (UTC)", "Job", "Endpoint", "File", "By", "State", "Summary", ""].map((c) => h("th", { scope: "col" }, c)))), list))));
}

// ---------------------------------------------------------------------------------------------
// Access: API keys, users, integration clients

/** Keys, users and clients; `shown` is a secret just created, shown once above the lists. */
async function access(shown) {
  const [keys, users, clients] = await Promise.all([admin("GET", "keys"), admin("GET", "users"), admin("GET", "clients")]);
  const secret = h("div", { "aria-live": "polite" }, shown ? h("div", { class: "card" },
    h("strong", {}, `${shown.label} (shown once: copy it now)`), h("div", { class: "secret", "data-secret": "" }, shown.value)) : null);
  const showSecret = (label, value) => reload({ label, value });
  const form = (title, fieldsList, submit, button) => {
    const err = h("div");
    const f = h("form", { class: "row", "aria-label": title }, fieldsList, h("button", { type: "submit" }, button), err);
    f.addEventListener("submit", async (e) => { e.preventDefault(); err.replaceChildren(); try { await submit(f); } catch (x) { err.append(errorBox(x)); } });
    return f;
  };
  const scopes = (text) => text.split(/[\s,]+/).filter(Boolean);
  const reload = (next) => access(next).catch((e) => main.append(errorBox(e)));
  page("Access",
    secret,
    h("section", { "aria-labelledby": "keys-title" }, h("h2", { id: "keys-title" }, "API keys"),
      h("table", { "aria-label": "API keys" }, h("thead", {}, h("tr", {}, ["Name", "Prefix", "Scopes", "Valid to", "State", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, keys.data.map((k) => h("tr", {}, h("td", {}, k.name), h("td", {}, h("code", {}, k.prefix)), h("td", {}, k.scopes.join(" ") || "everything"), h("td", {}, k.valid_to || "—"),
          h("td", {}, k.revoked_at ? h("span", { class: "badge off" }, "revoked") : h("span", { class: "badge on" }, "active")),
          h("td", {}, k.revoked_at ? "" : h("button", { type: "button", class: "danger", onclick: async () => { await admin("DELETE", `keys/${encodeURIComponent(k.name)}`); toast(`Key ${k.name} revoked`); reload(); } }, `Revoke ${k.name}`)))))),
      form("New API key", [h("label", {}, "Key name", h("input", { type: "text", name: "name", required: true })),
        h("label", {}, "Scopes (empty: everything)", h("input", { type: "text", name: "scopes", placeholder: "dynamic-entity:countries:read" })),
        h("label", {}, "Valid to", h("input", { type: "text", name: "valid_to", placeholder: "2027-12-31" }))],
      async (f) => { const made = await admin("POST", "keys", { name: f.name.value, scopes: scopes(f.scopes.value), valid_to: f.valid_to.value || undefined }); await showSecret(`API key ${made.data.name}`, made.data.key); }, "Create key")),
    h("section", { "aria-labelledby": "users-title" }, h("h2", { id: "users-title" }, "Users"),
      h("table", { "aria-label": "Users" }, h("thead", {}, h("tr", {}, ["Name", "Role", "Created", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, users.data.map((u) => h("tr", {}, h("td", {}, u.name), h("td", {}, u.role), h("td", {}, u.created_at),
          h("td", {}, u.name === session.user ? "you" : h("button", { type: "button", class: "danger", onclick: async () => { if (confirm(`Remove user ${u.name}?`)) { await admin("DELETE", `users/${encodeURIComponent(u.name)}`); reload(); } } }, `Remove ${u.name}`)))))),
      form("New user", [h("label", {}, "User name", h("input", { type: "text", name: "name", required: true })),
        h("label", {}, "Password", h("input", { type: "password", name: "password", required: true, autocomplete: "new-password" })),
        h("label", {}, "Role", h("select", { name: "role" }, h("option", { value: "integrator" }, "integrator"), h("option", { value: "admin" }, "admin")))],
      async (f) => { await admin("POST", "users", { name: f.name.value, password: f.password.value, role: f.role.value }); toast("User added"); reload(); }, "Add user")),
    h("section", { "aria-labelledby": "clients-title" }, h("h2", { id: "clients-title" }, "Integration clients (OAuth 2.0 client credentials)"),
      h("table", { "aria-label": "Clients" }, h("thead", {}, h("tr", {}, ["Client id", "Scopes", "Created", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, clients.data.map((c) => h("tr", {}, h("td", {}, c.client_id), h("td", {}, c.scopes.join(" ")), h("td", {}, c.created_at),
          h("td", {}, h("button", { type: "button", class: "danger", onclick: async () => { if (confirm(`Remove client ${c.client_id}?`)) { await admin("DELETE", `clients/${encodeURIComponent(c.client_id)}`); reload(); } } }, `Remove ${c.client_id}`)))))),
      form("New client", [h("label", {}, "Client id", h("input", { type: "text", name: "client_id", required: true })),
        h("label", {}, "Scopes", h("input", { type: "text", name: "scopes", required: true, placeholder: "dynamic-entity:read" }))],
      async (f) => { const made = await admin("POST", "clients", { client_id: f.client_id.value, scopes: scopes(f.scopes.value) }); await showSecret(`Secret of ${made.data.client_id}`, made.data.client_secret); }, "Add client")));
}

// ---------------------------------------------------------------------------------------------
// API: the interactive docs and a request playground

async function playground() {
  const entities = (await admin("GET", "entities")).data.filter((e) => e.served);
  const out = h("pre", { "aria-label": "Response" });
  const form = h("form", { class: "card", "aria-label": "Request" },
    h("div", { class: "row" },
      h("label", {}, "Method", h("select", { name: "method" }, ["GET", "POST", "PATCH", "PUT", "DELETE"].map((m) => h("option", { value: m }, m)))),
      h("label", {}, "Path", h("input", { type: "text", name: "path", size: 60, value: entities[0] ? `/${PREFIX}/${entities[0].alias}?page[limit]=2` : `/${PREFIX}/` }))),
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
  const hash = location.hash || "#/endpoints";
  if (!session.token && hash !== "#/login") { location.hash = "#/login"; return; }
  if (hash === "#/login") { login(); return; }
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
      case "endpoints": return arg ? endpoint(arg) : endpoints();
      case "data": return data(arg, params);
      case "jobs": return jobs();
      case "access": return access();
      case "api": return playground();
      default: location.hash = "#/endpoints";
    }
  });
}

document.querySelector(".logout").addEventListener("click", async () => {
  const token = session.token;
  session.clear();
  if (token) await fetch("token/revoke", { method: "POST", body: new URLSearchParams({ token }) }).catch(() => {});
  location.hash = "#/login";
});
window.addEventListener("hashchange", route);
route();
