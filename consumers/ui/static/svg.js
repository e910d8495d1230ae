// The part of a canvas's 2D context that chart.js draws with, recording SVG instead of pixels: the chart
// draws one figure through either, so a panel's SVG download is the panel as drawn (axes, ticks, bands,
// every run's line), in vectors, not a second drawing of it.
"use strict";

class SvgContext {
  constructor(width, height) {
    this.width = width; this.height = height;
    this.parts = []; this.clips = [];
    this.state = { fillStyle: "#000", strokeStyle: "#000", lineWidth: 1, globalAlpha: 1, font: "10px sans-serif",
      textAlign: "start", textBaseline: "alphabetic", transform: "", clipId: "" };
    this.stack = [];
    this.path = "";
    for (const key of Object.keys(this.state)) { // ctx.fillStyle = … and the rest set the current state
      Object.defineProperty(this, key, { get: () => this.state[key], set: (v) => { this.state[key] = v; } });
    }
  }

  save() { this.stack.push({ ...this.state }); }
  restore() { if (this.stack.length) this.state = this.stack.pop(); }
  setTransform() {} // the canvas's device-pixel scale: an SVG is in CSS pixels already
  clearRect() {}
  translate(x, y) { this.state.transform += `translate(${num(x)} ${num(y)})`; }
  rotate(angle) { this.state.transform += `rotate(${num(angle * 180 / Math.PI)})`; }

  beginPath() { this.path = ""; }
  moveTo(x, y) { this.path += `M${num(x)} ${num(y)}`; }
  lineTo(x, y) { this.path += `${this.path ? "L" : "M"}${num(x)} ${num(y)}`; }
  closePath() { this.path += "Z"; }
  rect(x, y, w, h) { this.path += `M${num(x)} ${num(y)}h${num(w)}v${num(h)}h${num(-w)}Z`; }
  arc(x, y, r) { // chart.js draws whole circles only (a run of one point)
    this.path += `M${num(x + r)} ${num(y)}A${num(r)} ${num(r)} 0 1 0 ${num(x - r)} ${num(y)}` +
      `A${num(r)} ${num(r)} 0 1 0 ${num(x + r)} ${num(y)}`;
  }

  clip() {
    const id = `clip${this.clips.length}`;
    this.clips.push(`<clipPath id="${id}"><path d="${this.path}"/></clipPath>`);
    this.state.clipId = id;
  }

  stroke() {
    if (this.path) this._add("path", { d: this.path, fill: "none", ...this._pen() });
  }

  fill() {
    if (this.path) this._add("path", { d: this.path, fill: this.state.fillStyle, "fill-opacity": this._alpha() });
  }

  strokeRect(x, y, w, h) {
    this._add("rect", { x: num(x), y: num(y), width: num(w), height: num(h), fill: "none", ...this._pen() });
  }

  fillText(text, x, y) {
    const s = this.state;
    const size = (/(\d+(?:\.\d+)?)px/.exec(s.font) || [0, "10"])[1];
    const anchor = { center: "middle", right: "end", end: "end" }[s.textAlign] || "start";
    const baseline = { top: "hanging", middle: "central", bottom: "text-after-edge" }[s.textBaseline] || "auto";
    this._add("text", { x: num(x), y: num(y), fill: s.fillStyle, "fill-opacity": this._alpha(), "font-size": size,
      "font-family": "system-ui, sans-serif", "text-anchor": anchor, "dominant-baseline": baseline }, text);
  }

  // no layout engine here: a sans-serif glyph is about 0.55 of the font size wide (enough to wrap a message)
  measureText(text) {
    const size = Number((/(\d+(?:\.\d+)?)px/.exec(this.state.font) || [0, "10"])[1]);
    return { width: 0.55 * size * String(text).length };
  }

  toString() {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${num(this.width)}" height="${num(this.height)}" ` +
      `viewBox="0 0 ${num(this.width)} ${num(this.height)}"><defs>${this.clips.join("")}</defs>` +
      `${this.parts.join("")}</svg>\n`;
  }

  _pen() {
    return { stroke: this.state.strokeStyle, "stroke-width": num(this.state.lineWidth), "stroke-opacity": this._alpha(),
      "stroke-linejoin": "round" };
  }

  _alpha() { return num(this.state.globalAlpha); }

  _add(tag, attrs, text) {
    const s = this.state;
    if (s.transform) attrs.transform = s.transform;
    if (s.clipId) attrs["clip-path"] = `url(#${s.clipId})`;
    const list = Object.entries(attrs).map(([k, v]) => `${k}="${escapeHtml(v)}"`).join(" ");
    this.parts.push(text === undefined ? `<${tag} ${list}/>` : `<${tag} ${list}>${escapeHtml(text)}</${tag}>`);
  }
}

function num(v) { return String(Math.round(v * 100) / 100); }
