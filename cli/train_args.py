"""Parsing `ol train`'s arguments: engine flags plus options generated from the experiment's config.

Hand-parsed rather than declared to typer because the experiment options are only known once
the experiment is, and because `--save-checkpoints [EVERY]` and `--resume [RUN]` take optional
values.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from ol.errors import UsageError
from ol.producer.experiment import Experiment
from ol.producer.launch import check_seed

DEFAULT_CHECKPOINT_EVERY = 50  # epochs, for a bare --save-checkpoints

# engine flags: name -> (type, help)
ENGINE_FLAGS: dict[str, tuple[type, str]] = {
    "--strategy": (str, "ordering strategy, or 'all' for one run per strategy in one group"),
    "--preset": (str, "named set of experiment options"),
    "--seed": (int, "seeds Python, NumPy and torch (default 0)"),
    "--store": (Path, "store root (default ./runs or $OL_STORE)"),
    "--config": (Path, "rerun a saved experiment_config.json; explicit flags win over it"),
    "--save-checkpoints": (int, f"[EVERY] checkpoint every EVERY epochs (bare: {DEFAULT_CHECKPOINT_EVERY}); "
                                "makes --resume possible"),
    "--resume": (str, "[RUN] continue RUN (bare: the latest run of this experiment) from its newest "
                      "verified checkpoint"),
    "--device": (str, "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps"),
    "--group": (str, "group name for the run(s) (default: one new group per --strategy all)"),
    "--with-hooks": (str, "instrumentation group: minimal, observers, interventions, full (repeatable)"),
    "--hooks": (str, "instrumentation hooks by name, added to the groups (repeatable; `ol hooks` lists them)"),
    "--record-trajectory": (int, "[EVERY] record θ every EVERY steps (bare: 10) for `ol plot trajectory`"),
    "--trajectory-dim": (int, "record a fixed count sketch of θ of this many numbers (large models)"),
    "--reference": (str, "θ* for solution-dependent hooks: a weights file or a run (default: the latest "
                          "completed run of the same experiment and strategy)"),
    "--record-order": (bool, "record each epoch's sample ids, not only the order's identity (about log2(n) "
                             "bits per example per epoch)"),
    "--order-from": (str, "feed the order another run recorded (with --record-order), epoch by epoch: the "
                          "same examples in the same order under this run's seed, model and options"),
}
REPEATABLE = {"--with-hooks": "hook_groups", "--hooks": "hook_names"}
MODE_FLAGS = {f"--{m}": m for m in ("live", "silent", "quiet")}
OPTIONAL_VALUE = {"--save-checkpoints", "--resume", "--record-trajectory"}
DEFAULT_TRAJECTORY_EVERY = 10  # steps, for a bare --record-trajectory


@dataclass
class TrainArgs:
    strategy: str | None = None
    preset: str | None = None
    seed: int | None = None
    store: Path | None = None
    config_file: Path | None = None
    checkpoint_every: int = 0
    resume: str | None = None  # "" for a bare --resume
    device: str = "auto"
    group: str = ""
    mode: str = "normal"
    help: bool = False
    hook_groups: list[str] = field(default_factory=list)
    hook_names: list[str] = field(default_factory=list)
    reference: str | None = None
    record_trajectory: int = 0
    trajectory_dim: int = 0
    record_order: bool = False
    order_from: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


def option_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def config_fields(exp: Experiment) -> dict[str, tuple[str, type, Any]]:
    """--flag -> (field name, type, default) for every field of the experiment's config."""
    out = {}
    for f in msgspec.structs.fields(exp.config_type):
        out[option_name(f.name)] = (f.name, f.type, f.default)
    return out


