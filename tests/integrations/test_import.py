"""`ol import`: sources written with the real clients (TensorBoard's SummaryWriter, Lightning's CSVLogger),
imported, and every value compared with what the source's own reader reads back; importing again adds
nothing; a cut-short event file imports up to the damage and says so."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from ol.cli.app import app
from ol.consumers.analytics.sql import connect
from ol.store.log.verify import verify_run
from ol.store.read.snapshot import open_snapshot

runner = CliRunner()


def _tensorboard_runs(root) -> None:
    from torch.utils.tensorboard import SummaryWriter

    for name, scale in (("run_a", 1.0), ("nested/run_b", 2.0)):
        writer = SummaryWriter(str(root / name))
        for step in range(50):
            writer.add_scalar("loss", scale / (step + 1), step)
            if step % 10 == 9:
                writer.add_scalar("val/acc", step / 50, step)
        writer.add_histogram("weights", np.arange(100.0) * scale, 25)
        writer.add_image("sample", np.full((3, 4, 6), 0.5), 5)
        writer.close()


def _accumulated(folder) -> dict:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0, "images": 0})
    acc.Reload()
    return {(tag, e.step): (e.value, e.wall_time) for tag in acc.Tags()["scalars"] for e in acc.Scalars(tag)}


def test_tensorboard_runs_import_with_their_steps_values_and_wall_times(tmp_path):
    pytest.importorskip("tensorboard")
    source, store = tmp_path / "tb", tmp_path / "runs"
    _tensorboard_runs(source)
    result = runner.invoke(app, ["import", "tensorboard", str(source), "--store", str(store), "-e", "old"])
    assert result.exit_code == 0, result.output
    assert result.output.count("imported ") == 2

    runs = {r.name: r for r in open_snapshot(store).runs}
    assert set(runs) == {"run_a", "nested/run_b"} and all(r.tags == ["imported:tensorboard"] for r in runs.values())
    con = connect(store)
    for name, run in runs.items():
        expected = _accumulated(source / name)
        assert len(expected) == 55
        rows = con.query(f"SELECT m.step, m.source, m.name, m.value, s.time FROM metrics m LEFT JOIN steps s "
                         f"ON s.run_id = m.run_id AND s.step = m.step WHERE m.run_id = '{run.run_id}'").to_pylist()
        got = {(r["name"], r["step"]): r for r in rows}
        assert set(got) == set(expected)
        for (tag, step), (value, wall) in expected.items():
            assert got[(tag, step)]["value"] == value
            assert got[(tag, step)]["source"] == ("eval" if tag == "val/acc" else "train")
            if tag == "loss":  # the step's time, from its first event: the run's start plus its offset
                assert math.isclose(run.started_at + got[(tag, step)]["time"], wall, abs_tol=1e-6)
        assert con.query(f"SELECT step, name, count FROM histograms WHERE run_id = '{run.run_id}'").to_pylist() == [
            {"step": 25, "name": "weights", "count": 100}]
        assert con.query(f"SELECT step, width, height FROM images WHERE run_id = '{run.run_id}'").to_pylist() == [
            {"step": 5, "width": 6, "height": 4}]
        assert verify_run(run.dir).ok

    again = runner.invoke(app, ["import", "tensorboard", str(source), "--store", str(store), "-e", "old"])
    assert again.exit_code == 0 and again.output.count("already imported") == 2
    assert len(open_snapshot(store).runs) == 2


def test_a_cut_short_event_file_imports_up_to_the_damage_and_says_so(tmp_path):
    pytest.importorskip("tensorboard")
    source, store = tmp_path / "tb", tmp_path / "runs"
    _tensorboard_runs(source)
    damaged = tmp_path / "damaged" / "run_a"
    shutil.copytree(source / "run_a", damaged)
    (events,) = damaged.glob("events.out.tfevents.*")
    data = events.read_bytes()
    events.write_bytes(data[:1200])  # within the scalars: about the first half of them
    result = runner.invoke(app, ["import", "tensorboard", str(damaged), "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "damaged, cut short or too large and were not imported" in result.output
    (run,) = open_snapshot(store).runs
    (count,) = connect(store).query("SELECT count(*) AS n FROM metrics").to_pylist()
    assert 0 < count["n"] < 55
    assert any("cut short" in n["message"] for n in connect(store).query("SELECT message FROM notes").to_pylist())


def test_a_lightning_csv_imports_with_its_hyperparameters(tmp_path):
    lightning = pytest.importorskip("lightning.pytorch")
    logger = lightning.loggers.CSVLogger(tmp_path / "logs", name="lit")
    logger.log_hyperparams({"lr": 0.01, "model": {"width": 8}})
    for step in range(30):
        logger.log_metrics({"train_loss": 1 / (step + 1), "epoch": step // 10}, step)
        if step % 10 == 9:
            logger.log_metrics({"val_loss": step / 100, "epoch": step // 10}, step)
    logger.save()
    logger.finalize("success")
    metrics = tmp_path / "logs" / "lit" / "version_0" / "metrics.csv"
    store = tmp_path / "runs"
    result = runner.invoke(app, ["import", "csv", str(metrics), "--store", str(store)])
    assert result.exit_code == 0, result.output
    (run,) = open_snapshot(store).runs
    assert run.config_now == {"lr": 0.01, "model/width": 8}
    rows = connect(store).query("SELECT step, epoch, source, name, value FROM metrics ORDER BY step, name").to_pylist()
    assert len(rows) == 33
    assert {(r["step"], r["source"], r["value"]) for r in rows if r["name"] == "val_loss"} == {
        (9, "eval", 0.09), (19, "eval", 0.19), (29, "eval", 0.29)}
    assert all(r["value"] == 1 / (r["step"] + 1) and r["epoch"] == r["step"] // 10
               for r in rows if r["name"] == "train_loss")
    from starlette.testclient import TestClient

    from ol.consumers.ui.app import create_app

    with TestClient(create_app(store), base_url="http://127.0.0.1") as client:  # a CSV has no clock: no time axis
        asked = {"runs": f"csv/{run.run_id}", "metric": "train/train_loss"}
        assert len(client.get("/api/series", params=asked).json()["runs"][f"csv/{run.run_id}"]["x"]) == 30
        assert client.get("/api/series", params={**asked, "x": "time"}).json()["runs"][f"csv/{run.run_id}"]["x"] == []
    bad = runner.invoke(app, ["import", "csv", str(tmp_path / "nope.csv"), "--store", str(store)])
    assert bad.exit_code == 1 and "does not exist" in bad.output


WANDB_SCRIPT = '''
import sys
from pathlib import Path
import numpy as np
import wandb

for run_id, code in (("good-1", 0), ("bad-1", 1)):
    run = wandb.init(project="legacy", id=run_id, name=f"name-{run_id}", group="g1", tags=["old"],
                     config={"lr": 0.1, "opt": {"name": "adam"}}, dir=sys.argv[1])
    for step in range(20):
        wandb.log({"loss": 1.0 / (step + 1), "val/acc": step / 20})
    wandb.log({"weights": wandb.Histogram(np_histogram=([1, 2, 3], [0.0, 1.0, 2.0, 3.0]))})
    red = np.zeros((8, 6, 3), dtype=np.uint8)
    red[..., 0] = 255
    wandb.log({"sample": wandb.Image(red, caption="red")})
    wandb.log({"grid": [wandb.Image(red), wandb.Image(red)]})
    wandb.log({"preds": wandb.Table(columns=["x", "y"], data=[[1, "a"], [2, "b"]])})
    points = wandb.Table(columns=["s", "v"], data=[[0, 1.0], [1, 0.5]])
    wandb.log({"curve": wandb.plot.line(points, "s", "v", title="a curve")})
    clip = Path(sys.argv[1]) / "clip.mp4"
    clip.write_bytes(b"not really a video")
    wandb.log({"page": wandb.Html("<b>epoch 25</b>"), "clip": wandb.Video(str(clip), caption="a clip")})
    wandb.summary["best"] = 0.9
    wandb.finish(exit_code=code)
'''


def test_wandb_offline_runs_import_with_history_summary_and_how_they_ended(tmp_path):
    pytest.importorskip("wandb")
    import os
    import subprocess
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1]))
    from wandb_records import history_of

    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true")
    for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        env[name] = str(tmp_path / name.lower())
        Path(env[name]).mkdir()
    script, out = tmp_path / "legacy.py", tmp_path / "out"
    script.write_text(WANDB_SCRIPT)
    out.mkdir()
    done = subprocess.run([sys.executable, str(script), str(out)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    store = tmp_path / "runs"
    result = runner.invoke(app, ["import", "wandb", str(out), "--store", str(store)])
    assert result.exit_code == 0, result.output
    runs = {r.name: r for r in open_snapshot(store).runs}
    assert set(runs) == {"name-good-1", "name-bad-1"}
    good, bad = runs["name-good-1"], runs["name-bad-1"]
    assert (good.experiment, good.group, good.tags, good.status) == ("legacy", "g1", ["old", "imported:wandb"],
                                                                     "completed")
    assert bad.status == "failed" and "exit code 1" in bad.error
    assert good.config_now == {"lr": 0.1, "opt": {"name": "adam"}}
    con = connect(store)
    rows = con.query(f"SELECT m.step, m.source, m.name, m.value, s.time FROM metrics m JOIN steps s ON "
                     f"s.run_id = m.run_id AND s.step = m.step WHERE m.run_id = '{good.run_id}'").to_pylist()
    got = {(r["step"], r["name"]): r for r in rows if r["name"] in ("loss", "val/acc")}
    history = [h for h in history_of(out, "good-1") if "loss" in h]
    assert len(history) == 20 and len(got) == 40
    for h in history:
        assert got[(h["_step"], "loss")]["value"] == h["loss"]
        assert got[(h["_step"], "val/acc")]["source"] == "eval"
        assert math.isclose(good.started_at + got[(h["_step"], "loss")]["time"], h["_timestamp"], abs_tol=1e-6)
    assert con.query(f"SELECT step, counts FROM histograms WHERE run_id = '{good.run_id}'").to_pylist() == [
        {"step": 20, "counts": [1.0, 2.0, 3.0]}]
    # images (one, or a list as name/0, name/1) and tables (a wandb.Table, a wandb.plot chart's data) come along
    images = con.query(f"SELECT step, name, width, height, caption FROM images WHERE run_id = '{good.run_id}' "
                       "ORDER BY step, name").to_pylist()
    assert [(i["step"], i["name"], i["width"], i["height"]) for i in images] == [
        (21, "sample", 6, 8), (22, "grid/0", 6, 8), (22, "grid/1", 6, 8)]
    assert images[0]["caption"] == "red"
    tables = {r["name"]: (r["step"], r["columns"], json.loads(r["data"])) for r in con.query(
        f"SELECT step, name, columns, data FROM tables WHERE run_id = '{good.run_id}'").to_pylist()}
    assert tables["preds"] == (23, ["x", "y"], [[1, "a"], [2, "b"]])
    assert [t for t in tables.values() if t[0] == 24] == [(24, ["s", "v"], [[0, 1.0], [1, 0.5]])]
    # videos and HTML pages come along as files of the run, with their hashes (ol verify vouches for them)
    files = {f["name"]: f for f in con.query(f"SELECT step, name, media, path, caption FROM files WHERE run_id = "
                                             f"'{good.run_id}'").to_pylist()}
    assert {n: (f["step"], f["media"]) for n, f in files.items()} == {"page": (25, "html"), "clip": (25, "video")}
    assert (good.dir / files["clip"]["path"]).read_bytes() == b"not really a video"
    assert files["clip"]["caption"] == "a clip"
    assert "epoch 25" in (good.dir / files["page"]["path"]).read_text() and verify_run(good.dir).ok
    assert "not imported" not in result.output, result.output
    assert good.folded and good.summary["best"] == 0.9
    again = runner.invoke(app, ["import", "wandb", str(out), "--store", str(store)])
    assert again.output.count("already imported") == 2


MLFLOW_SCRIPT = '''
import sys
import mlflow

mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("grok runs")
for name, fail in (("lr-small", False), ("lr-big", True)):
    with mlflow.start_run(run_name=name) as run:
        mlflow.log_params({"lr": 0.01 if not fail else 1.0, "optimizer": "adam"})
        mlflow.set_tag("team", "order")
        for step in range(25):
            mlflow.log_metric("train_loss", 1.0 / (step + 1), step=step)
            if step % 5 == 4:
                mlflow.log_metric("val_loss", step / 100, step=step)
        if fail:
            mlflow.end_run(status="FAILED")
'''


@pytest.mark.parametrize("backend", ["sqlite", "files"])
def test_mlflow_runs_import_with_params_metrics_and_status(tmp_path, backend, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    import os
    import subprocess
    import sys

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps its file store behind this switch

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}" if backend == "sqlite" else str(tmp_path / "mlruns")
    script = tmp_path / "log.py"
    script.write_text(MLFLOW_SCRIPT)
    done = subprocess.run([sys.executable, str(script), uri], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-2000:]
    store = tmp_path / "runs"
    result = runner.invoke(app, ["import", "mlflow", uri, "--store", str(store)])
    assert result.exit_code == 0, result.output
    runs = {r.name: r for r in open_snapshot(store).runs}
    assert set(runs) == {"lr-small", "lr-big"} and {r.experiment for r in runs.values()} == {"grok-runs"}
    small, big = runs["lr-small"], runs["lr-big"]
    assert small.status == "completed" and big.status == "failed"
    assert small.config_now == {"lr": 0.01, "optimizer": "adam"} and "team=order" in small.tags

    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    (found,) = client.search_runs([client.get_experiment_by_name("grok runs").experiment_id],
                                  filter_string="attributes.run_name = 'lr-small'")
    con = connect(store)
    rows = con.query(f"SELECT m.step, m.source, m.name, m.value, s.time FROM metrics m LEFT JOIN steps s ON "
                     f"s.run_id = m.run_id AND s.step = m.step WHERE m.run_id = '{small.run_id}'").to_pylist()
    got = {(r["name"], r["step"]): r for r in rows}
    for key in ("train_loss", "val_loss"):
        history = client.get_metric_history(found.info.run_id, key)
        assert len(history) == (25 if key == "train_loss" else 5)
        for m in history:
            assert got[(key, m.step)]["value"] == m.value
            assert got[(key, m.step)]["source"] == ("eval" if key == "val_loss" else "train")
        if key == "train_loss":
            assert all(math.isclose(small.started_at + got[(key, m.step)]["time"], m.timestamp / 1000,
                                    abs_tol=0.0015) for m in history)
    again = runner.invoke(app, ["import", "mlflow", uri, "--store", str(store)])
    assert again.output.count("already imported") == 2


def test_a_summary_writers_folder_imports_whole_as_one_run(tmp_path):
    """What TensorBoard is used for, written by the real SummaryWriter: scalars, histograms at torch's default
    bins (~600: rebinned exactly to at most 512), images, text, add_scalars' folders and add_hparams' folder
    (both the writer's run, not runs of their own) and Lightning's hparams.yaml beside the files."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    source, store = tmp_path / "tb" / "version_0", tmp_path / "runs"
    writer = SummaryWriter(str(source))
    rng = np.random.default_rng(0)
    for step in range(3):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
        writer.add_histogram("weights", rng.normal(size=5000), step)
    writer.add_image("sample", np.full((3, 4, 6), 0.5), 1)
    writer.add_text("prompt", "the quick brown fox", 2)
    writer.add_scalars("lr", {"head": 0.1, "body": 0.01}, 0)
    writer.add_hparams({"lr": 0.1, "optimizer": "adam"}, {"hparam/acc": 0.75})
    writer.close()
    (source / "hparams.yaml").write_text("batch_size: 32\nlr: 0.5\n")  # add_hparams' lr has the last word

    result = runner.invoke(app, ["import", "tensorboard", str(source.parent), "--store", str(store)])
    assert result.exit_code == 0 and result.output.count("imported ") == 1, result.output
    (run,) = open_snapshot(store).runs
    assert run.config == {"batch_size": 32, "lr": 0.1, "optimizer": "adam"}
    con = connect(store)
    rows = con.query("SELECT name, step, value FROM metrics").to_pylist()
    metrics = {(r["name"], r["step"]): r["value"] for r in rows}
    assert metrics == pytest.approx({("loss", 0): 1.0, ("loss", 1): 0.5, ("loss", 2): 1 / 3, ("lr/head", 0): 0.1,
                                     ("lr/body", 0): 0.01, ("hparam/acc", 0): 0.75}, rel=1e-6)  # float32 in TB

    acc = EventAccumulator(str(source), size_guidance={"histograms": 0, "tensors": 0})
    acc.Reload()
    got = con.query("SELECT step, edges, counts, count FROM histograms ORDER BY step").to_pylist()
    assert [r["step"] for r in got] == [0, 1, 2]
    for row, event in zip(got, acc.Histograms("weights"), strict=True):
        h = event.histogram_value
        counts, limits = np.array(h.bucket), np.array(h.bucket_limit)
        assert len(counts) > 512  # torch's default bins: the case the store could not hold before
        k = -(-len(counts) // 512)
        assert row["counts"] == np.add.reduceat(counts, np.arange(0, len(counts), k)).tolist()
        edges = np.r_[h.min, limits[:-1], h.max]
        assert row["edges"] == np.r_[edges[::k], [] if (len(edges) - 1) % k == 0 else [edges[-1]]].tolist()
        assert row["count"] == h.num == 5000 and sum(row["counts"]) == 5000
    (text,) = con.query("SELECT step, name, columns, data FROM tables").to_pylist()
    assert (text["step"], text["name"], text["columns"]) == (2, "prompt", ["text"])
    assert json.loads(text["data"]) == [["the quick brown fox"]]
    assert con.query("SELECT step, width, height FROM images").to_pylist() == [{"step": 1, "width": 6, "height": 4}]
    assert "rebinned" in result.output  # the original bin count is said
