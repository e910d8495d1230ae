"""Event kinds of the log as frozen, tagged msgspec Structs forming one union.

Tags (the ``kind`` values) are part of the file format: never renamed, never reused. A field
added after schema version 1 must have a default, and a field's type never changes. NaN and
±inf are ordinary floats here and stay so on disk (msgpack keeps IEEE doubles).
"""

from __future__ import annotations

from typing import Any, Literal, Union

import msgspec

from ol.schemas.checks import check_array, check_histogram, check_image, check_table

# Bumped when a kind or a field is added; readers accept any version (unknown kinds are
# skipped and counted), so this only records what a writer knew.
# 2: RunStarted.contract, TargetReached. 3: RunStarted.rank and .world_size (torchrun).
# 4: Epoch.eval (which epoch metrics are evaluation), Scalars (step scalars from a named source),
#    RunStarted.name and .tags, ConfigUpdated, SummaryUpdated.
# 5: HistogramData, ImageData, TableData, what run.log({...: ol.Histogram(...) | ol.Image(...) | ol.Table(...)})
#    records (the value types are producer/media.py's; these are the events they become),
#    RunContract.units.
# 6: OrderRecorded, the order an epoch fed its examples in.
# 7: RunStarted.sweep_point, the point of its sweep (the group) a run trains.
# 8: OrderRecorded.sampled. 9: RunStarted.recorder, what recorded the run.
# 10: Step.epoch and Scalars.epoch may be fractional, as a producer counts them (a Trainer's 0.156);
#     Epoch.restated, an epoch record of values the run logged as they came (a framework's epoch end);
#     MediaFile, a video, audio or HTML file kept in the run's folder (the store has no kind for its content);
#     RunContract.axes, the metric each metric is drawn against when the run says (W&B's step_metric).
# 11: Environment.job, the cluster job a run's process ran in (Slurm's job id, array index, nodes, requeues).
SCHEMA_VERSION = 11

RunStatus = Literal["completed", "failed", "interrupted"]
CheckpointReason = Literal["periodic", "emergency", "final", "best"]
NoteLevel = Literal["debug", "info", "warning", "error"]
HookPoint = Literal["pre_epoch", "pre_step", "post_step", "post_epoch", "snapshot"]


class Event(msgspec.Struct, frozen=True, tag_field="kind", omit_defaults=True):
    """Base of every event; the subclass's tag is written as the ``kind`` field."""


class Job(msgspec.Struct, frozen=True, omit_defaults=True):
    """The cluster job a process ran in, as its scheduler told it (Slurm's SLURM_* variables): which job and array
    task, on which nodes, in which partition, after how many requeues — to find its output and its accounting."""

    scheduler: str = "slurm"
    job_id: str = ""  # the job's own id (an array task has one of its own too)
    array_job_id: str = ""  # the array's id, shared by its tasks: `sacct -j ARRAY_JOB_ID`
    array_task_id: str = ""
    nodes: str = ""  # the node list, as Slurm writes it (node[01-04])
    partition: str = ""
    restarts: int = 0  # times Slurm requeued this job before this process started
    output: str = ""  # where the job's stdout went, when the scheduler or launcher said


class Environment(msgspec.Struct, frozen=True):
    """Where a run ran: enough to tell whether two runs can be compared bit for bit."""

    python: str = ""
    platform: str = ""
    host: str = ""
    pid: int = 0
    argv: list[str] = []
    ol_version: str = ""
    torch: str = ""
    cuda: str = ""
    cudnn: str = ""
    device: str = ""
    deterministic: bool = False
    git_revision: str = ""
    job: Job | None = None  # the cluster job this process ran in, if any


Direction = Literal["higher", "lower"]


