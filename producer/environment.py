"""Environment metadata for run-started events: what makes two runs comparable bit for bit."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys

from ol.schemas import Environment, Job
from ol.schemas.version import __version__


def git_revision(cwd: str | None = None) -> str:
    """The checkout's commit (with "+dirty" when modified), or "" outside a git checkout."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=2).stdout.strip()
        if not rev:
            return ""
        # --no-optional-locks: a status must not take the index lock and fail the user's own `git commit`
        dirty = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
                               cwd=cwd, capture_output=True, text=True, timeout=2).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def collect(device: str = "", deterministic: bool = False) -> Environment:
    """Describe this process. Torch versions only if torch is already imported (it is slow to import)."""
    torch_version = cuda = cudnn = ""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch_version = str(torch.__version__)
        cuda = str(torch.version.cuda or "")
        cudnn_v = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        cudnn = str(cudnn_v) if cudnn_v else ""
    return Environment(
        python=platform.python_version(),
        platform=platform.platform(),
        host=socket.gethostname(),
        pid=os.getpid(),
        argv=list(sys.argv),
        ol_version=__version__,
        torch=torch_version,
        cuda=cuda,
        cudnn=cudnn,
        device=device,
        deterministic=deterministic,
        git_revision=git_revision(),
        job=job(),
    )


JOB_OUTPUT = "OL_JOB_OUTPUT"  # set by `ol sweep` for each point's process: the file its stdout and stderr go to


def job(env=os.environ) -> Job | None:
    """The cluster job this process runs in, as Slurm's variables say (an array task's own and its array's ids,
    nodes, partition, requeues) and where its output goes when `ol sweep` started it; None outside both."""
    output = env.get(JOB_OUTPUT, "")
    if "SLURM_JOB_ID" not in env:
        return Job(scheduler="", output=output) if output else None
    try:
        restarts = int(env.get("SLURM_RESTART_COUNT", "0") or 0)
    except ValueError:
        restarts = 0
    return Job(job_id=env["SLURM_JOB_ID"], array_job_id=env.get("SLURM_ARRAY_JOB_ID", ""),
               array_task_id=env.get("SLURM_ARRAY_TASK_ID", ""),
               nodes=env.get("SLURM_JOB_NODELIST", env.get("SLURM_NODELIST", "")),
               partition=env.get("SLURM_JOB_PARTITION", ""), restarts=restarts, output=output)
