"""Configuration of the dyck experiment and its presets."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from ol.producer.config_checks import ConfigChecks


class DyckConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Every knob of a dyck run; each becomes a ``--flag`` of ``ol train dyck``."""

    bracket_types: Annotated[int, Meta(description="Dyck-k: how many kinds of bracket pair")] = 2
    min_pairs: Annotated[int, Meta(description="fewest bracket pairs per string (drawn uniformly up to "
                                               "--max-pairs)")] = 1
    max_pairs: Annotated[int, Meta(description="most bracket pairs per string")] = 16
    open_prob: Annotated[float, Meta(description="chance of opening while a string may still open and close")] = 0.5
    train_size: Annotated[int, Meta(description="training strings, drawn once per seed")] = 4096
    val_size: Annotated[int, Meta(description="validation strings, from the same distribution, disjoint draws")] = 1024
    data_seed: Annotated[int, Meta(description="seeds the strings drawn; -1: the run's --seed (another value keeps "
                                               "the data fixed)")] = -1
    difficulty: Annotated[Literal["length", "depth"], Meta(description="what the curricula sort by: length (pairs) or "
                                                                       "depth (deepest nesting)")] = "length"
    pace_start: Annotated[float, Meta(description="the paced curricula's first pool: this share of the strings, the "
                                                  "easiest")] = 0.2
    pace_epochs: Annotated[int, Meta(description="epochs until a paced curriculum's pool is every string")] = 10
    d_model: Annotated[int, Meta(description="width of the residual stream")] = 64
    n_heads: Annotated[int, Meta(description="attention heads (they divide --d-model)")] = 4
    n_layers: Annotated[int, Meta(description="transformer layers")] = 2
    d_ff: Annotated[int, Meta(description="width of each feed-forward layer")] = 256
    dropout: Annotated[float, Meta(description="dropout probability")] = 0.0
    batch_size: Annotated[int, Meta(description="strings per step")] = 64
    lr: Annotated[float, Meta(description="peak learning rate (AdamW, warmup then cosine)")] = 3e-3
    weight_decay: Annotated[float, Meta(description="AdamW's decoupled weight decay")] = 0.1
    warmup_steps: Annotated[int, Meta(description="steps of linear learning-rate warmup")] = 50
    epochs: Annotated[int, Meta(description="the cosine horizon and an upper bound (with --stop-at-target a run stops "
                                            "at --target-loss)")] = 40
    eval_every: Annotated[int, Meta(description="epochs between evaluations on the validation strings")] = 1
    log_every: Annotated[int, Meta(description="steps between reads of the loss (each read is a device sync)")] = 8
    snapshot_every: Annotated[int, Meta(description="epochs between the hooks' snapshots")] = 10
    target_loss: Annotated[float, Meta(description="stop when val_loss ≤ this (nats per token); 0: no target")] = 0.0
    stop_at_target: Annotated[bool, Meta(description="stop once val_loss reaches --target-loss")] = True

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
    # measured on a 2-core CPU (docs/research/dyck.md): a run reaches val_loss 0.92 (the floor is ≈ 0.905) in about
    # a minute
    "quick": {"target_loss": 0.92},
    # longer strings, a bigger model: for a GPU
    "large": {"max_pairs": 48, "train_size": 65536, "val_size": 4096, "d_model": 256, "n_layers": 4,
              "d_ff": 1024, "batch_size": 256, "epochs": 100, "lr": 1e-3, "log_every": 50},
}
