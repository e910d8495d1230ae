"""A seeded generator of damaged logs: the kinds of damage disks, copies, kills and people cause.

Shared by the fuzz test (tests/consumers/test_damage.py) and the soak (bench/damage_soak.py).
``healthy_run`` writes a multi-segment run with every event kind; ``damage`` applies one kind of
damage to it, chosen and placed by a seeded RNG, and says what it did.
"""

from __future__ import annotations

import random
import shutil
import struct
import zlib
from pathlib import Path

import msgspec
import zstandard

from ol.schemas import ArrayData, Checkpoint, Epoch, HookMetrics, Note, RunEnded, RunStarted
from ol.store.log.format import FILE_HEADER_SIZE, FRAME_HEADER_SIZE, pack_frame
from ol.store.log.segments import list_segments
from ol.store.log.writer import LogWriter

KINDS = ("flip_frame", "flip_header", "truncate", "zero_region", "delete_first", "delete_middle", "delete_all",
         "append_garbage", "crafted_garbage", "crafted_deep", "crafted_columns", "crafted_wrong_types",
         "malformed_media", "duplicate_segment", "empty_segment", "foreign_segment", "zero_tail", "flip_bits_tail")


def healthy_run(store: Path, run_id: str, experiment: str = "exp", steps: int = 120, seed: int = 0,
                segment_bytes: int = 1500) -> Path:
    """A completed run over several small segments: steps, epochs, hook metrics, arrays, a checkpoint."""
    rng = random.Random(seed)
    run_dir = Path(store) / experiment / run_id
    writer = LogWriter.create(run_dir / "log", run_id, segment_bytes=segment_bytes)
    writer.append([RunStarted(run_id=run_id, experiment=experiment, strategy="stride", seed=seed,
                              config={"lr": 0.1, "p": 97}, started_at=1.0e9 + seed)])
    for start in range(0, steps, 10):
        items: list = [(s, s // 20, s * 0.01, {"loss": 1.0 / (s + 1) + rng.random() * 1e-3, "lr": 0.1})
                       for s in range(start, start + 10)]
        if (start + 10) % 20 == 0:
            epoch = (start + 10) // 20 - 1
            items.append(Epoch(epoch=epoch, step=start + 9, metrics={"test_acc": min(1.0, start / steps),
                                                                     "train_loss": 1.0 / (start + 10)}))
            items.append(HookMetrics(hook="norms", point="post_epoch", step=start + 9, epoch=epoch,
                                     metrics={"total": float(start)}))
        writer.append(items)
    writer.append([ArrayData(name="spectrum", dtype="<f4", shape=[4], data=b"\0" * 16, step=steps - 1),
                   Checkpoint(step=steps - 1, epoch=steps // 20, path="checkpoints/final.pt", size=1, sha256="0" * 64,
                              reason="final"),
                   Note("done", step=steps - 1), RunEnded(status="completed", wall_time=12.5, ended_at=1.0e9 + 99)])
    writer.close()
    return run_dir


def damage(run_dir: Path, rng: random.Random, kind: str | None = None) -> str:
    """Damage the log of ``run_dir`` in place; returns a description of what was done."""
    segments = [p for _, p in list_segments(Path(run_dir) / "log")]
    kind = kind or rng.choice(KINDS)
    return f"{kind}: " + _DAMAGE[kind](segments, rng)


def _flip(path: Path, rng: random.Random, lo: int, hi: int, n: int = 1) -> str:
    data = bytearray(path.read_bytes())
    hi = min(hi, len(data))
    spots = [rng.randrange(lo, hi) for _ in range(n)] if hi > lo else []
    for i in spots:
        data[i] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))
    return f"{path.name} bits flipped at {spots}"


def _crafted(segments: list[Path], rng: random.Random, payload: bytes, what: str, count: int = 3) -> str:
    """A frame whose header and payload CRCs are right but whose content is wrong, mid-log."""
    path = rng.choice(segments)
    data = path.read_bytes()
    frame = pack_frame(10_000_000, count, zstandard.ZstdCompressor().compress(payload))
    cut = _frame_boundary(data, rng)
    path.write_bytes(data[:cut] + frame + data[cut:])
    return f"{path.name} crafted frame ({what}) at {cut}"


def _frame_boundary(data: bytes, rng: random.Random) -> int:
    offsets, pos = [], FILE_HEADER_SIZE
    while pos + FRAME_HEADER_SIZE <= len(data):
        offsets.append(pos)
        (length,) = struct.unpack_from("<I", data, pos + 20)
        pos += FRAME_HEADER_SIZE + length
    return rng.choice(offsets + [len(data)])


def _deep() -> bytes:
    return b"\x91" * 5000 + b"\xc0"  # arrays nested 5,000 deep


def _columns() -> bytes:
    # written as a plain map: StepColumns itself refuses to be built with columns of the wrong lengths
    bad = {"kind": "step_columns", "n": 50, "step0": 0, "steps": b"\x01" * 16, "names": ["loss"],
           "values": [b"\x00" * 7], "time_unit": "us", "times": b"\0" * 3}
    return msgspec.msgpack.encode([bad])


