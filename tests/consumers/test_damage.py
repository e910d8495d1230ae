"""Damage is local. A seeded generator damages logs in every way tests/damage.py knows; a store of
healthy, crashed, empty and damaged runs must answer for its healthy runs exactly as a store of only
those does, with one warning line per damaged run, and no consumer may fail with an internal error."""

from __future__ import annotations

import random
import struct
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ol.cli.app import app
from ol.schemas import RunStarted
from ol.store.log.writer import LogWriter
from ol.store.read.listing import scan_runs
from ol.store.read.summary import summarize

sys.path.insert(0, str(Path(__file__).parents[1]))
import damage  # noqa: E402

SEED = 20261122
HEALTHY = ("h-1", "h-2")
# damage no reader can mistake for a crash: each of these runs must be warned about
ALWAYS_SEEN = {"flip_frame", "flip_header", "delete_first", "delete_middle", "crafted_garbage", "crafted_deep",
               "crafted_columns", "crafted_wrong_types", "duplicate_segment", "foreign_segment"}
QUERIES = [
    "SELECT run_id, status, last_step, last_epoch, strategy, seed, wall_time FROM runs",
    "SELECT * FROM steps", "SELECT * FROM epochs", "SELECT * FROM metrics", "SELECT * FROM metric_stats",
    "SELECT * FROM checkpoints", "SELECT * FROM notes", "SELECT run_id, seq, kind, step, epoch, event FROM events",
]

runner = CliRunner()


def _crashed_before_first_step(store: Path, run_id: str) -> None:
    writer = LogWriter.create(store / "exp" / run_id / "log", run_id)
    writer.append([RunStarted(run_id=run_id, experiment="exp", strategy="stride", seed=9)])
    writer.close()


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("damage")
    clean, mixed = root / "clean", root / "mixed"
    for i, run_id in enumerate(HEALTHY):
        damage.healthy_run(clean, run_id, seed=i)
        damage.healthy_run(mixed, run_id, seed=i)
    rng = random.Random(SEED)
    kinds = list(damage.KINDS) + [rng.choice(damage.KINDS) for _ in range(7)]
    damaged = {}
    for i, kind in enumerate(kinds):
        run_id = f"d-{i:02d}"
        run_dir = damage.healthy_run(mixed, run_id, seed=100 + i)
        damaged[run_id] = (kind, damage.damage(run_dir, rng, kind))
    _crashed_before_first_step(mixed, "c-started-only")
    (mixed / "exp" / "c-nothing" / "log").mkdir(parents=True)  # killed before its first write
    return clean, mixed, damaged


