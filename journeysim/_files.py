"""Reading YAML/JSON documents strictly, within limits and recording what was read; writing files atomically.

A document (map, hypothesis, plan, prediction) is read only from a regular file of at
most :data:`MAX_DOCUMENT_BYTES`, nested at most :data:`MAX_DEPTH` deep, with YAML aliases
adding at most :data:`MAX_ALIAS_VALUES` values and integers of at most
:data:`MAX_INT_DIGITS` digits: past these a file costs unbounded memory or time (a
700-byte alias bomb expands to gigabytes). Text is NFC-normalised, and keys of one
mapping that differ only by invisible characters or spaces are refused as ambiguous.
See ``docs/limits.md``.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import math
import os
import re
import shutil
import stat
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml

from journeysim.errors import OutputError, ScenarioError, excerpt

__all__ = ["read_document", "parse_document", "tidy_document", "read_text", "read_bytes", "recording_reads",
           "write_atomic", "write_folder", "remove_stale", "append_locked", "lock_path", "check_writable",
           "refuse_overwriting_input", "check_folder_writable",
           "nearest_existing", "referenced_path", "check_inside", "project_root", "confinement", "OWN_PROJECT",
           "skeleton", "FOLDER_MARK", "MAX_DOCUMENT_BYTES", "MAX_DEPTH", "MAX_ALIAS_VALUES", "MAX_INT_DIGITS"]

# The files read inside `recording_reads` blocks: path -> "sha256:<hex>" of the bytes parsed.
_READS: ContextVar[dict[str, str] | None] = ContextVar("journeysim_reads", default=None)

#: The largest document read (32 MiB: a 100,000-touchpoint map in JSON is about 12 MiB).
MAX_DOCUMENT_BYTES = 32 * 2**20
#: The deepest nesting of mappings and lists (a map needs 6 levels).
MAX_DEPTH = 64
#: Values that YAML aliases may add to a document by repeating their anchors.
MAX_ALIAS_VALUES = 10_000
#: Digits of the longest integer (a float holds about 308).
MAX_INT_DIGITS = 300
#: Files whose folder is the root of a project: paths named inside files stay inside it.
PROJECT_MARKERS = (".git", ".hg", "pyproject.toml", "journeysim.toml")


class _Refused(yaml.MarkedYAMLError):
    """A document past one of the limits (not invalid YAML, so reported in its own words)."""


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that records duplicate keys instead of silently keeping the last, and keeps to the limits."""

    def __init__(self, stream):
        super().__init__(stream)
        self.duplicates: list[str] = []
        self.depth = 0
        self.sizes: dict[int, int] = {}   # id(node) -> values in the node once its aliases are expanded
        self.expanded = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None:
                size = self.sizes.get(id(node))
                if size is None:
                    raise _Refused(None, None, f"alias *{event.anchor} is used inside its own anchor "
                                   "(recursive aliases are not allowed)", event.start_mark)
                self.expanded += size
                if self.expanded > MAX_ALIAS_VALUES:
                    raise _Refused(None, None, f"aliases repeat more than {MAX_ALIAS_VALUES:,} values "
                                   "(write the values out instead of repeating an anchor)", event.start_mark)
            return super().compose_node(parent, index)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Refused(None, None, f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
        node = super().compose_node(parent, index)
        self.depth -= 1
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = node.value if isinstance(node, yaml.SequenceNode) else ()
        self.sizes[id(node)] = 1 + sum(self.sizes.get(id(c), 1) for c in children)
        return node


def _construct_mapping(loader: _StrictLoader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            if key in seen:
                loader.duplicates.append(f"line {key_node.start_mark.line + 1}: duplicate key {excerpt(key)}")
            seen.add(key)
        except TypeError:
            loader.duplicates.append(f"line {key_node.start_mark.line + 1}: a key must be text, not {excerpt(key)}")
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


def _construct_int(loader: _StrictLoader, node):
    digits = sum(ch.isdigit() for ch in node.value)
    if digits > MAX_INT_DIGITS:
        raise _Refused(None, None, f"an integer of {digits} digits (at most {MAX_INT_DIGITS})", node.start_mark)
    return yaml.SafeLoader.construct_yaml_int(loader, node)


def _construct_float(loader: _StrictLoader, node):
    value = yaml.SafeLoader.construct_yaml_float(loader, node)
    if math.isinf(value) and "inf" not in node.value.lower():
        raise _Refused(None, None, f"{excerpt(node.value)} is outside the range of a float (about ±1.8e308)",
                       node.start_mark)
    return value


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
#: YAML 1.1 (PyYAML) reads 1e-3, 1e6 and 2.5e3 (no dot, or no exponent sign) as text; people mean numbers, and
#: YAML 1.2 agrees. The writer (``maps.write``) quotes text that this would read as a number.
FLOAT_WITHOUT_DOT = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT_WITHOUT_DOT, list("-+0123456789"))


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
    >>> parse_document("a: &x [1, 2]\\nb: [*x, *x]", "m.yaml")
    ({'a': [1, 2], 'b': [[1, 2], [1, 2]]}, [])
    >>> parse_document("p: " + "9" * 400, "m.yaml")
    (None, ['m.yaml: line 1: an integer of 400 digits (at most 300)'])
    >>> parse_document("name: a\\x7f", "m.yaml")   # a character YAML forbids: a problem, not a traceback
    (None, ['m.yaml: invalid YAML: unacceptable character #x007f: special characters are not allowed'])
    """
    data, problems = _parse(text, source, as_json)
    if data is None and not problems:
        # An empty document parses to None, which every reader would otherwise take for content.
        problems = [f"{source}: the file is empty (no YAML or JSON content)"]
    if problems:
        return data, problems
    return tidy_document(data, source)


def tidy_document(data: Any, source: str) -> tuple[Any, list[str]]:
    """``data`` with its text NFC-normalised, or ``(None, problems)``: lone surrogates (JSON escapes can make
    them), keys of one mapping that differ only by invisible characters, spaces or Unicode form, and nesting
    deeper than :data:`MAX_DEPTH`. Every parsed document goes through this once.

    Examples
    --------
    >>> tidy_document({"cafe\u0301": 1}, "m.yaml")
    ({'café': 1}, [])
    >>> print(tidy_document({"cart": 1, "cart\\u200b": 2}, "m.yaml")[1][0])
    m.yaml: keys 'cart' and 'cart\\u200b' differ only by invisible characters or spaces (ambiguous: keep one spelling)
    """
    tidy = _Tidy(source)
    data = tidy.value(data, 0)
    return (None, tidy.problems) if tidy.problems else (data, [])


class _JSONRefused(ValueError):
    pass


def _json_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _JSONRefused(f"an integer of {digits} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _json_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _JSONRefused(f"{excerpt(text)} is outside the range of a float (about ±1.8e308)")
    return value


def _parse(text: str, source: str, as_json: bool) -> tuple[Any, list[str]]:
    if as_json and not text.strip():
        return None, []
    if as_json:
        dupes: list[str] = []

        def pairs(items):
            data = dict(items)
            if len(data) < len(items):
                seen: set = set()
                twice = [k for k, _ in items if k in seen or seen.add(k)]
                dupes.extend(f"{source}: duplicate key {excerpt(k)}" for k in dict.fromkeys(twice))
            return data

        try:
            return json.loads(text, object_pairs_hook=pairs, parse_int=_json_int, parse_float=_json_float), dupes
        except json.JSONDecodeError as exc:
            return None, [f"{source}: line {exc.lineno}: invalid JSON: {exc.msg}"]
        except _JSONRefused as exc:
            return None, [f"{source}: {exc}"]
        except RecursionError:
            return None, [f"{source}: nested more than {MAX_DEPTH} levels deep"]
    loader = None
    try:
        loader = _StrictLoader(text)      # a NUL byte or other unprintable character is refused right here
        data = loader.get_single_data()
    except _Refused as exc:
        return None, [f"{source}: line {exc.problem_mark.line + 1}: {exc.problem}"]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, [f"{source}: {where}invalid YAML: {problem}"]
    finally:
        if loader is not None:
            loader.dispose()
    return data, [f"{source}: {d}" for d in loader.duplicates]


def skeleton(text: str) -> str:
    """``text`` without invisible characters (format and control characters) and surrounding spaces: two names
    with the same skeleton look alike.

    Examples
    --------
    >>> skeleton("exit "), skeleton("cart\\u200b") == skeleton("cart")
    ('exit', True)
    """
    if text.isascii() and text.isprintable():
        return text.strip()
    return "".join(ch for ch in text if unicodedata.category(ch) not in _INVISIBLE).strip()


_INVISIBLE = {"Cf", "Cc", "Zl", "Zp"}


class _Tidy:
    """One pass over a parsed document: NFC text, no lone surrogates, no look-alike keys, limited depth."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[str] = []

    def value(self, value: Any, depth: int) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if depth >= MAX_DEPTH:
            if isinstance(value, (dict, list)) and not self.problems:
                self.problems.append(f"{self.source}: nested more than {MAX_DEPTH} levels deep")
            return value
        if isinstance(value, list):
            return [self.value(v, depth + 1) for v in value]
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                key = self.text(k) if isinstance(k, str) else k
                if key in out and isinstance(k, str):
                    self.problems.append(f"{self.source}: keys {ascii(excerpt(k))} and {ascii(excerpt(key))} are "
                                         "the same text in two Unicode forms (ambiguous: keep one spelling)")
                out[key] = self.value(v, depth + 1)
            self.look_alikes(out)
            return out
        return value

    def text(self, text: str) -> str:
        if text.isascii():
            return text
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            self.problems.append(f"{self.source}: {ascii(excerpt(text))} is not Unicode text (a lone surrogate)")
            return text
        return unicodedata.normalize("NFC", text)

    def look_alikes(self, mapping: dict) -> None:
        seen: dict[str, str] = {}
        for key in mapping:
            if not isinstance(key, str):
                continue
            bare = skeleton(key)
            other = seen.setdefault(bare, key)
            if other is not key:
                self.problems.append(f"{self.source}: keys {excerpt(other)} and {excerpt(key)} differ only by "
                                     "invisible characters or spaces (ambiguous: keep one spelling)")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def read_bytes(path: str | os.PathLike, limit: int = MAX_DOCUMENT_BYTES, *,
               named_by: str | None = None) -> tuple[bytes | None, list[str]]:
    """The bytes of a regular file of at most ``limit`` bytes, or ``(None, problems)``.

    Devices (``/dev/zero``), named pipes and folders are refused before a byte is read:
    they never end, or block. ``named_by`` starts the messages (see :func:`read_document`).
    """
    label = named_by or str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))   # a named pipe must not block the open
    except FileNotFoundError:
        return None, [f"{label}: no such file"]
    except IsADirectoryError:
        return None, [f"{label}: is a folder, not a file"]
    except OSError as exc:
        return None, [f"{label}: cannot read ({exc.strerror})"]
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):              # before fdopen, which refuses a folder with its own exception
        os.close(fd)
        return None, [f"{label}: is {_kind(mode)}, not a file"]
    with os.fdopen(fd, "rb") as fh:
        try:
            raw = fh.read(limit + 1)
        except OSError as exc:
            return None, [f"{label}: cannot read ({exc.strerror})"]
    if len(raw) > limit:
        return None, [f"{label}: larger than {limit // 2**20} MiB, the most journeysim reads from one document"]
    return raw, []


