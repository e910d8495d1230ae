// The dashboard page: runs table, curves (per run or grouped with bands), the workspace of every metric as a
// panel (workspace.js), live updates, a run's page.
// All state is in the URL's hash, so a link reopens the same view. Talks only to its own server.
"use strict";

const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
  "#9c755f", "#79706e"];
const DEFAULTS = { view: "runs", runs: "", metric: "", x: "step", logy: "0", smooth: "0", group: "", band: "std",
  threshold: "", direction: "above", x0: "", x1: "", where: "", q: "", sort: "started", desc: "1", offset: "0",
  run: "", kind: "", theme: "auto", hide: "", fold: "", pset: "", add: "", size: "m", brush: "", hpx: "", hpy: "",
  hpcolor: "strategy", sweep: "", est: "mean" };
const PAGE_SIZE = 200; // rows per page of the runs table: the server sorts, searches and cuts (consumers/ui/table.py)
const X_LABELS = { step: "step", epoch: "epoch", time: "time (s)" };
const state = Object.assign({}, DEFAULTS);
const page = { runs: [], byKey: {}, finals: [], configKeys: [], shown: {}, total: 0, all: 0, version: "", curves: {},
  groups: null, live: null, chart: null, metrics: [], draws: 0, fetches: 0, marks: {}, liveLog: [], token: 0,
  workspace: null };
// tests and bench/ui_bench.py read what the chart drew, and when, from here
window.ol = { state, page, set: (changes) => set(changes), refreshChart: (fresh) => refreshChart(fresh) };

const $ = (sel) => document.querySelector(sel);
// runs "" is "not chosen yet": the server's default (the newest group or sweep, else the latest runs) is
// taken as the choice; "none" is a cleared choice
const selected = () => state.runs.split(",").filter((k) => k && page.byKey[k]);
const listOf = (field) => new Set(state[field].split(",").filter(Boolean));

// URL state ---------------------------------------------------------------------------------

// Parameters that take one of a few values, or a number: a link carrying anything else (a hand-edited or crafted
// one) gets the default, so these reach the page only as one of the values here. Every other value is text that
// is escaped wherever it is shown.
const CHOICES = { view: ["runs", "run", "compare", "sweep"], x: ["step", "epoch", "time"], logy: ["0", "1"],
  band: ["std", "minmax", "ci"], direction: ["above", "below"], desc: ["0", "1"], theme: ["auto", "light", "dark"],
  size: ["s", "m", "l"], hpcolor: ["strategy", "group", "seed", "experiment"], est: ["mean", "iqm"] };
const NUMBERS = ["smooth", "threshold", "x0", "x1", "offset"];
const allowed = (k, v) => CHOICES[k] ? CHOICES[k].includes(v) :
  NUMBERS.includes(k) ? v === "" || Number.isFinite(Number(v)) : true;

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  for (const k of Object.keys(DEFAULTS)) {
    const v = params.has(k) ? params.get(k) : DEFAULTS[k];
    state[k] = allowed(k, v) ? v : DEFAULTS[k];
  }
}

function hashOf() {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(state)) if (v !== DEFAULTS[k]) params.set(k, v);
  return "#" + params.toString();
}

// A setting of the view on screen (a checkbox, an axis, a zoom): the URL follows, in the same history entry.
function set(changes) {
  Object.assign(state, changes);
  history.replaceState(history.state, "", hashOf());
}

// Another view a person would want to come back from (a run's page, compare, a sweep, a metric opened large):
// a new history entry, so Back returns to this one where it was scrolled to. ``focus``: the entry is a large
// chart, which Escape closes.
function go(changes, focus = false) {
  history.replaceState({ ...(history.state || {}), scroll: window.scrollY }, "", location.hash);
  Object.assign(state, changes);
  history.pushState({ scroll: 0, focus }, "", hashOf());
  return route();
}

