"""Another tool's files, read as untrusted input: only regular files inside the source, reached without
following a link at any step, their sizes checked before anything is read.

An import folder may come from anywhere (a colleague's tarball, a cluster's scratch space): a link in it
(``params/x -> /etc/passwd``, ``hparams.yaml -> ~/.config/gh/hosts.yml``, ``events.out.tfevents.2 ->
/dev/zero``) must never make ``ol import`` copy a private file into the store or read forever. Every
file is opened component by component from the source's root with ``O_NOFOLLOW`` (a link anywhere on the
way is refused, with no window between a check and the open), must be a regular file by ``fstat`` (not a
FIFO, a device or a socket), and is refused past a size cap before it is read. The root itself is the
path the user named (resolved once: naming a link on purpose is the user's choice).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path

from ol.errors import UsageError

MAX_FILE_BYTES = 1 << 30  # an event file, a .wandb log, a metrics CSV
MAX_SMALL_BYTES = 1 << 20  # a parameter, a tag, a meta.yaml, an hparams.yaml


class Refused(ValueError):
    """A file of the source that is not read: a link, not a regular file, outside the source, or too large."""


class SourceTree:
    """The files of one import source under ``root``. Not thread-safe (it holds no state, but its files may
    change under it: each open checks again)."""

    def __init__(self, root: Path):
        self.root = Path(os.path.realpath(root))
        self.passed_over: list[str] = []  # what ``files`` found and did not list: links, FIFOs, devices


    def files(self, pattern: str, under: Path | None = None, recursive: bool = True) -> list[Path]:
        """Regular files whose name matches ``pattern`` below ``under`` (default: the root), sorted; links to
        files or folders are neither listed nor entered."""
        start = self.root if under is None else Path(under)
        found = []
        for folder, dirs, names in os.walk(start, followlinks=False):
            for name in names:
                path = Path(folder, name)
                if fnmatch(name, pattern):
                    if _is_regular(path):
                        found.append(path)
                    else:
                        self._pass_over(path)
            if not recursive:
                break
            for d in dirs:
                if os.path.islink(os.path.join(folder, d)):
                    self._pass_over(Path(folder, d))
            dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(folder, d)))
        return sorted(found)

    def _pass_over(self, path: Path) -> None:
        what = "a link, not followed" if os.path.islink(path) else "not a regular file, not read"
        self.passed_over.append(f"{path.relative_to(self.root)} is {what}")

    def read_bytes(self, path: Path, cap: int = MAX_FILE_BYTES) -> bytes:
        with self.open(path, cap) as f:
            return f.read(cap + 1)

    def read_text(self, path: Path, cap: int = MAX_SMALL_BYTES) -> str:
        return self.read_bytes(path, cap).decode("utf-8", errors="replace")

    def open(self, path: Path, cap: int = MAX_FILE_BYTES):
        """A binary file object for ``path``, opened without following any link from the root down."""
        relative = self._relative(path)
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for part in relative.parts[:-1]:
                try:
                    inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                except OSError as e:
                    raise Refused(f"{relative}: {part} is a link or not a folder ({e.strerror})") from None
                os.close(fd)
                fd = inner
            try:
                leaf = os.open(relative.parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
            except OSError as e:
                raise Refused(f"{relative} is a link or cannot be opened ({e.strerror})") from None
        finally:
            os.close(fd)
        info = os.fstat(leaf)
        if not stat.S_ISREG(info.st_mode):
            os.close(leaf)
            raise Refused(f"{relative} is not a regular file")
        if info.st_size > cap:
            os.close(leaf)
            raise Refused(f"{relative} is {info.st_size:,} bytes, over the {cap:,} an import reads of such a file")
        os.set_blocking(leaf, True)
        return os.fdopen(leaf, "rb")

    def _relative(self, path: Path) -> Path:
        path = Path(path)
        absolute = Path(os.path.abspath(path if path.is_absolute() else self.root / path))
        try:
            relative = absolute.relative_to(self.root)
        except ValueError:
            raise Refused(f"{path} is outside the source {self.root}") from None
        if not relative.parts or ".." in relative.parts:
            raise Refused(f"{path} is not a file inside the source {self.root}")
        return relative


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def named_file(path: Path, what: str) -> Path:
    """The file the user named on the command line, resolved (a link they named is theirs to name); it must be a
    regular file."""
    resolved = Path(os.path.realpath(path))
    if not _is_regular(resolved):
        raise UsageError(f"import: {path} is not a regular file; name the {what} itself")
    return resolved


def yaml_mapping(text: str, max_nodes: int = 100_000) -> dict:
    """A YAML document without aliases (a few hundred bytes of nested aliases expand to gigabytes) and of at
    most ``max_nodes`` nodes; raises ValueError naming why it is refused."""
    import yaml

    class NoAliases(yaml.SafeLoader):
        nodes = 0

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                raise ValueError("it uses YAML aliases (&anchor / *alias), which an import does not expand")
            NoAliases.nodes += 1
            if NoAliases.nodes > max_nodes:
                raise ValueError(f"it has over {max_nodes:,} YAML nodes")
            return super().compose_node(parent, index)

    try:
        data = yaml.load(text, Loader=NoAliases)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        raise ValueError(f"it does not parse ({str(e).splitlines()[0]})") from None
    except RecursionError:
        raise ValueError("it is nested too deeply") from None
    return data if isinstance(data, dict) else {}


def walk_lines(f, cap_line: int = 1 << 20) -> Iterator[str]:
    """Lines of a text file object, each at most ``cap_line`` bytes (a longer one is cut, not allocated whole)."""
    while True:
        line = f.readline(cap_line)
        if not line:
            return
        yield line.decode("utf-8", errors="replace")
