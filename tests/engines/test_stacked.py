"""The stacked exact engine: every draw's metrics equal the one-map engine's, whichever way the draws differ."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeysim.engines import stacked as engine
from journeysim.engines.compiled import compile_segments
from journeysim.engines.exact import segment_metrics, solve_exact
from journeysim.engines.metrics import SCALAR_METRICS
from journeysim.engines.branching import CRITICAL
from journeysim.engines.stacked import (
    _STACKED_FROM,
    _finite,
    _hitting,
    _Inverse,
    _radius,
    _reaches,
    _solve_small,
    solve_stacked,
)
from journeysim.errors import ScenarioError
from journeysim.journey import Delay, Edge, Journey, Segment
from tests.properties.strategies import journeys


def versions(j: Journey, factors: np.ndarray, rows: list[str] | None = None) -> list[Journey]:
    """``j`` with the rows ``rows`` (all by default) scaled by each factor, and values and referral rates too."""
    rows = list(j.rows) if rows is None else rows

    def scaled(table, f):
        return {a: {b: Edge(e.p * f, e.delay, e.extra) for b, e in r.items()} if a in rows else r
                for a, r in table.items()}

    out = []
    for f in factors:
        touchpoints = {n: t.__class__(**{**t.__dict__, "value": t.value * f, "refers": t.refers * f})
                       for n, t in j.touchpoints.items()}
        segments = {n: Segment(s.name, s.share, scaled(s.rows, f), s.entry) for n, s in j.segments.items()}
        out.append(j.replace(rows=scaled(j.rows, f), segments=segments, touchpoints=touchpoints))
    return out


def stacked(js: list[Journey]) -> dict:
    chains = [compile_segments(j) for j in js]
    Q = [np.stack([c[s][2].Q.toarray() for c in chains]) for s in range(len(chains[0]))]
    entry = [np.stack([c[s][2].entry for c in chains]) for s in range(len(chains[0]))]
    value = np.stack([c[0][2].value for c in chains])
    refers = np.stack([c[0][2].refers for c in chains])
    return solve_stacked(js[0], Q, entry, value, refers)


def agree(x: float, expected) -> bool:
    if expected is None:
        return math.isnan(x)
    return x == pytest.approx(expected, rel=1e-9, abs=1e-12)


def check(js: list[Journey]) -> None:
    out = stacked(js)
    for k, j in enumerate(js):
        whole, parts = segment_metrics(j)
        for metric in SCALAR_METRICS:
            assert agree(out[metric][k], whole[metric]), (metric, k)
            for name, part in parts.items():
                assert agree(out["by_segment"][name][metric][k], part[metric]), (name, metric, k)
        for stage, reach in whole["stage_reach"].items():
            assert agree(out["stage_reach"][stage][k], reach), (stage, k)


@settings(deadline=None, max_examples=40)
@given(journeys(segments=True, refers=True, routes=True, stages=True, with_delays=True), st.booleans(),
       st.lists(st.floats(0.3, 1.0), min_size=1, max_size=4), st.data())
def test_every_draw_equals_the_one_map_engine(j, discount, factors, data):
    if discount:
        j = j.replace(extra={**j.extra, "discount": {"rate": 0.2, "per": "year"}})
    if data.draw(st.booleans()):     # a served touchpoint: service time before its delay
        first = j.names[0]
        j = j.replace(touchpoints={**j.touchpoints, first: dataclasses.replace(
            j.touchpoints[first], service=Delay("gamma", 0.5, 0.3), extra={"capacity": 2})})
    # all rows differ (inverted draw by draw), one or two (Sherman-Morrison-Woodbury), or none
    rows = data.draw(st.sampled_from([None, list(j.rows)[:1], list(j.rows)[-2:], []]))
    check(versions(j, np.array(factors), rows))


def test_referrals_that_sustain_themselves_leave_per_seed_metrics_undefined():
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.5}}, goals=["buy"],
                          touchpoint_attributes={"buy": {"refers": 1.0}})
    # K = 0.5 refers per customer at 1.0, 1.0 at 2.0 (critical), 1.5 at 3.0
    js = versions(j, np.array([1.0, 2.0, 3.0]), rows=[])
    out = stacked(js)
    assert out["customers_per_seed"][0] == pytest.approx(2.0)
    assert np.isnan(out["customers_per_seed"][1:]).all() and np.isnan(out["value_per_seed_customer"][1:]).all()
    assert out["conversion_rate"].tolist() == [0.5, 0.5, 0.5]


def test_a_draw_that_traps_customers_is_refused():
    j = Journey.from_rows({"a": 1.0}, {"a": {"b": 0.5}, "b": {"a": 0.5}}, goals=["b"])
    Q = np.zeros((2, 2, 2))
    Q[:, 0, 1] = 0.5
    Q[:, 1, 0] = [0.5, 1.0]
    Q[1, 0, 1] = 1.0          # a <-> b with no way out
    with pytest.raises(ScenarioError, match="traps customers in a loop"):
        solve_stacked(j, [Q], [np.array([[1.0, 0.0]] * 2)], np.zeros((2, 2)), np.zeros((2, 2)))


@given(st.integers(1, 4), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_small_systems_solve_as_numpy_does(m, r, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(50, m, m)) + np.eye(m) * rng.choice([0.0, 3.0], size=(50, 1, 1))  # pivoting needed at times
    B = rng.normal(size=(50, m, r))
    ok = np.abs(np.linalg.det(A)) > 1e-3
    np.testing.assert_allclose(_solve_small(A[ok], B[ok]), np.linalg.solve(A[ok], B[ok]), rtol=1e-8, atol=1e-8)


@given(st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_two_unknowns_across_a_long_stack_solve_as_numpy_does(r, seed):
    rng = np.random.default_rng(seed)
    d = _STACKED_FROM + 5
    A = rng.normal(size=(d, 2, 2)) + np.eye(2) * rng.choice([0.0, 3.0], size=(d, 1, 1))  # pivoting needed at times
    B = rng.normal(size=(d, 2, r))
    ok = np.abs(np.linalg.det(A)) > 1e-3
    np.testing.assert_allclose(_solve_small(A[ok], B[ok]), np.linalg.solve(A[ok], B[ok]), rtol=1e-8, atol=1e-8)


@given(st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_referrals_die_out_where_the_spectral_radius_says(T, seed):
    # nonnegative referral matrices around the critical radius (scaled to it exactly, and a hair either side),
    # and some with negative entries; the row and column sums bound the radius, the eigenvalues decide the rest
    rng = np.random.default_rng(seed)
    M = rng.random((300, T, T)) * rng.choice([0.1, 1.0], size=(300, 1, 1))
    M[100:200] /= _radius(M[100:200])[:, None, None] / (1.0 + rng.choice([-2, -1, 0, 1, 2], size=(100, 1, 1)) * CRITICAL)
    M[200:] -= 0.3 * rng.random((100, T, T))
    assert np.array_equal(_finite(M), _radius(M) < 1.0 - CRITICAL)


@given(st.integers(2, 9), st.integers(2, 4), st.integers(0, 2**32 - 1))
def test_one_chain_reaches_its_stages_as_stage_by_stage(n, n_stages, seed):
    # the stages' blocks solved as one block-diagonal system give each stage's reach as its own block does
    rng = np.random.default_rng(seed)
    Q = rng.random((1, n, n)) * (rng.random((1, n, n)) < 0.5)
    Q /= Q.sum(axis=2, keepdims=True).clip(1.0) * rng.uniform(1.05, 2.0)
    levels = rng.integers(-1, n_stages, size=n)
    N = _Inverse(Q, np.zeros(0, dtype=int))
    visits = N.left(rng.dirichlet(np.ones(n))[None, None])[:, 0]
    ours = _reaches(N, visits, levels, n_stages)
    one_by_one = [np.clip(_hitting(N, visits, np.flatnonzero(levels == k)), 0.0, 1.0) for k in range(n_stages)]
    np.testing.assert_allclose(np.concatenate(ours), np.concatenate(one_by_one), rtol=1e-12, atol=1e-15)


def test_a_large_stack_solves_with_one_blas_thread_as_with_several(monkeypatch):
    from threadpoolctl import threadpool_info

    j = Journey.from_rows({"ad": 0.7, "page": 0.3}, {"ad": {"page": 0.5}, "page": {"buy": 0.3, "ad": 0.2}},
                          goals=["buy"], touchpoint_attributes={"buy": {"refers": 0.4, "value": 9.0}})
    d = engine._ONE_THREAD_FROM // len(j.names) + 1
    rng = np.random.default_rng(1)
    Q = np.zeros((d, 3, 3))
    Q[:, 0, 1], Q[:, 1, 2], Q[:, 1, 0] = rng.uniform(0.3, 0.7, d), rng.uniform(0.1, 0.4, d), 0.2
    args = (j, [Q], [np.array([[0.7, 0.3, 0.0]])], np.array([[0.0, 0.0, 9.0]]), np.array([[0.0, 0.0, 0.4]]))
    threads = [m["num_threads"] for m in threadpool_info()]
    limited = []
    real = engine._one_blas_thread
    monkeypatch.setattr(engine, "_one_blas_thread", lambda: limited.append(1) or real())
    one = solve_stacked(*args)
    assert limited and [m["num_threads"] for m in threadpool_info()] == threads       # limited, then restored
    monkeypatch.setattr(engine, "_ONE_THREAD_FROM", 10 * d * len(j.names))
    several = solve_stacked(*args)
    for metric in ("conversion_rate", "expected_value", "value_per_seed_customer", "customers_per_seed"):
        np.testing.assert_allclose(one[metric], several[metric], rtol=1e-13)


@pytest.mark.parametrize("e", [1e-9, 1e-14, 1e-15])
def test_a_near_one_self_loop_converts_everyone_not_more(e):
    # 1 - Q_ii keeps one digit of 1 - 1e-14: the diagonal is what the row leaves, as in the exact engine
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"ad": 1 - e, "buy": e}}, goals=["buy"])
    Q = np.zeros((2, 2, 2))
    Q[:, 0, 0], Q[:, 0, 1] = [1 - e, 1 - 2 * e], [e, 2 * e]     # two draws: the Woodbury update and the base
    out = solve_stacked(j, [Q], [np.array([[1.0, 0.0]] * 2)], np.zeros((2, 2)), np.zeros((2, 2)))
    assert out["conversion_rate"] == pytest.approx([1.0, 1.0], abs=1e-15) and (out["conversion_rate"] <= 1.0).all()
    assert out["expected_touches"][0] == pytest.approx(solve_exact(j).expected_touches, rel=1e-12)
