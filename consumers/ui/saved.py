"""Workspaces saved under a name in the store (``<store>/.workspaces/NAME.json``), so a view reopens after the
server restarts and for whoever opens the store: the view is the page's URL state, kept as the page wrote it.
The one thing the dashboard writes: a small file in its own folder, whole or not at all, never through a link;
a file there that is a link, oversized or not one of these is skipped."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

from ol.consumers.ui.data import BadRequest
from ol.store.derived import ensure_dir, replace_file
from ol.store.rundir import plain_name

WORKSPACES_DIR = ".workspaces"
MAX_VIEW = 64 * 1024  # a URL state of hundreds of runs and brushes is a few KiB


def listing(store: Path) -> list[dict]:
    """Every saved workspace, newest first."""
    folder = Path(store) / WORKSPACES_DIR
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return []
    except OSError:
        return []
    out = []
    for entry in os.scandir(folder):
        name = entry.name.removesuffix(".json")
        if not entry.name.endswith(".json") or not plain_name(name) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as f:
                data = json.loads(f.read(MAX_VIEW + 1024))
            if data.get("name") == name and isinstance(data.get("view"), str) and len(data["view"]) <= MAX_VIEW:
                out.append({"name": name, "view": data["view"], "saved": float(data.get("saved", 0))})
        except (OSError, ValueError, TypeError, AttributeError):
            continue  # not a file this dashboard wrote
    return sorted(out, key=lambda w: -w["saved"])


def save(store: Path, name: object, view: object) -> dict:
    if not isinstance(name, str) or not plain_name(name):
        raise BadRequest("name a workspace with letters, digits, '.', '_' or '-' (at most 64)")
    if not isinstance(view, str) or len(view) > MAX_VIEW or any(ord(c) < 32 for c in view):
        raise BadRequest(f"a workspace's view is the page's URL state, at most {MAX_VIEW // 1024} KiB of text")
    folder = ensure_dir(store, WORKSPACES_DIR)
    saved = {"name": name, "view": view, "saved": time.time()}
    replace_file(folder, f"{name}.json", json.dumps(saved).encode())
    return saved
