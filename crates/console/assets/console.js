// The ctlstore console: one page over the executive's HTTP API. Every value from the server
// or the user reaches the DOM as text (textContent / text nodes), never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const api = ".."; // the console is served at /ui/, the API at /

// ---- credentials, kept in this tab only -------------------------------------------------
const creds = {
  get writer() { return sessionStorage.getItem("ctlstore.writer") || ""; },
  get secret() { return sessionStorage.getItem("ctlstore.secret") || ""; },
  get admin() { return sessionStorage.getItem("ctlstore.admin") || ""; },
};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

class ApiError extends Error {}

// int64 columns go beyond 2^53, where JSON.parse would round them and an Edit would write the
// rounded value back. Where the browser gives JSON's source text (the reviver's `context`,
// JSON.rawJSON: Chromium 114+, Firefox 135+) such integers are kept exact as BigInt.
const exactJson = typeof JSON.rawJSON === "function";

function parseJson(text) {
  return JSON.parse(text, (key, value, context) =>
    typeof value === "number" && !Number.isSafeInteger(value) && context && /^-?\d+$/.test(context.source)
      ? BigInt(context.source) : value);
}

function toJson(value) {
  return JSON.stringify(value, (key, v) => {
    if (typeof v !== "bigint") return v;
    if (!exactJson) throw new ApiError("this browser cannot send integers beyond 2^53 exactly; use `ctlstore mutate`");
    return JSON.rawJSON(String(v));
  });
}

async function call(method, path, { body, writer, raw } = {}) {
  const headers = {};
  if (creds.admin) headers["Authorization"] = "Bearer " + creds.admin;
  if (writer) {
    headers["ctlstore-writer"] = creds.writer;
    headers["ctlstore-secret"] = creds.secret;
  }
  if (body !== undefined && !raw) headers["Content-Type"] = "application/json";
  const response = await fetch(api + path, {
    method,
    headers,
    body: body === undefined ? undefined : raw ? body : toJson(body),
  });
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try {
      const e = JSON.parse(text);
      message = e.error + (e.field ? " (field " + e.field + ")" : "");
    } catch (_) { /* not JSON: show the text */ }
    if (response.status === 401) {
      message += path.includes("/mutations")
        ? ". Check the writer name and secret under Credentials."
        : ". Enter the executive's admin token under Credentials.";
    }
    throw new ApiError(method + " " + path + ": " + response.status + " " + message);
  }
  return text ? parseJson(text) : null;
}

async function guarded(action) {
  try {
    showError("");
    await action();
  } catch (e) {
    showError(e.message);
  }
  refreshHealth(); // the ledger head in the header follows the console's own writes
}

const enc = encodeURIComponent;

// ---- state ------------------------------------------------------------------------------
const state = { family: null, table: null, tables: {}, cursors: [], next: null };

// ---- health -----------------------------------------------------------------------------
async function refreshHealth() {
  const pill = $("health");
  try {
    const r = await fetch(api + "/healthz");
    const h = await r.json();
    pill.textContent = "ctldb " + h.ctldb + " · " + h.dialect + " · head " + h.ledger_head;
    pill.className = "pill " + (r.ok ? "ok" : "bad");
  } catch (e) {
    pill.textContent = "executive unreachable";
    pill.className = "pill bad";
  }
}

// ---- families and tables ----------------------------------------------------------------
async function loadFamilies() {
  const list = $("families");
  const { families } = await call("GET", "/families");
  list.replaceChildren();
  for (const f of families) {
    const tables = el("ul");
    const item = el("li", {},
      el("button", { class: "link" + (state.family === f.name && !state.table ? " selected" : ""), type: "button", "data-family": f.name,
        onclick: () => guarded(() => selectFamily(f.name)) }, f.name + " (" + f.tables + ")"),
      tables);
    list.append(item);
    if (state.family === f.name) await loadTables(f.name, tables);
  }
}

async function loadTables(family, into) {
  const { tables } = await call("GET", "/families/" + enc(family) + "/tables");
  state.tables = {};
  into.replaceChildren();
  for (const t of tables) {
    state.tables[t.name] = t;
    into.append(el("li", {}, el("button", {
      class: "link" + (state.table === t.name ? " selected" : ""), type: "button", "data-table": family + "." + t.name,
      onclick: () => guarded(() => selectTable(family, t.name)),
    }, t.name)));
  }
}

