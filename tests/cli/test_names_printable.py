"""Every command over a store whose names carry terminal escapes and Rich markup (hardening round three):
each prints them as text — no escape byte reaches the terminal, no markup is obeyed or fails — and exits as
it would for plain names."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ol.cli.app import app
from ol.producer.run import Run
from ol.schemas import Epoch, Note, RunContract

runner = CliRunner()
HOSTILE = "\x1b]0;PWNED\x07[/bold][red]x\x1b[2J\u202e"
FORMULA = '=HYPERLINK("http://x","y")'


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("names") / "runs"
    run = Run.start(store=root, experiment="exp", run_id="r1", name=HOSTILE, strategy="[/]s\x1b[31m",
                    group="[bold]g\x1b]0;t\x07", tags=[HOSTILE], config={HOSTILE: HOSTILE, "lr": 0.1},
                    contract=RunContract(main_metric=f"a[/]{HOSTILE}", direction="higher"), handle_signals=False)
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1), f"m{HOSTILE}": float(step), FORMULA: -0.5}, step=step)
    run.emit(Epoch(epoch=0, step=2, metrics={"acc": 0.5, f"a[/]{HOSTILE}": 0.7}))
    run.emit(Note(HOSTILE, level="warning"))
    run.close("failed", error=HOSTILE)
    return root


COMMANDS = [
    ["runs"], ["runs", "-f", "json"], ["runs", "-f", "tsv"], ["runs", "r1"], ["events", "r1"], ["tail", "r1"],
    ["verify", "r1"], ["query", "SELECT * FROM runs"], ["query", "SELECT * FROM metrics", "-f", "csv"],
    ["export", "r1", "-m", "loss", "-f", "markdown"], ["export", "r1", "--events", "-f", "csv"], ["index", "status"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_names_with_escapes_and_markup_are_shown_never_obeyed(store, args):
    result = runner.invoke(app, [*args, "--store", str(store)])
    out = result.output
    assert "internal error" not in out and "MarkupError" not in out, out
    assert result.exit_code in (0, 1), out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out, repr(out[:2000])


@pytest.mark.parametrize("args", [["query", "SELECT name, value FROM metrics", "-f", "csv"],
                                  ["query", "SELECT name, value FROM metrics", "-f", "tsv"],
                                  ["export", "r1", "-m", "loss", "-m", FORMULA, "-f", "csv"],
                                  ["export", "r1", "--events", "-f", "csv"],
                                  ["runs", "-f", "csv"]], ids=" ".join)
def test_csv_cells_a_spreadsheet_would_run_are_written_as_text(store, args):
    result = runner.invoke(app, [*args, "--store", str(store)])
    assert result.exit_code == 0, result.output
    if "metrics" in args[1] or "--events" in args or FORMULA in args:
        assert "'=HYPERLINK" in result.output and "\n=HYPERLINK" not in result.output
        assert "-0.5" in result.output  # a signed number is not a formula
    for line in result.output.splitlines():
        for cell in line.replace("\t", ",").split(","):
            assert not cell.startswith(("=", "@")), line


def test_a_run_whose_every_frame_is_torn_says_why_it_has_nothing(tmp_path):
    import json  # noqa: PLC0415

    from ol.store.log.format import FILE_HEADER_SIZE  # noqa: PLC0415

    store = tmp_path / "runs"
    with Run.start(store=store, experiment="exp", run_id="torn", handle_signals=False) as run:
        run.log({"loss": 1.0}, step=0)
    (segment,) = (run.dir / "log").iterdir()
    segment.write_bytes(segment.read_bytes()[:FILE_HEADER_SIZE + 20])  # the header and a piece of the first frame
    result = runner.invoke(app, ["runs", "-f", "json", "--store", str(store)])
    (row,) = json.loads(result.output)
    assert row["status"] == "crashed" and "no whole event" in row["problem"]


def test_the_consoles_own_styling_is_kept_while_the_runs_text_is_escaped(store):
    first = runner.invoke(app, ["tail", "r1", "--store", str(store)]).output.splitlines()[0]
    assert first.startswith("exp · [/]s")  # the line's own [bold] tag styled (not shown), the run's brackets shown
