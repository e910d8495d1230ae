"""The dashboard navigates like any web app: each view a person would come back from (a run's page, compare, a
sweep's page, a metric opened large) is a history entry, so the browser's Back and Forward — driven for real —
return to the exact view, scrolled where it was; a reload shows the same; Escape closes the large chart and "/"
goes to the filter."""

from __future__ import annotations

import re

from ol.producer import Run
from ol.producer.sweep import expand
from ol.schemas import RunContract
from ol.schemas.launch import RunSettings
from ol.store.read.sweep_plans import Plan
from tests.consumers.browser import assert_clean, open_page


def _store(tmp_path):
    store = tmp_path / "runs"
    Plan("nav", "nav", expand(["random", "stride"], [0, 1], {}), RunSettings()).save(store)
    contract = RunContract(main_metric="acc", direction="higher", total_epochs=3)
    for strategy in ("random", "stride"):
        for seed in (0, 1):
            with Run.start(store=store, experiment="nav", strategy=strategy, seed=seed, group="nav",
                           run_id=f"{strategy}-{seed}", contract=contract, handle_signals=False) as run:
                for epoch in range(3):
                    metrics = {f"m{k:02d}": k + epoch + seed for k in range(12)}  # panels enough to scroll
                    run.log(metrics, step=epoch + 1)
                    run.epoch(epoch, {"acc": 0.3 * epoch + 0.01 * seed}, step=epoch + 1)
    return store


def _view(page) -> str:
    return page.evaluate("window.ol.state.view")


def test_back_and_forward_return_to_each_view_and_a_reload_keeps_it(tmp_path, serve, browser):
    server = serve(_store(tmp_path))
    page = open_page(browser, server.url)  # a fresh tab: the dashboard is its first page
    page.wait_for_selector("#runs a[data-run='nav/stride-1']")
    start = page.url

    page.click("#runs a[data-run='nav/stride-1']")  # a run's page
    page.wait_for_selector("#run-view:not([hidden]) h2")
    assert "nav / stride-1" in page.inner_text("#run-view h2")
    page.go_back()
    page.wait_for_function("window.ol.state.view === 'runs' && !document.querySelector('#runs-view').hidden")
    assert page.url == start  # the view it left, not about:blank
    page.go_forward()
    page.wait_for_selector("#run-view:not([hidden]) h2")
    assert _view(page) == "run" and page.evaluate("window.ol.state.run") == "nav/stride-1"
    page.reload()  # a reload shows the same page
    page.wait_for_selector("#run-view:not([hidden]) h2")
    assert "nav / stride-1" in page.inner_text("#run-view h2")
    page.go_back()
    page.wait_for_function("window.ol.state.view === 'runs'")

    page.click("#compare")
    page.wait_for_selector(".compare-section")
    page.go_back()
    page.wait_for_function("window.ol.state.view === 'runs' && !document.querySelector('#runs-view').hidden")

    page.wait_for_selector("#sweep-pick:not([hidden])")
    page.select_option("#sweep-pick", "nav")
    page.wait_for_selector("#sweep-grid")
    page.go_back()
    page.wait_for_function("window.ol.state.view === 'runs' && !document.querySelector('#runs-view').hidden")

    # a panel far down opened large: Back returns to the metric before and to where the page was scrolled
    before = page.evaluate("window.ol.state.metric")
    panel = "#workspace .panel[data-panel='train/m11']"
    page.wait_for_function("window.ol.page.workspace.panels['train/m00']?.loaded")
    page.wait_for_load_state("networkidle")  # the runs view has settled: nothing lays the panels out again
    page.evaluate(f"document.querySelector({panel!r}).scrollIntoView()")
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 300
    page.click(f"{panel} button[data-focus]")
    page.wait_for_function("window.ol.state.metric === 'train/m11' && window.scrollY === 0")
    page.go_back()
    page.wait_for_function(f"window.ol.state.metric === {before!r}")
    page.wait_for_function(f"Math.abs(window.scrollY - {scrolled}) < 5")
    page.wait_for_function(f"document.querySelector('#metric').value === {before!r}")  # the controls follow

    # Escape closes the large chart as Back does; "/" goes to the filter
    page.click(f"{panel} button[data-focus]")
    page.wait_for_function("window.ol.state.metric === 'train/m11'")
    page.keyboard.press("Escape")
    page.wait_for_function(f"window.ol.state.metric === {before!r}")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "filter"
    page.keyboard.type("stride")
    assert page.input_value("#filter") == "stride"  # the key typed into it, "/" not among them
    assert_clean(page)


