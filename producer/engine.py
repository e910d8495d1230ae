"""The training engine: an epoch loop that emits everything it learns as events through a Run.

Phases of each epoch are marked the way nanoGPT marks them. The only device syncs are marked
"sync point": the step losses are read in one batch every ``log_every`` steps, and the
epoch's accuracy once per epoch.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ol.producer import checkpoints
from ol.producer.determinism import rng_state, set_rng_state
from ol.producer.experiment import Setup
from ol.producer.hooks import Hook, rng_guard
from ol.producer.hooks.runtime import HookRuntime
from ol.producer.run import Run
from ol.producer.signals import GUARD
from ol.schemas import Note, TargetReached


@dataclass
class LoopPosition:
    """Where training stands: ``batch`` is the next batch of ``epoch`` to run."""

    epoch: int = 0
    batch: int = 0
    step: int = 0


@dataclass
class Orders:
    """Where each epoch's order comes from and how much of it is recorded: always its identity (what made it,
    a digest of the sequence); the sample ids themselves when ``full`` (--record-order). ``replay`` gives the
    orders another run recorded (--order-from), fed instead of the experiment's own."""

    strategy: str = ""
    seed: int | None = None
    full: bool = False
    replay: Callable[[int], torch.Tensor] | None = None
    source: str = ""  # experiment/run_id of the run that recorded them

    def of(self, setup: Setup, epoch: int) -> torch.Tensor:
        return setup.epoch_order(epoch) if self.replay is None else self.replay(epoch)


