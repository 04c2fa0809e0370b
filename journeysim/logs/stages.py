"""Reading a touchpoint-to-stage file for ``fit --stages``.

Either a YAML/JSON mapping ``{touchpoint: stage}`` or a CSV file with the columns
``touchpoint`` and ``stage``. Stages are ordered by their first appearance.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path

from journeysim._files import read_document
from journeysim.errors import DataError, excerpt
from journeysim.logs._sql import trimmed

__all__ = ["read_stages"]


def read_stages(path: str | os.PathLike) -> dict[str, str]:
    """Read a touchpoint-to-stage file into ``{touchpoint: stage}``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     f = pathlib.Path(d) / "stages.csv"
    ...     _ = f.write_text("touchpoint,stage\\nad,awareness\\nbuy,purchase\\n")
    ...     read_stages(f)
    {'ad': 'awareness', 'buy': 'purchase'}
    """
    source = str(path)
    if Path(path).suffix.lower() == ".csv":
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:   # spreadsheets save a byte-order mark
                reader = csv.DictReader(fh)
                if reader.fieldnames is None or not {"touchpoint", "stage"} <= set(reader.fieldnames):
                    raise DataError(f"{source}: a stages CSV needs the columns touchpoint and stage")
                rows = [(i + 2, r["touchpoint"], r["stage"]) for i, r in enumerate(reader)]
        except FileNotFoundError:
            raise DataError(f"{source}: no such file") from None
        mapping: dict[str, str] = {}
        for line, tp, stage in rows:
            if not tp or not stage or not tp.strip() or not stage.strip():
                raise DataError(f"{source}: line {line}: touchpoint and stage must both be given")
            tp, stage = trimmed(tp), trimmed(stage)   # as the log's names
            if mapping.get(tp, stage) != stage:
                raise DataError(f"{source}: line {line}: touchpoint {excerpt(tp)} is given stage {excerpt(stage)}, but an "
                                f"earlier line gave it {excerpt(mapping[tp])}")
            mapping[tp] = stage
        return mapping
    data, problems = read_document(path)
    if problems:
        raise DataError(problems[0])
    if not isinstance(data, Mapping) or not all(isinstance(k, str) and isinstance(v, str) and v.strip()
                                                for k, v in data.items()):
        raise DataError(f"{source}: a stages file maps each touchpoint to a stage name ({{touchpoint: stage}})")
    return dict(data)
