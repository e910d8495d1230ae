"""``wandb.config`` and ``wandb.summary`` of ol's wandb module (wandb.py): item and attribute access, every change
the script makes recorded as an event, and a summary that reads back what was logged as W&B's does."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ol.integrations.wandb import WandbRun


class Section:
    """``wandb.config`` / ``wandb.summary``: item and attribute access; every change recorded as an event."""

    def __init__(self, owner: WandbRun, kind: str):
        object.__setattr__(self, "_owner", owner)
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_values", {})
        object.__setattr__(self, "_set", {})  # what the script set itself (recorded), apart from what was logged
        object.__setattr__(self, "_counts", {})  # values seen per key, for a summary="mean"

    def update(self, values: dict | None = None, allow_val_change: bool = True, **more: Any) -> None:
        # as W&B does, a value it cannot store as data (a torch.device, a class) is kept as its text
        changed = {k: _as_data(v) for k, v in {**dict(values or {}), **more}.items()}
        self._values.update(changed)
        self._set.update(changed)
        self._owner._record(self._kind, changed)

    def logged(self, values: dict, modes: dict[str, list[str]]) -> None:
        """A summary holds the last value logged under each key, as W&B's does — or, for a key ``define_metric``
        gave ``summary="max"`` (``"min,last"`` …), ``{"max": …}``; read back, not recorded again (ol keeps every
        logged value): what the script sets itself is the run's own summary."""
        if not modes:
            self._values.update(values)
            return
        for key, value in values.items():
            asked = modes.get(key) or next((m for pattern, m in modes.items() if fnmatch.fnmatchcase(key, pattern)),
                                           None)
            if asked is None:
                self._values[key] = value
            elif "none" not in asked and isinstance(value, (int, float)):
                self._values[key] = _summarised(self._values.get(key), asked, value, self._counts, key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __setattr__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(key) from None

    def __contains__(self, key: str) -> bool:
        return key in self._values

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def keys(self):
        return self._values.keys()

    def items(self):
        return self._values.items()

    def as_dict(self) -> dict:
        return dict(self._values)

    def as_set(self) -> dict:
        return dict(self._set)


def _summarised(held: Any, modes: list[str], value: float, counts: dict, key: str) -> dict:
    """A key's summary under W&B's define_metric(summary=…) modes, with one more value."""
    held = held if isinstance(held, dict) else {}
    counts[key] = counts.get(key, 0) + 1
    out = {}
    for mode in modes:
        before = held.get(mode)
        out[mode] = {"min": value if before is None else min(before, value),
                     "max": value if before is None else max(before, value),
                     "first": value if before is None else before,
                     "mean": value if before is None else before + (value - before) / counts[key]}.get(mode, value)
    return out


def _as_data(value: Any) -> Any:
    """A config or summary value as data the log holds, nested as given; what it cannot hold (a torch.device, a
    class) as its text, as W&B keeps it."""
    from ol.errors import ProducerError
    from ol.producer.values import recordable

    try:
        return recordable(value, "config")
    except ProducerError:
        if isinstance(value, dict):
            return {str(k): _as_data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [_as_data(v) for v in value]
        return str(value)
