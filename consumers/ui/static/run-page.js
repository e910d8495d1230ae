// A run's page: config, environment, commands, warnings and notes, checkpoints, hook metrics, events.
// Loaded before app.js; uses its state and helpers (api, $, esc, duration, stopLive) when called.
"use strict";

async function showRun() {
  $("#runs-view").hidden = true;
  $("#run-view").hidden = false;
  stopLive();
  let body;
  try {
    body = await api(`/api/run/${state.run.split("/").map(encodeURIComponent).join("/")}`,
      state.kind ? { kind: state.kind } : {});
  } catch (e) {
    $("#run-view").innerHTML = `<p class="error">${esc(e.message)}</p><p><a href="#" id="back">← all runs</a></p>`;
    return;
  }
  const r = body.run;
  const kv = (obj) => `<table class="kv">${Object.entries(obj).map(([k, v]) =>
    `<tr><th>${esc(k)}</th><td>${esc(typeof v === "object" && v !== null ? JSON.stringify(v) : v)}</td></tr>`).join("")}</table>`;
  const list = (rows, fields) => rows.length ? `<table class="list"><thead><tr>${fields.map((f) => `<th>${esc(f)}</th>`).join("")}` +
    `</tr></thead><tbody>${rows.map((row) => `<tr>${fields.map((f) => `<td>${esc(row[f] ?? "")}</td>`).join("")}</tr>`).join("")}</tbody></table>` : `<p class="dim">none</p>`;
  const hooks = Object.entries(body.hooks).map(([h, names]) => `<div><b>${esc(h)}</b>: ${names.map((n) =>
    `<a href="#" data-plot="${esc(h + "/" + n)}">${esc(n)}</a>`).join(", ")}</div>`).join("") || `<p class="dim">none</p>`;
  const kinds = Object.entries(body.event_kinds).map(([k, n]) =>
    `<option value="${esc(k)}" ${k === state.kind ? "selected" : ""}>${esc(k)} (${n})</option>`).join("");
  const commands = Object.entries(body.commands).filter(([, c]) => c).map(([k, c]) =>
    `<tr><th>${esc(k.replace("_", " "))}</th><td><code>${esc(c)}</code></td></tr>`).join("");
  $("#run-view").innerHTML = `
    <p><a href="#" id="back">← all runs</a></p>
    <h2>${esc(r.experiment)} / ${esc(r.run_id)}${r.name ? ` — ${esc(r.name)}` : ""} <span class="status ${esc(r.status)}">${esc(r.status)}</span></h2>
    ${r.tags && r.tags.length ? `<p class="tags">${r.tags.map((t) => `<span class="tag">${esc(t)}</span>`).join(" ")}</p>` : ""}
    ${r.error ? `<p class="error">${esc(r.error)}</p>` : ""}${r.problem ? `<p class="problem">⚠ ${esc(r.problem)}</p>` : ""}
    <p><a href="#" data-plot-run="${esc(r.key)}">plot this run</a> · strategy ${esc(r.strategy)} · seed ${esc(r.seed)} ·
      step ${esc(r.last_step)} · epoch ${esc(r.last_epoch)} · ${esc(duration(r.wall_time))}${body.parameters ? ` · ${body.parameters.toLocaleString()} parameters` : ""}</p>
    <div class="cols"><section><h3>config</h3>${kv(body.config)}${Object.keys(r.config_updates || {}).length ?
      `<p class="dim">changed after the start (run.config.update): ${esc(Object.keys(r.config_updates).join(", "))}</p>` : ""}</section>
      ${Object.keys(r.summary || {}).length ? `<section><h3>summary</h3>${kv(r.summary)}</section>` : ""}
      <section><h3>environment</h3>${kv(body.environment)}</section></div>
    <section><h3>reproduce, resume, replay</h3><table class="kv">${commands}</table></section>
    <section><h3>warnings</h3>${list(body.warnings, ["step", "level", "message"])}</section>
    <section><h3>notes</h3>${list(body.notes, ["step", "epoch", "level", "message"])}</section>
    <section><h3>checkpoints</h3>${list(body.checkpoints, ["step", "epoch", "reason", "path", "size", "sha256"])}</section>
    <section><h3>hook metrics</h3>${hooks}</section>
    <section><h3>arrays, histograms, images, tables</h3>${list((body.vectors || []).map((v) => ({ ...v,
      shape: v.shape ? v.shape.join(" × ") : "", draw: v.kind === "array" ? `ol plot area ${r.run_id} -m ${v.source}/${v.name}` :
        v.kind === "histogram" || v.kind === "image" ? `ol plot ${v.kind === "image" ? "images" : "histogram"} ${r.run_id} -m ${v.source === "train" ? "" : v.source + "/"}${v.name}` : "" })),
      ["kind", "source", "name", "count", "last_step", "shape", "draw"])}
      ${(body.vectors || []).map((v) => `<a href="#" data-media="${esc([v.kind, v.source, v.name].join("\u0001"))}">show ${esc(v.kind)} ${esc(v.name)}</a>`).join(" · ")}
      <div id="media-view"></div></section>
    <section><h3>events <select id="kind"><option value="">all kinds</option>${kinds}</select></h3>
      ${list(body.events.slice().reverse(), ["seq", "kind", "step", "epoch", "event"])}</section>`;
}

