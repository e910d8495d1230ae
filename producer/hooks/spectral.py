"""Hooks 10–12 of the catalogue: attention structure, Fourier structure of embeddings, phases."""

from __future__ import annotations

import math

import torch

from ol.producer.hooks.base import Hook, register, scalars, singular_values

PHASE_BOUNDS = (0.05, 0.20, 0.80, 0.99)  # accuracy thresholds of phase codes 0..4


def _spectrum_stats(values: torch.Tensor, n: int) -> dict[str, torch.Tensor]:
    """Singular-value concentration of a matrix: σ₁/Σσ, effective rank (Σσ)²/Σσ², top-n explained variance."""
    sv = singular_values(values)
    energy = sv**2
    return {"concentration": sv[0] / sv.sum().clamp_min(1e-30), "effective_rank": sv.sum() ** 2 / energy.sum(),
            f"top{n}_explained": energy[:n].sum() / energy.sum().clamp_min(1e-30)}


@register
class Attention(Hook):
    name = "attention"
    points = ("post_epoch", "snapshot")
    needs = frozenset({"attention"})
    description = ("Per attention layer: spectra of W_Q, W_K, W_V every epoch; attention entropy and variance "
                   "on a probe batch at snapshots.")
    metrics = {"<layer>/<q|k|v>_concentration": "σ₁ / Σσ (post_epoch)",
               "<layer>/<q|k|v>_effective_rank": "(Σσ)² / Σσ² (post_epoch)",
               "<layer>/<q|k|v>_top5_explained": "share of energy in the top 5 directions (post_epoch)",
               "<layer>/entropy": "mean attention entropy, normalised by log(sequence length) (snapshot)",
               "<layer>/variance": "variance of attention weights across the probe batch (snapshot)"}
    # the probe is a forward pass of the model: at snapshots it stays a small share of training
    cost = "an eigendecomposition per projection per epoch; one probe forward pass per snapshot"

    def fire(self, point, ctx):
        layers = ctx.capabilities["attention"]
        out: dict[str, torch.Tensor] = {}
        if point == "post_epoch":
            for i, attn in enumerate(layers):
                q, k, v = attn.in_proj_weight.detach().chunk(3)
                for label, w in (("q", q), ("k", k), ("v", v)):
                    for key, value in _spectrum_stats(w, 5).items():
                        out[f"layer{i}/{label}_{key}"] = value
            return scalars(out)
        captured = _capture_attention_inputs(ctx.model, layers, ctx.capabilities["probe"])
        for i, attn in enumerate(layers):
            x = captured[i]
            with torch.no_grad():
                _, weights = attn(x, x, x, need_weights=True, average_attn_weights=False)
            length = weights.shape[-1]
            entropy = -(weights * torch.log(weights.clamp_min(1e-30))).sum(-1) / math.log(max(2, length))
            out[f"layer{i}/entropy"] = entropy.mean()
            out[f"layer{i}/variance"] = weights.var(dim=0).mean()
        return scalars(out)


def _capture_attention_inputs(model, layers, probe) -> list[torch.Tensor]:
    """Inputs each attention layer sees on the probe batch (eval mode, state restored after)."""
    captured: list[torch.Tensor | None] = [None] * len(layers)
    handles = [layer.register_forward_pre_hook(lambda m, args, i=i: captured.__setitem__(i, args[0].detach()))
               for i, layer in enumerate(layers)]
    was_training = model.training
    model.eval()
    try:
        # grad mode on keeps torch's fused inference path off, so the attention modules are called
        with torch.enable_grad():
            model(probe)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return captured


def folded_power(weights: torch.Tensor) -> torch.Tensor:
    """Share of a p × d matrix's power (over its rows) at each frequency k = 1 … p//2, both signs
    folded together; the DC term is excluded. A single cosine at frequency k gives 1.0 at k."""
    p = weights.shape[0]
    power = (torch.fft.fft(weights.float(), dim=0).abs() ** 2).sum(1)[1:]  # bins 1 … p−1
    half = p // 2
    folded = power[:half].clone()
    folded[: p - 1 - half] += torch.flip(power[half:], [0])[: p - 1 - half]  # bin p−k onto k
    return folded / folded.sum().clamp_min(1e-30)


