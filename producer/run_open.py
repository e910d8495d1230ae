"""Opening a run's stream before anything is recorded: a new run (one process, or one rank of many under
torchrun, which make one run), or an existing run reopened to continue — what ``Run.start`` and
``Run.resume`` do, so run.py is about recording."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from ol.errors import ProducerError, UsageError
from ol.producer import environment, ranks
from ol.producer.values import RunSection, in_notebook, recordable
from ol.schemas import ConfigUpdated, Environment, Note, RunContract, RunResumed, RunStarted
from ol.store.log.reader import LogReader
from ol.store.log.rundir import WriterLock, check_name, is_run_dir, log_path, new_run_id, rank_dir, run_path
from ol.store.log.sharing import make_dir, make_dirs
from ol.store.log.writer import LogWriter
from ol.store.read.listing import run_started

if TYPE_CHECKING:
    from ol.producer.run import Run


def start(cls: type[Run], store: Path, experiment: str, config: dict | None, *, strategy: str, seed, group: str,
          run_id: str | None, environment_info: Environment | None, opts: dict, handle_signals: bool | None,
          parameters: int | None, contract: RunContract | None, resume: bool, name: str, tags,
          sweep_point: int | None, recorder: str = "") -> Run:
    """``Run.start``'s work (its docstring says what it does)."""
    if resume:
        if not run_id:
            raise UsageError("producer: Run.start(resume=True) needs the run_id of the run to continue")
        existing = run_path(Path(store), experiment, check_name("run id", run_id))
        if is_run_dir(existing):
            stream = rank_dir(existing, ranks.detect().rank)  # this rank's own history (rank 0: the run's)
            last = last_step(stream) if is_run_dir(stream) else -1
            return cls.resume(existing, step=last, environment_info=environment_info, handle_signals=handle_signals,
                              **opts)
    rank = ranks.detect()
    strategy, group, name = (_text(value, what) for value, what in ((strategy, "strategy"), (group, "group"),
                                                                     (name, "name")))
    seed = recordable(seed, "seed")
    if seed is not None and type(seed) is not int:
        raise ProducerError(f"producer: seed is {seed!r}; a seed is a whole number or None")
    started = dict(experiment=experiment, strategy=strategy, seed=seed, group=group,
                   config=recordable(dict(config or {}), "config"),
                   parameters=_checked(parameters, int | None, "parameters"),
                   contract=_checked(contract or RunContract(), RunContract, "contract"), rank=rank.rank,
                   world_size=rank.world_size, name=name, tags=[str(t) for t in tags],
                   sweep_point=sweep_point, recorder=str(recorder))
    if environment_info is not None:
        environment_info = _checked(environment_info, Environment, "environment_info")
    opts = {**opts, "environment_info": environment_info}
    if not rank.distributed:
        run = _create(cls, Path(store), run_id or new_run_id(), started, opts)
    elif ranks.process_group() is not None:
        run = _start_in_group(cls, Path(store), run_id, rank, started, opts)
    else:
        run_id = run_id or ranks.shared_run_id()
        if run_id is None:
            raise UsageError(f"producer: rank {rank.rank} of {rank.world_size} cannot agree on a run id with the "
                             "other ranks: call torch.distributed.init_process_group() before Run.start, or set "
                             "OL_RUN_ID (torchrun --rdzv-id sets TORCHELASTIC_RUN_ID)")
        if rank.rank == 0:
            run = _create(cls, Path(store), run_id, started, opts)
        else:
            ranks.wait_for_run(run_path(Path(store), experiment, check_name("run id", run_id)), rank)
            run = _join(cls, Path(store), run_id, started, opts)
    if _wants_signals(handle_signals):
        run._install_signals()
    return run


def reopen(cls: type[Run], run_dir: Path, *, step: int, epoch: int | None, checkpoint: str,
           environment_info: Environment | None, opts: dict, handle_signals: bool | None) -> Run:
    """``Run.resume``'s work: reopen ``run_dir`` (cutting a torn tail) and record that it continues from ``step``;
    under torchrun each rank reopens its own stream of the run (a rank that had none starts one)."""
    run_dir = Path(run_dir)
    rank = ranks.detect()
    stream = rank_dir(run_dir, rank.rank)
    if rank.rank > 0 and not is_run_dir(stream):
        first = run_started(run_dir)
        if first is None:
            raise ProducerError(f"producer: run {run_dir} has no readable run-started event to resume")
        opts = {**opts, "environment_info": environment_info}
        identity = {f: getattr(first, f) for f in ("experiment", "strategy", "seed", "group", "config",
                                                    "parameters", "contract", "name", "tags",
                                                    "sweep_point", "recorder")}
        run = _join(cls, run_dir.parent.parent, first.run_id, {**identity, "rank": rank.rank,
                                                               "world_size": rank.world_size}, opts)
        run._next_step, cut = step + 1, 0
    else:
        lock = WriterLock(stream).acquire()
        try:
            log = LogWriter.reopen(log_path(stream), fsync_interval=opts["fsync_interval"])
        except BaseException:
            lock.release()
            raise
        run = cls(run_dir, log.run_id, lock, log, flush_interval=opts["flush_interval"], max_queue=opts["max_queue"],
                  on_full=opts["on_full"], next_step=step + 1, rank=rank)
        cut = log.cut_bytes
    if cut:
        run.emit(Note(f"cut a torn tail of {cut} bytes left by a crash", level="warning"))
    run.emit(RunResumed(step=step, epoch=epoch, checkpoint=checkpoint, resumed_at=run._wall0,
                        environment=environment_info or environment.collect()))
    if _wants_signals(handle_signals):
        run._install_signals()
    return run


