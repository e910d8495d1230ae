"""One identity per metric: where it came from (``source``: train, eval, or the hook that computed it) and
its name. ``ol export`` and ``ol plot`` resolve what a person types to exactly one of them, the same way:
``source/name`` names one (``hooks/source/name``, a hook metric as replays and `ol hooks describe` spell
it, too); a bare name names the one source that logs it; a bare name two sources log
(the trainer's eval ``test_acc`` and the ``training_metrics`` hook's) is refused with both spellings,
never merged into one curve or one number.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass

from ol.consumers.analytics.sql import StoreConnection
from ol.errors import UsageError

REPLAY_PREFIX = "hooks/"  # hooks/<hook>/<metric>: a hook metric's name in replays and `ol hooks describe`


@dataclass(frozen=True)
class MetricId:
    source: str
    name: str

    def __str__(self) -> str:
        return f"{self.source}/{self.name}"


def spellings(conn: StoreConnection) -> list[str]:
    """How each metric of these runs is named on the command line: its bare name where one source logs it,
    else ``source/name`` (what ``resolve`` accepts, and what shell completion offers)."""
    rows = conn.query("SELECT DISTINCT source, name FROM metric_stats").to_pylist()
    count: dict[str, int] = defaultdict(int)
    for r in rows:
        count[r["name"]] += 1
    return sorted({r["name"] if count[r["name"]] == 1 else f"{r['source']}/{r['name']}" for r in rows})


def resolve(conn: StoreConnection, names: list[str], command: str) -> list[MetricId]:
    """Each of ``names`` as the one metric it names in these runs; OlError (naming ``command``) otherwise."""
    rows = conn.query("SELECT DISTINCT source, name FROM metric_stats").to_pylist()
    sources: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        sources[r["name"]].append(r["source"])
    full = {f"{r['source']}/{r['name']}": MetricId(r["source"], r["name"]) for r in rows}
    out = []
    for name in names:
        if name.startswith(REPLAY_PREFIX) and name[len(REPLAY_PREFIX):] in full:
            name = name[len(REPLAY_PREFIX):]  # as `ol hooks describe`, W&B and TensorBoard spell a hook's metric
        if name in full:
            out.append(full[name])
        elif len(sources.get(name, [])) == 1:
            out.append(MetricId(sources[name][0], name))
        elif name in sources:
            spellings = ", ".join(f"{s}/{name}" for s in sorted(sources[name]))
            raise UsageError(f"{command}: {name!r} is logged by {len(sources[name])} sources in these runs; name one: "
                                f"{spellings}")
        else:
            known = sorted(set(full) | set(sources))
            close = difflib.get_close_matches(name, known, n=3)
            hint = f"; close matches: {', '.join(close)}" if close else f"; known: {', '.join(known[:20])}"
            raise UsageError(f"{command}: unknown metric {name!r}{hint}")
    return out
