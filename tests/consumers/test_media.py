"""ol.Histogram / ol.Image / ol.Table: what each reduces its input to, how run.log records them, and how
every reader gets them back — `ol query`'s views, the replays (read back with TensorBoard's reader and
W&B's own records; TensorBoard's config updates too) and `ol plot`."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from typer.testing import CliRunner

import ol
from ol.cli.app import app
from ol.consumers.analytics.sql import connect
from ol.consumers.replay.wandb_sink import wandb_id
from ol.errors import OlError
from ol.producer import Run
from ol.schemas import ArrayData, HistogramData, ImageData, TableData
from ol.store.log.reader import read_events

from .conftest import wandb_history  # noqa: F401

runner = CliRunner()


def test_a_histogram_keeps_bins_and_moments_never_the_values():
    h = ol.Histogram(np.arange(10.0), bins=5).event("w", step=3, epoch=None, source="train")
    assert h.counts == [2.0] * 5 and h.edges == [0.0, 1.8, 3.6, 5.4, 7.2, 9.0]
    assert (h.count, h.min, h.max, h.sum, h.sum_squares) == (10, 0.0, 9.0, 45.0, 285.0)
    odd = ol.Histogram(torch.tensor([1.0, float("nan"), float("inf"), 2.0]), bins=2).event("w", 0, None, "train")
    assert odd.nonfinite == 2 and sum(odd.counts) == 2  # NaN and inf are counted apart, never binned
    given = ol.Histogram(np_histogram=([1, 3], [0.0, 0.5, 1.0])).event("w", 0, None, "train")
    assert given.counts == [1.0, 3.0] and given.count == 4
    with pytest.raises(OlError, match="bins must be an integer"):
        ol.Histogram([1.0], bins=0)


def test_an_image_is_a_png_of_exactly_its_pixels():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    image = ol.Image(rgb, caption="noise")
    decoded = np.asarray(PILImage.open(io.BytesIO(image.data)))
    assert (image.width, image.height, image.channels, image.format) == (5, 7, 3, "png")
    assert np.array_equal(decoded, rgb)
    chw = torch.rand(3, 4, 6)  # torch's layout, floats in [0, 1]
    as_png = np.asarray(PILImage.open(io.BytesIO(ol.Image(chw).data)))
    assert as_png.shape == (4, 6, 3)
    assert np.abs(as_png.astype(float) - chw.permute(1, 2, 0).numpy() * 255).max() <= 0.5 + 1e-6
    with pytest.raises(OlError, match="is not an image"):
        ol.Image(np.zeros((2, 3, 5, 7)))


def test_an_image_file_is_kept_as_it_is(tmp_path):
    path = tmp_path / "x.png"
    PILImage.fromarray(np.zeros((3, 9), np.uint8)).save(path)
    image = ol.Image(path)
    assert image.data == path.read_bytes() and (image.width, image.height, image.channels) == (9, 3, 1)
    (tmp_path / "x.txt").write_text("not an image")
    with pytest.raises(OlError, match="neither a PNG nor a JPEG"):
        ol.Image(tmp_path / "x.txt")


def test_tables_take_rows_dicts_and_dataframes_of_plain_cells():
    import pandas as pd

    by_rows = ol.Table(columns=["a", "b"], rows=[[1, "x"], [2.5, None]])
    by_dict = ol.Table(data={"a": [1, 2.5], "b": ["x", None]})
    by_frame = ol.Table(data=pd.DataFrame({"a": [1, 2.5], "b": ["x", None]}))
    assert by_rows.rows == by_dict.rows == [[1, "x"], [2.5, None]] and by_frame.columns == ["a", "b"]
    with pytest.raises(OlError, match="cells are strings"):
        ol.Table(columns=["a"], rows=[[object()]])
    with pytest.raises(OlError, match="2 cells for 1 columns"):
        ol.Table(columns=["a"], rows=[[1, 2]])


@pytest.fixture
def media_run(tmp_path):
    store = tmp_path / "runs"
    rng = np.random.default_rng(1)
    with Run.start(store=store, experiment="demo", strategy="stride", seed=1, run_id="m1",
                   handle_signals=False) as run:
        for step in range(4):
            run.log({"loss": 1.0 / (step + 1), "weights": ol.Histogram(rng.normal(step, 1.0, 500), bins=16)})
        run.log({"sample": ol.Image(np.full((4, 6), 0.5), caption="grey")}, commit=False)
        run.log({"loss": 0.1})  # the held image joins this step, 4
        run.log({"errors": ol.Table(columns=["a", "b"], rows=[[1, "x"], [2, None]])}, source="eval")
        run.config.update({"lr": 0.5})
        run.emit(ArrayData(name="freqs", dtype="<i4", shape=[3], data=np.array([1, 5, 7], "<i4").tobytes(), step=4,
                           hook="fourier"))
    return store, run.dir


def test_run_log_records_media_as_their_own_events_at_their_steps(media_run):
    _, run_dir = media_run
    events = [e for _, e in read_events(run_dir / "log")]
    hists = [e for e in events if type(e) is HistogramData]
    (image,) = [e for e in events if type(e) is ImageData]
    (table,) = [e for e in events if type(e) is TableData]
    assert [h.step for h in hists] == [0, 1, 2, 3] and all(sum(h.counts) == 500 for h in hists)
    assert (image.step, image.caption, table.step, table.source) == (4, "grey", 4, "eval")
    with pytest.raises(OlError, match="log it with run.log"):
        with Run.start(store=run_dir.parent.parent, experiment="demo", run_id="m2", handle_signals=False) as run:
            run.epoch(0, {"w": ol.Histogram([1.0])})


def test_the_query_views_hold_them_as_list_columns(media_run):
    store, run_dir = media_run
    con = connect(store)
    hist = con.query("SELECT step, list_sum(counts) AS n, len(edges) AS e FROM histograms ORDER BY step").to_pylist()
    assert hist == [{"step": s, "n": 500.0, "e": 17} for s in range(4)]
    (image,) = con.query("SELECT step, width, height, caption, data FROM images").to_pylist()
    original = next(e for _, e in read_events(run_dir / "log") if type(e) is ImageData)
    assert (image["step"], image["width"], image["height"], image["data"]) == (4, 6, 4, original.data)
    (table,) = con.query("SELECT source, name, columns, rows, data FROM tables").to_pylist()
    assert table["columns"] == ["a", "b"] and json.loads(table["data"]) == [[1, "x"], [2, None]]
    (array,) = con.query("SELECT source, name, shape, \"values\" FROM arrays").to_pylist()
    assert array == {"source": "fourier", "name": "freqs", "shape": [3], "values": [1.0, 5.0, 7.0]}
    # the same after the index is rebuilt: its Parquet holds list columns too
    assert runner.invoke(app, ["index", "rebuild", "--store", str(store)]).exit_code == 0
    assert connect(store).query("SELECT list_sum(counts) AS n FROM histograms WHERE step = 2").to_pylist() == \
        [{"n": 500.0}]


def test_tensorboard_gets_native_histograms_images_and_a_text_table(media_run, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    store, run_dir = media_run
    result = runner.invoke(app, ["replay", "m1", "--store", str(store), "--to", "tensorboard", "--logdir",
                                 str(tmp_path / "tb")])
    assert result.exit_code == 0, result.output
    acc = EventAccumulator(str(tmp_path / "tb" / "demo" / "m1"),
                           size_guidance={"histograms": 0, "images": 0, "tensors": 0, "scalars": 0})
    acc.Reload()
    hists = acc.Histograms("weights")
    logged = [e for _, e in read_events(run_dir / "log") if type(e) is HistogramData]
    assert [h.step for h in hists] == [0, 1, 2, 3]
    assert list(hists[2].histogram_value.bucket) == logged[2].counts
    assert list(hists[2].histogram_value.bucket_limit) == logged[2].edges[1:]
    (image,) = acc.Images("sample")
    assert (image.step, image.width, image.height) == (4, 6, 4)
    assert np.asarray(PILImage.open(io.BytesIO(image.encoded_image_string))).tolist() == [[128] * 6] * 4
    (text,) = acc.Tensors("eval/errors")
    assert text.tensor_proto.string_val[0].decode().splitlines() == ["| a | b |", "|---|---|", "| 1 | x |", "| 2 |  |"]
    # run.config.update(...) after the start: TensorBoard's hparams are fixed, so a text summary says it
    (update,) = acc.Tensors("ol/config_updates")
    assert update.tensor_proto.string_val[0].decode() == "- `lr` = `0.5`" and update.step == 4


def test_wandb_gets_its_own_histogram_image_and_table_kinds(media_run, wandb_env):
    store, _ = media_run
    result = runner.invoke(app, ["replay", "m1", "--store", str(store), "--to", "wandb", "--mode", "offline"])
    assert result.exit_code == 0, result.output
    history, _ = wandb_history(wandb_env, wandb_id("m1"))
    assert history[0]["weights"]["_type"] == "histogram" and sum(history[0]["weights"]["values"]) == 500
    assert history[4]["sample"]["_type"] == "image-file" and history[4]["sample"]["caption"] == "grey"
    assert history[4]["eval/errors"]["_type"] == "table-file" and history[4]["eval/errors"]["nrows"] == 2


def test_plots_of_histograms_and_images_are_labelled_and_unknown_names_listed(media_run):
    from ol.consumers.analytics import media_plots

    store, _ = media_run
    con = connect(store)
    fig = media_plots.histogram(con, "weights")
    (ax,) = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert ax.get_xlabel() == "step (optimiser updates)" and ax.get_ylabel() == "weights value"
    assert ax.get_title() == "stride · seed 1" and fig.axes[-1].get_ylabel() == "share of values"
    fig = media_plots.images(con, "sample")
    assert [a.get_title() for a in fig.axes if a.images] == ["step 4\ngrey"]
    with pytest.raises(OlError, match="logged: sample"):
        media_plots.images(con, "nope")
    out = store.parent / "h.png"
    done = runner.invoke(app, ["plot", "histogram", "m1", "-m", "weights", "--store", str(store), "--out", str(out)])
    assert done.exit_code == 0 and PILImage.open(out).size[0] > 300


@pytest.mark.parametrize("fmt", ["tsv", "csv", "json", "jsonl", "parquet", "markdown", "latex", "table"])
def test_every_column_of_every_view_is_written_in_every_format(media_run, tmp_path, fmt):
    """List, struct, map and blob columns (tags, edges, shape, image bytes) included: text formats hold them
    as JSON, blobs as base64."""
    from ol.consumers.analytics.sql import VIEWS

    store, _ = media_run
    for view in VIEWS:
        out = tmp_path / f"{view}.{fmt}"
        result = runner.invoke(app, ["query", f'SELECT * FROM "{view}"', "--store", str(store), "-f", fmt,
                                     *(["--out", str(out)] if fmt != "table" else [])])
        assert result.exit_code == 0, (view, fmt, result.output)
        assert fmt == "table" or out.exists()  # (an empty view is an empty jsonl file)
    joined = "SELECT r.tags, h.edges FROM runs r JOIN histograms h USING (run_id)"
    piped = runner.invoke(app, ["query", joined, "--store", str(store), "-f", fmt])
    assert piped.exit_code == 0 and "[" in piped.output or fmt == "parquet", piped.output
