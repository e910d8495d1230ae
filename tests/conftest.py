"""Shared fixtures: small logs written directly with the store's writer; no process outlives its test."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from ol.schemas import Note, RunEnded, RunStarted
from ol.store.log.writer import LogWriter

# Subprocess tests run `python -c` / scripts that import ol; make sure they use this interpreter.
PYTHON = sys.executable


# modules whose tests train real runs in real processes (tens of seconds each): started first, so that
# with `-n auto` the workers share them and the quick tests fill the gaps, instead of one worker being
# handed the last long test while the other sits idle
HEAVY_FIRST = ("cli/test_sweep.py", "cli/test_train_process.py", "producer/test_hooks_engine.py", "cli/test_new.py",
               "producer/test_signals.py", "producer/test_distributed.py", "store/test_processes.py")


def pytest_collection_modifyitems(config, items):
    rank = {module: i for i, module in enumerate(HEAVY_FIRST)}

    def order(item) -> int:
        path = Path(str(item.path)).as_posix()
        return next((i for module, i in rank.items() if path.endswith("tests/" + module)), len(rank))

    items.sort(key=order)  # stable: every module keeps its own order


def pytest_configure(config):
    """Ctrl+C tests send a real SIGINT to their children. A shell starts a background job (`pytest … &`,
    a CI step) with SIGINT ignored, and an ignored signal is inherited through exec: the children would
    never see it. Giving this process a real handler again means every child starts with the default one
    (a handler, unlike an ignore, is reset on exec), however the suite was launched."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def make_log(tmp_path):
    """Write frames (lists of items) into a fresh run directory; returns the run dir."""

    def make(frames, experiment="exp", run_id="run1", **writer_kw) -> Path:
        run_dir = tmp_path / "store" / experiment / run_id
        writer = LogWriter.create(run_dir / "log", run_id, **writer_kw)
        for items in frames:
            writer.append(items)
        writer.close()
        return run_dir

    return make


@pytest.fixture
def three_frames():
    """Three frames with known sequence ranges: 0..10, 11..20, 21..32."""
    return [
        [RunStarted(run_id="run1", experiment="exp")] + [(i, 0, i * 0.001, {"loss": 1.0 / (i + 1)}) for i in range(10)],
        [(i, 1, i * 0.001, {"loss": 0.5, "lr": 1e-3}) for i in range(10, 20)],
        [(i, 2, i * 0.001, {"loss": 0.25}) for i in range(20, 30)] + [Note("done"), RunEnded("completed")],
    ]


# wandb keeps one service process per test process on purpose; it is not a test's to end
_LONG_LIVED = (b"wandb",)


@pytest.fixture(autouse=True)
def _no_process_outlives_its_test():
    """Every process a test starts must be ended by it, also when it fails: leftovers are killed (so a
    hung child never spins on after the suite) and the test fails, naming them."""
    before = _descendants(os.getpid())
    yield
    left = {pid: cmd for pid, cmd in _descendants(os.getpid()).items()
            if pid not in before and not any(name in cmd for name in _LONG_LIVED)}
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    if left:
        pytest.fail(f"the test left {len(left)} process(es) running: "
                    + "; ".join(cmd.decode(errors="replace")[:80] for cmd in left.values()))


def _descendants(root: int) -> dict[int, bytes]:
    """Live (not zombie) descendants of ``root`` with their command lines, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()  # the command name may hold spaces
        except OSError:
            continue
        if fields[0] != b"Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: dict[int, bytes] = {}
    todo = [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            if pid not in found:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        found[pid] = f.read().replace(b"\0", b" ")
                except OSError:
                    found[pid] = b"?"
                todo.append(pid)
    return found


@pytest.fixture
def wandb_env(tmp_path, monkeypatch):
    """W&B offline, everything under a temporary directory; nothing touches the network."""
    root = tmp_path / "wandb"
    for var, sub in (("WANDB_DIR", ""), ("WANDB_CACHE_DIR", "cache"), ("WANDB_CONFIG_DIR", "config"),
                     ("WANDB_DATA_DIR", "data")):
        (root / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(root / sub))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    return root
