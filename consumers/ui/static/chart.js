// A small canvas line chart for many runs: each series keeps its own x values (runs are never joined
// onto one x grid, which for 100 runs of downsampled points would be mostly padding), bands for
// mean ± spread, log y, drag to zoom (the page then asks the server for finer points), double-click
// to reset, and a hover readout of every series at the cursor's x.
"use strict";

class LineChart {
  constructor(root, { onZoom } = {}) {
    this.root = root;
    this.onZoom = onZoom || (() => {});
    root.classList.add("chart");
    this.canvas = document.createElement("canvas");
    this.readout = document.createElement("div");
    this.readout.className = "readout";
    this.selection = document.createElement("div");
    this.selection.className = "selection";
    root.append(this.canvas, this.selection, this.readout);
    this.data = { series: [], bands: [], xLabel: "", yLabel: "", logY: false };
    this.zoom = null; // [x0, x1] or null for everything
    this.pad = { left: 64, right: 16, top: 12, bottom: 40 };
    this._drag = null;
    this._bind();
    new ResizeObserver(() => this.draw()).observe(root);
  }

  // ``empty``: what the chart says instead of drawing axes when no series has a point (why there is nothing)
  setData(data, empty = "no data for these runs") {
    this.data = Object.assign({ series: [], bands: [], xLabel: "", yLabel: "", logY: false }, data);
    const points = this.data.series.some((s) => s.y.some((v) => v !== null && Number.isFinite(v)));
    this.message = points ? "" : empty;
    this.draw();
    if (this._at) this._hover(...this._at); // the readout follows the data under a resting cursor
  }

  // Words instead of a chart (e.g. "loading…"), until the next setData
  setMessage(text) {
    this.message = text;
    this.draw();
  }

  setZoom(range) {
    this.zoom = range;
    this.draw();
  }

  // ranges ----------------------------------------------------------------------------------

  xExtent() {
    let lo = Infinity, hi = -Infinity;
    for (const s of [...this.data.series, ...this.data.bands]) {
      if (s.x.length) { lo = Math.min(lo, s.x[0]); hi = Math.max(hi, s.x[s.x.length - 1]); }
    }
    return lo <= hi ? [lo, hi === lo ? lo + 1 : hi] : [0, 1];
  }

  yExtent(x0, x1) {
    let lo = Infinity, hi = -Infinity;
    const take = (v) => {
      if (v === null || !Number.isFinite(v) || (this.data.logY && v <= 0)) return;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    };
    for (const s of this.data.series) this._within(s.x, x0, x1, (i) => take(s.y[i]));
    for (const b of this.data.bands) this._within(b.x, x0, x1, (i) => { take(b.lo[i]); take(b.hi[i]); });
    if (!(lo <= hi)) return this.data.logY ? [0.1, 1] : [0, 1];
    if (lo === hi) return this.data.logY ? [lo / 2, hi * 2] : [lo - 0.5, hi + 0.5];
    if (this.data.logY) return [lo / 1.1, hi * 1.1];
    const m = (hi - lo) * 0.05;
    return [lo - m, hi + m];
  }

  _within(xs, x0, x1, fn) {
    for (let i = lowerBound(xs, x0); i < xs.length && xs[i] <= x1; i++) fn(i);
  }

  // drawing ---------------------------------------------------------------------------------

  draw() {
    const { width, height } = this.root.getBoundingClientRect();
    if (width < 10 || height < 10) return;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(height * dpr);
    this.canvas.style.width = width + "px";
    this.canvas.style.height = height + "px";
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    this._paint(ctx, width, height);
  }

  // The chart as drawn, in vectors (svg.js records the same drawing calls the canvas gets)
  toSVG() {
    const { width, height } = this.root.getBoundingClientRect();
    const svg = new SvgContext(width, height);
    this._paint(svg, width, height);
    return svg.toString();
  }

