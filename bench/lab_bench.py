"""A lab's store of many runs, read by a second member: their first `ol runs` against the one index a colleague built.

    python bench/lab_bench.py STORE        (as root: it makes the users; STORE e.g. index_bench.py --keep's 10,000 runs)

STORE is copied (hard links, so its runs are not changed) into a lab's store as docs/guides/shared-store.md sets
one up (the group `ol-lab`, set-group-id, 2770), its index removed. Member one builds the index with `ol runs`;
member two's first `ol runs` is timed, then again; and, side by side, the same store with its index made private
to member one (its folder not the group's: what every store was before a lab's index), where member two's first
`ol runs` builds an index of their own under their home. Prints a table.
"""

from __future__ import annotations

import argparse
import grp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from log_bench import machine  # noqa: E402

from tests.cluster import users  # noqa: E402


def timed(user: users.User, store: Path) -> float:
    t = time.perf_counter()
    result = user.ol("runs", "--store", str(store), "-f", "json", timeout=3600)
    if result.returncode:
        raise SystemExit(result.stderr[-2000:])
    return time.perf_counter() - t


def lab_copy(source: Path, target: Path) -> None:
    gid = grp.getgrnam(users.GROUP).gr_gid
    shutil.copytree(source, target, copy_function=os.link, ignore=shutil.ignore_patterns(".index"))
    for folder, _, files in os.walk(target):
        os.chown(folder, 0, gid)
        os.chmod(folder, 0o2770)
        for name in files:
            path = os.path.join(folder, name)
            os.chmod(path, 0o640)  # hard links: the source's files get the group's modes too, their bytes stay
            os.chown(path, 0, gid)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", type=Path)
    args = ap.parse_args()
    if users.unavailable():
        raise SystemExit(users.unavailable())
    users.ensure_users()
    root = Path(tempfile.mkdtemp(prefix="ol-lab-bench-", dir=args.store.parent))
    try:
        people = users.people(root)
        alice, bob = (people[name] for name in users.MEMBERS)
        store = root / "store"
        lab_copy(args.store, store)
        runs = sum(1 for e in store.iterdir() if e.is_dir() and not e.name.startswith(".") for _ in e.iterdir())
        build = timed(alice, store)
        first, again = timed(bob, store), timed(bob, store)
        cached = (bob.home / ".cache" / "ol" / "index").exists()
        # the same store with the index private to alice (its folder hers, not the group's): bob builds his own
        os.chmod(store / ".index", 0o755)
        os.chown(store / ".index", alice.uid, -1)
        private_first, private_again = timed(bob, store), timed(bob, store)
        print(machine())
        print(f"{runs:,} runs; member one's first `ol runs` (builds the index): {build:.1f} s\n")
        print("| member two | first `ol runs` | again | an index under their home |")
        print("| --- | --- | --- | --- |")
        print(f"| a lab's index | {first:.2f} s | {again:.2f} s | {'yes' if cached else 'no'} |")
        print(f"| the index private to member one (before) | {private_first:.2f} s | {private_again:.2f} s | "
              f"{'yes' if (bob.home / '.cache' / 'ol' / 'index').exists() else 'no'} |")
    finally:
        subprocess.run(["rm", "-rf", str(root)], check=False)


if __name__ == "__main__":
    main()
