"""`ol ui`'s API in process (Starlette's test client): values that match the events, spikes that survive
downsampling, groups whose mean is the mean of the seeds, one-line 400s, nothing outside the store."""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

from ol.consumers.ui.api import Dashboard, LiveStream
from ol.consumers.ui.app import create_app
from ol.producer import Run
from ol.schemas import Epoch
from ol.store.read.downsample import downsample
from ol.store.read.intervals import estimate

sys.path.insert(0, str(Path(__file__).parents[1]))
import damage  # noqa: E402

RUNS = "exp/r-stride-1,exp/r-stride-2,exp/r-random-1"


@pytest.fixture
def client(store):
    with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
        yield c


def test_downsampling_keeps_a_one_step_spike_and_bounds_the_points():
    """M4 over a chart's columns (a sealed run's coarse levels are the same, made ahead: see the long-run test)."""
    rng = np.random.default_rng(0)
    x = np.arange(100_000, dtype=float)
    y = rng.random(100_000)
    y[77_777] = 50.0
    y[12_345] = -9.0
    y[50_000] = np.nan
    for width in (50, 400, 1000):
        xs, ys = downsample(x, y, 0, 99_999, width)
        assert len(xs) <= 4 * width + 2
        assert 77_777 in xs and 12_345 in xs, "an extreme was thinned away"
        assert np.nanmax(ys) == 50.0 and np.nanmin(ys) == -9.0
        assert np.all(np.diff(xs) > 0)
    xs, _ = downsample(x, y, 49_990, 50_010, 800)
    assert 50_000 in xs, "a NaN point inside a zoomed range was dropped"
    # zoomed in far enough, every raw point comes back
    xs, ys = downsample(x, y, 1000, 1999, 800)
    assert np.array_equal(xs[1:-1], x[1000:2000]) and np.array_equal(ys[1:-1], y[1000:2000])


def test_runs_lists_every_run_with_status_config_and_final_values(client):
    body = client.get("/api/runs").json()
    rows = {r["run_id"]: r for r in body["runs"]}
    assert set(rows) == {"r-stride-1", "r-stride-2", "r-random-1"}
    assert all(r["status"] == "completed" and r["last_step"] == 30 for r in rows.values())
    assert rows["r-stride-2"]["config"] == {"lr": 0.1, "width": 10}
    assert rows["r-stride-1"]["final"]["eval/test_acc"] == 1.0
    # the resumed run's final loss is the resumed stretch's (offset 100), not the abandoned one's
    assert rows["r-random-1"]["final"]["train/loss"] == pytest.approx(1 / 31 + 0.01 + 100)
    assert body["config_keys"] == ["lr", "width"]
    filtered = client.get("/api/runs", params={"where": "width = 10 AND status = 'completed'"}).json()
    assert [r["run_id"] for r in filtered["runs"]] == ["r-stride-2"]


def test_series_are_the_logged_values_after_the_resume_projection(client):
    body = client.get("/api/series", params={"runs": RUNS, "metric": "train/loss"}).json()
    for key, seed, offset_after in (("exp/r-stride-1", 1, None), ("exp/r-random-1", 1, 15)):
        run = body["runs"][key]
        assert run["x"] == list(range(1, 31))
        expected = [_loss(seed, s) + (100.0 if offset_after and s > offset_after else 0.0) for s in range(1, 31)]
        assert run["y"] == pytest.approx(expected, rel=0, abs=0)
    epochs = client.get("/api/series", params={"runs": RUNS, "metric": "eval/test_acc", "x": "epoch"}).json()
    assert epochs["runs"]["exp/r-stride-2"]["x"] == [0, 1, 2]
    assert epochs["runs"]["exp/r-stride-2"]["y"] == [min(1.0, s / 25 + 0.002) for s in (10, 20, 30)]
    timed = client.get("/api/series", params={"runs": RUNS, "metric": "norms/total", "x": "time"}).json()
    xs = timed["runs"]["exp/r-random-1"]["x"]
    assert len(xs) == 3 and xs == sorted(xs) and xs[0] > 0


