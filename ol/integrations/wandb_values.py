"""What ``wandb.log`` accepts, as what an ol run records — so a logging call never ends a training script.

- numbers (Python, NumPy, a one-element tensor) and booleans (0/1): scalars; ``None``: nothing, as W&B;
- a string: a one-column ``text`` table at that step (as ``ol import`` keeps TensorBoard's text);
- a list, array or tensor of numbers: the array itself at that step (its dtype and shape; past the store's
  array size, a histogram of it);
- ``wandb.Image``, ``wandb.Histogram``, ``wandb.Table``: ol's own; a list of images: ``key/0``, ``key/1`` …;
- ``wandb.plot.line`` / ``scatter`` / ``bar`` / ``histogram`` / ``line_series`` / ``confusion_matrix`` /
  ``pr_curve`` / ``roc_curve``: the table of the chart's data as ``KEY_table`` (W&B's name for it), and a note
  saying what chart it is;
- ``wandb.Video``, ``wandb.Audio``, ``wandb.Html``: their file written into the run's folder under ``media/``,
  and a note naming it (the store has no kind for them).

Anything else is refused in a warning naming the key, and the call's other values are recorded.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import ol

Histogram, Image = ol.Histogram, ol.Image


class Table(ol.Table):
    """``wandb.Table(columns=…, data=[[…], …])`` (or ``dataframe=``), with ``add_data``."""

    def __init__(self, columns: list | None = None, data: Any = None, rows: list | None = None,
                 dataframe: Any = None, **_: Any):
        if dataframe is not None:
            super().__init__(data=dataframe)
        elif isinstance(data, (list, tuple)) or hasattr(data, "tolist"):
            rows = [[_cell(v) for v in row] for row in (data.tolist() if hasattr(data, "tolist") else data)]
            width = len(rows[0]) if rows else 0
            super().__init__(columns=columns or [f"column {i}" for i in range(width)], rows=rows)
        else:
            super().__init__(columns=columns or ["Input", "Output", "Expected"], rows=rows, data=data)

    def add_data(self, *values: Any) -> None:
        self.rows.append(ol.Table(self.columns, [[_cell(v) for v in values]]).rows[0])


@dataclass
class Chart:
    """What a ``wandb.plot`` function returns: the chart's data as a table, and what chart it is."""

    kind: str
    table: ol.Table
    fields: dict = field(default_factory=dict)
    title: str = ""

    def says(self, key: str) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.fields.items())
        return f"{key}: a {self.kind} chart" + (f" ({shown})" if shown else "") + (f", {self.title!r}" if self.title
                                                                                  else "")


class plot:  # noqa: N801 - W&B's namespace: wandb.plot.line(...)
    @staticmethod
    def line(table: ol.Table, x: str, y: str, stroke: Any = None, title: str = "", **_: Any) -> Chart:
        return Chart("line", table, {"x": x, "y": y}, title)

    @staticmethod
    def scatter(table: ol.Table, x: str, y: str, title: str = "", **_: Any) -> Chart:
        return Chart("scatter", table, {"x": x, "y": y}, title)

    @staticmethod
    def bar(table: ol.Table, label: str, value: str, title: str = "", **_: Any) -> Chart:
        return Chart("bar", table, {"label": label, "value": value}, title)

    @staticmethod
    def histogram(table: ol.Table, value: str, title: str = "", **_: Any) -> Chart:
        return Chart("histogram", table, {"value": value}, title)

    @staticmethod
    def line_series(xs: Any, ys: Any, keys: list | None = None, title: str = "", xname: str = "x", **_: Any) -> Chart:
        ys = [list(y) for y in ys]
        xs = [list(xs)] * len(ys) if xs and not isinstance(list(xs)[0], (list, tuple, np.ndarray)) else \
            [list(x) for x in xs]
        names = list(keys or [f"series {i}" for i in range(len(ys))])
        rows = [[names[i], x, y] for i, (xi, yi) in enumerate(zip(xs, ys, strict=True))
                for x, y in zip(xi, yi, strict=True)]
        return Chart("line series", Table(columns=["series", xname, "y"], data=rows), {"x": xname}, title)

    @staticmethod
    def confusion_matrix(probs: Any = None, y_true: Any = None, preds: Any = None, class_names: list | None = None,
                         title: str = "", **_: Any) -> Chart:
        truth = np.asarray(y_true).astype(int).ravel()
        guess = np.asarray(preds).astype(int).ravel() if preds is not None else \
            np.asarray(probs).argmax(axis=-1).ravel()
        n = int(max(truth.max(initial=-1), guess.max(initial=-1)) + 1)
        names = list(class_names or range(n))
        counts = np.zeros((n, n), dtype=np.int64)
        np.add.at(counts, (truth, guess), 1)
        rows = [[str(names[t]), str(names[p]), int(counts[t, p])] for t in range(n) for p in range(n)]
        return Chart("confusion matrix", Table(columns=["Actual", "Predicted", "nPredictions"], data=rows),
                     title=title)

    @staticmethod
    def pr_curve(y_true: Any, y_probas: Any, labels: list | None = None, title: str = "", **_: Any) -> Chart:
        return Chart("precision-recall", _curves(y_true, y_probas, labels, "precision"), title=title)

    @staticmethod
    def roc_curve(y_true: Any, y_probas: Any, labels: list | None = None, title: str = "", **_: Any) -> Chart:
        return Chart("ROC", _curves(y_true, y_probas, labels, "roc"), title=title)


