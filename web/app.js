/* app.js: the pages of the sluice UI. One page at a time in <main>, chosen by the path
 * (history API: every page has a real URL; Back and reload work). All data comes from the
 * HTTP API of docs/api.md with the session cookie; state-changing calls send the session's
 * CSRF token. */
"use strict";
(function () {
  const main = document.getElementById("main");
  const nav = document.getElementById("nav");
  let session = null; /* {csrf_token, token:{id,name,role}} */
  let timers = [];
  let cleanups = [];
  const RANK = { viewer: 0, developer: 1, maintainer: 2, admin: 3 };
  const can = (role) => session && RANK[session.token.role] >= RANK[role];
  const FINISHED = new Set(["success", "failed", "canceled", "skipped"]);
  const ICON = { success: "✔", failed: "✖", canceled: "⊘", skipped: "»", running: "◔", pending: "◌", created: "◌", manual: "⚙", scheduled: "⏲", waiting_for_resource: "◌" };

  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className = v;
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids.flat()) if (k != null) el.append(k instanceof Node ? k : String(k));
    return el;
  }
  const link = (href, ...kids) => h("a", { href, "data-link": true }, ...kids);
  const badge = (status) => h("span", { class: "st st-" + status, title: status }, h("span", { "aria-hidden": "true" }, ICON[status] || "•"), " ", status);
  const dur = (s) => (s == null ? "" : s < 1 ? Math.round(s * 1000) + " ms" : window.SluiceFmtDur(Math.round(s)));
  const bytes = (n) => (n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " KiB" : (n / 1048576).toFixed(1) + " MiB");
  const ago = (iso) => (iso ? new Date(iso).toLocaleString() : "");

  class HttpError extends Error { constructor(status, msg) { super(msg); this.status = status; } }

  async function api(method, path, body) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && session && session.csrf_token) headers["X-CSRF-Token"] = session.csrf_token;
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
    if (r.status === 401 && path !== "/api/v1/session") { session = null; go("/signin?next=" + encodeURIComponent(location.pathname + location.search)); throw new HttpError(401, "signed out"); }
    if (r.status === 204) return null;
    const data = await r.json().catch(() => null);
    if (!r.ok) throw new HttpError(r.status, (data && data.error && data.error.message) || r.statusText);
    return data;
  }

  function every(ms, fn) { const t = setInterval(fn, ms); timers.push(t); }
  function onLeave(fn) { cleanups.push(fn); }

  function go(path, replace) {
    if (replace) history.replaceState({}, "", path); else history.pushState({}, "", path);
    route();
  }
  document.addEventListener("click", (e) => {
    const a = e.target.closest("a[data-link]");
    if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    go(a.getAttribute("href"));
  });
  window.addEventListener("popstate", route);

  function page(title, ...kids) {
    document.title = title + " · sluice";
    main.textContent = "";
    main.append(h("h1", {}, title), ...kids);
  }
  function fail(err) {
    if (err.status === 401) return;
    main.append(h("p", { class: "error", role: "alert" }, String(err.message || err)));
  }

  function drawNav() {
    nav.textContent = "";
    if (!session) return;
    nav.append(link("/projects", "Projects"));
    if (can("admin")) nav.append(link("/admin/runners", "Runners"), link("/admin/tokens", "Tokens"), link("/admin/audit", "Audit"));
    nav.append(h("span", { class: "who" }, session.token.name + " (" + session.token.role + ")"),
      h("button", { type: "button", id: "signout", onclick: async () => { await api("DELETE", "/api/v1/session").catch(() => {}); session = null; go("/signin"); } }, "Sign out"));
  }

  /* --- pages -------------------------------------------------------------------------- */

  function signin(q) {
    const input = h("input", { id: "token", type: "password", name: "token", autocomplete: "current-password", required: true, placeholder: "slt_…", "aria-label": "API token" });
    const msg = h("p", { class: "error", role: "alert" });
    const form = h("form", { class: "signin", onsubmit: async (e) => {
      e.preventDefault();
      try {
        session = await api("POST", "/api/v1/session", { token: input.value });
        go(q.get("next") || "/projects", true);
      } catch (err) { msg.textContent = err.message; }
    } }, h("label", { for: "token" }, "API token"), input, h("button", { type: "submit" }, "Sign in"), msg,
      h("p", { class: "muted" }, "A token from `sluice token create` or the admin's data/admin.token. It is exchanged for a session cookie and not kept by this page."));
    page("Sign in", form);
    input.focus();
  }

  async function projects() {
    page("Projects");
    const list = h("table", { class: "grid" }, h("thead", {}, h("tr", {}, h("th", {}, "Project"), h("th", {}, "Default branch"), h("th", {}, "Last pipeline"))));
    const body = h("tbody");
    list.append(body);
    main.append(list);
    try {
      const ps = await api("GET", "/api/v1/projects");
      if (!ps.length) main.append(h("p", { class: "muted" }, "No projects yet: POST /api/v1/projects (docs/api.md)."));
      for (const p of ps) {
        const cell = h("td", {}, "…");
        body.append(h("tr", {}, h("td", {}, link("/projects/" + p.id, p.name)), h("td", {}, p.default_branch), cell));
        api("GET", `/api/v1/projects/${p.id}/pipelines?ref=${encodeURIComponent(p.default_branch)}&limit=20`).then((pl) => {
          const last = pl.find((x) => x.ref === p.default_branch);
          cell.textContent = "";
          cell.append(last ? link("/pipelines/" + last.id, badge(last.status), " #" + last.iid) : "none");
        }).catch(() => (cell.textContent = "?"));
      }
    } catch (err) { fail(err); }
  }

  async function pipelines(id, q) {
    const status = q.get("status") || "", ref = q.get("ref") || "", after = q.get("after") || "";
    const sel = h("select", { id: "status", "aria-label": "status", onchange: () => go(filt({ status: sel.value, after: "" })) },
      ["", "created", "pending", "running", "success", "failed", "canceled", "skipped", "manual", "scheduled"].map((s) => h("option", { value: s, selected: s === status }, s || "any status")));
    const refIn = h("input", { id: "ref", value: ref, placeholder: "ref", "aria-label": "ref", onchange: () => go(filt({ ref: refIn.value, after: "" })) });
    const filt = (o) => { const u = new URLSearchParams({ status, ref, after, ...o }); for (const [k, v] of [...u]) if (!v) u.delete(k); return `/projects/${id}` + (u.toString() ? "?" + u : ""); };
    const body = h("tbody");
    const more = h("p");
    const runBtn = can("developer") ? h("button", { type: "button", onclick: async () => { try { const p = await api("POST", `/api/v1/projects/${id}/pipelines`, ref ? { ref } : {}); go("/pipelines/" + p.id); } catch (e) { fail(e); } } }, "Run pipeline") : null;
    page("Pipelines", h("div", { class: "bar tabs" }, h("b", {}, "Pipelines"), link(`/projects/${id}/environments`, "Environments"), link(`/projects/${id}/flags`, "Feature flags"), link(`/projects/${id}/secrets`, "Secrets")), h("div", { class: "bar" }, sel, refIn, runBtn), h("table", { class: "grid" }, h("thead", {}, h("tr", {}, h("th", {}, "Status"), h("th", {}, "Pipeline"), h("th", {}, "Ref"), h("th", {}, "Commit"), h("th", {}, "Source"), h("th", {}, "Created"))), body), more);
    try {
      const proj = await api("GET", "/api/v1/projects/" + id);
      main.querySelector("h1").textContent = proj.name + ": pipelines";
      document.title = proj.name + " · sluice";
    } catch (err) { return fail(err); }
    const load = async () => {
      const u = new URLSearchParams({ limit: "25" });
      if (status) u.set("status", status);
      if (ref) u.set("ref", ref);
      if (after) u.set("after", after);
      const pl = await api("GET", `/api/v1/projects/${id}/pipelines?${u}`);
      const rows = pl.filter((p) => !ref || p.ref === ref);
      body.textContent = "";
      for (const p of rows)
        body.append(h("tr", {}, h("td", {}, badge(p.status), p.waits_for_approval ? h("span", { class: "why held" }, " " + heldWhy(p)) : null), h("td", {}, link("/pipelines/" + p.id, "#" + p.iid)), h("td", {}, p.ref), h("td", { class: "mono" }, (p.sha || "").slice(0, 8)), h("td", {}, p.source), h("td", {}, ago(p.created_at))));
      if (!rows.length) body.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No pipelines.")));
      more.textContent = "";
      if (after) more.append(link(filt({ after: "" }), "Newest"), " ");
      if (pl.length === 25) more.append(link(filt({ after: String(pl[pl.length - 1].id) }), "Older →"));
    };
    try { await load(); } catch (err) { return fail(err); }
    every(3000, () => load().catch(() => {}));
  }

  /* a pipeline held for a maintainer's approval (a fork's merge request pipeline when the
   * project sets fork_pipelines_need_approval; docs/merge-requests.md "Forks") */
  const heldWhy = (p) => (p.waits_for_approval ? "waits for a maintainer's approval" + (p.hold_reason === "fork" ? ": it comes from a fork, and its jobs run only once a maintainer approves it" : p.hold_reason ? " (" + p.hold_reason + ")" : "") : "");

  function why(j) {
    if (j.status === "manual" && j.waits_for_approval) return "blocked: its deployment waits for approval (the environment's page has Approve and Reject)";
    if (j.status === "manual") return "manual: waits for someone to play it";
    if (j.status === "scheduled") {
      const left = j.due_at ? Math.max(0, Math.round((new Date(j.due_at) - Date.now()) / 1000)) : null;
      return "delayed" + (left != null ? ": starts in " + window.SluiceFmtDur(left) : "");
    }
    if (j.status === "skipped") return j.failure_reason || "skipped: an earlier stage or a needed job did not succeed, or its rules excluded it";
    if (j.status === "created" && j.held) return "waits for the pipeline's approval";
    if (j.status === "created") return "waits for " + (j.needs.length ? "the jobs it needs" : "the earlier stages");
    if (j.status === "waiting_for_resource") {
      const g = j.resource_group; /* on a job's own page */
      return "waits for the resource group" + (g ? " " + g.key + (g.held_by ? `, held by ${g.held_by.name} (#${g.held_by.id})` : "") : "");
    }
    if (j.status === "pending" && j.stuck) return "stuck: " + (j.stuck_reason || "no runner can take it");
    if (j.status === "pending") return "pending: waits for a free worker or runner";
    if (j.status === "failed" && j.failure_reason) return "failed: " + j.failure_reason;
    return "";
  }

  function actions(kind, obj, refresh) {
    if (!can("developer")) return [];
    const btn = (label, verb) => h("button", { type: "button", class: "act act-" + verb, "aria-label": label + " " + (obj.name || "pipeline"), onclick: async (e) => {
      e.stopPropagation(); e.preventDefault();
      try {
        const res = await api("POST", `/api/v1/${kind}/${obj.id}/${verb}`);
        /* a retry is a new job (as GitLab's): its page follows to the new attempt */
        if (kind === "jobs" && verb === "retry" && res && res.id !== obj.id && location.pathname === "/jobs/" + obj.id) go("/jobs/" + res.id);
        else refresh();
      } catch (err) { alert(err.message); }
    } }, label);
    const out = [];
    /* a held pipeline's jobs take nothing before its approval (the API answers 409): the
       pipeline's own Approve and Cancel are what a maintainer has */
    if (kind === "jobs" && obj.held) return out;
    if (kind === "jobs") {
      if ((obj.status === "manual" && !obj.waits_for_approval) || obj.status === "scheduled") out.push(btn("Play", "play"));
      if (FINISHED.has(obj.status) && obj.status !== "skipped" && !obj.retried) out.push(btn("Retry", "retry"));
      if (!FINISHED.has(obj.status) && obj.status !== "manual") out.push(btn("Cancel", "cancel"));
    } else {
      if (obj.jobs.some((j) => j.status === "failed" || j.status === "canceled")) out.push(btn("Retry failed", "retry"));
      if (!FINISHED.has(obj.status)) out.push(btn("Cancel", "cancel"));
    }
    return out;
  }

  async function pipeline(id) {
    page("Pipeline");
    const head = h("div", { class: "bar" });
    const hold = h("div", { class: "held" });
    const msg = h("p", { class: "error", role: "alert" });
    const graph = h("div", { class: "graph" });
    main.append(head, hold, msg, graph);
    /* who may approve is the API's to say (maintainer and up): its refusal is shown here */
    const approve = (p) => h("button", { type: "button", class: "act act-approve", onclick: async () => {
      msg.textContent = "";
      try { await api("POST", `/api/v1/pipelines/${p.id}/approve`); await refresh(); } catch (err) { if (err.status !== 401) msg.textContent = "Approve: " + err.message + (err.status === 403 ? " (approving needs the maintainer role)" : ""); }
    } }, "Approve");
    const draw = (p) => {
      main.querySelector("h1").textContent = `Pipeline #${p.iid}`;
      head.textContent = "";
      head.append(badge(p.status), h("span", {}, " on ", h("b", {}, p.ref), " ", h("span", { class: "mono" }, (p.sha || "").slice(0, 8))), link("/projects/" + p.project_id, "all pipelines"), ...actions("pipelines", p, refresh));
      hold.textContent = "";
      if (p.waits_for_approval) hold.append(h("p", { class: "why held", role: "status" }, "This pipeline " + heldWhy(p) + "."), can("maintainer") ? approve(p) : null);
      if (p.yaml_errors) head.append(h("ul", { class: "error" }, p.yaml_errors.map((e) => h("li", {}, e))));
      graph.textContent = "";
      const stages = [];
      for (const j of p.jobs) { j.held = p.waits_for_approval; let s = stages.find((x) => x.name === j.stage); if (!s) stages.push((s = { name: j.stage, jobs: [] })); s.jobs.push(j); }
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("class", "edges");
      svg.setAttribute("aria-hidden", "true");
      graph.append(svg);
      const cards = new Map();
      for (const s of stages) {
        const col = h("section", { class: "stage", "aria-label": "stage " + s.name }, h("h2", {}, s.name));
        for (const j of s.jobs) {
          const card = h("a", { class: "job st-" + j.status, href: "/jobs/" + j.id, "data-link": true, title: why(j) },
            h("span", { class: "ic", "aria-hidden": "true" }, ICON[j.status] || "•"), h("span", { class: "nm" }, j.name), h("span", { class: "du" }, dur(j.duration_s)),
            h("span", { class: "sr" }, " " + j.status), ...actions("jobs", j, refresh));
          const w = why(j);
          col.append(card);
          if (w) col.append(h("p", { class: "why" }, w));
          cards.set(j.position, card);
        }
        graph.append(col);
      }
      requestAnimationFrame(() => {
        const g = graph.getBoundingClientRect();
        svg.setAttribute("width", graph.scrollWidth);
        svg.setAttribute("height", graph.scrollHeight);
        for (const j of p.jobs) for (const n of j.needs || []) {
          const a = cards.get(n), b = cards.get(j.position);
          if (!a || !b) continue;
          const ra = a.getBoundingClientRect(), rb = b.getBoundingClientRect();
          const x1 = ra.right - g.left + graph.scrollLeft, y1 = ra.top + ra.height / 2 - g.top, x2 = rb.left - g.left + graph.scrollLeft, y2 = rb.top + rb.height / 2 - g.top;
          const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
          const mx = (x1 + x2) / 2;
          path.setAttribute("d", `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`);
          svg.append(path);
        }
      });
    };
    let last = null;
    /* why a pending job waits (GitLab's stuck reason: no online runner with its tags) is on
     * the job's own API object: asked for the first few pending jobs */
    const stuck = (p) => Promise.all(p.jobs.filter((j) => j.status === "pending").slice(0, 10).map(async (j) => {
      try { const d = await api("GET", "/api/v1/jobs/" + j.id); j.stuck = d.stuck; j.stuck_reason = d.stuck_reason; } catch (err) { /* shown without */ }
    }));
    const refresh = async () => { const p = await api("GET", "/api/v1/pipelines/" + id); await stuck(p); const key = JSON.stringify(p); if (key !== last) { last = key; draw(p); } return p; };
    try { await refresh(); } catch (err) { return fail(err); }
    every(1500, () => refresh().catch(() => {}));
  }

  const FIRST_LINES = 5000; /* the log's lines fetched on opening a job */

  async function job(id) {
    page("Job");
    const head = h("div", { class: "bar" });
    const tools = h("div", { class: "bar logtools" });
    const box = h("div", { id: "log", "aria-label": "job log" });
    const side = h("div", { class: "side" });
    main.append(head, tools, box, side);
    let j;
    const drawHead = () => {
      main.querySelector("h1").textContent = `Job ${j.name}`;
      document.title = j.name + " · sluice";
      head.textContent = "";
      head.append(badge(j.status), h("span", {}, " stage ", h("b", {}, j.stage), " · attempt " + j.attempt + (j.duration_s != null ? " · " + dur(j.duration_s) : "")),
        link("/pipelines/" + j.pipeline_id, "pipeline"), ...actions("jobs", j, refreshJob));
      const w = why(j);
      if (w) head.append(h("span", { class: "why" }, w));
    };
    const refreshJob = async () => { j = await api("GET", "/api/v1/jobs/" + id); drawHead(); return j; };
    try { await refreshJob(); } catch (err) { return fail(err); }

    const followBtn = h("button", { type: "button", id: "follow", "aria-pressed": "true", onclick: () => view.setFollow(!view.follow) }, "Follow");
    const q = h("input", { id: "search", type: "search", placeholder: "Search the log", "aria-label": "search the log" });
    const count = h("span", { class: "muted", id: "matches" });
    /* the search runs on the server (GET /log/search): the page never scans the log */
    let hits = [], cur = -1;
    q.addEventListener("keydown", async (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault();
      if (!hits.q || hits.q !== q.value) {
        if (!q.value) return;
        count.textContent = "searching…";
        try {
          const r = await api("GET", `/api/v1/jobs/${id}/log/search?limit=10000&q=${encodeURIComponent(q.value)}`);
          hits = r.lines;
          hits.more = r.truncated;
        } catch (err) { count.textContent = String(err.message); return; }
        hits.q = q.value;
        cur = -1;
      }
      if (!hits.length) { count.textContent = "no match"; return; }
      cur = (cur + (e.shiftKey ? -1 : 1) + hits.length) % hits.length;
      count.textContent = `${cur + 1} / ${hits.length}${hits.more ? "+" : ""}`;
      view.goto(hits[cur] - 1, true);
    });
    const lines = h("span", { class: "muted", id: "lines" });
    tools.append(q, count, followBtn, h("a", { href: `/api/v1/jobs/${id}/log/raw`, download: `job-${id}.log` }, "Raw log"), lines);
    const view = new window.SluiceLogView(box, {
      follow: !FINISHED.has(j.status) && !location.hash,
      onFollow: (on) => followBtn.setAttribute("aria-pressed", String(on)),
      onChange: (v) => (lines.textContent = v.total + " lines"),
      /* a dropped part of a long log comes back by line range (1-based on the server) */
      fetchLines: async (first, count) => {
        let text = "", got = 0;
        while (got < count) {
          const r = await fetch(`/api/v1/jobs/${id}/log?lines=${first + got + 1}-${first + count}`, { credentials: "same-origin" });
          if (!r.ok) throw new HttpError(r.status, "log: " + r.statusText);
          const n = +r.headers.get("X-Log-Line-Count");
          if (!n) break;
          let t = await r.text();
          /* a line longer than one read (4 MiB) comes cut, alone: kept cut, and the next
           * request starts at the next line (the server's index skips the rest unread) */
          if (!t.endsWith("\n")) t = t.slice(0, window.SluiceLogView.LINE_MAX) + window.SluiceLogView.CUT + "\n";
          text += t;
          got += n;
        }
        return text;
      },
    });
    followBtn.setAttribute("aria-pressed", String(view.follow));
    window.sluiceLog = view; /* for the end-to-end test's measurements */
    const target = /^#L(\d+)$/.exec(location.hash);
    let jumped = false;
    const maybeJump = () => { if (target && !jumped && view.total >= +target[1]) { jumped = true; view.goto(+target[1] - 1, true); } };

    /* The log is never downloaded whole: its first lines (which also tell how many lines
     * it has), then, when there is more, a placeholder for every line not fetched yet (the
     * view fetches them by range when they come on screen) and the unfinished last line;
     * what was written since by offset, then the live tail over SSE. */
    const dec = new TextDecoder();
    let offset = 0, live = true, es = null;
    onLeave(() => { live = false; if (es) es.close(); });
    const read = async (query) => {
      const r = await fetch(`/api/v1/jobs/${id}/log?${query}`, { credentials: "same-origin" });
      if (!r.ok) throw new HttpError(r.status, "log: " + r.statusText);
      const buf = await r.arrayBuffer();
      if (!live) throw new HttpError(0, "left");
      view.append(dec.decode(buf, { stream: true }));
      offset = +r.headers.get("X-Next-Offset") || offset + buf.byteLength;
      return { size: buf.byteLength, lines: +r.headers.get("X-Log-Lines"), got: +r.headers.get("X-Log-Line-Count") };
    };
    try {
      const head = await read(`lines=1-${FIRST_LINES}`);
      /* a first line longer than one read, with lines after it: cut, as a block's would be */
      if (view.partial && head.lines > 0 && head.got === 1) view.append(window.SluiceLogView.CUT + "\n");
      /* X-Log-Lines is -1 for a log stored before the line index: read on by offset */
      if (head.lines > head.got && !view.partial) {
        view.reserve(head.lines);
        await read(`lines=${head.lines + 1}-`);
      }
      maybeJump();
      for (let n = 4 * 1024 * 1024; n >= 4 * 1024 * 1024; ) n = (await read(`offset=${offset}`)).size;
      maybeJump();
    } catch (err) { return live ? fail(err) : undefined; }
    if (!jumped && target) { jumped = true; view.goto(Math.min(+target[1], view.total) - 1, true); }
    if (!FINISHED.has(j.status)) {
      es = new EventSource(`/api/v1/jobs/${id}/log/stream?offset=${offset}`);
      es.addEventListener("log", (e) => { const d = JSON.parse(e.data); view.append(d.text); maybeJump(); });
      es.addEventListener("end", () => { es.close(); refreshJob().then(sideInfo).catch(() => {}); });
      every(2000, () => { if (!FINISHED.has(j.status)) refreshJob().catch(() => {}); });
    }
    /* an artifact: its archive to download, and its files, listed when opened */
    const artifact = (a) => {
      const base = `/api/v1/jobs/${id}/artifacts/${a.id}`;
      const files = h("ul", { class: "files mono" });
      const box = h("details", { class: "art" }, h("summary", {}, a.name + " (" + bytes(a.size) + ")" + (a.expire_at ? ", expires " + ago(a.expire_at) : "")), files);
      box.addEventListener("toggle", async () => {
        if (!box.open || files.childElementCount) return;
        try {
          const r = await api("GET", base + "/files");
          files.append(...r.files.filter((f) => f.type !== "directory").map((f) => h("li", {}, h("a", { href: `${base}/file?path=${encodeURIComponent(f.path)}`, download: f.path.split("/").pop() }, f.path), h("span", { class: "muted" }, " " + (f.type === "link" ? "link" : bytes(f.size))))));
          if (r.truncated) files.append(h("li", { class: "muted" }, "… more files: download the archive"));
          if (!r.files.length) files.append(h("li", { class: "muted" }, "empty"));
        } catch (err) { files.append(h("li", { class: "error" }, String(err.message))); }
      });
      return h("li", {}, box, h("a", { href: base + "/download", download: true }, "Download the archive"));
    };
    const sideInfo = async () => {
      side.textContent = "";
      if (j.variables && j.variables.length) side.append(h("details", {}, h("summary", {}, `Variables (${j.variables.length}, names only)`), h("ul", { class: "mono" }, j.variables.map((v) => h("li", {}, v)))));
      try {
        const arts = await api("GET", `/api/v1/jobs/${id}/artifacts`);
        side.append(h("h2", {}, "Artifacts"), arts.length ? h("ul", { class: "arts" }, arts.map(artifact)) : h("p", { class: "muted" }, "none"));
      } catch (err) { /* shown empty */ }
    };
    sideInfo();
  }

  async function tokens() {
    /* a new token's secret is shown here once (the server keeps only its hash) */
    const name = h("input", { id: "token-name", required: true, placeholder: "name", "aria-label": "new token's name" });
    const role = h("select", { id: "token-role", "aria-label": "new token's role" }, ["viewer", "developer", "maintainer", "admin"].map((r) => h("option", { value: r }, r)));
    const shown = h("div", { id: "token-secret", "aria-live": "polite" });
    const form = h("form", { class: "bar", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const t = await api("POST", "/api/v1/tokens", { name: name.value, role: role.value });
        shown.textContent = "";
        shown.append(h("p", {}, `Token ${t.name} (${t.role}): copy it now, it is not shown again.`), h("code", { class: "mono secret" }, t.token));
        name.value = "";
        drawList();
      } catch (err) { alert(err.message); }
    } }, name, role, h("button", { type: "submit" }, "Create token"));
    page("API tokens", form, shown);
    const list = h("div");
    main.append(list);
    const drawList = async () => {
    try {
      const ts = await api("GET", "/api/v1/tokens");
      list.textContent = "";
      list.append(h("table", { class: "grid" }, h("thead", {}, h("tr", {}, ["Id", "Name", "Role", "Created", "Last used", ""].map((x) => h("th", {}, x)))),
        h("tbody", {}, ts.map((t) => h("tr", {}, h("td", {}, t.id), h("td", {}, t.name), h("td", {}, t.role), h("td", {}, ago(t.created_at)), h("td", {}, ago(t.last_used_at)),
          h("td", {}, t.revoked ? "revoked" : h("button", { type: "button", onclick: async () => { if (confirm("Revoke token " + t.name + "?")) { await api("DELETE", "/api/v1/tokens/" + t.id); drawList(); } } }, "Revoke")))))));
    } catch (err) { fail(err); }
    };
    await drawList();
  }

  async function audit(q) {
    /* every filter is the API's (GET /api/v1/audit?action=&actor=&since=&until=), and the URL's */
    const f = { action: q.get("action") || "", actor: q.get("actor") || "", since: q.get("since") || "", until: q.get("until") || "" };
    const after = q.get("after") || "";
    const query = (o) => { const u = new URLSearchParams({ ...f, after, ...o }); for (const [k, v] of [...u]) if (!v) u.delete(k); return u.toString(); };
    const url = (o) => { const s = query(o); return "/admin/audit" + (s ? "?" + s : ""); };
    const field = (k, attrs) => { const el = h("input", { id: k, value: f[k], "aria-label": k, ...attrs, onchange: () => go(url({ [k]: el.value, after: "" })) }); return el; };
    page("Audit log", h("div", { class: "bar" }, field("action", { placeholder: "action, e.g. job.play" }), field("actor", { placeholder: "actor, e.g. token:1" }),
      h("label", {}, "from ", field("since", { type: "date", title: "from this day (UTC)" })), h("label", {}, "before ", field("until", { type: "date", title: "before this day (UTC)" })),
      after ? link(url({ after: "" }), "Newest") : null));
    try {
      const ev = await api("GET", "/api/v1/audit?" + query({ limit: "100" }));
      main.append(h("table", { class: "grid" }, h("thead", {}, h("tr", {}, ["At", "Actor", "Action", "Target", "From"].map((x) => h("th", {}, x)))),
        h("tbody", {}, ev.map((e) => h("tr", {}, h("td", {}, ago(e.at)), h("td", {}, link(url({ actor: e.actor, after: "" }), e.actor)), h("td", {}, e.action), h("td", {}, e.target), h("td", {}, e.remote_addr))))));
      if (!ev.length) main.append(h("p", { class: "muted" }, "No events."));
      if (ev.length === 100) main.append(h("p", {}, link(url({ after: String(ev[ev.length - 1].id) }), "Older →")));
    } catch (err) { fail(err); }
  }

  const routes = [
    [/^\/signin$/, signin, true],
    [/^\/(?:projects)?$/, projects],
    [/^\/projects\/(\d+)$/, pipelines],
    [/^\/pipelines\/(\d+)$/, pipeline],
    [/^\/jobs\/(\d+)$/, job],
    [/^\/admin\/tokens$/, tokens],
    [/^\/admin\/audit$/, audit],
    /* environments, flags, runners (ops.js) */
    ...(window.SluiceOps ? window.SluiceOps({ h, link, badge, api, page, fail, can, go, ago, every }) : []),
    /* a project's secret findings and policy (secrets.js) */
    ...(window.SluiceSecrets ? window.SluiceSecrets({ h, link, api, page, fail, can, go, ago }) : []),
  ];

  async function route() {
    timers.forEach(clearInterval);
    timers = [];
    cleanups.forEach((f) => f());
    cleanups = [];
    const q = new URLSearchParams(location.search);
    const hit = routes.find(([re]) => re.test(location.pathname));
    if (!hit) { page("Not found", h("p", {}, link("/projects", "Projects"))); return; }
    if (!session && !hit[2]) {
      try { session = await api("GET", "/api/v1/session"); } catch (err) {
        if (err.status === 401) go("/signin?next=" + encodeURIComponent(location.pathname + location.search + location.hash), true);
        else page("Error", h("p", { class: "error" }, String(err.message)));
        return;
      }
    }
    drawNav();
    const m = hit[0].exec(location.pathname);
    await hit[1](...m.slice(1), q);
    main.focus({ preventScroll: true });
  }
  route();
})();
