"""A sequential sweep (`ol sweep --until-width W --max-seeds N`): seeds are added one per setting at a time until
each setting's interval is at most W wide or it has N seeds; the rule lives in the plan, so --resume keeps it."""

from __future__ import annotations

import json

import pytest

from ol.schemas import RunContract
from ol.store.read.record import RunInfo
from ol.store.read.sweep_plans import MIN_SEEDS, Plan, Point, Precision
from ol.store.read.sweep_status import next_seeds, precision
from tests.cli.test_sweep import TINY, TINY_SETTINGS, ol


def _result(best: float | None, status: str = "completed") -> RunInfo:
    """A point's run record: its status and the best of the main metric it declared, logged (or not)."""
    return RunInfo(status=status, contract=RunContract(main_metric="test_acc", direction="higher"), best=best,
                   summaries={"eval/test_acc": {"count": 1}} if best is not None else {})


def _plan(points: list[Point], width: float = 0.05, most: int = 6) -> Plan:
    return Plan("s", "mod_arithmetic", points, TINY_SETTINGS, Precision(width, most))


def test_a_setting_grows_until_its_interval_is_narrow_enough_and_never_past_the_most_seeds():
    a = [Point("stride", n) for n in range(3)]
    b = [Point("random", n) for n in range(3)]
    plan = _plan(a + b)
    agreeing = {p: _result(0.9) for p in a}  # three seeds that agree: an interval of width 0, precise
    spread = {p: _result(v) for p, v in zip(b, (0.2, 0.9, 0.5), strict=True)}
    assert next_seeds(plan, {**agreeing, **spread}) == [Point("random", 3)]
    stand = {(s.strategy, s.seeds): (s.width, s.done) for s in precision(plan, {**agreeing, **spread})}
    assert stand[("stride", 3)] == (0.0, True) and stand[("random", 3)][0] > 0.5 and not stand[("random", 3)][1]
    # at the most seeds the rule allows, a wide setting is done too
    wide = _plan(b, most=3)
    assert next_seeds(wide, spread) == [] and precision(wide, spread)[0].done


def test_no_seed_is_added_while_a_run_has_not_completed_or_below_the_least_seeds():
    two = [Point("stride", 0), Point("stride", 1)]
    assert next_seeds(_plan(two, width=10.0), {p: _result(0.5) for p in two}) == [Point("stride", 2)]  # MIN_SEEDS
    assert MIN_SEEDS == 3
    three = [Point("stride", n) for n in range(3)]
    failed = {three[0]: _result(0.5), three[1]: _result(0.6), three[2]: _result(None, "failed")}
    assert next_seeds(_plan(three), failed) == []  # a failed run is the sweep's to report, not a reason to grow
    assert next_seeds(_plan(three), {three[0]: _result(0.5)}) == []  # two points never ran: run them first
    # runs that never logged the main metric: more seeds cannot narrow anything
    assert next_seeds(_plan(three), {p: _result(None) for p in three}) == []


def test_a_sequential_sweep_runs_the_least_seeds_then_stops_when_precise(tmp_path):
    store = tmp_path / "runs"
    done = ol("sweep", "mod_arithmetic", "--strategy", "stride", "--seed", "0", "--until-width", "1.0",
              "--max-seeds", "5", "--name", "q1", "--jobs", "2", "--store", store, *TINY)
    assert done.returncode == 0, done.stderr
    plan = json.loads((store / ".sweeps" / "q1.json").read_text())
    assert [p["seed"] for p in plan["points"]] == [0, 1, 2]  # grown to the least seeds a rule stops at
    assert plan["until"] == {"width": 1.0, "max_seeds": 5, "statistic": "mean"}
    assert "3 of 3 completed" in done.stdout and "stride: 3 seeds" in done.stdout and "(precise;" in done.stdout
    assert "stopping rule: seeds were added one per setting" in done.stdout and "Caveat" in done.stdout
    assert "not yet precise — stride · seed 1" in done.stderr


def test_a_resumed_sequential_sweep_keeps_its_rule_up_to_the_most_seeds(tmp_path):
    store = tmp_path / "runs"
    Plan("q2", "mod_arithmetic", [Point("stride", 0), Point("stride", 1)], TINY_SETTINGS,
         Precision(1e-9, 3)).save(store)
    done = ol("sweep", "--resume", "q2", "--jobs", "2", "--store", store)
    assert done.returncode == 0, done.stderr
    assert [p["seed"] for p in json.loads((store / ".sweeps" / "q2.json").read_text())["points"]] == [0, 1, 2]
    assert "stride: 3 seeds" in done.stdout and "(at --max-seeds;" in done.stdout
    status = ol("sweep", "--status", "q2", "--store", store)
    assert status.returncode == 0 and "(at --max-seeds;" in status.stdout and "stopping rule:" in status.stdout


@pytest.mark.parametrize("args, needle", [
    (["--max-seeds", "5"], "--max-seeds bounds --until-width"),
    (["--until-width", "0"], "--until-width must be a number above 0"),
    (["--until-width", "nan"], "--until-width must be a number above 0"),
    (["--until-width", "0.1", "--max-seeds", "2"], "--max-seeds must be a whole number from 3"),
    (["--until-width", "0.1", "--max-seeds", "3", "--seeds", "0-4"], "5 seeds already exceed --max-seeds 3"),
    (["--until-width", "0.1", "--estimator", "median"], "--estimator is mean or iqm"),
])
def test_bad_sequential_sweeps_are_one_line_and_run_nothing(tmp_path, args, needle):
    done = ol("sweep", "mod_arithmetic", *args, "--store", tmp_path / "runs", "--dry-run")
    assert done.returncode == 1
    assert needle in done.stderr and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "runs").exists()


def test_a_tampered_rule_is_refused_and_a_resume_keeps_its_own(tmp_path):
    store = tmp_path / "runs"
    Plan("q3", "mod_arithmetic", [Point("stride", 0)], TINY_SETTINGS, Precision(0.1, 4)).save(store)
    path = store / ".sweeps" / "q3.json"
    plan = json.loads(path.read_text())
    for until, needle in (({"width": -1, "max_seeds": 4}, "--until-width must be"),
                          ({"width": 0.1, "max_seeds": 10**9}, "--max-seeds must be a whole number from 3 to 1000"),
                          ({"width": 0.1, "max_seeds": 4, "shell": "rm"}, "not a sweep plan")):
        path.write_text(json.dumps({**plan, "until": until}))
        done = ol("sweep", "--resume", "q3", "--store", store)
        assert done.returncode == 1 and needle in done.stderr and "Traceback" not in done.stderr, done.stderr
    again = ol("sweep", "--resume", "q3", "--until-width", "0.5", "--store", store)
    assert again.returncode == 1 and "keeps the rule it was planned with" in again.stderr
    assert not list(store.glob("mod_arithmetic/*"))
