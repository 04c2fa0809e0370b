"""``journeysim simulate MAP --engine agents``: option checks, the generator, tables, JSON and CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from journeysim._files import write_atomic
from journeysim.cli._options import run_size, show_progress
from journeysim.cli._options import seed as parse_seed
from journeysim.cli._render import to_json, wrote
from journeysim.engines.agents.engine import AgentResult, daily_rows, simulate_agents
from journeysim.errors import UsageError
from journeysim.journey import Journey

__all__ = ["run", "days", "write_tables"]

_TOUCHPOINT_COLUMNS = ("visits", "abandoned", "mean_wait", "utilisation", "spend", "skipped")


def days(text: str | None) -> int:
    """``--days`` of an agents run: required, a whole number >= 1."""
    if text is None:
        raise UsageError("--engine agents needs --days D (the length of the run in days)")
    return run_size("days", "--days", text)


def _csv(header, rows) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def _folder(folder: str | Path) -> Path:
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--csv {str(folder)!r}: cannot create the folder ({exc.strerror})") from None
    return folder


def write_tables(result: AgentResult, folder: str | Path) -> list[Path]:
    """Write ``daily.csv`` and ``touchpoints.csv`` into ``folder`` (created if missing), each atomically."""
    folder = _folder(folder)
    daily = daily_rows(result.daily)
    header = list(daily[0]) if daily else ["day"]
    tables = {
        "daily.csv": _csv(header, ([row[k] for k in header] for row in daily)),
        "touchpoints.csv": _csv(("touchpoint", *_TOUCHPOINT_COLUMNS),
                                ((name, *("" if t[k] is None else t[k] for k in _TOUCHPOINT_COLUMNS))
                                 for name, t in result.touchpoints.items())),
    }
    written = []
    for name, body in tables.items():
        try:
            write_atomic(folder / name, body)
        except OSError as exc:
            raise UsageError(f"--csv {str(folder)!r}: cannot write {name} ({exc.strerror})") from None
        written.append(folder / name)
    return written


def run(journey: Journey, args) -> int:
    """Check the options, simulate, print tables or JSON (and write CSV); return the exit code."""
    run_days = days(args.days)
    seed = parse_seed(args.seed, command="simulate")
    if args.csv is not None:
        _folder(args.csv)                  # before a long run, not after it
    result = simulate_agents(journey, run_days, rng=np.random.default_rng(seed), progress=show_progress(args),
                             source=args.map)
    written = write_tables(result, args.csv) if args.csv is not None else []
    if args.json:
        print(to_json({**result.to_dict(), "seed": seed}))
    else:
        print(result.summary())
        print(f"seed: {seed}")
    if written:
        wrote(*written)
    return 0
