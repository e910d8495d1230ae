"""A run's record (RunInfo) and how it is read from a log's first and last frames; readers list a store's
runs through the read model (store/read/snapshot.py), which keeps these records in the store's index.
``scan_runs`` here reads every run directory: it is what a training process uses, since it writes no index.

A run's status comes from its log, by the one fold every reader uses (store/read/fold.py): the last lifecycle
event if it is run-ended; otherwise *running* while its writer lock is held, else *crashed*. Only the first
frame and the last frames of a log are decoded, found by walking frame headers (store/log/format.py's one
walker), so listing stays cheap.
"""

from __future__ import annotations

import functools
import gc
import json
from contextlib import contextmanager
from pathlib import Path

import msgspec

from ol.schemas import Event, RunStarted
from ol.store.errors import PayloadError, StoreError
from ol.store.log.format import FILE_HEADER_SIZE, FrameRef, HeaderError, TornTail, read_payload, scan_file_frames
from ol.store.log.rundir import is_run_dir, log_path, other_ranks, writer_active
from ol.store.log.segments import list_segments, read_segment_header
from ol.store.read.fold import RunFold, status_of
from ol.store.read.record import RunInfo

STATUSES = ("completed", "failed", "interrupted", "running", "crashed")
TAIL_FRAMES = 8  # frames decoded from the end to find the last step


def run_info(run_dir: Path) -> RunInfo:
    """Describe one run from its log (first frame + last frames)."""
    run_dir = Path(run_dir)
    info = RunInfo(run_dir, run_dir.name, run_dir.parent.name, status="crashed")
    folding = RunFold(info)
    # a last segment shorter than its header is one a crash interrupted while creating it: it never
    # held an event, so the run ends in the segment before (a run with none at all is just crashed)
    segments = list_segments(log_path(run_dir))
    while segments and _size(segments[-1][1]) < FILE_HEADER_SIZE:
        segments.pop()
    if segments:
        try:
            _read_start(info, folding)
            _read_end(folding, segments[-1][1])
        except (HeaderError, StoreError, PayloadError, OSError) as e:
            info.problem = str(e)
    info.status = status_of(info, writing=writer_active(run_dir))
    if segments and info.started_at is None and not info.problem and info.status == "crashed":
        info.problem = ("its log holds no whole event (every frame is cut short or damaged: the writer died "
                        f"before its first flush, or the log was damaged); run `ol verify {info.run_id}`")
    return info


_RECORD_SKIP = ("dir", "contract", "summaries")


def record_json(info: RunInfo, store: Path) -> str:
    """A RunInfo as the index keeps it (its directory relative to the store), without its metrics' summaries:
    a listing decodes every record and needs none of them (``summaries_json`` keeps them beside it)."""
    out = {k: v for k, v in info.__dict__.items() if k not in _RECORD_SKIP}
    out["dir"] = str(Path(info.dir).relative_to(store))
    out["contract"] = msgspec.to_builtins(info.contract)
    return json.dumps(out, allow_nan=True, default=str)


def summaries_json(info: RunInfo) -> str:
    return json.dumps(info.summaries, allow_nan=True, default=str)


def record_from_json(text: str, store: Path) -> RunInfo:
    """A record as ``record_json`` wrote it, decoded straight into a RunInfo by msgspec (3× faster than
    json.loads and building it: a listing of 10,000 runs decodes 10,000 records)."""
    try:
        return _decoder(Path(store)).decode(text)
    except msgspec.DecodeError:
        # NaN and Infinity (a diverged run's final loss, say) are JSON only to Python's json module
        return msgspec.convert(json.loads(text), RunInfo, dec_hook=_in_store(Path(store)))


@functools.lru_cache(maxsize=8)
def _decoder(store: Path) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(RunInfo, dec_hook=_in_store(store))


def _in_store(store: Path):
    def hook(kind, value):
        if kind is Path and isinstance(value, str):
            return store / value
        raise NotImplementedError(f"{kind} is not in a record")

    return hook


def rank_streams(run_dir: Path, main: RunInfo | None = None) -> list[RunInfo]:
    """One RunInfo per rank stream of a run, rank 0 (the run's own log) first. A rank's status is its own
    stream's: a rank killed mid-run is *crashed* (no run-ended, no writer) whatever the run's status is,
    which follows rank 0."""
    infos = [main or run_info(run_dir)]
    for rank, stream in other_ranks(run_dir):
        info = run_info(stream)
        info.rank = rank  # the directory says which rank wrote it, even if its first event is unreadable
        info.experiment, info.run_id = infos[0].experiment, infos[0].run_id
        infos.append(info)
    return infos


