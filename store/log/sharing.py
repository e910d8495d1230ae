"""A store a lab shares: what ol creates in it stays usable by the store's group, whatever each person's umask.

A store is shared by its own directory: ``chgrp lab STORE && chmod 2770 STORE`` (2775 to let everyone read).
Linux gives every directory made inside a set-group-id directory the same group and the set-group-id bit, so
each directory of a shared store says so itself; ol reads it from the folder it creates something in and sets
the mode explicitly (a batch job's umask of 077 would otherwise hide a run from the colleagues it is for):

- folders every member creates in (experiment folders, the index, its batches): rwx for the group (2770);
- a run's folders and files: readable by the group, written by their writer only (2750, 0640);
- what every member's indexer opens for writing (the catalog, the indexer lock): 0660.

Others get read (and search) only where the folder it is made in gives them. In a folder without the
set-group-id bit nothing changes: a private store's files keep the modes they always had.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

GROUP_READS, GROUP_WRITES = 0o750, 0o770


def shared(folder: Path | str) -> int | None:
    """The read/search bits others have on ``folder`` when it is a shared store's folder (set-group-id), else
    None."""
    try:
        st = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or not st.st_mode & stat.S_ISGID:
        return None
    return st.st_mode & 0o005


def make_dir(path: Path, *, group_writes: bool = False, exist_ok: bool = False) -> bool:
    """Make the folder ``path``; in a shared store give it the group's mode (see the module docstring). Returns
    whether it was made here (an existing one is left as it is)."""
    path = Path(path)
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        if exist_ok:
            return False
        raise
    share_dir(path, group_writes=group_writes)
    return True


def share_dir(path: Path, *, group_writes: bool = False) -> None:
    """Give a folder made here (by ``mkdir`` or ``mkdtemp``) the group's mode when its parent is shared."""
    others = shared(Path(path).parent)
    if others is not None and os.lstat(path).st_uid == os.geteuid():  # only its owner may change a mode
        os.chmod(path, stat.S_ISGID | (GROUP_WRITES if group_writes else GROUP_READS) | others)


def share_file(fd: int, folder: Path | str, *, group_writes: bool = False) -> None:
    """Give a file made here (open with O_CREAT) the group's mode when its folder is shared."""
    others = shared(folder)
    if others is not None and os.fstat(fd).st_uid == os.geteuid():
        os.fchmod(fd, (0o660 if group_writes else 0o640) | (others & 0o004))


def group_folder(st: os.stat_result) -> bool:
    """Whether a folder someone else made is one ol may create in: a shared store's folder, writable by a group
    this user is in and by no one else (a colleague's experiment folder, the lab's index)."""
    mode = st.st_mode
    return (stat.S_ISDIR(mode) and bool(mode & stat.S_ISGID) and bool(mode & stat.S_IWGRP)
            and not mode & stat.S_IWOTH and st.st_gid in my_groups())


def my_groups() -> set[int]:
    return {os.getegid(), *os.getgroups()}


def make_dirs(root: Path, *parts: str, group_writes_first: bool = False) -> Path:
    """``root/parts…``, each folder made where missing with the group's mode (the first one group-writable when
    asked: a store's experiment folder, where every member makes runs)."""
    path = Path(root)
    for n, part in enumerate(parts):
        path = path / part
        make_dir(path, group_writes=group_writes_first and n == 0, exist_ok=True)
    return path
