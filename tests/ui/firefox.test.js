/* The web UI in Firefox: playwright-core driving Debian's firefox-esr over WebDriver BiDi,
 * against the `sluice serve` that ui.test.js used (run.sh runs this after it, with the same
 * URL, ADMIN and PROJECT; that test's pipelines are there). Sign-in, a pipeline's graph, a
 * job's log (ANSI colours, a collapsed section unfolded from the keyboard, timestamps), the
 * 100 MB log (first and last lines, a search hit, only what is shown fetched, the content
 * process's memory), a deep link, phone width in the dark theme, sign-out, no script
 * errors. Prints TAP-like lines; screenshots go to $SHOTS as firefox-*.jpg. */
"use strict";
const pw = require("playwright-core");
const { results, ok, apiOf, until, waitPage, logRows, privateKB } = require("./lib.js");

const URL_ = process.env.URL, ADMIN = process.env.ADMIN, PROJECT = process.env.PROJECT;
const SHOTS = process.env.SHOTS;
const api = apiOf(URL_, ADMIN);
const content = (cmd) => cmd.includes("firefox") && cmd.includes("-contentproc");
/* the page's own path: over BiDi, page.url() and waitForURL miss history.pushState */
/* playwright-core 1.49 sends a PNG screenshot's BiDi "quality" as 80 where BiDi wants 0 to 1,
 * which Firefox refuses: a JPEG with quality 1, passed through as is, is BiDi's best */
const shotOpts = (name) => ({ path: `${SHOTS}/firefox-${name}.jpg`, type: "jpeg", quality: 1 });
const path = (page) => page.evaluate(() => location.pathname + location.search);

/* The finished job named NAME of the project's pipelines (newest first), with its pipeline. */
async function finished(name) {
  for (const p of await api("GET", `/api/v1/projects/${PROJECT}/pipelines?limit=25`)) {
    const full = await api("GET", `/api/v1/pipelines/${p.id}`);
    const j = full.jobs.find((x) => x.name === name && x.status === "success");
    if (j) return { pipeline: full, job: j };
  }
  throw new Error("no successful job " + name);
}

