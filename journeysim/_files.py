"""Reading YAML/JSON documents strictly and writing files atomically."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from journeysim.errors import OutputError

__all__ = ["read_document", "parse_document", "write_atomic"]


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


def read_document(path: str | os.PathLike) -> tuple[Any, list[str]]:
    """Read a YAML or JSON file (JSON by its ``.json`` suffix)."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [f"{source}: no such file"]
    except UnicodeDecodeError as exc:
        return None, [f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})"]
    except OSError as exc:
        return None, [f"{source}: cannot read ({exc.strerror})"]
    return parse_document(text, source, as_json=Path(path).suffix.lower() == ".json")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    """Write to ``path`` through a temporary file in the same folder and a rename: never half a file."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"{path}: cannot write: it is a folder (give a file name)", "Is a directory")
    if not folder.is_dir():
        raise OutputError(f"{path}: cannot write: folder '{folder}' does not exist", "No such folder")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror})", exc.strerror) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write ({exc.strerror})", exc.strerror) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
