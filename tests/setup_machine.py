"""What the test suite needs beyond pip, installed where it can be: the README's test command runs this.

- A Chromium for the dashboard's browser tests (Playwright drives the system's Chromium; it cannot download its
  own here). Found already (`chromium`, `chromium-browser`, or $OL_CHROMIUM): nothing is done. Otherwise, as root
  or with password-less sudo on Debian or Ubuntu, Debian's package is installed; anywhere else one line says
  what to run, and the exit code is 1.
- A real Slurm for tests/cluster (Debian's slurm-wlm and munge): installed the same way when absent; where it
  cannot be, one line says so and those tests skip saying why (the exit code stays 0).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

PACKAGES = ("chromium", "chromium-browser")  # Debian's name, then Ubuntu's


def found() -> str | None:
    return os.environ.get("OL_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


SLURM = ("slurm-wlm", "munge")  # slurmctld, slurmd, the client commands; munged


def slurm_found() -> bool:
    return all(shutil.which(tool) for tool in ("slurmctld", "slurmd", "munged", "sbatch"))


def apt_install(packages: list[str], there) -> bool:
    """Install ``packages`` with apt-get as root (or sudo -n); True when ``there()`` afterwards."""
    if shutil.which("apt-get") is None:
        return False
    prefix = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if prefix is None:
        return False
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
             "env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}}
    if subprocess.run([*prefix, "apt-get", "install", "-y", "-q", *packages], **quiet).returncode != 0:
        subprocess.run([*prefix, "apt-get", "update", "-q"], **quiet)  # a fresh machine has no package lists
        subprocess.run([*prefix, "apt-get", "install", "-y", "-q", *packages], **quiet)
    return bool(there())


def main() -> int:
    if not slurm_found():
        print("tests: installing Slurm (Debian's slurm-wlm and munge) for the real-cluster tests …", flush=True)
        if not apt_install(list(SLURM), slurm_found):
            print("tests: Slurm could not be installed here; tests/cluster will skip (apt-get install slurm-wlm "
                  "munge, as root, to run them)", file=sys.stderr)
    if found():
        return 0
    print("tests: installing Chromium (Debian's package) for the browser tests …", flush=True)
    if any(apt_install([package], found) for package in PACKAGES):
        return 0
    print("tests: the browser tests need Chromium and it could not be installed here: run "
          "`sudo apt-get install chromium` (Ubuntu: chromium-browser), or set OL_CHROMIUM to a Chromium binary",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
