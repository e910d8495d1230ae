"""An experiment's options, declared once: the fields of its config struct.

Each field is an option — its name (``train_fraction`` is ``--train-fraction``), its type (int, float, bool,
str, or a ``Literal`` of choices), its default and its help (``Annotated[int, msgspec.Meta(description=…)]``).
The CLI turns them into typer options for `ol train`, `ol sweep` and `ol analyze order`; a sweep's grid
values are converted by the same types; the struct itself validates what they mean.
"""

from __future__ import annotations

import difflib
import typing
from dataclasses import dataclass
from typing import Any

import msgspec

from ol.errors import UsageError

KINDS = (bool, int, float, str)


@dataclass(frozen=True)
class Option:
    name: str  # the config field
    kind: type  # bool, int, float or str
    default: Any
    help: str = ""
    choices: tuple[str, ...] = ()  # a Literal field's values

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def convert(self, text: str, where: str = "") -> Any:
        """A value as typed on a command line (a sweep's --grid) in this option's type."""
        try:
            if self.kind is bool:
                lowered = text.strip().lower()
                if lowered not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                return lowered in ("true", "1", "yes")
            value = self.kind(text)
        except ValueError:
            what = {int: "an integer", float: "a number", bool: "true or false"}.get(self.kind, "text")
            raise UsageError(f"{where}{self.flag} expects {what}, got {text!r}") from None
        if self.choices and value not in self.choices:
            raise UsageError(f"{where}{self.flag} is one of {', '.join(self.choices)}, got {text!r}")
        return value


def options_of(config_type: type[msgspec.Struct]) -> dict[str, Option]:
    """The config struct's fields as options, by field name, in declaration order."""
    out = {}
    for field in msgspec.structs.fields(config_type):
        kind, meta = _unwrap(field.type)
        choices: tuple[str, ...] = ()
        if typing.get_origin(kind) is typing.Literal:
            choices = tuple(typing.get_args(kind))
            kind = type(choices[0])
        if kind not in KINDS:
            raise TypeError(f"{config_type.__name__}.{field.name}: an option is one of bool, int, float, str or a "
                            f"Literal, not {field.type!r}")
        out[field.name] = Option(field.name, kind, field.default, getattr(meta, "description", None) or "", choices)
    return out


def check_names(known: dict[str, Option], names, where: str, experiment: str) -> None:
    """Refuses a name that is not one of ``experiment``'s ``known`` options, naming the closest one."""
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise UsageError(f"{where}{name} is not an option of {experiment}; {hint}its options: "
                             f"{', '.join(known)}")


def _unwrap(kind) -> tuple[Any, msgspec.Meta | None]:
    if typing.get_origin(kind) is typing.Annotated:
        base, *extras = typing.get_args(kind)
        return base, next((m for m in extras if isinstance(m, msgspec.Meta)), None)
    return kind, None
