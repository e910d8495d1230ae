"""The contract between the engine and an experiment: config, presets, strategies, and a Setup."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgspec
import torch

from ol.errors import UsageError


@dataclass
class Setup:
    """Everything the engine trains, built by an experiment for one (config, strategy, seed, device)."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    epochs: int
    # one epoch's training examples in the strategy's order, as sample ids (indices into the training set,
    # a 1-D integer tensor on the CPU): what the run records as its order, and what --order-from replays
    epoch_order: Callable[[int], torch.Tensor]
    # the batch of these sample ids (on the model's device): (inputs, targets)
    make_batch: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
    batch_size: int
    # (loss, number of correct predictions) of a batch, both tensors (no sync); a model that makes more than one
    # prediction per example (a language model) returns (loss, correct, predictions scored) for train_acc
    batch_loss: Callable[[torch.nn.Module, tuple[torch.Tensor, torch.Tensor]], tuple[torch.Tensor, ...]]
    # evaluation metrics (may sync): e.g. {"test_loss": ..., "test_acc": ...}
    evaluate: Callable[[torch.nn.Module], dict[str, float]]
    # schedule of the engine's own work
    eval_every: int = 1
    log_every: int = 1
    snapshot_every: int = 10
    target_metric: str = ""  # the main metric, as evaluate() or the loop names it; "" for none
    target_value: float | None = None
    target_direction: str = "higher"  # "lower" when a smaller value is better (a loss)
    stop_at_target: bool = False
    # what hooks may ask for (issue: instrumentation hooks)
    capabilities: dict[str, Any] = field(default_factory=dict)
    # recorded with each epoch's order: what makes the orders, and a digest of the training set the sample
    # ids index (a run may replay another's order only over the same training set)
    order_generator: str = ""
    # examples in the training set the sample ids index (0: not said); an order replayed with --order-from is
    # checked against it before the run exists
    train_size: int = 0
    dataset: str = ""

    def epoch_batches(self, epoch: int, order: torch.Tensor | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of one epoch: its order (or ``order``) cut into batches of ``batch_size`` sample ids."""
        ids = self.epoch_order(epoch) if order is None else order
        device = next(self.model.parameters()).device
        return [self.make_batch(chunk) for chunk in ids.to(device).split(self.batch_size)]


def dataset_digest(*tensors: torch.Tensor) -> str:
    """A digest of a training set's tensors (shape, dtype and values), for Setup.dataset."""
    h = hashlib.blake2b(digest_size=16)
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{tuple(t.shape)}:{t.dtype};".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def torch_generator(how: str) -> str:
    """Setup.order_generator for orders drawn with torch's CPU generator (its stream can change between torch
    versions, so the version is part of what made an order)."""
    return f"torch {torch.__version__.split('+')[0]} CPU generator: {how}"


@dataclass
class SampleStream:
    """One epoch's training examples in feeding order: each component (an input position, the target) as
    integers in Z/modulus, and the batch size that cuts the stream into steps."""

    components: dict[str, Any]  # name -> 1-D integer numpy array, all of one length
    modulus: int
    batch_size: int


class Experiment:
    """Subclass, set the class attributes, implement ``setup``; register as ``EXPERIMENT`` in a
    module of ``ol.experiments`` or under the entry-point group ``ol.experiments``."""

    name: ClassVar[str]
    description: ClassVar[str]
    config_type: ClassVar[type[msgspec.Struct]]
    strategies: ClassVar[tuple[str, ...]]
    presets: ClassVar[dict[str, dict[str, Any]]]
    default_preset: ClassVar[str]
    provides: ClassVar[frozenset[str]] = frozenset()  # hook needs it can meet ("attention", "embeddings")
    sidebar: ClassVar[list[tuple[str, str]]] = []  # (metric, label) for the live console; hooks as "hook/metric"
    units: ClassVar[dict[str, str]] = {}  # what its evaluation's metrics measure ("fraction", "nats"), for plots

    def resolve_config(self, preset: str | None, overrides: dict[str, Any]) -> msgspec.Struct:
        """Preset values, then overrides, validated by the config struct."""


        name = preset or self.default_preset
        if name not in self.presets:
            raise UsageError(f"{self.name}: unknown preset {name!r}; choose one of {', '.join(self.presets)}")
        values = {**self.presets[name], **overrides}
        try:
            return msgspec.convert(values, self.config_type, strict=False)
        except msgspec.ValidationError as e:
            raise UsageError(f"{self.name}: invalid config: {e}") from None

    def sample_stream(self, config: msgspec.Struct, strategy: str, seed: int, epoch: int = 0,
                      ids: torch.Tensor | None = None) -> SampleStream:
        """The training examples of ``epoch`` in the order ``strategy`` feeds them (or in the order of the
        sample ids ``ids``, a run's recorded order), as integer components (`ol analyze order` reads this,
        not the model). Build it from the same data code ``setup`` uses, so it cannot drift from what training
        sees. An experiment that does not say cannot be analysed."""
        raise UsageError(f"{self.name}: this experiment does not expose its sample order",
                         hint="implement Experiment.sample_stream to analyse it with `ol analyze order`")

    def epoch_order(self, config: msgspec.Struct, strategy: str, seed: int, epoch: int) -> torch.Tensor:
        """The sample ids ``epoch`` feeds in, as ``setup``'s ``epoch_order`` gives them: what a run's recorded
        order is checked against (`ol analyze order RUN`)."""
        raise UsageError(f"{self.name}: this experiment does not expose its sample order",
                         hint="implement Experiment.epoch_order to check a run's recorded order against it")

    def probe(self, model: torch.nn.Module, config: msgspec.Struct, b: int, position: str) -> Any:
        """The model's internal representation of every input a with ``b`` fixed: an (inputs × units) numpy
        array (`ol plot probe`, where learned Fourier features show as waves over a). Experiments whose inputs
        are not (a, b) pairs do not have one."""
        raise UsageError(f"{self.name}: this experiment has no (a, b) probe",
                         hint="ol plot probe draws experiments whose inputs are pairs over Z/p")

    def check_strategy(self, strategy: str) -> str:


        if strategy not in self.strategies:
            raise UsageError(f"{self.name}: unknown strategy {strategy!r}; choose one of "
                             f"{', '.join(self.strategies)} or 'all'")
        return strategy

    def setup(self, config: msgspec.Struct, strategy: str, seed: int, device: torch.device) -> Setup:
        raise NotImplementedError
