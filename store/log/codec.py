"""Frame payloads: events and step rows to a zstd-compressed msgpack array, and back.

Not thread-safe: each thread that encodes or decodes makes its own ``PayloadEncoder`` /
``PayloadDecoder`` (they hold reusable msgspec and zstd state, per msgspec's perf advice).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import msgspec
import zstandard

from ol.schemas import EVENT_TYPES, Event, Step
from ol.store.errors import PayloadError, StoreError
from ol.store.log.columns import FIELD_NAMES, StepColumns, decode_events, encode_rows, step_row_shape

ZSTD_LEVEL = 3
MIN_BLOCK_ROWS = 2  # a lone step is cheaper as a plain event

class _KindOnly(msgspec.Struct):
    kind: str = ""


_ITEM = Union[(StepColumns, *EVENT_TYPES)]  # noqa: UP007


class Unencodable(StoreError):
    """A frame's items hold a value the log's encoding cannot hold, or more than one frame may."""


class PayloadEncoder:
    """Encodes one frame's items. Not thread-safe."""

    def __init__(self, level: int = ZSTD_LEVEL):
        self._msgpack = msgspec.msgpack.Encoder()
        self._zstd = zstandard.ZstdCompressor(level=level, write_content_size=True)

    def encode(self, items: list) -> tuple[bytes, int]:
        """(compressed payload, number of events) for a list of events and step rows; Unencodable when one
        of them cannot be encoded (nothing is written then)."""
        try:
            return self._encode(items)
        except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as e:
            raise Unencodable(f"store: an event cannot be encoded ({e})") from e

    def _encode(self, items: list) -> tuple[bytes, int]:
        out: list = []
        run: list = []
        shape = None
        count = 0
        for item in items:
            row = _as_row(item)
            if row is not None:
                row_shape = step_row_shape(row[1], row[3])
                if run and row_shape != shape:
                    _close_run(run, out)
                shape = row_shape
                run.append(row)
            else:
                if run:
                    _close_run(run, out)
                out.append(item)
            count += 1
        if run:
            _close_run(run, out)
        return self._zstd.compress(self._msgpack.encode(out)), count


def _as_row(item) -> tuple | None:
    if type(item) is tuple:
        return item
    if type(item) is Step and not (item.extra.keys() & set(FIELD_NAMES)):
        scalars = {}
        if item.loss is not None:
            scalars["loss"] = item.loss
        if item.lr is not None:
            scalars["lr"] = item.lr
        scalars.update(item.extra)
        return (item.step, item.epoch, item.time, scalars)
    return None


def _close_run(run: list, out: list) -> None:
    if len(run) >= MIN_BLOCK_ROWS:
        out.append(encode_rows(run))
    else:
        out.extend(_row_event(r) for r in run)
    run.clear()


def _row_event(row: tuple) -> Step:
    step, epoch, time, scalars = row
    extra = {k: float(v) for k, v in scalars.items() if k not in FIELD_NAMES}
    loss, lr = scalars.get("loss"), scalars.get("lr")
    return Step(step=step, epoch=epoch, time=time, extra=extra,
                loss=None if loss is None else float(loss), lr=None if lr is None else float(lr))


@dataclass
class DecodedPayload:
    """Events of one frame with their sequence numbers, plus what could not be used."""

    events: list[tuple[int, Event]] = field(default_factory=list)
    items: list = field(default_factory=list)  # raw items: events and StepColumns blocks
    unknown: dict[str, int] = field(default_factory=dict)  # kind -> events skipped
    invalid: list[str] = field(default_factory=list)  # messages naming the bad field


class PayloadDecoder:
    """Decodes frame payloads. Not thread-safe."""

    def __init__(self):
        self._items = msgspec.msgpack.Decoder(list[_ITEM])
        self._item = msgspec.msgpack.Decoder(_ITEM)
        self._raw = msgspec.msgpack.Decoder(list[msgspec.Raw])
        self._kind = msgspec.msgpack.Decoder(_KindOnly)
        self._zstd = zstandard.ZstdDecompressor()

    def decompress(self, payload: bytes) -> bytes:
        try:
            return self._zstd.decompress(payload)
        except zstandard.ZstdError as e:
            raise PayloadError(f"payload does not decompress: {e}") from None

    def items(self, payload: bytes) -> DecodedPayload:
        """Items without expanding column blocks (for columnar readers).

        Whatever the bytes are, the outcome is decoded items or PayloadError: a frame can pass its
        CRC and still hold anything (a writer bug, a crafted file), and one bad frame must never
        stop a reader.
        """
        raw = self.decompress(payload)
        try:
            return DecodedPayload(items=self._items.decode(raw))
        except msgspec.ValidationError:
            pass
        except (msgspec.DecodeError, RecursionError) as e:
            raise PayloadError(f"payload is not a msgpack array of events: {e}") from None
        try:
            return self._item_by_item(raw)
        except (msgspec.MsgspecError, RecursionError) as e:
            raise PayloadError(f"payload is not a msgpack array of events: {e}") from None

    def events(self, payload: bytes, first_seq: int) -> DecodedPayload:
        """Every event with its sequence number; unknown kinds skipped and counted."""
        decoded = self.items(payload)
        decoded.events = expand(decoded.items, first_seq)
        return decoded

    def _item_by_item(self, raw: bytes) -> DecodedPayload:
        out = DecodedPayload()
        known = {t.__struct_config__.tag for t in (StepColumns, *EVENT_TYPES)}
        for index, item in enumerate(self._raw.decode(raw)):
            try:
                out.items.append(self._item.decode(item))
                continue
            except msgspec.ValidationError as e:
                error = str(e)
            except (msgspec.DecodeError, RecursionError) as e:
                error = f"undecodable item: {e}"
            try:
                kind = self._kind.decode(item).kind
            except (msgspec.MsgspecError, RecursionError):
                kind = ""
            if kind and kind not in known:
                out.unknown[kind] = out.unknown.get(kind, 0) + 1
            else:
                out.invalid.append(f"event {index} ({kind or 'no kind'}): {error}")
            out.items.append(None)
        return out


def expand(items: list, first_seq: int) -> list[tuple[int, Event]]:
    """(sequence number, event) for a frame's items: column blocks expanded, skipped items counted."""
    out = []
    seq = first_seq
    for item in items:
        if item is None:  # a skipped event still used its sequence number
            seq += 1
        elif type(item) is StepColumns:
            for ev in decode_events(item):
                out.append((seq, ev))
                seq += 1
        else:
            out.append((seq, item))
            seq += 1
    return out