def _curves(y_true: Any, y_probas: Any, labels: list | None, kind: str) -> Table:
    """One row per class and threshold: (class, x, y) — recall/precision, or false/true positive rate."""
    truth, probas = np.asarray(y_true).ravel(), np.asarray(y_probas, dtype=np.float64)
    probas = probas.reshape(len(truth), -1)
    rows = []
    for c in range(probas.shape[1]):
        score, positive = probas[:, c], truth == c
        order = np.argsort(-score, kind="stable")
        hits = np.cumsum(positive[order])
        taken = np.arange(1, len(order) + 1)
        name = str(labels[c]) if labels is not None and c < len(labels) else str(c)
        for i in np.unique(np.linspace(0, len(order) - 1, num=min(len(order), 100)).astype(int)):
            if kind == "precision":
                x, y = hits[i] / max(positive.sum(), 1), hits[i] / taken[i]
            else:
                x, y = (taken[i] - hits[i]) / max((~positive).sum(), 1), hits[i] / max(positive.sum(), 1)
            rows.append([name, float(x), float(y)])
    xs, ys = ("recall", "precision") if kind == "precision" else ("fpr", "tpr")
    return Table(columns=["class", xs, ys], data=rows)


class _File:
    """A media file W&B would upload: kept in the run's folder."""

    suffix = ".bin"

    def __init__(self, data_or_path: Any, caption: str = "", format: str | None = None, **_: Any):  # noqa: A002
        self.source, self.caption = data_or_path, str(caption or "")
        self.format = (format or "").lstrip(".")

    def save(self, folder: Path, stem: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        if isinstance(self.source, (str, Path)) and Path(self.source).is_file():
            target = folder / f"{stem}{Path(self.source).suffix or self.suffix}"
            shutil.copyfile(self.source, target)
        elif isinstance(self.source, str):  # Html's markup
            target = folder / f"{stem}{self.suffix}"
            target.write_text(self.source)
        else:
            target = folder / f"{stem}.npy"
            np.save(target, np.asarray(self.source))
        return target


class Video(_File):
    suffix = ".mp4"


class Audio(_File):
    suffix = ".wav"

    def __init__(self, data_or_path: Any, sample_rate: int | None = None, caption: str = "", **more: Any):
        super().__init__(data_or_path, caption, **more)
        self.sample_rate = sample_rate


class Html(_File):
    suffix = ".html"


@dataclass
class Logged:
    """One ``log`` call's values, sorted by how they are recorded."""

    values: dict = field(default_factory=dict)  # numbers and ol media (Histogram, Image, Table), by name
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    charts: dict[str, Chart] = field(default_factory=dict)
    files: dict[str, _File] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # key -> why


def sort_values(data: dict) -> Logged:
    if all(type(v) is float or type(v) is int for v in data.values()) and all(type(k) is str for k in data):
        return Logged(values=data)  # plain numbers under plain names, the common call: nothing to sort
    out = Logged()
    for key, value in data.items():
        _one(out, str(key), value)
    return out


def _one(out: Logged, key: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        out.values[key] = float(value)
    elif isinstance(value, (int, float)):
        out.values[key] = value  # as given: the run checks it (an integer past 64 bits is refused there)
    elif isinstance(value, np.number):
        out.values[key] = value.item()
    elif isinstance(value, (Histogram, Image, ol.Table)):
        out.values[key] = value
    elif isinstance(value, Chart):
        out.charts[key] = value
    elif isinstance(value, _File):
        out.files[key] = value
    elif isinstance(value, str):
        out.values[key] = ol.Table(["text"], [[value]])
    elif isinstance(value, dict):  # {"train": {"loss": x}}: train/loss, as ol flattens it
        for k, v in value.items():
            _one(out, f"{key}/{k}", v)
    elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Image) for v in value):
        for i, image in enumerate(value):
            out.values[key if len(value) == 1 else f"{key}/{i}"] = image
    else:
        _array(out, key, value)


def _array(out: Logged, key: str, value: Any) -> None:
    """A tensor, an array or a list of numbers: one number, or the array (its own numeric dtype)."""
    try:
        if hasattr(value, "detach"):  # a torch tensor, wherever it lives
            value = value.detach().cpu().numpy()
        array = np.asarray(value)
        if array.dtype.kind not in "fiub":
            array = array.astype(np.float64)
    except (TypeError, ValueError) as e:
        out.refused[key] = f"a {type(value).__name__} is not a value ol can record ({str(e)[:80]})"
        return
    if array.size == 1:
        out.values[key] = array.reshape(-1)[0].item()
    else:
        out.arrays[key] = np.ascontiguousarray(array)


def as_histogram(array: np.ndarray) -> Histogram | None:
    """An array too large to keep as itself, as a histogram of its finite numbers (None when it has none)."""
    finite = array[np.isfinite(array)].ravel() if array.dtype.kind == "f" else array.ravel().astype(np.float64)
    return Histogram(finite) if finite.size else None


def _cell(value: Any) -> Any:
    """A table cell as the log holds one: an image or other object as its text."""
    if isinstance(value, np.generic):
        value = value.item()
    return value if value is None or isinstance(value, (str, bool, int, float)) else str(value)