class RunContract(msgspec.Struct, frozen=True, omit_defaults=True):
    """What a run is, said by the producer so no reader guesses it from config keys or metric names:
    its main metric (the name it is logged under), which way is better, the target if any, how long
    it is planned to be, and the metrics to show first. Empty means unknown (a log written before
    the contract existed, or a producer that did not say)."""

    main_metric: str = ""
    direction: Direction | None = None
    target: float | None = None
    total_epochs: int | None = None
    display: list[str] = []  # metrics to show first, by logged name
    # what a metric's values measure, by logged name: "fraction" (of 1: drawn as %), "nats", "bits", "s", …;
    # a metric not named here is drawn as its bare number, never with a unit guessed from its name
    units: dict[str, str] = {}
    # metrics drawn against another metric (W&B's define_metric(name, step_metric=…)): a name or a glob
    # ("val/*") -> the metric that is its x axis (schema 10)
    axes: dict[str, str] = {}


class RunStarted(Event, frozen=True, tag="run_started"):
    """First event of every run: identity, the fully resolved config, the environment, the contract."""

    run_id: str
    experiment: str
    strategy: str = ""
    seed: int | None = None
    group: str = ""
    config: dict[str, Any] = {}
    environment: Environment = Environment()
    started_at: float = 0.0  # unix time, seconds
    parameters: int | None = None  # trainable parameters of the model, when there is one
    contract: RunContract = RunContract()
    # One run on many processes (torchrun): every rank writes its own stream into the same run; rank 0's
    # is the run's main log (<run>/log), rank N's is <run>/ranks/N/log. A single process is rank 0 of 1.
    rank: int = 0
    world_size: int = 1
    name: str = ""  # a human name for the run (the id stays its key); schema 4
    tags: list[str] = []
    # the index of the point of sweep ``group`` this run trains (its plan: <store>/.sweeps/<group>.json), so
    # a sweep finds its runs by what they say they are; None: not a sweep's run (or written before schema 7)
    sweep_point: int | None = None
    # what recorded it, so a reader offers only what works for it (`ol train --resume` for ol train's runs):
    # "ol train", "lightning", "transformers", "wandb", "hydra", "import:<source>"; "" the Run API (a script)
    recorder: str = ""


class RunResumed(Event, frozen=True, tag="run_resumed"):
    """The run continues from a checkpoint at ``step``: projections drop earlier events past it."""

    step: int
    epoch: int | None = None
    checkpoint: str = ""
    resumed_at: float = 0.0
    environment: Environment = Environment()


class RunEnded(Event, frozen=True, tag="run_ended"):
    """Last event of a run (or of one resumed stretch of it)."""

    status: RunStatus
    error: str = ""
    wall_time: float = 0.0  # seconds of this stretch
    ended_at: float = 0.0


class Step(Event, frozen=True, tag="step"):
    """One optimiser step: the hot path, kept compact (written column-wise inside a frame)."""

    step: int
    epoch: int | float | None = None  # where in training: fractional when the producer counts so (a Trainer's)
    time: float = 0.0  # seconds since the run (or resumed stretch) started
    loss: float | None = None
    lr: float | None = None
    extra: dict[str, float] = {}


class Epoch(Event, frozen=True, tag="epoch"):
    """Epoch-level metrics: the training loop's and the evaluation's, in one mapping of unique names."""

    epoch: int
    step: int
    time: float = 0.0
    metrics: dict[str, float] = {}
    # The names in ``metrics`` that the evaluation produced (source "eval"; the rest are "train"). None: the
    # log predates schema 4, whose writers marked evaluation metrics by name only (see scalar_points).
    eval: list[str] | None = None
    # The metrics restate the last values the run logged during the epoch (a Lightning or Trainer run's epoch
    # end): the epochs view and the console show them; readers of points take them where they were logged.
    restated: bool = False


# How writers before schema 4 named evaluation metrics; read only for their logs (Epoch.eval is None).
LEGACY_EVAL_PREFIXES = ("test_", "val_", "eval_")


