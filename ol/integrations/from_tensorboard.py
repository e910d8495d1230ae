"""TensorBoard event files as ol runs: every folder that holds ``events.out.tfevents.*`` files is one run —
except the folders one ``SummaryWriter`` makes beside its own: ``add_hparams``' (its hyperparameters and their
metrics) and ``add_scalars``' (one folder per key), which belong to the run of the folder above them. What the
writer logged is all kept: scalars, histograms (rebinned exactly to at most 512 bins, by merging neighbours,
when there are more — torch's default makes ~600), images, text (as a one-column table at its step),
hyperparameters (the run's config, with Lightning's ``hparams.yaml`` beside the files); what ol has no kind
for (PR curves, embeddings, audio) is named in a note.

The files are read record by record here (TFRecord framing: length, its CRC, the data, its CRC), not
through TensorBoard's EventAccumulator, which samples long series and purges steps after a restart: every
scalar is kept with its step and wall time. A record cut short or failing its checksum ends that file's
reading with a note of how many bytes were left; what came before it is imported. The folder is untrusted
input (source_files.py): only regular files inside it, no link followed, each record's size checked before
it is read, a tensor's element count before it is decoded; a value that does not decode is skipped with a
note naming it.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Iterator
from pathlib import Path

from ol.integrations import require
from ol.integrations.importing import Imported, hparams_yaml, plain_step
from ol.integrations.source_files import Refused, SourceTree
from ol.schemas import MAX_BINS, HistogramData, ImageData, TableData

EVENTS_GLOB = "events.out.tfevents.*"
MAX_RECORD_BYTES = 64 << 20  # one event (an image summary is the largest TensorBoard writes)
MAX_TEXT_ROWS = 10_000  # strings of one text summary kept as a table's rows


def find(root: Path) -> tuple[list[Path], list[str]]:
    """The run folders under ``root`` (``root`` itself when it holds event files), and what was passed over
    (links are not entered). The folders ``add_hparams`` and ``add_scalars`` make are part of the run above."""
    tree = SourceTree(root)
    folders = {p.parent for p in tree.files(EVENTS_GLOB)}
    attached = {f for f in folders if f.parent in folders and _attached(tree, f) is not None}
    return sorted(folders - attached), tree.passed_over


def read(folder: Path, root: Path) -> Imported:
    tree = SourceTree(root)
    folder = Path(folder)
    name = folder.relative_to(tree.root).as_posix() if folder != tree.root else Path(root).name
    run = Imported(name=name, origin=f"tensorboard:{folder}")
    for step, wall, value in _values(tree, folder, run):
        _value(run, step, wall, value, value.tag)
    for sub in sorted({p.parent for p in tree.files(EVENTS_GLOB, under=folder)} - {folder}):
        if sub.parent != folder:
            continue
        how = _attached(tree, sub)
        for step, wall, value in _values(tree, sub, run) if how is not None else ():
            if value.metadata.plugin_data.plugin_name == "hparams":
                _hparams(run, value)
            elif how == "hparams":
                _value(run, step, wall, value, value.tag)  # add_hparams' metrics: the run's, as it named them
            else:  # add_scalars' folder "<tag>_<key>" holds that key's values: the run's <tag>/<key>
                _value(run, step, wall, value, f"{value.tag}/{sub.name[len(how) + 1:]}")
    hparams_yaml(tree, folder, run)  # Lightning's TensorBoardLogger writes one beside its files
    return run


def _attached(tree: SourceTree, sub: Path) -> str | None:
    """How a folder beside a writer's own files belongs to its run: "hparams" (add_hparams'), the tag its
    folder is named after (add_scalars' "<tag>_<key>"), or None (a run of its own)."""
    plugins, tags = set(), set()
    quiet = Imported(name="", origin="")  # what reading finds wrong is said when the run is read
    for _, _, value in _values(tree, sub, quiet):
        plugins.add(value.metadata.plugin_data.plugin_name)
        if plugins == {"hparams"}:
            continue
        if value.WhichOneof("value") != "simple_value":
            return None
        tags.add(value.tag)
    if "hparams" in plugins:
        return "hparams"
    prefixes = {t.replace("/", "_") for t in tags}
    if len(prefixes) == 1 and plugins <= {"", "scalars"} and sub.name.startswith(f"{next(iter(prefixes))}_"):
        return next(iter(prefixes))
    return None


def _values(tree: SourceTree, folder: Path, run: Imported) -> Iterator[tuple[int, float, object]]:
    """(step, wall time, summary value) of every event of the folder's own files, in file order."""
    event_pb2 = require("tensorboard.compat.proto.event_pb2", "tensorboard")
    for path in tree.files(EVENTS_GLOB, under=folder, recursive=False):
        try:
            with tree.open(path) as f:
                for data in _records(f, path.name, run):
                    try:
                        event = event_pb2.Event.FromString(data)
                    except Exception:  # noqa: BLE001 - protobuf's DecodeError (and RecursionError): not an event
                        run.note("a record that does not decode as a TensorBoard event was skipped")
                        continue
                    if not event.HasField("summary"):
                        continue
                    step = plain_step(event.step)
                    if step is None:
                        run.note(f"events at step {event.step} (not a step the log can hold) were skipped")
                        continue
                    for value in event.summary.value:
                        yield step, event.wall_time, value
        except Refused as e:
            run.note(f"{e}; it was not read")


def _value(run: Imported, step: int, wall: float, value, name: str) -> None:
    try:
        _keep(run, step, wall, value, name)
    except (ValueError, TypeError, OverflowError, MemoryError) as e:
        run.note(f"{value.tag!r} at step {step} does not decode ({e}); skipped")


def _keep(run: Imported, step: int, wall: float, value, name: str) -> None:
    kind = value.WhichOneof("value")
    plugin = value.metadata.plugin_data.plugin_name
    if kind == "simple_value":
        run.add(step, name, float(value.simple_value), wall)
    elif kind == "tensor" and plugin == "text":
        _text(run, step, value, name.removesuffix("/text_summary"))
    elif kind == "tensor":
        dims = [d.size for d in value.tensor.tensor_shape.dim]
        if any(d != 1 for d in dims):  # only scalars are metrics; counted before anything is allocated
            what = f"{plugin} summaries" if plugin else "tensor summaries of more than one value"
            run.note(f"{what} ({value.tag!r}) are not imported: ol has no kind for them")
            return
        tensor_util = require("tensorboard.util.tensor_util", "tensorboard")
        array = tensor_util.make_ndarray(value.tensor)
        if array.size == 1 and array.dtype.kind in "fiu":
            run.add(step, name, float(array.reshape(-1)[0]), wall)
    elif kind == "histo":
        _histogram(run, step, value.histo, name)
    elif kind == "image":
        image = value.image
        try:
            run.media.append(ImageData(name=name, step=step, data=bytes(image.encoded_image_string),
                                       width=image.width, height=image.height, channels=image.colorspace or 3,
                                       format="jpeg" if image.encoded_image_string[:2] == b"\xff\xd8" else "png"))
        except (ValueError, TypeError, OverflowError) as e:
            run.note(f"image {value.tag!r} at step {step} is not one ol can keep ({e})")
    elif kind == "audio":
        run.note(f"audio summaries ({value.tag!r}) are not imported: ol has no kind for them")


def _histogram(run: Imported, step: int, h, name: str) -> None:
    """TensorBoard's buckets (upper limits; the first from the minimum, the last to the maximum) as a histogram;
    more than MAX_BINS are merged with their neighbours, k at a time — exact: every value stays counted in a bin
    that holds the one it was in."""
    limits, counts = [float(x) for x in h.bucket_limit], [float(c) for c in h.bucket]
    edges = [float(h.min), *limits[:-1], float(h.max)] if limits else []
    if len(counts) > MAX_BINS:
        k = -(-len(counts) // MAX_BINS)
        said = f"histogram {name!r} was rebinned to at most {MAX_BINS} bins"
        if not any(s.startswith(said) for s in run.skipped):
            run.note(f"{said} (it had {len(counts)} at step {step}): neighbouring bins merged, every value still "
                     "counted")
        counts = [sum(counts[i:i + k]) for i in range(0, len(counts), k)]
        edges = edges[::k] + ([edges[-1]] if (len(edges) - 1) % k else [])
    try:
        run.media.append(HistogramData(name=name, step=step, edges=edges, counts=counts, count=int(h.num),
                                       min=h.min, max=h.max, sum=h.sum, sum_squares=h.sum_squares))
    except (ValueError, TypeError, OverflowError) as e:
        run.note(f"histogram {name!r} at step {step} is not one ol can keep ({e})")


def _text(run: Imported, step: int, value, name: str) -> None:
    """``add_text``: a string tensor, kept as a one-column table at its step (rows: its strings)."""
    dims = [d.size for d in value.tensor.tensor_shape.dim]
    if len(value.tensor.string_val) != max(1, math.prod(dims)) or len(value.tensor.string_val) > MAX_TEXT_ROWS:
        run.note(f"text {name!r} at step {step} is not a list of strings ol can keep; skipped")
        return
    rows = [[s.decode("utf-8", "replace")] for s in value.tensor.string_val]
    run.media.append(TableData(name=name, columns=["text"], rows=rows, step=step))


def _hparams(run: Imported, value) -> None:
    """``add_hparams``' hyperparameters (its session-start record): the run's config."""
    plugin_data_pb2 = require("tensorboard.plugins.hparams.plugin_data_pb2", "tensorboard")
    try:
        data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
    except Exception:  # noqa: BLE001 - protobuf's DecodeError: not the hyperparameters
        run.note("a hyperparameter record that does not decode was skipped")
        return
    for key, v in data.session_start_info.hparams.items():
        kind = v.WhichOneof("kind")
        if kind in ("number_value", "string_value", "bool_value"):
            run.config[key] = getattr(v, kind)


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
