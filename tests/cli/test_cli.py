"""The CLI through typer's CliRunner: output, exit codes, and one-line errors on bad input."""

from __future__ import annotations

import hashlib
import json

import pytest
from typer.testing import CliRunner

from ol.cli.app import app
from ol.producer import Run
from ol.schemas import SCHEMA_VERSION
from ol.store.log.format import FORMAT_VERSION, SegmentHeader, pack_segment_header

runner = CliRunner()


def ol(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "runs"
    for strategy, fail in (("stride", False), ("random", True)):
        try:
            with Run.start(store=root, experiment="demo", strategy=strategy, seed=1,
                           run_id=f"2026-{strategy}") as run:
                for i in range(20):
                    run.log({"loss": 1.0 / (i + 1), "lr": 1e-3}, step=i, epoch=i // 10)
                if fail:
                    raise RuntimeError("exploded")
        except RuntimeError:
            pass
    return root


def _tree_hash(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p).encode() + p.read_bytes())
    return h.hexdigest()


def test_runs_lists_runs_with_derived_status(store):
    result = ol("runs", "--store", store)
    assert result.exit_code == 0
    assert "2026-stride" in result.output and "completed" in result.output
    assert "2026-random" in result.output and "failed" in result.output
    only = ol("runs", "--store", store, "--status", "failed")
    assert "2026-random" in only.output and "2026-stride" not in only.output


def test_listings_are_plain_when_piped_and_take_a_format(store):
    """Piped (as here: no terminal), `ol runs`/`ol hooks`/`ol experiments` print TSV: a header, one line per
    row, no box drawing or padding; --format table|csv|json|jsonl chooses; a wrong one is a one-line error."""
    piped = ol("runs", "--store", store).output.splitlines()
    assert piped[0].split("\t")[:5] == ["run_id", "experiment", "strategy", "seed", "status"]
    assert len(piped) == 3 and not any(ch in "".join(piped) for ch in "┃│━─")
    by_id = {line.split("\t")[0]: line.split("\t") for line in piped[1:]}
    assert {k[:11] for k in by_id} == {"2026-stride", "2026-random"}
    listed = json.loads(ol("runs", "--store", store, "--format", "json").output)
    assert sorted(r["status"] for r in listed) == ["completed", "failed"] and all("run_id" in r for r in listed)
    lines = ol("runs", "--store", store, "-f", "jsonl").output.splitlines()
    assert [json.loads(line)["run_id"] for line in lines] == [r["run_id"] for r in listed]
    assert "┃" in ol("runs", "--store", store, "-f", "table").output
    hooks = ol("hooks", "-f", "csv").output.splitlines()
    assert hooks[0] == "hook,fires,needs,groups,kind,cost" and len(hooks) == 21  # a header and the 20 hooks
    described = ol("hooks", "describe", "norms").output.splitlines()
    assert described[0] == "metric\tmeaning" and described[1].startswith("hooks/norms/total_norm\t")
    names = [line.split("\t")[0] for line in ol("experiments").output.splitlines()]
    assert names[0] == "name" and {"mod_arithmetic", "dyck"} <= set(names)
    _one_line_error(ol("runs", "--store", store, "--format", "yaml"), "unknown --format 'yaml'", "tsv")


def test_events_json_lines_parse_and_filter_by_kind(store):
    result = ol("events", "2026-str", "--store", store, "--json", "--kind", "step")
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [x["step"] for x in lines] == list(range(20)) and {x["kind"] for x in lines} == {"step"}
    assert lines[3]["loss"] == 0.25 and lines[3]["seq"] == 4


def test_events_text_and_references(store):
    assert "run_ended" in ol("events", "latest", "--store", store).output
    by_strategy = ol("events", "demo/random", "--store", store, "--kind", "run_ended")
    assert "failed" in by_strategy.output and "exploded" in by_strategy.output
    by_dir = ol("events", store / "demo" / "2026-stride", "--kind", "run_started")
    assert "run_started" in by_dir.output


def test_verify_reports_and_repairs_a_torn_tail(store):
    assert ol("verify", "--all", "--store", store).exit_code == 0
    seg = store / "demo" / "2026-stride" / "log" / "00000000.olog"
    with open(seg, "ab") as f:
        f.write(b"\x51\x2a\x4d\x18\x1c\x00\x00\x00torn")
    result = ol("verify", "2026-stride", "--store", store)
    assert result.exit_code == 1 and "torn tail" in result.output
    repaired = ol("verify", "2026-stride", "--store", store, "--repair")
    assert repaired.exit_code == 0 and "cut 12 byte(s)" in repaired.output


def test_verify_reports_a_lost_range(store):
    seg = store / "demo" / "2026-stride" / "log" / "00000000.olog"
    data = bytearray(seg.read_bytes())
    data[200] ^= 0xFF  # inside the first frame's payload
    seg.write_bytes(bytes(data))
    result = ol("verify", "2026-stride", "--store", store)
    assert result.exit_code == 1 and "lost" in result.output and "events 0.." in result.output


def _one_line_error(result, *needles):
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("damage, needle", [
    (lambda seg: seg.write_bytes(b""), "empty"),
    (lambda seg: seg.write_bytes(b"PK\x03\x04" + b"\x00" * 200), "wrong magic"),
])
def test_damaged_segment_headers_are_reported_and_left_alone(store, damage, needle):
    seg = store / "demo" / "2026-stride" / "log" / "00000000.olog"
    damage(seg)
    before = _tree_hash(store)
    result = ol("verify", "2026-stride", "--store", store)
    assert result.exit_code == 1 and needle in result.output and "Traceback" not in result.output
    assert _tree_hash(store) == before


def test_a_future_format_version_is_one_line_and_exit_1(store):
    seg = store / "demo" / "2026-stride" / "log" / "00000000.olog"
    data = seg.read_bytes()
    newer = pack_segment_header(SegmentHeader(FORMAT_VERSION + 1, SCHEMA_VERSION, 0, 0, "2026-stride"))
    seg.write_bytes(newer + data[len(newer):])
    before = _tree_hash(store)
    _one_line_error(ol("events", "2026-stride", "--store", store), "format version", "upgrade ol")
    _one_line_error(ol("verify", "2026-stride", "--store", store), "upgrade ol")
    assert _tree_hash(store) == before


def test_bad_references_and_flags_are_one_line_errors(store, tmp_path):
    _one_line_error(ol("events", "nothing-like-this", "--store", store), "no run matches")
    _one_line_error(ol("events", "2026-", "--store", store), "matches 2 runs")
    not_a_run = tmp_path / "plain"
    not_a_run.mkdir()
    _one_line_error(ol("events", not_a_run, "--store", store), "is not an ol run")
    _one_line_error(ol("events", "latest", "--store", tmp_path / "missing"), "does not exist")
    _one_line_error(ol("runs", "--store", store, "--status", "exploded"), "unknown status")
    _one_line_error(ol("events", "latest", "--store", store, "--kind", "stepp"), "unknown kind")
    _one_line_error(ol("runs", "--no-such-flag"), "No such option")
    _one_line_error(ol("verify", "--store", store), "name at least one run")
    _one_line_error(ol("runs", "--store", tmp_path / "typo"), "there is no store at")
    _one_line_error(ol("query", "SELECT 1", "--store", store, "--out", tmp_path / "no" / "such" / "x.csv",
                       "-f", "csv"), "does not exist", "--out")
    _one_line_error(ol("export", "2026-stride", "-m", "loss", "--precision", "-5", "--store", store),
                    "--precision")
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    _one_line_error(ol("replay", "2026-stride", "--to", "tensorboard", "--logdir", a_file, "--store", store),
                    "is a file, not a directory")


def test_events_on_a_run_with_nothing_readable(store):
    seg = store / "demo" / "2026-stride" / "log" / "00000000.olog"
    seg.write_bytes(b"PK\x03\x04 this was never a log" * 10)
    result = ol("events", "2026-stride", "--store", store)
    assert result.exit_code == 1 and "not an ol segment" in result.output and "ol verify" in result.output
    seg.write_bytes(b"")  # a writer killed while creating its first segment: nothing recorded, not damage
    empty = ol("events", "2026-stride", "--store", store)
    assert empty.exit_code == 0 and "holds no events" in empty.output


def test_debug_shows_the_traceback(store):
    result = runner.invoke(app, ["--debug", "events", "nothing-like-this", "--store", str(store)])
    assert result.exit_code == 1 and result.exception is not None


def test_every_command_has_help_text():
    import typer.main

    group = typer.main.get_command(app)
    assert group.help
    for name, command in group.commands.items():
        assert command.help and len(command.help) > 20, name
        for param in command.params:
            if param.name not in ("help",) and getattr(param, "help", None) is not None:
                assert param.help.strip(), f"{name} --{param.name}"
        result = ol(name, "--help")
        assert result.exit_code == 0 and "Usage" in result.output


def _ol_process(*args, env=None):
    import os
    import shutil
    import subprocess
    import sys

    exe = shutil.which("ol")
    command = [exe] if exe else [sys.executable, "-m", "ol.cli"]
    return subprocess.run([*command, *map(str, args)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_shell_completion_offers_run_ids_and_experiments(store):
    """Typer's own completion (`ol --install-completion`), fed from the store: run ids and 'latest' for a run
    argument, experiment names (found without importing torch) for `ol train`, metric names for -m."""
    done = _ol_process(env={"_OL_COMPLETE": "complete_bash", "COMP_WORDS": "ol tail 2026-s", "COMP_CWORD": "2",
                            "OL_STORE": str(store)})
    assert done.returncode == 0 and done.stdout.split() == ["2026-stride"], done.stdout + done.stderr
    done = _ol_process(env={"_OL_COMPLETE": "complete_bash", "COMP_WORDS": "ol train mod", "COMP_CWORD": "2"})
    assert done.stdout.split() == ["mod_arithmetic"]
    # metric options: the names the store's runs logged, spelled as -m takes them
    done = _ol_process(env={"_OL_COMPLETE": "complete_bash", "COMP_WORDS": "ol export latest -m l", "COMP_CWORD": "4",
                            "OL_STORE": str(store)})
    assert done.returncode == 0 and done.stdout.split() == ["loss", "lr"], done.stdout + done.stderr
    # typer detects the shell from the process tree; its own switch lets a test name the shell instead
    script = _ol_process("--show-completion", "bash", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert script.returncode == 0 and "_OL_COMPLETE=complete_bash" in script.stdout


def test_no_color_and_the_no_color_variable_turn_colour_off(store):
    coloured = _ol_process("runs", "--store", store, "-f", "table", env={"FORCE_COLOR": "1"})
    assert "\x1b[32m" in coloured.stdout  # completed, in green
    for args, env in ((["--no-color"], {"FORCE_COLOR": "1"}), ([], {"FORCE_COLOR": "1", "NO_COLOR": "1"})):
        plain = _ol_process(*args, "runs", "--store", store, "-f", "table", env=env)
        assert plain.returncode == 0 and "\x1b[32m" not in plain.stdout and "completed" in plain.stdout
