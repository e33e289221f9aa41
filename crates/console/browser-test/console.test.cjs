// The console in a real browser: creates a family and a table, inserts a row and edits it
// through the UI, then sees the edit arrive in the host's LDB through the sidecar; adds a field,
// keeps an int64 beyond 2^53 exact through an Edit, pages through 122 rows, filters by key
// prefix, deletes a row, reads the ledger and limits tabs; and, against a second executive
// that has an admin token, sees the token asked for and then used. Usage:
//   node console.test.cjs EXECUTIVE_URL SIDECAR_URL SCREENSHOT_PATH ADMIN_EXECUTIVE_URL ADMIN_TOKEN
// with playwright-core resolvable (NODE_PATH) and Debian's chromium at /usr/bin/chromium.
"use strict";
const { chromium } = require("playwright-core");

const [executive, sidecar, screenshot, adminExecutive, adminToken] = process.argv.slice(2);
if (!executive || !sidecar || !screenshot || !adminExecutive || !adminToken) {
  console.error("usage: node console.test.cjs EXECUTIVE_URL SIDECAR_URL SCREENSHOT_PATH ADMIN_EXECUTIVE_URL ADMIN_TOKEN");
  process.exit(2);
}

function fail(step, detail) {
  console.error("console test FAILED at: " + step + (detail ? "\n" + detail : ""));
  process.exit(1);
}

async function step(name, action) {
  try {
    await action();
    console.log("ok - " + name);
  } catch (e) {
    fail(name, e && e.stack ? e.stack : String(e));
  }
}

async function until(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(what + " not seen within " + timeoutMs + " ms (last: " + last + ")");
}


// Writes through the HTTP API (not the UI), for fixtures: `body` is sent as given, so an
// integer beyond 2^53 can be written exactly.
async function mutate(family, writer, secret, body) {
  const r = await fetch(executive + "/families/" + family + "/mutations", {
    method: "POST",
    headers: { "ctlstore-writer": writer, "ctlstore-secret": secret, "content-type": "application/json" },
    body,
  });
  if (!r.ok) throw new Error("POST mutations: " + r.status + " " + (await r.text()));
}

// The sidecar's answer for one key: the body text (numbers exact), or null when not found.
async function sidecarRow(family, table, key) {
  const r = await fetch(sidecar + "/get-row-by-key/" + family + "/" + table, {
    method: "POST",
    body: JSON.stringify({ key: [{ value: key }] }),
  });
  if (r.status === 404) return null;
  if (r.status !== 200) throw new Error("sidecar: " + r.status + " " + (await r.text()));
  return r.text();
}

const firstCells = (page) => page.$$eval("#rows tbody tr td:first-child", (tds) => tds.map((t) => t.textContent));
const pageInfo = (page) => page.textContent("#page-info");

