// A sweep's page: its grid of points (strategy × seed × settings) with each one's run, status, progress and
// main-metric best, the comparison `ol sweep --status` prints, and a link to the workspace of its runs grouped
// by strategy; it looks again every 3 s while a point has not ended. Loaded before app.js; uses its state and
// helpers (api, $, esc, fmt, duration, set, route, stopLive).
"use strict";

// asked: the newest request, so a slower older answer never overwrites it
const sweepPage = { timer: null, last: null, asked: 0 };

async function loadSweepNames() {
  const body = await api("/api/sweeps", {});
  const pick = $("#sweep-pick");
  pick.hidden = !body.sweeps.length;
  pick.innerHTML = `<option value="">sweeps…</option>` + body.sweeps.map((n) =>
    `<option value="${esc(n)}" ${n === state.sweep && state.view === "sweep" ? "selected" : ""}>${esc(n)}</option>`).join("");
}

async function showSweep() {
  clearTimeout(sweepPage.timer);
  $("#runs-view").hidden = true;
  $("#run-view").hidden = false;
  stopLive();
  let body;
  const asked = ++sweepPage.asked;
  try {
    body = await api(`/api/sweep/${encodeURIComponent(state.sweep)}`, { estimator: state.est });
    if (asked !== sweepPage.asked) return;  // a newer request (a refresh, another estimator) is on its way
  } catch (e) {
    $("#run-view").innerHTML = `<p class="error">${esc(e.message)}</p><p><a href="#" id="back">← all runs</a></p>`;
    return;
  }
  sweepPage.last = body;
  const num = (x, digits) => (digits === 1 ? x.toFixed(1) : fmt(Number(x.toFixed(digits))));
  const ci = (v, digits = 4) => (v[0] === null ? "–" : v[1] === null ? num(v[0], digits) :
    `${num(v[0], digits)} [${num(v[1], digits)}, ${num(v[2], digits)}]`);
  const share = (c) => `${c.reached} of ${c.runs}` + (c.reached_ci.length ?
    ` [${c.reached_ci[0].toFixed(2)}, ${c.reached_ci[1].toFixed(2)}]` : "");
  const grid = body.points.map((p) => `<tr data-point="${esc([p.strategy, p.seed, ...Object.values(p.settings)].join("|"))}">` +
    `<td>${esc(p.strategy)}</td><td>${esc(p.seed)}</td>${body.keys.map((k) => `<td>${esc(p.settings[k])}</td>`).join("")}` +
    `<td><span class="status ${esc(p.status.replace(" ", "-"))}">${esc(p.status)}</span></td>` +
    `<td>${p.run ? `<a href="#" data-run="${esc(p.run)}">${esc(p.run.split("/")[1])}</a>` : ""}</td>` +
    `<td>${p.epoch === null ? "" : `${p.epoch + 1}${p.epochs ? ` / ${p.epochs}` : ""}`}</td>` +
    `<td>${p.main_best != null ? fmt(p.main_best) : ""}</td><td>${esc(duration(p.wall_time))}</td></tr>`).join("");
  const metric = (body.comparison.find((c) => c.main_series) || {}).main_series || "main metric";
  const compare = body.comparison.map((c) => `<tr><td>${esc(c.strategy)}</td>${body.keys.map((k) => `<td>${esc(c.settings[k])}</td>`).join("")}` +
    `<td>${c.completed}/${c.points}</td><td>${ci(c.main_best)}</td><td>${share(c)}</td><td>${ci(c.epochs, 1)}</td></tr>`).join("");
  const versus = body.contrasts.map((p) => `<tr><td>${esc(p.a)}</td><td>${esc(p.b)}</td>` +
    `${body.keys.map((k) => `<td>${esc(p.settings[k])}</td>`).join("")}<td>${p.p_better.toFixed(2)}</td>` +
    `<td>${Number(p.p_value.toPrecision(3))}</td></tr>`).join("");
  $("#run-view").innerHTML = `<p><a href="#" id="back">← all runs</a></p>
    <h2>sweep ${esc(body.name)} <span class="dim">${esc(body.experiment)} · ${body.done} of ${body.points.length} completed</span></h2>
    <p><a href="#" id="sweep-runs">open its ${body.runs.length} runs in the workspace, a band per setting (strategy${body.keys.length ? " × " + esc(body.keys.join(" × ")) : ""}) over its seeds</a></p>
    <h3>points</h3><table class="list" id="sweep-grid"><thead><tr><th>strategy</th><th>seed</th>${body.keys.map((k) => `<th>${esc(k)}</th>`).join("")}` +
    `<th>status</th><th>run</th><th>epoch</th><th>best ${esc(metric)}</th><th>wall</th></tr></thead><tbody>${grid}</tbody></table>
    <h3>best ${esc(metric)} and epochs to the target over seeds: <select id="sweep-estimator" aria-label="over seeds">` +
    `<option value="mean"${body.estimator === "mean" ? " selected" : ""}>mean</option>` +
    `<option value="iqm"${body.estimator === "iqm" ? " selected" : ""}>IQM</option></select> [95 % interval]</h3>` +
    `<table class="list" id="sweep-compare"><thead><tr>` +
    `<th>strategy</th>${body.keys.map((k) => `<th>${esc(k)}</th>`).join("")}<th>completed</th><th>best ${esc(metric)}</th>` +
    `<th>reached target</th><th>epoch reached</th></tr></thead><tbody>${compare}</tbody></table>` +
    `<p class="dim" id="sweep-method">${esc(body.method)}</p>` + (versus ? `<h3>strategy against strategy, best ${esc(metric)}</h3>` +
    `<table class="list" id="sweep-versus"><thead><tr><th>A</th><th>B</th>${body.keys.map((k) => `<th>${esc(k)}</th>`).join("")}` +
    `<th>P(A better than B)</th><th>p (permutation)</th></tr></thead><tbody>${versus}</tbody></table>` : "");
  $("#sweep-estimator").addEventListener("change", (e) => {
    set({ est: e.target.value });
    showSweep();
  });
  $("#sweep-runs").addEventListener("click", (e) => {
    e.preventDefault();
    go({ view: "runs", runs: body.runs.join(",") || "none", group: "setting", x0: "", x1: "" });
  });
  if (body.points.some((p) => p.status === "running" || p.status === "not started")) {
    sweepPage.timer = setTimeout(() => { if (state.view === "sweep") showSweep(); }, 3000);
  }
}
