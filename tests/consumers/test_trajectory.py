"""Trajectories: `ol train --record-trajectory` records θ (or its count sketch) as array events, and
`ol plot trajectory` draws runs in their shared principal components — known answers first."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from ol.cli.app import app
from ol.consumers.analytics.sql import connect
from ol.consumers.analytics.trajectory import shared_pca, trajectory
from ol.errors import OlError
from ol.producer import Run
from ol.producer.hooks.training import Trajectory
from ol.schemas import ArrayData, TargetReached

runner = CliRunner()


def test_a_path_along_a_line_lies_on_one_principal_component():
    rng = np.random.default_rng(0)
    direction = rng.normal(size=50)
    start = rng.normal(size=50)
    line = np.array([start + t * direction for t in np.linspace(0, 1, 30)])
    projected, explained = shared_pca({"r": line})
    assert explained[0] == pytest.approx(1.0) and explained[1] == pytest.approx(0.0, abs=1e-12)
    assert np.allclose(projected["r"][:, 1], 0.0, atol=1e-9)
    assert np.all(np.diff(projected["r"][:, 0]) > 0) or np.all(np.diff(projected["r"][:, 0]) < 0)  # in order


def test_the_sketch_is_the_same_for_every_run_of_a_model_and_keeps_distances():
    theta = torch.randn(5000)
    a, b = Trajectory(every=1, dim=256), Trajectory(every=1, dim=256)

    class Ctx:
        def __init__(self, t):
            self.arrays, self._t = {}, t

        def theta_vector(self):
            return self._t

    first, second = Ctx(theta), Ctx(theta)
    a.fire("post_step", first)
    b.fire("post_step", second)
    assert torch.equal(first.arrays["trajectory"], second.arrays["trajectory"])
    other = Ctx(theta + torch.randn(5000) * 0.1)
    a.fire("post_step", other)
    true, sketched = (0.1 * torch.ones(1) * 5000 ** 0.5).item(), (other.arrays["trajectory"] -
                                                                  first.arrays["trajectory"]).norm().item()
    assert sketched == pytest.approx(true, rel=0.25)  # a count sketch keeps distances in expectation


def _synthetic(store):
    for seed, offset in ((0, 0.0), (1, 5.0)):
        with Run.start(store=store, experiment="exp", strategy="stride", seed=seed, run_id=f"t{seed}",
                       handle_signals=False) as run:
            for step in range(0, 40, 4):
                point = np.array([offset + step, 2.0 * step, 0.0], dtype="<f4")
                run.emit(ArrayData(name="trajectory", dtype="<f4", shape=[3], data=point.tobytes(), step=step,
                                   epoch=step // 10, hook="trajectory"))
            if seed == 0:
                run.emit(TargetReached(metric="test_acc", value=1.0, epoch=2, step=21))


def test_the_plot_shares_one_pca_and_marks_where_the_target_was_reached(tmp_path):
    _synthetic(tmp_path)
    fig = trajectory(connect(tmp_path))
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("PC1 (") and ax.get_ylabel().startswith("PC2 (")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["stride · seed 0", "stride · seed 1", "target reached"]
    stars = [c for c in ax.collections if c.get_paths() and len(c.get_offsets()) == 1]
    assert len(stars) == 1  # one run reached its target: one star, at the recorded point nearest step 21
    assert fig.axes[1].get_ylabel() == "epoch"
    empty = tmp_path / "none"
    with Run.start(store=empty, experiment="exp", run_id="plain", handle_signals=False) as run:
        run.log({"loss": 1.0})
    with pytest.raises(OlError, match="--record-trajectory"):
        trajectory(connect(empty))


def test_train_records_the_trajectory_and_the_command_draws_it(tmp_path):
    store = tmp_path / "runs"
    tiny = ["--p", "23", "--train-fraction", "0.5", "--d-model", "32", "--n-heads", "2", "--d-ff", "64",
            "--batch-size", "32", "--eval-every", "1", "--epochs", "2", "--no-stop-at-target"]
    for seed in ("0", "1"):
        done = runner.invoke(app, ["train", "mod_arithmetic", "--seed", seed, "--record-trajectory", "3",
                                   "--trajectory-dim", "64", "--quiet", "--store", str(store), *tiny])
        assert done.exit_code == 0, done.output
    rows = connect(store).query("SELECT run_id, count(*) AS n, min(len(\"values\")) AS d FROM arrays "
                                "WHERE name = 'trajectory' GROUP BY ALL").to_pylist()
    assert len(rows) == 2 and all(r["d"] == 64 and r["n"] == 6 for r in rows)  # 18 steps, every 3rd
    out = tmp_path / "t.png"
    ids = [r["run_id"] for r in rows]
    done = runner.invoke(app, ["plot", "trajectory", *ids, "--store", str(store), "--out", str(out)])
    assert done.exit_code == 0 and out.stat().st_size > 10_000, done.output
    done = runner.invoke(app, ["train", "mod_arithmetic", "--record-trajectory=0", "--store", str(store)])
    assert done.exit_code == 1 and "--record-trajectory expects a number of steps ≥ 1, got 0" in done.output
