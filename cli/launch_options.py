"""The options of a launch as typer options: the engine's (declared here) and the experiment's (its config
struct's fields, ol.producer.options), for `ol train EXPERIMENT`, `ol sweep EXPERIMENT` and `ol analyze
order EXPERIMENT` alike. The experiment is only known once its name is parsed, so each of those commands
builds the experiment's command here and hands it the rest of its arguments; help, types, choices,
defaults and the one-line errors are typer's.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import typer

from ol.cli.common import console_mode
from ol.errors import UsageError
from ol.producer.experiment import Experiment
from ol.producer.launch import MAX_SEED
from ol.producer.options import options_of
from ol.schemas.launch import RunSettings

DEFAULT_CHECKPOINT_EVERY = 50  # epochs, for a bare --save-checkpoints
DEFAULT_TRAJECTORY_EVERY = 10  # steps, for a bare --record-trajectory
# typer has no option whose value may be left out: a bare one is given its default before parsing
OPTIONAL_VALUE = {"--save-checkpoints": str(DEFAULT_CHECKPOINT_EVERY),
                  "--record-trajectory": str(DEFAULT_TRAJECTORY_EVERY), "--resume": ""}
ENGINE_PANEL = "engine options"


def _engine(exp: Experiment) -> dict[str, tuple[Any, typer.models.OptionInfo]]:
    """name -> (type, typer option) of every engine option; the experiment's strategies and presets are choices."""
    strategies = Literal[tuple([*exp.strategies, "all"])]
    presets = Literal[tuple(exp.presets)]

    def option(default, *decls, **kw):
        return typer.Option(default, *decls, rich_help_panel=ENGINE_PANEL, show_default=False, **kw)

    return {
        "strategy": (strategies | None, option(None, "--strategy", help="ordering strategy, or all: one run per "
                                               "strategy in one group (default: the first)")),
        "preset": (presets | None, option(None, "--preset", help=f"named set of experiment options (default "
                                          f"{exp.default_preset})")),
        "seed": (int | None, option(None, "--seed", min=0, max=MAX_SEED, help="seeds Python, NumPy and torch "
                                    "(default 0)")),
        "store": (Path | None, option(None, "--store", help="store root (default ./runs or $OL_STORE)")),
        "config": (Path | None, option(None, "--config", help="rerun a saved experiment_config.json; explicit "
                                       "options win over it")),
        "save_checkpoints": (int, option(0, "--save-checkpoints", min=0, metavar="[EVERY]", help="checkpoint every "
                                         f"EVERY epochs (bare: {DEFAULT_CHECKPOINT_EVERY}); makes --resume possible")),
        "resume": (str | None, option(None, "--resume", metavar="[RUN]", help="continue RUN (bare: the latest run "
                                      "of this experiment) from its newest verified checkpoint")),
        "device": (str, option("auto", "--device", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or "
                               "mps")),
        "group": (str, option("", "--group", help="group name for the run(s) (default: one new group per "
                              "--strategy all)")),
        "with_hooks": (list[str] | None, option(None, "--with-hooks", help="instrumentation group: minimal, "
                                                "observers, interventions, full (repeatable, or comma-separated)")),
        "hooks": (list[str] | None, option(None, "--hooks", help="instrumentation hooks by name, added to the "
                                           "groups (repeatable; `ol hooks` lists them)")),
        "record_trajectory": (int, option(0, "--record-trajectory", min=0, metavar="[EVERY]", help="record θ "
                                          f"every EVERY steps (bare: {DEFAULT_TRAJECTORY_EVERY}) for `ol plot "
                                          "trajectory`")),
        "trajectory_dim": (int, option(0, "--trajectory-dim", min=0, help="record a fixed count sketch of θ of "
                                       "this many numbers (large models)")),
        "reference": (str | None, option(None, "--reference", help="θ* for solution-dependent hooks: a weights "
                                         "file or a run (default: the latest completed run of the same "
                                         "experiment and strategy)")),
        "record_order": (bool, option(False, "--record-order", help="record each epoch's sample ids, not only the "
                                      "order's identity (about log2(n) bits per example per epoch)")),
        "order_from": (str | None, option(None, "--order-from", help="feed the order another run recorded (with "
                                          "--record-order), epoch by epoch: the same examples in the same order "
                                          "under this run's seed, model and options")),
        "live": (bool, option(False, "--live", help="console: full-screen live view")),
        "silent": (bool, option(False, "--silent", help="console: the progress bar only")),
        "quiet": (bool, option(False, "--quiet", "-q", help="no console; print each run's id")),
    }


# the engine options each command takes (the others it declares itself, or they make no sense there)
SETTINGS = ("save_checkpoints", "device", "with_hooks", "hooks", "record_trajectory", "trajectory_dim",
            "reference", "record_order", "order_from")
TRAIN = ("strategy", "preset", "seed", "store", "config", "resume", "group", *SETTINGS, "live", "silent", "quiet")
SWEEP = SETTINGS  # `ol sweep` declares --strategy, --seed(s), --preset and --store itself
ANALYZE = ("preset",)


