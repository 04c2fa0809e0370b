"""An agent run's tables as CSV files: ``daily.csv`` (one row per day) and ``touchpoints.csv``."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from journeysim._files import write_atomic
from journeysim._safe import csv_cell
from journeysim.engines.agents.engine import AgentResult, daily_rows
from journeysim.errors import OutputError

__all__ = ["write_tables", "TOUCHPOINT_COLUMNS"]

#: Columns of ``touchpoints.csv`` after ``touchpoint``.
TOUCHPOINT_COLUMNS = ("visits", "abandoned", "mean_wait", "utilisation", "spend", "skipped")


def _csv(header, rows) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([csv_cell(h) for h in header])
    writer.writerows([csv_cell(c) for c in row] for row in rows)    # names that spreadsheets would run
    return buf.getvalue()


def write_tables(result: AgentResult, folder: str | os.PathLike) -> list[Path]:
    """Write ``daily.csv`` (columns ``day, arrivals, conversions, revenue, in_journey``, then ``in <stage>``) and
    ``touchpoints.csv`` into ``folder`` (created if missing), each atomically; return their paths.

    Raises
    ------
    OutputError
        The folder cannot be created or a file cannot be written.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from journeysim import load_journey, simulate_agents
    >>> run = simulate_agents(load_journey("scenarios/online-store-live-chat.yaml"), 3, rng=np.random.default_rng(1))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     [p.name for p in write_tables(run, Path(d) / "tables")]
    ['daily.csv', 'touchpoints.csv']
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create the folder ({exc.strerror})") from None
    daily = daily_rows(result.daily)
    header = list(daily[0]) if daily else ["day"]
    tables = {
        "daily.csv": _csv(header, ([row[k] for k in header] for row in daily)),
        "touchpoints.csv": _csv(("touchpoint", *TOUCHPOINT_COLUMNS),
                                ((name, *("" if t[k] is None else t[k] for k in TOUCHPOINT_COLUMNS))
                                 for name, t in result.touchpoints.items())),
    }
    written = []
    for name, body in tables.items():
        try:
            write_atomic(folder / name, body)
        except OSError as exc:
            raise OutputError(f"{folder / name}: cannot write it ({exc.strerror})") from None
        written.append(folder / name)
    return written
