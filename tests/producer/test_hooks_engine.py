"""Hooks inside real training: they see real gradients, never change training, survive a resume."""

from __future__ import annotations

from typer.testing import CliRunner

from ol.cli.app import app
from ol.producer import hooks
from ol.schemas import HookMetrics, Note, Step
from ol.store.log.reader import read_events
from ol.store.read.listing import newest, scan_runs
from ol.store.read.projection import project
from tests.producer import launching
from tests.producer.interrupting import InterruptAt

TINY = {"p": 23, "train_fraction": 0.5, "d_model": 32, "n_heads": 2, "d_ff": 64, "batch_size": 32,
        "epochs": 7, "eval_every": 2, "snapshot_every": 3, "dropout": 0.1, "stop_at_target": False}
STEPS_PER_EPOCH = 9


def _start(store, hook_list=None, config=None, **kw):
    return launching.start(store, "mod_arithmetic", {**TINY, **(config or {})}, "random", 4, hooks=hook_list or [],
                           **kw)


def _events(run_dir):
    return [e for _, e in project(read_events(run_dir / "log"))]


def _losses(run_dir):
    return [(e.step, e.loss) for e in _events(run_dir) if isinstance(e, Step)]


def _hook_metrics(run_dir):
    return [(e.hook, e.point, e.step, e.metrics) for e in _events(run_dir) if isinstance(e, HookMetrics)]


def _reference(store):
    """A completed run of the same experiment and strategy that reached its target (0 %: at its first
    evaluation; training is the same whatever the target): the default θ* for the hooks that need one."""
    run_dir, status = _start(store, config={"target_acc": 0.0})
    assert status == "completed"
    return run_dir


def test_observers_see_real_gradients_and_leave_training_bit_identical(tmp_path):
    plain = _reference(tmp_path)
    observed, _ = _start(tmp_path, hooks.resolve(["observers"], []))
    assert _losses(observed) == _losses(plain)
    metrics = {(h, k): v for h, _, _, m in _hook_metrics(observed) for k, v in m.items()}
    sources = {h for h, _ in metrics}
    assert sources == set(hooks.groups()["observers"])  # every observer reported something
    # a gradient read after the optimiser cleared it would be zero: these must not be
    for key in [("norms", "total_norm"), ("training_diagnostics", "grad_norm_mean"), ("token_gradient", "gini"),
                ("batch_dynamics", "efficiency_2"), ("phases", "grad_norm"), ("variance", "window_mean_norm")]:
        assert metrics[key] > 0, key
    assert abs(metrics[("weight_tracking", "mean_grad_cosine")]) > 0


def test_interventions_leave_training_bit_identical(tmp_path):
    plain = _reference(tmp_path)
    intervened, _ = _start(tmp_path, hooks.resolve(["interventions"], ["counterfactual_validator"]))
    assert _losses(intervened) == _losses(plain)
    fired = {h for h, _, _, _ in _hook_metrics(intervened)}
    assert fired == {"hessian", "counterfactual", "adam_dynamics", "counterfactual_validator"}
    counterfactual = [m for h, _, _, m in _hook_metrics(intervened) if h == "counterfactual"]
    assert all(0 <= m["ordering_fraction"] <= 1 for m in counterfactual) and len(counterfactual) == 5 + 1


def test_a_resumed_run_emits_the_same_hook_metrics_as_an_uninterrupted_one(tmp_path):
    _reference(tmp_path)
    names = ["consecutive", "variance", "batch_dynamics", "path_length", "parameter_delta", "phases", "norms",
             "training_diagnostics", "gradient_projection", "subspace_gradient_info", "counterfactual"]
    whole, _ = _start(tmp_path / "whole", hooks.resolve([], names),
                                       reference=str(_reference(tmp_path / "ref")))
    ref = str(next(r.dir for r in scan_runs(tmp_path / "ref")))
    cut, status = _start(tmp_path / "cut", hooks.resolve([], names) + [InterruptAt(3 * 9 + 4)],
                                          reference=ref)
    assert status == "interrupted"
    _, status = launching.resume(cut, hooks=hooks.resolve([], names), reference=ref)
    assert status == "completed"
    assert _losses(cut) == _losses(whole)
    assert _hook_metrics(cut) == _hook_metrics(whole)


def test_without_a_reference_solution_hooks_are_skipped_with_a_note(tmp_path):
    run_dir, _ = _start(tmp_path, hooks.resolve([], ["gradient_projection", "norms"]))
    notes = [e.message for e in _events(run_dir) if isinstance(e, Note)]
    assert any("no reference weights" in n for n in notes)
    assert any("gradient_projection skipped" in n and "reference" in n for n in notes)
    fired = {h for h, _, _, _ in _hook_metrics(run_dir)}
    assert fired == {"norms"}


def test_the_default_reference_is_a_run_that_reached_its_target_and_the_choice_is_recorded(tmp_path):
    """A newer completed run that never reached its target is passed over for an older one that did; with
    only runs that never did, there is no reference and a warning says why."""
    never = tmp_path / "never"
    _start(never)  # 7 epochs of p=23: nowhere near 99.5 %
    names = ["gradient_projection"]
    alone, _ = _start(never, hooks.resolve([], names))
    warnings = [e for e in _events(alone) if isinstance(e, Note) and e.level == "warning"]
    assert any("1 completed mod_arithmetic/random run(s)" in w.message and "never reached their target" in w.message
               for w in warnings), [w.message for w in warnings]
    assert not _hook_metrics(alone)

    store = tmp_path / "both"
    good = _reference(store)
    _start(store)  # newer, completed, never reached its target
    observed, _ = _start(store, hooks.resolve([], names))
    notes = [e.message for e in _events(observed) if isinstance(e, Note)]
    chosen = next(n for n in notes if n.startswith("reference weights θ* from"))
    assert f"run {good.name}, the latest completed mod_arithmetic/random run that reached its target" in chosen
    assert {h for h, _, _, _ in _hook_metrics(observed)} == {"gradient_projection"}


def test_with_hooks_full_runs_to_completion_on_the_quick_preset(tmp_path):
    runner = CliRunner()
    store = str(tmp_path / "runs")
    # the reference run reaches its (0 %) target: only such a run's weights are taken as θ*
    first = runner.invoke(app, ["train", "mod_arithmetic", "--epochs", "12", "--quiet", "--store", store,
                                "--target-acc", "0", "--no-stop-at-target"])
    assert first.exit_code == 0, first.output
    full = runner.invoke(app, ["train", "mod_arithmetic", "--epochs", "12", "--quiet", "--store", store,
                               "--with-hooks", "full", "--no-stop-at-target"])
    assert full.exit_code == 0, full.output
    latest = newest(scan_runs(tmp_path / "runs"))
    assert latest.status == "completed"
    fired = {h for h, _, _, _ in _hook_metrics(latest.dir)}
    assert fired == set(hooks.groups()["full"])