async function api(path, params) {
  if (window.OL_EXPORT) return exported(path, params);
  const url = path + "?" + new URLSearchParams(params).toString();
  page.fetches += 1;
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

// runs table --------------------------------------------------------------------------------

async function loadRuns() {
  const params = { q: state.q, sort: state.sort, desc: state.desc, offset: state.offset, limit: PAGE_SIZE,
    version: page.version };
  if (state.runs !== "") params.selected = state.runs;
  if (state.brush && hp.rows.length) params.only = hpInside().join(","); // the runs inside the brushes
  if (state.where) params.where = state.where;
  let body;
  try {
    body = await api("/api/runs", params);
    $("#where-error").textContent = "";
  } catch (e) {
    $("#where-error").textContent = e.message;
    return;
  }
  if (body.unchanged) return; // the same rows as on screen: nothing to redraw
  const again = page.version !== "" && page.version !== body.version; // runs moved on: panels ask again
  page.version = body.version;
  if (state.runs === "") set({ runs: (body.default || []).join(",") || "none" });
  page.runs = body.runs;
  page.byKey = Object.fromEntries([...body.selected, ...body.runs].map((r) => [r.key, r]));
  page.finals = body.final_metrics;
  page.configKeys = body.config_keys;
  page.shown = body.columns;
  page.total = body.total;
  page.all = body.all;
  $("#store").textContent = body.store;
  page.store = body.store;
  $("#message").textContent = body.message;
  $("#message").hidden = !body.message;
  $("#warnings").textContent = (body.warnings || []).join("\n");
  renderTable();
  fillGroupChoices();
  if (again && page.workspace) { page.workspace.invalidate(); renderHparams(); }
  if (page.marks.table === undefined) page.marks.table = performance.now();
}

function reloadRuns(changes) { // a new search, order or page: ask the server for those rows
  set(changes);
  page.version = "";
  loadRuns();
}

function columns() {
  return [
    { key: "status", label: "status", get: (r) => r.status },
    { key: "run_id", label: "run", get: (r) => r.run_id },
    ...(page.shown.name ? [{ key: "name", label: "name", get: (r) => r.name }] : []),
    ...(page.shown.tags ? [{ key: "tags", label: "tags", get: (r) => (r.tags || []).join(", ") }] : []),
    { key: "experiment", label: "experiment", get: (r) => r.experiment },
    { key: "strategy", label: "strategy", get: (r) => r.strategy },
    { key: "seed", label: "seed", get: (r) => r.seed },
    { key: "group", label: "group", get: (r) => r.group },
    { key: "last_step", label: "step", get: (r) => r.last_step },
    { key: "last_epoch", label: "epoch", get: (r) => r.last_epoch },
    { key: "wall_time", label: "wall", get: (r) => r.wall_time, show: duration },
    { key: "started", label: "started", get: (r) => r.started, show: when },
    ...(page.shown.main ? [
      { key: "main", label: "main metric", get: (r) => r.main_series && `${r.main_series} (${r.direction === "lower" ? "↓" : "↑"})` },
      { key: "best", label: "best", get: (r) => (r.main_series ? r.main_best : null), show: fmtFinal },
      { key: "target", label: "target", get: (r) => (r.main_series ? r.target : null), show: fmtFinal },
    ] : []),
    ...page.finals.map((m) => ({ key: "final:" + m, label: m + " (final)", get: (r) => r.final[m], show: fmtFinal })),
    ...page.configKeys.map((k) => ({ key: "config:" + k, label: k, get: (r) => r.config[k], cls: "cfg" })),
  ];
}

function renderTable() {
  const cols = columns();
  const sortCol = cols.find((c) => c.key === state.sort) || cols.find((c) => c.key === "started");
  const rows = page.runs; // this page, searched and sorted by the server
  const dir = state.desc === "1" ? -1 : 1;
  const chosen = selected();
  const head = `<tr><th><input type="checkbox" id="all" title="select every run shown"></th>` + cols.map((c) =>
    `<th data-sort="${esc(c.key)}" class="${c.cls || ""}">${esc(c.label)}${c.key === sortCol.key ? (dir < 0 ? " ▾" : " ▴") : ""}</th>`).join("") + "</tr>";
  const body = rows.map((r) => {
    const i = chosen.indexOf(r.key);
    const swatch = i >= 0 ? `<span class="sw" style="background:${runColor(r.key)}"></span>` : "";
    const cells = cols.map((c) => {
      const v = c.get(r);
      if (c.key === "status") return `<td><span class="status ${esc(v)}" title="${esc(r.error)}">${esc(v)}</span>` +
        (r.problem ? ` <span class="problem" title="${esc(r.problem)}">⚠ damaged</span>` : "") + "</td>";
      if (c.key === "run_id") return `<td><a href="#" data-run="${esc(r.key)}">${esc(v)}</a></td>`;
      return `<td class="${c.cls || ""}">${esc(c.show ? c.show(v) : v ?? "")}</td>`;
    }).join("");
    return `<tr data-key="${esc(r.key)}" class="${i >= 0 ? "on" : ""}"><td><input type="checkbox" ${i >= 0 ? "checked" : ""}>${swatch}</td>${cells}</tr>`;
  }).join("");
  $("#runs").innerHTML = `<thead>${head}</thead><tbody>${body}</tbody>`;
  const first = Number(state.offset);
  const range = rows.length ? `${first + 1}–${first + rows.length}` : "0";
  const matched = page.total === page.all ? `${page.all} runs` : `${page.total} matching of ${page.all} runs`;
  $("#count").textContent = `${range} of ${matched}, ${chosen.length} selected`;
  $("#compare").disabled = chosen.length < 2;
  $("#prev").disabled = first <= 0;
  $("#next").disabled = first + rows.length >= page.total;
  page.visible = rows.map((r) => r.key);
}

function toggleRun(key, on) {
  const keys = selected().filter((k) => k !== key);
  if (on) keys.push(key);
  set({ runs: keys.join(","), x0: "", x1: "" });
  renderTable();
  refreshChart(true);
}

// curves ------------------------------------------------------------------------------------

function runColor(key) {
  const i = selected().indexOf(key);
  return i < 0 ? "#888" : i < PALETTE.length ? PALETTE[i] : `hsl(${(i * 137.5) % 360} 60% 50%)`;
}

async function loadMetrics() {
  const keys = selected();
  renderMediaSection($("#ws-media"), keys); // its own request: the media the runs logged
  if (!keys.length) { page.metrics = []; fillMetricChoices(); renderWorkspace(); renderHparams(); return; }
  const body = await api("/api/metrics", { runs: keys.join(",") });
  page.metrics = body.metrics;
  if (!state.metric || !page.metrics.some((m) => m.key === state.metric)) {
    // the first selected run's main metric (its contract says which), else an eval metric, else the loss
    const main = keys.map((k) => page.byKey[k].main_series).find((m) => m && page.metrics.some((x) => x.key === m));
    const preferred = (main && { key: main }) || page.metrics.find((m) => m.source === "eval") ||
      page.metrics.find((m) => m.key === "train/loss");
    set({ metric: (preferred || page.metrics[0] || { key: "" }).key, ...declaredCrossing((preferred || {}).key) });
    syncControls();
  }
  fillMetricChoices();
  renderWorkspace();
  renderHparams();
}

function focusMetric(metric) {
  go({ metric, x0: "", x1: "", ...declaredCrossing(metric) }, true);
  window.scrollTo({ top: 0 });
}

// For a run's main metric, the crossing its contract declares: "reached" is from above for a loss
// (lower is better), from below for an accuracy; the target fills an empty threshold.
function declaredCrossing(metric) {
  const main = selected().map((k) => page.byKey[k]).find((r) => r && r.main_series === metric);
  if (!main || !main.direction) return {};
  const out = { direction: main.direction === "lower" ? "below" : "above" };
  if (state.threshold === "" && main.target != null) out.threshold = String(main.target);
  return out;
}

function zoomRange() {
  return state.x0 !== "" && state.x1 !== "" ? [Number(state.x0), Number(state.x1)] : null;
}

async function refreshChart(newSelection) {
  stopLive();
  const token = ++page.token; // a slower answer to an older view must not overwrite a newer one
  if (newSelection) await loadMetrics();
  if (token !== page.token) return;
  const keys = selected();
  const width = Math.max(100, Math.round($("#chart").clientWidth));
  page.workspace.invalidate();
  if (!keys.length || !state.metric) { page.curves = {}; page.groups = null; draw(); return; }
  const params = { runs: keys.join(","), metric: state.metric, x: state.x, width };
  const zoom = zoomRange();
  if (zoom) Object.assign(params, { x0: zoom[0], x1: zoom[1] });
  try {
    const body = await api("/api/series", params);
    let groups = null;
    if (state.group) {
      const g = { runs: keys.join(","), metric: state.metric, x: state.x, width, by: state.group, band: state.band };
      if (state.threshold !== "") Object.assign(g, { threshold: state.threshold, direction: state.direction, estimator: state.est });
      groups = await api("/api/groups", g);
    }
    if (token !== page.token) return;
    page.curves = body.runs;
    page.groups = groups;
    $("#chart-error").textContent = "";
  } catch (e) {
    $("#chart-error").textContent = e.message;
  }
  draw();
  startLive();
}

function ema(ys, weight) { // debiased, NaN-skipping: the same smoothing as `ol plot --smooth`
  if (!(weight > 0)) return ys;
  const out = new Array(ys.length);
  let acc = 0, norm = 0;
  for (let i = 0; i < ys.length; i++) {
    const v = ys[i];
    if (v === null || Number.isNaN(v)) { out[i] = null; continue; }
    acc = weight * acc + (1 - weight) * v;
    norm = weight * norm + (1 - weight);
    out[i] = acc / norm;
  }
  return out;
}

// What a chart draws of some curves (and groups, when grouping): one line per run in its colour, or each
// group's mean with its band over faint runs; smoothed as ``view`` says (the page's settings, or a panel's own).
// The large chart and every panel.
function plotData(curves, groups, metric, view) {
  const smooth = Number(view.smooth);
  const series = [], bands = [];
  const grouped = groups && view.group;
  const groupColor = {};
  if (grouped) groups.groups.forEach((g, i) => { groupColor[g.name] = PALETTE[i % PALETTE.length]; });
  const runGroup = {};
  if (grouped) for (const g of groups.groups) for (const k of g.runs) runGroup[k] = g.name;
  for (const [key, c] of Object.entries(curves)) {
    const r = page.byKey[key];
    if (!r) continue;
    const color = grouped ? groupColor[runGroup[key]] : runColor(key);
    series.push({ key, label: label(r), color, x: c.x, y: ema(c.y, smooth), raw: c.y, alpha: grouped ? 0.25 : 1,
      width: grouped ? 1 : 1.5, hover: !grouped });
  }
  if (grouped) {
    for (const g of groups.groups) {
      const color = groupColor[g.name];
      bands.push({ name: g.name, color, x: g.x, lo: g.lo, hi: g.hi });
      series.push({ key: "group:" + g.name, label: `${g.name} (mean of ${g.runs.length})`, color, x: g.x,
        y: ema(g.mean, smooth), raw: g.mean, width: 2.5 });
    }
  }
  return { series, bands, xLabel: X_LABELS[view.x], yLabel: metric, logY: view.log };
}

function draw() {
  const data = plotData(page.curves, page.groups, state.metric,
    { x: state.x, smooth: state.smooth, group: state.group, log: state.logy === "1" });
  page.chart.setZoom(zoomRange());
  page.chart.setData(data, !selected().length ? "choose runs in the table to draw them" :
    !state.metric ? "the chosen runs logged no scalar metrics" : `no data: none of the chosen runs logged ${state.metric}` +
    (state.x === "step" ? "" : ` with ${state.x === "time" ? "a time" : "an " + state.x}`));
  renderLegend(data.series.filter((s) => s.hover !== false));
  renderCrossings();
  page.draws += 1;
  document.body.dataset.draws = page.draws;
}

function renderLegend(series) {
  $("#legend").innerHTML = series.slice(0, 40).map((s) =>
    `<span><span class="sw" style="background:${s.color}"></span>${esc(s.label)}</span>`).join("") +
    (series.length > 40 ? `<span class="dim">+${series.length - 40} more</span>` : "");
}

function renderCrossings() {
  const c = page.groups && page.groups.crossings;
  $("#crossings").hidden = !c;
  if (!c) return;
  const share = (g) => `${g.reached} of ${g.runs}` +
    (g.reached_ci.length ? ` [${g.reached_ci[0].toFixed(2)}, ${g.reached_ci[1].toFixed(2)}]` : "");
  const rows = c.groups.map((g) => `<tr><td>${esc(g.name)}</td><td>${share(g)}</td>` +
    `<td>${crossingCell(g.epochs)}</td></tr>`).join("");
  $("#crossings").innerHTML = `<caption>epochs until ${esc(state.metric)} ${c.direction === "above" ? "≥" : "≤"} ` +
    `${fmt(c.threshold)}, over the runs that got there (${esc(c.method)})</caption>` +
    `<thead><tr><th>${esc(state.group)}</th><th>reached</th><th>epochs</th></tr></thead><tbody>${rows}</tbody>`;
}

// Epochs to a threshold as `ol export --stat first-crossing` writes them: an epoch of one run as it is, a mean
// (or IQM) over several with one decimal and its interval (one run has none: a made-up one would mislead).
function crossingCell([value, low, high]) {
  if (value === null) return "never";
  if (low === null) return String(Math.round(value));
  return `${value.toFixed(1)} [${low.toFixed(1)}, ${high.toFixed(1)}]`;
}

// live --------------------------------------------------------------------------------------

function startLive() {
  if (window.OL_EXPORT) return; // a file: nothing is live
  const running = Object.entries(page.curves).filter(([k, c]) => c.status === "running").map(([k]) => k);
  if (!running.length || !window.EventSource) return;
  const after = running.map((k) => `${k}:${page.curves[k].last_step ?? -1}`).join(",");
  const width = Math.max(100, Math.round($("#chart").clientWidth));
  const url = "/api/live?" + new URLSearchParams({ runs: running.join(","), metric: state.metric, x: state.x, width,
    after }).toString();
  const source = new EventSource(url);
  page.live = source;
  let pending = false;
  const redraw = () => { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; draw(); }); } };
  source.addEventListener("points", (ev) => {
    const body = JSON.parse(ev.data);
    let n = 0;
    for (const p of Object.values(body.runs)) n += p.x.length;
    page.liveLog.push({ at: Date.now(), bytes: ev.data.length, points: n, runs: body.runs });
    if (page.liveLog.length > 2000) page.liveLog.shift();
    for (const [key, p] of Object.entries(body.runs)) {
      const c = page.curves[key];
      if (!c) continue;
      c.x = c.x.concat(p.x);
      c.y = c.y.concat(p.y);
      c.last_step = p.last_step;
      if (page.byKey[key]) page.byKey[key].last_step = p.last_step;
    }
    if (state.group) scheduleGroups(); else redraw();
  });
  source.addEventListener("status", (ev) => {
    for (const [key, status] of Object.entries(JSON.parse(ev.data).runs)) {
      if (page.curves[key]) page.curves[key].status = status;
      if (page.byKey[key]) page.byKey[key].status = status;
    }
    renderTable();
    loadRuns();
  });
  source.addEventListener("reset", () => refreshChart(false));
  source.addEventListener("done", () => stopLive());
}

