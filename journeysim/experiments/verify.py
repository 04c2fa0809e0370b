"""Verifying a ledger: does each row's prediction and result file still hold what was checked?

Every row records the SHA-256 of its prediction file and its A/B result file. A
file edited since (a prediction saved again, a result re-exported) no longer
supports the row; a file that is gone cannot be verified and is said so.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from journeysim._hash import file_sha256
from journeysim._result import Result
from journeysim._text import format_table
from journeysim.experiments.ledger import read_ledger

__all__ = ["FileVerdict", "LedgerVerification", "verify_ledger", "STATUSES"]

#: What a recorded file can be found to be, in the order the summary counts them.
STATUSES = ("matches", "changed", "missing", "no hash recorded")
_SAID = {"matches": "match", "changed": "changed since the check", "missing": "missing (not verified)",
         "no hash recorded": "without a recorded hash"}
_FILES = (("prediction", "prediction_file", "prediction_sha256"), ("results", "results_file", "results_sha256"))


@dataclass(frozen=True)
class FileVerdict:
    """One file named by one ledger row: where it was found and whether its content is the one checked."""

    line: int
    hypothesis: str
    role: str
    recorded_path: str
    found_at: str | None
    recorded_sha256: str
    sha256: str | None
    status: str


@dataclass(frozen=True, repr=False)
class LedgerVerification(Result):
    """Every file every row of a ledger names, with its status (see :data:`STATUSES`)."""

    source: str
    rows: int
    files: tuple[FileVerdict, ...]

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(f.status for f in self.files)
        return {s: counted.get(s, 0) for s in STATUSES}

    @property
    def ok(self) -> bool:
        """No recorded file has changed (missing files cannot be verified and do not count against it)."""
        return self.counts["changed"] == 0

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "rows": self.rows, "ok": self.ok, "counts": self.counts,
                "files": [f.__dict__ for f in self.files]}

    def _headline(self) -> str:
        return f"{self.source}: {self.rows} rows, " + ", ".join(f"{n} {s}" for s, n in self.counts.items() if n)

    def _table(self):
        """One line per file named by a row."""
        columns = list(FileVerdict.__dataclass_fields__)
        return columns, [tuple(getattr(f, c) for c in columns) for f in self.files]

    def summary(self) -> str:
        counts = self.counts
        line = (f"{self.source}: {self.rows} row{'s' if self.rows != 1 else ''}, {len(self.files)} files: "
                + ", ".join(f"{n} {_SAID[s]}" for s, n in counts.items() if n or s == "matches"))
        problems = [f for f in self.files if f.status != "matches"]
        if not problems:
            return line
        table = format_table("files that do not match the ledger", ["line", "hypothesis", "file", "status"],
                             [(str(f.line), f.hypothesis, f.found_at or f.recorded_path, f.status) for f in problems],
                             width=140)
        verdict = ("rows whose files changed no longer show what was checked: check the new files again "
                   "(journeysim check --force) or restore the old ones" if counts["changed"] else "")
        return "\n".join(x for x in (table, line, verdict) if x)

    def __str__(self) -> str:
        return self.summary()


def _locate(recorded: str, ledger: Path) -> Path | None:
    """The file as written (from the current folder), else from the ledger's folder or one of its parents."""
    if not recorded:
        return None
    candidates = [Path(recorded)]
    if not Path(recorded).is_absolute():
        folder = ledger.absolute().parent
        candidates += [base / recorded for base in (folder, *folder.parents)]
    return next((c for c in candidates if c.is_file()), None)


def verify_ledger(path: str | os.PathLike) -> LedgerVerification:
    """Recompute the SHA-256 of every prediction and result file the ledger's rows name and compare.

    A relative path is looked for from the current folder, then from the ledger's folder and its parents.

    Examples
    --------
    >>> v = verify_ledger("experiments/ledger.csv")
    >>> v.rows, v.counts["changed"], v.ok, v.to_frame().status.unique().tolist()
    (7, 0, True, ['matches'])
    >>> v
    <LedgerVerification experiments/ledger.csv: 7 rows, 14 matches>
    """
    ledger = Path(path)
    entries = read_ledger(ledger)
    files = []
    for entry in entries:
        for role, file_col, hash_col in _FILES:
            recorded, digest = entry.row.get(file_col, ""), entry.row.get(hash_col, "")
            found = _locate(recorded, ledger)
            actual = file_sha256(found) if found is not None else None
            if not digest:
                status = "no hash recorded"
            elif found is None:
                status = "missing"
            else:
                status = "matches" if actual == digest else "changed"
            files.append(FileVerdict(entry.line, entry.hypothesis, role, recorded,
                                     None if found is None else str(found), digest, actual, status))
    return LedgerVerification(str(ledger), len(entries), tuple(files))
