"""Which Slurm task runs each point of a sweep, and where those tasks stand in Slurm's queue now."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from ol.store.index.files import regular_file
from ol.store.log.derived import ensure_dir, replace_file
from ol.store.read.sweep_plans import SWEEPS_DIR, Plan, read_plain

SLURM_TASKS = "slurm.json"  # in the sweep's folder: each point's array task, as Slurm names it (1234_5)
_TASK = re.compile(r"\d{1,12}(_\d{1,9})?")


def record_slurm_tasks(store: Path, plan: Plan, tasks: list[str]) -> None:
    """Say which Slurm task runs each point (the newest submission's), so `--status` can ask Slurm about them."""
    folder = ensure_dir(store, SWEEPS_DIR, plan.name, group_writes=True)
    replace_file(folder, SLURM_TASKS, json.dumps({str(i): t for i, t in enumerate(tasks)}).encode())


def slurm_states(store: Path, plan: Plan) -> dict[int, tuple[str, str]]:
    """Each point's Slurm task and its state in Slurm's queue now (PENDING, RUNNING, …; "" once it left the
    queue), for a sweep submitted to Slurm from this store; empty for any other, or where Slurm does not answer.
    The record is the store's, so read as untrusted: only task ids of Slurm's shape are passed on to squeue."""
    path = Path(store) / SWEEPS_DIR / plan.name / SLURM_TASKS
    if regular_file(path) is None or shutil.which("squeue") is None:
        return {}
    try:
        recorded = json.loads(read_plain(path))  # never through a link, the file's or its folder's; size-capped
        tasks = {int(i): t for i, t in recorded.items() if isinstance(t, str) and _TASK.fullmatch(t)}
    except (OSError, ValueError, AttributeError):
        return {}
    tasks = {i: t for i, t in tasks.items() if 0 <= i < len(plan.points)}
    arrays = sorted({t.split("_")[0] for t in tasks.values()})
    if not arrays:
        return {}
    try:
        asked = subprocess.run(["squeue", "-h", "-r", "-j", ",".join(arrays), "-o", "%i %T"], capture_output=True,
                               text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if asked.returncode != 0 and "Invalid job id" not in asked.stderr:  # squeue's answer once every array left
        return {}  # Slurm did not answer: nothing is known, which is not "every task left the queue"
    queue = dict(line.split(None, 1) for line in asked.stdout.splitlines() if " " in line)
    return {i: (t, queue.get(t, "")) for i, t in tasks.items()}
