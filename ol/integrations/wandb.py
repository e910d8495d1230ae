"""The W&B client's API, recording into an ol store: change one line of a script,

    import wandb                          →   from ol.integrations import wandb

and ``wandb.init(project=…, config=…)``, ``wandb.log({...})``, ``wandb.config``, ``wandb.summary``,
``wandb.finish()`` record an ol run in ``$OL_STORE`` (default ./runs; ``dir=`` names another store), the
project as its experiment. What has no local meaning works in a reduced form, said here once:

- ``define_metric(name, summary="min"|"max" or goal=…)`` names the run's main metric and its direction
  (the first such call, before the first ``log``); ``step_metric="epoch"`` is ol's own epoch axis (a
  logged ``epoch`` value always is the step's epoch, a fraction kept); another step metric is recorded in
  the run's contract (``axes``), and every reader draws a metric against it with ``x=train/<step metric>``
  (the dashboard's /api/series, ``ol plot curves --x``, the notebook's ``metrics(x=…)``).
- ``watch(model, log_freq=N)`` logs each parameter's gradient and weight norm every N ``log`` calls (no
  histograms of every gradient); ``save(glob)`` names the matching files in a note (nothing is uploaded);
  ``alert(...)`` is a note; ``mode="disabled"`` records nothing, as asked.
- ``run.log_code(root)`` copies the ``.py`` files under ``root`` into the run's folder (``code/``);
  ``mark_preempting()`` is a warning note in the log, and a SIGTERM after it ends the run *interrupted*;
  ``resume="must"`` of a run that does not exist is refused, ``resume="allow"`` continues one that does.
- ``init`` while a run is active returns it (W&B's default in a script); ``reinit="finish_previous"`` (or
  True) ends it first, ``reinit="create_new"`` starts a second run beside it. A run's ``summary`` reads back
  the last value logged under each key, as W&B's does (``{"max": …}`` for a key ``define_metric`` gave
  ``summary="max"``); what the script sets in it is the run's own summary.
- ``log_artifact``, ``use_artifact``, ``Artifact`` and ``Api`` refuse with one line naming what to use.

Values named as evaluation (``val/…``, ``val_…``, ``eval_…``, ``test/…``) are recorded under the eval
source. Every kind of value ``wandb.log`` takes is recorded or kept (wandb_values.py says how): a logging call
never ends the script; what cannot be recorded is said in a warning naming its key.
"""

from __future__ import annotations

import glob as _glob
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import msgspec

import ol
from ol.errors import ProducerError, UsageError
from ol.integrations import by_source
from ol.integrations.importing import plain_experiment
from ol.integrations.wandb_sections import Section
from ol.integrations.wandb_values import (  # noqa: F401 - wandb.Image, wandb.plot … as the W&B module has them
    Audio,
    Histogram,
    Html,
    Image,
    Table,
    Video,
    as_histogram,
    plot,
    sort_values,
)
from ol.producer.run import Run as _OlRun
from ol.producer.values import STEP_OWN, as_epoch, normalise, whole
from ol.schemas import ArrayData, RunContract
from ol.store import is_run_dir

MEDIA = (ol.Histogram, ol.Image, ol.Table)
MAX_CODE_FILES = 10_000
STORE_ENV = "OL_STORE"
HARMLESS = ("entity", "job_type", "reinit", "settings", "anonymous", "save_code", "magic", "sync_tensorboard",
            "allow_val_change", "config_exclude_keys", "config_include_keys", "force", "monitor_gym")
run: WandbRun | None = None
config: Section | None = None
summary: Section | None = None


