"""The Monte Carlo loop: a chunk of customers advances together, one step per iteration.

All customers of the piece take their next step at once (alias draw, service
and delay draws, horizon check). Finished customers sit in the absorbing drop-off state,
where a step changes nothing of theirs, until enough of them have gathered:
then the arrays are compacted to those still travelling (compacting after every
step costs more than carrying a few finished customers along), so the work per
step stays proportional to the customers left. Customers who finish hand their
visited bitmask and path hash to the tallies. The last few
customers of a chunk continue inside the next one, which saves the long tail of
tiny steps. Referred customers are simulated after the chunk that referred
them, depth first in pieces of at most one chunk; until then they are kept as
(time, how many) per referring visit, so memory follows the chunk's visits
whatever ``refers`` is. A budget of transitions stops a run that would take
more work than its caller allows (:class:`OverBudget`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from journeysim.engines.montecarlo.alias import AliasTable, draw
from journeysim.engines.montecarlo.referred import Referred, take
from journeysim.engines.montecarlo.tables import EXPONENTIAL, LOGNORMAL, Tables
from journeysim.engines.montecarlo.tallies import PATH_LENGTH, PathCounter, Tally
from journeysim.engines.workload import MAX_DRAWN, OverBudget

__all__ = ["simulate_cohort", "Cohort", "PILOT", "BACKENDS"]

#: A chunk hands its last customers (fewer than chunk_size / _TAIL) on to the next chunk.
_TAIL = 32
#: Customers of the first piece, whose most frequent paths become the counted candidates.
PILOT = 65_536
#: Without delays, compact the arrays once fewer than this share of their customers are still travelling.
_COMPACT = 0.7


class _Work:
    """Scratch arrays for the steps of one piece, so that a step allocates next to nothing."""

    def __init__(self, m: int):
        self.intp = np.empty(m, np.intp)
        self.outcome = np.empty(m, np.intp)
        self.u64 = np.empty(m, np.uint64)
        self.u64b = np.empty(m, np.uint64)
        self.flag = np.empty(m, bool)
        self.x = np.empty(m)
        self.y = np.empty(m)

    def draw_work(self, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.intp[:m], self.u64[:m], self.flag[:m]


def _family(family: int, a: np.ndarray, b: np.ndarray, o: np.ndarray, rng: np.random.Generator, x: np.ndarray,
            y: np.ndarray) -> np.ndarray:
    """Delays of items ``o`` of one family (parameters ``a``, ``b``), written to ``x`` (``y``: scratch)."""
    if family == EXPONENTIAL:
        rng.standard_exponential(out=x)
        x *= a.take(o, out=y, mode="clip")
    elif family == LOGNORMAL:
        rng.standard_normal(out=x)
        x *= b.take(o, out=y, mode="clip")
        x += a.take(o, out=y, mode="clip")
        np.exp(x, out=x)
    else:
        x[:] = rng.standard_gamma(a.take(o))
        x *= b.take(o, out=y, mode="clip")
    return x


def _delays(kind: tuple, items: np.ndarray, rng: np.random.Generator, w: _Work) -> np.ndarray:
    """Delays of ``items`` under ``kind`` = ``(family, a, b, families)``: the outcomes' or the states' service."""
    family, a, b, families = kind
    m = len(items)
    x, y = w.x[:m], w.y[:m]
    if len(families) == 1:
        return _family(families[0], a, b, items, rng, x, y)
    family = family.take(items)
    for f in families:
        idx = np.flatnonzero(family == f)
        if idx.size:
            x[idx] = _family(f, a, b, items.take(idx), rng, np.empty(idx.size), np.empty(idx.size))
    return x


class _Piece:
    """The arrays of the customers of one piece still travelling (and, between compactions, those just finished)."""

    def __init__(self, t: Tables, m: int, start: np.ndarray | None, rng, pilot: bool, hashing: bool,
                 entry: AliasTable):
        self.state = draw(entry, np.zeros(m, dtype=np.intp), rng)
        self.goals = np.zeros(m, dtype=np.int8)   # goal visits so far, up to 2
        shape = (m,) if t.words == 1 else (m, t.words)
        self.visited = np.zeros(shape, dtype=np.uint64)
        self.hash = np.zeros(m, dtype=np.uint64) if hashing else None
        self.time = None
        self.start = None
        self.converted = None
        if t.timed:
            self.time = np.zeros(m) if start is None else start.copy()
            self.start = start
            self.converted = np.zeros(m, dtype=bool)
        self.rows = np.arange(m) if pilot else None

    _ARRAYS = ("state", "visited", "hash", "time", "start", "converted", "rows", "goals")

    def keep(self, idx: np.ndarray) -> None:
        """Keep customers ``idx``."""
        for name in self._ARRAYS:
            arr = getattr(self, name)
            if arr is not None:
                setattr(self, name, arr.take(idx, axis=0))

    def absorb(self, other: _Piece) -> None:
        """Add the customers still travelling from an earlier piece (``start`` and ``rows`` are unset in both)."""
        for name in self._ARRAYS:
            arr = getattr(self, name)
            if arr is not None:
                setattr(self, name, np.concatenate([arr, getattr(other, name)]))


class Cohort:
    """What a simulation leaves: tallies of new and of referred customers (one per customer type), and the paths."""

    def __init__(self, tables: Tables):
        self.new = Tally(tables)
        self.referred = [Tally(tables) for _ in tables.entries]
        self.paths = PathCounter()
        self.generations = 0
        self.truncated = False

    def merge(self, other: Cohort) -> None:
        """Add ``other``, a cohort of the same tables whose paths count the same candidates."""
        self.new.merge(other.new)
        for mine, theirs in zip(self.referred, other.referred):
            mine.merge(theirs)
        self.paths.merge(other.paths)
        self.generations = max(self.generations, other.generations)
        self.truncated = self.truncated or other.truncated

    def referred_total(self, what: str):
        """A count summed over the referred customers of every type."""
        return sum(getattr(t, what) for t in self.referred)


def _visit(t: Tables, p: _Piece, tally: Tally, rng, referrals: list, w: _Work | None = None,
           settled: bool = True) -> int:
    """Count the visits of the current states; return how many customers are still travelling.

    ``settled``: nobody is in the drop-off state, so every path hash takes the plain multiplier.
    """
    state = p.state
    m = len(state)
    counts = np.bincount(state, minlength=t.states + 1)
    tally.visits += counts
    bit = t.bit.take(state, out=w.u64[:m] if w else None, mode="clip")
    if t.words == 1:
        p.visited |= bit
    else:
        # One word per customer, through the flat view (1-d fancy indexing is far cheaper than
        # 2-d). First visits are counted here: at finish they would cost a pass per touchpoint.
        flat = p.visited.reshape(-1)
        where = np.arange(0, flat.size, t.words)
        where += t.word.take(state)
        old = flat.take(where)
        fresh = state[(old & bit) == 0]
        tally.first_visits += np.bincount(t.touchpoint.take(fresh), minlength=t.n + 1)[:t.n]
        old |= bit
        flat[where] = old
    if p.hash is not None:
        scratch = w.u64b[:m] if w else None
        if settled:
            p.hash *= t.hash_mult[0]
        else:
            p.hash *= t.hash_mult.take(state, out=scratch, mode="clip")
        p.hash += bit if t.words == 1 else t.code.take(state, out=scratch, mode="clip")
    # Goal visits are a small share: find them first, then who converts for the first time.
    at_goal = np.flatnonzero(t.goal.take(state, out=w.flag[:m] if w else None, mode="clip"))
    if at_goal.size:
        before = p.goals.take(at_goal)
        tally.repeaters += int(np.count_nonzero(before == 1))
        p.goals[at_goal] = np.minimum(before + 1, 2)
    if t.discount is not None:
        worth = np.flatnonzero(t.state_value.take(state))
        if worth.size:
            factor = np.exp(-t.discount * p.time.take(worth)) if p.time is not None else 1.0
            tally.worth += float(np.sum(t.state_value.take(state.take(worth)) * factor))
    if p.converted is not None:
        first = at_goal[~p.converted.take(at_goal)]
        if first.size:
            times = p.time.take(first)
            if p.start is not None:
                times -= p.start.take(first)
            tally.times.add(times)
            p.converted[first] = True
    if t.has_refers:
        refers = t.refers.take(state)
        who = np.flatnonzero(refers > 0)
        if who.size:
            count = rng.poisson(np.minimum(refers.take(who), MAX_DRAWN))
            when = p.time.take(who) if p.time is not None else np.zeros(len(who))
            referrals.append(Referred(when, count, t.route.take(state.take(who))))
    return len(state) - int(counts[t.exit])


def _run_numpy_piece(t: Tables, m: int, rng, tally: Tally, horizon: float | None,
                     start: np.ndarray | None, paths: PathCounter | None, entry: AliasTable,
                     carry: _Piece | None = None, leave: int = 0,
                     budget: int | None = None) -> tuple[Referred, _Piece | None]:
    """Simulate ``m`` customers entering by ``entry`` (and those ``carry`` brings) to the end or the horizon.

    Stop when fewer than ``leave`` are still travelling and hand those back, so that
    they continue with the next piece instead of costing a long tail of tiny steps.
    Return the customers referred and the customers handed back. Raise :class:`OverBudget`
    past ``budget`` transitions.
    """
    pilot = paths is not None and not paths.started
    p = _Piece(t, m, start, rng, pilot, paths is not None, entry)
    tally.customers += m
    fresh = m   # the piece's own customers come first in its arrays, until they are compacted
    referrals: list[Referred] = []
    stop = math.inf if budget is None else tally.transitions + budget
    buffer = None
    if pilot:
        buffer = np.full((m, PATH_LENGTH + 1), -1, dtype=np.int32)
        buffer[:, 0] = t.touchpoint.take(p.state)
        shown = np.where(t.touchpoint == t.n, -1, t.touchpoint)  # drop-off: no touchpoint
    _visit(t, p, tally, rng, referrals)
    if carry is not None:
        p.absorb(carry)
    m = len(p.state)
    w = _Work(m)
    done_visited, done_hash, done_late, done_rows = [], [], [], []

    def settle(alive: np.ndarray) -> None:
        gone = np.flatnonzero(~alive)
        done_visited.append(p.visited.take(gone, axis=0))
        if p.hash is not None:
            done_hash.append(p.hash.take(gone))
        if horizon is not None:
            done_late.append(p.time.take(gone) > horizon)
        if pilot:
            done_rows.append(p.rows.take(gone))
        p.keep(np.flatnonzero(alive))

    delays = (t.family, t.param_a, t.param_b, t.families)
    service = (t.service_family, t.service_a, t.service_b, t.service_families)
    step = 0
    while m >= leave and m:
        size = len(p.state)
        if p.time is None:
            draw(t.step_target, p.state, rng, out=p.state, work=w.draw_work(size))
        else:
            outcome = draw(t.step, p.state, rng, out=w.outcome[:size], work=w.draw_work(size))
            if t.service_families:      # the time a server holds them, before their own delay
                p.time += _delays(service, p.state, rng, w)
            t.target.take(outcome, out=p.state, mode="clip")
            if t.families:
                p.time += _delays(delays, outcome, rng, w)
            if horizon is not None:
                # Customers past the horizon stop where they are (their time says why).
                np.putmask(p.state, p.time > horizon, t.exit)
        tally.transitions += m
        if tally.transitions > stop:
            raise OverBudget
        step += 1
        if step == 1:   # who left right after their first touchpoint (not cut by the horizon)
            left = p.state[:fresh] == t.exit
            if horizon is not None:
                left &= p.time[:fresh] <= horizon
            tally.bounced += int(np.count_nonzero(left))
        if pilot and step <= PATH_LENGTH:
            buffer[p.rows, step] = shown.take(p.state)
        if p.time is not None:
            # With delays a finished customer's step would cost a delay draw: settle at once.
            alive = p.state != t.exit
            if not alive.all():
                settle(alive)
            m = _visit(t, p, tally, rng, referrals, w)
        else:
            m = _visit(t, p, tally, rng, referrals, w, settled=False)
            if m < leave or m < _COMPACT * len(p.state):
                settle(p.state != t.exit)
    if done_visited:
        visited = np.concatenate(done_visited)
        converted = tally.finish(visited, np.concatenate(done_late) if done_late else None)
        if paths is not None:
            hashes = np.concatenate(done_hash)
            if pilot:
                paths.start(hashes, np.concatenate(done_rows), buffer)
            paths.add(hashes, converted)
    return Referred.join(referrals), (p if m else None)


def _run_compiled_piece(t: Tables, m: int, rng, tally: Tally, horizon: float | None,
                        start: np.ndarray | None, paths: PathCounter | None, entry: AliasTable,
                        carry: None = None, leave: int = 0, budget: int | None = None) -> tuple[Referred, None]:
    """``_run_numpy_piece`` in compiled code; walks have no tail of tiny steps, so nothing is carried over."""
    from journeysim.engines.montecarlo.kernel import (
        run_piece,  # numba loads only when used
    )

    made = run_piece(t, m, rng, tally, horizon, start, paths, entry, budget)
    if made is None:
        raise OverBudget
    return made, None


def _by_type(generation: int, made: Referred) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """Referred customers grouped by customer type (each type enters by its own table)."""
    return [(generation, kind, times, counts) for kind, times, counts in made.by_type()]


#: How a piece of customers is simulated, by backend name.
BACKENDS = {"numba": _run_compiled_piece, "numpy": _run_numpy_piece}


def simulate_cohort(tables: Tables, customers: int, rng: np.random.Generator, *, chunk_size: int,
                    horizon: float | None, generations: int, referral_limit: int,
                    progress: Callable[[int], None] | None = None, backend: str = "numba",
                    budget: int | None = None, paths: PathCounter | None = None) -> Cohort:
    """Simulate ``customers`` new customers and the referral generations they start.

    Referred customers beyond ``generations`` generations or ``referral_limit``
    in all are not simulated (``Cohort.truncated``). Past ``budget`` transitions in all
    the run stops with :class:`OverBudget`. ``progress`` is called with
    the number of new customers started so far after each piece. ``backend``:
    ``"numba"`` walks each customer in compiled code (``_mckernel``), ``"numpy"``
    advances the customers of a piece together, one vectorised step at a time. ``paths``: the
    candidate paths to count (:meth:`PathCounter.copy_candidates`), else the first piece picks them.
    """
    cohort = Cohort(tables)
    if paths is not None:
        cohort.paths = paths
    if horizon is not None and not tables.timed:
        horizon = None  # every visit happens at time 0, within any positive horizon
    _run_piece = BACKENDS[backend]
    carry, done = None, 0

    def left(c: Cohort) -> int | None:
        return None if budget is None else budget - c.new.transitions - c.referred_total("transitions")

    while done < customers:
        # The first piece picks the candidate paths: at least PILOT customers, whatever the chunk size.
        m = min(customers - done, chunk_size if done else max(chunk_size, PILOT))
        # The first piece and the last one finish everybody.
        leave = 0 if done == 0 or done + m >= customers else chunk_size // _TAIL
        made, carry = _run_piece(tables, m, rng, cohort.new, horizon, None, cohort.paths, tables.entry, carry, leave,
                                 left(cohort))
        done += m
        pending = _by_type(1, made)
        while pending:
            generation, kind, times, counts = pending.pop()
            referred = cohort.referred_total("customers")
            if generation > generations or referred >= referral_limit:
                cohort.truncated = True
                continue
            piece, rest = take(times, counts, min(chunk_size, referral_limit - referred))
            if rest is not None:
                pending.append((generation, kind, *rest))
            cohort.generations = max(cohort.generations, generation)
            made, _ = _run_piece(tables, len(piece), rng, cohort.referred[kind], horizon, piece, None,
                                 tables.entries[kind], budget=left(cohort))
            pending += _by_type(generation + 1, made)
        if progress is not None:
            progress(done)
    return cohort
