"""Mirror of an ol run as TensorBoard event files, written with the tensorboard package's own writer.

Scalars are written as double-precision tensor summaries carrying the scalars plugin's metadata
(the form TensorBoard 2 itself writes), so nothing is rounded to float32; arrays as histograms.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ol.consumers.replay import StepRecord
from ol.schemas import Checkpoint, OlError

HISTOGRAM_BINS = 30


def _tensorboard():
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
        from tensorboard.plugins.histogram import metadata as histogram_metadata
        from tensorboard.plugins.scalar import metadata as scalar_metadata
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError:
        raise OlError("replay: tensorboard is not installed; pip install 'ol[tensorboard]'") from None
    return (event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2, histogram_metadata,
            scalar_metadata, EventFileWriter)


class TensorBoardSink:
    """Writes records into ``logdir``. Not thread-safe."""

    def __init__(self, logdir: Path):
        (self._event, self._summary, self._tensor, self._shape, self._types, self._hist_md, self._scalar_md,
         writer) = _tensorboard()
        try:
            logdir.mkdir(parents=True, exist_ok=True)
            self.writer = writer(str(logdir))
        except OSError as e:
            raise OlError(f"replay: cannot write TensorBoard files under {logdir}: {e.strerror or e}; "
                          "give a writable --logdir") from None
        self._described: set[str] = set()

    def _metadata(self, tag: str, plugin):
        if tag in self._described:
            return None  # TensorBoard reads a tag's metadata from its first value in a file
        self._described.add(tag)
        return plugin.create_summary_metadata(display_name=tag, description="")

    def log(self, record: StepRecord) -> None:
        values = []
        for tag, value in record.scalars.items():
            tensor = self._tensor.TensorProto(dtype=self._types.DT_DOUBLE, double_val=[value],
                                              tensor_shape=self._shape.TensorShapeProto())
            values.append(self._summary.Summary.Value(tag=tag, tensor=tensor,
                                                      metadata=self._metadata(tag, self._scalar_md)))
        for tag, array in record.arrays.items():
            values.append(self._summary.Summary.Value(tag=tag, histo=self._histogram(array)))
        if values:
            self.writer.add_event(self._event.Event(wall_time=record.wall_time, step=record.step,
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

    def checkpoint(self, run_dir: Path, event: Checkpoint) -> None:
        pass  # TensorBoard has no artifacts; checkpoints stay in the run directory

    def finish(self, status: str, summary: dict) -> None:
        self.writer.flush()
        self.writer.close()
