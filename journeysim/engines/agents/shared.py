"""Touchpoints shared by customers: budgets (paid per visit) and servers (capacity, with patience).

A mixin of :class:`journeysim.engines.agents.run.Run`: it uses the run's tallies,
pools and :meth:`walk`.
"""

from __future__ import annotations

from collections import deque
from math import inf

from journeysim.engines.workload import OverBudget

__all__ = ["SharedTouchpoints"]

# Customers who gave up linger in their queue's deque (lazy deletion) until more than this many, and half of it.
_SWEEP = 64


class SharedTouchpoints:
    """Budget checks at arrival, and the servers of a touchpoint with capacity: a FIFO queue run by callbacks."""

    def _purse(self, i: int, t: float) -> tuple[dict, int]:
        """Touchpoint ``i``'s money left by budget period, and the period of time ``t``.

        Kept by period, not for the current one alone: a run with steps (see :mod:`.run`) pays a step's new
        arrivals at its start, so a visit may come after later ones of its step, at most a period back (only
        budgets renewed no more often than the step are paid so). Older periods are dropped.
        """
        amount, period = self.m.budget[i]
        k = int(t // period) if period != inf else 0
        purse = self.left[i]
        if k not in purse:
            for old in [p for p in purse if p < k - 1]:
                del purse[old]
            purse[k] = amount
        return purse, k

    def _affordable(self, i: int, t: float) -> bool:
        purse, k = self._purse(i, t)
        return purse[k] + 1e-9 >= self.m.cost[i]

    def _gate(self, c, i: int, t: float) -> bool:
        """A customer arrives at a shared touchpoint now; False when something else takes over."""
        m = self.m
        if m.budget[i] is not None:
            purse, k = self._purse(i, t)
            if not purse[k] + 1e-9 >= m.cost[i]:
                self.skipped[i] += 1       # not shown: the customer leaves the journey
                self._finish(c, t)
                return False
            purse[k] -= m.cost[i]
        if m.capacity[i]:
            self._queue(c, i, t)
            return False
        return True

    def _queue(self, c, i: int, t: float) -> None:
        """``c`` arrives at ``i``'s servers at ``t`` (now): served at once by a free server, else queued.

        The patience is drawn for every arrival, served at once or not; only a queued customer gets an event for
        it (:meth:`_on_patience`), left on the clock when the customer is served first (it then finds nothing).
        """
        patience = self.patience[i]
        wait = patience.take() if patience is not None else None
        if self.free[i]:
            self.free[i] -= 1
            self._serve(c, i, t)
            return
        key = self.ticket = self.ticket + 1
        self.waiting[key] = (i, t)
        self.queues[i].append((key, c))
        if wait is not None:
            self.env.timeout(wait, key).callbacks.append(self._on_patience)

    def _on_patience(self, ev) -> None:
        """A queued customer's patience ran out: gone, unless a server has taken them already."""
        where = self.waiting.pop(ev.value, None)
        if where is None:
            return
        i, t = where
        self.gave_up[i] += 1
        self.abandoned += 1
        self._occupy(i, t, self.env.now)
        # Those who gave up stay in the deque until they reach its head; sweep them when they are most of it.
        self.stale[i] += 1
        queue = self.queues[i]
        if self.stale[i] > _SWEEP and 2 * self.stale[i] > len(queue):
            waiting = self.waiting
            self.queues[i] = deque(e for e in queue if e[0] in waiting)
            self.stale[i] = 0

    def _serve(self, c, i: int, t: float) -> None:
        """A server takes ``c`` (arrived at ``t``) now; it is released by :meth:`_on_served`.

        With ``service`` the server is held for the service time and the outcome's delay is the customer's own
        time after it (campaigns may reach them then); without it the server is held for the delay.
        """
        m, now = self.m, self.env.now
        self.room -= 1                     # a visit, as every other the run makes
        if self.room < 0:
            raise OverBudget
        self.served[i] += 1
        self.wait[i] += now - t
        self._count(c, i, now)
        nxt, delay = self._choose(c, i)
        service = m.service[i]
        held = delay if service is None else service.take()
        done = now + held
        leave = done if service is None else done + delay
        if self.referrals[i] is not None:
            self._refer(i, leave)          # they start when the caller drains, before the clock moves on
        self._occupy(i, t, done)
        self.busy[i] += min(done, m.days) - now
        if done >= m.days:
            self.still += 1                # served past the end: the server stays busy, nothing follows
            return
        self.env.timeout(held, (c, i, nxt, leave)).callbacks.append(self._on_served)

    def _on_served(self, ev) -> None:
        """A service ends: the server takes the first customer still queued (or is free), the served one moves on."""
        c, i, nxt, leave = ev.value
        queue, waiting = self.queues[i], self.waiting
        while queue:
            key, d = queue.popleft()
            where = waiting.pop(key, None)
            if where is not None:
                self._serve(d, i, where[1])
                break
            self.stale[i] -= 1
        else:
            self.free[i] += 1
        self._stay(c, i, self.env.now, nxt, leave)
        self._drain()