def parse(exp: Experiment, tokens: list[str]) -> TrainArgs:
    args = TrainArgs()
    fields = config_fields(exp)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        name, eq, inline = token.partition("=")
        if not name.startswith("--") and name != "-h":
            raise UsageError(f"train: unexpected argument {token!r}; options start with --")
        has_next = i + 1 < len(tokens) and not tokens[i + 1].startswith("--")
        if name in ("--help", "-h"):
            args.help = True
        elif name in MODE_FLAGS:
            if args.mode != "normal":
                raise UsageError(f"train: --{args.mode} and {name} conflict; pick one console mode")
            args.mode = MODE_FLAGS[name]
        elif name in OPTIONAL_VALUE:
            value = inline if eq else (tokens[i + 1] if has_next and _fits(name, tokens[i + 1]) else None)
            i += value is not None and not eq
            _set_optional(args, name, value)
        elif name in ENGINE_FLAGS or name in fields or name.startswith("--no-"):
            value, used = _value(name, eq, inline, tokens, i, fields)
            i += used
            _set(args, exp, fields, name, value)
        else:
            raise UsageError(_unknown(name, list(ENGINE_FLAGS) + list(MODE_FLAGS) + list(fields), exp))
        i += 1
    if args.seed is not None:
        check_seed(args.seed, "--seed")
    return args


def _fits(name: str, token: str) -> bool:
    return token.isdigit() if name in ("--save-checkpoints", "--record-trajectory") else True


def _set_optional(args: TrainArgs, name: str, value: str | None) -> None:
    if name == "--resume":
        args.resume = value or ""
        return
    if name == "--record-trajectory":
        if value is not None and (not value.isdigit() or int(value) < 1):
            raise UsageError(f"train: --record-trajectory expects a number of steps ≥ 1, got {value!r}")
        args.record_trajectory = int(value) if value is not None else DEFAULT_TRAJECTORY_EVERY
        return
    if value is None:
        args.checkpoint_every = DEFAULT_CHECKPOINT_EVERY
    elif not value.isdigit() or int(value) < 1:
        raise UsageError(f"train: --save-checkpoints expects a number of epochs ≥ 1, got {value!r}")
    else:
        args.checkpoint_every = int(value)


def _value(name: str, eq: str, inline: str, tokens: list[str], i: int, fields) -> tuple[Any, int]:
    """(raw value, tokens consumed beyond the flag)."""
    if name.startswith("--no-"):
        positive = "--" + name[5:]
        if positive in fields and fields[positive][1] is bool:
            return "false", 0
        raise UsageError(f"train: unknown option {name}")
    if (fields[name][1] if name in fields else ENGINE_FLAGS[name][0]) is bool and not eq:
        return "true", 0
    if eq:
        return inline, 0
    if i + 1 >= len(tokens):
        raise UsageError(f"train: {name} needs a value")
    return tokens[i + 1], 1


def _set(args: TrainArgs, exp: Experiment, fields, name: str, raw: str) -> None:
    if name.startswith("--no-"):
        name = "--" + name[5:]
    if name in REPEATABLE:
        getattr(args, REPEATABLE[name]).extend(v for v in raw.split(",") if v)
        return
    if name in ENGINE_FLAGS:
        kind = ENGINE_FLAGS[name][0]
        value = _convert(name, raw, kind)
        attr = {"--config": "config_file"}.get(name, name[2:].replace("-", "_"))
        setattr(args, attr, value)
        return
    field_name, kind, _ = fields[name]
    args.overrides[field_name] = _convert(name, raw, kind)


def _convert(name: str, raw: str, kind: type) -> Any:
    try:
        if kind is bool:
            lowered = raw.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return lowered in ("true", "1", "yes")
        if kind is Path:
            return Path(raw)
        return kind(raw)
    except ValueError:
        what = {int: "an integer", float: "a number", bool: "true or false"}.get(kind, kind.__name__)
        raise UsageError(f"train: {name} expects {what}, got {raw!r}") from None


def _unknown(name: str, valid: list[str], exp: Experiment) -> str:
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return (f"train: unknown option {name} for {exp.name}{hint} "
            f"(valid: {', '.join(sorted(valid))})")


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
