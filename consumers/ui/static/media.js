// Media, drawn from the recorded events: a histogram's bins over steps and a vector metric over steps as
// heatmaps with labelled axes (steps down, values or components across, darker where there is more), an image
// at a step chosen with a slider (drawn into a canvas, its recorded pixels), a table at a step. As the media
// section of the workspace and of a run's page (renderMediaSection: a panel per histogram, image, table and
// vector metric the runs logged, each showing one of those runs). Loaded before app.js; uses its state and
// helpers (api, $, esc, fmt, ticks).
"use strict";

const media = { last: null, section: 0 };

// Draw run ``run``'s ``kind`` ``source/name`` (at ``step``: images and tables) into ``box``; ``titled``: with a
// heading naming it (a workspace panel's head already does).
async function renderMedia(box, run, kind, source, name, step, titled = true) {
  const params = { kind, source, name };
  if (step !== undefined) params.step = step;
  let body;
  try {
    body = await api(`/api/media/${run.split("/").map(encodeURIComponent).join("/")}`, params);
  } catch (e) {
    box.innerHTML = `<p class="error">${esc(e.message)}</p>`;
    return;
  }
  media.last = body;
  box.media = body; // what this box draws (a page test reads it back)
  const title = titled ? `<h3>${esc(kind)} ${esc(source)}/${esc(name)} <span class="dim">${body.steps.length} step(s)</span></h3>` :
    `<p class="dim">${esc(run)}: ${body.steps.length} step(s)</p>`;
  if (kind === "histogram" || kind === "array") {
    box.innerHTML = title + `<canvas class="media-canvas media-heat"></canvas><p class="dim">` +
      (kind === "histogram" ? "each row the values' distribution at that step, darker where more values fell" :
        "each row the vector's components at that step, darker where larger") + "</p>";
    heatmap(box.querySelector(".media-canvas"), body);
  } else if (kind === "image") {
    const i = body.steps.indexOf(body.step);
    box.innerHTML = title + `<label>step <input class="media-step" type="range" min="0" max="${body.steps.length - 1}" ` +
      `value="${i}"> <span>${body.step}</span></label>${body.caption ? ` <span class="dim">${esc(body.caption)}</span>` : ""}` +
      `<div><canvas class="media-canvas media-image" data-step="${body.step}" width="${body.width}" height="${body.height}"></canvas></div>`;
    const img = new Image();
    img.onload = () => {
      const canvas = box.querySelector(".media-canvas");
      if (canvas && canvas.dataset.step === String(body.step)) { canvas.getContext("2d").drawImage(img, 0, 0); canvas.dataset.drawn = "1"; }
    };
    img.src = `data:image/${body.format};base64,${body.data}`;
    box.querySelector(".media-step").addEventListener("change", (e) =>
      renderMedia(box, run, kind, source, name, body.steps[Number(e.target.value)], titled));
  } else {
    const rows = body.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("");
    box.innerHTML = title + `<p class="dim">step ${body.step}: ${body.total} row(s)${body.total > body.rows.length ? `, the first ${body.rows.length} shown` : ""}</p>` +
      `<table class="list media-table"><thead><tr>${body.columns.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>${rows}</tbody></table>`;
  }
}

// The workspace's media section for the chosen runs ``keys``: a panel per medium, which asks for its
// media only once it scrolls into view; a panel's menu picks which of the runs that logged it is shown.
async function renderMediaSection(root, keys) {
  const generation = (media.section += 1);
  if (media.seen) media.seen.disconnect();
  let body = { media: [] };
  if (keys.length) {
    try {
      body = await api("/api/media-index", { runs: keys.join(",") });
    } catch (e) {
      root.innerHTML = `<p class="error">${esc(e.message)}</p>`;
      return;
    }
  }
  if (generation !== media.section) return; // the runs changed while this was asked for
  const label = (m) => `${m.kind} ${m.source}/${m.name}`;
  root.innerHTML = !body.media.length ? "" :
    `<section class="ws-section" data-source="media"><h3>media <span class="dim">${body.media.length} ` +
    `panel${body.media.length === 1 ? "" : "s"}: what the runs logged as histograms, images, tables and ` +
    `vectors</span></h3><div class="ws-grid size-m">` + body.media.map((m, i) =>
      `<div class="panel media-panel${m.kind === "table" ? " wide" : ""}" data-i="${i}" data-medium="${esc(label(m))}">` +
      `<div class="panel-head"><span class="panel-title" title="${esc(label(m))}">${esc(label(m))}</span>` +
      `<select class="media-run" title="the run whose ${esc(m.kind)} is shown">${m.runs.map((k) =>
        `<option value="${esc(k)}">${esc(k)}</option>`).join("")}</select></div><div class="media-box"></div></div>`).join("") +
    "</div></section>";
  const draw = (el) => {
    const m = body.media[Number(el.dataset.i)];
    renderMedia(el.querySelector(".media-box"), el.querySelector(".media-run").value, m.kind, m.source, m.name,
      undefined, false);
  };
  media.seen = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting) { media.seen.unobserve(e.target); draw(e.target); }
  }, { rootMargin: "200px" });
  for (const el of root.querySelectorAll(".media-panel")) {
    el.querySelector(".media-run").addEventListener("change", () => draw(el));
    media.seen.observe(el);
  }
}