def _ol(store: Path, *args: str):
    result = runner.invoke(app, [*args, "--store", str(store)])
    assert "internal error" not in result.output and "Traceback" not in result.output, (args, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    return result


def _warned_runs(stderr: str) -> list[str]:
    return [line.split()[1].rstrip(":") for line in stderr.splitlines() if line.startswith("warning:")]


def _only_healthy(csv_text: str) -> list[str]:
    lines = csv_text.splitlines()
    return [lines[0]] + sorted(line for line in lines[1:] if any(f'"{h}"' in line for h in HEALTHY))


def test_query_answers_for_healthy_runs_exactly_with_one_warning_per_damaged_run(stores):
    clean, mixed, damaged = stores
    for sql in QUERIES:
        ordered = f"SELECT * FROM ({sql}) ORDER BY ALL"
        alone = _ol(clean, "query", ordered, "-f", "csv")
        among = _ol(mixed, "query", ordered, "-f", "csv")
        assert alone.exit_code == 0 and among.exit_code == 0, among.output
        assert _only_healthy(among.stdout) == _only_healthy(alone.stdout), sql
        warned = _warned_runs(among.stderr)
        assert len(warned) == len(set(warned)), among.stderr  # one line per run
        assert set(warned) <= set(damaged), among.stderr  # never a healthy or merely crashed run
        must = {run_id for run_id, (kind, _) in damaged.items() if kind in ALWAYS_SEEN}
        assert must <= set(warned), (must - set(warned), among.stderr)
    statuses = _ol(mixed, "query", "SELECT run_id, status FROM runs WHERE run_id LIKE 'c-%' ORDER BY 1", "-f", "csv")
    assert statuses.stdout.splitlines()[1:] == ['c-nothing,crashed', 'c-started-only,crashed']


def test_export_plot_and_replay_answer_for_healthy_runs(stores, tmp_path):
    clean, mixed, damaged = stores
    everyone = [*HEALTHY, *damaged, "c-started-only", "c-nothing"]
    alone = _ol(clean, "export", *HEALTHY, "-m", "loss", "-m", "test_acc", "--per", "run", "-f", "csv")
    among = _ol(mixed, "export", *everyone, "-m", "loss", "-m", "test_acc", "--per", "run", "-f", "csv")
    assert among.exit_code == 0 and _only_healthy(among.stdout) == _only_healthy(alone.stdout)
    warned = _warned_runs(among.stderr)
    assert len(warned) == len(set(warned)) and set(warned) <= set(damaged)

    plot = _ol(mixed, "plot", "curves", *everyone, "-m", "loss", "--out", str(tmp_path / "curves.png"))
    assert plot.exit_code == 0 and (tmp_path / "curves.png").stat().st_size > 10_000

    tb_clean, tb_mixed = tmp_path / "tb-clean", tmp_path / "tb-mixed"
    assert _ol(clean, "replay", *HEALTHY, "--to", "tensorboard", "--logdir", str(tb_clean)).exit_code == 0
    replay = _ol(mixed, "replay", *everyone, "--to", "tensorboard", "--logdir", str(tb_mixed))
    assert replay.exit_code == 0
    for run_id in HEALTHY:
        assert _scalars(tb_mixed / "exp" / run_id) == _scalars(tb_clean / "exp" / run_id)
    assert len(_warned_runs(replay.stderr)) <= len(damaged) + 2


def _scalars(logdir: Path) -> dict:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "tensors": 0, "histograms": 0})
    acc.Reload()
    # float32 bytes: NaN compares equal to NaN
    return {tag: [(e.step, struct.pack("<f", e.value)) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_every_consumer_of_one_run_reads_around_the_damage(stores):
    _, mixed, damaged = stores
    infos = {i.run_id: i for i in scan_runs(mixed)}
    assert {"h-1", "h-2", "c-started-only", "c-nothing"} <= set(infos)
    assert _ol(mixed, "runs").exit_code == 0
    for run_id, (_, what) in damaged.items():
        run_dir = mixed / "exp" / run_id
        for args in (["events", str(run_dir)], ["events", str(run_dir), "--json"], ["tail", str(run_dir)]):
            result = _ol(mixed, *args)
            assert result.exit_code in (0, 1), (what, args, result.output)
            if result.exit_code == 1:
                errors = [line for line in result.output.splitlines() if line.startswith("error:")]
                assert len(errors) == 1, (what, result.output)
        verify = _ol(mixed, "verify", str(run_dir))
        assert verify.exit_code == 1, (what, verify.output)  # every change to a sealed log is seen
        summary = summarize(run_dir)
        assert summary["run_id"] == run_id, (what, summary)
    for healthy in HEALTHY:
        assert _ol(mixed, "verify", healthy).exit_code == 0
    from starlette.testclient import TestClient

    from ol.consumers.ui.app import create_app

    with TestClient(create_app(mixed), base_url="http://127.0.0.1") as client:  # the dashboard too
        listed = client.get("/api/runs")
        assert listed.status_code == 200, listed.text
        for row in listed.json()["runs"]:
            page = client.get(f"/api/run/{row['key']}")
            assert page.status_code == 200, (row["key"], page.text)
