// The workspace: every metric of the chosen runs as a panel, in sections by source (train, eval, each hook;
// the main metric's first, the main metric first in it). A panel asks the server for its curves only once it
// scrolls into view, and again when the runs or the axes change; sections fold and panels can be removed,
// and each can have its own x axis, smoothing, grouping, log scale and width (⚙). Panels of any metric can be
// added (the "added" section, first), as many of one metric as wanted, each with its own settings and a metric
// it can change — all of it kept in the page's URL by the page (app.js). A panel is named by its key: a
// metric's own panel by the metric, an added one by "+N". Each panel downloads as
// PNG or SVG and its plotted data as CSV, and says the `ol plot` command that draws it in paper style.
"use strict";

const SECTION_ORDER = ["train", "eval"]; // then every other source, by name

class Workspace {
  // load(key, width) -> Promise<{curves, groups}>; plot(loaded, key) -> LineChart data; focus(key) opens a
  // panel's metric in the large chart; changed(field, value, key) records a setting (field "add": a new panel of
  // metric ``value``); command(key) -> the `ol plot` command line of a panel
  constructor(root, { load, plot, focus, changed, command }) {
    this.root = root;
    this.load = load; this.plot = plot; this.focus = focus; this.changed = changed; this.command = command;
    this.panels = {}; // key -> {el, metric, chart, loaded, have (the generation loaded), busy}
    this.generation = 0; // grows whenever what the panels show changes (runs, axes)
    this.open = new Set(); // panels whose settings row is shown
    this.fetches = 0;
    this.seen = new IntersectionObserver((entries) => {
      for (const e of entries) if (e.isIntersecting) this._fill(e.target.dataset.panel);
    }, { rootMargin: "200px" });
    root.addEventListener("click", (e) => this._click(e));
    root.addEventListener("change", (e) => this._change(e));
  }

  // Lay out a panel for each metric and each added panel (panels already there keep their curves).
  // ``settings``: {hidden, folded: sets of names; own: {key: {x, smooth, group, log, wide}}; added: [{key,
  // metric}]; size: "s" | "m" | "l"; main: the main metric or ""}.
  render(metrics, settings) {
    this.settings = settings;
    this.metrics = metrics;
    const sections = {};
    for (const m of metrics) (sections[m.source] = sections[m.source] || []).push(m);
    const mainSource = settings.main ? settings.main.split("/")[0] : "";
    const names = Object.keys(sections).sort((a, b) => this._rank(a, mainSource) - this._rank(b, mainSource) ||
      a.localeCompare(b));
    const keep = {};
    const panel = (key, metric, title) => {
      keep[key] = true;
      const own = settings.own[key] || {};
      return `<div class="panel${own.wide === "1" ? " wide" : ""}" data-panel="${escapeHtml(key)}" data-metric="${escapeHtml(metric)}"><div class="panel-head">` +
        `<span class="panel-title" title="${escapeHtml(metric)}">${escapeHtml(title)}</span>` +
        `<button type="button" data-gear="${escapeHtml(key)}" class="${Object.values(own).some(Boolean) ? "on" : ""}" ` +
        `title="this panel's own x axis, smoothing, grouping, log scale and width">⚙</button>` +
        `<button type="button" data-focus="${escapeHtml(key)}" title="open in the large chart (zoom, grouping, crossings)">⤢</button>` +
        `<button type="button" data-png="${escapeHtml(key)}" title="download the panel as PNG">png</button>` +
        `<button type="button" data-svg="${escapeHtml(key)}" title="download the panel as SVG (vectors)">svg</button>` +
        `<button type="button" data-csv="${escapeHtml(key)}" title="download the plotted points as CSV">csv</button>` +
        `<button type="button" data-cmd="${escapeHtml(key)}" title="the ol plot command that draws this panel">ol plot</button>` +
        `<button type="button" data-remove="${escapeHtml(key)}" title="remove this panel">×</button></div>` +
        this._settingsRow(key, own, key === metric ? null : metric) +
        `<code class="panel-cmd" hidden></code><div class="panel-chart"></div></div>`;
    };
    const section = (source, title, note, body) => {
      const folded = settings.folded.has(source);
      return `<section class="ws-section${folded ? " folded" : ""}" data-source="${escapeHtml(source)}">` +
        `<h3><button type="button" class="fold" data-fold="${escapeHtml(source)}">${folded ? "▸" : "▾"}</button> ` +
        `${escapeHtml(title)} <span class="dim">${note}</span></h3>` +
        (folded ? "" : `<div class="ws-grid size-${escapeHtml(settings.size)}">${body()}</div>`) + "</section>";
    };
    const count = (n) => `${n} panel${n === 1 ? "" : "s"}`;
    const added = metrics.length ? settings.added : [];
    let html = added.length ? section("+", "added", count(added.length),
      () => added.map((a) => panel(a.key, a.metric, a.metric)).join("")) : "";
    html += names.map((source) => {
      const list = sections[source].filter((m) => !settings.hidden.has(m.key))
        .sort((a, b) => (b.key === settings.main) - (a.key === settings.main) || a.key.localeCompare(b.key));
      const hidden = sections[source].length - list.length;
      const note = count(list.length) +
        (hidden ? `, ${hidden} removed <a href="#" data-restore="${escapeHtml(source)}">restore</a>` : "");
      return section(source, source, note, () => list.map((m) => panel(m.key, m.key, m.name)).join(""));
    }).join("");
    for (const p of Object.values(this.panels)) this.seen.unobserve(p.el);
    const previous = this.panels;
    this.root.innerHTML = metrics.length ? html : "";
    this.panels = {};
    for (const el of this.root.querySelectorAll(".panel")) {
      const key = el.dataset.panel, metric = el.dataset.metric;
      const chart = new LineChart(el.querySelector(".panel-chart"));
      const old = previous[key] && previous[key].metric === metric ? previous[key] : null;
      const p = { el, metric, chart, loaded: old ? old.loaded : null, have: old ? old.have : -1, busy: false };
      this.panels[key] = p;
      if (p.loaded) this._draw(key);
      else chart.setMessage("loading…");
      this.seen.observe(el);
    }
    return Object.keys(keep);
  }

