"""Edits to a hypothesis: its variant is exactly the edited map, whatever the edits."""

from __future__ import annotations

import copy
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from journeysim.engines.exact import solve_exact
from journeysim.errors import JourneySimError, ScenarioError
from journeysim.maps.read import load_journey, read_journey
from journeysim.maps.write import dump_journey
from journeysim.studio.edits import draft_hypothesis
from journeysim.whatif.hypothesis import read_hypothesis

from tests.conftest import SCENARIOS
from tests.properties.strategies import journeys


def variant_of(base: dict, edited: dict, **options):
    draft = draft_hypothesis(base, edited, source="h.yaml", baseline_ref="m.yaml", title="t", **options)
    hyp = read_hypothesis(draft.data, "h.yaml", baseline=read_journey(base, "m.yaml"))
    return draft, hyp.variant()


def assert_same_numbers(got, want):
    a, b = solve_exact(got), solve_exact(want)
    for key in ("conversion_rate", "expected_value", "expected_touches", "expected_time_to_conversion"):
        if key == "expected_time_to_conversion" and min(a.conversion_rate, b.conversion_rate) < 1e-12:
            continue    # the time of conversions that (all but) never happen: an edge of 1e-309 is no edge
        x, y = getattr(a, key), getattr(b, key)
        assert (x is None and y is None) or math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12), key


@st.composite
def edited_maps(draw):
    """A random valid map in file form and a random set of hand edits to it (edges, entry, attributes, new and
    removed touchpoints)."""
    base = dump_journey(draw(journeys(max_touchpoints=6, with_delays=True)))
    edited = copy.deepcopy(base)
    names = list(edited["touchpoints"])
    rows = edited.setdefault("transitions", {})
    for a in draw(st.lists(st.sampled_from(names), max_size=4)):
        row = rows.setdefault(a, {})
        b = draw(st.sampled_from(names))
        free = 1 - sum((v["p"] if isinstance(v, dict) else v) for k, v in row.items() if k != b)
        p = draw(st.floats(0, max(free, 0.0)))
        if draw(st.booleans()) and b in row:
            del row[b]
        elif isinstance(row.get(b), dict):
            row[b]["p"] = p
        else:
            row[b] = p
    if draw(st.booleans()):
        goal = next(n for n, t in edited["touchpoints"].items() if (t or {}).get("goal"))
        edited["touchpoints"][goal] = {**(edited["touchpoints"][goal] or {}), "value": draw(st.floats(0, 500))}
    if draw(st.booleans()):
        edited["touchpoints"]["new one"] = {"delay": 1.5}
        rows["new one"] = {names[-1]: 0.5}
        src = names[0]
        free = 1 - sum((v["p"] if isinstance(v, dict) else v) for v in rows.get(src, {}).values())
        rows.setdefault(src, {})["new one"] = free / 2
    if len(edited["entry"]) > 1 and draw(st.booleans()):
        first = next(iter(edited["entry"]))
        share = draw(st.floats(0.05, 0.95))
        rest = sum(v for k, v in edited["entry"].items() if k != first)
        edited["entry"] = {k: share if k == first else v * (1 - share) / rest for k, v in edited["entry"].items()}
    return base, edited


@settings(max_examples=40)
@given(edited_maps())
def test_the_variant_is_the_edited_map(maps):
    base, edited = maps
    try:
        want = read_journey(edited, "m.yaml")
    except JourneySimError:
        assume(False)                       # an edit that broke the map: the studio refuses it before this point
    assume(edited != base)
    try:
        _, got = variant_of(base, edited)
    except ScenarioError as exc:
        assume("no edits" not in str(exc))  # edits that cancel out
        raise
    assert_same_numbers(got, want)


def online_store():
    return dump_journey(load_journey(SCENARIOS / "online-store.yaml"))


def test_a_segments_own_row_is_kept_when_the_shared_row_is_edited():
    base = online_store()
    edited = copy.deepcopy(base)
    edited["transitions"]["cart"]["purchase"] = 0.7
    draft, got = variant_of(base, edited)
    assert [c.get("segment") for c in draft.data["changes"]] == [None, "bargain hunters"]
    assert [n.label for n in draft.numbers] == ["cart → purchase"]           # the restore is not the user's edit
    assert got.segments["bargain hunters"].rows["cart"]["purchase"].p == 0.4
    assert_same_numbers(got, read_journey(edited))


def test_a_range_replaces_the_number_where_it_stands():
    base = online_store()
    edited = copy.deepcopy(base)
    edited["touchpoints"]["cart"]["delay"] = 0.2
    edited["entry"] = {"search ad": 0.7, "social post": 0.3}
    draft, _ = variant_of(base, edited, uncertain={("touchpoints", "cart", "delay"): [0.1, 0.3],
                                                   ("entry", "search ad"): [0.6, 0.8]})
    assert {"touchpoint": {"name": "cart", "delay": {"dist": "exponential", "mean": [0.1, 0.3]}}} in draft.data["changes"]
    assert {"entry": {"search ad": [0.6, 0.8]}} in draft.data["changes"]     # social post takes the rest
    with pytest.raises(ScenarioError, match="is not a number the edits changed"):
        variant_of(base, edited, uncertain={("transitions", "cart", "purchase"): [0.1, 0.3]})


def test_what_a_hypothesis_cannot_say_is_refused():
    base = online_store()
    edited = copy.deepcopy(base)
    edited["transitions"]["cart"]["purchase"] = {"p": 0.6, "delay": 3}
    with pytest.raises(ScenarioError, match="edge 'cart' -> 'purchase': its own delay"):
        variant_of(base, edited)
    edited = copy.deepcopy(base)
    edited["segments"]["bargain hunters"]["share"] = 0.4
    edited["segments"]["regulars"]["share"] = 0.6
    with pytest.raises(ScenarioError, match="segments or their shares"):
        variant_of(base, edited)
