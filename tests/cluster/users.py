"""Other Unix users for tests of a store a lab shares: a group, its members, one outsider, and a Python they can run.

This machine's Python lives in root's home, which other users cannot enter; their processes run Debian's
``/usr/bin/python3`` (the same 3.11 ABI) on a folder under /tmp that holds ol and the packages it imports,
hard-linked from this interpreter's (copied where links cannot be made). Users and the group are made once
(``useradd``, as root) and kept: making them again is a no-op, so parallel workers share them.
"""

from __future__ import annotations

import fcntl
import grp
import importlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

GROUP = "ol-lab"
MEMBERS = ("ol-alice", "ol-bob")
OUTSIDER = "ol-mallory"
DEBIAN_PYTHON = "/usr/bin/python3"
OL_PARTS = ("cli", "consumers", "experiments", "producer", "schemas", "store")
# what `ol runs`, the Run API and the indexer import, found by importing them here (one level: top packages)
PROBE = ("import sys; from ol.producer import Run; from ol.cli import app; import ol.store.index.write, "
         "ol.store.read.snapshot, pyarrow.parquet, duckdb; "
         "print('\\n'.join(sorted({m.split('.')[0] for m in sys.modules})))")


def unavailable() -> str | None:
    """Why other users cannot be made here, in one line; None when they can."""
    if os.geteuid() != 0:
        return "tests with other Unix users need root (useradd); run them as root"
    for tool in ("useradd", "groupadd"):
        if shutil.which(tool) is None:
            return f"{tool} is missing; install the passwd package"
    if not os.access(DEBIAN_PYTHON, os.X_OK):
        return f"{DEBIAN_PYTHON} is missing; apt-get install python3"
    return None


def ensure_users() -> None:
    with _machine_lock():
        subprocess.run(["groupadd", "-f", GROUP], check=True)
        for name in (*MEMBERS, OUTSIDER):
            try:
                pwd.getpwnam(name)
            except KeyError:
                extra = ["-G", GROUP] if name in MEMBERS else []
                subprocess.run(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", *extra, name], check=True)


def shared_python(folder: Path) -> Path:
    """A folder other users can read holding ol (this checkout's) and the packages it imports."""
    site = folder / "site"
    site.mkdir(parents=True)
    ol = importlib.import_module("ol")
    _link_tree(Path(ol.__path__[0]), site / "ol")
    for part in OL_PARTS:
        _link_tree(Path(importlib.import_module(f"ol.{part}").__path__[0]), site / "ol" / part)
    names = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout.split()
    for base in {p for p in sys.path if p.endswith("site-packages")}:
        for entry in os.scandir(base):
            top = entry.name.removesuffix(".py").split("-")[0]
            if (top in names or entry.name.endswith(".libs")) and not (site / entry.name).exists() and top != "ol":
                if entry.is_dir():
                    _link_tree(Path(entry.path), site / entry.name)
                elif entry.name.endswith((".py", ".so")):
                    _link(entry.path, site / entry.name)
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
    return site


class User:
    """One of the test's users: runs ol or Python as them, with their own home and a umask that hides
    everything from everyone (as a careless cluster profile would)."""

    def __init__(self, name: str, site: Path, homes: Path, umask: int = 0o077):
        self.name, self.site, self.umask = name, site, umask
        self.home = homes / name
        self.home.mkdir(mode=0o700)
        os.chown(self.home, pwd.getpwnam(name).pw_uid, pwd.getpwnam(name).pw_gid)
        self.uid = pwd.getpwnam(name).pw_uid

    def python(self, code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return self._run([DEBIAN_PYTHON, "-c", code, *args], timeout)

    def ol(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return self._run([DEBIAN_PYTHON, "-c", "from ol.cli import main; main()", *args], timeout)

    def _run(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess:
        member = self.name in MEMBERS
        env = {"HOME": str(self.home), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(self.site), "LANG": "C.UTF-8",
               "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "200", "NO_COLOR": "1"}
        return subprocess.run(argv, user=self.name, group="users", extra_groups=[GROUP] if member else [],
                              umask=self.umask, env=env, cwd=self.home, capture_output=True, text=True,
                              timeout=timeout)


def people(root: Path) -> dict[str, User]:
    """The group's members and the outsider, each with a home under ``root`` and a Python they can run."""
    root.chmod(0o755)
    site = shared_python(root / "python")
    homes = root / "homes"
    homes.mkdir()
    homes.chmod(0o755)
    return {name: User(name, site, homes) for name in (*MEMBERS, OUTSIDER)}


def shared_store(parent: Path, others_read: bool = False) -> Path:
    """A store as docs/guides/shared-store.md says to set one up: the lab's group, set-group-id, nothing for others."""
    parent.mkdir(exist_ok=True)
    parent.chmod(0o755)
    store = parent / "store"
    store.mkdir()
    os.chown(store, 0, grp.getgrnam(GROUP).gr_gid)
    store.chmod(0o2775 if others_read else 0o2770)
    return store


def _link_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, copy_function=_link, ignore=shutil.ignore_patterns("__pycache__"))


def _link(source, target) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
    os.chmod(target, os.stat(target).st_mode | 0o444)


class _machine_lock:
    """useradd from two test workers at once would race on /etc/passwd's lock."""

    def __enter__(self):
        self.fd = os.open(os.path.join(tempfile.gettempdir(), "ol-test-users.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        os.close(self.fd)
