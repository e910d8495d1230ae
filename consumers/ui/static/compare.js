// Compare runs: for the chosen runs, every key on which they differ — how each was started, its config,
// summary, contract and environment — one column per run; keys they all share are folded under each section.
// Loaded before app.js; uses its state and helpers (api, $, esc, label, runColor, selected, stopLive).
"use strict";

async function showCompare() {
  $("#runs-view").hidden = true;
  $("#run-view").hidden = false;
  stopLive();
  const keys = selected();
  let body;
  try {
    body = await api("/api/compare", { runs: keys.join(",") });
  } catch (e) {
    $("#run-view").innerHTML = `<p class="error">${esc(e.message)}</p><p><a href="#" id="back">← all runs</a></p>`;
    return;
  }
  const cell = (v) => v === null || v === undefined ? `<span class="dim">–</span>` :
    esc(typeof v === "object" ? JSON.stringify(v) : String(v));
  const head = `<tr><th></th>${body.runs.map((k) => `<th><span class="sw" style="background:${runColor(k)}"></span>` +
    `<a href="#" data-run="${esc(k)}">${esc(page.byKey[k] ? label(page.byKey[k]) : k)}</a></th>`).join("")}</tr>`;
  const sections = body.sections.map((s) => {
    const rows = s.differ.map((d) => `<tr data-key="${esc(s.name + ":" + d.key)}"><th>${esc(d.key)}</th>` +
      d.values.map((v) => `<td>${cell(v)}</td>`).join("") + "</tr>").join("");
    const same = s.same.length ? `<details><summary class="dim">${s.same.length} key${s.same.length === 1 ? "" : "s"} ` +
      `the same in every run</summary><table class="kv">${s.same.map((d) =>
        `<tr><th>${esc(d.key)}</th><td>${cell(d.value)}</td></tr>`).join("")}</table></details>` : "";
    return `<section class="compare-section" data-section="${esc(s.name)}"><h3>${esc(s.name)} ` +
      `<span class="dim">${s.differ.length} differ${s.differ.length === 1 ? "s" : ""}</span></h3>` +
      (rows ? `<table class="list compare"><thead>${head}</thead><tbody>${rows}</tbody></table>` : "") + same +
      "</section>";
  }).join("");
  $("#run-view").innerHTML = `<p><a href="#" id="back">← all runs</a></p>` +
    `<h2>what differs between ${body.runs.length} runs</h2>${sections}`;
}
