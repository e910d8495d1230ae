"""Workspaces saved under a name in the store (``<store>/.workspaces/NAME.json``), so a view reopens after the
server restarts and for whoever opens the store: the view is the page's URL state, kept as the page wrote it.
The one thing the dashboard writes: a small file in its own folder, whole or not at all, never through a link;
a file there that is a link, oversized or not one of these is skipped. The folder is bounded (how many, how
much in all), a name already saved is replaced only when asked to, and the listing is names only: a view is
read when it is opened."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

from ol.consumers.ui.data import BadRequest
from ol.store import ensure_dir, plain_name, replace_file

WORKSPACES_DIR = ".workspaces"
MAX_VIEW = 64 * 1024  # a URL state of hundreds of runs and brushes is a few KiB
MAX_WORKSPACES = 200
MAX_TOTAL = 4 * 1024 * 1024  # bytes of every saved view together


def listing(store: Path) -> list[dict]:
    """The saved workspaces' names and when each was saved, newest first (at most MAX_WORKSPACES): read from
    the folder's entries, not the files, so a folder someone filled costs a directory listing."""
    out = [{"name": name, "saved": mtime} for name, _, mtime in _entries(store)]
    return sorted(out, key=lambda w: -w["saved"])[:MAX_WORKSPACES]


def view_of(store: Path, name: object) -> dict:
    """One saved workspace, view and all."""
    if not isinstance(name, str) or not plain_name(name):
        raise BadRequest("name a workspace with letters, digits, '.', '_' or '-' (at most 64)")
    found = _read(Path(store) / WORKSPACES_DIR / f"{name}.json", name)
    if found is None:
        raise BadRequest(f"no saved workspace named {name!r}")
    return found


def save(store: Path, name: object, view: object, replace: object = False) -> dict:
    if not isinstance(name, str) or not plain_name(name):
        raise BadRequest("name a workspace with letters, digits, '.', '_' or '-' (at most 64)")
    if not isinstance(view, str) or len(view) > MAX_VIEW or any(ord(c) < 32 for c in view):
        raise BadRequest(f"a workspace's view is the page's URL state, at most {MAX_VIEW // 1024} KiB of text")
    entries = _entries(store)
    others = [size for other, size, _ in entries if other != name]
    if replace is not True and len(others) < len(entries):
        raise Conflict(f"a workspace named {name!r} is saved already; send \"replace\": true to replace it")
    if len(others) >= MAX_WORKSPACES or sum(others) + len(view) > MAX_TOTAL:
        raise Conflict(f"{MAX_WORKSPACES} workspaces or {MAX_TOTAL // 2**20} MiB of them are saved already: remove "
                       f"some from {Path(store) / WORKSPACES_DIR} first")
    folder = ensure_dir(store, WORKSPACES_DIR, group_writes=True)
    saved = {"name": name, "view": view, "saved": time.time()}
    replace_file(folder, f"{name}.json", json.dumps(saved).encode())
    return saved


class Conflict(BadRequest):
    """The request is well formed but the store's workspaces do not allow it (HTTP 409)."""


def _entries(store: Path) -> list[tuple[str, int, float]]:
    """(name, size, mtime) of each regular file in the folder named as a workspace (links are not followed)."""
    folder = Path(store) / WORKSPACES_DIR
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return []
        entries = list(os.scandir(folder))
    except OSError:
        return []
    out = []
    for entry in entries:
        name = entry.name.removesuffix(".json")
        try:
            if entry.name.endswith(".json") and plain_name(name) and entry.is_file(follow_symlinks=False):
                info = entry.stat(follow_symlinks=False)
                out.append((name, info.st_size, info.st_mtime))
        except OSError:
            continue  # gone since the listing
    return out


def _read(path: Path, name: str) -> dict | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None
            data = json.loads(f.read(MAX_VIEW + 1024))
        if data.get("name") == name and isinstance(data.get("view"), str) and len(data["view"]) <= MAX_VIEW:
            return {"name": name, "view": data["view"]}
    except (OSError, ValueError, TypeError, AttributeError):
        pass  # not a file this dashboard wrote
    return None
