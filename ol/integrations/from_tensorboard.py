"""TensorBoard event files as ol runs: every folder that holds ``events.out.tfevents.*`` files is one run.

The files are read record by record here (TFRecord framing: length, its CRC, the data, its CRC), not
through TensorBoard's EventAccumulator, which samples long series and purges steps after a restart: every
scalar is kept with its step and wall time. A record cut short or failing its checksum ends that file's
reading with a note of how many bytes were left; what came before it is imported.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

from ol.integrations import require
from ol.integrations.importing import Imported
from ol.schemas import HistogramData, ImageData

EVENTS_GLOB = "events.out.tfevents.*"


def find(root: Path) -> list[Path]:
    """The run folders under ``root`` (``root`` itself when it holds event files)."""
    root = Path(root)
    return sorted({p.parent for p in root.rglob(EVENTS_GLOB) if p.is_file() and not p.is_symlink()})


def read(folder: Path, root: Path) -> Imported:
    event_pb2 = require("tensorboard.compat.proto.event_pb2", "tensorboard")
    tensor_util = require("tensorboard.util.tensor_util", "tensorboard")
    name = folder.relative_to(root).as_posix() if folder != root else folder.name
    run = Imported(name=name, origin=f"tensorboard:{folder.resolve()}")
    for path in sorted(folder.glob(EVENTS_GLOB)):
        for data in _records(path, run):
            event = event_pb2.Event.FromString(data)
            if not event.HasField("summary"):
                continue
            for value in event.summary.value:
                _value(run, event.step, event.wall_time, value, tensor_util)
    return run


def _value(run: Imported, step: int, wall: float, value, tensor_util) -> None:
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        run.add(step, value.tag, float(value.simple_value), wall)
    elif kind == "tensor":
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
        except (ValueError, TypeError) as e:
            run.skipped.append(f"histogram {value.tag!r} at step {step} is not one ol can keep ({e})")
    elif kind == "image":
        image = value.image
        try:
            run.media.append(ImageData(name=value.tag, step=step, data=bytes(image.encoded_image_string),
                                       width=image.width, height=image.height, channels=image.colorspace or 3,
                                       format="jpeg" if image.encoded_image_string[:2] == b"\xff\xd8" else "png"))
        except (ValueError, TypeError) as e:
            run.skipped.append(f"image {value.tag!r} at step {step} is not one ol can keep ({e})")


def _records(path: Path, run: Imported) -> Iterator[bytes]:
    """The records of one TFRecord file, up to the first that is cut short or fails its checksums."""
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        if pos + 12 > len(data):
            break
        (length,) = struct.unpack_from("<Q", data, pos)
        (length_crc,) = struct.unpack_from("<I", data, pos + 8)
        end = pos + 12 + length + 4
        if _masked_crc(data[pos:pos + 8]) != length_crc or end > len(data):
            break
        record = data[pos + 12:pos + 12 + length]
        (record_crc,) = struct.unpack_from("<I", data, pos + 12 + length)
        if _masked_crc(record) != record_crc:
            break
        yield record
        pos = end
    if pos < len(data):
        run.skipped.append(f"{path.name}: the last {len(data) - pos} byte(s) are damaged or cut short and were "
                           "not imported")


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
