"""Live or sealed is the store's business (issue 37): a curve read while its run is live equals the same curve
read after it sealed — values and steps — for a run resumed once, through the dashboard's API and through SQL,
and the run's best says the same."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from ol.consumers.analytics.sql import connect
from ol.consumers.ui.app import create_app
from ol.producer.run import Run
from ol.schemas import Epoch, RunContract


def _read(store) -> dict:
    with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
        curves = {}
        for metric, x in (("train/loss", "step"), ("train/loss", "epoch"), ("eval/acc", "step"), ("train/acc", "step")):
            body = c.get("/api/series", params={"runs": "e/r", "metric": metric, "x": x, "width": 500}).json()
            run = body["runs"].get("e/r", {})
            curves[(metric, x)] = (run.get("x"), run.get("y"))
        best = c.get("/api/runs", params={"limit": 10}).json()["runs"][0]["main_best"]
    con = connect(store)
    sql = {name: con.query(f"SELECT step, value FROM metrics WHERE name = '{name}' ORDER BY step, source").to_pylist()
           for name in ("loss", "acc")}
    steps = con.query("SELECT step, epoch, loss FROM steps ORDER BY step").to_pylist()
    main = con.query("SELECT main_best FROM runs").to_pylist()[0]["main_best"]
    return {"curves": curves, "sql": sql, "steps": steps, "best": (best, main)}


@pytest.mark.parametrize("resume_at, fractional", [(4, False), (9, False), (9, True)])
def test_a_resumed_runs_curves_are_the_same_live_and_sealed(tmp_path, resume_at, fractional):
    """``fractional``: the epochs are step / 4 (0.25, 0.5 …), as a Trainer counts them."""

    def epoch(step):
        return step / 4 if fractional else step // 4

    store = tmp_path / "runs"
    run = Run.start(store=store, experiment="e", run_id="r", handle_signals=False,
                    contract=RunContract(main_metric="acc", direction="higher"))
    for step in range(12):  # the first stretch: steps past resume_at never happened
        run.log({"loss": 10.0 + step}, step=step, epoch=epoch(step))
        run.log({"acc": 0.9}, step=step, source="eval")
    run.emit(Epoch(epoch=2, step=11, metrics={"acc": 0.95}, eval=[]))
    run.close("interrupted")
    again = Run.resume(run.dir, step=resume_at, handle_signals=False)
    for step in range(resume_at + 1, 16):
        again.log({"loss": 100.0 + step}, step=step, epoch=epoch(step))
        again.log({"acc": step / 100}, step=step, source="eval")
    again.flush()
    live = _read(store)
    again.close()
    sealed = _read(store)
    assert live == sealed
    xs, ys = sealed["curves"][("train/loss", "step")]
    assert xs == list(range(16)) and ys[resume_at + 1] == 101.0 + resume_at  # the second stretch's values
    assert sealed["best"] == (0.9, 0.9)  # the epoch's 0.95 was past the resume: it never happened
    epochs, _ = sealed["curves"][("train/loss", "epoch")]
    assert epochs == [epoch(s) for s in range(16)]


def test_one_clock_across_resumes_for_the_dashboard_the_notebook_and_plots(tmp_path):
    """A resumed run's second stretch restarts its clock at 0: every reader's time axis adds it after the first
    (the dashboard's, `metrics(x="time")`, `ol plot --x time`), and they give the same seconds."""
    import time

    import ol
    from ol.consumers.analytics.metric_names import MetricId
    from ol.consumers.analytics.points import points

    store = tmp_path / "runs"
    run = Run.start(store=store, experiment="e", run_id="r", handle_signals=False)
    for step in range(6):
        run.log({"loss": float(step)}, step=step)
        time.sleep(0.02)
    run.close("interrupted")
    again = Run.resume(run.dir, step=5, handle_signals=False)
    for step in range(6, 12):
        again.log({"loss": float(step)}, step=step)
        time.sleep(0.02)
    again.close()
    with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
        body = c.get("/api/series", params={"runs": "e/r", "metric": "train/loss", "x": "time", "width": 500}).json()
    dashboard = body["runs"]["e/r"]["x"]
    notebook = ol.open(store).metrics(names="loss", x="time").column("x").to_pylist()
    plotted = points(connect(store), MetricId("train", "loss"), "time")["r"][0].tolist()
    assert len(dashboard) == len(notebook) == len(plotted) == 12
    assert dashboard == pytest.approx(notebook) and notebook == pytest.approx(plotted)
    assert notebook == sorted(notebook), "the second stretch counts after the first"
    assert notebook[-1] > 1.5 * notebook[5]
