"""A real single-node Slurm for the tests: munged, slurmctld and slurmd from Debian's packages (slurm-wlm, munge;
tests/setup_machine.py installs them), started as root in the foreground in a temporary folder, on free ports,
and ended with the test. Where they cannot run, ``needs_slurm`` skips with one line saying why."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

DAEMONS = ("munged", "slurmctld", "slurmd")


def needs_slurm() -> None:
    missing = [d for d in (*DAEMONS, "sbatch", "squeue", "scontrol") if shutil.which(d) is None]
    if missing:
        pytest.skip(f"no Slurm here ({', '.join(missing)} missing): apt-get install slurm-wlm munge, as "
                    "tests/setup_machine.py does")
    if os.geteuid() != 0:
        pytest.skip("the real-Slurm tests start Slurm's daemons, which runs them as root")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def slurm_cluster(root: Path):
    """Slurm on this machine, one partition of one node: yields the environment its commands need."""
    needs_slurm()
    root.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    state = {name: root / name for name in ("munge", "ctld", "d")}
    for folder in state.values():
        folder.mkdir(mode=0o700)
    key = state["munge"] / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    socket_path = state["munge"] / "munge.socket"
    conf = root / "slurm.conf"
    conf.write_text(f"""ClusterName=oltest
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={socket_path},cred_expire=10
CryptoType=crypto/munge
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
StateSaveLocation={state['ctld']}
SlurmdSpoolDir={state['d']}
SlurmctldPidFile={root / 'slurmctld.pid'}
SlurmdPidFile={root / 'slurmd.pid'}
SlurmctldLogFile={root / 'slurmctld.log'}
SlurmdLogFile={root / 'slurmd.log'}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={root / 'jobcomp.txt'}
MpiDefault=none
ReturnToService=2
NodeName={host} CPUs={os.cpu_count() or 1} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
    env = {**os.environ, "SLURM_CONF": str(conf)}
    logs = open(root / "daemons.log", "ab")  # noqa: SIM115 - closed when the daemons are
    munge = state["munge"]
    daemons = [subprocess.Popen(["munged", "--foreground", "--force", f"--socket={socket_path}", f"--key-file={key}",
                                 f"--pid-file={munge / 'munged.pid'}", f"--seed-file={munge / 'seed'}",
                                 f"--log-file={munge / 'munged.log'}"], stdout=logs, stderr=logs, env=env)]
    try:
        _wait(lambda: socket_path.exists(), "munged's socket", root)
        daemons.append(subprocess.Popen(["slurmctld", "-D", "-f", str(conf)], stdout=logs, stderr=logs, env=env))
        daemons.append(subprocess.Popen(["slurmd", "-D", "-f", str(conf)], stdout=logs, stderr=logs, env=env))
        _wait(lambda: subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True,
                                     timeout=10).stdout.strip() == "idle", "an idle node", root)
        yield env
    finally:
        subprocess.run(["scancel", "--full", "--user=root"], env=env, capture_output=True, timeout=30)
        deadline = time.time() + 60  # Slurm ends what it ran while its daemons are still there to do it
        while len(daemons) == 3 and time.time() < deadline and squeue(env):
            time.sleep(0.5)
        for daemon in reversed(daemons):
            daemon.terminate()
        for daemon in reversed(daemons):
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        logs.close()
        _end_steps(root)


def _end_steps(root: Path) -> None:
    """Kill what is left of this cluster's job steps: a slurmstepd outlives its slurmd, and one of a job that was
    still ending when the daemons stopped would stay for good. Ours are the ones with a file open under ``root``."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().strip() != "slurmstepd":
                continue
            ours = any(str(fd.readlink()).startswith(str(root)) for fd in (proc / "fd").iterdir())
        except OSError:  # gone meanwhile
            continue
        if ours:
            try:
                os.kill(int(proc.name), 9)
            except ProcessLookupError:
                pass


def _wait(ready, what: str, root: Path, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ready():
            return
        time.sleep(0.2)
    tail = "".join((root / name).read_text(errors="replace")[-2000:] for name in ("slurmctld.log", "slurmd.log")
                   if (root / name).exists())
    raise AssertionError(f"Slurm never showed {what} in {timeout:.0f} s:\n{tail}")


def squeue(env: dict, fmt: str = "%i %T %r") -> list[str]:
    return subprocess.run(["squeue", "-h", "-r", "-o", fmt], env=env, capture_output=True, text=True,
                          timeout=30).stdout.split("\n")[:-1]


def completed_jobs(root: Path, raw: bool = False) -> dict[str, str]:
    """Each finished job's id and state (``raw``: its whole line), as Slurm's job-completion log says (this cluster
    keeps no accounting database; `sacct -c` reads the same log)."""
    out = {}
    path = root / "jobcomp.txt"
    for line in (path.read_text().splitlines() if path.exists() else []):
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        out[fields["JobId"]] = line + " " if raw else fields["JobState"]
    return out
