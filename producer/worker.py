"""One point of a sweep, trained from its saved plan: ``python -m ol.producer.worker STORE SWEEP INDEX
[--resume RUN_DIR]``. The sweep's executors (local processes, Slurm, Ray) start this; it goes through the
producer's launch like `ol train`, without the CLI: the plan's typed settings, the point's strategy, seed
and grid values, and the point's index recorded in the run so the sweep finds it by that.

Exit code: 0 completed, 130 interrupted (Ctrl+C, SIGTERM, or Slurm's USR2 warning before a time limit or a
preemption: the run keeps an emergency checkpoint), 1 failed or refused (one line on stderr saying why).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

import msgspec

from ol.errors import OlError, UsageError
from ol.producer import registry
from ol.producer.launch import LaunchPlan, launch
from ol.store.read.sweep_plans import Plan, load_plan

EXIT_INTERRUPTED = 130


def point_launch(plan: Plan, index: int, store: Path, resume_dir: Path | None = None) -> LaunchPlan:
    """The launch of point ``index`` of ``plan``: its run, new or (``resume_dir``) continued."""
    settings = plan.runnable()
    if not 0 <= index < len(plan.points):
        raise UsageError(f"sweep: {plan.name} has no point {index} (it has {len(plan.points)})")
    point = plan.points[index]
    exp = registry.get(plan.experiment)
    if resume_dir is not None:  # a run continues with what it started as; only how it runs may differ
        return LaunchPlan(exp, store, settings.continuing(), resume=str(resume_dir))
    settings = msgspec.structs.replace(settings, overrides={**settings.overrides, **point.settings})
    return LaunchPlan(exp, store, settings, strategy=point.strategy, seed=point.seed, group=plan.name,
                      sweep_point=index)


class LogWatch:
    """What a point's log file (its stdout) says: the run it trains, and how that ended."""

    def started(self, run) -> None:
        print(f"run {run.dir}", flush=True)

    def finished(self, run_dir: Path, status: str, summary: Path) -> None:
        print(f"{status}: {run_dir}", flush=True)

    def skipped(self, strategy: str, run_id: str) -> None:
        print(f"{strategy}: already completed ({run_id})", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ol.producer.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("sweep")
    parser.add_argument("index", type=int)
    parser.add_argument("--resume", type=Path, default=None, help="the point's run to continue")
    args = parser.parse_args(argv)
    # Slurm's --signal=USR2@90 reaches every process of the job step, this one too: left alone it would kill the
    # run without an end or an emergency checkpoint; taken as the SIGTERM it warns of, the run ends interrupted
    signal.signal(signal.SIGUSR2, lambda *_: os.kill(os.getpid(), signal.SIGTERM))
    try:
        plan = point_launch(load_plan(args.store, args.sweep), args.index, args.store, args.resume)
        outcomes = launch(plan, LogWatch())
    except OlError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:  # before the run existed (once it does, the run handles the signal)
        return EXIT_INTERRUPTED
    status = outcomes[-1].status if outcomes else "completed"
    return 0 if status == "completed" else EXIT_INTERRUPTED if status == "interrupted" else 1


if __name__ == "__main__":
    sys.exit(main())
