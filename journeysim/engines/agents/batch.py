"""A day's new customers walked together, as far as nothing else can touch them.

A touchpoint is *plain* for a segment when no event can concern a customer there:
no capacity, budget, fatigue, referrals or campaign. Customers are advanced
together through plain touchpoints (one step per touchpoint visit for the whole
batch, compiled in :mod:`~journeysim.engines.agents.kernel`, with the same tallies
:meth:`Run.walk` keeps); a customer who reaches a touchpoint that is not plain is
set aside and, once the batch is done, handed to :meth:`Run.walk` with what it has
seen so far. The visits counted here are final for the same reason as in ``walk``.

With social proof, the rows it changes and the goals are *timed*: a visit there
belongs to the step of the social clock its time falls in (see
:mod:`journeysim.engines.agents.run`). A customer reaching one beyond the current
step waits, in arrays, for its step (:meth:`Run.defer`), and the step walks all its
customers together here, their social-proof rows drawn with the share the step
reads (:meth:`BatchWalker.read_share`).
"""

from __future__ import annotations

import numpy as np

from journeysim.engines.agents import kernel
from journeysim.engines.agents.model import Customer, Model, timed_touchpoints
from journeysim.engines.workload import OverBudget

__all__ = ["BatchWalker"]

#: Bit masks of seen touchpoints and reached stages are int64.
MAX_BITS = 62


class BatchWalker:
    """Flat outcome tables for every (segment, touchpoint) row, and the batch walk."""

    def __init__(self, m: Model, rng: np.random.Generator):
        self.rng = rng
        n = self.n = len(m.names)
        self.enabled = n <= MAX_BITS and len(m.stages) + 1 <= MAX_BITS
        # (social-proof rows are walked here only by the steps of a stepped run: m.stop holds them otherwise)
        self.plain = np.array([[not (m.stop[i] or m.campaign_days[i] or m.refers[i]
                                     or m.fatigue[s][i] is not None) for i in range(n)]
                               for s in range(len(m.rows))], dtype=bool)
        self.timed = np.array(timed_touchpoints(m), dtype=bool)          # all False without steps
        # a budget and nothing else keeps the touchpoint from being plain: a visit paid for is walked on here
        self.gate_only = np.array([[m.budget[i] is not None and not m.capacity[i]
                                    and not (m.campaign_days[i] or m.refers[i] or m.fatigue[s][i] is not None)
                                    for i in range(n)] for s in range(len(m.rows))], dtype=bool)
        self.social = []                   # per social-proof row: where its outcomes sit in cum, p, strength
        cum, target, kind, a, b, last = [], [], [], [], [], []
        for s, seg in enumerate(m.rows):
            for i, outcomes in enumerate(seg):
                row = s * n + i
                ps = np.array([o.p for o in outcomes])
                acc = np.cumsum(ps) / (ps.sum() or 1.0)
                acc[-1] = 1.0
                if m.dynamic[s][i]:
                    self.social.append((len(cum), row, ps[:-1], np.array([o.social_proof for o in outcomes[:-1]])))
                cum.extend((row + acc).tolist())
                for o in outcomes:
                    target.append(o.target)
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
        self.goal = np.array(m.goal)
        self.value = np.array(m.value, dtype=float)
        self.stage = np.array(m.stage)
        self.any_goal = bool(self.goal.any())
        self._rev_day = np.zeros(m.days)        # the kernel's per-day revenue of a step, zero between steps

    def read_share(self, share: float) -> None:
        """Social-proof rows as :meth:`Run._choose_social` draws them at this converted ``share``."""
        for at, row, p, strength in self.social:
            ps = p * (1.0 + strength * share)
            self.cum[at:at + p.size] = row + np.cumsum(ps) / max(ps.sum(), 1.0)

    def walk(self, run, seg: np.ndarray, cur: np.ndarray, t: np.ndarray, start: np.ndarray | None = None,
             seen: np.ndarray | None = None, reached: np.ndarray | None = None, conv: np.ndarray | None = None,
             paid: bool | np.ndarray = False) -> None:
        """Walk customers (segment, touchpoint, time; new customers unless ``start`` and what they have seen,
        reached and converted are given) until each needs :meth:`Run.walk` or waits for its step. ``paid`` (for
        all, or by customer): their first visits are to budgeted touchpoints (:attr:`gate_only`) that have paid
        for them.

        The steps run in :func:`~journeysim.engines.agents.kernel.advance`; this hands it the run's state, then
        the customers it set aside to :meth:`Run.defer` (waiting for their steps) and :meth:`Run.walk` (the others).
        """
        size = t.size
        # the kernel compacts the state in place: copies, never the caller's arrays
        t = np.array(t, dtype=np.float64)
        start = t.copy() if start is None else np.asarray(start, dtype=np.float64)
        state = (np.array(seg, dtype=np.int64), np.array(cur, dtype=np.int64), t, np.arange(size),
                 np.zeros(size, np.int64) if seen is None else np.array(seen, dtype=np.int64),
                 np.zeros(size, np.int64) if reached is None else np.array(reached, dtype=np.int64),
                 np.zeros(size, bool) if conv is None else np.array(conv, dtype=bool))
        waiting, handed = ((np.zeros(1, np.int64), np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size),
                            np.empty(size), np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size, bool))
                           for _ in "ab")
        paid = np.full(size, paid) if isinstance(paid, bool) else np.ascontiguousarray(paid, dtype=bool)
        tally, counts, totals = run.batch, np.zeros(5, np.int64), np.array([run.revenue, run.time_to_conversion])
        code, run.room = kernel.advance(
            self.rng, size, paid, *state, start, self.plain, self.timed, float(run.horizon), run.m.days, self.cum,
            self.target, self.kind, self.a, self.b, self.last, self.goal, self.value, self.stage, self.any_goal, self.n,
            tally["visits"], tally["first"], tally["reach"], tally["goals"], tally["revenue"], tally["occupancy"],
            counts, totals, run.room,
            np.empty(size, bool), np.empty(size), np.empty(size, np.int64), np.empty(size), np.empty(size),
            self._rev_day, waiting, handed)
        run.revenue, run.time_to_conversion = float(totals[0]), float(totals[1])
        still, goal_visits, converted, converted_left, exited = counts.tolist()
        run.still += still
        run.goal_visits += goal_visits
        run.converted += converted
        run.converted_left += converted_left
        run.exited += exited
        if code == kernel.OVER_BUDGET:
            raise OverBudget
        k = int(waiting[0][0])
        if k:
            run.defer(*(x[:k] for x in waiting[1:]))
        k = int(handed[0][0])
        for s, i, tt, st, sn, rc, cv in zip(*(x[:k].tolist() for x in handed[1:])):
            c = Customer(s, st)
            c.seen, c.reached, c.converted = sn, rc, cv
            run.walk(c, i, tt)


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
