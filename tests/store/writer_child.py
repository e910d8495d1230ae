"""A writer process for whole-process tests: logs steps stamped with wall time until told to stop.

usage: writer_child.py STORE RUN_ID N_STEPS FLUSH_INTERVAL [SLEEP_EVERY_STEP]
Prints "ready <pid>" once the run exists. N_STEPS < 0 means forever.
"""

import sys
import time

from ol.producer import Run

store, run_id, n, flush = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
pause = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
with Run.start(store=store, experiment="proc", run_id=run_id, flush_interval=flush) as run:
    print("ready", flush=True)
    step = 0
    while n < 0 or step < n:
        run.log({"loss": 1.0 / (step + 1), "wall": time.time()}, step=step)
        step += 1
        if pause:
            time.sleep(pause)
