"""W&B offline runs (``wandb/offline-run-*/run-<id>.wandb``, as ``WANDB_MODE=offline`` leaves them) as ol
runs: the run's name, project, group, tags and config, every history row's numbers at its ``_step`` with
its ``_timestamp``, histograms, images (one, or a list: ``name/0``, ``name/1`` …) and tables (``wandb.Table``,
and the data of ``wandb.plot.*`` charts) read from the run folder's ``files/``, the summary, and how it ended
(its exit code; a run with no exit record is one that never finished). Videos, audio and HTML pages come along as
files in the run's folder (the ``files`` view, with their hashes); media ol has no kind for (3D objects, …) are
named in a note. The transaction log is read record by record (LevelDB log framing of W&B's
protobuf records): a file cut short imports what precedes the cut, with a note. The folder is untrusted input
(source_files.py): no link followed, sizes capped before reading, a record or value that does not decode
skipped with a note naming it."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

from ol.integrations import require
from ol.integrations.importing import Imported, KeptFile, plain_experiment, plain_step
from ol.integrations.source_files import Refused, SourceTree, named_file
from ol.schemas import HistogramData, ImageData, TableData, image_size

BLOCK = 32 * 1024  # LevelDB log blocks
HEADER = 7  # a chunk's CRC (4), length (2), type (1)
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
MAX_RECORD_BYTES = 64 << 20  # one record assembled from chunks
MAX_MEDIA_BYTES = 64 << 20  # one image, table, video, audio or HTML file of the run folder
FILE_KINDS = {"video-file": "video", "audio-file": "audio", "html-file": "html"}  # kept as files of the run


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
    tree = SourceTree(path.parent)
    data = tree.read_bytes(path)
    media = _Media(tree, path.parent / "files", run)
    for chunk in _records(data, path.name, run):
        try:
            record = pb.Record.FromString(chunk)
        except Exception:  # noqa: BLE001 - protobuf's DecodeError: a record that is not one
            run.note("a record that does not decode was skipped")
            continue
        try:
            _record(run, record, media)
        except (ValueError, TypeError, OverflowError, AttributeError, RecursionError) as e:
            run.note(f"a {record.WhichOneof('record_type')} record that does not read as one ({e}) was skipped")
    return run


def _record(run: Imported, record, media: _Media) -> None:
    kind = record.WhichOneof("record_type")
    if kind == "run":
        _run(run, record.run)
    elif kind == "history":
        _history(run, record.history, media)
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


def _history(run: Imported, record, media: _Media) -> None:
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
    _values(run, step, wall if isinstance(wall, (int, float)) else None, row, "", media)


def _values(run: Imported, step: int, wall: float | None, values: dict, prefix: str, media: _Media) -> None:
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
            media.add(step, name, value)
        elif isinstance(value, dict):  # wandb.log({"train": {"loss": x}}): train/loss, as ol flattens it
            _values(run, step, wall, value, f"{name}/", media)


class _Media:
    """Images and tables a history row points to, read from the run folder's ``files/`` (untrusted: only
    regular files inside it, sizes capped)."""

    def __init__(self, tree: SourceTree, files: Path, run: Imported):
        self.tree, self.files, self.run = tree, files, run

    def add(self, step: int, name: str, value: dict) -> None:
        kind = str(value["_type"])
        try:
            if kind == "image-file":
                self._image(step, name, value["path"], value)
            elif kind == "images/separated":  # a list of images: name/0, name/1, … (one alone keeps its name)
                names = value.get("filenames") or []
                for i, file in enumerate(names):
                    self._image(step, name if len(names) == 1 else f"{name}/{i}", file, value)
            elif kind == "table-file":
                self._table(step, name, value["path"])
            elif kind in FILE_KINDS:  # read when the run is written, one at a time (KeptFile)
                file = self.files / str(value["path"])
                caption = value.get("caption") if isinstance(value.get("caption"), str) else ""
                self.run.files.append(KeptFile(step, name, FILE_KINDS[kind], file.suffix[:16],
                                               lambda: self.tree.read_bytes(file, MAX_MEDIA_BYTES), caption[:1000]))
            else:
                self.run.note(f"{kind[:40]} values ({name!r}) are not imported: ol has no kind for them")
        except (Refused, KeyError, TypeError, ValueError, OverflowError, OSError, RecursionError) as e:
            self.run.note(f"{kind[:40]} {name!r} at step {step} is not one ol can keep ({e})")

    def _image(self, step: int, name: str, file: str, value: dict) -> None:
        data = self.tree.read_bytes(self.files / str(file), MAX_MEDIA_BYTES)
        fmt = "jpeg" if data[:2] == b"\xff\xd8" else "png"
        width, height = image_size(fmt, data) or (0, 0)  # a file that is not its format is refused by ImageData
        caption = value.get("caption") if isinstance(value.get("caption"), str) else ""
        self.run.media.append(ImageData(name=name, step=step, data=data, format=fmt, width=width, height=height,
                                        caption=caption[:1000]))

    def _table(self, step: int, name: str, file: str) -> None:
        table = json.loads(self.tree.read_text(self.files / str(file), MAX_MEDIA_BYTES))
        columns = [str(c) for c in table["columns"]]
        rows = [[c if c is None or isinstance(c, (str, int, float, bool)) else json.dumps(c) for c in row]
                for row in table["data"]]
        self.run.media.append(TableData(name=name, columns=columns, rows=rows, step=step))


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
