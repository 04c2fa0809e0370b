"""The batch walk as numpy steps: the reference for :mod:`journeysim.engines.agents.kernel` (to the bit on plain maps).

These are the steps :meth:`journeysim.engines.agents.batch.BatchWalker.walk` took before they were compiled,
kept as they were but for ``paid`` flags by customer; ``numpy_walk`` replaces the method in the tests that compare
the two.
"""

from __future__ import annotations

import numpy as np

from journeysim.engines.agents.kernel import EXPONENTIAL, FIXED, LOGNORMAL
from journeysim.engines.agents.model import EXIT_INDEX, Customer
from journeysim.engines.workload import OverBudget

#: Below this many customers in flight, the numpy steps walked them in Python (a test may set it to 1: then, on a
#: map whose touchpoints are all plain, nothing is walked in Python and the kernel must give the same result).
HANDOFF = 24


def _delays(self, o: np.ndarray) -> np.ndarray:
    rng, kind = self.rng, self.kind[o]
    d = self.a[o].copy()                     # fixed delays (and none: 0)
    for k in sorted(set(self.kind.tolist()) - {FIXED}):
        hit = kind == k
        if not hit.any():
            continue
        oh = o[hit]
        if k == EXPONENTIAL:
            d[hit] = rng.standard_exponential(oh.size) * self.a[oh]
        elif k == LOGNORMAL:
            d[hit] = np.exp(self.a[oh] + self.b[oh] * rng.standard_normal(oh.size))
        else:
            d[hit] = rng.gamma(self.a[oh]) * self.b[oh]
    return d

def _hand_over(run, out, seg, cur, t, who, seen, reached, conv, start, counts=None) -> None:
    """The customers ``out`` to :meth:`Run.walk`, one by one (with their fatigue ``counts``, dicts, if given)."""
    counts = [None] * len(seg) if counts is None else counts
    for s, i, tt, w, sn, rc, cv, n in zip(seg[out].tolist(), cur[out].tolist(), t[out].tolist(), who[out].tolist(),
                                          seen[out].tolist(), reached[out].tolist(), conv[out].tolist(),
                                          [n for n, o in zip(counts, out) if o]):
        c = Customer(s, float(start[w]))
        c.seen, c.reached, c.converted, c.counts = sn, rc, cv, n
        run.walk(c, i, tt)


def _plain_tables(self, m) -> tuple[np.ndarray, np.ndarray]:
    """The plain and gate-only tables of the numpy steps: fatigue and campaigns were walked in Python then."""
    if not hasattr(self, "_numpy_plain"):
        rows = range(len(m.rows))
        n = self.n
        self._numpy_plain = np.array([[not (m.stop[i] or m.campaign_days[i] or m.refers[i] or m.fatigue[s][i] is not None)
                                       for i in range(n)] for s in rows], dtype=bool)
        self._numpy_gate_only = np.array([[m.budget[i] is not None and not m.capacity[i] and not (
            m.campaign_days[i] or m.refers[i] or m.fatigue[s][i] is not None) for i in range(n)] for s in rows],
            dtype=bool)
    return self._numpy_plain, self._numpy_gate_only


