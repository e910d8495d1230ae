"""`ol analyze order RUN…`: the orders runs recorded, each checked against what its experiment's code makes
today, as sample streams for the same analysis as an experiment's."""

from __future__ import annotations

from pathlib import Path

import msgspec

from ol.cli.common import err_console
from ol.errors import UsageError


def recorded_streams(store: Path, refs: list[str], epoch: int, strategies: list[str] | None):
    """(experiment, {label: SampleStream}, seeds) for the runs ``refs`` name, from the ids each recorded for
    ``epoch`` (or, when it recorded only their digest, its experiment's order once the digest says it is the
    same). A run whose recorded order differs from its code's today is said so on the console."""
    import torch

    from ol import experiments
    from ol.store import digest, ids_of, recorded_orders, resolve_run, run_started

    options = [r for r in refs if r.startswith("-")]
    if options or strategies:
        raise UsageError(f"analyze: {', '.join(options) or '--strategy'} is for analysing an experiment; runs are "
                         "analysed as they were trained", hint="ol analyze order RUN… [--epoch N] [--lag N]")
    streams, seeds, exp = {}, [], None
    for ref in refs:
        run_dir = resolve_run(store, ref)
        first = run_started(run_dir)
        if first is None:
            raise UsageError(f"analyze: run {ref} has no readable run-started event")
        if exp is not None and first.experiment != exp.name:
            raise UsageError(f"analyze: runs of {exp.name} and {first.experiment} have different samples; analyse "
                             "one experiment's runs at a time")
        exp = experiments.get(first.experiment)
        events = recorded_orders(run_dir).get(epoch)
        if not events:
            raise UsageError(f"analyze: run {first.run_id} recorded no order for epoch {epoch} (runs trained before "
                             "ol recorded orders have none)",
                             hint=f"analyse the experiment: ol analyze order {exp.name} --strategy {first.strategy} "
                                  f"--seed {first.seed or 0}")
        config = msgspec.convert(first.config, exp.config_type)
        seed, event = first.seed or 0, events[0]
        ids = ids_of(event)
        label = f"{first.run_id} ({first.strategy or 'run'})"
        if event.source:
            err_console.print(f"{first.run_id}: fed the order {event.source} recorded")
        else:
            today = exp.epoch_order(config, first.strategy, seed, epoch)
            if digest(today.numpy()) != event.digest:
                err_console.print(f"[yellow]{first.run_id}: its recorded order of epoch {epoch} differs from what "
                              f"{exp.name}'s code makes today for strategy {first.strategy}, seed {seed} (the code, "
                              f"torch's generator or the data changed since it trained)[/]")
                if ids is None:
                    raise UsageError(f"analyze: run {first.run_id} recorded only its order's digest, and today's "
                                     "code makes another order: what it saw cannot be analysed",
                                     hint="train with --record-order to keep the sample ids")
            elif ids is None:
                ids = today.numpy()  # the same order, as its digest says
        streams[label] = exp.sample_stream(config, first.strategy, seed, epoch, ids=torch.from_numpy(ids))
        seeds.append(seed)
    return exp, streams, seeds
