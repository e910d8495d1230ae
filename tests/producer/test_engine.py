"""The engine on a tiny mod_arithmetic: determinism, exact resume, hook points, checkpoints."""

from __future__ import annotations

import pytest
import torch

from ol.errors import OlError
from ol.experiments import get
from ol.producer.hooks import Hook
from ol.schemas import Checkpoint, Epoch, HookMetrics, Note, RunResumed, RunStarted, Step, TargetReached
from ol.store.log.reader import LogReader
from ol.store.log.verify import checkpoint_problem, verify_run
from ol.store.read.listing import run_info
from ol.store.read.projection import project
from tests.producer import launching
from tests.producer.interrupting import InterruptAt

TINY = {"p": 23, "train_fraction": 0.5, "d_model": 32, "n_heads": 2, "d_ff": 64, "batch_size": 32,
        "epochs": 6, "eval_every": 2, "snapshot_every": 3, "dropout": 0.1, "stop_at_target": False}


def _start(store, strategy="random", seed=0, config=None, hooks=None, **kw):
    return launching.start(store, "mod_arithmetic", {**TINY, **(config or {})}, strategy, seed, hooks=hooks or [],
                           **kw)


def _setup_for(tmp_path, **target):
    """mod_arithmetic's Setup (two epochs) with another target: the engine, not the experiment, decides."""
    import dataclasses

    from ol.producer.determinism import seed_everything

    exp = get("mod_arithmetic")
    seed_everything(0)
    setup = exp.setup(exp.resolve_config("quick", {**TINY, "epochs": 2}), "random", 0, torch.device("cpu"))
    return dataclasses.replace(setup, **target)


def _events(run_dir, projected=True):
    events = list(LogReader(run_dir / "log").events())
    return [e for _, e in (project(events) if projected else events)]


def _losses(run_dir):
    return [(e.step, e.loss) for e in _events(run_dir) if isinstance(e, Step)]


def test_same_seed_same_losses_and_another_seed_differs(tmp_path):
    a, status_a = _start(tmp_path)
    b, _ = _start(tmp_path)
    c, _ = _start(tmp_path, seed=1)
    assert status_a == "completed"
    assert _losses(a) == _losses(b) and len(_losses(a)) == 6 * 9
    assert _losses(a) != _losses(c)


def test_run_records_epochs_checkpoints_and_final_weights(tmp_path):
    run_dir, _ = _start(tmp_path, strategy="stride", checkpoint_every=2)
    events = _events(run_dir)
    epochs = [e for e in events if isinstance(e, Epoch)]
    assert [e.epoch for e in epochs] == list(range(6))
    assert all({"train_loss", "train_acc"} <= set(e.metrics) for e in epochs)
    assert [e.epoch for e in epochs if "test_acc" in e.metrics] == [0, 1, 3, 5]
    # the engine says which metrics the evaluation produced: what evaluate() returned, nothing else
    assert [e.eval for e in epochs] == [["test_loss", "test_acc"] if e.epoch in (0, 1, 3, 5) else [] for e in epochs]
    ckpts = [e for e in events if isinstance(e, Checkpoint)]
    assert [(c.reason, c.step) for c in ckpts] == [("periodic", 18), ("periodic", 36), ("final", 54)]
    assert all(checkpoint_problem(run_dir, c) is None for c in ckpts)
    state = torch.load(run_dir / ckpts[0].path, weights_only=True)  # no pickled code needed
    assert state["position"] == {"epoch": 2, "batch": 0, "step": 18}
    assert (run_dir / "artifacts" / "final_weights.pt").is_file()
    started = events[0]
    assert started.config["p"] == 23 and started.parameters > 0 and started.environment.deterministic
    assert started.environment.torch == torch.__version__ and started.environment.device == "cpu"


def test_interrupted_mid_epoch_then_resumed_matches_an_uninterrupted_run(tmp_path):
    reference, _ = _start(tmp_path / "a")
    run_dir, status = _start(tmp_path / "b", hooks=[InterruptAt(23)])
    assert status == "interrupted"
    assert run_info(run_dir).status == "interrupted"
    emergency = [e for e in _events(run_dir) if isinstance(e, Checkpoint)]
    assert [(c.reason, c.step) for c in emergency] == [("emergency", 23)]  # mid-epoch: 23 = 2 × 9 + 5
    _, status = launching.resume(run_dir)
    assert status == "completed" and run_info(run_dir).status == "completed"
    raw = _events(run_dir, projected=False)
    assert any(isinstance(e, RunResumed) and e.step == 23 for e in raw)
    assert _losses(run_dir) == _losses(reference)
    ref_epochs = [(e.epoch, e.metrics) for e in _events(reference) if isinstance(e, Epoch)]
    assert [(e.epoch, e.metrics) for e in _events(run_dir) if isinstance(e, Epoch)] == ref_epochs


