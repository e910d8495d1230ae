"""The recording API: what a loop logs is what the log holds, and failures surface at the caller."""

from __future__ import annotations

import errno
import threading
import time

import pytest
import torch

from ol.errors import OlError, ProducerError
from ol.producer import Run
from ol.producer.background import WriterStopped
from ol.schemas import Dropped, Note, RunContract, RunEnded, RunResumed, RunStarted, Scalars, Step
from ol.store.errors import RunLocked
from ol.store.log.reader import LogReader, read_events
from ol.store.log.rundir import writer_active
from ol.store.log.writer import LogWriter
from ol.store.read.listing import run_info


def _events(run):
    return [e for _, e in read_events(run.dir / "log")]


def test_logged_scalars_and_emitted_events_are_what_the_log_holds(tmp_path):
    with Run.start(store=tmp_path, experiment="mine", config={"lr": 0.1}, strategy="s", seed=3) as run:
        for i in range(100):
            run.log({"loss": 1.0 / (i + 1), "lr": 0.1, "acc": i / 100}, step=i, epoch=i // 10)
        run.log({"loss": 0.5})  # the step defaults to one past the last
        run.note("halfway", level="warning")
    events = _events(run)
    assert isinstance(events[0], RunStarted) and events[0].config == {"lr": 0.1} and events[0].seed == 3
    assert events[0].environment.python and events[0].environment.pid
    steps = [e for e in events if isinstance(e, Step)]
    assert [s.step for s in steps] == list(range(101))
    assert steps[7].loss == 1.0 / 8 and steps[7].lr == 0.1 and steps[7].extra == {"acc": 0.07}
    assert steps[7].epoch == 0 and steps[99].epoch == 9 and steps[100].epoch is None
    assert all(0 <= s.time < 60 for s in steps) and steps[-1].time >= steps[0].time
    assert events[-2] == Note("halfway", level="warning")
    assert isinstance(events[-1], RunEnded) and events[-1].status == "completed"


def test_flush_makes_everything_recorded_so_far_readable(tmp_path):
    run = Run.start(store=tmp_path, experiment="mine", flush_interval=30.0)  # never flushes by time
    run.log({"loss": 1.0}, step=0)
    run.flush()
    assert [e.step for e in _events(run) if isinstance(e, Step)] == [0]
    run.close()


def test_an_exception_in_the_with_block_is_recorded_as_failed(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with Run.start(store=tmp_path, experiment="mine") as run:
            run.log({"loss": 1.0})
            _ = 1 / 0
    end = _events(run)[-1]
    assert end.status == "failed" and "ZeroDivisionError: division by zero" in end.error
    assert run_info(run.dir).status == "failed"


def test_ctrl_c_in_the_with_block_is_recorded_as_interrupted(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with Run.start(store=tmp_path, experiment="mine") as run:
            raise KeyboardInterrupt
    assert _events(run)[-1].status == "interrupted"


def test_a_tensor_value_is_refused_at_the_call_naming_the_key(tmp_path):
    with Run.start(store=tmp_path, experiment="mine") as run:
        with pytest.raises(OlError, match=r"'loss' is a torch.Tensor.*\.item\(\)"):
            run.log({"loss": torch.tensor(1.0)})
        run.log({"ok": 1, "flag": True, "x": float("nan")})  # ints, bools and NaN are numbers
    steps = [e for e in _events(run) if isinstance(e, Step)]
    assert len(steps) == 1 and steps[0].extra["ok"] == 1.0 and steps[0].extra["flag"] == 1.0


def test_a_dead_writer_raises_at_the_next_call_and_releases_blocked_producers(tmp_path, monkeypatch):
    def disk_full(self, items):
        raise OSError(errno.ENOSPC, "No space left on device")

    run = Run.start(store=tmp_path, experiment="mine", max_queue=50, flush_interval=0.01)
    monkeypatch.setattr(LogWriter, "append", disk_full)
    finished = threading.Event()

    def produce():
        try:
            for i in range(100_000):
                run.log({"loss": 1.0}, step=i)
        except WriterStopped:
            finished.set()

    t = threading.Thread(target=produce)
    t.start()
    t.join(timeout=30)
    assert finished.is_set(), "a producer stayed blocked after the writer died"
    with pytest.raises(WriterStopped, match="No space left on device"):
        run.flush()
    with pytest.raises(WriterStopped):
        run.close()  # reports the failure, and still releases the lock and the signal handlers
    assert run.closed and not writer_active(run.dir)


def test_drop_mode_records_what_it_dropped(tmp_path, monkeypatch):
    real_append = LogWriter.append

    def slow(self, items):
        time.sleep(0.05)
        return real_append(self, items)

    monkeypatch.setattr(LogWriter, "append", slow)
    with Run.start(store=tmp_path, experiment="mine", max_queue=100, on_full="drop") as run:
        for i in range(5000):
            run.log({"loss": 1.0}, step=i)
    events = _events(run)
    kept = [e.step for e in events if isinstance(e, Step)]
    dropped = [e for e in events if isinstance(e, Dropped)]
    assert dropped and sum(d.count for d in dropped) == 5000 - len(kept)
    assert kept == sorted(kept) and len(set(kept)) == len(kept)


def test_resume_continues_the_sequence_and_says_from_where(tmp_path):
    with Run.start(store=tmp_path, experiment="mine", run_id="r1") as run:
        for i in range(10):
            run.log({"loss": 1.0}, step=i)
    with open(run.dir / "log" / "00000000.olog", "ab") as f:
        f.write(b"\x51\x2a\x4d\x18partial")  # a torn frame, as a crash leaves it
    with Run.resume(run.dir, step=5, epoch=0, checkpoint="checkpoints/x.pt") as again:
        again.log({"loss": 0.5})
    reader = LogReader(run.dir / "log")
    seqs_events = list(reader.events())
    assert [s for s, _ in seqs_events] == list(range(len(seqs_events))) and reader.report.torn_tail is None
    events = [e for _, e in seqs_events]
    resumed = next(e for e in events if isinstance(e, RunResumed))
    assert (resumed.step, resumed.checkpoint) == (5, "checkpoints/x.pt")
    assert any(isinstance(e, Note) and "torn tail" in e.message for e in events)
    assert events[-2].step == 6  # logging continues after the resume point
    assert run_info(run.dir).status == "completed"


def test_one_writer_per_run_even_within_a_process(tmp_path):
    run = Run.start(store=tmp_path, experiment="mine", run_id="r1")
    with pytest.raises(RunLocked, match="being written by pid"):
        Run.resume(run.dir, step=0)
    run.close()


def test_an_existing_run_id_is_refused(tmp_path):
    Run.start(store=tmp_path, experiment="mine", run_id="r1").close()
    with pytest.raises(OlError, match="already exists"):
        Run.start(store=tmp_path, experiment="mine", run_id="r1")


FULL_DISK_CHILD = """
import resource, sys
from ol.producer import Run
resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000))  # what `ulimit -f` does: writes past it fail
run = Run.start(store=sys.argv[1], experiment="mine", run_id="full", flush_interval=0.01)
try:
    with run:
        for i in range(5_000_000):
            run.log({"loss": 1.0 / (i + 1), "noise": (i * 7919 % 10007) / 10007}, step=i)
except Exception as e:
    print(type(e).__name__, e)
    sys.exit(3)
"""


def test_a_full_disk_fails_the_run_with_its_error_and_keeps_what_was_written(tmp_path):
    import subprocess
    import sys

    from ol.store.log.verify import verify_run

    child = subprocess.run([sys.executable, "-c", FULL_DISK_CHILD, str(tmp_path)], capture_output=True,
                           text=True, timeout=120)
    assert child.returncode == 3, child.stderr
    assert "File too large" in child.stdout and "Traceback" not in child.stdout
    info = run_info(tmp_path / "mine" / "full")
    assert info.status == "failed" and "File too large" in info.error
    report = verify_run(tmp_path / "mine" / "full")
    assert report.ok, (report.lost, report.damaged, report.torn_tail)
    steps = [e.step for _, e in read_events(tmp_path / "mine" / "full" / "log") if isinstance(e, Step)]
    assert len(steps) > 1000 and steps == list(range(len(steps)))  # everything written is there, in order


def test_start_with_resume_continues_an_own_loop_run_by_its_id(tmp_path):
    """Like W&B's resume: the same run id again continues the run; history is kept and steps carry on."""
    from ol.consumers.analytics.sql import connect
    from ol.store.read.listing import scan_runs

    with Run.start(store=tmp_path, experiment="own", run_id="r1", config={"lr": 0.1}, resume=True,
                   handle_signals=False) as run:  # nothing to resume yet: a new run
        for _ in range(3):
            run.log({"loss": 1.0})
    with Run.start(store=tmp_path, experiment="own", run_id="r1", resume=True, handle_signals=False) as run:
        run.log({"loss": 0.5})
        run.log({"loss": 0.25})
    (info,) = scan_runs(tmp_path)
    assert (info.run_id, info.status, info.last_step, info.config) == ("r1", "completed", 4, {"lr": 0.1})
    rows = connect(tmp_path).query("SELECT step, loss FROM steps ORDER BY step").to_pylist()
    assert rows == [{"step": s, "loss": v} for s, v in enumerate([1.0, 1.0, 1.0, 0.5, 0.25])]
    with pytest.raises(OlError, match="already exists"):
        Run.start(store=tmp_path, experiment="own", run_id="r1", handle_signals=False)  # without resume: refused
    with pytest.raises(OlError, match="needs the run_id"):
        Run.start(store=tmp_path, experiment="own", resume=True, handle_signals=False)


def test_logs_for_one_step_make_one_row_and_own_loops_get_epochs(tmp_path):
    """An own loop that logs the loss and, later, the gradient norm for the same step gets one row per step with
    both (not a second row split with NULLs); run.epoch() fills the epochs view."""
    from ol.consumers.analytics.sql import connect

    with Run.start(store=tmp_path, experiment="own", run_id="r", handle_signals=False) as run:
        for step in range(6):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
            if step % 2 == 1:
                run.log({"grad_norm": 2.0 / (step + 1)}, step=step)
        run.epoch(0, {"train_loss": 0.4}, eval={"val_acc": 0.75})
        run.flush()
        live = connect(tmp_path).query("SELECT step, loss, grad_norm FROM steps ORDER BY step").to_pylist()
    sealed = connect(tmp_path)
    rows = sealed.query("SELECT step, loss, grad_norm FROM steps ORDER BY step").to_pylist()
    expected = [{"step": s, "loss": 1.0 / (s + 1), "grad_norm": 2.0 / (s + 1) if s % 2 else None} for s in range(6)]
    assert rows == live == expected  # read from the live log and from the compacted cache alike
    assert sealed.query("SELECT epoch, step, train_loss, val_acc FROM epochs").to_pylist() == [
        {"epoch": 0, "step": 5, "train_loss": 0.4, "val_acc": 0.75}]
    with pytest.raises(OlError, match="is a torch.Tensor"):
        with Run.start(store=tmp_path, experiment="own", handle_signals=False) as run:
            run.epoch(0, {"val_loss": torch.tensor(0.5)})
    with Run.start(store=tmp_path, experiment="own", handle_signals=False) as run:  # as `ol train`'s evaluate()
        with pytest.raises(OlError, match="train_loss given as both a training and an evaluation metric"):
            run.epoch(0, {"train_loss": 0.4}, eval={"train_loss": 0.5})


def test_sources_are_what_the_producer_said(tmp_path):
    """A validation loss logged with source="eval" (per step, or as an epoch's evaluation) is an eval metric in
    every reader, never a training one, whatever its name; a training metric named like an evaluation one stays
    train. Read back from the live log, the compacted cache, the dashboard's fold and a replay."""
    from ol.consumers.analytics.sql import connect
    from ol.consumers.replay.stream import StepMerger
    from ol.store.log.reader import LogReader
    from ol.store.log.rundir import log_path
    from ol.store.read.live import LiveRun

    with Run.start(store=tmp_path, experiment="own", run_id="r", handle_signals=False) as run:
        for step in range(4):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
            run.log({"loss": 3.0 + step, "ppl": 20.0}, step=step, source="eval")
        run.epoch(0, {"test_like_train": 0.1}, eval={"score": 0.9})
        with pytest.raises(OlError, match="both a training and an evaluation metric"):
            run.epoch(1, {"x": 1.0}, eval={"x": 2.0})
        with pytest.raises(OlError, match="a source is a non-empty name"):
            run.log({"x": 1.0}, source="a/b")
        run.flush()
        live = connect(tmp_path)
        query = "SELECT source, name, count(*) AS n, max(value) AS top FROM metrics GROUP BY ALL ORDER BY ALL"
        during = live.query(query).to_pylist()
    sealed = connect(tmp_path)
    expected = [{"source": "eval", "name": "loss", "n": 4, "top": 6.0}, {"source": "eval", "name": "ppl", "n": 4,
                "top": 20.0}, {"source": "eval", "name": "score", "n": 1, "top": 0.9},
                {"source": "train", "name": "loss", "n": 4, "top": 1.0},
                {"source": "train", "name": "test_like_train", "n": 1, "top": 0.1}]
    assert sealed.query(query).to_pylist() == during == expected
    assert sealed.query("SELECT max(loss) AS m FROM steps").to_pylist() == [{"m": 1.0}]  # the eval loss is apart
    stats = sealed.query("SELECT source, name, final FROM metric_stats WHERE name = 'loss' ORDER BY source")
    assert stats.to_pylist() == [{"source": "eval", "name": "loss", "final": 6.0},
                                 {"source": "train", "name": "loss", "final": 0.25}]
    run_dir = tmp_path / "own" / "r"
    dash = LiveRun(run_dir)
    dash.poll()
    assert {"eval/loss", "eval/ppl", "eval/score", "train/loss", "train/test_like_train"} <= set(dash.keys())
    merger = StepMerger()
    records = [r for _, e in LogReader(log_path(run_dir)).events() for r in merger.add(e)] + merger.finish()
    at_3 = next(r for r in records if r.step == 3).scalars
    assert at_3["loss"] == 0.25 and at_3["eval/loss"] == 6.0 and at_3["eval/ppl"] == 20.0 and at_3["score"] == 0.9


def test_the_wandb_style_conveniences_read_back_through_every_reader(tmp_path, wandb_env):
    """name and tags, nested dicts flattened with '/', commit=False values joining the next committed step (and
    committed at close, not lost): read back through `ol query`, `ol runs` and a W&B offline replay."""
    import json
    import sys
    from pathlib import Path

    from typer.testing import CliRunner

    from ol.cli.app import app
    from ol.consumers.analytics.sql import connect

    with Run.start(store=tmp_path, experiment="own", run_id="w", name="baseline, wd 0.1", tags=["ablation", "wd"],
                   handle_signals=False) as run:
        for step in range(3):
            run.log({"train": {"loss": 1.0 / (step + 1), "acc": {"top1": 0.5}}}, commit=False)
            run.log({"lr": 0.1, "flag": True})
        run.log({"late": 7.0}, commit=False)  # never followed by a commit: close() commits it
    rows = connect(tmp_path).query('SELECT step, "train/loss", "train/acc/top1", lr, flag, late FROM steps '
                                   "ORDER BY step").to_pylist()
    assert rows == [{"step": s, "train/loss": 1.0 / (s + 1), "train/acc/top1": 0.5, "lr": 0.1, "flag": 1.0,
                     "late": None} for s in range(3)] + [{"step": 3, "train/loss": None, "train/acc/top1": None,
                                                          "lr": None, "flag": None, "late": 7.0}]
    (named,) = connect(tmp_path).query("SELECT run_name, tags FROM runs").to_pylist()
    assert named == {"run_name": "baseline, wd 0.1", "tags": ["ablation", "wd"]}
    runner = CliRunner()
    listed = json.loads(runner.invoke(app, ["runs", "--store", str(tmp_path), "-f", "json"]).output)
    assert (listed[0]["name"], listed[0]["tags"]) == ("baseline, wd 0.1", ["ablation", "wd"])
    done = runner.invoke(app, ["replay", "w", "--store", str(tmp_path), "--to", "wandb", "--mode", "offline"])
    assert done.exit_code == 0, done.output
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from wandb_records import read_wandb_file

    from ol.consumers.replay.wandb_sink import wandb_id

    (path,) = wandb_env.rglob(f"run-{wandb_id('w')}.wandb")
    record = next(r.run for r in read_wandb_file(path) if r.WhichOneof("record_type") == "run")
    assert record.display_name == "baseline, wd 0.1" and {"ablation", "wd"} <= set(record.tags)


def test_a_notebook_kernel_keeps_its_interrupt(tmp_path, monkeypatch):
    """Inside a Jupyter kernel Run.start leaves SIGINT to the kernel unless asked; elsewhere it handles it."""
    import signal
    import sys
    import types

    before = signal.getsignal(signal.SIGINT)
    kernel = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: kernel))
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    with Run.start(store=tmp_path, experiment="nb", run_id="n1"):
        assert signal.getsignal(signal.SIGINT) is before
    with Run.start(store=tmp_path, experiment="nb", run_id="n2", handle_signals=True):
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before


def test_config_updates_and_the_summary_are_events_every_reader_folds(tmp_path, wandb_env):
    """run.config.update(...) after the start and run.summary[...] are events: the runs view shows the merged
    config (its columns too) and the summary, summary.json carries both, a W&B replay gets the updated config and
    the run's own summary over the values ol derives."""
    import json
    import sys
    from pathlib import Path

    from ol.consumers.analytics.sql import connect
    from ol.consumers.replay.stream import StepMerger
    from ol.store.log.reader import LogReader
    from ol.store.log.rundir import log_path
    from ol.store.read.summary import summarize

    with Run.start(store=tmp_path, experiment="own", run_id="c", config={"lr": 0.1, "width": 8},
                   handle_signals=False) as run:
        assert run.config["lr"] == 0.1
        run.config.update({"lr": 0.05, "batch": 32})
        for step in range(3):
            run.log({"loss": 1.0 / (step + 1)})
        run.summary["best_loss"] = 0.33
        run.summary.update(loss=0.3, note="early stop")
        with pytest.raises(OlError, match="non-empty strings"):
            run.summary.update({1: 2})
    (row,) = connect(tmp_path).query("SELECT lr, width, batch, config, summary FROM runs").to_pylist()
    assert (row["lr"], row["width"], row["batch"]) == (0.05, 8, 32) and json.loads(row["config"])["lr"] == 0.05
    assert json.loads(row["summary"]) == {"best_loss": 0.33, "loss": 0.3, "note": "early stop"}
    run_dir = tmp_path / "own" / "c"
    derived = summarize(run_dir)
    assert derived["summary"]["best_loss"] == 0.33 and derived["config_updates"] == {"lr": 0.05, "batch": 32}
    merger = StepMerger()
    for _, event in LogReader(log_path(run_dir)).events():
        merger.add(event)
    merger.finish()
    assert merger.summary()["loss"] == 0.3  # the run's own summary over the last logged loss (1/3)

    from typer.testing import CliRunner

    from ol.cli.app import app
    from ol.consumers.replay.wandb_sink import wandb_id

    done = CliRunner().invoke(app, ["replay", "c", "--store", str(tmp_path), "--to", "wandb", "--mode", "offline"])
    assert done.exit_code == 0, done.output
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from wandb_records import read_wandb_file, summary_of

    (path,) = wandb_env.rglob(f"run-{wandb_id('c')}.wandb")
    updates = {}
    for record in read_wandb_file(path):
        if record.WhichOneof("record_type") == "run":
            updates.update({i.key: json.loads(i.value_json) for i in record.run.config.update})
        if record.WhichOneof("record_type") == "config":
            updates.update({i.key: json.loads(i.value_json) for i in record.config.update})
    unwrap = {k: v["value"] if isinstance(v, dict) and "value" in v else v for k, v in updates.items()}
    assert unwrap["lr"] == 0.05 and unwrap["batch"] == 32 and unwrap["width"] == 8
    mirrored = summary_of(wandb_env, wandb_id("c"))
    assert mirrored["best_loss"] == 0.33 and mirrored["loss"] == 0.3 and mirrored["note"] == "early stop"


def test_a_folder_without_a_log_becomes_the_run_and_a_link_is_refused(tmp_path):
    """A Trainer makes its output_dir before training starts: a run id whose folder holds no log yet is
    started there; a folder that is a symbolic link is never written through."""
    store = tmp_path / "runs"
    (store / "e" / "made-early" / "trainer").mkdir(parents=True)
    with Run.start(store=store, experiment="e", run_id="made-early", handle_signals=False) as run:
        run.log({"loss": 1.0}, step=0)
    assert (store / "e" / "made-early" / "log").is_dir() and (store / "e" / "made-early" / "trainer").is_dir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (store / "e" / "linked").symlink_to(elsewhere)
    with pytest.raises(OlError, match="symbolic link"):
        Run.start(store=store, experiment="e", run_id="linked", handle_signals=False)
    assert list(elsewhere.iterdir()) == []


def test_names_past_the_caps_are_refused_at_the_call_and_nothing_queued_is_lost(tmp_path, monkeypatch):
    from ol.producer import run as run_module

    monkeypatch.setattr(run_module, "MAX_METRIC_NAMES", 5)
    with Run.start(store=tmp_path, experiment="caps", handle_signals=False) as run:
        run.log({"a": 1.0, "b": 2.0}, step=0)
        with pytest.raises(ProducerError, match="characters"):
            run.log({"a": 3.0, "x" * 10_000: 1.0}, step=1)
        with pytest.raises(ProducerError, match="at most 5"):
            run.log({f"m{i}": 1.0 for i in range(4)}, step=1)
        run.log({"a": 4.0, "c": 5.0}, step=2)  # known names and one more within the cap still log
    steps = {e.step: (e.loss, e.extra) for _, e in LogReader(run.dir / "log").events() if type(e).__name__ == "Step"}
    assert steps == {0: (None, {"a": 1.0, "b": 2.0}), 2: (None, {"a": 4.0, "c": 5.0})}


def test_a_checkpoint_file_a_loop_wrote_is_recorded_hashed_and_one_outside_the_run_refused(tmp_path):
    import hashlib

    from ol.store import verify_run

    folder = Run.folder(tmp_path, "ck", "r1")
    with Run.start(store=tmp_path, experiment="ck", run_id="r1", handle_signals=False) as run:
        assert run.dir == folder
        (run.dir / "mine").mkdir()
        saved = run.dir / "mine" / "model.bin"
        saved.write_bytes(b"weights" * 100)
        event = run.checkpoint(saved, step=7, epoch=1, reason="best")
        outside = tmp_path / "elsewhere.bin"
        outside.write_bytes(b"x")
        with pytest.raises(ProducerError, match="outside the run's folder"):
            run.checkpoint(outside, step=8)
    assert (event.path, event.size, event.reason) == ("mine/model.bin", 700, "best")
    assert event.sha256 == hashlib.sha256(b"weights" * 100).hexdigest()
    assert verify_run(run.dir).ok


def test_an_epoch_logged_as_a_value_is_the_steps_epoch_and_a_steps_own_names_are_refused(tmp_path):
    """Issue 38: ``run.log({"epoch": 0.5, ...})`` (as W&B loops and a Trainer log it) is where the step is — a
    fraction kept; a training scalar named ``step`` or ``time`` once replaced the step's own column when read
    (the steps table showed step 100.0 for step 0) and is refused at the call, nothing of the run lost."""
    run = Run.start(store=tmp_path, experiment="e", run_id="r", handle_signals=False)
    run.log({"epoch": 0.5, "loss": 1.0}, step=0)
    run.log({"loss": 0.5}, step=1, epoch=2.0)
    for bad, why in (({"time": 3.0}, "step's own time"), ({"step": 100}, "step's own step"),
                     ({"loss": 0.1, "epoch": 3}, "give one")):
        with pytest.raises(ProducerError, match=why):
            run.log(bad, step=2, epoch=1 if "epoch" in bad else None)
    run.log({"acc": 0.9, "epoch": 1.25}, step=2, source="eval")
    run.close()
    events = [e for _, e in LogReader(run.dir / "log").events()]
    steps = [(e.step, e.epoch, e.extra) for e in events if type(e) is Step]
    assert steps == [(0, 0.5, {}), (1, 2, {})] and type(steps[1][1]) is int
    (scalars,) = [e for e in events if type(e) is Scalars]
    assert (scalars.epoch, scalars.values) == (1.25, {"acc": 0.9})


def test_a_group_strategy_or_name_of_none_is_none_given_and_anything_but_text_is_refused(tmp_path):
    """``group=args.group`` left unset is None: the run starts as if none was given (its run-started event was once
    written with a null that every reader then refused, so the run had no start time, group or contract); a
    number is refused at the call, before the run exists."""
    with Run.start(store=tmp_path, experiment="e", run_id="r", group=None, strategy=None, name=None,
                   handle_signals=False) as run:
        run.log({"loss": 1.0}, step=1)
    (started,) = [e for _, e in read_events(run.dir / "log") if isinstance(e, RunStarted)]
    assert (started.group, started.strategy, started.name) == ("", "", "")
    assert run_info(run.dir).started_at is not None
    with pytest.raises(ProducerError, match=r"Run.start\(group=3\): a group is text"):
        Run.start(store=tmp_path, experiment="e", run_id="q", group=3, handle_signals=False)
    assert not (tmp_path / "e" / "q").exists()


def test_a_contract_or_environment_built_by_hand_that_cannot_be_read_back_is_refused_at_start(tmp_path):
    """A Struct built by hand is not checked (``RunContract(direction="max")``, the words W&B and Lightning use):
    written, its run-started event failed every reader and the run lost its start, strategy and seed."""
    with pytest.raises(ProducerError, match=r"Run.start\(contract=…\) cannot be recorded: Invalid enum value 'max'"):
        Run.start(store=tmp_path, experiment="e", run_id="r", handle_signals=False,
                  contract=RunContract(main_metric="eval/acc", direction="max"))
    with pytest.raises(ProducerError, match=r"Run.start\(parameters=…\)"):
        Run.start(store=tmp_path, experiment="e", run_id="r", handle_signals=False, parameters="many")
    assert not (tmp_path / "e" / "r").exists()
    with Run.start(store=tmp_path, experiment="e", run_id="r", strategy="stride", handle_signals=False,
                   contract=RunContract(main_metric="eval/acc", direction="higher")) as run:
        run.log({"acc": 0.5}, step=1, source="eval")
    assert run_info(run.dir).strategy == "stride" and run_info(run.dir).problem == ""
