"""Hooks 5–9 and 13–15 of the catalogue: what the gradients look like and where they point."""

from __future__ import annotations

import math

import torch

from ol.producer.hooks.base import Hook, cosine, flat, matrices, params, register, scalars, singular_values, views

K_BACK = (1, 2, 5, 10, 20, 50)
WINDOWS = (2, 5, 10, 20, 50)


@register
class Norms(Hook):
    name = "norms"
    points = ("post_epoch",)
    needs = frozenset({"mean_gradient"})
    description = "Size of the epoch's mean gradient, overall and per weight matrix."
    metrics = {"total_norm": "‖ḡ‖", "max_abs": "largest |component| of ḡ", "mean_abs": "mean |component| of ḡ",
               "norm/<param>": "‖ḡ‖ of each weight matrix"}

    def fire(self, point, ctx):
        g = ctx.mean_vector()
        out = {"total_norm": g.norm(), "max_abs": g.abs().max(), "mean_abs": g.abs().mean()}
        out.update({f"norm/{n}": t.norm() for n, t in matrices(ctx.mean_gradient).items()})
        return scalars(out)


@register
class Consecutive(Hook):
    name = "consecutive"
    points = ("post_epoch",)
    needs = frozenset({"mean_gradient"})
    description = "How the mean gradient turns from one epoch to the next."
    metrics = {"cosine": "cos(ḡ_e, ḡ_{e−1})", "angle_deg": "the angle between them, degrees"}

    state = ("previous",)

    def __init__(self):
        self.previous: torch.Tensor | None = None

    def fire(self, point, ctx):
        g = ctx.mean_vector()  # a fresh vector every epoch, never changed in place: kept without a copy
        previous, self.previous = self.previous, g
        if previous is None:
            return None
        c = cosine(g, previous).clamp(-1, 1)
        return scalars({"cosine": c, "angle_deg": torch.rad2deg(torch.arccos(c))})


class _Window(Hook):
    """The last ``size`` vectors in a ring buffer, and their Gram matrix. Pushing only copies into
    the ring; reading the Gram matrix computes the rows of the slots filled since the last read
    in one blocked matmul (new rows × whole ring). Recomputing all of it would cost size² ×
    parameters; updating it on every push would read the whole ring once per push."""

    size = 10
    state = ("ring", "slot_gram", "head", "count", "dirty")

    def __init__(self):
        self.ring: torch.Tensor | None = None  # size × parameters, float32, in slot order
        self.slot_gram: torch.Tensor | None = None  # float64, in slot order
        self.head = 0  # the slot the next vector goes to
        self.count = 0
        self.dirty: list[int] = []  # slots written since the Gram matrix was last brought up to date

    def push(self, vector: torch.Tensor) -> None:
        if self.ring is None:
            self.ring = torch.zeros(self.size, vector.numel(), device=vector.device)
            self.slot_gram = torch.zeros(self.size, self.size, dtype=torch.float64, device=vector.device)
        self.ring[self.head] = vector.detach()
        if self.head not in self.dirty:
            self.dirty.append(self.head)
        self.count = min(self.count + 1, self.size)
        self.head = (self.head + 1) % self.size

    @property
    def gram(self) -> torch.Tensor:
        """The window's Gram matrix, oldest vector first."""
        for first, last in _runs(sorted(self.dirty)):  # consecutive slots: a view of the ring, no copy
            dots = (self.ring[first:last + 1] @ self.ring.T).double()
            self.slot_gram[first:last + 1, :] = dots
            self.slot_gram[:, first:last + 1] = dots.T
        self.dirty = []
        order = torch.tensor([(self.head - self.count + i) % self.size for i in range(self.count)],
                             device=self.ring.device)
        return self.slot_gram[order][:, order]

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if self.ring is not None and self.slot_gram is None:  # a checkpoint that kept only the ring
            self.slot_gram = torch.zeros(self.size, self.size, dtype=torch.float64, device=self.ring.device)
            self.dirty = list(range(self.size))


def _runs(slots: list[int]) -> list[tuple[int, int]]:
    """Sorted slot numbers as (first, last) ranges of consecutive slots."""
    runs: list[tuple[int, int]] = []
    for slot in slots:
        if runs and runs[-1][1] == slot - 1:
            runs[-1] = (runs[-1][0], slot)
        else:
            runs.append((slot, slot))
    return runs


def _centred_energy(gram: torch.Tensor) -> torch.Tensor:
    """Squared singular values of the centred window, from its Gram matrix, descending."""
    n = gram.shape[0]
    centre = torch.eye(n, dtype=gram.dtype, device=gram.device) - 1.0 / n
    return torch.linalg.eigvalsh(centre @ gram @ centre).clamp_min(0).flip(0)


