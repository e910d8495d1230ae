"""Starting and resuming training runs: experiment + Run + Engine, with checkpoints and final weights."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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
from ol.store.reader import LogReader
from ol.store.rundir import log_path
from ol.store.verify import checkpoint_problem

ARTIFACTS_DIR = "artifacts"
FINAL_WEIGHTS = "final_weights.pt"


@dataclass
class TrainRequest:
    experiment: Experiment
    config: msgspec.Struct
    strategy: str
    seed: int = 0
    store: Path = Path("runs")
    group: str = ""
    device: str = "auto"
    checkpoint_every: int = 0
    hooks: list[Hook] | None = None
    reference: str | None = None  # --reference PATH|RUN; default: found in the store
    flush_interval: float = 0.2
    record_order: bool = False  # record each epoch's sample ids, not only the order's identity
    order_from: Path | None = None  # a run whose recorded order this one is fed (its run directory)


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


def start(req: TrainRequest, on_started: Callable[[Run], None] | None = None) -> tuple[Path, str]:
    """Train a new run to its end; returns (run directory, status)."""
    device = pick_device(req.device)
    seed_everything(req.seed)
    setup = req.experiment.setup(req.config, req.strategy, req.seed, device)
    orders = Orders(req.strategy, req.seed, req.record_order or req.order_from is not None)
    if req.order_from is not None:  # refused before the run exists when it cannot be replayed
        orders.replay, orders.source = replay(req.order_from, setup)
    env = environment.collect(device=_device_name(device), deterministic=True)
    make_deterministic()
    config = msgspec.to_builtins(req.config)
    with Run.start(store=req.store, experiment=req.experiment.name, config=config, strategy=req.strategy,
                   seed=req.seed, group=req.group, environment_info=env,
                   flush_interval=req.flush_interval, contract=contract(req.experiment, setup),
                   parameters=sum(p.numel() for p in setup.model.parameters() if p.requires_grad)) as run:
        if on_started:
            on_started(run)
        theta = _reference(run, req.store, req.experiment.name, req.strategy, req.reference, req.hooks, setup,
                           device, env)
        engine = Engine(run, setup, hooks=req.hooks, checkpoint_every=req.checkpoint_every, reference=theta,
                        orders=orders)
        status = engine.train()
        if status == "completed":
            _save_final_weights(run.dir, setup.model)
        run.close(status)
    return run.dir, status


def resume(run_dir: Path, experiments: Callable[[str], Experiment], device: str = "auto",
           hooks: list[Hook] | None = None, checkpoint_every: int = 0, flush_interval: float = 0.2,
           on_started: Callable[[Run], None] | None = None, reference: str | None = None) -> tuple[Path, str]:
    """Continue ``run_dir`` from its newest checkpoint whose hash verifies."""
    started, ckpts, ended = _history(run_dir)
    if ended is not None and ended.status == "completed":
        raise UsageError(f"engine: run {run_dir.name} already completed; start a new run instead of --resume")
    if not ckpts:
        raise UsageError(f"engine: run {run_dir.name} has no checkpoint to resume from; "
                         "train with --save-checkpoints to make runs resumable")
    chosen, skipped = _newest_verified(run_dir, ckpts)
    if chosen is None:
        raise ProducerError(f"engine: no checkpoint of run {run_dir.name} matches its recorded sha256 "
                            f"({len(ckpts)} checked); they are damaged or were changed — cannot resume safely")
    exp = experiments(started.experiment)
    config = msgspec.convert(started.config, exp.config_type)
    torch_device = pick_device(device)
    seed = started.seed or 0
    seed_everything(seed)
    make_deterministic()
    setup = exp.setup(config, started.strategy, seed, torch_device)
    state = checkpoints.load(run_dir / chosen.path, torch_device)
    env = environment.collect(device=_device_name(torch_device), deterministic=True)
    with Run.resume(run_dir, step=chosen.step, epoch=chosen.epoch, checkpoint=chosen.path,
                    environment_info=env, flush_interval=flush_interval) as run:
        for ckpt, why in skipped:  # in the log, so the console (which follows it) and every reader see it
            run.note(f"resume: skipped checkpoint {ckpt.path} (step {ckpt.step}): it {why}; continuing from "
                     f"{chosen.path} (step {chosen.step})", level="warning", step=chosen.step)
        if on_started:
            on_started(run)
        theta = _reference(run, run_dir.parent.parent, exp.name, started.strategy, reference, hooks, setup,
                           torch_device, env)
        engine = Engine(run, setup, hooks=hooks, checkpoint_every=checkpoint_every, reference=theta,
                        orders=_orders_as_recorded(run_dir, started, setup))
        engine.load_state(state)
        status = engine.train()
        if status == "completed":
            _save_final_weights(run.dir, setup.model)
        run.close(status)
    return run.dir, status


def replay(source_dir: Path, setup: Setup) -> tuple[Callable[[int], torch.Tensor], str]:
    """The orders run ``source_dir`` recorded, to feed epoch by epoch, and its name; a UsageError when they
    cannot be: ids not recorded, other training data, fewer epochs than this run trains."""
    from ol.store.orders import ids_of, recorded_orders

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
        orders[epoch] = torch.from_numpy(ids)
    return orders.__getitem__, name


def _orders_as_recorded(run_dir: Path, started: RunStarted, setup: Setup) -> Orders:
    """A resumed run goes on as it began: replaying the same run's orders, recording ids if it did."""
    from ol.store.orders import recorded_orders

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
    folder.mkdir(exist_ok=True)
    tmp = folder / f".{FINAL_WEIGHTS}.tmp"
    torch.save(model.state_dict(), tmp)
    tmp.replace(folder / FINAL_WEIGHTS)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return device.type
