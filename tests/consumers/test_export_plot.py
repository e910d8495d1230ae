"""`ol export` tables parsed back, and `ol plot` images checked for size and labels."""

from __future__ import annotations

import csv
import io
import json
import re
import statistics

import matplotlib
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from ol.cli.app import app
from ol.consumers.analytics import plots
from ol.consumers.analytics.sql import connect
from ol.store import reached_interval

runner = CliRunner()


def ol(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_export_per_run_csv_matches_the_fixture(store):
    result = ol("export", "r-stride-1", "r-random-1", "--store", store, "-m", "test_acc", "-m", "loss",
                "--stat", "final", "--per", "run", "-f", "csv", "--precision", "6")
    assert result.exit_code == 0, result.output
    rows = {r["run_id"]: r for r in csv.DictReader(io.StringIO(result.output))}
    assert float(rows["r-stride-1"]["test_acc"]) == pytest.approx(1.0)
    assert float(rows["r-stride-1"]["loss"]) == pytest.approx(1 / 31 + 0.01, abs=1e-6)  # last step's loss, seed 1
    assert float(rows["r-random-1"]["loss"]) == pytest.approx(1 / 31 + 0.01 + 100, abs=1e-6)  # after the resume


def test_export_per_strategy_gives_mean_and_std_over_seeds(store):
    result = ol("export", "exp/stride", "r-stride-1", "r-stride-2", "r-random-1", "--store", store,
                "-m", "loss", "--stat", "min", "-f", "json")
    data = json.loads(result.output)
    stride = next(r for r in data if r["strategy"] == "stride")
    expected = [1 / 31 + 0.01, 1 / 31 + 0.02]
    assert stride["runs"] == 2 and stride["loss"] == pytest.approx(statistics.mean(expected))
    assert stride["loss std"] == pytest.approx(statistics.stdev(expected))


def test_export_first_crossing_markdown_and_bold_best(store):
    result = ol("export", "r-stride-1", "r-stride-2", "r-random-1", "--store", store, "-m", "test_acc",
                "--stat", "first-crossing", "--threshold", "0.5", "--per", "run", "--bold-best")
    lines = [ln for ln in result.output.splitlines() if ln.startswith("| r-")]
    # test_acc = step/25 + seed/1000 crosses 0.5 at the epoch ending at step 20 (epoch 1) for every run
    assert len(lines) == 3 and all(ln.rstrip(" |").endswith("**1**") for ln in lines)


def test_export_latex_is_a_balanced_tabular(store):
    result = ol("export", "r-stride-1", "r-stride-2", "--store", store, "-m", "loss", "-m", "test_acc",
                "-f", "latex", "--bold-best", "--per", "run", "--lower-is-better", "loss", "--higher-is-better",
                "test_acc")
    tex = result.output
    assert tex.count("\\begin{tabular}") == tex.count("\\end{tabular}") == 1
    body = [ln for ln in tex.splitlines() if ln.endswith("\\\\")]
    assert all(ln.count("&") == 4 for ln in body) and "\\textbf{" in tex and "run\\_id" in tex
    assert tex.count("{") == tex.count("}")


def _crossing_store(tmp_path):
    """Three stride seeds: seeds 1 and 2 reach test_acc 0.9 at epochs 3 and 6, seed 3 never does."""
    from ol.producer import Run
    from ol.schemas import Epoch

    store = tmp_path / "runs"
    for seed, curve in ((1, [0.1, 0.5, 0.8, 0.95, 0.97]), (2, [0.1, 0.2, 0.3, 0.5, 0.6, 0.7, 0.92]),
                        (3, [0.1, 0.2, 0.25, 0.3])):
        with Run.start(store=store, experiment="e", run_id=f"s{seed}", strategy="stride", seed=seed,
                       handle_signals=False) as run:
            for epoch, acc in enumerate(curve):
                run.log({"loss": 1.0 - acc}, step=epoch)
                run.emit(Epoch(epoch=epoch, step=epoch, metrics={"test_acc": acc}))
    return store


def test_first_crossing_per_strategy_says_how_many_crossed_and_who_did_not(tmp_path):
    store = _crossing_store(tmp_path)
    args = ["export", "s1", "s2", "s3", "--store", store, "-m", "test_acc", "--stat", "first-crossing",
            "--threshold", "0.9"]
    shown = ol(*args)
    assert shown.exit_code == 0, shown.output
    row = next(ln for ln in shown.output.splitlines() if ln.startswith("| stride"))
    # the mean of the two that crossed (3 and 6) with its bootstrap interval, never hidden under a count of 3
    assert row == "| stride | 3 | 4.5 [3.0, 6.0] (2 of 3 crossed [0.09, 0.99]; not: seed 3) |", row
    assert "k of n crossed [exact Clopper–Pearson interval]" in shown.output
    assert "percentile bootstrap intervals of the mean over seeds (10,000 resamples" in shown.output  # the method
    numeric = list(csv.DictReader(io.StringIO(ol(*args, "-f", "csv").output)))
    assert numeric == [{"strategy": "stride", "runs": "3", "test_acc": "4.5", "test_acc std": str(2.1213203435596424),
                        "test_acc low": "3", "test_acc high": "6", "test_acc crossed": "2",
                        "test_acc crossed low": str(reached_interval(2, 3)[0]),
                        "test_acc crossed high": str(reached_interval(2, 3)[1]), "test_acc not crossed": "seed 3"}]
    per_run = ol(*args, "--per", "run")
    assert [ln.split("|")[-2].strip() for ln in per_run.output.splitlines() if ln.startswith("| s")] == \
        ["3", "6", "never"]


def test_best_needs_a_direction_and_latex_is_a_paper_table(tmp_path):
    store = _crossing_store(tmp_path)
    guessed = ol("export", "s1", "s2", "s3", "--store", store, "-m", "loss", "--bold-best", "--per", "run")
    assert guessed.exit_code == 1 and "--lower-is-better loss" in guessed.output  # no guess from the name
    told = ol("export", "s1", "s2", "s3", "--store", store, "-m", "loss", "--bold-best", "--per", "run",
              "--higher-is-better", "loss")
    assert told.exit_code == 0 and "**0.7000**" in told.output  # what it was told, though "loss" says otherwise
    both = ol("export", "s1", "--store", store, "-m", "loss", "--higher-is-better", "loss", "--lower-is-better",
              "loss")
    assert both.exit_code == 1 and "both higher- and lower-is-better" in both.output
    tex = ol("export", "s1", "s2", "s3", "--store", store, "-m", "loss", "--stat", "min", "-f", "latex",
             "--caption", "Final loss, 3 seeds").output
    assert "0.2700 [0.0300, 0.7000]" in tex and "±" not in tex  # the mean and its interval
    assert "\\begin{tabular}{lrr}" in tex  # strategy left; runs and mean [low, high] right-aligned
    assert tex.startswith("\\begin{table}") and "\\caption{Final loss, 3 seeds. Mean [95\\% percentile bootstrap" in tex
    assert tex.rstrip().endswith("\\end{table}")


def test_export_events_dumps_every_scalar(store, tmp_path):
    out = tmp_path / "all.csv"
    result = ol("export", "r-stride-1", "--store", store, "--events", "-f", "csv", "--out", out)
    assert result.exit_code == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 30 * 3 + 3 * 2 + 3  # step scalars + epoch metrics + hook metrics
    assert {r["source"] for r in rows} == {"train", "eval", "norms"}


def test_unknown_metric_lists_close_matches(store):
    result = ol("export", "r-stride-1", "--store", store, "-m", "tset_acc")
    assert result.exit_code == 1 and "close matches: test_acc" in result.output


def _image(path):
    with Image.open(path) as img:
        return img.size


def test_curves_plot_has_labels_and_a_real_image(store, tmp_path):
    conn = connect(store)
    fig = plots.curves(conn, ["loss", "test_acc"], layout="grid", x="epoch", smooth=0.5, style="paper")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["loss", "test_acc"]
    assert axes[0].get_xlabel() == "epoch" and axes[0].get_ylabel() == "loss\n(nats)"
    # a declared fraction is ticked in percent; the data stay fractions
    assert axes[1].get_ylabel() == "test_acc\n(%)" and axes[1].yaxis.get_major_formatter()(0.5, 0) == "50%"
    unit_less = plots.curves(conn, ["grad_norm"], x="step")  # declared by nobody: no unit is made up
    assert [ax.get_ylabel() for ax in unit_less.axes if ax.get_visible()] == ["grad_norm"]
    (key,) = fig.legends  # one key for the figure, not one per panel
    legend = [t.get_text() for t in key.get_texts()]
    # the runs differ in their config's width: each label says which (and the strategy and seed)
    assert sorted(legend) == ["random · width=9 · seed 1", "stride · width=10 · seed 2", "stride · width=9 · seed 1"]
    path = plots.save(fig, tmp_path / "c.png", "png", 100)
    width, height = _image(path)
    assert width > 400 and height > 150


@pytest.mark.parametrize("command, extra", [
    ("curves", ["-m", "loss", "--log-y", "--x", "time"]),
    ("compare", ["--metric", "test_acc", "--stat", "max"]),
    ("convergence", ["--metric", "test_acc", "--threshold", "0.9", "--direction", "above"]),
    ("correlation", ["--x", "loss", "--y", "grad_norm", "--trend"]),
])
def test_each_plot_command_writes_an_image(store, tmp_path, command, extra):
    out = tmp_path / f"{command}.png"
    result = ol("plot", command, "r-stride-1", "r-stride-2", "r-random-1", "--store", store, *extra, "--out", out)
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 5000 and _image(out)[0] > 300


def test_layers_heatmap_and_svg(store, tmp_path):
    out = tmp_path / "layers.svg"
    result = ol("plot", "layers", "r-stride-1", "--store", store, "--metric", "tot", "--format", "svg", "--out", out)
    assert result.exit_code == 0, result.output
    svg = out.read_text()
    assert svg.startswith("<?xml") and "parameter" in svg and re.search(r"<image|<path", svg)


def test_ema_skips_nan():
    import numpy as np

    smoothed = plots.ema(np.array([1.0, np.nan, 3.0]), 0.5)
    assert smoothed[0] == 1.0 and np.isnan(smoothed[1]) and smoothed[2] == pytest.approx((0.25 * 1 + 0.5 * 3) / 0.75)
    assert matplotlib.get_backend().lower() == "agg"


def test_bold_best_follows_the_direction_the_runs_declared(tmp_path):
    """A metric whose name says nothing (and would be taken as higher-is-better) but whose runs declare
    lower is better: the smaller value is the best one."""
    from ol.producer import Run
    from ol.schemas import Epoch, RunContract

    store = tmp_path / "runs"
    contract = RunContract(main_metric="perplexity", direction="lower")
    for run_id, value in (("a", 7.5), ("b", 3.25)):
        with Run.start(store=store, experiment="lm", run_id=run_id, strategy=run_id, contract=contract,
                       handle_signals=False) as run:
            run.emit(Epoch(epoch=0, step=0, metrics={"perplexity": value}))
    result = ol("export", "a", "b", "--store", store, "-m", "perplexity", "--per", "run", "--bold-best")
    assert result.exit_code == 0, result.output
    assert "**3.2500**" in result.output and "**7.5000**" not in result.output


def _two_sources_store(tmp_path):
    """test_acc logged by the trainer's evaluation and by a hook (as `training_metrics` does), at other steps."""
    from ol.producer import Run
    from ol.schemas import Epoch, HookMetrics

    store = tmp_path / "runs"
    with Run.start(store=store, experiment="e", run_id="two", strategy="stride", seed=0,
                   handle_signals=False) as run:
        for epoch in range(4):
            run.log({"loss": 1.0 / (epoch + 1)}, step=epoch * 10)
            run.emit(Epoch(epoch=epoch, step=epoch * 10, metrics={"test_acc": 0.2 * epoch}))
            run.emit(HookMetrics(hook="training_metrics", point="post_step", step=epoch * 10 + 5, epoch=epoch,
                                 metrics={"test_acc": 0.9, "grad_norm": 1.0 + epoch}))
    return store


def test_a_name_two_sources_log_is_never_merged_and_empty_answers_are_errors(tmp_path):
    store = _two_sources_store(tmp_path)
    out = tmp_path / "f.png"
    ambiguous = ol("plot", "curves", "two", "--store", store, "-m", "test_acc", "--out", out)
    assert ambiguous.exit_code == 1 and not out.exists()
    assert "'test_acc' is logged by 2 sources in these runs; name one: eval/test_acc, training_metrics/test_acc" \
        in ambiguous.output
    exported = ol("export", "two", "--store", store, "-m", "test_acc")
    assert exported.exit_code == 1 and "name one: eval/test_acc" in exported.output

    fig = plots.curves(connect(store), ["eval/test_acc"])  # the trainer's curve alone, every point of it
    (line,) = fig.axes[0].lines
    assert list(line.get_ydata()) == pytest.approx([0.0, 0.2, 0.4, 0.6]) and list(line.get_xdata()) == [0, 10, 20, 30]
    hook = ol("export", "two", "--store", store, "-m", "hooks/training_metrics/test_acc", "-m", "eval/test_acc",
              "--stat", "max", "-f", "json")
    assert json.loads(hook.output)[0] | {"run_id": "two"} == {"run_id": "two", "strategy": "stride", "seed": 0,
                                                               "hooks/training_metrics/test_acc": 0.9,
                                                               "eval/test_acc": pytest.approx(0.6)}

    # the hook's grad_norm is recorded at other steps than the evaluation: nothing to correlate, said so
    nothing = ol("plot", "correlation", "two", "--store", store, "--x", "eval/test_acc", "--y", "grad_norm",
                 "--out", out)
    assert nothing.exit_code == 1 and "never recorded at the same step" in nothing.output and not out.exists()


def _outside(fig) -> list[str]:
    """What is drawn outside the figure (cut off in the saved image) after a full layout: each panel with its
    ticks, labels, title and legend, each figure-level legend, the title."""
    fig.canvas.draw()
    renderer, box = fig.canvas.get_renderer(), fig.bbox
    parts = [(f"panel {ax.get_title() or ax.get_ylabel() or i}", ax.get_tightbbox(renderer))
             for i, ax in enumerate(fig.axes) if ax.get_visible()]
    parts += [(f"legend {i}", legend.get_window_extent(renderer)) for i, legend in enumerate(fig.legends)]
    if fig._suptitle is not None:
        parts.append(("title", fig._suptitle.get_window_extent(renderer)))
    return [name for name, e in parts if e is not None and (e.x0 < box.x0 - 1 or e.x1 > box.x1 + 1 or
                                                            e.y0 < box.y0 - 1 or e.y1 > box.y1 + 1)]


@pytest.mark.parametrize("kind", ["curves-grid", "curves-overlay", "compare", "convergence", "correlation", "layers"])
def test_every_plot_keeps_its_text_inside_and_labels_every_axis(store, kind):
    """Each plot kind at its own size and at 70 % of it: no title, tick label, legend or axis label is cut off,
    every panel has its own x and y label, and a grid's panels each name their own metric."""
    from ol.consumers.analytics import plots
    from ol.consumers.analytics.sql import connect

    conn = connect(store)
    make = {
        "curves-grid": lambda: plots.curves(conn, ["loss", "test_acc", "hooks/norms/total"], layout="grid",
                                            x="epoch"),
        "curves-overlay": lambda: plots.curves(conn, ["loss"]),
        "compare": lambda: plots.compare(conn, "test_acc", "max"),
        "convergence": lambda: plots.convergence(conn, "test_acc", 0.9, "above"),
        "correlation": lambda: plots.correlation(conn, "loss", ["grad_norm"], trend=True),
        "layers": lambda: plots.layers(conn, "hooks/norms/", normalise="row"),
    }[kind]
    for scale in (1.0, 0.7):
        fig = make()
        width, height = fig.get_size_inches()
        fig.set_size_inches(width * scale, height * scale)
        assert _outside(fig) == [], f"{kind} at {scale:.0%}"
        panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
        assert panels and all(ax.get_xlabel() and ax.get_ylabel() for ax in panels)
        if kind == "curves-grid":
            assert [ax.get_ylabel().split("\n")[0] for ax in panels] == ["loss", "test_acc", "hooks/norms/total"]
            assert len(fig.legends) == 1 and all(ax.get_legend() is None for ax in panels)  # one key per figure
        plots.plt.close(fig)


def test_curves_without_a_metric_lists_what_there_is(store):
    result = ol("plot", "curves", "r-stride-1", "--store", store)
    assert result.exit_code == 1 and result.output.startswith("error: plot curves: name at least one -m METRIC")
    assert "eval/test_acc" in result.output and "train/loss" in result.output and "norms/total" in result.output


def test_export_can_summarise_seeds_by_their_iqm_and_says_so(store):
    shown = ol("export", "r-stride-1", "r-stride-2", "r-random-1", "--store", store, "-m", "loss", "--stat", "min",
               "--per", "strategy", "--estimator", "iqm", "-f", "markdown")
    assert shown.exit_code == 0, shown.output
    assert "IQM [95% percentile bootstrap intervals of the interquartile mean (IQM) over seeds" in shown.output
    bad = ol("export", "r-stride-1", "--store", store, "-m", "loss", "--estimator", "median")
    assert bad.exit_code == 1 and "--estimator is mean or iqm, not 'median'" in bad.output


def test_plot_compare_can_draw_the_iqm_over_seeds(store, tmp_path):
    drawn = ol("plot", "compare", "r-stride-1", "r-stride-2", "r-random-1", "--store", store, "--metric", "loss",
               "--estimator", "iqm", "--out", tmp_path / "iqm.png")
    assert drawn.exit_code == 0, drawn.output
    assert (tmp_path / "iqm.png").stat().st_size > 5000
    bad = ol("plot", "compare", "r-stride-1", "--store", store, "--metric", "loss", "--estimator", "median",
             "--out", tmp_path / "x.png")
    assert bad.exit_code == 1 and "--estimator is mean or iqm" in bad.output


def _lr_grid(tmp_path):
    """Two strategies × two learning rates × two seeds, each run's acc a line whose level says its setting."""
    from ol.producer import Run

    root = tmp_path / "runs"
    for strategy in ("stride", "random"):
        for lr in (0.001, 0.003):
            for seed in (0, 1):
                with Run.start(store=root, experiment="grid", strategy=strategy, seed=seed, config={"lr": lr, "d": 8},
                               run_id=f"{strategy}-{lr}-{seed}", handle_signals=False) as run:
                    for epoch in range(5):
                        run.epoch(epoch, {"acc": 1000 * lr + 0.1 * seed + 0.01 * epoch}, step=epoch + 1)
    return root


def test_legends_say_what_differs_and_bands_never_mix_settings(tmp_path):
    """A run's label names the config values that differ among the runs drawn (not the hash); --band draws a
    line per setting (strategy × lr, never the seed) at the mean over its seeds, in the band asked for."""
    from ol.store import mean_band

    conn = connect(_lr_grid(tmp_path))
    fig = plots.curves(conn, ["acc"], x="epoch")
    (key,) = fig.legends
    labels = sorted(t.get_text() for t in key.get_texts())
    assert labels[0] == "random · lr=0.001 · seed 0" and all("lr=" in t and "(" not in t for t in labels)
    assert not any("d=" in t for t in labels)  # d is the same in every run: it tells nothing apart

    banded = plots.curves(conn, ["acc"], x="epoch", band="ci")
    ax = next(a for a in banded.axes if a.get_visible())
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert sorted(lines) == ["random · lr=0.001 (mean of 2)", "random · lr=0.003 (mean of 2)",
                             "stride · lr=0.001 (mean of 2)", "stride · lr=0.003 (mean of 2)"]
    stride = lines["stride · lr=0.003 (mean of 2)"]
    assert list(stride.get_xdata()) == pytest.approx([0, 1, 2, 3, 4])
    assert list(stride.get_ydata()) == pytest.approx([3.05 + 0.01 * e for e in range(5)])  # seeds 0 and 1: +0.05
    seeds = [[3 + 0.1 * s + 0.01 * e for e in range(5)] for s in (0, 1)]
    low, high = mean_band(np.array(seeds))
    filled = [c for c in ax.collections if len(c.get_paths()) and len(c.get_paths()[0].vertices)]
    assert len(filled) == 4  # a band per setting (the key's grey swatch has no area)
    drawn = next(c for c in filled if c.get_paths()[0].vertices[:, 1].min() > 2.5).get_paths()[0].vertices
    for epoch in range(5):  # the band drawn at each epoch is the bootstrap interval of the two seeds' mean
        at = drawn[np.isclose(drawn[:, 0], epoch), 1]
        assert (at.min(), at.max()) == pytest.approx((low[epoch], high[epoch]))
    assert low == pytest.approx([3.0 + 0.01 * e for e in range(5)])
    assert high == pytest.approx([3.1 + 0.01 * e for e in range(5)])  # two seeds: the band is their range
    (key,) = banded.legends if banded.legends else (ax.get_legend(),)
    assert any("95% percentile bootstrap interval of the mean" in t.get_text() for t in key.get_texts())
    bad = ol("plot", "curves", "stride-0.001-0", "--store", tmp_path / "runs", "-m", "acc", "--band", "sem")
    assert bad.exit_code == 1 and "--band is ci, std, minmax, not 'sem'" in bad.output


def test_convergence_says_per_setting_how_many_reached_and_when_with_intervals(tmp_path):
    """acc is 1000·lr + 0.1·seed + 0.01·epoch: with the threshold 3.12, lr=0.003's seed 1 crosses at epoch 2 and
    its seed 0 never (3.04 at most); lr=0.001 never does."""
    conn = connect(_lr_grid(tmp_path))
    fig = plots.convergence(conn, "acc", 3.12, "above")
    (key,) = fig.legends
    texts = [t.get_text() for t in key.get_texts()]
    assert "stride · lr=0.003: 1 of 2 [0.01, 0.99], epoch 2" in texts  # one run: its epoch, no interval
    assert "stride · lr=0.001: 0 of 2 [0.00, 0.84]" in texts
    assert any("percentile bootstrap" in t and "Clopper–Pearson" in t for t in texts)
    assert _outside(fig) == []


def test_export_versus_pits_every_two_strategies_against_each_other(tmp_path):
    """`ol export --versus`: per pair of strategies, P(a run of A beats one of B) in the metric's direction and the
    permutation test's p-value — the numbers store/read/intervals.py gives — with the method as the caption."""
    from ol.store import improvement, permutation_p

    store = _lr_grid(tmp_path)
    runs = [f"{s}-{lr}-{seed}" for s in ("stride", "random") for lr in (0.001, 0.003) for seed in (0, 1)]
    args = ["export", *runs, "--store", store, "-m", "acc", "--stat", "max"]
    numeric = list(csv.DictReader(io.StringIO(ol(*args, "--versus", "-f", "csv", "--lower-is-better", "acc").output)))
    acc = {s: [1000 * lr + 0.1 * seed + 0.04 for lr in (0.001, 0.003) for seed in (0, 1)] for s in ("stride", "random")}
    (row,) = numeric
    assert (row["A"], row["B"]) == ("random", "stride")  # strategies in the table's order
    assert float(row["acc P(A better)"]) == pytest.approx(improvement([-v for v in acc["random"]],
                                                                      [-v for v in acc["stride"]]))
    assert float(row["acc p"]) == pytest.approx(permutation_p(acc["random"], acc["stride"]))
    shown = ol(*args, "--versus", "-f", "markdown")
    assert "| acc P(A>B) | acc p |" in shown.output  # no direction declared or given: "higher", said as such
    assert "two-sided permutation test" in shown.output
    one = ol("export", "stride-0.001-0", "--store", store, "-m", "acc", "--versus")
    assert one.exit_code == 1 and "--versus compares strategies; these runs have one (stride)" in one.output
