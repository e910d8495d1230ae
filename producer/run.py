"""The recording API: ``Run.start(...)`` as a context manager, ``log``, ``emit``, ``flush``, ``close``.

    with Run.start(store="runs", experiment="mine", config={"lr": 1e-3}) as run:
        run.log({"loss": 0.3, "lr": 1e-3}, step=i)

``log`` takes Python numbers and never syncs a GPU: the loop decides when to call ``.item()``.
It only appends to a queue; a background thread frames, compresses and writes (see background.py).
A Run is safe to use from several threads.
"""

from __future__ import annotations

import threading
import time
import traceback
import warnings
from pathlib import Path

from ol.errors import OlError, ProducerError
from ol.producer import ranks, run_open
from ol.producer.background import FLUSH_INTERVAL, MAX_QUEUE, BackgroundWriter
from ol.producer.checkpoint_files import checkpoint_of, media_file_of
from ol.producer.signals import EXITS, GUARD, Terminated
from ol.producer.values import STEP_OWN, RunSection, as_epoch, epoch_of_values, normalise, whole
from ol.schemas import (
    MAX_METRIC_NAMES,
    MAX_NAME_CHARS,
    Checkpoint,
    ConfigUpdated,
    Environment,
    Epoch,
    Event,
    Note,
    RunContract,
    RunEnded,
    Scalars,
    SummaryUpdated,
)
from ol.store.log.rundir import WriterLock, new_run_id, run_path
from ol.store.log.writer import FSYNC_INTERVAL, LogWriter

_FAST_NUMBERS = (float, int)


