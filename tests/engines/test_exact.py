"""The exact engine against values solved by hand."""

import math

import numpy as np
import pytest

from journeysim import Delay, Edge, Journey, Segment, load_journey, solve_exact
from journeysim.engines import exact

from tests.conftest import BUNDLED_MAPS


def loop_journey(**attrs):
    # ad -> page 0.5; page -> buy 0.4, back to ad 0.2. From ad: x = 0.5 (0.4 + 0.2 x) => x = 2/9.
    return Journey.from_rows({"ad": 1.0}, {"ad": {"page": 0.5}, "page": {"buy": 0.4, "ad": 0.2}},
                             goals=["buy"], **attrs)


def test_conversion_visits_and_touches_by_hand():
    m = solve_exact(loop_journey())
    assert m.conversion_rate == pytest.approx(2 / 9, abs=1e-12)
    # visits: ad = 1 / (1 - 0.5 * 0.2) = 10/9; page = 5/9; buy = 2/9
    assert m.expected_touches == pytest.approx(17 / 9, abs=1e-12)
    assert m.expected_conversions == pytest.approx(2 / 9, abs=1e-12)
    assert dict(m.visit_rate) == pytest.approx({"ad": 1.0, "page": 0.5, "buy": 2 / 9}, abs=1e-12)
    assert dict(m.removal_effects) == pytest.approx({"ad": 1.0, "page": 1.0}, abs=1e-12)
    assert m.engine == "exact"


def test_time_to_conversion_counts_loops_and_edge_delays():
    fixed = lambda mean: Delay("fixed", mean)  # noqa: E731
    j = loop_journey(touchpoint_attributes={"ad": {"delay": fixed(1.0)}, "page": {"delay": fixed(2.0)}})
    # T = 3 (1 + L), L ~ loops before buying, P(L = l | convert) = 0.1^l 0.9, E[L] = 1/9.
    assert solve_exact(j).expected_time_to_conversion == pytest.approx(10 / 3, abs=1e-12)
    rows = {"ad": {"page": 0.5}, "page": {"buy": Edge(0.4, Delay("fixed", 5.0)), "ad": 0.2}}
    j2 = Journey.from_rows({"ad": 1.0}, rows, goals=["buy"],
                           touchpoint_attributes={"ad": {"delay": fixed(1.0)}, "page": {"delay": fixed(2.0)}})
    # the edge's delay replaces page's on the way to buy: 3 L + 1 + 5
    assert solve_exact(j2).expected_time_to_conversion == pytest.approx(3 / 9 + 6, abs=1e-12)


def test_repeat_goal_visits_and_value():
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.3}, "buy": {"buy": 0.5}}, goals=["buy"],
                          touchpoint_attributes={"buy": {"value": 40.0}})
    m = solve_exact(j)
    assert m.conversion_rate == pytest.approx(0.3)
    assert m.expected_conversions == pytest.approx(0.6)  # 0.3 * 1 / (1 - 0.5)
    assert m.expected_value == pytest.approx(24.0)
    assert m.visit_rate["buy"] == pytest.approx(0.3)


def test_referrals_and_growth():
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.5}, "buy": {"fan": 0.5}}, goals=["buy"],
                          touchpoint_attributes={"fan": {"refers": 2.0}})
    m = solve_exact(j)
    assert m.referrals == pytest.approx(0.5)
    assert m.customers_per_seed == pytest.approx(2.0)
    viral = j.replace(touchpoints={**j.touchpoints, "fan": j.touchpoints["fan"].__class__("fan", refers=4.0)})
    m2 = solve_exact(viral)
    assert m2.referrals == pytest.approx(1.0) and m2.customers_per_seed is None
    assert "unbounded" in m2.summary()


def test_removal_effect_of_a_partial_path():
    # two routes to buy: via a (0.5 * 0.6) and via b (0.5 * 0.2); CR = 0.4
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"a": 0.5, "b": 0.5}, "a": {"buy": 0.6}, "b": {"buy": 0.2}},
                          goals=["buy"])
    m = solve_exact(j)
    assert m.conversion_rate == pytest.approx(0.4)
    assert m.removal_effects["a"] == pytest.approx(0.3 / 0.4)
    assert m.removal_effects["b"] == pytest.approx(0.1 / 0.4)
    assert m.removal_effects["ad"] == pytest.approx(1.0)
    assert "buy" not in m.removal_effects


def test_stage_reach():
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"a": 0.5, "b": 0.25}, "a": {"buy": 0.5}, "b": {"a": 0.5}},
                          goals=["buy"], touchpoint_attributes={"ad": {"stage": "know"}, "a": {"stage": "like"},
                                                               "b": {"stage": "like"}, "buy": {"stage": "buy"}},
                          stages=("know", "like", "buy"))
    m = solve_exact(j)
    assert dict(m.stage_reach) == pytest.approx({"know": 1.0, "like": 0.75, "buy": 0.5 * 0.5 + 0.25 * 0.5 * 0.5})


def test_segments_mix_by_share_and_weight_time_by_converters():
    base = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.2}}, goals=["buy"],
                             touchpoint_attributes={"ad": {"delay": Delay("fixed", 1.0)}})
    fast = {"ad": {"buy": Edge(0.6, Delay("fixed", 4.0))}}
    j = base.replace(segments={"slow": Segment("slow", 0.25), "keen": Segment("keen", 0.75, fast)})
    m = solve_exact(j)
    assert m.conversion_rate == pytest.approx(0.25 * 0.2 + 0.75 * 0.6)
    assert m.expected_time_to_conversion == pytest.approx((0.25 * 0.2 * 1 + 0.75 * 0.6 * 4) / 0.5)


def test_nobody_converts_gives_no_time():
    j = Journey.from_rows({"ad": 1.0}, {"ad": {"buy": 0.0}}, goals=["buy"])
    m = solve_exact(j)
    assert m.conversion_rate == 0.0 and m.expected_time_to_conversion is None
    assert m.removal_effects["ad"] == 0.0


@pytest.mark.parametrize("path", BUNDLED_MAPS, ids=lambda p: p.name)
def test_sparse_factorisation_agrees_with_dense(path, monkeypatch):
    journey = load_journey(path)
    dense = solve_exact(journey)
    monkeypatch.setattr(exact, "DENSE_LIMIT", 0)
    sparse = solve_exact(journey)
    for key in ("conversion_rate", "expected_value", "expected_touches", "referrals"):
        assert getattr(sparse, key) == pytest.approx(getattr(dense, key), rel=1e-10)
    assert dict(sparse.removal_effects) == pytest.approx(dict(dense.removal_effects), abs=1e-10)
    assert dict(sparse.visit_rate) == pytest.approx(dict(dense.visit_rate), abs=1e-10)


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
