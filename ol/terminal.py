"""Text that reaches a terminal or a spreadsheet: control characters a store's strings may carry shown, never
obeyed; markup escaped; formulas not run.

A run name, a config value, a note or an error text is data someone else may have written; printed raw, an
escape sequence in it could retitle the terminal, clear it, or hide text (bidirectional overrides). Every
place that prints such text to a terminal passes it through ``printable``.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides and isolates
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Text a spreadsheet would run as a formula (=HYPERLINK(…), @SUM(…), +cmd|…): a store's names are someone
# else's text, so such a CSV cell is written with a leading apostrophe (OWASP's rule; a signed number stays one)
FORMULA = r"^([=@\t\r]|[+-][^0-9.])"


def printable(text: str) -> str:
    """``text`` with each unsafe character shown as its escape (``\\x1b``, ``\\u202e``)."""
    if text.isprintable():  # the common case, checked in C: nothing to show differently
        return text
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}",
                       text)


def shown(text: object) -> str:
    """``text`` ready for a Rich console that reads markup: printable, and its square brackets escaped so a
    name like ``[/bold]`` is shown as written, never read as markup (a stray closing tag is an error)."""
    from rich.markup import escape

    return escape(printable(str(text)))


def formula_safe(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet shows rather than runs (see FORMULA)."""
    return "'" + text if re.match(FORMULA, text) else text
