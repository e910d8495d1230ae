"""Column blocks: runs of step events stored column-wise inside a frame's payload.

Consecutive step events with the same shape (same scalar names, epoch present or not) become
one ``StepColumns`` item: step and epoch as int64 deltas (an epoch column with a fraction in it, as a
Trainer counts epochs, as float64), time as int64 microsecond deltas when
every time is a whole number of microseconds (else raw float64), and one float64 column per
scalar. Every column is byte-shuffled (byte k of every value stored together) so zstd sees the
constant high bytes and, for values that came from float32 tensors, the all-zero low mantissa
bytes. Lossless: decoding returns bit-identical floats, NaN payloads and -0.0 included.

The names ``loss`` and ``lr`` are the Step fields of that name; other names are ``extra``. A block's own
columns (step, epoch, time) and its scalars are decoded apart: a scalar may be named ``step`` in an older log.
"""

from __future__ import annotations

from typing import Literal

import msgspec
import numpy as np

from ol.schemas import Step

FIELD_NAMES = ("loss", "lr")
_MAX_EXACT_US = float(2**52)  # microsecond counts above this lose precision as float64


class StepColumns(msgspec.Struct, frozen=True, tag_field="kind", tag="step_columns"):
    """A format item (not an event kind): n step events, column-wise."""

    n: int
    step0: int
    steps: bytes  # int64 deltas from step0, shuffled
    names: list[str]
    values: list[bytes]  # float64 per name, shuffled
    time_unit: Literal["us", "f64"]
    times: bytes  # int64 µs deltas from 0, or float64, shuffled
    epoch0: int | None = None
    epochs: bytes | None = None  # int64 deltas from epoch0, shuffled; None: every epoch is None
    fractional_epochs: bytes | None = None  # float64, shuffled: instead of epochs when one has a fraction

    def __post_init__(self):
        # checked while decoding (msgspec turns this into a ValidationError), so a block whose
        # columns disagree with its row count is an invalid item, never a crash in a reader
        width = 8 * self.n
        sizes = [len(self.steps), len(self.times), *map(len, self.values)]
        sizes += [len(e) for e in (self.epochs, self.fractional_epochs) if e is not None]
        if self.n < 0 or any(size != width for size in sizes) or len(self.names) != len(self.values):
            raise ValueError(f"column block of {self.n} rows has columns of {sorted(set(sizes))} bytes "
                             f"and {len(self.names)} names for {len(self.values)} value columns")
        if (self.epochs is None) != (self.epoch0 is None) or (self.epochs and self.fractional_epochs):
            raise ValueError("column block has epochs without epoch0, the other way round, or two epoch columns")


def shuffle(a: np.ndarray) -> bytes:
    """Byte k of every element together: the layout zstd compresses best for numbers."""
    return np.ascontiguousarray(a).view(np.uint8).reshape(len(a), a.itemsize).T.tobytes()


def unshuffle(data: bytes, dtype: str, n: int) -> np.ndarray:
    itemsize = np.dtype(dtype).itemsize
    planes = np.frombuffer(data, dtype=np.uint8).reshape(itemsize, n)
    return np.ascontiguousarray(planes.T).view(dtype).reshape(n)


def _deltas(a: np.ndarray, first: int) -> np.ndarray:
    out = np.empty_like(a)
    out[0] = a[0] - first
    np.subtract(a[1:], a[:-1], out=out[1:])
    return out


def step_row_shape(epoch, values: dict) -> tuple:
    """Rows with equal shapes can share one block."""
    return (epoch is None, tuple(values))


def encode_rows(rows: list[tuple[int, int | None, float, dict]]) -> StepColumns:
    """Rows of (step, epoch, time, scalars) of one shape into a block."""
    n = len(rows)
    steps = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    step0 = int(steps[0])
    epoch0 = epochs = fractional = None
    if rows[0][1] is not None:
        if any(type(r[1]) is float for r in rows):
            fractional = shuffle(np.fromiter((r[1] for r in rows), dtype=np.float64, count=n))
        else:
            ep = np.fromiter((r[1] for r in rows), dtype=np.int64, count=n)
            epoch0 = int(ep[0])
            epochs = shuffle(_deltas(ep, epoch0))
    times = np.fromiter((r[2] for r in rows), dtype=np.float64, count=n)
    unit, time_bytes = _encode_times(times)
    names = list(rows[0][3])
    values = [shuffle(np.array([r[3][k] for r in rows], dtype=np.float64)) for k in names]
    return StepColumns(n, step0, shuffle(_deltas(steps, step0)), names, values, unit, time_bytes,
                       epoch0, epochs, fractional)


def _encode_times(times: np.ndarray) -> tuple[str, bytes]:
    if np.all(np.isfinite(times)) and np.all(np.abs(times) < _MAX_EXACT_US / 1e6):
        us = np.rint(times * 1e6)
        # bitwise, so values that are not whole microseconds fall back to float64; so does -0.0, which
        # survives the division (-0.0 / 1e6 is -0.0) but not the integers
        negative_zero = bool(np.any((times == 0) & np.signbit(times)))
        if not negative_zero and np.array_equal((us / 1e6).view(np.int64), times.view(np.int64)):
            return "us", shuffle(_deltas(us.astype(np.int64), 0))
    return "f64", shuffle(times)


def decode_arrays(block: StepColumns) -> tuple[dict[str, np.ndarray | None], dict[str, np.ndarray]]:
    """A block's own columns (step, epoch or None: int64, or float64 when fractional; time) and its scalars by
    name, apart."""
    n = block.n
    own: dict[str, np.ndarray | None] = {"step": np.cumsum(unshuffle(block.steps, "<i8", n)) + block.step0,
                                         "epoch": None}
    if block.epochs is not None:
        own["epoch"] = np.cumsum(unshuffle(block.epochs, "<i8", n)) + block.epoch0
    elif block.fractional_epochs is not None:
        own["epoch"] = unshuffle(block.fractional_epochs, "<f8", n)
    if block.time_unit == "us":
        own["time"] = np.cumsum(unshuffle(block.times, "<i8", n)) / 1e6
    else:
        own["time"] = unshuffle(block.times, "<f8", n)
    return own, {name: unshuffle(data, "<f8", n) for name, data in zip(block.names, block.values, strict=True)}


def decode_events(block: StepColumns) -> list[Step]:
    """The block as the Step events it stands for."""
    own, cols = decode_arrays(block)
    n = block.n
    steps = own["step"].tolist()
    epochs = [None] * n if own["epoch"] is None else own["epoch"].tolist()
    if block.fractional_epochs is not None:  # whole ones were logged as ints
        epochs = [int(e) if e.is_integer() else e for e in epochs]
    times = own["time"].tolist()
    loss = cols["loss"].tolist() if "loss" in cols else [None] * n
    lr = cols["lr"].tolist() if "lr" in cols else [None] * n
    extra_names = [k for k in block.names if k not in FIELD_NAMES]
    extra_cols = [cols[k].tolist() for k in extra_names]
    extras = [dict(zip(extra_names, row, strict=True)) for row in zip(*extra_cols, strict=True)] if extra_cols \
        else [{} for _ in range(n)]
    # positional: field order step, epoch, time, loss, lr, extra (the fastest way to build Structs)
    return [Step(*fields) for fields in zip(steps, epochs, times, loss, lr, extras, strict=True)]
