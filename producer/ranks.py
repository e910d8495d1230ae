"""One run on many processes (torchrun, torch.distributed): which rank this process is, and the run id
every rank agrees on.

Rank 0 creates the run and writes its main log; every other rank writes a stream of its own in the same
run directory (``<run>/ranks/N``), so each file still has exactly one writer and nothing is shared
between processes but the directory. The run id reaches the other ranks by a broadcast from rank 0
when a process group exists (no shared file, no clock agreement needed); without one it is taken from
``OL_RUN_ID`` or torchrun's ``TORCHELASTIC_RUN_ID``, which every rank of a job sees alike.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ol.errors import ProducerError
from ol.store.log.rundir import log_path

JOIN_TIMEOUT = 300.0  # seconds a rank > 0 waits for rank 0 to create the run (without a process group)
RUN_ID_VARIABLES = ("OL_RUN_ID", "TORCHELASTIC_RUN_ID")


@dataclass(frozen=True)
class Rank:
    rank: int = 0
    world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def process_group():
    """torch.distributed when this process has joined a process group, else None. Never imports torch:
    a loop that uses a process group has imported it already."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist
    return None


def detect() -> Rank:
    """This process's rank: from the process group if there is one, else from torchrun's RANK and
    WORLD_SIZE variables; a lone process is rank 0 of 1."""
    dist = process_group()
    if dist is not None:
        return Rank(dist.get_rank(), dist.get_world_size())
    try:
        world = int(os.environ.get("WORLD_SIZE") or 1)
        rank = int(os.environ.get("RANK") or 0)
    except ValueError:
        raise ProducerError("producer: RANK and WORLD_SIZE must be integers (torchrun sets them); got "
                            f"RANK={os.environ.get('RANK')!r} WORLD_SIZE={os.environ.get('WORLD_SIZE')!r}") from None
    if world < 1 or not 0 <= rank < world:
        raise ProducerError(f"producer: RANK={rank} does not fit WORLD_SIZE={world}; check the launcher's environment")
    return Rank(rank, world)


def broadcast(rank: Rank, value):
    """Rank 0's ``value`` on every rank (a collective: every rank must call it)."""
    box = [value if rank.rank == 0 else None]
    process_group().broadcast_object_list(box, src=0)
    return box[0]


def shared_run_id() -> str | None:
    """A run id every rank of a job sees alike without talking: OL_RUN_ID, or torchrun's rendezvous id
    (torchrun without --rdzv-id or --standalone calls it 'none')."""
    for name in RUN_ID_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value and value != "none":
            return value
    return None


def wait_for_run(run_dir: Path, rank: Rank, timeout: float = JOIN_TIMEOUT) -> None:
    """Block until rank 0 has created the run (its log directory exists)."""
    deadline = time.monotonic() + timeout
    while not log_path(run_dir).is_dir():
        if time.monotonic() > deadline:
            raise ProducerError(f"producer: rank {rank.rank} waited {timeout:.0f} s for rank 0 to create run {run_dir}",
                                hint="is rank 0 running with the same store and run id?")
        time.sleep(0.05)
