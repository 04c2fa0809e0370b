"""A day's new customers walked together, as far as nothing else can touch them.

A touchpoint is *plain* for a segment when no event can concern a customer there:
no capacity, budget, fatigue, referrals or campaign. Customers are advanced
together through plain touchpoints (one step per touchpoint visit for the whole
batch, compiled in :mod:`~journeysim.engines.agents.kernel`, with the same tallies
:meth:`Run.walk` keeps); at the first touchpoint that is not plain, or when only a
few are left, each is handed to :meth:`Run.walk` with what it has seen so far. The visits counted here are final
for the same reason as in ``walk``.

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

#: Below this many customers in flight, they are walked in Python (as when the steps were numpy calls: the
#: random stream is the one those steps drew, see :mod:`~journeysim.engines.agents.kernel`).
HANDOFF = 24
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
        self.timed = np.array(timed_touchpoints(m), dtype=bool) if m.social_step else None
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
        self._untimed = np.zeros(n, dtype=bool)
        self._rev_day = np.zeros(m.days)        # the kernel's per-day revenue of a step, zero between steps

    def read_share(self, share: float) -> None:
        """Social-proof rows as :meth:`Run._choose_social` draws them at this converted ``share``."""
        for at, row, p, strength in self.social:
            ps = p * (1.0 + strength * share)
            self.cum[at:at + p.size] = row + np.cumsum(ps) / max(ps.sum(), 1.0)

    def walk(self, run, seg: np.ndarray, cur: np.ndarray, t: np.ndarray, start: np.ndarray | None = None,
             seen: np.ndarray | None = None, reached: np.ndarray | None = None, conv: np.ndarray | None = None,
             paid: bool = False) -> None:
        """Walk customers (segment, touchpoint, time; new customers unless ``start`` and what they have seen,
        reached and converted are given) until each needs :meth:`Run.walk` or waits for its step. ``paid``:
        their first visits are to budgeted touchpoints (:attr:`gate_only`) that have paid for them.

        The steps run in :func:`~journeysim.engines.agents.kernel.advance`; this hands it the run's state and
        does what only Python can: deferring customers to their steps and walking the others one by one.
        """
        size = t.size
        # the kernel compacts the state in place: copies, never the caller's arrays
        t = np.array(t, dtype=np.float64)
        start = t.copy() if start is None else np.asarray(start, dtype=np.float64)
        seg, cur = np.array(seg, dtype=np.int64), np.array(cur, dtype=np.int64)
        seen = np.zeros(size, np.int64) if seen is None else np.array(seen, dtype=np.int64)
        reached = np.zeros(size, np.int64) if reached is None else np.array(reached, dtype=np.int64)
        conv = np.zeros(size, bool) if conv is None else np.array(conv, dtype=bool)
        who, mark, keep = np.arange(size), np.zeros(size, np.int8), np.empty(size, bool)
        u, o, d, buf = np.empty(size), np.empty(size, np.int64), np.empty(size), np.empty(size)
        waiting = (np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size), np.empty(size),
                   np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size, bool))
        tally, counts, totals, deferred = run.batch, np.zeros(5, np.int64), np.zeros(2), np.zeros(1, np.int64)
        timed = self.timed if self.timed is not None else self._untimed
        resume = False
        while True:
            totals[0], totals[1] = run.revenue, run.time_to_conversion
            code, size, run.room = kernel.advance(
                self.rng, size, resume, paid, seg, cur, t, who, seen, reached, conv, start, mark,
                self.plain, timed, self.timed is not None, float(run.horizon), run.m.days, HANDOFF,
                self.cum, self.target, self.kind, self.a, self.b, self.last, self.goal, self.value, self.stage,
                self.any_goal, self.n, tally["visits"], tally["first"], tally["reach"], tally["goals"],
                tally["revenue"], tally["occupancy"], counts, totals, run.room, keep, u, o, d, buf, self._rev_day,
                deferred, *waiting)
            run.revenue, run.time_to_conversion = float(totals[0]), float(totals[1])
            still, goal_visits, converted, converted_left, exited = counts.tolist()
            run.still += still
            run.goal_visits += goal_visits
            run.converted += converted
            run.converted_left += converted_left
            run.exited += exited
            counts[:] = 0
            if code == kernel.OVER_BUDGET:
                raise OverBudget
            if code == kernel.DONE:
                break
            paid, resume = False, True
            out = np.flatnonzero(mark[:size] == kernel.OUT)
            for s, i, tt, w, sn, rc, cv in zip(seg[out].tolist(), cur[out].tolist(), t[out].tolist(),
                                               who[out].tolist(), seen[out].tolist(), reached[out].tolist(),
                                               conv[out].tolist()):
                c = Customer(s, float(start[w]))
                c.seen, c.reached, c.converted = sn, rc, cv
                run.walk(c, i, tt)
        k = int(deferred[0])
        if k:
            run.defer(*(x[:k] for x in waiting))


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