@register
class Variance(_Window):
    name = "variance"
    points = ("post_epoch",)
    needs = frozenset({"mean_gradient"})
    description = "Spread of the last 10 epochs' mean gradients."
    metrics = {"variance": "mean squared distance of the window's gradients from their mean",
               "mean_pairwise_cosine": "mean cosine between pairs in the window",
               "snr": "‖window mean‖ / ‖element-wise std‖", "window_mean_norm": "‖window mean‖"}

    def fire(self, point, ctx):
        self.push(ctx.mean_vector())
        gram = self.gram
        n = gram.shape[0]
        # ‖mean‖² and the spread around it follow from the Gram matrix: no n × parameters pass
        mean_sq = gram.sum() / n**2
        spread = (gram.diagonal().sum() - n * mean_sq).clamp_min(0)  # Σ‖w_i − mean‖²
        out = {"window_mean_norm": mean_sq.sqrt()}
        if n > 1:
            norms = gram.diagonal().sqrt().clamp_min(1e-30)
            cos = gram / (norms[:, None] * norms[None, :])
            out["variance"] = spread / n
            out["mean_pairwise_cosine"] = (cos.sum() - cos.diagonal().sum()) / (n * (n - 1))
            out["snr"] = mean_sq.sqrt() / (spread / (n - 1)).sqrt().clamp_min(1e-30)  # ‖ḡ‖ / ‖element-wise std‖
        return scalars(out)


@register
class BatchDynamics(_Window):
    name = "batch_dynamics"
    points = ("post_step", "post_epoch")
    needs = frozenset({"step_gradient"})
    description = "Coherence of consecutive step gradients over a ring of the last 50 steps."
    metrics = {**{f"cos_back_{k}": f"mean cosine between each gradient and the one {k} steps back" for k in K_BACK},
               **{f"efficiency_{w}": f"‖Σ last {w} g‖ / Σ‖g‖" for w in WINDOWS},
               "effective_rank": "exp(entropy of the ring's Gram spectrum)",
               "top1_share": "largest eigenvalue's share of the Gram spectrum"}
    cost = "a ring of 50 gradient copies; the new rows of its Gram matrix per epoch"
    size = 50

    def fire(self, point, ctx):
        if point == "post_step":
            self.push(ctx.step_gradient_vector())
            return None
        if self.count < 2:
            return None
        gram = self.gram
        norms = gram.diagonal().sqrt().clamp_min(1e-30)
        cos = gram / (norms[:, None] * norms[None, :])
        n = gram.shape[0]
        out = {}
        for k in K_BACK:
            if n > k:
                out[f"cos_back_{k}"] = torch.diagonal(cos, offset=-k).mean()
        for w in WINDOWS:
            if n >= w:  # ‖Σ g‖² is the sum of the block of the Gram matrix
                out[f"efficiency_{w}"] = gram[-w:, -w:].sum().clamp_min(0).sqrt() / norms[-w:].sum()
        eig = torch.linalg.eigvalsh(gram).clamp_min(0)
        p = eig / eig.sum().clamp_min(1e-30)
        out["effective_rank"] = torch.exp(-(p * torch.log(p.clamp_min(1e-30))).sum())
        out["top1_share"] = p.max()
        return scalars(out)


@register
class WeightTracking(Hook):
    name = "weight_tracking"
    points = ("post_epoch",)
    needs = frozenset({"mean_gradient"})
    description = "Shape of each weight matrix and how the mean gradient lines up with it."
    metrics = {"frobenius/<param>": "‖W‖_F", "top_sv/<param>": "largest singular value",
               "effective_rank/<param>": "(Σσ)² / Σσ²", "grad_cosine/<param>": "cos(ḡ_W, W)",
               "mean_frobenius": "their means over matrices", "mean_top_sv": "", "mean_effective_rank": "",
               "mean_grad_cosine": ""}
    cost = "an eigendecomposition per weight matrix"

    def fire(self, point, ctx):
        out, parts = {}, {"frobenius": [], "top_sv": [], "effective_rank": [], "grad_cosine": []}
        for name, w in matrices(params(ctx.model)).items():
            sv = singular_values(w)
            values = {"frobenius": w.norm(), "top_sv": sv[0], "effective_rank": sv.sum() ** 2 / (sv**2).sum(),
                      "grad_cosine": cosine(ctx.mean_gradient[name].reshape(-1), w.reshape(-1))}
            for key, v in values.items():
                out[f"{key}/{name}"] = v
                parts[key].append(v)
        out.update({f"mean_{k}": torch.stack(v).mean() for k, v in parts.items() if v})
        return scalars(out)


