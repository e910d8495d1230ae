"""Recording from the frameworks people already train with, one line each: a Lightning logger
(``ol.integrations.lightning.OlLogger``) and a Hugging Face Trainer callback
(``ol.integrations.transformers.OlCallback``). Each module needs its framework (an extra of the package)."""

from __future__ import annotations

import importlib
from typing import Any

from ol.errors import UsageError

# metric names frameworks give evaluation numbers (Lightning's self.log("val_loss"), the Trainer's eval_loss)
EVAL_PREFIXES = ("val_", "val/", "valid_", "valid/", "validation_", "validation/", "test_", "test/", "eval_",
                 "eval/")


def require(module: str, extra: str) -> Any:
    """Import a framework, or say in one line how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(f"ol.integrations: {module} is not installed", hint=f"pip install 'ol[{extra}]'") from None


def by_source(metrics: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """(training numbers, evaluation numbers) of a framework's metrics dict, each name as it was logged:
    a number named as evaluation (``val_loss``, ``eval_loss``, ``test/acc``) is recorded under the source
    ``eval``, so it is never drawn or summarised as a training metric."""
    train, evaluated = {}, {}
    for name, value in metrics.items():
        if type(value) is not float:
            number = _number(value)  # a tensor or NumPy scalar as a float; anything else as given, for Run.log to
            # record (a nested dict) or refuse in one line (a string): never dropped without a word
            value = value if number is None else number
        (evaluated if _is_eval(name) else train)[name] = value
    return train, evaluated


_EVAL_NAMES: dict[str, bool] = {}  # a framework logs the same names every step: each decided once


def _is_eval(name: str) -> bool:
    known = _EVAL_NAMES.get(name)
    if known is None:
        known = name.lower().startswith(EVAL_PREFIXES)
        if len(_EVAL_NAMES) < 100_000:
            _EVAL_NAMES[name] = known
    return known


def flat(params: Any, prefix: str = "") -> dict[str, Any]:
    """Hyperparameters as one level of ``a/b`` keys (a Namespace, a dataclass or a nested dict alike); values
    a run cannot record as they are (a module, a tensor of many numbers) become their text."""
    if hasattr(params, "to_dict") and callable(params.to_dict):
        params = params.to_dict()
    elif hasattr(params, "__dict__") and not isinstance(params, dict):
        params = vars(params)
    out: dict[str, Any] = {}
    for key, value in dict(params).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) or (hasattr(value, "__dict__") and type(value).__module__ == "argparse"):
            out.update(flat(value, f"{name}/"))
        elif value is None or isinstance(value, (bool, int, float, str)):
            out[name] = value
        elif isinstance(value, (list, tuple)) and all(v is None or isinstance(v, (bool, int, float, str))
                                                      for v in value):
            out[name] = list(value)
        else:
            number = _number(value)
            out[name] = number if number is not None else str(value)
    return out


def _number(value: Any) -> float | None:
    """A plain float from a Python number, a NumPy scalar or a one-element tensor; None for anything else."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    item = getattr(value, "item", None)
    if callable(item) and (getattr(value, "ndim", None) == 0 or tuple(getattr(value, "shape", ())) == (1,)):
        try:
            return float(item())
        except (TypeError, ValueError, RuntimeError):
            return None
    return None


class EpochRecap:
    """What a framework logged since its last epoch end — each metric's last value, by source — to restate
    as the run's epoch record when the epoch is over (``Run.epoch(restated=True)``): the epochs view, ``ol
    tail`` and the console then show a Lightning or Trainer run's epochs as they show ``ol train``'s."""

    def __init__(self):
        self.train: dict[str, float] = {}
        self.evaluated: dict[str, float] = {}
        self.step: int | None = None

    def add(self, train: dict, evaluated: dict, step: int) -> None:
        self.train.update(train)  # on every logged step: plain updates, what is no number is left out at close
        if evaluated:
            self.evaluated.update(evaluated)
        self.step = step

    def close(self, run, epoch: int, step: int | None = None) -> None:
        """The epoch record of ``epoch`` (at ``step``, else the last step logged in it), then start anew."""
        evaluated = {k: v for k, v in self.evaluated.items() if type(v) is float}
        train = {k: v for k, v in self.train.items() if type(v) is float and k not in evaluated}
        if train or evaluated or step is not None:
            run.epoch(epoch, train, step if step is not None else self.step, eval=evaluated, restated=True)
        self.__init__()
