"""How a launch trains its runs, apart from which runs they are: what `ol train`'s flags say, what a sweep's
plan keeps for all its points, and what the producer's launch reads — one record from the flags to the engine.

Which runs (the experiment, strategy, seed, group, store, a run to resume) are not here: the caller decides
those (`ol train` from its flags, a sweep point by point), so a sweep plan that holds these settings cannot
move a run or change what it is. Decoded from an untrusted plan with ``forbid_unknown_fields``.
"""

from __future__ import annotations

import msgspec

OptionValue = int | float | bool | str  # what an experiment option can be set to (its config struct's types)


class RunSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    preset: str | None = None  # None: the experiment's default preset
    overrides: dict[str, OptionValue] = {}  # experiment options given explicitly (they win over the preset)
    device: str = "auto"
    checkpoint_every: int = 0  # epochs between checkpoints; 0: none (and no resume)
    hook_groups: list[str] = []
    hook_names: list[str] = []
    trajectory_every: int = 0  # steps between recorded θ; 0: none
    trajectory_dim: int = 0  # a count sketch of θ of this many numbers; 0: θ itself
    reference: str | None = None  # θ* for solution-dependent hooks: a weights file or a run
    record_order: bool = False  # each epoch's sample ids, not only the order's identity
    order_from: str | None = None  # a run whose recorded order the runs are fed

    def continuing(self) -> RunSettings:
        """What still applies to a run that continues (how it runs: device, checkpoints, hooks, reference); what
        it trains — preset, options, order — it started with."""
        return RunSettings(device=self.device, checkpoint_every=self.checkpoint_every, hook_groups=self.hook_groups,
                           hook_names=self.hook_names, trajectory_every=self.trajectory_every,
                           trajectory_dim=self.trajectory_dim, reference=self.reference)