  // The runs or the axes changed: every panel asks again when it is (or next comes) into view.
  invalidate() {
    this.generation += 1;
    for (const [key, p] of Object.entries(this.panels)) if (this._visible(p.el)) this._fill(key);
  }

  redraw() { for (const key of Object.keys(this.panels)) this._draw(key); }

  // ask again for one panel's curves (its own x axis or grouping changed)
  refill(key) {
    const p = this.panels[key];
    if (p) { p.have = -1; this._fill(key); }
  }

  // ``metric``: an added panel's, which it can change (a metric's own panel is always of that metric)
  _settingsRow(key, own, metric) {
    const pick = (field, choices) => `<select data-field="${field}">${choices.map(([v, label]) =>
      `<option value="${escapeHtml(v)}" ${(own[field] || "") === v ? "selected" : ""}>${escapeHtml(label)}</option>`).join("")}</select>`;
    // the chosen runs' metrics, and the panel's own even when none of them logs it (it then draws nothing)
    const keys = metric === null ? [] : [...new Set([metric, ...this.metrics.map((m) => m.key)])].sort();
    const metricPick = metric === null ? "" : `<label>metric <select data-field="metric">${keys.map((k) =>
      `<option value="${escapeHtml(k)}" ${k === metric ? "selected" : ""}>${escapeHtml(k)}</option>`).join("")}</select></label>`;
    return `<div class="panel-settings" ${this.open.has(key) ? "" : "hidden"}>` + metricPick +
      `<label>x ${pick("x", [["", "as above"], ["step", "step"], ["epoch", "epoch"], ["time", "time"]])}</label>` +
      `<label>smooth <input data-field="smooth" type="number" min="0" max="0.99" step="0.05" value="${escapeHtml(own.smooth || "")}" placeholder="as above"></label>` +
      `<label>group ${pick("group", [["", "as above"], ["none", "none"], ["setting", "setting"], ["strategy", "strategy"], ["group", "group"], ["seed", "seed"]])}</label>` +
      `<label><input data-field="log" type="checkbox" ${own.log === "1" ? "checked" : ""}> log y</label>` +
      `<label><input data-field="wide" type="checkbox" ${own.wide === "1" ? "checked" : ""}> wide</label></div>`;
  }

  _change(e) {
    const field = e.target.dataset.field;
    const panel = e.target.closest(".panel");
    if (!field || !panel) return;
    const key = panel.dataset.panel;
    const value = e.target.type === "checkbox" ? (e.target.checked ? "1" : "") : e.target.value;
    this.changed(field, value, key);
    if (field === "x" || field === "group" || field === "wide") this.refill(key); // new points to ask for
    else if (field !== "metric") this._draw(key); // a new metric lays the panel out anew (changed → render)
  }

