"""Hook points, the hook contract, schedules, the registry and the tensor helpers hooks share.

A hook declares where it fires, on which steps, what it needs (the engine supplies only what
active hooks ask for: no gradient accumulation when nobody needs it) and whether it intervenes.
The engine calls ``fire(point, ctx)`` inside an RNG guard and records what it returns as a
hook-metrics event; vector outputs go out as array events through ``ctx.arrays``.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

HOOK_POINTS = ("pre_epoch", "pre_step", "post_step", "post_epoch", "snapshot")
# what a hook may need; the engine provides each only when an active hook asks for it
NEEDS = {
    "mean_gradient": "mean of the epoch's per-step gradients, captured before the optimiser clears them",
    "step_gradient": "this step's gradients (at post_step)",
    "previous_gradient": "the previous step's gradients (at pre_step)",
    "pre_epoch_state": "model and optimiser state at the start of the epoch",
    "reference": "a trained solution's weights θ*",
    "attention": "the model's attention layers and a probe batch",
    "embeddings": "the token embedding and read-out weights",
    "cyclic_tokens": "tokens 0..p-1 that are the integers mod p (capability p): a Fourier basis over them means "
                     "something",
    "batch": "the current batch (at pre/post_step)",
    "epoch_data": "the epoch's batches, to re-run it",
}


@dataclass(frozen=True)
class Schedule:
    """Which steps a step-level hook fires on: every ``every``-th step, or bursts of ``burst`` steps
    every ``every`` steps after ``warmup`` steps."""

    every: int = 1
    burst: int = 0
    warmup: int = 0

    def active(self, step: int) -> bool:
        if step < self.warmup:
            return False
        if self.burst:
            return (step - self.warmup) % self.every < self.burst
        return step % self.every == 0


@dataclass
class HookContext:
    """What a hook sees when it fires. Tensors stay on the device; reading one is a sync."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    epoch: int
    step: int
    lr: float = 0.0
    capabilities: dict[str, Any] = field(default_factory=dict)
    loss: torch.Tensor | None = None
    batch: tuple | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # the epoch's metrics, at post_epoch/snapshot
    evaluated: dict[str, float] = field(default_factory=dict)  # what this epoch's evaluation returned, if it ran
    mean_gradient: dict[str, torch.Tensor] | None = None
    previous_gradient: dict[str, torch.Tensor] | None = None
    pre_epoch_state: dict | None = None
    reference: dict[str, torch.Tensor] | None = None
    epoch_batches: list | None = None
    batch_loss: Any = None  # the experiment's (model, batch) -> (loss, correct[, scored])
    arrays: dict[str, torch.Tensor] = field(default_factory=dict)  # filled by the hook: emitted as arrays
    # the trainable parameters, in model order; the runtime passes its cached list (listing them
    # costs more than some hooks' whole work)
    trainable: list[tuple[str, torch.nn.Parameter]] | None = None
    weights: list[torch.Tensor] | None = None  # detached views of ``trainable``: in-place updates show through
    mean_flat: torch.Tensor | None = None  # the mean gradient as one vector, when the runtime has it
    reference_flat: torch.Tensor | None = None  # θ* as one vector in parameter order, when the runtime has it
    # this step's gradient as one vector (at post_step, when the runtime gathered it): valid until
    # the next step, so a hook keeping it copies it
    step_gradient_flat: torch.Tensor | None = None
    theta_gather: Gather | None = None  # the runtime's cached views for copying θ into one vector
    # vectors several hooks of one firing read; computed once and shared, so never modified in place
    _shared: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.trainable is None:
            self.trainable = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        if self.weights is None:
            self.weights = [p.detach() for _, p in self.trainable]

    def parameters(self) -> list[torch.Tensor]:
        return self.weights

    def theta(self) -> dict[str, torch.Tensor]:
        return {n: w for (n, _), w in zip(self.trainable, self.weights, strict=True)}

    def theta_vector(self) -> torch.Tensor:
        """The weights as one float32 vector (a copy: it outlives later updates)."""
        if "theta" not in self._shared:
            self._shared["theta"] = flat(self.theta()) if self.theta_gather is None \
                else self.theta_gather.fill(self.parameters()).clone()
        return self._shared["theta"]

    def step_gradient_vector(self) -> torch.Tensor:
        """This step's gradient as one float32 vector (zeros for parameters without a gradient)."""
        if self.step_gradient_flat is None:
            self.step_gradient_flat = flat({n: p.grad if p.grad is not None else torch.zeros_like(p)
                                            for n, p in self.trainable})
        return self.step_gradient_flat

    def reference_vector(self) -> torch.Tensor:
        """θ* as one vector, in the order of ``theta_vector``."""
        if self.reference_flat is None:
            self.reference_flat = flat({n: self.reference[n] for n, _ in self.trainable})
        return self.reference_flat

    def mean_vector(self) -> torch.Tensor:
        """The epoch's mean gradient as one vector, in the order of ``mean_gradient``."""
        if self.mean_flat is None:
            self.mean_flat = flat(self.mean_gradient)
        return self.mean_flat


class Hook:
    """Subclass: set the class attributes; ``fire`` returns scalars (or None for nothing)."""

    name: ClassVar[str]
    points: ClassVar[tuple[str, ...]]
    needs: ClassVar[frozenset[str]] = frozenset()
    intervenes: ClassVar[bool] = False
    description: ClassVar[str] = ""
    metrics: ClassVar[dict[str, str]] = {}  # metric -> meaning, for `ol hooks describe`
    cost: ClassVar[str] = "cheap"
    schedule: Schedule = Schedule()
    # attributes carried across epochs (windows, previous vectors, counters): saved in checkpoints
    # so a resumed run continues them exactly
    state: ClassVar[tuple[str, ...]] = ()

    def fire(self, point: str, ctx: HookContext) -> dict[str, float] | None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {name: _portable(getattr(self, name)) for name in self.state}

    def load_state_dict(self, state: dict) -> None:
        for name in self.state:
            if name in state:
                current, value = getattr(self, name), state[name]
                setattr(self, name, deque(value, maxlen=current.maxlen) if isinstance(current, deque) else value)


