"""Configuration of the mod_arithmetic experiment and its presets."""

from __future__ import annotations

import math

import msgspec

from ol.producer.config_checks import ConfigChecks


class ModArithmeticConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Every knob of a mod_arithmetic run; each becomes a ``--flag`` of ``ol train mod_arithmetic``."""

    p: int = 97  # the modulus (a prime)
    train_fraction: float = 0.4  # fraction of the p² pairs used for training
    train_size: int = 0  # absolute number of train pairs; overrides train_fraction when > 0
    test_size: int = 0  # test pairs; 0: every pair not used for training
    data_seed: int = -1  # seeds the train/test split; -1: the run's --seed (another value keeps the data fixed)
    eval_subset: int = 0  # evaluate on a fixed subset of this many test pairs; 0: all
    stride: int = 0  # the stride strategy's s; 0: floor(sqrt(p))
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 1
    d_ff: int = 512
    dropout: float = 0.0
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.98
    warmup_steps: int = 10
    epochs: int = 2000  # the cosine horizon and an upper bound: quick stops at target_acc
    eval_every: int = 10
    log_every: int = 1  # steps between reads of the loss (each read is a device sync)
    snapshot_every: int = 10
    target_acc: float = 0.995
    stop_at_target: bool = True

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
    # measured on a 2-core CPU: stride and random reach ≥ 99 % test accuracy in minutes (README)
    "quick": {},
    # the configuration of the published study, for GPU machines
    "paper": {"p": 9973, "train_size": 300_000, "train_fraction": 0.0, "test_size": 100_000,
              "eval_subset": 20_000, "d_model": 256, "n_heads": 4, "n_layers": 2, "d_ff": 1024,
              "batch_size": 256, "lr": 1e-3, "weight_decay": 0.1, "epochs": 5000, "eval_every": 10,
              "snapshot_every": 10, "target_acc": 0.995, "log_every": 50},
}