def read_text(path: str | os.PathLike, limit: int = MAX_DOCUMENT_BYTES) -> tuple[str | None, list[str]]:
    """The UTF-8 text of a regular file of at most ``limit`` bytes (see :func:`read_bytes`), or
    ``(None, problems)``."""
    raw, problems = read_bytes(path, limit)
    if raw is None:
        return None, problems
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        return None, [f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"]


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
    """Read a YAML or JSON file (JSON by its ``.json`` suffix), within the limits above.

    ``named_by`` says where the path was named, for a file that cannot be read: with
    ``"hypothesis h.yaml names baseline ../x.yaml"`` a missing file reads
    ``hypothesis h.yaml names baseline ../x.yaml: no such file``.

    Examples
    --------
    >>> read_document("nowhere.yaml", named_by="plan p.yaml names hypothesis nowhere.yaml")
    (None, ['plan p.yaml names hypothesis nowhere.yaml: no such file'])
    """
    source = str(path)
    raw, problems = read_bytes(path, named_by=named_by)
    if raw is None:
        return None, problems
    reads = _READS.get()
    if reads is not None:
        reads[source] = "sha256:" + hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [f"{named_by or source}: not UTF-8 text ({exc.reason} at byte {exc.start})"]
    return parse_document(text, source, as_json=Path(path).suffix.lower() == ".json")


def project_root(folder: str | os.PathLike) -> Path:
    """The folder that files in ``folder`` may name files in (symbolic links resolved): the nearest folder at
    or above it that holds a project marker (``.git``, ``pyproject.toml``, ``journeysim.toml``), else the
    current folder if ``folder`` is inside it (the tree a relative path on the command line names; not the
    home folder or ``/``), else ``folder`` itself.

    >>> project_root("scenarios/hypotheses") == Path.cwd().resolve()     # this repository has a .git
    True
    """
    folder = Path(os.path.realpath(folder))
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in PROJECT_MARKERS):
            return candidate
    cwd = Path.cwd().resolve()
    if (cwd == folder or cwd in folder.parents) and cwd not in (Path(cwd.anchor), Path.home().resolve()):
        return cwd
    return folder