// Steps down (labelled on the left), values (a histogram's bin edges) or component indices across (labelled
// below), each cell darker where there is more.
function heatmap(canvas, body) {
  const pad = { left: 58, right: 10, top: 6, bottom: 34 };
  const width = Math.min(900, canvas.parentElement.clientWidth);
  const rowH = Math.max(2, Math.min(40, Math.floor(240 / body.rows.length)));
  const height = rowH * body.rows.length + pad.top + pad.bottom, plotW = width - pad.left - pad.right;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr); canvas.height = Math.round(height * dpr);
  canvas.style.width = width + "px"; canvas.style.height = height + "px";
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const css = getComputedStyle(canvas);
  const accent = css.getPropertyValue("--accent").trim() || "#2f6fd6", ink = css.getPropertyValue("--ink").trim() || "#222";
  const histogram = body.kind === "histogram";
  const lo = histogram ? Math.min(...body.rows.map((r) => r.edges[0])) : 0;
  const hi = histogram ? Math.max(...body.rows.map((r) => r.edges[r.edges.length - 1])) :
    Math.max(...body.rows.map((r) => r.values.length));
  const sx = (v) => pad.left + ((v - lo) / (hi - lo || 1)) * plotW;
  const top = histogram ? 0 : Math.max(...body.rows.flatMap((r) => r.values.map(Math.abs)), 1e-12);
  ctx.fillStyle = accent;
  body.rows.forEach((r, y) => {
    const Y = pad.top + y * rowH;
    if (histogram) {
      const most = Math.max(...r.counts, 1);
      r.counts.forEach((c, j) => {
        ctx.globalAlpha = c / most;
        ctx.fillRect(sx(r.edges[j]), Y, Math.max(1, sx(r.edges[j + 1]) - sx(r.edges[j])), rowH);
      });
    } else {
      r.values.forEach((v, j) => { ctx.globalAlpha = Math.abs(v) / top; ctx.fillRect(sx(j), Y, Math.max(1, sx(j + 1) - sx(j)), rowH); });
    }
  });
  ctx.globalAlpha = 1;
  ctx.fillStyle = ink; ctx.strokeStyle = ink; ctx.font = "11px system-ui, sans-serif";
  const bottom = pad.top + rowH * body.rows.length;
  ctx.beginPath(); ctx.moveTo(pad.left, pad.top); ctx.lineTo(pad.left, bottom); ctx.lineTo(width - pad.right, bottom); ctx.stroke();
  ctx.textAlign = "center";
  for (const t of ticks(lo, hi, Math.max(3, Math.floor(plotW / 90)))) {
    if (!histogram && !Number.isInteger(t)) continue;
    ctx.fillText(fmt(t), sx(t), bottom + 13);
  }
  ctx.fillText(histogram ? "value" : "component", pad.left + plotW / 2, bottom + 28);
  ctx.textAlign = "right";
  const every = Math.max(1, Math.ceil(14 / rowH)); // a step label every few rows, never overlapping
  body.rows.forEach((r, y) => { if (y % every === 0 || y === body.rows.length - 1 && y % every > every / 2) ctx.fillText(fmt(r.step), pad.left - 4, pad.top + y * rowH + rowH / 2 + 4); });
  ctx.save(); ctx.translate(11, pad.top + (bottom - pad.top) / 2); ctx.rotate(-Math.PI / 2); ctx.textAlign = "center";
  ctx.fillText("step", 0, 0); ctx.restore();
}
