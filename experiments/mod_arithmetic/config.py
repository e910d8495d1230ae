"""Configuration of the mod_arithmetic experiment and its presets."""

from __future__ import annotations

import math
from typing import Annotated

import msgspec
from msgspec import Meta

from ol.producer.config_checks import ConfigChecks


class ModArithmeticConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Every knob of a mod_arithmetic run; each becomes a ``--flag`` of ``ol train mod_arithmetic``."""

    p: Annotated[int, Meta(description="the modulus (a prime)")] = 97
    train_fraction: Annotated[float, Meta(description="fraction of the p² pairs used for training")] = 0.4
    train_size: Annotated[int, Meta(description="absolute number of train pairs; overrides --train-fraction "
                                                "when > 0")] = 0
    test_size: Annotated[int, Meta(description="test pairs; 0: every pair not used for training")] = 0
    data_seed: Annotated[int, Meta(description="seeds the train/test split; -1: the run's --seed (another value keeps "
                                               "the data fixed)")] = -1
    eval_subset: Annotated[int, Meta(description="evaluate on a fixed subset of this many test pairs; 0: all")] = 0
    stride: Annotated[int, Meta(description="the stride strategy's s; 0: floor(sqrt(p))")] = 0
    d_model: Annotated[int, Meta(description="width of the residual stream")] = 128
    n_heads: Annotated[int, Meta(description="attention heads (they divide --d-model)")] = 4
    n_layers: Annotated[int, Meta(description="transformer layers")] = 1
    d_ff: Annotated[int, Meta(description="width of each feed-forward layer")] = 512
    dropout: Annotated[float, Meta(description="dropout probability")] = 0.0
    batch_size: Annotated[int, Meta(description="examples per step")] = 256
    lr: Annotated[float, Meta(description="peak learning rate (AdamW, warmup then cosine)")] = 1e-3
    weight_decay: Annotated[float, Meta(description="AdamW's decoupled weight decay")] = 1.0
    beta1: Annotated[float, Meta(description="AdamW's β1")] = 0.9
    beta2: Annotated[float, Meta(description="AdamW's β2")] = 0.98
    warmup_steps: Annotated[int, Meta(description="steps of linear learning-rate warmup")] = 10
    epochs: Annotated[int, Meta(description="the cosine horizon and an upper bound (with --stop-at-target a run stops "
                                            "at --target-acc)")] = 2000
    eval_every: Annotated[int, Meta(description="epochs between evaluations on the test pairs")] = 10
    log_every: Annotated[int, Meta(description="steps between reads of the loss (each read is a device sync)")] = 1
    snapshot_every: Annotated[int, Meta(description="epochs between the hooks' snapshots")] = 10
    target_acc: Annotated[float, Meta(description="the test accuracy that counts as generalised")] = 0.995
    stop_at_target: Annotated[bool, Meta(description="stop once the test accuracy reaches --target-acc")] = True

    def __post_init__(self):
        check = ConfigChecks(self)  # by meaning, not just type
        if self.p < 3 or not _is_prime(self.p):
            check.add(f"--p must be a prime ≥ 3 (the modulus), got {self.p}")
        check.at_least_one("d_model", "n_heads", "n_layers", "d_ff", "batch_size", "epochs", "eval_every",
                           "log_every", "snapshot_every")
        check.zero_or_more("train_size", "test_size", "eval_subset", "stride", "warmup_steps")
        if self.data_seed < -1:
            check.add(f"--data-seed must be ≥ 0, or -1 for the run's seed, got {self.data_seed}")
        check.heads_divide()
        check.finite_above_zero("lr")
        check.finite_zero_or_more("weight_decay")
        check.below_one("beta1", "beta2", "dropout")
        if not 0 <= self.train_fraction <= 1 or (self.train_fraction == 0 and self.train_size == 0):
            check.add(f"--train-fraction must be in (0, 1] (or give --train-size), got {self.train_fraction}")
        if not 0 <= self.target_acc <= 1:
            check.add(f"--target-acc must be in [0, 1], got {self.target_acc}")
        check.done()


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % k for k in range(2, math.isqrt(n) + 1))


PRESETS: dict[str, dict] = {
    # measured on a 2-core CPU: stride and random reach ≥ 99 % test accuracy in minutes (docs/research/quick.md)
    "quick": {},
    # the sparse regime on a CPU (docs/research/quick.md): about as many training pairs per value of a as the
    # paper's (37, against 30), 2-11 min a run on 2 cores. Within its 800 epochs stride generalises in 9 of 10
    # seeds, random in 1 of 10 (Fisher p = 0.0005); over 1,600 epochs every order does, stride first
    "sparse": {"p": 211, "train_fraction": 0.175, "epochs": 800, "eval_subset": 5000, "eval_every": 10},
    # the configuration of the published study, for GPU machines
    "paper": {"p": 9973, "train_size": 300_000, "train_fraction": 0.0, "test_size": 100_000,
              "eval_subset": 20_000, "d_model": 256, "n_heads": 4, "n_layers": 2, "d_ff": 1024,
              "batch_size": 256, "lr": 1e-3, "weight_decay": 0.1, "epochs": 5000, "eval_every": 10,
              "snapshot_every": 10, "target_acc": 0.995, "log_every": 50},
}
