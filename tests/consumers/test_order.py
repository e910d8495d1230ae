"""`ol analyze order`: known answers of the order analysis, the experiments' sample streams being exactly what
training feeds, and the command's figures and JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from ol import experiments
from ol.cli.app import app
from ol.consumers.analytics.order import analyse, analyse_stream, order_figure

runner = CliRunner()


def test_a_planted_period_is_the_spectrums_peak():
    x = np.arange(6000) % 50  # a sawtooth of period 50 over Z/97
    r = analyse(x, modulus=97, batch_size=100, lag=120)
    s = r.summary()
    assert s["peak_frequency"] == pytest.approx(1 / 50) and s["peak_period"] == pytest.approx(50)
    assert r.autocorrelation[0] == pytest.approx(1.0) and r.autocorrelation[50] > 0.9  # one period on: itself
    assert r.differences[1] == pytest.approx(1 - 119 / 5999, abs=1e-9)  # every step +1 but the 119 wraps


def test_uniform_random_batches_have_a_flat_zp_spectrum_near_one():
    rng = np.random.default_rng(0)
    m, b = 101, 256
    r = analyse(rng.integers(0, m, 400 * b), modulus=m, batch_size=b)
    assert r.zp_spectrum.size == 50 and abs(r.zp_spectrum.mean() - 1) < 0.05 and r.zp_spectrum.max() < 1.5
    assert r.batch_coverage.mean() == pytest.approx(1 - np.exp(-b / m), abs=0.02)  # distinct of b draws
    assert 0.9 < r.batch_entropy.mean() < 1.0


def test_a_sorted_order_packs_batches_with_few_values():
    x = np.sort(np.random.default_rng(1).integers(0, 97, 9700))
    r = analyse(x, modulus=97, batch_size=100)
    assert r.batch_coverage.max() <= 3 / 97 and r.batch_entropy.mean() < 0.2
    assert r.differences[0] > 0.98 and r.zp_spectrum[0] > 50  # batches concentrated on one residue


def test_the_sample_stream_is_what_training_feeds():
    """The analysed order comes from each experiment's own data code: equal, element by element, to the
    batches its Setup trains with."""
    cpu = torch.device("cpu")
    mod = experiments.get("mod_arithmetic")
    config = mod.resolve_config("quick", {"p": 23, "batch_size": 32})
    for strategy in mod.strategies:
        stream = mod.sample_stream(config, strategy, seed=3, epoch=1)
        batches = mod.setup(config, strategy, 3, cpu).epoch_batches(1)
        x = torch.cat([xb for xb, _ in batches]).numpy()
        y = torch.cat([yb for _, yb in batches]).numpy()
        assert np.array_equal(stream.components["a"], x[:, 0]) and np.array_equal(stream.components["b"], x[:, 1])
        assert np.array_equal(stream.components["target"], y) and stream.modulus == 23
    dyck = experiments.get("dyck")
    config = dyck.resolve_config("quick", {"train_size": 300, "val_size": 50, "batch_size": 40})
    for strategy in dyck.strategies:
        stream = dyck.sample_stream(config, strategy, seed=2)
        batches = dyck.setup(config, strategy, 2, cpu).epoch_batches(0)
        pairs = torch.cat([(xb >= 3).sum(1) // 2 for xb, _ in batches]).numpy()  # brackets per string / 2
        assert np.array_equal(stream.components["pairs"], pairs)


def test_the_figure_has_a_column_per_strategy_and_labelled_rows():
    rng = np.random.default_rng(2)
    results = {s: analyse_stream({"a": rng.integers(0, 31, 620)}, 31, 62, lag=40) for s in ("stride", "random")}
    fig = order_figure(results, "a", "title")
    axes = np.array(fig.axes).reshape(5, 2)
    assert [ax.get_title() for ax in axes[0]] == ["stride", "random"]
    assert [axes[i, 0].get_ylabel().split("\n")[0] for i in range(5)] == [
        "power", "autocorrelation", "share (0–1)", "share of steps", "|FFT(hist)|² / B"]
    assert all(ax.get_xlabel() for ax in axes.flat) and fig.get_suptitle() == "title"


def test_the_command_prints_json_and_writes_one_figure_per_component(tmp_path):
    done = runner.invoke(app, ["analyze", "order", "mod_arithmetic", "--p", "23", "--strategy", "stride",
                               "--strategy", "random", "--seed", "1", "-f", "json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert list(summary["strategies"]) == ["stride", "random"] and summary["modulus"] == 23
    assert set(summary["strategies"]["stride"]) == {"a", "b", "target"}
    # stride sorts a by its residue mod ⌊√23⌋ = 4: a repeats with period N/4 in the epoch
    n = summary["examples"]
    assert summary["strategies"]["stride"]["a"]["peak_period"] == pytest.approx(n / 4, rel=0.02)
    stem = tmp_path / "order"
    done = runner.invoke(app, ["analyze", "order", "mod_arithmetic", "--p", "23", "--out", str(stem)])
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["order-a.png", "order-b.png", "order-target.png"]
    assert "peak period" in done.output


def test_flags_for_training_and_unknown_strategies_are_refused():
    done = runner.invoke(app, ["analyze", "order", "mod_arithmetic", "--resume"])
    assert done.exit_code == 1 and "No such option: --resume" in done.output
    done = runner.invoke(app, ["analyze", "order", "mod_arithmetic", "--strategy", "nope"])
    assert done.exit_code == 1 and "unknown strategy 'nope'" in done.output


TINY_RUN = ["--p", "23", "--train-fraction", "0.5", "--d-model", "16", "--n-heads", "2", "--d-ff", "32",
            "--batch-size", "32", "--epochs", "2", "--no-stop-at-target"]


def _run(tmp_path, *flags) -> str:
    done = runner.invoke(app, ["train", "mod_arithmetic", *TINY_RUN, "--strategy", "stride", "--seed", "2",
                               "--store", str(tmp_path), "--quiet", *flags])
    assert done.exit_code == 0, done.output
    return done.output.strip()


def test_a_runs_recorded_order_is_analysed_as_the_experiments_when_nothing_changed(tmp_path):
    run_id = _run(tmp_path, "--record-order")
    light_id = _run(tmp_path)  # only its order's digest: analysed from today's code once the digest agrees
    today = runner.invoke(app, ["analyze", "order", "mod_arithmetic", *TINY_RUN, "--strategy", "stride",
                                "--seed", "2", "--epoch", "1", "--format", "json"])
    assert today.exit_code == 0, today.output
    want = json.loads(today.output)["strategies"]["stride"]
    got = runner.invoke(app, ["analyze", "order", run_id, light_id, "--store", str(tmp_path), "--epoch", "1",
                              "--format", "json"])
    assert got.exit_code == 0, got.output
    summary = json.loads(got.output)
    assert summary["seed"] == [2, 2] and list(summary["strategies"].values()) == [want, want]


def test_a_planted_difference_between_the_recorded_order_and_todays_code_is_reported(tmp_path, monkeypatch):
    run_id, light_id = _run(tmp_path, "--record-order"), _run(tmp_path)
    exp = experiments.get("mod_arithmetic")
    real = type(exp).epoch_order
    monkeypatch.setattr(type(exp), "epoch_order", lambda self, *a: real(self, *a).flip(0))  # the code "changed"
    said = runner.invoke(app, ["analyze", "order", run_id, "--store", str(tmp_path), "--format", "json"])
    assert said.exit_code == 0 and "differs from what mod_arithmetic's code makes today" in said.stderr
    assert json.loads(said.stdout)["strategies"]  # what it saw is still analysed, from its recorded ids
    refused = runner.invoke(app, ["analyze", "order", light_id, "--store", str(tmp_path)])
    assert refused.exit_code == 1 and "recorded only its order's digest" in refused.output