def scalar_points(event: Event):
    """(source, name, value) of each scalar point an event carries, as every reader of points takes them: a
    step's (train), an epoch's (evaluation where the producer said so — or, in a log written before producers
    said it, by the naming rule those writers followed — else train; none of a restated epoch's, which are
    points the run logged already), a hook's, a ``log(source=…)``'s. Other events carry none."""
    kind = type(event)
    if kind is Step:
        for name, value in (("loss", event.loss), ("lr", event.lr), *event.extra.items()):
            if value is not None:
                yield "train", name, value
    elif kind is Epoch and not event.restated:
        for name, value in event.metrics.items():
            evaluated = name.startswith(LEGACY_EVAL_PREFIXES) if event.eval is None else name in event.eval
            yield ("eval" if evaluated else "train"), name, value
    elif kind is HookMetrics or kind is Scalars:
        source, values = (event.hook, event.metrics) if kind is HookMetrics else (event.source, event.values)
        for name, value in values.items():
            yield source, name, value


class Scalars(Event, frozen=True, tag="scalars"):
    """Scalars at one step from a named source other than the training step itself (``run.log(...,
    source="eval")`` in an own loop): kept apart from Step so a validation loss is never a training metric."""

    source: str
    step: int
    epoch: int | float | None = None  # as Step.epoch
    time: float = 0.0
    values: dict[str, float] = {}


class TargetReached(Event, frozen=True, tag="target_reached"):
    """The run's main metric reached its target, once per run, emitted by the producer that decided it."""

    metric: str
    value: float
    epoch: int | None
    step: int


class HookMetrics(Event, frozen=True, tag="hook_metrics"):
    """Scalars an instrumentation hook computed at one hook point."""

    hook: str
    point: HookPoint
    step: int
    epoch: int | None = None
    metrics: dict[str, float] = {}


class ArrayData(Event, frozen=True, tag="array"):
    """A small named tensor (spectrum, attention map, histogram) as dtype + shape + raw bytes."""

    name: str
    dtype: str  # numpy dtype string, e.g. "<f4"
    shape: list[int]
    data: bytes
    step: int = 0
    epoch: int | None = None
    hook: str = ""

    def __post_init__(self):  # also on decoding: a malformed array is an invalid event, never a crash
        check_array(self.dtype, self.shape, self.data)


class HistogramData(Event, frozen=True, tag="histogram"):
    """A distribution logged at a step (``ol.Histogram(values)``): its bins, never the raw values, plus the
    moments TensorBoard's histograms carry. ``nonfinite`` counts NaN/±inf values, which no bin holds."""

    name: str
    edges: list[float]  # len(counts) + 1, increasing
    counts: list[float]
    step: int = 0
    epoch: int | None = None
    source: str = "train"
    count: int = 0
    min: float = 0.0
    max: float = 0.0
    sum: float = 0.0
    sum_squares: float = 0.0
    nonfinite: int = 0

    def __post_init__(self):
        check_histogram(self.edges, self.counts)


class ImageData(Event, frozen=True, tag="image"):
    """An image logged at a step (``ol.Image(array | path)``), as its encoded file (PNG or JPEG)."""

    name: str
    data: bytes
    format: Literal["png", "jpeg"] = "png"
    width: int = 0
    height: int = 0
    channels: int = 3
    caption: str = ""
    step: int = 0
    epoch: int | None = None
    source: str = "train"

    def __post_init__(self):
        check_image(self.format, self.data, self.width, self.height)


class TableData(Event, frozen=True, tag="table"):
    """A table logged at a step (``ol.Table(columns, rows)``): cells are strings, numbers, booleans or None."""

    name: str
    columns: list[str]
    rows: list[list[Any]] = []
    step: int = 0
    epoch: int | None = None
    source: str = "train"

    def __post_init__(self):
        check_table(self.columns, self.rows)


class MediaFile(Event, frozen=True, tag="media_file"):
    """A file logged at a step whose content the store has no kind for (a video, audio, an HTML page): kept in
    the run's folder, recorded with its hash as a checkpoint is, so ``ol verify`` vouches for it."""

    name: str
    path: str  # relative to the run directory
    size: int
    sha256: str
    media: Literal["video", "audio", "html", "file"] = "file"  # what it is ("kind" names an event's type)
    caption: str = ""
    step: int = 0
    epoch: int | None = None
    source: str = "train"


