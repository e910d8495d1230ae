"""The dashboard's workspace: opened with no choice made, it shows the newest group's runs with every metric
as a panel, curves drawn without a click; panels off screen fetch nothing until they are scrolled to."""

from __future__ import annotations

import re
import shlex
import subprocess
from xml.etree import ElementTree

import pytest

from ol.producer import Run
from ol.schemas import RunContract, TargetReached
from ol.store.read.intervals import estimate
from tests.consumers.browser import OL, assert_clean, live_writer, open_page, send

PROBES = 24  # metrics of one more source: panels below the first screen


def _group(store) -> None:
    contract = RunContract(main_metric="acc", direction="higher", target=0.9, total_epochs=3)
    for seed in range(3):
        with Run.start(store=store, experiment="live", strategy="random", seed=seed, run_id=f"done-{seed}",
                       group="sweep-a", contract=contract, handle_signals=False) as run:
            for step in range(1, 31):
                run.log({"loss": 1.0 / step + seed}, step=step)
                if step % 10 == 0:
                    run.epoch(step // 10 - 1, {"acc": step / 30 - 0.1 * seed}, step=step)
                    run.log({f"p{k:02d}": k * step for k in range(PROBES)}, step=step, source="probe")
    with Run.start(store=store, experiment="live", run_id="other", handle_signals=False) as run:
        run.log({"loss": 5.0}, step=1)  # older and in no group: not in the default workspace


def test_the_first_page_shows_the_newest_groups_metrics_as_panels_without_a_click(tmp_path, serve, browser):
    store = tmp_path / "runs"
    _group(store)
    with live_writer(store, "w1", "sweep-a") as writer:
        for step in range(1, 6):
            send(writer, f"{step} {2.0 / step}")
        server = serve(store)
        page = open_page(browser, server.url)
        page.wait_for_function("window.ol.page.workspace && Object.keys(window.ol.page.workspace.panels).length > 0")
        chosen = page.evaluate("window.ol.state.runs").split(",")
        assert sorted(chosen) == ["live/done-0", "live/done-1", "live/done-2", "live/w1"]  # the running sweep's runs
        panels = page.evaluate("Object.keys(window.ol.page.workspace.panels)")
        assert panels[:2] == ["train/acc", "train/loss"]  # the main metric's section first, the main metric first
        assert set(panels) == {"train/acc", "train/loss", *(f"probe/p{k:02d}" for k in range(PROBES))}
        sections = page.eval_on_selector_all("#workspace .ws-section", "s => s.map(e => e.dataset.source)")
        assert sections == ["train", "probe"]

        loss = "window.ol.page.workspace.panels['train/loss']"
        page.wait_for_function(f"{loss}.loaded && Object.keys({loss}.loaded.curves).length === 4")
        curves = page.evaluate(f"{loss}.loaded.curves")
        for seed in range(3):
            assert curves[f"live/done-{seed}"]["x"] == list(range(1, 31))
            assert curves[f"live/done-{seed}"]["y"] == pytest.approx([1.0 / s + seed for s in range(1, 31)], abs=0)
        assert curves["live/w1"]["y"] == pytest.approx([2.0 / s for s in range(1, 6)], abs=0)
        page.wait_for_function("window.ol.page.workspace.panels['train/acc'].loaded !== null")
        acc = page.evaluate("window.ol.page.workspace.panels['train/acc'].loaded.curves['live/done-1']")
        assert acc["x"] == [10, 20, 30] and acc["y"] == pytest.approx([10 / 30 - 0.1, 20 / 30 - 0.1, 0.9], abs=1e-12)
        assert page.evaluate("window.ol.page.fetches") > 0 and not page.evaluate("window.ol.state.metric") == ""

        # panels below the first screen asked for nothing yet; scrolled to, each draws its curves
        loaded = "Object.values(window.ol.page.workspace.panels).filter(p => p.loaded).length"
        assert page.evaluate(loaded) < len(panels)
        assert page.evaluate("window.ol.page.workspace.fetches") < len(panels)
        page.screenshot(path=tmp_path / "workspace-first-screen.png")
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_function(f"window.ol.page.workspace.panels['probe/p{PROBES - 1:02d}'].loaded !== null")
        last = page.evaluate(f"window.ol.page.workspace.panels['probe/p{PROBES - 1:02d}'].loaded.curves['live/done-0']")
        assert last["y"] == [(PROBES - 1) * s for s in (10, 20, 30)]
        page.screenshot(path=tmp_path / "workspace-scrolled.png", full_page=True)

        # a live point reaches the panels at the next look at the runs (every 3 s)
        send(writer, "6 0.125")
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_function(f"{loss}.loaded.curves['live/w1'].x.includes(6)", timeout=15_000)

        # a panel's points as CSV and the figure as PNG, and the `ol plot` command that draws it
        page.click("button[data-csv='train/loss']")
        csv = page.evaluate("window.ol.page.workspace.lastDownload.blob.text()").splitlines()
        assert csv[0] == "run,x,y" and "live/done-1,30,1.0333333333333334" in csv
        assert len([row for row in csv if row.startswith("live/done-0,")]) == 30
        page.click("button[data-png='train/loss']")
        page.wait_for_function("window.ol.page.workspace.lastDownload.name === 'train-loss.png'")
        assert page.evaluate("window.ol.page.workspace.lastDownload.blob.type") == "image/png"
        page.click("button[data-cmd='train/loss']")
        command = page.inner_text(".panel[data-metric='train/loss'] .panel-cmd")
        assert command.startswith("ol plot curves ") and "-m train/loss --x step --store " in command
        drawn = subprocess.run([*OL, *shlex.split(command)[1:], "-o", str(tmp_path / "panel.png")],
                               capture_output=True, text=True, timeout=120)
        assert drawn.returncode == 0, drawn.stderr
        assert (tmp_path / "panel.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

        # removing a panel and folding a section are kept in the link
        page.click("button[data-remove='train/loss']")
        page.click("button[data-fold='probe']")
        assert "train/loss" not in page.evaluate("Object.keys(window.ol.page.workspace.panels)")
        again = open_page(browser, page.url)
        again.wait_for_function("Object.keys(window.ol.page.workspace.panels).length === 1")
        assert again.evaluate("Object.keys(window.ol.page.workspace.panels)") == ["train/acc"]
        assert again.inner_text(".ws-section[data-source='train'] h3").count("1 removed") == 1
        for p in (page, again):
            assert_clean(p)


def test_compare_shows_exactly_the_config_key_two_runs_differ_in(tmp_path, serve, browser):
    store = tmp_path / "runs"
    for run_id, lr in (("a", 0.1), ("b", 0.3)):
        with Run.start(store=store, experiment="cmp", strategy="random", seed=1, run_id=run_id,
                       config={"lr": lr, "width": 16, "opt": {"name": "adam", "beta": 0.9}}, handle_signals=False) as r:
            r.log({"loss": lr}, step=1)
    server = serve(store)
    page = open_page(browser, server.url + "#runs=cmp/a,cmp/b")
    page.wait_for_function("!document.querySelector('#compare').disabled")
    page.click("#compare")
    page.wait_for_selector(".compare-section")
    differ = page.eval_on_selector_all("table.compare tbody tr", "rows => rows.map(r => r.dataset.key)")
    assert differ == ["config:lr"]
    cells = page.eval_on_selector_all("tr[data-key='config:lr'] td", "cells => cells.map(c => c.textContent)")
    assert cells == ["0.1", "0.3"]
    assert "3 keys the same in every run" in page.inner_text(".compare-section[data-section='config']")
    assert "compare" in page.url
    page.screenshot(path=tmp_path / "compare.png", full_page=True)
    assert_clean(page)


def test_hyperparameters_against_results_scatter_values_and_brushing_filter_the_table(tmp_path, serve, browser):
    import duckdb  # noqa: F401 - the runs view is read through ol's own connection below

    from ol.consumers.analytics.sql import connect

    store = tmp_path / "runs"
    contract = RunContract(main_metric="acc", direction="higher", target=2.0, total_epochs=2)
    for lr in (0.1, 0.2, 0.3):
        for seed in (0, 1):
            with Run.start(store=store, experiment="hp", strategy="s", seed=seed, run_id=f"lr{lr}-s{seed}",
                           group="grid", config={"lr": lr, "width": 8}, contract=contract,
                           handle_signals=False) as run:
                run.log({"loss": lr}, step=1)
                run.epoch(0, {"acc": lr}, step=1)
                run.epoch(1, {"acc": 2 * lr + 0.01 * seed}, step=2)
    server = serve(store)
    page = open_page(browser, server.url + "#hpx=config%3Alr&hpy=best")
    page.wait_for_function("hp.points && hp.points.length === 6")
    views = {r["run_id"]: (r["lr"], r["main_best"]) for r in
             connect(store).query("SELECT run_id, lr, main_best FROM runs").to_pylist()}
    points = {p["key"].split("/")[1]: (p["x"], p["y"]) for p in page.evaluate("hp.points")}
    assert points == views  # the scatter's points are the runs view's values
    # where seeds repeat: their mean and its bootstrap interval, the one `ol sweep --status` would state
    page.wait_for_function("hp.means.length === 3")
    means = sorted((m["x"], m["value"], m["low"], m["high"], m["runs"]) for m in page.evaluate("hp.means"))
    assert [(x, runs) for x, *_, runs in means] == [(0.1, 2), (0.2, 2), (0.3, 2)]
    for lr, (_, value, low, high, _) in zip((0.1, 0.2, 0.3), means, strict=True):
        expected = estimate([2 * lr, 2 * lr + 0.01], "mean")
        assert (value, low, high) == pytest.approx((expected.value, expected.low, expected.high))
        assert low == pytest.approx(2 * lr) and high == pytest.approx(2 * lr + 0.01)  # two seeds: their range
    assert "95% percentile bootstrap intervals of the mean" in page.inner_text("#hp-method")
    page.select_option("#hp-estimator", "iqm")  # the interquartile mean instead: the caption says so
    page.wait_for_function("document.querySelector('#hp-method').textContent.includes('interquartile')")
    assert "est=iqm" in page.url
    page.screenshot(path=tmp_path / "scatter-intervals.png")

    # brush the lr axis from 0.15 to its top as a person would, dragging along it from just above its end
    axis = page.evaluate("(() => { const a = hp.axes.find(a => a.col.key === 'config:lr'); "
                         "return {X: a.X, hi: a.top - 8, lo: a.sy(0.15)}; })()")
    page.locator("#hp-parallel").scroll_into_view_if_needed()
    box = page.locator("#hp-parallel").bounding_box()
    page.mouse.move(box["x"] + axis["X"], box["y"] + axis["hi"])
    page.mouse.down()
    page.mouse.move(box["x"] + axis["X"], box["y"] + axis["lo"], steps=4)
    page.mouse.up()
    page.wait_for_function("document.querySelectorAll('#runs tbody tr').length === 4")
    shown = sorted(page.eval_on_selector_all("#runs tbody tr", "rs => rs.map(r => r.dataset.key)"))
    assert shown == [f"hp/lr{lr}-s{seed}" for lr in (0.2, 0.3) for seed in (0, 1)]
    assert "4 of 6 inside" in page.inner_text("#hp-count") and "brush=config" in page.url
    page.locator("#hparams").screenshot(path=tmp_path / "hparams.png")
    page.click("#hp-clear")
    page.wait_for_function("document.querySelectorAll('#runs tbody tr').length === 6")
    assert_clean(page)


def test_a_runs_histogram_image_and_table_are_drawn_from_the_recorded_events(tmp_path, serve, browser):
    import numpy as np

    import ol
    from ol.store.log.reader import read_events
    from ol.store.read.listing import scan_runs

    store = tmp_path / "runs"
    rng = np.random.default_rng(0)
    with Run.start(store=store, experiment="media", run_id="m", handle_signals=False) as run:
        for step in (1, 2, 3):
            pixels = np.zeros((4, 6, 3), dtype=np.uint8)
            pixels[:, :, 0] = 40 * step  # each step's image a different red
            pixels[1, 2] = (0, 255, 0)
            run.log({"loss": 1.0 / step, "weights": ol.Histogram(rng.normal(step, 1, 500), bins=8),
                     "frame": ol.Image(pixels)}, step=step)
        run.log({"preds": ol.Table(columns=["x", "y"], rows=[[1, "a"], [2, "b"]])}, step=3)
    (info,) = scan_runs(store)
    recorded = [e for _, e in read_events(info.dir / "log") if type(e).__name__ == "HistogramData"]
    server = serve(store)
    page = open_page(browser, server.url + "#view=run&run=media/m")
    # the run's page opens on its charts (its one scalar, loss), then a panel per medium: both at once
    page.wait_for_function("runPage.workspace && runPage.workspace.panels['train/loss']?.loaded")
    histogram, image, table = (f"#run-media .media-panel[data-medium^='{k}']" for k in ("histogram", "image", "table"))
    page.locator(histogram).scroll_into_view_if_needed()
    page.wait_for_selector(f"{histogram} .media-canvas.media-heat")
    rows = page.evaluate(f"document.querySelector(\"{histogram} .media-box\").media.rows")
    assert [r["step"] for r in rows] == [1, 2, 3]
    for row, event in zip(rows, recorded, strict=True):  # the panel's bins are the recorded ones
        assert row["counts"] == list(event.counts) and row["edges"] == pytest.approx(list(event.edges), abs=0)
    page.locator(image).scroll_into_view_if_needed()
    page.wait_for_selector(f"{image} .media-canvas[data-drawn='1']")
    assert page.evaluate(f"document.querySelector(\"{image} .media-box\").media.step") == 3
    pixel = (f"(() => {{ const d = document.querySelector(\"{image} .media-canvas\").getContext('2d')"
             ".getImageData(X, Y, 1, 1).data; return [d[0], d[1], d[2]]; })()")
    assert page.evaluate(pixel.replace("X", "0").replace("Y", "0")) == [120, 0, 0]
    assert page.evaluate(pixel.replace("X", "2").replace("Y", "1")) == [0, 255, 0]
    page.evaluate(f"document.querySelector(\"{image} .media-step\").value = '0'; "
                  f"document.querySelector(\"{image} .media-step\").dispatchEvent(new Event('change'))")
    page.wait_for_selector(f"{image} .media-canvas[data-step='1'][data-drawn='1']")
    assert page.evaluate(pixel.replace("X", "0").replace("Y", "0")) == [40, 0, 0]  # the chosen step's pixels
    assert page.locator(f"{histogram} .media-canvas").is_visible()  # the histogram stays beside the image
    page.locator(histogram).screenshot(path=tmp_path / "histogram.png")
    page.screenshot(path=tmp_path / "media.png", full_page=True)
    page.locator(table).scroll_into_view_if_needed()
    page.wait_for_selector(f"{table} .media-table")
    cells = page.eval_on_selector_all(f"{table} .media-table tbody td", "cs => cs.map(c => c.textContent)")
    assert cells == ["1", "a", "2", "b"]
    assert_clean(page)


def test_the_workspace_shows_each_medium_the_runs_logged_as_a_panel_of_one_run_at_a_time(tmp_path, serve, browser):
    """Histograms, images and tables the chosen runs logged are panels of the workspace's media section, drawn
    from the recorded events; a panel's menu switches which run's it shows."""
    import numpy as np

    import ol
    from ol.store.log.reader import read_events
    from ol.store.read.listing import scan_runs

    store = tmp_path / "runs"
    rng = np.random.default_rng(1)
    for run_id, red in (("a", 40), ("b", 200)):
        with Run.start(store=store, experiment="media", run_id=run_id, group="g", handle_signals=False) as run:
            for step in (1, 2):
                pixels = np.zeros((4, 6, 3), dtype=np.uint8)
                pixels[:, :, 0] = red
                run.log({"loss": 1.0 / step, "weights": ol.Histogram(rng.normal(step, 1, 300), bins=6),
                         "frame": ol.Image(pixels)}, step=step)
            if run_id == "b":  # only b logged a table: its panel offers b alone
                run.log({"preds": ol.Table(columns=["x"], rows=[[1]])}, step=2)
    recorded = {i.run_id: [e for _, e in read_events(i.dir / "log") if type(e).__name__ == "HistogramData"]
                for i in scan_runs(store)}
    server = serve(store)
    for scheme in ("light", "dark"):
        page = open_page(browser, server.url, scheme)
        page.wait_for_selector("#ws-media .media-panel")
        panels = page.eval_on_selector_all("#ws-media .media-panel", "ps => ps.map(p => [p.dataset.medium, "
                                           "[...p.querySelectorAll('option')].map(o => o.value).sort()])")
        assert sorted(panels) == [["histogram train/weights", ["media/a", "media/b"]],
                                  ["image train/frame", ["media/a", "media/b"]], ["table train/preds", ["media/b"]]]
        hist = "#ws-media .media-panel[data-medium='histogram train/weights']"
        page.locator(hist).scroll_into_view_if_needed()
        page.wait_for_selector(f"{hist} .media-canvas.media-heat")
        shown = page.evaluate(f"document.querySelector(\"{hist} .media-box\").media")
        first = page.evaluate(f"document.querySelector(\"{hist} .media-run\").value")
        assert [r["counts"] for r in shown["rows"]] == [list(e.counts) for e in recorded[first.split("/")[1]]]
        image = "#ws-media .media-panel[data-medium='image train/frame']"
        page.locator(image).scroll_into_view_if_needed()
        page.wait_for_selector(f"{image} .media-canvas[data-drawn='1']")
        pixel = (f"(() => {{ const d = document.querySelector(\"{image} .media-canvas\").getContext('2d')"
                 ".getImageData(0, 0, 1, 1).data; return [d[0], d[1], d[2]]; })()")
        red = {"media/a": 40, "media/b": 200}
        shown = page.evaluate(f"document.querySelector(\"{image} .media-run\").value")
        assert page.evaluate(pixel) == [red[shown], 0, 0]
        other = next(k for k in red if k != shown)
        page.select_option(f"{image} .media-run", other)
        drawn = f"document.querySelector(\"{image} .media-canvas[data-drawn='1']\")"
        page.wait_for_function(f"(() => {{ const c = {drawn}; return c && "
                               f"c.getContext('2d').getImageData(0, 0, 1, 1).data[0] === {red[other]}; }})()")
        assert page.evaluate(pixel) == [red[other], 0, 0]  # the recorded pixels of the run chosen in its menu
        page.screenshot(path=tmp_path / f"workspace-media-{scheme}.png", full_page=True)
        assert_clean(page)
        page.close()


def test_a_sweeps_page_shows_its_grid_and_comparison_and_follows_the_running_point(tmp_path, serve, browser):
    from ol.producer.sweep import expand
    from ol.schemas.launch import RunSettings
    from ol.store.read.sweep_plans import Plan

    store = tmp_path / "runs"
    Plan("grid-a", "live", expand(["random", "stride"], [0, 7], {}), RunSettings()).save(store)
    contract = RunContract(main_metric="acc", direction="higher", target=0.5, total_epochs=2)
    for strategy, seed, acc in (("random", 0, 0.4), ("random", 7, 0.6), ("stride", 0, 0.9)):
        with Run.start(store=store, experiment="live", strategy=strategy, seed=seed, group="grid-a",
                       contract=contract, handle_signals=False) as run:
            run.log({"loss": 1.0}, step=1)
            run.epoch(0, {"acc": acc / 2}, step=1)
            run.epoch(1, {"acc": acc}, step=2)
            if acc >= 0.5:  # what decides it is the event the trainer emits, never a reader's guess
                run.emit(TargetReached(metric="acc", value=acc, epoch=1, step=2))
    with live_writer(store, "w1", "grid-a") as writer:  # the point (stride, seed 7), still training
        send(writer, "1 0.5")
        server = serve(store)
        page = open_page(browser, server.url)
        page.wait_for_selector("#sweep-pick:not([hidden])")
        page.select_option("#sweep-pick", "grid-a")
        page.wait_for_selector("#sweep-grid")
        status = "rs => rs.map(r => [r.dataset.point, r.querySelector('.status').textContent])"
        assert page.eval_on_selector_all("#sweep-grid tbody tr", status) == [
            ["random|0", "completed"], ["random|7", "completed"], ["stride|0", "completed"], ["stride|7", "running"]]
        compare = page.eval_on_selector_all("#sweep-compare tbody tr", "rs => rs.map(r => r.innerText.split('\\t'))")
        # 0.6 reached 0.5, 0.4 never did: the mean with its bootstrap interval, k of n with its exact one
        assert compare[0][:4] == ["random", "2/2", "0.5 [0.4, 0.6]", "1 of 2 [0.01, 0.99]"]
        assert compare[1][:4] == ["stride", "1/2", "0.9", "1 of 2 [0.01, 0.99]"]  # the running point counts as a run
        assert "bootstrap" in page.inner_text("#sweep-method")
        page.select_option("#sweep-estimator", "iqm")  # the interquartile mean instead: the method says so
        page.wait_for_function("document.querySelector('#sweep-method').textContent.includes('interquartile')")
        page.wait_for_timeout(3500)  # the page's own refresh (a point is running) keeps the estimator asked for
        assert "interquartile" in page.inner_text("#sweep-method") and page.input_value("#sweep-estimator") == "iqm"
        iqm = page.eval_on_selector_all("#sweep-compare tbody tr", "rs => rs.map(r => r.innerText.split('\\t'))")
        assert iqm[0][:3] == ["random", "2/2", "0.5 [0.4, 0.6]"]  # two seeds: their IQM is their mean
        page.screenshot(path=tmp_path / "sweep.png", full_page=True)
        send(writer, "end")  # the running point completes: the page says so without a reload
        page.wait_for_function("document.querySelector(\"#sweep-grid tr[data-point='stride|7'] .status\")"
                               ".textContent === 'completed'", timeout=20_000)
        page.click("#sweep-runs")
        page.wait_for_function("window.ol.state.view === 'runs' && window.ol.state.group === 'setting'")
        assert len(page.evaluate("window.ol.state.runs").split(",")) == 4
        assert_clean(page)


def test_a_saved_workspace_reopens_after_a_restart(tmp_path, serve, browser):
    store = tmp_path / "runs"
    _group(store)
    server = serve(store)
    page = open_page(browser, server.url)
    page.wait_for_function("Object.keys(window.ol.page.workspace.panels).length > 2")
    page.click("button[data-remove='train/loss']")
    page.select_option("#size", "s")
    view = page.url.split("#", 1)[1]
    page.fill("#ws-name", "small-no-loss")
    page.click("#ws-save")
    page.wait_for_function("document.querySelector('#ws-said').textContent === 'saved as small-no-loss'")
    bad = page.evaluate("fetch('/api/workspaces', {method: 'POST', headers: {'Content-Type': 'application/json'}, "
                        "body: JSON.stringify({name: '../x', view: 'a'})}).then(r => r.status)")
    assert bad == 400 and not (tmp_path / "x.json").exists()
    server.stop()

    again = open_page(browser, serve(store).url)  # another server, a fresh page: the workspace is in the store
    again.wait_for_selector("#ws-open:not([hidden])")
    again.select_option("#ws-open", label="small-no-loss")
    again.wait_for_function("window.ol.state.size === 's' && window.ol.state.hide === 'train/loss'")
    assert again.url.split("#", 1)[1] == view
    again.wait_for_function("Object.keys(window.ol.page.workspace.panels).length > 0 && "
                            "!('train/loss' in window.ol.page.workspace.panels)")
    assert again.evaluate("document.querySelector('.ws-grid').className") == "ws-grid size-s"
    assert_clean(again)


def test_a_panel_takes_its_own_x_axis_smoothing_grouping_and_log_scale(tmp_path, serve, browser):
    store = tmp_path / "runs"
    _group(store)
    page = open_page(browser, serve(store).url)
    acc, loss = "window.ol.page.workspace.panels['train/acc']", "window.ol.page.workspace.panels['train/loss']"
    field = ".panel[data-metric='train/acc'] [data-field='{}']"
    page.wait_for_function(f"{acc} && {acc}.loaded && {loss} && {loss}.loaded")
    page.click("button[data-gear='train/acc']")
    page.select_option(field.format("x"), "epoch")
    page.wait_for_function(f"{acc}.loaded.view.x === 'epoch'")
    assert page.evaluate(f"{acc}.loaded.curves['live/done-0'].x") == [0, 1, 2]
    assert page.evaluate(f"{loss}.loaded.view.x") == "step"  # the other panels as the page says
    page.select_option(field.format("group"), "seed")
    page.wait_for_function(f"{acc}.loaded.groups && {acc}.loaded.groups.by === 'seed'")
    seeds = {g["name"]: g["x"] for g in page.evaluate(f"{acc}.loaded.groups.groups")}
    assert seeds["0"] == seeds["1"] == seeds["2"] == [0, 1, 2]  # by seed, over epochs
    page.fill(field.format("smooth"), "0.5")
    page.press(field.format("smooth"), "Enter")
    page.check(field.format("log"))
    page.wait_for_function(f"{acc}.chart.data.logY === true")
    drawn = page.evaluate(f"{acc}.chart.data.series.find(s => s.key === 'live/done-1')")
    assert drawn["y"] != drawn["raw"]  # smoothed here, and only here
    other = page.evaluate(f"{loss}.chart.data")
    assert other["logY"] is False and all(s["y"] == s["raw"] for s in other["series"])
    assert "pset=train%2Facc%7Eepoch%7E0.5%7Eseed%7E1%7E" in page.url
    again = open_page(browser, page.url)  # the link keeps the panel's own settings
    again.wait_for_function(f"{acc} && {acc}.loaded && {acc}.loaded.view.x === 'epoch' && {acc}.chart.data.logY")
    again.screenshot(path=tmp_path / "panel-settings.png")
    assert_clean(page)
    assert_clean(again)


def test_panels_of_any_metric_are_added_each_with_its_own_settings_and_metric(tmp_path, serve, browser):
    """"+ add a panel" puts a panel of the chosen metric first in the workspace, as many of one metric as wanted:
    two loss panels with different smoothing and log scales, one switched to another metric, one removed — and a
    link reopens exactly what is left."""
    store = tmp_path / "runs"
    _group(store)
    page = open_page(browser, serve(store).url)
    panels = "window.ol.page.workspace.panels"
    page.wait_for_function(f"{panels}['train/loss'] && {panels}['train/loss'].loaded")
    for _ in range(3):
        page.select_option("#ws-add", "train/loss")
    sections = page.eval_on_selector_all("#workspace .ws-section", "s => s.map(e => e.dataset.source)")
    assert sections[:2] == ["+", "train"]
    assert page.eval_on_selector_all(".ws-section[data-source='+'] .panel", "ps => ps.map(p => p.dataset.panel)") == \
        ["+3", "+2", "+1"]  # the newest first
    field = ".panel[data-panel='{}'] [data-field='{}']"
    page.click("button[data-gear='+1']")
    page.fill(field.format("+1", "smooth"), "0.5")
    page.press(field.format("+1", "smooth"), "Enter")
    page.check(field.format("+1", "log"))
    page.click("button[data-gear='+2']")
    page.select_option(field.format("+2", "metric"), "train/acc")
    page.click("button[data-remove='+3']")
    one, two = f"{panels}['+1']", f"{panels}['+2']"
    page.wait_for_function(f"{one}.loaded && {one}.chart.data && {one}.chart.data.logY && "
                           f"{two}.loaded && {two}.metric === 'train/acc'")
    assert "+3" not in page.evaluate(f"Object.keys({panels})")
    assert page.evaluate(f"{one}.loaded.curves['live/done-0'].y") == pytest.approx([1.0 / s for s in range(1, 31)])
    drawn = page.evaluate(f"{one}.chart.data.series.find(s => s.key === 'live/done-1')")
    assert drawn["y"] != drawn["raw"]  # smoothed in this panel
    assert page.evaluate(f"{two}.loaded.curves['live/done-1'].y") == pytest.approx([10 / 30 - 0.1, 20 / 30 - 0.1, 0.9])
    own = f"{panels}['train/loss'].chart.data"  # the metric's own panel is untouched
    assert not page.evaluate(f"{own}.logY") and all(s["y"] == s["raw"] for s in page.evaluate(f"{own}.series"))
    page.click("button[data-cmd='+2']")
    assert "-m train/acc " in page.inner_text(".panel[data-panel='+2'] .panel-cmd")
    page.click("button[data-svg='+1']")  # the panel as drawn, in vectors: its axis label and a line per run
    page.wait_for_function("window.ol.page.workspace.lastDownload.name === 'train-loss.svg'")
    svg = ElementTree.fromstring(page.evaluate("window.ol.page.workspace.lastDownload.blob.text()"))
    ns = "{http://www.w3.org/2000/svg}"
    assert svg.tag == f"{ns}svg" and "train/loss (log)" in [t.text for t in svg.iter(f"{ns}text")]
    lines = {p.get("stroke"): p.get("d") for p in svg.iter(f"{ns}path") if p.get("fill") == "none"}
    for run in page.evaluate(f"{one}.chart.data.series.filter(s => s.x.length > 1)"):
        assert len(re.findall(r"[ML]", lines[run["color"]])) == len(run["x"])
    page.screenshot(path=tmp_path / "added-panels.png")

    again = open_page(browser, page.url)
    again.wait_for_function(f"{one} && {one}.loaded && {one}.chart.data.logY && {two} && {two}.loaded")
    assert again.eval_on_selector_all(".ws-section[data-source='+'] .panel", "ps => ps.map(p => p.dataset.metric)") == \
        ["train/acc", "train/loss"]
    assert again.evaluate(f"{one}.loaded.view.smooth") == "0.5"
    page.select_option("#ws-add", "train/acc")  # +3 was removed with its settings: its number is free again
    assert page.evaluate(f"Object.keys({panels}).filter(k => k.startsWith('+'))") == ["+3", "+2", "+1"]
    assert page.evaluate(f"{panels}['+3'].metric") == "train/acc" and "%2B3%7E" not in page.url.split("pset=")[1]
    assert_clean(page)
    assert_clean(again)