def run_started(run_dir: Path) -> RunStarted | None:
    """The run's first event when it is run-started, decoding only the first frame (a reader that
    scans the log would read the whole first segment to answer this)."""
    segments = list_segments(log_path(run_dir))
    if not segments:
        return None
    path = segments[0][1]
    try:
        frames = _frame_headers(path, limit=1)
    except HeaderError:
        return None
    if not frames:
        return None
    head = frames[0]
    with open(path, "rb") as f:
        payload = read_payload(f, head)
    from ol.store.log.codec import PayloadDecoder  # numpy loads when a log is read, never for a listing

    try:
        events = PayloadDecoder().events(payload, head.header.first_seq).events if payload is not None else []
    except PayloadError:
        return None
    first = events[0][1] if events else None
    return first if isinstance(first, RunStarted) else None


def _read_start(info: RunInfo, folding: RunFold) -> None:
    event = run_started(info.dir)
    if event is not None:
        folding.add(event)  # identity, config and contract: the fold's, into the record


def _read_end(folding: RunFold, path: Path) -> None:
    """Fold the last frames of the log, in order: they hold its last lifecycle event and its last steps."""
    from ol.store.log.codec import PayloadDecoder  # numpy loads when a log is read, never for a listing
    from ol.store.log.columns import StepColumns, decode_arrays

    decoder = PayloadDecoder()
    with open(path, "rb") as f:
        for frame in _frame_headers(path)[-TAIL_FRAMES:]:
            payload = read_payload(f, frame)
            try:
                items = decoder.items(payload).items if payload is not None else []
            except PayloadError:
                continue
            for item in items:
                if type(item) is StepColumns:  # the block's columns answer this: no event objects
                    own, _ = decode_arrays(item)
                    if item.n:
                        folding.saw_step(int(own["step"][-1]),
                                         None if own["epoch"] is None else int(own["epoch"][-1]))
                elif isinstance(item, Event):
                    folding.add(item)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _frame_headers(path: Path, limit: int | None = None) -> list[FrameRef]:
    """The valid frames of a segment (the first ``limit``), walking headers only, past damage as readers do."""
    read_segment_header(path)
    out: list[FrameRef] = []
    with open(path, "rb") as f:
        for item in scan_file_frames(f, FILE_HEADER_SIZE):
            if isinstance(item, TornTail):
                break
            if isinstance(item, FrameRef):
                out.append(item)
                if limit is not None and len(out) >= limit:
                    break
    return out


def started_order(info: RunInfo) -> tuple:
    """Sort key by recorded start time: run ids only have one-second resolution."""
    return (info.started_at or 0.0, info.run_id)


def newest(runs: list[RunInfo]) -> RunInfo:
    return max(runs, key=started_order)


def iter_run_dirs(store: Path):
    """Every run directory under ``store/<experiment>/``, sorted by experiment then run id."""
    store = Path(store)
    if not store.is_dir():
        return
    for exp in sorted(p for p in store.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for run in sorted(p for p in exp.iterdir() if p.is_dir()):
            if is_run_dir(run):
                yield run


def require_store(store: Path) -> Path:
    """The store root, or a StoreError saying it is not there (a typo deserves more than "no runs")."""
    store = Path(store)
    if not store.is_dir():
        raise StoreError(f"store: there is no store at {store} (the directory does not exist); pass --store DIR "
                         "or set OL_STORE (`ol train` creates one)")
    return store


def scan_runs(store: Path, experiment: str | None = None) -> list[RunInfo]:
    """Every run of the store read from its own log (first and last frames), without the index: what a
    training process uses to find runs (it never writes the index). Readers use the read model's
    ``open_snapshot``, which costs what changed, not what exists."""
    require_store(store)
    return [run_info(d) for d in iter_run_dirs(store) if experiment is None or d.parent.name == experiment]


@contextmanager
def paused_gc():
    """For making thousands of small objects at once (a record, a row per run): the cyclic collector would only
    walk them, again and again as they pile up — a quarter of a cold dashboard page at 10,000 runs."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()