def test_resume_refuses_without_a_checkpoint_or_with_a_damaged_one(tmp_path):
    run_dir, _ = _start(tmp_path, hooks=[InterruptAt(5)])
    ckpt = next(e for e in _events(run_dir) if isinstance(e, Checkpoint))
    with open(run_dir / ckpt.path, "r+b") as f:
        f.seek(100)
        f.write(b"\xff\xff\xff")
    log_before = (run_dir / "log" / "00000000.olog").read_bytes()
    with pytest.raises(OlError, match="sha256"):
        launching.resume(run_dir)
    assert (run_dir / "log" / "00000000.olog").read_bytes() == log_before
    (run_dir / ckpt.path).unlink()
    with pytest.raises(OlError, match="sha256"):
        launching.resume(run_dir)


def test_resume_past_a_damaged_newest_checkpoint_says_so_in_the_log(tmp_path):
    run_dir, status = _start(tmp_path, checkpoint_every=2, hooks=[InterruptAt(40)])
    assert status == "interrupted"
    ckpts = [e for e in _events(run_dir) if isinstance(e, Checkpoint)]
    newest, older = ckpts[-1], ckpts[-2]
    with open(run_dir / newest.path, "r+b") as f:
        f.seek(100)
        f.write(b"\xff\xff\xff")
    report = verify_run(run_dir)
    assert not report.ok and [p for p in report.problems if newest.path in p and "sha256" in p]
    _, status = launching.resume(run_dir)
    assert status == "completed"
    raw = _events(run_dir, projected=False)
    assert [e.step for e in raw if isinstance(e, RunResumed)] == [older.step]
    warnings = [e.message for e in raw if isinstance(e, Note) and e.level == "warning"]
    assert any(newest.path in m and "sha256" in m and older.path in m for m in warnings), warnings


class _Recorder(Hook):
    name = "recorder"
    points = ("pre_epoch", "pre_step", "post_step", "post_epoch", "snapshot")

    def __init__(self):
        self.calls = []

    def fire(self, point, ctx):
        self.calls.append((point, ctx.epoch, ctx.step))
        torch.rand(3)  # draws random numbers: the RNG guard must hide them from training
        return {"calls": float(len(self.calls))} if point in ("post_epoch", "snapshot") else None


def test_hook_points_fire_in_order_and_hooks_do_not_change_training(tmp_path):
    plain, _ = _start(tmp_path / "plain")
    hook = _Recorder()
    hooked, _ = _start(tmp_path / "hooked", hooks=[hook])
    assert _losses(hooked) == _losses(plain)
    first_epoch = [c[0] for c in hook.calls if c[1] == 0]
    assert first_epoch == ["pre_epoch"] + ["pre_step", "post_step"] * 9 + ["post_epoch"]
    assert [c[1] for c in hook.calls if c[0] == "snapshot"] == [2, 5]
    metrics = [e for e in _events(hooked) if isinstance(e, HookMetrics)]
    assert {(m.point, m.hook) for m in metrics} == {("post_epoch", "recorder"), ("snapshot", "recorder")}


def test_target_reached_is_an_event_once_and_can_stop_training(tmp_path):
    run_dir, status = _start(tmp_path, config={"target_acc": 0.0, "stop_at_target": True})
    events = _events(run_dir)
    assert status == "completed"
    reached = [e for e in events if isinstance(e, TargetReached)]
    assert len(reached) == 1 and reached[0].metric == "test_acc" and reached[0].epoch == 0
    assert any(isinstance(e, Note) and "target reached: test_acc" in e.message for e in events)
    assert max(e.epoch for e in events if isinstance(e, Epoch)) == 0
    contract = next(e for e in events if isinstance(e, RunStarted)).contract
    assert (contract.main_metric, contract.direction, contract.target) == ("test_acc", "higher", 0.0)
    assert contract.total_epochs == 6 and "test_acc" in contract.display


def test_a_lower_is_better_target_is_reached_from_above(tmp_path):
    """A Setup whose target is a loss: reached when the value falls to it, never when it is above."""
    from ol.producer.engine import Engine
    from ol.producer.run import Run

    setup = _setup_for(tmp_path, target_metric="test_loss", target_value=1e9, target_direction="lower")
    with Run.start(store=tmp_path / "runs", experiment="t", handle_signals=False) as run:
        Engine(run, setup).train()
    reached = [e for e in _events(run.dir) if isinstance(e, TargetReached)]
    assert len(reached) == 1 and reached[0].metric == "test_loss" and reached[0].value <= 1e9
    setup = _setup_for(tmp_path, target_metric="test_loss", target_value=-1.0, target_direction="lower")
    with Run.start(store=tmp_path / "runs", experiment="t", handle_signals=False) as run:
        Engine(run, setup).train()
    assert not [e for e in _events(run.dir) if isinstance(e, TargetReached)]
