"""`ol import`: runs recorded by other tools become ordinary ol runs (readers in from_tensorboard.py,
from_wandb.py and from_csv.py fill an ``Imported``; this module writes it).

Each imported run keeps what its source recorded — steps, and wall times where the source has them,
exactly — with its source named in a tag (``imported:tensorboard``) and a note (the path it came from).
Its id is derived from where it came from, so importing the same source again adds nothing. A run is
written in a private folder under ``<store>/.import`` and renamed into its experiment whole: a reader
(or a kill -9) never sees half of one. A run whose source does not say how it ended (TensorBoard, a CSV) is
recorded *completed*, and its note says that this is the importer's word, not the source's.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ol.integrations import by_source
from ol.integrations.source_files import Refused
from ol.schemas import (
    MAX_METRIC_NAMES,
    MAX_NAME_CHARS,
    Event,
    MediaFile,
    Note,
    RunEnded,
    RunStarted,
    Scalars,
    SummaryUpdated,
)
from ol.store import LogWriter, check_name, ensure_dir, make_dir, run_path, share_dir, share_file

IMPORT_DIR = ".import"
ROWS_PER_FRAME = 1000


@dataclass
class KeptFile:
    """A media file of the source the store has no kind for (a W&B video): written into the imported run's
    folder and recorded with its hash (MediaFile). Read only then, one at a time, by ``read`` (the source's own
    checked reader): a run of many videos never holds them all in memory, and a run imported already reads none."""

    step: int
    name: str
    media: str
    suffix: str
    read: Callable[[], bytes]
    caption: str = ""


@dataclass
class Imported:
    """One run as a source holds it."""

    name: str  # the source's own name for it (a folder, a run name)
    origin: str  # where it came from, exactly: the key of its id
    config: dict = field(default_factory=dict)
    scalars: dict[int, dict[str, float]] = field(default_factory=dict)  # step -> name -> value
    wall: dict[int, float] = field(default_factory=dict)  # step -> unix time it was recorded, when known
    epochs: dict[int, int] = field(default_factory=dict)
    media: list[Event] = field(default_factory=list)  # histograms and images, with their steps
    files: list[KeptFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # what could not be read, said once each
    summary: dict = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    group: str = ""
    experiment: str = ""  # the source's own grouping of runs (a W&B project), when it has one
    started_at: float | None = None  # when the source says the run started (else its first wall time)
    ended_at: float | None = None  # when the source says it ended (else its last wall time)
    # how it ended, when the source says: "completed" or "failed" (with ``error``); "crashed" for a run the
    # source shows unfinished (no end is written); None when the source cannot say
    status: str | None = None
    error: str = ""

    names: set = field(default_factory=set)  # every scalar name added, for the caps

    def add(self, step: int, name: str, value: float, wall: float | None = None) -> None:
        """One scalar; a name past the run's caps (schemas/checks.py) is left out with one note."""
        if name not in self.names:
            if len(name) > MAX_NAME_CHARS or len(self.names) >= MAX_METRIC_NAMES:
                self.note(f"metric names over {MAX_NAME_CHARS} characters, or past the run's {MAX_METRIC_NAMES:,}, "
                          "are not imported")
                return
            self.names.add(name)
        self.scalars.setdefault(step, {})[name] = value
        if wall is not None and math.isfinite(wall):
            self.wall[step] = min(wall, self.wall.get(step, wall))

    def note(self, text: str) -> None:
        """Something the import left out, said once however often it happens."""
        if text not in self.skipped:
            self.skipped.append(text)


@dataclass
class ImportResult:
    run_id: str
    name: str
    written: bool  # False: this source was imported before
    points: int
    skipped: list[str]


def plain_step(value) -> int | None:
    """A step or epoch as a source gave it, if it is a whole number the log can hold (a 64-bit integer);
    None for anything else (text, inf, 1e30, 2.5)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 2**63 else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and 0 <= value < 2**63:
        return int(value)
    return None


def plain_experiment(name: str, default: str) -> str:
    """A source's own grouping of runs (a W&B project, an MLflow experiment: any text those tools accept) as an
    ol experiment name: letters, digits, '.', '_' and '-', at most 64."""
    plain = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")[:64].rstrip("-._")
    return plain or default


def run_id_for(source: str, origin: str) -> str:
    """The same source, imported again, is the same run."""
    return f"{source[:2]}-{hashlib.sha256(origin.encode()).hexdigest()[:12]}"


def write(store: Path, experiment: str, source: str, run: Imported) -> ImportResult:
    """Write ``run`` into ``store/experiment`` unless it is there already."""
    check_name("experiment", experiment)
    run_id = run_id_for(source, run.origin)
    final = run_path(store, experiment, run_id)
    points = sum(len(v) for v in run.scalars.values())
    if final.exists():
        return ImportResult(run_id, run.name, False, points, run.skipped)
    Path(store).mkdir(parents=True, exist_ok=True)
    aside = ensure_dir(store, IMPORT_DIR, group_writes=True)
    _clear_abandoned(aside)
    work = Path(tempfile.mkdtemp(prefix=f"{run_id}-{os.getpid()}-", dir=aside))
    try:
        run.media += [event for kept in run.files if (event := _keep(work, kept, run)) is not None]
        _write_log(work / "log", run_id, experiment, source, run)
        ensure_dir(store, experiment, group_writes=True)
        share_dir(work)  # mkdtemp made it private; in a shared store the group reads every run
        try:
            os.rename(work, final)  # whole or not at all; an import racing this one keeps its own
        except OSError:
            if final.exists():
                return ImportResult(run_id, run.name, False, points, run.skipped)
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ImportResult(run_id, run.name, True, points, run.skipped)


def _keep(work: Path, kept: KeptFile, run: Imported) -> MediaFile | None:
    """The file in the run's ``media/`` (named by its key and step: the source's own name is not trusted), and
    its event; None, with a note, when the source's file cannot be read."""
    try:
        data = kept.read()
    except (Refused, OSError) as e:
        run.note(f"{kept.media} {kept.name!r} at step {kept.step} is not imported ({e})")
        return None
    folder = work / "media"
    make_dir(folder, exist_ok=True)
    suffix = kept.suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,15}", kept.suffix) else ".bin"
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', kept.name)[:100]}-{kept.step}{suffix}"
    with open(path, "wb") as f:
        share_file(f.fileno(), folder)
        f.write(data)
    return MediaFile(name=kept.name, path=path.relative_to(work).as_posix(), size=len(data),
                     sha256=hashlib.sha256(data).hexdigest(), media=kept.media, caption=kept.caption, step=kept.step)