@register
class TokenGradient(Hook):
    name = "token_gradient"
    points = ("post_epoch",)
    needs = frozenset({"mean_gradient", "embeddings"})
    description = "Which tokens' embeddings the mean gradient moves, and how unevenly."
    metrics = {"sparsity": "fraction of tokens whose row norm is below 1 % of the largest",
               "gini": "Gini coefficient of the row norms",
               "stride_group_variance": "variance of the row-norm sums of stride groups (token mod s)",
               "stride_group_max_mean": "max / mean of the stride-group sums",
               "tokens_50": "fewest tokens holding 50 % of the norm", "tokens_90": "… 90 %",
               "concentration": "share of the norm held by the top 10 % of tokens"}

    def fire(self, point, ctx):
        embed = ctx.capabilities["embeddings"]
        name = next(n for n, p in ctx.model.named_parameters() if p is embed.weight)
        p = ctx.capabilities.get("p", embed.weight.shape[0])
        rows = ctx.mean_gradient[name][:p].float().norm(dim=1)
        return scalars(token_concentration(rows, int(ctx.capabilities.get("stride", 1))))


def token_concentration(rows: torch.Tensor, stride: int) -> dict[str, torch.Tensor]:
    n = rows.numel()
    ordered = torch.sort(rows, descending=True).values
    share = torch.cumsum(ordered, 0) / ordered.sum().clamp_min(1e-30)
    ascending = torch.flip(ordered, [0])
    index = torch.arange(1, n + 1, device=rows.device, dtype=rows.dtype)
    gini = (2 * (index * ascending).sum() / (n * ascending.sum().clamp_min(1e-30))) - (n + 1) / n
    groups = torch.zeros(stride, device=rows.device).index_add_(
        0, torch.arange(n, device=rows.device) % stride, rows)
    top = max(1, math.ceil(n / 10))
    return {"sparsity": (rows < 0.01 * rows.max()).float().mean(), "gini": gini,
            "stride_group_variance": groups.var() if stride > 1 else torch.zeros(()),
            "stride_group_max_mean": groups.max() / groups.mean().clamp_min(1e-30),
            "tokens_50": (share < 0.5).sum() + 1, "tokens_90": (share < 0.9).sum() + 1,
            "concentration": share[top - 1]}


@register
class GradientProjection(Hook):
    name = "gradient_projection"
    points = ("post_epoch",)
    needs = frozenset({"mean_gradient", "reference"})
    description = "Whether the descent direction and the actual step point at the solution θ*."
    metrics = {"grad_alignment": "cos(−ḡ, θ* − θ_prev)", "step_alignment": "cos(θ − θ_prev, θ* − θ_prev)",
               "distance": "‖θ* − θ‖", "grad_alignment/<param>": "per weight matrix"}
    state = ("previous",)  # θ at the previous firing, as one vector

    def __init__(self):
        self.previous: torch.Tensor | None = None

    def fire(self, point, ctx):
        theta = ctx.theta_vector()
        previous, self.previous = self.previous, theta
        if isinstance(previous, dict):  # checkpoints that kept θ by parameter name
            previous = flat(previous)
        reference = ctx.reference_vector()
        start = theta if previous is None else previous  # the first firing has no previous step
        to_solution = reference - start
        out = {"grad_alignment": cosine(-ctx.mean_vector(), to_solution), "distance": (reference - theta).norm()}
        if previous is not None:
            out["step_alignment"] = cosine(theta - previous, to_solution)
        shaped = views(to_solution, ctx.parameters())
        for (n, p), direction in zip(ctx.trainable, shaped, strict=True):
            if p.dim() == 2:
                out[f"grad_alignment/{n}"] = cosine(-ctx.mean_gradient[n].reshape(-1), direction.reshape(-1))
        return scalars(out)


@register
class SubspaceGradientInfo(_Window):
    name = "subspace_gradient_info"
    points = ("post_epoch",)
    needs = frozenset({"mean_gradient", "reference"})
    description = "Dimensionality of the last 50 mean gradients, and their energy along the solution direction."
    metrics = {"dims_90": "singular directions holding 90 % of the centred window's energy",
               "participation_ratio": "(Σσ²)² / Σσ⁴", "top1_explained": "share of energy of the top direction",
               "top5_explained": "… top 5", "top10_explained": "… top 10",
               "solution_energy": "share of ḡ's energy along θ* − θ"}
    size = 50
    cost = "a window of 50 mean gradients; one dot product with each per epoch"

    def fire(self, point, ctx):
        g = ctx.mean_vector()
        self.push(g)
        gram = self.gram
        out = {}
        if gram.shape[0] > 1:
            energy = _centred_energy(gram)
            share = energy / energy.sum().clamp_min(1e-30)
            cum = torch.cumsum(share, 0)
            out = {"dims_90": (cum < 0.9).sum() + 1, "participation_ratio": energy.sum() ** 2 /
                   (energy**2).sum().clamp_min(1e-30), "top1_explained": cum[0],
                   "top5_explained": cum[min(4, len(cum) - 1)], "top10_explained": cum[min(9, len(cum) - 1)]}
        direction = ctx.reference_vector() - ctx.theta_vector()
        out["solution_energy"] = (g @ direction) ** 2 / ((g @ g) * (direction @ direction)).clamp_min(1e-30)
        return scalars(out)
