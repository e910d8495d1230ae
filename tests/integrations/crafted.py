"""A corpus of crafted import sources (hardening round three): each function writes one source under a folder,
made the way an adversary would hand it over — links out of the source, tiny files that claim huge sizes, and
records of every shape that crashed an importer. Written by code rather than committed as bytes, so each
fixture says what it is."""

from __future__ import annotations

import json
import os
import sqlite3
import struct
from pathlib import Path

CANARY = "CANARY-7f3a-private-file-content"


def canary(tmp: Path) -> Path:
    """A private file outside every source: its content must never reach the store."""
    path = tmp / "private" / "secret.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CANARY + "\n")
    return path


# TensorBoard ---------------------------------------------------------------------------------------------

def _tfrecord(data: bytes) -> bytes:
    from ol.integrations.from_tensorboard import _masked_crc

    head = struct.pack("<Q", len(data))
    return head + struct.pack("<I", _masked_crc(head)) + data + struct.pack("<I", _masked_crc(data))


def tb_events(folder: Path, events: list, name: str = "events.out.tfevents.1.host") -> Path:
    from tensorboard.compat.proto import event_pb2

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with open(path, "wb") as f:
        f.write(_tfrecord(event_pb2.Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString()))
        for e in events:
            f.write(_tfrecord(e.SerializeToString()))
    return path


def tb_scalar(step: int, tag: str, value: float):
    from tensorboard.compat.proto import event_pb2, summary_pb2

    return event_pb2.Event(step=step, wall_time=100.0 + step,
                           summary=summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)]))


def tb_hostile(root: Path, private: Path) -> None:
    """A TensorBoard folder with good scalars beside: a /dev/zero link, a link to a private file, a FIFO, a
    linked folder, a tensor claiming 2**33 elements, tensor content of the wrong size, a histogram of num=inf,
    an event that is not one."""
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2

    good = [tb_scalar(s, "loss", 1.0 / (s + 1)) for s in range(10)]
    huge = tensor_pb2.TensorProto(dtype=1, tensor_shape=tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=2**33)]), float_val=[1.0])
    wrong = tensor_pb2.TensorProto(dtype=1, tensor_shape=tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)]), tensor_content=b"\x00" * 7)
    value = summary_pb2.Summary.Value
    bad = [event_pb2.Event(step=3, summary=summary_pb2.Summary(value=[value(tag="huge", tensor=huge)])),
           event_pb2.Event(step=4, summary=summary_pb2.Summary(value=[value(tag="wrong", tensor=wrong)])),
           event_pb2.Event(step=5, summary=summary_pb2.Summary(value=[value(tag="h", histo=summary_pb2.HistogramProto(
               min=0, max=1, num=float("inf"), bucket_limit=[1.0], bucket=[1.0]))]))]
    tb_events(root / "run", good + bad)
    with open(root / "run" / "events.out.tfevents.1.host", "ab") as f:
        f.write(_tfrecord(b"\xff\xfe not a protobuf"))
    (root / "run" / "events.out.tfevents.2.zero").symlink_to("/dev/zero")
    (root / "run" / "events.out.tfevents.3.secret").symlink_to(private)
    os.mkfifo(root / "run" / "events.out.tfevents.4.fifo")
    outside = root.parent / "outside-tb"
    tb_events(outside / "run", [tb_scalar(0, "stolen", 1.0)])
    (root / "linked").symlink_to(outside / "run", target_is_directory=True)


# W&B -----------------------------------------------------------------------------------------------------

BLOCK, HEADER = 32 * 1024, 7