class _OwnProject:
    def __repr__(self) -> str:
        return "OWN_PROJECT"


#: ``within=`` of the readers that follow paths named in files: the project of the file the user named.
OWN_PROJECT = _OwnProject()


def confinement(within: Any, folder: str | os.PathLike) -> str | None:
    """The folder that paths named by a file in ``folder`` must stay in: ``within`` itself, the project of
    ``folder`` for :data:`OWN_PROJECT`, or ``None`` (anywhere: ``--allow-outside``)."""
    if within is None:
        return None
    return str(project_root(folder) if within is OWN_PROJECT else Path(os.path.realpath(within)))


def referenced_path(reference: str, folder: str | os.PathLike, where: str, within: str | None) -> str:
    """The path a file names (``baseline: ../shop.yaml``), relative to ``folder``, the folder of that file.

    It must lie inside ``within`` (see :func:`confinement`; ``None``: anywhere): a file from
    elsewhere must not make journeysim read ``/etc/shadow`` or ``/dev/zero``. ``where`` starts
    the message (``"h.yaml: baseline"``).

    Examples
    --------
    >>> referenced_path("../online-store.yaml", "scenarios/hypotheses", "h.yaml: baseline", "scenarios")
    'scenarios/online-store.yaml'
    >>> referenced_path("/etc/passwd", "scenarios/hypotheses", "h.yaml: baseline", "scenarios")
    Traceback (most recent call last):
    ...
    journeysim.errors.ScenarioError: h.yaml: baseline: '/etc/passwd' is outside ...
    """
    path = os.path.normpath(Path(folder) / reference)
    check_inside(path, within, f"{where}: {excerpt(reference)}")
    return path


