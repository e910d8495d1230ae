"""Resolving run references: a run id or unique prefix, a run directory, ``latest``, ``EXP/STRATEGY``."""

from __future__ import annotations

from pathlib import Path

from ol.store.catalog import iter_run_dirs, newest, require_store, run_info
from ol.store.errors import NotARun, RunNotFound
from ol.store.rundir import LOG_DIR, is_run_dir, other_ranks


def resolve_run(store: Path, ref: str) -> Path:
    """The run directory ``ref`` names; RunNotFound says why none or which several."""
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
    runs = list(iter_run_dirs(store))
    if ref == "latest":
        if not runs:
            raise RunNotFound(ref, f"store: no runs in {store}; record one with `ol train` first")
        return newest([run_info(d) for d in runs]).dir
    if "/" in ref:
        return _by_experiment_strategy(store, runs, ref)
    matches = [d for d in runs if d.name.startswith(ref)]
    if not matches:  # the random part of an id (20261122-020426-3fa9c1 → 3fa9c1) is what people remember
        matches = [d for d in runs if d.name.rpartition("-")[2].startswith(ref)]
    exact = [d for d in matches if d.name == ref]
    if len(exact) == 1 or len(matches) == 1:
        return (exact or matches)[0]
    if not matches:
        raise RunNotFound(ref, f"store: no run matches {ref!r} in {store}; `ol runs` lists them")
    names = ", ".join(f"{d.parent.name}/{d.name}" for d in matches[:5])
    more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
    raise RunNotFound(ref, f"store: {ref!r} matches {len(matches)} runs ({names}{more}); give more of the id")


def _by_experiment_strategy(store: Path, runs: list[Path], ref: str) -> Path:
    experiment, _, strategy = ref.partition("/")
    direct = store / experiment / strategy
    if is_run_dir(direct):
        return direct
    candidates = [d for d in runs if d.parent.name == experiment]
    if not candidates:
        raise RunNotFound(ref, f"store: no runs of experiment {experiment!r} in {store}; `ol runs` lists them")
    chosen = [info for info in map(run_info, candidates) if info.strategy == strategy]
    if not chosen:
        raise RunNotFound(ref, f"store: no {experiment!r} run with strategy {strategy!r} in {store}")
    return newest(chosen).dir


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
