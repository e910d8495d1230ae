"""`ol import`: runs other tools recorded (TensorBoard event files, W&B offline runs, MLflow stores, a
metrics CSV) become ol runs (ol/integrations/importing.py); importing the same source again adds nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from ol.cli.common import DEFAULT_STORE, StoreOption, console, store_root, warn
from ol.errors import OlError, UsageError
from ol.terminal import shown

import_app = typer.Typer(help="Bring runs recorded by TensorBoard, W&B (offline), MLflow or a metrics CSV into the "
                                "store.",
                         no_args_is_help=True)
ExperimentOption = Annotated[str, typer.Option("--experiment", "-e", help="The experiment the runs join.")]


@import_app.command("tensorboard")
def tensorboard(
    path: Annotated[Path, typer.Argument(help="A folder of event files, or of run folders that hold them.")],
    experiment: ExperimentOption = "tensorboard",
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Import every folder of TensorBoard event files under PATH as a run: scalars with their steps and wall
    times, histograms and images."""
    from ol.integrations import from_tensorboard

    _write(*from_tensorboard.find(_existing(path)), lambda folder: from_tensorboard.read(folder, path), "tensorboard",
           experiment, store, nothing=f"no TensorBoard event files (events.out.tfevents.*) under {path}")


@import_app.command("wandb")
def wandb(
    path: Annotated[Path, typer.Argument(help="A wandb folder of offline runs, one offline-run folder, or a "
                                              "run-ID.wandb file.")],
    experiment: ExperimentOption = "",
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Import W&B offline runs: config, tags, group, every logged number at its step and time, histograms,
    the summary and how the run ended. The experiment is each run's project unless -e names one."""
    from ol.integrations import from_wandb

    _write(*from_wandb.find(_existing(path)), from_wandb.read, "wandb", experiment, store,
           nothing=f"no W&B offline runs (run-*.wandb) under {path}")


@import_app.command("mlflow")
def mlflow(
    source: Annotated[str, typer.Argument(help="An MLflow SQLite database (mlflow.db or sqlite:///PATH) or a file "
                                               "store folder (mlruns).")],
    experiment: ExperimentOption = "",
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Import MLflow runs: parameters as config, user tags, every metric value at its step and time, the run's
    status. The experiment is each run's MLflow experiment unless -e names one."""
    from ol.integrations import from_mlflow

    _existing(Path(source.removeprefix("sqlite:///")))
    try:
        runs, passed = from_mlflow.find(source)
    except OlError:
        raise
    except Exception as e:  # noqa: BLE001 - sqlite3's errors for a file that is not MLflow's database
        raise UsageError(f"import: {source} is not an MLflow tracking database or mlruns folder ({e})") from None
    _write(runs, passed, lambda run: from_mlflow.read(*run), "mlflow", experiment, store,
           nothing=f"no MLflow runs in {source}")


@import_app.command("csv")
def csv(
    path: Annotated[Path, typer.Argument(help="A metrics CSV with a step column (Lightning's metrics.csv).")],
    experiment: ExperimentOption = "csv",
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Import a metrics CSV as a run: every numeric column a metric at its row's step."""
    from ol.integrations import from_csv

    if not _existing(path).is_file():
        raise UsageError(f"import: {path} is a folder; give the CSV file itself")
    _write([path], [], from_csv.read, "csv", experiment, store, nothing="")


def _existing(path: Path) -> Path:
    if not path.exists():
        raise UsageError(f"import: {path} does not exist")
    return path


def _write(found: list, passed: list[str], read: Callable, source: str, experiment: str, store: Path,
           nothing: str) -> None:
    """Read each source run found and write it (one line each), or say in one line that there is none. A run
    that cannot be read or written is said in one line and the others are imported all the same; the command
    then exits 1."""
    from ol.integrations.importing import write
    from ol.integrations.source_files import Refused

    if not found:
        raise UsageError(f"import: {nothing}")
    for note in passed:  # what the search passed over: a link out of the source, a FIFO
        warn(note)
    root = store_root(store)
    failed = 0
    for item in found:
        try:
            run = read(item)
            target = experiment or run.experiment or source
            outcome = write(root, target, source, run)
        except (OlError, Refused, OSError, ValueError, sqlite3.Error) as e:
            failed += 1
            warn(f"{item if isinstance(item, Path) else item[-1]}: not imported ({e})")
            continue
        for note in outcome.skipped:
            warn(f"{outcome.name}: {note}")
        name, where = shown(outcome.name), shown(f"{target}/{outcome.run_id}")
        if outcome.written:
            console.print(f"imported {name} as {where} ({outcome.points:,} points)")
        else:
            console.print(f"{name}: already imported as {where}, nothing added")
    if failed:
        raise UsageError(f"import: {failed} of {len(found)} run(s) could not be imported (said above); the others "
                         "were")
