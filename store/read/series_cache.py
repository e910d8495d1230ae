"""Sealed runs' series read from their batch's ``series.arrow`` chunk by chunk, for a long-lived reader.

Decoded chunks stay in a cache bounded in bytes and open files in a bounded LRU, so a server's memory does
not grow with the store or with the number of runs on screen. Batch files never change once written (a batch
is retired, never rewritten), so a chunk read once is good for as long as its file is in use.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from ol.store.read.series import SeriesFile, join, part

# decoded record batches kept between requests: 64 MiB drew no faster (bench/workspace_bench.py) and held 37 MiB
# more with 1,000 runs charted
CACHE_BYTES = 32 * 2**20
OPEN_FILES = 256


class SeriesCache:
    """Thread-safe: the dashboard reads runs on one thread per core."""

    def __init__(self, cache_bytes: int = CACHE_BYTES):
        self._chunks: OrderedDict[tuple, tuple] = OrderedDict()
        self._files: OrderedDict[str, SeriesFile] = OrderedDict()
        self._budget, self.held = cache_bytes, 0
        self._lock = threading.Lock()

    def read(self, path: Path, chunks: list[list[int]], keep: bool = True):
        """(step, epoch, value) of these chunks of the series file at ``path``; None if the file is gone (a batch
        gc removed after the snapshot that named it: the next one names its successor). ``keep=False`` reads
        without filling the cache (every point of a run, read once)."""
        f = self._file(path)
        if f is None:
            return None
        parts = []
        decoded: dict[int, tuple] = {}  # a record batch holds many chunks: each is decoded once per read
        for chunk in chunks:
            key = (str(path), chunk[0])
            hit = decoded.get(chunk[0])
            if hit is None:
                with self._lock:
                    hit = self._chunks.get(key)
                    if hit is not None:
                        self._chunks.move_to_end(key)
            if hit is None:
                hit = f.batch(chunk[0])
                if keep:
                    self._remember(key, hit)
            decoded[chunk[0]] = hit
            parts.append(part(hit, chunk))
        if len(parts) == 1:
            # a copy, not a view: a view would keep its whole decoded record batch (many runs' points) alive for
            # as long as the curve is, outside the cache's budget — a chart of 1,000 runs held 1,000 batches
            return tuple(a.copy() for a in parts[0])
        return join(parts)

    def chunks_held(self) -> list[tuple]:
        with self._lock:
            return list(self._chunks.values())

    def _file(self, path: Path) -> SeriesFile | None:
        key = str(path)
        with self._lock:
            f = self._files.get(key)
            if f is not None:
                self._files.move_to_end(key)
                return f
        try:
            f = SeriesFile(path)
        except (OSError, ValueError):
            return None
        with self._lock:
            self._files[key] = f
            while len(self._files) > OPEN_FILES:
                self._files.popitem(last=False)[1].close()
        return f

    def _remember(self, key: tuple, arrays: tuple) -> None:
        size = sum(a.nbytes for a in arrays)
        with self._lock:
            if key in self._chunks:  # two threads decoded it at once: it is held once
                return
            self._chunks[key] = arrays
            self.held += size
            while self.held > self._budget and len(self._chunks) > 1:
                _, old = self._chunks.popitem(last=False)
                self.held -= sum(a.nbytes for a in old)