class Checkpoint(Event, frozen=True, tag="checkpoint"):
    """A checkpoint file written under the run directory, with its hash for verified resume."""

    step: int
    path: str  # relative to the run directory
    size: int
    sha256: str
    reason: CheckpointReason = "periodic"
    epoch: int | None = None


class Note(Event, frozen=True, tag="note"):
    """A human-readable message, e.g. "generalisation reached at epoch 412"."""

    message: str
    level: NoteLevel = "info"
    step: int | None = None
    epoch: int | None = None


class Dropped(Event, frozen=True, tag="dropped"):
    """The recorder dropped events because its queue was full (only when asked to drop)."""

    count: int
    first_step: int | None = None
    last_step: int | None = None


class ConfigUpdated(Event, frozen=True, tag="config_updated"):
    """``run.config.update({...})`` after the start: readers show the started config with these merged in."""

    values: dict[str, Any] = {}
    step: int | None = None


class SummaryUpdated(Event, frozen=True, tag="summary_updated"):
    """``run.summary[key] = value``: the run's own headline numbers, in the runs view's ``summary`` column,
    summary.json and replay's summary (over any value ol derives)."""

    values: dict[str, Any] = {}
    step: int | None = None


class OrderRecorded(Event, frozen=True, tag="order"):
    """The order one epoch fed its training examples in, as sample ids (indices into the training set),
    from position ``start`` on (0, or where a resumed run continued mid-epoch). Always its identity: what
    made it (strategy, seed, generator), the training set it indexes (``dataset``, a digest) and a digest
    of the whole sequence; the ids themselves when recording was asked for, bit-packed ``width`` bits each
    (store/read/orders.py). The digest covers the epoch's whole order, so two runs fed the same order say so."""

    epoch: int
    step: int  # the steps done before this stretch's first batch
    count: int  # sample ids in the epoch's whole order
    digest: str  # blake2b-128 of all ``count`` ids as little-endian int64
    start: int = 0
    strategy: str = ""
    seed: int | None = None
    generator: str = ""
    dataset: str = ""
    width: int = 0  # bits per id in ``ids``: 0 when the ids were not recorded
    ids: bytes = b""
    source: str = ""  # experiment/run_id of the run whose recorded order this replays (--order-from)
    # the epoch's ids are drawn from the training set rather than a permutation of it (a curriculum's pool:
    # some examples repeat, others wait): said by the writer, so a replay knows repeats are meant; schema 8
    sampled: bool = False

    def __post_init__(self):  # also on decoding: a malformed order is an invalid event, never a crash
        if self.count < 0 or not 0 <= self.start <= self.count or not 0 <= self.width <= 64:
            raise ValueError(f"order: count {self.count}, start {self.start}, width {self.width} do not fit")
        if len(self.ids) != (self.count * self.width + 7) // 8:
            raise ValueError(f"order: {len(self.ids)} bytes of ids for {self.count} ids of {self.width} bits")


EVENT_TYPES: tuple[type[Event], ...] = (
    RunStarted,
    RunResumed,
    RunEnded,
    Step,
    Epoch,
    HookMetrics,
    ArrayData,
    Checkpoint,
    Note,
    Dropped,
    TargetReached,
    Scalars,
    ConfigUpdated,
    SummaryUpdated,
    HistogramData,
    ImageData,
    TableData,
    OrderRecorded,
    MediaFile,
)

AnyEvent = Union[EVENT_TYPES]  # noqa: UP007 - a runtime union of the tuple


def event_kind(event_type: type[Event] | Event) -> str:
    """The tag a kind is written with."""
    cls = event_type if isinstance(event_type, type) else type(event_type)
    return cls.__struct_config__.tag