  _paint(ctx, width, height) {
    const css = getComputedStyle(this.root);
    const ink = css.getPropertyValue("--ink").trim() || "#222";
    this.root.dataset.message = this.message || "";
    if (this.message) { // no made-up 0–1 axes: say why there is nothing to see
      ctx.fillStyle = css.getPropertyValue("--dim").trim() || "#777";
      ctx.font = "13px system-ui, sans-serif";
      ctx.textAlign = "center";
      const lines = [""]; // wrapped at words to the chart's width
      for (const word of this.message.split(" ")) {
        const line = lines[lines.length - 1] ? `${lines[lines.length - 1]} ${word}` : word;
        if (lines[lines.length - 1] && ctx.measureText(line).width > width - 16) lines.push(word);
        else lines[lines.length - 1] = line;
      }
      lines.forEach((line, i) => ctx.fillText(line, width / 2, height / 2 + (i - (lines.length - 1) / 2) * 17));
      return;
    }
    const grid = css.getPropertyValue("--grid").trim() || "#ddd";
    const [x0, x1] = this.zoom || this.xExtent();
    const [y0, y1] = this.yExtent(x0, x1);
    const p = this.pad, w = width - p.left - p.right, h = height - p.top - p.bottom;
    const ly = this.data.logY;
    const fy = ly ? Math.log10 : (v) => v;
    const sx = (x) => p.left + ((x - x0) / (x1 - x0)) * w;
    const sy = (y) => p.top + h - ((fy(y) - fy(y0)) / (fy(y1) - fy(y0))) * h;
    this.frame = { x0, x1, y0, y1, sx, sy, p, w, h };

    ctx.font = "12px system-ui, sans-serif";
    ctx.strokeStyle = grid;
    ctx.fillStyle = ink;
    ctx.lineWidth = 1;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const t of ticks(x0, x1, Math.max(2, Math.floor(w / 90)))) {
      const X = sx(t);
      ctx.beginPath(); ctx.moveTo(X, p.top); ctx.lineTo(X, p.top + h); ctx.stroke();
      ctx.fillText(fmt(t), X, p.top + h + 4);
    }
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const t of ly ? logTicks(y0, y1) : ticks(y0, y1, Math.max(3, Math.floor(h / 50)), 3)) {
      const Y = sy(t);
      ctx.beginPath(); ctx.moveTo(p.left, Y); ctx.lineTo(p.left + w, Y); ctx.stroke();
      ctx.fillText(fmt(t), p.left - 6, Y);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText(this.data.xLabel, p.left + w / 2, height - 2);
    ctx.save();
    ctx.translate(12, p.top + h / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(this.data.yLabel + (ly ? " (log)" : ""), 0, 0);
    ctx.restore();

    ctx.save();
    ctx.beginPath(); ctx.rect(p.left, p.top, w, h); ctx.clip();
    const usable = (v) => v !== null && Number.isFinite(v) && (!ly || v > 0);
    for (const b of this.data.bands) {
      ctx.fillStyle = b.color;
      ctx.globalAlpha = 0.18;
      let i = 0;
      while (i < b.x.length) { // one polygon per run of points where the band is defined
        while (i < b.x.length && !(usable(b.lo[i]) && usable(b.hi[i]))) i++;
        const start = i;
        while (i < b.x.length && usable(b.lo[i]) && usable(b.hi[i])) i++;
        if (i - start < 1) continue;
        ctx.beginPath();
        for (let k = start; k < i; k++) ctx.lineTo(sx(b.x[k]), sy(b.hi[k]));
        for (let k = i - 1; k >= start; k--) ctx.lineTo(sx(b.x[k]), sy(b.lo[k]));
        ctx.closePath(); ctx.fill();
      }
    }
    ctx.globalAlpha = 1;
    for (const s of this.data.series) {
      ctx.strokeStyle = s.color;
      ctx.globalAlpha = s.alpha ?? 1;
      ctx.lineWidth = s.width ?? 1.5;
      ctx.beginPath();
      let pen = false;
      const lo = Math.max(0, lowerBound(s.x, x0) - 1);
      for (let i = lo; i < s.x.length; i++) {
        const v = s.y[i];
        if (!usable(v)) { pen = false; continue; }
        const X = sx(s.x[i]), Y = sy(v);
        if (pen) ctx.lineTo(X, Y); else { ctx.moveTo(X, Y); pen = true; }
        if (s.x[i] > x1) break;
      }
      if (s.x.length === 1 && usable(s.y[0])) ctx.arc(sx(s.x[0]), sy(s.y[0]), 2, 0, 2 * Math.PI);
      ctx.stroke();
    }
    ctx.restore();
    ctx.globalAlpha = 1;
    ctx.strokeStyle = ink;
    ctx.strokeRect(p.left, p.top, w, h);
  }

  // interaction -----------------------------------------------------------------------------

  _bind() {
    const c = this.canvas;
    const local = (e) => { const r = c.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
    const toX = (X) => this.frame.x0 + ((X - this.frame.p.left) / this.frame.w) * (this.frame.x1 - this.frame.x0);
    c.addEventListener("mousedown", (e) => { this._drag = local(e)[0]; });
    c.addEventListener("mousemove", (e) => {
      const [X, Y] = local(e);
      if (this._drag !== null) {
        const a = Math.min(this._drag, X), b = Math.max(this._drag, X);
        Object.assign(this.selection.style, { display: "block", left: a + "px", width: b - a + "px",
          top: this.frame.p.top + "px", height: this.frame.h + "px" });
      }
      this._hover(X, Y);
    });
    window.addEventListener("mouseup", (e) => {
      if (this._drag === null) return;
      const X = local(e)[0], a = Math.min(this._drag, X), b = Math.max(this._drag, X);
      this._drag = null;
      this.selection.style.display = "none";
      if (b - a > 4) this.onZoom([toX(a), toX(b)]);
    });
    c.addEventListener("dblclick", () => this.onZoom(null));
    c.addEventListener("mouseleave", () => { this._at = null; this.readout.style.display = "none"; });
  }

  _hover(X, Y) {
    this._at = [X, Y];
    if (!this.frame || X < this.frame.p.left || X > this.frame.p.left + this.frame.w) {
      this.readout.style.display = "none";
      return;
    }
    const f = this.frame, x = f.x0 + ((X - f.p.left) / f.w) * (f.x1 - f.x0);
    const rows = [];
    for (const s of this.data.series) {
      if (s.hover === false || !s.x.length) continue;
      let i = lowerBound(s.x, x);
      if (i >= s.x.length || (i > 0 && x - s.x[i - 1] < s.x[i] - x)) i -= 1;
      if (i < 0) continue;
      rows.push({ label: s.label, color: s.color, x: s.x[i], y: s.y[i] });
    }
    rows.sort((a, b) => (b.y ?? -Infinity) - (a.y ?? -Infinity));
    const shown = rows.slice(0, 12);
    this.readout.innerHTML = `<div class="rx">${escapeHtml(this.data.xLabel)} ${fmt(x)}</div>` + shown.map((r) =>
      `<div><span class="sw" style="background:${r.color}"></span>${escapeHtml(r.label)}` +
      ` <b>${r.y === null ? "NaN" : fmt(r.y)}</b> <span class="dim">@ ${fmt(r.x)}</span></div>`).join("") +
      (rows.length > shown.length ? `<div class="dim">+${rows.length - shown.length} more</div>` : "");
    const right = X > this.frame.p.left + this.frame.w / 2;
    Object.assign(this.readout.style, { display: "block", top: Math.max(0, Y - 20) + "px",
      left: right ? "" : X + 16 + "px", right: right ? this.root.clientWidth - X + 16 + "px" : "" });
  }
}

function lowerBound(xs, x) {
  let lo = 0, hi = xs.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (xs[mid] < x) lo = mid + 1; else hi = mid; }
  return lo;
}

