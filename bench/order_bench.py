"""`ol analyze order` at the paper's sizes: p = 9973, 300,000 training pairs, batches of 256.

    python bench/order_bench.py [--preset paper] [--repeats 3]

Each measurement runs in a fresh process (so peak memory, ru_maxrss, is the analysis's own): the sample
stream of each strategy (the experiment's data code: the split and the order), the analysis of its three
components, and the whole command with its figures. Prints a table; not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from log_bench import machine  # noqa: E402

CHILD = """
import json, resource, sys, time
from ol import experiments
from ol.consumers.analytics.order import analyse_stream
exp = experiments.get("mod_arithmetic")
config = exp.resolve_config(sys.argv[1], {})
t0 = time.perf_counter()
stream = exp.sample_stream(config, sys.argv[2], 0, 0)
t1 = time.perf_counter()
analyse_stream(stream.components, stream.modulus, stream.batch_size, 500)
t2 = time.perf_counter()
print(json.dumps({"stream": t1 - t0, "analysis": t2 - t1, "n": len(stream.components["a"]),
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"Machine: {machine()}; preset {args.preset}, median of {args.repeats} fresh processes\n")
    print("| strategy | examples | sample stream | analysis (3 components) | peak memory |")
    print("| --- | --- | --- | --- | --- |")
    for strategy in ("stride", "target", "random", "fixed-random"):
        runs = [json.loads(subprocess.run([sys.executable, "-c", CHILD, args.preset, strategy], check=True,
                                          capture_output=True, text=True).stdout) for _ in range(args.repeats)]
        med = {k: statistics.median(r[k] for r in runs) for k in ("stream", "analysis", "rss_mib")}
        print(f"| {strategy} | {runs[0]['n']:,} | {med['stream']:.2f} s | {med['analysis']:.2f} s | "
              f"{med['rss_mib']:.0f} MiB |")
    with tempfile.TemporaryDirectory() as tmp:
        times = []
        for _ in range(args.repeats):
            import time

            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", "from ol.cli import main; main()", "analyze", "order",
                            "mod_arithmetic", "--preset", args.preset, "--out", f"{tmp}/order"], check=True,
                           capture_output=True)
            times.append(time.perf_counter() - t)
    print(f"\nThe whole command (four strategies, the table, three figures of 20 panels, PNG at 150 dpi): "
          f"{statistics.median(times):.1f} s median, from the shell")


if __name__ == "__main__":
    main()
