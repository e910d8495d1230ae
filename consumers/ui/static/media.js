// A run's media on its page: a histogram's bins over steps and a vector metric over steps as heatmaps (steps
// down, bins or components across, darker where there is more), an image at a step chosen with a slider
// (drawn into a canvas, its recorded pixels), a table at a step. Loaded before app.js; uses its state and
// helpers (api, $, esc, fmt).
"use strict";

const media = { last: null };

async function showMedia(kind, source, name, step) {
  const box = $("#media-view");
  const params = { kind, source, name };
  if (step !== undefined) params.step = step;
  let body;
  try {
    body = await api(`/api/media/${state.run.split("/").map(encodeURIComponent).join("/")}`, params);
  } catch (e) {
    box.innerHTML = `<p class="error">${esc(e.message)}</p>`;
    return;
  }
  media.last = body;
  const title = `<h3>${esc(kind)} ${esc(source)}/${esc(name)} <span class="dim">${body.steps.length} step(s)</span></h3>`;
  if (kind === "histogram" || kind === "array") {
    box.innerHTML = title + `<canvas id="media-canvas" class="media-heat"></canvas><p class="dim">steps ` +
      `${fmt(body.rows[0].step)} (top) to ${fmt(body.rows[body.rows.length - 1].step)} (bottom); ` +
      (kind === "histogram" ? `each row the bins at that step, darker where more values fell; values from ` +
        `${fmt(Math.min(...body.rows.map((r) => r.edges[0])))} (left) to ` +
        `${fmt(Math.max(...body.rows.map((r) => r.edges[r.edges.length - 1])))} (right)` :
        "each row the vector's components at that step, darker where larger") + "</p>";
    heatmap($("#media-canvas"), body);
  } else if (kind === "image") {
    const i = body.steps.indexOf(body.step);
    box.innerHTML = title + `<label>step <input id="media-step" type="range" min="0" max="${body.steps.length - 1}" ` +
      `value="${i}"> <span id="media-at">${body.step}</span></label>${body.caption ? ` <span class="dim">${esc(body.caption)}</span>` : ""}` +
      `<div><canvas id="media-canvas" data-step="${body.step}" width="${body.width}" height="${body.height}" class="media-image"></canvas></div>`;
    const img = new Image();
    img.onload = () => {
      const canvas = $("#media-canvas");
      if (canvas && canvas.dataset.step === String(body.step)) { canvas.getContext("2d").drawImage(img, 0, 0); canvas.dataset.drawn = "1"; }
    };
    img.src = `data:image/${body.format};base64,${body.data}`;
    $("#media-step").addEventListener("change", (e) => showMedia(kind, source, name, body.steps[Number(e.target.value)]));
  } else {
    const rows = body.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("");
    box.innerHTML = title + `<p class="dim">step ${body.step}: ${body.total} row(s)${body.total > body.rows.length ? `, the first ${body.rows.length} shown` : ""}</p>` +
      `<table class="list" id="media-table"><thead><tr>${body.columns.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>${rows}</tbody></table>`;
  }
}

function heatmap(canvas, body) {
  const width = Math.min(900, canvas.parentElement.clientWidth), rowH = Math.max(2, Math.min(12, Math.floor(360 / body.rows.length)));
  const height = rowH * body.rows.length;
  canvas.width = width; canvas.height = height;
  canvas.style.width = width + "px"; canvas.style.height = height + "px";
  const ctx = canvas.getContext("2d");
  const ink = getComputedStyle(canvas).getPropertyValue("--accent").trim() || "#2f6fd6";
  ctx.fillStyle = ink;
  if (body.kind === "histogram") {
    const lo = Math.min(...body.rows.map((r) => r.edges[0])), hi = Math.max(...body.rows.map((r) => r.edges[r.edges.length - 1]));
    const sx = (v) => ((v - lo) / (hi - lo || 1)) * width;
    body.rows.forEach((r, y) => {
      const top = Math.max(...r.counts, 1);
      r.counts.forEach((c, j) => {
        ctx.globalAlpha = c / top;
        ctx.fillRect(sx(r.edges[j]), y * rowH, Math.max(1, sx(r.edges[j + 1]) - sx(r.edges[j])), rowH);
      });
    });
  } else {
    const top = Math.max(...body.rows.flatMap((r) => r.values.map(Math.abs)), 1e-12);
    body.rows.forEach((r, y) => {
      const w = width / r.values.length;
      r.values.forEach((v, j) => { ctx.globalAlpha = Math.abs(v) / top; ctx.fillRect(j * w, y * rowH, Math.max(1, w), rowH); });
    });
  }
  ctx.globalAlpha = 1;
}
