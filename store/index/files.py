"""Where a store's index lives and how its files are made, so a store someone else wrote cannot steer them.

The index is ``<store>/.index/`` when that is a real directory owned by this user (or can be made one), or a
lab's index: in a shared store (store/log/sharing.py) the folder of a group this user is in, writable by that
group and no one else. When it is a symbolic link, not a directory, someone else's, or the store is read-only,
the index is kept instead under this user's cache (``$XDG_CACHE_HOME/ol/index/<hash of the store's path>``):
the answers are the same, nothing is written into the store, and nothing is written through a planted link.

Whose catalogs are believed: a private index is sealed with this user's key (``~/.config/ol/index.key``), so
a catalog from anyone else — a store copied, downloaded or shared — is rebuilt. A lab's index is sealed with
the lab's key, ``.index/lab.key``: readable by the store's group and no one else, so every member's indexer
builds the index once for all of them and no one outside the group can seal a catalog they would believe. The
seal also binds that very file (its inode and change time, which no copy keeps), so a store copied from
elsewhere — its key file and all — is rebuilt too.

Files are never opened by name for writing: a batch is written into a fresh directory that ``mkdtemp``
creates (mode 0700, so nothing can be planted in it) and renamed into place whole; files are opened with
``O_NOFOLLOW``; the catalog is refused when it is a link.
"""

from __future__ import annotations

import functools
import hashlib
import os
import secrets
import stat
import tempfile
import time
from pathlib import Path

from ol.store.log.sharing import group_folder, make_dir

INDEX_DIR = ".index"
CATALOG = "catalog.sqlite"
DATA_DIR = "data"
LOCK = "indexer.lock"
LAB_KEY = "lab.key"
SERIES_FILE = "series.arrow"  # in each batch: every run's series and its coarser levels (store/read/series.py)


def index_home(store: Path) -> Path:
    """The directory holding this store's index, made if missing; see the module docstring for when it is
    not ``<store>/.index``."""
    store = Path(store)
    inside = store / INDEX_DIR
    if _usable(inside, create=True):
        return inside
    key = hashlib.sha256(str(store.resolve()).encode()).hexdigest()[:24]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ol" / "index" / key
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not _usable(base, create=False):
        raise OSError(f"index: neither {inside} nor {base} is a directory this user owns")
    return base


def _usable(path: Path, create: bool) -> bool:
    """A real directory (not a link) owned by this user, writable; made when missing and ``create``."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not create:
            return False
        try:
            make_dir(path, group_writes=True)  # in a shared store, the lab's index
            st = os.lstat(path)
        except OSError:  # a read-only store, or a race with another indexer that made it first
            try:
                st = os.lstat(path)
            except OSError:
                return False
    except OSError:
        return False
    return (stat.S_ISDIR(st.st_mode) and (st.st_uid == os.geteuid() or group_folder(st))
            and os.access(path, os.W_OK | os.X_OK))


def index_key(home: Path) -> bytes:
    """The key that seals the catalog in ``home``: the lab's for a lab's index, else this user's."""
    st = os.lstat(home)
    return _lab_key(str(home), st.st_gid) if group_folder(st) else user_key()


KEY_BYTES = 32
MAKING_WAIT = (100, 0.01)  # a key file seen before its maker wrote it: looked at again this often, this long apart


@functools.lru_cache(maxsize=4)
def _lab_key(home: str, gid: int) -> bytes:
    path = os.path.join(home, LAB_KEY)
    for _ in range(MAKING_WAIT[0]):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            _make_lab_key(path, gid)
            continue
        except OSError as e:
            raise OSError(f"index: {path} cannot be read as the lab's key ({e.strerror}); delete it and the index is "
                          "built again with a new one") from None
        try:
            st, data = os.fstat(fd), os.read(fd, KEY_BYTES + 1)
        finally:
            os.close(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_gid != gid or st.st_mode & 0o077 != 0o040:
            raise OSError(f"index: {path} must be a file readable by the store's group and no one else (mode 640, "
                          "group of .index); fix it or delete it, and the index is built again")
        if len(data) == KEY_BYTES and st.st_nlink == 1:
            # bound to this very file: a copy (another inode, a change time of its own) seals nothing we believe
            return hashlib.blake2b(f"ol-lab:{st.st_ino}:{st.st_ctime_ns}".encode(), key=data).digest()
        time.sleep(MAKING_WAIT[1])  # its maker is writing it
    raise OSError(f"index: {path} is not a whole key (its maker was stopped); delete it and the index is built "
                  "again with a new one")


def _make_lab_key(path: str, gid: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return  # another member's indexer made it first: theirs is the lab's
    try:
        os.fchown(fd, -1, gid)
        os.fchmod(fd, 0o640)  # before the key is in it; nothing changes the file after it is written
        os.write(fd, secrets.token_bytes(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)


@functools.lru_cache(maxsize=4)
def _key_at(folder: str) -> bytes:
    return _read_or_make_key(Path(folder))


def user_key() -> bytes:
    """This user's secret for sealing the catalogs its indexers make (``$XDG_CONFIG_HOME/ol/index.key``,
    mode 0600), made on first use. A catalog sealed with another key was made by someone else — a store
    copied, downloaded or shared — and is rebuilt, never believed."""
    # string operations, not pathlib: a catalog read seals-checks every run's row with it
    return _key_at(os.path.join(os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"), "ol"))


def _read_or_make_key(folder: Path) -> bytes:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / "index.key"
    if regular_file(path) is None:
        tmp = folder / f".index.key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = open_exclusive(tmp)
        try:
            os.write(fd, secrets.token_bytes(32))
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # whole or not at all; a second process that got there first wins
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    st = regular_file(path)
    if st is None or st.st_uid != os.geteuid():
        raise OSError(f"index: {path} is not a regular file of this user's; delete it")
    with open(path, "rb") as f:
        return f.read()


def fresh_dir(parent: Path, prefix: str) -> Path:
    """A new, empty, private directory under ``parent``: nothing in it can be a planted link (it is shared with a
    lab's group, ``share_dir``, once written)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def regular_file(path: Path) -> os.stat_result | None:
    """The stat of ``path`` when it is a regular file and not a link, else None."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def file_identity(path: Path) -> list[int] | None:
    """What says a file is still the one the index wrote: size, modification time (ns) and inode."""
    st = regular_file(path)
    return None if st is None else [st.st_size, st.st_mtime_ns, st.st_ino]


def open_exclusive(path: Path) -> int:
    """A new file for writing: fails if anything, a link included, is already there."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
