"""A live writer a browser test drives: one line on stdin, one step logged and flushed, "ok" back.

    python ui_writer.py STORE RUN_ID [GROUP]        then lines "STEP VALUE"; "end" closes the run completed
"""

import sys

from ol.producer import Run

run = Run.start(store=sys.argv[1], experiment="live", run_id=sys.argv[2], strategy="stride", seed=7,
                flush_interval=0.05, handle_signals=False, config={"lr": 0.1, "width": 16},
                group=sys.argv[3] if len(sys.argv) > 3 else "")
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "end":
        run.close()
        print("ok", flush=True)
        break
    step, value = line.split()
    run.log({"loss": float(value)}, step=int(step))
    run.flush()
    print("ok", flush=True)
