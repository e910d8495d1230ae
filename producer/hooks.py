"""Hook points of the engine and the smallest hook contract: fire at points, return scalars.

The engine calls ``fire(point, context)`` on every active hook registered for that point and
records what it returns as a hook-metrics event. Hooks run inside an RNG guard, so whatever
random numbers they draw, training sees the same stream as without them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from ol.producer.determinism import rng_state, set_rng_state

HOOK_POINTS = ("pre_epoch", "pre_step", "post_step", "post_epoch", "snapshot")


@dataclass
class HookContext:
    """What a hook sees when it fires."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    epoch: int
    step: int
    capabilities: dict[str, Any] = field(default_factory=dict)
    loss: torch.Tensor | None = None  # the batch loss at pre/post_step (a tensor: reading it is a sync)


class Hook:
    """Subclass: set ``name`` and ``points``; ``fire`` returns scalars (or None for nothing)."""

    name: ClassVar[str]
    points: ClassVar[tuple[str, ...]]

    def fire(self, point: str, ctx: HookContext) -> dict[str, float] | None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        """State needed across epochs, saved in checkpoints so a resumed run continues it."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


@contextmanager
def rng_guard() -> Iterator[None]:
    """Restore every RNG state on exit: hooks must not change the training stream."""
    saved = rng_state()
    try:
        yield
    finally:
        set_rng_state(saved)
