"""A checkpoint file as the log records it: where it is in the run's folder, its size and its sha256 — for the
engine's own checkpoints and for any file a script or framework saved (``Run.checkpoint``). No torch here: a
run records checkpoints other code wrote."""

from __future__ import annotations

from pathlib import Path

from ol.errors import ProducerError
from ol.schemas import Checkpoint
from ol.store import sha256_file


def checkpoint_of(run_dir: Path, path: Path, *, step: int, epoch: int | None = None,
                  reason: str = "periodic") -> Checkpoint:
    """The event of checkpoint file ``path``, which must be a file inside the run's folder: ol verifies a
    checkpoint and resumes from it by its place in the run (a file elsewhere is refused, naming it)."""
    path = Path(path)
    try:
        inside = path.resolve().relative_to(Path(run_dir).resolve())
    except ValueError:
        raise ProducerError(f"producer: checkpoint {path} is outside the run's folder {run_dir}; save it there "
                            "(run.dir) to have it recorded and verified") from None
    if not path.is_file():
        raise ProducerError(f"producer: checkpoint {path} is not a file")
    return Checkpoint(step=int(step), epoch=epoch, path=inside.as_posix(), size=path.stat().st_size,
                      sha256=sha256_file(path), reason=reason)