  _rank(source, mainSource) {
    if (source === mainSource) return -1;
    const i = SECTION_ORDER.indexOf(source);
    return i < 0 ? SECTION_ORDER.length : i;
  }

  _visible(el) {
    const r = el.getBoundingClientRect();
    return r.bottom > -200 && r.top < window.innerHeight + 200 && r.width > 0;
  }

  async _fill(key) {
    const p = this.panels[key];
    if (!p || p.busy || p.have === this.generation) return;
    p.busy = true;
    const generation = this.generation;
    this.fetches += 1;
    try {
      const width = Math.max(100, Math.round(p.el.querySelector(".panel-chart").clientWidth));
      const loaded = await this.load(key, width);
      if (this.panels[key] === p) {
        p.loaded = loaded;
        p.have = generation;
        delete p.el.querySelector(".panel-chart").dataset.error;
        this._draw(key);
      }
    } catch (e) {
      p.have = generation; // not asked again until something changes
      p.el.querySelector(".panel-chart").dataset.error = e.message;
      p.chart.setMessage("");
    } finally {
      p.busy = false;
      if (p.have !== this.generation && this.panels[key] === p && this._visible(p.el)) this._fill(key);
      // when the panels on screen first all show their curves (bench/workspace_bench.py reads it)
      if (this.firstPaint === undefined && Object.values(this.panels).every((q) => q.loaded || !this._visible(q.el))) {
        this.firstPaint = performance.now();
      }
    }
  }

  _draw(key) {
    const p = this.panels[key];
    if (!p || !p.loaded) return;
    const x = p.loaded.view.x;
    p.chart.setData(this.plot(p.loaded, key), `no data: none of these runs logged ${p.metric}` +
      (x === "step" ? "" : ` with ${x === "time" ? "a time" : "an " + x}`));
    p.el.dataset.drawn = String(Number(p.el.dataset.drawn || 0) + 1);
  }

  _click(e) {
    const b = e.target.closest("button, a");
    if (!b) return;
    const d = b.dataset;
    if (d.fold !== undefined) this.changed("fold", d.fold);
    else if (d.remove !== undefined) this.changed("hide", d.remove);
    else if (d.restore !== undefined) { e.preventDefault(); this.changed("restore", d.restore); }
    else if (d.gear !== undefined) {
      if (this.open.has(d.gear)) this.open.delete(d.gear); else this.open.add(d.gear);
      this.panels[d.gear].el.querySelector(".panel-settings").hidden = !this.open.has(d.gear);
    }
    else if (d.focus !== undefined) this.focus(d.focus);
    else if (d.png !== undefined) this._png(d.png);
    else if (d.svg !== undefined) this._svg(d.svg);
    else if (d.csv !== undefined) this._csv(d.csv);
    else if (d.cmd !== undefined) {
      const code = this.panels[d.cmd].el.querySelector(".panel-cmd");
      code.textContent = this.command(d.cmd);
      code.hidden = !code.hidden;
    }
  }

  // the file a download holds, kept for tests to read back
  _save(name, blob) {
    this.lastDownload = { name, blob };
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }

  _png(key) {
    const p = this.panels[key];
    p.chart.canvas.toBlob((blob) => this._save(`${p.metric.replace(/\//g, "-")}.png`, blob), "image/png");
  }

  _svg(key) {
    const p = this.panels[key];
    this._save(`${p.metric.replace(/\//g, "-")}.svg`, new Blob([p.chart.toSVG()], { type: "image/svg+xml" }));
  }

  // one row per plotted point of each run (as recorded: unsmoothed), then each group's mean and band
  _csv(key) {
    const p = this.panels[key];
    if (!p || !p.loaded) return;
    const q = (v) => /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v);
    const lines = ["run,x,y"];
    for (const [key, c] of Object.entries(p.loaded.curves)) c.x.forEach((x, i) => lines.push(`${q(key)},${x},${c.y[i] ?? ""}`));
    if (p.loaded.groups) {
      lines.push("", "group,x,mean,lo,hi");
      for (const g of p.loaded.groups.groups) g.x.forEach((x, i) =>
        lines.push(`${q(g.name)},${x},${g.mean[i] ?? ""},${g.lo[i] ?? ""},${g.hi[i] ?? ""}`));
    }
    this._save(`${p.metric.replace(/\//g, "-")}.csv`, new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
  }
}
