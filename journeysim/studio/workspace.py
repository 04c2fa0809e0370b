"""The studio's folder: the maps and hypotheses it holds, and file names that cannot leave it.

Every file name a request carries goes through :meth:`Workspace.resolve`: a relative
path with ``/`` separators, no ``..``, no hidden part, that resolves (symbolic links
followed) to a file inside the folder. When the studio was started on one map, the
folder is that map's folder.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from journeysim._files import parse_document
from journeysim.errors import JourneySimError, MapError, excerpt

__all__ = ["Workspace", "Entry", "OutsideFolder", "NoSuchFile", "DOCUMENT_SUFFIXES", "revision"]

DOCUMENT_SUFFIXES = (".yaml", ".yml", ".json")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
#: A folder walk stops after this many documents and this depth: a studio started on a home folder by mistake
#: must still answer.
_MAX_FILES = 2000
_MAX_DEPTH = 4
#: Documents larger than this are not maps anyone edits by hand; they are listed, and refused, without being read.
_MAX_BYTES = 5_000_000


class OutsideFolder(JourneySimError):
    """A file name that is not a document inside the studio's folder (the HTTP API answers 403)."""


class NoSuchFile(JourneySimError):
    """A file name inside the folder that names no file (the HTTP API answers 404)."""


@dataclass(frozen=True)
class Entry:
    """One map or hypothesis of the folder, as ``GET /api/maps`` lists it."""

    name: str
    kind: str
    title: str
    #: For a hypothesis: the name of its baseline map (``None`` when it lies outside the folder).
    baseline: str | None = None
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "title": self.title}
        if self.kind == "hypothesis":
            out["baseline"] = self.baseline
        if self.problems:
            out["problems"] = list(self.problems)
        return out


def revision(text: str) -> str:
    """The content hash a save must name, so that a file changed on disk is not overwritten unseen.

    Examples
    --------
    >>> revision("a: 1\\n")[:15]
    'sha256:37b128c5'
    """
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


