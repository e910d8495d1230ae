"""A small DDP training script recorded with ol's Run, for tests under torchrun (gloo, CPU).

    torchrun --standalone --nproc-per-node 2 ddp_child.py STORE STEPS [--die-rank R --die-at S]
    [--no-group]

Every rank calls Run.start; they make one run. Each rank logs the synchronised loss and its own
system numbers (step time, resident memory). With --die-rank, that rank SIGKILLs itself at step S
(a rank lost mid-run). With --no-group, no process group is made: the run id comes from the
environment (torchrun's TORCHELASTIC_RUN_ID) and nothing is synchronised.
"""

import argparse
import datetime
import os
import resource
import signal
import time

import torch
import torch.distributed as dist
from torch import nn

from ol.producer import Run

ap = argparse.ArgumentParser()
ap.add_argument("store")
ap.add_argument("steps", type=int)
ap.add_argument("--die-rank", type=int, default=-1)
ap.add_argument("--die-at", type=int, default=-1)
ap.add_argument("--no-group", action="store_true")
args = ap.parse_args()

torch.set_num_threads(1)
if not args.no_group:
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
torch.manual_seed(0)
model = nn.Linear(8, 1)
if not args.no_group:
    model = nn.parallel.DistributedDataParallel(model)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
rank = int(os.environ["RANK"])
gen = torch.Generator().manual_seed(100 + rank)  # each rank its own shard of data
w_true = torch.arange(8, dtype=torch.float32)

with Run.start(store=args.store, experiment="ddp", config={"lr": 0.1, "steps": args.steps}) as run:
    print(f"rank {run.rank}/{run.world_size} run {run.run_id}", flush=True)
    for step in range(args.steps):
        if rank == args.die_rank and step == args.die_at:
            run.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        t = time.perf_counter()
        x = torch.randn(32, 8, generator=gen)
        loss = ((model(x).squeeze(1) - x @ w_true) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        mean_loss = loss.detach().clone()
        if not args.no_group:
            dist.all_reduce(mean_loss)
            mean_loss /= dist.get_world_size()
        run.log({"loss": mean_loss.item(), "step_time": time.perf_counter() - t,
                 "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, step=step)
if not args.no_group:
    dist.destroy_process_group()
