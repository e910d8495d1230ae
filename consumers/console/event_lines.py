"""Events as text: one human-readable line each, or JSON lines for jq."""

from __future__ import annotations

import msgspec

from ol.schemas import ArrayData, Event, Step, event_kind
from ol.terminal import printable

_json = msgspec.json.Encoder()


def event_json(seq: int, event: Event) -> bytes:
    """``{"seq": N, "kind": ..., fields...}``; NaN and ±inf become null, as JSON has neither."""
    return _json.encode({"seq": seq, **msgspec.to_builtins(event)})


def event_line(seq: int, event: Event) -> str:
    kind = event_kind(event)
    if type(event) is Step:
        parts = [f"step={event.step}"]
        if event.epoch is not None:
            parts.append(f"epoch={event.epoch}")
        for name in ("loss", "lr"):
            value = getattr(event, name)
            if value is not None:
                parts.append(f"{name}={value:.6g}")
        parts += [f"{k}={v:.6g}" for k, v in event.extra.items()]
        parts.append(f"t={event.time:.3f}s")
        body = " ".join(parts)
    elif type(event) is ArrayData:
        body = f"name={event.name} dtype={event.dtype} shape={event.shape} step={event.step}"
    else:
        fields = msgspec.structs.asdict(event)
        body = " ".join(f"{k}={_short(v)}" for k, v in fields.items() if v not in (None, "", {}, []))
    return printable(f"{seq:>8} {kind:<13} {body}")


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in list(value.items())[:12]) + "}"
    if isinstance(value, msgspec.Struct):
        return type(value).__name__ + "(…)"
    if isinstance(value, bytes):  # a payload (an image, an order's ids): its size says enough on one line
        return f"<{len(value):,} bytes>"
    return str(value)
