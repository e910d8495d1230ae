"""Curricula with pacing (Platanios et al. 2019, "Competence-based curriculum learning"; baby steps): each
epoch trains on a pool of the easiest examples that widens with a pacing function, sampling within it,
instead of sorting the whole set (a sorted epoch makes every batch one difficulty).

``competence(kind, epoch, start, epochs)`` is the share of the training set allowed at ``epoch``: ``start``
at epoch 0, all of it from epoch ``epochs`` on, in between
    linear  start + (1 − start) · t
    root    √(start² + (1 − start²) · t)          (widens fast early, the paper's best)
    step    start + (1 − start) · ⌊STEPS · t⌋ / STEPS   (baby steps: four equal widenings)
with t = epoch / epochs. ``paced_order`` makes an epoch of ``n`` sample ids from the pool: the easiest
⌈competence · n⌉ examples by difficulty (ties in a fixed seeded order, so a pool only ever grows), each pass
over the pool a fresh seeded shuffle of it, as many passes as fill the epoch.
"""

from __future__ import annotations

import math

import torch

PACINGS = ("linear", "root", "step")
STEPS = 4


def competence(kind: str, epoch: int, start: float, epochs: int) -> float:
    t = min(1.0, epoch / epochs) if epochs > 0 else 1.0
    if kind == "linear":
        return start + (1 - start) * t
    if kind == "root":
        return math.sqrt(start**2 + (1 - start**2) * t)
    if kind == "step":
        return start + (1 - start) * math.floor(STEPS * t) / STEPS
    raise ValueError(f"pacing: unknown kind {kind!r}; choose one of {', '.join(PACINGS)}")


def easiest_first(difficulty: torch.Tensor, seed: int) -> torch.Tensor:
    """Every example, easiest first; ties in one seeded order, the same every epoch."""
    ties = torch.randperm(len(difficulty), generator=torch.Generator().manual_seed(seed))
    return ties[torch.sort(difficulty[ties], stable=True).indices]


def pool_size(kind: str, epoch: int, start: float, epochs: int, n: int) -> int:
    return min(n, max(1, math.ceil(competence(kind, epoch, start, epochs) * n - 1e-9)))


def paced_order(ranked: torch.Tensor, size: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` sample ids drawn from the pool ``ranked[:size]``: whole shuffled passes over it, the last cut."""
    pool = ranked[:size]
    passes = [pool[torch.randperm(size, generator=generator)] for _ in range(math.ceil(n / size))]
    return torch.cat(passes)[:n]
