"""What ``Run.log`` accepts: Python numbers, under string names, nested dicts flattened with ``/``; and
``ol.Histogram`` / ``ol.Image`` / ``ol.Table`` values, which become events of their own.

The hot path never comes here: ``log`` checks each value's type against float and int first and only
calls ``normalise`` when one is something else.
"""

from __future__ import annotations

import numbers

from ol.errors import ProducerError
from ol.producer.media import MEDIA


def normalise(values: dict, media: list | None = None) -> dict[str, float]:
    """``{"train": {"loss": 0.1}, "lr": 1e-3}`` → ``{"train/loss": 0.1, "lr": 1e-3}``; media values are put in
    ``media`` as (name, value) where the caller takes them (``log``); anything else that is not a real
    number (a tensor, a string) is refused with what to do instead."""
    out: dict[str, float] = {}
    _flatten(values, "", out, media)
    return out


def _flatten(values: dict, prefix: str, out: dict, media: list | None) -> None:
    for key, value in values.items():
        if not isinstance(key, str) or not key:
            raise ProducerError(f"producer: log() keys are non-empty strings, not {key!r}")
        name = f"{prefix}{key}"
        if isinstance(value, dict):  # as W&B does: {"train": {"loss": …}} is train/loss
            _flatten(value, name + "/", out, media)
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            out[name] = value
        elif isinstance(value, bool):
            out[name] = int(value)
        elif isinstance(value, MEDIA) and media is not None:
            media.append((name, value))
        elif isinstance(value, MEDIA):
            raise ProducerError(f"producer: {name!r} is a {type(value).__name__}; log it with run.log(), which "
                                "records it at a step, not as an epoch metric")
        else:
            what = type(value).__module__ + "." + type(value).__qualname__
            raise ProducerError(f"producer: log() value {name!r} is a {what}; pass Python numbers "
                                "(call .item() where your loop can afford a device sync)")


def in_notebook() -> bool:
    """True inside a Jupyter/IPython kernel, whose interrupt button must stay the kernel's."""
    import sys

    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None) if shell else None
    ip = get() if get else None
    return ip is not None and "ipykernel" in sys.modules and hasattr(ip, "kernel")


class RunSection:
    """``run.config`` / ``run.summary``: a dict you update (``section.update({...})``, ``section[key] = value``)
    whose every change is recorded as one event, so readers rebuild it from the log."""

    def __init__(self, emit, make_event, initial: dict | None = None):
        self._emit, self._make, self._values = emit, make_event, dict(initial or {})

    def update(self, values: dict | None = None, **more) -> None:
        changed = {**(values or {}), **more}
        for key in changed:
            if not isinstance(key, str) or not key:
                raise ProducerError(f"producer: config and summary keys are non-empty strings, not {key!r}")
        self._values.update(changed)
        if changed:
            self._emit(self._make(values=changed))

    def __setitem__(self, key: str, value) -> None:
        self.update({key: value})

    def __getitem__(self, key: str):
        return self._values[key]

    def get(self, key: str, default=None):
        return self._values.get(key, default)

    def __contains__(self, key) -> bool:
        return key in self._values

    def as_dict(self) -> dict:
        return dict(self._values)

    def __repr__(self) -> str:
        return repr(self._values)
