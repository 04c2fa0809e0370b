"""One run of the agent-based engine on a simpy clock (days).

Only what depends on other customers or on the calendar gets an event: arriving
at a touchpoint with capacity or a budget, campaign days, and referred customers'
arrivals. Between such events a customer's stretch of touchpoints is sampled in
one go by :meth:`Run.walk` and its visits are counted at once: nothing after them
can undo them, because a stretch stops at the first touchpoint a campaign could
pull the customer from.

Social proof reads the converted share (converted / arrived) as it stood at the
start of the current step of the social clock: :data:`SOCIAL_STEP` days at first,
then :data:`SOCIAL_LAG` of the time elapsed (the share of everyone arrived so far
moves ever more slowly), at most a day or the shortest budget period. A
visit of a social-proof row or of a goal belongs to the step its time falls in:
a customer reaching one beyond the current step waits for it (:attr:`Run.pending`),
and each step walks its waiting customers together (the same compiled walk as new
customers'), so no visit reads a share more than a step old and no conversion
counts before its time. With steps, an entry whose budget is all that makes it
shared, and that no edge or campaign leads to, is paid by step too
(:meth:`Run._admit`): a step pays for its new arrivals there at its start, in time
order, and walks those the budget allows with its waiting customers; a customer
sent there otherwise (a referred one) pays on arrival, from what the step left. With
``SOCIAL_STEP = 0`` the share is read at every visit, every such visit and every
arrival at a budgeted entry is an event: the per-visit model the stepped one is
tested against.

A customer is referenced only by the events and steps it waits on, so finished
customers are freed at once and memory does not grow with them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from math import inf

import numpy as np
import simpy

from journeysim.engines.agents import kernel
from journeysim.engines.agents.batch import BatchWalker, Waiting
from journeysim.engines.agents.model import EXIT_INDEX, Customer, Model, Pool, timed_touchpoints
from journeysim.engines.agents.shared import SharedTouchpoints
from journeysim.engines.workload import MAX_DRAWN, OverBudget
from journeysim.errors import excerpt

__all__ = ["Run", "SOCIAL_STEP", "SOCIAL_LAG", "spend"]

#: Days between updates of the converted share that social proof reads, at least. An hour: the share moves over
#: days (a step's lag changes the results far less than their noise; tests compare with the per-visit model),
#: and each step costs a few numpy calls.
SOCIAL_STEP = 1 / 24
#: Later steps last this share of the time elapsed: the share of everyone arrived so far changes by about
#: (new arrivals / all arrivals) in a step, so its lag stays about 1% of its distance to where it is heading.
SOCIAL_LAG = 0.01
# A budget no run reaches.
_NO_LIMIT = 2**62


def spend(left: float, cost: float, visits: int) -> tuple[int, float]:
    """How many of ``visits`` a purse holding ``left`` pays for at ``cost`` each, and what it then holds.

    The visits are paid one at a time while ``left + 1e-9 >= cost``, as :meth:`Run._gate` pays them, with the
    same rounding (compiled: a step may pay for a million arrivals).

    Examples
    --------
    >>> spend(1.0, 0.3, 5)
    (3, 0.09999999999999998)
    >>> spend(1.0, 0.3, 2)
    (2, 0.39999999999999997)
    """
    paid, left = kernel.spend(float(left), float(cost), int(visits))
    return int(paid), float(left)


class Run(SharedTouchpoints):
    """The state and tallies of one run; :meth:`run` executes it."""

    def __init__(self, model: Model, rng: np.random.Generator, tick=None, budget: int | None = None):
        m = self.m = model
        self.rng = rng
        self.env = simpy.Environment()
        self.tick = tick
        #: Visits the run may still make (:class:`~journeysim.engines.workload.OverBudget` past them).
        self.room = _NO_LIMIT if budget is None else budget
        n, days, n_stages = len(m.names), m.days, len(m.stages) + 1
        self.bits = [1 << i for i in range(n)]
        self.stage_bits = [1 << s for s in m.stage]
        self.prewalk = not m.social or m.social_step > 0
        # social proof by steps: the share read in the current step, the step's number and end, today's walked
        # arrivals (they count as arrived from their time on), customers waiting for a later step (by step)
        self.share, self.current_step, self.horizon, self.ahead = 0.0, -1, 0.0 if m.social_step else inf, np.zeros(0)
        self.bounds = self._bounds() if m.social_step else np.zeros(1)
        self._bound_list = self.bounds.tolist()
        self.timed = timed_touchpoints(m)
        self.waiting_customers: dict[int, list[tuple[Customer, int, float]]] = {}
        # tallies
        self.arrived = self.referred = self.converted = self.goal_visits = 0
        self.converted_left = self.exited = self.abandoned = self.still = 0
        self.turned_away = 0               # would-be arrivals at an entry whose budget was spent
        self.revenue = self.time_to_conversion = 0.0
        self.visits = [0] * n
        self.first = [0] * n
        self.reach = [0] * n_stages
        self.skipped = [0] * n
        self.gave_up = [0] * n
        self.served = [0] * n
        self.wait = [0.0] * n
        self.busy = [0.0] * n
        self.daily_arrivals = [0] * days
        self.daily_goals = [0] * days
        self.daily_revenue = [0.0] * days
        self.occupancy = [[0] * (days + 2) for _ in range(n_stages)]
        # random pools
        self.uniform = Pool(lambda k: rng.random(k).tolist())
        # The kinds (segment, entry) of the customers each touchpoint refers, by customer type.
        self.kind = [Pool(lambda k, ids=np.asarray(ids), cum=np.cumsum(p): ids[np.minimum(
            np.searchsorted(cum, rng.random(k), side="right"), len(ids) - 1)].tolist()) if len(ids) else None
            for ids, p in m.referral_kinds]
        self.referrals = [Pool(lambda k, r=min(r, MAX_DRAWN): rng.poisson(r, k).tolist()) if r else None
                          for r in m.refers]
        self.patience = [Pool(lambda k, p=p: rng.exponential(p, k).tolist()) if p else None for p in m.patience]
        # shared resources
        # servers (see SharedTouchpoints._queue): free ones, FIFO queues of (ticket, customer), and the tickets
        # still waiting -> (touchpoint, arrival time); a queue's entries of customers who gave up, not yet dropped
        self.free = list(m.capacity)
        self.queues = [deque() for _ in range(n)]
        self.waiting: dict[int, tuple[int, float]] = {}
        self.stale = [0] * n
        self.ticket = 0
        self.left: list[dict[int, float]] = [{} for _ in range(n)]     # money left by budget period
        self.parked: dict[int, list] = {}
        self.todo: list = []
        self.kind_seg = np.array([s for s, _ in m.kinds])
        self.kind_tp = np.array([i for _, i in m.kinds])
        walker = BatchWalker(m, rng)
        self.walker = walker if self.prewalk and walker.enabled else None
        #: Customers in arrays waiting for a step of the social clock (the kernel's); those walked in Python wait
        #: in waiting_customers.
        self.pending = Waiting(len(walker.fatigued), len(self.bounds)) if self.walker is not None else None
        # entries whose budget a step pays for its new arrivals at once (see _admit); not one an edge or a campaign
        # sends customers to: paying a step's new arrivals first would leave those customers what the step left,
        # where the per-visit model pays everyone in time order (it turned returning customers away wholesale)
        fed = {o.target for seg in m.rows for row in seg for o in row if o.p > 0}
        fed.update(to for moves in m.campaigns.values() for _, to, p in moves if p > 0)
        self.paid_by_step = np.array([
            self.walker is not None and bool(m.social_step) and bool(walker.gate_only[:, i].all())
            and m.budget[i] is not None and m.budget[i][1] >= self.longest_step and i not in fed
            for i in range(n)], dtype=bool)
        self.waiting_new: dict[int, list[tuple[np.ndarray, ...]]] = {}
        self.one_paid_entry = int(self.paid_by_step.sum()) == 1
        # what walk() reads, by segment: one tuple to unpack per call (it is called for every customer in Python)
        self.walk_tables = [(days, m.stop, m.campaign_days, m.goal, m.row_pools[s], m.dynamic[s], m.fatigue[s],
                             self.visits, self.first, self.reach, self.bits, self.stage_bits, m.stage, self.referrals,
                             self.timed) for s in range(len(m.rows))]
        self.batch = {"visits": np.zeros(n, np.int64), "first": np.zeros(n, np.int64),
                      "reach": np.zeros(n_stages, np.int64), "goals": np.zeros(days, np.int64),
                      "revenue": np.zeros(days), "occupancy": np.zeros((n_stages, days + 2), np.int64)}

    # -- the run -----------------------------------------------------------------------

    def run(self) -> Run:
        env = self.env
        env.process(self._arrivals())
        if self.m.social_step:
            env.process(self._social_clock())
        if self.m.campaigns:
            env.process(self._campaigns())
        env.run(until=self.m.days)
        for i, t in self.waiting.values():
            self.still += 1
            self._occupy(i, t, inf)
        batch = self.batch
        for name, tally in (("visits", self.visits), ("first", self.first), ("reach", self.reach),
                            ("goals", self.daily_goals), ("revenue", self.daily_revenue)):
            for k, v in enumerate(batch[name].tolist()):
                tally[k] += v
        for tally, extra in zip(self.occupancy, batch["occupancy"].tolist()):
            for k, v in enumerate(extra):
                tally[k] += v
        return self

    def _arrivals(self):
        m, rng = self.m, self.rng
        cum = np.cumsum(m.kind_p)
        stop = np.array(m.stop, dtype=bool)
        for day in range(m.days):
            n = int(rng.poisson(m.day_rates[day]))
            times = day + np.sort(rng.random(n))
            kinds = np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(m.kind_p) - 1)
            entry = self.kind_tp[kinds]
            paid = self.paid_by_step[entry]
            ahead = []
            if paid.any():          # they arrive, or are turned away, when their step pays for them
                later = paid & (times >= self.horizon)
                if later.any():
                    self._by_step(self.waiting_new, self.kind_seg[kinds[later]], entry[later], times[later])
                now = paid & ~later         # in the step under way, which has paid for its own already
                if now.any():
                    ahead.append(self._pay(self.kind_seg[kinds[now]], entry[now], times[now]))
            together = ~stop[entry] if self.walker is not None else np.zeros(n, dtype=bool)
            if together.any():
                ahead.append(times[together])
            if ahead:
                self.ahead = np.sort(np.concatenate(ahead))
            if together.any():
                self.arrived += int(together.sum())
                self.daily_arrivals[day] += int(together.sum())
                self.walker.walk(self, self.kind_seg[kinds[together]], entry[together], times[together])
            alone = ~(together | paid)
            for t, k in zip(times[alone].tolist(), kinds[alone].tolist()):
                self._arrive(t, k, referred=False)
            self._drain()
            if self.tick is not None:
                self.tick(day)
            yield self.env.timeout(1)

    def _bounds(self) -> np.ndarray:
        """When the social clock's steps start: :data:`SOCIAL_STEP`, then :data:`SOCIAL_LAG` of the time
        elapsed, at most :attr:`longest_step` (a day, or the shortest budget period: so that a step pays for
        its new arrivals within two budget periods at most, see :meth:`_admit`)."""
        m = self.m
        periods = [b[1] for b in m.budget if b is not None and b[1] >= m.social_step]
        self.longest_step = max(m.social_step, min([1.0, *periods]))
        bounds = [0.0]
        while bounds[-1] < m.days:
            bounds.append(bounds[-1] + max(m.social_step, min(self.longest_step, bounds[-1] * SOCIAL_LAG)))
        return np.array(bounds)

    def _social_clock(self):
        """Each step: the share of arrived customers who have converted, then the step's waiting customers."""
        env, bounds, walker = self.env, self._bound_list, self.walker
        k = 0
        while True:
            now = env.now                  # bounds[k] exactly: see step_of
            # customers walked at the start of the day count from their arrival on
            arrived = self.arrived - (len(self.ahead) - int(np.searchsorted(self.ahead, now, side="right")))
            self.share = self.converted / arrived if arrived > 0 else 0.0
            self.current_step, self.horizon = k, bounds[k + 1] if k + 1 < len(bounds) else inf
            customers = self.waiting_customers.pop(k, [])
            taken = self.pending.take(k) if self.pending is not None else None
            arrays = [] if taken is None else [taken]
            new = self.waiting_new.pop(k, None)
            paid = 0                       # the first customers of the walk: new arrivals, paid for
            if new:
                seg, entry, t = self._admit(*(np.concatenate(x) for x in zip(*new)))
                paid = t.size
                zero = np.zeros(paid, np.int64)
                arrays.insert(0, (seg, entry, t, t, zero, zero, np.zeros(paid, bool),
                                  np.zeros((paid, len(walker.fatigued)), np.int32)))
            if walker is not None:
                walker.read_share(self.share)
                if customers:
                    arrays.append((*(np.array(x) for x in zip(*((c.seg, i, t, c.start, c.seen, c.reached, c.converted)
                                                                  for c, i, t in customers))),
                                   walker.counts_of([c for c, _, _ in customers])))
                    customers = []
                if arrays:
                    state = arrays[0] if len(arrays) == 1 else [np.concatenate(x) for x in zip(*arrays)]
                    walker.walk(self, *state, paid=np.arange(state[0].size) < paid)
            for c, i, t in customers:
                self.walk(c, i, t)
            self._drain()
            k += 1
            if k >= len(bounds):
                return
            yield env.timeout(bounds[k] - now)

    def step_of(self, t):
        """The step of the social clock that time ``t`` (a float or an array) falls in: the last ``k`` with
        ``bounds[k] <= t``. The clock wakes at ``bounds[k]`` exactly: each bound is the one before plus a step
        no longer than it, so ``a + (b - a) == b`` (``b - a`` is exact for ``a >= b / 2``)."""
        if isinstance(t, np.ndarray):
            return np.searchsorted(self.bounds, t, side="right") - 1
        return bisect_right(self._bound_list, t) - 1

    def _by_step(self, waiting: dict, *state: np.ndarray) -> None:
        """Rows of ``state`` (arrays, the time third) by the step their time falls in."""
        k = self.step_of(state[2])
        if k.min() == k.max():
            waiting.setdefault(int(k[0]), []).append(state)
            return
        order = np.argsort(k, kind="stable")
        k = k[order]
        state = tuple(x[order] for x in state)
        cuts = np.flatnonzero(np.diff(k)) + 1
        for a, b in zip([0, *cuts.tolist()], [*cuts.tolist(), k.size]):
            waiting.setdefault(int(k[a]), []).append(tuple(x[a:b] for x in state))

    def _pay(self, seg: np.ndarray, entry: np.ndarray, t: np.ndarray) -> np.ndarray:
        """New arrivals at budgeted entries, paid for as :meth:`_admit` says and walked together from past the
        entry's gate; returns their arrival times."""
        seg, entry, t = self._admit(seg, entry, t)
        if t.size:
            self.walker.walk(self, seg, entry, t, paid=True)
        return t

    def _admit(self, seg: np.ndarray, entry: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
        """A step's new arrivals at budgeted entries (:attr:`paid_by_step`): each entry pays for them in time order
        while its budget lasts, with the arithmetic of :meth:`_gate`; the others are turned away. Returns the
        segments, entries and times of those who arrive, counted as arrived."""
        m = self.m
        if not self.one_paid_entry:    # one entry: the times come sorted (by day, then within it), as they arrived
            order = np.lexsort((t, entry))
            seg, entry, t = seg[order], entry[order], t[order]
        shown = np.zeros(t.size, dtype=bool)
        cuts = [] if self.one_paid_entry else np.flatnonzero(np.diff(entry) != 0).tolist()
        for a, b in zip([0, *(c + 1 for c in cuts)], [*(c + 1 for c in cuts), t.size]):
            i = int(entry[a])
            cost, (_, period) = m.cost[i], m.budget[i]
            if period == inf or t[a] // period == t[b - 1] // period:
                pieces = [0, b - a]        # one budget period (numpy's floor division, as the array's below)
            else:
                periods = (t[a:b] // period).astype(np.int64)
                pieces = [0, *(np.flatnonzero(np.diff(periods)) + 1).tolist(), b - a]
            for lo, hi in zip(pieces[:-1], pieces[1:]):
                purse, p = self._purse(i, float(t[a + lo]))
                paid, purse[p] = spend(purse[p], cost, hi - lo)
                shown[a + lo:a + lo + paid] = True
                self.skipped[i] += hi - lo - paid
                self.turned_away += hi - lo - paid
        t = t[shown]
        if t.size:
            self.arrived += t.size
            if self.one_paid_entry and int(t[0]) == int(t[-1]):
                self.daily_arrivals[int(t[0])] += t.size
            else:
                for day, count in zip(*np.unique(t.astype(np.int64), return_counts=True)):
                    self.daily_arrivals[int(day)] += int(count)
        return seg[shown], entry[shown], t

    def _campaigns(self):
        m = self.m
        for day in sorted(m.campaigns):
            yield self.env.timeout(day - self.env.now)
            for c, i, nxt, leave in self.parked.pop(day, []):
                for reached, to, p in m.campaigns[day]:
                    if i in reached and self.uniform.take() < p:
                        self._go(c, to, day)
                        break
                else:
                    self._stay(c, i, day, nxt, leave)
            self._drain()

    # -- arrivals ------------------------------------------------------------------------

    def _arrive(self, t: float, kind: int, referred: bool) -> None:
        seg, i = self.m.kinds[kind]
        if self.prewalk and not self.m.stop[i] and (not self.m.social_step or t <= self.env.now):
            self._enter(seg, i, t, referred)
        else:
            ev = self.env.timeout(t - self.env.now, (seg, i, referred))
            ev.callbacks.append(self._on_arrival)

    def _on_arrival(self, ev) -> None:
        seg, i, referred = ev.value
        now = self.env.now
        if self.m.budget[i] is not None and not self._affordable(i, now):
            self.skipped[i] += 1           # the budget is spent: the ad is not shown, nobody arrives
            self.turned_away += 1
            return
        self._enter(seg, i, now, referred)
        self._drain()

    def _enter(self, seg: int, i: int, t: float, referred: bool) -> None:
        self.arrived += 1
        self.referred += referred
        self.daily_arrivals[int(t)] += 1
        self.walk(Customer(seg, t), i, t)

    def _refer(self, i: int, leave: float) -> None:
        if leave >= self.m.days:
            return
        pool = self.kind[self.m.refer_type[i]]
        count = self.referrals[i].take()
        if len(self.todo) + count > self.room:     # each referred customer costs a visit at least
            alone = count > self.room              # this visit's referrals alone pass the limit: say so
            raise OverBudget(f"a visit of {excerpt(self.m.names[i])} referred {count:,} customers" if alone else "")
        for _ in range(count):
            kind = pool.take()
            if self.prewalk:
                self.todo.append((leave, kind))
            else:
                self._arrive(leave, kind, referred=True)

    def _drain(self) -> None:
        todo = self.todo
        while todo:
            t, kind = todo.pop()
            self._arrive(t, kind, referred=True)

    # -- moving through the journey ------------------------------------------------------

    def _go(self, c: Customer, i: int, t: float) -> None:
        self.walk(c, i, t)
        self._drain()

    def _on_stop(self, ev) -> None:
        c, i = ev.value
        self._go(c, i, self.env.now)

    def walk(self, c: Customer, i: int, t: float) -> None:
        """Move ``c`` from arriving at touchpoint ``i`` at time ``t`` up to its next event."""
        # The hot loop of the engine: _count, _choose and _occupy are inlined for their common case.
        (days, stop, campaign_days, goal, pools, dynamic, fatigue, visits, first, reach, bits, stage_bits, stage,
         referrals, timed) = self.walk_tables[c.seg]
        steps, room = 0, self.room
        try:
            while True:
                if t >= days:
                    self.still += 1
                    return
                if timed[i] and t >= self.horizon:       # the visit waits for its step's share
                    self.waiting_customers.setdefault(self.step_of(t), []).append((c, i, t))
                    return
                if stop[i]:
                    now = self.env.now
                    if t > now:
                        ev = self.env.timeout(t - now, (c, i))
                        ev.callbacks.append(self._on_stop)
                        return
                    if not self._gate(c, i, t):
                        return
                visits[i] += 1
                steps += 1
                if steps > room:
                    raise OverBudget
                bit = bits[i]
                if not c.seen & bit:
                    c.seen |= bit
                    first[i] += 1
                    bit = stage_bits[i]
                    if not c.reached & bit:
                        c.reached |= bit
                        reach[stage[i]] += 1
                if goal[i]:
                    self._goal(c, i, t)
                if fatigue[i] is not None:
                    if c.counts is None:
                        c.counts = {}
                    c.counts[i] = c.counts.get(i, 0) + 1
                if dynamic[i] or fatigue[i] is not None:
                    nxt, delay = self._choose(c, i)
                else:
                    pool = pools[i]
                    nxt, delay = (pool.items or pool.refill()).pop()
                leave = t + delay
                if referrals[i] is not None:
                    self._refer(i, leave)
                marks = campaign_days[i]
                if marks:
                    k = bisect_right(marks, t)
                    if k < len(marks) and marks[k] < leave:
                        self._park(c, i, t, nxt, leave, marks[k])
                        return
                if leave >= int(t) + 1:                   # a day's end falls inside the visit (leave may be inf)
                    self._occupy(i, t, leave)
                if nxt == EXIT_INDEX:
                    if leave >= days:
                        self.still += 1
                    elif c.converted:
                        self.converted_left += 1
                    else:
                        self.exited += 1
                    return
                i, t = nxt, leave
        finally:
            self.room -= steps

    def _park(self, c: Customer, i: int, t: float, nxt: int, leave: float, day: int) -> None:
        """``c`` is at ``i`` on a campaign day: count it there until then and let the campaign decide."""
        self._occupy(i, t, day)
        self.parked.setdefault(day, []).append((c, i, nxt, leave))

    def _stay(self, c: Customer, i: int, t: float, nxt: int, leave: float) -> None:
        """No campaign took ``c``: it stays at ``i`` until ``leave`` as sampled."""
        marks = self.m.campaign_days[i]
        k = bisect_right(marks, t)
        if k < len(marks) and marks[k] < leave:
            self._park(c, i, t, nxt, leave, marks[k])
            return
        self._occupy(i, t, leave)
        if nxt == EXIT_INDEX:
            self._finish(c, leave)
        else:
            self._go(c, nxt, leave)

    def _finish(self, c: Customer, t: float) -> None:
        if t >= self.m.days:
            self.still += 1
        elif c.converted:
            self.converted_left += 1
        else:
            self.exited += 1

    # -- bookkeeping ---------------------------------------------------------------------

    def _count(self, c: Customer, i: int, t: float) -> None:
        """Tally a visit of ``c`` to ``i`` starting at ``t`` (inlined in :meth:`walk`)."""
        m = self.m
        self.visits[i] += 1
        bit = self.bits[i]
        if not c.seen & bit:
            c.seen |= bit
            self.first[i] += 1
            sbit = self.stage_bits[i]
            if not c.reached & sbit:
                c.reached |= sbit
                self.reach[m.stage[i]] += 1
        if m.goal[i]:
            self._goal(c, i, t)
        if m.fatigue[c.seg][i] is not None:
            if c.counts is None:
                c.counts = {}
            c.counts[i] = c.counts.get(i, 0) + 1

    def _goal(self, c: Customer, i: int, t: float) -> None:
        day = int(t)
        value = self.m.value[i]
        self.goal_visits += 1
        self.revenue += value
        self.daily_goals[day] += 1
        self.daily_revenue[day] += value
        if not c.converted:
            c.converted = True
            self.converted += 1
            self.time_to_conversion += t - c.start

    def _choose(self, c: Customer, i: int) -> tuple[int, float]:
        """Next touchpoint (or exit) and the time spent at ``i`` before moving on."""
        m, seg = self.m, c.seg
        if m.dynamic[seg][i]:
            nxt, delay = self._choose_social(seg, i)
        else:
            pool = m.row_pools[seg][i]
            nxt, delay = (pool.items or pool.refill()).pop()
        tired = m.fatigue[seg][i]
        if tired is not None and nxt in tired:
            repeats = c.counts[i] - 1
            if repeats and self.uniform.take() >= tired[nxt] ** repeats:
                return EXIT_INDEX, m.edge_delays[seg][i][-1].take()
        return nxt, delay

    def _choose_social(self, seg: int, i: int) -> tuple[int, float]:
        """Social proof: ``p' = p (1 + s * converted / arrived)``; a row pushed above 1 is scaled to 1."""
        outcomes = self.m.rows[seg][i]
        if self.m.social_step:
            share = self.share
        else:
            share = self.converted / self.arrived if self.arrived else 0.0
        ps = [o.p * (1.0 + o.social_proof * share) for o in outcomes[:-1]]
        total = sum(ps)
        u = self.uniform.take() * max(total, 1.0)
        for j, p in enumerate(ps):
            if u < p:
                return outcomes[j].target, self.m.edge_delays[seg][i][j].take()
            u -= p
        return EXIT_INDEX, self.m.edge_delays[seg][i][-1].take()

    def _occupy(self, i: int, t0: float, t1: float) -> None:
        """Count the customer at ``i`` at every day's end ``b`` (1..days) with ``t0 < b <= t1``.

        The interval is open on the left so that the snapshot at a day's end shows the
        state just before whatever happens at that instant (a campaign, say).
        """
        days = self.m.days
        lo = int(t0) + 1
        if lo <= t1 and lo <= days:
            hi = min(int(t1), days) + 1 if t1 != inf else days + 1
            diff = self.occupancy[self.m.stage[i]]
            diff[lo] += 1
            diff[hi] -= 1
