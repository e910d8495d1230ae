"""What ``Run.log`` accepts: Python numbers, under string names, nested dicts flattened with ``/``; and
``ol.Histogram`` / ``ol.Image`` / ``ol.Table`` values, which become events of their own.

The hot path never comes here: ``log`` checks each value's type against float and int first and only
calls ``normalise`` when one is something else.
"""

from __future__ import annotations

import math
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
            # numpy scalars, Fractions and ints past 64 bits become the float the log holds
            out[name] = value if type(value) in (int, float) and not _too_big(value) else float(value)
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


INT_RANGE = (-(2**63), 2**63 - 1)  # a signed 64-bit integer: what the log, Arrow and SQL all hold
MAX_ELEMENTS = 100_000  # an array given as a config value: beyond this it is data, to log as an array


def recordable(value, where: str):
    """``value`` as plain data the log can hold (str, bool, int, float, None, lists, dicts with string keys),
    converting what people pass to W&B's config and summary: numpy scalars and arrays, ``Path``, dates and
    times, ``Decimal``, enums, tuples and sets, numeric dict keys. Anything else is refused here, at the
    call, with one line naming ``where`` — never later on the writer's thread, where it would take queued
    events with it."""
    if value is None or type(value) in (str, bool, float):
        return value
    if type(value) is int:
        if not INT_RANGE[0] <= value <= INT_RANGE[1]:
            raise ProducerError(f"producer: {where} is {value}, beyond what a 64-bit integer holds; "
                                "pass it as a float or a string")
        return value
    if isinstance(value, dict):
        return {_key(k, where): recordable(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [recordable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        items = [recordable(v, f"{where} item") for v in value]
        try:
            return sorted(items)
        except TypeError:
            return items
    module = type(value).__module__.partition(".")[0]
    if module == "torch":
        raise ProducerError(f"producer: {where} is a torch {type(value).__name__}; pass .item() or .tolist() "
                            "(where your loop can afford a device sync)")
    if module == "numpy":
        if getattr(value, "ndim", 0) == 0:
            return recordable(value.item(), where)
        if value.size > MAX_ELEMENTS:
            raise ProducerError(f"producer: {where} is an array of {value.size:,} elements; log it with "
                                "run.log({...: ol.Histogram(...)}) or emit an array event instead")
        return recordable(value.tolist(), where)
    return recordable(_converted(value, where), where)


def _converted(value, where: str):
    import datetime
    import decimal
    import enum
    import os

    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, (numbers.Real, decimal.Decimal)):
        return float(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, str):
        return str(value)
    what = type(value).__module__ + "." + type(value).__qualname__
    raise ProducerError(f"producer: {where} is a {what}, which the log cannot hold; pass numbers, strings, "
                        "lists or dicts of them")


def _key(key, where: str) -> str:
    if isinstance(key, str):
        return str(key)
    if isinstance(key, (int, float, bool)) or type(key).__module__ == "numpy":
        return str(recordable(key, where))  # as W&B does: {1: …} is {"1": …}
    raise ProducerError(f"producer: {where} has a key {key!r} of type {type(key).__name__}; keys are strings")


def _too_big(value) -> bool:
    return type(value) is int and not INT_RANGE[0] <= value <= INT_RANGE[1]


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

    def __init__(self, emit, make_event, initial: dict | None = None, name: str = "config"):
        self._emit, self._make, self._values = emit, make_event, dict(initial or {})
        self._name = name

    def update(self, values: dict | None = None, **more) -> None:
        changed = {**(values or {}), **more}
        for key in changed:
            if not isinstance(key, str) or not key:
                raise ProducerError(f"producer: config and summary keys are non-empty strings, not {key!r}")
        changed = {k: recordable(v, f"{self._name}[{k!r}]") for k, v in changed.items()}  # refused here, or kept
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


STEP_OWN = frozenset(("seq", "step", "time"))  # columns every training step has: no scalar of that source is named so


def epoch_of_values(values: dict, epoch):
    """(the values without ``epoch``, the step's epoch): a value named ``epoch`` is where the step is, as W&B
    loops and a Trainer log it, unless ``epoch=`` said otherwise."""
    given = values["epoch"]
    values = {k: v for k, v in values.items() if k != "epoch"}
    if epoch is not None and as_epoch(epoch) != as_epoch(given):
        raise ProducerError(f"producer: log() was given epoch={epoch!r} and a value 'epoch' of {given!r}; give one")
    return values, given if epoch is None else epoch


def as_epoch(epoch) -> int | float:
    """An epoch as the log keeps it: a whole number as an int, a fraction (a Trainer's 0.156) as a float."""
    if type(epoch) is float and 0 <= epoch < math.inf:  # the common case first: called on every such log()
        return int(epoch) if epoch.is_integer() else epoch
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Real) or not math.isfinite(epoch) or epoch < 0:
        raise ProducerError(f"producer: epoch {epoch!r} is not a finite number ≥ 0")
    return int(epoch) if float(epoch).is_integer() else float(epoch)


def whole(epoch: int | float | None) -> int | None:
    """The epoch a step is in (2 for 2.5): what events other than steps and scalars record."""
    return None if epoch is None else int(epoch)
