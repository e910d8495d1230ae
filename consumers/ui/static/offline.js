// An exported workspace (consumers/ui/export.py): the page runs from a file, its API answers recorded inside it
// (window.OL_EXPORT), so ``api`` (app.js) asks ``exported`` instead of the server. Loaded before app.js; uses its
// helpers ($) when called.
"use strict";

// The answers the view asked for are in the file, by the key exportKey gives a request; a zoom gets the points
// the file has (no finer ones), anything else is not in it.
const EXPORT_EMPTY = { "/api/media-index": "media-index", "/api/sweeps": "sweeps", "/api/workspaces": "workspaces" };
function exportKey(path, q) {
  if (path === "/api/runs") return "runs";
  if (path === "/api/metrics") return "metrics";
  if (path === "/api/series") return `series|${q.metric}|${q.x}`;
  if (path === "/api/groups") return ["groups", q.metric, q.x, q.by, q.band,
    ...(q.threshold !== undefined ? [q.threshold, q.direction, q.estimator] : [])].join("|");
  return EXPORT_EMPTY[path] || path;
}

async function exported(path, params) {
  const found = window.OL_EXPORT.answers[exportKey(path, params)];
  if (found === undefined) throw new Error("not in this exported file: open the store with `ol ui` for it");
  if (path === "/api/runs" && params.version === found.version) return { unchanged: true, version: found.version };
  return found;
}

// What needs the server is not offered in a file; the header says what the file is.
function offline() {
  for (const id of ["#ws-save", "#ws-name", "#ws-open", "#ws-export", "#sweep-pick", "#where"]) $(id).hidden = true;
  document.querySelector("header").insertAdjacentHTML("beforeend", `<span class="dim" id="export-note">an ` +
    "exported workspace: the runs' curves as they were when exported, downsampled as drawn (a zoom enlarges these " +
    "points); `ol ui` on the store shows everything else</span>");
}
