// The console in a real browser: creates a family and a table, inserts a row and edits it
// through the UI, then sees the edit arrive in the host's LDB through the sidecar. Usage:
//   node console.test.cjs EXECUTIVE_URL SIDECAR_URL SCREENSHOT_PATH
// with playwright-core resolvable (NODE_PATH) and Debian's chromium at /usr/bin/chromium.
"use strict";
const { chromium } = require("playwright-core");

const [executive, sidecar, screenshot] = process.argv.slice(2);
if (!executive || !sidecar || !screenshot) {
  console.error("usage: node console.test.cjs EXECUTIVE_URL SIDECAR_URL SCREENSHOT_PATH");
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
    await step("the ledger tab shows the writes", async () => {
      await page.click("#tab-ledger");
      await until("a statement for the table", async () => {
        const text = await page.textContent("#ledger tbody");
        return text.includes(family + "___flags");
      }, 15000);
      await page.click("#tab-data");
    });
    await step("no script errors", async () => {
      if (consoleErrors.length) throw new Error(consoleErrors.join("\n"));
    });
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log("screenshot: " + screenshot);
  } finally {
    await browser.close();
  }
})().catch((e) => fail("unexpected", e && e.stack ? e.stack : String(e)));
