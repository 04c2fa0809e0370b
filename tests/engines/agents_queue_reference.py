"""The agents engine's queue as it was before its callback queue: one simpy process per visit, a
``simpy.Resource`` request raced against the patience timeout. The reference the callback queue is tested against
(``tests/engines/test_agents_queue.py``); :func:`simulate_reference` runs the engine with it.

The code is the engine's former ``SharedTouchpoints._serve``, unchanged but for its name.
"""

from __future__ import annotations

import simpy

from journeysim.engines.agents import engine
from journeysim.engines.agents.run import Run


class SimpyQueueRun(Run):
    """A run whose touchpoints with capacity queue through ``simpy.Resource``."""

    def __init__(self, model, rng, tick=None, budget=None):
        super().__init__(model, rng, tick, budget)
        self.servers = {i: simpy.Resource(self.env, c) for i, c in enumerate(model.capacity) if c}

    def _queue(self, c, i: int, t: float) -> None:
        self.env.process(self._simpy_serve(c, i, t))

    def _simpy_serve(self, c, i: int, t: float):
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


def simulate_reference(*args, **kwargs):
    """:func:`~journeysim.engines.agents.engine.simulate_agents` with the simpy queue."""
    fast, engine.Run = engine.Run, SimpyQueueRun
    try:
        return engine.simulate_agents(*args, **kwargs)
    finally:
        engine.Run = fast
