"""series.arrow packs many runs' chunks into shared record batches: every chunk reads back exactly."""

from __future__ import annotations

import numpy as np

from ol.store.read import series
from ol.store.read.series import PACK, SeriesFile, join, part, plan, with_levels


def _series(n: int, seed: int) -> series.Series:
    rng = np.random.default_rng(seed)
    step = np.arange(n, dtype=np.int64) * 2
    epoch = np.where(step % 10 == 0, step / 10.0, np.nan)
    return with_levels(step, epoch, rng.normal(size=n))


def test_every_chunk_of_every_level_reads_back_from_the_packed_file(tmp_path):
    written = {f"run{k}\x1ftrain/loss": _series(n, k) for k, n in enumerate([1000, 250_000, 3, 0, 70_000, 1000])}
    index = series.write(tmp_path / "series.arrow", written)
    f = SeriesFile(tmp_path / "series.arrow")
    try:
        batches = {chunk[0] for entry in index.values() for level in entry["levels"] for chunk in level}
        assert len(batches) < sum(len(level) for e in index.values() for level in e["levels"])  # chunks share
        for key, s in written.items():
            levels = index[key]["levels"]
            assert len(levels) == 1 + len(s.coarser)
            for chunks, want in zip(levels, [(s.step, s.epoch, s.value), *s.coarser], strict=True):
                got = join([part(f.batch(c[0]), c) for c in chunks])
                for a, b in zip(got, want, strict=True):
                    np.testing.assert_array_equal(a, b)
                assert all(c[1] + c[2] <= PACK for c in chunks)
        # a chart 500 pixels wide over the middle of the long run reads a coarse level, and only chunks there
        level, chunks = plan(index["run1\x1ftrain/loss"]["levels"], 100_000, 200_000, 500)
        assert level > 0 and chunks
        step = join([part(f.batch(c[0]), c) for c in chunks])[0]
        assert step[0] <= 100_000 <= 200_000 <= step[-1]
    finally:
        f.close()