def test_a_runs_page_opens_on_its_charts_main_metric_first_and_marks_deleted_checkpoints(tmp_path, serve, browser):
    """A run of six metrics (train, eval and a hook's): six charts without a click, in sections by source with the
    main metric's section and the main metric first, each drawing the logged values; a checkpoint a framework
    deleted since it was recorded is marked, the one still there is not."""
    store = tmp_path / "runs"
    contract = RunContract(main_metric="val_acc", direction="higher")
    with Run.start(store=store, experiment="page", run_id="six", contract=contract, handle_signals=False) as run:
        for step in range(1, 6):
            run.log({"loss": 1.0 / step, "lr": 0.1, "grad_norm": 2.0 * step}, step=step)
            run.log({"val_acc": 0.1 * step, "val_loss": 2.0 - 0.1 * step}, step=step, source="eval")
            run.log({"total": 3.0 + step}, step=step, source="norms")
        for step in (2, 4):
            path = run.dir / "checkpoints" / f"step-{step}.pt"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(b"x" * step)
            run.checkpoint(path, step=step)
        (run.dir / "checkpoints" / "step-2.pt").unlink()  # as Lightning's ModelCheckpoint deletes an older one
    server = serve(store)
    page = open_page(browser, server.url + "#view=run&run=page/six")
    page.wait_for_function("runPage.workspace && Object.values(runPage.workspace.panels).length === 6")
    panels = page.eval_on_selector_all("#run-workspace .panel", "ps => ps.map(p => p.dataset.panel)")
    assert panels[0] == "eval/val_acc" and sorted(panels) == sorted(
        ["eval/val_acc", "eval/val_loss", "train/loss", "train/lr", "train/grad_norm", "norms/total"])
    sections = page.eval_on_selector_all("#run-workspace .ws-section", "s => s.map(e => e.dataset.source)")
    assert sections[0] == "eval"
    page.wait_for_function("Object.values(runPage.workspace.panels).every(p => p.loaded)")  # all on one screen
    drawn = page.evaluate("runPage.workspace.panels['eval/val_acc'].loaded.curves['page/six']")
    assert drawn["x"] == [1, 2, 3, 4, 5] and drawn["y"] == [0.1 * s for s in range(1, 6)]
    rows = "rs => rs.map(r => [r.cells[0].textContent, r.className, r.cells[3].textContent])"
    marks = page.eval_on_selector_all("h3:has-text('checkpoints') + table tbody tr", rows)
    assert marks == [["2", "deleted", "deleted"], ["4", "", "on disk"]]
    page.screenshot(path=tmp_path / "run-page.png", full_page=True)
    assert_clean(page)


def test_panels_say_loading_or_why_they_are_empty_and_small_ones_get_three_ticks(tmp_path, serve, browser):
    """A panel not yet scrolled to says it is loading (no made-up 0–1 axes); one whose runs have nothing on its
    x axis says so; the smallest panels still get at least three readable y ticks (a test loss of 2.9–3.4 once
    showed a lone "3")."""
    store = tmp_path / "runs"
    with Run.start(store=store, experiment="ticks", run_id="t", handle_signals=False) as run:
        for step in range(1, 21):
            run.log({f"m{k:02d}": 2.9 + 0.5 * (step % 7) / 6 + k for k in range(30)}, step=step)
    server = serve(store)
    page = open_page(browser, server.url + "#size=s&pset=train%2Fm01~epoch~~~~")
    page.wait_for_function("window.ol.page.workspace.panels['train/m00']?.loaded")
    below = page.evaluate("document.querySelector(\"#workspace .panel[data-panel='train/m29'] .panel-chart\")"
                          ".dataset.message")
    assert below == "loading…"  # not yet scrolled to: it says so instead of drawing empty axes
    page.wait_for_function("window.ol.page.workspace.panels['train/m01']?.loaded")
    empty = page.evaluate("document.querySelector(\"#workspace .panel[data-panel='train/m01'] .panel-chart\")"
                          ".dataset.message")
    assert empty == "no data: none of these runs logged train/m01 with an epoch"
    svg = page.evaluate("window.ol.page.workspace.panels['train/m00'].chart.toSVG()")
    y_ticks = re.findall(r'text-anchor="end"[^>]*>([^<]+)<', svg)
    assert len(y_ticks) >= 3, y_ticks
    assert all(len(t) <= 5 for t in y_ticks), y_ticks  # round values, not 2.9166666
    page.locator("#workspace .ws-section").first.screenshot(path=tmp_path / "small-panels.png")
    assert_clean(page)


