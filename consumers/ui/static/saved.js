// Workspaces saved under a name in the store: the page's URL state, so a view reopens after the server
// restarts and for anyone who opens the store. Loaded before app.js; uses its helpers (api, $, esc).
"use strict";

async function loadSavedWorkspaces() {
  const body = await api("/api/workspaces", {});
  $("#ws-open").innerHTML = `<option value="">saved workspaces…</option>` + body.workspaces.map((w) =>
    `<option value="${esc(w.view)}">${esc(w.name)}</option>`).join("");
  $("#ws-open").hidden = !body.workspaces.length;
  return body.workspaces;
}

async function saveWorkspace() {
  const name = $("#ws-name").value.trim();
  const response = await fetch("/api/workspaces", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name, view: location.hash.slice(1) }) });
  const body = await response.json();
  $("#ws-said").textContent = response.ok ? `saved as ${body.name}` : body.error;
  await loadSavedWorkspaces();
}

function bindSaved() {
  $("#ws-save").addEventListener("click", () => saveWorkspace());
  $("#ws-open").addEventListener("change", (e) => { if (e.target.value) location.hash = e.target.value; });
}