def _clear_abandoned(aside: Path) -> None:
    """Remove what imports killed mid-write left aside (their folder names the process that wrote them, on this
    host): a folder whose process is gone is never renamed into the store."""
    for entry in os.scandir(aside):
        parts = entry.name.split("-")
        if len(parts) < 4 or not parts[-2].isdigit() or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            os.kill(int(parts[-2]), 0)
        except ProcessLookupError:
            shutil.rmtree(entry.path, ignore_errors=True)
        except (PermissionError, OverflowError):
            continue  # another user's live process, or not a pid


def _plain(section: dict, what: str, run: Imported) -> dict:
    """A source's config or summary as values the log holds; a value it cannot (an integer past 64 bits, JSON
    nested past what a reader walks) becomes its text, with a note, rather than failing the run's import."""
    from ol.errors import ProducerError
    from ol.producer.values import recordable

    out = {}
    for key, value in section.items():
        try:
            out[str(key)] = recordable(value, f"{what} {key!r}")
        except (ProducerError, RecursionError):
            run.note(f"{what} {str(key)[:80]!r} is kept as text: the log cannot hold it as it is")
            out[str(key)] = str(value)[:4096]
    return out


def _write_log(log: Path, run_id: str, experiment: str, source: str, run: Imported) -> None:
    run.config, run.summary = _plain(run.config, "config", run), _plain(run.summary, "summary", run)
    known = sorted(run.wall.values())
    started = run.started_at if run.started_at is not None else (known[0] if known else 0.0)
    said = "" if run.status else " (the source does not say how the run ended: recorded as completed by the importer)"
    writer = LogWriter.create(log, run_id)
    try:
        writer.append([RunStarted(run_id=run_id, experiment=experiment, config=run.config, started_at=started,
                                  name=run.name, tags=[*run.tags, f"imported:{source}"], group=run.group,
                                  recorder=f"import:{source}"),
                       Note(f"imported from {source}: {run.origin}{said}")])
        for note in run.skipped:
            writer.append([Note(f"import: {note}", level="warning")])
        media = sorted(run.media, key=lambda e: e.step)
        placed = 0  # media events before this one are written, each in the frame of the steps around it
        steps = sorted(run.scalars)
        for start in range(0, len(steps), ROWS_PER_FRAME):
            chunk = steps[start:start + ROWS_PER_FRAME]
            last = chunk[-1] if start + ROWS_PER_FRAME < len(steps) else math.inf
            items: list = []
            for step in chunk:
                time = run.wall[step] - started if step in run.wall else math.nan  # a source without clocks
                train, evaluated = by_source(run.scalars[step])
                epoch = run.epochs.get(step)
                if train:
                    items.append((step, epoch, time, train))
                if evaluated:
                    items.append(Scalars(source="eval", step=step, epoch=epoch, time=time, values=evaluated))
            while placed < len(media) and media[placed].step <= last:
                items.append(media[placed])
                placed += 1
            writer.append(items)
        if placed < len(media):
            writer.append(media[placed:])
        if run.summary:
            writer.append([SummaryUpdated(values=run.summary)])
        ended = run.ended_at if run.ended_at is not None else (known[-1] if known else started)
        if run.status != "crashed":
            writer.append([RunEnded(run.status or "completed", error=run.error, wall_time=ended - started,
                                    ended_at=ended)])
    finally:
        writer.close()


def hparams_yaml(tree, folder: Path, run: Imported) -> None:
    """Lightning's ``hparams.yaml`` in ``folder`` (its CSV and TensorBoard loggers write one beside their files):
    the run's config, when it is a regular file of the source."""
    from ol.integrations import flat
    from ol.integrations.source_files import MAX_SMALL_BYTES, Refused, yaml_mapping

    path = folder / "hparams.yaml"
    if not path.exists() and not path.is_symlink():
        return
    try:
        data = yaml_mapping(tree.read_text(path, MAX_SMALL_BYTES))
    except ImportError:
        run.note(f"{path.name} was not read: PyYAML is not installed")
        return
    except (Refused, ValueError, OSError) as e:
        run.note(f"{path.name} was not read: {e}; the run has no config from it")
        return
    run.config = {**flat(data), **run.config}
