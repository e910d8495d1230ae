"""The dyck experiment: its strings balance, its curricula order what they say, and it trains as a run whose
main metric is a loss (lower is better) — with no dyck-specific code outside experiments/."""

from __future__ import annotations

import torch

from ol.experiments import get
from ol.experiments.dyck.data import (
    BOS,
    EOS,
    FIRST_BRACKET,
    PAD,
    STRATEGIES,
    closing_positions,
    epoch_order,
    generate,
)
from ol.producer import training
from ol.producer.launch import LaunchPlan
from ol.schemas import Epoch, TargetReached
from ol.store.log.reader import LogReader

TINY = {"train_size": 128, "val_size": 64, "max_pairs": 5, "d_model": 16, "n_heads": 2, "n_layers": 1,
        "d_ff": 32, "batch_size": 32, "epochs": 3, "warmup_steps": 2, "log_every": 1, "stop_at_target": False}


def _balanced(row: list[int]) -> tuple[bool, int, int]:
    """(balanced and well-typed, pairs, deepest nesting) of one string, checked with a stack."""
    assert row[0] == BOS
    stack, pairs, deepest = [], 0, 0
    for i, t in enumerate(row[1:], start=1):
        if t == EOS:
            return not stack and all(x == PAD for x in row[i + 1:]), pairs, deepest
        kind, closing = divmod(t - FIRST_BRACKET, 2)
        if closing:
            if not stack or stack.pop() != kind:
                return False, pairs, deepest
        else:
            stack.append(kind)
            pairs += 1
            deepest = max(deepest, len(stack))
    return False, pairs, deepest


def test_generated_strings_are_balanced_with_the_pairs_and_depth_reported():
    tokens, pairs, depth = generate(500, 3, 1, 8, 0.5, torch.Generator().manual_seed(4))
    assert tokens.shape == (500, 18)
    for row, n, d in zip(tokens.tolist(), pairs.tolist(), depth.tolist(), strict=True):
        ok, counted, deepest = _balanced(row)
        assert ok and counted == n and deepest == d and 1 <= n <= 8
    assert set(pairs.tolist()) == set(range(1, 9)) and depth.max() > 3  # the difficulties really vary
    again, _, _ = generate(500, 3, 1, 8, 0.5, torch.Generator().manual_seed(4))
    assert torch.equal(tokens, again)  # from the seed alone


def test_closing_positions_are_exactly_the_closing_brackets():
    targets = torch.tensor([[3, 5, 6, 4, 2, 0]])  # ( [ ] ) EOS PAD
    assert closing_positions(targets).tolist() == [[False, False, True, True, False, False]]


def test_curricula_order_by_difficulty_and_every_order_is_a_permutation():
    difficulty = torch.tensor([3, 1, 2, 1, 3, 2, 1, 2])
    for strategy in STRATEGIES:
        for epoch in (0, 1):
            order = epoch_order(strategy, difficulty, 0, epoch).tolist()
            if strategy.endswith("-pacing"):  # a full epoch drawn from its pool (tests/producer/test_pacing.py)
                assert len(order) == 8 and set(order) <= set(range(8))
            else:
                assert sorted(order) == list(range(8))
    easy = difficulty[epoch_order("easy-to-hard", difficulty, 0, 0)].tolist()
    hard = difficulty[epoch_order("hard-to-easy", difficulty, 0, 0)].tolist()
    assert easy == sorted(easy) and hard == sorted(hard, reverse=True)
    assert torch.equal(epoch_order("fixed", difficulty, 0, 0), epoch_order("fixed", difficulty, 0, 5))
    orders = {tuple(epoch_order("random", torch.arange(50), 0, e).tolist()) for e in range(3)}
    assert len(orders) == 3


def test_a_run_declares_its_loss_as_the_main_metric_and_reaches_a_lower_target(tmp_path):
    exp = get("dyck")
    config = exp.resolve_config("quick", {**TINY, "target_loss": 5.0})  # above any first evaluation
    run_dir, status = training.start(LaunchPlan(exp, tmp_path), config, "easy-to-hard")
    events = [e for _, e in LogReader(run_dir / "log").events()]
    started = events[0]
    assert status == "completed" and started.contract.main_metric == "val_loss"
    assert (started.contract.direction, started.contract.target, started.contract.total_epochs) == ("lower", 5.0, 3)
    epochs = [e for e in events if isinstance(e, Epoch)]
    assert [e.eval for e in epochs] == [["val_loss", "val_acc", "val_close_acc"]] * 3
    assert all(0 <= e.metrics["train_acc"] <= 1 and 0 <= e.metrics["val_close_acc"] <= 1 for e in epochs)
    (reached,) = [e for e in events if isinstance(e, TargetReached)]
    assert (reached.metric, reached.epoch) == ("val_loss", 0) and reached.value <= 5.0
