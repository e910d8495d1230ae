"""Checking an experiment's config by meaning, flag by flag, in its ``__post_init__``.

    def __post_init__(self):
        check = ConfigChecks(self)
        check.at_least_one("batch_size", "epochs")
        check.finite_above_zero("lr")
        check.done()  # a ValueError naming every problem: ol prints it as one line

Each message names the flag a user typed (``--batch-size``) and the value that was wrong. No torch here:
configs are read by commands that never train.
"""

from __future__ import annotations

import math


class ConfigChecks:
    def __init__(self, config):
        self.config = config
        self.problems: list[str] = []

    def _value(self, name: str):
        return getattr(self.config, name)

    @staticmethod
    def flag(name: str) -> str:
        return "--" + name.replace("_", "-")

    def add(self, problem: str) -> None:
        self.problems.append(problem)

    def at_least_one(self, *names: str) -> None:
        for name in names:
            if self._value(name) < 1:
                self.add(f"{self.flag(name)} must be at least 1, got {self._value(name)}")

    def zero_or_more(self, *names: str) -> None:
        for name in names:
            if self._value(name) < 0:
                self.add(f"{self.flag(name)} must be 0 or more, got {self._value(name)}")

    def below_one(self, *names: str) -> None:
        """In [0, 1): a probability that must leave something (dropout, Adam's betas)."""
        for name in names:
            if not 0 <= self._value(name) < 1:
                self.add(f"{self.flag(name)} must be in [0, 1), got {self._value(name)}")

    def finite_above_zero(self, *names: str) -> None:
        for name in names:
            if not (math.isfinite(self._value(name)) and self._value(name) > 0):
                self.add(f"{self.flag(name)} must be a finite number above 0, got {self._value(name)}")

    def finite_zero_or_more(self, *names: str, note: str = "") -> None:
        for name in names:
            if not (math.isfinite(self._value(name)) and self._value(name) >= 0):
                self.add(f"{self.flag(name)} must be a finite number ≥ 0{note}, got {self._value(name)}")

    def heads_divide(self, width: str = "d_model", heads: str = "n_heads") -> None:
        """Attention splits the width evenly across its heads."""
        w, h = self._value(width), self._value(heads)
        if h >= 1 and w % h:
            self.add(f"{self.flag(width)} ({w}) must be a multiple of {self.flag(heads)} ({h})")

    def done(self) -> None:
        if self.problems:  # msgspec reports a ValueError from __post_init__ as an invalid config
            raise ValueError("; ".join(self.problems))