def wandb_log(path: Path, records: list[bytes], chunks: list[tuple[int, bytes]] = ()) -> Path:
    """A .wandb file of whole records (FULL chunks) followed by raw chunks (kind, data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = bytearray(b":W&B\x00\x00\x00")

    def chunk(kind: int, data: bytes) -> None:
        room = BLOCK - len(out) % BLOCK
        if room < HEADER:
            out.extend(b"\0" * room)
        out.extend(struct.pack("<IHB", 0, len(data), kind) + data)

    for r in records:
        chunk(1, r)
    for kind, data in chunks:
        chunk(kind, data)
    path.write_bytes(bytes(out))
    return path


def wandb_history(step_json: str, items: dict[str, str]) -> bytes:
    from wandb.proto import wandb_internal_pb2 as pb

    record = pb.Record()
    record.history.item.add(key="_step", value_json=step_json)
    for key, value in items.items():
        if "." in key:
            record.history.item.add(nested_key=key.split("."), value_json=value)
        else:
            record.history.item.add(key=key, value_json=value)
    return record.SerializeToString()


def wandb_hostile(root: Path) -> Path:
    """One offline run whose history has every shape that crashed the importer, between good rows."""
    from wandb.proto import wandb_internal_pb2 as pb

    run = pb.Record()
    run.run.run_id, run.run.display_name, run.run.project = "hostile", "hostile", "proj"
    records = [run.SerializeToString()]
    records += [wandb_history(str(s), {"loss": str(1.0 / (s + 1))}) for s in range(5)]
    records += [wandb_history('"abc"', {"loss": "1"}), wandb_history("1e999", {"loss": "1"}),
                wandb_history(str(10**30), {"loss": "1"}), wandb_history("6", {"big": str(10**400), "loss": "0.1"}),
                wandb_history("7", {"deep": "[" * 30_000 + "]" * 30_000, "loss": "0.05"}),
                wandb_history("8", {"a": "1", "a.b": "2"})]
    config = pb.Record()
    config.config.update.add(key="huge_int", value_json=json.dumps({"value": 10**30}))
    config.config.update.add(key="lr", value_json=json.dumps({"value": 0.1}))
    records.append(config.SerializeToString())
    folder = root / "offline-run-20260101_000000-hostile"
    return wandb_log(folder / "run-hostile.wandb", records,
                     chunks=[(3, b"\x00" * 30_000)] * 700)  # 20 MB of MIDDLE chunks with no start


# MLflow --------------------------------------------------------------------------------------------------

def mlflow_files(root: Path, private: Path) -> Path:
    """An mlruns file store with one run whose params and tags link to a private file."""
    exp = root / "1"
    run = exp / "abc"
    for sub in ("params", "tags", "metrics"):
        (run / sub).mkdir(parents=True)
    (exp / "meta.yaml").write_text("name: exp\nexperiment_id: '1'\n")
    (run / "meta.yaml").write_text("run_name: linked\nstatus: 3\nstart_time: 1000\nend_time: 5000\n")
    (run / "params" / "lr").write_text("0.1")
    (run / "params" / "x").symlink_to(private)
    (run / "tags" / "y").symlink_to(private)
    (run / "metrics" / "loss").write_text("1000 0.5 0\n2000 0.25 1\nbroken line\n")
    (run / "metrics" / "stolen").symlink_to(private)
    return root


def mlflow_db(path: Path, *, recursive_view: bool = False, no_params: bool = False) -> Path:
    """A tracking database in MLflow's schema (the columns ol reads) with rows of every bad shape."""
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE experiments (experiment_id INTEGER, name TEXT);
        CREATE TABLE runs (run_uuid TEXT, name TEXT, status TEXT, start_time INTEGER, end_time INTEGER,
                           lifecycle_stage TEXT, experiment_id INTEGER);
        CREATE TABLE tags (key TEXT, value TEXT, run_uuid TEXT);
        INSERT INTO experiments VALUES (1, 'exp');
        INSERT INTO runs VALUES ('good', 'good', 'FINISHED', 1000, 2000, 'active', 1);
        INSERT INTO runs VALUES ('orphan', 'orphan', 'FINISHED', 1000, 2000, 'active', 99);
    """)
    if not no_params:
        con.execute("CREATE TABLE params (key TEXT, value TEXT, run_uuid TEXT)")
        con.execute("INSERT INTO params VALUES ('lr', '0.1', 'good')")
        con.execute("INSERT INTO params VALUES ('huge', ?, 'good')", ("x" * 300_000,))
    if recursive_view:
        con.execute("CREATE VIEW metrics AS WITH RECURSIVE r(key, value, timestamp, step, is_nan, run_uuid) AS "
                    "(SELECT 'k', 1.0, 1, 0, 0, 'good' UNION ALL SELECT key, value, timestamp, step + 1, is_nan, "
                    "run_uuid FROM r) SELECT * FROM r")
    else:
        con.execute("CREATE TABLE metrics (key TEXT, value, timestamp, step, is_nan INTEGER, run_uuid TEXT)")
        rows = [("loss", 0.5, 1000, 0, 0, "good"), ("loss", 0.25, 2000, 1, 0, "good"),
                ("loss", 0.1, 3000, None, 0, "good"), ("loss", 0.1, None, 3, 0, "good"),
                ("loss", "text", 4000, 4, 0, "good"), ("loss", 0.5, 1000, 0, 0, "orphan")]
        con.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()
    return path


# CSV -----------------------------------------------------------------------------------------------------

def csv_hostile(folder: Path, private: Path) -> Path:
    """A metrics CSV with a step of inf, a 131,072-character field and an epoch of 1e30 between good rows, and
    an hparams.yaml that links to a private file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "metrics.csv"
    path.write_text("step,epoch,loss\n0,0,1.0\ninf,0,2.0\n1,0," + "9" * 140_000 + "\n2,1e30,0.5\n3,1,0.25\n")
    (folder / "hparams.yaml").symlink_to(private)
    return path


def billion_laughs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    (folder / "hparams.yaml").write_text("\n".join(lines) + "\n")
    path = folder / "metrics.csv"
    path.write_text("step,loss\n0,1.0\n1,0.5\n")
    return path


# stores ------------------------------------------------------------------------------------------------

def sparse_and_wide(store: Path) -> None:
    """Two runs of the shapes that took every reader down: 1,000 scalar names each logged at its own 200 steps
    (as a TensorBoard folder of 1,000 tags imports), and one step of 10,000 columns (a wide CSV)."""
    from ol.producer.run import Run

    with Run.start(store=store, experiment="tb", run_id="sparse", handle_signals=False) as run:
        for tag in range(1000):
            for s in range(200):
                run.log({f"tag{tag}": float(s)}, step=tag * 200 + s)
    with Run.start(store=store, experiment="csv", run_id="wide", handle_signals=False) as run:
        run.log({f"c{i}": float(i) for i in range(10_000)}, step=0)
