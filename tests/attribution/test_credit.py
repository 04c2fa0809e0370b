"""Attribution models on hand-computed examples, against the exact engine, and their invariants."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeysim import Journey, solve_exact
from journeysim.attribution.credit import MODELS, attribute_file, attribute_paths
from journeysim.attribution.markov import markov_journey, removal_effects
from journeysim.errors import DataError
from journeysim.logs.paths import PathTable

# Three paths: a>b>c converts 10 times (value 100), b converts 2 times (value 20) and fails 5, c>a fails 3.
TABLE = PathTable.from_paths([["a", "b", "c"], ["b"], ["c", "a"]], [10, 2, 0], [0, 5, 3], [100, 20, 0])


def credit(model, table=TABLE, **kw):
    r = attribute_paths(table, [model], **kw)
    return {tp: c for tp, (c, _) in r.models[model].items()}, {tp: v for tp, (_, v) in r.models[model].items()}


@pytest.mark.parametrize("model, conversions", [
    ("first", {"a": 10, "b": 2, "c": 0}),
    ("last", {"a": 0, "b": 2, "c": 10}),
    ("linear", {"a": 10 / 3, "b": 10 / 3 + 2, "c": 10 / 3}),
    ("position", {"a": 4, "b": 2 + 2, "c": 4}),
    ("time-decay", {"a": 10 / 7, "b": 20 / 7 + 2, "c": 40 / 7}),
])
def test_rule_based_models_by_hand(model, conversions):
    conv, value = credit(model)
    assert conv == pytest.approx(conversions, rel=1e-12)
    assert value == pytest.approx({k: 10 * v for k, v in conversions.items()}, rel=1e-12)


def test_time_decay_half_life_and_position_for_two_touches():
    conv, _ = credit("time-decay", half_life=2.0)       # a>b>c weights 1/2, 1/sqrt2, 1 (normalised)
    w = np.array([0.5, 2 ** -0.5, 1.0])
    assert conv["a"] == pytest.approx(10 * w[0] / w.sum())
    two = PathTable.from_paths([["x", "y"]], [4], [0])
    assert credit("position", two)[0] == {"x": 2.0, "y": 2.0}


def test_shapley_rate_three_channels_by_hand():
    # Conversion rates of the journeys using only the channels of S:
    # v(a)=0.1 (a: 10/100), v(b)=0.2, v(c)=0, v(ab)=(10+20+30)/300=0.2, v(ac)=(10+0)/200=0.05,
    # v(bc)=(20+0)/200=0.1, v(abc)=(10+20+0+30+40)/500=0.2.
    t = PathTable.from_paths([["a"], ["b"], ["c"], ["a", "b"], ["a", "b", "c"]], [10, 20, 0, 30, 40], [90, 80, 100, 70, 60])
    v = {"": 0, "a": 0.1, "b": 0.2, "c": 0.0, "ab": 0.2, "ac": 0.05, "bc": 0.1, "abc": 0.2}

    def phi(i):
        others = [x for x in "abc" if x != i]
        singles = sum(v["".join(sorted(o + i))] - v[o] for o in others)
        return (v[i] + singles / 2 + (v["abc"] - v["".join(others)])) / 3

    conv, _ = credit("shapley-rate", t)
    assert conv == pytest.approx({i: 500 * phi(i) for i in "abc"}, rel=1e-12)
    assert sum(conv.values()) == pytest.approx(100)


def test_markov_removal_effects_equal_the_exact_engine_on_the_hand_counted_chain():
    # Departures counted by hand from the paths below:
    # a: 670 (b 300, c 150, exit 220); b: 760 (conversion 410, a 70, exit 280); c: 150 (b 60, exit 90).
    hand = Journey.from_rows(
        {"a": 0.6, "b": 0.4},
        {"a": {"b": 300 / 670, "c": 150 / 670}, "b": {"conversion": 410 / 760, "a": 70 / 760},
         "c": {"b": 60 / 150}},
        goals=["conversion"])
    table = _chain_counts_table()
    fitted, _ = markov_journey(table)
    for a, row in hand.rows.items():
        assert {b: e.p for b, e in fitted.rows[a].items()} == pytest.approx({b: e.p for b, e in row.items()})
    exact = solve_exact(hand).removal_effects
    assert dict(removal_effects(table).conversions) == pytest.approx({k: exact[k] for k in "abc"}, rel=1e-12)
    # By hand: x_b = 41/76 + 7/76 x_a, x_a = 30/67 x_b + 15/67 x_c, x_c = 2/5 x_b; CR = .6 x_a + .4 x_b;
    # without a, CR' = .4 * 41/76.
    xb = Fraction(41, 76) / (1 - Fraction(7, 76) * (Fraction(30, 67) + Fraction(15, 67) * Fraction(2, 5)))
    xa = (Fraction(30, 67) + Fraction(15, 67) * Fraction(2, 5)) * xb
    cr = Fraction(3, 5) * xa + Fraction(2, 5) * xb
    assert removal_effects(table).conversions["a"] == pytest.approx(float(1 - Fraction(2, 5) * Fraction(41, 76) / cr), rel=1e-12)


def _chain_counts_table() -> PathTable:
    # Journeys (entry a 6, b 4 per 10) realising the rows above with integer counts (x 1000 / 10):
    rows = [
        (["a"], 0, 150),                 # a -> exit
        (["a", "b"], 150, 0),            # a -> b -> conversion
        (["a", "b"], 0, 120),            # a -> b -> exit
        (["a", "b", "a"], 0, 30),        # a -> b -> a -> exit
        (["a", "c"], 0, 90),             # a -> c -> exit
        (["a", "c", "b"], 60, 0),        # a -> c -> b -> conversion
        (["b"], 200, 0),                 # b -> conversion
        (["b"], 0, 160),                 # b -> exit
        (["b", "a"], 0, 40),             # b -> a -> exit
    ]
    return PathTable.from_paths([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


def test_markov_attribution_shares_conversions_by_removal_effects():
    t = _chain_counts_table()
    fitted, _ = markov_journey(t)
    effects = solve_exact(fitted).removal_effects
    r = attribute_paths(t, ["markov"])
    total = sum(effects[c] for c in t.channels)
    for c in t.channels:
        assert r.removal_effects[c] == pytest.approx(effects[c], rel=1e-12)
        assert r.models["markov"][c][0] == pytest.approx(effects[c] / total * t.conversions.sum(), rel=1e-12)


def test_higher_order_sees_what_first_order_mixes():
    # b converts after a, never after c: order 2 credits a fully and c not at all.
    t = PathTable.from_paths([["a", "b"], ["c", "b"]], [5, 0], [0, 5])
    assert dict(removal_effects(t, 1).conversions) == pytest.approx({"a": 0.5, "b": 1.0, "c": 0.5})
    assert dict(removal_effects(t, 2).conversions) == pytest.approx({"a": 1.0, "b": 1.0, "c": 0.0})
    assert removal_effects(t, 3) == removal_effects(t, 2)


def test_bootstrap_intervals_are_reproducible_and_cover_the_estimate():
    a = attribute_paths(TABLE, MODELS, bootstrap=60, rng=np.random.default_rng(5))
    b = attribute_paths(TABLE, MODELS, bootstrap=60, rng=np.random.default_rng(5))
    c = attribute_paths(TABLE, MODELS, bootstrap=60, rng=np.random.default_rng(6))
    assert a.to_dict() == b.to_dict() and a.to_dict() != c.to_dict()
    (lo, hi), _ = a.intervals["first"]["a"]
    assert lo < a.models["first"]["a"][0] < hi
    assert a.removal_intervals["b"][0] <= a.removal_effects["b"] <= a.removal_intervals["b"][1]


@st.composite
def path_tables(draw):
    k = draw(st.integers(1, 5))
    names = [f"ch{i}" for i in range(k)]
    paths = draw(st.lists(st.lists(st.sampled_from(names), min_size=1, max_size=5), min_size=1, max_size=8))
    conv = draw(st.lists(st.integers(0, 20), min_size=len(paths), max_size=len(paths)))
    null = draw(st.lists(st.integers(0, 20), min_size=len(paths), max_size=len(paths)))
    value = [c * draw(st.floats(0, 50)) for c in conv]
    return PathTable.from_paths(paths, conv, null, value)


@settings(max_examples=40, deadline=None)
@given(path_tables(), st.integers(1, 3))
def test_every_model_shares_out_exactly_the_conversions_and_value(table, order):
    r = attribute_paths(table, MODELS, order=order)
    total = table.conversions.sum()
    for model, credit_ in r.models.items():
        if model == "markov" and sum(r.removal_effects.values()) == 0:
            continue
        assert sum(c for c, _ in credit_.values()) == pytest.approx(total, abs=1e-9)
        assert sum(v for _, v in credit_.values()) == pytest.approx(table.value.sum(), abs=1e-6)
    assert all(0.0 <= x <= 1.0 for x in r.removal_effects.values())


def test_event_log_and_its_path_file_give_the_same_attribution(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("user_id,timestamp,touchpoint,value\n"
                   "1,2025-01-01,a,0\n1,2025-01-02,b,0\n1,2025-01-03,buy,10\n1,2025-01-04,b,0\n"
                   "2,2025-01-01,b,0\n3,2025-01-01,a,0\n3,2025-01-02,buy,30\n", encoding="utf-8")
    paths = tmp_path / "paths.csv"
    paths.write_text("path,total_conversions,total_null,total_conversion_value\n"
                     "a>b,1,0,10\nb,0,2,0\na,1,0,30\n", encoding="utf-8")
    from_log = attribute_file(log)
    goals = {"goals": ["buy"], "goals_by_default": True}
    assert from_log.to_dict() == {**attribute_file(paths).to_dict(), **goals}
    assert from_log.journeys == 4


def test_shapley_rate_refuses_more_than_fifteen_channels_unless_all_models_were_asked():
    t = PathTable.from_paths([[f"c{i}"] for i in range(16)], [1] * 16, [1] * 16)
    with pytest.raises(DataError, match="at most 15"):
        attribute_paths(t, ["shapley-rate"])
    r = attribute_paths(t, MODELS)
    assert "shapley-rate" not in r.models and any("shapley-rate" in n for n in r.notes)
    assert r.models["shapley"]["c3"] == (1.0, 0.0)     # the count-based value has no such limit


def _brute_force_shapley(paths, conversions):
    """Shapley values by their definition (every ordering's marginal contributions, weighted) of the game
    v(S) = conversions of the journeys whose touchpoints all lie in S (Zhao et al. 2018, eq. 3)."""
    from itertools import combinations
    from math import factorial

    players = sorted({c for p in paths for c in p})
    n = len(players)

    def v(coalition):
        return sum(x for p, x in zip(paths, conversions) if set(p) <= set(coalition))

    phi = {}
    for i in players:
        others = [p for p in players if p != i]
        phi[i] = sum(factorial(k) * factorial(n - k - 1) / factorial(n) * (v((*s, i)) - v(s))
                     for k in range(n) for s in combinations(others, k))
    return phi


def test_shapley_is_the_count_based_value_of_zhao_et_al_on_a_hand_built_example():
    # Three channels; by the simplified formula each path's conversions split equally among its distinct
    # channels: a = 10 + 30/2 + 40/3, b = 20 + 30/2 + 40/3, c = 0 + 40/3 (a journey on c alone converted none).
    paths = [["a"], ["b"], ["c"], ["a", "b", "a"], ["c", "a", "b"]]
    conversions = [10, 20, 0, 30, 40]
    t = PathTable.from_paths(paths, conversions, [90, 80, 100, 70, 60], [100, 200, 0, 300, 400])
    conv, value = credit("shapley", t)
    hand = {"a": 10 + 15 + 40 / 3, "b": 20 + 15 + 40 / 3, "c": 40 / 3}
    assert conv == pytest.approx(hand, rel=1e-12)
    assert conv == pytest.approx(_brute_force_shapley(paths, conversions), rel=1e-12)
    assert value == pytest.approx({"a": 100 + 150 + 400 / 3, "b": 200 + 150 + 400 / 3, "c": 400 / 3}, rel=1e-12)
    assert sum(conv.values()) == pytest.approx(100)


@settings(max_examples=40)
@given(st.lists(st.tuples(st.lists(st.sampled_from("abcde"), min_size=1, max_size=6),
                          st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=12))
def test_shapley_is_never_negative_and_adds_up_to_the_conversions(rows):
    paths = [p for p, _, _ in rows]
    conversions = [c for _, c, _ in rows]
    t = PathTable.from_paths(paths, conversions, [n for _, _, n in rows])
    conv, _ = credit("shapley", t)
    assert min(conv.values()) >= 0
    assert sum(conv.values()) == pytest.approx(sum(conversions))
    assert conv == pytest.approx(_brute_force_shapley(paths, conversions), abs=1e-9)