class WandbRun:
    """What ``wandb.init`` returns. Its ol run starts at the first thing it records, so that
    ``define_metric`` calls right after ``init`` still shape the run's contract."""

    def __init__(self, store: Path, project: str, run_id: str, resume: bool, options: dict, disabled: bool):
        self.project, self.id, self.name = project, run_id, options.get("name") or run_id
        self.dir = str(_OlRun.folder(store, project, run_id))
        self._store, self._resume, self._options, self._disabled = store, resume, options, disabled
        self._contract = RunContract()
        self._run: _OlRun | None = None
        self._watched: list[tuple[Any, int]] = []
        self._logs = 0
        self._refused: set[str] = set()  # keys whose values log() could not record, said once each
        self._said: set[str] = set()  # keys of charts whose kind a note has said
        self._summaries: dict[str, list[str]] = {}  # define_metric(name, summary="min,last"): name -> modes
        self.config = Section(self, "config")
        self.summary = Section(self, "summary")

    # the W&B run's methods ---------------------------------------------------------------------------

    def log(self, data: dict, step: int | None = None, commit: bool | None = None) -> None:
        if self._disabled:
            return
        run = self._ensure()
        logged = sort_values(dict(data))
        for key, why in logged.refused.items():
            self._refuse(key, why)
        data = self._recordable(logged.values)
        epoch = data.pop("epoch", None)  # the step's epoch, a fraction kept (0.5: half way through the first)
        if epoch is not None:
            try:
                epoch = as_epoch(epoch)  # Run.log's own rule, checked here so a bad one costs only itself
            except ProducerError as e:
                self._refuse("epoch", str(e))
                epoch = None
        plain = logged.values is data  # numbers only (sort_values' and _recordable's fast paths): no media
        media = {} if plain else {k: v for k, v in data.items() if isinstance(v, MEDIA)}
        for key, chart in logged.charts.items():  # the chart's data (named as W&B names it), and what chart it is
            media[f"{key}_table"] = chart.table
            if key not in self._said:
                self._said.add(key)
                run.note(chart.says(key))
        train, evaluated = by_source(data if not media else {k: v for k, v in data.items() if k not in media})
        if not STEP_OWN.isdisjoint(train):  # a training scalar named like the step's own columns: ol has no place
            for key in STEP_OWN & train.keys():
                del train[key]
                self._refuse(key, f"every ol step has its own {key}; log it under another name, e.g. {key}_value")
        self._logs += 1
        for key, array in logged.arrays.items():
            self._array(run, key, array, run.next_step if step is None else step, epoch, media)
        for key, kept in logged.files.items():  # no kind in the store: the file in the run's folder, recorded
            path = kept.save(Path(run.dir) / "media", f"{key.replace('/', '_')}-{self._logs}")
            run.log_file(key, path, media=type(kept).__name__.lower(), caption=kept.caption,
                         step=run.next_step if step is None else step)
        for model, every in self._watched:
            if self._logs % every == 0:
                train.update(_norms(model))
        run.log({**train, **media} if media else train, step=step, epoch=epoch, commit=commit is not False)
        if evaluated:
            run.log(evaluated, step=step, epoch=epoch, source="eval")
        self.summary.logged(train, self._summaries)
        if evaluated:
            self.summary.logged(evaluated, self._summaries)

    def _recordable(self, data: dict) -> dict:
        """The values of one ``log`` call that a run can record; each one it cannot is said once (a warning
        and a note) and left out, so one odd value never costs the call's good ones, nor ends the script."""
        if all(type(v) in (int, float) for v in data.values()):
            return data  # plain numbers, the common case: Run.log takes them as they are

        kept = {}
        for key, value in data.items():
            if isinstance(value, MEDIA) or key == "epoch":
                kept[key] = value
                continue
            try:
                number = by_source({key: value})
                kept.update(normalise({**number[0], **number[1]}))
            except ProducerError as e:
                self._refuse(key, str(e))
        return kept

    def _array(self, run: _OlRun, key: str, array, step: int, epoch: int | None, media: dict) -> None:
        """A vector or tensor, as itself at its step; past the store's array size, a histogram of it."""
        try:
            run.emit(ArrayData(name=key, dtype=array.dtype.str, shape=list(array.shape), data=array.tobytes(),
                               step=step, epoch=whole(epoch)))
        except ValueError as e:
            histogram = as_histogram(array)
            if histogram is None:
                self._refuse(key, f"{e}, and it holds no finite number to make a histogram of")
            else:
                media[key] = histogram
                if key not in self._said:
                    self._said.add(key)
                    self._warn(f"log(): {key!r} is kept as a histogram ({e})")

    def _refuse(self, key: str, why: str) -> None:
        if key not in self._refused:
            self._refused.add(key)
            self._warn(f"log(): {key!r} was not recorded ({why}); the call's other values were")

    def define_metric(self, name: str, step_metric: str | None = None, summary: str | None = None,
                      goal: str | None = None, **_: Any) -> None:
        if summary:
            self._summaries[name] = [m.strip() for m in str(summary).split(",") if m.strip()]
        direction = {"min": "lower", "minimize": "lower", "max": "higher", "maximize": "higher"}.get(
            goal or summary or "")
        if direction and not self._contract.main_metric:
            if self._run is not None:
                self._warn(f"define_metric({name!r}) after the run's first record: its contract is fixed at its "
                           "start; call define_metric right after init")
            else:
                self._contract = msgspec.structs.replace(self._contract, main_metric=name, direction=direction)
        if step_metric and step_metric != "epoch":  # "epoch" is ol's own axis: a logged epoch always is the step's
            if self._run is not None:
                self._warn(f"define_metric({name!r}, step_metric={step_metric!r}) after the run's first record: its "
                           "contract is fixed at its start; draw it with x=<source>/" + step_metric)
            else:
                axes = {**self._contract.axes, name: step_metric}
                self._contract = msgspec.structs.replace(self._contract, axes=axes)

    def watch(self, models: Any, criterion: Any = None, log: str | None = "gradients", log_freq: int = 1000,
              **_: Any) -> None:
        for model in models if isinstance(models, (list, tuple)) else [models]:
            self._watched.append((model, max(1, int(log_freq))))

    def alert(self, title: str, text: str, level: Any = "INFO", **_: Any) -> None:
        level = str(getattr(level, "value", level)).lower()
        self._ensure().note(f"{title}: {text}", level={"warn": "warning"}.get(level, level)
                            if level in ("info", "warning", "error", "warn") else "info")

    def save(self, glob_str: str, base_path: str | None = None, policy: str = "live") -> list[str]:
        found = sorted(_glob.glob(str(glob_str)))
        self._ensure().note(f"wandb.save: {', '.join(found) or glob_str} (kept where it is; ol uploads nothing)")
        return found

    def log_code(self, root: str = ".", name: str | None = None, include_fn: Any = None, exclude_fn: Any = None,
                 **_: Any) -> int:
        """A snapshot of the code: the ``.py`` files under ``root`` (or those ``include_fn(path, root)`` takes)
        copied into the run's folder under ``code/``; hidden folders, links and the store itself are left out."""
        run, root = self._ensure(), Path(root).resolve()
        store, target = self._store.resolve(), Path(run.dir) / "code"
        include = include_fn or (lambda path, _root: path.endswith(".py"))
        copied = 0
        for path in sorted(root.rglob("*")):
            parts = path.relative_to(root).parts
            if (path.is_symlink() or not path.is_file() or any(p.startswith(".") for p in parts)
                    or path.is_relative_to(store) or not include(str(path), str(root))
                    or (exclude_fn and exclude_fn(str(path), str(root)))):
                continue
            if copied >= MAX_CODE_FILES:
                self._warn(f"log_code: {MAX_CODE_FILES:,} files copied; the rest under {root} were not")
                break
            (target / Path(*parts)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / Path(*parts))
            copied += 1
        run.note(f"code: {copied} file(s) of {root} kept in code/" + (f" ({name})" if name else ""))
        return copied

    def mark_preempting(self) -> None:
        """The scheduler may stop this run: said in its log, and a SIGTERM from now on ends the run interrupted
        (resumable with its id) instead of leaving it open to be read as crashed."""
        run = self._ensure()
        run.note("marked preempting: the scheduler may stop this run; resume it with its id", "warning")
        run.expect_preemption()

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        global run, config, summary
        if self._run is None and not self._disabled and not self._resume:
            self._ensure()  # a run that recorded nothing is still a run that happened
        if self._run is not None:
            self._run.close("completed" if not exit_code else "failed",
                            error="" if not exit_code else f"exit code {exit_code}")
        if run is self:
            run = config = summary = None

    def log_artifact(self, *args: Any, **kwargs: Any) -> None:
        raise UsageError("wandb shim: artifacts are not uploaded by ol; keep the files in the run's folder "
                         "(run.dir) and name them with run.summary or a note")

    use_artifact = log_artifact

    def __enter__(self) -> WandbRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.finish(exit_code=1 if exc is not None else 0)

    # recording ---------------------------------------------------------------------------------------

    def _ensure(self) -> _OlRun:
        if self._run is None:
            options, config = self._options, self.config.as_dict()
            if self._resume and is_run_dir(Path(self.dir)):
                self._run = _OlRun.start(store=self._store, experiment=self.project, run_id=self.id, resume=True,
                                         handle_signals=False)
                if config:
                    self._run.config.update(config)
            else:
                self._run = _OlRun.start(store=self._store, experiment=self.project, run_id=self.id, config=config,
                                         contract=self._contract, name=options.get("name") or "",
                                         tags=options.get("tags") or (), group=options.get("group") or "",
                                         handle_signals=False, recorder="wandb")
            if options.get("notes"):
                self._run.note(str(options["notes"]))
            if self.summary.as_set():
                self._run.summary.update(self.summary.as_set())
        return self._run

    def _record(self, kind: str, changed: dict) -> None:
        if self._disabled or not changed:
            return
        if self._run is None and kind == "config":
            return  # recorded in the run's start, with the rest of the config
        getattr(self._ensure(), kind).update(changed)

    def _warn(self, message: str) -> None:
        warnings.warn(f"ol wandb shim: {message}", stacklevel=3)
        if self._run is not None:
            self._run.note(message, level="warning")


