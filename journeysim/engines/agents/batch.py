"""A day's new customers walked together, as far as nothing else can touch them.

A touchpoint is *plain* when no other customer can concern a customer there: no
capacity, budget or referrals. Customers are advanced together through plain
touchpoints (one step per touchpoint visit for the whole batch, compiled in
:mod:`~journeysim.engines.agents.kernel`, with the same tallies :meth:`Run.walk`
keeps, fatigue included); a customer who reaches a touchpoint that is not plain is
set aside and, once the batch is done, handed to :meth:`Run.walk` with what it has
seen so far and its fatigue counts. One whose visit a campaign's day falls in is
parked for the campaign, as ``walk`` parks it. The visits counted here are final
for the same reason as in ``walk``.

With social proof, the rows it changes and the goals are *timed*: a visit there
belongs to the step of the social clock its time falls in (see
:mod:`journeysim.engines.agents.run`). A customer reaching one beyond the current
step waits, in arrays, for its step (:class:`Waiting`), and the step walks all its
customers together here, their social-proof rows drawn with the share the step
reads (:meth:`BatchWalker.read_share`).
"""

from __future__ import annotations

import numpy as np

from journeysim.engines.agents import kernel
from journeysim.engines.agents.model import Customer, Model, timed_touchpoints
from journeysim.engines.workload import OverBudget

__all__ = ["BatchWalker", "Waiting"]

#: Bit masks of seen touchpoints and reached stages are int64.
MAX_BITS = 62


