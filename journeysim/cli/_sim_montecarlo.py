"""``journeysim simulate MAP --engine montecarlo``: option checks, the generator, rendering."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from journeysim.cli._render import emit
from journeysim.engines.montecarlo import CHUNK_SIZE, simulate_montecarlo
from journeysim.errors import UsageError
from journeysim.journey import Journey

__all__ = ["run", "DEFAULT_CUSTOMERS"]

DEFAULT_CUSTOMERS = 1_000_000


def _count(option: str, text: str | None, default: int) -> int:
    if text is None:
        return default
    try:
        number = float(text.replace("_", ""))
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number.is_integer() and number > 0):
        raise UsageError(f"{option} {text!r}: must be a positive whole number (e.g. 1000000 or 1e6)")
    return int(number)


def _seed(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        seed = int(text)
    except ValueError:
        raise UsageError(f"--seed {text!r}: must be a whole number >= 0") from None
    if seed < 0:
        raise UsageError(f"--seed {text!r}: must be a whole number >= 0")
    return seed


def _horizon(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        horizon = float(text)
    except ValueError:
        horizon = math.nan
    if not (math.isfinite(horizon) and horizon > 0):
        raise UsageError(f"--horizon {text!r}: must be a positive number of the map's time units")
    return horizon


def run(journey: Journey, args) -> int:
    """Check the options, simulate, print tables or JSON; return the exit code."""
    for option in ("days", "csv"):
        if getattr(args, option, None) is not None:
            raise UsageError(f"--{option} belongs to the agents engine, not to --engine montecarlo")
    customers = _count("--customers", args.customers, DEFAULT_CUSTOMERS)
    chunk_size = _count("--chunk-size", args.chunk_size, CHUNK_SIZE)
    horizon = _horizon(args.horizon)
    seed = _seed(args.seed)
    if seed is None:
        # The CLI is the one place that may invent a seed; it says which, so the run can be repeated.
        seed = int(np.random.SeedSequence().entropy % 2**32)
        print(f"journeysim simulate: no --seed given, using --seed {seed}", file=sys.stderr)
    with _progress(customers, not args.quiet and sys.stderr.isatty()) as advance:
        result = simulate_montecarlo(journey, customers, rng=np.random.default_rng(seed), horizon=horizon,
                                     chunk_size=chunk_size, seed=seed, progress=advance)
    emit(result, args.json)
    return 0


@contextmanager
def _progress(customers: int, show: bool) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr (customers simulated), or nothing."""
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("customers", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("customers", total=customers)
        yield lambda done: bar.update(task, completed=done)
