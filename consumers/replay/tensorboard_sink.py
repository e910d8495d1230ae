"""Mirror of an ol run as TensorBoard event files, written with the tensorboard package's own writer.

Scalars are written as ``simple_value`` summaries, the form every TensorBoard reader takes as scalars
(``EventAccumulator.Scalars``, the UI's scalars dashboard); TensorBoard stores them as float32, the
log keeps the exact values. Arrays become histograms; logged histograms, images and tables TensorBoard's
histograms, images and (markdown) text; the run's config and identity its hparams. The
event file is opened with the first thing to write, so a replay with nothing new leaves no file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ol.consumers.replay.stream import StepRecord
from ol.errors import ConsumerError, UsageError
from ol.schemas import Checkpoint, HistogramData, ImageData, RunStarted

HISTOGRAM_BINS = 30


def markdown_table(columns: list[str], rows: list[list]) -> str:
    """A logged table as markdown, the form TensorBoard's text dashboard renders as a table."""
    def cell(v) -> str:
        return "" if v is None else str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _tensorboard():
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.plugins.hparams import summary_v2 as hparams
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError:
        raise ConsumerError("replay: tensorboard is not installed; pip install 'ol[tensorboard]'") from None
    return event_pb2, summary_pb2, hparams, EventFileWriter


def hparams_summary(hparams, started: RunStarted):
    """The run's identity and its config's plain values as TensorBoard hparams (nested values flattened
    with '.'; lists as text), so runs compare in the HParams dashboard."""
    values: dict[str, bool | int | float | str] = {"strategy": started.strategy, "experiment": started.experiment}
    if started.seed is not None:
        values["seed"] = started.seed
    if started.group:
        values["group"] = started.group

    def add(prefix: str, config: dict) -> None:
        for key, value in config.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                add(f"{name}.", value)
            elif isinstance(value, (bool, int, float, str)):
                values[name] = value
            elif value is not None:
                values[name] = str(value)

    add("", started.config)
    return hparams.hparams_pb(values, trial_id=started.run_id, start_time_secs=started.started_at)


class TensorBoardSink:
    """Writes records into ``logdir``. Not thread-safe."""

    def __init__(self, logdir: Path, started: RunStarted | None = None):
        self._event, self._summary, self._hparams, self._writer_type = _tensorboard()
        self.logdir = Path(logdir)
        # what replay keeps its position under: this log directory, wherever it is named from
        self.destination = "tensorboard-" + hashlib.sha1(str(self.logdir.resolve()).encode()).hexdigest()[:12]
        self.writer = None
        # hparams go once, into the first file of the logdir (a later replay appends a file of its own)
        self._hparams_due = started is not None and not any(self.logdir.glob("events.out.tfevents.*"))
        self._started = started
        self._last_step = 0

    def _write(self, event) -> None:
        if self.writer is None:
            try:
                self.logdir.mkdir(parents=True, exist_ok=True)
                self.writer = self._writer_type(str(self.logdir))
            except OSError as e:
                raise UsageError(f"replay: cannot write TensorBoard files under {self.logdir}: {e.strerror or e}; "
                                 "give a writable --logdir") from None
            if self._hparams_due:
                self._hparams_due = False
                self.writer.add_event(self._event.Event(wall_time=self._started.started_at,
                                                        summary=hparams_summary(self._hparams, self._started)))
        self.writer.add_event(event)

    def log(self, record: StepRecord) -> None:
        values = [self._summary.Summary.Value(tag=tag, simple_value=value) for tag, value in record.scalars.items()]
        for tag, array in record.arrays.items():
            values.append(self._summary.Summary.Value(tag=tag, histo=self._histogram(array)))
        for tag, event in record.media.items():
            values.append(self._media(tag, event))
        self._last_step = max(self._last_step, record.step)
        if values:
            self._write(self._event.Event(wall_time=record.wall_time, step=record.step,
                                          summary=self._summary.Summary(value=values)))

    def _histogram(self, array: np.ndarray):
        flat = array.ravel().astype(np.float64)
        flat = flat[np.isfinite(flat)]
        if flat.size == 0:
            flat = np.zeros(1)
        counts, edges = np.histogram(flat, bins=HISTOGRAM_BINS)
        return self._summary.HistogramProto(min=float(flat.min()), max=float(flat.max()), num=float(flat.size),
                                            sum=float(flat.sum()), sum_squares=float(np.dot(flat, flat)),
                                            bucket_limit=edges[1:].tolist(), bucket=counts.astype(float).tolist())

    def _media(self, tag: str, event):
        """A histogram as TensorBoard's histogram (its own bins), an image as an image summary of the encoded
        file, a table as a markdown text summary (TensorBoard has no tables)."""
        s = self._summary
        if type(event) is HistogramData:
            histo = s.HistogramProto(min=event.min, max=event.max, num=float(event.count), sum=event.sum,
                                     sum_squares=event.sum_squares, bucket_limit=list(event.edges[1:]),
                                     bucket=list(event.counts))
            return s.Summary.Value(tag=tag, histo=histo)
        if type(event) is ImageData:
            image = s.Summary.Image(height=event.height, width=event.width, colorspace=event.channels,
                                    encoded_image_string=event.data)
            return s.Summary.Value(tag=tag, image=image)
        return s.Summary.Value(tag=tag, metadata=s.SummaryMetadata(plugin_data=s.SummaryMetadata.PluginData(
            plugin_name="text")), tensor=self._text(markdown_table(event.columns, event.rows)))

    def _text(self, text: str):
        from tensorboard.compat.proto import tensor_pb2, tensor_shape_pb2, types_pb2

        return tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[text.encode()],
                                      tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[]))

    def update_config(self, values: dict) -> None:
        """run.config.update(...) after the start: TensorBoard's hparams are fixed at the start, so the changes
        go in as a text summary (`config_updates` in the Text dashboard) at the last step sent. A replay that
        sent nothing new writes nothing (the earlier one wrote them)."""
        if self.writer is None:
            return
        text = "\n".join(f"- `{k}` = `{v}`" for k, v in values.items())
        value = self._summary.Summary.Value(tag="ol/config_updates", metadata=self._summary.SummaryMetadata(
            plugin_data=self._summary.SummaryMetadata.PluginData(plugin_name="text")), tensor=self._text(text))
        self._write(self._event.Event(step=self._last_step, summary=self._summary.Summary(value=[value])))

    def checkpoint(self, run_dir: Path, event: Checkpoint) -> None:
        pass  # TensorBoard has no artifacts; checkpoints stay in the run directory

    def finish(self, status: str, summary: dict) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