def test_groups_band_is_the_mean_and_std_of_the_seeds(client):
    body = client.get("/api/groups", params={"runs": RUNS, "metric": "eval/test_acc", "by": "strategy",
                                             "threshold": "0.8"}).json()
    groups = {g["name"]: g for g in body["groups"]}
    stride = groups["stride"]
    values = np.array([[min(1.0, s / 25 + seed * 0.001) for s in (10, 20, 30)] for seed in (1, 2)])
    assert stride["x"] == [10, 20, 30]
    assert stride["mean"] == pytest.approx(values.mean(axis=0).tolist())
    std = values.std(axis=0, ddof=1)
    assert stride["hi"] == pytest.approx((values.mean(axis=0) + std).tolist())
    assert stride["n"] == [2, 2, 2] and groups["random"]["n"] == [1, 1, 1]
    crossing = {g["name"]: g for g in body["crossings"]["groups"]}
    assert crossing["stride"]["reached"] == 2 and crossing["stride"]["epochs"] == [1.0, 1.0, 1.0]  # 0.801 at epoch 1
    assert crossing["stride"]["reached_ci"] == pytest.approx([0.158, 1.0], abs=1e-3)  # 2 of 2, Clopper–Pearson
    assert crossing["random"]["epochs"][1] is None  # one run: no interval
    assert "percentile bootstrap" in body["crossings"]["method"] and "Clopper" in body["crossings"]["method"]
    by_config = client.get("/api/groups", params={"runs": RUNS, "metric": "eval/test_acc", "by": "config.width",
                                                  "band": "minmax"}).json()
    assert sorted(g["name"] for g in by_config["groups"]) == ["width=10", "width=9"]
    # any set of keys, and "setting": the strategy and every config key that differs, never the seed
    both = client.get("/api/groups", params={"runs": RUNS, "metric": "eval/test_acc", "by": "strategy,config.width"})
    setting = client.get("/api/groups", params={"runs": RUNS, "metric": "eval/test_acc", "by": "setting"})
    expected = {"random · width=9": ["exp/r-random-1"], "stride · width=10": ["exp/r-stride-2"],
                "stride · width=9": ["exp/r-stride-1"]}
    assert {g["name"]: g["runs"] for g in both.json()["groups"]} == expected
    assert {g["name"]: g["runs"] for g in setting.json()["groups"]} == expected
    # asked for, the band is the mean's bootstrap interval over the seeds: two seeds' values resample to their
    # mean or either one, so the interval is their range; one run in a column has none (its value)
    ci = {g["name"]: g for g in client.get("/api/groups", params={"runs": RUNS, "metric": "eval/test_acc",
                                                                 "by": "strategy", "band": "ci"}).json()["groups"]}
    assert ci["stride"]["lo"] == pytest.approx(values.min(axis=0).tolist())
    assert ci["stride"]["hi"] == pytest.approx(values.max(axis=0).tolist())
    assert ci["random"]["lo"] == ci["random"]["mean"] == ci["random"]["hi"]


