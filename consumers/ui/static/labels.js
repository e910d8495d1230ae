// What the page calls runs and groups: a run's legend label (its name, else strategy, the config values that
// differ among the runs shown, and seed) and the grouping choices (none, the setting, or any set of keys).
// Loaded before app.js; uses its state, page and helpers ($, esc, selected) when called.
"use strict";

// A run's legend label, as `ol plot` labels runs: its name, else its strategy, the values of the config keys
// that differ among the runs shown (never the seed: it has its own place) and its seed; the run id's tail only
// where two would still read the same.
function label(r) {
  const keys = differing();
  const base = (x) => x.name || [x.strategy || x.experiment, ...keys.map((k) => `${k}=${configText(x.config[k])}`),
    `seed ${x.seed ?? "–"}`].join(" · ");
  const twins = selected().filter((k) => page.byKey[k] && base(page.byKey[k]) === base(r)).length;
  return twins > 1 ? `${base(r)} (${r.run_id.slice(-6)})` : base(r);
}

// The config keys whose values differ among the chosen runs (worked out once per choice of runs)
function differing() {
  if (page.differing && page.differing.runs === state.runs && page.differing.rows === page.byKey) return page.differing.keys;
  const rows = selected().map((k) => page.byKey[k]).filter(Boolean);
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.config || {})))].filter((k) => k !== "seed").sort()
    .filter((k) => new Set(rows.map((r) => JSON.stringify((r.config || {})[k] ?? null))).size > 1);
  page.differing = { runs: state.runs, rows: page.byKey, keys };
  return keys;
}

function configText(v) { return v === undefined || v === null ? "–" : typeof v === "object" ? JSON.stringify(v) : String(v); }

// Grouping: none, the setting (strategy and every config key that differs among the runs, never the seed: a band
// is never the mean of different settings), or any set of keys — the first choice, then "and" one more at a time.
const GROUP_NAMES = { "": "no grouping", setting: "setting (strategy + what differs)" };
function fillGroupChoices() {
  const keys = ["strategy", "group", "seed", "experiment", ...page.configKeys.map((k) => "config." + k)];
  const [first, ...rest] = state.group.split(",").filter(Boolean);
  const options = (values, chosen, none) => values.map((o) =>
    `<option value="${esc(o)}" ${o === chosen ? "selected" : ""}>${esc(GROUP_NAMES[o] ?? o) || none}</option>`).join("");
  $("#group").innerHTML = options(["", "setting", ...keys, ...(first && !keys.includes(first) && first !== "setting" ? [first] : [])],
    first || "", "no grouping");
  // "and": a key added to the grouping at each choice (any set of them); "none more" keeps only the first
  const more = keys.filter((k) => k !== first && !rest.includes(k));
  $("#group-and").innerHTML = (rest.length ? `<option value="=" selected>and ${esc(rest.join(", "))}</option>` +
    `<option value="">none more</option>` : `<option value="" selected>and…</option>`) +
    more.map((k) => `<option value="${esc(k)}">+ ${esc(k)}</option>`).join("");
  $("#group-and").hidden = !first || first === "setting";
}
