"""A CSV of metrics as an ol run (Lightning's CSVLogger ``metrics.csv``, or any table with a ``step``
column): each other numeric column a metric at its row's step, ``epoch`` the step's epoch, and a
``hparams.yaml`` beside it (CSVLogger writes one) the run's config. A CSV has no clock: the imported
steps have no time."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from ol.errors import UsageError
from ol.integrations.importing import Imported

TIME_COLUMNS = ("time", "wall_time", "timestamp")  # unix seconds, when the file has them


def read(path: Path) -> Imported:
    path = Path(path)
    run = Imported(name=path.parent.name or path.stem, origin=f"csv:{path.resolve()}")
    with open(path, newline="") as f:
        table = csv.DictReader(f)
        if not table.fieldnames or "step" not in table.fieldnames:
            raise UsageError(f"import: {path} has no 'step' column; a metrics CSV needs one (Lightning's "
                             "CSVLogger writes it)")
        for number, row in enumerate(table, start=2):
            try:
                step = int(float(row["step"]))
            except (TypeError, ValueError):
                run.skipped.append(f"line {number}: step {row.get('step')!r} is not a number")
                continue
            wall = _number(next((row[c] for c in TIME_COLUMNS if row.get(c)), None))
            epoch = _number(row.get("epoch"))
            if epoch is not None:
                run.epochs[step] = int(epoch)
            for name, raw in row.items():
                value = _number(raw)
                if name and name not in ("step", "epoch", *TIME_COLUMNS) and value is not None:
                    run.add(step, name, value, wall)
    hparams = path.parent / "hparams.yaml"
    if hparams.is_file():
        run.config = _hparams(hparams, run)
    return run


def _number(raw) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if not math.isnan(value) else None


def _hparams(path: Path, run: Imported) -> dict:
    try:
        import yaml
    except ImportError:
        run.skipped.append(f"{path.name} was not read: PyYAML is not installed")
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        run.skipped.append(f"{path.name} does not parse ({e}); the run has no config")
        return {}
    from ol.integrations import flat

    return flat(data) if isinstance(data, dict) else {}
