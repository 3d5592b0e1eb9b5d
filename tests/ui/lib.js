/* lib.js: what the UI's end-to-end scenarios share (ui.test.js in Chromium, firefox.test.js
 * in Firefox): TAP-like results, the API with a bearer token, and waits on conditions
 * (never on time). */
"use strict";

const results = { pass: 0, fail: 0 };
const ok = (c, name, detail) => {
  if (c) { results.pass++; console.log("ok - " + name); } else { results.fail++; console.log("not ok - " + name + (detail ? ": " + detail : "")); }
};

/* The API of URL with TOKEN: the parsed answer (null for 204). */
const apiOf = (url, token) => async (method, path, body) => {
  const r = await fetch(url + path, { method, headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" }, body: body && JSON.stringify(body) });
  return r.status === 204 ? null : r.json();
};

/* Until FN answers something truthy (errors count as not yet), polling every 100 ms. */
async function until(what, fn, ms = 120000) {
  const t0 = Date.now();
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch (e) { /* again */ }
    if (Date.now() - t0 > ms) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/* page.waitForFunction evaluates a string, which the UI's CSP (no unsafe-eval) refuses:
 * poll page.evaluate instead */
const waitPage = (page, fn, arg, opts) => until("page condition " + fn.toString().slice(0, 60), () => page.evaluate(fn, arg), (opts && opts.timeout) || 60000);

/* The text of the log rows on screen. */
const logRows = (page) => page.evaluate(() => [...document.querySelectorAll("#log .row:not([hidden]) .tx")].map((x) => x.textContent));

/* The largest private memory (kB: Private_Clean + Private_Dirty of smaps_rollup) of the
 * processes whose command line MATCH accepts (a browser's renderer or content processes). */
function privateKB(match) {
  const fs = require("fs");
  let most = 0;
  for (const pid of fs.readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      if (!match(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " "))) continue;
      const r = fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      const kb = (k) => +((new RegExp(k + ":\\s+(\\d+)").exec(r) || [0, 0])[1]);
      most = Math.max(most, kb("Private_Clean") + kb("Private_Dirty"));
    } catch (e) { /* gone */ }
  }
  return most;
}

module.exports = { results, ok, apiOf, until, waitPage, logRows, privateKB };
