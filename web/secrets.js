/* secrets.js: the UI's secret detection page of a project: its findings in job logs and
 * pushed commits (GET /api/v1/projects/{id}/secret_findings, newest first, 50 a page) and its
 * policy (report, fail, refuse; a maintainer changes it). Excerpts come redacted from the
 * server, which never has the secret in clear to give. Loaded before app.js, which calls
 * window.SluiceSecrets with its helpers and adds the routes returned. */
"use strict";
(function () {
  window.SluiceSecrets = function (ui) {
    const { h, link, api, page, fail, can, go, ago } = ui;
    const main = () => document.getElementById("main");
    const tabs = (id) => h("div", { class: "bar tabs" }, link(`/projects/${id}`, "Pipelines"), link(`/projects/${id}/environments`, "Environments"), link(`/projects/${id}/flags`, "Feature flags"), h("b", {}, "Secrets"));
    const POLICIES = { report: "report only", fail: "fail the pipeline", refuse: "refuse the pipeline" };

    async function findings(id, q) {
      page("Secrets", tabs(id));
      try {
        const proj = await api("GET", "/api/v1/projects/" + id);
        main().querySelector("h1").textContent = proj.name + ": secrets";
        document.title = proj.name + " secrets · sluice";
        const pol = await api("GET", `/api/v1/projects/${id}/secret_detection`);
        const sel = h("select", { "aria-label": "secret detection policy", disabled: !can("maintainer"), onchange: async () => {
          try { await api("PUT", `/api/v1/projects/${id}/secret_detection`, { policy: sel.value }); } catch (err) { alert(err.message); go(location.pathname + location.search, true); }
        } }, Object.entries(POLICIES).map(([k, t]) => h("option", { value: k, selected: k === pol.policy }, t)));
        main().append(h("div", { class: "bar" }, h("label", {}, "When a push adds a secret: ", sel)));
        const after = q.get("after") || "";
        const fs = await api("GET", `/api/v1/projects/${id}/secret_findings?limit=50` + (after ? "&after=" + encodeURIComponent(after) : ""));
        const where = (f) => f.source === "log"
          ? [link(`/jobs/${f.job_id}` + (f.line ? "#L" + f.line : ""), `job #${f.job_id}` + (f.line ? ` line ${f.line}` : ""))]
          : [h("span", { class: "mono" }, `${f.file}:${f.line}`), " ", h("span", { class: "muted mono" }, (f.commit || "").slice(0, 8))];
        main().append(fs.length ? h("table", { class: "grid" },
          h("thead", {}, h("tr", {}, ["When", "Rule", "Found in", "Where", "Pipeline", "Excerpt"].map((x) => h("th", {}, x)))),
          h("tbody", {}, fs.map((f) => h("tr", {}, h("td", {}, ago(f.created_at)), h("td", {}, f.rule), h("td", {}, f.source === "log" ? "job log" : "push"),
            h("td", {}, where(f)), h("td", {}, f.pipeline_id ? link("/pipelines/" + f.pipeline_id, "#" + f.pipeline_id) : h("span", { class: "muted" }, "none")),
            h("td", {}, h("code", {}, f.excerpt))))))
          : h("p", { class: "muted" }, after ? "No older findings." : "No secrets found in this project's job logs or pushes."));
        if (fs.length === 50) main().append(h("p", {}, link(`/projects/${id}/secrets?after=${fs[fs.length - 1].id}`, "Older →")));
      } catch (err) { fail(err); }
    }

    return [[/^\/projects\/(\d+)\/secrets$/, findings]];
  };
})();
