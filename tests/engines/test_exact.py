"""The exact engine against values solved by hand (tests/engines/reference/exact.json) and computed independently."""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from journeysim import Journey, load_journey, read_journey, solve_exact
from journeysim.engines import exact

from tests.conftest import BUNDLED_MAPS


REFERENCE = json.loads((Path(__file__).parent / "reference" / "exact.json").read_text(encoding="utf-8"))


def _expected(spec):
    if spec is None or "value" in spec:
        return None if spec is None else spec["value"]
    return {name: _expected(v) for name, v in spec.items()}


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: c["name"])
def test_values_solved_by_hand(case):
    m = solve_exact(read_journey(case["map"], case["name"]))
    for metric, spec in case["expected"].items():
        expected, got = _expected(spec), getattr(m, metric)
        if isinstance(expected, dict):
            assert {k: got[k] for k in expected} == pytest.approx(expected, abs=1e-12), metric
        else:
            assert got == pytest.approx(expected, abs=1e-12), metric
    assert m.engine == "exact"


def test_a_viral_map_says_growth_is_unbounded():
    case = next(c for c in REFERENCE["cases"] if c["name"] == "referrals at the viral threshold")
    assert "unbounded" in solve_exact(read_journey(case["map"])).summary()


def test_nobody_converts_gives_no_time():
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.0}}, goals=["buy"])
    m = solve_exact(j)
    assert m.conversion_rate == 0.0 and m.expected_time_to_conversion is None
    assert m.removal_effects["ad"] == 0.0
    assert m.warnings == ()                 # nobody converts: a fact, said by the numbers themselves


@pytest.mark.parametrize("p, warned", [(1e-200, True), (1e-160, True), (1e-100, False)])
def test_a_conversion_rate_that_underflows_is_said(p, warned):
    # 1e-200 squared is below every double: the rate comes out 0 although every customer who converts passes 'ad'
    # and 'page' (removal effects 1, shown as 0); 1e-320 is a subnormal with three digits left
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"page": p}, "page": {"buy": p}}, goals=["buy"])
    m = solve_exact(j)
    assert any("below the smallest normal double" in w for w in m.warnings) is warned
    if not warned:
        assert m.removal_effects == {"ad": 1.0, "page": 1.0}


@pytest.mark.parametrize("path", BUNDLED_MAPS, ids=lambda p: p.name)
def test_sparse_factorisation_agrees_with_dense(path, monkeypatch):
    journey = load_journey(path)
    dense = solve_exact(journey)
    # below _SMALL touchpoints every map is inverted densely, and a 10-touchpoint map fills its LU in
    monkeypatch.setattr(exact, "DENSE_LIMIT", 0)
    monkeypatch.setattr(exact, "_SMALL", 0)
    monkeypatch.setattr(exact, "FILL_LIMIT", 1.0)
    sparse = solve_exact(journey)
    assert "(sparse LU)" in sparse.method and "(dense inverse)" in dense.method
    for key in ("conversion_rate", "expected_value", "expected_touches", "referrals"):
        assert getattr(sparse, key) == pytest.approx(getattr(dense, key), rel=1e-10)
    assert dict(sparse.removal_effects) == pytest.approx(dict(dense.removal_effects), abs=1e-10)
    assert dict(sparse.visit_rate) == pytest.approx(dict(dense.visit_rate), abs=1e-10)


def _forward_map(n, rng):
    """Journeys that run mostly forward (a few steps back): their LU stays sparse."""
    rows = {}
    for i in range(n):
        targets = {min(n - 1, i + 1 + int(k)) for k in rng.integers(0, 8, size=3)} - {i}
        if i > 10 and rng.random() < 0.2:
            targets.add(int(i - rng.integers(1, 10)))
        p = rng.dirichlet(np.ones(len(targets) + 1))[:len(targets)] * 0.9
        rows[f"t{i}"] = {f"t{j}": float(q) for j, q in zip(sorted(targets), p)}
    return Journey.from_rows({"t0": 1.0}, rows, goals=[f"t{i}" for i in range(n - n // 10, n)])


def _random_map(n, rng):
    """Five edges a row to anywhere: the LU of such a map fills in."""
    rows = {}
    for i in range(n):
        targets = rng.choice(np.delete(np.arange(n), i), size=5, replace=False)
        p = rng.dirichlet(np.ones(6))[:5] * 0.9
        rows[f"t{i}"] = {f"t{j}": float(q) for j, q in zip(targets, p)}
    return Journey.from_rows({"t0": 0.5, "t1": 0.5}, rows, goals=[f"t{i}" for i in range(n - n // 10, n)])


@pytest.mark.parametrize("kind", ["forward", "random"])
def test_a_large_map_whose_lu_fills_in_is_inverted_densely(monkeypatch, kind):
    rng = np.random.default_rng(5)
    journey = (_forward_map if kind == "forward" else _random_map)(600, rng)
    dense = solve_exact(journey)
    monkeypatch.setattr(exact, "DENSE_LIMIT", 300)       # as a map past the limit is solved
    large = solve_exact(journey)
    if kind == "forward":
        assert "(sparse LU)" in large.method
    else:
        fill = float(re.search(r"filled in to (\d+)%", large.method).group(1))
        assert fill > 100 * exact.FILL_LIMIT and "dense inverse: its sparse LU" in large.method
    assert large.conversion_rate == pytest.approx(dense.conversion_rate, rel=1e-10)
    assert dict(large.visit_rate) == pytest.approx(dict(dense.visit_rate), abs=1e-10)
    assert dict(large.removal_effects) == pytest.approx(dict(dense.removal_effects), abs=1e-10)
    assert dict(large.stage_reach) == pytest.approx(dict(dense.stage_reach), abs=1e-10)
    monkeypatch.setattr(exact, "DENSE_MAX", 500)         # past the most it inverts densely: sparse, filled or not
    assert "(sparse LU)" in solve_exact(journey, removal_effects=False).method


def test_online_store_reference_values():
    # The bundled example, solved independently: regulars and bargain hunters by hand-built matrices.
    j = load_journey(__import__("pathlib").Path(BUNDLED_MAPS[0]).parent / "online-store.yaml")
    total = 0.0
    for _, share, seg in j.segment_journeys():
        names = seg.names
        Q = np.zeros((len(names), len(names)))
        for a, row in seg.rows.items():
            for b, e in row.items():
                Q[names.index(a), names.index(b)] = e.p
        g = np.array([seg.touchpoints[n].goal for n in names])
        Qa = Q.copy()
        Qa[g] = 0.0
        x = np.linalg.solve(np.eye(len(names)) - Qa, g.astype(float))
        a = np.array([seg.entry.get(n, 0.0) for n in names])
        total += share * a @ x
    assert solve_exact(j).conversion_rate == pytest.approx(total, rel=1e-12)
    assert math.isclose(total, 0.04838, rel_tol=1e-3)
