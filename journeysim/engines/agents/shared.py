"""Touchpoints shared by customers: budgets (paid per visit) and servers (capacity, with patience).

A mixin of :class:`journeysim.engines.agents.run.Run`: it uses the run's tallies,
pools and :meth:`walk`.
"""

from __future__ import annotations

from math import inf

from journeysim.engines.agents.model import EXIT_INDEX

__all__ = ["SharedTouchpoints"]


class SharedTouchpoints:
    """Budget checks at arrival and the queue-and-serve process of a touchpoint with capacity."""

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
            self.env.process(self._serve(c, i, t))
            return False
        return True

    def _serve(self, c, i: int, t: float):
        """Queue for a server (giving up after the patience), be served, move on.

        With ``service`` the server is held for the service time and the outcome's delay is the customer's own
        time after it (campaigns may reach them then); without it the server is held for the delay.
        """
        env, m = self.env, self.m
        req = self.servers[i].request()
        self.waiting[req] = (i, t)
        if self.patience[i] is not None:
            yield req | env.timeout(self.patience[i].take())
            if not req.triggered:
                req.cancel()
                del self.waiting[req]
                self.gave_up[i] += 1
                self.abandoned += 1
                self._occupy(i, t, env.now)
                return
        else:
            yield req
        del self.waiting[req]
        now = env.now
        self.served[i] += 1
        self.wait[i] += now - t
        self._count(c, i, now)
        nxt, delay = self._choose(c, i)
        service = m.service[i]
        held = delay if service is None else service.take()
        done = now + held
        leave = done if service is None else done + delay
        if self.referrals[i] is not None:
            self._refer(i, leave)
            self._drain()                  # referred customers start now, before the clock moves on
        self._occupy(i, t, done)
        self.busy[i] += min(done, m.days) - now
        if done >= m.days:
            self.still += 1                # served past the end: the server stays busy, nothing follows
            return
        yield env.timeout(held)
        self.servers[i].release(req)
        self._stay(c, i, done, nxt, leave)
