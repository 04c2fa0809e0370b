"""A day's new customers walked together with numpy, as far as nothing else can touch them.

A touchpoint is *plain* for a segment when no event can concern a customer there:
no capacity, budget, fatigue, referrals or campaign. Customers are advanced
together through plain touchpoints (one numpy step per touchpoint visit for the
whole batch, with the same tallies :meth:`Run.walk` keeps); at the first
touchpoint that is not plain, or when only a few are left, each is handed to
:meth:`Run.walk` with what it has seen so far. The visits counted here are final
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

from journeysim.engines.agents.model import EXIT_INDEX, Customer, Model, timed_touchpoints
from journeysim.engines.workload import OverBudget

__all__ = ["BatchWalker"]

#: Below this many customers in flight, the Python walk is cheaper than numpy's call overhead.
HANDOFF = 24
#: Bit masks of seen touchpoints and reached stages are int64.
MAX_BITS = 62
_FIXED, _EXPONENTIAL, _LOGNORMAL, _GAMMA = range(4)


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
        self.kinds = sorted(set(kind) - {_FIXED})
        self.a = np.array(a)
        self.b = np.array(b)
        self.last = np.array(last)
        self.goal = np.array(m.goal)
        self.value = np.array(m.value, dtype=float)
        self.stage = np.array(m.stage)
        self.any_goal = bool(self.goal.any())

    def read_share(self, share: float) -> None:
        """Social-proof rows as :meth:`Run._choose_social` draws them at this converted ``share``."""
        for at, row, p, strength in self.social:
            ps = p * (1.0 + strength * share)
            self.cum[at:at + p.size] = row + np.cumsum(ps) / max(ps.sum(), 1.0)

    def _delays(self, o: np.ndarray) -> np.ndarray:
        rng, kind = self.rng, self.kind[o]
        d = self.a[o].copy()                     # fixed delays (and none: 0)
        for k in self.kinds:
            hit = kind == k
            if not hit.any():
                continue
            oh = o[hit]
            if k == _EXPONENTIAL:
                d[hit] = rng.standard_exponential(oh.size) * self.a[oh]
            elif k == _LOGNORMAL:
                d[hit] = np.exp(self.a[oh] + self.b[oh] * rng.standard_normal(oh.size))
            else:
                d[hit] = rng.gamma(self.a[oh]) * self.b[oh]
        return d

    def walk(self, run, seg: np.ndarray, cur: np.ndarray, t: np.ndarray, start: np.ndarray | None = None,
             seen: np.ndarray | None = None, reached: np.ndarray | None = None, conv: np.ndarray | None = None,
             paid: bool = False) -> None:
        """Walk customers (segment, touchpoint, time; new customers unless ``start`` and what they have seen,
        reached and converted are given) until each needs :meth:`Run.walk` or waits for its step. ``paid``:
        their first visits are to budgeted touchpoints (:attr:`gate_only`) that have paid for them."""
        n, days, rng, tally, timed = self.n, run.m.days, self.rng, run.batch, self.timed
        if start is None:
            start = t
            seen = np.zeros(t.size, dtype=np.int64)
            reached = np.zeros(t.size, dtype=np.int64)
            conv = np.zeros(t.size, dtype=bool)
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
                    run.defer(seg[wait], cur[wait], t[wait], start[who[wait]], seen[wait], reached[wait], conv[wait])
                    keep = ~wait
                    seg, cur, t, who, seen, reached, conv = (x[keep] for x in (seg, cur, t, who, seen, reached, conv))
                    if not who.size:
                        return
            plain = self.plain[seg, cur]
            if paid:                   # the first visits are paid for: walked here, however few
                plain, paid = plain | self.gate_only[seg, cur], False
            elif who.size < HANDOFF or not plain.all():
                out = ~plain if who.size >= HANDOFF else np.ones(who.size, dtype=bool)
                for s, i, tt, w, sn, rc, cv in zip(seg[out].tolist(), cur[out].tolist(), t[out].tolist(),
                                                   who[out].tolist(), seen[out].tolist(), reached[out].tolist(),
                                                   conv[out].tolist()):
                    c = Customer(s, float(start[w]))
                    c.seen, c.reached, c.converted = sn, rc, cv
                    run.walk(c, i, tt)
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
            leave = t + self._delays(o)
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


def _delay_params(delay, scale: float) -> tuple[int, float, float]:
    if delay is None or delay.mean == 0:
        return _FIXED, 0.0, 0.0
    if delay.dist == "fixed":
        return _FIXED, delay.mean * scale, 0.0
    if delay.dist == "exponential":
        return _EXPONENTIAL, delay.mean * scale, 0.0
    if delay.dist == "lognormal":
        mu, sigma = delay.lognormal_params()
        return _LOGNORMAL, mu + np.log(scale), sigma
    shape, gscale = delay.gamma_params()
    return _GAMMA, shape, gscale * scale
