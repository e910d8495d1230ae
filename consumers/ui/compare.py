"""Compare runs: what differs between two or more runs — how each was started (strategy, seed, group), its
config as updated, environment (code version, packages, host), contract and summary — with the keys on
which they all agree folded away."""

from __future__ import annotations

import json

import msgspec

from ol.consumers.ui.api import Dashboard, chosen_runs
from ol.consumers.ui.data import BadRequest
from ol.store import run_started

MAX_COMPARED = 50
NOT_SET = None  # a key one run has and another lacks differs; the lacking run shows nothing


def compare(dash: Dashboard, q: dict, _path) -> dict:
    runs = chosen_runs(dash.reader, q)
    if not 2 <= len(runs) <= MAX_COMPARED:
        raise BadRequest(f"compare takes 2 to {MAX_COMPARED} runs, got {len(runs)}")
    described = [_sections(i) for i in runs]
    sections = []
    for name in ("run", "config", "summary", "contract", "environment"):
        tables = [d[name] for d in described]
        keys = list(dict.fromkeys(k for t in tables for k in t))
        differ, same = [], []
        for key in keys:
            values = [t.get(key, NOT_SET) for t in tables]
            if all(_same(v, values[0]) and key in t for v, t in zip(values, tables, strict=True)):
                same.append({"key": key, "value": values[0]})
            else:
                differ.append({"key": key, "values": values})
        sections.append({"name": name, "differ": differ, "same": same})
    return {"runs": [i.key for i in runs], "sections": sections}


def _sections(info) -> dict[str, dict]:
    started = run_started(info.dir)
    environment = msgspec.to_builtins(started.environment) if started else {}
    environment.pop("pid", None)  # a process id differs between any two runs and says nothing about them
    return {"run": {"experiment": info.experiment, "strategy": info.strategy, "seed": info.seed, "group": info.group,
                    "name": info.name, "tags": list(info.tags)},
            "config": _flat(info.config_now), "summary": _flat(info.summary),
            "contract": _flat(msgspec.to_builtins(info.contract)), "environment": _flat(environment)}


def _flat(values: dict, prefix: str = "") -> dict:
    """Nested dicts as one level of 'a/b' keys, so a difference deep in a config is one row."""
    out = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}/"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _same(a, b) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)