class BatchWalker:
    """Flat outcome tables for every (segment, touchpoint) row, and the batch walk."""

    def __init__(self, m: Model, rng: np.random.Generator):
        self.rng = rng
        n = self.n = len(m.names)
        self.enabled = n <= MAX_BITS and len(m.stages) + 1 <= MAX_BITS
        # (social-proof rows are walked here only by the steps of a stepped run: m.stop holds them otherwise)
        self.plain = np.array([[not (m.stop[i] or m.refers[i]) for i in range(n)] for s in range(len(m.rows))],
                              dtype=bool)
        self.timed = np.array(timed_touchpoints(m), dtype=bool)          # all False without steps
        self.any_timed = bool(self.timed.any())
        # a budget and nothing else keeps the touchpoint from being plain: a visit paid for is walked on here
        self.gate_only = np.array([[m.budget[i] is not None and not (m.capacity[i] or m.refers[i])
                                    for i in range(n)] for s in range(len(m.rows))], dtype=bool)
        # fatigue: a column of visit counts per touchpoint with fatigue in some segment; by row, its column
        self.fatigued = [i for i in range(n) if any(f[i] is not None for f in m.fatigue)]
        column = {i: c for c, i in enumerate(self.fatigued)}
        self.fcol = np.array([column[i] if m.fatigue[s][i] is not None else -1
                              for s in range(len(m.rows)) for i in range(n)], dtype=np.int64)
        # campaign days by touchpoint: marks[mark_at[i]:mark_at[i + 1]]
        self.marks = np.array([d for days in m.campaign_days for d in days], dtype=np.float64)   # compared with times
        self.mark_at = np.cumsum([0, *(len(days) for days in m.campaign_days)]).astype(np.int64)
        social = []                        # per social-proof row: where its outcomes sit in cum, p, strength
        cum, target, kind, a, b, last, ffac = [], [], [], [], [], [], []
        for s, seg in enumerate(m.rows):
            for i, outcomes in enumerate(seg):
                row = s * n + i
                ps = np.array([o.p for o in outcomes])
                acc = np.cumsum(ps) / (ps.sum() or 1.0)
                acc[-1] = 1.0
                if m.dynamic[s][i]:
                    social.append((len(cum), row, ps[:-1], [o.social_proof for o in outcomes[:-1]]))
                cum.extend((row + acc).tolist())
                for o in outcomes:
                    target.append(o.target)
                    ffac.append(-1.0 if o.fatigue is None else float(o.fatigue))
                    k, x, y = _delay_params(o.delay, m.scale)
                    kind.append(k)
                    a.append(x)
                    b.append(y)
                last.append(len(cum) - 1)
        self.cum = np.array(cum)
        self.target = np.array(target)
        self.kind = np.array(kind)
        self.a = np.array(a)
        self.b = np.array(b)
        self.last = np.array(last)
        # the social-proof rows flat for kernel.read_share: where each starts in cum, its row, its outcomes' span
        self._social = (np.array([x[0] for x in social], np.int64), np.array([x[1] for x in social], np.float64),
                        np.cumsum([0, *(len(x[2]) for x in social)]).astype(np.int64),
                        np.concatenate([np.zeros(0), *(x[2] for x in social)]),
                        np.array([v for x in social for v in x[3]], np.float64))
        self._ps = np.empty(max([len(x[2]) for x in social], default=0))
        self.ffac = np.array(ffac)
        self.goal = np.array(m.goal)
        self.value = np.array(m.value, dtype=float)
        self.stage = np.array(m.stage)
        self.any_goal = bool(self.goal.any())
        self._rev_day = np.zeros(m.days)        # the kernel's per-day revenue of a step, zero between steps
        self._capacity = -1                     # no scratch arrays yet (a first walk may have 0 customers)

    def read_share(self, share: float) -> None:
        """Social-proof rows as :meth:`Run._choose_social` draws them at this converted ``share``."""
        if self._social[0].size:
            kernel.read_share(self.cum, *self._social, float(share), self._ps)

    def walk(self, run, seg: np.ndarray, cur: np.ndarray, t: np.ndarray, start: np.ndarray | None = None,
             seen: np.ndarray | None = None, reached: np.ndarray | None = None, conv: np.ndarray | None = None,
             cnt: np.ndarray | None = None, paid: bool | np.ndarray = False) -> None:
        """Walk customers (segment, touchpoint, time; new customers unless ``start`` and what they have seen,
        reached, converted and their fatigue counts are given) until each needs :meth:`Run.walk` or waits for its
        step or a campaign. ``paid`` (for all, or by customer): their first visits are to budgeted touchpoints
        (:attr:`gate_only`) that have paid for them.

        The steps run in :func:`~journeysim.engines.agents.kernel.advance`; this hands it the run's state (it
        appends those waiting for a step to :attr:`Run.pending` itself), then the customers it set aside to the
        campaigns (parked) and to :meth:`Run.walk` (the others).
        """
        size = t.size
        # the kernel compacts the state in place: copies, never the caller's arrays
        t = np.array(t, dtype=np.float64)
        start = t.copy() if start is None else np.asarray(start, dtype=np.float64)
        nf = len(self.fatigued)
        state = (np.array(seg, dtype=np.int64), np.array(cur, dtype=np.int64), t, np.arange(size),
                 np.zeros(size, np.int64) if seen is None else np.array(seen, dtype=np.int64),
                 np.zeros(size, np.int64) if reached is None else np.array(reached, dtype=np.int64),
                 np.zeros(size, bool) if conv is None else np.array(conv, dtype=bool),
                 np.zeros((size, nf), np.int32) if cnt is None else np.array(cnt, dtype=np.int32))
        if self.any_timed:
            run.pending.reserve(size)      # the kernel appends those waiting for a step there (none without steps)
        paid = np.full(size, paid) if isinstance(paid, bool) else np.ascontiguousarray(paid, dtype=bool)
        tally, counts, totals = run.batch, np.zeros(5, np.int64), np.array([run.revenue, run.time_to_conversion])
        (keep, u, o, d, buf), handed, parked = self._buffers(size)
        code, run.room = kernel.advance(
            self.rng, size, paid, *state, start, self.plain, self.timed, float(run.horizon), run.bounds, run.m.days,
            self.cum,
            self.target, self.kind, self.a, self.b, self.last, self.goal, self.value, self.stage, self.any_goal, self.n,
            self.fcol, self.ffac, self.marks, self.mark_at,
            tally["visits"], tally["first"], tally["reach"], tally["goals"], tally["revenue"], tally["occupancy"],
            counts, totals, run.room, keep, u, o, d, buf, self._rev_day, run.pending.arrays, handed, parked)
        run.revenue, run.time_to_conversion = float(totals[0]), float(totals[1])
        still, goal_visits, converted, converted_left, exited = counts.tolist()
        run.still += still
        run.goal_visits += goal_visits
        run.converted += converted
        run.converted_left += converted_left
        run.exited += exited
        if code == kernel.OVER_BUDGET:
            raise OverBudget
        k = int(parked[0][0])
        if k:
            for (s, i, tt, st, sn, rc, cv, nxt, leave, day), row in zip(
                    zip(*(x[:k].tolist() for x in (*parked[1:8], parked[9], parked[11], parked[10]))),
                    parked[8][:k].tolist()):
                run.parked.setdefault(day, []).append((self._customer(s, st, sn, rc, cv, row), i, nxt, leave))
        k = int(handed[0][0])
        if k:
            for (s, i, tt, st, sn, rc, cv), row in zip(zip(*(x[:k].tolist() for x in handed[1:8])),
                                                      handed[8][:k].tolist()):
                run.walk(self._customer(s, st, sn, rc, cv, row), i, tt)

    def _customer(self, seg: int, start: float, seen: int, reached: int, converted: bool, counts: list) -> Customer:
        c = Customer(seg, start)
        c.seen, c.reached, c.converted = seen, reached, converted
        if any(counts):
            c.counts = {i: v for i, v in zip(self.fatigued, counts) if v}
        return c

    def counts_of(self, customers) -> np.ndarray:
        """The fatigue counts of :class:`Customer` objects as the kernel keeps them (a row each)."""
        cnt = np.zeros((len(customers), len(self.fatigued)), np.int32)
        for r, c in enumerate(customers):
            if c.counts:
                for col, i in enumerate(self.fatigued):
                    cnt[r, col] = c.counts.get(i, 0)
        return cnt

    def _buffers(self, size: int) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        """The kernel's scratch arrays and its two lists of customers set aside (handed over, parked), emptied, for
        ``size`` customers: kept from call to call (a walk is never nested, and the lists are read before the next)."""
        if size > self._capacity:
            c = self._capacity = max(size, 2 * self._capacity)
            self._scratch = (np.empty(c, bool), np.empty(c), np.empty(c, np.int64), np.empty(c), np.empty(c))
            # (parked: where to, the campaign's day, when they would leave)
            self._asides = (_set_aside(c, len(self.fatigued)), _set_aside(c, len(self.fatigued)))
        for aside in self._asides:
            aside[0][0] = 0
        return self._scratch, *self._asides