async function selectFamily(family) {
  state.family = family;
  state.table = null;
  $("data-empty").hidden = true;
  $("table-pane").hidden = true;
  $("family-pane").hidden = false;
  $("family-title").textContent = family;
  await loadFamilies();
}

function sizeBar(t) {
  const box = $("table-size");
  box.replaceChildren();
  if (t.sizeBytes === null || t.sizeBytes === undefined) {
    box.append("size not measured yet; limit " + bytes(t.maxSize));
    return;
  }
  const share = t.maxSize > 0 ? Math.min(1, t.sizeBytes / t.maxSize) : 0;
  const fill = el("span");
  fill.style.width = (share * 100).toFixed(1) + "%";
  const cls = t.sizeBytes >= t.maxSize ? "bar over" : t.sizeBytes >= t.warnSize ? "bar warn" : "bar";
  box.append(el("span", { class: cls }, fill), " " + bytes(t.sizeBytes) + " of " + bytes(t.maxSize) + " (warn at " + bytes(t.warnSize) + ")");
}

function bytes(n) {
  if (n === null || n === undefined) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}

async function selectTable(family, table) {
  state.family = family;
  state.table = table;
  $("data-empty").hidden = true;
  $("family-pane").hidden = true;
  $("table-pane").hidden = false;
  $("table-title").textContent = family + "." + table;
  await loadFamilies();
  const t = state.tables[table];
  sizeBar(t);
  const body = $("schema").tBodies[0];
  body.replaceChildren();
  for (const [name, type] of t.fields) {
    body.append(el("tr", {}, el("td", {}, name), el("td", {}, type), el("td", {}, t.keyFields.includes(name) ? "key" : "")));
  }
  buildRowForm(t);
  state.cursors = [];
  await loadRows(null);
}

// ---- rows -------------------------------------------------------------------------------
// The key prefix box takes a JSON array of leading key values (`["a", 3]`), or one bare value
// for the first key field (`a`, `3`).
function prefixParam(t) {
  const text = $("prefix").value.trim();
  if (!text) return null;
  if (text.startsWith("[")) {
    try { parseJson(text); } catch (e) { throw new ApiError("key prefix: not a JSON array: " + e.message); }
    return text;
  }
  const first = t.keyFields[0];
  const [, type] = t.fields.find(([n]) => n === first);
  return toJson([typed(type, text, "key prefix")]);
}

// Keyset paging: `state.cursors` holds the `after` cursor of every page after the first, so
// Previous is a pop and no page ever costs more than its own rows.
async function loadRows(after) {
  const t = state.tables[state.table];
  const params = new URLSearchParams({ limit: $("page-size").value });
  const prefix = prefixParam(t);
  if (prefix) params.set("prefix", prefix);
  if (after) params.set("after", after);
  const page = await call("GET", "/families/" + enc(state.family) + "/tables/" + enc(state.table) + "/rows?" + params);
  state.next = page.next;
  const names = t.fields.map(([n]) => n);
  const rows = $("rows");
  rows.tHead.replaceChildren(el("tr", {}, ...names.map((n) => el("th", {}, n)), el("th", {}, "")));
  const body = rows.tBodies[0];
  body.replaceChildren();
  for (const row of page.rows) {
    const cells = names.map((n) => row[n] === null ? el("td", { class: "null" }, "NULL") : el("td", {}, String(row[n])));
    body.append(el("tr", {}, ...cells, el("td", {},
      el("button", { type: "button", onclick: () => editRow(t, row) }, "Edit"), " ",
      el("button", { type: "button", onclick: () => guarded(() => deleteRow(row)) }, "Delete"))));
  }
  const size = Number($("page-size").value);
  const from = state.cursors.length * size;
  $("page-info").textContent = page.rows.length
    ? "page " + (state.cursors.length + 1) + ": rows " + (from + 1) + "–" + (from + page.rows.length) + (page.next ? "" : " (last page)")
    : "no rows" + (prefix ? " with this key prefix" : "");
  $("next-page").disabled = !page.next;
  $("prev-page").disabled = !after;
  $("first-page").disabled = !after;
}

const currentCursor = () => state.cursors[state.cursors.length - 1] || null;

