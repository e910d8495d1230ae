"""Recorded orders: an epoch's sample ids packed into an OrderRecorded event and read back.

Ids are bit-packed at the width the largest one needs (a permutation of n examples is already close to
its entropy, log2(n) bits per id, so the log's zstd has little left to take); the digest is over the whole
sequence as little-endian int64, so it does not depend on how (or whether) the ids were stored.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ol.errors import UsageError
from ol.schemas import OrderRecorded
from ol.store.log.reader import LogReader
from ol.store.log.rundir import log_path


def sample_ids(ids, what: str = "order") -> np.ndarray:
    """A 1-D array of non-negative integer sample ids as int64, or a UsageError saying what is wrong."""
    try:
        arr = np.asarray(ids.detach().cpu().numpy() if hasattr(ids, "detach") else ids)
    except (TypeError, ValueError) as e:
        raise UsageError(f"{what}: sample ids must be a 1-D sequence of integers ({e})") from None
    if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
        raise UsageError(f"{what}: sample ids must be a 1-D sequence of integers, got shape {arr.shape} "
                         f"of {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise UsageError(f"{what}: sample ids must be non-negative (indices into the training set)")
    return arr.astype(np.int64, copy=False)


def digest(ids: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(ids, dtype="<i8").tobytes(), digest_size=16).hexdigest()


def pack(ids: np.ndarray) -> tuple[int, bytes]:
    """(bits per id, the ids bit-packed big-endian in that many bits each)."""
    if not ids.size:
        return 1, b""
    width = max(1, int(ids.max()).bit_length())
    bits = np.unpackbits(ids.astype(">u8").view(np.uint8).reshape(-1, 8), axis=1)[:, 64 - width:]
    return width, np.packbits(bits.ravel()).tobytes()


def unpack(width: int, data: bytes, count: int) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(data, np.uint8), count=count * width).reshape(count, width)
    whole = np.zeros((count, 64), np.uint8)
    whole[:, 64 - width:] = bits
    return np.packbits(whole, axis=1).view(">u8").ravel().astype(np.int64)


def order_event(epoch: int, step: int, ids, *, start: int = 0, full: bool = False, strategy: str = "",
                seed: int | None = None, generator: str = "", dataset: str = "", source: str = "",
                sampled: bool = False) -> OrderRecorded:
    """The event for an epoch's whole order ``ids``, fed from position ``start``; the ids packed in when ``full``;
    ``sampled``: the ids are drawn from the training set on purpose, not a permutation of it."""
    ids = sample_ids(ids)
    if not 0 <= start <= len(ids):
        raise UsageError(f"order: start {start} is outside an order of {len(ids)} ids")
    width, data = pack(ids) if full else (0, b"")
    return OrderRecorded(epoch=epoch, step=step, count=len(ids), digest=digest(ids), start=start, strategy=strategy,
                         seed=seed, generator=generator, dataset=dataset, width=width, ids=data, source=source,
                         sampled=sampled)


def ids_of(event: OrderRecorded) -> np.ndarray | None:
    """The epoch's whole order as recorded, or None when only its identity was."""
    if not event.width:
        return None
    ids = unpack(event.width, event.ids, event.count)
    return ids if digest(ids) == event.digest else None  # bytes that do not match their digest are not believed


def recorded_orders(run_dir: Path) -> dict[int, list[OrderRecorded]]:
    """Every order a run recorded, by epoch, in log order (a resumed epoch has one per stretch)."""
    out: dict[int, list[OrderRecorded]] = {}
    for _, event in LogReader(log_path(Path(run_dir))).events():
        if type(event) is OrderRecorded:
            out.setdefault(event.epoch, []).append(event)
    return out


__all__ = ["digest", "ids_of", "order_event", "pack", "recorded_orders", "sample_ids", "unpack"]
