/* ops.js: the UI's operations pages: environments and their deployments (approve, reject,
 * rollback, stop), feature flags (per-environment toggles, rollout, strategies, history),
 * runners (online or not, what each runs, tags, pause/resume). Loaded before app.js, which
 * calls window.SluiceOps with its helpers and adds the routes returned. Everything goes through
 * the API of docs/api.md; the buttons show only where the session's role allows. */
"use strict";
(function () {
  window.SluiceOps = function (ui) {
    const { h, link, badge, api, page, fail, can, go, ago, every } = ui;
    const short = (sha) => (sha ? sha.slice(0, 8) : "");
    const grid = (heads, rows) => h("table", { class: "grid" }, h("thead", {}, h("tr", {}, heads.map((x) => h("th", {}, x)))), h("tbody", {}, rows));
    const act = (label, fn) => h("button", { type: "button", onclick: async () => { try { await fn(); go(location.pathname + location.search, true); } catch (err) { alert(err.message); } } }, label);
    const tabs = (id, here) => h("div", { class: "bar tabs" }, [["", "Pipelines"], ["/environments", "Environments"], ["/flags", "Feature flags"], ["/secrets", "Secrets"]].map(([p, t]) => (p === here ? h("b", {}, t) : link(`/projects/${id}${p}`, t))));

    async function environments(id) {
      page("Environments", tabs(id, "/environments"));
      try {
        const proj = await api("GET", "/api/v1/projects/" + id);
        main().querySelector("h1").textContent = proj.name + ": environments";
        const envs = await api("GET", `/api/v1/projects/${id}/environments?limit=100`);
        main().append(envs.length ? grid(["Environment", "Tier", "State", "Deployed", "Commit", "Job", "When", ""], envs.map((e) => {
          const d = e.last_deployment;
          return h("tr", {}, h("td", {}, link("/environments/" + e.id, e.name), e.external_url ? [" ", h("a", { href: e.external_url, rel: "noopener noreferrer" }, "↗")] : null), h("td", {}, e.tier), h("td", {}, e.state),
            h("td", {}, d ? badge(d.status) : h("span", { class: "muted" }, "nothing yet")), h("td", { class: "mono" }, d ? d.ref + " " + short(d.sha) : ""),
            h("td", {}, d && d.deployable ? link("/jobs/" + d.deployable.id, "#" + d.deployable.id) : ""), h("td", {}, d ? ago(d.finished_at || d.created_at) : ""),
            h("td", {}, can("developer") && e.state === "available" ? act("Stop", () => { if (confirm("Stop " + e.name + "?")) return api("POST", `/api/v1/environments/${e.id}/stop`); }) : null));
        })) : h("p", { class: "muted" }, "No environments: jobs with environment: make them."));
      } catch (err) { fail(err); }
    }

    async function environment(id) {
      page("Environment");
      try {
        const e = await api("GET", "/api/v1/environments/" + id);
        main().querySelector("h1").textContent = "Environment " + e.name;
        document.title = e.name + " · sluice";
        main().append(h("div", { class: "bar" }, link(`/projects/${e.project_id}/environments`, "all environments"), h("span", {}, "state ", h("b", {}, e.state), e.tier ? " · tier " + e.tier : "", e.auto_stop_at ? " · stops " + ago(e.auto_stop_at) : ""),
          can("developer") && e.state === "available" ? act("Stop", () => { if (confirm("Stop " + e.name + "?")) return api("POST", `/api/v1/environments/${e.id}/stop`); }) : null));
        const ds = await api("GET", `/api/v1/environments/${id}/deployments?limit=50`);
        main().append(h("h2", {}, "Deployments"), ds.length ? grid(["#", "Status", "Ref", "Commit", "Job", "By", "When", ""], ds.map((d) => h("tr", {},
          h("td", {}, d.iid), h("td", {}, badge(d.status), d.rollback_of ? h("span", { class: "muted" }, " rollback of " + d.rollback_of) : null), h("td", {}, d.ref), h("td", { class: "mono" }, short(d.sha)),
          h("td", {}, d.deployable ? link("/jobs/" + d.deployable.id, "#" + d.deployable.id) : ""), h("td", {}, d.triggered_by), h("td", {}, ago(d.finished_at || d.created_at)),
          h("td", {},
            d.status === "blocked" && can("developer") ? [act("Approve", () => api("POST", `/api/v1/deployments/${d.id}/approve`, {})), " ", act("Reject", () => api("POST", `/api/v1/deployments/${d.id}/reject`, {}))] : null,
            d.status === "success" && can("maintainer") ? act("Roll back to this", () => { if (confirm(`Deploy ${short(d.sha)} to ${e.name} again?`)) return api("POST", `/api/v1/environments/${id}/rollback`, { deployment_id: d.id }); }) : null)))) : h("p", { class: "muted" }, "none"));
      } catch (err) { fail(err); }
    }

    async function flags(id) {
      page("Feature flags", tabs(id, "/flags"));
      try {
        const proj = await api("GET", "/api/v1/projects/" + id);
        main().querySelector("h1").textContent = proj.name + ": feature flags";
        const fs = await api("GET", `/api/v1/projects/${id}/feature_flags`);
        const envs = [...new Set(fs.flatMap((f) => f.environments.map((e) => e.environment)))].sort();
        const edit = can("maintainer");
        const put = (f, env, body) => api("PUT", `/api/v1/projects/${id}/feature_flags/${encodeURIComponent(f.name)}/environments/${encodeURIComponent(env)}`, body);
        const cell = (f, env) => {
          const e = f.environments.find((x) => x.environment === env);
          const roll = e && e.strategies.map((s) => s.parameters && s.parameters.rollout).find((x) => x != null);
          const box = h("input", { type: "checkbox", checked: !!(e && e.enabled), disabled: !edit, "aria-label": `${f.name} in ${env}`, onchange: async () => { try { await put(f, env, { enabled: box.checked }); } catch (err) { box.checked = !box.checked; alert(err.message); } } });
          const pct = h("input", { type: "number", min: 0, max: 100, value: roll != null ? roll : "", placeholder: "%", class: "pct", disabled: !edit, "aria-label": `${f.name} rollout % in ${env}`,
            onchange: async () => { try { await put(f, env, { rollout: +pct.value }); box.checked = true; } catch (err) { alert(err.message); } } });
          return h("td", {}, h("label", {}, box, " on"), " ", pct, e && e.strategies.length ? h("span", { class: "muted" }, " " + e.strategies.map((s) => s.name).join(", ")) : null);
        };
        main().append(fs.length ? grid(["Flag", "Type", ...envs, ""], fs.map((f) => h("tr", {}, h("td", {}, link(`/projects/${id}/flags/${encodeURIComponent(f.name)}`, f.name), f.archived ? " (archived)" : ""), h("td", {}, f.type), ...envs.map((env) => cell(f, env)), h("td", {})))) : h("p", { class: "muted" }, "No feature flags."));
      } catch (err) { fail(err); }
    }

    /* a strategy as a line: its name, its parameters, its constraints (Unleash's form) */
    const strategy = (st) => {
      const ps = Object.entries(st.parameters || {}).filter(([k]) => k !== "groupId").map(([k, v]) => `${k} ${v}${k === "rollout" ? "%" : ""}`);
      const cs = (st.constraints || []).map((c) => `${c.contextName} ${c.operator} ${(c.values || [c.value]).join(", ")}`);
      return h("span", {}, h("b", {}, st.name), ps.length ? " · " + ps.join(", ") : "", cs.length ? h("span", { class: "muted" }, " when " + cs.join(" and ")) : "");
    };

    async function flag(id, name) {
      page("Feature flag " + name, tabs(id, null)); /* every tab a link: this page is under Feature flags */
      try {
        const f = await api("GET", `/api/v1/projects/${id}/feature_flags/${encodeURIComponent(name)}`);
        main().append(h("p", {}, f.description || "", " ", h("span", { class: "muted" }, f.type + (f.tags && f.tags.length ? " · " + f.tags.join(", ") : ""))));
        main().append(h("h2", {}, "Environments"), grid(["Environment", "Enabled", "Strategies", "Updated"], f.environments.map((e) => h("tr", {}, h("td", {}, e.environment), h("td", {}, e.enabled ? "on" : "off"), h("td", {}, h("ul", { class: "plain" }, (e.strategies || []).map((st) => h("li", {}, strategy(st))))), h("td", {}, ago(e.updated_at))))));
        const hist = await api("GET", `/api/v1/projects/${id}/feature_flags/${encodeURIComponent(name)}/history?limit=50`);
        main().append(h("h2", {}, "History"), hist.length ? grid(["At", "Who", "Action", "Environment", "From"], hist.map((x) => h("tr", {}, h("td", {}, ago(x.at)), h("td", {}, x.actor), h("td", {}, x.action), h("td", {}, x.environment || ""),
          h("td", {}, x.job_id ? link("/jobs/" + x.job_id, "job #" + x.job_id) : x.pipeline_id ? link("/pipelines/" + x.pipeline_id, "pipeline #" + x.pipeline_id) : "")))) : h("p", { class: "muted" }, "none"));
      } catch (err) { fail(err); }
    }

    /* GitLab's "online": heard from within the last 2 hours (and not paused to take jobs) */
    const online = (r) => r.contacted_at && Date.now() - new Date(r.contacted_at).getTime() < 2 * 3600 * 1000;
    async function runners() {
      page("Runners");
      try {
        const rs = (await api("GET", "/api/v1/runners?limit=100")).runners;
        /* what each runner runs: the API's "running" (GET /api/v1/runners) */
        const running = (r) => (r.running || []).length ? h("ul", { class: "plain" }, r.running.map((j) => h("li", {}, link("/jobs/" + j.id, j.name), h("span", { class: "muted" }, ` (#${j.id}, pipeline `), link("/pipelines/" + j.pipeline_id, "#" + j.pipeline_id), h("span", { class: "muted" }, ")")))) : h("span", { class: "muted" }, "idle");
        main().append(rs.length ? grid(["Runner", "Status", "Running", "Tags", "Version", "Last contact", ""], rs.map((r) => h("tr", {},
          h("td", {}, r.name || r.description || "#" + r.id), h("td", {}, h("span", { class: "st st-" + (online(r) ? "success" : "canceled") }, online(r) ? "online" : "offline"), r.paused ? " · paused" : ""),
          h("td", {}, running(r)),
          h("td", {}, (r.tags || []).map((t) => h("span", { class: "tag" }, t)), r.run_untagged ? h("span", { class: "muted" }, " + untagged") : null),
          h("td", {}, [r.version, r.executor, r.platform].filter(Boolean).join(" · ")), h("td", {}, ago(r.contacted_at)),
          h("td", {}, r.paused ? act("Resume", () => api("POST", `/api/v1/runners/${r.id}/resume`)) : act("Pause", () => api("POST", `/api/v1/runners/${r.id}/pause`)))))) : h("p", { class: "muted" }, "No runners: sluice runner create makes one."));
      } catch (err) { fail(err); }
      every(10000, () => go(location.pathname, true));
    }

    const main = () => document.getElementById("main");
    return [
      [/^\/projects\/(\d+)\/environments$/, environments],
      [/^\/environments\/(\d+)$/, environment],
      [/^\/projects\/(\d+)\/flags$/, flags],
      [/^\/projects\/(\d+)\/flags\/([^/]+)$/, (id, rest) => flag(id, decodeURIComponent(rest))],
      [/^\/admin\/runners$/, runners],
    ];
  };
})();
