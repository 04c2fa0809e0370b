"""Invariants of the exact engine on random valid journeys."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeysim import Edge, Journey, solve_exact

from .strategies import journeys


def remove(journey: Journey, name: str) -> Journey:
    """Remove a touchpoint the slow way: flows into it drop off, its entry share is lost."""
    rows = {a: {b: e for b, e in row.items() if b != name} for a, row in journey.rows.items() if a != name}
    entry = {a: s for a, s in journey.entry.items() if a != name}
    tps = {a: t for a, t in journey.touchpoints.items() if a != name}
    segments = {
        k: s.__class__(s.name, s.share, {a: {b: e for b, e in r.items() if b != name}
                                          for a, r in s.rows.items() if a != name},
                       None if s.entry is None else {a: v for a, v in s.entry.items() if a != name})
        for k, s in journey.segments.items()
    }
    return journey.replace(rows=rows, entry=entry, touchpoints=tps, segments=segments)


@given(journeys(segments=True, refers=True))
def test_metrics_are_valid_probabilities(j):
    m = solve_exact(j)
    assert 0.0 <= m.conversion_rate <= 1.0
    assert all(0.0 <= v <= 1.0 for v in m.visit_rate.values())
    assert all(0.0 <= v <= 1.0 for v in m.stage_reach.values())
    assert all(0.0 <= v <= 1.0 for v in m.removal_effects.values())
    assert m.expected_conversions >= m.conversion_rate - 1e-12
    assert m.expected_touches >= 1.0 - 1e-12
    for name, share in j.entry.items():  # the strategy's segments keep the map's entry
        assert m.visit_rate[name] >= share - 1e-12


@given(journeys(max_touchpoints=7))
def test_removal_effects_equal_removing_the_touchpoint(j):
    m = solve_exact(j)
    for name, effect in m.removal_effects.items():
        without = solve_exact(remove(j, name), removal_effects=False).conversion_rate
        expected = 1 - without / m.conversion_rate if m.conversion_rate > 0 else 0.0
        assert effect == pytest.approx(expected, abs=1e-9)


@given(journeys(max_touchpoints=7), st.data())
def test_visit_rate_is_the_hitting_probability(j, data):
    target = data.draw(st.sampled_from(j.names))
    # Make the target the only goal and absorbing: its conversion rate is its hitting probability.
    tps = {n: t.__class__(n, goal=(n == target)) for n, t in j.touchpoints.items()}
    rows = {a: r for a, r in j.rows.items() if a != target}
    hit = solve_exact(j.replace(touchpoints=tps, rows=rows), removal_effects=False).conversion_rate
    assert solve_exact(j).visit_rate[target] == pytest.approx(hit, abs=1e-9)


@given(journeys(segments=True))
def test_segment_mixing_is_the_share_weighted_average(j):
    m = solve_exact(j)
    parts = [(share, solve_exact(seg)) for _, share, seg in j.segment_journeys()]
    for key in ("conversion_rate", "expected_conversions", "expected_value", "expected_touches"):
        assert getattr(m, key) == pytest.approx(sum(s * getattr(p, key) for s, p in parts), rel=1e-9, abs=1e-12)
    for name in j.names:
        assert m.visit_rate[name] == pytest.approx(sum(s * p.visit_rate[name] for s, p in parts), abs=1e-9)


@given(journeys(), st.data())
def test_an_edge_to_a_goal_never_lowers_conversion(j, data):
    src = data.draw(st.sampled_from(j.names))
    goal = data.draw(st.sampled_from(j.goals))
    spare = j.exit_probability(src)
    extra = data.draw(st.floats(0.0, 1.0)) * spare
    row = dict(j.rows.get(src, {}))
    row[goal] = Edge(row[goal].p + extra if goal in row else extra)
    better = j.replace(rows={**j.rows, src: row})
    assert solve_exact(better).conversion_rate >= solve_exact(j).conversion_rate - 1e-12


@given(journeys(max_touchpoints=6))
def test_time_to_conversion_scales_with_the_delays(j):
    from journeysim import Delay

    tps = {n: t.__class__(n, goal=t.goal, delay=Delay("fixed", 1.0 + i)) for i, (n, t) in enumerate(j.touchpoints.items())}
    tps2 = {n: t.__class__(n, goal=t.goal, delay=Delay("fixed", 3 * (1.0 + i))) for i, (n, t) in enumerate(j.touchpoints.items())}
    a = solve_exact(j.replace(touchpoints=tps)).expected_time_to_conversion
    b = solve_exact(j.replace(touchpoints=tps2)).expected_time_to_conversion
    if a is None:
        assert b is None
    else:
        assert b == pytest.approx(3 * a, rel=1e-9)
        assert math.isfinite(a) and a >= 0
