"""Hooks 1–4 of the catalogue (training metrics and diagnostics, parameter deltas, path length), and the
trajectory recorder."""

from __future__ import annotations

import math

import torch

from ol.producer.hooks.base import Hook, HookContext, Schedule, norm, register, scalars


@register
class TrainingMetrics(Hook):
    name = "training_metrics"
    points = ("post_epoch",)
    description = "The epoch's loss and accuracy, the evaluation's metrics, perplexity and learning rate."
    metrics = {"loss": "mean training loss of the epoch (nats)", "train_acc": "training accuracy",
               "<evaluation metric>": "each metric the experiment's evaluation returned, when it ran this epoch "
               "(mod_arithmetic: test_loss, test_acc; dyck: val_loss, val_acc, val_close_acc)",
               "perplexity": "exp(loss); inf when it overflows", "lr": "learning rate at the end of the epoch"}

    def fire(self, point, ctx):
        loss = ctx.metrics.get("train_loss", math.nan)
        out = {"loss": loss, "perplexity": math.exp(loss) if loss < 709 else math.inf, "lr": ctx.lr}
        if "train_acc" in ctx.metrics:  # the engine's own: every experiment has it
            out["train_acc"] = ctx.metrics["train_acc"]
        out.update(ctx.evaluated)  # whatever the experiment evaluates, by its own names
        return out


@register
class TrainingDiagnostics(Hook):
    name = "training_diagnostics"
    points = ("post_step", "post_epoch")
    needs = frozenset({"step_gradient"})
    description = "Over the epoch's steps: loss and gradient-norm statistics, update ratios, weight norm."
    metrics = {"loss_mean": "mean step loss", "loss_std": "std of step losses",
               "loss_volatility": "std / |mean| of step losses", "loss_autocorr": "lag-1 autocorrelation of losses",
               "grad_norm_mean": "mean step-gradient norm", "grad_norm_std": "its std",
               "grad_norm_cv": "std / mean of gradient norms", "grad_norm_max": "largest step-gradient norm",
               "update_ratio_mean": "mean lr·‖g‖/‖θ‖", "update_ratio_std": "its std", "weight_norm": "‖θ‖"}

    # the epoch's steps so far: a run resumed mid-epoch still summarises the whole epoch
    state = ("_loss", "_grad", "_ratio")

    def __init__(self):
        self._loss: list[torch.Tensor] = []
        self._grad: list[torch.Tensor] = []
        self._ratio: list[torch.Tensor] = []

    def fire(self, point, ctx):
        theta_norm = norm(ctx.theta_vector())
        if point == "post_step":
            g = norm(ctx.step_gradient_vector())
            self._loss.append(ctx.loss.detach().float().reshape(()))
            self._grad.append(g)
            self._ratio.append(ctx.lr * g / theta_norm.clamp_min(1e-30))
            return None
        if not self._loss:
            return None
        loss, grad, ratio = torch.stack(self._loss), torch.stack(self._grad), torch.stack(self._ratio)
        self._loss, self._grad, self._ratio = [], [], []
        mean = loss.mean()
        centred = loss - mean
        autocorr = (centred[1:] * centred[:-1]).sum() / (centred * centred).sum().clamp_min(1e-30) \
            if loss.numel() > 1 else torch.tensor(math.nan)
        return scalars({
            "loss_mean": mean, "loss_std": _std(loss), "loss_volatility": _std(loss) / mean.abs().clamp_min(1e-30),
            "loss_autocorr": autocorr, "grad_norm_mean": grad.mean(), "grad_norm_std": _std(grad),
            "grad_norm_cv": _std(grad) / grad.mean().clamp_min(1e-30), "grad_norm_max": grad.max(),
            "update_ratio_mean": ratio.mean(), "update_ratio_std": _std(ratio), "weight_norm": theta_norm,
        })



