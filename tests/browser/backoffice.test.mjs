// End-to-end tests of the back office in headless Chromium, against a running dynex-server on the
// demo catalog. scripts/browser-test starts the server and sets:
//   DYNEX_URL            the server's base URL
//   DYNEX_ADMIN_PASSWORD the demo admin's password (user `admin`)
//   DYNEX_SCREENSHOTS    the folder for screenshots of the main pages
//   CHROMIUM             the browser executable (Debian's /usr/bin/chromium)
// The database also holds the tables `gadgets` (3 rows) and `gadget_parts` (2 rows of gadget 1),
// which no entity exposes at start.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile, mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:http";
import { chromium } from "playwright-core";

const BASE = process.env.DYNEX_URL;
const PASSWORD = process.env.DYNEX_ADMIN_PASSWORD;
const SHOTS = process.env.DYNEX_SCREENSHOTS;
let browser;
let page;

before(async () => {
  await mkdir(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
  // A laptop screen; the clipboard may be read back to check the copy buttons.
  const context = await browser.newContext({
    viewport: { width: 1366, height: 768 },
    acceptDownloads: true,
    permissions: ["clipboard-read", "clipboard-write"],
  });
  page = await context.newPage();
  page.on("dialog", (d) => d.accept());
  page.on("pageerror", (e) => { throw e; });
});

after(async () => {
  await browser?.close();
});

/** A screenshot of the whole page for docs/back-office.md, without a passing message. */
async function shot(name) {
  await page.evaluate(() => document.querySelector(".toast")?.classList.remove("show"));
  await page.locator(".toast").evaluate((t) => { t.style.transition = "none"; });
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
  await page.locator(".toast").evaluate((t) => { t.style.transition = ""; });
}

/** Retries `request` until `done` holds for its answer (changes reach the server's snapshot
 * within its watch interval), for at most 5 s; returns the last answer. */
async function eventually(request, done) {
  let r;
  for (let i = 0; i < 20; i++) {
    r = await request();
    if (done(r)) break;
    await new Promise((ok) => setTimeout(ok, 250));
  }
  return r;
}

/** A request to the server from the test itself, as an integration would make it. */
async function http(path, key) {
  const resp = await fetch(`${BASE}${path}`, { headers: key ? { "X-Api-Key": key } : {} });
  return { status: resp.status, body: await resp.json() };
}

/** An access token of the demo admin, for requests of the test itself. */
async function adminToken() {
  const resp = await fetch(`${BASE}/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "password", username: "admin", password: PASSWORD }),
  });
  return (await resp.json()).access_token;
}

/** The rows of the data view's table, each as the texts of its cells. */
async function gridRows(alias) {
  const rows = page.getByRole("table", { name: `Rows of ${alias}` }).locator("tbody tr");
  return rows.evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((td) => td.innerText.trim())));
}

/** Waits until the data view is no longer loading. */
async function loaded() {
  await page.locator(".table-frame:not([aria-busy])").waitFor();
}

test("the icon is served, so no page logs a 404 for it", async () => {
  const resp = await fetch(`${BASE}/favicon.ico`);
  assert.equal(resp.status, 200);
  assert.equal(resp.headers.get("content-type"), "image/x-icon");
});

test("logged out, the page shows the login form only, without the menu", async () => {
  // A deep link, opened before logging in.
  await page.goto(`${BASE}/#/data/countries`);
  await page.getByRole("heading", { name: "Log in to dynex" }).waitFor();
  assert.equal(await page.getByRole("navigation", { name: "Sections" }).count(), 0);
  assert.equal(await page.getByRole("button", { name: "Log out" }).isVisible(), false);
  assert.equal(await page.getByRole("link", { name: "Endpoints" }).count(), 0);
});

test("a wrong password is refused with a clear message", async () => {
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("alert").filter({ hasText: "Wrong user name or password." }).waitFor();
  await shot("login");
});

test("the deep link survives the login", async () => {
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Data: countries" }).waitFor();
  assert.match(page.url(), /#\/data\/countries/);
  await page.getByRole("navigation", { name: "Sections" }).waitFor();
});

test("the overview shows row counts, recent jobs, the last hour and health", async () => {
  await page.getByRole("link", { name: "Overview" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  const token = await adminToken();
  const count = async (alias) => {
    const r = await fetch(`${BASE}/dynamic-entity/${alias}?meta=count&page[limit]=1`, { headers: { Authorization: `Bearer ${token}` } });
    return (await r.json()).meta.count;
  };
  const table = page.getByRole("table", { name: "Endpoints and their rows" });
  for (const alias of ["countries", "tax-rates"]) {
    const row = table.getByRole("row").filter({ has: page.getByRole("link", { name: alias, exact: true }) });
    assert.equal(await row.getByRole("cell").last().innerText(), String(await count(alias)), alias);
  }
  assert.match(await page.getByRole("region", { name: "Health" }).innerText(), /ready/);
  await page.getByRole("img", { name: /^Requests per minute over the last hour: [\d,]+ in all$/ }).waitFor();
  await page.getByRole("img", { name: /^Error rate per minute/ }).waitFor();
  assert.match(await page.locator(".summary-line").innerText(), /^\d[\d,]* requests, \d[\d,]* answered with an error/);
  await page.getByText("No import or export yet.").waitFor();
  await shot("overview");
});

test("the admin sees the endpoints", async () => {
  await page.getByRole("link", { name: "Endpoints" }).click();
  await page.getByRole("heading", { name: "Endpoints" }).waitFor();
  const table = page.getByRole("table", { name: "Endpoints" });
  await table.getByRole("link", { name: "countries", exact: true }).waitFor();
  await shot("endpoints");
});

test("a table becomes an endpoint in a few clicks, with a relation", async () => {
  // Keyboard only: the form is reachable and usable without a mouse.
  await page.getByRole("combobox", { name: "Table", exact: true }).selectOption("gadget_parts");
  await page.getByLabel("Alias (URL name)").fill("parts");
  await page.getByRole("button", { name: "Create endpoint" }).press("Enter");
  await page.getByRole("heading", { name: "Endpoint parts" }).waitFor();

  await page.goto(`${BASE}/#/endpoints`);
  await page.getByRole("combobox", { name: "Table", exact: true }).selectOption("gadgets");
  await page.getByRole("button", { name: "Create endpoint" }).click();
  await page.getByRole("heading", { name: "Endpoint gadgets" }).waitFor();
  // Pre-filled from the columns: `name` is required with its length.
  assert.equal(await page.getByLabel("name required").isChecked(), true);
  assert.equal(await page.getByLabel("Max length of name").inputValue(), "40");
  // The visible names are readable: the input is wide enough for a long column name.
  const width = await page.getByLabel("Visible name of name").evaluate((el) => el.getBoundingClientRect().width);
  assert.ok(width >= 180, `the visible name input is ${width}px wide`);
  // The rarely used rules are in a panel of their own, closed until asked for.
  assert.equal(await page.getByLabel("Description of name").isVisible(), false);
  await page.getByRole("button", { name: "More rules of name" }).click();
  await page.getByLabel("Description of name").fill("What the gadget is called");
  assert.equal(await page.getByRole("button", { name: "More rules of name" }).getAttribute("aria-expanded"), "true");

  await page.getByRole("button", { name: "Add relation" }).click();
  const relation = page.getByRole("table", { name: "Relations" }).getByRole("row").last();
  await relation.getByLabel("Relation name").fill("gadgetParts");
  await relation.getByRole("combobox", { name: "Child endpoint", exact: true }).selectOption("parts");
  await relation.getByLabel("Child field").fill("fk_gadget");
  await relation.getByLabel("Parent field").fill("id");
  await page.getByLabel("Visible name of name").fill("title");
  await page.getByLabel("Deletable (DELETE allowed)").check();
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("status").filter({ hasText: "Saved" }).waitFor();
  await page.getByRole("button", { name: "More rules of price" }).click();
  await shot("endpoint-editor");
});

test("a configuration the table cannot hold is refused, each problem at its field", async () => {
  await page.getByLabel("Visible name of price").fill("");
  await page.getByLabel("Visible name of id").fill("");
  await page.getByRole("button", { name: "Save" }).click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  assert.ok((await alert.getByRole("listitem").count()) >= 2, await alert.innerText());
  // The problems name the inputs, not JSON paths, and the inputs are marked.
  const text = await alert.innerText();
  assert.doesNotMatch(text, /definition\.fields\[/);
  assert.match(text, /Visible name of price/);
  for (const column of ["price", "id"]) {
    const input = page.getByLabel(`Visible name of ${column}`);
    assert.equal(await input.getAttribute("aria-invalid"), "true", column);
    const note = await input.getAttribute("aria-describedby");
    assert.ok((await page.locator(`#${note}`).innerText()).length > 0, column);
  }
  // The earlier "Saved" is not shown beside the error.
  assert.equal(await page.locator(".toast.show").count(), 0);
  // A link in the list takes the focus to its input.
  await alert.getByRole("link", { name: "Visible name of price" }).click();
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute("aria-label")), "Visible name of price");
  await shot("endpoint-editor-errors");
  await page.reload();
  await page.getByRole("heading", { name: "Endpoint gadgets" }).waitFor();
  assert.equal(await page.getByLabel("Visible name of price").inputValue(), "price");
});

let key;

test("an API key is created, shown once, and copied", async () => {
  await page.getByRole("link", { name: "Access" }).click();
  await page.getByRole("heading", { name: "Access" }).waitFor();
  const form = page.getByRole("form", { name: "New API key" });
  await form.getByLabel("Key name").fill("browser-test");
  await form.getByRole("button", { name: "Create key" }).click();
  const secret = page.locator("[data-secret]");
  await secret.waitFor();
  key = (await secret.innerText()).trim();
  assert.match(key, /^dnx_/);
  await page.getByRole("button", { name: "Copy the key" }).click();
  await page.getByRole("status").filter({ hasText: "Copied the key" }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);
});

test("the scope picker makes only valid scopes, and the server takes them", async () => {
  const form = page.getByRole("form", { name: "New API key" });
  await form.getByLabel("Key name").fill("gadget-reader");
  await form.getByRole("combobox", { name: "Key scopes: endpoint" }).selectOption("gadgets");
  await form.getByRole("combobox", { name: "Key scopes: action" }).selectOption("read");
  await form.getByRole("button", { name: "Add scope" }).click();
  const chosen = form.getByRole("list", { name: "Chosen key scopes" });
  assert.equal(await chosen.innerText().then((t) => t.replace(/\s*×/g, "").trim()), "dynamic-entity:gadgets:read");
  // The same scope twice stays one; another can be added and removed again.
  await form.getByRole("button", { name: "Add scope" }).click();
  await form.getByRole("combobox", { name: "Key scopes: action" }).selectOption("delete");
  await form.getByRole("button", { name: "Add scope" }).click();
  await form.getByRole("button", { name: "Remove scope dynamic-entity:gadgets:delete" }).click();
  assert.equal(await chosen.getByRole("listitem").count(), 1);
  await shot("access");
  await form.getByRole("button", { name: "Create key" }).click();
  await page.getByText("API key gadget-reader (shown once: copy it now)").waitFor();
  const reader = (await page.locator("[data-secret]").innerText()).trim();
  const keys = page.getByRole("table", { name: "API keys" });
  await keys.getByRole("row").filter({ hasText: "gadget-reader" }).getByText("dynamic-entity:gadgets:read").waitFor();
  const gadgets = await eventually(() => http("/dynamic-entity/gadgets", reader), (a) => a.status === 200);
  assert.equal(gadgets.status, 200);
  assert.equal((await http("/dynamic-entity/countries", reader)).status, 403);
});

test("an integration client gets picked scopes and its secret is copied", async () => {
  const form = page.getByRole("form", { name: "New client" });
  await form.getByLabel("Client id").fill("erp-connector");
  await form.getByRole("button", { name: "Add client" }).click();
  // A client needs a scope: the server says so, and nothing is created.
  await form.getByRole("alert").waitFor();
  await form.getByRole("combobox", { name: "Client scopes: action" }).selectOption("read");
  await form.getByRole("button", { name: "Add scope" }).click();
  await form.getByRole("button", { name: "Add client" }).click();
  await page.getByText("Secret of erp-connector (shown once: copy it now)").waitFor();
  const secret = (await page.locator("[data-secret]").innerText()).trim();
  assert.match(secret, /^dnxs_/);
  await page.getByRole("button", { name: "Copy the client secret" }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
  await page.getByRole("table", { name: "Clients" }).getByRole("row").filter({ hasText: "erp-connector" }).getByText("dynamic-entity:read").waitFor();
  const token = await fetch(`${BASE}/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: "erp-connector", client_secret: secret }) });
  assert.equal((await token.json()).scope, "dynamic-entity:read");
});

test("the demo's unexposed table becomes an endpoint with the defaults", async () => {
  // The walkthrough of docs/back-office.md: the suggested table and alias, one click.
  await page.getByRole("link", { name: "Endpoints" }).click();
  await page.getByRole("combobox", { name: "Table", exact: true }).selectOption("spy_product_label");
  await page.getByRole("button", { name: "Create endpoint" }).click();
  await page.getByRole("heading", { name: "Endpoint product-labels" }).waitFor();
  const r = await eventually(() => http("/dynamic-entity/product-labels?page[limit]=2", key), (a) => a.status === 200);
  assert.deepEqual(r.body.data.map((l) => l.name), ["New", "Sale"]);
});

test("the new endpoint answers over HTTP with its relation", async () => {
  const r = await eventually(() => http("/dynamic-entity/gadgets/1?include=gadgetParts", key), (a) => a.status === 200);
  assert.deepEqual(r.body, {
    data: {
      id: 1, title: "lamp", price: "9.50",
      gadgetParts: [{ id: 1, fk_gadget: 1, label: "bulb" }, { id: 2, fk_gadget: 1, label: "cord" }],
    },
  });
});

test("data is browsed with null shown apart, sorted by a click, and paged", async () => {
  await page.getByRole("link", { name: "Data", exact: true }).click();
  await page.getByRole("link", { name: "gadgets" }).click();
  await page.getByRole("table", { name: "Rows of gadgets" }).waitFor();
  await loaded();
  assert.deepEqual(await gridRows("gadgets"), [["1", "lamp", "9.50"], ["2", "fan", "20.00"], ["3", "radio", "null"]]);
  // `null` is a badge, not the text of a cell.
  const radio = page.getByRole("row", { name: "Row 3" });
  assert.equal(await radio.locator(".null").innerText(), "null");
  await page.getByText("Rows 1–3 of 3").waitFor();
  assert.equal(await page.getByRole("button", { name: "Previous page" }).isDisabled(), true);
  assert.equal(await page.getByRole("button", { name: "Next page" }).isDisabled(), true);

  const price = page.getByRole("columnheader", { name: /price/ });
  await price.getByRole("button").click();
  await loaded();
  assert.equal(await price.getAttribute("aria-sort"), "ascending");
  assert.deepEqual((await gridRows("gadgets")).map((r) => r[1]), ["radio", "lamp", "fan"]);
  await price.getByRole("button").click();
  await loaded();
  assert.equal(await price.getAttribute("aria-sort"), "descending");
  assert.deepEqual((await gridRows("gadgets")).map((r) => r[1]), ["fan", "lamp", "radio"]);
  assert.match(page.url(), /sort=-price/);

  await page.getByRole("combobox", { name: "Rows per page" }).selectOption("10");
  await page.getByRole("button", { name: "Apply" }).click();
  await loaded();
  await page.getByText("Rows 1–3 of 3").waitFor();
});

test("several filters at once, and a search across the text fields", async () => {
  await page.getByRole("button", { name: "Add filter" }).click();
  await page.getByRole("combobox", { name: "Filter field" }).last().selectOption("price");
  // Operators follow the field's type: a number has ranges, and no `like`.
  const ops = await page.getByRole("combobox", { name: "Operator" }).last().locator("option").allInnerTexts();
  assert.ok(ops.includes("≥") && !ops.some((o) => o.startsWith("like")), ops.join(" "));
  await page.getByRole("combobox", { name: "Operator" }).last().selectOption("gte");
  await page.getByLabel("Value").last().fill("5");
  await page.getByRole("button", { name: "Add filter" }).click();
  await page.getByRole("combobox", { name: "Filter field" }).last().selectOption("title");
  await page.getByRole("combobox", { name: "Operator" }).last().selectOption("like");
  await page.getByLabel("Value").last().fill("%a%");
  await page.getByRole("button", { name: "Apply" }).click();
  await loaded();
  await page.getByText("2 rows match the filters.").waitFor();
  assert.deepEqual((await gridRows("gadgets")).map((r) => r[1]), ["fan", "lamp"]);

  // A filter the API refuses: its error is shown beside it, and the rows stay.
  await page.getByRole("button", { name: "Add filter" }).click();
  await page.getByRole("combobox", { name: "Filter field" }).last().selectOption("id");
  await page.getByLabel("Value").last().fill("abc");
  await page.getByRole("button", { name: "Apply" }).click();
  const bad = page.getByLabel("Value").last();
  await page.locator('.filters [aria-invalid="true"]').waitFor();
  assert.equal(await bad.getAttribute("aria-invalid"), "true");
  const note = await bad.getAttribute("aria-describedby");
  assert.match(await page.locator(`#${note}`).innerText(), /^1319: .*`id`/);
  assert.deepEqual((await gridRows("gadgets")).map((r) => r[1]), ["fan", "lamp"]);
  await shot("data");
  await page.getByRole("button", { name: "Remove this filter" }).last().click();

  await page.getByRole("button", { name: "Clear filters" }).click();
  await loaded();
  await page.getByLabel("Search the text fields").fill("RAD");
  await page.getByRole("button", { name: "Apply" }).click();
  await loaded();
  assert.deepEqual((await gridRows("gadgets")).map((r) => r[1]), ["radio"]);
  await page.getByLabel("Search the text fields").fill("nothing like it");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByText("No row matches these filters.").waitFor();
  await page.getByLabel("Search the text fields").fill("");
  await page.getByRole("button", { name: "Apply" }).click();
  await loaded();
});

test("a row is created, edited and deleted, with validation errors at their fields", async () => {
  // Back to the identifier's order: a third click on a sorted column.
  const price = page.getByRole("columnheader", { name: /price/ });
  await price.getByRole("button").click();
  await loaded();
  assert.equal(await price.getAttribute("aria-sort"), "none");
  await page.getByRole("button", { name: "New row" }).click();
  const form = page.getByRole("form", { name: "New row" });
  await form.getByLabel("price", { exact: true }).fill("15.50");
  await form.getByRole("button", { name: "Create row" }).click();
  // `title` is required: the API's error is shown at its input.
  const title = form.getByLabel("title", { exact: true });
  await form.locator('[aria-invalid="true"]').waitFor();
  assert.equal(await title.getAttribute("aria-invalid"), "true");
  assert.match(await page.locator(`#${await title.getAttribute("aria-describedby")}`).innerText(), /^1307: .*title/);
  await shot("data-validation");
  await title.fill("heater");
  await form.getByRole("button", { name: "Create row" }).click();
  await page.getByRole("status").filter({ hasText: "Created row 4" }).waitFor();
  await loaded();
  assert.deepEqual((await gridRows("gadgets")).at(-1), ["4", "heater", "15.50"]);

  // Edited in the side panel: a value too long for the field, then null.
  const row = page.getByRole("form", { name: "Row 4" });
  await row.getByLabel("title", { exact: true }).fill("x".repeat(41));
  await row.getByRole("button", { name: "Save row" }).click();
  await row.locator('[aria-invalid="true"]').waitFor();
  const long = row.getByLabel("title", { exact: true });
  assert.match(await page.locator(`#${await long.getAttribute("aria-describedby")}`).innerText(), /^1306: .*title/);
  await long.fill("space heater");
  await row.getByLabel("price is null").check();
  assert.equal(await row.getByLabel("price", { exact: true }).isDisabled(), true);
  await row.getByRole("button", { name: "Save row" }).click();
  await page.getByRole("status").filter({ hasText: "Saved row 4" }).waitFor();
  await loaded();
  assert.deepEqual((await gridRows("gadgets")).at(-1), ["4", "space heater", "null"]);
  const stored = await http("/dynamic-entity/gadgets/4", key);
  assert.deepEqual(stored.body.data, { id: 4, title: "space heater", price: null });

  await page.getByRole("form", { name: "Row 4" }).getByRole("button", { name: "Delete row" }).click();
  await page.getByRole("status").filter({ hasText: "Deleted row 4" }).waitFor();
  await loaded();
  assert.equal((await gridRows("gadgets")).length, 3);
  assert.equal((await http("/dynamic-entity/gadgets/4", key)).status, 404);
});

test("related rows are one click away", async () => {
  await page.getByRole("row", { name: "Row 1" }).click();
  const related = page.getByRole("region", { name: "gadgetParts of row 1" });
  await related.waitFor();
  assert.match(await related.innerText(), /gadgetParts \(2 rows of parts\)/);
  assert.deepEqual(await related.getByRole("table").locator("tbody tr").evaluateAll((trs) => trs.map((tr) => tr.cells[2].innerText)), ["bulb", "cord"]);
  const json = JSON.parse(await page.getByLabel("Row as JSON").textContent());
  assert.equal(json.title, "lamp");
  await shot("data-row");
  await related.getByRole("link", { name: "Open in parts" }).click();
  await page.getByRole("heading", { name: "Data: parts" }).waitFor();
  await loaded();
  assert.deepEqual((await gridRows("parts")).map((r) => r[2]), ["bulb", "cord"]);
  assert.equal(await page.getByRole("combobox", { name: "Filter field" }).inputValue(), "fk_gadget");
});

test("a CSV import runs as a job, keeps the good rows and shows the first rejects", async () => {
  await page.getByRole("link", { name: "Jobs" }).click();
  await page.getByRole("heading", { name: "Jobs" }).waitFor();
  const form = page.getByRole("form", { name: "Import a CSV file" });
  await form.getByRole("combobox", { name: "Endpoint", exact: true }).selectOption("gadgets");
  const csv = "title,price\nkettle,30.00\n,12.00\ntoaster,45.50\n";
  await form.getByLabel("CSV file").setInputFiles({ name: "gadgets.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await form.getByRole("button", { name: "Import" }).click();
  const card = page.locator(".job[data-state=done]");
  await card.waitFor();
  assert.match(await card.innerText(), /read 3, inserted 2, updated 0, unchanged 0, rejected 1/);
  // The rejected line with its reason, on the card.
  const rejects = card.getByRole("table", { name: "Rejected lines of gadgets.csv" });
  await rejects.waitFor();
  const cells = await rejects.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((td) => td.innerText)));
  assert.equal(cells.length, 1);
  assert.deepEqual(cells[0].slice(0, 3), ["3", "1307", "title"]);
  assert.match(cells[0][3], /required field must not be empty/);
  assert.equal(cells[0][4], 'title="", price="12.00"');
  const [download] = await Promise.all([page.waitForEvent("download"), card.getByRole("button", { name: "Download rejects" }).click()]);
  const report = await readFile(await download.path(), "utf8");
  const lines = report.trim().split("\n");
  // The report of `dynex import --rejects`: line, code, field, message, then the file's columns.
  assert.equal(lines[0], "line,code,field,message,title,price");
  assert.equal(lines.length, 2, report);
  assert.match(lines[1], /^3,1307,title,.*,,12\.00$/);
  // The job is in the server's history, with its rejects.
  const history = page.getByRole("table", { name: "Job history" });
  await history.getByRole("button", { name: "Rejects of gadgets.csv" }).waitFor();
  await shot("jobs");
  const after = await http("/dynamic-entity/gadgets?filter[gadgets.title]=toaster", key);
  assert.equal(after.body.data.length, 1);
});

test("an export is sorted and narrowed with field pickers, and listed", async () => {
  const form = page.getByRole("form", { name: "Export to CSV" });
  await form.getByRole("combobox", { name: "Endpoint", exact: true }).selectOption("gadgets");
  await form.getByRole("checkbox", { name: "id", exact: true }).waitFor();
  await form.getByRole("button", { name: "Add sort field" }).click();
  await form.getByRole("combobox", { name: "Sort by field" }).selectOption("price");
  await form.getByRole("combobox", { name: "Sort direction" }).selectOption("descending");
  await form.getByRole("checkbox", { name: "id", exact: true }).uncheck();
  const [download] = await Promise.all([page.waitForEvent("download"), form.getByRole("button", { name: "Export" }).click()]);
  const csv = (await readFile(await download.path(), "utf8")).trim().split("\n");
  assert.equal(csv[0], "title,price");
  assert.equal(csv.length, 6);
  assert.equal(csv[1], "toaster,45.50");
  await page.getByRole("table", { name: "Job history" }).getByRole("cell", { name: "export" }).waitFor();
});

test("the overview lists the jobs with their outcome", async () => {
  await page.getByRole("link", { name: "Overview" }).click();
  const recent = page.getByRole("list", { name: "Recent jobs" });
  await recent.waitFor();
  const items = await recent.getByRole("listitem").allInnerTexts();
  assert.match(items[0], /^done\s+export gadgets/);
  assert.match(items[1], /^done\s+import gadgets gadgets\.csv.*rejected 1/s);
});

test("a revoked key stops working", async () => {
  await page.getByRole("link", { name: "Access" }).click();
  await page.getByRole("button", { name: "Revoke browser-test" }).click();
  await page.getByRole("status").filter({ hasText: "revoked" }).waitFor();
  const r = await eventually(() => http("/dynamic-entity/gadgets", key), (a) => a.status !== 200);
  // A revoked key is refused like an unknown one.
  assert.equal(r.status, 403);
});

// Pipelines: a CSV folder of countries (two lines without a name become dead letters) and a
// feed on a closed port, which fails and turns the heart red.
const COUNTRY_FILE = "code,code3,name\nQA,QAA,Qaland\nQB,QBB,\nQC,QCC,Qcland\nQD,QDD,\n";
let inbox;

/** The country-files definition; `name` is the mapping of the `name` field. */
function countryFiles(name = "{ path: $.name, required: true }") {
  return `name: country-files
description: Country lists the ERP drops into a folder
source:
  csv:
    folder: \${INBOX}
    pattern: "countries-*.csv"
map:
  fields:
    iso2_code: $.code
    iso3_code: $.code3
    name: ${name}
target:
  entity:
    entity: countries
    key: iso2_code
`;
}

/** A request to the admin API from the test itself, with the demo admin's token. */
async function adminCall(method, path, body) {
  const resp = await fetch(`${BASE}/admin/api/${path}`, {
    method,
    headers: { Authorization: `Bearer ${await adminToken()}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: resp.status, body: await resp.json().catch(() => null) };
}

/** A request to the Data Exchange API with the demo admin's token (the test's key is revoked by
 * now). */
async function asAdmin(path) {
  const resp = await fetch(`${BASE}${path}`, { headers: { Authorization: `Bearer ${await adminToken()}` } });
  return { status: resp.status, body: await resp.json() };
}

/** Waits until the pipeline's run has ended (at most 20 s). */
async function runEnded(name) {
  for (let i = 0; i < 80; i++) {
    const r = await adminCall("GET", `pipelines/${name}/health`);
    if (r.body.data.state === "idle" && r.body.data.lastRun) return r.body.data;
    await new Promise((ok) => setTimeout(ok, 250));
  }
  throw new Error(`the run of ${name} did not end`);
}

test("pipelines: variables are set, a secret stays masked", async () => {
  inbox = await mkdtemp(join(tmpdir(), "dynex-inbox-"));
  await writeFile(join(inbox, "countries-1.csv"), COUNTRY_FILE);
  await page.getByRole("link", { name: "Pipelines" }).click();
  await page.getByRole("heading", { name: "Pipelines", exact: true }).waitFor();
  const form = page.getByRole("form", { name: "Set a variable" });
  await form.getByLabel("Variable name").fill("INBOX");
  await form.getByLabel("Value", { exact: true }).fill(inbox);
  await form.getByRole("button", { name: "Set variable" }).click();
  await page.getByRole("table", { name: "Variables" }).getByText(inbox).waitFor();
  await form.getByLabel("Variable name").fill("ERP_PASSWORD");
  await form.getByLabel("Value", { exact: true }).fill("s3cret-never-shown");
  await form.getByLabel("secret (encrypted, never shown)").check();
  await form.getByRole("button", { name: "Set variable" }).click();
  const masked = page.locator('[data-secret-variable="ERP_PASSWORD"]');
  await masked.waitFor();
  assert.match(await masked.innerText(), /^•+ secret$/);
  // Neither the page nor the API answer holds the value.
  assert.equal((await page.content()).includes("s3cret-never-shown"), false);
  const listed = await adminCall("GET", "variables");
  assert.equal(JSON.stringify(listed.body).includes("s3cret-never-shown"), false);
  assert.deepEqual(listed.body.data.variables.map((v) => [v.name, v.secret, v.value]),
    [["ERP_PASSWORD", true, null], ["INBOX", false, inbox]]);
});

test("pipelines: a refused definition shows each problem at its line, then a good one saves", async () => {
  const editor = page.getByLabel("New pipeline definition");
  await editor.fill(countryFiles().replace("iso3_code: $.code3", "colour: $.code3"));
  await page.getByRole("button", { name: "Add pipeline" }).click();
  const problems = page.getByRole("list", { name: "Problems of the definition" });
  await problems.waitFor();
  const item = problems.locator('li[data-path="map.fields.colour"]');
  assert.equal(await item.getAttribute("data-line"), "10");
  assert.match(await item.innerText(), /^Line 10 map\.fields\.colour: /);
  assert.equal(await editor.getAttribute("aria-invalid"), "true");
  // The link selects the line in the editor.
  await item.getByRole("link", { name: "Line 10" }).click();
  const selected = await editor.evaluate((a) => a.value.slice(a.selectionStart, a.selectionEnd));
  assert.equal(selected, "    colour: $.code3");
  assert.equal(await page.locator(".toast.show").count(), 0);
  await shot("pipeline-errors");
  await editor.fill(countryFiles());
  await page.getByRole("button", { name: "Add pipeline" }).click();
  await page.getByRole("heading", { name: "Pipeline country-files" }).waitFor();
  const stored = await adminCall("GET", "pipelines/country-files");
  assert.equal(stored.body.data.definition, countryFiles());
});

test("pipelines: the mapping tester maps pasted and fetched records, errors beside them", async () => {
  const tester = page.getByRole("form", { name: "Mapping tester" });
  await tester.getByLabel("Sample records").fill(JSON.stringify([{ code: "QZ", code3: "QZZ", name: "Zedland" }, { code: "QY", code3: "QYY" }, { code: "QV", code3: "QVVV", name: "Vland" }]));
  await tester.getByRole("button", { name: "Map these records" }).click();
  const out = tester.getByRole("table", { name: "Mapped records" });
  await out.waitFor();
  const first = out.locator('tr[data-sample="1"]');
  assert.deepEqual(JSON.parse(await first.locator("pre.mapped").innerText()), { iso2_code: "QZ", iso3_code: "QZZ", name: "Zedland" });
  const second = out.locator('tr[data-sample="2"]');
  assert.match(await second.locator('[data-error-for="name"]').innerText(), /^name: /);
  assert.equal(await second.locator("pre.mapped").count(), 0);
  // A row the endpoint's rules refuse: the rule beside the row.
  const third = out.locator('tr[data-sample="3"]');
  assert.match(await third.locator(".row-error").innerText(), /^1306: .*iso3_code/);
  await tester.getByText("3 records pasted: 1 mapped, 2 refused, 0 skipped.").waitFor();
  await shot("pipeline-tester");
  // Not JSON: said at the input.
  await tester.getByLabel("Sample records").fill("{code: QZ");
  await tester.getByRole("button", { name: "Map these records" }).click();
  assert.equal(await tester.getByLabel("Sample records").getAttribute("aria-invalid"), "true");
  // Fetched from the folder, which stays as it was.
  await tester.getByRole("button", { name: "Fetch a sample from the source" }).click();
  await tester.getByText("4 records read from the source: 2 mapped, 2 refused, 0 skipped.").waitFor();
  const runs = await adminCall("GET", "pipelines/country-files/runs");
  assert.deepEqual(runs.body.data, []);
});

test("pipelines: run now shows the run in the history, with its dead letters", async () => {
  await page.getByRole("button", { name: "Run now" }).click();
  await page.getByRole("status").filter({ hasText: /^Run \d+ started$/ }).waitFor();
  const done = page.getByRole("table", { name: "Runs" }).locator('tr[data-state="succeeded"]');
  await done.waitFor({ timeout: 20000 });
  const cells = await done.first().evaluate((tr) => [...tr.cells].map((td) => td.innerText.trim()));
  assert.deepEqual([cells[2], cells[4], cells[5], cells[7]], ["back-office", "4", "2", "2"]);
  await page.getByRole("img", { name: /Records of the last 1 runs: 4 read, 2 written, 2 dead letters/ }).waitFor();
  const letters = page.getByRole("table", { name: "Dead letters" });
  await letters.waitFor();
  assert.equal(await letters.locator("tbody tr").count(), 2);
  await shot("pipeline");
  assert.equal((await asAdmin("/dynamic-entity/countries?filter[countries.iso2_code]=QA")).body.data.length, 1);
});

test("pipelines: dead letters are skipped, and retried after the mapping is fixed", async () => {
  const letters = page.getByRole("table", { name: "Dead letters" });
  const qd = letters.locator("tbody tr").filter({ hasText: '"QD"' });
  await qd.getByRole("checkbox").check();
  await page.getByRole("button", { name: "Skip selected" }).click();
  await page.getByRole("status").filter({ hasText: "Skipped 1 dead letter" }).waitFor();
  await page.getByRole("table", { name: "Dead letters" }).locator("tbody tr").filter({ hasText: '"QB"' }).waitFor();
  assert.equal(await page.getByRole("table", { name: "Dead letters" }).locator("tbody tr").count(), 1);
  // The mapping gets a default; the letter goes through it.
  await page.getByRole("textbox", { name: "Definition", exact: true }).fill(countryFiles("{ path: $.name, default: Unknown }"));
  await page.getByRole("button", { name: "Save definition" }).click();
  await page.getByRole("status").filter({ hasText: "Saved" }).waitFor();
  await page.getByRole("button", { name: "Retry all" }).click();
  await page.getByRole("status").filter({ hasText: "Retried: 1 written, 0 unchanged, 0 dead letters again" }).waitFor();
  await page.getByText("No dead letter.").waitFor();
  const qb = await asAdmin("/dynamic-entity/countries?filter[countries.iso2_code]=QB");
  assert.equal(qb.body.data[0].name, "Unknown");
  const qdRow = await asAdmin("/dynamic-entity/countries?filter[countries.iso2_code]=QD");
  assert.equal(qdRow.body.data.length, 0);
});

test("pipelines: a running run refreshes on its page, and Stop ends it", async () => {
  // A slow API: each page of one record takes 1.5 s, and there is always a next page.
  const slow = createServer((req, res) => {
    setTimeout(() => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ items: [{ code: "QS", code3: "QSS", name: "Slowland" }] }));
    }, 1500);
  });
  await new Promise((ok) => slow.listen(0, "127.0.0.1", ok));
  try {
    const feed = `name: slow-feed
source:
  http:
    url: http://127.0.0.1:${slow.address().port}/countries
    records: $.items[*]
    paginate: { page: { param: page, size_param: perPage, size: 1 } }
map:
  fields:
    iso2_code: $.code
    iso3_code: $.code3
    name: $.name
target:
  entity:
    entity: countries
    key: iso2_code
`;
    assert.equal((await adminCall("PUT", "pipelines/slow-feed", { definition: feed })).status, 201);
    await page.goto(`${BASE}/#/pipelines/slow-feed`);
    await page.getByRole("heading", { name: "Pipeline slow-feed" }).waitFor();
    await page.getByRole("button", { name: "Run now" }).click();
    const running = page.getByRole("table", { name: "Runs" }).locator('tbody tr[data-state="running"]');
    await running.waitFor();
    assert.equal(await page.getByRole("button", { name: "Run now" }).isDisabled(), true);
    // Its counts refresh while it goes, without reloading the page.
    await page.waitForFunction(() => Number(document.querySelector('table[aria-label="Runs"] tbody tr[data-state="running"]')?.cells[4].textContent) >= 2, null, { timeout: 10000 });
    await page.getByRole("button", { name: "Stop" }).click();
    await page.getByRole("status").filter({ hasText: /^Asked run \d+ to stop$/ }).waitFor();
    const stopped = page.getByRole("table", { name: "Runs" }).locator('tbody tr[data-state="failed"]');
    await stopped.waitFor({ timeout: 10000 });
    assert.match(await stopped.locator("td").last().innerText(), /stop/i);
    assert.equal(await page.getByRole("button", { name: "Stop" }).isDisabled(), true);
  } finally {
    slow.close();
  }
});

test("pipelines: the list shows a failing pipeline's red heart beside a healthy one", async () => {
  const feed = `name: broken-feed
description: A PIM feed on a closed port
source:
  http:
    url: http://127.0.0.1:9/products
    retry: { attempts: 1 }
map:
  fields:
    iso2_code: $.code
target:
  entity:
    entity: countries
    key: iso2_code
`;
  assert.equal((await adminCall("PUT", "pipelines/broken-feed", { definition: feed })).status, 201);
  for (let i = 0; i < 3; i++) {
    assert.equal((await adminCall("POST", "pipelines/broken-feed/run")).status, 202);
    await runEnded("broken-feed");
  }
  await page.getByRole("link", { name: "Pipelines" }).click();
  const list = page.getByRole("table", { name: "Pipelines" });
  await list.waitFor();
  const health = async (name) => list.locator(`tr[data-pipeline="${name}"] [data-health]`).getAttribute("data-health");
  assert.equal(await health("country-files"), "healthy");
  assert.equal(await health("broken-feed"), "unhealthy");
  await list.locator('tr[data-pipeline="broken-feed"]').getByText("the last 3 runs failed").waitFor();
  await page.getByText("1 of 3 pipelines unhealthy.").waitFor();
  assert.equal((await adminCall("GET", "pipelines/health")).status, 503);
  await shot("pipelines");
  await list.getByRole("link", { name: "country-files" }).click();
  await page.getByRole("heading", { name: "Pipeline country-files" }).waitFor();
  assert.equal(await page.getByRole("table", { name: "Runs" }).locator("tbody tr").count(), 2);
  // The failing one's page says why, run by run.
  await page.goto(`${BASE}/#/pipelines/broken-feed`);
  await page.getByRole("heading", { name: "Pipeline broken-feed" }).waitFor();
  assert.equal(await page.getByRole("table", { name: "Runs" }).locator('tbody tr[data-state="failed"]').count(), 3);
});

test("the API page links the live docs and sends requests", async () => {
  await page.getByRole("link", { name: "API" }).click();
  await page.getByRole("link", { name: "interactive API docs" }).waitFor();
  await page.getByLabel("Path").fill("/dynamic-entity/parts?page[limit]=1");
  await page.getByRole("button", { name: "Send" }).click();
  await page.getByLabel("Response").filter({ hasText: "HTTP 200" }).waitFor();
  await shot("api");
});

test("after logging out and in again, the overview comes first", async () => {
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("heading", { name: "Log in to dynex" }).waitFor();
  assert.equal(await page.getByRole("navigation", { name: "Sections" }).count(), 0);
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
});
