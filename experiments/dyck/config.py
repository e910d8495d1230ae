"""Configuration of the dyck experiment and its presets."""

from __future__ import annotations

import math

import msgspec


class DyckConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Every knob of a dyck run; each becomes a ``--flag`` of ``ol train dyck``."""

    bracket_types: int = 2  # Dyck-k: how many kinds of bracket pair
    min_pairs: int = 1  # bracket pairs per string, drawn uniformly in [min_pairs, max_pairs]
    max_pairs: int = 16
    open_prob: float = 0.5  # chance of opening while a string may still open and close
    train_size: int = 4096  # training strings, drawn once per seed
    val_size: int = 1024  # validation strings, from the same distribution, disjoint draws
    difficulty: str = "length"  # what the curricula sort by: "length" (pairs) or "depth" (deepest nesting)
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 256
    dropout: float = 0.0
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.1
    warmup_steps: int = 50
    epochs: int = 40  # the cosine horizon and an upper bound: quick stops at target_loss
    eval_every: int = 1
    log_every: int = 8  # steps between reads of the loss (each read is a device sync)
    snapshot_every: int = 10
    target_loss: float = 0.0  # stop when val_loss ≤ this (nats per token); 0: no target
    stop_at_target: bool = True

    def __post_init__(self):
        problems = []
        for name in ("bracket_types", "min_pairs", "max_pairs", "train_size", "val_size", "d_model", "n_heads",
                     "n_layers", "d_ff", "batch_size", "epochs", "eval_every", "log_every", "snapshot_every"):
            if getattr(self, name) < 1:
                problems.append(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.min_pairs > self.max_pairs:
            problems.append(f"--min-pairs ({self.min_pairs}) must not exceed --max-pairs ({self.max_pairs})")
        if self.difficulty not in ("length", "depth"):
            problems.append(f"--difficulty is 'length' or 'depth', got {self.difficulty!r}")
        if not 0 < self.open_prob < 1:
            problems.append(f"--open-prob must be in (0, 1), got {self.open_prob}")
        if self.n_heads >= 1 and self.d_model % self.n_heads:
            problems.append(f"--d-model ({self.d_model}) must be a multiple of --n-heads ({self.n_heads})")
        if not (math.isfinite(self.lr) and self.lr > 0):
            problems.append(f"--lr must be a finite number above 0, got {self.lr}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            problems.append(f"--weight-decay must be a finite number ≥ 0, got {self.weight_decay}")
        if not 0 <= self.dropout < 1:
            problems.append(f"--dropout must be in [0, 1), got {self.dropout}")
        if not (math.isfinite(self.target_loss) and self.target_loss >= 0):
            problems.append(f"--target-loss must be a finite number ≥ 0 (0: none), got {self.target_loss}")
        if self.warmup_steps < 0:
            problems.append(f"--warmup-steps must be 0 or more, got {self.warmup_steps}")
        if problems:
            raise ValueError("; ".join(problems))


PRESETS: dict[str, dict] = {
    # measured on a 2-core CPU (README): a run reaches val_loss 0.92 (the floor is ≈ 0.905) in about a minute
    "quick": {"target_loss": 0.92},
    # longer strings, a bigger model: for a GPU
    "large": {"max_pairs": 48, "train_size": 65536, "val_size": 4096, "d_model": 256, "n_layers": 4,
              "d_ff": 1024, "batch_size": 256, "epochs": 100, "lr": 1e-3, "log_every": 50},
}
