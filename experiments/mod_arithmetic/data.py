"""Pairs (a, b) with label (a + b) mod p: a seeded train/test split and the four orderings."""

from __future__ import annotations

import math

import torch

from ol.errors import UsageError

STRATEGIES = ("stride", "target", "random", "fixed-random")


def split_pairs(p: int, n_train: int, n_test: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Disjoint train and test sets of (a, b) pairs drawn without replacement from all p² pairs.

    Drawn by permuting pair indices (no Python loop over pairs); the generator is private to
    the split so it does not disturb any other randomness.
    """
    total = p * p
    if n_train < 1 or n_test < 0 or n_train + n_test > total:
        raise UsageError(
            f"mod_arithmetic: {n_train} train + {n_test} test pairs requested but only p² = {total} exist "
            f"for p = {p}; lower --train-fraction/--test-size or raise --p"
        )
    gen = torch.Generator().manual_seed(seed)
    if total <= 50_000_000:
        idx = torch.randperm(total, generator=gen)[: n_train + n_test]
    else:  # p = 9973 has ~10⁸ pairs: sample with rejection of duplicates instead of permuting them all
        idx = _sample_unique(total, n_train + n_test, gen)
    pairs = torch.stack([idx // p, idx % p], dim=1)
    return pairs[:n_train], pairs[n_train:]


def _sample_unique(total: int, k: int, gen: torch.Generator) -> torch.Tensor:
    """k distinct indices in draw order, drawing in bulk and keeping each value's first draw."""
    chosen = torch.empty(0, dtype=torch.long)
    while chosen.numel() < k:
        draw = torch.randint(total, (int((k - chosen.numel()) * 1.1) + 16,), generator=gen)
        merged = torch.cat([chosen, draw])
        _, inverse = torch.unique(merged, return_inverse=True)
        first = torch.full((int(inverse.max()) + 1,), merged.numel(), dtype=torch.long)
        first.scatter_reduce_(0, inverse, torch.arange(merged.numel()), reduce="amin")
        chosen = merged[torch.sort(first).values]
    return chosen[:k]


def _mix(*values: int) -> int:
    """A fixed 63-bit hash of integers (Python's hash() is not promised to be stable)."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = ((h ^ (v & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF


def labels(pairs: torch.Tensor, p: int) -> torch.Tensor:
    return (pairs[:, 0] + pairs[:, 1]) % p


def default_stride(p: int) -> int:
    return max(1, math.isqrt(p))


def epoch_order(strategy: str, pairs: torch.Tensor, p: int, seed: int, epoch: int, stride: int) -> torch.Tensor:
    """Indices into ``pairs`` in the order this strategy visits them in ``epoch``.

    Each order depends only on (strategy, data, seed, epoch), never on global RNG state, so a
    resumed run visits exactly the same examples in the same order.
    """
    a = pairs[:, 0]
    if strategy == "stride":
        return _lexsort(a % stride, a)
    if strategy == "target":
        return _lexsort(labels(pairs, p), a)
    if strategy == "random":
        gen = torch.Generator().manual_seed(_mix(seed, epoch))
        return torch.randperm(len(pairs), generator=gen)
    if strategy == "fixed-random":
        gen = torch.Generator().manual_seed(_mix(seed, -1))
        return torch.randperm(len(pairs), generator=gen)
    raise UsageError(f"mod_arithmetic: unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")


def _lexsort(primary: torch.Tensor, secondary: torch.Tensor) -> torch.Tensor:
    """Stable sort by primary, ties broken by secondary (then by position)."""
    by_secondary = torch.argsort(secondary, stable=True)
    return by_secondary[torch.argsort(primary[by_secondary], stable=True)]
