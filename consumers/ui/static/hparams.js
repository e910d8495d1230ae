// Hyperparameters against results, over the chosen runs' rows of the runs table (config as updated, the main
// metric's best, epochs to its target, final values): a parallel-coordinates panel, where dragging along an
// axis brushes a range and the runs table then lists only the runs inside every brush, and a scatter of any
// column against another, coloured by a chosen column, where seeds repeat with their mean (or IQM) and its bootstrap
// interval per x — asked of the server (/api/estimates), so it is the interval `ol sweep --status` gives.
// Loaded before app.js; uses its state, page and helpers (set, esc, fmt, PALETTE, selected, reloadRuns).
"use strict";

const HP_COLOURS = ["strategy", "group", "seed", "experiment"];
// estimates: the server's intervals by the cells asked (brushing redraws without asking again)
const hp = { cols: [], rows: [], axes: [], drag: null, estimates: {}, method: "" };

// columns that vary among the rows: strategy and group (as categories), config keys, seed, the main metric's
// best, epochs to target, final values
function hpColumns(rows) {
  const cols = [];
  for (const key of ["strategy", "group"]) {
    const cats = [...new Set(rows.map((r) => r[key] || ""))].sort();
    if (cats.length > 1) cols.push({ key, label: key, get: (r) => r[key] || "", cats });
  }
  const add = (key, label, get) => {
    const values = rows.map(get).filter((v) => typeof v === "number" && Number.isFinite(v));
    if (values.length >= 2 && new Set(values).size > 1) cols.push({ key, label, get });
  };
  for (const k of [...new Set(rows.flatMap((r) => Object.keys(r.config)))].sort()) add("config:" + k, k, (r) => r.config[k]);
  add("seed", "seed", (r) => r.seed);
  const main = rows.map((r) => r.main_series).find((m) => m);
  if (main) add("best", `best ${main}`, (r) => (r.main_series === main ? r.main_best : null));
  add("target_epoch", "epochs to target", (r) => r.target_epoch);
  for (const m of [...new Set(rows.flatMap((r) => Object.keys(r.final)))].sort()) add("final:" + m, `final ${m}`, (r) => r.final[m]);
  return cols;
}

// what was tried differently among the rows: a config key, the strategy or the group (not a result, not the seed)
const hpVaries = (col) => col.key.startsWith("config:") || col.key === "strategy" || col.key === "group";

