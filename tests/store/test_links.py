"""A store someone else prepared: links planted where ol keeps derived files are never written through."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ol.cli.app import app
from ol.producer.run import Run
from ol.store.log.derived import UnsafePath, ensure_dir, replace_file

runner = CliRunner()


def _hashes(root: Path) -> dict[str, str]:
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink():
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture
def store(tmp_path):
    with Run.start(store=tmp_path / "runs", experiment="e", run_id="r1", handle_signals=False) as run:
        for step in range(20):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("a user's file")
    return tmp_path / "runs", outside


@pytest.mark.parametrize("plant", ["cache_dir", "replay_dir", "position_file", "tmp_file", "index_dir"])
def test_read_commands_never_write_through_a_planted_link(store, tmp_path, plant, monkeypatch):
    root, outside = store
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    run = root / "e" / "r1"
    if plant == "cache_dir":
        (run / ".cache").symlink_to(outside, target_is_directory=True)
    elif plant == "replay_dir":
        (run / ".cache").mkdir()
        (run / ".cache" / "replay").symlink_to(outside, target_is_directory=True)
    elif plant == "index_dir":
        (root / ".index").symlink_to(outside, target_is_directory=True)
    else:
        (run / ".cache" / "replay").mkdir(parents=True)
        for name in ("tensorboard.json", ".tensorboard.json.tmp", "summary.json", ".summary.json.tmp"):
            (run / ".cache" / "replay" / name).symlink_to(outside / "precious.txt")
        (run / ".summary.json.tmp").symlink_to(outside / "precious.txt")
    before = _hashes(outside)
    for args in (["runs"], ["query", "SELECT count(*) FROM steps"], ["export", "r1", "-m", "loss"],
                 ["replay", "r1", "--to", "tensorboard", "--logdir", str(tmp_path / "tb")], ["index"]):
        result = runner.invoke(app, [*args, "--store", str(root)])
        assert "Traceback" not in result.output and "internal error" not in result.output, (args, result.output)
    assert _hashes(outside) == before and sorted(p.name for p in outside.iterdir()) == ["precious.txt"]


def test_derived_files_refuse_links_on_the_way_and_replace_links_at_the_end(tmp_path):
    target = tmp_path / "target"
    target.write_text("keep")
    (tmp_path / "link").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(UnsafePath):
        ensure_dir(tmp_path, "link")
    folder = ensure_dir(tmp_path, "real", "deeper")
    (folder / "out.json").symlink_to(target)
    replace_file(folder, "out.json", b"{}")
    assert target.read_text() == "keep" and (folder / "out.json").read_bytes() == b"{}"
    assert not (folder / "out.json").is_symlink()


def test_verify_never_reads_a_file_a_log_names_outside_its_run_or_through_a_link(tmp_path):
    """A log is untrusted: checkpoint and media-file events naming ``../…``, an absolute path or a path through a
    planted link are problems ``ol verify`` reports, and the file they name is never opened."""
    from ol.schemas import Checkpoint, MediaFile
    from ol.store.log.verify import verify_run

    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"private")
    digest = hashlib.sha256(b"private").hexdigest()
    run = Run.start(store=tmp_path / "runs", experiment="e", run_id="r", handle_signals=False)
    (run.dir / "media").symlink_to(tmp_path)
    run.emit(Checkpoint(step=0, path="../../../secret.bin", size=7, sha256=digest))
    run.emit(Checkpoint(step=0, path=str(secret), size=7, sha256=digest))
    run.emit(MediaFile(name="m", path="media/secret.bin", size=7, sha256=digest, media="video"))
    run.close()
    problems = verify_run(run.dir).problems
    assert sum("outside the run's folder" in p for p in problems) == 2
    assert any("video file media/secret.bin" in p and "through a link" in p for p in problems)
    result = runner.invoke(app, ["verify", str(run.dir)])
    assert result.exit_code == 1 and "through a link" in result.output
