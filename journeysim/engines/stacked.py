"""The exact engine for many versions of one journey at once: every scalar metric, stacked over draws.

A prediction solves the same map thousands of times with other numbers: the same
touchpoints, segments, stages, delays and referral routes, other probabilities,
entry shares, values and referral rates. :func:`solve_stacked` takes those numbers
as arrays with a leading axis of draws and computes what
:func:`journeysim.engines.exact.segment_metrics` computes for one map (the same
formulas: see :mod:`journeysim.engines.exact` and :mod:`journeysim.engines.branching`),
with one stacked inverse per segment and chain instead of one solve per draw; where
the draws differ in a few rows only (a hypothesis's uncertain changes), one inverse
updated by Sherman-Morrison-Woodbury. A metric a draw leaves undefined (referrals that
sustain themselves, nobody converting) is NaN.

Maps are dense here: a hypothesis's map has tens of touchpoints, and draws are
solved in chunks of at most :data:`CELLS_PER_CHUNK` matrix cells.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Collection, Sequence

import numpy as np

from journeysim.engines.branching import CRITICAL, customer_types
from journeysim.engines.compiled import step_times
from journeysim.engines.discount import discount_rate
from journeysim.engines.exact import dense_system
from journeysim.engines.metrics import SCALAR_METRICS
from journeysim.errors import ScenarioError
from journeysim.journey import Journey

__all__ = ["solve_stacked", "stackable", "CELLS_PER_CHUNK"]

#: Draws are solved in chunks of at most this many cells of their matrices.
CELLS_PER_CHUNK = 4_000_000
#: Stacks of at least this many draws times touchpoints are solved with BLAS on one thread.
_ONE_THREAD_FROM = 100_000
#: The metrics that need the absorbing chain (goals end the journey), the discount, the referral process.
_ABSORBING = frozenset({"conversion_rate", "expected_time_to_conversion", "repeat_rate"})
_DISCOUNTED = frozenset({"discounted_value", "discounted_value_per_seed_customer"})
_PER_SEED = frozenset({"customers_per_seed", "value_per_seed_customer", "conversions_per_seed_customer",
                       "discounted_value_per_seed_customer"})
#: Systems of 2 unknowns are solved across the stack by :func:`_solve_small` from this many draws on (below,
#: and for larger systems, numpy's one LAPACK call per system is faster).
_STACKED_FROM = 1024


def stackable(structure: Journey) -> bool:
    """Whether :func:`solve_stacked` handles this map: not with a negative discount rate (whose growth checks
    the one-map engine makes)."""
    lam = discount_rate(structure)
    return lam is None or lam >= 0


def _edge_arrays(journey: Journey, lam: float | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean time of each step (service and delay) and, with a discount, its expected discount factor: fixed for
    every draw."""
    n = len(journey.names)
    rows, cols, delays, factors = step_times(journey, lam)
    D = np.zeros((n, n))
    D[rows, cols] = delays
    if factors is None:
        return D, None
    L = np.zeros((n, n))
    L[rows, cols] = factors
    return D, L


def _radius(M: np.ndarray) -> np.ndarray:
    if M.shape[-1] == 1:
        return np.abs(M[:, 0, 0])
    return np.abs(np.linalg.eigvals(M)).max(axis=-1) if M.shape[-1] else np.zeros(len(M))


def _finite(M: np.ndarray) -> np.ndarray:
    """Per draw, whether the referrals of ``M`` die out (spectral radius below ``1 - CRITICAL``). The radius is
    at most the largest absolute row sum and column sum: only draws where both bounds reach the threshold need
    the eigenvalues (in a prediction, usually none). The sums run over the few types one column at a time
    (numpy's reductions over an axis of 2 or 3 cost far more per element)."""
    limit = 1.0 - CRITICAL
    A = np.abs(M)
    T = A.shape[-1]
    rows, columns = A[:, :, 0].copy(), A[:, 0, :].copy()
    for t in range(1, T):
        rows += A[:, :, t]
        columns += A[:, t, :]
    row_max, column_max = rows[:, 0], columns[:, 0]
    for t in range(1, T):
        row_max, column_max = np.maximum(row_max, rows[:, t]), np.maximum(column_max, columns[:, t])
    ok = np.minimum(row_max, column_max) < limit
    unsure = ~ok                 # NaN bounds too: eigvals refuses them as before
    if unsure.any():
        ok[unsure] = _radius(M[unsure]) < limit
    return ok


