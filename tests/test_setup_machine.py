"""The README's test command sets a fresh machine up: tests/setup_machine.py installs Slurm and Chromium with apt-get
where there are none (here against a stand-in apt-get that records what it was asked), and says in one line each
what to run where it cannot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("setup_machine.py")


def _run(bin_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "OL_CHROMIUM"} | {"PATH": str(bin_dir)}
    return subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.skipif(os.geteuid() != 0, reason="the install path is taken as root (or with sudo -n)")
def test_a_machine_without_chromium_gets_debians_package(tmp_path):
    log = tmp_path / "asked.txt"
    fake = tmp_path / "apt-get"
    # a stand-in apt-get: "update" works, and "install chromium" puts a chromium beside it, after an update
    fake.write_text(f"""#!/bin/sh
echo "$@" >> {log}
case "$1" in
  update) /usr/bin/touch {tmp_path}/updated ;;
  install) [ -f {tmp_path}/updated ] || exit 100
           case "$4" in
             chromium) tools=chromium ;;
             slurm-wlm) tools="slurmctld slurmd munged sbatch" ;;
           esac
           for t in $tools; do printf '#!/bin/sh\\n' > {tmp_path}/$t; /bin/chmod +x {tmp_path}/$t; done ;;
esac
""")
    fake.chmod(0o755)
    done = _run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "chromium").exists()
    assert log.read_text().splitlines() == ["install -y -q slurm-wlm munge", "update -q",
                                            "install -y -q slurm-wlm munge", "install -y -q chromium"]
    assert (tmp_path / "slurmctld").exists() and (tmp_path / "munged").exists()
    again = _run(tmp_path)  # found now: nothing asked
    assert again.returncode == 0 and len(log.read_text().splitlines()) == 4


def test_where_nothing_can_install_it_one_line_says_what_to_run(tmp_path):
    done = _run(tmp_path)  # no chromium, no Slurm, no apt-get
    assert done.returncode == 1  # the browser tests need Chromium; without Slurm, tests/cluster skip
    slurm, chromium = done.stderr.splitlines()
    assert "apt-get install slurm-wlm munge" in slurm and "tests/cluster will skip" in slurm
    assert "apt-get install chromium" in chromium