(async () => {
  const launch = (prefs) => pw._bidiFirefox.launch({ executablePath: process.env.FIREFOX || "/usr/bin/firefox-esr", headless: true, firefoxUserPrefs: prefs });
  const browser = await launch({});
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const shot = (name, p = page) => p.screenshot(shotOpts(name));
  try {
    ok(true, "Firefox " + browser.version() + " runs");
    await page.goto(URL_ + "/projects");
    await page.waitForSelector("#token");
    ok((await path(page)).startsWith("/signin"), "an unsigned visit goes to the sign-in page");
    await page.fill("#token", ADMIN);
    await page.click("button[type=submit]");
    await page.waitForSelector("table.grid td a[href^='/pipelines/']");
    ok((await path(page)) === "/projects", "signed in, the projects page shows the last pipeline");

    /* a pipeline: stages, jobs, needs edges */
    const build = await finished("build");
    await page.goto(`${URL_}/pipelines/${build.pipeline.id}`);
    await page.waitForSelector(".graph .edges path", { state: "attached" });
    ok((await page.evaluate(() => document.querySelectorAll(".graph .job").length)) === build.pipeline.jobs.length, "the pipeline's jobs are drawn, with needs edges");
    await shot("pipeline");

    /* a job's log: colours, a folded section opened with Enter, a runner timestamp */
    await page.click(`a.job[href='/jobs/${build.job.id}']`);
    await page.waitForSelector("#log .tx span[class]");
    ok(true, "the job opens from its card; ANSI colours are rendered as classes");
    const fold = await page.waitForSelector("#log .tg[aria-label='unfold section prep']");
    ok(!(await logRows(page)).includes("inside the section"), "a collapsed section starts folded");
    await fold.focus();
    await page.keyboard.press("Enter");
    await until("section unfolded", async () => (await logRows(page)).includes("inside the section"), 30000);
    ok(true, "Enter on the section's fold button unfolds it");
    ok(await page.evaluate(() => [...document.querySelectorAll("#log .row .ts")].some((t) => t.textContent === "20:00:00")), "a runner's timestamp has its column");
    await shot("job");
    await page.evaluate(() => history.back()); /* page.goBack waits for a load that a same-page Back has not */
    await page.waitForSelector(".graph .job");
    ok((await path(page)) === `/pipelines/${build.pipeline.id}`, "Back returns to the pipeline");

    /* the 100 MB log */
    const big = await finished("big");
    let peak = 0, sampling = true;
    const sampler = (async () => { while (sampling) { peak = Math.max(peak, privateKB(content)); await new Promise((r) => setTimeout(r, 100)); } })();
    const t0 = Date.now();
    await page.goto(`${URL_}/jobs/${big.job.id}`);
    await waitPage(page, () => [...document.querySelectorAll("#log .row .tx")].some((r) => r.textContent === "line 000000001"));
    const tFirst = Date.now() - t0;
    await page.focus("#log");
    await page.keyboard.press("End");
    await waitPage(page, () => [...document.querySelectorAll("#log .row .tx")].some((r) => r.textContent === "line 007000000"));
    const tLast = Date.now() - t0;
    await page.fill("#search", "line 003500000");
    await page.press("#search", "Enter");
    await waitPage(page, () => [...document.querySelectorAll("#log .row.mark .tx")].some((r) => r.textContent === "line 003500000"));
    ok(true, "the 100 MB log: first line, last line (End) and a search hit in the middle are shown");
    await page.focus("#log");
    await page.keyboard.press("Home");
    await waitPage(page, () => [...document.querySelectorAll("#log .row .tx")].some((r) => r.textContent === "line 000000001"));
    sampling = false;
    await sampler;
    /* what the page fetched of the log (Resource Timing: bodies as sent) */
    const wire = await page.evaluate(() => performance.getEntriesByType("resource").filter((e) => /\/api\/v1\/jobs\/\d+\/log(\?|$)/.test(e.name)).reduce((n, e) => n + e.encodedBodySize, 0));
    console.log("# Firefox, 100 MB log: " + JSON.stringify({ first_line_ms: tFirst, last_line_ms: tLast, log_wire_bytes: wire, peak_content_private_mb: +(peak / 1024).toFixed(1) }));
    ok(wire > 0 && wire < 10 * 1048576, `the 100 MB log never crossed the wire whole (${wire} bytes)`);
    ok(peak > 0 && peak < 600 * 1024, `the content process stays bounded (peak ${(peak / 1024).toFixed(1)} MB private; generous bound 600 MB)`);
    ok((await page.evaluate(() => document.querySelectorAll("#log *").length)) < 2000, "only visible rows are in the DOM");
    await shot("job-100mb");

    /* a deep link to a line, after a reload */
    await page.goto(`${URL_}/jobs/${build.job.id}#L3`);
    await page.waitForSelector("#log .row.mark");
    ok((await page.evaluate(() => document.querySelector("#log .row.mark .no").textContent)) === "3", "a deep link to line 3 highlights it");

    /* phone width, dark theme */
    /* the system's dark setting, as Firefox takes it (BiDi has no colorScheme emulation) */
    const dark = await launch({ "layout.css.prefers-color-scheme.content-override": 0 });
    const phone = await dark.newContext({ viewport: { width: 390, height: 844 } });
    await phone.addCookies(await ctx.cookies());
    const pp = await phone.newPage();
    await pp.goto(`${URL_}/pipelines/${big.pipeline.id}`);
    await pp.waitForSelector(".graph .job");
    ok(await pp.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), "no horizontal overflow at phone width");
    const bg = await pp.evaluate(() => getComputedStyle(document.body).backgroundColor);
    ok(bg === "rgb(13, 17, 23)", `the dark theme follows the system (${bg})`);
    await shot("phone-dark", pp);
    await dark.close();

    /* sign-out from the keyboard */
    await page.goto(URL_ + "/projects");
    await page.waitForSelector("#signout");
    let reached = false;
    for (let i = 0; i < 12 && !reached; i++) { await page.keyboard.press("Tab"); reached = await page.evaluate(() => document.activeElement && document.activeElement.id === "signout"); }
    ok(reached, "the sign-out button is reachable by keyboard");
    /* clicked: Enter over BiDi on the button Tab reached did not activate it here (it does in
     * Chromium, and did in Firefox on a page not reloaded since sign-in): not yet known
     * whether BiDi's input or Firefox; docs/ui.md says so */
    await page.click("#signout");
    await until("the sign-in page", async () => (await path(page)).startsWith("/signin"), 30000);
    ok((await page.evaluate(async () => (await fetch("/api/v1/projects")).status)) === 401, "after sign-out the cookie no longer works");
    ok(errors.length === 0, "no script errors", errors.join(" | "));
  } catch (e) {
    ok(false, "the Firefox scenario ran to its end", e.stack);
    await shot("failure").catch(() => {});
  }
  await browser.close();
  console.log(`${results.pass} passed, ${results.fail} failed`);
  process.exit(results.fail ? 1 : 0);
})();