class Run:
    """One run being recorded. Create with ``Run.start`` or ``Run.resume``."""

    def __init__(self, run_dir: Path, run_id: str, lock: WriterLock, log: LogWriter, *,
                 flush_interval: float, max_queue: int, on_full: str, next_step: int = 0,
                 rank: ranks.Rank = ranks.Rank()):
        self.dir = Path(run_dir)  # the run's directory (checkpoints, artifacts), whichever rank this is
        self.run_id = run_id
        self.rank = rank.rank
        self.world_size = rank.world_size
        self._lock = lock
        self._t0_ns = time.monotonic_ns()
        self._wall0 = time.time()
        self._writer = BackgroundWriter(log, flush_interval=flush_interval, max_queue=max_queue,
                                        on_full=on_full, t0_ns=self._t0_ns,
                                        on_orphaned=self._close_orphaned)
        self._queue = self._writer.queue
        self._soft_limit = min(self._writer.max_frame_events, self._writer.max_queue)
        self._next_step = next_step
        self._closed = False
        self._close_lock = threading.Lock()
        self._handles_signals = False
        # an uncaught exception in the main thread while this run is open is noted, so a run its worker closes
        # at exit says why the program died; the hook is given back when the last open run closes
        EXITS.install()
        self._watches_exit = True
        # run.config.update(...) and run.summary[...] = …, each change an event (the config starts as Run.start's)
        self.config = RunSection(self.emit, ConfigUpdated)
        self.summary = RunSection(self.emit, SummaryUpdated, name="summary")
        self._held: dict[str, float] = {}  # log(commit=False) values waiting for their step
        self._held_media: list = []  # and the histograms, images and tables among them
        self._held_at: tuple[int | None, int | None] = (None, None)
        self._names: set[str] = set()  # every scalar name logged, checked against the caps once each

    def _repr_html_(self) -> str:  # how a run shows itself in a notebook cell
        from html import escape

        state = "closed" if self._closed else "recording"
        return (f"<p><b>ol run</b> {escape(self.run_id)} ({state}, next step {self._next_step}) in "
                f"<code>{escape(str(self.dir))}</code>; <code>ol.open(store).runs()</code> lists it</p>")

    # starting -------------------------------------------------------------------------------

    @classmethod
    def start(cls, store: str | Path = "runs", experiment: str = "default", config: dict | None = None,
              *, strategy: str = "", seed: int | None = None, group: str = "", run_id: str | None = None,
              environment_info: Environment | None = None, flush_interval: float = FLUSH_INTERVAL,
              fsync_interval: float = FSYNC_INTERVAL, max_queue: int = MAX_QUEUE,
              on_full: str = "block", handle_signals: bool | None = None, parameters: int | None = None,
              contract: RunContract | None = None, resume: bool = False, name: str = "",
              tags: list[str] | tuple[str, ...] = (), sweep_point: int | None = None, recorder: str = "") -> Run:
        """Create a new run directory under ``store/experiment`` and start recording into it.

        With ``resume=True`` and a ``run_id`` that exists, continue that run instead (as W&B's resume does):
        its history is kept, and ``log()`` without a step carries on after its last recorded step.

        ``name`` is a human name for the run (its id stays the key), ``tags`` free labels; both are in the runs
        view, `ol runs` and replays. ``recorder`` says what records it (an integration names itself; a script
        leaves it empty). Ctrl+C/SIGTERM are handled (the run ends *interrupted*) unless
        ``handle_signals=False`` — or, by default, inside a notebook kernel, whose interrupt stays the kernel's.

        Under torchrun (a process group, or RANK/WORLD_SIZE in the environment) every rank calls this
        and they make one run: rank 0 creates it and writes its main log, rank N its own stream in
        ``<run>/ranks/N``; the run id is rank 0's, broadcast over the process group (or OL_RUN_ID /
        TORCHELASTIC_RUN_ID when there is none)."""
        opts = _opts(flush_interval, fsync_interval, max_queue, on_full)
        return run_open.start(cls, Path(store), experiment, config, strategy=strategy, seed=seed, group=group,
                              run_id=run_id, environment_info=environment_info, opts=opts,
                              handle_signals=handle_signals, parameters=parameters, contract=contract, resume=resume,
                              name=name, tags=tags, sweep_point=sweep_point, recorder=recorder)

    @classmethod
    def resume(cls, run_dir: str | Path, *, step: int, epoch: int | None = None, checkpoint: str = "",
               environment_info: Environment | None = None, flush_interval: float = FLUSH_INTERVAL,
               fsync_interval: float = FSYNC_INTERVAL, max_queue: int = MAX_QUEUE,
               on_full: str = "block", handle_signals: bool | None = None) -> Run:
        """Reopen an existing run (cutting a torn tail) and record that it continues from ``step``.

        Under torchrun each rank reopens its own stream of the run (a rank that had none starts one)."""
        return run_open.reopen(cls, Path(run_dir), step=step, epoch=epoch, checkpoint=checkpoint,
                               environment_info=environment_info,
                               opts=_opts(flush_interval, fsync_interval, max_queue, on_full),
                               handle_signals=handle_signals)

    # recording ------------------------------------------------------------------------------

    def log(self, values: dict[str, float], step: int | None = None, epoch: int | float | None = None,
            source: str = "train", commit: bool = True) -> None:
        """Record scalars at ``step`` (default: one past the last). Values are Python numbers; nested dicts
        are flattened with '/' (``{"train": {"loss": x}}`` is ``train/loss``).

        ``source`` says where they came from: "train" (the default) for the training step's own numbers,
        "eval" (or any name) for numbers measured beside it, e.g. a validation loss, which then never
        shows as a training metric. A step logged only under another source does not advance the steps.
        ``commit=False`` (as in W&B) holds the values for the next ``log`` that commits: one step, one row.

        ``epoch`` (or a value named ``epoch``, as W&B loops and a Trainer log it) is where in training the step
        is; a fraction (2.5: half way through the third epoch) is kept and draws the epoch axis as given."""
        if self._closed or self._writer.failure is not None:
            self._refuse()
        media: list | tuple = ()  # (name, ol.Histogram | ol.Image | ol.Table): events of their own at this step
        for key, value in values.items():
            # plain numbers under plain names allocate nothing more; anything else takes the slow path, which
            # flattens, converts or refuses it here (a bad name must never reach the writer's thread)
            if type(value) not in _FAST_NUMBERS or type(key) is not str or not key:
                media = []
                values = normalise(values, media)
                break
        if "epoch" in values:
            values, epoch = epoch_of_values(values, epoch)
        if epoch is not None and type(epoch) is not int:
            epoch = as_epoch(epoch)
        if not self._names.issuperset(values):  # a name not seen before (a set lookup per name on the hot path)
            self._admit(values, source)
        if source != "train":
            self._log_from(source, values, step, epoch, media)
            return
        if not commit:
            self._held.update(values)
            self._held_media += media
            self._held_at = (step, epoch) if step is not None or epoch is not None else self._held_at
            return
        if self._held or self._held_media:  # what commit=False calls held joins this step
            held_step, held_epoch = self._held_at
            values, self._held = {**self._held, **values}, {}
            media, self._held_media = [*self._held_media, *media], []
            step, epoch = (held_step if step is None else step), (held_epoch if epoch is None else epoch)
            self._held_at = (None, None)
        if step is None:
            step = self._next_step
        self._next_step = step + 1
        queue = self._queue
        queue.append((step, epoch, time.monotonic_ns(), dict(values)))
        for name, item in media:
            queue.append(item.event(name, step, whole(epoch), source))
        if len(queue) >= self._soft_limit:
            self._writer.pressure()

    def _admit(self, values: dict, source: str) -> None:
        """New scalar names, refused (before anything of this call is queued) past the caps every reader relies
        on: MAX_NAME_CHARS characters a name, MAX_METRIC_NAMES names a run; a training scalar named like a
        column every step has (its step, time) would stand for it in the steps table, and is refused too."""
        new = [name for name in values if name not in self._names]
        taken = next((name for name in new if name in STEP_OWN and source == "train"), None)
        if taken is not None:
            raise ProducerError(f"producer: log() value {taken!r} names the step's own {taken} (every step has one); "
                                f"pass step=… for the step, or log it under another name (e.g. {taken}_value)")
        long = next((name for name in new if len(name) > MAX_NAME_CHARS), None)
        if long is not None:
            raise ProducerError(f"producer: log() name {long[:60]!r}… is {len(long):,} characters; names are at most "
                                f"{MAX_NAME_CHARS}")
        if len(self._names) + len(new) > MAX_METRIC_NAMES:
            raise ProducerError(f"producer: log() would make this run's {MAX_METRIC_NAMES + 1:,}th scalar name "
                                f"({new[0][:60]!r}); a run has at most {MAX_METRIC_NAMES:,} (log a vector as "
                                "ol.Histogram or an array event)")
        self._names.update(new)

    def _log_from(self, source: str, values: dict[str, float], step: int | None, epoch: int | float | None,
                  media: list | tuple) -> None:
        if not isinstance(source, str) or not source or "/" in source:
            raise ProducerError(f"producer: log(source={source!r}): a source is a non-empty name without '/', "
                                "such as 'eval'")
        if step is None:
            step = max(self._next_step - 1, 0)  # beside the last training step
        if values or not media:
            self.emit(Scalars(source=source, step=step, epoch=epoch, time=self.elapsed(), values=dict(values)))
        for name, item in media:
            self.emit(item.event(name, step, whole(epoch), source))

    def log_order(self, epoch: int, ids, *, step: int | None = None, start: int = 0, full: bool = True,
                  strategy: str = "", seed: int | None = None, generator: str = "", dataset: str = "",
                  source: str = "", sampled: bool = False) -> None:
        """Record the order epoch ``epoch`` feeds its examples in: ``ids``, the sample ids (indices into the
        training set) of the whole epoch in feeding order, fed from position ``start`` on (after a resume,
        where it continues). Its digest always; the ids themselves when ``full`` (bit-packed, about
        log2(n) bits each). ``strategy``, ``seed``, ``generator`` and ``dataset`` say what made it and what
        the ids index, ``source`` the run whose order it replays. Ids that are not a 1-D sequence of
        non-negative integers are refused here."""
        from ol.store.read.orders import order_event  # numpy loads for a run that records orders, not for every run

        self.emit(order_event(epoch, max(self._next_step - 1, 0) if step is None else step, ids, start=start,
                              full=full, strategy=strategy, seed=seed, generator=generator, dataset=dataset,
                              source=source, sampled=sampled))

    def checkpoint(self, path: str | Path, *, step: int, epoch: int | None = None,
                   reason: str = "periodic") -> Checkpoint:
        """Record a checkpoint file your loop (or framework) wrote inside the run's folder (``run.dir``): its
        place, size and sha256, as `ol train` records its own, so `ol verify` checks it. Refused in one line
        for a file outside the run's folder."""
        event = checkpoint_of(self.dir, Path(path), step=step, epoch=epoch, reason=reason)
        self.emit(event)
        return event

    def log_file(self, name: str, path: str | Path, *, media: str = "file", caption: str = "",
                 step: int | None = None, source: str = "train") -> None:
        """Record a file your loop wrote inside the run's folder (``run.dir``) whose content the store has no
        kind for — a video, audio, an HTML page (``media``) — at ``step`` (default: the last one logged): its
        place, size and sha256, so ``ol verify`` vouches for it and the ``files`` view lists it."""
        if media not in ("video", "audio", "html", "file"):
            raise ProducerError(f"producer: log_file(media={media!r}); use video, audio, html or file")
        step = max(self._next_step - 1, 0) if step is None else int(step)
        self.emit(media_file_of(self.dir, name, Path(path), step=step, epoch=None, media=media, caption=caption,
                                source=source))

    @staticmethod
    def folder(store: str | Path, experiment: str, run_id: str) -> Path:
        """The folder a run ``run_id`` of ``experiment`` has in ``store``, before it starts or after (a framework
        can point its own outputs there; ``new_id()`` makes an id to choose it before the run starts)."""
        return run_path(Path(store), experiment, run_id)

    @staticmethod
    def new_id() -> str:
        """A fresh run id, as ``Run.start`` makes one."""
        return new_run_id()

    @property
    def next_step(self) -> int:
        """The step a ``log()`` call given none records at (for an event of the same step, e.g. an array)."""
        return self._next_step

    def emit(self, event: Event) -> None:
        """Record any typed event."""
        if self._closed or self._writer.failure is not None:
            self._refuse()
        if not isinstance(event, Event):
            raise ProducerError(f"producer: emit() takes an ol.schemas event, not {type(event).__name__}")
        self._queue.append(event)
        if len(self._queue) >= self._soft_limit:
            self._writer.pressure()

    def epoch(self, epoch: int, metrics: dict[str, float] | None = None, step: int | None = None, *,
              eval: dict[str, float] | None = None, restated: bool = False) -> None:
        """Record the end of an epoch, as `ol train` does: ``metrics`` from the training loop, ``eval`` from
        an evaluation (source "eval" wherever the metric is read). Own loops get the epochs view, epoch axes
        and the console's epoch line. ``step`` defaults to the last step logged. ``restated=True``: the values
        were logged with ``log()`` already (as a framework's loggers do) and this record repeats their last
        ones for the epochs view and the console; curves, SQL's metrics and "best" count them once."""
        metrics, evaluated = dict(metrics or {}), dict(eval or {})
        both = sorted(set(metrics) & set(evaluated))
        if both:
            raise ProducerError(f"producer: epoch(): {', '.join(both)} given as both a training and an evaluation "
                                "metric; one name is one metric, so rename one (e.g. train_loss / val_loss)")
        if step is None:
            step = max(self._next_step - 1, 0)
        metrics, evaluated = normalise(metrics), normalise(evaluated)
        self.emit(Epoch(epoch=epoch, step=step, time=self.elapsed(), metrics={**metrics, **evaluated},
                        eval=list(evaluated), restated=restated))

    def note(self, message: str, level: str = "info", step: int | None = None, epoch: int | None = None):
        self.emit(Note(message, level=level, step=step, epoch=epoch))

    def flush(self, fsync: bool = False) -> None:
        """Block until everything recorded so far is in the log (and on disk with ``fsync``)."""
        if self._closed:
            return
        self._writer.flush(fsync)

    def close(self, status: str = "completed", error: str = "") -> None:
        """Record run ended with ``status`` and stop the writer. Idempotent."""
        GUARD.enter()  # a Ctrl+C or SIGTERM now waits until the run is closed
        try:
            if self._held and not self._closed and self._writer.failure is None:
                self.log({})  # values held by commit=False are committed, not lost, as W&B's finish does
            self._close(status, error)
        finally:
            GUARD.leave()

    def _close(self, status: str, error: str) -> None:
        with self._close_lock:
            if self._closed:
                return
            if self._writer.failure is None:
                self._queue.append(RunEnded(status=status, error=error, ended_at=time.time(),
                                            wall_time=(time.monotonic_ns() - self._t0_ns) / 1e9))
            self._closed = True
            try:
                self._writer.close()
            except BaseException:
                if self._writer.failure is not None:  # the log writer died: say so in the log if it can be
                    self._writer.write_last([RunEnded(status="failed", error=_describe(self._writer.failure),
                                                      ended_at=time.time(), wall_time=self.elapsed())])
                raise
            finally:
                self._lock.release()
                self._restore_signals()
            self._write_derived()

    def _write_derived(self) -> None:
        """summary.json and experiment_config.json beside the log, as every run gets them at its end (ol train's,
        a script's, every integration's). Derived: a file that cannot be written loses nothing recorded."""
        if self.rank != 0 or self._writer.failure is not None:
            return
        from ol.store.read.summary import write_derived

        try:
            write_derived(self.dir)
        except (OSError, OlError) as e:
            warnings.warn(f"ol: {self.dir / 'summary.json'} was not written ({e}); the log has everything",
                          stacklevel=3)

    def elapsed(self) -> float:
        """Seconds since this run (or this resumed stretch of it) started."""
        return (time.monotonic_ns() - self._t0_ns) / 1e9

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is None:
            self.close("completed")
        elif isinstance(exc, (KeyboardInterrupt, Terminated)):
            self.close("interrupted", error=type(exc).__name__)
        else:
            self.close("failed", error=_describe(exc))

    def _refuse(self) -> None:
        self._writer.raise_failure()
        raise ProducerError(f"producer: run {self.run_id} is closed; start or resume a run to record more")

    # ending without close() -----------------------------------------------------------------

    def expect_preemption(self) -> None:
        """From now on a SIGTERM (what a scheduler sends to preempt a job) or Ctrl+C ends this run *interrupted*,
        resumable, instead of killing the process with the run left open (read as crashed): for a run started
        with ``handle_signals=False``, as the integrations start theirs. Only from the main thread."""
        if not self._handles_signals and threading.current_thread() is threading.main_thread():
            self._install_signals()

    def _install_signals(self) -> None:
        GUARD.install()
        self._handles_signals = True

    def _restore_signals(self) -> None:
        if self._handles_signals:
            self._handles_signals = False
            GUARD.uninstall()
        if self._watches_exit:
            self._watches_exit = False
            EXITS.uninstall()

    def _close_orphaned(self) -> None:
        """The main thread ended with this run open: record how, as the worker's last act."""
        error = _describe(EXITS.exception) if EXITS.exception is not None else ""
        status = "interrupted" if GUARD.terminated else ("failed" if error else "completed")
        with self._close_lock:
            if self._closed:
                return
            self._queue.append(RunEnded(status=status, error=error, ended_at=time.time(),
                                        wall_time=(time.monotonic_ns() - self._t0_ns) / 1e9))
            self._closed = True
            self._writer._stopping = True
            self._lock.release()


def _opts(flush_interval: float, fsync_interval: float, max_queue: int, on_full: str) -> dict:
    return dict(flush_interval=flush_interval, fsync_interval=fsync_interval, max_queue=max_queue, on_full=on_full)


def _describe(exc: BaseException) -> str:
    lines = traceback.format_exception_only(type(exc), exc)
    return "".join(lines).strip()

