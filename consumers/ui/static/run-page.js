// A run's page: its charts first (every metric it logged as a panel, in sections by source, its main metric
// first: the workspace's panels for this one run), then its media (a panel per histogram, image, table and vector
// metric), then config, summary, environment, the commands that work for it, warnings and notes, checkpoints
// (those deleted since marked), events.
// Loaded before app.js; uses its state and helpers (api, $, esc, duration, stopLive, go, plotData, page, PALETTE) when called.
"use strict";

// the run page's own panel layout (sections folded, panels removed): for this page only, not kept in the URL
const runPage = { workspace: null, folded: new Set(), hidden: new Set(), run: "" };

async function showRun() {
  $("#runs-view").hidden = true;
  $("#run-view").hidden = false;
  stopLive();
  let body, metrics;
  try {
    [body, metrics] = await Promise.all([
      api(`/api/run/${state.run.split("/").map(encodeURIComponent).join("/")}`, state.kind ? { kind: state.kind } : {}),
      api("/api/metrics", { runs: state.run })]);
  } catch (e) {
    $("#run-view").innerHTML = `<p class="error">${esc(e.message)}</p><p><a href="#" id="back">← all runs</a></p>`;
    return;
  }
  const r = body.run;
  page.byKey[r.key] = r; // the charts label and colour it as the runs view does
  const kv = (obj) => !Object.keys(obj).length ? `<p class="dim">none</p>` : `<table class="kv">${Object.entries(obj).map(([k, v]) =>
    `<tr><th>${esc(k)}</th><td>${esc(typeof v === "object" && v !== null ? JSON.stringify(v) : v)}</td></tr>`).join("")}</table>`;
  const list = (rows, fields, mark = () => "") => rows.length ? `<table class="list"><thead><tr>${fields.map((f) => `<th>${esc(f)}</th>`).join("")}` +
    `</tr></thead><tbody>${rows.map((row) => `<tr${mark(row)}>${fields.map((f) => `<td>${esc(row[f] ?? "")}</td>`).join("")}</tr>`).join("")}</tbody></table>` : `<p class="dim">none</p>`;
  const kinds = Object.entries(body.event_kinds).map(([k, n]) =>
    `<option value="${esc(k)}" ${k === state.kind ? "selected" : ""}>${esc(k)} (${n})</option>`).join("");
  const commands = Object.entries(body.commands).filter(([, c]) => c).map(([k, c]) =>
    `<tr><th>${esc(k.replace("_", " "))}</th><td><code>${esc(c)}</code></td></tr>`).join("");
  const checkpoints = body.checkpoints.map((c) => ({ ...c, file: c.on_disk ? "on disk" : "deleted" }));
  const gone = checkpoints.filter((c) => !c.on_disk).length;
  $("#run-view").innerHTML = `
    <p><a href="#" id="back">← all runs</a></p>
    <h2>${esc(r.experiment)} / ${esc(r.run_id)}${r.name ? ` — ${esc(r.name)}` : ""} <span class="status ${esc(r.status)}">${esc(r.status)}</span></h2>
    ${r.tags && r.tags.length ? `<p class="tags">${r.tags.map((t) => `<span class="tag">${esc(t)}</span>`).join(" ")}</p>` : ""}
    ${r.error ? `<p class="error">${esc(r.error)}</p>` : ""}${r.problem ? `<p class="problem">⚠ ${esc(r.problem)}</p>` : ""}
    <p>${[`<a href="#" data-plot-run="${esc(r.key)}">open in the runs view</a>`, r.strategy && `strategy ${esc(r.strategy)}`,
      r.seed != null && `seed ${esc(r.seed)}`, r.last_step != null && `step ${esc(r.last_step)}`,
      r.last_epoch != null && `epoch ${esc(r.last_epoch)}`, esc(duration(r.wall_time)),
      body.parameters && `${body.parameters.toLocaleString()} parameters`].filter(Boolean).join(" · ")}</p>
    ${r.job || r.output ? `<p class="dim">${[r.job && `job ${esc(r.job)}`, r.output && `output: <code>${esc(r.output)}</code>`]
      .filter(Boolean).join(" · ")}</p>` : ""}
    <section class="run-charts"><h3>charts <span class="dim">${metrics.metrics.length} metric(s)</span></h3>
      ${metrics.metrics.length ? "" : `<p class="dim">this run logged no scalar metrics</p>`}<div id="run-workspace"></div></section>
    <div id="run-media"></div>
    <div class="cols"><section><h3>config</h3>${kv(body.config)}${Object.keys(r.config_updates || {}).length ?
      `<p class="dim">changed after the start (run.config.update): ${esc(Object.keys(r.config_updates).join(", "))}</p>` : ""}</section>
      ${Object.keys(r.summary || {}).length ? `<section><h3>summary</h3>${kv(r.summary)}</section>` : ""}
      <section><h3>environment</h3>${kv(body.environment)}</section></div>
    <section><h3>reproduce, resume, replay</h3>${commands ? `<table class="kv">${commands}</table>` : `<p class="dim">none: ` +
      `this run was recorded by a script or a framework; run that again to continue it</p>`}</section>
    <section><h3>warnings</h3>${list(body.warnings, ["step", "level", "message"])}</section>
    <section><h3>notes</h3>${list(body.notes, ["step", "epoch", "level", "message"])}</section>
    <section><h3>checkpoints${gone ? ` <span class="dim">${gone} deleted since they were recorded</span>` : ""}</h3>
      ${list(checkpoints, ["step", "epoch", "reason", "file", "path", "size", "sha256"], (c) => c.on_disk ? "" : ` class="deleted"`)}</section>
    <section><h3>events <select id="kind"><option value="">all kinds</option>${kinds}</select></h3>
      ${list(body.events.slice().reverse(), ["seq", "kind", "step", "epoch", "event"])}</section>`;
  if (runPage.run !== r.key) { runPage.folded.clear(); runPage.hidden.clear(); runPage.run = r.key; }
  runPage.workspace = new Workspace($("#run-workspace"), {
    load: async (key, width) => ({ curves: (await api("/api/series", { runs: r.key, metric: key, x: state.x, width })).runs,
      groups: null, view: { x: state.x, smooth: state.smooth, log: false, group: "" } }),
    plot: (loaded, key) => {
      const data = plotData(loaded.curves, null, key, loaded.view);
      for (const s of data.series) s.color = PALETTE[0]; // one run: the first colour, not the grey of a run not chosen
      return data;
    },
    focus: (key) => go({ view: "runs", runs: r.key, metric: key, x0: "", x1: "" }, true),
    changed: (field, value) => {
      const set = field === "fold" ? runPage.folded : runPage.hidden;
      if (field === "restore") runPage.hidden.clear();
      else if (set.has(value)) set.delete(value); else set.add(value);
      renderRunCharts(metrics.metrics, r);
    },
    command: (key) => `ol plot curves ${r.run_id} -m ${key} --x ${state.x} --store ${page.store || "runs"}`,
  });
  renderRunCharts(metrics.metrics, r);
  renderMediaSection($("#run-media"), [r.key]);
}

function renderRunCharts(metrics, r) {
  runPage.workspace.render(metrics, { hidden: runPage.hidden, folded: runPage.folded, own: {}, added: [], size: "m",
    main: r.main_series || "" });
}
