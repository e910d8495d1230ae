"""W&B offline runs (``wandb/offline-run-*/run-<id>.wandb``, as ``WANDB_MODE=offline`` leaves them) as ol
runs: the run's name, project, group, tags and config, every history row's numbers at its ``_step`` with
its ``_timestamp``, histograms, the summary, and how it ended (its exit code; a run with no exit record
is one that never finished). The transaction log is read record by record (LevelDB log framing of W&B's
protobuf records): a file cut short imports what precedes the cut, with a note. The folder is untrusted input
(source_files.py): no link followed, sizes capped before reading, a record or value that does not decode
skipped with a note naming it."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

from ol.integrations import require
from ol.integrations.importing import Imported, plain_experiment, plain_step
from ol.integrations.source_files import SourceTree, named_file
from ol.schemas import HistogramData

BLOCK = 32 * 1024  # LevelDB log blocks
HEADER = 7  # a chunk's CRC (4), length (2), type (1)
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
MAX_RECORD_BYTES = 64 << 20  # one record assembled from chunks


def find(root: Path) -> tuple[list[Path], list[str]]:
    """The runs' transaction logs under ``root`` (a wandb folder, an offline-run folder or one file), and what
    was passed over (links are not entered)."""
    if Path(root).is_file():
        return [named_file(root, "run-ID.wandb file")], []
    tree = SourceTree(root)
    return tree.files("run-*.wandb"), tree.passed_over


def read(path: Path) -> Imported:
    pb = require("wandb.proto.wandb_internal_pb2", "wandb")
    run = Imported(name=path.stem.removeprefix("run-"), origin=f"wandb:{path}", status="crashed")
    data = SourceTree(path.parent).read_bytes(path)
    for chunk in _records(data, path.name, run):
        try:
            record = pb.Record.FromString(chunk)
        except Exception:  # noqa: BLE001 - protobuf's DecodeError: a record that is not one
            run.note("a record that does not decode was skipped")
            continue
        try:
            _record(run, record)
        except (ValueError, TypeError, OverflowError, AttributeError, RecursionError) as e:
            run.note(f"a {record.WhichOneof('record_type')} record that does not read as one ({e}) was skipped")
    return run


def _record(run: Imported, record) -> None:
    kind = record.WhichOneof("record_type")
    if kind == "run":
        _run(run, record.run)
    elif kind == "history":
        _history(run, record.history)
    elif kind == "config":
        run.config.update(_config(record.config.update))
    elif kind == "summary":
        run.summary.update({i.key or "/".join(i.nested_key): _json(i.value_json) for i in record.summary.update
                            if not (i.key or "").startswith("_")})
    elif kind == "exit":
        code = record.exit.exit_code
        run.status, run.error = ("completed", "") if code == 0 else ("failed", f"exit code {code}")


def _run(run: Imported, record) -> None:
    run.name = record.display_name or record.run_id
    run.group = record.run_group
    run.experiment = plain_experiment(record.project, "wandb")
    run.tags = list(record.tags)
    if record.start_time.seconds:
        run.started_at = record.start_time.seconds + record.start_time.nanos / 1e9
    run.config.update(_config(record.config.update))


def _history(run: Imported, record) -> None:
    row: dict = {}
    for item in record.item:  # a media value arrives as one item per field, under its nested key
        path = list(item.nested_key) or [item.key]
        target = row
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = _json(item.value_json)
    given = row.pop("_step", record.step.num)
    step = plain_step(given)
    if step is None:
        run.note(f"history rows whose _step is not a whole number in range ({str(given)[:40]!r}) were skipped")
        return
    wall = row.pop("_timestamp", None)
    row.pop("_runtime", None)
    _values(run, step, wall if isinstance(wall, (int, float)) else None, row, "")


def _values(run: Imported, step: int, wall: float | None, values: dict, prefix: str) -> None:
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool) or key.startswith("_"):
            continue
        if isinstance(value, (int, float)):
            try:
                run.add(step, name, float(value), wall)
            except OverflowError:  # an integer past a float's range (10**400)
                run.note(f"{name!r} at step {step}: a number past a float's range was skipped")
        elif isinstance(value, dict) and value.get("_type") == "histogram":
            try:
                run.media.append(HistogramData(name=name, step=step, edges=[float(e) for e in value["bins"]],
                                               counts=[float(c) for c in value["values"]],
                                               count=int(sum(value["values"]))))
            except (KeyError, TypeError, ValueError, OverflowError) as e:
                run.note(f"histogram {name!r} at step {step} is not one ol can keep ({e})")
        elif isinstance(value, dict) and "_type" in value:
            run.note(f"{str(value['_type'])[:40]} values ({name!r}) are not imported")
        elif isinstance(value, dict):  # wandb.log({"train": {"loss": x}}): train/loss, as ol flattens it
            _values(run, step, wall, value, f"{name}/")


def _config(items) -> dict:
    out = {}
    for item in items:
        key = item.key or "/".join(item.nested_key)
        if key.startswith("_wandb"):
            continue
        value = _json(item.value_json)
        if isinstance(value, dict) and set(value) <= {"value", "desc"} and "value" in value:
            value = value["value"]  # W&B's config files wrap each value
        out[key] = value
    return out


def _json(text: str):
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past what the parser takes
        return text


def _records(data: bytes, name: str, run: Imported) -> Iterator[bytes]:
    """The records of a .wandb file: a 7-byte header, then LevelDB log chunks in 32 KiB blocks. A record's
    chunks are joined once it is whole (joining as they come is quadratic); one past MAX_RECORD_BYTES, or
    never finished, is skipped with a note."""
    if data[:4] != b":W&B":
        run.note(f"{name} is not a W&B transaction log")
        return
    pos, partial, held = HEADER, [], 0
    while pos + HEADER <= len(data):
        if BLOCK - pos % BLOCK < HEADER:  # too little room left in the block for a chunk: it is padding
            pos += BLOCK - pos % BLOCK
            continue
        _, length, kind = struct.unpack_from("<IHB", data, pos)
        if pos + HEADER + length > len(data) or kind not in (FULL, FIRST, MIDDLE, LAST):
            break
        chunk = data[pos + HEADER:pos + HEADER + length]
        pos += HEADER + length
        if kind == FULL:
            yield chunk
        elif kind == FIRST:
            partial, held = [chunk], len(chunk)
        elif partial or held:
            held += len(chunk)
            if held > MAX_RECORD_BYTES:
                run.note(f"{name}: a record of over {MAX_RECORD_BYTES >> 20} MiB was skipped")
                partial = []
            elif partial:
                partial.append(chunk)
            if kind == LAST:
                if partial:
                    yield b"".join(partial)
                partial, held = [], 0
        else:
            run.note(f"{name}: chunks of a record whose start is missing were skipped")
    if partial or held:
        run.note(f"{name}: the last record never ends (cut short); it was not imported")
    if pos < len(data) and data[pos:].strip(b"\0"):
        run.note(f"{name}: the last {len(data) - pos} byte(s) are cut short and were not imported")