def _delay_params(delay, scale: float) -> tuple[int, float, float]:
    if delay is None or delay.mean == 0:
        return kernel.FIXED, 0.0, 0.0
    if delay.dist == "fixed":
        return kernel.FIXED, delay.mean * scale, 0.0
    if delay.dist == "exponential":
        return kernel.EXPONENTIAL, delay.mean * scale, 0.0
    if delay.dist == "lognormal":
        mu, sigma = delay.lognormal_params()
        return kernel.LOGNORMAL, mu + np.log(scale), sigma
    shape, gscale = delay.gamma_params()
    return kernel.GAMMA, shape, gscale * scale


def _set_aside(capacity: int, fatigued: int) -> tuple[np.ndarray, ...]:
    """Room for ``capacity`` customers set aside by the kernel: how many, then segment, touchpoint, time, arrival
    time, seen and reached bits, converted, fatigue counts (a column per touchpoint with fatigue), two integers and a
    float of the list's own. One layout for every such list, so that the functions they go through compile once."""
    c = capacity
    return (np.zeros(1, np.int64), np.empty(c, np.int64), np.empty(c, np.int64), np.empty(c), np.empty(c),
            np.empty(c, np.int64), np.empty(c, np.int64), np.empty(c, bool), np.empty((c, fatigued), np.int32),
            np.empty(c, np.int64), np.empty(c, np.int64), np.empty(c))


class Waiting:
    """Customers waiting for a later step of the social clock (:attr:`Run.pending`), in arrays, in the order
    they were set aside: the kernel appends to them, each step :meth:`take` s its own.

    ``arrays``: the layout of the kernel's other lists of customers set aside, its own integers the step by
    customer and how many wait for each step (its float unused).
    """

    def __init__(self, fatigued: int, steps: int):
        self.by_step = np.zeros(steps, np.int64)
        self.arrays = self._empty(0, fatigued)

    def _empty(self, capacity: int, fatigued: int) -> tuple[np.ndarray, ...]:
        arrays = _set_aside(capacity, fatigued)
        return (*arrays[:10], self.by_step, arrays[11])

    def reserve(self, extra: int) -> None:
        """Room for ``extra`` more customers."""
        arrays = self.arrays
        count, capacity = int(arrays[0][0]), arrays[1].size
        if count + extra > capacity:
            grown = self._empty(max(count + extra, 2 * capacity, 256), arrays[8].shape[1])
            for old, new in zip(arrays[1:10], grown[1:10]):
                new[:count] = old[:count]
            grown[0][0] = count
            self.arrays = grown

    def push(self, steps: np.ndarray, *state: np.ndarray) -> None:
        """Customers (arrays as :meth:`take` returns them) waiting for ``steps``."""
        self.reserve(steps.size)
        arrays = self.arrays
        count = int(arrays[0][0])
        for new, into in zip((*state, steps), arrays[1:10]):
            into[count:count + steps.size] = new
        arrays[0][0] = count + steps.size
        np.add.at(self.by_step, steps, 1)

    def take(self, k: int) -> tuple[np.ndarray, ...] | None:
        """Those waiting for step ``k`` (segment, touchpoint, time, arrival time, seen, reached, converted, fatigue
        counts), None if nobody; they wait no more."""
        if not self.by_step[k]:
            return None
        return kernel.take(k, self.arrays)