let groupTimer = null;
function scheduleGroups() {
  if (groupTimer) return;
  groupTimer = setTimeout(() => { groupTimer = null; refreshChart(false); }, 1000);
}

function stopLive() {
  if (page.live) { page.live.close(); page.live = null; }
}

function showRuns() {
  $("#run-view").hidden = true;
  $("#runs-view").hidden = false;
}

// controls ----------------------------------------------------------------------------------

function fillMetricChoices() {
  const counted = (m) => `${esc(m.key)}${m.runs < selected().length ? ` (${m.runs} runs)` : ""}`;
  $("#metric").innerHTML = page.metrics.map((m) =>
    `<option value="${esc(m.key)}" ${m.key === state.metric ? "selected" : ""}>${counted(m)}</option>`).join("");
  $("#ws-add").innerHTML = `<option value="">+ add a panel…</option>` +
    page.metrics.map((m) => `<option value="${esc(m.key)}">${counted(m)}</option>`).join("");
  $("#ws-add").disabled = !page.metrics.length;
}

function syncControls() {
  $("#x").value = state.x;
  $("#logy").checked = state.logy === "1";
  $("#size").value = state.size;
  $("#smooth").value = state.smooth;
  $("#smooth-value").textContent = Number(state.smooth).toFixed(2);
  $("#band").value = state.band;
  $("#threshold").value = state.threshold;
  $("#direction").value = state.direction;
  $("#filter").value = state.q;
  $("#where").value = state.where;
  $("#theme").value = state.theme;
  document.documentElement.dataset.theme = state.theme;
  for (const el of document.querySelectorAll(".grouped")) el.hidden = !state.group;
}

