"""Dyck-k strings generated from a seed: tokens, their difficulty, and the orderings (curricula).

A string is BOS, 2n brackets that balance, EOS, then PAD up to a fixed length, so every batch has one shape
(hooks that re-batch an epoch need that). A model reads tokens[:-1] and predicts tokens[1:].
"""

from __future__ import annotations

import torch

from ol.errors import UsageError
from ol.producer.pacing import PACINGS, easiest_first, paced_order, pool_size

PAD, BOS, EOS = 0, 1, 2
FIRST_BRACKET = 3  # opener of type t is 3 + 2t, its closer 4 + 2t
# the per-epoch sorts stay as they were; the paced curricula widen a pool of the easiest strings instead
STRATEGIES = ("random", "easy-to-hard", "hard-to-easy", "fixed", *(f"{p}-pacing" for p in PACINGS))


def vocab_size(types: int) -> int:
    return FIRST_BRACKET + 2 * types


def seq_len(max_pairs: int) -> int:
    return 2 * max_pairs + 2


def generate(n: int, types: int, min_pairs: int, max_pairs: int, open_prob: float,
             gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` strings: tokens (n, 2·max_pairs + 2), pairs per string (n,) and deepest nesting (n,)."""
    length = seq_len(max_pairs)
    tokens = torch.full((n, length), PAD, dtype=torch.long)
    pairs = torch.randint(min_pairs, max_pairs + 1, (n,), generator=gen)
    depth_max = torch.zeros(n, dtype=torch.long)
    coins = torch.rand((n, 2 * max_pairs), generator=gen).tolist()
    kinds = torch.randint(types, (n, max_pairs), generator=gen).tolist()
    rows = []
    for i, k in enumerate(pairs.tolist()):
        row, stack, opened, deepest = [BOS], [], 0, 0
        for pos in range(2 * k):
            can_open, can_close = opened < k, bool(stack)
            if can_open and (not can_close or coins[i][pos] < open_prob):
                kind = kinds[i][opened]
                stack.append(kind)
                row.append(FIRST_BRACKET + 2 * kind)
                opened += 1
                deepest = max(deepest, len(stack))
            else:
                row.append(FIRST_BRACKET + 2 * stack.pop() + 1)
        row.append(EOS)
        rows.append(row)
        depth_max[i] = deepest
    for i, row in enumerate(rows):
        tokens[i, : len(row)] = torch.tensor(row)
    return tokens, pairs, depth_max


def closing_positions(targets: torch.Tensor) -> torch.Tensor:
    """Where the next token is a closing bracket: the one prediction the grammar fixes (it must match)."""
    return (targets >= FIRST_BRACKET) & ((targets - FIRST_BRACKET) % 2 == 1)


def epoch_order(strategy: str, difficulty: torch.Tensor, seed: int, epoch: int, pace_start: float = 0.2,
                pace_epochs: int = 10) -> torch.Tensor:
    """Indices of the training strings in the order one epoch visits them."""
    n = len(difficulty)
    if strategy.endswith("-pacing"):
        size = pool_size(strategy.removesuffix("-pacing"), epoch, pace_start, pace_epochs, n)
        ranked = easiest_first(difficulty, seed * 1_000_003 + 13)
        return paced_order(ranked, size, n, torch.Generator().manual_seed(seed * 1_000_003 + 17 + epoch))
    if strategy == "fixed":  # one seeded order, the same every epoch
        return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + 7))
    shuffled = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + 11 + epoch))
    if strategy == "random":
        return shuffled
    if strategy in ("easy-to-hard", "hard-to-easy"):
        # sorted by difficulty every epoch; strings of one difficulty come in this epoch's random order
        keys = difficulty[shuffled]
        ranked = torch.sort(keys, stable=True, descending=(strategy == "hard-to-easy")).indices
        return shuffled[ranked]
    raise UsageError(f"dyck: unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
