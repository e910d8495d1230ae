"""Shared fixtures: small logs written directly with the store's writer."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ol.schemas import Note, RunEnded, RunStarted
from ol.store.writer import LogWriter

# Subprocess tests run `python -c` / scripts that import ol; make sure they use this interpreter.
PYTHON = sys.executable


@pytest.fixture
def make_log(tmp_path):
    """Write frames (lists of items) into a fresh run directory; returns the run dir."""

    def make(frames, experiment="exp", run_id="run1", **writer_kw) -> Path:
        run_dir = tmp_path / "store" / experiment / run_id
        writer = LogWriter.create(run_dir / "log", run_id, **writer_kw)
        for items in frames:
            writer.append(items)
        writer.close()
        return run_dir

    return make


@pytest.fixture
def three_frames():
    """Three frames with known sequence ranges: 0..10, 11..20, 21..32."""
    return [
        [RunStarted(run_id="run1", experiment="exp")] + [(i, 0, i * 0.001, {"loss": 1.0 / (i + 1)}) for i in range(10)],
        [(i, 1, i * 0.001, {"loss": 0.5, "lr": 1e-3}) for i in range(10, 20)],
        [(i, 2, i * 0.001, {"loss": 0.25}) for i in range(20, 30)] + [Note("done"), RunEnded("completed")],
    ]