def _std(x: torch.Tensor) -> torch.Tensor:
    return x.std() if x.numel() > 1 else torch.zeros((), device=x.device)


@register
class ParameterDelta(Hook):
    name = "parameter_delta"
    points = ("post_epoch",)
    description = "How far the weights moved since the hook last fired."
    metrics = {"delta_norm": "‖θ − θ_prev‖", "relative_delta": "‖θ − θ_prev‖ / ‖θ_prev‖", "weight_norm": "‖θ‖"}

    state = ("previous",)

    def __init__(self):
        self.previous: torch.Tensor | None = None

    def fire(self, point, ctx: HookContext):
        theta = ctx.theta_vector()
        previous, self.previous = self.previous, theta
        if previous is None:
            return scalars({"weight_norm": theta.norm()})
        delta = (theta - previous).norm()
        return scalars({"delta_norm": delta, "relative_delta": delta / previous.norm().clamp_min(1e-30),
                        "weight_norm": theta.norm()})


@register
class PathLength(Hook):
    name = "path_length"
    points = ("pre_epoch", "post_step", "post_epoch")
    description = "Length of the path the weights travelled, against the straight line from the start."
    metrics = {"path_length": "Σ‖θ_t − θ_{t−1}‖ over all steps", "net_displacement": "‖θ_t − θ_0‖",
               "efficiency": "net displacement / path length (1: a straight line)"}
    cost = "one parameter copy per step"
    state = ("start", "last", "length")

    def __init__(self):
        self.start: torch.Tensor | None = None  # θ_0 as one vector
        self.last: torch.Tensor | None = None  # θ_{t−1} as one vector
        self.length = torch.zeros((), dtype=torch.float64)

    def fire(self, point, ctx):
        theta = ctx.theta_vector()  # a fresh vector per firing: kept as `last` without a copy
        if self.start is None:  # the first pre_epoch: θ_0, before any update
            self.start, self.last = theta, theta
            self.length = self.length.to(theta.device)
            return None
        if point == "pre_epoch":
            return None
        if point == "post_step":
            self.length = self.length + norm(theta - self.last).double()
            self.last = theta
            return None
        net = (theta - self.start).norm().double()
        return scalars({"path_length": self.length, "net_displacement": net,
                        "efficiency": net / self.length.clamp_min(1e-30)})


@register
class Trajectory(Hook):
    """θ itself every ``every`` steps, for `ol plot trajectory` (`ol train --record-trajectory [EVERY]`).
    Large models record a count sketch instead (``dim`` numbers: each parameter adds, with a random sign,
    into one of ``dim`` buckets): it keeps distances and inner products in expectation, costs one index_add,
    and is the same sketch for every run of a model (seeded by the model's size and ``dim``, never by the
    run), so runs can share one PCA."""

    name = "trajectory"
    points = ("post_step",)
    description = "The parameters' path (θ, or a fixed count sketch of it) every N steps, as array events."
    metrics = {"array trajectory": "θ flattened (float32), or its --trajectory-dim count sketch"}
    cost = "cheap"

    def __init__(self, every: int = 10, dim: int = 0):
        self.schedule = Schedule(every=max(1, every))
        self.dim = dim
        self._bucket: torch.Tensor | None = None
        self._sign: torch.Tensor | None = None

    def fire(self, point, ctx):
        theta = ctx.theta_vector()
        if self.dim and self.dim < theta.numel():
            if self._bucket is None or self._bucket.numel() != theta.numel():
                gen = torch.Generator().manual_seed(theta.numel() * 1_000_003 + self.dim)
                self._bucket = torch.randint(self.dim, (theta.numel(),), generator=gen).to(theta.device)
                self._sign = (torch.randint(2, (theta.numel(),), generator=gen) * 2 - 1).float().to(theta.device)
            theta = torch.zeros(self.dim, device=theta.device).index_add_(0, self._bucket, theta * self._sign)
        ctx.arrays["trajectory"] = theta.float()
        return None
