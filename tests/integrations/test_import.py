"""`ol import`: sources written with the real clients (TensorBoard's SummaryWriter, Lightning's CSVLogger),
imported, and every value compared with what the source's own reader reads back; importing again adds
nothing; a cut-short event file imports up to the damage and says so."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from ol.cli.app import app
from ol.consumers.analytics.sql import connect
from ol.store.readmodel import list_runs
from ol.store.verify import verify_run

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

    runs = {r.name: r for r in list_runs(store)}
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
    assert len(list_runs(store)) == 2


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
    assert "damaged or cut short and were not imported" in result.output
    (run,) = list_runs(store)
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
    (run,) = list_runs(store)
    assert run.config_now == {"lr": 0.01, "model/width": 8}
    rows = connect(store).query("SELECT step, epoch, source, name, value FROM metrics ORDER BY step, name").to_pylist()
    assert len(rows) == 33
    assert {(r["step"], r["source"], r["value"]) for r in rows if r["name"] == "val_loss"} == {
        (9, "eval", 0.09), (19, "eval", 0.19), (29, "eval", 0.29)}
    assert all(r["value"] == 1 / (r["step"] + 1) and r["epoch"] == r["step"] // 10
               for r in rows if r["name"] == "train_loss")
    bad = runner.invoke(app, ["import", "csv", str(tmp_path / "nope.csv"), "--store", str(store)])
    assert bad.exit_code == 1 and "does not exist" in bad.output