(async () => {
  const family = "browser" + Date.now().toString(36);
  const writer = "console-writer";
  const secret = "console-secret";
  await step("register a writer through the API", async () => {
    const r = await fetch(executive + "/writers/" + writer, { method: "POST", body: secret });
    if (!r.ok) throw new Error("POST /writers: " + r.status + " " + (await r.text()));
  });

  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const consoleErrors = [];
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  page.setDefaultTimeout(15000);
  try {
    await step("open the console", async () => {
      await page.goto(executive + "/ui/");
      await page.waitForSelector("#families", { state: "attached" });
      await until("the health pill", async () => (await page.textContent("#health")).includes("ctldb up"), 10000);
    });
    await step("enter writer credentials", async () => {
      await page.click("#credentials summary");
      await page.fill("#writer-name", writer);
      await page.fill("#writer-secret", secret);
      await page.click("#credentials-form button[type=submit]");
    });
    await step("create a family", async () => {
      await page.fill("#new-family-name", family);
      await page.click("#new-family button[type=submit]");
      await page.waitForSelector(`[data-family="${family}"]`);
      await until("the family pane", async () => (await page.textContent("#family-title")) === family, 5000);
    });
    await step("create a table", async () => {
      await page.fill("#new-table-name", "flags");
      await page.fill("#new-table-fields", "name:string\nenabled:integer");
      await page.fill("#new-table-keys", "name");
      await page.click("#new-table button[type=submit]");
      await until("the table pane", async () => (await page.textContent("#table-title")) === family + ".flags", 5000);
    });
    await step("insert a row", async () => {
      await page.fill('#row-inputs input[data-field="name"]', "new-ui");
      await page.fill('#row-inputs input[data-field="enabled"]', "1");
      await page.click("#row-form button[type=submit]");
      await until("the row in the table", async () => {
        const cells = await page.$$eval("#rows tbody tr td", (tds) => tds.map((t) => t.textContent));
        return cells[0] === "new-ui" && cells[1] === "1";
      }, 10000);
    });
    await step("edit the row", async () => {
      await page.click('#rows tbody tr >> text="Edit"');
      await page.fill('#row-inputs input[data-field="enabled"]', "0");
      await page.click("#row-form button[type=submit]");
      await until("the edited row in the table", async () => {
        const cells = await page.$$eval("#rows tbody tr td", (tds) => tds.map((t) => t.textContent));
        return cells[0] === "new-ui" && cells[1] === "0";
      }, 10000);
    });
    await step("the edit reaches the host's LDB (sidecar)", async () => {
      await until("the row on the sidecar", async () => {
        const r = await fetch(sidecar + "/get-row-by-key/" + family + "/flags", {
          method: "POST",
          body: JSON.stringify({ key: [{ value: "new-ui" }] }),
        });
        if (r.status !== 200) return false;
        const row = await r.json();
        return row.enabled === 0;
      }, 15000);
    });
    await step("add a field through the UI", async () => {
      await page.click("#table-pane details summary");
      await page.fill("#add-fields-input", "counter:integer");
      await page.click("#add-fields button[type=submit]");
      await page.waitForSelector('#row-inputs input[data-field="counter"]');
      const headers = await page.$$eval("#rows thead th", (ths) => ths.map((t) => t.textContent));
      if (!headers.includes("counter")) throw new Error("no counter column: " + headers);
    });
    await step("an int64 beyond 2^53 stays exact through an Edit", async () => {
      // 2^53 + 1: JSON.parse alone would read it as 2^53.
      await mutate(family, writer, secret,
        '{"mutations":[{"table":"flags","values":{"name":"big","enabled":1,"counter":9007199254740993}}]}');
      await page.click("#row-filter button[type=submit]");
      await until("the big row", async () => (await firstCells(page))[0] === "big", 5000);
      const cells = await page.$$eval("#rows tbody tr:first-child td", (tds) => tds.map((t) => t.textContent));
      if (cells[2] !== "9007199254740993") throw new Error("shown as " + cells[2]);
      await page.click('#rows tbody tr:first-child >> text="Edit"');
      if (!(await page.$eval('#row-inputs input[data-field="name"]', (i) => i.readOnly))) {
        throw new Error("the key field is editable while editing a row");
      }
      await page.fill('#row-inputs input[data-field="enabled"]', "7");
      await page.click("#row-form button[type=submit]");
      await until("the edit on the sidecar", async () => {
        const text = await sidecarRow(family, "flags", "big");
        return text && /"enabled":\s*7\b/.test(text) && /"counter":\s*9007199254740993\b/.test(text) ? text : false;
      }, 15000);
      await page.click("#row-form-clear");
    });
    await step("page through 122 rows", async () => {
      const mutations = (from, to) => {
        const out = [];
        for (let i = from; i < to; i++) {
          out.push({ table: "flags", values: { name: "r" + String(i).padStart(3, "0"), enabled: i, counter: null } });
        }
        return JSON.stringify({ mutations: out });
      };
      await mutate(family, writer, secret, mutations(0, 100));
      await mutate(family, writer, secret, mutations(100, 120));
      await page.selectOption("#page-size", "50");
      await page.click("#row-filter button[type=submit]");
      await until("page 1", async () => (await pageInfo(page)) === "page 1: rows 1–50", 5000);
      const first = await firstCells(page);
      if (first.length !== 50 || first[0] !== "big" || first[1] !== "new-ui" || first[49] !== "r047") {
        throw new Error("page 1: " + first.join(","));
      }
      await page.click("#next-page");
      await until("page 2", async () => (await firstCells(page))[0] === "r048", 5000);
      await page.click("#next-page");
      await until("page 3, the last", async () => (await pageInfo(page)) === "page 3: rows 101–122 (last page)", 5000);
      const last = await firstCells(page);
      if (last[0] !== "r098" || last[21] !== "r119") throw new Error("page 3: " + last.join(","));
      if (!(await page.$eval("#next-page", (b) => b.disabled))) throw new Error("Next enabled on the last page");
      await page.click("#prev-page");
      await until("back on page 2", async () => (await pageInfo(page)) === "page 2: rows 51–100", 5000);
      await page.click("#first-page");
      await until("back on page 1", async () => (await firstCells(page))[0] === "big", 5000);
    });
    await step("filter by key prefix and delete a row", async () => {
      await page.fill("#prefix", "r007");
      await page.click("#row-filter button[type=submit]");
      await until("only r007", async () => {
        const cells = await firstCells(page);
        return cells.length === 1 && cells[0] === "r007";
      }, 5000);
      page.once("dialog", (d) => d.accept());
      await page.click('#rows tbody tr >> text="Delete"');
      await until("the row gone from the page", async () => (await pageInfo(page)) === "no rows with this key prefix", 5000);
      await until("the row gone from the sidecar", async () => (await sidecarRow(family, "flags", "r007")) === null, 15000);
      await page.fill("#prefix", "");
      await page.click("#row-filter button[type=submit]");
      await until("the unfiltered page", async () => (await firstCells(page)).length === 50, 5000);
    });
    await step("a refused write shows the executive's message", async () => {
      await page.fill('#row-inputs input[data-field="name"]', "bad");
      await page.fill('#row-inputs input[data-field="enabled"]', "99999999999999999999");
      await page.click("#row-form button[type=submit]");
      await until("the error bar", async () => {
        const bar = await page.$("#error");
        return (await bar.isVisible()) && (await bar.textContent()).includes("400");
      }, 5000);
      await page.click("#row-form-clear");
    });
    await step("the ledger tab shows the writes", async () => {
      await page.click("#tab-ledger");
      await until("a statement for the table", async () => {
        const text = await page.textContent("#ledger tbody");
        return text.includes(family + "___flags");
      }, 15000);
      await page.click("#tab-data");
    });
    await step("the limits tab shows the writer and the table's size", async () => {
      await page.click("#tab-limits");
      await until("the writer and the table", async () => {
        const writers = await page.textContent("#writer-limits tbody");
        const tables = await page.textContent("#table-limits tbody");
        return writers.includes(writer) && tables.includes(family + ".flags");
      }, 5000);
    });
    await step("no script errors", async () => {
      if (consoleErrors.length) throw new Error(consoleErrors.join("\n"));
    });
    await page.click("#tab-data");
    await page.click('#rows tbody tr:first-child >> text="Edit"');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log("screenshot: " + screenshot);

    // An executive with an admin token: the console says what is missing, then uses the token.
    const admin = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    admin.on("pageerror", (e) => consoleErrors.push(String(e)));
    admin.setDefaultTimeout(15000);
    await step("without the admin token, the console asks for it", async () => {
      await admin.goto(adminExecutive + "/ui/");
      await until("the 401 explained", async () => {
        const bar = await admin.$("#error");
        return (await bar.isVisible()) && (await bar.textContent()).includes("admin token under Credentials");
      }, 10000);
    });
    await step("with the admin token, families load and a family is created", async () => {
      await admin.click("#credentials summary");
      await admin.fill("#admin-token", adminToken);
      await admin.click("#credentials-form button[type=submit]");
      await until("the error cleared", async () => !(await admin.isVisible("#error")), 5000);
      await admin.fill("#new-family-name", "guarded");
      await admin.click("#new-family button[type=submit]");
      await admin.waitForSelector('[data-family="guarded"]');
      if (await admin.isVisible("#error")) throw new Error(await admin.textContent("#error"));
    });
    await step("no script errors on the admin page", async () => {
      if (consoleErrors.length) throw new Error(consoleErrors.join("\n"));
    });
  } finally {
    await browser.close();
  }
})().catch((e) => fail("unexpected", e && e.stack ? e.stack : String(e)));
