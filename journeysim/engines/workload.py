"""How much work a sampling run will do, known before it starts.

A Monte Carlo or agents run costs one transition per visit of a touchpoint. The exact
engine's expected visits (``a (I - Q)^-1``, one solve per segment for the entry rows of
every customer type) give a customer's expected touches, and the referral matrix of the
branching process (:mod:`journeysim.engines.branching`) its reproduction number and the
touches of a seed customer with every referral generation it starts. The sampling
engines check these figures before they run and refuse, in one line naming the
touchpoint, a run whose expected work is past a limit (:data:`MAX_TRANSITIONS`, raised
with ``--max-transitions``) or that never ends (referrals that sustain themselves with
nothing to stop them); while they run, they stop at the limit whatever happens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from journeysim.engines.branching import customer_types, per_seed, spectral_radius
from journeysim.engines.compiled import compile_segments
from journeysim.errors import LimitError, UsageError, excerpt, whole_number
from journeysim.journey import Journey

__all__ = ["Workload", "workload", "MAX_TRANSITIONS", "MAX_DRAWN", "check_limit", "check_instant", "too_much",
           "stopped", "many", "OverBudget"]

#: Transitions a run may take unless told otherwise, by engine: about ten minutes of the compiled Monte Carlo
#: kernel on one core (2e8 a second), and about ten minutes of the agents engine (1 to 3 µs a visit).
MAX_TRANSITIONS = {"montecarlo": 10**11, "agents": 2 * 10**8}
#: The largest mean of a referral count an engine draws (numpy's Poisson refuses means near 2**63): far more
#: customers than a run ever simulates, so a visit that refers more is stopped by the same limits.
MAX_DRAWN = 1e12
#: Referred customers the Monte Carlo engine simulates at most per new customer (referrals that sustain themselves
#: are cut there).
REFERRED_PER_CUSTOMER = 10
# Maps up to this many touchpoints are solved densely (a solve costs less than factorising sparsely).
_DENSE = 500


class OverBudget(Exception):
    """Raised inside an engine's loop when a run has spent its budget of transitions; the engine says why in one
    line (:func:`stopped`)."""


@dataclass(frozen=True)
class Workload:
    """Expected work of one customer, from the exact engine's equations.

    Attributes
    ----------
    touches : per customer type (type 0: new customers; then one per ``refers`` route), expected visits of one
        customer of that type (``inf`` when its loops keep it forever, to working precision).
    per_seed : expected visits of a new customer and of every customer its referrals bring, generation after
        generation; ``None`` when referrals sustain themselves.
    reproduction : the spectral radius of the referral matrix (expected referred customers of each type per customer
        of each type): 1 or more means that referrals sustain themselves.
    busiest : the touchpoint a new customer visits most often (expected visits ``busiest_visits``).
    referrers : the touchpoints that refer customers, the most visited first.
    timed : whether any step takes time (without delays every visit and referral happens at time 0).
    instant, instant_at : the most visits a customer makes without time passing, expected from the touchpoint
        ``instant_at`` on (a loop whose steps take no time, which no horizon or end of a run cuts).
    """

    touches: tuple[float, ...]
    per_seed: float | None
    reproduction: float
    busiest: str
    busiest_visits: float
    referrers: tuple[str, ...]
    timed: bool
    instant: float
    instant_at: str

    def heaviest_type(self) -> float:
        """The most touches a customer of any type makes (what a referred customer may cost)."""
        return max(self.touches)

    def montecarlo_cost(self) -> float:
        """Expected transitions per new customer of a Monte Carlo run: its touches and those of the customers its
        referrals bring, at most :data:`REFERRED_PER_CUSTOMER` of them when referrals sustain themselves."""
        if self.per_seed is not None:
            return self.per_seed
        return self.touches[0] + REFERRED_PER_CUSTOMER * self.heaviest_type()


def workload(journey: Journey) -> Workload:
    """The expected work of ``journey``'s customers (see :class:`Workload`).

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"ad": 0.9, "buy": 0.05}}, goals=["buy"],
    ...                       touchpoint_attributes={"buy": {"refers": 0.5}})
    >>> w = workload(j)
    >>> round(w.touches[0], 6), w.busiest, round(w.busiest_visits, 6)   # 1 / 0.1 visits of ad, 0.5 of buy
    (10.5, 'ad', 10.0)
    >>> round(w.reproduction, 6), round(w.per_seed, 6)      # K = 0.5 x 0.5 = 0.25: 10.5 / (1 - 0.25)
    (0.25, 14.0)
    >>> w.timed, round(w.instant, 6), w.instant_at          # no delays: every visit at one instant
    (False, 10.5, 'ad')
    """
    names = journey.names
    types = customer_types(journey)
    T = types.count
    route = np.array(types.route)
    refers = np.array([journey.touchpoints[x].refers for x in names])
    refer = refers[:, None] * (route[:, None] == np.arange(T)[None, :])
    touches, M = np.zeros(T), np.zeros((T, T))
    new_visits, instant = np.zeros(len(names)), np.zeros(len(names))
    timed = False
    for segment, _, chain in compile_segments(journey):
        timed = timed or bool(np.any(chain.delay > 0) or chain.edge_delay.count_nonzero())
        # Steps that take no time: runs of them happen at one instant (visits counted from each touchpoint on).
        at_once = chain.Q - chain.Q.multiply(chain.edge_delay > 0)
        instant = np.maximum(instant, _visits_to_end(at_once))
        rows = [(t, weight, entry) for t, starts in enumerate(types.starts) for seg, weight, entry in starts
                if seg == segment]
        starts = np.zeros((len(rows), chain.n))
        for k, (_, _, entry) in enumerate(rows):
            for name, share in entry.items():
                starts[k, chain.index(name)] = share
        visits = _visits(chain.Q, starts)
        kinds = np.array([t for t, _, _ in rows])
        weights = np.array([w for _, w, _ in rows])
        np.add.at(touches, kinds, weights * visits.sum(axis=1))
        np.add.at(M, kinds, weights[:, None] * (visits @ refer))
        new_visits += (weights[kinds == 0, None] * visits[kinds == 0]).sum(axis=0)
    finite = np.all(np.isfinite(M)) and np.all(np.isfinite(touches))
    radius = spectral_radius(M) if finite else math.inf
    seeds = per_seed(M) if finite else None
    busiest = int(np.argmax(np.where(np.isfinite(new_visits), new_visits, np.inf)))
    # Only touchpoints a customer can reach count (an instant loop nobody enters costs nothing).
    instant = np.where(new_visits > 0, instant, 0.0)
    slowest = int(np.argmax(np.where(np.isfinite(instant), instant, np.inf)))
    return Workload(
        touches=tuple(float(t) if math.isfinite(t) else math.inf for t in touches),
        per_seed=None if seeds is None else float(seeds @ touches),
        reproduction=radius,
        busiest=names[busiest],
        busiest_visits=float(new_visits[busiest]),
        referrers=tuple(names[i] for i in np.argsort(-new_visits, kind="stable") if refers[i] > 0),
        timed=timed,
        instant=float(instant[slowest]),
        instant_at=names[slowest],
    )


def _visits(Q: sp.csr_matrix, starts: np.ndarray) -> np.ndarray:
    """Expected visits ``starts (I - Q)^-1``, row by row; ``inf`` where the system is singular to working
    precision (a loop that holds customers for ever)."""
    n = Q.shape[0]
    with np.errstate(all="ignore"):
        try:
            if n <= _DENSE:
                out = np.linalg.solve((np.eye(n) - Q.toarray()).T, starts.T).T
            else:
                import scipy.sparse.linalg as spla  # only for large maps: it costs a command 0.1 s to load

                lu = spla.splu((sp.identity(n, format="csc") - Q.tocsc()).T.tocsc())
                out = lu.solve(np.ascontiguousarray(starts.T)).T
        except (np.linalg.LinAlgError, RuntimeError):
            return np.full(starts.shape, np.inf)
    # A loop left only with probability ~1e-16 gives huge or negative visits: more work than any limit.
    return np.where(np.isfinite(out) & (out >= -1e-9), np.maximum(out, 0.0), np.inf)


def _visits_to_end(Q: sp.csr_matrix) -> np.ndarray:
    """Expected visits from each touchpoint on, ``(I - Q)^-1 1`` (``inf`` where singular to working precision)."""
    return _visits(Q.T.tocsr(), np.ones((1, Q.shape[0])))[0]


def many(x: float) -> str:
    """A count of work in words: exact up to a million, then in powers of ten.

    Examples
    --------
    >>> many(35_000), many(2.5e12), many(float("inf"))
    ('35,000', '2.5e+12', 'unboundedly many')
    """
    if not math.isfinite(x):
        return "unboundedly many"
    return f"{x:,.0f}" if x < 1e6 else f"{x:.3g}"


def check_limit(max_transitions) -> int:
    """``max_transitions`` as a positive whole number (a library argument; the CLI checks its option itself)."""
    if isinstance(max_transitions, float) and max_transitions.is_integer():
        max_transitions = int(max_transitions)
    if not whole_number(max_transitions) or max_transitions < 1:
        raise UsageError(f"max_transitions={excerpt(max_transitions)}: must be a whole number >= 1")
    # The engines count in int64; a limit past 2**62 (1e300, say) is no limit, not an overflow.
    return min(int(max_transitions), 2**62)


_RAISE = "raise it with --max-transitions (max_transitions= in Python) if you mean it"


def too_much(source: str, what: str, limit: int) -> LimitError:
    """The one-line refusal of a run expected to pass ``limit`` transitions (``what``: the figures)."""
    return LimitError(f"{source}: {what}: more than the limit of {many(limit)} transitions; {_RAISE}")


def stopped(source: str, what: str, limit: int) -> LimitError:
    """The one-line error of a run that reached ``limit`` transitions (``what``: where it was)."""
    return LimitError(f"{source}: the run stopped at the limit of {many(limit)} transitions ({what}); {_RAISE}")


def check_instant(work: Workload, limit: int, source: str) -> None:
    """Refuse a map whose loops without delays hold a customer for more than ``limit`` visits at one instant:
    neither a horizon nor the end of a run cuts them."""
    if work.instant > limit:
        raise too_much(source, f"touchpoint {excerpt(work.instant_at)}: a customer there makes about "
                               f"{many(work.instant)} visits at one instant (loops whose steps take no time)", limit)
