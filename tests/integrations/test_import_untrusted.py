"""`ol import` of sources an adversary crafted (tests/integrations/crafted.py), each in a real `ol` process
under a 2 GiB address-space cap: no file outside the source is read (a planted canary never reaches the
store), nothing allocates what a few bytes claim, nothing hangs, every valid part is imported, every bad part
is named in a warning, and one bad run never stops the others."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integrations import crafted

OL = [sys.executable, "-c", "from ol.cli import main; main()"]
MEMORY_CAP = 2 << 30
SECONDS = 60  # a hang ends the process; the target is 5 s a file, which the bench measures


def _ol(*args: str, cwd: Path | None = None) -> tuple[int, str, float]:
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    began = time.monotonic()
    done = subprocess.run([*OL, *args], capture_output=True, text=True, timeout=SECONDS, preexec_fn=cap, cwd=cwd)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - began


def _leaked(store: Path) -> list[Path]:
    """Files of the store that hold the canary's text (logs are zstd-compressed: read through the reader)."""
    return [log for log in store.rglob("log") if crafted.CANARY in repr(_events_of(log))]


def _events(store: Path):
    (log,) = [p for p in store.rglob("log") if ".import" not in p.parts]
    return _events_of(log)


def _scalars(events) -> dict:
    out = {}
    for e in events:
        named = {"loss": e.loss, "lr": e.lr, **e.extra} if type(e).__name__ == "Step" else getattr(e, "values", {})
        for name, value in named.items():
            if value is not None:
                out.setdefault(name, {})[e.step] = value
    return out


def test_tensorboard_links_devices_fifos_and_huge_tensors_are_refused_and_the_scalars_kept(tmp_path):
    pytest.importorskip("tensorboard")
    private = crafted.canary(tmp_path)
    source, store = tmp_path / "tb", tmp_path / "runs"
    crafted.tb_hostile(source, private)
    code, out, seconds = _ol("import", "tensorboard", str(source), "--store", str(store))
    assert code == 0, out
    assert "imported linked" not in out and "stolen" not in out  # the linked folder is not a run
    assert "linked is a link, not followed" in out and "events.out.tfevents.4.fifo is not a regular file" in out
    events = _events(store)
    assert _scalars(events)["loss"] == {s: pytest.approx(1.0 / (s + 1)) for s in range(10)}
    assert "huge" not in _scalars(events) and not _leaked(store)
    for said in ("more than one value ('huge')", "'wrong' at step 4 does not decode", "histogram 'h' at step 5",
                 "does not decode as a TensorBoard event"):
        assert said in out, said


def test_a_wandb_run_with_every_crashing_shape_imports_its_good_rows_and_warns(tmp_path):
    pytest.importorskip("wandb")
    source, store = tmp_path / "wandb", tmp_path / "runs"
    crafted.wandb_hostile(source)
    code, out, seconds = _ol("import", "wandb", str(source), "--store", str(store))
    assert code == 0, out
    loss = _scalars(_events(store))["loss"]
    assert {s: loss[s] for s in range(5)} == {s: pytest.approx(1.0 / (s + 1)) for s in range(5)}
    assert loss[6] == 0.1 and loss[7] == 0.05  # a bad value beside a good one loses only itself
    for said in ("_step is not a whole number", "past a float's range", "chunks of a record whose start is missing",
                 "config 'huge_int' is kept as text"):
        assert said in out, said


def test_mlflow_file_store_links_to_private_files_are_not_followed(tmp_path):
    private = crafted.canary(tmp_path)
    source, store = crafted.mlflow_files(tmp_path / "mlruns", private), tmp_path / "runs"
    code, out, _ = _ol("import", "mlflow", str(source), "--store", str(store))
    assert code == 0, out
    events = _events(store)
    started = events[0]
    assert started.config == {"lr": 0.1} and not [t for t in started.tags if t.startswith("y=")]
    assert _scalars(events)["loss"] == {0: 0.5, 1: 0.25} and not _leaked(store)
    assert "is a link" in out and "'broken line'" in out


def test_mlflow_databases_with_bad_rows_import_the_rest_and_a_recursive_view_is_refused_at_once(tmp_path):
    store = tmp_path / "runs"
    db = crafted.mlflow_db(tmp_path / "mlflow.db")
    code, out, _ = _ol("import", "mlflow", str(db), "--store", str(store))
    assert code == 0, out
    assert out.count("imported ") == 2  # the run whose experiment row is missing too
    runs = {e[0].name: e for e in (_events_of(p) for p in store.rglob("log"))}
    assert _scalars(runs["good"])["loss"] == {0: 0.5, 1: 0.25}
    assert runs["good"][0].config == {"lr": 0.1}  # the 300,000-character parameter is left out
    assert "NULL or non-numeric" in out and "params over 65,536 characters" in out
    looped = crafted.mlflow_db(tmp_path / "view.db", recursive_view=True)
    code, out, seconds = _ol("import", "mlflow", str(looped), "--store", str(tmp_path / "other"))
    assert code == 1 and "metrics is not a table" in out and out.count("\n") == 1, out
    bare = crafted.mlflow_db(tmp_path / "bare.db", no_params=True)
    code, out, _ = _ol("import", "mlflow", str(bare), "--store", str(tmp_path / "third"))
    assert code == 0 and "no params table" in out, out


def _events_of(log: Path) -> list:
    from ol.store.log.reader import read_events  # noqa: PLC0415

    return [e for _, e in read_events(log)]


