"""Hooks 16–19 of the catalogue: the ones that do extra computation on the model (interventions).

Each restores whatever it touches: parameters are put back bit for bit, gradients in ``.grad``
are never written (``torch.autograd.grad`` returns them instead), re-runs train copies, and the
engine runs every hook inside an RNG guard.
"""

from __future__ import annotations

import copy

import torch

from ol.producer.determinism import rng_state, set_rng_state
from ol.producer.hooks.base import Hook, Schedule, cosine, flat, params, register, scalars

FD_EPSILON = 1e-3  # finite-difference step along the unit direction, in parameter units


def _grad_at(model, batch_loss, batch, names, rng) -> torch.Tensor:
    """Flat gradient of the batch loss, with a fixed RNG state so dropout masks are identical."""
    set_rng_state(rng)
    live = dict(model.named_parameters())
    tensors = [live[n] for n in names]
    loss = batch_loss(model, batch)[0]
    grads = torch.autograd.grad(loss, tensors, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(t)).reshape(-1).float()
                      for g, t in zip(grads, tensors, strict=True)])


@register
class Hessian(Hook):
    name = "hessian"
    points = ("pre_step",)
    needs = frozenset({"previous_gradient", "batch", "reference"})
    intervenes = True
    description = ("Hessian-vector product along the previous step's gradient, by finite differences on the "
                   "current batch (computed before the step, so the step itself is untouched).")
    metrics = {"entanglement": "‖η H g_prev‖", "content": "‖g + η H g_prev‖", "energy_ratio": "‖η H g_prev‖² / ‖g‖²",
               "rayleigh": "v̂ᵀ H v̂ with v̂ = g_prev/‖g_prev‖", "amplification": "‖H g_prev‖ / ‖g‖",
               "edge_of_stability": "2 η · amplification", "hv_solution_alignment": "cos(H g_prev, θ* − θ)",
               "grad_solution_alignment": "cos(−g, θ* − θ)", "coherence": "cos(H g_prev, H g_prev of the last firing)"}
    cost = "two extra forward/backward passes per firing (bursts of 5 steps every 200)"
    schedule = Schedule(every=200, burst=5, warmup=10)

    state = ("previous_hv",)

    def __init__(self):
        self.previous_hv: torch.Tensor | None = None

    def fire(self, point, ctx):
        v = flat(ctx.previous_gradient)
        if v.norm() == 0:
            return None
        names = list(ctx.previous_gradient)
        live = dict(ctx.model.named_parameters())
        saved = {n: live[n].detach().clone() for n in names}
        rng = rng_state()
        g = _grad_at(ctx.model, ctx.batch_loss, ctx.batch, names, rng)
        unit = v / v.norm()
        with torch.no_grad():
            offset = 0
            for n in names:
                size = live[n].numel()
                live[n].add_(unit[offset:offset + size].reshape(live[n].shape).to(live[n].dtype), alpha=FD_EPSILON)
                offset += size
        try:
            g_moved = _grad_at(ctx.model, ctx.batch_loss, ctx.batch, names, rng)
        finally:
            with torch.no_grad():
                for n in names:
                    live[n].copy_(saved[n])  # bit-for-bit: copy back, never subtract
        hv_unit = (g_moved - g) / FD_EPSILON
        hv = hv_unit * v.norm()
        eta = ctx.lr
        direction = flat({n: ctx.reference[n] - saved[n] for n in names})
        out = {"entanglement": (eta * hv).norm(), "content": (g + eta * hv).norm(),
               "energy_ratio": (eta * hv).norm() ** 2 / (g @ g).clamp_min(1e-30), "rayleigh": unit @ hv_unit,
               "amplification": hv.norm() / g.norm().clamp_min(1e-30),
               "hv_solution_alignment": cosine(hv, direction), "grad_solution_alignment": cosine(-g, direction)}
        out["edge_of_stability"] = 2 * eta * out["amplification"]
        if self.previous_hv is not None:
            out["coherence"] = cosine(hv, self.previous_hv)
        self.previous_hv = hv.detach()
        return scalars(out)


