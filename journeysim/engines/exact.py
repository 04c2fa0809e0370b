"""The exact engine: the journey as an absorbing Markov chain, solved by linear algebra.

Every touchpoint is a transient state and drop-off the absorbing one. With
``N = (I - Q)^-1`` (expected visits) and ``N'`` the same for the chain in which
goals absorb (their rows removed):

* expected visits ``v = a N`` for entry shares ``a``; touches, conversions, value
  and referrals are sums over ``v``;
* visit rate of ``j``: ``v_j / N_jj`` (the hitting probability);
* conversion rate: ``a N' g`` for the goal indicator ``g``;
* removal effect of ``k``: customers who reach a goal either meet ``k`` first or
  not, so ``CR_without_k = CR - f_k x_k`` where ``f_k = (a N')_k / N'_kk`` is the
  probability of meeting ``k`` before any goal and ``x = N' g`` the conversion
  probability from each touchpoint: one factorisation for all touchpoints.

Chains up to :data:`DENSE_LIMIT` touchpoints are inverted densely, once: the chain in
which goals absorb differs from it in the goals' rows, so its solves and diagonal are
Woodbury updates of that one inverse (a ``g x g`` factorisation for ``g`` goals), and
each stage's reach and funnel need only blocks of it (a funnel set that is most of the
map is hit through its complement's smaller system). Larger chains use sparse LU
factorisations.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from journeysim.engines.branching import (
    CustomerTypes,
    customer_types,
    descendants,
    per_seed,
    per_seed_without,
    spectral_radius,
)
from journeysim.engines.compiled import Chain, compile_segments
from journeysim.engines.discount import discount_rate
from journeysim.engines.metrics import SCALAR_METRICS, JourneyMetrics
from journeysim.journey import Journey, expect_journey

__all__ = ["solve_exact", "segment_metrics", "conversion_rate", "dense_system", "DENSE_LIMIT"]

#: Above this many touchpoints the engine factorises sparsely instead of inverting. Random
#: graphs fill in under LU, and the diagonal of the inverse costs n sparse solves, so dense wins
#: up to a few thousand touchpoints (5,000: ~10 s dense against minutes sparse).
DENSE_LIMIT = 6000
#: Above :data:`DENSE_LIMIT`, a sparse LU whose factors hold more than this share of ``n^2`` is dropped for the
#: dense inverse, up to :data:`DENSE_MAX` touchpoints: the n sparse solves behind the diagonal then cost more than
#: one dense inverse (a random 6,500-touchpoint map with 5 edges a row fills to 34%: 180 s sparse, 30 s dense). A
#: map whose journeys run mostly forward fills in to well under 1% and stays sparse.
FILL_LIMIT = 0.05
#: The most touchpoints the engine inverts densely (two 800 MB arrays at 10,000).
DENSE_MAX = 10_000
_BLOCK = 256
#: Up to this many touchpoints a second inverse and blocks of the inverse cost less than the sparse products
#: that spare them on large maps (see :meth:`_Solver.without_rows` and :func:`_hitting_set`).
_SMALL = 256


def _system(Q: sp.csr_matrix, exit: np.ndarray | None) -> sp.csr_matrix:
    """``I - Q``, its diagonal ``1 - Q_ii`` written as what row ``i`` leaves to other touchpoints and to drop-off
    (``exit``) when that is known (Grassmann, Taksar and Heyman's idea): a touchpoint that loops on itself with
    p = 0.999999999999999 leaves with 1e-15 exactly, where ``1 - p`` has lost every digit but one (a conversion
    rate of 100.08% came out of it)."""
    diagonal = Q.diagonal()
    others = Q - sp.diags(diagonal)
    leave = 1.0 - diagonal if exit is None else exit + np.asarray(others.sum(axis=1)).ravel()
    return (sp.diags(leave) - others).tocsr()


def dense_system(Q: np.ndarray, exit: np.ndarray | None) -> np.ndarray:
    """:func:`_system` on dense arrays: of one map, whose sparse operations cost more than the arithmetic when it
    is small, or of a stack of draws (``Q``: ``(..., n, n)``, ``exit``: ``(..., n)``).

    Examples
    --------
    >>> float(dense_system(np.array([[1 - 1e-15, 1e-15], [0.0, 0.0]]), np.array([0.0, 1.0]))[0, 0])   # not 1 - p
    1e-15
    """
    n = Q.shape[-1]
    i = np.arange(n)
    leave = 1.0 - Q[..., i, i] if exit is None else exit + np.sum(Q, axis=-1, where=~np.eye(n, dtype=bool))
    A = np.negative(Q)
    A[..., i, i] = leave
    return A


class _Solver:
    """Solves with ``I - Q`` (and its transpose): columns and the diagonal of the inverse. ``exit``: what each row
    leaves to drop-off, when the rows are probabilities (see :func:`_system`)."""

    def __init__(self, Q: sp.csr_matrix | None, inverse: np.ndarray | None = None, exit: np.ndarray | None = None):
        self._diagonal = None
        self.exit, self.Q, self.fill = exit, None, None
        if inverse is not None:
            self.n, self.inv, self.lu = len(inverse), inverse, None
            return
        n = Q.shape[0]
        self.n = n
        if n <= _SMALL:
            import scipy.linalg as la

            self.inv, self.lu = la.inv(dense_system(Q.toarray(), exit)), None
            return
        system = _system(Q, exit)
        #: ``Q`` as the system has it (``I`` minus the system): what a row update changes (see :meth:`without_rows`).
        self.Q = (sp.identity(n, format="csr") - system).tocsr()
        self.inv = self.lu = None
        if n > DENSE_LIMIT:
            import scipy.sparse.linalg as spla  # only for large maps: it costs a command 0.1 s to load

            self.lu = spla.splu(system.tocsc())
            self.fill = (self.lu.L.nnz + self.lu.U.nnz) / n**2
            if self.fill <= FILL_LIMIT or n > DENSE_MAX:
                return
            self.lu = None
        import scipy.linalg as la  # its LAPACK, not numpy's: results must not move in the last digit

        self.inv = la.inv(system.toarray())

    @property
    def factorisation(self) -> str:
        """How the system was solved, in words (for the method)."""
        if self.lu is not None:
            return "sparse LU"
        if self.fill is not None:
            return f"dense inverse: its sparse LU filled in to {self.fill:.0%} of a dense matrix"
        return "dense inverse"

    def solve(self, b: np.ndarray) -> np.ndarray:
        """``(I - Q)^-1 b`` (``b`` a vector or columns)."""
        return self.inv @ b if self.lu is None else self.lu.solve(b)

    def solve_left(self, a: np.ndarray) -> np.ndarray:
        """``a (I - Q)^-1`` (``a`` a row vector or rows)."""
        if self.lu is None:
            return a @ self.inv
        return self.lu.solve(np.ascontiguousarray(a.T), trans="T").T

    def columns(self, idx: np.ndarray) -> np.ndarray:
        """``(I - Q)^-1[:, idx]``."""
        if self.lu is None:
            return self.inv[:, idx]
        out = np.empty((self.n, len(idx)))
        for start in range(0, len(idx), _BLOCK):
            part = idx[start:start + _BLOCK]
            rhs = np.zeros((self.n, len(part)))
            rhs[part, np.arange(len(part))] = 1.0
            out[:, start:start + len(part)] = self.lu.solve(rhs)
        return out

    def diagonal(self) -> np.ndarray:
        """The diagonal of ``(I - Q)^-1``, in blocks of columns for the sparse case."""
        if self._diagonal is None:
            if self.lu is None:
                self._diagonal = np.diag(self.inv).copy()
            else:
                self._diagonal = np.empty(self.n)
                for start in range(0, self.n, _BLOCK):
                    idx = np.arange(start, min(start + _BLOCK, self.n))
                    self._diagonal[idx] = self.columns(idx)[idx, np.arange(len(idx))]
        return self._diagonal


    def without_rows(self, Q: sp.csr_matrix, mask: np.ndarray) -> _Solver | _WithoutRows:
        """The solver of ``Q`` with the rows ``mask`` removed (goals absorbing): densely above :data:`_SMALL`
        touchpoints, this inverse updated (:class:`_WithoutRows`, for up to ``n / 2`` rows, by the rows of ``Q``
        as this system has them); else a factorisation of its own (a removed row leaves everything: its exit is 1)."""
        if self.lu is not None or 2 * int(mask.sum()) > self.n or self.n <= _SMALL:
            return _Solver(_without_rows(Q, mask), exit=None if self.exit is None else np.where(mask, 1.0, self.exit))
        return _WithoutRows(self, Q if self.Q is None else self.Q, np.flatnonzero(mask))


class _WithoutRows:
    """``N' = (I - Q')^-1`` for ``Q'`` = ``Q`` without the rows ``G``, from ``N = (I - Q)^-1``, never formed.

    ``I - Q' = (I - Q) + E_G Q_G``, so by Woodbury ``N' = N - N_G S^-1 Q_G N`` with ``S = I + Q_G N_G``: a
    ``g x g`` factorisation, and products with the sparse rows ``Q_G``, instead of a second inverse.
    """

    def __init__(self, full: _Solver, Q: sp.csr_matrix, rows: np.ndarray):
        import scipy.linalg as la

        self.full, self.QG, self.NG = full, Q[rows], full.inv[:, rows]
        self.S = la.lu_factor(np.eye(len(rows)) + self.QG @ self.NG) if len(rows) else None
        self._diagonal = None

    def _correct(self, x: np.ndarray) -> np.ndarray:
        """``S^-1 Q_G x``."""
        import scipy.linalg as la

        return la.lu_solve(self.S, self.QG @ x)

    def solve(self, b: np.ndarray) -> np.ndarray:
        Nb = self.full.solve(b)
        return Nb if self.S is None else Nb - self.NG @ self._correct(Nb)

    def solve_left(self, a: np.ndarray) -> np.ndarray:
        import scipy.linalg as la

        aN = self.full.solve_left(a)
        if self.S is None:
            return aN
        # a N_G S^-1 Q_G N = ((S^-T (a N_G)^T)^T Q_G) N
        y = la.lu_solve(self.S, np.atleast_2d(a @ self.NG).T, trans=1).T
        out = aN - self.full.solve_left(np.asarray(self.QG.T @ y.T).T)
        return out.reshape(aN.shape)

    def diagonal(self) -> np.ndarray:
        if self._diagonal is None:
            full = self.full.diagonal()
            if self.S is None:
                self._diagonal = full
            else:
                W = self._correct(self.full.inv)                  # S^-1 Q_G N, g x n
                self._diagonal = full - np.einsum("ik,ki->i", self.NG, W)
        return self._diagonal


def _without_rows(Q: sp.csr_matrix, mask: np.ndarray) -> sp.csr_matrix:
    keep = sp.diags((~mask).astype(float))
    return (keep @ Q).tocsr()


def _hitting(visits: np.ndarray, columns: np.ndarray, where: np.ndarray, members: np.ndarray) -> float:
    """Probability of ever visiting the touchpoints ``members`` (indices) from expected visits ``visits``.

    Decomposed by the first member visited, ``visits[A] = f N[A, A]``, so the probability
    ``sum(f)`` needs only the columns ``N[:, A]`` of the one factorisation (``columns``
    holds ``N[:, S]`` for a superset ``S``; ``where`` maps a touchpoint to its column).
    """
    if not len(members):
        return 0.0
    block = columns[np.ix_(members, where[members])]
    return float(np.linalg.solve(block.T, visits[members]).sum())


def _hitting_set(chain: Chain, visits: np.ndarray, columns: np.ndarray, where: np.ndarray,
                 members: np.ndarray) -> float:
    """:func:`_hitting` for the touchpoints ``members`` (a mask), through the smaller side: when they are most of a
    dense map, as the chance of starting among them or stepping into them from the others ``B`` before leaving,
    ``a_A 1 + a_B (I - Q_BB)^-1 Q_BA 1`` (a ``|B| x |B|`` solve instead of ``|A| x |A|``)."""
    others = np.flatnonzero(~members)
    if 2 * len(others) >= chain.n or not _SMALL < chain.n <= DENSE_LIMIT:
        return _hitting(visits, columns, where, np.flatnonzero(members))
    inside = chain.entry[members].sum()
    if not len(others):
        return float(inside)
    Q = chain.Q[others]
    into = np.asarray(Q[:, np.flatnonzero(members)].sum(axis=1)).ravel()
    stay = np.eye(len(others)) - Q[:, others].toarray()
    return float(inside + chain.entry[others] @ np.linalg.solve(stay, into))


def _reach(chain: Chain, full: _Solver, visits: np.ndarray, stages: tuple[str, ...]) -> tuple[dict, dict]:
    """Stage reach (visit some touchpoint of the stage) and funnel (this stage or a later one)."""
    level = np.array([stages.index(s) if s in stages else -1 for s in chain.stage])
    staged = np.flatnonzero(level >= 0)
    where = np.full(chain.n, -1)
    where[staged] = np.arange(len(staged))
    columns = full.columns(staged)
    reach = {s: _hitting(visits, columns, where, np.flatnonzero(level == k)) for k, s in enumerate(stages)}
    funnel = [_hitting_set(chain, visits, columns, where, level >= k) for k in range(len(stages))]
    # The sets shrink stage by stage, so the funnel cannot rise; guard it against rounding.
    funnel = np.minimum.accumulate(np.clip(funnel, 0.0, 1.0)) if funnel else []
    return ({s: float(np.clip(r, 0.0, 1.0)) for s, r in reach.items() if chain.stage.count(s)},
            dict(zip(stages, map(float, funnel))))


def _growth_problem(chain: Chain) -> str | None:
    """Why discounted values are infinite at a negative rate (value growing faster than customers leave), or None."""
    Qd = chain.Q_discounted
    infinite = sorted({chain.names[i] for i in Qd.nonzero()[0][~np.isfinite(Qd.data)]})
    if infinite:
        return (f"the delays of {', '.join(map(repr, infinite))} have tails no negative discount rate can weigh "
                "(their discount factors have no finite mean)")
    if Qd.shape[0] <= DENSE_LIMIT:
        radius = float(np.abs(np.linalg.eigvals(Qd.toarray())).max()) if Qd.shape[0] else 0.0
    else:
        import scipy.sparse.linalg as spla

        radius = float(np.abs(spla.eigs(Qd, k=1, which="LM", return_eigenvectors=False)).max())
    if radius >= 1.0:
        return f"value grows along the loops faster than customers leave them (spectral radius {radius:.4g})"
    return None


def _segment(chain: Chain, starts: np.ndarray, refer: np.ndarray, stages: tuple[str, ...], removal: bool,
             discount_ok: bool = True) -> dict:
    """One segment's metrics for new customers (``starts[0]``) and its customer types' totals.

    ``starts`` holds the entry shares of every customer type that starts in this segment
    (row 0: the new customers); ``refer[:, t]`` the type-``t`` customers each touchpoint refers.
    """
    goal = chain.goal.astype(float)
    full = _Solver(chain.Q, exit=chain.exit)
    visits_all = full.solve_left(starts)           # expected visits of each start row
    visits = visits_all[0]
    absorbing = full.without_rows(chain.Q, chain.goal)
    x = absorbing.solve(goal)                      # P(convert | at touchpoint i)
    cr = float(chain.entry @ x)
    # Expected time to the first goal, weighted by converting: y_i = sum_k Q_ik (D_ik x_k + y_k).
    b = np.where(chain.goal, 0.0, chain.Q.multiply(chain.edge_delay) @ x)
    timed = float(chain.entry @ absorbing.solve(b))
    first_goal = absorbing.solve_left(chain.entry)  # at a goal: P(it is the first goal reached)
    again = chain.Q @ x                              # P(a goal after leaving touchpoint i)
    reach, funnel = _reach(chain, full, visits, stages)
    out = {
        "factorisation": full.factorisation,
        "conversion_rate": cr,
        "timed": timed,
        "repeat": float(first_goal[chain.goal] @ again[chain.goal]),
        "bounce": float(chain.entry @ chain.exit),
        "expected_touches": float(visits.sum()),
        "expected_conversions": float(visits @ goal),
        "expected_value": float(visits @ chain.value),
        "referrals": float(visits @ chain.refers),
        "visit_rate": np.clip(visits / full.diagonal(), 0.0, 1.0),
        "stage_reach": reach,
        "funnel": funnel,
        "without": None,
        # per start row: value, goal visits and referrals of each type (the branching process)
        "value": visits_all @ chain.value,
        "goals": visits_all @ goal,
        "refers": visits_all @ refer,
    }
    if chain.Q_discounted is not None and discount_ok:
        discounted = _Solver(chain.Q_discounted).solve_left(starts)
        out["discounted_value"] = discounted @ chain.value
        out["discounted_refers"] = discounted @ refer
    if removal:
        diagonal = full.diagonal()
        out["without"] = np.clip(cr - first_goal / absorbing.diagonal() * x, 0.0, cr)
        # Removing k takes away, for a customer who reaches k, all that follows the first visit of k:
        # P(reach k) times what a customer at k brings from then on.
        onward = full.solve(np.column_stack([chain.value, refer]))
        out["reached"] = visits_all / diagonal
        out["onward"] = onward
    return out


def _start_rows(types: CustomerTypes, segment: str | None, chain: Chain) -> list[tuple[int, float, np.ndarray]]:
    """Entry rows of the customer types starting in ``segment``: (type, weight, entry vector); new customers first."""
    rows = []
    for t, starts in enumerate(types.starts):
        for seg, weight, entry in starts:
            if seg == segment:
                vector = np.zeros(chain.n)
                for name, share in entry.items():
                    vector[chain.index(name)] = share
                rows.append((t, weight, vector))
    return rows


def _quoted(names) -> str:
    return ", ".join(repr(n) for n in names)


def _solve(journey: Journey, removal_effects: bool) -> tuple[dict, list[str]]:
    """Every metric of :class:`JourneyMetrics` as a dict, and the warnings."""
    names = journey.names
    types = customer_types(journey)
    route = np.array(types.route)
    refers = np.array([journey.touchpoints[n].refers for n in names])
    refer = refers[:, None] * (route[:, None] == np.arange(types.count)[None, :])
    stages = journey.stage_names()
    lam = discount_rate(journey)
    chains = compile_segments(journey)
    warnings = []
    if lam is not None and lam < 0:   # a negative rate: value grows, and may grow without bound
        problems = [p for _, _, chain in chains if (p := _growth_problem(chain)) is not None]
        if problems:
            warnings.append(f"discount: rate {journey.extra['discount']['rate']:g} makes value grow: {problems[0]}; "
                            "the discounted values are unbounded (null)")
            lam = None
    T, n = types.count, len(names)
    # Per customer type: value, goal visits and referrals of each type (M), plain and discounted;
    # per touchpoint: what removing it takes from each type's value and referrals.
    value, goals, M = np.zeros(T), np.zeros(T), np.zeros((T, T))
    discounted, Md = np.zeros(T), np.zeros((T, T))
    lost_value, lost_refers = np.zeros((T, n)), np.zeros((T, T, n))
    parts, segments = [], []
    for segment, share, chain in chains:
        rows = _start_rows(types, segment, chain)
        kind = np.array([t for t, _, _ in rows])
        weight = np.array([w for _, w, _ in rows])
        part = _segment(chain, np.array([v for _, _, v in rows]), refer, stages, removal_effects, lam is not None)
        parts.append((share, part))
        segments.append(segment)
        np.add.at(value, kind, weight * part["value"])
        np.add.at(goals, kind, weight * part["goals"])
        np.add.at(M, kind, weight[:, None] * part["refers"])
        if lam is not None:
            np.add.at(discounted, kind, weight * part["discounted_value"])
            np.add.at(Md, kind, weight[:, None] * part["discounted_refers"])
        if removal_effects:
            reached = weight[:, None] * part["reached"]                    # (rows, n)
            onward = part["onward"]                                        # (n, 1 + T)
            np.add.at(lost_value, kind, reached * onward[:, 0])
            np.add.at(lost_refers, kind, reached[:, None, :] * onward[:, 1:].T[None])
    total = lambda key: float(sum(share * p[key] for share, p in parts))  # noqa: E731
    cr = total("conversion_rate")
    if cr < np.finfo(float).tiny and _goal_reachable(chains):
        warnings.append(f"the conversion rate ({cr:.3g}) is below the smallest normal double although a path of "
                        "nonzero probabilities leads to a goal: its paths are too unlikely to compute, so it and "
                        "the removal effects and time to conversion that divide by it are not to be trusted")
    seeds = per_seed(M)
    if seeds is None:
        reachable = journey.reachable()
        referrers = _quoted(x for x in types_referrers(types) if x in reachable)
        warnings.append(f"referrals sustain themselves through {referrers} (spectral radius {spectral_radius(M):.4g} "
                        "of the referral matrix: every generation brings at least as many customers as the one "
                        "before), so the per-seed metrics are unbounded (null)")
    out = {
        "conversion_rate": cr,
        "expected_conversions": total("expected_conversions"),
        "expected_value": total("expected_value"),
        "expected_touches": total("expected_touches"),
        "expected_time_to_conversion": total("timed") / cr if cr > 0 else None,
        "visit_rate": dict(zip(names, map(float, sum(share * p["visit_rate"] for share, p in parts)))),
        "stage_reach": {s: float(sum(share * p["stage_reach"].get(s, 0.0) for share, p in parts)) for s in stages},
        "removal_effects": {},
        "referrals": total("referrals"),
        # The seed counts whole (rates are per original new customer); referred customers only when they start.
        "customers_per_seed": None if seeds is None else float(1.0 + (seeds - np.eye(T)[0]) @ types.mass),
        "value_per_seed_customer": None if seeds is None else float(seeds @ value),
        "conversions_per_seed_customer": None if seeds is None else float(seeds @ goals),
        "repeat_rate": min(max(total("repeat") / cr, 0.0), 1.0) if cr > 0 else None,
        "bounce_rate": min(max(total("bounce"), 0.0), 1.0),
        # Each segment's funnel cannot rise, so neither can their mixture; guard it against rounding.
        "funnel": dict(zip(stages, np.minimum.accumulate(
            [sum(share * p["funnel"][s] for share, p in parts) for s in stages]).tolist())) if stages else {},
        "discounted_value": float(discounted[0]) if lam is not None else None,
        "discounted_value_per_seed_customer": None,
        "removal_effects_value": None,
    }
    if lam is not None:
        discounted_seeds = per_seed(Md)
        if discounted_seeds is not None:
            out["discounted_value_per_seed_customer"] = float(discounted_seeds @ discounted)
        elif seeds is not None:
            warnings.append("discounted referrals sustain themselves (value grows faster than the discount takes "
                            "it): discounted_value_per_seed_customer is unbounded (null)")
    out["factorisation"] = "; ".join(dict.fromkeys(p["factorisation"] for _, p in parts))
    if journey.segments:
        out["by_segment"] = _by_segment(segments, [p for _, p in parts], M, Md if lam is not None else None,
                                        value, goals, discounted, types.mass)
    if removal_effects:
        without = sum(share * p["without"] for share, p in parts)
        non_goal = [i for i, name in enumerate(names) if not journey.touchpoints[name].goal]
        out["removal_effects"] = {names[i]: float(np.clip(1.0 - without[i] / cr, 0.0, 1.0)) if cr > 0 else 0.0
                                  for i in non_goal}
        if seeds is not None:
            base = out["value_per_seed_customer"]
            kept = per_seed_without(M, value, np.moveaxis(lost_refers[:, :, non_goal], 2, 0), lost_value[:, non_goal].T)
            out["removal_effects_value"] = {names[i]: float(np.clip(1.0 - v / base, 0.0, 1.0)) if base > 0 else 0.0
                                            for i, v in zip(non_goal, kept)}
    return out, warnings


def _goal_reachable(chains) -> bool:
    """Whether some segment's entry leads to a goal along edges of nonzero probability (a conversion rate of 0 is
    then an underflow, not a fact)."""
    for _, share, chain in chains:
        if share <= 0:
            continue
        Q = chain.Q.tocsr()
        seen = set(np.flatnonzero(chain.entry > 0).tolist())
        todo = list(seen)
        while todo:
            i = todo.pop()
            if chain.goal[i]:
                return True
            for j in Q.indices[Q.indptr[i]:Q.indptr[i + 1]][Q.data[Q.indptr[i]:Q.indptr[i + 1]] > 0].tolist():
                if j not in seen:
                    seen.add(j)
                    todo.append(j)
    return False


def types_referrers(types: CustomerTypes):
    return [name for group in types.referrers for name in group]


def _by_segment(segments, parts, M, Md, value, goals, discounted, mass) -> dict:
    """The scalar metrics of the new customers who start in each segment (of a seed who starts there).

    Row 0 of every segment's start rows is its new customers'; a seed of segment ``s`` is worth
    its own value plus what the customers it refers bring, ``r_s (I - M)^-1`` of each type.
    """
    out = {}
    refers = np.array([p["refers"][0] for p in parts])
    kin = descendants(M, refers)
    kin_discounted = descendants(Md, np.array([p["discounted_refers"][0] for p in parts])) if Md is not None else None
    for s, (segment, p) in enumerate(zip(segments, parts)):
        cr = p["conversion_rate"]
        out[segment] = {
            "conversion_rate": cr,
            "expected_conversions": p["expected_conversions"],
            "expected_value": p["expected_value"],
            "expected_touches": p["expected_touches"],
            "expected_time_to_conversion": p["timed"] / cr if cr > 0 else None,
            "referrals": p["referrals"],
            "customers_per_seed": None if kin is None else float(1.0 + kin[s] @ mass),
            "value_per_seed_customer": None if kin is None else float(p["value"][0] + kin[s] @ value),
            "conversions_per_seed_customer": None if kin is None else float(p["goals"][0] + kin[s] @ goals),
            "repeat_rate": min(max(p["repeat"] / cr, 0.0), 1.0) if cr > 0 else None,
            "bounce_rate": p["bounce"],
            "discounted_value": float(p["discounted_value"][0]) if Md is not None else None,
            "discounted_value_per_seed_customer": None if kin_discounted is None else float(
                p["discounted_value"][0] + kin_discounted[s] @ discounted),
        }
    return out


def segment_metrics(journey: Journey) -> tuple[dict, dict]:
    """The scalar metrics (and stage reach) of the whole journey, and of the new customers who start in each segment.

    Per-seed metrics of a segment are those of a seed who starts there (the customers it
    refers start where its touchpoints route them, in whichever segment); the whole
    journey's linear metrics are the share-weighted sums of the segments'.

    Examples
    --------
    >>> from journeysim.journey import Edge, Segment
    >>> j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.5}}, goals=["buy"],
    ...     touchpoint_attributes={"buy": {"refers": 0.5}},
    ...     segments={"a": Segment("a", 0.5), "b": Segment("b", 0.5, {"ad": {"buy": Edge(1.0)}})})
    >>> total, parts = segment_metrics(j)
    >>> # K = 0.25 in a, 0.5 in b, 0.375 mixed; referred customers join the mix, each worth 1 / (1 - 0.375)
    >>> total["customers_per_seed"], parts["a"]["customers_per_seed"], parts["b"]["customers_per_seed"]
    (1.6, 1.4, 1.8)
    """
    metrics, _ = _solve(journey, removal_effects=False)
    parts = metrics.pop("by_segment", {})
    metrics.pop("factorisation")
    return {k: v for k, v in metrics.items() if k in (*SCALAR_METRICS, "stage_reach")}, parts


def solve_exact(journey: Journey, *, removal_effects: bool = True) -> JourneyMetrics:
    """Solve a journey exactly, per segment, weighted by segment shares.

    Parameters
    ----------
    journey : Journey
    removal_effects : bool
        Compute the removal effects of every non-goal touchpoint, on conversion and on
        value per seed customer (a few extra solves, not one per touchpoint).

    Returns
    -------
    JourneyMetrics

    Examples
    --------
    >>> j = Journey.from_rows(
    ...     {"ad": 1.0}, {"ad": {"page": 0.5}, "page": {"buy": 0.4, "ad": 0.2}}, goals=["buy"],
    ...     touchpoint_attributes={"buy": {"value": 40.0}})
    >>> m = solve_exact(j)
    >>> round(m.conversion_rate, 6), round(m.expected_value, 4)   # 0.2 / (1 - 0.1)
    (0.222222, 8.8889)
    >>> round(m.removal_effects["page"], 6)
    1.0
    """
    expect_journey(journey)
    metrics, warnings = _solve(journey, removal_effects)
    metrics.pop("by_segment", None)
    factorisation = metrics.pop("factorisation")
    return JourneyMetrics(
        **metrics,
        engine="exact",
        time_unit=journey.time_unit,
        journey_name=journey.name,
        currency=journey.extra.get("currency"),
        warnings=tuple(warnings),
        method=f"absorbing Markov chain solved exactly ({factorisation}), segments weighted by share; times use mean delays"
        + (" plus mean service times" if any(t.service is not None for t in journey.touchpoints.values()) else "")
        + "; referrals as a multi-type branching process (per seed: e_0 (I - M)^-1 over the customer types)"
        + ("; discounting from the delays' Laplace transforms" if discount_rate(journey) is not None else ""),
    )


def conversion_rate(journey: Journey) -> float:
    """The exact conversion rate alone (no removal effects), for quick comparisons.

    Examples
    --------
    >>> conversion_rate(Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.3}}, goals=["buy"]))
    0.3
    """
    return solve_exact(journey, removal_effects=False).conversion_rate