function buildRowForm(t) {
  const box = $("row-inputs");
  box.replaceChildren();
  for (const [name, type] of t.fields) {
    box.append(el("label", {}, el("span", {}, name + " (" + type + (t.keyFields.includes(name) ? ", key" : "") + ")"),
      el("input", { "data-field": name, "data-type": type, autocomplete: "off" })));
  }
  $("row-form-title").textContent = "Insert or update a row";
}

// Editing keeps the key fields read-only: a changed key would insert a second row rather than
// change this one. "New row" empties the form for an insert.
function editRow(t, row) {
  for (const input of $("row-inputs").querySelectorAll("input")) {
    const v = row[input.dataset.field];
    input.value = v === null || v === undefined ? "" : String(v);
    input.readOnly = t.keyFields.includes(input.dataset.field);
  }
  $("row-form-title").textContent = "Edit row " + toJson(t.keyFields.map((k) => row[k]));
  $("row-form").scrollIntoView();
}

function typed(type, text, field) {
  if (text === "") return null;
  if (type === "integer") {
    if (!/^-?\d+$/.test(text)) throw new ApiError(field + ": not an integer");
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : BigInt(text);
  }
  if (type === "decimal") {
    const n = Number(text);
    if (Number.isNaN(n)) throw new ApiError(field + ": not a number");
    return n;
  }
  return text;
}

function checkWriter() {
  if (!creds.writer || !creds.secret) throw new ApiError("writing needs a writer: open Credentials and enter a writer name and secret");
}

async function saveRow(event) {
  event.preventDefault();
  checkWriter();
  const values = {};
  for (const input of $("row-inputs").querySelectorAll("input")) {
    values[input.dataset.field] = typed(input.dataset.type, input.value, input.dataset.field);
  }
  await call("POST", "/families/" + enc(state.family) + "/mutations",
    { writer: true, body: { mutations: [{ table: state.table, values }] } });
  await loadRows(currentCursor());
}

async function deleteRow(row) {
  checkWriter();
  const t = state.tables[state.table];
  const values = {};
  for (const k of t.keyFields) values[k] = row[k];
  if (!confirm("Delete the row with key " + toJson(Object.values(values)) + "?")) return;
  await call("POST", "/families/" + enc(state.family) + "/mutations",
    { writer: true, body: { mutations: [{ table: state.table, delete: true, values }] } });
  buildRowForm(t);
  await loadRows(currentCursor());
}

// ---- schema changes (admin) ---------------------------------------------------------------
function fieldPairs(text, separator) {
  return text.split(separator).map((s) => s.trim()).filter(Boolean).map((s) => {
    const i = s.lastIndexOf(":");
    if (i <= 0) throw new ApiError("'" + s + "': write fields as name:type");
    return [s.slice(0, i).trim(), s.slice(i + 1).trim()];
  });
}

async function createFamily(event) {
  event.preventDefault();
  const name = $("new-family-name").value.trim();
  await call("POST", "/families/" + enc(name));
  $("new-family-name").value = "";
  await selectFamily(name);
}

async function createTable(event) {
  event.preventDefault();
  const name = $("new-table-name").value.trim();
  const body = {
    fields: fieldPairs($("new-table-fields").value, /\n/),
    keyFields: $("new-table-keys").value.split(",").map((s) => s.trim()).filter(Boolean),
  };
  await call("POST", "/families/" + enc(state.family) + "/tables/" + enc(name), { body });
  $("new-table").reset();
  await selectTable(state.family, name);
}

async function addFields(event) {
  event.preventDefault();
  const fields = fieldPairs($("add-fields-input").value, ",");
  await call("PUT", "/families/" + enc(state.family) + "/tables/" + enc(state.table), { body: { fields } });
  $("add-fields-input").value = "";
  await selectTable(state.family, state.table);
}

// ---- ledger, followed live ------------------------------------------------------------------
const ledger = { running: false, paused: false, after: 0, generation: 0 };

