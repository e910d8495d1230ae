"""A real lightning.Trainer with OlLogger: what Lightning logged (read back from its own CSVLogger, run
beside ours) is in the store at the same steps with the same values and the right sources; checkpoints
are events whose hashes match the files; a failing training_step ends the run failed."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

lightning = pytest.importorskip("lightning.pytorch")
import torch  # noqa: E402

from ol.consumers.analytics.sql import connect  # noqa: E402
from ol.integrations.lightning import OlLogger  # noqa: E402
from ol.store.log.verify import sha256_file, verify_run  # noqa: E402
from ol.store.read.snapshot import open_snapshot  # noqa: E402


class Regression(lightning.LightningModule):
    def __init__(self, lr: float = 0.05, model: dict | None = None, fail_at: int = -1):
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, index):
        if self.global_step == self.hparams.fail_at:
            raise RuntimeError("the loss went to the moon")
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, index):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def _data(seed: int) -> torch.utils.data.DataLoader:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)


def _trainer(loggers, callbacks=(), epochs: int = 2) -> lightning.Trainer:
    return lightning.Trainer(max_epochs=epochs, logger=loggers, callbacks=list(callbacks), log_every_n_steps=1,
                             enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
                             default_root_dir=None)


def test_what_lightning_logs_is_in_the_store_with_its_steps_values_and_sources(tmp_path):
    store = tmp_path / "runs"
    ours = OlLogger(store=store, experiment="lit", name="first try", tags=["demo"])
    theirs = lightning.loggers.CSVLogger(tmp_path / "csv", name="lit")
    checkpoints = lightning.callbacks.ModelCheckpoint(monitor="val_loss", mode="min", save_top_k=1, save_last=True)
    _trainer([ours, theirs], [checkpoints]).fit(Regression(model={"width": 4, "act": "relu"}), _data(0), _data(1))

    (info,) = open_snapshot(store).runs
    assert (info.status, info.name, info.tags, info.run_id) == ("completed", "first try", ["demo"], ours.version)
    assert info.config_now["lr"] == 0.05 and info.config_now["model/width"] == 4 and info.config_now["fail_at"] == -1
    assert (info.contract.main_metric, info.contract.direction, info.contract.total_epochs) == ("val_loss", "lower", 2)

    expected = set()
    with open(tmp_path / "csv" / "lit" / "version_0" / "metrics.csv") as f:
        for row in csv.DictReader(f):
            for name in ("train_loss", "val_loss"):
                if row.get(name):
                    expected.add((int(row["step"]), "eval" if name == "val_loss" else "train", name,
                                  float(row[name])))
    assert {s for _, s, _, _ in expected} == {"train", "eval"}
    rows = connect(store).query("SELECT step, source, name, value FROM metrics WHERE name IN "
                                "('train_loss', 'val_loss')").to_pylist()
    got = {(r["step"], r["source"], r["name"], r["value"]) for r in rows}
    assert len(got) == len(expected)
    for step, source, name, value in sorted(expected):
        match = [g for g in got if g[:3] == (step, source, name)]
        assert len(match) == 1 and math.isclose(match[0][3], value, rel_tol=1e-6), (step, source, name, match)

    events = connect(store).query("SELECT path, sha256, reason FROM checkpoints").to_pylist()
    assert {e["reason"] for e in events} == {"best", "periodic"}
    newest = {e["path"]: e for e in events}  # last.ckpt is rewritten in place, and recorded each time
    kept = [e for e in newest.values() if (info.dir / e["path"]).is_file()]  # save_top_k=1 prunes the others
    assert all(sha256_file(info.dir / e["path"]) == e["sha256"] for e in kept) and len(kept) == 2
    best = checkpoints.best_model_path
    assert any(info.dir / e["path"] == Path(best) and e["reason"] == "best" for e in kept), (best, events)
    assert verify_run(info.dir).ok  # a pruned checkpoint is a note of verify, not a problem


def test_a_failing_training_step_ends_the_run_failed_and_test_continues_a_finished_run(tmp_path):
    store = tmp_path / "runs"
    failing = OlLogger(store=store, experiment="lit", run_id="boom")
    with pytest.raises(RuntimeError, match="moon"):
        _trainer(failing).fit(Regression(fail_at=3), _data(0), _data(1))
    (info,) = open_snapshot(store).runs
    assert info.status == "failed" and "moon" in info.error and info.last_step == 2

    logger = OlLogger(store=store, experiment="lit", run_id="fit-then-test")
    trainer = _trainer(logger, epochs=1)
    module = Regression()
    trainer.fit(module, _data(0), _data(1))
    trainer.validate(module, _data(2))
    run = {r.run_id: r for r in open_snapshot(store).runs}["fit-then-test"]
    assert run.status == "completed"
    validated = connect(store).query("SELECT count(*) AS n FROM metrics WHERE run_id = 'fit-then-test' AND "
                                     "source = 'eval'").to_pylist()
    assert validated == [{"n": 2}]  # one after the epoch of fit, one of trainer.validate, in the same run


def test_ctrl_c_in_training_ends_the_run_interrupted(tmp_path):
    """Lightning handles a KeyboardInterrupt itself (finalize("failed"), then exit 1): the run says interrupted."""
    import signal

    class Interrupted(Regression):
        def training_step(self, batch, index):
            if self.global_step == 2:
                raise KeyboardInterrupt
            return super().training_step(batch, index)

    before = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit):
            _trainer(OlLogger(store=tmp_path / "runs", experiment="lit", run_id="ctrl-c")).fit(
                Interrupted(), _data(0), _data(1))
    finally:
        signal.signal(signal.SIGINT, before)  # Lightning ignores SIGINT while it shuts down; not for later tests
    (info,) = open_snapshot(tmp_path / "runs").runs
    assert info.status == "interrupted" and info.last_step == 1


def test_sigterm_in_training_ends_the_run_interrupted_not_failed(tmp_path):
    """SIGTERM is how Slurm preempts and ends a job at its time limit: Lightning raises SIGTERMException, and the
    run is interrupted (hardening round three: it was recorded failed)."""
    import os
    import signal

    class Preempted(Regression):
        def training_step(self, batch, index):
            if self.global_step == 2:
                os.kill(os.getpid(), signal.SIGTERM)
            return super().training_step(batch, index)

    before = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(BaseException):  # noqa: B017 - Lightning's SIGTERMException or its SystemExit
            _trainer(OlLogger(store=tmp_path / "runs", experiment="lit", run_id="term")).fit(
                Preempted(), _data(0), _data(1))
    finally:
        signal.signal(signal.SIGTERM, before)
    (info,) = open_snapshot(tmp_path / "runs").runs
    assert info.status == "interrupted" and "SIGTERM" in info.error


def test_the_best_of_a_lightning_runs_monitored_metric_is_what_every_reader_says(tmp_path):
    """Issue 37: a main metric logged the way Lightning logs it (self.log("val_loss") → an eval scalar) has its
    best in `ol runs`, the runs view and summary.json — it was empty in the first two."""
    import json

    from typer.testing import CliRunner

    from ol.cli.app import app

    store = tmp_path / "runs"
    checkpoint = lightning.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor="val_loss", mode="min")
    ours = OlLogger(store=store, experiment="lit", run_id="best")
    theirs = lightning.loggers.CSVLogger(tmp_path / "csv", name="lit")
    _trainer([ours, theirs], [checkpoint], epochs=3).fit(Regression(), _data(0), _data(1))
    with open(Path(theirs.log_dir) / "metrics.csv") as f:
        logged = [float(r["val_loss"]) for r in csv.DictReader(f) if r.get("val_loss")]
    assert len(logged) == 3
    listed = json.loads(CliRunner().invoke(app, ["runs", "-f", "json", "--store", str(store)]).output)
    assert listed[0]["main_metric"] == "val_loss" and math.isclose(listed[0]["main_best"], min(logged), abs_tol=1e-6)
    (row,) = connect(store).query("SELECT main_best FROM runs").to_pylist()
    assert math.isclose(row["main_best"], min(logged), rel_tol=1e-6)
    summary = json.loads((ours.run_dir / "summary.json").read_text())
    assert math.isclose(summary["main_best"], min(logged), rel_tol=1e-6)


def test_a_script_run_again_with_its_run_id_continues_the_run_and_its_page_says_so(tmp_path):
    """The dashboard offers `ol train --resume` only for ol train's runs; a Lightning run is continued by running
    its script again with its id — which does continue it (one run, resumed, the second fit's steps after the
    first's)."""
    from starlette.testclient import TestClient

    from ol.consumers.ui.app import create_app

    store = tmp_path / "runs"
    for _ in range(2):
        _trainer([OlLogger(store=store, experiment="lit", run_id="again")], epochs=1).fit(Regression(), _data(0),
                                                                                          _data(1))
    (run,) = open_snapshot(store).runs
    assert run.run_id == "again" and run.recorder == "lightning" and run.status == "completed"
    kinds = [r["kind"] for r in connect(store).query("SELECT kind FROM events ORDER BY seq").to_pylist()]
    assert kinds.count("run_started") == 1 and kinds.count("run_resumed") == 1
    with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
        commands = c.get("/api/run/lit/again").json()["commands"]
    assert commands["resume"] == 'run its script again with OlLogger(..., run_id="again")'
    assert "reproduce" not in commands


def test_each_epoch_of_fit_is_an_epoch_record_that_ol_tail_prints_and_curves_count_once(tmp_path):
    """Issue 38: a Lightning run's epochs are epoch records restating what it logged in each (the epochs view,
    `ol tail`), while its curves and SQL's metrics hold each logged value once."""
    from typer.testing import CliRunner

    from ol.cli.app import app

    store = tmp_path / "runs"
    ours = OlLogger(store=store, experiment="lit", run_id="epochs")
    theirs = lightning.loggers.CSVLogger(tmp_path / "csv", name="lit")
    _trainer([ours, theirs], epochs=3).fit(Regression(), _data(0), _data(1))
    with open(Path(theirs.log_dir) / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    val = [float(r["val_loss"]) for r in rows if r.get("val_loss")]
    last_train = {int(r["epoch"]): float(r["train_loss"]) for r in rows if r.get("train_loss")}  # each epoch's last

    epochs = connect(store).query("SELECT epoch, val_loss, train_loss FROM epochs ORDER BY epoch").to_pylist()
    assert [e["epoch"] for e in epochs] == [0, 1, 2]
    assert [e["val_loss"] for e in epochs] == pytest.approx(val, rel=1e-6)
    assert [e["train_loss"] for e in epochs] == pytest.approx([last_train[i] for i in range(3)], rel=1e-6)
    counted = connect(store).query("SELECT count(*) AS n FROM metrics WHERE name = 'val_loss'").to_pylist()
    assert counted == [{"n": 3}]  # the three validations, not doubled by the records restating them

    tail = CliRunner().invoke(app, ["tail", "lit/epochs", "--store", str(store)])
    assert tail.exit_code == 0, tail.output
    lines = [ln for ln in tail.output.splitlines() if ln.startswith("epoch ") and "val_loss" in ln]
    assert len(lines) == 3 and f"val_loss {val[-1]:.4f}" in lines[-1]
