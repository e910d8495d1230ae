"""Hostile inputs (hardening round three), timed: each crafted import source (tests/integrations/crafted.py)
imported by a real `ol import` under a 2 GiB address-space cap, and `ol runs` over a store holding a sparse
1,000-tag run and a 10,000-column run, cold (first, indexing included) and warm.

    python bench/hostile_bench.py

Prints Markdown tables (and the machine) for bench/RESULTS.md.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
from log_bench import machine  # noqa: E402

from tests.integrations import crafted  # noqa: E402

OL = [sys.executable, "-c", "from ol.cli import main; main()"]
CAP = 2 << 30


def _timed(*args: str) -> tuple[float, int, int]:
    """(seconds, exit code, peak RSS MiB) of one `ol` process under the memory cap."""
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))

    began = time.perf_counter()
    proc = subprocess.Popen([*OL, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=cap)
    _, status, usage = __import__("os").wait4(proc.pid, 0)
    return time.perf_counter() - began, status >> 8, usage.ru_maxrss // 1024


def imports(tmp: Path) -> list[tuple[str, float, int, int]]:
    private = crafted.canary(tmp)
    sources = {
        "tensorboard: links, /dev/zero, FIFO, 2**33-element tensor, bad records": (
            lambda: crafted.tb_hostile(tmp / "tb", private), ["tensorboard", str(tmp / "tb")]),
        "wandb: every crashing history shape + 20 MB of orphan chunks": (
            lambda: crafted.wandb_hostile(tmp / "wandb"), ["wandb", str(tmp / "wandb")]),
        "mlflow files: params/tags/metrics linked to a private file": (
            lambda: crafted.mlflow_files(tmp / "mlruns", private), ["mlflow", str(tmp / "mlruns")]),
        "mlflow db: NULL/text rows, orphan run, 300,000-char param": (
            lambda: crafted.mlflow_db(tmp / "m.db"), ["mlflow", str(tmp / "m.db")]),
        "mlflow db: metrics a recursive VIEW": (
            lambda: crafted.mlflow_db(tmp / "v.db", recursive_view=True), ["mlflow", str(tmp / "v.db")]),
        "csv: inf step, 140,000-char field, linked hparams.yaml": (
            lambda: crafted.csv_hostile(tmp / "csv", private), ["csv", str(tmp / "csv" / "metrics.csv")]),
        "csv: billion-laughs hparams.yaml": (
            lambda: crafted.billion_laughs(tmp / "laughs"), ["csv", str(tmp / "laughs" / "metrics.csv")]),
    }
    out = []
    for name, (make, args) in sources.items():
        make()
        out.append((name, *_timed("import", *args, "--store", str(tmp / "runs"))))
    return out


def wide_store(tmp: Path) -> tuple[tuple, tuple]:
    store = tmp / "wide"
    crafted.sparse_and_wide(store)
    return _timed("runs", "--store", str(store)), _timed("runs", "--store", str(store))


def main() -> None:
    print(f"Machine: {machine()}\n")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        print("| crafted source | `ol import` seconds | exit | peak MiB |\n| --- | --- | --- | --- |")
        for name, seconds, code, peak in imports(tmp):
            print(f"| {name} | {seconds:.2f} | {code} | {peak} |")
        cold, warm = wide_store(tmp)
        print("\n| store | `ol runs` cold (indexing) | warm | peak MiB cold |\n| --- | --- | --- | --- |")
        print(f"| 1,000 tags × 200 own steps + 10,000 columns | {cold[0]:.2f} s | {warm[0]:.2f} s | {cold[2]} |")


if __name__ == "__main__":
    main()