def test_in_a_sweep_over_lr_legends_name_lr_and_its_default_group_never_mixes_two(tmp_path, serve, browser):
    """Two strategies × lr ∈ {0.001, 0.003} × two seeds: every legend entry says its lr (not a hash), and the
    sweep's runs opened in the workspace are grouped by setting — a band per strategy × lr, each the mean of its
    two seeds — never one band over both learning rates."""
    store = tmp_path / "runs"
    Plan("lr", "sweep", expand(["random", "stride"], [0, 1], {"lr": [0.001, 0.003]}), RunSettings()).save(store)
    for strategy in ("random", "stride"):
        for seed in (0, 1):
            for lr in (0.001, 0.003):
                with Run.start(store=store, experiment="sweep", strategy=strategy, seed=seed, group="lr",
                               config={"lr": lr, "width": 8}, handle_signals=False) as run:
                    for epoch in range(3):
                        run.epoch(epoch, {"acc": 100 * lr + 0.01 * seed + 0.1 * epoch}, step=epoch + 1)
    server = serve(store)
    page = open_page(browser, server.url)
    page.wait_for_selector("#sweep-pick:not([hidden])")
    page.select_option("#sweep-pick", "lr")
    page.wait_for_selector("#sweep-runs")
    page.click("#sweep-runs")
    page.wait_for_function("window.ol.state.group === 'setting' && window.ol.page.groups?.groups?.length === 4")
    groups = {g["name"]: g for g in page.evaluate("window.ol.page.groups.groups")}
    assert sorted(groups) == ["random · lr=0.001", "random · lr=0.003", "stride · lr=0.001", "stride · lr=0.003"]
    assert all(len(g["runs"]) == 2 for g in groups.values())  # each band: the two seeds of one setting
    assert groups["stride · lr=0.003"]["mean"] == [0.305, 0.405, 0.505]
    page.select_option("#group", "")  # no grouping: a line per run, each label naming its lr and seed
    page.wait_for_function("window.ol.page.groups === null")
    legend = page.eval_on_selector_all("#legend > span", "s => s.map(e => e.textContent)")
    assert len(legend) == 8 and all("lr=" in t and "seed" in t and "(" not in t for t in legend), legend
    assert not any("width=" in t for t in legend)  # the same in every run: it tells nothing apart
    page.select_option("#group", "strategy")  # any set of keys: strategy, and then lr
    page.select_option("#group-and", "config.lr")
    page.wait_for_function("window.ol.state.group === 'strategy,config.lr' && "
                           "window.ol.page.groups?.groups?.length === 4")
    page.select_option("#group-and", "seed")  # and one more key: any set of them
    page.wait_for_function("window.ol.state.group === 'strategy,config.lr,seed' && "
                           "window.ol.page.groups?.groups?.length === 8")
    page.select_option("#group-and", "")  # none more: back to the first key alone
    page.wait_for_function("window.ol.state.group === 'strategy' && window.ol.page.groups?.groups?.length === 2")
    page.select_option("#theme", "dark")
    page.screenshot(path=tmp_path / "sweep-lr-dark.png")
    assert_clean(page)


def test_the_first_screen_is_the_newest_runs_experiment_and_says_when_no_hyperparameter_varies(tmp_path, serve,
                                                                                                 browser):
    """Runs of three experiments, the newest ungrouped: the first screen shows the newest experiment's latest runs
    only, never a mix; those runs (as a Lightning user's) differ in nothing but their seed, so the hyperparameter
    section says so instead of drawing wall time against wall time."""
    import time

    store = tmp_path / "runs"
    for experiment, n in (("old-sweep", 3), ("other", 2), ("lightning", 3)):
        for seed in range(n):
            with Run.start(store=store, experiment=experiment, seed=seed, run_id=f"{experiment}-{seed}",
                           group="g" if experiment == "old-sweep" else None, config={"max_epochs": 3},
                           handle_signals=False) as run:
                run.log({"loss": 1.0 + seed}, step=1)
        time.sleep(0.05)  # the experiments in a clear order of starting
    server = serve(store)
    page = open_page(browser, server.url)
    page.wait_for_selector("#hp-none")
    assert sorted(page.evaluate("window.ol.state.runs").split(",")) == [f"lightning/lightning-{s}" for s in range(3)]
    assert "No hyperparameter varies among these 3 runs" in page.inner_text("#hp-none")
    assert page.locator("#hp-parallel").count() == 0
    assert_clean(page)
