"""One "best" (issue 37): the main metric's best value is computed once, by the fold, wherever the run logged it,
and every reader — `ol runs`, the runs view, summary.json, the dashboard's table, the sweep status — says the
same number, for a live run as for a sealed one."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from ol.cli.app import app
from ol.consumers.analytics.sql import connect
from ol.consumers.ui.app import create_app
from ol.producer.run import Run
from ol.schemas import RunContract

runner = CliRunner()
VALUES = [0.2, 0.9, 0.5, 0.7, 0.6]  # the best (0.9) is neither the first nor the final


def _answers(store) -> dict:
    listed = json.loads(runner.invoke(app, ["runs", "-f", "json", "--store", str(store)]).output)
    rows = connect(store).query("SELECT run_id, main_best, main_best_epoch, main_final FROM runs").to_pylist()
    with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
        page = c.get("/api/runs", params={"limit": 50}).json()["runs"]
    return {"runs": {r["run_id"]: r["main_best"] for r in listed}, "sql": {r["run_id"]: r["main_best"] for r in rows},
            "api": {r["run_id"]: r["main_best"] for r in page}}


@pytest.mark.parametrize("source", ["train", "eval"])
def test_a_main_metric_logged_with_run_log_has_its_best_everywhere_live_and_sealed(tmp_path, source):
    store = tmp_path / "runs"
    run = Run.start(store=store, experiment="own", run_id="r", handle_signals=False,
                    contract=RunContract(main_metric="val_acc", direction="higher"))
    for step, value in enumerate(VALUES):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
        run.log({"val_acc": value}, step=step, source=source)
    run.flush()
    live = _answers(store)
    assert live == {"runs": {"r": 0.9}, "sql": {"r": 0.9}, "api": {"r": 0.9}}, live
    run.close()
    assert _answers(store) == live
    summary = json.loads((run.dir / "summary.json").read_text())  # every run gets it at its end, not only ol train's
    assert summary["main_best"] == 0.9 and summary["main_metric"] == "val_acc"


def test_a_resumed_run_forgets_the_best_of_the_stretch_it_abandoned(tmp_path):
    store = tmp_path / "runs"
    run = Run.start(store=store, experiment="own", run_id="r", handle_signals=False,
                    contract=RunContract(main_metric="val_acc", direction="higher"))
    for step, value in enumerate(VALUES):
        run.log({"val_acc": value}, step=step)
    run.close("interrupted")
    again = Run.resume(run.dir, step=0, handle_signals=False)  # steps 1… never happened
    for step in range(1, 4):
        again.log({"val_acc": 0.3}, step=step)
    again.close()
    assert _answers(store) == {"runs": {"r": 0.3}, "sql": {"r": 0.3}, "api": {"r": 0.3}}
