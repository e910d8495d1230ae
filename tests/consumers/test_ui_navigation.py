"""The dashboard navigates like any web app: each view a person would come back from (a run's page, compare, a
sweep's page, a metric opened large) is a history entry, so the browser's Back and Forward — driven for real —
return to the exact view, scrolled where it was; a reload shows the same; Escape closes the large chart and "/"
goes to the filter."""

from __future__ import annotations

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
    assert page.evaluate("document.querySelector('#metric').value") == before

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
