// The workspace's panels as the page's URL keeps them (app.js's ``state``): which metrics' panels were removed,
// the panels added (any metric, as many as wanted, each named "+N" while it exists), each panel's own settings, and
// what a panel asks the server for and draws. The panels themselves are laid out by workspace.js.
"use strict";

function mainMetric() { // the main metric the chosen runs declare (the first that has one)
  const main = selected().map((k) => page.byKey[k].main_series).find((m) => m && page.metrics.some((x) => x.key === m));
  return main || "";
}

function renderWorkspace() {
  page.workspace.render(page.metrics, { hidden: listOf("hide"), folded: listOf("fold"), own: panelSettings(),
    added: addedPanels(), size: state.size, main: mainMetric() });
}

// Added panels, kept in the URL as "N~metric|…" (its key is "+N"; a part of a hand-edited link that is not of
// this form is left out)
function addedPanels() {
  return state.add.split("|").map((part) => /^(\d+)~(.+)$/.exec(part)).filter(Boolean)
    .map(([, n, metric]) => ({ key: "+" + n, metric }));
}

function setAdded(panels) {
  set({ add: panels.map((p) => `${p.key.slice(1)}~${p.metric}`).join("|") });
}

// The metric a panel draws: an added panel's own, else the metric that names it
function panelMetric(key) {
  if (!key.startsWith("+")) return key;
  const found = addedPanels().find((p) => p.key === key);
  return found ? found.metric : "";
}

// A panel's own settings, kept in the URL as "key~x~smooth~group~log~wide|…"; an empty field is the page's
const PANEL_FIELDS = ["x", "smooth", "group", "log", "wide"];
const PANEL_OK = { x: (v) => ["", "step", "epoch", "time"].includes(v), smooth: (v) => v === "" || Number.isFinite(Number(v)),
  group: (v) => ["", "none", "setting", "strategy", "group", "seed"].includes(v), log: (v) => ["", "1"].includes(v),
  wide: (v) => ["", "1"].includes(v) };
function panelSettings() {
  const out = {};
  for (const part of state.pset.split("|").filter(Boolean)) {
    const [key, ...values] = part.split("~");
    // each field one of its few values or a number, as the page writes them; anything else is "as the page's"
    out[key] = Object.fromEntries(PANEL_FIELDS.map((f, i) => [f, PANEL_OK[f](values[i] || "") ? values[i] || "" : ""]));
  }
  return out;
}

function setPanelSettings(all) {
  set({ pset: Object.entries(all).filter(([, o]) => PANEL_FIELDS.some((f) => o[f]))
    .map(([k, o]) => [k, ...PANEL_FIELDS.map((f) => o[f])].join("~")).join("|") });
}

// What a panel shows: its own settings where it has them, the page's elsewhere
function panelView(key) {
  const own = panelSettings()[key] || {};
  return { x: own.x || state.x, smooth: own.smooth || state.smooth, log: own.log === "1",
    group: own.group === "none" ? "" : own.group || state.group };
}

async function loadPanel(key, width) {
  const keys = selected(), view = panelView(key), metric = panelMetric(key);
  const body = await api("/api/series", { runs: keys.join(","), metric, x: view.x, width });
  let groups = null;
  if (view.group) groups = await api("/api/groups", { runs: keys.join(","), metric, x: view.x, width, by: view.group,
    band: state.band });
  return { curves: body.runs, groups, view };
}

function toggle(field, value) {
  const items = listOf(field);
  if (items.has(value)) items.delete(value); else items.add(value);
  set({ [field]: [...items].join(",") });
}

function workspaceChanged(field, value, key) {
  const added = addedPanels();
  if (field === "restore") { // every removed panel of one section comes back
    const gone = new Set(page.metrics.filter((m) => m.source === value).map((m) => m.key));
    set({ hide: [...listOf("hide")].filter((k) => !gone.has(k)).join(",") });
  } else if (field === "add") { // a new panel of metric ``value``, first in the "added" section
    const next = Math.max(0, ...added.map((p) => Number(p.key.slice(1)))) + 1;
    setAdded([{ key: "+" + next, metric: value }, ...added]);
  } else if (field === "hide" && value.startsWith("+")) { // an added panel removed is gone, settings and all
    setAdded(added.filter((p) => p.key !== value));
    const all = panelSettings();
    delete all[value];
    setPanelSettings(all);
  } else if (field === "metric") { // an added panel draws another metric
    setAdded(added.map((p) => p.key === key ? { key, metric: value } : p));
  } else if (PANEL_FIELDS.includes(field)) { // one panel's own setting
    const all = panelSettings();
    all[key] = all[key] || Object.fromEntries(PANEL_FIELDS.map((f) => [f, ""]));
    all[key][field] = value;
    setPanelSettings(all);
  } else toggle(field, value);
  renderWorkspace();
}

// The paper-style figure of a panel from the command line: the same runs, metric, axis and smoothing.
function plotCommand(key) {
  const quote = (v) => /^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, "'\\''")}'`;
  const view = panelView(key), metric = panelMetric(key);
  const runs = selected().map((k) => quote(page.byKey[k].run_id));
  const parts = ["ol plot curves", ...runs, "-m", quote(metric), "--x", view.x, "--store", quote(page.store || "runs")];
  if (Number(view.smooth) > 0) parts.push("--smooth", view.smooth);
  if (view.log) parts.push("--log-y");
  return parts.join(" ");
}
