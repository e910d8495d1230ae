"""A workspace as one self-contained HTML file: the dashboard's own page, scripts and styles inlined, with every
answer its view asks of the API recorded inside it, so it opens from ``file://`` with no server and no network and
draws the same panels with the same code (zoom, hover, legend toggles, the runs table). ``ol ui --export`` and the
page's "export" button make it.

What is in it: the chosen runs' table rows, each metric's curves on the view's x axes (and its groups, when the view
groups runs), downsampled as the live dashboard downsamples a chart ``width`` columns wide, with ``width`` chosen so
a panel holds at most POINTS_PER_PANEL points over all its runs. Not in it: media (images, histograms, tables), a
zoom's finer points (a zoom enlarges the points in the file), the scatter's intervals and anything live.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs

import msgspec

from ol.consumers.ui import api, table
from ol.consumers.ui.data import BadRequest
from ol.store import started_order

POINTS_PER_PANEL = 25_000  # over all of a panel's runs: 100 runs × 20 panels is then ≤ 10 MB (bench/RESULTS.md)
SCRIPTS = re.findall(r'<script src="/static/([a-z-]+\.js)"></script>',  # as the page loads them, in its order
                     resources.files("ol.consumers.ui").joinpath("static", "index.html").read_text())
MAX_EXPORT_RUNS = 1000


def export_html(store: Path, view: str) -> str:
    """The exported page of ``view`` (a dashboard URL state, as the page's address keeps it after its '#')."""
    dash = api.Dashboard(store)
    state = {k: v[-1] for k, v in parse_qs(view.lstrip("#"), keep_blank_values=True).items()}
    answers = record(dash, state)
    return _page(answers, view.lstrip("#") or "")


def record(dash: api.Dashboard, state: dict[str, str]) -> dict[str, object]:
    """The API's answers the view asks for, by the key the page's export shim looks them up by (app.js
    ``exportKey``)."""
    everything = sorted(dash.reader.refresh(), key=started_order, reverse=True)
    known = {i.key for i in everything}
    asked = state.get("runs", "")
    keys = api.default_runs(everything) if asked == "" else [k for k in asked.split(",") if k in known]
    if len(keys) > MAX_EXPORT_RUNS:
        raise BadRequest(f"export: {len(keys)} runs; a file holds at most {MAX_EXPORT_RUNS}")
    runs = ",".join(keys)
    answers: dict[str, object] = {
        "runs": {**api.runs(dash, {"selected": runs, "only": runs, "limit": str(table.MAX_PAGE)}, None),
                 "default": keys},
        "metrics": api.metrics(dash, {"runs": runs}, None) if keys else {"metrics": []},
        "media-index": {"media": []}, "sweeps": {"sweeps": []}, "workspaces": {"workspaces": []},
    }
    if not keys:
        return answers
    width = str(columns(len(keys)))
    hidden = set(state.get("hide", "").split(","))
    metrics = [m["key"] for m in answers["metrics"]["metrics"] if m["key"] not in hidden]
    added = [part.split("~", 1)[1] for part in state.get("add", "").split("|") if "~" in part]
    own = [part.split("~") for part in state.get("pset", "").split("|") if part]
    axes = {state.get("x", "step") or "step", *(p[1] for p in own if len(p) > 1 and p[1])}
    groupings = {state.get("group", ""), *(p[3] for p in own if len(p) > 3 and p[3] not in ("", "none"))} - {""}
    for metric in dict.fromkeys([*metrics, *added, state.get("metric", "")]):
        if not metric or "/" not in metric:
            continue
        for x in axes:
            base = {"runs": runs, "metric": metric, "x": x, "width": width}
            try:
                answers[f"series|{metric}|{x}"] = api.series(dash, base, None)
                for by in groupings:
                    grouped = {**base, "by": by, "band": state.get("band", "std") or "std"}
                    answers[_groups_key(grouped)] = api.groups(dash, grouped, None)
                    if metric == state.get("metric") and state.get("threshold"):  # the large chart's crossings
                        crossed = {**grouped, "threshold": state["threshold"],
                                   "direction": state.get("direction", "above") or "above",
                                   "estimator": state.get("est", "mean") or "mean"}
                        answers[_groups_key(crossed)] = api.groups(dash, crossed, None)
            except BadRequest:  # an axis a metric has no points on: the page says so, as live
                continue
    return answers


def columns(runs: int) -> int:
    """The width a panel of ``runs`` runs is downsampled to (M4: at most 4 points a column and run)."""
    return max(16, min(2000, POINTS_PER_PANEL // (4 * max(1, runs))))


def _groups_key(q: dict) -> str:
    """As app.js ``exportKey`` names a groups request."""
    parts = [q["metric"], q["x"], q["by"], q["band"]]
    if "threshold" in q:
        parts += [q["threshold"], q["direction"], q["estimator"]]
    return "groups|" + "|".join(parts)


def _page(answers: dict, view: str) -> str:
    static = resources.files("ol.consumers.ui").joinpath("static")
    html = static.joinpath("index.html").read_text()
    style = static.joinpath("style.css").read_text()
    # the store's text inside a <script>: no "</script>" or "<!--" can end or bend it
    data = msgspec.json.encode({"answers": answers, "view": view}).decode().replace("<", "\\u003c")  # NaN: null
    scripts = "".join(f"<script>{_inline(static.joinpath(name).read_text())}</script>\n" for name in SCRIPTS)
    boot = ('<script type="application/json" id="ol-export">' + data + "</script>\n<script>"
            "window.OL_EXPORT = JSON.parse(document.getElementById('ol-export').textContent);"
            "if (!location.hash && window.OL_EXPORT.view) history.replaceState(null, '', '#' + window.OL_EXPORT.view);"
            "</script>\n")
    html = html.replace('<link rel="stylesheet" href="/static/style.css">', f"<style>{style}</style>")
    html = re.sub(r'<script src="/static/[a-z-]+\.js"></script>\n', "", html)
    return html.replace("</body>", boot + scripts + "</body>")


def _inline(script: str) -> str:
    return re.sub(r"</(script)", r"<\\/\1", script, flags=re.IGNORECASE)
