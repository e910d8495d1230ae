"""What the engine does for hooks: supply what active hooks need, fire them, record what they say.

Work is done only for needs some active hook declares: no gradient accumulation, no copies of
the pre-epoch state, unless asked. Hooks whose needs the run cannot meet are dropped at the
start with a note naming the hook and what is missing.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from ol.producer.hooks.base import HOOK_POINTS, Gather, Hook, HookContext, flat, rng_guard, views
from ol.schemas import ArrayData, HookMetrics

ENGINE_NEEDS = {"step_gradient", "mean_gradient", "previous_gradient", "pre_epoch_state", "batch", "epoch_data"}
CAPABILITY_NEEDS = ("attention", "embeddings", "cyclic_tokens")
STEP_POINTS = ("pre_step", "post_step")


class HookRuntime:
    """Owned by one Engine. Not thread-safe."""

    def __init__(self, hooks: list[Hook], setup, run, reference: dict[str, torch.Tensor] | None):
        self.setup, self.run, self.reference = setup, run, reference
        # what the experiment's capabilities meet (attention layers, embeddings, tokens that are Z/p, …)
        available = set(ENGINE_NEEDS) | {k for k in CAPABILITY_NEEDS if setup.capabilities.get(k) is not None}
        if reference is not None:
            available.add("reference")
        if "betas" in setup.optimizer.defaults:  # the Adam family keeps the moments adam_dynamics reads
            available.add("adam")
        self.hooks: list[Hook] = []
        for hook in hooks:
            missing = sorted(hook.needs - available)
            if missing:
                run.note(f"hook {hook.name} skipped: this run cannot provide {', '.join(missing)}"
                         + (" (give --reference PATH|RUN or train a reference run first)" if "reference" in missing
                            else ""), level="warning")
            else:
                self.hooks.append(hook)
        self.by_point = {p: [h for h in self.hooks if p in h.points] for p in HOOK_POINTS}
        needs = set().union(*(h.needs for h in self.hooks)) if self.hooks else set()
        self.wants_mean = "mean_gradient" in needs
        self.wants_pre_state = "pre_epoch_state" in needs
        self.trainable = [(n, p) for n, p in setup.model.named_parameters() if p.requires_grad]
        like = self.weights = [p.detach() for _, p in self.trainable]
        self.theta_gather = Gather(like) if self.hooks else None
        # each step's gradient is gathered into one vector once, for every hook that reads it
        self.grad_gather = Gather(like) if self.wants_mean or "step_gradient" in needs else None
        self.grad_sum: torch.Tensor | None = None  # the epoch's gradient sum, one float32 vector
        self.grad_steps = 0
        self._mean: torch.Tensor | None = None  # grad_sum / grad_steps, until the next step
        self.pre_state: dict | None = None
        # θ* as one vector, made once: solution-dependent hooks compare against it every firing
        self.reference_flat = None if reference is None or not self.trainable else \
            flat({n: reference[n] for n, _ in self.trainable}).to(self.trainable[0][1].device)
        self.last_eval: dict[str, float] = {}

    # engine callbacks --------------------------------------------------------------------

    def pre_epoch(self, position) -> None:
        if self.wants_mean and position.batch == 0:
            if self.grad_sum is not None:
                self.grad_sum.zero_()
            self.grad_steps, self._mean = 0, None
        if self.wants_pre_state and position.batch == 0:
            self.pre_state = {"model": {k: v.detach().clone() for k, v in self.setup.model.state_dict().items()},
                              "optimizer": copy.deepcopy(self.setup.optimizer.state_dict())}
        if position.batch == 0:  # a run resumed mid-epoch already fired it before the interruption
            self.fire("pre_epoch", position)

    def after_backward(self) -> None:
        """Called between backward and the optimiser step: the only moment the step's gradient exists
        before the optimiser may change it (the catalogue's "captured before the optimiser clears it")."""
        if self.grad_gather is None:
            return
        vector = self.grad_gather.fill([p.grad for _, p in self.trainable])
        if self.wants_mean:
            self._mean = None
            if self.grad_sum is None:
                self.grad_sum = torch.zeros_like(vector)
            self.grad_sum.add_(vector)
            self.grad_steps += 1

    def mean_gradient(self) -> tuple[dict[str, torch.Tensor], torch.Tensor] | tuple[None, None]:
        """The epoch's mean gradient by parameter name, and the same numbers as one vector."""
        if not self.grad_steps:
            return None, None
        if self._mean is None:
            self._mean = self.grad_sum / self.grad_steps
        names = (n for n, _ in self.trainable)
        return dict(zip(names, views(self._mean, self.weights), strict=True)), self._mean

    def fire(self, point: str, position, *, loss=None, batch=None, metrics=None, batches=None,
             evaluated=None) -> None:
        if evaluated is not None:  # hooks between evaluations see the latest evaluation's metrics
            self.last_eval = dict(evaluated)
        hooks = self.by_point[point]
        if point in STEP_POINTS:
            hooks = [h for h in hooks if h.schedule.active(position.step)]
        if not hooks:
            return
        s = self.setup
        mean, mean_flat = self.mean_gradient() if point in ("post_epoch", "snapshot") else (None, None)
        ctx = HookContext(
            s.model, s.optimizer, position.epoch, position.step, lr=s.scheduler.get_last_lr()[0],
            capabilities=s.capabilities, loss=loss, batch=batch, metrics={**self.last_eval, **(metrics or {})},
            evaluated=dict(evaluated or {}),
            reference=self.reference, batch_loss=s.batch_loss, epoch_batches=batches,
            pre_epoch_state=self.pre_state,
            mean_gradient=mean, mean_flat=mean_flat, trainable=self.trainable, reference_flat=self.reference_flat,
            theta_gather=self.theta_gather, weights=self.weights,
            step_gradient_flat=self.grad_gather.buffer if point == "post_step" and self.grad_gather else None,
            previous_gradient=({n: p.grad.detach() for n, p in self.trainable if p.grad is not None}
                               if point == "pre_step" else None),
        )
        # one guard for the whole firing point: training's stream is what the guard protects, and
        # saving numpy's state costs ~0.1 ms (hooks wanting their own reproducible draws seed a
        # generator, as counterfactual does)
        with rng_guard():
            for hook in hooks:
                if "mean_gradient" in hook.needs and ctx.mean_gradient is None:
                    continue
                if "previous_gradient" in hook.needs and not ctx.previous_gradient:
                    continue
                ctx.arrays = {}
                self._record(hook, point, ctx, hook.fire(point, ctx))

    def _record(self, hook: Hook, point: str, ctx: HookContext, values: dict | None) -> None:
        if values:
            self.run.emit(HookMetrics(hook=hook.name, point=point, step=ctx.step, epoch=ctx.epoch,
                                      metrics={k: float(v) for k, v in values.items()}))
        for name, tensor in ctx.arrays.items():
            array = tensor.detach().cpu().numpy()
            self.run.emit(ArrayData(name=name, dtype=array.dtype.str, shape=list(array.shape),
                                    data=np.ascontiguousarray(array).tobytes(), step=ctx.step,
                                    epoch=ctx.epoch, hook=hook.name))

    # checkpoints -------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {
            "hooks": {h.name: h.state_dict() for h in self.hooks},
            "grad_sum": self.grad_sum, "grad_steps": self.grad_steps, "last_eval": self.last_eval,
            "pre_state": self.pre_state or {},
        }

    def load_state_dict(self, state: dict) -> None:
        for h in self.hooks:
            h.load_state_dict(state.get("hooks", {}).get(h.name, {}))
        saved = state.get("grad_sum")
        if isinstance(saved, dict) and saved:  # checkpoints before the sum was one vector
            saved = torch.cat([saved[n].reshape(-1).float() if n in saved else torch.zeros(p.numel())
                               for n, p in self.trainable])
        device = self.trainable[0][1].device if self.trainable else None
        self.grad_sum = saved.to(device=device, dtype=torch.float32) if isinstance(saved, torch.Tensor) else None
        self.grad_steps = state.get("grad_steps", 0)
        self._mean = None
        self.last_eval = state.get("last_eval", {})
        self.pre_state = state.get("pre_state") or None