def numpy_walk(self, run, seg: np.ndarray, cur: np.ndarray, t: np.ndarray, start: np.ndarray | None = None,
         seen: np.ndarray | None = None, reached: np.ndarray | None = None, conv: np.ndarray | None = None,
         cnt: np.ndarray | None = None, paid: bool | np.ndarray = False) -> None:
    """Walk customers (segment, touchpoint, time; new customers unless ``start`` and what they have seen,
    reached and converted are given) until each needs :meth:`Run.walk` or waits for its step. ``paid``:
    their first visits are to budgeted touchpoints (:attr:`gate_only`) that have paid for them.

    The changes: ``paid`` may be given by customer (a step now walks its new arrivals, paid for, with the
    customers waiting for it); the others of that first step are handed over as usual. Customers with fatigue
    counts (``cnt``) are handed to :meth:`Run.walk` at once, as the steps' caller did then."""
    n, days, rng, tally, timed = self.n, run.m.days, self.rng, run.batch, self.timed
    plain_table, gate_only = _plain_tables(self, run.m)
    nf = len(self.fatigued)
    if start is None:
        start = t
        seen = np.zeros(t.size, dtype=np.int64)
        reached = np.zeros(t.size, dtype=np.int64)
        conv = np.zeros(t.size, dtype=bool)
    elif cnt is not None and cnt.any():
        tired = cnt.any(axis=1)
        counts = [{i: int(v) for i, v in zip(self.fatigued, row) if v} for row in cnt.tolist()]
        _hand_over(run, tired, seg, cur, t, np.arange(t.size), seen, reached, conv, start, counts)
        keep = ~tired
        seg, cur, t, start, seen, reached, conv = (x[keep] for x in (seg, cur, t, start, seen, reached, conv))
        paid = paid if isinstance(paid, bool) else np.asarray(paid)[keep]
    who = np.arange(t.size)
    one = np.int64(1)
    while who.size:
        late = t >= days
        if late.any():
            run.still += int(late.sum())
            keep = ~late
            seg, cur, t, who, seen, reached, conv = (x[keep] for x in (seg, cur, t, who, seen, reached, conv))
        if timed is not None:
            wait = timed[cur] & (t >= run.horizon)
            if wait.any():
                run.pending.push(run.step_of(t[wait]), seg[wait], cur[wait], t[wait], start[who[wait]], seen[wait],
                                 reached[wait], conv[wait], np.zeros((int(wait.sum()), nf), np.int32))
                keep = ~wait
                seg, cur, t, who, seen, reached, conv = (x[keep] for x in (seg, cur, t, who, seen, reached, conv))
                if not who.size:
                    return
        plain = plain_table[seg, cur]
        if np.all(paid):           # the first visits are paid for: walked here, however few
            plain, paid = plain | gate_only[seg, cur], False
        elif np.any(paid):
            plain, paid = plain | np.asarray(paid)[who], False
            if not plain.all():
                _hand_over(run, ~plain, seg, cur, t, who, seen, reached, conv, start)
                seg, cur, t, who, seen, reached, conv = (x[plain] for x in (seg, cur, t, who, seen, reached, conv))
        elif who.size < HANDOFF or not plain.all():
            out = ~plain if who.size >= HANDOFF else np.ones(who.size, dtype=bool)
            _hand_over(run, out, seg, cur, t, who, seen, reached, conv, start)
            keep = ~out
            seg, cur, t, who, seen, reached, conv = (x[keep] for x in (seg, cur, t, who, seen, reached, conv))
            if not who.size:
                return
        run.room -= who.size
        if run.room < 0:
            raise OverBudget
        tally["visits"] += np.bincount(cur, minlength=n)
        bit = one << cur
        new = (seen & bit) == 0
        tally["first"] += np.bincount(cur[new], minlength=n)
        seen |= bit
        stage = self.stage[cur]
        sbit = one << stage
        new = (reached & sbit) == 0
        tally["reach"] += np.bincount(stage[new], minlength=tally["reach"].size)
        reached |= sbit
        if self.any_goal:
            g = self.goal[cur]
            if g.any():
                day = t[g].astype(np.int64)
                values = self.value[cur[g]]
                run.goal_visits += int(g.sum())
                run.revenue += float(values.sum())
                tally["goals"] += np.bincount(day, minlength=days)
                tally["revenue"] += np.bincount(day, weights=values, minlength=days)
                firsts = g & ~conv
                run.converted += int(firsts.sum())
                run.time_to_conversion += float((t[firsts] - start[who[firsts]]).sum())
                conv |= g
        row = seg * n + cur
        o = np.minimum(np.searchsorted(self.cum, row + rng.random(row.size), side="right"), self.last[row])
        nxt = self.target[o]
        leave = t + _delays(self, o)
        lo = t.astype(np.int64) + 1
        cross = (lo <= leave) & (lo <= days)
        if cross.any():
            width = days + 2
            flat = tally["occupancy"].reshape(-1)
            base = stage[cross] * width
            np.add.at(flat, base + lo[cross], 1)
            np.add.at(flat, base + np.minimum(leave[cross].astype(np.int64), days) + 1, -1)
        gone = nxt == EXIT_INDEX
        if gone.any():
            late = leave[gone] >= days
            run.still += int(late.sum())
            cv = conv[gone][~late]
            run.converted_left += int(cv.sum())
            run.exited += int(cv.size - cv.sum())
            keep = ~gone
            seg, nxt, leave, who, seen, reached, conv = (
                x[keep] for x in (seg, nxt, leave, who, seen, reached, conv))
        cur, t = nxt, leave


