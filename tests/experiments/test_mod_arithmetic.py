"""mod_arithmetic's data: disjoint seeded splits and the four orderings."""

from __future__ import annotations

import math
import time

import pytest
import torch

from ol.errors import OlError
from ol.experiments.mod_arithmetic.data import epoch_order, labels, split_pairs

P = 31


def test_split_is_disjoint_seeded_and_sized():
    train, test = split_pairs(P, 300, 200, seed=4)
    assert train.shape == (300, 2) and test.shape == (200, 2)
    ids = lambda t: set((t[:, 0] * P + t[:, 1]).tolist())  # noqa: E731
    assert len(ids(train)) == 300 and not ids(train) & ids(test)
    again, _ = split_pairs(P, 300, 200, seed=4)
    other, _ = split_pairs(P, 300, 200, seed=5)
    assert torch.equal(train, again) and not torch.equal(train, other)
    assert int(train.min()) >= 0 and int(train.max()) < P


def test_impossible_sizes_fail_fast_with_a_clear_message():
    t0 = time.monotonic()
    with pytest.raises(OlError, match=r"only p² = 961 exist"):
        split_pairs(P, 900, 100, seed=0)
    assert time.monotonic() - t0 < 5  # never a hang looking for pairs that do not exist


def test_the_large_pair_space_sampler_gives_distinct_pairs():
    train, test = split_pairs(9973, 20_000, 5_000, seed=0)  # the paper preset's modulus
    ids = (torch.cat([train, test])[:, 0] * 9973 + torch.cat([train, test])[:, 1])
    assert ids.unique().numel() == 25_000


def test_stride_order_sorts_by_a_mod_s_then_a():
    train, _ = split_pairs(P, 400, 0, seed=1)
    s = math.isqrt(P)
    order = epoch_order("stride", train, P, seed=1, epoch=0, stride=s)
    a = train[order, 0]
    keys = list(zip((a % s).tolist(), a.tolist(), strict=True))
    assert keys == sorted(keys)
    assert torch.equal(order, epoch_order("stride", train, P, seed=1, epoch=7, stride=s))


def test_target_order_sorts_by_the_label():
    train, _ = split_pairs(P, 400, 0, seed=1)
    order = epoch_order("target", train, P, seed=1, epoch=0, stride=5)
    assert labels(train[order], P).tolist() == sorted(labels(train, P).tolist())


def test_random_reshuffles_per_epoch_and_fixed_random_does_not():
    train, _ = split_pairs(P, 400, 0, seed=1)
    r0 = epoch_order("random", train, P, seed=1, epoch=0, stride=5)
    r1 = epoch_order("random", train, P, seed=1, epoch=1, stride=5)
    torch.manual_seed(123)  # global RNG state must not matter
    assert torch.equal(r0, epoch_order("random", train, P, seed=1, epoch=0, stride=5))
    assert not torch.equal(r0, r1)
    assert sorted(r0.tolist()) == list(range(400))
    f0 = epoch_order("fixed-random", train, P, seed=1, epoch=0, stride=5)
    assert torch.equal(f0, epoch_order("fixed-random", train, P, seed=1, epoch=9, stride=5))
    assert not torch.equal(f0, torch.arange(400))