def _portable(value):
    """Tensors, containers and plain values only: what torch.load(weights_only=True) accepts."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, (list, tuple, deque)):
        return [_portable(v) for v in value]
    if isinstance(value, dict):
        return {k: _portable(v) for k, v in value.items()}
    return value


@contextmanager
def rng_guard() -> Iterator[None]:
    """Restore every RNG state on exit: hooks must not change the training stream. Raw states, not
    the checkpoint format: this runs around every hook firing."""
    python, numpy = random.getstate(), np.random.get_state()
    cpu = torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        random.setstate(python)
        np.random.set_state(numpy)
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


# the catalogue's order (docs/guides/hooks.md; `ol hooks` lists it): listings and runs follow it
CATALOGUE = ("training_metrics", "training_diagnostics", "parameter_delta", "path_length", "norms", "consecutive",
             "variance", "batch_dynamics", "weight_tracking", "attention", "fourier", "phases", "token_gradient",
             "gradient_projection", "subspace_gradient_info", "hessian", "counterfactual", "adam_dynamics",
             "counterfactual_validator", "trajectory")
REGISTRY: dict[str, type[Hook]] = {}


def register(cls: type[Hook]) -> type[Hook]:
    REGISTRY[cls.name] = cls
    return cls


# shared tensor helpers ---------------------------------------------------------------------


def flat(tensors: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1).float() for t in tensors.values()]) if tensors else torch.zeros(0)


class Gather:
    """Copies a fixed list of tensors (the parameters, or their gradients) into one float32 vector
    through views made once. On CPU a fused copy into cached views costs about a third of
    ``torch.cat``, and making the views costs more than either, so they are kept."""

    def __init__(self, like: list[torch.Tensor]):
        device = like[0].device if like else torch.device("cpu")
        self.buffer = torch.zeros(sum(t.numel() for t in like), device=device)
        self.views = views(self.buffer, like)

    def fill(self, tensors: list[torch.Tensor | None]) -> torch.Tensor:
        """The buffer, holding ``tensors`` (None: zeros). Overwritten by the next fill."""
        with torch.no_grad():  # copying a parameter: nothing to record, no need to detach each one
            if all(t is not None for t in tensors):
                torch._foreach_copy_(self.views, tensors)
            else:
                for view, t in zip(self.views, tensors, strict=True):
                    view.zero_() if t is None else view.copy_(t)
        return self.buffer


def views(buffer: torch.Tensor, like: list[torch.Tensor]) -> list[torch.Tensor]:
    """``buffer`` (one flat vector) seen as tensors shaped like ``like``: torch._foreach_* ops on
    the views fill or read the vector in one fused kernel, without a concatenation."""
    out, offset = [], 0
    for t in like:
        out.append(buffer[offset:offset + t.numel()].view(t.shape))
        offset += t.numel()
    return out


def norm(vector: torch.Tensor) -> torch.Tensor:
    """‖v‖ of a float32 vector from one BLAS dot product: a third of ``Tensor.norm``'s time for
    10⁵ components, for hooks that take several norms every step."""
    v = vector.reshape(-1)
    return torch.dot(v, v).sqrt()


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """cos(a, b) from three float32 dot products (one BLAS call each), combined in float64 (float32
    on MPS). Widening the vectors themselves costs ~50× more for 10⁵ components. Combined this way
    a vector's cosine with itself is exactly 1 (x / √(x·x) is exact in float64), so its angle is 0°."""
    a, b = a.reshape(-1).float(), b.reshape(-1).float()
    wide = torch.float32 if a.device.type == "mps" else torch.float64
    ab, aa, bb = (torch.dot(x, y).to(wide) for x, y in ((a, b), (a, a), (b, b)))
    denom = (aa * bb).sqrt()
    return torch.where(denom > 0, ab / denom.clamp_min(1e-300 if wide == torch.float64 else 1e-30),
                       torch.zeros_like(denom))


def params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}


def singular_values(w: torch.Tensor) -> torch.Tensor:
    """Singular values, descending, from eigvalsh of the smaller Gram matrix in float64: the same
    numbers an SVD gives for these statistics, at a fraction of its cost."""
    wide = w.to(torch.float32 if w.device.type == "mps" else torch.float64)
    gram = wide @ wide.T if wide.shape[0] <= wide.shape[1] else wide.T @ wide
    return torch.linalg.eigvalsh(gram).clamp_min(0).sqrt().flip(0)


def matrices(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weight matrices only (biases and norms excluded), as the catalogue's per-parameter metrics use."""
    return {n: t for n, t in tensors.items() if t.dim() == 2}


def scalars(values: dict[str, torch.Tensor | float]) -> dict[str, float]:
    """Tensors to floats in one go: the single device sync of a hook firing. One concatenation
    (which promotes mixed dtypes) instead of a conversion per value."""
    items = list(values.items())
    device = next((v.device for _, v in items if isinstance(v, torch.Tensor)), None)
    # a constant made on the CPU (torch.zeros(())) may sit among values on the GPU
    tensors = [v.reshape(1).to(device) for _, v in items if isinstance(v, torch.Tensor)]
    read: list[float] = []
    if tensors:
        wide = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
        read = torch.cat(tensors).to(wide).cpu().tolist()  # note: a CPU-GPU sync point
    values_read = iter(read)
    return {k: next(values_read) if isinstance(v, torch.Tensor) else float(v) for k, v in items}
