"""A fixture store of known runs, written with the recording API (no training involved)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ol.producer import Run

sys.path.insert(0, str(Path(__file__).parents[1]))
from wandb_records import read_wandb_file  # noqa: E402,F401 - shared with tests/experiments

from ol.schemas import Checkpoint, Epoch, HookMetrics, Note, RunContract
from tests.consumers.browser import launch_browser, serving  # noqa: E402


def _loss(seed: int, step: int) -> float:
    return 1.0 / (step + 1) + seed * 0.01

# what the runs' metrics measure, as a producer declares it: plots label and tick by this, never by name
UNITS = RunContract(units={"loss": "nats", "train_loss": "nats", "test_acc": "fraction"})


def write_run(store, strategy: str, seed: int, steps: int = 30, resume_at: int | None = None, run_id=None):
    """A run as `ol train` records one: steps (loss, lr, grad_norm), an epoch every 10 steps, a hook metric, a
    checkpoint, a note.
    With resume_at: the first stretch logs ``steps`` steps and ends interrupted; the resumed stretch
    restarts after ``resume_at`` and logs up to ``steps`` again with different values."""
    run = Run.start(store=store, experiment="exp", strategy=strategy, seed=seed, run_id=run_id,
                    config={"lr": 0.1, "width": 8 + seed}, contract=UNITS, recorder="ol train")  # as ol train's are
    _stretch(run, seed, range(1, steps + 1), offset=0.0)
    if resume_at is None:
        run.close()
        return run.dir
    run.close("interrupted")
    again = Run.resume(run.dir, step=resume_at)
    _stretch(again, seed, range(resume_at + 1, steps + 1), offset=100.0)
    again.close()
    return run.dir

def _stretch(run, seed, steps, offset):
    for step in steps:
        run.log({"loss": _loss(seed, step) + offset, "lr": 0.1, "grad_norm": float(step)}, step=step,
                epoch=(step - 1) // 10)
        if step % 10 == 0:
            epoch = step // 10 - 1
            run.emit(Epoch(epoch=epoch, step=step, metrics={"train_loss": _loss(seed, step) + offset,
                                                             "test_acc": min(1.0, step / 25 + seed * 0.001)}))
            run.emit(HookMetrics(hook="norms", point="post_epoch", step=step, epoch=epoch,
                                 metrics={"total": step * 2.0 + offset}))
    run.emit(Checkpoint(step=steps[-1], path="checkpoints/x.pt", size=1, sha256="0" * 64, reason="final"))
    run.emit(Note("done", step=steps[-1]))

@pytest.fixture
def store(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "stride", 1, run_id="r-stride-1")
    write_run(root, "stride", 2, run_id="r-stride-2")
    write_run(root, "random", 1, run_id="r-random-1", resume_at=15)
    return root



def wandb_history(root, run_id):
    """Every offline run directory of one W&B run id: merged history {step: {key: value}}, and the records."""
    import json as _json

    history, records = {}, []
    for path in sorted(root.rglob(f"run-{run_id}.wandb")):
        for rec in read_wandb_file(path):
            records.append(rec)
            if rec.WhichOneof("record_type") == "history":
                step = rec.history.step.num
                row = {}
                for item in rec.history.item:
                    path = [item.key] if item.key else list(item.nested_key)
                    if path[0].startswith("_"):
                        continue  # W&B's own bookkeeping (_step, _runtime, _timestamp)
                    target = row
                    for part in path[:-1]:  # histograms arrive as [key, "_type"], [key, "bins"], …
                        target = target.setdefault(part, {})
                    target[path[-1]] = _json.loads(item.value_json)
                assert step not in history or not (set(history[step]) & set(row)), f"step {step} sent twice"
                history.setdefault(step, {}).update(row)
    return history, records


@pytest.fixture
def browser():
    yield from launch_browser()


@pytest.fixture
def serve():
    yield from serving()
