"""`ol index`: the store-level index every reader uses — bring it up to date, rebuild it, see and bound the
disk derived data takes."""

from __future__ import annotations

import shutil
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ol.cli.common import DEFAULT_STORE, StoreOption, console, err_console, warn
from ol.cli.output import ListingFormat, chosen_format, emit

index_app = typer.Typer(help="The store's index of runs and their data (derived from the logs, rebuildable).",
                        no_args_is_help=False, invoke_without_command=True)


class indexing_progress:
    """A progress line that appears only when some run actually needs indexing (and only on a terminal)."""

    def __enter__(self):
        self._progress = None
        return self

    def __call__(self, run: str) -> None:
        if not err_console.is_terminal:  # piped or captured output stays clean
            return
        if self._progress is None:
            self._progress = Progress(TextColumn("indexing"), BarColumn(), TextColumn("{task.completed} run(s)"),
                                      TextColumn("{task.description}"), TimeElapsedColumn(),
                                      console=err_console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task("", total=None)
        self._progress.update(self._task, advance=1, description=run)

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.stop()


@index_app.callback()
def index(ctx: typer.Context, store: StoreOption = DEFAULT_STORE,
          check: Annotated[bool, typer.Option("--check", help="Also compare every run's log segments with what "
                                              "the index was built from (after logs were changed by hand).")] = False,
          ) -> None:
    """Bring the index up to date (every reader does this itself; this shows what it did)."""
    if ctx.invoked_subcommand is not None:
        return
    from ol.store import require_store, sync

    require_store(store)
    with indexing_progress() as progress:
        report = sync(store, full=check, progress=progress)
    for w in report.warnings:
        warn(w)
    console.print(f"indexed {report.indexed} run(s) into {report.batches} new batch(es); {report.live} live "
                  f"(read from their logs); {report.forgotten} gone from the store")


@index_app.command("rebuild")
def rebuild(store: StoreOption = DEFAULT_STORE) -> None:
    """Delete the index and build it again from the logs (answers are the same before and after)."""
    from ol.store import CATALOG, DATA_DIR, index_home, indexer_lock, require_store, sync

    require_store(store)
    home = index_home(store)
    with indexer_lock(home):
        (home / CATALOG).unlink(missing_ok=True)
        shutil.rmtree(home / DATA_DIR, ignore_errors=True)
    with indexing_progress() as progress:
        report = sync(store, progress=progress)
    for w in report.warnings:
        warn(w)
    console.print(f"rebuilt: {report.indexed} run(s) in {report.batches} batch(es); {report.live} live")


@index_app.command("du")
def du(store: StoreOption = DEFAULT_STORE, top: Annotated[int, typer.Option(help="Also list the N runs with the "
                                                                             "largest logs.")] = 0,
       fmt: ListingFormat = None) -> None:
    """Disk used by the store, by kind: logs, checkpoints, artifacts, the index, caches older ol left."""
    from ol.store import disk_usage, require_store

    require_store(store)
    usage = disk_usage(store)
    rows = [{"kind": k, "bytes": v, "size": _human(v)} for k, v in usage.kinds.items()]
    rows += [{"kind": f"log of {run}", "bytes": size, "size": _human(size)} for run, size in usage.runs[:top]]
    emit(rows, ["kind", "size", "bytes"], chosen_format(fmt, "du"), title=f"disk used by {store} "
         f"(index at {usage.index_home})", right=("bytes", "size"))


@index_app.command("gc")
def gc(store: StoreOption = DEFAULT_STORE,
       grace: Annotated[float, typer.Option(help="Minutes a retired batch is kept for readers still using it.")] = 10,
       old_caches: Annotated[bool, typer.Option("--old-caches", help="Also delete the per-run caches older "
                                                "versions of ol wrote (<run>/.cache/compact, view.json).")] = False,
       ) -> None:
    """Delete derived data nothing needs any more, and rewrite batches whose runs are mostly gone."""
    from ol.errors import UsageError
    from ol.store import collect, require_store

    if grace < 0:
        raise UsageError(f"index gc: --grace must be 0 or more minutes, got {grace:g}")
    require_store(store)
    done = collect(store, grace * 60, old_caches)
    console.print(f"freed {_human(done.freed)}: {done.batches} retired batch(es), {done.leftovers} leftover(s) of "
                  f"interrupted indexing, {done.old_caches} old per-run cache(s); {done.rewritten_runs} run(s) "
                  "moved out of sparse batches")


def _human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