class Engine:
    """Trains ``setup`` and records into ``run``. Not thread-safe; call ``train`` once."""

    def __init__(self, run: Run, setup: Setup, *, hooks: list[Hook] | None = None,
                 checkpoint_every: int = 0, reference: dict[str, torch.Tensor] | None = None,
                 orders: Orders | None = None):
        self.run = run
        self.setup = setup
        self.orders = orders or Orders()
        self.runtime = HookRuntime(hooks or [], setup, run, reference)
        self.checkpoint_every = checkpoint_every  # epochs; 0: only emergency and final checkpoints
        self.position = LoopPosition()
        self.reached_target_at: int | None = None
        self._epoch_sums = _new_sums()
        self._stop = threading.Event()
        self._batches: list = []  # the current epoch's, kept for hooks that re-run it

    # checkpoint state -------------------------------------------------------------------

    def state(self) -> dict:
        s = self.setup
        return {
            "position": {"epoch": self.position.epoch, "batch": self.position.batch, "step": self.position.step},
            "epoch_sums": dict(self._epoch_sums),
            "reached_target_at": -1 if self.reached_target_at is None else self.reached_target_at,
            "model": s.model.state_dict(), "optimizer": s.optimizer.state_dict(),
            "scheduler": s.scheduler.state_dict(), "rng": rng_state(),
            "hooks": self.runtime.state_dict(),
        }

    def load_state(self, state: dict) -> None:
        s = self.setup
        s.model.load_state_dict(state["model"])
        s.optimizer.load_state_dict(state["optimizer"])
        s.scheduler.load_state_dict(state["scheduler"])
        self.position = LoopPosition(**state["position"])
        self._epoch_sums = dict(state["epoch_sums"])
        self.reached_target_at = None if state["reached_target_at"] < 0 else state["reached_target_at"]
        self.runtime.load_state_dict(state["hooks"])
        set_rng_state(state["rng"])  # last: building the setup consumed random numbers

    def checkpoint(self, reason: str) -> None:
        event = checkpoints.save(self.run.dir, self.state(), self.position.step, self.position.epoch, reason)
        self.run.emit(event)
        self.run.flush(fsync=True)  # a checkpoint is only as good as the log that names it

    # stopping ---------------------------------------------------------------------------

    def request_stop(self, *_):
        """Ctrl+C / SIGTERM: finish the current step, checkpoint, end as interrupted."""
        self._stop.set()

    # the loop ---------------------------------------------------------------------------

    def train(self) -> str:
        """Run to the end (or the target, or a stop request); returns the run-ended status."""
        with GUARD.stopping(self.request_stop):  # the run's one signal path, told to stop instead of raising
            return self._train()

    def _train(self) -> str:
        s, run = self.setup, self.run
        while self.position.epoch < s.epochs:
            epoch = self.position.epoch
            stop = self.train_epoch()
            if stop is None:
                self.checkpoint("emergency")
                run.note(f"interrupted at step {self.position.step} (epoch {epoch}); resume with --resume",
                         level="warning", step=self.position.step, epoch=epoch)
                return "interrupted"
            if self.checkpoint_every and (epoch + 1) % self.checkpoint_every == 0 and epoch + 1 < s.epochs:
                self.checkpoint("periodic")
            if stop or self._stop.is_set():
                if not stop:
                    self.checkpoint("emergency")
                    return "interrupted"
                break
        self.checkpoint("final")
        return "completed"

    def train_epoch(self) -> bool | None:
        """The rest of the current epoch: True when training should stop at the target, None when a
        stop request interrupted it (the position then says where)."""
        epoch = self.position.epoch
        self.runtime.pre_epoch(self.position)
        if not self._run_epoch(epoch):
            return None
        stop = self._end_epoch(epoch)
        self.position = LoopPosition(epoch + 1, 0, self.position.step)
        self._epoch_sums = _new_sums()
        return stop

    def _run_epoch(self, epoch: int) -> bool:
        s = self.setup
        s.model.train()
        order = self.orders.of(s, epoch)
        # what this stretch of the epoch feeds, recorded before its first batch (a resumed epoch: from where
        # it continues)
        self.run.log_order(epoch, order, step=self.position.step, start=min(self.position.batch * s.batch_size,
                                                                           len(order)),
                           full=self.orders.full, strategy=self.orders.strategy, seed=self.orders.seed,
                           generator="" if self.orders.replay else s.order_generator, dataset=s.dataset,
                           source=self.orders.source, sampled=not _permutation(order))
        batches = self._batches = s.epoch_batches(epoch, order)
        pending: list[tuple[int, float, torch.Tensor]] = []
        sums = self._epoch_sums
        device = next(s.model.parameters()).device
        correct = torch.zeros((), dtype=torch.long, device=device)  # summed on the device: no sync per step
        counted = torch.zeros((), dtype=torch.long, device=device)
        for index in range(self.position.batch, len(batches)):
            batch = batches[index]
            self.runtime.fire("pre_step", self.position, batch=batch)
            lr = s.scheduler.get_last_lr()[0]
            # forward backward update
            loss, n_correct, *n_counted = s.batch_loss(s.model, batch)
            s.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.runtime.after_backward()
            s.optimizer.step()
            s.scheduler.step()
            self.position = LoopPosition(epoch, index + 1, self.position.step + 1)
            pending.append((self.position.step, lr, loss.detach()))
            correct += n_correct.detach()
            if n_counted:  # the batch said how many predictions it scored (a sequence model: its real tokens)
                counted += n_counted[0].detach()
            else:  # one prediction per example
                sums["seen"] += len(batch[1])
            sums["steps"] += 1
            self.runtime.fire("post_step", self.position, loss=loss, batch=batch)
            # logging: one read of the pending losses every log_every steps
            if len(pending) >= s.log_every:
                sums["loss"] += self._log_steps(pending, epoch)
            if self._stop.is_set():
                break
        sums["loss"] += self._log_steps(pending, epoch)
        sums["correct"] += int(correct)  # note: CPU-GPU sync points, once per epoch
        sums["seen"] += int(counted)
        return self.position.batch >= len(batches)

    def _log_steps(self, pending: list, epoch: int) -> float:
        if not pending:
            return 0.0
        losses = torch.stack([p[2] for p in pending]).tolist()  # note: a CPU-GPU sync point
        for (step, lr, _), value in zip(pending, losses, strict=True):
            self.run.log({"loss": value, "lr": lr}, step=step, epoch=epoch)
        pending.clear()
        return float(sum(losses))

    def _end_epoch(self, epoch: int) -> bool:
        """Evaluate, record the epoch, fire hooks; True when training should stop at the target."""
        s, run = self.setup, self.run
        sums = self._epoch_sums
        metrics = {"train_loss": sums["loss"] / max(1, sums["steps"]),
                   "train_acc": sums["correct"] / max(1, sums["seen"])}
        last = epoch + 1 == s.epochs
        evaluated: dict[str, float] | None = None
        if (epoch + 1) % s.eval_every == 0 or last or epoch == 0:
            s.model.eval()
            with torch.no_grad(), rng_guard():
                evaluated = dict(s.evaluate(s.model))
            s.model.train()
        run.epoch(epoch, metrics, self.position.step, eval=evaluated)  # as any loop records it; a name in both: refused
        metrics.update(evaluated or {})
        batches = self._batches if self.runtime.wants_pre_state else None
        self.runtime.fire("post_epoch", self.position, metrics=metrics, batches=batches, evaluated=evaluated)
        if s.snapshot_every and (epoch + 1) % s.snapshot_every == 0:
            self.runtime.fire("snapshot", self.position, metrics=metrics, batches=batches)
        value = metrics.get(s.target_metric)
        lower = s.target_direction == "lower"
        if s.target_value is not None and value is not None and self.reached_target_at is None \
                and math.isfinite(value) and (value <= s.target_value if lower else value >= s.target_value):
            self.reached_target_at = epoch
            # the one place that decides it; readers take the event, never re-derive it
            run.emit(TargetReached(metric=s.target_metric, value=value, epoch=epoch, step=self.position.step))
            run.emit(Note(f"target reached: {s.target_metric} {value:.4f} {'≤' if lower else '≥'} {s.target_value} "
                          f"at epoch {epoch}", step=self.position.step, epoch=epoch))
            return s.stop_at_target
        return False


def _new_sums() -> dict:
    return {"loss": 0.0, "correct": 0, "seen": 0, "steps": 0}


def _permutation(order: torch.Tensor) -> bool:
    """Whether an epoch's ids are each example of its training set once (what a replay may insist on)."""
    return len(order) == 0 or (int(order.min()) == 0 and int(order.max()) == len(order) - 1 and
                               len(torch.unique(order)) == len(order))
