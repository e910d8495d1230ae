"""Each hook on a case with a known answer."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ol.errors import OlError
from ol.producer.hooks import HookContext, Schedule, groups, resolve
from ol.producer.hooks.gradients import (
    BatchDynamics,
    Consecutive,
    GradientProjection,
    Norms,
    SubspaceGradientInfo,
    Variance,
    WeightTracking,
    token_concentration,
)
from ol.producer.hooks.interventions import AdamDynamics, Counterfactual, CounterfactualValidator, Hessian
from ol.producer.hooks.spectral import Attention, Fourier, Phases, fourier_stats
from ol.producer.hooks.training import ParameterDelta, PathLength, TrainingDiagnostics, TrainingMetrics


def _ctx(model, **kw):
    opt = kw.pop("optimizer", None) or torch.optim.SGD(model.parameters(), lr=0.1)
    return HookContext(model, opt, kw.pop("epoch", 0), kw.pop("step", 0), **kw)


def _linear(weight):
    model = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    with torch.no_grad():
        model.weight.copy_(weight)
    return model


def test_fourier_finds_the_frequency_of_a_single_cosine():
    p, k, d = 97, 7, 16
    t = torch.arange(p, dtype=torch.float32)[:, None]
    embed = torch.cos(2 * math.pi * k * t / p) * torch.randn(1, d)
    stats = fourier_stats(embed, stride=9)
    assert stats["peak_frequency"] == k and stats["peak_power"] == pytest.approx(1.0, abs=1e-5)
    assert stats["significant_frequencies"] == 1 and stats["spectral_entropy"] < 1e-3
    flat = fourier_stats(torch.randn(p, 256, generator=torch.Generator().manual_seed(0)), stride=9)
    assert flat["spectral_entropy"] > 0.95 and flat["significant_frequencies"] == 0


def test_fourier_hook_emits_the_significant_frequencies_array():
    p, k = 31, 3
    t = torch.arange(p + 1, dtype=torch.float32)[:, None]
    embed = nn.Embedding(p + 1, 8)
    readout = nn.Linear(8, p)
    with torch.no_grad():
        embed.weight.copy_(torch.cos(2 * math.pi * k * t / p) * torch.ones(1, 8))
    model = nn.Sequential(embed)
    ctx = _ctx(model, capabilities={"embeddings": embed, "readout": readout, "p": p, "stride": 5})
    out = Fourier().fire("post_epoch", ctx)
    assert out["embed/peak_frequency"] == k and ctx.arrays["embed_significant_frequencies"].tolist() == [k]


def test_norms_of_a_known_gradient():
    model = _linear(torch.zeros(2, 2))
    g = {"weight": torch.tensor([[3.0, 0.0], [0.0, -4.0]])}
    out = Norms().fire("post_epoch", _ctx(model, mean_gradient=g))
    assert out["total_norm"] == 5.0 and out["max_abs"] == 4.0 and out["mean_abs"] == 7 / 4
    assert out["norm/weight"] == 5.0


def test_parameter_delta_after_a_known_update():
    model = _linear(torch.ones(1, 4))
    hook = ParameterDelta()
    assert hook.fire("post_epoch", _ctx(model)) == {"weight_norm": 2.0}
    with torch.no_grad():
        model.weight.add_(torch.tensor([[0.0, 0.0, 3.0, 4.0]]))
    out = hook.fire("post_epoch", _ctx(model))
    assert out["delta_norm"] == 5.0 and out["relative_delta"] == 2.5


def test_consecutive_identical_gradients_have_cosine_one():
    model = _linear(torch.zeros(1, 3))
    hook = Consecutive()
    g = {"weight": torch.tensor([[1.0, 2.0, 3.0]])}
    assert hook.fire("post_epoch", _ctx(model, mean_gradient=g)) is None
    out = hook.fire("post_epoch", _ctx(model, mean_gradient=g))
    assert out["cosine"] == pytest.approx(1.0) and out["angle_deg"] == pytest.approx(0.0, abs=1e-2)
    out = hook.fire("post_epoch", _ctx(model, mean_gradient={"weight": -g["weight"]}))
    assert out["cosine"] == pytest.approx(-1.0)


def test_variance_of_a_constant_window_is_zero():
    model = _linear(torch.zeros(1, 3))
    hook = Variance()
    g = {"weight": torch.tensor([[1.0, 1.0, 1.0]])}
    for _ in range(4):
        out = hook.fire("post_epoch", _ctx(model, mean_gradient=g))
    assert out["variance"] == 0 and out["mean_pairwise_cosine"] == pytest.approx(1.0)
    assert out["window_mean_norm"] == pytest.approx(math.sqrt(3))


def test_batch_dynamics_of_identical_steps():
    model = _linear(torch.zeros(1, 3))
    model.weight.grad = torch.tensor([[1.0, 2.0, 2.0]])
    hook = BatchDynamics()
    for _ in range(12):
        hook.fire("post_step", _ctx(model))
    out = hook.fire("post_epoch", _ctx(model))
    assert out["cos_back_1"] == pytest.approx(1.0) and out["cos_back_10"] == pytest.approx(1.0)
    assert out["efficiency_10"] == pytest.approx(1.0) and out["effective_rank"] == pytest.approx(1.0, abs=1e-4)
    assert "cos_back_20" not in out  # the ring holds only 12 steps


def test_weight_tracking_of_a_diagonal_matrix():
    model = _linear(torch.diag(torch.tensor([3.0, 4.0])))
    out = WeightTracking().fire("post_epoch", _ctx(model, mean_gradient={"weight": torch.eye(2)}))
    assert out["frobenius/weight"] == 5.0 and out["top_sv/weight"] == 4.0
    assert out["effective_rank/weight"] == pytest.approx(49 / 25)
    assert out["grad_cosine/weight"] == pytest.approx(7 / (5 * math.sqrt(2)))


def test_token_concentration_of_one_hot_and_flat_rows():
    one_hot = token_concentration(torch.tensor([0.0, 0.0, 5.0, 0.0]), stride=2)
    assert one_hot["tokens_50"] == 1 and one_hot["tokens_90"] == 1 and one_hot["sparsity"] == 0.75
    assert one_hot["gini"] == pytest.approx(0.75)
    flat = token_concentration(torch.ones(10), stride=5)
    assert flat["gini"] == pytest.approx(0.0, abs=1e-6) and flat["tokens_50"] == 5
    assert flat["stride_group_variance"] == 0


def test_gradient_projection_points_at_the_solution():
    model = _linear(torch.zeros(1, 2))
    hook = GradientProjection()
    ref = {"weight": torch.tensor([[3.0, 4.0]])}
    out = hook.fire("post_epoch", _ctx(model, mean_gradient={"weight": torch.tensor([[-3.0, -4.0]])}, reference=ref))
    assert out["grad_alignment"] == pytest.approx(1.0) and out["distance"] == 5.0 and "step_alignment" not in out
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.0, 4.0]]))
    out = hook.fire("post_epoch", _ctx(model, mean_gradient={"weight": torch.tensor([[3.0, 4.0]])}, reference=ref))
    assert out["grad_alignment"] == pytest.approx(-1.0) and out["step_alignment"] == pytest.approx(0.8)


def test_subspace_of_gradients_along_one_direction():
    model = _linear(torch.zeros(1, 3))
    hook = SubspaceGradientInfo()
    ref = {"weight": torch.tensor([[1.0, 0.0, 0.0]])}
    for scale in (1.0, 2.0, 3.0, 4.0):
        out = hook.fire("post_epoch", _ctx(model, mean_gradient={"weight": torch.tensor([[scale, 0.0, 0.0]])},
                                           reference=ref))
    assert out["dims_90"] == 1 and out["top1_explained"] == pytest.approx(1.0)
    assert out["solution_energy"] == pytest.approx(1.0)


def test_training_metrics_perplexity_overflows_to_inf():
    model = _linear(torch.zeros(1, 1))
    out = TrainingMetrics().fire("post_epoch", _ctx(model, metrics={"train_loss": 1000.0, "train_acc": 0.5}, lr=0.1))
    assert out["perplexity"] == math.inf and out["loss"] == 1000.0 and out["lr"] == 0.1
    assert TrainingMetrics().fire("post_epoch", _ctx(model, metrics={"train_loss": 0.0}))["perplexity"] == 1.0


def test_training_diagnostics_statistics_of_known_losses():
    model = _linear(torch.ones(1, 4))
    hook = TrainingDiagnostics()
    model.weight.grad = torch.full((1, 4), 0.5)  # ‖g‖ = 1
    for loss in (1.0, 2.0, 3.0, 4.0):
        hook.fire("post_step", _ctx(model, loss=torch.tensor(loss), lr=0.1))
    out = hook.fire("post_epoch", _ctx(model))
    assert out["loss_mean"] == 2.5 and out["loss_std"] == pytest.approx(torch.tensor([1.0, 2, 3, 4]).std().item())
    assert out["grad_norm_mean"] == pytest.approx(1.0) and out["grad_norm_cv"] == 0
    assert out["update_ratio_mean"] == pytest.approx(0.1 * 1 / 2) and out["weight_norm"] == 2.0
    assert out["loss_autocorr"] == pytest.approx(0.25)  # (−1.5·−.5 + −.5·.5 + .5·1.5) / 5


def test_path_length_of_a_known_path():
    model = _linear(torch.zeros(1, 2))
    hook = PathLength()
    hook.fire("pre_epoch", _ctx(model))
    for step in ([3.0, 0.0], [0.0, 4.0]):
        with torch.no_grad():
            model.weight.add_(torch.tensor([step]))
        hook.fire("post_step", _ctx(model))
    out = hook.fire("post_epoch", _ctx(model))
    assert out["path_length"] == pytest.approx(7.0) and out["net_displacement"] == pytest.approx(5.0)
    assert out["efficiency"] == pytest.approx(5 / 7)


def test_phases_code_and_velocity():
    embed = nn.Embedding(4, 2)
    model = nn.Sequential(embed)
    hook = Phases()
    caps = {"embeddings": embed, "accuracy_metric": "val_acc"}  # the accuracy the experiment names, whatever it is
    out = hook.fire("snapshot", _ctx(model, epoch=9, capabilities=caps, metrics={"val_acc": 0.5, "test_acc": 0.0},
                                     mean_gradient={"0.weight": torch.full((4, 2), 0.5)}))
    assert out["phase"] == 2 and out["grad_norm"] == pytest.approx(math.sqrt(2))
    out = hook.fire("snapshot", _ctx(model, epoch=19, capabilities=caps, metrics={"val_acc": 0.995},
                                     mean_gradient={"0.weight": torch.zeros(4, 2)}))
    assert out["phase"] == 4 and out["grad_velocity"] == pytest.approx(-math.sqrt(2) / 10)
    out = hook.fire("snapshot", _ctx(model, epoch=29, capabilities={"embeddings": embed}, metrics={"val_acc": 1.0},
                                     mean_gradient={"0.weight": torch.zeros(4, 2)}))
    assert "phase" not in out  # no accuracy named: no phase, rather than one read from a guessed name


def test_hessian_of_a_quadratic_is_exact():
    a = torch.tensor([[2.0, 0.0], [0.0, 10.0]])
    model = _linear(torch.tensor([[1.0, 1.0]]))

    def batch_loss(m, batch):
        w = m.weight.reshape(-1)
        return 0.5 * w @ a @ w, torch.zeros(())

    model.weight.grad = torch.tensor([[0.0, 3.0]])  # the previous step's gradient: along e₂
    before = model.weight.detach().clone()
    ctx = _ctx(model, previous_gradient={"weight": model.weight.grad}, batch=(None, None), batch_loss=batch_loss,
               reference={"weight": torch.zeros(1, 2)}, lr=0.01)
    out = Hessian().fire("pre_step", ctx)
    assert out["rayleigh"] == pytest.approx(10.0, rel=1e-3)  # v̂ᵀ A v̂ with v̂ = e₂
    assert out["entanglement"] == pytest.approx(0.01 * 10 * 3, rel=1e-3)  # ‖η A g_prev‖
    assert torch.equal(model.weight.detach(), before)  # parameters restored bit for bit
    assert torch.equal(model.weight.grad, torch.tensor([[0.0, 3.0]]))  # .grad untouched


def test_adam_dynamics_after_one_step():
    model = _linear(torch.tensor([[1.0, -1.0]]))
    opt = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.0)
    model.weight.grad = torch.tensor([[0.5, -2.0]])
    opt.step()
    out = AdamDynamics().fire("post_step", _ctx(model, optimizer=opt, lr=0.1,
                                                reference={"weight": torch.zeros(1, 2)}))
    # after one step m̂ = g and v̂ = g², so the update is lr·sign(g) (up to ε)
    assert out["momentum_grad_cosine"] == pytest.approx(1.0)
    assert out["amplification"] == pytest.approx(math.sqrt(2) / math.hypot(0.5, 2.0), rel=1e-4)
    assert out["effective_lr_cv"] == pytest.approx(math.sqrt(2) * 0.75 / 1.25, rel=1e-3)


def test_schedules_groups_and_names():
    burst = Schedule(every=10, burst=2, warmup=5)
    assert [s for s in range(30) if burst.active(s)] == [5, 6, 15, 16, 25, 26]
    g = groups()
    assert g["minimal"] == ["training_metrics"] and set(g["interventions"]) == {"hessian", "counterfactual",
                                                                                  "adam_dynamics"}
    assert len(g["full"]) == 18 and "counterfactual_validator" not in g["full"]
    assert not set(g["interventions"]) & set(g["observers"]) and len(g["observers"]) == 15
    assert [h.name for h in resolve(["minimal"], ["norms", "training_metrics"])] == ["training_metrics", "norms"]
    with pytest.raises(OlError, match="did you mean 'fourier'"):
        resolve([], ["fourir"])


class _SelfAttention(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, 1, bias=False, batch_first=True)

    def forward(self, x):
        return self.attn(x, x, x)[0]


def test_attention_spectra_of_known_projections_and_uniform_attention_on_the_probe():
    dim = 8
    model = _SelfAttention(dim)
    u = torch.arange(1.0, dim + 1)
    with torch.no_grad():  # W_Q rank one, W_K the identity, W_V diag(2, 1, …, 1)
        model.attn.in_proj_weight.copy_(torch.cat([torch.outer(u, u), torch.eye(dim), torch.diag(
            torch.tensor([2.0] + [1.0] * (dim - 1)))]))
    probe = torch.randn(5, 4, dim, generator=torch.Generator().manual_seed(0))
    caps = {"attention": [model.attn], "probe": probe}
    out = Attention().fire("post_epoch", _ctx(model, capabilities=caps))
    assert out["layer0/q_concentration"] == pytest.approx(1.0) and out["layer0/q_effective_rank"] == pytest.approx(1.0)
    assert out["layer0/k_concentration"] == pytest.approx(1 / dim)
    assert out["layer0/k_effective_rank"] == pytest.approx(dim)
    assert out["layer0/k_top5_explained"] == pytest.approx(5 / dim)
    assert out["layer0/v_top5_explained"] == pytest.approx((4 + 4) / (4 + dim - 1))
    assert "layer0/entropy" not in out  # the probe pass is a snapshot's job

    with torch.no_grad():  # W_Q = 0: every query scores every key 0, so attention is uniform
        model.attn.in_proj_weight[:dim].zero_()
    out = Attention().fire("snapshot", _ctx(model, capabilities=caps))
    assert out["layer0/entropy"] == pytest.approx(1.0) and out["layer0/variance"] == pytest.approx(0.0, abs=1e-12)
    assert set(out) == {"layer0/entropy", "layer0/variance"}


def _counterfactual_case(lr: float):
    """A linear regression trained for one epoch of four equal batches; the hook's context after it."""
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    batches = [(x[i:i + 2], y[i:i + 2]) for i in range(0, 8, 2)]

    def batch_loss(m, batch):
        return ((m(batch[0]) - batch[1]) ** 2).mean(), torch.zeros(())

    pre = {"model": {k: v.clone() for k, v in model.state_dict().items()}, "optimizer": opt.state_dict()}
    total = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for batch in batches:
        opt.zero_grad()
        batch_loss(model, batch)[0].backward()
        for n, p in model.named_parameters():
            total[n] += p.grad
        opt.step()
    mean = {n: t / len(batches) for n, t in total.items()}
    reference = {n: p.detach() + 1.0 for n, p in model.named_parameters()}
    return _ctx(model, optimizer=opt, mean_gradient=mean, pre_epoch_state=pre, epoch_batches=batches,
                batch_loss=batch_loss, reference=reference)


def test_counterfactual_without_learning_finds_no_ordering_component():
    # lr = 0: the weights never move, so any order of equal batches averages to the same gradient
    out = Counterfactual().fire("post_epoch", _counterfactual_case(lr=0.0))
    assert out["ordering_fraction"] == pytest.approx(0.0, abs=1e-10) and out["alignment"] == pytest.approx(1.0)
    assert out["ordering_norm"] == pytest.approx(0.0, abs=1e-6)
    moving = Counterfactual().fire("post_epoch", _counterfactual_case(lr=0.5))
    assert moving["ordering_fraction"] > 1e-6 and moving["alignment"] < 1.0


def test_counterfactual_validator_agrees_when_every_order_gives_the_same_gradient():
    out = CounterfactualValidator().fire("post_epoch", _counterfactual_case(lr=0.0))
    assert out["norm_convergence"] == pytest.approx(0.0, abs=1e-6) and out["cosine_agreement"] == pytest.approx(1.0)
    moving = CounterfactualValidator().fire("post_epoch", _counterfactual_case(lr=0.5))
    assert moving["cosine_agreement"] < 1.0
