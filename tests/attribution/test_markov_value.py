"""Markov removal effects on conversion value, solved by hand, and how attribution shares value by them."""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeysim.attribution import markov
from journeysim.attribution.credit import attribute_paths
from journeysim.attribution.markov import removal_effects
from journeysim.logs.paths import PathTable

# a > b: 1 conversion worth 90, 1 drop-off; b: 1 conversion worth 20, 1 drop-off; a: 1 conversion worth 40.
# Chain: entry a 3/5, b 2/5; a -> b 2/3, a -> conversion 1/3; b -> conversion 1/2 (4 departures, 2 converting).
# A conversion from a is worth 40 (the mean of the conversions whose last touch is a), from b (90 + 20) / 2 = 55.
# Conversion rate 3/5 (2/3 + 1/5); value 3/5 (1/3 * 40 + 2/3 * 1/2 * 55) + 2/5 * 1/2 * 55 = 19 + 11 = 30.
# Without a: rate 1/5, value 11; without b: rate 3/5 * 1/3 = 1/5, value 3/5 * 40/3 = 8.
TWO = PathTable.from_paths([["a", "b"], ["b"], ["a"]], [1, 1, 1], [1, 1, 0], [90, 20, 40])


def test_value_removal_effects_by_hand():
    r = removal_effects(TWO)
    assert dict(r.conversions) == pytest.approx({"a": 2 / 3, "b": 2 / 3}, rel=1e-12)
    assert dict(r.value) == pytest.approx({"a": 1 - 11 / 30, "b": 1 - 8 / 30}, rel=1e-12)


def test_value_is_shared_by_the_value_removal_effects_and_conversions_by_the_conversion_ones():
    r = attribute_paths(TWO, ["markov"])
    # Conversion effects are equal (3 conversions split evenly); value effects are 19/30 and 22/30 of 150.
    assert r.models["markov"]["a"] == pytest.approx((1.5, 150 * 19 / 41), rel=1e-12)
    assert r.models["markov"]["b"] == pytest.approx((1.5, 150 * 22 / 41), rel=1e-12)
    assert dict(r.removal_effects_value) == pytest.approx({"a": 19 / 30, "b": 22 / 30}, rel=1e-12)
    d = r.to_dict()
    assert list(d)[:4] == ["models", "removal_effects", "removal_effects_value", "order"] and list(d)[-1] == "method"
    assert "on value" in r.summary() and "total_conversion_value" in r.method


def test_a_loop_by_hand():
    # a > b > a > b converts once (worth 100), b > a drops off once, a converts twice (worth 20 in all).
    # a: 5 departures: b 2 (path 1), conversion 2 (path 3), drop-off 1 (path 2); b: 3: a 2, conversion 1.
    # Entry: a 3/4, b 1/4. Conversions from a are worth 10, from b 100.
    t = PathTable.from_paths([["a", "b", "a", "b"], ["b", "a"], ["a"]], [1, 0, 2], [0, 1, 0], [100, 0, 20])
    pa = {"b": F(2, 5), "conv": F(2, 5)}
    pb = {"a": F(2, 3), "conv": F(1, 3)}
    # x_a = 2/5 + 2/5 x_b, x_b = 1/3 + 2/3 x_a  =>  x_a = (2/5 + 2/15) / (1 - 4/15) = 8/11.
    xa = (pa["conv"] + pa["b"] * pb["conv"]) / (1 - pa["b"] * pb["a"])
    xb = pb["conv"] + pb["a"] * xa
    # Values: v_a = 2/5 * 10 + 2/5 v_b, v_b = 1/3 * 100 + 2/3 v_a.
    va = (pa["conv"] * 10 + pa["b"] * pb["conv"] * 100) / (1 - pa["b"] * pb["a"])
    vb = pb["conv"] * 100 + pb["a"] * va
    cr, value = F(3, 4) * xa + F(1, 4) * xb, F(3, 4) * va + F(1, 4) * vb
    r = removal_effects(t)
    # Without a only b's own entry converts from b directly; without b only a's entry does.
    assert r.conversions["a"] == pytest.approx(float(1 - F(1, 4) * pb["conv"] / cr), rel=1e-12)
    assert r.conversions["b"] == pytest.approx(float(1 - F(3, 4) * pa["conv"] / cr), rel=1e-12)
    assert r.value["a"] == pytest.approx(float(1 - F(1, 4) * pb["conv"] * 100 / value), rel=1e-12)
    assert r.value["b"] == pytest.approx(float(1 - F(3, 4) * pa["conv"] * 10 / value), rel=1e-12)


