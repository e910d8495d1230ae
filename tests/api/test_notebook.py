"""The notebook API: `ol.open(store)`, and the notebook guide's example (docs/guides/notebook.md) run as a script."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

import ol
from ol.errors import OlError
from ol.producer import Run
from ol.schemas import RunContract

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "notebook.md"
CONTRACT = RunContract(main_metric="test_acc", direction="higher", target=0.9, total_epochs=5)


def _write(store: Path, strategy: str, seed: int, rate: float, resume: bool = False) -> str:
    """Five epochs of a run whose test accuracy rises at ``rate`` per epoch, 4 steps each."""
    with Run.start(store=store, experiment="exp", strategy=strategy, seed=seed, config={"lr": 0.1 * (seed + 1)},
                   contract=CONTRACT, run_id=f"{strategy}-{seed}", handle_signals=False) as run:
        for epoch in range(5):
            for i in range(4):
                step = epoch * 4 + i
                run.log({"loss": 1.0 / (step + 1)}, step=step, epoch=epoch)
            run.epoch(epoch, {"train_loss": 1.0 / (epoch + 1)}, eval={"test_acc": min(1.0, rate * (epoch + 1))})
    return run.run_id


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "runs"
    _write(root, "stride", 0, 0.25)
    _write(root, "stride", 1, 0.15)
    _write(root, "random", 0, 0.10)
    return root


def test_runs_carry_identity_contract_and_the_best_of_the_main_metric(store):
    opened = ol.open(store)
    runs = opened.runs().to_pylist()
    by_id = {r["run_id"]: r for r in runs}
    assert set(by_id) == {"stride-0", "stride-1", "random-0"}
    assert by_id["stride-0"]["main_metric"] == "test_acc" and by_id["stride-0"]["direction"] == "higher"
    assert by_id["stride-0"]["main_best"] == 1.0 and by_id["random-0"]["main_best"] == pytest.approx(0.5)
    assert (by_id["stride-0"]["main_best_epoch"], by_id["stride-0"]["target_epoch"]) == (3, None)  # no event said
    assert by_id["stride-1"]["main_final"] == pytest.approx(0.75) and by_id["stride-1"]["lr"] == pytest.approx(0.2)
    assert [r["run_id"] for r in opened.runs(strategy="stride", seed=1).to_pylist()] == ["stride-1"]
    with pytest.raises(OlError, match="no column 'colour'"):
        opened.runs(colour="red")


def test_metrics_long_and_wide_on_every_axis(store):
    opened = ol.open(store)
    long = opened.metrics(runs=["random-0"], names=["test_acc"], x="epoch").to_pylist()
    assert [(r["x"], r["source"], r["name"]) for r in long] == [(e, "eval", "test_acc") for e in range(5)]
    assert [r["value"] for r in long] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    wide = opened.metrics(runs="stride-0", names=["train_loss", "eval/test_acc"], x="epoch", wide=True)
    assert wide.column_names == ["run_id", "x", "train_loss", "eval/test_acc"]
    assert wide.column("eval/test_acc").to_pylist() == [0.25, 0.5, 0.75, 1.0, 1.0]
    timed = opened.metrics(runs="stride-0", names=["loss"], x="time").column("x").to_pylist()
    assert len(timed) == 20 and timed == sorted(timed) and all(t >= 0 for t in timed)
    with pytest.raises(OlError, match="x is one of step, epoch, time"):
        opened.metrics(names=["loss"], x="wall")
    with pytest.raises(OlError, match="nope"):
        opened.metrics(names=["nope"])


def test_compare_and_best_are_the_export_tables(store):
    opened = ol.open(store)
    table = {r["strategy"]: r for r in opened.compare(metrics=["test_acc"], stat="max").to_pylist()}
    assert table["stride"]["runs"] == 2 and table["stride"]["test_acc"] == pytest.approx((1.0 + 0.75) / 2)
    assert table["stride"]["test_acc std"] == pytest.approx(math.sqrt(2 * 0.125 ** 2))
    assert table["random"]["runs"] == 1 and table["random"]["test_acc"] == pytest.approx(0.5)
    ranked = opened.best("test_acc").to_pylist()
    assert [r["run_id"] for r in ranked] == ["stride-0", "stride-1", "random-0"]  # higher is better: declared
    lowest = opened.best("test_acc", direction="lower", stat="final").to_pylist()  # said here: overrides the runs
    assert [(r["run_id"], r["test_acc"]) for r in lowest] == [("random-0", 0.5), ("stride-1", 0.75), ("stride-0", 1.0)]
    with pytest.raises(OlError, match="not declared by these runs"):
        opened.best("train_loss")  # no run says which way is better for it: asked, never guessed


def test_the_notebook_guides_example_runs_end_to_end(store, monkeypatch):
    text = GUIDE.read_text()
    block = re.search(r"<!-- notebook-example -->\n```python\n(.*?)```", text, re.S)
    assert block, "the notebook guide has no example"
    monkeypatch.chdir(store.parent)  # the example opens "runs"
    namespace: dict = {}
    exec(compile(block.group(1), "the notebook guide example", "exec"), namespace)  # noqa: S102 - our own guide
    assert (store.parent / "test_acc.png").stat().st_size > 10_000
    assert namespace["ranked"].column("run_id").to_pylist()[0] == "stride-0"
    assert namespace["late"].num_rows == 3 and namespace["table"].num_rows == 2
    assert namespace["frame"].shape == (15, 4)  # polars, from the wide table


def test_reading_while_a_run_is_written(tmp_path):
    root = tmp_path / "runs"
    run = Run.start(store=root, experiment="exp", run_id="live", contract=CONTRACT, handle_signals=False)
    try:
        run.log({"loss": 1.0}, step=0)
        run.epoch(0, eval={"test_acc": 0.3})
        run.flush()
        opened = ol.open(root)
        assert opened.runs().column("status").to_pylist() == ["running"]
        run.epoch(1, eval={"test_acc": 0.6}, step=1)
        run.flush()
        assert opened.metrics(names=["test_acc"], x="epoch").column("value").to_pylist() == [0.3, 0.6]
    finally:
        run.close()
    with pytest.raises(OlError, match="there is no store"):
        ol.open(tmp_path / "missing")


def test_plot_defaults_are_what_the_runs_declared(store, tmp_path):
    """`ol plot convergence` with no --metric/--threshold/--direction uses the runs' main metric, target and
    direction; runs that declare none get a one-line error asking for them, never a guessed metric name."""
    from typer.testing import CliRunner

    from ol.cli.app import app

    runner = CliRunner()
    out = tmp_path / "conv.png"
    done = runner.invoke(app, ["plot", "convergence", "stride-0", "stride-1", "random-0", "--store", str(store),
                               "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert out.stat().st_size > 5_000
    done = runner.invoke(app, ["plot", "compare", "stride-0", "random-0", "--store", str(store), "--out",
                               str(tmp_path / "cmp.png"), "--stat", "max"])
    assert done.exit_code == 0, done.output
    plain = tmp_path / "plain"
    with Run.start(store=plain, experiment="own", run_id="p", handle_signals=False) as run:
        run.epoch(0, eval={"score": 1.0})
    done = runner.invoke(app, ["plot", "convergence", "p", "--store", str(plain)])
    assert done.exit_code == 1 and "do not declare one main metric" in done.output and "--metric" in done.output
    done = runner.invoke(app, ["plot", "convergence", "p", "--store", str(plain), "--metric", "score"])
    assert done.exit_code == 1 and "pass --threshold X and --direction above|below" in done.output
    done = runner.invoke(app, ["plot", "convergence", "p", "--store", str(plain), "--metric", "score",
                               "--threshold", "0.5", "--direction", "above", "--out", str(tmp_path / "p.png")])
    assert done.exit_code == 0, done.output


def test_a_store_and_a_run_show_themselves_in_a_notebook(store, tmp_path):
    html = ol.open(store)._repr_html_()
    assert "3 run(s)" in html and html.count("<tr>") == 4 and "stride-0" in html and "test_acc" in html
    with Run.start(store=tmp_path / "other", experiment="e", run_id="x-1", name="<b>old</b>",
                   handle_signals=False) as run:
        run.log({"loss": 1.0})
        shown = run._repr_html_()
    assert "x-1" in shown and "recording" in shown and "next step 1" in shown
    assert "&lt;b&gt;old" in ol.open(tmp_path / "other")._repr_html_()  # names are text, never markup
