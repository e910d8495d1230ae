"""A file as the log records it: where it is in the run's folder, its size and its sha256 — for the engine's own
checkpoints, any checkpoint a script or framework saved (``Run.checkpoint``) and media files the store has no
kind for (``Run.log_file``). No torch here: a run records files other code wrote."""

from __future__ import annotations

from pathlib import Path

from ol.errors import ProducerError
from ol.schemas import Checkpoint, MediaFile
from ol.store import sha256_file


def checkpoint_of(run_dir: Path, path: Path, *, step: int, epoch: int | None = None,
                  reason: str = "periodic") -> Checkpoint:
    """The event of checkpoint file ``path``, which must be a file inside the run's folder: ol verifies a
    checkpoint and resumes from it by its place in the run (a file elsewhere is refused, naming it)."""
    inside, size, digest = _recorded(run_dir, Path(path), "checkpoint")
    return Checkpoint(step=int(step), epoch=epoch, path=inside, size=size, sha256=digest, reason=reason)


def media_file_of(run_dir: Path, name: str, path: Path, *, step: int, epoch: int | None, media: str,
                  caption: str, source: str) -> MediaFile:
    """The event of a media file (video, audio, HTML) inside the run's folder."""
    inside, size, digest = _recorded(run_dir, Path(path), "file")
    return MediaFile(name=name, path=inside, size=size, sha256=digest, media=media, caption=caption, step=step,
                     epoch=epoch, source=source)


def _recorded(run_dir: Path, path: Path, what: str) -> tuple[str, int, str]:
    """(path relative to the run's folder, size, sha256) of a regular file inside it; a file elsewhere (or a
    link out of it) is refused, naming it, since ol vouches for a file by its place in the run."""
    try:
        inside = path.resolve().relative_to(Path(run_dir).resolve())
    except ValueError:
        raise ProducerError(f"producer: {what} {path} is outside the run's folder {run_dir}; save it there "
                            "(run.dir) to have it recorded and verified") from None
    if not path.is_file():
        raise ProducerError(f"producer: {what} {path} is not a file")
    return inside.as_posix(), path.stat().st_size, sha256_file(path)