def fourier_stats(weights: torch.Tensor, stride: int, share: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Power spectrum over rows (tokens or classes): see Fourier.metrics. ``share``: the matrix's
    folded_power when the caller already has it."""
    p = weights.shape[0]
    share = folded_power(weights) if share is None else share
    ks = torch.arange(1, share.numel() + 1, device=share.device)
    low = max(1, share.numel() // 10)
    # significant: a bin of the full spectrum above 10/p, i.e. ten times a flat spectrum's share
    significant = share / 2 > 10 / p
    return {"low_freq_power": share[:low].sum(),
            "spectral_entropy": -(share * torch.log(share.clamp_min(1e-30))).sum() / math.log(max(2, share.numel())),
            "peak_frequency": ks[share.argmax()].float(), "peak_power": share.max(),
            "significant_frequencies": significant.sum().float(),
            "stride_power": share[ks % max(1, stride) == 0].sum()}


@register
class Fourier(Hook):
    name = "fourier"
    points = ("post_epoch",)
    needs = frozenset({"embeddings", "cyclic_tokens"})
    description = "Fourier structure of the token embedding, the read-out and the first MLP layer over tokens."
    metrics = {"embed/<stat>": "of the token embedding's power spectrum over tokens: low_freq_power (lowest 10 % "
               "of frequencies), spectral_entropy (H/log n), peak_frequency, peak_power, significant_frequencies "
               "(share > 10/p), stride_power (frequencies that are multiples of the stride)",
               "readout/<stat>": "the same for the read-out weights over classes",
               "mlp_concentration": "mean over first-layer MLP neurons of the largest frequency's power share",
               "array embed_significant_frequencies": "the significant frequencies themselves",
               "array embed_power": "the embedding's power share at each frequency k, index k (0: DC, always 0)"}

    def fire(self, point, ctx):
        caps = ctx.capabilities
        p, stride = int(caps["p"]), int(caps.get("stride", 1))
        embed = caps["embeddings"].weight.detach()[:p]
        embed_share = folded_power(embed)
        out = {f"embed/{k}": v for k, v in fourier_stats(embed, stride, embed_share).items()}
        out.update({f"readout/{k}": v for k, v in fourier_stats(caps["readout"].weight.detach(), stride).items()})
        if "mlp_in" in caps:
            response = caps["mlp_in"].weight.detach().float() @ embed.float().T  # neurons × tokens
            power = (torch.fft.rfft(response, dim=1).abs() ** 2)[:, 1:]
            out["mlp_concentration"] = (power.max(1).values / power.sum(1).clamp_min(1e-30)).mean()
        significant = embed_share / 2 > 10 / p
        ctx.arrays["embed_significant_frequencies"] = (torch.nonzero(significant).reshape(-1) + 1).int()
        # the whole spectrum, indexed by frequency (index 0, the DC term, is 0): which frequencies the
        # embedding acquires, and when (`ol plot area RUN --metric fourier/embed_power`)
        ctx.arrays["embed_power"] = torch.cat([embed_share.new_zeros(1), embed_share]).float()
        return scalars(out)


@register
class Phases(Hook):
    name = "phases"
    points = ("snapshot",)
    needs = frozenset({"mean_gradient", "embeddings"})
    description = "Where training is: gradient norm and its velocity and acceleration, embedding drift, phase code."
    metrics = {"grad_norm": "‖ḡ‖", "grad_velocity": "change of ‖ḡ‖ per epoch since the last snapshot",
               "grad_acceleration": "change of that velocity per epoch", "embed_change": "‖E − E_prev‖",
               "embed_change_rel": "‖E − E_prev‖ / ‖E_prev‖",
               "phase": "from the accuracy the experiment names (capability accuracy_metric; mod_arithmetic: test "
               "accuracy): 0 (<5 %), 1 (<20 %), 2 (<80 %), 3 (<99 %), 4 (else)"}

    state = ("last",)

    def __init__(self):
        self.last: dict | None = None

    def fire(self, point, ctx):
        norm = ctx.mean_vector().norm()
        embed = ctx.capabilities["embeddings"].weight.detach().clone()
        out = {"grad_norm": norm}
        if self.last is not None:
            epochs = max(1, ctx.epoch - self.last["epoch"])
            velocity = (norm - self.last["norm"]) / epochs
            out["grad_velocity"] = velocity
            if self.last.get("velocity") is not None:
                out["grad_acceleration"] = (velocity - self.last["velocity"]) / epochs
            change = (embed - self.last["embed"]).norm()
            out["embed_change"] = change
            out["embed_change_rel"] = change / self.last["embed"].norm().clamp_min(1e-30)
        metric = ctx.capabilities.get("accuracy_metric")  # the experiment says which accuracy phases follow
        acc = ctx.metrics.get(metric) if metric else None
        if acc is not None:
            out["phase"] = float(sum(acc >= b for b in PHASE_BOUNDS))
        self.last = {"epoch": ctx.epoch, "norm": norm, "embed": embed, "velocity": out.get("grad_velocity")}
        return scalars(out)
