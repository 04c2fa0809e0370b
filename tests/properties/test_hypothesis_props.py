"""Invariants of the change operations on random valid journeys."""

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from journeysim import EXIT, solve_exact
from journeysim.whatif.changes import RemoveTouchpoint, SetEdge, SetEntry, apply_changes

from .strategies import journeys


def outcomes(row) -> dict:
    out = {b: e.p for b, e in row.items()}
    out[EXIT] = 1 - math.fsum(out.values())
    return out


@given(journeys(max_touchpoints=7))
def test_remove_matches_the_exact_engines_removal_effect(j):
    m = solve_exact(j)
    for name, effect in m.removal_effects.items():
        without = solve_exact(RemoveTouchpoint(name).apply(j), removal_effects=False).conversion_rate
        assert without == pytest.approx(m.conversion_rate * (1 - effect), abs=1e-9)


@given(journeys(segments=True), st.data())
def test_set_keeps_rows_valid_and_proportions(j, data):
    source = data.draw(st.sampled_from(j.names))
    target = data.draw(st.sampled_from([*j.names, EXIT]))
    p = data.draw(st.floats(0.0, 1.0))
    stuck = target == EXIT and p < 1 - 1e-9 and any(
        source in rows and outcomes(rows[source]).get(EXIT, 0.0) > 1 - 1e-9 and len(rows[source]) == 0
        for rows in (j.rows, *(s.rows for s in j.segments.values())))
    if stuck:   # a row of exit alone has no outcome to take what lowering drop-off frees
        with pytest.raises(ValueError, match="no other outcome to take it"):
            apply_changes(j, [SetEdge(source, target, p)])
        return
    k = apply_changes(j, [SetEdge(source, target, p)])
    for rows_before, rows_after in [(j.rows, k.rows), *((j.segments[s].rows, k.segments[s].rows) for s in j.segments)]:
        if source not in rows_before:
            continue
        before, after = outcomes(rows_before[source]), outcomes(rows_after[source])
        assert after[target] == pytest.approx(p, abs=1e-12) and after[EXIT] >= -1e-9
        rest = 1 - before.get(target, 0.0)
        for b, q in before.items():
            if b != target and rest > 1e-9:
                assert after[b] == pytest.approx(q * (1 - p) / rest, abs=1e-9)


@given(journeys(segments=True), st.data())
def test_a_change_in_one_segment_leaves_the_others_alone(j, data):
    segment = data.draw(st.sampled_from(list(j.segments)))
    source = data.draw(st.sampled_from(j.names))
    target = data.draw(st.sampled_from(j.names))
    k = apply_changes(j, [SetEdge(source, target, data.draw(st.floats(0.0, 1.0)), segment=segment)])
    for name in j.segments:
        if name != segment:
            assert solve_exact(k.for_segment(name)) == solve_exact(j.for_segment(name))
    assert dict(k.rows) == dict(j.rows)


@given(journeys(), st.data())
def test_entry_shares_still_sum_to_one(j, data):
    assume(len(j.entry) >= 2)
    name = data.draw(st.sampled_from(list(j.entry)))
    k = SetEntry({name: data.draw(st.floats(0.0, 1.0))}).apply(j)
    assert math.fsum(k.entry.values()) == pytest.approx(1.0, abs=1e-12)