def init(project: str | None = None, name: str | None = None, config: dict | Any = None,
         tags: list[str] | None = None, group: str | None = None, notes: str | None = None, dir: str | None = None,
         id: str | None = None, resume: bool | str | None = None, mode: str | None = None,
         **others: Any) -> WandbRun:
    """Start a run (``project`` is the ol experiment; ``dir`` the store, default $OL_STORE or ./runs); it becomes
    the module's ``run``, ``config`` and ``summary``, as W&B's do."""
    unknown = sorted(set(others) - set(HARMLESS))
    if unknown:
        raise UsageError(f"wandb shim: init() does not take {', '.join(unknown)}",
                         hint="remove it, or see ol/integrations/wandb.py for what maps")
    reinit = others.get("reinit")
    if run is not None and reinit in (None, False, "default", "return_previous"):
        return run  # W&B's default in a script: init while a run is active returns that run
    if run is not None and reinit in (True, "finish_previous"):
        run.finish()
    store = Path(dir) if dir else Path(os.environ.get(STORE_ENV) or "runs")
    if resume == "must" and not (id and is_run_dir(_OlRun.folder(store, plain_experiment(project or "",
                                                                                           "uncategorized"), id))):
        raise UsageError(f"wandb shim: resume='must' but there is no run {id!r} of project {project!r} to resume",
                         hint="pass the id of a run of this project, or resume='allow'")
    mode = mode or os.environ.get("WANDB_MODE", "online")
    # any project name W&B accepts ("My Project (v2)", 100 characters) is an experiment of plain letters
    started = WandbRun(store, plain_experiment(project or "", "uncategorized"), id or _OlRun.new_id(),
                       resume not in (None, False, "never"),
                       {"name": name, "tags": list(tags or ()), "group": group, "notes": notes},
                       disabled=mode == "disabled")
    if config is not None:
        values = config if isinstance(config, dict) else vars(config)
        started.config.update(dict(values))
    if run is None or reinit != "create_new":  # create_new: a second run beside the module's, as W&B's
        _set_current(started)
    return started