function bind() {
  page.workspace = new Workspace($("#workspace"), { load: loadPanel, focus: (key) => focusMetric(panelMetric(key)),
    changed: workspaceChanged, command: plotCommand,
    plot: (loaded, key) => plotData(loaded.curves, loaded.groups, panelMetric(key), { ...loaded.view,
      ...panelView(key), x: loaded.view.x, group: loaded.view.group }) });
  $("#ws-add").addEventListener("change", (e) => {
    if (e.target.value) workspaceChanged("add", e.target.value);
    e.target.value = "";
  });
  page.chart = new LineChart($("#chart"), { onZoom: (range) => {
    set(range ? { x0: String(range[0]), x1: String(range[1]) } : { x0: "", x1: "" });
    refreshChart(false);
  } });
  $("#runs").addEventListener("click", (e) => {
    const link = e.target.closest("a[data-run]");
    if (link) { e.preventDefault(); go({ view: "run", run: link.dataset.run, kind: "" }); return; }
    const th = e.target.closest("th[data-sort]");
    if (th) {
      reloadRuns({ offset: "0", ...(th.dataset.sort === state.sort ? { desc: state.desc === "1" ? "0" : "1" } : { sort: th.dataset.sort, desc: "1" }) });
      return;
    }
    if (e.target.id === "all") {
      const keys = e.target.checked ? [...new Set([...selected(), ...page.visible])] : selected().filter((k) => !page.visible.includes(k));
      set({ runs: keys.join(","), x0: "", x1: "" }); renderTable(); refreshChart(true); return;
    }
    const row = e.target.closest("tr[data-key]");
    if (row && e.target.tagName === "INPUT") toggleRun(row.dataset.key, e.target.checked);
  });
  let typing = null; // the search asks the server once typing pauses, not at every key
  $("#filter").addEventListener("input", (e) => {
    clearTimeout(typing);
    typing = setTimeout(() => reloadRuns({ q: e.target.value, offset: "0" }), 200);
  });
  $("#where").addEventListener("change", (e) => reloadRuns({ where: e.target.value.trim(), offset: "0" }));
  $("#prev").addEventListener("click", () => reloadRuns({ offset: String(Math.max(0, Number(state.offset) - PAGE_SIZE)) }));
  $("#next").addEventListener("click", () => reloadRuns({ offset: String(Number(state.offset) + PAGE_SIZE) }));
  $("#metric").addEventListener("change", (e) => {
    set({ metric: e.target.value, x0: "", x1: "", ...declaredCrossing(e.target.value) });
    syncControls();
    refreshChart(false);
  });
  $("#x").addEventListener("change", (e) => { set({ x: e.target.value, x0: "", x1: "" }); refreshChart(false); });
  $("#logy").addEventListener("change", (e) => { set({ logy: e.target.checked ? "1" : "0" }); draw(); });
  $("#smooth").addEventListener("input", (e) => { set({ smooth: e.target.value }); syncControls(); draw();
    page.workspace.redraw(); });
  $("#size").addEventListener("change", (e) => { set({ size: e.target.value }); renderWorkspace(); page.workspace.invalidate(); });
  $("#group").addEventListener("change", (e) => { set({ group: e.target.value }); fillGroupChoices(); syncControls(); refreshChart(false); });
  $("#group-and").addEventListener("change", (e) => {
    const parts = state.group.split(",").filter(Boolean), key = e.target.value;
    if (key === "=") return; // the keys already chosen
    set({ group: (key ? [...parts, key] : parts.slice(0, 1)).join(",") });
    fillGroupChoices(); refreshChart(false);
  });
  $("#band").addEventListener("change", (e) => { set({ band: e.target.value }); refreshChart(false); });
  $("#threshold").addEventListener("change", (e) => { set({ threshold: e.target.value.trim() }); refreshChart(false); });
  $("#direction").addEventListener("change", (e) => { set({ direction: e.target.value }); refreshChart(false); });
  $("#theme").addEventListener("change", (e) => { set({ theme: e.target.value }); syncControls(); draw();
    page.workspace.redraw(); if (hp.rows.length && $("#hp-parallel")) hpApply(); }); // canvases take the new ink
  $("#clear").addEventListener("click", () => { set({ runs: "none", x0: "", x1: "" }); renderTable(); refreshChart(true); });
  $("#reset-zoom").addEventListener("click", () => { set({ x0: "", x1: "" }); refreshChart(false); });
  $("#compare").addEventListener("click", () => go({ view: "compare" }));
  $("#sweep-pick").addEventListener("change", (e) => {
    if (e.target.value) go({ view: "sweep", sweep: e.target.value });
  });
  $("#run-view").addEventListener("click", (e) => {
    const a = e.target.closest("a");
    if (!a) return;
    e.preventDefault();
    if (a.id === "back") go({ view: "runs", run: "", kind: "" });
    else if (a.dataset.run) go({ view: "run", run: a.dataset.run, kind: "" });
    else if (a.dataset.plotRun) go({ view: "runs", runs: a.dataset.plotRun, x0: "", x1: "" });
  });
  $("#run-view").addEventListener("change", (e) => {
    if (e.target.id === "kind") { set({ kind: e.target.value }); showRun(); }
  });
  // Back, Forward, a link or an edited address: the view the URL says, scrolled where it was left
  window.addEventListener("popstate", (e) => {
    readHash(); syncControls(); page.version = "";
    route().then(() => window.scrollTo({ top: (e.state && e.state.scroll) || 0 }));
  });
  document.addEventListener("keydown", (e) => {
    const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName);
    if (e.key === "Escape" && history.state && history.state.focus) history.back(); // closes the large chart
    else if (e.key === "/" && !typing && !$("#runs-view").hidden) { e.preventDefault(); $("#filter").focus(); }
  });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => draw());
}

