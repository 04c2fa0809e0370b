"""Reading YAML/JSON documents strictly (recording what was read) and writing files atomically."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml

from journeysim.errors import OutputError

__all__ = ["read_document", "parse_document", "recording_reads", "write_atomic", "append_locked", "lock_path",
           "check_writable", "check_folder_writable"]

# The files read inside `recording_reads` blocks: path -> "sha256:<hex>" of the bytes parsed.
_READS: ContextVar[dict[str, str] | None] = ContextVar("journeysim_reads", default=None)


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that records duplicate keys instead of silently keeping the last."""

    duplicates: list[str]


def _construct_mapping(loader: _StrictLoader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            if key in seen:
                loader.duplicates.append(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
            seen.add(key)
        except TypeError:
            loader.duplicates.append(f"line {key_node.start_mark.line + 1}: a key must be text, not {key!r}")
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# YAML 1.1 (PyYAML) reads 1e-3, 1e6 and 2.5e3 (no dot, or no exponent sign) as text; people mean numbers, and
# YAML 1.2 agrees.
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


def parse_document(text: str, source: str, as_json: bool = False) -> tuple[Any, list[str]]:
    """Parse YAML (or JSON) text; return ``(data, problems)`` with one line per problem.

    Examples
    --------
    >>> parse_document("a: 1", "m.yaml")
    ({'a': 1}, [])
    >>> parse_document("# only a comment\\n", "m.yaml")
    (None, ['m.yaml: the file is empty (no YAML or JSON content)'])
    >>> parse_document("name: a\\x7f", "m.yaml")   # a character YAML forbids: a problem, not a traceback
    (None, ['m.yaml: invalid YAML: unacceptable character #x007f: special characters are not allowed'])
    """
    data, problems = _parse(text, source, as_json)
    if data is None and not problems:
        # An empty document parses to None, which every reader would otherwise take for content.
        problems = [f"{source}: the file is empty (no YAML or JSON content)"]
    return data, problems


def _parse(text: str, source: str, as_json: bool) -> tuple[Any, list[str]]:
    if as_json and not text.strip():
        return None, []
    if as_json:
        dupes: list[str] = []

        def pairs(items):
            keys = [k for k, _ in items]
            dupes.extend(f"{source}: duplicate key {k!r}" for k in dict.fromkeys(k for k in keys if keys.count(k) > 1))
            return dict(items)

        try:
            return json.loads(text, object_pairs_hook=pairs), dupes
        except json.JSONDecodeError as exc:
            return None, [f"{source}: line {exc.lineno}: invalid JSON: {exc.msg}"]
    try:
        # The loader's constructor already reads the text: a character YAML forbids (DEL, a C1 control)
        # is refused there, and must be reported like any other problem, not raised.
        loader = _StrictLoader(text)
    except yaml.YAMLError as exc:
        return None, [f"{source}: invalid YAML: {getattr(exc, 'problem', None) or str(exc).splitlines()[0]}"]
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, [f"{source}: {where}invalid YAML: {problem}"]
    finally:
        loader.dispose()
    return data, [f"{source}: {d}" for d in loader.duplicates]


@contextlib.contextmanager
def recording_reads() -> Iterator[dict[str, str]]:
    """Record every file :func:`read_document` reads inside the block: path -> ``sha256:<hex>`` of its bytes.

    What a computation read, hashed from the very bytes it parsed (not re-read later), keys saved results
    by content. Blocks nest: an inner block's reads count in the outer one too.

    Examples
    --------
    >>> with recording_reads() as reads:
    ...     _ = read_document("scenarios/hypotheses/live-chat.yaml")
    >>> list(reads), reads["scenarios/hypotheses/live-chat.yaml"].startswith("sha256:")
    (['scenarios/hypotheses/live-chat.yaml'], True)
    """
    outer = _READS.get()
    reads: dict[str, str] = {}
    token = _READS.set(reads)
    try:
        yield reads
    finally:
        _READS.reset(token)
        if outer is not None:
            outer.update(reads)


def read_document(path: str | os.PathLike, *, named_by: str | None = None) -> tuple[Any, list[str]]:
    """Read a YAML or JSON file (JSON by its ``.json`` suffix).

    ``named_by`` says where the path was named, for a file that cannot be read: with
    ``"hypothesis h.yaml names baseline ../x.yaml"`` a missing file reads
    ``hypothesis h.yaml names baseline ../x.yaml: no such file``.

    Examples
    --------
    >>> read_document("nowhere.yaml", named_by="plan p.yaml names hypothesis nowhere.yaml")
    (None, ['plan p.yaml names hypothesis nowhere.yaml: no such file'])
    """
    source = str(path)
    label = named_by or source
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return None, [f"{label}: no such file"]
    except IsADirectoryError:
        return None, [f"{label}: is a folder, not a file"]
    except OSError as exc:
        return None, [f"{label}: cannot read ({exc.strerror})"]
    reads = _READS.get()
    if reads is not None:
        reads[source] = "sha256:" + hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [f"{label}: not UTF-8 text ({exc.reason} at byte {exc.start})"]
    return parse_document(text, source, as_json=Path(path).suffix.lower() == ".json")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _target(path: Path) -> Path:
    """Where writing ``path`` lands: the path itself, or the file a symbolic link in its folder points to.

    A link that leads out of its own folder is refused: an output named inside one folder must not
    overwrite a file elsewhere.
    """
    if not path.is_symlink():
        return path
    folder = path.parent.resolve()
    target = path.resolve()
    if target.parent != folder and folder not in target.parents:
        raise OutputError(f"{path}: cannot write: it is a symbolic link to '{target}', outside folder "
                          f"'{folder}' (remove the link or write elsewhere)", "Symbolic link leaves the folder")
    return target


def _probe(folder: Path, refusal: str) -> None:
    """Create and remove a file in ``folder``: the one check that sees permissions, ACLs and read-only mounts."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".journeysim-probe.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"{refusal}: {exc.strerror.lower()} in folder '{folder}'", exc.strerror) from None
    os.close(fd)
    os.unlink(tmp)


def check_writable(path: str | os.PathLike) -> None:
    """Refuse now, in one line, an output file :func:`write_atomic` could not write later.

    Called before a long computation: its folder must exist and take new files, the path must not be a
    folder, a read-only file, or a symbolic link leading out of its folder.

    Examples
    --------
    >>> check_writable("nowhere/out.json")
    Traceback (most recent call last):
    ...
    journeysim.errors.OutputError: nowhere/out.json: cannot write: folder 'nowhere' does not exist
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"{path}: cannot write: it is a folder (give a file name)", "Is a directory")
    if not folder.is_dir():
        why = "is a file, not a folder" if folder.exists() else "does not exist"
        raise OutputError(f"{path}: cannot write: folder '{folder}' {why}", "No such folder")
    target = _target(path)
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputError(f"{path}: cannot write: the file is read-only", "Read-only file")
    _probe(target.parent, f"{path}: cannot write")


def check_folder_writable(folder: str | os.PathLike) -> None:
    """Refuse now an output folder that could not be created or written into later (see :func:`check_writable`).

    Examples
    --------
    >>> check_folder_writable("README.md/results")
    Traceback (most recent call last):
    ...
    journeysim.errors.OutputError: README.md/results: cannot create the folder: 'README.md' is a file, not a folder
    """
    out = Path(folder)
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "it is a file" if existing == out else f"'{existing}' is a file"
        raise OutputError(f"{out}: cannot create the folder: {where}, not a folder", "Not a directory")
    _probe(existing, f"{out}: cannot {'write into' if existing == out else 'create'} the folder")


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    """Write to ``path`` through a temporary file in the same folder and a rename: never half a file.

    The data reaches the disk (fsync) before the rename, so a crash leaves the old file or the new one.
    A symbolic link is written through to its file when that file is in the link's folder, and refused
    otherwise.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"{path}: cannot write: it is a folder (give a file name)", "Is a directory")
    if not folder.is_dir():
        raise OutputError(f"{path}: cannot write: folder '{folder}' does not exist", "No such folder")
    target = _target(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror})", exc.strerror) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write ({exc.strerror})", exc.strerror) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file that guards ``path``: hidden, beside it; it stays after use (waiters share its inode).

    Examples
    --------
    >>> lock_path("experiments/ledger.csv").as_posix()
    'experiments/.ledger.csv.lock'
    """
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


def append_locked(path: str | os.PathLike, build: Callable[[bytes], tuple[bytes, int]]) -> None:
    """Append to ``path`` (created if absent) under an exclusive lock, in one write, then fsync.

    ``build(existing)`` sees the whole file as it is under the lock and returns ``(data, keep)``: the bytes to
    append and how many of the existing bytes to keep (fewer cuts an interrupted writer's partial last line);
    it may raise to refuse the append. The lock (``filelock``: ``fcntl`` or ``msvcrt``) is held on
    :func:`lock_path`, so every writer that goes through here queues; a reader never sees half a row
    because the row goes out in one ``write`` on a file opened for appending.

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "log.csv"
    >>> append_locked(f, lambda old: (b"a\\n" if not old else b"b\\n", len(old)))
    >>> append_locked(f, lambda old: (b"a\\n" if not old else b"b\\n", len(old)))
    >>> f.read_text()
    'a\\nb\\n'
    """
    from filelock import FileLock, Timeout

    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: cannot append: it is a folder, not a file", "Is a directory")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{path}: cannot append: folder '{folder}' does not exist", "No such folder")
    lock = FileLock(lock_path(path), timeout=60)
    try:
        lock.acquire()
    except Timeout:
        raise OutputError(f"{path}: cannot append: another process has held its lock ({lock_path(path)}) for a "
                          "minute", "Locked") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot lock it for appending ({exc.strerror})", exc.strerror) from None
    try:
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
        except OSError as exc:
            raise OutputError(f"{path}: cannot open for appending ({exc.strerror})", exc.strerror) from None
        try:
            existing = b"".join(iter(lambda: os.read(fd, 1 << 20), b""))
            data, keep = build(existing)
            if keep < len(existing):
                os.ftruncate(fd, keep)
            _write_whole(fd, data, keep, path)
        finally:
            os.close(fd)
    finally:
        lock.release()


def _write_whole(fd: int, data: bytes, size: int, path: Path) -> None:
    """Append ``data`` in one write and fsync; on failure cut the file back to ``size`` bytes (no partial row)."""
    try:
        if data and os.write(fd, data) != len(data):
            raise OSError(28, "the disk took only part of the data")
        os.fsync(fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)
        raise OutputError(f"{path}: cannot append ({exc.strerror})", exc.strerror) from None
