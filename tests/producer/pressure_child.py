"""A recorder under constant backpressure (a tiny queue), for signal tests: prints "ready", logs forever."""

import sys

from ol.producer import Run

with Run.start(store=sys.argv[1], experiment="sig", run_id=sys.argv[2], max_queue=64, flush_interval=0.01) as run:
    print("ready", flush=True)
    step = 0
    while True:
        run.log({"loss": 1.0, "x": 2.0}, step=step)
        step += 1
