"""``journeysim simulate MAP --engine agents``: option checks, the generator, tables, JSON and CSV."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np

from journeysim._io import write_atomic
from journeysim.cli._render import to_json
from journeysim.engines.agents import AgentResult, daily_rows, simulate_agents
from journeysim.errors import UsageError
from journeysim.journey import Journey

__all__ = ["run", "write_tables"]

_TOUCHPOINT_COLUMNS = ("visits", "abandoned", "mean_wait", "utilisation", "spend", "skipped")


def _days(text: str | None) -> int:
    if text is None:
        raise UsageError("--engine agents needs --days D (the length of the run in days)")
    try:
        days = int(text)
    except ValueError:
        raise UsageError(f"--days {text!r}: must be a whole number of days >= 1") from None
    if days < 1:
        raise UsageError(f"--days {text!r}: must be a whole number of days >= 1")
    return days


def _seed(text: str | None) -> int:
    if text is None:
        # The CLI is the one place that may invent a seed; it says which, so the run can be repeated.
        seed = int(np.random.SeedSequence().entropy % 2**32)
        print(f"journeysim simulate: no --seed given, using --seed {seed}", file=sys.stderr)
        return seed
    try:
        seed = int(text)
    except ValueError:
        raise UsageError(f"--seed {text!r}: must be a whole number >= 0") from None
    if seed < 0:
        raise UsageError(f"--seed {text!r}: must be a whole number >= 0")
    return seed


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
    for option in ("customers", "horizon", "chunk_size"):
        if getattr(args, option, None) is not None:
            raise UsageError(f"--{option.replace('_', '-')} belongs to the montecarlo engine, not to --engine agents")
    days = _days(args.days)
    seed = _seed(args.seed)
    if args.csv is not None:
        _folder(args.csv)                  # before a long run, not after it
    progress = not args.quiet and sys.stderr.isatty()
    result = simulate_agents(journey, days, rng=np.random.default_rng(seed), progress=progress, source=args.map)
    if args.csv is not None:
        write_tables(result, args.csv)
    if args.json:
        print(to_json({**result.to_dict(), "seed": seed}))
    else:
        print(result.summary())
        print(f"seed: {seed}")
    return 0
