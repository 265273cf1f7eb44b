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
import { readFile, mkdir } from "node:fs/promises";
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
  // A laptop screen.
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, acceptDownloads: true });
  page = await context.newPage();
  page.on("dialog", (d) => d.accept());
  page.on("pageerror", (e) => { throw e; });
});

after(async () => {
  await browser?.close();
});

const shot = (name) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });

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

test("a wrong password is refused with a clear message", async () => {
  await page.goto(`${BASE}/`);
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("alert").filter({ hasText: "Wrong user name or password." }).waitFor();
  await shot("login");
});

test("the admin logs in and sees the endpoints", async () => {
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
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
  assert.equal(await page.getByLabel("maxLength of name").inputValue(), "40");

  await page.getByRole("button", { name: "Add relation" }).click();
  const relation = page.getByRole("table", { name: "Relations" }).getByRole("row").last();
  await relation.getByLabel("Relation name").fill("gadgetParts");
  await relation.getByRole("combobox", { name: "Child endpoint", exact: true }).selectOption("parts");
  await relation.getByLabel("Child field").fill("fk_gadget");
  await relation.getByLabel("Parent field").fill("id");
  await page.getByLabel("Visible name of name").fill("title");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("status").filter({ hasText: "Saved" }).waitFor();
  await shot("endpoint-editor");
});

test("a configuration the table cannot hold is refused with every problem listed", async () => {
  await page.getByLabel("Visible name of price").fill("");
  await page.getByLabel("Visible name of id").fill("");
  await page.getByRole("button", { name: "Save" }).click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  assert.ok((await alert.getByRole("listitem").count()) >= 2, await alert.innerText());
  await page.reload();
  await page.getByRole("heading", { name: "Endpoint gadgets" }).waitFor();
  assert.equal(await page.getByLabel("Visible name of price").inputValue(), "price");
});

let key;

test("an API key is created and shown once", async () => {
  await page.getByRole("link", { name: "Access" }).click();
  await page.getByRole("heading", { name: "Access" }).waitFor();
  await page.getByLabel("Key name").fill("browser-test");
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = page.locator("[data-secret]");
  await secret.waitFor();
  key = (await secret.innerText()).trim();
  assert.match(key, /^dnx_/);
  await shot("access");
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

test("data can be browsed, filtered, and a row seen as JSON", async () => {
  await page.getByRole("link", { name: "Data", exact: true }).click();
  await page.getByRole("link", { name: "gadgets" }).click();
  const rows = page.getByRole("table", { name: "Rows of gadgets" });
  await rows.waitFor();
  assert.equal(await rows.getByRole("row").count(), 4);
  await page.getByRole("combobox", { name: "Filter field", exact: true }).selectOption("price");
  await page.getByRole("combobox", { name: "Operator", exact: true }).selectOption("gte");
  await page.getByLabel("Value").fill("10");
  await page.getByRole("combobox", { name: "Include", exact: true }).selectOption("gadgetParts");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByText("1 rows match").waitFor();
  await rows.getByRole("row").nth(1).click();
  const json = JSON.parse(await page.getByLabel("Row as JSON").innerText());
  assert.equal(json.title, "fan");
  assert.deepEqual(json.gadgetParts, []);
  await shot("data");
});

test("a CSV import runs as a job, keeps the good rows and offers the rejects", async () => {
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
  const [download] = await Promise.all([page.waitForEvent("download"), card.getByRole("button", { name: "Download rejects" }).click()]);
  const rejects = await readFile(await download.path(), "utf8");
  const lines = rejects.trim().split("\n");
  // The report of `dynex import --rejects`: line, code, field, message, then the file's columns.
  assert.equal(lines[0], "line,code,field,message,title,price");
  assert.equal(lines.length, 2, rejects);
  assert.match(lines[1], /^3,1307,title,.*,,12\.00$/);
  // The job is in the server's history, with its rejects.
  const history = page.getByRole("table", { name: "Job history" });
  await history.getByRole("button", { name: "Rejects of gadgets.csv" }).waitFor();
  await shot("jobs");
  const after = await http("/dynamic-entity/gadgets?filter[gadgets.title]=toaster", key);
  assert.equal(after.body.data.length, 1);
});

test("an export downloads every row as CSV and is listed", async () => {
  const form = page.getByRole("form", { name: "Export to CSV" });
  await form.getByRole("combobox", { name: "Endpoint", exact: true }).selectOption("gadgets");
  await form.getByLabel("Sort").fill("-price");
  const [download] = await Promise.all([page.waitForEvent("download"), form.getByRole("button", { name: "Export" }).click()]);
  const csv = (await readFile(await download.path(), "utf8")).trim().split("\n");
  assert.equal(csv[0], "id,title,price");
  assert.equal(csv.length, 6);
  assert.match(csv[1], /,toaster,45\.50$/);
  await page.getByRole("table", { name: "Job history" }).getByRole("cell", { name: "export" }).waitFor();
});

test("a revoked key stops working", async () => {
  await page.getByRole("link", { name: "Access" }).click();
  await page.getByRole("button", { name: "Revoke browser-test" }).click();
  await page.getByRole("status").filter({ hasText: "revoked" }).waitFor();
  const r = await eventually(() => http("/dynamic-entity/gadgets", key), (a) => a.status !== 200);
  // A revoked key is refused like an unknown one.
  assert.equal(r.status, 403);
});

test("the API page links the live docs and sends requests", async () => {
  await page.getByRole("link", { name: "API" }).click();
  await page.getByRole("link", { name: "interactive API docs" }).waitFor();
  await page.getByLabel("Path").fill("/dynamic-entity/parts?page[limit]=1");
  await page.getByRole("button", { name: "Send" }).click();
  await page.getByLabel("Response").filter({ hasText: "HTTP 200" }).waitFor();
  await shot("api");
});