class Workspace:
    """The folder the studio serves (or the one map it was started on, and that map's folder).

    Examples
    --------
    >>> ws = Workspace("scenarios")
    >>> [e.name for e in ws.entries() if e.kind == "hypothesis"][:2]
    ['hypotheses/b2b-faster-trial.yaml', 'hypotheses/chat-staffing.yaml']
    >>> ws.resolve("../README.md")
    Traceback (most recent call last):
    ...
    journeysim.studio.workspace.OutsideFolder: '../README.md': names may not contain '..' (only files inside the studio's folder)
    """

    def __init__(self, path: str | os.PathLike):
        given = Path(path)
        if given.is_file():
            if given.suffix.lower() not in DOCUMENT_SUFFIXES:
                raise MapError(f"{given}: not a map file (YAML or JSON: {', '.join(DOCUMENT_SUFFIXES)})")
            self.root = given.resolve().parent
            self.single: str | None = given.resolve().name
        elif given.is_dir():
            self.root = given.resolve()
            self.single = None
        else:
            raise MapError(f"{given}: no such file or folder")

    # -- names ----------------------------------------------------------------------------

    def resolve(self, name: Any, *, exists: bool = True) -> Path:
        """The file ``name`` (relative, ``/``-separated) inside the folder; :class:`OutsideFolder` otherwise."""
        if not isinstance(name, str) or not name.strip():
            raise OutsideFolder(f"{excerpt(name)}: a file name must be non-empty text")
        if _CONTROL.search(name):
            raise OutsideFolder(f"{excerpt(name)}: file names with control characters (newlines, tabs...) are not "
                                "served")
        if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
            raise OutsideFolder(f"{excerpt(name)}: give a name relative to the studio's folder, with '/' between folders")
        parts = PurePosixPath(name).parts
        if ".." in parts:
            raise OutsideFolder(f"{excerpt(name)}: names may not contain '..' (only files inside the studio's folder)")
        if any(part.startswith(".") for part in parts):
            raise OutsideFolder(f"{excerpt(name)}: hidden files and folders are not served")
        if PurePosixPath(name).suffix.lower() not in DOCUMENT_SUFFIXES:
            raise OutsideFolder(f"{excerpt(name)}: only map and hypothesis files ({', '.join(DOCUMENT_SUFFIXES)}) are served")
        path = self.root.joinpath(*parts)
        try:
            real = path.resolve()
            if not real.is_relative_to(self.root):
                raise OutsideFolder(f"{excerpt(name)}: leads outside the studio's folder (through a link)")
            if exists and not real.is_file():
                raise NoSuchFile(f"{name}: not a file (a folder, a pipe...)" if real.exists()
                                 else f"{name}: no such file in the studio's folder")
            if not exists and not real.parent.is_dir():
                folder = PurePosixPath(name).parent
                raise OutsideFolder(f"{excerpt(name)}: folder '{folder}' does not exist in the studio's folder")
            real.exists()                   # a name the file system refuses (too long...) is refused here
        except OSError as exc:
            raise OutsideFolder(f"{excerpt(name)}: not a usable file name ({exc.strerror})") from None
        return path

    def name_of(self, path: Path) -> str | None:
        """The name of ``path`` in this folder, or ``None`` when it lies outside."""
        real = Path(os.path.normpath(path)).resolve()
        return real.relative_to(self.root).as_posix() if real.is_relative_to(self.root) else None

    def read(self, name: str) -> tuple[str, Any, list[str]]:
        """``(text, data, problems)`` of a document of the folder."""
        path = self.resolve(name)
        try:
            if path.stat().st_size > _MAX_BYTES:
                return "", None, [f"{name}: larger than {_MAX_BYTES:_} bytes: not a map the studio edits (journeysim "
                                  "simulate and validate read it)"]
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            return "", None, [f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})"]
        except OSError as exc:
            return "", None, [f"{name}: cannot read ({exc.strerror})"]
        data, problems = parse_document(text, name, as_json=path.suffix.lower() == ".json")
        return text, data, problems

    # -- listing ----------------------------------------------------------------------------

    def _files(self) -> list[str]:
        if self.single is not None:
            return sorted(p.name for p in self.root.iterdir()
                          if p.suffix.lower() in DOCUMENT_SUFFIXES and not p.name.startswith("."))
        found: list[str] = []
        for folder, dirs, files in os.walk(self.root):
            depth = len(Path(folder).relative_to(self.root).parts)
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and depth < _MAX_DEPTH)
            for f in sorted(files):
                if Path(f).suffix.lower() in DOCUMENT_SUFFIXES and not f.startswith("."):
                    found.append((Path(folder) / f).relative_to(self.root).as_posix())
                    if len(found) >= _MAX_FILES:
                        return found
        return found

    def entries(self) -> list[Entry]:
        """The maps and hypotheses of the folder (only the map itself, and its hypotheses, for a single map)."""
        out = []
        for name in self._files():
            entry = self._entry(name)
            if entry is None:
                continue
            if self.single is not None and entry.name != self.single and entry.baseline != self.single:
                continue
            out.append(entry)
        return out

    def _entry(self, name: str) -> Entry | None:
        try:
            _, data, problems = self.read(name)
        except (OutsideFolder, NoSuchFile, OSError):
            return None
        if problems:
            # A map the user broke by hand must still show up, with what is wrong.
            return Entry(name, "map", name, problems=tuple(problems))
        if not isinstance(data, Mapping):
            return None
        if "touchpoints" in data:
            title = data.get("name")
            return Entry(name, "map", title if isinstance(title, str) and title.strip() else name)
        if "changes" in data:
            title = data.get("hypothesis")
            return Entry(name, "hypothesis", title if isinstance(title, str) and title.strip() else name,
                         baseline=self.baseline_name(name, data.get("baseline")))
        return None

    def baseline_name(self, hypothesis: str, baseline: Any) -> str | None:
        """The folder name of a hypothesis's ``baseline:`` (relative to the hypothesis), or ``None`` outside."""
        if not isinstance(baseline, str) or not baseline.strip():
            return None
        name = self.name_of(self.root.joinpath(*PurePosixPath(hypothesis).parent.parts) / baseline)
        try:
            self.resolve(name)
        except (OutsideFolder, NoSuchFile):
            return None
        return name
