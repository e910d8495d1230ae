"""A run's media for its page and the workspace's media panels: a histogram's bins over steps and a vector
metric over steps (heatmaps, at most MAX_STEPS steps, taken evenly), an image at a chosen step (the recorded
file itself), a table at a step (its first MAX_ROWS rows); each read from the run's own rows of the
arrays/histograms/images/tables views. ``media_index``: which media the chosen runs logged, each with the
runs that did (names and steps only, never the values)."""

from __future__ import annotations

import base64
import json

import pyarrow.compute as pc

from ol.consumers.ui.api import Dashboard, chosen_runs
from ol.consumers.ui.data import MEDIA_TABLES, BadRequest, media_names, named_run

KINDS = {table[:-1]: table for table in MEDIA_TABLES}  # a kind of media, by the table holding it
MAX_STEPS = 200  # rows of a heatmap sent to a page: one per pixel row of any panel
MAX_ROWS = 200


def media(dash: Dashboard, q: dict, path: dict) -> dict:
    info = named_run(dash.reader, f"{path['experiment']}/{path['run_id']}")
    kind, source, name = q.get("kind", ""), q.get("source", ""), q.get("name", "")
    if kind not in KINDS:
        raise BadRequest(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    table = dash.reader.table(info, KINDS[kind])
    table = table.filter(pc.and_(pc.equal(table["source"], source), pc.equal(table["name"], name)))
    if not table.num_rows:
        raise BadRequest(f"this run logged no {kind} {source}/{name}")
    table = table.sort_by([("step", "ascending")])
    steps = table["step"].to_pylist()
    out = {"kind": kind, "source": source, "name": name, "steps": steps}
    if kind in ("histogram", "array"):
        n = min(MAX_STEPS, len(steps))  # rows sent, spread evenly over the steps, first and last included
        keep = sorted({round(i * (len(steps) - 1) / max(1, n - 1)) for i in range(n)})
        rows = table.take(keep).to_pylist()
        if kind == "histogram":
            out["rows"] = [{"step": r["step"], "edges": r["edges"], "counts": r["counts"]} for r in rows]
        else:
            out["rows"] = [{"step": r["step"], "shape": r["shape"], "values": r["values"]} for r in rows]
        return out
    at = _step(q, steps)
    row = table.filter(pc.equal(table["step"], at)).to_pylist()[-1]
    if kind == "image":
        out.update(step=at, format=row["format"], width=row["width"], height=row["height"], caption=row["caption"],
                   data=base64.b64encode(row["data"]).decode())
    else:
        cells = json.loads(row["data"])
        out.update(step=at, columns=row["columns"], rows=cells[:MAX_ROWS], total=row["rows"])
    return out


def media_index(dash: Dashboard, q: dict, _path) -> dict:
    found = media_names(dash.reader, chosen_runs(dash.reader, q))
    return {"media": [{"kind": kind, "source": source, "name": name, "runs": runs}
                      for (kind, source, name), runs in found.items()]}


def _step(q: dict, steps: list[int]) -> int:
    """The step asked for, else the last; a step with no record is the nearest one before it."""
    if "step" not in q:
        return steps[-1]
    try:
        wanted = int(q["step"])
    except ValueError:
        raise BadRequest(f"step must be a whole number, got {q['step']!r}") from None
    before = [s for s in steps if s <= wanted]
    return before[-1] if before else steps[0]
