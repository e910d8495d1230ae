"""What the sweep tests share: how they run `ol`, a tiny model's options, and skipping without an engine."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ol.schemas.launch import RunSettings

OL = [sys.executable, "-c", "from ol.cli import main; main()"]
TINY = ["--p", "23", "--train-fraction", "0.5", "--d-model", "32", "--n-heads", "2", "--d-ff", "64",
        "--batch-size", "32", "--eval-every", "1", "--epochs", "2"]
# the same options as a plan keeps them
TINY_SETTINGS = RunSettings(overrides={"p": 23, "train_fraction": 0.5, "d_model": 32, "n_heads": 2, "d_ff": 64,
                                       "batch_size": 32, "eval_every": 1, "epochs": 2})


def needs(extra: str, module: str) -> None:
    """Cluster engines are extras (in the test extra, so CI runs these); without one, skip and say which."""
    pytest.importorskip(module, reason=f"{module} is not installed: pip install 'ol[{extra}]'")


def ol(*args, timeout=600):
    return subprocess.run(OL + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)
