"""Writing derived files (summaries, replay positions) into a store someone else may have prepared.

A derived file is never written through a link: each directory on the way is made here or must be a real
directory of this user's (a link or someone else's directory is refused, and the caller answers without
its derived file), and the file is written to a new, randomly named file opened with ``O_EXCL|O_NOFOLLOW``
and renamed over the old one (a rename replaces the name, never what a link there points to).
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from ol.store.errors import StoreError
from ol.store.log.sharing import group_folder, make_dir, share_file


class UnsafePath(StoreError):
    """A directory on the way to a derived file is a link, not a directory, or not this user's."""


def ensure_dir(root: Path, *parts: str, group_writes: bool = False) -> Path:
    """``root/parts…`` as real directories of this user's (or, in a shared store, of its group: a folder every
    member creates in, made group-writable when ``group_writes``), made where missing; UnsafePath otherwise."""
    path = Path(root)
    for part in parts:
        path = path / part
        try:
            make_dir(path, group_writes=group_writes, exist_ok=True)
        except PermissionError:
            raise UnsafePath(f"store: cannot create {path}: permission denied",
                             hint="a shared store's folders must be writable by its group (see "
                                  "docs/guides/shared-store.md)") from None
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) or (st.st_uid != os.geteuid() and not group_folder(st)):
            raise UnsafePath(f"store: {path} is not a directory of this user's or of a shared store's group (a "
                             "link or a planted file), so nothing is written there",
                             hint="delete it to let ol keep its derived files there")
    return path


def replace_file(folder: Path, name: str, data: bytes) -> Path:
    """Write ``folder/name`` whole (readers see the old file or the new, never half of one)."""
    tmp = Path(folder) / f".{name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        share_file(fd, folder)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, Path(folder) / name)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return Path(folder) / name
