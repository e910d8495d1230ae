"""The documentation site (docs/, mkdocs.yml) cannot rot: it builds with --strict (no broken link or reference),
every block a guide marks runnable (```{.bash .run} or ```{.python .run}) runs as written in a fresh folder, page
by page in order, and the generated reference names every command, public name and environment variable."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
RUNNABLE = re.compile(r"^```\{\.(bash|python) \.run\}\n(.*?)^```", re.M | re.S)
PAGES = sorted(p for p in DOCS.rglob("*.md") if RUNNABLE.search(p.read_text()))
MIN_RUNNABLE = 40


def blocks(page: Path) -> list[tuple[str, str]]:
    return RUNNABLE.findall(page.read_text())


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_a_pages_runnable_blocks_run_as_written(page, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OL_STORE"}  # the guides' store is ./runs, as a reader's is
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", MPLBACKEND="Agg",
               NO_COLOR="1", COLUMNS="120", WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DIR=str(tmp_path),
               WANDB_CACHE_DIR=str(tmp_path / ".wandb-cache"), WANDB_CONFIG_DIR=str(tmp_path / ".wandb-config"),
               WANDB_DATA_DIR=str(tmp_path / ".wandb-data"))
    for n, (language, code) in enumerate(blocks(page), 1):
        argv = ["bash", "-euo", "pipefail", "-c", code] if language == "bash" else [sys.executable, "-c", code]
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (f"{page.relative_to(ROOT)}, runnable block {n} failed:\n{code}\n"
                                      f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}")


def test_the_guides_hold_enough_runnable_blocks():
    assert sum(len(blocks(p)) for p in PAGES) >= MIN_RUNNABLE


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-5000:]
    return out


def test_the_site_builds_strict_and_its_cli_reference_names_every_command(site):
    import typer

    from ol.cli.app import app

    page = (site / "reference" / "cli" / "index.html").read_text()
    root = typer.main.get_command(app)
    ctx = root.make_context("ol", [], resilient_parsing=True)
    for name in root.list_commands(ctx):
        command = root.get_command(ctx, name)
        assert f"ol {name}" in page, name
        sub = getattr(command, "list_commands", None)
        for child in sub(ctx) if sub else []:
            assert f"ol {name} {child}" in page, f"{name} {child}"
        for param in command.params:
            for flag in param.opts:
                if flag.startswith("--"):
                    assert flag in page, f"ol {name} {flag}"


def test_the_python_reference_names_every_public_name(site):
    import ol

    page = (site / "reference" / "python" / "index.html").read_text()
    for name in (n for n in ol.__all__ if not n.startswith("_")):
        assert f"ol.{name}" in page, name
    assert "ol.producer.Run" in page and "OlLogger" in page and "OlCallback" in page


def test_every_environment_variable_the_code_reads_is_in_the_reference():
    read = set()
    for folder in ("ol", "cli", "consumers", "producer", "store", "schemas", "experiments"):
        for path in (ROOT / folder).rglob("*.py"):
            read |= set(re.findall(r"[\"'](OL_[A-Z_]+)[\"']", path.read_text()))
    page = (DOCS / "reference" / "environment.md").read_text()
    assert read and not {v for v in read if f"`{v}`" not in page}
