"""Scripts shaped like W&B's own documentation examples, run under the real wandb client (offline) and, with their
import line changed, under ol's module: no call ends the script, every number lands at the same step with the
same value, every media value W&B kept (images, lists of images, tables, histograms, text, charts' data) is in
the store under the key W&B gave it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from wandb_records import offline_env, read_wandb_file  # noqa: E402

from ol.consumers.analytics.sql import connect  # noqa: E402
from ol.store.read.snapshot import open_snapshot  # noqa: E402

HEAD = "import sys\nimport numpy as np\nimport wandb\n"
CORPUS = {
    "classification": '''
run = wandb.init(project="corpus", id="cls", config={"lr": 0.01, "epochs": 3}, dir=sys.argv[1])
rng = np.random.default_rng(0)
for epoch in range(wandb.config.epochs):
    wandb.log({"train/loss": 1.0 / (epoch + 1), "val/acc": 0.5 + 0.1 * epoch, "epoch": epoch})
wandb.log({"examples": [wandb.Image(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8), caption=f"pred {i}")
                        for i in range(3)]})
wandb.log({"one": wandb.Image(np.zeros((6, 4, 3), dtype=np.uint8))})
wandb.log({"conf_mat": wandb.plot.confusion_matrix(y_true=[0, 1, 2, 2, 1], preds=[0, 2, 2, 2, 1],
                                                   class_names=["a", "b", "c"])})
wandb.finish()
''',
    "language_model": '''
run = wandb.init(project="corpus", id="lm", config={"vocab": 100}, dir=sys.argv[1])
for step in range(5):
    wandb.log({"loss": 3.0 - 0.1 * step, "ppl": float(np.exp(3.0 - 0.1 * step))})
wandb.log({"sample": "the cat sat on the mat"})
table = wandb.Table(columns=["prompt", "completion"])
table.add_data("once upon", "a time")
table.add_data("to be", "or not")
wandb.log({"samples": table})
wandb.log({"token_lengths": [3, 5, 7, 9, 11]})
wandb.finish()
''',
    "gan": '''
run = wandb.init(project="corpus", id="gan", dir=sys.argv[1])
for step in range(3):
    wandb.log({"g_loss": 1.0 + step, "d_loss": 0.5 * step, "grid": wandb.Image(np.zeros((16, 16, 3), np.uint8))})
wandb.log({"fakes": [wandb.Image(np.full((4, 4, 3), 40 * i, np.uint8)) for i in range(2)]})
wandb.log({"weights": wandb.Histogram(np.arange(10.0))})
points = wandb.Table(data=[[0, 1.0], [1, 2.0], [2, 1.5]], columns=["x", "y"])
wandb.log({"curve": wandb.plot.line(points, "x", "y", title="a curve")})
wandb.finish()
''',
    "sweep_style": '''
run = wandb.init(project="corpus", id="sweep", config={"lr": 0.1, "batch_size": 16}, dir=sys.argv[1])
lr, batch = wandb.config.lr, wandb.config["batch_size"]
wandb.config.update({"optimizer": "sgd"})
for step in range(4):
    wandb.log({"loss": lr * (4 - step) / batch}, step=step)
wandb.log({"acc": 0.9, "ok": True, "nothing": None, "half": np.float32(0.5)}, step=4)
wandb.run.summary["final"] = 1.25
wandb.finish()
''',
}


def _history(root: Path) -> list[dict]:
    """Every history row W&B wrote: plain values by key, media values rebuilt as the dicts W&B logged."""
    rows = []
    for path in sorted(root.rglob("run-*.wandb")):
        for rec in read_wandb_file(path):
            if rec.WhichOneof("record_type") != "history":
                continue
            row: dict = {}
            for item in rec.history.item:
                keys = list(item.nested_key) or [item.key]
                target = row
                for part in keys[:-1]:
                    target = target.setdefault(part, {})
                target[keys[-1]] = json.loads(item.value_json)
            rows.append(row)
    return rows


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_a_wandb_style_script_records_under_ol_what_it_records_under_wandb(tmp_path, name):
    pytest.importorskip("wandb")
    theirs, ours = tmp_path / "theirs.py", tmp_path / "ours.py"
    theirs.write_text(HEAD + CORPUS[name])
    ours.write_text((HEAD + CORPUS[name]).replace("import wandb\n", "from ol.integrations import wandb\n"))
    out, store = tmp_path / "wandb-out", tmp_path / "runs"
    out.mkdir()
    env = offline_env(tmp_path)
    for script, where in ((theirs, out), (ours, store)):
        done = subprocess.run([sys.executable, str(script), str(where)], env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, f"{script.name}: {done.stderr[-3000:]}"
    (run,) = open_snapshot(store).runs
    con = connect(store)
    rows = con.query("SELECT name, step, value FROM metrics").to_pylist()
    numbers = {(r["name"], r["step"]): r["value"] for r in rows}
    media = {(kind, r["name"], r["step"]) for kind in ("images", "tables", "histograms", "arrays")
             for r in con.query(f"SELECT name, step FROM {kind}").to_pylist()}
    checked = 0
    for row in _history(out):
        step = row.pop("_step")
        for key, value in row.items():
            if key.startswith("_") or key == "epoch" or value is None:
                continue  # W&B's own bookkeeping; ol's epoch is its epoch axis, not a metric
            checked += 1
            if isinstance(value, (int, float)):
                assert numbers[(key, step)] == pytest.approx(float(value), rel=1e-6), (key, step)
            elif isinstance(value, str):  # text: a one-column table at its step
                assert ("tables", key, step) in media, (key, step, media)
            elif isinstance(value, list):  # a vector: the array itself
                (array,) = con.query(f"SELECT shape, \"values\" FROM arrays WHERE name = '{key}'").to_pylist()
                assert (array["shape"], array["values"]) == ([len(value)], [float(v) for v in value]), key
            elif value.get("_type") == "image-file":
                assert ("images", key, step) in media, (key, step, media)
            elif value.get("_type") == "images/separated":
                assert {("images", f"{key}/{i}", step) for i in range(value["count"])} <= media, (key, media)
            elif value.get("_type") in ("table-file", "histogram"):
                kind = "tables" if value["_type"] == "table-file" else "histograms"
                assert (kind, key, step) in media, (key, step, value["_type"], media)
            else:
                raise AssertionError(f"a value of kind {value.get('_type')!r} ({key}) is not checked here")
    assert checked >= 5
    texts = con.query("SELECT name, data FROM tables WHERE name = 'sample'").to_pylist()
    if name == "language_model":
        assert json.loads(texts[0]["data"]) == [["the cat sat on the mat"]]
    if name == "sweep_style":
        assert run.config_now == {"lr": 0.1, "batch_size": 16, "optimizer": "sgd"} and run.summary["final"] == 1.25


REINIT = '''
assert wandb.run is None
run = wandb.init(project="corpus", id="again", dir=sys.argv[1])
wandb.log({"loss": 1.0})
wandb.log({"loss": 0.5, "acc": 0.75})
assert wandb.init(project="corpus", dir=sys.argv[1]) is run  # a script's default: the active run
assert run.summary["loss"] == 0.5 and wandb.summary["acc"] == 0.75  # the last value logged under each key
run.summary["best"] = 0.25
run.define_metric("score", summary="min,max")  # W&B's summary modes: the key reads back as {"min": …, "max": …}
for value in (0.2, 0.8, 0.5):
    wandb.log({"score": value})
assert run.summary["score"]["max"] == 0.8 and run.summary["score"]["min"] == 0.2
beside = wandb.init(project="corpus", id="beside", dir=sys.argv[1], reinit="create_new")
assert beside is not run and wandb.run is run
beside.log({"x": 1.0})
beside.finish()
wandb.finish()
assert wandb.run is None
'''


def test_init_again_and_the_summary_behave_as_wandbs(tmp_path):
    """wandb.run is None before init; init while a run is active returns it (reinit="create_new" starts one
    beside it); a summary reads back the last value logged under each key — the same script passes under both."""
    pytest.importorskip("wandb")
    env = offline_env(tmp_path)
    for module, where in (("import wandb", tmp_path / "wandb-out"), ("from ol.integrations import wandb",
                                                                     tmp_path / "runs")):
        where.mkdir()
        script = tmp_path / f"{where.name}.py"
        script.write_text(HEAD.replace("import wandb", module) + REINIT)
        done = subprocess.run([sys.executable, str(script), str(where)], env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, f"{module}: {done.stderr[-3000:]}"
    runs = {r.run_id: r for r in open_snapshot(tmp_path / "runs").runs}
    assert set(runs) == {"again", "beside"} and all(r.status == "completed" for r in runs.values())
    assert runs["again"].summary == {"best": 0.25}  # what the script set; the logged values are the metrics
    losses = connect(tmp_path / "runs").query("SELECT value FROM metrics WHERE run_id = 'again' AND name = 'loss' "
                                              "ORDER BY step").to_pylist()
    assert [r["value"] for r in losses] == [1.0, 0.5]
