"""``journeysim simulate MAP --engine montecarlo``: option checks, the generator, rendering."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from journeysim.cli._options import compile_notice, max_transitions, number, run_size, show_progress
from journeysim.cli._options import seed as parse_seed
from journeysim.cli._render import emit
from journeysim.engines.montecarlo.engine import CHUNK_SIZE, simulate_montecarlo
from journeysim.journey import Journey

__all__ = ["run", "DEFAULT_CUSTOMERS"]

DEFAULT_CUSTOMERS = 1_000_000


def run(journey: Journey, args) -> int:
    """Check the options, simulate, print tables or JSON; return the exit code."""
    customers = run_size("customers", "--customers", args.customers, default=DEFAULT_CUSTOMERS)
    chunk_size = run_size("chunk", "--chunk-size", args.chunk_size, default=CHUNK_SIZE)
    horizon = number("--horizon", args.horizon, above=0)
    seed = parse_seed(args.seed, command="simulate")
    workers = run_size("threads", "--workers", args.workers)
    backend = args.backend or "numba"
    if backend == "numba":
        compile_notice(args, "montecarlo")
    with _progress(customers, show_progress(args)) as advance:
        result = simulate_montecarlo(journey, customers, rng=np.random.default_rng(seed), horizon=horizon,
                                     chunk_size=chunk_size, seed=seed, progress=advance,
                                     backend=backend,
                                     max_transitions=max_transitions(args, "montecarlo"), source=args.map,
                                     workers=workers)
    emit(result, args.json)
    return 0


@contextmanager
def _progress(customers: int, show: bool) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr (customers simulated), or nothing."""
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeRemainingColumn,
    )

    with Progress("customers", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("customers", total=customers)
        yield lambda done: bar.update(task, completed=done)
