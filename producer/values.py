"""What ``Run.log`` accepts: Python numbers, under string names, nested dicts flattened with ``/``.

The hot path never comes here: ``log`` checks each value's type against float and int first and only
calls ``normalise`` when one is something else.
"""

from __future__ import annotations

import numbers

from ol.schemas import OlError


def normalise(values: dict) -> dict[str, float]:
    """``{"train": {"loss": 0.1}, "lr": 1e-3}`` → ``{"train/loss": 0.1, "lr": 1e-3}``; anything that is not a
    real number (a tensor, a string) is refused with what to do instead."""
    out: dict[str, float] = {}
    _flatten(values, "", out)
    return out


def _flatten(values: dict, prefix: str, out: dict) -> None:
    for key, value in values.items():
        if not isinstance(key, str) or not key:
            raise OlError(f"producer: log() keys are non-empty strings, not {key!r}")
        name = f"{prefix}{key}"
        if isinstance(value, dict):  # as W&B does: {"train": {"loss": …}} is train/loss
            _flatten(value, name + "/", out)
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            out[name] = value
        elif isinstance(value, bool):
            out[name] = int(value)
        else:
            what = type(value).__module__ + "." + type(value).__qualname__
            raise OlError(f"producer: log() value {name!r} is a {what}; pass Python numbers "
                          "(call .item() where your loop can afford a device sync)")


def in_notebook() -> bool:
    """True inside a Jupyter/IPython kernel, whose interrupt button must stay the kernel's."""
    import sys

    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None) if shell else None
    ip = get() if get else None
    return ip is not None and "ipykernel" in sys.modules and hasattr(ip, "kernel")
