"""Where a store's index lives and how its files are made, so a store someone else wrote cannot steer them.

The index is ``<store>/.index/`` when that is a real directory owned by this user (or can be made one).
When it is a symbolic link, not a directory, owned by someone else, or the store is read-only, the index
is kept instead under this user's cache (``$XDG_CACHE_HOME/ol/index/<hash of the store's path>``): the
answers are the same, nothing is written into the store, and nothing is written through a planted link.

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
from pathlib import Path

INDEX_DIR = ".index"
CATALOG = "catalog.sqlite"
DATA_DIR = "data"
LOCK = "indexer.lock"
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
            os.mkdir(path, 0o755)
            st = os.lstat(path)
        except OSError:  # a read-only store, or a race with another indexer that made it first
            try:
                st = os.lstat(path)
            except OSError:
                return False
    except OSError:
        return False
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and os.access(path, os.W_OK | os.X_OK))


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
    """A new, empty, private directory under ``parent``: nothing in it can be a planted link."""
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