def _descendants(M: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``r (I - M)^-1`` per draw (rows of ``r``: seeds), NaN where referrals sustain themselves."""
    T = M.shape[-1]
    out = np.full(r.shape, np.nan)
    ok = _finite(M)
    if ok.all():
        A = np.swapaxes(np.eye(T)[None] - M, 1, 2)
        return np.swapaxes(_solve_small(A, np.swapaxes(r, 1, 2)), 1, 2)
    if ok.any():
        A = np.swapaxes(np.eye(T)[None] - M[ok], 1, 2)
        out[ok] = np.swapaxes(_solve_small(A, np.swapaxes(r[ok], 1, 2)), 1, 2)
    return out


def _solve_small(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``np.linalg.solve(A, B)`` for a stack of ``m x m`` systems (``B``: ``(d, m, r)``). One unknown is a
    division; two, from :data:`_STACKED_FROM` draws on, Gaussian elimination with partial pivoting written out
    across the stack (a few numpy operations on ``(d,)`` columns), where numpy's solve makes one LAPACK call
    per system."""
    d, m, _ = A.shape
    if m > 2 or (m == 2 and d < _STACKED_FROM):
        return np.linalg.solve(A, B)
    if m == 1:
        if not np.all(A[:, 0, 0] != 0):
            raise np.linalg.LinAlgError("Singular matrix")
        return B / A
    pivot, right, below, corner = A[:, 0, 0].copy(), A[:, 0, 1].copy(), A[:, 1, 0].copy(), A[:, 1, 1].copy()
    b0, b1 = B[:, 0].copy(), B[:, 1].copy()
    swap = np.abs(below) > np.abs(pivot)                  # the larger pivot first (the first on a tie)
    if swap.any():
        pivot[swap], right[swap], below[swap], corner[swap] = below[swap], corner[swap], pivot[swap], right[swap]
        b0[swap], b1[swap] = b1[swap], b0[swap]
    if not np.all(pivot != 0):
        raise np.linalg.LinAlgError("Singular matrix")
    f = below / pivot
    last = corner - f * right
    if not np.all(last != 0):
        raise np.linalg.LinAlgError("Singular matrix")
    X = np.empty_like(b0, shape=(d, 2, b0.shape[1]))
    X[:, 1] = (b1 - f[:, None] * b0) / last[:, None]
    X[:, 0] = (b0 - right[:, None] * X[:, 1]) / pivot[:, None]
    return X


def _constant(x: np.ndarray) -> bool:
    """Whether every draw holds the same numbers."""
    return x.strides[0] == 0 or np.array_equal(x, np.broadcast_to(x[:1], x.shape))


def _varying(Q: np.ndarray) -> np.ndarray:
    """The rows of ``Q`` that some draw changes."""
    if len(Q) == 1 or Q.strides[0] == 0:
        return np.zeros(0, dtype=int)
    return np.flatnonzero((Q != Q[:1]).any(axis=2).any(axis=0))


class _Inverse:
    """``N = (I - Q)^-1`` of every draw, used through products only.

    Rows that no draw changes are shared: with ``Q_0`` the first draw's matrix and ``R = varying`` (at least
    the rows some draw changes, ``Q = Q_0 + E_R dR``), Sherman-Morrison-Woodbury gives
    ``N = N_0 + U W`` with ``U = N_0 E_R`` and ``W = (I - dR U)^-1 dR N_0``: one inverse ``N_0`` and a
    ``|R| x |R|`` solve per draw, and products with ``N`` cost ``|R|`` per row instead of ``n``. When most
    rows change, ``N`` is inverted draw by draw.
    """

    def __init__(self, Q: np.ndarray, varying: np.ndarray, probabilities: bool = True):
        d, n, _ = Q.shape
        # With probabilities, I - Q's diagonal is what each row leaves (see exact.dense_system): 1 - Q_ii keeps one
        # digit of a self-loop of 0.99999999999999, and a conversion rate of 100.08% came out of it.
        A = dense_system(Q, np.maximum(0.0, 1.0 - Q.sum(axis=-1))) if probabilities else np.eye(n)[None] - Q
        self.U = self.W = self.dense = None
        try:
            if len(varying) > n // 2:
                self.dense = np.linalg.inv(A)
                return
            self.N0 = np.linalg.inv(A[0])
            if len(varying):
                dA = A[:, varying] - A[:1, varying]                 # (d, k, n): A = A_0 + E_R dA
                self.U = self.N0[:, varying]                         # (n, k)
                self.W = _solve_small(np.eye(len(varying))[None] + dA @ self.U, -(dA @ self.N0))
        except np.linalg.LinAlgError:
            raise ScenarioError("a drawn journey traps customers in a loop with no drop-off (check the changes' "
                                "rows)") from None

    def left(self, a: np.ndarray) -> np.ndarray:
        """``a N`` for rows ``a`` (``(d or 1, r, n)``)."""
        if self.dense is not None:
            return a @ self.dense
        out = a @ self.N0
        return out if self.W is None else out + (a @ self.U) @ self.W

    def right(self, b: np.ndarray) -> np.ndarray:
        """``N b`` for a vector ``b`` (``(n,)``): ``(d or 1, n)``."""
        if self.dense is not None:
            return self.dense @ b
        out = (self.N0 @ b)[None]
        return out if self.W is None else out + (self.W @ b) @ self.U.T

    def block(self, idx: np.ndarray) -> np.ndarray:
        """``N[idx, idx]`` of every draw (``(d or 1, m, m)``)."""
        if self.dense is not None:
            return self.dense[:, idx][:, :, idx]
        out = self.N0[np.ix_(idx, idx)][None]
        return out if self.W is None else out + self.U[idx] @ self.W[:, :, idx]


def _hitting(N: _Inverse, visits: np.ndarray, members: np.ndarray) -> np.ndarray:
    """P(ever visiting ``members``) per draw: ``visits[A] = f N[A, A]`` by the first member visited, so
    the probability is ``sum(f)`` (as in the one-map engine)."""
    if not len(members):
        return np.zeros(len(visits))
    block = np.broadcast_to(N.block(members), (len(visits), len(members), len(members)))
    f = _solve_small(np.swapaxes(block, 1, 2), visits[:, members, None])[..., 0]
    return f.sum(axis=1)


def _reaches(N: _Inverse, visits: np.ndarray, levels: np.ndarray, n_stages: int) -> list[np.ndarray]:
    """Each stage's reach per draw (``levels``: each touchpoint's stage, -1 for none). With one chain for every
    draw, the stages' blocks of ``N`` solve as one block-diagonal system: one solve instead of one per stage."""
    if len(visits) > 1 or n_stages < 2:
        return [np.clip(_hitting(N, visits, np.flatnonzero(levels == k)), 0.0, 1.0) for k in range(n_stages)]
    staged = np.flatnonzero(levels >= 0)
    level = levels[staged]
    block = N.block(staged)[0] * (level[:, None] == level[None, :])
    f = np.linalg.solve(block.T, visits[0, staged])
    return [np.clip(f[level == k].sum(keepdims=True), 0.0, 1.0) for k in range(n_stages)]


class _Types:
    """The customer types of the referral process, with per-draw entry rows."""

    def __init__(self, structure: Journey, segments: Sequence[str | None]):
        types = customer_types(structure)
        self.count = types.count
        self.route = np.array(types.route)
        # per type: (segment index, weight, fixed entry or None for the segment's own entry)
        self.starts: list[list[tuple[int, float, dict | None]]] = []
        for t, starts in enumerate(types.starts):
            referrer = next((structure.touchpoints[x] for x, r in zip(structure.names, types.route) if r == t), None)
            fixed = None if t == 0 or referrer is None or referrer.refer_entry is None else dict(referrer.refer_entry)
            self.starts.append([(segments.index(seg), weight, fixed) for seg, weight, _ in starts])


def _entry_vector(entry: dict, names: tuple[str, ...], d: int) -> np.ndarray:
    out = np.zeros((d, len(names)))
    index = {n: i for i, n in enumerate(names)}
    for name, share in entry.items():
        out[:, index[name]] = share
    return out


def solve_stacked(structure: Journey, Q: Sequence[np.ndarray], entry: Sequence[np.ndarray], value: np.ndarray,
                  refers: np.ndarray, metrics: Collection[str] | None = None) -> dict:
    """Scalar metrics of ``d`` versions of ``structure``, by segment, and each stage's reach.

    Parameters
    ----------
    structure : Journey
        What every version shares: touchpoints (goals, stages, delays, referral routes), segments and
        their shares, the discount. Its own probabilities are not used.
    Q, entry : sequences of arrays, one per segment (in ``structure.segment_journeys()`` order)
        ``(d, n, n)`` transition probabilities and ``(d, n)`` entry shares of each version.
    value, refers : arrays ``(d, n)``
        Each touchpoint's value and expected referrals per visit, in each version.
    metrics : collection of str, optional
        The metrics to compute (a prediction needs one); by default every one of
        :data:`~journeysim.engines.metrics.SCALAR_METRICS`.

    An array with one row holds for every version.

    Returns
    -------
    dict
        ``metric -> (d,)`` for each metric (NaN where a version leaves it undefined),
        ``"stage_reach" -> {stage: (d,)}`` and ``"by_segment" -> {segment: {metric: (d,)}}`` (empty
        without segments).

    Examples
    --------
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"page": 0.5}, "page": {"buy": 0.4, "ad": 0.2}}, goals=["buy"])
    >>> Q = np.zeros((2, 3, 3)); Q[:, 0, 1] = 0.5; Q[:, 1, 2] = [0.4, 0.6]; Q[:, 1, 0] = 0.2
    >>> out = solve_stacked(j, [Q], [np.array([[1.0, 0, 0]] * 2)], np.zeros((2, 3)), np.zeros((2, 3)))
    >>> out["conversion_rate"].round(6)          # 0.2 / 0.9 and 0.3 / 0.9
    array([0.222222, 0.333333])
    """
    d = max(len(x) for x in (*Q, *entry, value, refers))
    Q = [np.broadcast_to(q, (d, *q.shape[1:])) for q in Q]
    entry = [np.broadcast_to(e, (d, *e.shape[1:])) for e in entry]
    value, refers = np.broadcast_to(value, (d, value.shape[1])), np.broadcast_to(refers, (d, refers.shape[1]))
    n = len(structure.names)
    if d > 1 and all(_constant(x) for x in (*Q, *entry, value, refers)):
        # every draw the same map (a baseline without observations): solve it once
        one = solve_stacked(structure, [q[:1] for q in Q], [e[:1] for e in entry], value[:1], refers[:1], metrics)
        return _repeated(one, d)
    wanted = frozenset(SCALAR_METRICS if metrics is None else metrics)
    chunk = max(1, CELLS_PER_CHUNK // max(1, n * n))
    with _one_blas_thread() if d * n >= _ONE_THREAD_FROM else contextlib.nullcontext():
        parts = [_solve_chunk(structure, [q[lo:lo + chunk] for q in Q], [e[lo:lo + chunk] for e in entry],
                              value[lo:lo + chunk], refers[lo:lo + chunk], wanted) for lo in range(0, d, chunk)]
    return parts[0] if len(parts) == 1 else _concatenate(parts)


@functools.cache
def _blas():
    from threadpoolctl import ThreadpoolController   # with the first large stack, not with every prediction

    return ThreadpoolController()


def _one_blas_thread():
    """BLAS on one thread while a large stack is solved: its products are skinny (draws x touchpoints times
    touchpoints x a few columns), where more threads mostly wait for each other (2.3x the CPU time of one
    thread for 20,000 draws of the bundled referral hypothesis on 2 cores)."""
    return _blas().limit(limits=1, user_api="blas")


def _full(out, d: int):
    """Every leaf ``(d,)`` (a chain solved once for all draws left some ``(1,)``)."""
    if isinstance(out, dict):
        return {k: _full(v, d) for k, v in out.items()}
    return out if out.shape == (d,) else np.broadcast_to(out, (d,)).astype(float, copy=True)


def _repeated(out, d: int):
    if isinstance(out, dict):
        return {k: _repeated(v, d) for k, v in out.items()}
    return np.repeat(out, d)


def _concatenate(parts: list[dict]):
    first = parts[0]
    if isinstance(first, dict):
        return {k: _concatenate([p[k] for p in parts]) for k in first}
    return np.concatenate(parts)


def _segment(Q, entry, starts, goal, value, refers, route, D, L, levels, n_stages, absorbing: bool) -> dict:
    """One segment's metrics for its new customers (``starts[:, 0]``) and its start rows' totals.

    ``Q``, ``entry``, ``starts`` and ``value`` have one row per draw, or one for all draws when no draw changes
    them (the chain is then solved once); ``refers`` one per draw. ``route[i, t]`` is 1 where touchpoint ``i``
    refers customers of type ``t``. The absorbing chain (conversion, its timing and repeats) only if
    ``absorbing``, the discounted visits only with ``L``.
    """
    varying = _varying(Q)
    N = _Inverse(Q, varying)
    g = goal.astype(float)
    visits_all = N.left(starts)
    visits = visits_all[:, 0]
    exit_p = np.maximum(0.0, 1.0 - Q.sum(axis=2))
    out = {}
    if absorbing:
        Na = _Inverse(Q * (~goal)[None, :, None], varying[~goal[varying]])
        x = Na.right(g)
        b = np.where(goal[None], 0.0, ((Q * D[None]) @ x[..., None])[..., 0])
        first_goal = Na.left(entry[:, None])[:, 0]
        again = (Q @ x[..., None])[..., 0]
        out.update({"conversion_rate": (entry * x).sum(axis=1), "timed": (first_goal * b).sum(axis=1),
                    "repeat": (first_goal[:, goal] * again[:, goal]).sum(axis=1)})
    out.update({
        "bounce": (entry * exit_p).sum(axis=1),
        "expected_touches": visits.sum(axis=1),
        "expected_conversions": visits @ g,
        "expected_value": (visits * value).sum(axis=1),
        "referrals": (visits * refers).sum(axis=1),
        "stage_reach": _reaches(N, visits, levels, n_stages),
        "value": (visits_all @ value[:, :, None])[..., 0],
        "goals": visits_all @ g,
        "refers": _by_type(visits_all, refers, route),
    })
    if L is not None:
        discounted = _Inverse(Q * L[None], varying, probabilities=False).left(starts)
        out["discounted_value"] = (discounted @ value[:, :, None])[..., 0]
        out["discounted_refers"] = _by_type(discounted, refers, route)
    return out


def _by_type(visits: np.ndarray, refers: np.ndarray, route: np.ndarray) -> np.ndarray:
    """``(d, rows, T)``: the customers of each type that the visits of each start row refer (one matrix product
    for all draws)."""
    if len(visits) == 1:           # one chain for every draw: the referral rates times each start row's visits
        _, r, n = visits.shape
        by_row = (visits[0][:, :, None] * route[None]).transpose(1, 0, 2).reshape(n, r * route.shape[1])
        return (refers @ by_row).reshape(len(refers), r, route.shape[1])
    referred = visits * refers[:, None, :]
    d, r, n = referred.shape
    return (referred.reshape(d * r, n) @ route).reshape(d, r, route.shape[1])


def _solve_chunk(structure: Journey, Qs, entries, value, refers, wanted: frozenset) -> dict:
    names = structure.names
    d, n = value.shape
    segments = structure.segment_journeys()
    seg_names = [s for s, _, _ in segments]
    types = _Types(structure, seg_names)
    T = types.count
    lam = discount_rate(structure)
    absorbing = bool(wanted & _ABSORBING)
    discounting = lam is not None and bool(wanted & _DISCOUNTED)
    stages = structure.stage_names()
    levels = np.array([stages.index(t.stage) if t.stage is not None else -1
                       for t in (structure.touchpoints[x] for x in names)])
    goal = np.array([structure.touchpoints[x].goal for x in names], dtype=bool)
    route = (types.route[:, None] == np.arange(T)[None, :]).astype(float)
    if d > 1 and _constant(value):
        value = value[:1]                   # the same values in every draw: their sums once
    # per type: value, goal visits and referrals of each type, plain and discounted; the type masses
    value_T, goals_T, M = np.zeros((d, T)), np.zeros((d, T)), np.zeros((d, T, T))
    discounted_T, Md = np.zeros((d, T)), np.zeros((d, T, T))
    mass = np.zeros((d, T))
    parts = []
    for s, (_, share, seg_journey) in enumerate(segments):
        Q, entry = Qs[s], entries[s]
        if d > 1 and _constant(Q) and _constant(entry):
            Q, entry = Q[:1], entry[:1]     # only values or referral rates differ: one chain for every draw
        rows = [(t, weight, entry if fixed is None else np.broadcast_to(_entry_vector(fixed, names, 1), entry.shape))
                for t in range(T) for seg, weight, fixed in types.starts[t] if seg == s]
        # the steps' times serve the time to conversion, their discount factors the discounted metrics
        D, L = _edge_arrays(seg_journey, lam if discounting else None) if absorbing or discounting else (None, None)
        starts = np.stack([v for _, _, v in rows], axis=1)
        part = _segment(Q, entry, starts, goal, value, refers, route, D, L, levels, len(stages), absorbing)
        parts.append((share, part))
        for r, (t, weight, vector) in enumerate(rows):
            value_T[:, t] += weight * part["value"][:, r]
            goals_T[:, t] += weight * part["goals"][:, r]
            M[:, t] += weight * part["refers"][:, r]
            mass[:, t] += weight * vector.sum(axis=1)
            if L is not None:
                discounted_T[:, t] += weight * part["discounted_value"][:, r]
                Md[:, t] += weight * part["discounted_refers"][:, r]
    mass = np.where(np.abs(mass - 1.0) < 1e-9, 1.0, mass)
    total = lambda key: sum(share * p[key] for share, p in parts)  # noqa: E731
    nan = lambda: np.full(d, np.nan)  # noqa: E731
    with np.errstate(divide="ignore", invalid="ignore"):
        e0 = np.zeros((d, 1, T))
        e0[:, 0, 0] = 1.0
        seeds = kin = kin_d = None
        if wanted & _PER_SEED:
            # the descendants of a seed, and of the customers each segment's new customers refer: one solve
            r0 = np.stack([p["refers"][:, 0] for _, p in parts], axis=1) if structure.segments else e0[:, :0]
            both = _descendants(M, np.concatenate([e0, r0], axis=1))
            seeds, kin = both[:, 0], both[:, 1:]
            if discounting and structure.segments:
                kin_d = _descendants(Md, np.stack([p["discounted_refers"][:, 0] for _, p in parts], axis=1))
        cr = total("conversion_rate") if absorbing else None
        whole = {
            "conversion_rate": lambda: cr,
            "expected_conversions": lambda: total("expected_conversions"),
            "expected_value": lambda: total("expected_value"),
            "expected_touches": lambda: total("expected_touches"),
            "expected_time_to_conversion": lambda: np.where(cr > 0, total("timed") / cr, np.nan),
            "referrals": lambda: total("referrals"),
            "customers_per_seed": lambda: 1.0 + np.einsum("dt,dt->d", seeds - e0[:, 0], mass),
            "value_per_seed_customer": lambda: np.einsum("dt,dt->d", seeds, value_T),
            "conversions_per_seed_customer": lambda: np.einsum("dt,dt->d", seeds, goals_T),
            "repeat_rate": lambda: np.where(cr > 0, np.clip(total("repeat") / cr, 0.0, 1.0), np.nan),
            "bounce_rate": lambda: np.clip(total("bounce"), 0.0, 1.0),
            "discounted_value": lambda: discounted_T[:, 0] if discounting else nan(),
            "discounted_value_per_seed_customer": lambda: (
                np.einsum("dt,dt->d", _descendants(Md, e0)[:, 0], discounted_T) if discounting else nan()),
        }
        out = {key: f() for key, f in whole.items() if key in wanted}
        out["stage_reach"] = {stage: sum(share * p["stage_reach"][k] for share, p in parts)
                              for k, stage in enumerate(stages)}
        out["by_segment"] = {}
        for s, (name, (_, p)) in enumerate(zip(seg_names if structure.segments else [], parts)):
            c = p.get("conversion_rate")
            each = {
                "conversion_rate": lambda: c,
                "expected_conversions": lambda: p["expected_conversions"],
                "expected_value": lambda: p["expected_value"],
                "expected_touches": lambda: p["expected_touches"],
                "expected_time_to_conversion": lambda: np.where(c > 0, p["timed"] / c, np.nan),
                "referrals": lambda: p["referrals"],
                "customers_per_seed": lambda: 1.0 + np.einsum("dt,dt->d", kin[:, s], mass),
                "value_per_seed_customer": lambda: p["value"][:, 0] + np.einsum("dt,dt->d", kin[:, s], value_T),
                "conversions_per_seed_customer": lambda: p["goals"][:, 0] + np.einsum("dt,dt->d", kin[:, s], goals_T),
                "repeat_rate": lambda: np.where(c > 0, np.clip(p["repeat"] / c, 0.0, 1.0), np.nan),
                "bounce_rate": lambda: p["bounce"],
                "discounted_value": lambda: p["discounted_value"][:, 0] if discounting else nan(),
                "discounted_value_per_seed_customer": lambda: (
                    p["discounted_value"][:, 0] + np.einsum("dt,dt->d", kin_d[:, s], discounted_T)
                    if discounting else nan()),
            }
            out["by_segment"][name] = {key: f() for key, f in each.items() if key in wanted}
    return _full(out, d)
