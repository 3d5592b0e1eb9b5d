/* A fork's pipeline held for a maintainer's approval, in Chromium (run.sh passes URL, ADMIN,
 * REPO, SHOTS; the repository has refs/pull/5/head). A project that holds forks' pipelines
 * gets a signed GitHub pull_request webhook from a fork; a developer's page says why the
 * pipeline waits and offers no Approve, a maintainer's page approves it and shows it run. */
"use strict";
const { chromium } = require("playwright-core");
const crypto = require("crypto");

const URL_ = process.env.URL, ADMIN = process.env.ADMIN, REPO = process.env.REPO, SHOTS = process.env.SHOTS;
const { results, ok, apiOf, until } = require("./lib.js");
const api = apiOf(URL_, ADMIN);

/* a GitHub pull_request "opened" from a fork (head.repo is not base.repo), signed with SECRET */
async function forkHook(project, secret, sha, number) {
  const body = JSON.stringify({ action: "opened", number,
    pull_request: { number, title: "From a fork", body: "", draft: false, labels: [], merged: false,
      head: { ref: "main", sha, repo: { full_name: "someone/fork", html_url: "https://forge.example/someone/fork" } },
      base: { ref: "main", sha: "", repo: { full_name: "t/repo" } }, merge_commit_sha: null, mergeable: null },
    repository: { full_name: "t/repo", clone_url: REPO } });
  const sig = "sha256=" + crypto.createHmac("sha256", secret).update(body).digest("hex");
  const r = await fetch(`${URL_}/hooks/github?project=${project}`, { method: "POST", body, headers: { "Content-Type": "application/json", "X-GitHub-Event": "pull_request", "X-Hub-Signature-256": sig } });
  return [r.status, await r.json().catch(() => null)];
}

async function signIn(browser, token) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  await page.goto(URL_ + "/signin");
  await page.fill("#token", token);
  await page.click("button[type=submit]");
  await page.waitForSelector("table.grid");
  return { ctx, page };
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const errors = [];
  try {
    const secret = "fork-hook-secret";
    const proj = await api("POST", "/api/v1/projects", { name: "forked", repo_url: REPO, webhook_secret: secret });
    const put = await api("PUT", `/api/v1/projects/${proj.id}`, { fork_pipelines_need_approval: true });
    ok(put && put.fork_pipelines_need_approval === true, "a project that holds forks' pipelines");
    const sha = require("child_process").execFileSync("git", ["-C", REPO, "rev-parse", "refs/pull/5/head"]).toString().trim();
    const [code, held] = await forkHook(proj.id, secret, sha, 5);
    ok(code === 201 && held && held.waits_for_approval === true && held.hold_reason === "fork", `a fork's pull request makes a held pipeline (${code} ${held && held.status} ${held && held.hold_reason})`);
    const dev = await api("POST", "/api/v1/tokens", { name: "ui-dev", role: "developer" });
    const mnt = await api("POST", "/api/v1/tokens", { name: "ui-maintainer", role: "maintainer" });

    /* a developer: the reason, on the list and the pipeline's page, and no Approve */
    {
      const { ctx, page } = await signIn(browser, dev.token);
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`${URL_}/projects/${proj.id}`);
      const row = await (await page.waitForSelector(`tr:has(a[href="/pipelines/${held.id}"]) .why.held`)).textContent();
      ok(/maintainer's approval/.test(row) && /fork/.test(row), `the pipelines list says why it waits (${row.trim()})`);
      await page.goto(`${URL_}/pipelines/${held.id}`);
      const why = await (await page.waitForSelector("div.held .why.held")).textContent();
      ok(/waits for a maintainer's approval: it comes from a fork/.test(why), `the pipeline page says it waits for a maintainer because it comes from a fork (${why})`);
      ok((await page.$(".act-approve")) === null, "a developer's page offers no Approve");
      const jobWhy = await page.$eval(".graph .why", (x) => x.textContent);
      ok(jobWhy === "waits for the pipeline's approval", `its jobs say what they wait for (${jobWhy})`);
      /* the API's answer decides: a developer's approve (with its CSRF token) is refused */
      const denied = await page.evaluate(async (id) => {
        const csrf = (await (await fetch("/api/v1/session")).json()).csrf_token;
        return (await fetch(`/api/v1/pipelines/${id}/approve`, { method: "POST", headers: { "X-CSRF-Token": csrf } })).status;
      }, held.id);
      ok(denied === 403, `a developer's approve through the API is refused (${denied})`);
      await ctx.close();
    }

    /* a maintainer approves from the page; it runs live, the reason goes */
    {
      const { ctx, page } = await signIn(browser, mnt.token);
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`${URL_}/pipelines/${held.id}`);
      await page.waitForSelector("div.held .act-approve");
      await page.screenshot({ path: `${SHOTS}/pipeline-held.png` });
      ok((await page.$$(".graph .job .act")).length === 0, "a held pipeline's job cards offer no action (its jobs take none before the approval)");
      await page.click("div.held .act-approve");
      const p = await until("approved", async () => { const x = await api("GET", `/api/v1/pipelines/${held.id}`); return !x.waits_for_approval && x; });
      ok(/^token:/.test(p.approved_by || ""), `Approve calls the API with the session and CSRF token (approved_by ${p.approved_by})`);
      await page.waitForSelector(".bar .st-success", { timeout: 120000 });
      ok((await page.$("div.held .why.held")) === null, "the page shows the approved pipeline run to success, without the hold's reason");
      ok((await page.$("p.error:not(:empty)")) === null, "no error is shown");
      /* the API's refusal is the page's message: a held pipeline canceled while its page
       * is open (its polls held unanswered, so it still offers Approve) answers 409. The
       * polls are held by a route, not by pausing the page's clock: Playwright's pauseAt
       * takes a time that a loaded machine can have passed before the page gets it. */
      const [, held2] = await forkHook(proj.id, secret, sha, 6);
      const p2 = await ctx.newPage();
      p2.on("pageerror", (e) => errors.push(String(e)));
      const pollOf = (r) => r.method() === "GET" && new URL(r.url()).pathname === `/api/v1/pipelines/${held2.id}`;
      let open = 0; /* the page's polls sent and not yet answered, held ones included */
      p2.on("request", (r) => { if (pollOf(r)) open++; });
      p2.on("requestfinished", (r) => { if (pollOf(r)) open--; });
      p2.on("requestfailed", (r) => { if (pollOf(r)) open--; });
      await p2.goto(`${URL_}/pipelines/${held2.id}`);
      await p2.waitForSelector("div.held .act-approve");
      const heldPolls = [];
      await p2.route((u) => u.pathname === `/api/v1/pipelines/${held2.id}`, (route) => (route.request().method() === "GET" ? heldPolls.push(route) : route.continue()));
      /* once a poll is held and every other one answered, the page's view is frozen */
      await until("the page's polls held", () => heldPolls.length > 0 && open === heldPolls.length);
      await api("POST", `/api/v1/pipelines/${held2.id}/cancel`);
      await p2.click("div.held .act-approve");
      const refused = await (await p2.waitForSelector("p.error:has-text('Approve:')")).textContent();
      ok(/^Approve: \S/.test(refused), `the API's refusal of an approve is shown on the page (${refused})`);
      await ctx.close();
    }
    ok(errors.length === 0, "no script errors", errors.join(" | "));
  } catch (e) {
    ok(false, "the held fork pipeline scenario ran to its end", e.stack);
  }
  await browser.close();
  console.log(`${results.pass} passed, ${results.fail} failed`);
  process.exit(results.fail ? 1 : 0);
})();