def check_inside(path: str | os.PathLike, within: str | None, what: str) -> None:
    """Raise :class:`ScenarioError` unless ``path`` (symbolic links followed) lies inside ``within`` (or it is
    ``None``)."""
    if within is None:
        return
    root = Path(os.path.realpath(within))
    real = Path(os.path.realpath(path))
    if real != root and root not in real.parents:
        raise ScenarioError(f"{what} is outside {str(within)!r}, the project of the file named on the command line "
                            "(files it names stay inside the nearest folder above it with .git, pyproject.toml or "
                            "journeysim.toml, else inside the current folder or its own; give --allow-outside to "
                            "read it anyway)")


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


def check_writable(path: str | os.PathLike, *, reads: Iterable[str | os.PathLike | None] = ()) -> None:
    """Refuse now, in one line, an output file :func:`write_atomic` could not write later.

    Called before a long computation: its folder must exist and take new files, the path must not be a
    folder, a read-only file, or a symbolic link leading out of its folder; nor one of the files the command
    reads (``reads``: see :func:`refuse_overwriting_input`).

    Examples
    --------
    >>> check_writable("nowhere/out.json")
    Traceback (most recent call last):
    ...
    journeysim.errors.OutputError: nowhere/out.json: cannot write: folder 'nowhere' does not exist
    """
    refuse_overwriting_input(path, reads)
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


def refuse_overwriting_input(path: str | os.PathLike, reads: Iterable[str | os.PathLike | None]) -> None:
    """Refuse an output that is one of the files the command reads (``None`` entries are skipped), by a link or
    another spelling too: ``fit events.csv -o events.csv`` would replace the event log with the map.

    Examples
    --------
    >>> refuse_overwriting_input("./README.md", ["pyproject.toml", None, "README.md"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    journeysim.errors.OutputError: ./README.md: cannot write: it is an input of this command (README.md); write ...
    """
    for source in reads:
        if source is None:
            continue
        try:
            same = os.path.samefile(path, source)
        except (OSError, ValueError):       # either does not exist (yet): not the same file
            continue
        if same:
            spelt = "" if str(source) == str(path) else f" ({source})"
            raise OutputError(f"{path}: cannot write: it is an input of this command{spelt}; write the output to "
                              "another file", "Input file")