function hpValue(col, r) {
  const v = col.cats ? col.cats.indexOf(col.get(r)) : col.get(r);
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

// brushes as the URL keeps them: "column~lo~hi|column~lo~hi"
function hpBrushes() {
  const out = {};
  for (const part of state.brush.split("|").filter(Boolean)) {
    const [key, lo, hi] = part.split("~");
    if (key && lo !== undefined && hi !== undefined) out[key] = [Number(lo), Number(hi)];
  }
  return out;
}

// the chosen runs inside every brush (every chosen run when nothing is brushed)
function hpInside() {
  const brushes = hpBrushes();
  return hp.rows.filter((r) => Object.entries(brushes).every(([key, [lo, hi]]) => {
    const col = hp.cols.find((c) => c.key === key);
    const v = col ? hpValue(col, r) : null;
    return col === undefined || (v !== null && v >= lo && v <= hi);
  })).map((r) => r.key);
}

function hpTick(col, v) { return col.cats ? (col.cats[v] ?? "") : fmt(v); }

function hpColour(r, order) {
  const v = String(r[state.hpcolor] ?? "");
  const i = order.indexOf(v);
  return PALETTE[i % PALETTE.length];
}

function renderHparams() {
  if (hp.drag) return; // a brush being dragged keeps its canvas; the next look at the runs draws anew
  const root = $("#hparams");
  hp.rows = selected().map((k) => page.byKey[k]).filter(Boolean);
  hp.cols = hpColumns(hp.rows);
  if (hp.rows.length < 2) { root.innerHTML = ""; return; }
  if (!hp.cols.some(hpVaries)) { // nothing to set results against: say so, rather than draw results against results
    root.innerHTML = `<section class="ws-section" data-source="hyperparameters"><h3>hyperparameters against results ` +
      `<span class="dim">${hp.rows.length} runs</span></h3><p class="dim" id="hp-none">No hyperparameter varies among ` +
      `these ${hp.rows.length} runs: their config and strategy are the same (they differ only by seed, if at all).</p></section>`;
    return;
  }
  const options = (chosen) => hp.cols.map((c) => `<option value="${esc(c.key)}" ${c.key === chosen ? "selected" : ""}>${esc(c.label)}</option>`).join("");
  const x = hp.cols.some((c) => c.key === state.hpx) ? state.hpx : hp.cols.find(hpVaries).key;
  const y = hp.cols.some((c) => c.key === state.hpy) ? state.hpy :
    (hp.cols.find((c) => c.key === "best") || hp.cols[hp.cols.length - 1]).key;
  const brushed = Object.keys(hpBrushes()).length;
  root.innerHTML = `<section class="ws-section" data-source="hyperparameters"><h3>hyperparameters against results ` +
    `<span class="dim">${hp.rows.length} runs</span></h3><div class="hp-grid">` +
    `<div class="panel"><div class="panel-head"><span class="panel-title">parallel coordinates</span>` +
    `<span class="dim" id="hp-count">${brushed ? `${hpInside().length} of ${hp.rows.length} inside` : "drag along an axis to brush"}</span>` +
    `<button type="button" id="hp-clear" ${brushed ? "" : "disabled"}>clear brushes</button></div>` +
    `<canvas id="hp-parallel" class="hp-canvas"></canvas></div>` +
    `<div class="panel"><div class="panel-head"><span class="panel-title">scatter</span>` +
    `<label>x <select id="hp-x">${options(x)}</select></label><label>y <select id="hp-y">${options(y)}</select></label>` +
    `<label>colour <select id="hp-color">${HP_COLOURS.map((c) => `<option ${c === state.hpcolor ? "selected" : ""}>${c}</option>`).join("")}</select></label>` +
    `</div><canvas id="hp-scatter" class="hp-canvas"></canvas></div></div>` +
    `<div class="legend" id="hp-legend"></div></section>`;
  hp.x = hp.cols.find((c) => c.key === x);
  hp.y = hp.cols.find((c) => c.key === y);
  const order = [...new Set(hp.rows.map((r) => String(r[state.hpcolor] ?? "")))];
  $("#hp-legend").innerHTML = `<span class="dim">colour: ${esc(state.hpcolor)}</span>` + order.map((v, i) =>
    `<span><span class="sw" style="background:${PALETTE[i % PALETTE.length]}"></span>${esc(v || "–")}</span>`).join("") +
    `<label class="dim">bars over seeds <select id="hp-estimator"><option value="mean" ${state.est === "mean" ? "selected" : ""}>` +
    `mean</option><option value="iqm" ${state.est === "iqm" ? "selected" : ""}>IQM</option></select></label>` +
    `<span class="dim" id="hp-method"></span>`;
  drawParallel();
  drawScatter();
  $("#hp-x").addEventListener("change", (e) => { set({ hpx: e.target.value }); renderHparams(); });
  $("#hp-y").addEventListener("change", (e) => { set({ hpy: e.target.value }); renderHparams(); });
  $("#hp-color").addEventListener("change", (e) => { set({ hpcolor: e.target.value }); renderHparams(); });
  $("#hp-estimator").addEventListener("change", (e) => { set({ est: e.target.value }); renderHparams(); });
  $("#hp-clear").addEventListener("click", () => hpBrush(""));
  bindParallel($("#hp-parallel"));
}

function hpCanvas(canvas) {
  const width = canvas.clientWidth, height = canvas.clientHeight, dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const css = getComputedStyle(canvas);
  ctx.font = "11px system-ui, sans-serif";
  return { ctx, width, height, ink: css.getPropertyValue("--ink").trim() || "#222",
    faint: css.getPropertyValue("--line").trim() || "#ccc" };
}

function extent(values) {
  const v = values.filter((x) => x !== null);
  const lo = Math.min(...v), hi = Math.max(...v);
  return lo === hi ? [lo - 0.5, hi + 0.5] : [lo, hi];
}

function drawParallel() {
  const canvas = $("#hp-parallel");
  const { ctx, width, height, ink, faint } = hpCanvas(canvas);
  const top = 28, bottom = height - 22, left = 40, right = width - 40;
  const n = hp.cols.length;
  hp.axes = hp.cols.map((col, i) => {
    const [lo, hi] = extent(hp.rows.map((r) => hpValue(col, r)));
    const X = n === 1 ? (left + right) / 2 : left + (i * (right - left)) / (n - 1);
    return { col, X, lo, hi, sy: (v) => bottom - ((v - lo) / (hi - lo)) * (bottom - top), top, bottom,
      inv: (Y) => lo + ((bottom - Y) / (bottom - top)) * (hi - lo) };
  });
  const inside = new Set(hpInside());
  const order = [...new Set(hp.rows.map((r) => String(r[state.hpcolor] ?? "")))];
  const alpha = Math.max(0.25, Math.min(0.9, 30 / hp.rows.length));
  for (const pass of [false, true]) { // runs outside the brushes first, faint; those inside over them
    for (const r of hp.rows) {
      if (inside.has(r.key) !== pass) continue;
      ctx.strokeStyle = pass ? hpColour(r, order) : faint;
      ctx.globalAlpha = pass ? alpha : 0.5;
      ctx.beginPath();
      let pen = false;
      for (const a of hp.axes) {
        const v = hpValue(a.col, r);
        if (v === null) { pen = false; continue; }
        const Y = a.sy(v);
        if (pen) ctx.lineTo(a.X, Y); else ctx.moveTo(a.X, Y);
        pen = true;
      }
      ctx.stroke();
    }
  }
  ctx.globalAlpha = 1;
  const brushes = hpBrushes();
  ctx.fillStyle = ink;
  ctx.strokeStyle = ink;
  ctx.textAlign = "center";
  for (const a of hp.axes) {
    ctx.beginPath(); ctx.moveTo(a.X, top); ctx.lineTo(a.X, bottom); ctx.stroke();
    const room = Math.max(6, Math.floor((n > 1 ? (right - left) / (n - 1) : right - left) / 6.5));
    ctx.fillText(a.col.label.length > room ? a.col.label.slice(0, room - 1) + "…" : a.col.label, a.X, 10);
    if (a.col.cats) a.col.cats.forEach((c, i) => ctx.fillText(c.length > room ? c.slice(0, room - 1) + "…" : c, a.X, a.sy(i) - 3));
    else { ctx.fillText(fmt(a.hi), a.X, top - 3); ctx.fillText(fmt(a.lo), a.X, bottom + 13); }
    const b = brushes[a.col.key];
    if (b) {
      ctx.globalAlpha = 0.25;
      ctx.fillRect(a.X - 7, a.sy(Math.min(b[1], a.hi)), 14, a.sy(Math.max(b[0], a.lo)) - a.sy(Math.min(b[1], a.hi)));
      ctx.globalAlpha = 1;
    }
  }
}

function bindParallel(canvas) {
  canvas.addEventListener("mousedown", (e) => {
    const X = e.clientX - canvas.getBoundingClientRect().left;
    const axis = hp.axes.find((a) => Math.abs(a.X - X) < 14);
    if (axis) { hp.drag = { axis, from: e.clientY - canvas.getBoundingClientRect().top, canvas }; e.preventDefault(); }
  });
}

// the end of a brush, wherever the button is let go (a drag may leave the canvas)
window.addEventListener("mouseup", (e) => {
  if (!hp.drag) return;
  const { axis, from, canvas } = hp.drag;
  hp.drag = null;
  const to = e.clientY - canvas.getBoundingClientRect().top;
  const others = Object.entries(hpBrushes()).filter(([k]) => k !== axis.col.key);
  if (Math.abs(to - from) >= 4) { // a click, not a drag, clears this axis's brush
    const clamp = (Y) => Math.min(axis.bottom, Math.max(axis.top, Y));
    const a = axis.inv(clamp(from)), b = axis.inv(clamp(to));
    others.push([axis.col.key, [Math.min(a, b), Math.max(a, b)]]);
  }
  hpBrush(others.map(([k, [lo, hi]]) => `${k}~${lo}~${hi}`).join("|"));
});

// new brushes: the panels drawn again (not rebuilt), and the table lists only the runs inside them (the server
// is told their keys)
function hpBrush(brush) {
  set({ brush });
  hpApply();
  reloadRuns({ offset: "0" });
}

function hpApply() {
  drawParallel();
  drawScatter();
  const brushed = Object.keys(hpBrushes()).length;
  $("#hp-count").textContent = brushed ? `${hpInside().length} of ${hp.rows.length} inside` : "drag along an axis to brush";
  $("#hp-clear").disabled = !brushed;
}

function drawScatter() {
  const canvas = $("#hp-scatter");
  const { ctx, width, height, ink, faint } = hpCanvas(canvas);
  const p = { left: 64, right: 12, top: 10, bottom: 40 };
  const points = hp.rows.map((r) => ({ r, x: hpValue(hp.x, r), y: hpValue(hp.y, r) })).filter((q) => q.x !== null && q.y !== null);
  hp.points = points.map((q) => ({ key: q.r.key, x: q.x, y: q.y }));
  if (!points.length) return;
  const [x0, x1] = extent(points.map((q) => q.x)), [y0, y1] = extent(points.map((q) => q.y));
  const mx = (x1 - x0) * 0.05, my = (y1 - y0) * 0.08;
  const sx = (x) => p.left + ((x - x0 + mx) / (x1 - x0 + 2 * mx)) * (width - p.left - p.right);
  const sy = (y) => height - p.bottom - ((y - y0 + my) / (y1 - y0 + 2 * my)) * (height - p.top - p.bottom);
  ctx.strokeStyle = faint; ctx.fillStyle = ink; ctx.textAlign = "center";
  const xt = hp.x.cats ? hp.x.cats.map((_, i) => i) : ticks(x0, x1, 5).filter((t) => !hp.x.key.startsWith("seed") || Number.isInteger(t));
  const room = Math.max(4, Math.floor((width - p.left - p.right) / Math.max(1, xt.length) / 6.5));
  const short = (text) => (text.length > room ? text.slice(0, room - 1) + "…" : text);
  for (const t of xt) { ctx.beginPath(); ctx.moveTo(sx(t), p.top); ctx.lineTo(sx(t), height - p.bottom); ctx.stroke(); ctx.fillText(short(hpTick(hp.x, t)), sx(t), height - p.bottom + 14); }
  ctx.textAlign = "right";
  const yt = hp.y.cats ? hp.y.cats.map((_, i) => i) : ticks(y0, y1, 4);
  for (const t of yt) { ctx.beginPath(); ctx.moveTo(p.left, sy(t)); ctx.lineTo(width - p.right, sy(t)); ctx.stroke(); ctx.fillText(hpTick(hp.y, t), p.left - 4, sy(t) + 4); }
  ctx.textAlign = "center";
  ctx.fillText(hp.x.label, (p.left + width - p.right) / 2, height - 4);
  ctx.save(); ctx.translate(12, (p.top + height - p.bottom) / 2); ctx.rotate(-Math.PI / 2); ctx.fillText(hp.y.label, 0, 0); ctx.restore();
  const order = [...new Set(hp.rows.map((r) => String(r[state.hpcolor] ?? "")))];
  const inside = new Set(hpInside());
  for (const q of points) {
    ctx.fillStyle = inside.has(q.r.key) ? hpColour(q.r, order) : faint;
    ctx.globalAlpha = 0.8;
    ctx.beginPath(); ctx.arc(sx(q.x), sy(q.y), 3.5, 0, 2 * Math.PI); ctx.fill();
  }
  ctx.globalAlpha = 1;
  // where a colour has several runs at one x (seeds repeated): their mean (or IQM) and its interval, as the
  // server makes every interval over seeds; drawn when its answer is here
  const cells = {};
  for (const q of points) (cells[String(q.r[state.hpcolor] ?? "") + "\u0001" + q.x] ||= []).push(q);
  const repeated = Object.values(cells).filter((group) => group.length >= 2);
  const asked = `${state.est}:` + repeated.map((group) => group.map((q) => String(q.y)).join(",")).join(";");
  const found = hp.estimates[asked];
  hp.means = [];
  $("#hp-method").textContent = repeated.length ? (found ? found.method : "intervals loading…") : "";
  if (!repeated.length) return;
  if (!found) {
    api("/api/estimates", { estimator: state.est, cells: asked.slice(asked.indexOf(":") + 1) }).then((body) => {
      hp.estimates = { [asked]: body }; // only the newest: a chart shows one set of cells
      if ($("#hp-scatter") === canvas) drawScatter();
    }).catch((e) => { $("#hp-method").textContent = e.message; });
    return;
  }
  repeated.forEach((group, i) => {
    const [value, low, high, runs] = found.cells[i];
    const X = sx(group[0].x);
    ctx.strokeStyle = ctx.fillStyle = hpColour(group[0].r, order);
    ctx.lineWidth = 2;
    if (low !== null) { ctx.beginPath(); ctx.moveTo(X, sy(low)); ctx.lineTo(X, sy(high)); ctx.stroke(); }
    ctx.fillRect(X - 6, sy(value) - 1.5, 12, 3);
    ctx.lineWidth = 1;
    hp.means.push({ colour: String(group[0].r[state.hpcolor] ?? ""), x: group[0].x, value, low, high, runs });
  });
}
