"""Paced curricula: the pool each epoch is exactly what the pacing function allows (known answers)."""

from __future__ import annotations

import math

import pytest
import torch

from ol.experiments import get
from ol.producer.pacing import competence, easiest_first, paced_order, pool_size


@pytest.mark.parametrize(("kind", "epoch", "share"), [
    ("linear", 0, 0.2), ("linear", 5, 0.6), ("linear", 10, 1.0), ("linear", 30, 1.0),
    ("root", 0, 0.2), ("root", 5, math.sqrt(0.04 + 0.96 * 0.5)), ("root", 10, 1.0),
    ("step", 0, 0.2), ("step", 2, 0.2), ("step", 3, 0.4), ("step", 5, 0.6), ("step", 9, 0.8), ("step", 10, 1.0)])
def test_competence_has_the_known_values(kind, epoch, share):
    assert competence(kind, epoch, 0.2, 10) == pytest.approx(share)


def test_a_paced_epoch_draws_exactly_the_easiest_pool_and_every_member_of_it():
    difficulty = torch.tensor([5, 1, 3, 1, 4, 2, 2, 5, 3, 4])
    ranked = easiest_first(difficulty, 0)
    assert difficulty[ranked].tolist() == sorted(difficulty.tolist())
    ids = paced_order(ranked, 3, 10, torch.Generator().manual_seed(1))
    assert len(ids) == 10 and set(ids.tolist()) == set(ranked[:3].tolist())
    assert sorted(ids[:3].tolist()) == sorted(ranked[:3].tolist())  # each pass is the whole pool, shuffled


@pytest.mark.parametrize("kind", ["linear", "root", "step"])
def test_dyck_paced_strategies_feed_the_pool_the_pacing_allows_each_epoch(kind):
    exp = get("dyck")
    config = exp.resolve_config(None, {"train_size": 200, "pace_start": 0.25, "pace_epochs": 4})
    from ol.experiments.dyck.experiment import _strings

    _, pairs, _, _ = _strings(config, 3)
    grown = set()
    for epoch in range(6):
        ids = exp.epoch_order(config, f"{kind}-pacing", 3, epoch)
        size = pool_size(kind, epoch, 0.25, 4, 200)
        assert size == math.ceil(competence(kind, epoch, 0.25, 4) * 200 - 1e-9)
        pool = set(ids.tolist())
        assert len(ids) == 200 and len(pool) == size  # a full epoch of steps, drawn from exactly the pool
        # the pool is the easiest strings: none outside it is easier than the hardest inside
        outside = [pairs[i].item() for i in range(200) if i not in pool]
        assert not outside or max(pairs[list(pool)]).item() <= min(outside)
        assert grown <= pool  # a pool only ever widens
        grown = pool
    assert len(grown) == 200
