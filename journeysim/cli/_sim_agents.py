"""``journeysim simulate MAP --engine agents``: option checks, the generator, tables, JSON and CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from journeysim.cli._options import compile_notice, max_transitions, run_size, show_progress
from journeysim.cli._options import seed as parse_seed
from journeysim.cli._render import to_json, wrote
from journeysim.engines.agents.engine import simulate_agents
from journeysim.engines.agents.tables import write_tables
from journeysim.errors import UsageError, excerpt
from journeysim.journey import Journey

__all__ = ["run", "days"]


def days(text: str | None) -> int:
    """``--days`` of an agents run: required, a whole number >= 1."""
    if text is None:
        raise UsageError("--engine agents needs --days D (the length of the run in days)")
    return run_size("days", "--days", text)


def _folder(folder: str | Path) -> Path:
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--csv {excerpt(str(folder))}: cannot create the folder ({exc.strerror})") from None
    return folder


def run(journey: Journey, args) -> int:
    """Check the options, simulate, print tables or JSON (and write CSV); return the exit code."""
    run_days = days(args.days)
    seed = parse_seed(args.seed, command="simulate")
    if args.csv is not None:
        _folder(args.csv)                  # before a long run, not after it
    compile_notice(args, "agents")
    result = simulate_agents(journey, run_days, rng=np.random.default_rng(seed), progress=show_progress(args),
                             source=args.map, max_transitions=max_transitions(args, "agents"))
    written = write_tables(result, args.csv) if args.csv is not None else []
    if args.json:
        print(to_json({**result.to_dict(), "seed": seed}))
    else:
        print(result.summary())
        print(f"seed: {seed}")
    if written:
        wrote(*written)
    return 0
