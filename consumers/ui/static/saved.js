// Workspaces saved under a name in the store: the page's URL state, so a view reopens after the server
// restarts and for anyone who opens the store. Loaded before app.js; uses its helpers (api, $, esc).
// The listing is names only; a view is asked for when it is opened. Saving over a name asks for a second press.
"use strict";

const CSRF = () => document.querySelector("meta[name='ol-csrf']").content;
let replacing = ""; // the name a second press of "save" replaces

async function loadSavedWorkspaces() {
  const body = await api("/api/workspaces", {});
  $("#ws-open").innerHTML = `<option value="">saved workspaces…</option>` + body.workspaces.map((w) =>
    `<option value="${esc(w.name)}">${esc(w.name)}</option>`).join("");
  $("#ws-open").hidden = !body.workspaces.length;
  return body.workspaces;
}

async function saveWorkspace() {
  const name = $("#ws-name").value.trim();
  const response = await fetch("/api/workspaces", { method: "POST",
    headers: { "Content-Type": "application/json", "X-OL-CSRF": CSRF() },
    body: JSON.stringify({ name, view: location.hash.slice(1), replace: replacing === name }) });
  const body = await response.json();
  replacing = response.status === 409 && body.error.includes("saved already") ? name : "";
  $("#ws-said").textContent = response.ok ? `saved as ${body.name}` :
    replacing ? `${name} is saved already: save again to replace it` : body.error;
  await loadSavedWorkspaces();
}

async function openSaved(name) {
  const body = await api("/api/workspaces", { name });
  location.hash = body.view;
}

function bindSaved() {
  $("#ws-save").addEventListener("click", () => saveWorkspace());
  $("#ws-name").addEventListener("input", () => { replacing = ""; });
  $("#ws-open").addEventListener("change", (e) => { if (e.target.value) openSaved(e.target.value); });
}