async function route() {
  syncControls();
  const shown = page.shownRuns; // the runs view's choice of runs when it was last drawn
  page.shownRuns = state.view === "runs" || !state.view ? state.runs : null;
  if (state.view === "run" && state.run) { await showRun(); return; }
  if (state.view === "compare") { await loadRuns(); await showCompare(); return; }
  if (state.view === "sweep" && state.sweep) { await showSweep(); return; }
  showRuns();
  await loadRuns();
  if (shown === state.runs) { fillMetricChoices(); await refreshChart(false); return; } // the same runs: their chart
  await refreshChart(true);
}

// formatting --------------------------------------------------------------------------------

function esc(v) { return escapeHtml(v ?? ""); }
function duration(s) {
  if (s === null || s === undefined) return "";
  return s < 60 ? `${s.toFixed(1)} s` : s < 3600 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(2)} h`;
}
function when(t) { return t ? new Date(t * 1000).toISOString().slice(0, 16).replace("T", " ") : ""; }
function fmtFinal(v) { return typeof v === "string" ? v : v === null || v === undefined ? "" : fmt(v); }

readHash();
bind();
if (window.OL_EXPORT) offline();
$("#ws-export").addEventListener("click", () => { location.href = "/export?view=" + encodeURIComponent(location.hash.slice(1)); });
route().then(() => { document.body.dataset.ready = "1"; });
if (!window.OL_EXPORT) loadSweepNames().catch((e) => console.warn("sweeps:", e.message)); // the header's sweeps
bindSaved();
if (!window.OL_EXPORT) loadSavedWorkspaces().catch((e) => console.warn("workspaces:", e.message));
if (!window.OL_EXPORT) setInterval(() => { if (!document.hidden && state.view !== "run") loadRuns(); }, 3000);
