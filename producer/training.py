"""Starting and resuming training runs: experiment + Run + Engine, with checkpoints and final weights."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import torch

from ol.errors import ProducerError, UsageError
from ol.producer import checkpoints, environment, reference
from ol.producer.determinism import make_deterministic, pick_device, seed_everything
from ol.producer.engine import Engine, Orders
from ol.producer.experiment import Experiment, Setup
from ol.producer.hooks import Hook
from ol.producer.run import Run
from ol.schemas import Checkpoint, RunContract, RunEnded, RunStarted
from ol.store.log.reader import LogReader
from ol.store.log.rundir import log_path
from ol.store.log.sharing import make_dir, share_file
from ol.store.log.verify import checkpoint_problem

if TYPE_CHECKING:
    from ol.producer.launch import LaunchPlan

ARTIFACTS_DIR = "artifacts"
FINAL_WEIGHTS = "final_weights.pt"


def contract(experiment: Experiment, setup: Setup) -> RunContract:
    """What the run is, from the experiment's own Setup: recorded in the run's first event."""
    named = bool(setup.target_metric)  # no main metric: no direction or target to speak of
    return RunContract(main_metric=setup.target_metric, direction=setup.target_direction if named else None,
                       target=setup.target_value if named else None, total_epochs=setup.epochs,
                       display=[metric for metric, _ in experiment.sidebar],
                       units={**ENGINE_UNITS, **experiment.units})


# what the engine's own metrics measure: train_acc is the epoch's share of correct predictions; the losses
# (the step's batch loss, the epoch's mean of them) are in whatever unit the experiment's loss is, so it says
ENGINE_UNITS = {"train_acc": "fraction"}


def start(plan: LaunchPlan, config: msgspec.Struct, strategy: str, seed: int = 0, group: str = "", *,
          hooks: list[Hook] | None = None, on_started: Callable[[Run], None] | None = None) -> tuple[Path, str]:
    """Train a new run of ``plan``'s experiment to its end, as its settings say; returns (run directory, status).
    ``hooks``: instead of the ones the settings name (a test's or a script's own)."""
    exp, settings = plan.experiment, plan.settings
    hooks = plan.hooks() if hooks is None else hooks
    device = pick_device(settings.device)
    seed_everything(seed)
    setup = exp.setup(config, strategy, seed, device)
    orders = Orders(strategy, seed, settings.record_order or settings.order_from is not None)
    if settings.order_from:  # refused before the run exists when it cannot be replayed
        from ol.store.read.refs import resolve_run

        orders.replay, orders.source = replay(resolve_run(plan.store, settings.order_from, index=False), setup)
    env = environment.collect(device=_device_name(device), deterministic=True)
    make_deterministic()
    with Run.start(store=plan.store, experiment=exp.name, config=msgspec.to_builtins(config), strategy=strategy,
                   seed=seed, group=group, environment_info=env, contract=contract(exp, setup),
                   parameters=sum(p.numel() for p in setup.model.parameters() if p.requires_grad),
                   sweep_point=plan.sweep_point, recorder="ol train") as run:
        if on_started:
            on_started(run)
        theta = _reference(run, plan.store, exp.name, strategy, settings.reference, hooks, setup, device, env)
        engine = Engine(run, setup, hooks=hooks, checkpoint_every=settings.checkpoint_every, reference=theta,
                        orders=orders)
        return run.dir, _train(run, engine, setup)


def resume(plan: LaunchPlan, run_dir: Path, *, hooks: list[Hook] | None = None,
           on_started: Callable[[Run], None] | None = None) -> tuple[Path, str]:
    """Continue ``run_dir`` (a run of ``plan``'s experiment) from its newest checkpoint whose hash verifies,
    with what it started as; of the settings only the device, checkpoints, hooks and reference apply."""
    exp, settings = plan.experiment, plan.settings
    hooks = plan.hooks() if hooks is None else hooks
    started, ckpts, ended = _history(run_dir)
    if started.experiment != exp.name:
        raise UsageError(f"train: run {run_dir.name} is a {started.experiment} run, not {exp.name}",
                         hint=f"resume it with `ol train {started.experiment} --resume {run_dir.name}`")
    if ended is not None and ended.status == "completed":
        raise UsageError(f"engine: run {run_dir.name} already completed; start a new run instead of --resume")
    if not ckpts:
        raise UsageError(f"engine: run {run_dir.name} has no checkpoint to resume from; "
                         "train with --save-checkpoints to make runs resumable")
    chosen, skipped = _newest_verified(run_dir, ckpts)
    if chosen is None:
        raise ProducerError(f"engine: no checkpoint of run {run_dir.name} matches its recorded sha256 "
                            f"({len(ckpts)} checked); they are damaged or were changed — cannot resume safely")
    config = msgspec.convert(started.config, exp.config_type)
    torch_device = pick_device(settings.device)
    seed = started.seed or 0
    seed_everything(seed)
    make_deterministic()
    setup = exp.setup(config, started.strategy, seed, torch_device)
    state = checkpoints.load(run_dir / chosen.path, torch_device)
    env = environment.collect(device=_device_name(torch_device), deterministic=True)
    with Run.resume(run_dir, step=chosen.step, epoch=chosen.epoch, checkpoint=chosen.path,
                    environment_info=env) as run:
        for ckpt, why in skipped:  # in the log, so the console (which follows it) and every reader see it
            run.note(f"resume: skipped checkpoint {ckpt.path} (step {ckpt.step}): it {why}; continuing from "
                     f"{chosen.path} (step {chosen.step})", level="warning", step=chosen.step)
        if on_started:
            on_started(run)
        theta = _reference(run, run_dir.parent.parent, exp.name, started.strategy, settings.reference, hooks, setup,
                           torch_device, env)
        engine = Engine(run, setup, hooks=hooks, checkpoint_every=settings.checkpoint_every, reference=theta,
                        orders=_orders_as_recorded(run_dir, started, setup))
        engine.load_state(state)
        return run.dir, _train(run, engine, setup)


def _train(run: Run, engine: Engine, setup: Setup) -> str:
    status = engine.train()
    if status == "completed":
        _save_final_weights(run.dir, setup.model)
    run.close(status)
    return status


def replay(source_dir: Path, setup: Setup) -> tuple[Callable[[int], torch.Tensor], str]:
    """The orders run ``source_dir`` recorded, to feed epoch by epoch, and its name; a UsageError when they
    cannot be: ids not recorded, other training data, fewer epochs than this run trains."""
    from ol.store.read.orders import ids_of, recorded_orders

    name = f"{source_dir.parent.name}/{source_dir.name}"
    found = recorded_orders(source_dir)
    orders: dict[int, torch.Tensor] = {}
    for epoch in range(setup.epochs):
        events = found.get(epoch, [])
        if not events:
            raise UsageError(f"order: run {name} recorded no order for epoch {epoch} (it has "
                             f"{len(found)} epoch(s)); train for fewer epochs (--epochs {len(found)}) or pick a run "
                             "that trained as long")
        first = events[0]
        if first.dataset != setup.dataset:
            raise UsageError(f"order: run {name} was trained on other data (dataset {first.dataset or 'unknown'}, "
                             f"this run's {setup.dataset}); --order-from needs the same training set "
                             "(same experiment, data options and seed of the split)")
        ids = ids_of(first)
        if ids is None:
            raise UsageError(f"order: run {name} recorded only the identity of its orders; train it with "
                             "--record-order to replay them")
        _check_order(name, epoch, ids, first.sampled, setup.train_size)
        orders[epoch] = torch.from_numpy(ids)
    return orders.__getitem__, name


def _check_order(name: str, epoch: int, ids, sampled: bool, size: int) -> None:
    """An order another run recorded is fed only if this run's training set can be fed in it: as many ids as
    the set has examples, each an example of it, and each example once unless the source says its ids are
    drawn (a curriculum's pool). A log is untrusted input: its digests prove the ids are what it recorded,
    not that they make sense."""
    import numpy as np

    problem = ""
    if size and len(ids) != size:
        problem = f"it feeds {len(ids):,} sample ids for a training set of {size:,} examples"
    elif size and len(ids) and (int(ids.max()) >= size or int(ids.min()) < 0):
        problem = f"sample id {int(ids.max())} is outside the training set's {size:,} examples"
    elif not sampled and len(np.unique(ids)) != len(ids):
        problem = "it feeds some examples more than once and does not say its ids are drawn"
    if problem:
        raise UsageError(f"order: run {name}'s order for epoch {epoch} cannot be replayed: {problem}; pick a run "
                         "of this experiment trained with --record-order on the same data")


def _orders_as_recorded(run_dir: Path, started: RunStarted, setup: Setup) -> Orders:
    """A resumed run goes on as it began: replaying the same run's orders, recording ids if it did."""
    from ol.store.read.orders import recorded_orders

    recorded = [e for events in recorded_orders(run_dir).values() for e in events]
    orders = Orders(started.strategy, started.seed, full=any(e.width for e in recorded))
    source = next((e.source for e in recorded if e.source), "")
    if source:
        orders.replay, orders.source = replay(run_dir.parent.parent / source, setup)
    return orders


def _reference(run: Run, store: Path, experiment: str, strategy: str, explicit: str | None, hooks, setup,
               device, env) -> dict[str, torch.Tensor] | None:
    """θ* for the hooks that need it, with a note saying where it came from (or why there is none)."""
    if not hooks or not any("reference" in h.needs for h in hooks):
        return None
    try:
        found = reference.find(store, experiment, strategy, explicit)
    except reference.NoReference as none:
        passed = none.passed_over
        why = (f"{passed} completed {experiment}/{strategy} run(s) in {store} never reached their target" if passed
               else f"no completed {experiment}/{strategy} run with final weights in {store}")
        run.note(f"no reference weights: {why}; solution-dependent hooks are skipped (train one that reaches its "
                 "target, or give --reference PATH|RUN)", level="warning")
        return None
    theta = reference.matched(found, setup.model, device)
    if theta is None:
        run.note(f"reference weights from {found.source} do not match this model's parameters; "
                 "solution-dependent hooks are skipped", level="warning")
        return None
    run.note(f"reference weights θ* from {found.source}")
    diff = reference.differences(found, env)
    if diff:
        run.note(f"reference was produced in a different environment: {'; '.join(diff)}", level="warning")
    return theta


def _newest_verified(run_dir: Path, ckpts: list[Checkpoint]) -> tuple[Checkpoint | None, list]:
    """The newest checkpoint whose file matches its recorded hash, and the newer ones passed over (why)."""
    skipped = []
    for ckpt in reversed(ckpts):
        why = checkpoint_problem(run_dir, ckpt)
        if why is None:
            return ckpt, skipped
        skipped.append((ckpt, why))
    return None, skipped


def _history(run_dir: Path) -> tuple[RunStarted, list[Checkpoint], RunEnded | None]:
    started, ckpts, ended = None, [], None
    for _, event in LogReader(log_path(run_dir)).events():
        if isinstance(event, RunStarted):
            started = event
        elif isinstance(event, Checkpoint):
            ckpts.append(event)
        elif isinstance(event, RunEnded):
            ended = event
    if started is None:
        raise ProducerError(f"engine: run {run_dir} has no run-started event; it cannot be resumed")
    return started, ckpts, ended


def _save_final_weights(run_dir: Path, model: torch.nn.Module) -> None:
    folder = Path(run_dir) / ARTIFACTS_DIR
    make_dir(folder, exist_ok=True)
    tmp = folder / f".{FINAL_WEIGHTS}.tmp"
    with open(tmp, "wb") as f:
        share_file(f.fileno(), folder)
        torch.save(model.state_dict(), f)
    tmp.replace(folder / FINAL_WEIGHTS)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return device.type