def nearest_existing(path: Path) -> Path:
    """``path`` itself if it exists, else its nearest existing parent (what a folder would be created in)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


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
    existing = nearest_existing(out)
    if not existing.is_dir():
        where = "it is a file" if existing == out else f"'{existing}' is a file"
        raise OutputError(f"{out}: cannot create the folder: {where}, not a folder", "Not a directory")
    _probe(existing, f"{out}: cannot {'write into' if existing == out else 'create'} the folder")


def _dead(pid: str) -> bool:
    """Whether process ``pid`` (the number in a temporary's name) has ended."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (ValueError, OverflowError, OSError):
        return False
    return False


def remove_stale(folder: Path, name: str) -> None:
    """Remove the temporaries that a killed writer of ``folder/name`` left (``.NAME.PID.*.tmp``, files or
    folders), those of processes still running excepted: they are still writing."""
    try:
        leftovers = list(folder.glob(f".{glob.escape(name)}.*.tmp"))
    except OSError:
        return
    for tmp in leftovers:
        pid = tmp.name[len(name) + 2:].split(".", 1)[0]
        if pid != str(os.getpid()) and _dead(pid):
            try:
                shutil.rmtree(tmp) if tmp.is_dir() and not tmp.is_symlink() else tmp.unlink()
            except OSError:
                pass


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    """Write to ``path`` through a temporary file in the same folder and a rename: never half a file.

    The data reaches the disk (fsync) before the rename, so a crash leaves the old file or the new one.
    A symbolic link is written through to its file when that file is in the link's folder, and refused
    otherwise. A command killed mid-write leaves at most the temporary (``.NAME.PID.xxxx.tmp``), which the
    next write of the same file removes.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"{path}: cannot write: it is a folder (give a file name)", "Is a directory")
    if not folder.is_dir():
        raise OutputError(f"{path}: cannot write: folder '{folder}' does not exist", "No such folder")
    target = _target(path)
    remove_stale(target.parent, target.name)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp")
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


#: The file that marks a folder as written whole by :func:`write_folder` (so that a later run may replace it).
FOLDER_MARK = ".journeysim"


def write_folder(folder: str | os.PathLike, files: dict[str, str | bytes], what: str = "folder") -> None:
    """Write ``files`` (name -> content) as the whole of ``folder``: built in a temporary folder beside it,
    then swapped in, so that a reader (or a command killed mid-way) sees the old folder or the new one,
    never new pictures beside an old page.

    A folder already there is replaced only when an earlier call wrote it (it holds :data:`FOLDER_MARK`) or
    it is empty; a folder with other files is refused rather than emptied. A killed run leaves at most a
    temporary folder (``.NAME.PID.xxxx.tmp``), which the next call removes.
    """
    folder = Path(folder)
    parent = folder.parent if str(folder.parent) else Path(".")
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: cannot write the {what}: it is a file, not a folder", "Not a directory")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / FOLDER_MARK).exists():
        raise OutputError(f"{folder}: cannot write the {what}: the folder holds files journeysim did not write "
                          "(give a new or empty folder)", "Directory not empty")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        remove_stale(parent, folder.name)
        tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{folder.name}.{os.getpid()}.", suffix=".tmp"))
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write the {what} ({exc.strerror})", exc.strerror) from None
    old = None
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        for name, data in {**files, FOLDER_MARK: f"written whole by journeysim ({what})\n"}.items():
            (tmp / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        if folder.is_dir():
            old = Path(tempfile.mkdtemp(dir=parent, prefix=f".{folder.name}.{os.getpid()}.", suffix=".tmp"))
            os.replace(folder, old)            # an empty folder as the target: replaced, not nested into
        os.rename(tmp, folder)
    except OSError as exc:
        if old is not None and not folder.exists():
            os.replace(old, folder)        # put the old folder back
            old = None
        raise OutputError(f"{folder}: cannot write the {what} ({exc.strerror})", exc.strerror) from None
    finally:
        for leftover in (tmp, old):
            if leftover is not None and leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)