def test_a_csv_with_bad_rows_and_a_linked_hparams_imports_the_good_rows(tmp_path):
    private = crafted.canary(tmp_path)
    path, store = crafted.csv_hostile(tmp_path / "csv", private), tmp_path / "runs"
    code, out, _ = _ol("import", "csv", str(path), "--store", str(store))
    assert code == 0, out
    events = _events(store)
    assert _scalars(events)["loss"] == {0: 1.0, 2: 0.5, 3: 0.25} and events[0].config == {}
    assert not _leaked(store)
    for said in ("line 3: step 'inf'", "field larger than field limit", "hparams.yaml was not read"):
        assert said in out, said


def test_yaml_aliases_are_not_expanded(tmp_path):
    path, store = crafted.billion_laughs(tmp_path / "laughs"), tmp_path / "runs"
    code, out, seconds = _ol("import", "csv", str(path), "--store", str(store))
    assert code == 0 and "aliases" in out, out
    assert _scalars(_events(store))["loss"] == {0: 1.0, 1: 0.5}


def test_one_run_that_cannot_be_imported_does_not_stop_the_others(tmp_path):
    pytest.importorskip("wandb")
    source, store = tmp_path / "wandb", tmp_path / "runs"
    crafted.wandb_log(source / "offline-run-1-a" / "run-a.wandb", [crafted.wandb_history("0", {"loss": "1"})])
    bad = source / "offline-run-2-b" / "run-b.wandb"
    bad.parent.mkdir(parents=True)
    with open(bad, "wb") as f:  # a sparse file past the size an import reads: refused unread
        f.truncate((1 << 30) + 1)
    crafted.wandb_log(source / "offline-run-3-c" / "run-c.wandb", [crafted.wandb_history("0", {"loss": "2"})])
    code, out, _ = _ol("import", "wandb", str(source), "--store", str(store))
    assert out.count("\nimported ") + out.startswith("imported ") == 2 and code == 1, out
    assert "1 of 3 run(s) could not be imported" in out


def test_a_wandb_project_name_wandb_accepts_becomes_an_experiment(tmp_path):
    pytest.importorskip("wandb")
    from wandb.proto import wandb_internal_pb2 as pb

    run = pb.Record()
    run.run.run_id, run.run.display_name, run.run.project = "p", "p", "My Project (v2) " + "x" * 80
    source, store = tmp_path / "wandb", tmp_path / "runs"
    crafted.wandb_log(source / "offline-run-1-p" / "run-p.wandb",
                      [run.SerializeToString(), crafted.wandb_history("0", {"loss": "1"})])
    code, out, _ = _ol("import", "wandb", str(source), "--store", str(store))
    assert code == 0, out
    (experiment,) = [p.name for p in store.iterdir() if not p.name.startswith(".")]
    assert experiment.startswith("My-Project-v2-xxx") and len(experiment) <= 64


def test_an_import_killed_mid_write_leaves_nothing_behind_once_another_import_runs(tmp_path):
    import signal  # noqa: PLC0415

    store = tmp_path / "runs"
    big = tmp_path / "big" / "metrics.csv"
    big.parent.mkdir()
    big.write_text("step,loss,acc\n" + "".join(f"{i},{1 / (i + 1)},{i % 7}\n" for i in range(400_000)))
    proc = subprocess.Popen([*OL, "import", "csv", str(big), "--store", str(store)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any((store / ".import").glob("*/log")):
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    left = list((store / ".import").iterdir())
    assert left, "the kill came too late to leave anything aside"
    small = crafted.billion_laughs(tmp_path / "other")
    code, out, _ = _ol("import", "csv", str(small), "--store", str(store))
    assert code == 0, out
    assert not [p for p in left if p.exists()]


def test_wandb_media_paths_out_of_the_run_folder_or_through_links_are_not_read(tmp_path):
    """A history row names the image, table, video or HTML file it points to: a path out of the run's files/, or a link
    planted there, is refused with a note; the canary never reaches the store, the rest of the run does."""
    pytest.importorskip("wandb")
    import json

    private = crafted.canary(tmp_path)
    source, store = tmp_path / "wandb", tmp_path / "runs"
    run_dir = source / "offline-run-1-m"
    (run_dir / "files" / "media").mkdir(parents=True)
    (run_dir / "files" / "media" / "linked.png").symlink_to(private)
    media = {"a": {"_type": "image-file", "path": "../../../" + str(private)},
             "b": {"_type": "image-file", "path": "media/linked.png"},
             "c": {"_type": "table-file", "path": str(private)},
             "d": {"_type": "video-file", "path": "media/linked.png"},  # read when the run is written: refused too
             "e": {"_type": "html-file", "path": "../../../" + str(private)}}
    rows = [crafted.wandb_history("0", {"loss": "1", **{k: json.dumps(v) for k, v in media.items()}})]
    crafted.wandb_log(run_dir / "run-m.wandb", rows)
    code, out, _ = _ol("import", "wandb", str(source), "--store", str(store))
    assert code == 0, out
    assert _scalars(_events(store))["loss"] == {0: 1.0}
    assert "is not one ol can keep" in out
    assert "video 'd' at step 0 is not imported" in out and "html 'e' at step 0 is not imported" in out
    assert crafted.CANARY not in b"".join(p.read_bytes() for p in store.rglob("*") if p.is_file()).decode("latin-1")
