"""A store's text reaches a terminal shown, never obeyed: run names, config values, notes and errors that
carry escape sequences (retitle, clear screen) or bidirectional overrides."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from ol.producer.run import Run
from ol.terminal import printable

EVIL = "x\x1b]0;pwned\x07\x1b[2J\u202ey"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("term") / "runs"
    with Run.start(store=root, experiment="e", run_id="r1", name=EVIL, config={"k": EVIL}, strategy=EVIL,
                   handle_signals=False) as run:
        run.log({"loss": 1.0}, step=0)
        run.note(EVIL)
    return root


def _on_terminal(args: list[str]) -> bytes:
    """The bytes a command writes to a real terminal (a pseudo-terminal), stdout and stderr both."""
    controller, terminal = pty.openpty()
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-c", "from ol.cli import main; main()", *args], stdin=terminal,
                            stdout=terminal, stderr=terminal, env=env)
    os.close(terminal)
    out = b""
    try:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        proc.wait(timeout=60)
        os.close(controller)
    return out


@pytest.mark.parametrize("args", [["runs"], ["events", "r1"], ["tail", "r1"], ["query", "SELECT * FROM runs"],
                                  ["query", "SELECT * FROM notes", "-f", "csv"], ["export", "r1", "-m", "loss"],
                                  ["events", "no-such-\x1b[2J-run"]])
def test_text_from_the_store_is_shown_not_obeyed(store, args):
    out = _on_terminal([*args, "--store", str(store)])
    assert b"\x1b]0;" not in out and b"\x1b[2J" not in out and "\u202e".encode() not in out, out[-400:]
    assert b"Traceback" not in out


def test_printable_keeps_what_is_safe():
    assert printable("a\tb\nc é ∞") == "a\tb\nc é ∞"
    assert printable("\x1b[2J\x07\u202e") == "\\x1b[2J\\x07\\u202e"
