"""`ol train`, `ol tail` and `ol experiments` through the CLI, and their bad-input errors."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from ol.cli.app import app
from ol.cli.launch_options import parse
from ol.producer import Run
from ol.producer.registry import get
from ol.schemas import Epoch, Step
from ol.store.log.reader import read_events
from ol.store.read.listing import newest, scan_runs

runner = CliRunner()
TINY = ["--p", "23", "--train-fraction", "0.5", "--d-model", "32", "--n-heads", "2", "--d-ff", "64",
        "--batch-size", "32", "--eval-every", "2", "--no-stop-at-target"]


def ol(*args):
    return runner.invoke(app, [str(a) for a in args])


def _one_line_error(result, *needles):
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_train_records_a_run_and_derives_summary_and_config(tmp_path):
    store = tmp_path / "runs"
    result = ol("train", "mod_arithmetic", "--strategy", "target", "--epochs", "4", "--seed", "3",
                "--store", store, *TINY)
    assert result.exit_code == 0, result.output
    assert "completed" in result.output and "epoch" in result.output
    (info,) = scan_runs(store)
    assert (info.strategy, info.seed, info.status, info.last_epoch) == ("target", 3, "completed", 3)
    events = [e for _, e in read_events(info.dir / "log")]
    epochs = [e for e in events if isinstance(e, Epoch)]
    summary = json.loads((info.dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == 4
    assert summary["steps"] == max(e.step for e in events if isinstance(e, Step)) == 36
    assert summary["final"]["train_loss"] == epochs[-1].metrics["train_loss"]
    assert summary["initial"]["test_acc"] == epochs[0].metrics["test_acc"]
    assert math.isclose(summary["delta"]["train_loss"],
                        epochs[-1].metrics["train_loss"] - epochs[0].metrics["train_loss"])
    saved = json.loads((info.dir / "experiment_config.json").read_text())
    assert saved["experiment"] == "mod_arithmetic" and saved["config"]["p"] == 23 and saved["seed"] == 3

    # rerun from the saved config; an explicit flag wins over the file
    again = ol("train", "mod_arithmetic", "--config", info.dir / "experiment_config.json", "--epochs", "2",
               "--store", store, "--quiet")
    assert again.exit_code == 0, again.output
    rerun_info = newest(scan_runs(store))
    assert again.output == rerun_info.run_id + "\n"  # --quiet: the run id, which is all a script needs
    rerun = json.loads((rerun_info.dir / "experiment_config.json").read_text())
    assert rerun["config"] == {**saved["config"], "epochs": 2} and rerun["strategy"] == "target"


def test_strategy_all_makes_one_run_per_strategy_in_one_group(tmp_path):
    result = ol("train", "mod_arithmetic", "--strategy", "all", "--epochs", "1", "--store", tmp_path, "--silent",
                *TINY)
    assert result.exit_code == 0, result.output
    runs = scan_runs(tmp_path)
    assert sorted(r.strategy for r in runs) == ["fixed-random", "random", "stride", "target"]
    assert len({r.group for r in runs}) == 1 and runs[0].group


def test_tail_replays_a_finished_run(tmp_path):
    ol("train", "mod_arithmetic", "--epochs", "2", "--store", tmp_path, "--quiet", *TINY)
    result = ol("tail", "latest", "--store", tmp_path)
    assert result.exit_code == 0 and "run completed" in result.output and "epoch" in result.output
    live = ol("tail", "latest", "--store", tmp_path, "--live")
    assert live.exit_code == 0 and "test_acc" in live.output  # the metric as every reader names it


def test_experiments_lists_and_describes(tmp_path):
    listing = ol("experiments")
    assert listing.exit_code == 0 and "mod_arithmetic" in listing.output and "fixed-random" in listing.output
    detail = ol("experiments", "mod_arithmetic")
    assert "--batch-size" in detail.output and "256" in detail.output
    assert "--weight-decay" in ol("train", "mod_arithmetic", "--help").output
    # the help of a named preset shows that preset's values; only the options given override them
    sparse = ol("train", "mod_arithmetic", "--preset", "sparse", "--help").output
    assert "defaults of preset sparse" in sparse and "[default: 211]" in sparse
    parsed = parse(get("mod_arithmetic"), ["--preset", "sparse", "--seed", "3"], "ol train mod_arithmetic",
                   ("preset", "seed"))
    assert parsed.overrides == {} and parsed.engine == {"preset": "sparse", "seed": 3}


def test_bad_training_input_is_one_line_and_records_nothing(tmp_path):
    store = tmp_path / "runs"
    _one_line_error(ol("train", "mod_arithmetc", "--store", store), "unknown experiment", "mod_arithmetic")
    _one_line_error(ol("train", "mod_arithmetic", "--strategy", "sideways", "--store", store), "stride")
    _one_line_error(ol("train", "mod_arithmetic", "--preset", "huge", "--store", store), "'quick', 'sparse', 'paper'")
    _one_line_error(ol("train", "mod_arithmetic", "--p", "abc", "--store", store), "'abc' is not a valid int")
    _one_line_error(ol("train", "mod_arithmetic", "--batchsize", "3", "--store", store),
                    "No such option: --batchsize (Possible options: --batch-size")
    _one_line_error(ol("train", "mod_arithmetic", "--live", "--quiet", "--store", store), "conflict")
    _one_line_error(ol("train", "mod_arithmetic", "--p", "5", "--train-fraction", "0.9", "--test-size", "10",
                       "--store", store), "only p² = 25 exist")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"experiment": "vision", "config": {}}))
    _one_line_error(ol("train", "mod_arithmetic", "--config", other, "--store", store), "experiment 'vision'")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    _one_line_error(ol("train", "mod_arithmetic", "--store", blocker / "runs"), "cannot create store")
    # by meaning, not only by type
    for flags, needle in ((["--p", "100"], "--p must be a prime"), (["--p", "2"], "--p must be a prime"),
                          (["--lr", "nan"], "--lr must be a finite number above 0"), (["--lr", "-1"], "--lr must"),
                          (["--d-model", "0"], "--d-model must be at least 1"),
                          (["--d-model", "30"], "multiple of --n-heads"), (["--dropout", "1.5"], "--dropout"),
                          (["--seed", "-1"], "not in the range 0<=x<=4294967295"),
                          (["--seed", "99999999999999999999999"], "not in the range 0<=x<=4294967295")):
        _one_line_error(ol("train", "mod_arithmetic", *flags, "--store", store), needle)
    assert not store.exists() or scan_runs(store) == []


def test_resume_refuses_completed_runs_and_runs_without_checkpoints(tmp_path):
    ol("train", "mod_arithmetic", "--epochs", "1", "--store", tmp_path, "--quiet", *TINY)
    (done,) = scan_runs(tmp_path)
    before = (done.dir / "log" / "00000000.olog").read_bytes()
    _one_line_error(ol("train", "mod_arithmetic", "--resume", done.run_id, "--store", tmp_path), "already completed")
    assert (done.dir / "log" / "00000000.olog").read_bytes() == before
    # a run recorded without --save-checkpoints that stopped early has nothing to resume from
    Run.start(store=tmp_path, experiment="mod_arithmetic", run_id="no-ckpt", strategy="stride").close("interrupted")
    _one_line_error(ol("train", "mod_arithmetic", "--resume", "no-ckpt", "--store", tmp_path),
                    "no checkpoint", "--save-checkpoints")


@pytest.mark.parametrize("flag", ["--save-checkpoints", "--save-checkpoints=2"])
def test_save_checkpoints_takes_an_optional_value(tmp_path, flag):
    result = ol("train", "mod_arithmetic", "--epochs", "4", flag, "--store", tmp_path, "--quiet", *TINY)
    assert result.exit_code == 0, result.output
    (info,) = scan_runs(tmp_path)
    names = sorted(p.name for p in (info.dir / "checkpoints").glob("*.pt"))
    expected_periodic = 1 if flag.endswith("=2") else 0  # bare: every 50 epochs, none in 4
    assert sum("periodic" in n for n in names) == expected_periodic and any("final" in n for n in names)


def test_options_that_would_change_a_run_are_refused_on_resume_not_ignored(tmp_path):
    store = tmp_path / "runs"
    done = ol("train", "mod_arithmetic", "--strategy", "stride", "--epochs", "2", "--save-checkpoints", "--store",
              store, "--quiet", *TINY)
    assert done.exit_code == 0, done.output
    (before,) = scan_runs(store)
    events_before = (before.dir / "log").stat().st_mtime_ns, sorted(p.name for p in (before.dir / "log").iterdir())
    refused = ol("train", "mod_arithmetic", "--resume", before.run_id, "--epochs", "25", "--lr", "0.01",
                 "--store", store)
    _one_line_error(refused, "--epochs, --lr cannot change a run on --resume", "start a new run")
    refused = ol("train", "mod_arithmetic", "--resume", "--seed", "4", "--store", store)
    _one_line_error(refused, "--seed cannot change a run on --resume")
    assert ((before.dir / "log").stat().st_mtime_ns, sorted(p.name for p in (before.dir / "log").iterdir())) \
        == events_before  # nothing recorded was touched


def test_a_run_is_found_by_the_random_part_of_its_id(tmp_path):
    from ol.store.errors import RunNotFound
    from ol.store.read.refs import resolve_run

    for run_id in ("20261122-020426-3fa9c1", "20261122-020427-77e0aa", "20261122-020428-77e0bb"):
        Run.start(store=tmp_path, experiment="e", run_id=run_id, handle_signals=False).close()
    assert resolve_run(tmp_path, "3fa9c1").name == "20261122-020426-3fa9c1"
    assert resolve_run(tmp_path, "3fa").name == "20261122-020426-3fa9c1"  # a prefix of it, too
    assert resolve_run(tmp_path, "20261122-020427").name == "20261122-020427-77e0aa"  # the id's own prefix first
    with pytest.raises(RunNotFound, match="matches 2 runs"):
        resolve_run(tmp_path, "77e0")


def test_record_order_and_order_from_through_the_command_line(tmp_path):
    from ol.store.read.orders import ids_of, recorded_orders

    store = tmp_path / "runs"
    assert ol("train", "mod_arithmetic", *TINY, "--epochs", "2", "--store", store, "--quiet").exit_code == 0
    light = newest(scan_runs(store))
    _one_line_error(ol("train", "mod_arithmetic", *TINY, "--epochs", "2", "--store", store,
                       "--order-from", light.run_id), "recorded only the identity", "--record-order")
    assert len(scan_runs(store)) == 1  # refused before anything was made
    source = ol("train", "mod_arithmetic", *TINY, "--epochs", "2", "--strategy", "target", "--store", store,
                "--record-order", "--quiet")
    assert source.exit_code == 0, source.output
    source_id = source.output.strip()
    fed = ol("train", "mod_arithmetic", *TINY, "--epochs", "2", "--seed", "7", "--store", store,
             "--order-from", source_id, "--quiet")
    assert fed.exit_code == 0, fed.output
    (run,) = [r for r in scan_runs(store) if r.run_id == fed.output.strip()]
    assert (run.strategy, run.seed, run.config["data_seed"]) == ("target", 7, 0)  # the source's strategy and data
    src = recorded_orders(next(r.dir for r in scan_runs(store) if r.run_id == source_id))
    for epoch, events in recorded_orders(run.dir).items():
        assert (ids_of(events[0]) == ids_of(src[epoch][0])).all() and events[0].source.endswith(source_id)
    assert "--record-order" in ol("train", "mod_arithmetic", "--help").output


def test_runs_without_a_strategy_are_named_by_their_experiment(tmp_path):
    """A script's, Lightning's or wandb's runs have no strategy: `EXP` and `EXP/latest` name the experiment's
    newest run, as `EXP/STRATEGY` does for ol train's; a strategy no run has says how to name the newest."""
    from ol.store.errors import RunNotFound
    from ol.store.read.refs import resolve_run

    for run_id in ("20261122-020426-aaaaaa", "20261122-020427-bbbbbb"):
        Run.start(store=tmp_path, experiment="lit", run_id=run_id, handle_signals=False).close()
    assert resolve_run(tmp_path, "lit").name == resolve_run(tmp_path, "lit/latest").name == "20261122-020427-bbbbbb"
    assert resolve_run(tmp_path, "lit/").name == "20261122-020427-bbbbbb"
    with pytest.raises(RunNotFound, match="`lit/latest` names its newest run"):
        resolve_run(tmp_path, "lit/stride")
    tail = ol("tail", "lit", "--quiet", "--store", tmp_path)
    assert tail.exit_code == 0 and tail.output.strip() == "completed"


def test_an_ol_train_run_says_so_and_its_page_offers_ol_trains_reproduce_and_resume(tmp_path):
    from starlette.testclient import TestClient

    from ol.consumers.ui.app import create_app
    from ol.store import open_snapshot

    store = tmp_path / "runs"
    assert ol("train", "mod_arithmetic", *TINY, "--epochs", "1", "--store", store, "--quiet").exit_code == 0
    (run,) = open_snapshot(store).runs
    assert run.recorder == "ol train"
    with TestClient(create_app(store), base_url="http://127.0.0.1") as c:
        commands = c.get(f"/api/run/mod_arithmetic/{run.run_id}").json()["commands"]
    assert commands["resume"].startswith("ol train mod_arithmetic --resume ")
    assert commands["reproduce"].startswith("ol train mod_arithmetic --config ")
