"""What the engine does for hooks: supply what active hooks need, fire them, record what they say.

Work is done only for needs some active hook declares: no gradient accumulation, no copies of
the pre-epoch state, unless asked. Hooks whose needs the run cannot meet are dropped at the
start with a note naming the hook and what is missing.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from ol.producer.hooks import HOOK_POINTS, Hook, HookContext, rng_guard
from ol.schemas import ArrayData, HookMetrics

ENGINE_NEEDS = {"step_gradient", "mean_gradient", "previous_gradient", "pre_epoch_state", "batch", "epoch_data"}
STEP_POINTS = ("pre_step", "post_step")


class HookRuntime:
    """Owned by one Engine. Not thread-safe."""

    def __init__(self, hooks: list[Hook], setup, run, reference: dict[str, torch.Tensor] | None):
        self.setup, self.run, self.reference = setup, run, reference
        available = set(ENGINE_NEEDS) | {k for k in ("attention", "embeddings") if k in setup.capabilities}
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
        self.grad_sum: dict[str, torch.Tensor] | None = None
        self.grad_steps = 0
        self._mean: dict[str, torch.Tensor] | None = None  # grad_sum / grad_steps, until the next step
        self.pre_state: dict | None = None
        self.last_eval: dict[str, float] = {}

    # engine callbacks --------------------------------------------------------------------

    def pre_epoch(self, position) -> None:
        if self.wants_mean and position.batch == 0:
            self.grad_sum, self.grad_steps, self._mean = None, 0, None
        if self.wants_pre_state and position.batch == 0:
            self.pre_state = {"model": {k: v.detach().clone() for k, v in self.setup.model.state_dict().items()},
                              "optimizer": copy.deepcopy(self.setup.optimizer.state_dict())}
        if position.batch == 0:  # a run resumed mid-epoch already fired it before the interruption
            self.fire("pre_epoch", position)

    def after_backward(self) -> None:
        """Called between backward and the optimiser step: the only moment the step's gradient exists
        before the optimiser may change it (the catalogue's "captured before the optimiser clears it")."""
        if not self.wants_mean:
            return
        self._mean = None
        grads = {n: p.grad.detach() for n, p in self.setup.model.named_parameters() if p.grad is not None}
        if self.grad_sum is None:
            self.grad_sum = {n: g.clone() for n, g in grads.items()}
        else:
            torch._foreach_add_([self.grad_sum[n] for n in grads], list(grads.values()))  # one fused kernel
        self.grad_steps += 1

    def mean_gradient(self) -> dict[str, torch.Tensor] | None:
        if not self.grad_sum:
            return None
        if self._mean is None:
            self._mean = {n: g / self.grad_steps for n, g in self.grad_sum.items()}
        return self._mean

    def fire(self, point: str, position, *, loss=None, batch=None, metrics=None, batches=None) -> None:
        hooks = self.by_point[point]
        if point in STEP_POINTS:
            hooks = [h for h in hooks if h.schedule.active(position.step)]
        if not hooks:
            return
        if metrics is not None and "test_acc" in metrics:
            self.last_eval = {k: v for k, v in metrics.items() if k.startswith(("test_", "val_"))}
        s = self.setup
        ctx = HookContext(
            s.model, s.optimizer, position.epoch, position.step, lr=s.scheduler.get_last_lr()[0],
            capabilities=s.capabilities, loss=loss, batch=batch, metrics={**self.last_eval, **(metrics or {})},
            reference=self.reference, batch_loss=s.batch_loss, epoch_batches=batches,
            pre_epoch_state=self.pre_state,
            mean_gradient=self.mean_gradient() if point in ("post_epoch", "snapshot") else None,
            previous_gradient=({n: p.grad.detach() for n, p in s.model.named_parameters() if p.grad is not None}
                               if point == "pre_step" else None),
        )
        for hook in hooks:
            if "mean_gradient" in hook.needs and ctx.mean_gradient is None:
                continue
            if "previous_gradient" in hook.needs and not ctx.previous_gradient:
                continue
            ctx.arrays = {}
            with rng_guard():
                values = hook.fire(point, ctx)
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
            "grad_sum": self.grad_sum or {}, "grad_steps": self.grad_steps, "last_eval": self.last_eval,
            "pre_state": self.pre_state or {},
        }

    def load_state_dict(self, state: dict) -> None:
        for h in self.hooks:
            h.load_state_dict(state.get("hooks", {}).get(h.name, {}))
        self.grad_sum = state.get("grad_sum") or None
        self.grad_steps = state.get("grad_steps", 0)
        self._mean = None
        self.last_eval = state.get("last_eval", {})
        self.pre_state = state.get("pre_state") or None