def _wrong_types() -> bytes:
    return msgspec.msgpack.encode([{"kind": "step", "step": "seven", "time": None},
                                   {"kind": "epoch", "epoch": [1], "metrics": {"a": "b"}},
                                   {"kind": "run_ended", "status": 5}])


def _malformed_media() -> list[dict]:
    """Array, histogram, image and table events a buggy or hostile writer could produce: well-typed fields,
    impossible contents (issue 25's tester's cases)."""
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (40000).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00"
    return [{"kind": "array", "name": "a", "dtype": "<f8", "shape": [1], "data": b"\0" * 7},
            {"kind": "array", "name": "a", "dtype": "O", "shape": [1], "data": b"\0" * 8},
            {"kind": "array", "name": "a", "dtype": "<U2", "shape": [1], "data": b"\0" * 8},
            {"kind": "array", "name": "a", "dtype": "V8", "shape": [1], "data": b"\0" * 8},
            {"kind": "array", "name": "a", "dtype": "<f4", "shape": [-1], "data": b""},
            {"kind": "histogram", "name": "h", "edges": [0.0, 1.0], "counts": [1.0, 2.0]},
            {"kind": "histogram", "name": "h", "edges": [0.0, 1.0], "counts": [float("nan")]},
            {"kind": "image", "name": "i", "data": b"\xff\xd8\xffnot a jpeg", "format": "png"},
            {"kind": "image", "name": "i", "data": png, "format": "png", "width": 4, "height": 4},
            {"kind": "table", "name": "t", "columns": ["a", "b"], "rows": [[1]]}]


_DAMAGE = {
    "malformed_media": lambda s, r: _crafted(s, r, msgspec.msgpack.encode(_malformed_media()),
                                             "malformed array, histogram, image and table events",
                                             len(_malformed_media())),
    "flip_frame": lambda s, r: _flip(p := r.choice(s), r, FILE_HEADER_SIZE, p.stat().st_size, r.randint(1, 4)),
    "flip_header": lambda s, r: _flip(r.choice(s), r, 0, FILE_HEADER_SIZE),
    "truncate": lambda s, r: _truncate(r.choice(s), r),
    "zero_region": lambda s, r: _zero(r.choice(s), r, r.randint(1, 512)),
    "zero_tail": lambda s, r: _zero(s[-1], r, 256, near_end=True),
    "flip_bits_tail": lambda s, r: _flip(s[-1], r, max(FILE_HEADER_SIZE, s[-1].stat().st_size - 200),
                                         s[-1].stat().st_size, 4),
    "delete_first": lambda s, r: _delete(s[:1]),
    "delete_middle": lambda s, r: _delete(s[len(s) // 2: len(s) // 2 + 1]),
    "delete_all": lambda s, r: _delete(s),
    "append_garbage": lambda s, r: _append(r.choice(s), r.randbytes(r.randint(1, 300))),
    "crafted_garbage": lambda s, r: _crafted(s, r, r.randbytes(64), "random bytes"),
    "crafted_deep": lambda s, r: _crafted(s, r, _deep(), "nested 5,000 deep"),
    "crafted_columns": lambda s, r: _crafted(s, r, _columns(), "column block of the wrong lengths"),
    "crafted_wrong_types": lambda s, r: _crafted(s, r, _wrong_types(), "events with fields of the wrong type"),
    "duplicate_segment": lambda s, r: _duplicate(s, r),
    "empty_segment": lambda s, r: _replace(r.choice(s), b""),
    "foreign_segment": lambda s, r: _replace(r.choice(s), b"PK\x03\x04 not a log at all" * 10),
}


def _truncate(path: Path, rng: random.Random) -> str:
    size = rng.randrange(0, path.stat().st_size)
    with open(path, "r+b") as f:
        f.truncate(size)
    return f"{path.name} truncated to {size}"


def _zero(path: Path, rng: random.Random, n: int, near_end: bool = False) -> str:
    data = bytearray(path.read_bytes())
    start = max(0, len(data) - n - rng.randrange(0, 64)) if near_end else rng.randrange(0, max(1, len(data) - 1))
    data[start:start + n] = bytes(len(data[start:start + n]))
    path.write_bytes(bytes(data))
    return f"{path.name} zeroed {n} bytes at {start}"


def _delete(paths: list[Path]) -> str:
    for p in paths:
        p.unlink()
    return "deleted " + ", ".join(p.name for p in paths)


def _append(path: Path, garbage: bytes) -> str:
    with open(path, "ab") as f:
        f.write(garbage)
    return f"{path.name} + {len(garbage)} garbage bytes (crc {zlib.crc32(garbage):08x})"


def _duplicate(segments: list[Path], rng: random.Random) -> str:
    source = rng.choice(segments)
    index = int(segments[-1].stem) + 1
    target = source.with_name(f"{index:08d}.olog")
    shutil.copyfile(source, target)
    return f"{source.name} copied to {target.name}"


def _replace(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return f"{path.name} replaced by {len(data)} bytes"
