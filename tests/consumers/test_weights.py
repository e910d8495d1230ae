"""`ol plot weights`: known answers of the comparison (identical runs are similar 1, independent
initialisations near 0), and the command on real trained runs: final weights or a checkpoint's."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from ol.cli.app import app
from ol.consumers.analytics.weights import layer_names, norms, short, similarity, singular_values, weights_figure
from ol.errors import OlError

runner = CliRunner()
TINY = ["--p", "23", "--train-fraction", "0.5", "--d-model", "32", "--n-heads", "2", "--d-ff", "64",
        "--batch-size", "32", "--eval-every", "1", "--epochs", "3", "--no-stop-at-target", "--save-checkpoints", "1"]


def test_identical_weights_are_similar_1_and_independent_ones_near_0():
    rng = np.random.default_rng(0)
    a = {"embed": rng.normal(size=(200, 64)), "bias": rng.normal(size=64)}
    runs = {"r1": a, "r2": {k: v.copy() for k, v in a.items()}, "r3": {"embed": rng.normal(size=(200, 64)),
                                                                       "bias": rng.normal(size=64)}}
    sim = similarity(runs, "embed")
    assert sim[0, 1] == pytest.approx(1.0) and abs(sim[0, 2]) < 0.05 and np.allclose(np.diag(sim), 1.0)
    assert layer_names(runs, 1) == ["embed"]  # the largest shared layer first
    assert norms(runs, ["embed"])[0, 0] == pytest.approx(np.linalg.norm(a["embed"]))
    diag = np.diag([5.0, 3.0, 1.0])
    assert singular_values(diag, 2).tolist() == pytest.approx([5.0, 3.0])
    with pytest.raises(OlError, match="share no parameter"):
        layer_names({"x": {"w": np.zeros(3)}, "y": {"w": np.zeros(4)}}, 3)


def test_the_figure_labels_every_panel():
    rng = np.random.default_rng(1)
    runs = {r: {"w1": rng.normal(size=(20, 8)), "w2": rng.normal(size=(8, 4))} for r in ("a", "b")}
    fig = weights_figure(runs, {"a": "stride · seed 0", "b": "random · seed 0"}, ["norms", "svd", "similarity"],
                         top=2, rank=5, title="t")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["per-layer norms", "w1\nsingular values", "w2\nsingular values", "w1\ncosine similarity",
                      "w2\ncosine similarity"]
    assert fig.axes[0].get_ylabel() == "Frobenius norm ‖W‖" and fig.axes[1].get_ylabel() == "singular value σᵢ"
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["stride · seed 0", "random · seed 0"]
    assert short("encoder.layers.0.self_attn.in_proj_weight") == "…0.self_attn.in_proj_weight"
    with pytest.raises(OlError, match="unknown analysis 'eigen'"):
        weights_figure(runs, {"a": "a", "b": "b"}, ["eigen"], 2, 5, "t")


def _title_of(png) -> str:
    """The figure's title as the command drew it: it names what was compared (read back from the saved
    figure's own metadata, which plots.save writes)."""
    return Image.open(png).info.get("Title", "")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    store = tmp_path_factory.mktemp("weights") / "runs"
    for seed in (0, 1):
        done = runner.invoke(app, ["train", "mod_arithmetic", "--strategy", "stride", "--seed", str(seed), "--quiet",
                                   "--store", str(store), *TINY])
        assert done.exit_code == 0, done.output
    return store


def test_the_command_compares_final_weights_and_checkpoints(trained, tmp_path):
    out = tmp_path / "w.png"
    runs = [p.name for p in sorted((trained / "mod_arithmetic").iterdir())]
    done = runner.invoke(app, ["plot", "weights", *runs, runs[0], "--store", str(trained), "--top-layers", "3",
                               "--out", str(out)])
    assert done.exit_code == 0, done.output  # a run named twice is compared once
    fig_title = "weights of 2 run(s): final weights"
    assert fig_title in _title_of(out)
    assert Image.open(out).size[0] > 600
    one = sorted((trained / "mod_arithmetic").iterdir())[0].name
    done = runner.invoke(app, ["plot", "weights", one, "--store", str(trained), "--checkpoint", "1",
                               "--analyses", "norms,svd", "--out", str(tmp_path / "c.png")])
    assert done.exit_code == 0, done.output
    from ol.producer.weights import run_weights

    final, what = run_weights(trained / "mod_arithmetic" / one)
    early, early_what = run_weights(trained / "mod_arithmetic" / one, step=1)
    assert what == "final weights" and early_what.startswith("checkpoint at step")
    assert set(final) == set(early) and any(not np.array_equal(final[k], early[k]) for k in final)


def test_heatmap_draws_a_matrix_its_components_and_its_singular_values_over_checkpoints(trained, tmp_path):
    from ol.consumers.analytics.weights import matrix_figure
    from ol.producer.weights import checkpoint_history, parameter, run_weights

    run_dir = sorted((trained / "mod_arithmetic").iterdir())[0]
    weights, _ = run_weights(run_dir)
    name, final = parameter(weights, "embed")
    assert name.endswith("weight") and final.ndim == 2
    history = checkpoint_history(run_dir, name)
    assert [s for s, _ in history] == sorted({s for s, _ in history}) and len(history) >= 3  # one per epoch
    assert np.array_equal(history[-1][1], final)  # the last checkpoint holds the final weights
    fig = matrix_figure(name, final, history, 4, "t")
    heat, components, over_time = [a for a in fig.axes if a.get_title()]
    assert heat.get_xlabel() == "column (input dimension)" and components.get_ylabel() == "σᵢ · uᵢ"
    assert over_time.get_xlabel() == "step (optimiser updates)" and len(over_time.get_lines()) == 4
    with pytest.raises(OlError, match="no parameter"):
        parameter(weights, "nothing_like_this")
    out = tmp_path / "h.png"
    done = runner.invoke(app, ["plot", "heatmap", run_dir.name, "--store", str(trained), "--param", "embed",
                               "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "of run" in _title_of(out)


def test_a_probe_of_planted_fourier_features_puts_the_power_at_their_frequencies():
    from ol.consumers.analytics.weights import probe_figure

    p, a = 31, np.arange(31)
    units = [np.cos(2 * np.pi * 3 * a / p + phase) for phase in np.linspace(0, 3, 8)]
    units += [np.sin(2 * np.pi * 7 * a / p + phase) for phase in np.linspace(0, 3, 4)]
    fig = probe_figure(np.stack(units, axis=1), b=4, position="0", title="t")
    heat, spec = fig.axes[0], fig.axes[1]
    shares = {round(bar.get_x() + bar.get_width() / 2): bar.get_height() for bar in spec.patches}
    assert shares[3] == pytest.approx(8 / 12, abs=1e-6) and shares[7] == pytest.approx(4 / 12, abs=1e-6)
    assert heat.get_xlabel() == "input a (b = 4)" and spec.get_xlabel().startswith("frequency k over a")


def test_the_probe_command_runs_the_trained_model(trained, tmp_path):
    run_dir = sorted((trained / "mod_arithmetic").iterdir())[0]
    out = tmp_path / "p.png"
    done = runner.invoke(app, ["plot", "probe", run_dir.name, "--store", str(trained), "--b", "3", "--position",
                               "mean", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "representation of a with b = 3 (final weights)" in _title_of(out)
    done = runner.invoke(app, ["plot", "probe", run_dir.name, "--store", str(trained), "--b", "99"])
    assert done.exit_code == 1 and "--b must be in 0…22" in done.output
