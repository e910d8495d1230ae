"""`ol plot area`: a vector metric's components over time as stacked areas, from the arrays view — on a
planted acquisition order, and on the Fourier hook's spectrum of a real run."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from ol.cli.app import app
from ol.consumers.analytics import media_plots
from ol.consumers.analytics.sql import connect
from ol.errors import OlError
from ol.producer import Run
from ol.schemas import ArrayData

runner = CliRunner()


def _planted(store):
    """Components 3 and 7 of a 10-vector switch on at epochs 5 and 10; the rest stay small."""
    with Run.start(store=store, experiment="exp", strategy="stride", seed=0, run_id="arr", handle_signals=False) as run:
        for epoch in range(20):
            v = np.full(10, 0.01)
            v[3] = 1.0 if epoch >= 5 else 0.0
            v[7] = 2.0 if epoch >= 10 else 0.0
            run.log({"loss": 1.0}, step=epoch, epoch=epoch)
            run.emit(ArrayData(name="embed_power", dtype="<f8", shape=[10], data=v.tobytes(), step=epoch,
                               epoch=epoch, hook="fourier"))


def test_components_stack_in_the_order_asked(tmp_path):
    _planted(tmp_path)
    con = connect(tmp_path)
    legend = {}
    for sort in ("power", "index", "acquired"):
        fig = media_plots.area(con, "fourier/embed_power", top_n=2, sort_by=sort)
        (ax,) = [a for a in fig.axes if a.get_visible()]
        legend[sort] = [t.get_text() for t in ax.get_legend().get_texts()]
        assert ax.get_xlabel() == "epoch" and ax.get_title() == "stride · seed 0"
    assert legend["power"] == ["[7]", "[3]", "other"]  # 7's mean is the larger
    assert legend["index"] == ["[3]", "[7]", "other"]
    assert legend["acquired"] == ["[3]", "[7]", "other"]  # 3 switched on first
    fig = media_plots.area(con, "hooks/fourier/embed_power", top_n=2, normalize=True)
    (ax,) = [a for a in fig.axes if a.get_visible()]
    tops = np.sum([p.get_paths()[0].vertices[:, 1].max() for p in ax.collections[-1:]])
    assert tops == pytest.approx(1.0) and ax.get_ylabel() == "embed_power\n(share of the total)"
    with pytest.raises(OlError, match="logged: fourier/embed_power"):
        media_plots.area(con, "fourier/nope")
    with pytest.raises(OlError, match="--sort-by"):
        media_plots.area(con, "fourier/embed_power", sort_by="colour")


def test_the_fourier_hook_logs_its_spectrum_and_the_command_draws_it(tmp_path):
    store = tmp_path / "runs"
    tiny = ["--p", "23", "--train-fraction", "0.5", "--d-model", "32", "--n-heads", "2", "--d-ff", "64",
            "--batch-size", "32", "--eval-every", "1", "--epochs", "3", "--no-stop-at-target"]
    done = runner.invoke(app, ["train", "mod_arithmetic", "--hooks", "fourier", "--quiet", "--store", str(store),
                               *tiny])
    assert done.exit_code == 0, done.output
    rows = connect(store).query("SELECT epoch, len(\"values\") AS n, list_sum(\"values\") AS total, \"values\"[1] "
                                "AS dc FROM arrays WHERE name = 'embed_power' ORDER BY epoch").to_pylist()
    assert [r["epoch"] for r in rows] == [0, 1, 2]
    assert all(r["n"] == 23 // 2 + 1 and r["total"] == pytest.approx(1.0, abs=1e-5) and r["dc"] == 0 for r in rows)
    out = tmp_path / "area.png"
    done = runner.invoke(app, ["plot", "area", "latest", "--store", str(store), "-m", "fourier/embed_power",
                               "--sort-by", "acquired", "--out", str(out)])
    assert done.exit_code == 0 and out.stat().st_size > 10_000, done.output