@register
class Counterfactual(Hook):
    name = "counterfactual"
    points = ("post_epoch", "snapshot")
    needs = frozenset({"mean_gradient", "pre_epoch_state", "epoch_data", "reference"})
    intervenes = True
    description = ("Re-runs the epoch K = 3 times in shuffled order from the pre-epoch state (on copies) and "
                   "splits the actual mean gradient into content (along the shuffled mean) and ordering (the "
                   "rest). Every epoch for the first 5, then at snapshots.")
    metrics = {"content_norm": "‖projection of ḡ on the shuffled mean‖", "ordering_norm": "‖ḡ − content‖",
               "ordering_fraction": "‖ordering‖² / ‖ḡ‖²", "alignment": "cos(ḡ, shuffled mean)",
               "content_solution_alignment": "cos(−content, θ* − θ_pre)",
               "ordering_solution_alignment": "cos(−ordering, θ* − θ_pre)"}
    cost = "K extra epochs per firing"
    runs = 3
    early_epochs = 5

    def due(self, point: str, epoch: int) -> bool:
        return (point == "post_epoch") == (epoch < self.early_epochs)

    def fire(self, point, ctx):
        if not self.due(point, ctx.epoch):
            return None
        shuffled = [self.shuffled_mean_gradient(ctx, k) for k in range(self.runs)]
        return scalars(self.decompose(ctx, torch.stack(shuffled).mean(0)))

    def decompose(self, ctx, shuffled_mean: torch.Tensor) -> dict:
        g = ctx.mean_vector()
        unit = shuffled_mean / shuffled_mean.norm().clamp_min(1e-30)
        content = (g @ unit) * unit
        ordering = g - content
        pre = ctx.pre_epoch_state["model"]
        names = list(ctx.mean_gradient)
        direction = flat({n: ctx.reference[n] - pre[n] for n in names})
        return {"content_norm": content.norm(), "ordering_norm": ordering.norm(),
                "ordering_fraction": (ordering @ ordering) / (g @ g).clamp_min(1e-30),
                "alignment": cosine(g, shuffled_mean), "content_solution_alignment": cosine(-content, direction),
                "ordering_solution_alignment": cosine(-ordering, direction)}

    def shuffled_mean_gradient(self, ctx, k: int) -> torch.Tensor:
        """Train a copy from the pre-epoch state on this epoch's examples in a shuffled order."""
        model = copy.deepcopy(ctx.model)
        model.load_state_dict(ctx.pre_epoch_state["model"])
        # hyper-parameters (lr, betas, weight decay, …) come back with the saved state's param groups
        optimizer = type(ctx.optimizer)(model.parameters(), lr=ctx.optimizer.defaults["lr"])
        optimizer.load_state_dict(ctx.pre_epoch_state["optimizer"])
        x = torch.cat([b[0] for b in ctx.epoch_batches])
        y = torch.cat([b[1] for b in ctx.epoch_batches])
        gen = torch.Generator().manual_seed(1_000_003 * (ctx.epoch + 1) + k)
        order = torch.randperm(len(y), generator=gen).to(y.device)
        size = len(ctx.epoch_batches[0][1])
        names = list(ctx.mean_gradient)
        total = None
        steps = 0
        model.train()
        for idx in order.split(size):
            loss = ctx.batch_loss(model, (x[idx], y[idx]))[0]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grads = dict(model.named_parameters())
            g = torch.cat([grads[n].grad.reshape(-1).float() for n in names])
            total = g if total is None else total + g
            optimizer.step()
            steps += 1
        return total / max(1, steps)


@register
class CounterfactualValidator(Counterfactual):
    name = "counterfactual_validator"
    description = "Checks the counterfactual's K-shuffle estimate against K + 1 shuffles (debugging aid)."
    metrics = {"norm_convergence": "|‖mean of K‖ − ‖mean of K+1‖| / ‖mean of K+1‖",
               "cosine_agreement": "cos(mean of K, mean of K+1)"}
    cost = "K + 1 extra epochs per firing"

    def fire(self, point, ctx):
        if not self.due(point, ctx.epoch):
            return None
        shuffled = torch.stack([self.shuffled_mean_gradient(ctx, k) for k in range(self.runs + 1)])
        k_mean, k1_mean = shuffled[:-1].mean(0), shuffled.mean(0)
        return scalars({"norm_convergence": (k_mean.norm() - k1_mean.norm()).abs() / k1_mean.norm().clamp_min(1e-30),
                        "cosine_agreement": cosine(k_mean, k1_mean)})


@register
class AdamDynamics(Hook):
    name = "adam_dynamics"
    points = ("post_step",)
    needs = frozenset({"step_gradient", "reference", "adam"})
    intervenes = True
    description = "Adam's bias-corrected moments against the gradient, and where the update points."
    metrics = {"momentum_grad_cosine": "cos(m̂, g)", "amplification": "‖update‖ / (lr ‖g‖)",
               "deflection_deg": "angle between the update and the gradient, degrees",
               "effective_lr_cv": "std / mean of lr / (√v̂ + ε) over parameters",
               "solution_alignment": "cos(−update, θ* − θ)"}
    schedule = Schedule(every=200, burst=5, warmup=10)

    def fire(self, point, ctx):
        group = ctx.optimizer.param_groups[0]
        beta1, beta2 = group["betas"]
        eps = group["eps"]
        m_hat, v_hat, grads, names = [], [], [], []
        live = dict(ctx.model.named_parameters())
        for name, p in live.items():
            state = ctx.optimizer.state.get(p)
            if p.grad is None or not state or "exp_avg" not in state:
                continue
            t = float(state["step"])
            m_hat.append((state["exp_avg"] / (1 - beta1**t)).reshape(-1).float())
            v_hat.append((state["exp_avg_sq"] / (1 - beta2**t)).reshape(-1).float())
            grads.append(p.grad.reshape(-1).float())
            names.append(name)
        if not names:
            return None
        m, v, g = torch.cat(m_hat), torch.cat(v_hat), torch.cat(grads)
        lr = ctx.lr
        denom = v.sqrt() + eps
        update = lr * m / denom
        theta = params(ctx.model)
        direction = flat({n: ctx.reference[n] - theta[n] for n in names})
        effective = lr / denom
        c = cosine(update, g).clamp(-1, 1)
        return scalars({"momentum_grad_cosine": cosine(m, g),
                        "amplification": update.norm() / (lr * g.norm()).clamp_min(1e-30),
                        "deflection_deg": torch.rad2deg(torch.arccos(c)),
                        "effective_lr_cv": effective.std() / effective.mean().clamp_min(1e-30),
                        "solution_alignment": cosine(-update, direction)})
