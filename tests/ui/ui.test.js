/* The web UI end to end: playwright-core driving Debian's chromium against a real
 * `sluice serve` on loopback (started by run.sh, which passes URL, ADMIN and PROJECT). Prints
 * TAP-like lines and "N passed, N failed"; screenshots go to $SHOTS; the 100 MB log's
 * figures to $BENCH_OUT (bench/ui_log.sh prints them; no timed assertion here beyond a
 * generous functional bound). */
"use strict";
const { chromium } = require("playwright-core");
const http = require("http");
const fs = require("fs");

const URL_ = process.env.URL, ADMIN = process.env.ADMIN, PROJECT = process.env.PROJECT;
const SHOTS = process.env.SHOTS, BENCH_OUT = process.env.BENCH_OUT;
const { results, ok, apiOf, until, waitPage, privateKB } = require("./lib.js");
const api = apiOf(URL_, ADMIN);
const jobOf = (p, name) => p.jobs.find((j) => j.name === name);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--enable-precise-memory-info"],
  });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error" && !/401|403/.test(m.text())) errors.push(m.text()); });
  const shot = (name) => page.screenshot({ path: `${SHOTS}/${name}.png` });
  try {
    /* sign in */
    await page.goto(URL_ + "/projects");
    await page.waitForURL(/\/signin/);
    ok(true, "an unsigned visit goes to the sign-in page");
    await shot("signin");
    await page.fill("#token", ADMIN);
    await page.click("button[type=submit]");
    await page.waitForSelector("table.grid td a");
    ok(page.url().endsWith("/projects"), "signed in, back on the projects page");
    const cookies = await ctx.cookies();
    const c = cookies.find((x) => x.name === "sl_session");
    ok(c && c.httpOnly && c.sameSite === "Lax", "the session cookie is HttpOnly, SameSite=Lax");

    /* a pipeline runs to success live */
    const simple = await api("POST", `/api/v1/projects/${PROJECT}/pipelines`, { variables: { MODE: "simple" } });
    await page.click("table.grid td a");
    await page.waitForSelector(`a[href="/pipelines/${simple.id}"]`);
    ok(true, "the project's pipelines list shows the new pipeline");
    await page.click(`a[href="/pipelines/${simple.id}"]`);
    await page.waitForSelector(".graph .job");
    await page.waitForSelector(".bar .st-success", { timeout: 120000 });
    ok(true, "the pipeline page turns to success without a reload");
    await shot("pipeline-simple");
    await page.goBack();
    await page.waitForSelector(`a[href="/pipelines/${simple.id}"]`);
    ok(page.url().endsWith(`/projects/${PROJECT}`), "Back returns to the pipelines list");
    await page.waitForSelector(`tr:has(a[href="/pipelines/${simple.id}"]) .st-success`);
    ok(true, "the pipelines list shows the status live");
    await shot("pipelines");

    /* a finished job: its artifacts to browse and download, a runner timestamp in its column */
    const build = jobOf(await api("GET", `/api/v1/pipelines/${simple.id}`), "build");
    await page.goto(`${URL_}/jobs/${build.id}`);
    await page.waitForSelector(".arts details.art summary");
    await page.click(".arts details.art summary");
    const fileLink = await page.waitForSelector(".arts .files a");
    const fileText = await fileLink.textContent();
    ok(fileText === "out/sub/result.txt", `the artifacts archive's files are listed (${fileText})`);
    const got = await page.evaluate(async (href) => (await fetch(href)).text(), await fileLink.getAttribute("href"));
    ok(got === "artifact-content\n", "one artifact file downloads with the session");
    ok(await page.$(".arts a[href$='/download']") !== null, "the whole archive has a download link");
    const stamp = await until("stamped line", () => page.$$eval("#log .row", (rows) => rows.map((r) => r.querySelector(".ts").textContent + "|" + r.querySelector(".tx").textContent).find((t) => t.endsWith("|stamped line"))));
    ok(stamp === "20:00:00|stamped line", `a runner's timestamp is shown in its own column (${stamp})`);
    await shot("job-artifacts");
    /* GitLab's collapsed section: folded on opening, unfolded from the keyboard */
    const inside = () => page.$$eval("#log .row:not([hidden]) .tx", (t) => t.some((x) => x.textContent === "inside the section"));
    const fold = await page.waitForSelector("#log .tg[aria-label='unfold section prep']");
    ok(!(await inside()), "a collapsed=true section starts folded (its lines hidden)");
    await fold.focus();
    await page.keyboard.press("Enter");
    await until("section unfolded", inside, 30000);
    ok(await page.$("#log .tg[aria-label='fold section prep'][aria-expanded='true']") !== null, "Enter on the section's fold button unfolds it");

    /* the full pipeline: a running job's log, a manual job, a failing one, one to cancel */
    const full = await api("POST", `/api/v1/projects/${PROJECT}/pipelines`, { variables: { MODE: "full" } });
    await page.goto(`${URL_}/pipelines/${full.id}`);
    await page.waitForSelector(".graph .job");
    const edges = await until("needs edges", () => page.$$eval(".graph .edges path", (p) => p.length));
    ok(edges >= 1, `needs edges are drawn (${edges})`);
    const slow = await until("slow running", async () => { const p = await api("GET", `/api/v1/pipelines/${full.id}`); const j = jobOf(p, "slow"); return j.status === "running" && j; });
    await page.click(`a.job[href="/jobs/${slow.id}"]`);
    await page.waitForURL(new RegExp(`/jobs/${slow.id}$`));
    const seen1 = await until("tick lines", () => page.$$eval("#log .row .tx", (r) => r.map((x) => x.textContent).filter((t) => t.startsWith("tick")).length));
    const seen2 = await until("more tick lines", () => page.$$eval("#log .row .tx", (r, n) => { const k = r.map((x) => x.textContent).filter((t) => t.startsWith("tick")).length; return k > n && k; }, seen1));
    ok(seen2 > seen1, `lines arrive live in a running job's log (${seen1} then ${seen2})`);
    await shot("job-running");
    const ansi = await until("ansi", () => page.$eval("#log", (l) => !!l.querySelector(".a32")));
    ok(ansi, "ANSI colours are rendered as classes");
    await page.goBack();
    await page.waitForSelector(".graph .job");

    /* play the manual job */
    const deploy = jobOf(full, "deploy");
    await until("deploy manual", async () => (await api("GET", `/api/v1/jobs/${deploy.id}`)).status === "manual");
    await page.waitForSelector(`a.job[href="/jobs/${deploy.id}"] .act-play`);
    await page.click(`a.job[href="/jobs/${deploy.id}"] .act-play`);
    await until("deploy played", async () => (await api("GET", `/api/v1/jobs/${deploy.id}`)).status !== "manual");
    ok(true, "Play starts the manual job");

    /* retry the failed one */
    const flaky = jobOf(full, "flaky");
    await until("flaky failed", async () => (await api("GET", `/api/v1/jobs/${flaky.id}`)).status === "failed");
    await page.goto(`${URL_}/jobs/${flaky.id}`);
    await page.waitForSelector(".bar .act-retry");
    await page.click(".bar .act-retry");
    /* a retry is a new job: the page follows to it, and the pipeline lists it in place of the old one */
    await until("flaky retried", async () => { const j = await api("GET", `/api/v1/pipelines/${full.id}`); return j.jobs.some((x) => x.name === "flaky" && x.id !== flaky.id); });
    await page.waitForURL((u) => /\/jobs\/\d+$/.test(u.pathname) && u.pathname !== `/jobs/${flaky.id}`);
    ok(true, "Retry runs the failed job again and its page shows the new attempt");

    /* cancel the long one */
    const sleeper = jobOf(full, "sleeper");
    await until("sleeper running", async () => (await api("GET", `/api/v1/jobs/${sleeper.id}`)).status === "running");
    await page.goto(`${URL_}/jobs/${sleeper.id}`);
    await page.waitForSelector(".bar .act-cancel");
    await page.click(".bar .act-cancel");
    await until("sleeper canceled", async () => (await api("GET", `/api/v1/jobs/${sleeper.id}`)).status === "canceled");
    await page.waitForSelector(".bar .st-canceled");
    ok(true, "Cancel stops the running job and the page shows it");

    /* a forged form post from another origin (another port of the same host) */
    const evil = http.createServer((req, res) => {
      res.setHeader("Content-Type", "text/html");
      res.end(`<form id=f method=post action="${URL_}/api/v1/pipelines/${full.id}/cancel"><input name=x value=1></form><script>document.getElementById('f').submit()</script>`);
    });
    await new Promise((r) => evil.listen(0, "127.0.0.1", r));
    const before = (await api("GET", `/api/v1/pipelines/${full.id}`)).status;
    const forged = await ctx.newPage();
    const resp = forged.waitForResponse((r) => r.url().endsWith("/cancel"));
    await forged.goto(`http://127.0.0.1:${evil.address().port}/`);
    const fr = await resp;
    ok(fr.status() === 403, `a forged cross-origin form post is refused (${fr.status()})`);
    const after = (await api("GET", `/api/v1/pipelines/${full.id}`)).status;
    ok(after !== "canceled" || before === "canceled", "the pipeline was not canceled by it");
    await forged.close();
    evil.close();

    await page.goto(`${URL_}/pipelines/${full.id}`);
    await page.waitForSelector(".graph .edges path", { state: "attached" });
    await shot("pipeline");

    /* the 100 MB log */
    const big = jobOf(full, "big");
    await until("big finished", async () => (await api("GET", `/api/v1/jobs/${big.id}`)).status === "success", 600000);
    const cdp = await ctx.newCDPSession(page);
    await cdp.send("Performance.enable");
    await page.goto(URL_ + "/projects");
    await page.waitForSelector("table.grid td a[href^='/pipelines/']");
    ok(true, "the projects page shows the default branch's last pipeline");
    await shot("projects");
    let peakHeap = 0, peakPriv = 0, sampling = true;
    const sampler = (async () => {
      while (sampling) {
        try {
          const m = await cdp.send("Performance.getMetrics");
          const heap = m.metrics.find((x) => x.name === "JSHeapUsedSize").value;
          peakHeap = Math.max(peakHeap, heap);
        } catch (e) { /* navigating */ }
        peakPriv = Math.max(peakPriv, privateKB((cmd) => cmd.includes("chromium") && cmd.includes("--type=renderer")) * 1024);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    /* the log's bytes that cross the wire (the viewer fetches the lines it shows) */
    let wire = 0, wireRequests = 0;
    const onWire = async (req) => {
      if (!/\/api\/v1\/jobs\/\d+\/log(\?|$)/.test(req.url())) return;
      try { wire += (await req.sizes()).responseBodySize; wireRequests++; } catch (e) { /* gone */ }
    };
    page.on("requestfinished", onWire);
    const t0 = Date.now();
    await page.click("a[href='/projects/" + PROJECT + "']").catch(() => {});
    await page.evaluate((u) => { history.pushState({}, "", u); dispatchEvent(new PopStateEvent("popstate")); }, `/jobs/${big.id}`);
    await waitPage(page, () => [...document.querySelectorAll("#log .row .tx")].some((r) => r.textContent === "line 000000001"), null, { timeout: 60000 });
    const tFirst = Date.now() - t0;
    await waitPage(page, () => window.sluiceLog && window.sluiceLog.total >= 7000000, null, { timeout: 120000 });
    const tAll = Date.now() - t0;
    await page.focus("#log");
    await page.keyboard.press("End");
    await waitPage(page, () => [...document.querySelectorAll("#log .row .tx")].some((r) => r.textContent === "line 007000000"), null, { timeout: 30000 });
    const tLast = Date.now() - t0;
    await shot("job-100mb-end");
    /* scroll through the middle, then search */
    for (let i = 0; i < 20; i++) await page.mouse.wheel(0, -5000);
    await page.fill("#search", "line 003500000");
    await page.press("#search", "Enter");
    await waitPage(page, () => [...document.querySelectorAll("#log .row.mark .tx")].some((r) => r.textContent === "line 003500000"), null, { timeout: 30000 });
    const tSearch = Date.now() - t0;
    ok(true, "search finds a line in the middle of the 100 MB log and shows it");
    /* only the parts shown were fetched; the start was let go while scrolling: Home brings
     * it back by line range */
    const held = await page.evaluate(() => [window.sluiceLog.held, window.sluiceLog.chunks.filter((c) => c.text).length, window.sluiceLog.chunks.length]);
    ok(held[1] < held[2] / 10, `the viewer holds only the parts of the 100 MB log it showed (${held[1]} of ${held[2]} chunks, ${held[0]} characters)`);
    await page.focus("#log");
    await page.keyboard.press("Home");
    await waitPage(page, () => [...document.querySelectorAll("#log .row .tx")].some((r) => r.textContent === "line 000000001"), null, { timeout: 30000 });
    ok(true, "the first line comes back (fetched by line range) after the log was scrolled away from");
    sampling = false;
    await sampler;
    page.off("requestfinished", onWire);
    ok(wire < 10 * 1048576, `the 100 MB log never crossed the wire whole (${wire} bytes in ${wireRequests} requests)`);
    const nodes = await page.$$eval("#log *", (n) => n.length);
    const fig = { lines: 7000000, bytes: 7000000 * 15, first_line_ms: tFirst, all_lines_ms: tAll, last_line_ms: tLast, log_wire_bytes: wire, log_requests: wireRequests, search_done_ms: tSearch, peak_js_heap_mb: +(peakHeap / 1048576).toFixed(1), peak_renderer_private_mb: +(peakPriv / 1048576).toFixed(1), log_dom_nodes: nodes };
    console.log("# 100 MB log: " + JSON.stringify(fig));
    if (BENCH_OUT) fs.writeFileSync(BENCH_OUT, JSON.stringify(fig) + "\n");
    ok(tFirst < 30000, `the first line of the 100 MB log is on screen (${tFirst} ms; generous bound 30 s)`);
    ok(nodes < 2000, `only visible rows are in the DOM (${nodes} nodes)`);
    ok(peakHeap < 600 * 1048576, `the JS heap stays bounded (peak ${fig.peak_js_heap_mb} MB; generous bound 600 MB)`);

    /* why a job waits when no runner has its tags: a server without built-in workers, one
     * online runner tagged linux (GitLab's stuck reason, on the pipeline page and the job's) */
    {
      const api2 = apiOf(process.env.URL2, process.env.ADMIN2);
      const proj2 = await api2("POST", "/api/v1/projects", { name: "stuck", repo_url: process.env.REPO });
      const rn = await api2("POST", "/api/v1/runners", { name: "linux-only", tags: ["linux"] });
      await fetch(process.env.URL2 + "/api/v4/runners/verify", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token: rn.token }) });
      const pl = await api2("POST", `/api/v1/projects/${proj2.id}/pipelines`, { variables: { MODE: "stuck" } });
      const ctx2 = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const p2 = await ctx2.newPage();
      await p2.goto(process.env.URL2 + "/signin");
      await p2.fill("#token", process.env.ADMIN2);
      await p2.click("button[type=submit]");
      await p2.waitForSelector("table.grid");
      await p2.goto(`${process.env.URL2}/pipelines/${pl.id}`);
      const why = await p2.waitForSelector(".stage p.why:has-text('gpu')", { timeout: 60000 });
      const text = await why.textContent();
      ok(/stuck: .*runners online or available with any of these tags assigned to them: gpu/.test(text), `the pipeline page says a job waits for a runner with its tags (${text})`);
      await p2.screenshot({ path: `${SHOTS}/pipeline-stuck.png` });

      /* a runner sends a 6 MB line (longer than one 4 MiB read; the built-in executor
       * splits lines, GitLab's runner protocol does not): the page draws it cut, keeps
       * about 1 MiB of it and shows the lines after it in place */
      const gpuRn = await api2("POST", "/api/v1/runners", { name: "gpu-1", tags: ["gpu"] });
      const req = await fetch(process.env.URL2 + "/api/v4/jobs/request", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token: gpuRn.token }) });
      const gj = await req.json();
      const trace = Buffer.concat([Buffer.from("before the long line\n"), Buffer.alloc(6000000, "x"), Buffer.from("\nafter the long line\n")]);
      for (let at = 0; at < trace.length; at += 512 * 1024) {
        const part = trace.subarray(at, Math.min(trace.length, at + 512 * 1024));
        const r = await fetch(`${process.env.URL2}/api/v4/jobs/${gj.id}/trace`, { method: "PATCH", headers: { "JOB-TOKEN": gj.token, "Content-Range": `${at}-${at + part.length - 1}` }, body: part });
        if (r.status !== 202) throw new Error("trace patch: " + r.status);
      }
      await fetch(`${process.env.URL2}/api/v4/jobs/${gj.id}`, { method: "PUT", headers: { "Content-Type": "application/json", "JOB-TOKEN": gj.token }, body: JSON.stringify({ token: gj.token, state: "success", exit_code: 0 }) });
      await p2.goto(`${process.env.URL2}/jobs/${gj.id}`);
      const rows = await until("the long line and the next", async () => { const r = await p2.evaluate(() => [...document.querySelectorAll("#log .row:not([hidden]) .tx")].map((x) => x.textContent)); return r.includes("after the long line") && r; }, 60000);
      const long = rows.find((t) => t.startsWith("xxxx")) || "";
      ok(rows.indexOf("after the long line") === rows.indexOf(long) + 1 && long.length > 1000 && long.length < 10000, `a 6 MB line is drawn cut (${long.length} characters drawn) and the next line follows it`);
      const held = await p2.evaluate(() => window.sluiceLog.held + window.sluiceLog.partial.length);
      ok(held < 3 * 1048576, `the page keeps about 1 MiB of it (${held} characters held)`);
      await ctx2.close();
    }

    /* deep link to a line, reload */
    await page.goto(`${URL_}/jobs/${slow.id}#L3`);
    await page.waitForSelector("#log .row.mark");
    const marked = await page.$eval("#log .row.mark .no", (a) => a.textContent);
    ok(marked === "3", `a deep link to line 3 highlights it after a reload (${marked})`);

    /* admin pages */
    await page.goto(URL_ + "/admin/tokens");
    await page.waitForSelector("table.grid tbody tr");
    await page.fill("#token-name", "ui-made");
    await page.selectOption("#token-role", "viewer");
    await page.click("button:has-text('Create token')");
    const secret = await (await page.waitForSelector("#token-secret code")).textContent();
    const who = await fetch(URL_ + "/api/v1/projects", { headers: { Authorization: "Bearer " + secret } });
    ok(who.status === 200, "a token created on the tokens page is shown once and works");
    await page.waitForSelector("table.grid tbody tr:has-text('ui-made')");
    await page.reload();
    await page.waitForSelector("table.grid tbody tr:has-text('ui-made')");
    ok((await page.$("#token-secret code")) === null, "after a reload the secret is not shown again");
    await shot("tokens");
    await page.goto(URL_ + "/admin/audit?action=job.play");
    await page.waitForSelector("table.grid tbody tr");
    ok((await page.$$eval("table.grid tbody tr", (r) => r.length)) >= 1, "the audit log filtered by action shows the play");
    await shot("audit");
    await page.fill("#actor", "token:1");
    await page.press("#actor", "Tab");
    await page.waitForURL(/actor=token%3A1/);
    await page.waitForSelector("table.grid tbody tr"); /* the page was redrawn empty, then filled */
    const actors = await page.$$eval("table.grid tbody tr td:nth-child(2)", (c) => [...new Set(c.map((x) => x.textContent))]);
    ok(actors.length === 1 && actors[0] === "token:1", `the audit log filters by actor too, with its own URL (${actors})`);
    /* a day filter is the API's too: nothing before 1970-01-02, and the URL says so */
    await page.fill("#until", "1970-01-02");
    await page.press("#until", "Tab");
    await page.waitForURL(/until=1970-01-02/);
    await page.waitForSelector("main p.muted:has-text('No events')");
    ok(page.url().includes("actor=token%3A1"), "the audit log's day filter keeps the actor filter and shows no events before 1970-01-02");

    /* runners: online or not, tags, pause */
    const runner = await api("POST", "/api/v1/runners", { name: "linux-1", tags: ["linux", "docker"] });
    await page.goto(URL_ + "/admin/runners");
    const rrow = await page.waitForSelector("table.grid tbody tr:has-text('linux-1')");
    ok(/offline/.test(await rrow.textContent()) && /docker/.test(await rrow.textContent()), "the runners page shows a runner's state and tags");
    await page.click("table.grid tbody tr:has-text('linux-1') button:has-text('Pause')");
    await until("runner paused", async () => (await api("GET", `/api/v1/runners/${runner.id}`)).paused === true);
    ok(true, "Pause on the runners page pauses the runner");
    await shot("runners");

    /* environments: the deploy job played above deployed to production */
    await until("deployed", async () => { const e = await api("GET", `/api/v1/projects/${PROJECT}/environments`); return e.length && e[0].last_deployment; });
    await page.goto(`${URL_}/projects/${PROJECT}/environments`);
    const erow = await page.waitForSelector("table.grid tbody tr:has-text('production')");
    ok(/success/.test(await erow.textContent()), "the environments page shows what is deployed where");
    await shot("environments");
    await page.click("table.grid tbody tr a:has-text('production')");
    await page.waitForSelector("h2:has-text('Deployments') + table tbody tr");
    ok(await page.$("button:has-text('Roll back to this')") !== null, "an environment's deployments offer a rollback to an admin");
    await shot("environment");

    /* a viewer sees the same pages without the buttons its role may not use (the API would
     * refuse them: the role rules are the API's) */
    {
      const vctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const vp = await vctx.newPage();
      await vp.goto(URL_ + "/signin");
      await vp.fill("#token", secret);
      await vp.click("button[type=submit]");
      await vp.waitForSelector("table.grid");
      await vp.goto(`${URL_}/pipelines/${full.id}`);
      await vp.waitForSelector(".graph .job");
      ok((await vp.$$(".act")).length === 0, "a viewer's pipeline page has no Play, Retry or Cancel");
      await vp.goto(`${URL_}/jobs/${flaky.id}`);
      await vp.waitForSelector("#log .row");
      ok((await vp.$$(".act")).length === 0, "a viewer's job page has no Retry");
      ok((await vp.$("a[href='/admin/tokens']")) === null, "a viewer's menu has no admin pages");
      /* with its own CSRF token, so the refusal is the role's */
      const denied = await vp.evaluate(async (id) => {
        const csrf = (await (await fetch("/api/v1/session")).json()).csrf_token;
        const r = await fetch(`/api/v1/jobs/${id}/retry`, { method: "POST", headers: { "X-CSRF-Token": csrf } });
        return r.status + " " + ((await r.json()).error || {}).code;
      }, flaky.id);
      ok(/^403 (forbidden|role)/.test(denied), `a viewer's retry through the API is refused by its role (${denied})`);
      await vctx.close();
    }

    /* feature flags: a per-environment toggle and a rollout percentage */
    await api("POST", `/api/v1/projects/${PROJECT}/feature_flags`, { name: "new_checkout", environments: [{ environment: "production", enabled: false }] });
    await page.goto(`${URL_}/projects/${PROJECT}/flags`);
    await page.waitForSelector("input[aria-label='new_checkout in production']");
    await page.check("input[aria-label='new_checkout in production']");
    await until("flag on", async () => (await api("GET", `/api/v1/projects/${PROJECT}/feature_flags/new_checkout`)).environments[0].enabled === true);
    ok(true, "the flag's toggle turns it on in that environment");
    await page.fill("input[aria-label='new_checkout rollout % in production']", "25");
    await page.press("input[aria-label='new_checkout rollout % in production']", "Tab");
    await until("rollout 25", async () => JSON.stringify((await api("GET", `/api/v1/projects/${PROJECT}/feature_flags/new_checkout`)).environments[0].strategies).includes('"rollout":"25"') || JSON.stringify((await api("GET", `/api/v1/projects/${PROJECT}/feature_flags/new_checkout`)).environments[0].strategies).includes('"rollout":25'));
    ok(true, "the rollout field sets the percentage");
    await shot("flags");
    await page.click("a:has-text('new_checkout')");
    await page.waitForSelector("h2:has-text('History') + table tbody tr");
    ok(true, "a flag's page shows its change history");
    await shot("flag");
    await page.goBack();
    await page.waitForSelector("input[aria-label='new_checkout in production']");
    ok(true, "Back returns to the flags page");

    /* secrets: a job that prints a token makes a finding; the page shows it redacted */
    const leaky = await api("POST", `/api/v1/projects/${PROJECT}/pipelines`, { variables: { MODE: "secret" } });
    await until("leak finished", async () => ["success", "failed"].includes((await api("GET", `/api/v1/pipelines/${leaky.id}`)).status));
    await page.goto(`${URL_}/projects/${PROJECT}/secrets`);
    const srow = await page.waitForSelector("table.grid tbody tr:has-text('github-token')");
    const stext = await srow.textContent();
    ok(/export DEMO_TOKEN=ghp_\*\*\*\*\* \(oops\)/.test(stext) && /job log/.test(stext), "the secrets page lists the finding with its redacted excerpt");
    ok(!(await page.content()).includes("Tz4Kp8Wn3Bc6Hd1"), "the page never holds the token");
    await page.goto(`${URL_}/projects/${PROJECT}/secrets`);
    await page.selectOption("select[aria-label='secret detection policy']", "refuse");
    await until("policy refuse", async () => (await api("GET", `/api/v1/projects/${PROJECT}/secret_detection`)).policy === "refuse");
    ok(true, "a maintainer sets the project's policy from the page");
    await api("PUT", `/api/v1/projects/${PROJECT}/secret_detection`, { policy: "report" });
    await shot("secrets");

    /* phone width, dark theme */
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: "dark" });
    await phone.addCookies(await ctx.cookies());
    const pp = await phone.newPage();
    await pp.goto(`${URL_}/pipelines/${full.id}`);
    await pp.waitForSelector(".graph .job");
    const overflow = await pp.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
    ok(overflow, "no horizontal overflow at phone width");
    const bg = await pp.evaluate(() => getComputedStyle(document.body).backgroundColor);
    ok(bg === "rgb(13, 17, 23)", `the dark theme follows the system (${bg})`);
    await pp.screenshot({ path: `${SHOTS}/pipeline-phone-dark.png` });
    await pp.goto(`${URL_}/jobs/${slow.id}`);
    await pp.waitForSelector("#log .row");
    await pp.screenshot({ path: `${SHOTS}/job-phone-dark.png` });
    await phone.close();

    /* keyboard: the sign-out button is reachable with Tab */
    await page.goto(URL_ + "/projects");
    await page.waitForSelector("#signout");
    let reached = false;
    for (let i = 0; i < 12 && !reached; i++) { await page.keyboard.press("Tab"); reached = await page.evaluate(() => document.activeElement && document.activeElement.id === "signout"); }
    ok(reached, "the sign-out button is reachable by keyboard");
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/signin/);
    const after401 = await page.evaluate(async () => (await fetch("/api/v1/projects")).status);
    ok(after401 === 401, "after sign-out the cookie no longer works");
    ok(errors.length === 0, "no script errors", errors.join(" | "));
  } catch (e) {
    ok(false, "the UI scenario ran to its end", e.stack);
    await shot("failure").catch(() => {});
  }
  await browser.close();
  console.log(`${results.pass} passed, ${results.fail} failed`);
  process.exit(results.fail ? 1 : 0);
})();