@pytest.mark.parametrize("path, params, needle", [
    ("/api/series", {"metric": "train/loss"}, "runs is required"),
    ("/api/series", {"runs": "exp/nope", "metric": "train/loss"}, "no run 'exp/nope'"),
    ("/api/series", {"runs": RUNS, "metric": "loss"}, "metric must be source/name"),
    ("/api/series", {"runs": RUNS, "metric": "train/loss", "x": "wall"}, "x must be one of"),
    ("/api/series", {"runs": RUNS, "metric": "train/loss", "width": "0"}, "width must be between"),
    ("/api/series", {"runs": RUNS, "metric": "train/loss", "x0": "5", "x1": "1"}, "x0 must be less than x1"),
    ("/api/series", {"runs": RUNS, "metric": "train/loss", "x0": "nan", "x1": "1"}, "x0 must be finite"),
    ("/api/groups", {"runs": RUNS, "metric": "train/loss", "by": "colour"}, "by must be strategy, group, seed, experi"),
    ("/api/sweep/any", {"estimator": "median"}, "estimator is mean or iqm"),
    ("/api/estimates", {"cells": "1,x"}, "cells are numbers"),
    ("/api/estimates", {"cells": "1,inf"}, "finite numbers"),
    ("/api/estimates", {"cells": ",".join(["1"] * 1001)}, "at most 1000"),
    ("/api/groups", {"runs": RUNS, "metric": "train/loss", "threshold": "high"}, "threshold must be a number"),
    ("/api/runs", {"where": "1; DROP TABLE runs"}, "filter:"),
    ("/api/runs", {"where": "run_id IN (SELECT * FROM read_csv('/etc/passwd'))"}, "filter:"),
    ("/api/run/exp/r-stride-1", {"kind": "nothing"}, "no events of kind"),
    ("/api/live", {"runs": RUNS, "metric": "train/loss", "after": "x"}, "after must be"),
])
def test_bad_parameters_are_a_400_with_one_line(client, path, params, needle):
    response = client.get(path, params=params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert needle in error and "\n" not in error


@pytest.mark.parametrize("path", ["/static/../../pyproject.toml", "/static/..%2F..%2Fapi.py", "/static/%2Fetc%2Fpasswd",
                                  "/api/run/..%2F..%2F/etc", "/api/run/exp/..", "/static/app.js%00.html"])
def test_no_url_reaches_a_file_outside_the_page(client, path):
    response = client.get(path)
    assert response.status_code in (400, 404)
    assert b"root:" not in response.content and b"[project]" not in response.content


def test_a_request_for_another_host_name_is_refused(client):
    """A page elsewhere that rebinds its own name to 127.0.0.1 still sends its name as Host."""
    assert client.get("/api/runs", headers={"host": "evil.example:8765"}).status_code == 400
    assert client.get("/api/runs", headers={"host": "localhost:8765"}).status_code == 200


def test_page_and_its_assets_come_from_the_package_and_name_no_other_host(client):
    html = client.get("/").text
    assert "/static/app.js" in html and "/static/chart.js" in html
    for asset in ("app.js", "chart.js", "run-page.js", "style.css"):
        text = client.get(f"/static/{asset}").text
        assert "http://" not in text and "https://" not in text, f"{asset} refers to another host"


def test_missing_and_empty_stores_say_how_to_make_a_run(tmp_path):
    with TestClient(create_app(tmp_path / "nowhere"), base_url="http://127.0.0.1") as c:
        body = c.get("/api/runs").json()
        assert body["runs"] == [] and "does not exist" in body["message"] and "ol train" in body["message"]
    (tmp_path / "empty").mkdir()
    with TestClient(create_app(tmp_path / "empty"), base_url="http://127.0.0.1") as c:
        assert "No runs in this store yet" in c.get("/api/runs").json()["message"]


def test_a_damaged_run_is_listed_with_its_problem_and_the_rest_still_works(tmp_path):
    store = tmp_path / "runs"
    damage.healthy_run(store, "h-1")
    hurt = damage.healthy_run(store, "d-1", seed=1)
    damage.damage(hurt, random.Random(3), "flip_frame")
    with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
        rows = {r["run_id"]: r for r in c.get("/api/runs").json()["runs"]}
        assert rows["h-1"]["problem"] == ""
        assert "damaged" in rows["d-1"]["problem"] and "ol verify" in rows["d-1"]["problem"]
        body = c.get("/api/series", params={"runs": "exp/h-1,exp/d-1", "metric": "train/loss"}).json()
        assert len(body["runs"]["exp/h-1"]["x"]) == 120
        assert 0 < len(body["runs"]["exp/d-1"]["x"]) < 120


def test_live_updates_send_only_the_new_points(tmp_path):
    run = Run.start(store=tmp_path / "runs", experiment="live", run_id="w1", flush_interval=0.01,
                    handle_signals=False)
    try:
        for step in range(500):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
        run.flush()
        dash = Dashboard(tmp_path / "runs")
        dash.reader.refresh()
        stream = LiveStream(dash, {"runs": "live/w1", "metric": "train/loss", "after": "live/w1:499"})
        stream.check()
        assert _points(stream) == []  # the page has everything: nothing is sent
        sizes = []
        for batch in range(3):
            for step in range(500 + batch * 10, 510 + batch * 10):
                run.log({"loss": 0.5}, step=step)
            run.emit(Epoch(epoch=batch, step=509 + batch * 10, metrics={"test_acc": 0.1 * batch}))
            run.flush()
            got = _points(stream)
            assert [p["x"] for p in got] == [list(range(500 + batch * 10, 510 + batch * 10))]
            sizes.append(len(str(got)))
        assert max(sizes) < 2 * min(sizes), "bytes per update grew with the history"
    finally:
        run.close()
    time.sleep(0.06)  # past the follower's poll coalescing window
    assert _status(stream) == {"live/w1": "completed"}


def _loss(seed: int, step: int) -> float:
    return 1.0 / (step + 1) + seed * 0.01  # the fixture store's formula (conftest.py)


def _points(stream: LiveStream) -> list[dict]:
    time.sleep(0.06)
    return [m["runs"]["live/w1"] for kind, m in stream.poll() if kind == "points"]


def _status(stream: LiveStream) -> dict:
    return {k: v for kind, m in stream.poll() if kind == "status" for k, v in m["runs"].items()}


def test_a_long_run_is_read_by_level_and_chunk_and_keeps_its_spike(tmp_path):
    """100,000 steps: the whole-run chart comes from a coarse level, a zoom from the raw chunks of the
    range, and both show the one-step spike; x = epoch and time are cut to the range too."""
    rng = np.random.default_rng(1)
    loss = rng.random(100_000)
    loss[61_234] = 40.0
    run = Run.start(store=tmp_path / "runs", experiment="long", run_id="l1", handle_signals=False)
    for step in range(100_000):
        run.log({"loss": float(loss[step])}, step=step, epoch=step // 1000)
    run.close()
    with TestClient(create_app(tmp_path / "runs"), base_url="http://127.0.0.1") as c:
        response = c.get("/api/series", params={"runs": "long/l1", "metric": "train/loss", "width": 500})
        assert response.headers.get("content-encoding") == "gzip"  # the test client is not on loopback
        whole = response.json()
        xs, ys = whole["runs"]["long/l1"]["x"], whole["runs"]["long/l1"]["y"]
        assert len(xs) <= 4 * 500 + 2 and 61_234 in xs and max(ys) == 40.0
        assert xs[0] == 0 and xs[-1] == 99_999
        zoom = c.get("/api/series", params={"runs": "long/l1", "metric": "train/loss", "x0": 61_000, "x1": 61_400,
                                            "width": 800}).json()["runs"]["long/l1"]
        assert zoom["x"][1:-1] == list(range(61_000, 61_401))
        assert zoom["y"][1:-1] == loss[61_000:61_401].tolist()
        across = c.get("/api/series", params={"runs": "long/l1", "metric": "train/loss", "x0": 65_400, "x1": 65_700,
                                              "width": 800}).json()["runs"]["long/l1"]  # two raw chunks meet at 65,536
        assert across["x"] == list(range(65_399, 65_702)) and across["y"] == loss[65_399:65_702].tolist()
        epochs = c.get("/api/series", params={"runs": "long/l1", "metric": "train/loss", "x": "epoch", "x0": 60,
                                              "x1": 62, "width": 300}).json()["runs"]["long/l1"]
        assert 40.0 in epochs["y"] and all(59 <= x <= 63 for x in epochs["x"])
        timed = c.get("/api/series", params={"runs": "long/l1", "metric": "train/loss", "x": "time",
                                             "width": 300}).json()["runs"]["long/l1"]
        assert 40.0 in timed["y"] and timed["x"] == sorted(timed["x"])


def test_the_runs_table_reports_the_main_metric_the_run_declared(tmp_path):
    """A lower-is-better run says so in its contract: best is its minimum; a run that said nothing has none."""
    from ol.schemas import RunContract, TargetReached
    from ol.store.read.summary import summarize

    store = tmp_path / "runs"
    contract = RunContract(main_metric="val_loss", direction="lower", target=0.5, total_epochs=3)
    with Run.start(store=store, experiment="lm", run_id="c1", contract=contract, handle_signals=False) as run:
        for epoch, value in enumerate([0.9, 0.4, 0.6]):
            run.log({"loss": 1.0}, step=epoch)
            run.emit(Epoch(epoch=epoch, step=epoch, metrics={"val_loss": value}))
        run.emit(TargetReached(metric="val_loss", value=0.4, epoch=1, step=1))
    with Run.start(store=store, experiment="lm", run_id="c0", handle_signals=False) as run:
        run.emit(Epoch(epoch=0, step=0, metrics={"val_loss": 0.3}))
    with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
        rows = {r["run_id"]: r for r in c.get("/api/runs").json()["runs"]}
    main = {k: rows["c1"][k] for k in ("main_series", "main_metric", "direction", "target", "main_final", "main_best",
                                      "target_epoch")}
    assert main == {"main_series": "eval/val_loss", "main_metric": "val_loss", "direction": "lower", "target": 0.5,
                    "main_final": 0.6, "main_best": 0.4, "target_epoch": 1}
    assert rows["c0"]["main_series"] == "" and rows["c0"]["main_best"] is None
    summary = summarize(store / "lm" / "c1")
    assert {k: summary[k] for k in main if k != "main_series"} == {k: v for k, v in main.items() if k != "main_series"}
    assert summarize(store / "lm" / "c0")["main_best"] is None  # no contract: no guessed direction


def test_a_runs_page_lists_its_arrays_and_media_without_their_values(tmp_path):
    """Vector metrics are first-class on the dashboard too: the run's page names each array, histogram,
    image and table it logged, how many, the last step and shape, and the `ol plot` command that draws it."""
    import numpy as np

    import ol
    from ol.producer import Run
    from ol.schemas import ArrayData

    store = tmp_path / "runs"
    with Run.start(store=store, experiment="exp", run_id="vec", handle_signals=False) as run:
        for step in range(3):
            run.log({"loss": 1.0, "w": ol.Histogram(np.arange(5.0))}, step=step)
            run.emit(ArrayData(name="embed_power", dtype="<f4", shape=[4], data=np.ones(4, "<f4").tobytes(),
                               step=step, hook="fourier"))
    for indexed in (False, True):  # read with the index as the server found it, then rebuilt by `ol index`
        if indexed:
            from typer.testing import CliRunner

            from ol.cli.app import app

            assert CliRunner().invoke(app, ["index", "rebuild", "--store", str(store)]).exit_code == 0
        with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
            body = c.get("/api/run/exp/vec").json()
        assert body["vectors"] == [
            {"kind": "array", "source": "fourier", "name": "embed_power", "count": 3, "last_step": 2, "shape": [4]},
            {"kind": "histogram", "source": "train", "name": "w", "count": 3, "last_step": 2, "shape": None}]


def test_heavy_runs_give_bounded_answers(tmp_path, monkeypatch):
    """A run page lists a 200,000-row table as one short event (the rows stay in the tables view); a series
    answer is bounded by runs × width whatever width is asked; a live catch-up is a chart's worth, not every
    point of the run."""
    import json

    import ol
    from ol.consumers.ui import api

    store = tmp_path / "runs"
    with Run.start(store=store, experiment="big", run_id="t1", handle_signals=False) as run:
        run.log({"rows": ol.Table(["i", "text"], [[i, "x" * 20] for i in range(200_000)])}, step=0)
        for step in range(3000):
            run.log({"loss": float(np.sin(step))}, step=step)
    for seed in range(2, 5):
        with Run.start(store=store, experiment="big", run_id=f"t{seed}", handle_signals=False) as run:
            for step in range(3000):
                run.log({"loss": float(np.cos(step * seed))}, step=step)
    monkeypatch.setattr(api, "SERIES_COLUMNS", 64)  # 4 runs: 16 columns each, whatever the page asks
    with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
        page = c.get("/api/run/big/t1")
        assert page.status_code == 200 and len(page.content) < 50_000
        (table,) = [json.loads(e["event"]) for e in page.json()["events"] if e["kind"] == "table"]
        assert table["rows"] == 200_000 and table["columns"] == ["i", "text"]
        runs = ",".join(f"big/t{i}" for i in range(1, 5))
        body = c.get("/api/series", params={"runs": runs, "metric": "train/loss", "width": 8192}).json()
        assert all(len(r["x"]) <= 4 * 16 + 2 for r in body["runs"].values())
        assert body["runs"]["big/t1"]["x"][-1] == 2999
        grouped = c.get("/api/groups", params={"runs": runs, "metric": "train/loss", "width": 8192,
                                               "by": "experiment"}).json()
        assert [len(g["x"]) <= 64 for g in grouped["groups"]] == [True]  # one group: 64 columns
    run = Run.start(store=tmp_path / "live", experiment="live", run_id="w1", flush_interval=0.01,
                    handle_signals=False)
    try:
        for step in range(20_000):
            run.log({"loss": 1.0 if step != 12_345 else 50.0}, step=step)
        run.flush()
        dash = Dashboard(tmp_path / "live")
        dash.reader.refresh()
        stream = LiveStream(dash, {"runs": "live/w1", "metric": "train/loss", "width": "100"})
        stream.check()
        (caught_up,) = _points(stream)
        assert len(caught_up["x"]) <= 4 * 100 + 2 and 50.0 in caught_up["y"] and caught_up["last_step"] == 19_999
        run.log({"loss": 0.5}, step=20_000)
        run.flush()
        assert [p["x"] for p in _points(stream)] == [[20_000]]
    finally:
        run.close()


def test_the_runs_table_is_served_a_page_at_a_time(tmp_path):
    """The server searches, sorts and cuts the runs table: a page of rows and their count, the chart's runs
    beside them, and while nothing changed a one-line answer to the page's poll."""
    store = tmp_path / "runs"
    for i in range(30):
        with Run.start(store=store, experiment="grid", run_id=f"g-{i}", strategy="odd" if i % 2 else "even",
                       seed=i if i < 25 else None, handle_signals=False) as run:
            run.log({"loss": 1.0 / (i + 1)}, step=0)
    with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
        first = c.get("/api/runs", params={"limit": 10}).json()
        assert (len(first["runs"]), first["total"], first["all"]) == (10, 30, 30)
        assert [r["run_id"] for r in first["runs"]] == [f"g-{i}" for i in range(29, 19, -1)]  # newest first
        last = c.get("/api/runs", params={"limit": 10, "offset": 20}).json()
        assert [r["run_id"] for r in last["runs"]] == [f"g-{i}" for i in range(9, -1, -1)]
        by_seed = c.get("/api/runs", params={"sort": "seed", "desc": "0", "limit": 30}).json()["runs"]
        assert [r["seed"] for r in by_seed] == list(range(25)) + [None] * 5  # no seed: last, either way
        by_name = c.get("/api/runs", params={"sort": "run_id", "desc": "0", "limit": 3}).json()["runs"]
        assert [r["run_id"] for r in by_name] == ["g-0", "g-1", "g-2"]  # g-2 before g-10
        odd = c.get("/api/runs", params={"q": "ODD", "limit": 5, "selected": "grid/g-0,grid/nope"}).json()
        assert odd["total"] == 15 and all(r["strategy"] == "odd" for r in odd["runs"])
        assert [r["key"] for r in odd["selected"]] == ["grid/g-0"]  # a chart's run off the page still has its row
        again = c.get("/api/runs", params={"limit": 10, "version": first["version"]}).json()
        assert again == {"unchanged": True, "version": first["version"]}
        with Run.start(store=store, experiment="grid", run_id="g-new", handle_signals=False) as run:
            run.log({"loss": 0.5}, step=0)
        changed = c.get("/api/runs", params={"limit": 10, "version": first["version"]}).json()
        assert changed["all"] == 31 and changed["runs"][0]["run_id"] == "g-new"
        bad = c.get("/api/runs", params={"sort": "nonsense"})
        assert bad.status_code == 400 and "sort must be a column" in bad.json()["error"]


def test_saved_workspaces_are_checked_and_never_written_or_read_through_a_link(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    own = {"Origin": "http://127.0.0.1"}  # the page's own origin: what a browser sends with its POST
    with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
        assert c.post("/api/workspaces", json={"name": "a", "view": "runs=x&size=s"}, headers=own).status_code == 200
        assert c.post("/api/workspaces", json={"name": "../a", "view": "x"}, headers=own).status_code == 400
        assert c.post("/api/workspaces", json={"name": "b", "view": "x" * 70_000}, headers=own).status_code == 400
        assert c.post("/api/workspaces", content=b"not json",
                      headers={**own, "Content-Type": "application/json"}).status_code == 400
        elsewhere = tmp_path / "elsewhere.json"
        elsewhere.write_text('{"name": "c", "view": "planted", "saved": 1}')
        (store / ".workspaces" / "c.json").symlink_to(elsewhere)
        assert [w["name"] for w in c.get("/api/workspaces").json()["workspaces"]] == ["a"]
        assert c.get("/api/workspaces", params={"name": "c"}).status_code == 400  # never read through the link
    other = tmp_path / "other"
    other.mkdir()
    (other / ".workspaces").write_text("a file where the folder would be")
    with TestClient(create_app(other), base_url="http://127.0.0.1") as c:
        refused = c.post("/api/workspaces", json={"name": "a", "view": "x"}, headers=own)
        assert refused.status_code == 409 and "not a directory" in refused.json()["error"]
        assert c.get("/api/workspaces").json() == {"workspaces": []}


def test_the_default_page_is_the_page_a_full_sort_gives_without_building_every_row(tmp_path, monkeypatch):
    """Newest started first with no search, the runs page cuts the runs' own order and builds rows for that page
    (and the chosen runs) only; its page, count, columns, config keys and final metrics are those of sorting
    every row."""
    from ol.consumers.ui import api, table

    store = tmp_path / "runs"
    for i in range(30):
        with Run.start(store=store, experiment="t", run_id=f"r{i:02d}", name="named" if i == 7 else "",
                       config={"lr": 0.1 * i, **({"extra": i} if i % 10 == 0 else {})}, handle_signals=False) as run:
            run.log({"loss": 1.0 / (i + 1)}, step=0)
            if i % 3 == 0:
                run.emit(Epoch(epoch=0, step=0, metrics={"acc": i / 30}))
    built = []
    real_row = table.row
    monkeypatch.setattr(table, "row", lambda view, e: built.append(e.key) or real_row(view, e))
    dash = Dashboard(store)
    fast = api.runs(dash, {"limit": "7", "offset": "5", "selected": "t/r00,t/r29"}, {})
    assert len(built) == 7 + 2  # the page and the two chosen runs, both off it
    full = api.runs(dash, {"limit": "7", "offset": "5", "selected": "t/r00,t/r29", "q": "t"}, {})  # a search: every row
    assert len(built) == 30  # every row now: the 9 built above are kept, the other 21 made
    for field in ("runs", "total", "selected", "config_keys", "final_metrics", "columns"):
        assert fast[field] == full[field], field
    assert [r["run_id"] for r in fast["runs"]] == [f"r{i:02d}" for i in range(24, 17, -1)]
    assert fast["columns"]["name"] and set(fast["config_keys"]) == {"lr", "extra"}


def test_the_media_index_names_exactly_the_runs_that_logged_each_and_reads_a_batch_once(tmp_path, monkeypatch):
    """The workspace's list of media panels: which array, histogram, image and table names the chosen runs logged,
    each with exactly the runs that did — two experiments that each have a run ``r1`` are not confused, a live
    run is read from its log — and each batch file is scanned once for all its runs, not once per run."""
    import pyarrow.dataset as ds

    import ol
    from ol.store.index.indexer import sync

    store = tmp_path / "runs"
    logged = {("a", "r1"): {"w": ol.Histogram(np.arange(5.0))}, ("b", "r1"): {"frame": ol.Image(np.zeros((2, 2, 3)))},
              ("a", "r2"): {}, ("a", "r3"): {"w": ol.Histogram(np.ones(3)), "t": ol.Table(columns=["x"], rows=[[1]])}}
    for (experiment, run_id), values in logged.items():
        with Run.start(store=store, experiment=experiment, run_id=run_id, handle_signals=False) as run:
            run.log({"loss": 1.0, **values}, step=0)
    sync(store)
    live = Run.start(store=store, experiment="a", run_id="live", handle_signals=False)
    live.log({"loss": 1.0, "w": ol.Histogram(np.ones(4))}, step=0)
    live.flush()
    scans, dataset = [], ds.dataset
    monkeypatch.setattr(ds, "dataset", lambda path, **kw: scans.append(path) or dataset(path, **kw))
    try:
        with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
            runs = "a/r1,b/r1,a/r2,a/r3,a/live"
            body = c.get("/api/media-index", params={"runs": runs}).json()
    finally:
        live.close()
    assert body["media"] == [
        {"kind": "histogram", "source": "train", "name": "w", "runs": ["a/r1", "a/r3", "a/live"]},
        {"kind": "image", "source": "train", "name": "frame", "runs": ["b/r1"]},
        {"kind": "table", "source": "train", "name": "t", "runs": ["a/r3"]}]
    assert len(scans) == len(set(scans)), scans  # each (batch, table) file once



def test_curves_hold_no_decoded_batch_beyond_the_cache(tmp_path):
    """A curve is a copy of its points, never a view of the record batch it came from (a batch holds many runs'
    points: 1,000 curves of views held 1,000 batches past the cache's budget), and the bytes the cache counts are
    the bytes it holds, however many threads decoded the same batch at once."""
    from concurrent.futures import ThreadPoolExecutor

    from ol.store.index.indexer import sync

    store = tmp_path / "runs"
    for seed in range(6):
        with Run.start(store=store, experiment="exp", run_id=f"r{seed}", handle_signals=False) as run:
            for step in range(500):
                run.log({"loss": seed + 1.0 / (step + 1)}, step=step)
    sync(store)
    dash = Dashboard(store)
    entries = dash.reader.refresh()
    with ThreadPoolExecutor(4) as pool:
        curves = list(pool.map(lambda i: dash.reader.curve(i, "train/loss", "step", None, None, 400), entries * 4))
    held = dash.reader.cache.chunks_held()
    assert dash.reader.cache.held == sum(a.nbytes for arrays in held for a in arrays)
    for xs, ys in curves:
        assert len(xs) == 500 and not any(np.shares_memory(c, a) for c in (xs, ys) for arrays in held for a in arrays)


def test_estimates_are_the_intervals_every_comparison_across_seeds_states(client):
    body = client.get("/api/estimates", params={"cells": "0.2,0.9,0.5;0.7;", "estimator": "iqm"}).json()
    found = estimate([0.2, 0.9, 0.5], "iqm")
    assert body["cells"][0] == pytest.approx([found.value, found.low, found.high, 3])
    assert body["cells"][1] == [0.7, None, None, 1] and body["cells"][2] is None
    assert body["method"].startswith("95% percentile bootstrap intervals of the interquartile mean")


def test_the_page_names_each_static_file_by_its_version_which_a_browser_may_keep(tmp_path):
    """A page opened again asks the server for data only: each file the page loads is named with its content's hash
    and that answer is immutable; the same file asked without (or with another) version is revalidated."""
    import re

    client = TestClient(create_app(tmp_path / "runs"), base_url="http://127.0.0.1")
    page = client.get("/").text
    named = re.findall(r'"/static/([a-z-]+\.(?:js|css))\?v=([0-9a-f]{16})"', page)
    assert len(named) >= 14 and not re.search(r'"/static/[a-z-]+\.(js|css)"', page)
    for name, version in named:
        kept = client.get(f"/static/{name}?v={version}")
        assert kept.status_code == 200 and kept.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert client.get(f"/static/{name}").headers["cache-control"] == "no-cache"
        assert client.get(f"/static/{name}?v=0000").headers["cache-control"] == "no-cache"
