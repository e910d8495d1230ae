"""Configuration of the dyck experiment and its presets."""

from __future__ import annotations

import msgspec

from ol.producer.config_checks import ConfigChecks


class DyckConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Every knob of a dyck run; each becomes a ``--flag`` of ``ol train dyck``."""

    bracket_types: int = 2  # Dyck-k: how many kinds of bracket pair
    min_pairs: int = 1  # bracket pairs per string, drawn uniformly in [min_pairs, max_pairs]
    max_pairs: int = 16
    open_prob: float = 0.5  # chance of opening while a string may still open and close
    train_size: int = 4096  # training strings, drawn once per seed
    val_size: int = 1024  # validation strings, from the same distribution, disjoint draws
    data_seed: int = -1  # seeds the strings drawn; -1: the run's --seed (another value keeps the data fixed)
    difficulty: str = "length"  # what the curricula sort by: "length" (pairs) or "depth" (deepest nesting)
    pace_start: float = 0.2  # the paced curricula's first pool: this share of the strings, the easiest
    pace_epochs: int = 10  # epochs until a paced curriculum's pool is every string
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
        check = ConfigChecks(self)
        check.at_least_one("bracket_types", "min_pairs", "max_pairs", "train_size", "val_size", "d_model", "n_heads",
                           "n_layers", "d_ff", "batch_size", "epochs", "eval_every", "log_every", "snapshot_every")
        if self.min_pairs > self.max_pairs:
            check.add(f"--min-pairs ({self.min_pairs}) must not exceed --max-pairs ({self.max_pairs})")
        if self.difficulty not in ("length", "depth"):
            check.add(f"--difficulty is 'length' or 'depth', got {self.difficulty!r}")
        if not 0 < self.open_prob < 1:
            check.add(f"--open-prob must be in (0, 1), got {self.open_prob}")
        if not 0 < self.pace_start <= 1:
            check.add(f"--pace-start must be in (0, 1], got {self.pace_start}")
        check.zero_or_more("pace_epochs")
        if self.data_seed < -1:
            check.add(f"--data-seed must be ≥ 0, or -1 for the run's seed, got {self.data_seed}")
        check.heads_divide()
        check.finite_above_zero("lr")
        check.finite_zero_or_more("weight_decay")
        check.below_one("dropout")
        check.finite_zero_or_more("target_loss", note=" (0: none)")
        check.zero_or_more("warmup_steps")
        check.done()


PRESETS: dict[str, dict] = {
    # measured on a 2-core CPU (README): a run reaches val_loss 0.92 (the floor is ≈ 0.905) in about a minute
    "quick": {"target_loss": 0.92},
    # longer strings, a bigger model: for a GPU
    "large": {"max_pairs": 48, "train_size": 65536, "val_size": 4096, "d_model": 256, "n_layers": 4,
              "d_ff": 1024, "batch_size": 256, "epochs": 100, "lr": 1e-3, "log_every": 50},
}
