"""Checkpoints: written atomically, hashed, and loaded with weights_only=True (no pickled code)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ol.errors import ProducerError
from ol.producer.checkpoint_files import checkpoint_of
from ol.schemas import Checkpoint
from ol.store.log.sharing import make_dir, share_file
from ol.store.log.writer import fsync_dir

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_FORMAT = 1


def save(run_dir: Path, state: dict, step: int, epoch: int, reason: str) -> Checkpoint:
    """Write ``state`` to checkpoints/step-<step>.pt via temp file + fsync + rename; return its event."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    make_dir(folder, exist_ok=True)
    name = f"step-{step:08d}-{reason}.pt"
    final = folder / name
    tmp = folder / f".{name}.tmp"
    with open(tmp, "wb") as f:
        share_file(f.fileno(), folder)
        torch.save({"format": CHECKPOINT_FORMAT, **state}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)
    fsync_dir(folder)  # the rename itself must survive a power loss
    return checkpoint_of(run_dir, final, step=step, epoch=epoch, reason=reason)


def load(path: Path, device: torch.device | str = "cpu") -> dict:
    """Load a checkpoint without executing code from it."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # torch raises many kinds for a bad file; all mean the same to a user
        raise ProducerError(f"checkpoints: {path} does not load ({type(e).__name__}); it may be damaged") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ProducerError(f"checkpoints: {path} is not an ol checkpoint of format {CHECKPOINT_FORMAT}")
    return state
