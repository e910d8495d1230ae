"""`ol replay` with the real clients, offline: what W&B and TensorBoard wrote, read back and compared."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from ol.cli.app import app
from ol.consumers.replay.stream import StepMerger
from ol.consumers.replay.wandb_sink import wandb_id
from ol.producer import Run
from ol.schemas import ArrayData, Epoch, HookMetrics, RunResumed, Step
from ol.store.log.reader import read_events
from ol.store.read.projection import project

from .conftest import wandb_history, write_run  # noqa: F401

runner = CliRunner()


def ol(*args):
    return runner.invoke(app, [str(a) for a in args])


def expected_history(run_dir):
    """What a mirror must hold, computed straight from the projected events."""
    out: dict[int, dict] = {}
    for _, e in project(read_events(run_dir / "log")):
        if isinstance(e, Step):
            row = out.setdefault(e.step, {})
            row.update(e.extra)
            row.update({k: getattr(e, k) for k in ("loss", "lr") if getattr(e, k) is not None})
        elif isinstance(e, Epoch):
            out.setdefault(e.step, {}).update({**e.metrics, "epoch": float(e.epoch)})
        elif isinstance(e, HookMetrics):
            out.setdefault(e.step, {}).update({f"hooks/{e.hook}/{k}": v for k, v in e.metrics.items()})
    return out


def test_wandb_offline_mirror_equals_the_run_and_replaying_twice_adds_nothing(store, wandb_env):
    run_dir = store / "exp" / "r-stride-1"
    result = ol("replay", "r-stride-1", "--store", store, "--to", "wandb", "--mode", "offline", "--project", "p1",
                "--group", "g1")
    assert result.exit_code == 0, result.output
    assert "30 new step(s)" in result.output
    again = ol("replay", "r-stride-1", "--store", store, "--to", "wandb", "--mode", "offline", "--project", "p1")
    assert again.exit_code == 0 and "0 new step(s)" in again.output
    history, records = wandb_history(wandb_env, wandb_id("r-stride-1"))
    assert history == expected_history(run_dir)
    run = next(r.run for r in records if r.WhichOneof("record_type") == "run")
    assert run.run_group == "g1" and run.display_name == "stride · seed 1" and run.project == "p1"
    assert list(run.tags) == ["exp", "stride"]
    updates = [i for r in records if r.WhichOneof("record_type") == "config" for i in r.config.update]
    config = {i.key: json.loads(i.value_json) for i in list(run.config.update) + updates}
    unwrap = {k: v["value"] if isinstance(v, dict) and "value" in v else v for k, v in config.items()}
    assert unwrap["strategy"] == "stride" and unwrap["width"] == 9 and unwrap["ol_run_id"] == "r-stride-1"
    summary = {i.key: json.loads(i.value_json) for r in records if r.WhichOneof("record_type") == "summary"
               for i in r.summary.update}
    assert summary["ol_status"] == "completed" and summary["loss"] == pytest.approx(1 / 31 + 0.01)
    exits = [r.exit.exit_code for r in records if r.WhichOneof("record_type") == "exit"]
    assert exits and exits[0] == 0


def test_wandb_mirror_of_a_resumed_run_has_each_step_once(store, wandb_env):
    result = ol("replay", "r-random-1", "--store", store, "--to", "wandb", "--mode", "offline")
    assert result.exit_code == 0, result.output
    history, _ = wandb_history(wandb_env, wandb_id("r-random-1"))
    assert history == expected_history(store / "exp" / "r-random-1")
    assert sorted(history) == list(range(1, 31)) and history[20]["loss"] > 100  # the resumed stretch's values


def test_tensorboard_mirror_reads_back_with_tensorboards_own_reader_at_its_defaults(store, tmp_path):
    """What TensorBoard shows: scalars (float32, as TensorBoard stores them), every step once, the run's config
    as hparams, and a replay with nothing new leaves no extra file."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    logdir = tmp_path / "tb"
    assert ol("replay", "r-stride-2", "--store", store, "--to", "tensorboard", "--logdir", logdir).exit_code == 0
    assert "0 new" in ol("replay", "r-stride-2", "--store", store, "--to", "tensorboard", "--logdir", logdir).output
    run_dir = logdir / "exp" / "r-stride-2"
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1  # the no-op replay wrote nothing
    acc = EventAccumulator(str(run_dir))  # default size guidance: what TensorBoard itself loads
    acc.Reload()
    got: dict[int, dict] = {}
    for tag in acc.Tags()["scalars"]:
        for ev in acc.Scalars(tag):
            assert ev.step not in got or tag not in got[ev.step], f"{tag} at step {ev.step} twice"
            got.setdefault(ev.step, {})[tag] = ev.value
    expected = {step: {k: float(np.float32(v)) for k, v in row.items()}
                for step, row in expected_history(store / "exp" / "r-stride-2").items()}
    np.testing.assert_equal(got, expected)  # NaN equal to NaN
    start = plugin_data_pb2.HParamsPluginData.FromString(
        acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["strategy"].string_value == "stride" and start.group_name == "r-stride-2"


def test_arrays_become_histograms(tmp_path, wandb_env):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    values = np.linspace(-1, 1, 50, dtype=np.float32)
    with Run.start(store=tmp_path / "s", experiment="exp", run_id="arr") as run:
        run.log({"loss": 1.0}, step=1)
        run.emit(ArrayData(name="spectrum", dtype="<f4", shape=[50], data=values.tobytes(), step=1, hook="fourier"))
        run.log({"loss": 0.5}, step=2)
    result = ol("replay", "arr", "--store", tmp_path / "s", "--to", "tensorboard", "--logdir", tmp_path / "tb")
    assert result.exit_code == 0
    acc = EventAccumulator(str(tmp_path / "tb" / "exp" / "arr"), size_guidance={"histograms": 0})
    acc.Reload()
    (hist,) = acc.Histograms("hooks/fourier/spectrum")
    assert hist.step == 1 and hist.histogram_value.num == 50 and hist.histogram_value.min == pytest.approx(-1)
    assert ol("replay", "arr", "--store", tmp_path / "s", "--to", "wandb", "--mode", "offline").exit_code == 0
    history, _ = wandb_history(wandb_env, wandb_id("arr"))
    assert history[1]["hooks/fourier/spectrum"]["_type"] == "histogram" and history[2] == {"loss": 0.5}


def test_follow_mirrors_a_live_run_to_the_same_result_as_a_replay_afterwards(tmp_path, wandb_env):
    store = tmp_path / "s"
    code = ("import sys, time\n"
            "from ol.producer import Run\n"
            "from ol.schemas import Epoch\n"
            f"run = Run.start(store={str(store)!r}, experiment='exp', run_id='live', strategy='random', seed=3)\n"
            "print('ready', flush=True)\n"
            "for step in range(1, 201):\n"
            "    run.log({'loss': 1.0 / step, 'lr': 0.01}, step=step, epoch=(step - 1) // 50)\n"
            "    if step % 50 == 0:\n"
            "        run.emit(Epoch(epoch=step // 50 - 1, step=step, metrics={'test_acc': step / 200}))\n"
            "    time.sleep(0.01)\n"
            "run.close()\n")
    writer = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "ready"
    live_dir = tmp_path / "tb-live"
    result = ol("replay", "live", "--store", store, "--to", "tensorboard", "--logdir", live_dir, "--follow")
    assert result.exit_code == 0, result.output
    assert writer.wait(timeout=60) == 0
    after_dir = tmp_path / "tb-after"
    assert ol("replay", "live", "--store", store, "--to", "tensorboard", "--logdir", after_dir).exit_code == 0
    assert _tb_values(live_dir / "exp" / "live") == _tb_values(after_dir / "exp" / "live")
    assert len(_tb_values(after_dir / "exp" / "live")) == 200 * 2 + 4 * 2


def _tb_values(path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(path))
    acc.Reload()
    return sorted((tag, ev.step, ev.value) for tag in acc.Tags()["scalars"] for ev in acc.Scalars(tag))


def test_a_running_run_without_follow_replays_what_exists_and_says_so(tmp_path):
    run = Run.start(store=tmp_path / "s", experiment="exp", run_id="busy")
    for step in range(1, 11):
        run.log({"loss": 1.0}, step=step)
    run.flush()
    result = ol("replay", "busy", "--store", tmp_path / "s", "--to", "tensorboard", "--logdir", tmp_path / "tb")
    assert result.exit_code == 0 and "still running" in result.output and "9 new step(s)" in result.output
    run.close()
    rest = ol("replay", "busy", "--store", tmp_path / "s", "--to", "tensorboard", "--logdir", tmp_path / "tb")
    assert "1 new step(s)" in rest.output


def test_merger_orders_hook_metrics_logged_before_their_step():
    merger = StepMerger()
    out = []
    for event in [HookMetrics(hook="h", point="post_step", step=1, metrics={"a": 1.0}),
                  HookMetrics(hook="h", point="post_step", step=2, metrics={"a": 2.0}),
                  Step(step=1, loss=0.1), Step(step=2, loss=0.2), Step(step=3, loss=0.3),
                  RunResumed(step=2), Step(step=3, loss=0.35)]:
        out += merger.add(event)
    out += merger.finish()
    assert [(r.step, r.scalars) for r in out] == [(1, {"hooks/h/a": 1.0, "loss": 0.1}),
                                                  (2, {"hooks/h/a": 2.0, "loss": 0.2}), (3, {"loss": 0.35})]


def test_bad_replay_input(store, monkeypatch, tmp_path):
    r = ol("replay", "r-stride-1", "--store", store, "--to", "mlflow")
    assert r.exit_code == 1 and "wandb or tensorboard" in r.output
    r = ol("replay", "r-stride-1", "--store", store, "--to", "tensorboard")
    assert r.exit_code == 1 and "--logdir" in r.output
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if the client were not installed
    r = ol("replay", "r-stride-1", "--store", store, "--to", "wandb", "--mode", "offline")
    assert r.exit_code == 1 and "pip install 'ol[wandb]'" in r.output


def test_an_unreachable_wandb_server_fails_cleanly_and_keeps_the_position(store, wandb_env, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    t0 = time.monotonic()
    r = ol("replay", "r-stride-1", "--store", store, "--to", "wandb", "--mode", "online", "--timeout", "5")
    assert r.exit_code == 1 and "W&B did not start the run" in r.output and "Traceback" not in r.output
    assert not list((store / "exp" / "r-stride-1" / ".cache").glob("replay/*"))  # position not advanced
    assert time.monotonic() - t0 < 120


def test_the_target_epoch_of_an_abandoned_stretch_is_forgotten():
    from ol.schemas import RunStarted, TargetReached

    merger = StepMerger()
    events = [RunStarted(run_id="r", experiment="e", config={"target_acc": 0.9}),
              Step(step=10, loss=1.0), Epoch(epoch=0, step=10, metrics={"test_acc": 0.5}),
              Step(step=20, loss=1.0), Epoch(epoch=1, step=20, metrics={"test_acc": 0.95}),
              TargetReached(metric="test_acc", value=0.95, epoch=1, step=20)]
    for e in events:
        merger.add(e)
    assert merger.summary()["ol_target_epoch"] == 1
    merger.add(RunResumed(step=10))  # epoch 1 never happened after all
    assert "ol_target_epoch" not in merger.summary()
    merger.add(Step(step=20, loss=0.5))
    merger.add(Epoch(epoch=1, step=20, metrics={"test_acc": 0.8}))
    merger.add(Epoch(epoch=2, step=30, metrics={"test_acc": 0.91}))
    assert "ol_target_epoch" not in merger.summary()  # readers never re-derive it from values
    merger.add(TargetReached(metric="test_acc", value=0.91, epoch=2, step=30))
    assert merger.summary()["ol_target_epoch"] == 2


def test_wandb_mirror_keeps_the_runs_own_times_and_machine(make_log, wandb_env):
    """A run recorded long ago on another machine: each W&B step carries its recorded time, the run's own
    environment and wall time travel with it, and the notes say which W&B times are the replay's."""
    from ol.schemas import Environment, RunEnded, RunStarted

    from .conftest import read_wandb_file

    t0 = 1_700_000_000.0
    started = RunStarted(run_id="old", experiment="exp", strategy="stride", seed=0, started_at=t0,
                         environment=Environment(host="node-17", device="cuda:0", python="3.12.1"))
    make_log([[started] + [(i, 0, 2.0 * i, {"loss": 1.0 / (i + 1)}) for i in range(5)],
              [RunEnded("completed", wall_time=20.0, ended_at=t0 + 20.0)]], experiment="exp", run_id="old")
    result = ol("replay", "old", "--store", wandb_env.parent / "store", "--to", "wandb", "--mode", "offline")
    # (make_log writes under tmp_path/store; wandb_env is tmp_path/wandb)
    assert result.exit_code == 0, result.output
    (path,) = wandb_env.rglob(f"run-{wandb_id('old')}.wandb")
    records = read_wandb_file(path)
    stamps = {}
    for rec in records:
        if rec.WhichOneof("record_type") == "history":
            items = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in rec.history.item}
            stamps[rec.history.step.num] = items["_timestamp"]
    assert stamps == {i: t0 + 2.0 * i for i in range(5)}  # recorded, not replayed, times
    run = next(r.run for r in records if r.WhichOneof("record_type") == "run")
    config = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in run.config.update}
    assert config["ol_environment"]["host"] == "node-17" and config["ol_started_at"] == t0
    assert "node-17" in run.notes and "_runtime" in run.notes and "2023-11-14 22:13:20 UTC" in run.notes
    summary = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for r in records
               if r.WhichOneof("record_type") == "summary" for i in r.summary.update}
    assert summary["ol_wall_time"] == 20.0
    kinds = {r.WhichOneof("record_type") for r in records}
    assert "stats" not in kinds  # no system metrics of the replaying machine