def _set_current(current: WandbRun | None) -> None:
    global run, config, summary
    run = current
    config = current.config if current else None
    summary = current.summary if current else None


def log(data: dict, step: int | None = None, commit: bool | None = None) -> None:
    _current("log").log(data, step=step, commit=commit)


def define_metric(name: str, *args: Any, **kwargs: Any) -> None:
    _current("define_metric").define_metric(name, *args, **kwargs)


def watch(models: Any, *args: Any, **kwargs: Any) -> None:
    _current("watch").watch(models, *args, **kwargs)


def alert(title: str, text: str, *args: Any, **kwargs: Any) -> None:
    _current("alert").alert(title, text, *args, **kwargs)


def save(glob_str: str, *args: Any, **kwargs: Any) -> list[str]:
    return _current("save").save(glob_str, *args, **kwargs)


def mark_preempting() -> None:
    _current("mark_preempting").mark_preempting()


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    if run is not None:
        run.finish(exit_code)


def log_artifact(*args: Any, **kwargs: Any) -> None:
    _current("log_artifact").log_artifact()


def Artifact(*args: Any, **kwargs: Any) -> None:  # noqa: N802 - W&B's name
    raise UsageError("wandb shim: ol has no artifacts; files stay where they are written (run.dir)")


def Api(*args: Any, **kwargs: Any) -> None:  # noqa: N802 - W&B's name
    raise UsageError("wandb shim: there is no server to query; read runs with ol.open(store) in Python "
                     "or `ol query` / `ol runs` in a shell")


def _current(what: str) -> WandbRun:
    if run is None:
        raise UsageError(f"wandb shim: {what}() before wandb.init()", hint="call wandb.init(project=...) first")
    return run




def _norms(model: Any) -> dict[str, float]:
    """Each parameter's gradient and weight norm (watch's reduced form), as training scalars."""
    out = {}
    for name, parameter in model.named_parameters():
        out[f"parameters/{name}"] = float(parameter.detach().norm())
        if parameter.grad is not None:
            out[f"gradients/{name}"] = float(parameter.grad.detach().norm())
    return out
