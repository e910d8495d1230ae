"""TensorBoard event files as ol runs: every folder that holds ``events.out.tfevents.*`` files is one run.

The files are read record by record here (TFRecord framing: length, its CRC, the data, its CRC), not
through TensorBoard's EventAccumulator, which samples long series and purges steps after a restart: every
scalar is kept with its step and wall time. A record cut short or failing its checksum ends that file's
reading with a note of how many bytes were left; what came before it is imported. The folder is untrusted
input (source_files.py): only regular files inside it, no link followed, each record's size checked before
it is read, a tensor's element count before it is decoded; a value that does not decode is skipped with a
note naming it.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

from ol.integrations import require
from ol.integrations.importing import Imported, plain_step
from ol.integrations.source_files import Refused, SourceTree
from ol.schemas import HistogramData, ImageData

EVENTS_GLOB = "events.out.tfevents.*"
MAX_RECORD_BYTES = 64 << 20  # one event (an image summary is the largest TensorBoard writes)


def find(root: Path) -> tuple[list[Path], list[str]]:
    """The run folders under ``root`` (``root`` itself when it holds event files), and what was passed over
    (links are not entered)."""
    tree = SourceTree(root)
    return sorted({p.parent for p in tree.files(EVENTS_GLOB)}), tree.passed_over


def read(folder: Path, root: Path) -> Imported:
    event_pb2 = require("tensorboard.compat.proto.event_pb2", "tensorboard")
    tensor_util = require("tensorboard.util.tensor_util", "tensorboard")
    tree = SourceTree(root)
    folder = Path(folder)
    name = folder.relative_to(tree.root).as_posix() if folder != tree.root else Path(root).name
    run = Imported(name=name, origin=f"tensorboard:{folder}")
    for path in tree.files(EVENTS_GLOB, under=folder, recursive=False):
        try:
            with tree.open(path) as f:
                for data in _records(f, path.name, run):
                    _event(run, data, event_pb2, tensor_util)
        except Refused as e:
            run.note(f"{e}; it was not read")
    return run


def _event(run: Imported, data: bytes, event_pb2, tensor_util) -> None:
    try:
        event = event_pb2.Event.FromString(data)
    except Exception:  # noqa: BLE001 - protobuf's DecodeError (and RecursionError on nesting): not an event
        run.note("a record that does not decode as a TensorBoard event was skipped")
        return
    if not event.HasField("summary"):
        return
    step = plain_step(event.step)
    if step is None:
        run.note(f"events at step {event.step} (not a step the log can hold) were skipped")
        return
    for value in event.summary.value:
        try:
            _value(run, step, event.wall_time, value, tensor_util)
        except (ValueError, TypeError, OverflowError, MemoryError) as e:
            run.note(f"{value.tag!r} at step {step} does not decode ({e}); skipped")


def _value(run: Imported, step: int, wall: float, value, tensor_util) -> None:
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        run.add(step, value.tag, float(value.simple_value), wall)
    elif kind == "tensor":
        dims = [d.size for d in value.tensor.tensor_shape.dim]
        if any(d != 1 for d in dims):  # only scalars are metrics; counted before anything is allocated
            run.note(f"tensor summaries of more than one value ({value.tag!r}) are not imported")
            return
        array = tensor_util.make_ndarray(value.tensor)
        if array.size == 1 and array.dtype.kind in "fiu":
            run.add(step, value.tag, float(array.reshape(-1)[0]), wall)
    elif kind == "histo":
        h = value.histo
        limits = list(h.bucket_limit)
        edges = [h.min, *limits[:-1], h.max] if limits else []
        try:
            run.media.append(HistogramData(name=value.tag, step=step, edges=[float(e) for e in edges],
                                           counts=[float(c) for c in h.bucket], count=int(h.num), min=h.min,
                                           max=h.max, sum=h.sum, sum_squares=h.sum_squares))
        except (ValueError, TypeError, OverflowError) as e:
            run.note(f"histogram {value.tag!r} at step {step} is not one ol can keep ({e})")
    elif kind == "image":
        image = value.image
        try:
            run.media.append(ImageData(name=value.tag, step=step, data=bytes(image.encoded_image_string),
                                       width=image.width, height=image.height, channels=image.colorspace or 3,
                                       format="jpeg" if image.encoded_image_string[:2] == b"\xff\xd8" else "png"))
        except (ValueError, TypeError, OverflowError) as e:
            run.note(f"image {value.tag!r} at step {step} is not one ol can keep ({e})")


def _records(f, name: str, run: Imported) -> Iterator[bytes]:
    """The records of one TFRecord file, read one at a time, up to the first that is cut short, fails its
    checksums or is larger than MAX_RECORD_BYTES (its length is checked before it is read)."""
    size = os.fstat(f.fileno()).st_size
    pos = 0
    while pos < size:
        head = f.read(12)
        if len(head) < 12:
            break
        (length,) = struct.unpack_from("<Q", head, 0)
        (length_crc,) = struct.unpack_from("<I", head, 8)
        if _masked_crc(head[:8]) != length_crc or length > MAX_RECORD_BYTES or pos + 16 + length > size:
            break
        record = f.read(length)
        tail = f.read(4)
        if len(record) < length or len(tail) < 4 or _masked_crc(record) != struct.unpack("<I", tail)[0]:
            break
        yield record
        pos += 16 + length
    if pos < size:
        run.note(f"{name}: the last {size - pos:,} byte(s) are damaged, cut short or too large and were not "
                 "imported")


def _masked_crc(data: bytes) -> int:
    crc = _crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


_TABLE = None


def _crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as TFRecord uses; a plain table-driven loop (≈ 10 MB/s: scalar event files are
    small, and no faster implementation ships with what ol depends on)."""
    global _TABLE
    if _TABLE is None:
        table = []
        for i in range(256):
            crc = i
            for _ in range(8):
                crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
            table.append(crc)
        _TABLE = table
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF
