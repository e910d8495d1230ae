"""A script written for wandb, run unmodified but for its import line: the store holds what it logged, and
the same script under the real wandb client (offline) logged the same values at the same steps."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from wandb_records import history_of, offline_env  # noqa: E402

from ol.consumers.analytics.sql import connect  # noqa: E402
from ol.store.log.verify import sha256_file, verify_run  # noqa: E402
from ol.store.read.snapshot import open_snapshot  # noqa: E402

SCRIPT = '''
import sys
import numpy as np
import torch
import wandb

run = wandb.init(project="shim", name="trial", id="trial-1", config={"lr": 0.1, "layers": [2, 3]}, tags=["a"],
                 dir=sys.argv[1])
wandb.define_metric("val/acc", summary="max")
wandb.config.update({"batch": 32})
wandb.config.momentum = 0.9
model = torch.nn.Linear(3, 1)
wandb.watch(model, log_freq=10)
for step in range(20):
    model.zero_grad()
    model(torch.ones(4, 3)).sum().backward()
    wandb.log({"loss": 1.0 / (step + 1), "lr": 0.1 * 0.9 ** step, "val/acc": step / 20, "epoch": step // 5,
               "scale": np.float32(0.5) * step, "grad": torch.tensor(0.25) * step})
wandb.summary["best_acc"] = 0.95
wandb.log({"weights": wandb.Histogram(np.arange(10.0))})
wandb.alert(title="done", text="twenty steps")
print(run.id, run.name, wandb.config.lr, wandb.config["batch"])
wandb.finish()
'''


def test_a_wandb_script_with_one_changed_line_records_what_wandb_records(tmp_path):
    pytest.importorskip("wandb")
    ours, theirs = tmp_path / "ours.py", tmp_path / "theirs.py"
    theirs.write_text(SCRIPT)
    ours.write_text(SCRIPT.replace("import wandb\n", "from ol.integrations import wandb\n"))
    store, wandb_dir = tmp_path / "runs", tmp_path / "wandb-out"
    wandb_dir.mkdir()
    for script, where in ((ours, store), (theirs, wandb_dir)):
        done = subprocess.run([sys.executable, str(script), str(where)], capture_output=True, text=True,
                              env=offline_env(tmp_path), timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.split() == ["trial-1", "trial", "0.1", "32"]

    (info,) = open_snapshot(store).runs
    assert (info.experiment, info.run_id, info.name, info.tags, info.status) == ("shim", "trial-1", "trial", ["a"],
                                                                                 "completed")
    assert info.config_now == {"lr": 0.1, "layers": [2, 3], "batch": 32, "momentum": 0.9}
    assert (info.contract.main_metric, info.contract.direction) == ("val/acc", "higher")

    history = [row for row in history_of(wandb_dir, "trial-1") if "loss" in row]
    assert len(history) == 20
    rows = connect(store).query("SELECT step, epoch, source, name, value FROM metrics").to_pylist()
    got = {(r["step"], r["source"], r["name"]): r for r in rows}
    for row in history:
        step = row["_step"]
        for name in ("loss", "lr", "scale", "grad"):
            assert math.isclose(got[(step, "train", name)]["value"], row[name], rel_tol=1e-6), (step, name)
        assert math.isclose(got[(step, "eval", "val/acc")]["value"], row["val/acc"], rel_tol=1e-9)
        assert got[(step, "train", "loss")]["epoch"] == row["epoch"]
    watched = {r["step"] for r in rows if r["name"].startswith("gradients/")}
    assert watched == {9, 19}  # every 10th log call: each parameter's gradient norm
    con = connect(store)
    assert con.query("SELECT step, name FROM histograms").to_pylist() == [{"step": 20, "name": "weights"}]
    assert any("done: twenty steps" in n["message"] for n in con.query("SELECT message FROM notes").to_pylist())
    assert info.folded and info.summary == {"best_acc": 0.95}


def test_what_does_not_map_says_so_in_one_line(tmp_path):
    script = tmp_path / "artifact.py"
    script.write_text("import sys\nfrom ol.integrations import wandb\n"
                      "wandb.init(project='p', dir=sys.argv[1])\nwandb.log_artifact('model.pt')\n")
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "runs")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0 and "artifacts are not uploaded by ol" in done.stderr
    before_init = subprocess.run([sys.executable, "-c", "from ol.integrations import wandb; wandb.log({'a': 1})"],
                                 capture_output=True, text=True, timeout=120)
    assert before_init.returncode != 0 and "log() before wandb.init()" in before_init.stderr


def test_one_value_log_cannot_record_costs_only_itself_and_odd_config_values_are_text(tmp_path):
    """Hardening round three: {"loss": 2.0, "note": "x"} lost loss; config={"dev": torch.device("cpu")} made
    every later log() raise; a project W&B accepts raised."""
    import warnings as _warnings

    import torch

    from ol.integrations import wandb as shim
    from ol.store.log.reader import read_events

    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        run = shim.init(project="My Project (v2) " + "x" * 80, dir=str(tmp_path), config={"dev": torch.device("cpu"),
                                                                                           "nested": {"cls": int}})
        shim.log({"loss": 2.0, "note": object()}, step=0)
        shim.log({"loss": 1.0, "acc": 0.5}, step=1)
        shim.finish()
    experiment = run.project
    assert experiment.startswith("My-Project-v2") and len(experiment) <= 64
    events = [e for _, e in read_events(tmp_path / experiment / run.id / "log")]
    assert events[0].config == {"dev": "cpu", "nested": {"cls": "<class 'int'>"}}
    steps = {e.step: (e.loss, e.extra) for e in events if type(e).__name__ == "Step"}
    assert steps[0][0] == 2.0 and steps[1] == (1.0, {"acc": 0.5})
    assert any("'note' was not recorded" in getattr(e, "message", "") for e in events)


def test_values_the_store_has_no_kind_for_are_kept_and_no_logging_call_raises(tmp_path):
    """A video is kept as a file in the run's folder (the files view, with its hash), an object that is no value
    is said in a warning (the call's other values are recorded), log_code snapshots the code, mark_preempting is
    said in the log, and resume="must" of a run that does not exist is refused as W&B refuses it."""
    import warnings

    import numpy as np

    from ol.errors import UsageError
    from ol.integrations import wandb

    source = tmp_path / "src"
    (source / "pkg").mkdir(parents=True)
    (source / "pkg" / "train.py").write_text("print('train')\n")
    (source / "notes.txt").write_text("not code\n")
    store = tmp_path / "runs"
    assert wandb.run is None
    run = wandb.init(project="p", id="r1", dir=str(store))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        wandb.log({"clip": wandb.Video(np.zeros((2, 3, 4, 4), np.uint8)), "odd": object(), "loss": 1.0,
                   "caption": "a string", "vector": [1.0, 2.0, 3.0]})
    assert any("'odd' was not recorded" in str(w.message) for w in said)
    assert run.log_code(str(source)) == 1
    wandb.mark_preempting()
    wandb.finish()
    folder = Path(run.dir)
    assert (folder / "media" / "clip-1.npy").is_file() and (folder / "code" / "pkg" / "train.py").is_file()
    con = connect(store)
    assert con.query("SELECT name, step, value FROM metrics").to_pylist() == [{"name": "loss", "step": 0, "value": 1.0}]
    notes = [n["message"] for n in con.query("SELECT message FROM notes").to_pylist()]
    (clip,) = con.query("SELECT name, step, media, path, size, sha256 FROM files").to_pylist()
    assert (clip["name"], clip["step"], clip["media"], clip["path"]) == ("clip", 0, "video", "media/clip-1.npy")
    assert clip["sha256"] == sha256_file(folder / "media" / "clip-1.npy")
    assert verify_run(folder).ok
    (folder / "media" / "clip-1.npy").write_bytes(b"changed")  # ol verify vouches for it as for a checkpoint
    assert any("video file media/clip-1.npy" in p for p in verify_run(folder).problems)
    assert any("marked preempting" in n for n in notes) and any("code: 1 file(s)" in n for n in notes)
    assert con.query("SELECT name, shape FROM arrays").to_pylist() == [{"name": "vector", "shape": [3]}]
    with pytest.raises(UsageError, match="resume='must'"):
        wandb.init(project="p", id="never-was", resume="must", dir=str(store))


def test_a_step_metric_is_the_x_axis_every_reader_draws_against(tmp_path):
    """define_metric("val/acc", step_metric="batch") is kept in the run's contract, and the dashboard's
    /api/series, the notebook's metrics() and `ol plot curves --x` draw val/acc against batch's values."""
    from starlette.testclient import TestClient
    from typer.testing import CliRunner

    import ol
    from ol.cli.app import app
    from ol.consumers.ui.app import create_app
    from ol.integrations import wandb

    store = tmp_path / "runs"
    wandb.init(project="p", id="axes", dir=str(store))
    wandb.define_metric("batch")
    wandb.define_metric("val/acc", step_metric="batch")
    for i in range(6):
        wandb.log({"loss": 1.0 / (i + 1), "batch": 32 * i})
        if i % 2:
            wandb.log({"val/acc": i / 10, "batch": 32 * i + 16})
    wandb.finish()
    (info,) = open_snapshot(store).runs
    assert info.contract.axes == {"val/acc": "batch"}
    with TestClient(create_app(store), base_url="http://127.0.0.1") as client:
        body = client.get("/api/series", params={"runs": "p/axes", "metric": "eval/val/acc", "x": "train/batch"})
        curve = body.json()["runs"]["p/axes"]
        bad = client.get("/api/series", params={"runs": "p/axes", "metric": "eval/val/acc", "x": "batch"})
    assert curve["x"] == [48, 112, 176] and curve["y"] == pytest.approx([0.1, 0.3, 0.5])
    assert bad.status_code == 400 and "a metric (source/name)" in bad.json()["error"]
    points = ol.open(store).metrics(names=["val/acc"], x="batch").to_pylist()
    assert [p["x"] for p in points] == [48, 112, 176]
    out = tmp_path / "acc.png"
    plotted = CliRunner().invoke(app, ["plot", "curves", "p/axes", "--store", str(store), "-m", "val/acc",
                                       "--x", "batch", "--out", str(out)])
    assert plotted.exit_code == 0, plotted.output
    assert out.stat().st_size > 1000


PREEMPTED = '''
import os, signal, sys, time
from ol.integrations import wandb
wandb.init(project="p", id=sys.argv[2], dir=sys.argv[1])
wandb.log({"loss": 1.0})
if sys.argv[2] == "marked":
    wandb.mark_preempting()
print("ready", flush=True)
time.sleep(60)
'''


def test_a_run_marked_preempting_that_the_scheduler_stops_ends_interrupted_not_crashed(tmp_path):
    """W&B's mark_preempting: the scheduler's SIGTERM then ends the run *interrupted* (resumable) — unmarked, the
    same SIGTERM kills the script with its run left open, read as crashed."""
    import signal

    script = tmp_path / "job.py"
    script.write_text(PREEMPTED)
    store = tmp_path / "runs"
    for run_id in ("marked", "unmarked"):
        job = subprocess.Popen([sys.executable, str(script), str(store), run_id], stdout=subprocess.PIPE, text=True)
        try:
            assert job.stdout.readline().strip() == "ready"
            job.send_signal(signal.SIGTERM)
            job.wait(timeout=60)
        finally:
            job.kill()
            job.wait()
    status = {r.run_id: r.status for r in open_snapshot(store).runs}
    assert status == {"marked": "interrupted", "unmarked": "crashed"}
