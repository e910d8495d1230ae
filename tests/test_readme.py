"""The README is a front page, and every command in it works as written: its first command's training, the tour
in order in a fresh folder (servers started, seen serving, and ended), its Python lines imported. The installs
(`pip install …`) are how this environment was made, and the test command is what is running."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.processes import ended

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```", re.M | re.S)
SERVERS = {"ol ui": ("--port", r"http://127\.0\.0\.1:\d+/"), "mkdocs serve": ("--dev-addr", r"Serving on http")}


def test_the_readme_is_a_front_page():
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    assert "docs/assets/screenshots/workspace-light.png" in text and "CONTRIBUTING.md" in text


def test_every_readme_command_works_as_written(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OL_STORE"}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", MPLBACKEND="Agg", NO_COLOR="1")
    ran = 0
    for language, code in BLOCK.findall(README.read_text()):
        if language == "python":
            done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=300)
            assert done.returncode == 0, f"{code}\n{done.stderr[-2000:]}"
            ran += 1
            continue
        for line in code.splitlines():
            command = line.split("  #")[0].strip()
            if not command or "pytest" in command:
                continue  # the test command: what is running now
            parts = [p for p in command.split(" && ") if not p.startswith("pip install")]  # how this env was made
            for part in parts:
                server = next((s for s in SERVERS if part.startswith(s)), None)
                if server:
                    _serves(part, server, tmp_path, env)
                else:
                    done = subprocess.run(["bash", "-euo", "pipefail", "-c", part], cwd=tmp_path, env=env,
                                          capture_output=True, text=True, timeout=900)
                    assert done.returncode == 0, f"{part}\n{done.stdout[-1000:]}\n{done.stderr[-2000:]}"
                ran += 1
    assert ran >= 10 and (tmp_path / "accuracy.png").stat().st_size > 10_000


def _serves(command: str, server: str, cwd: Path, env: dict) -> None:
    """Start a server command as written (on a free port, so tests in parallel never collide), see it serve, end it."""
    flag, ready = SERVERS[server]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    where = str(port) if flag == "--port" else f"127.0.0.1:{port}"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(["bash", "-c", f"exec {command} {flag} {where}"], cwd=root if server == "mkdocs serve"
                            else cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with ended(proc):
        deadline, seen = time.time() + 120, ""
        while time.time() < deadline and not re.search(ready, seen):
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            seen += line
        assert re.search(ready, seen), f"{command} never served:\n{seen[-2000:]}"
