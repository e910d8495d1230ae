"""Resolving run references: a run id or unique prefix, a run directory, ``latest``, ``EXP/STRATEGY``, and for
runs that have no strategy (recorded by a script, Lightning, the Trainer, wandb) ``EXP`` or ``EXP/latest``."""

from __future__ import annotations

import os
from pathlib import Path

from ol.store.errors import NotARun, RunNotFound
from ol.store.log.rundir import LOG_DIR, is_run_dir, other_ranks
from ol.store.read.listing import iter_run_dirs, newest, require_store, run_info


def resolve_run(store: Path, ref: str, *, index: bool = True) -> Path:
    """The run directory ``ref`` names; RunNotFound says why none or which several.

    An id or prefix is matched against directory names (one listing per experiment, a stat only for the
    matches). ``latest`` and ``EXPERIMENT/STRATEGY`` need what runs are, which readers take from the store's
    index; ``index=False`` reads each run's first and last frames instead, for a training process, which
    writes no index."""
    store = Path(store)
    path = Path(ref)
    if path.is_dir():
        if is_run_dir(path):
            return path
        if (path.parent.name == LOG_DIR or path.name == LOG_DIR) and is_run_dir(path.parent):
            return path.parent
        if "/" in ref or ref.startswith("."):
            raise NotARun(path, f"no {LOG_DIR}/ directory in it")
    require_store(store)
    if "/" not in ref and ref != "latest" and (store / ref).is_dir() and not ref.startswith("."):
        ref = f"{ref}/latest"  # an experiment's name: its newest run
    if ref == "latest" or "/" in ref:
        experiment, _, strategy = ref.partition("/") if ref != "latest" else ("", "", "")
        strategy = "" if strategy == "latest" else strategy
        if strategy and is_run_dir(store / experiment / strategy):
            return store / experiment / strategy
        runs = _described(store, index, experiment or None)
        chosen = [r for r in runs if not strategy or r.strategy == strategy]
        if not chosen:
            raise RunNotFound(ref, _none_of(store, experiment, strategy, bool(runs)))
        return newest(chosen).dir
    names = _names(store)
    matches = [d for d in names if d.name.startswith(ref)]
    if not matches:  # the random part of an id (20261122-020426-3fa9c1 → 3fa9c1) is what people remember
        matches = [d for d in names if d.name.rpartition("-")[2].startswith(ref)]
    matches = [d for d in matches if is_run_dir(d)]
    exact = [d for d in matches if d.name == ref]
    if len(exact) == 1 or len(matches) == 1:
        return (exact or matches)[0]
    if not matches:
        raise RunNotFound(ref, f"store: no run matches {ref!r} in {store}; `ol runs` lists them")
    listed = ", ".join(f"{d.parent.name}/{d.name}" for d in matches[:5])
    more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
    raise RunNotFound(ref, f"store: {ref!r} matches {len(matches)} runs ({listed}{more}); give more of the id")


def _names(store: Path) -> list[Path]:
    """Every directory one level inside an experiment directory: candidate runs, by name only."""
    out = []
    experiments = [e.path for e in os.scandir(store) if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)]
    for exp in sorted(experiments):
        out += sorted(Path(e.path) for e in os.scandir(exp) if e.is_dir(follow_symlinks=False))
    return out


def _described(store: Path, index: bool, experiment: str | None):
    """What the runs are (strategy, start time): from the index, or each run's own first and last frames."""
    if index:
        from ol.store.read.snapshot import open_snapshot  # the index loads only when a name needs it

        runs = open_snapshot(store).runs
    else:
        runs = [run_info(d) for d in iter_run_dirs(store)]
    return [r for r in runs if experiment is None or r.dir.parent.name == experiment]


def _none_of(store: Path, experiment: str, strategy: str, experiment_has_runs: bool) -> str:
    if not experiment:
        return f"store: no runs in {store}; record one with `ol train` first"
    if not experiment_has_runs:
        return f"store: no runs of experiment {experiment!r} in {store}; `ol runs` lists them"
    return (f"store: no {experiment!r} run with strategy {strategy!r} in {store} (`{experiment}/latest` names its "
            "newest run of any strategy)")


def rank_stream(run_dir: Path, rank: int) -> Path:
    """The directory of one rank's stream of a run (rank 0: the run's own); RunNotFound names the ranks
    the run has when it has no such rank."""
    if rank == 0:
        return Path(run_dir)
    ranks = dict(other_ranks(run_dir))
    if rank not in ranks:
        have = ", ".join(str(r) for r in [0, *ranks])
        raise RunNotFound(str(rank), f"store: run {Path(run_dir).name} has no rank {rank}; its ranks: {have}")
    return ranks[rank]