@dataclass
class Parsed:
    engine: dict[str, Any]  # every engine option the command takes, given or not
    given: set[str]  # the engine options given on the command line
    overrides: dict[str, Any]  # experiment options given on the command line, by config field

    def settings(self, preset: str | None = None) -> RunSettings:
        e = self.engine
        for name, what in (("save_checkpoints", "epochs"), ("record_trajectory", "steps")):
            if name in self.given and e[name] < 1:  # 0 is what leaving the option out means
                raise UsageError(f"--{name.replace('_', '-')} expects a number of {what} ≥ 1, got {e[name]}")
        if e.get("trajectory_dim") and not e.get("record_trajectory"):
            raise UsageError("--trajectory-dim N sketches what --record-trajectory records",
                             hint="add --record-trajectory [EVERY]")
        split = lambda name: [v for item in e.get(name) or [] for v in item.split(",") if v]  # noqa: E731
        return RunSettings(preset=e.get("preset", preset), overrides=self.overrides, device=e.get("device", "auto"),
                           checkpoint_every=e.get("save_checkpoints", 0), hook_groups=split("with_hooks"),
                           hook_names=split("hooks"), trajectory_every=e.get("record_trajectory", 0),
                           trajectory_dim=e.get("trajectory_dim", 0), reference=e.get("reference"),
                           record_order=bool(e.get("record_order")), order_from=e.get("order_from"))

    def mode(self) -> str:
        e = self.engine
        return console_mode(e["live"], e["silent"], e["quiet"], "train")


def parse(exp: Experiment, tokens: list[str], command: str, engine: tuple[str, ...]) -> Parsed | None:
    """``tokens`` as options of ``exp`` for ``command`` (e.g. "ol train mod_arithmetic"); None when they asked
    for --help (it is printed)."""
    found: list[Parsed] = []
    built = experiment_command(exp, engine, found.append, _preset_named(tokens, exp))
    built.main(fill_optional_values(tokens, engine), prog_name=command, standalone_mode=False)
    return found[0] if found else None


def _preset_named(tokens: list[str], exp: Experiment) -> str | None:
    """The preset ``--preset NAME`` names among ``tokens``, when ``exp`` has it: its values are what --help shows."""
    for i, token in enumerate(tokens):
        name = token.partition("=")[2] if token.startswith("--preset=") else \
            tokens[i + 1] if token == "--preset" and i + 1 < len(tokens) else None
        if name in exp.presets:
            return name
    return None


def experiment_command(exp: Experiment, engine: tuple[str, ...], take: Callable[[Parsed], None],
                       preset: str | None = None):
    """A click command whose options are ``engine``'s and the experiment's config fields (their defaults shown
    as ``preset``, or the default preset, sets them; only the options given on the command line override)."""
    declared = _engine(exp)
    fields = options_of(exp.config_type)
    clash = set(fields) & set(declared)
    if clash:
        raise UsageError(f"{exp.name}: config field(s) {', '.join(sorted(clash))} share a name with ol train's own "
                         "options; rename them in the experiment's config")
    defaults = exp.resolve_config(preset, {})
    panel = f"{exp.name} options (defaults of preset {preset or exp.default_preset})"
    params = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)]
    for name in engine:
        kind, info = declared[name]
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=info))
    for name, opt in fields.items():
        decls = (f"{opt.flag}/--no-{opt.flag[2:]}",) if opt.kind is bool else (opt.flag,)
        kind = Literal[opt.choices] if opt.choices else opt.kind
        info = typer.Option(getattr(defaults, name), *decls, help=opt.help, rich_help_panel=panel)
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=info))

    def run(ctx: typer.Context, **values) -> None:
        given = {k for k in values if getattr(ctx.get_parameter_source(k), "name", "") == "COMMANDLINE"}
        take(Parsed({k: values[k] for k in engine}, given & set(engine),
                    {k: values[k] for k in fields if k in given}))

    run.__signature__ = inspect.Signature(params)
    app = typer.Typer(add_completion=False, rich_markup_mode="rich", pretty_exceptions_enable=False)
    app.command(help=f"{exp.description}\n\nstrategies: {', '.join(exp.strategies)}; presets: "
                     f"{', '.join(exp.presets)} (default {exp.default_preset})",
                context_settings={"help_option_names": ["--help", "-h"]})(run)
    return typer.main.get_command(app)


def fill_optional_values(tokens: list[str], engine: tuple[str, ...]) -> list[str]:
    """``--save-checkpoints`` without a number is ``--save-checkpoints=50`` (and so on), as typer needs it."""
    out = list(tokens)
    for i, token in enumerate(out):
        if token not in OPTIONAL_VALUE or token[2:].replace("-", "_") not in engine:
            continue
        after = out[i + 1] if i + 1 < len(out) else None
        numeric = token != "--resume"
        bare = after is None or after.startswith("-") or (numeric and not after.isdigit())
        if bare:
            out[i] = f"{token}={OPTIONAL_VALUE[token]}"
    return out


def option_rows(exp: Experiment) -> list[tuple[str, str, str, str]]:
    """(flag, type, default of the default preset, help) of each experiment option."""
    defaults = exp.resolve_config(None, {})
    rows = []
    for name, opt in options_of(exp.config_type).items():
        flag = f"{opt.flag} / --no-{opt.flag[2:]}" if opt.kind is bool else opt.flag
        kind = "|".join(opt.choices) if opt.choices else opt.kind.__name__
        rows.append((flag, kind, str(getattr(defaults, name)), opt.help))
    return rows


def load_config_file(path: Path, exp: Experiment) -> dict[str, Any]:
    """An experiment_config.json as written next to every run; refuses another experiment's."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"train: config file {path} does not exist") from None
    except (OSError, ValueError) as e:
        raise UsageError(f"train: config file {path} is not readable JSON ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise UsageError(f"train: {path} is not an experiment_config.json (no 'config' object)")
    if data.get("experiment") != exp.name:
        raise UsageError(f"train: {path} is a config of experiment {data.get('experiment')!r}, not {exp.name!r}; "
                         f"run `ol train {data.get('experiment')} --config {path}`")
    return data