async function followLedger() {
  const generation = ++ledger.generation;
  ledger.running = true;
  const first = await call("GET", "/ledger?after=0&limit=1");
  ledger.after = Math.max(0, first.head - 50);
  const body = $("ledger").tBodies[0];
  body.replaceChildren();
  while (ledger.running && generation === ledger.generation) {
    if (ledger.paused) { await new Promise((r) => setTimeout(r, 300)); continue; }
    try {
      const page = await call("GET", "/ledger?after=" + ledger.after + "&limit=200&wait=10s");
      $("ledger-head").textContent = "head " + page.head;
      for (const e of page.entries) {
        body.prepend(el("tr", {}, el("td", {}, e.seq), el("td", {}, e.leader_ts), el("td", {}, e.statement)));
        ledger.after = e.seq;
      }
      while (body.rows.length > 500) body.deleteRow(body.rows.length - 1);
    } catch (e) {
      showError(e.message);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

// ---- limits ---------------------------------------------------------------------------------
async function loadLimits() {
  const limits = await call("GET", "/limits/writers");
  const body = $("writer-limits").tBodies[0];
  body.replaceChildren();
  const perMinute = (l) => Math.round(Number(l.amount) * 60e9 / Number(l.period));
  const fallback = perMinute(limits.global);
  body.append(el("tr", {}, el("td", {}, "(default)"), el("td", {}, fallback)));
  const own = new Map((limits.writers || []).map((w) => [w.writer, perMinute(w["rate-limit"])]));
  const { writers } = await call("GET", "/writers");
  const names = new Set([...writers.map((w) => w.name), ...own.keys()]);
  for (const name of [...names].sort()) {
    body.append(el("tr", {}, el("td", {}, name),
      own.has(name) ? el("td", {}, own.get(name)) : el("td", { class: "null" }, fallback + " (default)")));
  }
  const sizes = $("table-limits").tBodies[0];
  sizes.replaceChildren();
  const { families } = await call("GET", "/families");
  const lists = await Promise.all(families.map((f) => call("GET", "/families/" + enc(f.name) + "/tables")));
  for (const [i, f] of families.entries()) {
    for (const t of lists[i].tables) {
      sizes.append(el("tr", {}, el("td", {}, f.name + "." + t.name), el("td", {}, bytes(t.sizeBytes)), el("td", {}, bytes(t.warnSize)), el("td", {}, bytes(t.maxSize))));
    }
  }
}

// ---- wiring ---------------------------------------------------------------------------------
function show(view) {
  for (const v of ["data", "ledger", "limits"]) {
    $("view-" + v).hidden = v !== view;
    $("tab-" + v).classList.toggle("active", v === view);
  }
  if (view === "ledger") guarded(followLedger);
  else ledger.running = false;
  if (view === "limits") guarded(loadLimits);
}

$("tab-data").addEventListener("click", () => show("data"));
$("tab-ledger").addEventListener("click", () => show("ledger"));
$("tab-limits").addEventListener("click", () => show("limits"));
$("ledger-pause").addEventListener("click", () => {
  ledger.paused = !ledger.paused;
  $("ledger-pause").textContent = ledger.paused ? "Resume" : "Pause";
});
$("new-family").addEventListener("submit", (e) => guarded(() => createFamily(e)));
$("new-table").addEventListener("submit", (e) => guarded(() => createTable(e)));
$("add-fields").addEventListener("submit", (e) => guarded(() => addFields(e)));
$("row-form").addEventListener("submit", (e) => guarded(() => saveRow(e)));
$("row-form-clear").addEventListener("click", () => buildRowForm(state.tables[state.table]));
$("row-filter").addEventListener("submit", (e) => { e.preventDefault(); state.cursors = []; guarded(() => loadRows(null)); });
$("page-size").addEventListener("change", () => { state.cursors = []; guarded(() => loadRows(null)); });
$("next-page").addEventListener("click", () => guarded(async () => {
  if (!state.next) return;
  state.cursors.push(state.next);
  await loadRows(state.next);
}));
$("prev-page").addEventListener("click", () => guarded(async () => {
  state.cursors.pop();
  await loadRows(currentCursor());
}));
$("first-page").addEventListener("click", () => { state.cursors = []; guarded(() => loadRows(null)); });
$("credentials-form").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem("ctlstore.writer", $("writer-name").value.trim());
  sessionStorage.setItem("ctlstore.secret", $("writer-secret").value);
  sessionStorage.setItem("ctlstore.admin", $("admin-token").value);
  $("credentials").open = false;
  guarded(loadFamilies);
});
$("credentials-forget").addEventListener("click", () => {
  sessionStorage.clear();
  $("credentials-form").reset();
});
$("writer-name").value = creds.writer;

refreshHealth();
setInterval(refreshHealth, 5000);
guarded(loadFamilies);