def _start_in_group(cls: type[Run], store: Path, run_id: str | None, rank: ranks.Rank, started: dict,
                    opts: dict) -> Run:
    """Rank 0 creates the run, then broadcasts its id (or why it could not): no rank waits forever."""
    if rank.rank == 0:
        try:
            run = _create(cls, store, run_id or new_run_id(), started, opts)
        except BaseException as e:
            ranks.broadcast(rank, ("error", str(e)))
            raise
        ranks.broadcast(rank, ("ok", run.run_id))
        return run
    outcome, value = ranks.broadcast(rank, None)
    if outcome != "ok":
        raise ProducerError(f"producer: rank 0 could not start the run, so rank {rank.rank} records nothing: "
                            f"{value}")
    return _join(cls, store, value, started, opts)

def _create(cls: type[Run], store: Path, run_id: str, started: dict, opts: dict) -> Run:
    run_id = check_name("run id", run_id)
    run_dir = run_path(store, started["experiment"], run_id)
    if run_dir.is_symlink():
        raise UsageError(f"producer: {run_dir} is a symbolic link; a run is written only into a real folder")
    try:
        Path(store).mkdir(parents=True, exist_ok=True)
        make_dirs(store, started["experiment"], run_id, group_writes_first=True)
        # the claim is the log folder, made once: a folder that holds no log yet (a Trainer's output_dir
        # made before training began) becomes the run, one that holds a log is another run
        make_dir(log_path(run_dir))
    except FileExistsError:
        raise UsageError(f"producer: run {run_dir} already exists; resume it or pick another run id") from None
    except OSError as e:
        raise UsageError(f"producer: cannot create {run_dir}: {e.strerror}; check --store is writable") from None
    return _open_stream(cls, run_dir, run_dir, run_id, started, opts)

def _join(cls: type[Run], store: Path, run_id: str, started: dict, opts: dict) -> Run:
    """A rank > 0: its own stream inside the run rank 0 created."""
    run_dir = run_path(store, started["experiment"], check_name("run id", run_id))
    stream = rank_dir(run_dir, started["rank"])
    try:
        make_dir(stream.parent, exist_ok=True)
        make_dir(stream)
    except FileExistsError:
        raise ProducerError(f"producer: rank {started['rank']} of run {run_dir} already has a stream ({stream}); "
                            "two processes claim the same rank, or the run id was reused") from None
    return _open_stream(cls, run_dir, stream, run_id, started, opts)

def _open_stream(cls: type[Run], run_dir: Path, stream: Path, run_id: str, started: dict, opts: dict) -> Run:
    lock = WriterLock(stream).acquire()
    log = LogWriter.create(log_path(stream), run_id, fsync_interval=opts["fsync_interval"])
    run = cls(run_dir, run_id, lock, log, flush_interval=opts["flush_interval"], max_queue=opts["max_queue"],
              on_full=opts["on_full"], rank=ranks.Rank(started["rank"], started["world_size"]))
    run.emit(RunStarted(run_id=run_id, environment=opts["environment_info"] or environment.collect(),
                        started_at=run._wall0, **started))
    run.config = RunSection(run.emit, ConfigUpdated, started["config"])
    return run


def _text(value, what: str) -> str:
    """A run's strategy, group or name: text, None read as none given (``group=args.group`` when it was not set);
    anything else is refused here, where it was passed, before the run exists."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ProducerError(f"producer: Run.start({what}={value!r}): a {what} is text (or None for none)")
    return value


def _checked(value, kind, what: str):
    """A value of the run's start record as its readers will decode it, or refused here: a Struct built by hand
    is not checked (``RunContract(direction="max")``), and a start record that cannot be read loses the run."""
    try:
        return msgspec.convert(msgspec.to_builtins(value), kind)
    except (msgspec.ValidationError, TypeError) as e:
        raise ProducerError(f"producer: Run.start({what}=…) cannot be recorded: {e}") from None


def last_step(run_dir: Path) -> int:
    """The highest step any event of the run recorded (-1 for none): resuming there drops nothing."""
    last = -1
    for _, event in LogReader(log_path(run_dir)).events():
        step = getattr(event, "step", None)
        if isinstance(step, int) and step > last:
            last = step
    return last


def _wants_signals(asked: bool | None) -> bool:
    """Handle Ctrl+C/SIGTERM when asked to, and by default everywhere but in a notebook kernel."""
    return not in_notebook() if asked is None else asked