// About ``count`` round values (steps of 1, 2 or 5 × 10^k) between lo and hi, and never fewer than ``least``: a
// small panel still gets readable ticks, not a lone "3".
function ticks(lo, hi, count, least = 2) {
  let step = niceStep((hi - lo) / count), out = [];
  for (let tries = 0; tries < 8; tries++) {
    out = [];
    // counted from lo (not added up), so 0.1 + 0.2 never prints as 0.30000000000000004
    for (let i = Math.ceil(lo / step); i * step <= hi + step * 1e-9; i++) out.push(Number((i * step).toPrecision(12)));
    if (out.length >= least) break;
    const f = Math.round(step / Math.pow(10, Math.floor(Math.log10(step)))); // 1, 2 or 5
    step *= f === 5 ? 0.4 : 0.5; // 5 → 2 → 1 → 0.5 …
  }
  return out;
}

function niceStep(raw) {
  const p = Math.pow(10, Math.floor(Math.log10(raw || 1)));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

function logTicks(lo, hi) {
  const out = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    const t = Math.pow(10, e);
    if (t >= lo && t <= hi) out.push(t);
  }
  return out.length >= 2 ? out : ticks(lo, hi, 4).filter((t) => t > 0);
}

function fmt(v) {
  if (v === null || v === undefined) return "–";
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  return Number(v.toPrecision(4)).toString();
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