def test_order_two_value_by_hand():
    # a > b: 2 conversions worth 100; c > b: 1 worth 10, 1 drop-off; b: 1 worth 30, 1 drop-off.
    # Order 2 keeps (a, b) and (c, b) apart: conversions from them are worth 50 and 10, from (b) 30.
    # Each of (a), (c), (b) enters 1/3: rate 1/3 (1 + 1/2 + 1/2) = 2/3, value 1/3 (50 + 5 + 15) = 70/3.
    t = PathTable.from_paths([["a", "b"], ["c", "b"], ["b"]], [2, 1, 1], [0, 1, 1], [100, 10, 30])
    r = removal_effects(t, 2)
    assert dict(r.conversions) == pytest.approx({"a": 1 / 2, "b": 1.0, "c": 1 / 4}, rel=1e-12)
    assert dict(r.value) == pytest.approx({"a": 5 / 7, "b": 1.0, "c": 1 / 14}, rel=1e-12)
    credit = attribute_paths(t, ["markov"], order=2).models["markov"]
    assert {k: v for k, (_, v) in credit.items()} == pytest.approx({"a": 56.0, "b": 78.4, "c": 5.6}, rel=1e-12)
    # Order 1 pools every conversion into b (worth 35 each): both effects are then the same.
    one = removal_effects(t, 1)
    assert dict(one.value) == pytest.approx(dict(one.conversions), rel=1e-12)
    assert one.conversions["a"] == pytest.approx(1 / 3, rel=1e-12)


@st.composite
def path_tables(draw, equal_values: bool = False):
    k = draw(st.integers(1, 5))
    names = [f"ch{i}" for i in range(k)]
    paths = draw(st.lists(st.lists(st.sampled_from(names), min_size=1, max_size=5), min_size=1, max_size=8))
    conv = draw(st.lists(st.integers(0, 20), min_size=len(paths), max_size=len(paths)))
    null = draw(st.lists(st.integers(0, 20), min_size=len(paths), max_size=len(paths)))
    each = draw(st.floats(0.5, 50))
    value = [c * (each if equal_values else draw(st.floats(0, 50))) for c in conv]
    return PathTable.from_paths(paths, conv, null, value)


@settings(max_examples=40, deadline=None)
@given(path_tables(equal_values=True), st.integers(1, 3))
def test_when_every_conversion_is_worth_the_same_both_effects_agree(table, order):
    r = removal_effects(table, order)
    assert dict(r.value) == pytest.approx(dict(r.conversions), abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(path_tables())
def test_the_one_inverse_solution_equals_one_solve_per_touchpoint(table):
    dense = removal_effects(table, 1)
    limit = markov._DENSE_LIMIT
    try:
        markov._DENSE_LIMIT = 0
        sparse = removal_effects(table, 1)
    finally:
        markov._DENSE_LIMIT = limit
    assert dict(sparse.conversions) == pytest.approx(dict(dense.conversions), abs=1e-9)
    assert dict(sparse.value) == pytest.approx(dict(dense.value), abs=1e-9)


def test_bootstrap_gives_intervals_for_both_effects():
    r = attribute_paths(TWO, ["markov"], bootstrap=50, rng=np.random.default_rng(3))
    d = r.to_dict()
    assert set(d["removal_effects_value_ci"]) == {"a", "b"}
    lo, hi = r.removal_value_intervals["b"]
    assert 0.0 <= lo <= hi <= 1.0
    assert "95% interval" in r.summary()
