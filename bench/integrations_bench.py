"""The integrations' cost, side by side in one run: a real Lightning fit and a real Transformers Trainer
with no logger, their own loggers and ol's; and `ol import` against each source's own reader.

    python bench/integrations_bench.py [--steps 2000] [--repeats 3] [--points 100000] [--calls 20000]
    python bench/integrations_bench.py --only calls     # the per-call rows alone (for a side by side)

Training rows: the median wall time of the whole fit/train over --repeats, and its excess over no logger
per logged step. Call rows: what one logged step costs in each integration's own hook, called --calls times
without the framework around it (the Lightning logger's log_metrics, the Trainer callback's on_log with an
epoch end every 100 steps, the wandb module's log; real wandb's log, offline, beside it) — precise where a
whole fit's excess is within the machine's noise. Import rows: points per second of `ol import` (a whole
process, start-up included) and of the source's own reader reading the same points in this process. Prints tables.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from log_bench import machine  # noqa: E402

OL = [sys.executable, "-c", "from ol.cli import main; main()"]


def lightning_rows(steps: int, repeats: int, root: Path) -> list[tuple[str, float, float]]:
    import lightning.pytorch as pl
    import torch

    from ol.integrations.lightning import OlLogger

    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(8, 1)

        def training_step(self, batch, index):
            loss = torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1])
            self.log("train_loss", loss)
            self.log("lr", 0.01)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    data = torch.utils.data.TensorDataset(torch.randn(steps, 8), torch.randn(steps, 1))
    loggers = {"no logger": lambda: False,
               "CSVLogger": lambda: pl.loggers.CSVLogger(root / "csv"),
               "TensorBoardLogger": lambda: pl.loggers.TensorBoardLogger(root / "tb"),
               "OlLogger": lambda: OlLogger(store=root / "ol", experiment="bench")}
    times: dict[str, list[float]] = {name: [] for name in loggers}
    for _ in range(repeats):
        for name, make in loggers.items():  # interleaved, so a slow moment of the machine hits every row
            trainer = pl.Trainer(max_epochs=1, logger=make(), log_every_n_steps=1, enable_progress_bar=False,
                                 enable_model_summary=False, enable_checkpointing=False, accelerator="cpu")
            loader = torch.utils.data.DataLoader(data, batch_size=1)
            t = time.perf_counter()
            trainer.fit(Tiny(), loader)
            times[name].append(time.perf_counter() - t)
    base = statistics.median(times["no logger"])
    return [(f"Lightning fit, {steps:,} steps, {name}", statistics.median(ts),
             1e6 * (statistics.median(ts) - base) / steps) for name, ts in times.items()]


def transformers_rows(steps: int, repeats: int, root: Path) -> list[tuple[str, float, float]]:
    import torch
    import transformers

    from ol.integrations.transformers import OlCallback

    class Tokens(torch.utils.data.Dataset):
        def __len__(self):
            return steps

        def __getitem__(self, i):
            ids = torch.randint(0, 32, (8,), generator=torch.Generator().manual_seed(i))
            return {"input_ids": ids, "labels": ids}

    setups = {"report_to none": ("none", []), "TensorBoard callback": ("tensorboard", []),
              "OlCallback": ("none", "ol")}
    times: dict[str, list[float]] = {name: [] for name in setups}
    for repeat in range(repeats):
        for name, (report, extra) in setups.items():
            model = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=32, n_positions=8, n_embd=16,
                                                                         n_layer=1, n_head=2, bos_token_id=0,
                                                                         eos_token_id=0))
            callbacks = [OlCallback(store=root / "ol-hf", experiment="bench")] if extra == "ol" else []
            args = transformers.TrainingArguments(output_dir=str(root / f"hf-{name}-{repeat}"), max_steps=steps,
                                                  logging_steps=1, per_device_train_batch_size=1, report_to=report,
                                                  use_cpu=True, disable_tqdm=True, save_strategy="no")
            trainer = transformers.Trainer(model=model, args=args, train_dataset=Tokens(), callbacks=callbacks)
            t = time.perf_counter()
            trainer.train()
            times[name].append(time.perf_counter() - t)
    base = statistics.median(times["report_to none"])
    return [(f"Trainer.train, {steps:,} steps, {name}", statistics.median(ts),
             1e6 * (statistics.median(ts) - base) / steps) for name, ts in times.items()]


CALLS = ("Lightning OlLogger.log_metrics", "Trainer OlCallback.on_log", "ol.integrations.wandb.log",
         "wandb.log (real, offline)")


def call_rows(calls: int, repeats: int, root: Path) -> list[tuple[str, float, float]]:
    """(row, µs of wall time per logged step, µs of CPU — every thread of the process, the writer's included):
    each integration's hook called ``calls`` times, three scalars and the epoch a call (epochs of 100 steps;
    the Trainer's fractional), until its run is closed; the median of ``repeats``, each in a process of its own
    (real wandb's threads outlive its run and would bill the next row)."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in CALLS}
    for _ in range(repeats):
        for k, name in enumerate(CALLS):
            done = subprocess.run([sys.executable, __file__, "--one", str(k), "--calls", str(calls)],
                                  cwd=root, capture_output=True, text=True)
            if done.returncode == 0 and done.stdout.strip():
                wall, cpu = map(float, done.stdout.split()[-2:])
                times[name].append((wall, cpu))
    return [(name, 1e6 * statistics.median(w for w, _ in ts) / calls, 1e6 * statistics.median(c for _, c in ts) / calls)
            for name, ts in times.items() if ts]


def one_call_row(which: int, calls: int) -> tuple[float, float]:
    """Seconds of wall time and CPU of one row of CALLS, in this (fresh) process, in the current folder."""
    import transformers

    root = Path(tempfile.mkdtemp(prefix="calls-", dir="."))

    def lightning():
        from ol.integrations.lightning import OlLogger

        logger = OlLogger(store=root, experiment="lit")
        t = _clocks()
        for step in range(calls):
            logger.log_metrics({"train_loss": 1.0 / (step + 1), "lr": 0.01, "grad_norm": 0.5,
                                "epoch": step // 100}, step=step)
        logger.finalize("success")
        return _since(t)

    def trainer():
        from ol.integrations.transformers import OlCallback

        callback = OlCallback(store=root, experiment="hf")
        args = transformers.TrainingArguments(output_dir=str(root / "hf-out"), report_to="none", use_cpu=True)
        state, control = transformers.TrainerState(), transformers.TrainerControl()
        callback.on_train_begin(args, state, control)
        t = _clocks()
        for step in range(calls):
            state.global_step, state.epoch = step, step / 100
            callback.on_log(args, state, control, logs={"loss": 1.0 / (step + 1), "learning_rate": 0.01,
                                                        "grad_norm": 0.5, "epoch": step / 100})
            if step % 100 == 99:
                callback.on_epoch_end(args, state, control)
                callback.on_epoch_begin(args, state, control)
        callback.on_train_end(args, state, control)
        return _since(t)

    def module(wandb):
        wandb.init(project="calls", dir=str(root))
        t = _clocks()
        for step in range(calls):
            wandb.log({"loss": 1.0 / (step + 1), "lr": 0.01, "grad_norm": 0.5, "epoch": step / 100})
        wandb.finish()
        return _since(t)

    def ours():
        from ol.integrations import wandb

        return module(wandb)

    def real():
        os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true")
        for name in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
            os.environ[name] = str(root / name.lower())
            Path(os.environ[name]).mkdir(exist_ok=True)
        import wandb

        return module(wandb)

    return (lightning, trainer, ours, real)[which]()


def _clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - start[0], time.process_time() - start[1]


def import_rows(points: int, root: Path) -> list[tuple[str, float, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    rows = []
    events = root / "tb-source" / "run"
    writer = SummaryWriter(str(events))
    for step in range(points):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.close()
    t = time.perf_counter()
    acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
    acc.Reload()
    assert len(acc.Scalars("loss")) == points
    theirs = time.perf_counter() - t
    ours = _timed_import(["tensorboard", str(events)], root / "store-tb")
    rows.append((f"TensorBoard, {points:,} scalars", points / ours, points / theirs))

    table = root / "metrics.csv"
    with open(table, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["epoch", "step", "train_loss"])
        out.writerows([step // 1000, step, 1.0 / (step + 1)] for step in range(points))
    t = time.perf_counter()
    with open(table, newline="") as f:
        assert sum(1 for _ in csv.DictReader(f)) == points
    theirs = time.perf_counter() - t
    ours = _timed_import(["csv", str(table)], root / "store-csv")
    rows.append((f"CSV, {points:,} rows", points / ours, points / theirs))

    try:
        import mlflow
    except ImportError:
        return rows
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run() as run:
        batch = [mlflow.entities.Metric("loss", 1.0 / (s + 1), 1_700_000_000_000 + s, s) for s in range(points)]
        client = mlflow.MlflowClient()
        for start in range(0, points, 1000):
            client.log_batch(run.info.run_id, metrics=batch[start:start + 1000])
    t = time.perf_counter()
    assert len(client.get_metric_history(run.info.run_id, "loss")) == points
    theirs = time.perf_counter() - t
    ours = _timed_import(["mlflow", uri], root / "store-mlflow")
    rows.append((f"MLflow (SQLite), {points:,} metric values", points / ours, points / theirs))
    return rows


def _timed_import(args: list[str], store: Path) -> float:
    t = time.perf_counter()
    subprocess.run(OL + ["import", *args, "--store", str(store)], check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--only", choices=["calls"], help="run only the per-call rows")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one call row, in a process of its own
    args = ap.parse_args()
    if args.one is not None:
        print(*one_call_row(args.one, args.calls))
        return
    root = Path(tempfile.mkdtemp(prefix="ol-integrations-bench-"))
    try:
        calls = call_rows(args.calls, args.repeats, root)
        if args.only is None:
            training = lightning_rows(args.steps, args.repeats, root) + transformers_rows(args.steps // 4,
                                                                                          args.repeats, root)
            imports = import_rows(args.points, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"Machine: {machine()}; median of {args.repeats}, interleaved\n")
    print(f"| one logged step, {args.calls:,} calls | µs per call, wall | µs per call, CPU (all threads) |")
    print("| --- | --- | --- |")
    for name, wall, cpu in calls:
        print(f"| {name} | {wall:.1f} | {cpu:.1f} |")
    if args.only:
        return
    print("\n| training | wall time | excess over no logger, per logged step |")
    print("| --- | --- | --- |")
    for name, seconds, excess in training:
        print(f"| {name} | {seconds:.2f} s | {excess:+.0f} µs |")
    print("\n| import | `ol import` (whole process), points/s | the source's own reader, points/s |")
    print("| --- | --- | --- |")
    for name, ours, theirs in imports:
        print(f"| {name} | {ours:,.0f} | {theirs:,.0f} |")


if __name__ == "__main__":
    main()
