"""A Monte Carlo run in blocks of new customers, each with its own random stream, on several threads.

The compiled kernel releases the GIL, so blocks run side by side on the machine's cores. A block's
stream depends only on the run's generator and the block's index (the first block draws from the
generator itself, block ``b`` from its ``b``-th child, ``Generator.spawn``), each block finishes its
own referral generations, and the blocks' tallies are added in block order: the result is the same
whatever the number of threads. The first block runs alone and picks the candidate paths that every
block then counts, so a run of one block is the run without blocks, draw for draw.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from journeysim.engines.montecarlo.loop import Cohort, simulate_cohort
from journeysim.engines.montecarlo.tables import Tables

__all__ = ["BLOCK", "block_sizes", "simulate_blocks"]

#: New customers of a block: large enough that a block's set-up is nothing, small enough for both cores to
#: stay busy from a few million customers on.
BLOCK = 1 << 20


def block_sizes(customers: int, block: int | None = None) -> list[int]:
    """New customers of each block (of ``block``, default :data:`BLOCK`): full blocks, then the rest.

    Examples
    --------
    >>> block_sizes(2_500_000)
    [1048576, 1048576, 402848]
    >>> block_sizes(10)
    [10]
    """
    block = BLOCK if block is None else block
    full, rest = divmod(customers, block)
    return [block] * full + ([rest] if rest else [])


def _children(rng: np.random.Generator, k: int) -> list[np.random.Generator]:
    if k == 0:
        return []
    try:
        return rng.spawn(k)
    except TypeError:   # a generator whose bit generator has no seed sequence: seed one from it
        return [np.random.default_rng(s) for s in np.random.SeedSequence(rng.integers(0, 2**63, size=4)).spawn(k)]


def simulate_blocks(tables: Tables, customers: int, rng: np.random.Generator, *, workers: int, chunk_size: int,
                    horizon: float | None, generations: int, referred_per_customer: int,
                    progress: Callable[[int], None] | None = None, backend: str = "numba",
                    budget: int | None = None) -> Cohort:
    """:func:`~journeysim.engines.montecarlo.loop.simulate_cohort` over blocks of :data:`BLOCK` new customers.

    Each block may refer ``referred_per_customer`` customers per new customer of its own and take its share of
    ``budget`` (in proportion to its new customers); ``workers`` threads run the blocks after the first.
    """
    sizes = block_sizes(customers)
    streams = [rng, *_children(rng, len(sizes) - 1)]
    done = [0] * len(sizes)
    lock = threading.Lock()

    def report(b: int) -> Callable[[int], None] | None:
        if progress is None:
            return None

        def advance(count: int) -> None:
            with lock:     # rich's bar is thread-safe; the sum over blocks needs the lock
                done[b] = count
                progress(sum(done))
        return advance

    def run(b: int, first: Cohort | None) -> Cohort:
        share = None if budget is None else max(1, budget * sizes[b] // customers)
        return simulate_cohort(tables, sizes[b], streams[b], chunk_size=chunk_size, horizon=horizon,
                               generations=generations, referral_limit=referred_per_customer * sizes[b],
                               progress=report(b), backend=backend, budget=share,
                               paths=None if first is None else first.paths.copy_candidates())

    cohort = run(0, None)
    if len(sizes) == 1:
        return cohort
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="journeysim-block") as pool:
        futures = [pool.submit(run, b, cohort) for b in range(1, len(sizes))]
        try:
            blocks = [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()       # blocks not started yet; those running stop at their own budget
            raise
    for block in blocks:         # in block order: the float sums do not depend on which thread finished first
        cohort.merge(block)
    return cohort
