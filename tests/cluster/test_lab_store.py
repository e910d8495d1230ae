"""A store a lab shares, with real Unix users: two members of the store's group and one outsider, each with a
umask of 077. Each member writes runs, each reads everyone's, the index is built once for all of them (a
member's first `ol runs` writes no batch and nothing under their home), a colleague's indexer retires and
replaces batches, and neither an outsider nor a copy of the store is believed."""

from __future__ import annotations

import grp
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.cluster import users

pytestmark = pytest.mark.skipif(users.unavailable() is not None, reason=str(users.unavailable()))

RECORD = """
import sys
from ol.producer import Run
from ol.schemas import RunContract
run = Run.start(sys.argv[1], experiment="lab", strategy=sys.argv[2], seed=int(sys.argv[3]),
                contract=RunContract(main_metric="eval/acc", direction="higher"))
for step in range(30):
    run.log({"loss": 1.0 / (step + 1)}, step=step)
    if step % 10 == 9:
        run.log({"acc": step / 100 + int(sys.argv[3]) / 1000}, step=step, source="eval")
run.close()
print(run.run_id)
"""


@pytest.fixture(scope="module")
def lab():
    users.ensure_users()
    root = Path(tempfile.mkdtemp(prefix="ol-lab-"))  # pytest's own folders are root's alone: others cannot enter
    try:
        yield users.people(root), root
    finally:
        shutil.rmtree(root)


@pytest.fixture
def area(lab):
    """A folder of this test's that the users can enter."""
    path = Path(tempfile.mkdtemp(dir=lab[1]))
    path.chmod(0o755)
    return path


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _runs(user: users.User, store: Path) -> list[dict]:
    return json.loads(_ok(user.ol("runs", "--store", str(store), "-f", "json")))


def _batches(store: Path) -> set[str]:
    return {p.name for p in (store / ".index" / "data").iterdir() if not p.name.startswith(".")}


def test_members_write_and_read_everyones_runs_indexed_once(lab, area):
    people, _ = lab
    alice, bob = people["ol-alice"], people["ol-bob"]
    store = users.shared_store(area)
    mine = [_ok(alice.python(RECORD, str(store), "stride", str(seed))).strip() for seed in (0, 1)]
    theirs = _ok(bob.python(RECORD, str(store), "random", "0")).strip()  # into the folder alice's first run made

    listed = _runs(alice, store)  # alice's indexer builds the lab's index
    assert sorted(r["run_id"] for r in listed) == sorted([*mine, theirs])
    built = _batches(store)
    assert built

    listed = _runs(bob, store)  # bob's first read believes alice's catalog: nothing indexed again
    assert sorted(r["run_id"] for r in listed) == sorted([*mine, theirs])
    assert {r["run_id"]: r["main_best"] for r in listed}[theirs] == pytest.approx(0.29)
    assert _batches(store) == built
    assert not (bob.home / ".cache").exists(), "bob kept a private index"

    lab_gid = grp.getgrnam(users.GROUP).gr_gid
    data = store / ".index" / "data"
    for path in [store / "lab", store / ".index", data, *data.iterdir()]:
        st = os.lstat(path)
        assert st.st_gid == lab_gid and stat.S_IMODE(st.st_mode) == 0o2770, (path, oct(st.st_mode))
    for name in ("catalog.sqlite", "indexer.lock"):
        assert stat.S_IMODE(os.lstat(store / ".index" / name).st_mode) == 0o660, name
    key = os.lstat(store / ".index" / "lab.key")
    assert key.st_gid == lab_gid and stat.S_IMODE(key.st_mode) == 0o640
    for run_dir in (store / "lab").iterdir():
        assert stat.S_IMODE(os.lstat(run_dir).st_mode) == 0o2750
        for f in (p for p in run_dir.rglob("*") if p.is_file()):
            assert stat.S_IMODE(os.lstat(f).st_mode) & 0o077 == 0o040, (f, oct(os.lstat(f).st_mode))

    # a new run of alice's is indexed by bob's read; alice believes bob's batch in turn
    newest = _ok(alice.python(RECORD, str(store), "stride", "2")).strip()
    assert newest in {r["run_id"] for r in _runs(bob, store)}
    after_bob = _batches(store)
    assert len(after_bob) == len(built) + 1
    assert newest in {r["run_id"] for r in _runs(alice, store)}
    assert _batches(store) == after_bob

    # bob's indexer retires alice's batches and replaces them; its collector deletes them; alice believes it all
    _ok(bob.ol("index", "rebuild", "--store", str(store)))
    assert not _batches(store) & after_bob
    _ok(bob.ol("index", "gc", "--store", str(store), "--grace", "0"))
    rebuilt = _batches(store)
    assert len(_runs(alice, store)) == 4
    assert _batches(store) == rebuilt


def test_an_outsider_can_neither_read_nor_forge_the_lab_index(lab, area):
    people, root = lab
    alice, mallory = people["ol-alice"], people["ol-mallory"]
    store = users.shared_store(area, others_read=True)  # the store readable by all: the key still is not
    run_id = _ok(alice.python(RECORD, str(store), "stride", "0")).strip()
    assert _runs(alice, store)[0]["main_best"] == pytest.approx(0.29)

    assert "Permission denied" in mallory.python(
        "import sys; open(sys.argv[1], 'rb').read()", str(store / ".index" / "lab.key")).stderr
    # mallory reads the store (others may) into her own index, under her home: the lab's is not hers to write
    assert _runs(mallory, store)[0]["run_id"] == run_id
    assert (mallory.home / ".cache" / "ol" / "index").is_dir()
    assert mallory.python("import sys; open(sys.argv[1] + '/x', 'w')", str(store / ".index")).returncode != 0

    # her catalog, its record edited and sealed with the only key she has (her own), put in the lab's place
    # (as if she could write there): alice does not believe a row of it
    forged = next((mallory.home / ".cache" / "ol" / "index").iterdir()) / "catalog.sqlite"
    con = sqlite3.connect(forged)
    record = json.loads(con.execute("SELECT record FROM runs").fetchone()[0])
    record["main_best"] = 0.99
    con.execute("UPDATE runs SET record = ?", (json.dumps(record),))
    con.commit()
    con.close()
    shutil.copy(forged, store / ".index" / "catalog.sqlite")
    listed = _runs(alice, store)
    assert listed[0]["main_best"] == pytest.approx(0.29)


def test_a_copy_of_a_lab_store_key_and_all_is_indexed_again(lab, area):
    people, _ = lab
    alice, bob = people["ol-alice"], people["ol-bob"]
    store = users.shared_store(area / "a")
    _ok(alice.python(RECORD, str(store), "stride", "0"))
    _runs(alice, store)
    copy = area / "b" / "store"
    copy.parent.mkdir()
    copy.parent.chmod(0o755)
    subprocess.run(["cp", "-a", str(store), str(copy)], check=True)  # owners, group, modes, the key: all kept
    copied = _batches(copy)
    assert copied == _batches(store)
    assert len(_runs(bob, copy)) == 1
    assert list((copy / ".index").glob("catalog.sqlite.damaged-*")), "a copied catalog was believed"
    assert _batches(copy) - copied, "the copy's runs were not indexed again"
