"""`ol ui` as a person uses it: a real `ol ui` process, headless Chromium driven by Playwright.

What the chart drew is read from the page (``window.ol``), not from pixels, and checked against the
events. Every test fails on a console error or on any request to a host other than 127.0.0.1, and
leaves a screenshot per view in its temporary directory.
"""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ol.schemas import Epoch, RunStarted
from ol.store.log.writer import LogWriter

sys.path.insert(0, str(Path(__file__).parents[1]))
import damage  # noqa: E402

from tests.consumers.browser import OL, assert_clean, live_writer, open_page, send  # noqa: E402


def crashed_run(store: Path, run_id: str) -> None:
    """A run whose writer died after two epochs: no run-ended event, no lock held."""
    writer = LogWriter.create(store / "exp" / run_id / "log", run_id)
    writer.append([RunStarted(run_id=run_id, experiment="exp", strategy="random", seed=3, config={"lr": 0.1})])
    epochs = [Epoch(epoch=0, step=10, metrics={"test_acc": 0.3}), Epoch(epoch=1, step=20, metrics={"test_acc": 0.5})]
    writer.append([(s, s // 10, s * 0.01, {"loss": 2.0 / s}) for s in range(1, 21)] + epochs)
    writer.close()


def test_runs_table_curves_groups_and_deep_links(store, serve, browser, tmp_path):
    crashed_run(store, "r-crashed")
    hurt = damage.healthy_run(store, "r-damaged", seed=5)
    damage.damage(hurt, random.Random(1), "flip_frame")
    server = serve(store)
    page = open_page(browser, server.url)
    statuses = dict(page.eval_on_selector_all(
        "#runs tbody tr", "rows => rows.map(r => [r.dataset.key, r.querySelector('.status').textContent])"))
    assert statuses == {"exp/r-stride-1": "completed", "exp/r-stride-2": "completed",
                        "exp/r-random-1": "completed", "exp/r-crashed": "crashed", "exp/r-damaged": "completed"}
    problem = page.get_attribute("#runs tr[data-key='exp/r-damaged'] .problem", "title")
    assert "damaged" in problem and "ol verify r-damaged" in problem
    assert page.query_selector("#runs tr[data-key='exp/r-stride-1'] .problem") is None
    # no run is in a group: the first page shows the latest runs, all five here
    page.wait_for_function("Object.keys(window.ol.page.curves).length === 5")
    page.click("#clear")
    page.wait_for_function("Object.keys(window.ol.page.curves).length === 0")
    page.screenshot(path=tmp_path / "runs-empty-selection.png")

    # select three runs by their checkboxes, as a person would
    for key in ("exp/r-stride-1", "exp/r-stride-2", "exp/r-random-1"):
        page.check(f"#runs tr[data-key='{key}'] input[type=checkbox]")
    page.wait_for_function("Object.keys(window.ol.page.curves).length === 3")
    page.select_option("#metric", "train/loss")
    page.wait_for_function("window.ol.state.metric === 'train/loss' && "
                           "(window.ol.page.curves['exp/r-random-1'] || {y: []}).y.length === 30")
    drawn = page.evaluate("window.ol.page.curves")
    for key, seed in (("exp/r-stride-1", 1), ("exp/r-stride-2", 2)):
        assert drawn[key]["x"] == list(range(1, 31))
        assert drawn[key]["y"] == pytest.approx([1.0 / (s + 1) + seed * 0.01 for s in range(1, 31)], abs=0)
    assert drawn["exp/r-random-1"]["y"][20] == pytest.approx(1.0 / 22 + 0.01 + 100, abs=0)  # resumed stretch
    page.mouse.move(1100, 400)  # show the hover readout in the screenshot
    page.screenshot(path=tmp_path / "curves-light.png")

    # drag across the chart: the page asks for that range and draws what comes back
    box = page.locator("#chart canvas").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.4, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, y, steps=5)
    page.mouse.up()
    page.wait_for_function("window.ol.state.x0 !== '' && window.ol.page.curves['exp/r-stride-1'].x.length < 30")
    x0, x1 = float(page.evaluate("window.ol.state.x0")), float(page.evaluate("window.ol.state.x1"))
    zoomed = page.evaluate("window.ol.page.curves['exp/r-stride-1']")
    assert 1 < x0 < x1 < 30 and all(x0 <= x <= x1 for x in zoomed["x"][1:-1])
    assert zoomed["x"][0] < x0 and zoomed["x"][-1] > x1  # one point either side: lines reach the edges
    page.dblclick("#chart canvas")
    page.wait_for_function("window.ol.state.x0 === '' && window.ol.page.curves['exp/r-stride-1'].x.length === 30")

    page.select_option("#metric", "eval/test_acc")
    page.select_option("#group", "strategy")
    page.wait_for_function("window.ol.page.groups && window.ol.page.groups.metric === 'eval/test_acc'")
    groups = {g["name"]: g for g in page.evaluate("window.ol.page.groups.groups")}
    means = [(min(1.0, s / 25 + 0.001) + min(1.0, s / 25 + 0.002)) / 2 for s in (10, 20, 30)]
    assert groups["stride"]["mean"] == pytest.approx(means)
    assert groups["random"]["runs"] == ["exp/r-random-1"]
    page.fill("#threshold", "0.8")
    page.press("#threshold", "Enter")
    page.wait_for_selector("#crossings:not([hidden])")
    assert "2 of 2" in page.inner_text("#crossings")
    page.select_option("#theme", "dark")
    page.screenshot(path=tmp_path / "groups-dark.png")

    # a deep link reopens the same view in a fresh page
    link = page.url
    assert "group=strategy" in link and "metric=eval%2Ftest_acc" in link
    again = open_page(browser, link)
    again.wait_for_function("window.ol.page.groups && window.ol.page.groups.groups.length === 2")
    assert again.evaluate("window.ol.state.runs") == page.evaluate("window.ol.state.runs")
    assert again.input_value("#metric") == "eval/test_acc" and again.input_value("#group") == "strategy"
    assert again.evaluate("window.ol.page.groups.groups") == page.evaluate("window.ol.page.groups.groups")

    # a run's page
    again.click("#runs a[data-run='exp/r-random-1']")
    again.wait_for_selector("#run-view h2")
    text = again.inner_text("#run-view")
    assert "r-random-1" in text and "ol train exp --resume" in text and "checkpoints/x.pt" in text
    assert "run_resumed" in text  # the events list, newest first
    again.screenshot(path=tmp_path / "run-page.png", full_page=True)
    for p in (page, again):
        assert_clean(p)


def test_live_points_appear_and_a_killed_writer_turns_crashed(serve, browser, tmp_path):
    store = tmp_path / "runs"
    with live_writer(store, "w1") as writer:
        for step in range(1, 6):
            send(writer, f"{step} {1.0 / step}")
        server = serve(store)
        page = open_page(browser, server.url + "#runs=live/w1&metric=train/loss")
        page.wait_for_function("window.ol.page.curves['live/w1'] && window.ol.page.curves['live/w1'].x.length === 5")
        assert page.inner_text("#runs tr[data-key='live/w1'] .status") == "running"
        draws = page.evaluate("window.ol.page.draws")
        send(writer, "6 0.125")
        page.wait_for_function("window.ol.page.curves['live/w1'].x.includes(6)", timeout=10_000)
        curve = page.evaluate("window.ol.page.curves['live/w1']")
        assert curve["x"] == [1, 2, 3, 4, 5, 6] and curve["y"][-1] == 0.125
        assert page.evaluate("window.ol.page.draws") > draws
        assert page.evaluate("document.body.dataset.ready") == "1", "the page reloaded"
        page.screenshot(path=tmp_path / "live.png")
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        status = "document.querySelector(\"#runs tr[data-key='live/w1'] .status\").textContent"
        page.wait_for_function(f"{status} === 'crashed'", timeout=15_000)
        page.screenshot(path=tmp_path / "live-crashed.png")
        assert_clean(page)


def test_a_port_in_use_is_one_line_naming_it(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run(OL + ["ui", "--store", str(tmp_path), "--port", str(port)], capture_output=True,
                              text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"error: ui: port {port} on 127.0.0.1 is in use (another `ol ui`?); pass --port N, "
                                   "or --port 0 for any free port")


def test_an_empty_store_says_how_to_make_a_run(serve, browser, tmp_path):
    server = serve(tmp_path / "no-store-here")
    page = open_page(browser, server.url)
    message = page.inner_text("#message")
    assert "does not exist" in message and "ol train" in message
    page.screenshot(path=tmp_path / "empty.png")
    assert_clean(page)


def test_a_lower_is_better_main_metric_sets_the_crossing_it_declares(tmp_path, serve, browser):
    """Runs whose contract says val_loss, lower is better, target 0.5: selecting them picks that metric, the
    crossing 'reached from above' and the target as threshold, and the crossings table counts who got there."""
    from ol.producer import Run
    from ol.schemas import RunContract

    store = tmp_path / "runs"
    contract = RunContract(main_metric="val_loss", direction="lower", target=0.5, total_epochs=4)
    for seed, rate in ((0, 0.3), (1, 0.1)):
        with Run.start(store=store, experiment="lm", strategy="random", seed=seed, run_id=f"lm-{seed}",
                       contract=contract, handle_signals=False) as run:
            for epoch in range(4):
                run.log({"loss": 1.0}, step=epoch)
                run.epoch(epoch, eval={"val_loss": 1.0 - rate * (epoch + 1)})
    server = serve(store)
    page = open_page(browser, server.url)
    for key in ("lm/lm-0", "lm/lm-1"):
        page.check(f"#runs tr[data-key='{key}'] input[type=checkbox]")
    page.wait_for_function("window.ol.state.metric === 'eval/val_loss'")
    assert (page.input_value("#threshold"), page.input_value("#direction")) == ("0.5", "below")
    page.select_option("#x", "epoch")
    page.select_option("#group", "strategy")
    page.wait_for_selector("#crossings td")
    cells = page.eval_on_selector_all("#crossings tbody td", "tds => tds.map(t => t.textContent)")
    assert cells == ["random", "1 of 2 [0.01, 0.99]", "1"]  # seed 0 reaches 0.4 ≤ 0.5 at epoch 1; seed 1 never does
    page.screenshot(path=tmp_path / "lower-is-better.png")
    assert_clean(page)


def test_a_runs_name_tags_and_later_config_show_in_the_table_and_its_page(tmp_path, serve, browser):
    """Run.start(name=, tags=) and run.config.update(...) / run.summary: the table gains name and tags columns,
    the config column shows the value as it is now, and the run's page says what changed after the start."""
    from ol.producer import Run

    store = tmp_path / "runs"
    with Run.start(store=store, experiment="exp", strategy="random", seed=2, run_id="named", name="wide lr sweep",
                   tags=["baseline", "v2"], config={"lr": 0.1}, handle_signals=False) as run:
        run.log({"loss": 1.0}, step=0)
        run.config.update({"lr": 0.05})
        run.summary["best_loss"] = 0.25
    server = serve(store)
    page = open_page(browser, server.url)
    row = "#runs tr[data-key='exp/named']"
    page.wait_for_selector(row)
    headers = page.eval_on_selector_all("#runs th", "ths => ths.map(t => t.textContent.trim())")
    assert "name" in headers and "tags" in headers and "lr" in headers
    cells = dict(zip(headers, page.eval_on_selector_all(f"{row} td", "tds => tds.map(t => t.textContent.trim())"),
                     strict=False))
    assert (cells["name"], cells["tags"], cells["lr"]) == ("wide lr sweep", "baseline, v2", "0.05")
    page.click("#runs a[data-run='exp/named']")
    page.wait_for_selector("#run-view h2")
    text = page.inner_text("#run-view")
    assert "wide lr sweep" in page.inner_text("#run-view h2") and "baseline" in text
    assert "changed after the start (run.config.update): lr" in text and "best_loss" in text
    page.screenshot(path=tmp_path / "named-run.png", full_page=True)
    assert_clean(page)


def test_a_network_served_dashboard_works_with_its_token_and_only_with_it(store, browser, tmp_path):
    proc = subprocess.Popen(OL + ["ui", "--store", str(store), "--host", "0.0.0.0", "--port", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        deadline = time.time() + 120
        while time.time() < deadline and "token=" not in line:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "ol ui exited"
        port, token = re.search(r":(\d+)/\?token=([\w-]+)", line).groups()
        page = browser.new_page()
        refused = page.goto(f"http://127.0.0.1:{port}/")
        assert refused.status == 401 and "token" in page.content()
        page.close()
        page = open_page(browser, f"http://127.0.0.1:{port}/?token={token}")
        assert "token" not in page.url  # kept in a cookie, gone from the address bar and the history
        assert page.eval_on_selector_all("#runs tbody tr", "rows => rows.length") == 3
        page.screenshot(path=tmp_path / "token.png")
        assert_clean(page)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_store_of_many_runs_shows_one_page_of_its_table(serve, browser, tmp_path):
    """250 runs: the table holds one page (200 rows) and says how many there are; the next page, a search
    and a click on a column header ask the server, and a selected run stays charted off its page."""
    store = tmp_path / "runs"
    for i in range(250):
        writer = LogWriter.create(store / "grid" / f"g-{i:03d}" / "log", f"g-{i:03d}")
        writer.append([RunStarted(run_id=f"g-{i:03d}", experiment="grid", strategy=("a", "b")[i % 2], seed=i,
                                  started_at=1_000_000.0 + i)])
        writer.append([(s, 0, s * 0.01, {"loss": (i + 1) / (s + 1)}) for s in range(1, 11)])
        writer.close()
    server = serve(store)
    page = open_page(browser, server.url)
    rows = lambda: page.eval_on_selector_all("#runs tbody tr", "rs => rs.map(r => r.dataset.key)")  # noqa: E731
    assert len(rows()) == 200 and rows()[0] == "grid/g-249"
    assert page.inner_text("#count").startswith("1–200 of 250 runs, 10 selected")  # the latest ten at first
    page.click("#clear")
    page.check("#runs tr[data-key='grid/g-249'] input[type=checkbox]")
    page.wait_for_function("Object.keys(window.ol.page.curves).length === 1")
    page.screenshot(path=tmp_path / "runs-page-1.png")
    page.click("#next")
    page.wait_for_function("document.querySelectorAll('#runs tbody tr').length === 50")
    assert rows()[-1] == "grid/g-000" and page.inner_text("#count").startswith("201–250 of 250 runs")
    assert "grid/g-249" in page.evaluate("window.ol.page.byKey")  # still charted, though not on this page
    page.click("#runs th[data-sort='seed']")  # by seed, highest first, from the first page again
    page.wait_for_function("document.querySelector('#runs tbody tr').dataset.key === 'grid/g-249' && "
                           "document.querySelectorAll('#runs tbody tr').length === 200")
    page.fill("#filter", "g-01")
    page.wait_for_function("document.querySelectorAll('#runs tbody tr').length === 10")
    assert page.inner_text("#count").startswith("1–10 of 10 matching of 250 runs")
    page.screenshot(path=tmp_path / "runs-search.png")
    assert_clean(page)
