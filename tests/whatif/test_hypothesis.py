"""Change operations against hand-computed rows, and hypothesis-file errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from journeysim.engines.exact import conversion_rate
from journeysim.errors import ScenarioError
from journeysim.journey import Delay, Edge, Journey, Segment
from journeysim.whatif.changes import (
    AddTouchpoint,
    ChangeError,
    RemoveTouchpoint,
    ScaleEdge,
    SetEdge,
    SetEntry,
    SetTouchpoint,
    apply_changes,
    set_outcome,
)
from journeysim.whatif.hypothesis import load_hypothesis

ROWS = {"ad": {"page": 0.5}, "post": {"page": 0.25}, "page": {"cart": 0.4, "ad": 0.1}, "cart": {"buy": 0.6, "page": 0.1}}


def shop(segments: bool = False) -> Journey:
    j = Journey.from_rows({"ad": 0.6, "post": 0.4}, ROWS, goals=["buy"], stages=(),
                          touchpoint_attributes={"buy": {"value": 40.0}})
    if segments:
        seg = {"A": Segment("A", 0.3, {"cart": {"buy": Edge(0.4), "page": Edge(0.2)}}), "B": Segment("B", 0.7)}
        j = j.replace(segments=seg)
    return j


def probs(row) -> dict:
    return {b: round(e.p, 10) for b, e in row.items()}


def exit_of(row) -> float:
    return round(1 - math.fsum(e.p for e in row.values()), 10)


def test_set_rescales_other_outcomes_exit_included():
    j = SetEdge("cart", "buy", 0.65).apply(shop(segments=True))
    # others scale by 0.35 / 0.4: page 0.1 -> 0.0875, exit 0.3 -> 0.2625
    assert probs(j.rows["cart"]) == {"buy": 0.65, "page": 0.0875}
    assert exit_of(j.rows["cart"]) == 0.2625
    # a change without segment applies to the segment's own row too: factor 0.35 / 0.6
    a = j.segments["A"].rows["cart"]
    assert probs(a) == {"buy": 0.65, "page": round(0.2 * 0.35 / 0.6, 10)}
    assert exit_of(a) == round(0.4 * 0.35 / 0.6, 10)


def test_set_exit_and_set_in_one_segment_only():
    j = SetEdge("cart", "exit", 0.1).apply(shop())
    assert probs(j.rows["cart"]) == {"buy": round(0.6 * 0.9 / 0.7, 10), "page": round(0.1 * 0.9 / 0.7, 10)}
    k = SetEdge("cart", "buy", 0.5, segment="B").apply(shop(segments=True))
    assert probs(k.rows["cart"]) == {"buy": 0.6, "page": 0.1}            # base row untouched
    assert probs(k.segments["A"].rows["cart"]) == {"buy": 0.4, "page": 0.2}
    assert probs(k.segments["B"].rows["cart"]) == {"buy": 0.5, "page": 0.125}   # factor 0.5 / 0.4


def test_set_balanced_by_exit_keeps_the_other_outcomes():
    j = SetEdge("cart", "buy", 0.7, balance="exit").apply(shop(segments=True))
    assert probs(j.rows["cart"]) == {"buy": 0.7, "page": 0.1} and exit_of(j.rows["cart"]) == 0.2
    assert probs(j.segments["A"].rows["cart"]) == {"buy": 0.7, "page": 0.2}   # segment copy: same rule
    new = SetEdge("cart", "ad", 0.05, balance="exit").apply(shop())          # a new edge takes from exit
    assert probs(new.rows["cart"]) == {"buy": 0.6, "page": 0.1, "ad": 0.05}
    with pytest.raises(ChangeError, match=r"from 'cart': transitions sum to 1.05 \(must be at most 1"):
        SetEdge("cart", "buy", 0.95, balance="exit").apply(shop())
    with pytest.raises(ChangeError, match="cannot be exit itself"):
        SetEdge("cart", "exit", 0.1, balance="exit").apply(shop())


def test_set_when_target_held_the_whole_row_frees_to_exit():
    row = set_outcome({"a": Edge(1.0)}, "a", 0.7, "x")
    assert probs(row) == {"a": 0.7}


def test_lowering_exit_needs_an_outcome_to_take_the_freed_share():
    # every customer leaves 'buy' (a goal with no edges): there is nothing to move them to
    with pytest.raises(ChangeError, match=r"from 'buy': edge to exit: lowering it from 1 to 0.4 frees 0.6, but the "
                                          r"row has no other outcome to take it \(add an edge first\)"):
        SetEdge("buy", "exit", 0.4).apply(shop())
    # edges that hold nothing take it in equal parts, as take_from does
    row = set_outcome({"a": Edge(0.0), "b": Edge(0.0)}, "exit", 0.4, "x")
    assert probs(row) == {"a": 0.3, "b": 0.3}


def test_scale_drop_off():
    j = ScaleEdge("cart", "exit", 0.8).apply(shop())
    assert exit_of(j.rows["cart"]) == 0.24
    assert probs(j.rows["cart"]) == {"buy": round(0.6 * 0.76 / 0.7, 10), "page": round(0.1 * 0.76 / 0.7, 10)}


def test_add_takes_share_of_every_outcome_and_has_its_own_row():
    j = AddTouchpoint("live chat", {"stage": "purchase", "channel": "chat", "delay": 0.1},
                      {"cart": 0.15}, {"buy": 0.5, "page": 0.1}).apply(shop())
    assert probs(j.rows["cart"]) == {"buy": 0.51, "page": 0.085, "live chat": 0.15}
    assert exit_of(j.rows["cart"]) == 0.255
    assert probs(j.rows["live chat"]) == {"buy": 0.5, "page": 0.1}
    tp = j.touchpoints["live chat"]
    assert (tp.stage, tp.channel, tp.delay) == ("purchase", "chat", Delay("exponential", 0.1))


def test_add_in_one_segment_feeds_only_that_segment():
    j = AddTouchpoint("chat", {}, {"cart": 0.2}, {"buy": 1.0}, segment="A").apply(shop(segments=True))
    assert "chat" not in j.rows["cart"]
    assert probs(j.segments["A"].rows["cart"]) == {"buy": 0.32, "page": 0.16, "chat": 0.2}
    assert "cart" not in j.segments["B"].rows


def test_remove_loses_entry_share_and_inflow():
    base = shop()
    # by hand: x_page = 0.24 / 0.91, x_ad = 0.5 x_page, x_post = 0.25 x_page
    assert conversion_rate(base) == pytest.approx(0.096 / 0.91, rel=1e-12)
    j = RemoveTouchpoint("post").apply(base)
    assert dict(j.entry) == {"ad": 0.6}                                   # not renormalised
    assert conversion_rate(j) == pytest.approx(0.072 / 0.91, rel=1e-12)
    k = RemoveTouchpoint("page").apply(base)
    assert "page" not in k.touchpoints and k.rows["ad"] == {} and probs(k.rows["cart"]) == {"buy": 0.6}
    assert conversion_rate(k) == 0.0


def test_remove_in_one_segment():
    j = RemoveTouchpoint("post", segment="A").apply(shop(segments=True))
    assert "post" in j.touchpoints and dict(j.segments["A"].entry) == {"ad": 0.6} and j.segments["B"].entry is None
    k = RemoveTouchpoint("page", segment="A").apply(shop(segments=True))
    a = k.segments["A"].rows
    assert (probs(a["ad"]), probs(a["post"]), probs(a["cart"])) == ({}, {}, {"buy": 0.4})   # inflow drops off
    assert probs(k.rows["ad"]) == {"page": 0.5} and "ad" not in k.segments["B"].rows


def test_entry_rescales_unlisted_shares():
    j = Journey.from_rows({"ad": 0.5, "post": 0.3, "mail": 0.2}, {}, goals=["ad"])
    assert {k: round(v, 10) for k, v in SetEntry({"ad": 0.7}).apply(j).entry.items()} == \
        {"ad": 0.7, "post": 0.18, "mail": 0.12}
    assert dict(SetEntry({"ad": 0.2, "post": 0.3, "mail": 0.5}).apply(j).entry) == {"ad": 0.2, "post": 0.3, "mail": 0.5}
    with pytest.raises(ScenarioError, match="must sum to 1"):
        apply_changes(j, [SetEntry({"ad": 0.2, "post": 0.3, "mail": 0.4})], "h.yaml")


def test_touchpoint_attributes():
    j = SetTouchpoint("cart", {"delay": 0.2}).apply(shop())
    assert j.touchpoints["cart"].delay == Delay("exponential", 0.2)
    k = SetTouchpoint("buy", {"value": 45, "refers": 0.5}).apply(shop())
    assert (k.touchpoints["buy"].value, k.touchpoints["buy"].refers, k.touchpoints["buy"].goal) == (45.0, 0.5, True)
    # A service time needs servers: given with them (or where they are), refused without.
    served = SetTouchpoint("cart", {"capacity": 2, "service": {"dist": "fixed", "mean": 0.1}}).apply(shop())
    assert served.touchpoints["cart"].service == Delay("fixed", 0.1)
    assert SetTouchpoint("cart", {"service": 0.3}).apply(served).touchpoints["cart"].service == Delay("exponential", 0.3)
    with pytest.raises(ChangeError, match="service: needs 'capacity'"):
        SetTouchpoint("cart", {"service": 0.3}).apply(shop())


def test_changes_are_pure():
    base = shop(segments=True)
    before = (dict(base.rows), dict(base.entry), dict(base.segments))
    apply_changes(base, [SetEdge("cart", "buy", 0.9), RemoveTouchpoint("post"), SetEntry({"ad": 1.0})])
    assert (dict(base.rows), dict(base.entry), dict(base.segments)) == before


rows = st.lists(st.floats(0.0, 1.0), min_size=2, max_size=5).map(lambda xs: [x / max(1.0, sum(xs)) for x in xs])


@given(rows, st.floats(0.0, 1.0), st.integers(0, 4))
def test_set_keeps_row_a_distribution(ps, p, which):
    row = {f"t{i}": Edge(x) for i, x in enumerate(ps)}
    target = f"t{which % len(ps)}"
    out = set_outcome(row, target, p, "x")
    total = math.fsum(e.p for e in out.values())
    assert out[target].p == p and total <= 1 + 1e-9 and all(e.p >= 0 for e in out.values())
    old_rest = 1 - row[target].p
    if old_rest > 1e-9:   # every other outcome (exit too) keeps its proportion
        assert 1 - total == pytest.approx((1 - math.fsum(e.p for e in row.values())) * (1 - p) / old_rest, abs=1e-9)


# -- the file format and its errors ---------------------------------------------------------

MAP = {
    "name": "shop", "stages": ["a", "b"], "entry": {"ad": 0.6, "post": 0.4},
    "touchpoints": {"ad": {"stage": "a"}, "post": {"stage": "a"}, "page": {"stage": "b"}, "cart": {"stage": "b"},
                    "buy": {"stage": "b", "goal": True, "value": 40}},
    "transitions": ROWS,
    "segments": {"A": {"share": 0.3, "transitions": {"cart": {"buy": 0.4, "page": 0.2}}}, "B": {"share": 0.7}},
}


def write(tmp_path: Path, changes, **top) -> Path:
    (tmp_path / "shop.yaml").write_text(yaml.safe_dump(MAP), encoding="utf-8")
    path = tmp_path / "h.yaml"
    path.write_text(yaml.safe_dump({"hypothesis": "test", "baseline": "shop.yaml", "changes": changes, **top}),
                    encoding="utf-8")
    return path


def test_file_changes_and_paths(tmp_path):
    h = load_hypothesis(write(tmp_path, [
        {"add": "chat", "stage": "b", "from": {"cart": 0.15}, "to": {"buy": [0.4, 0.6]}},
        {"set": {"from": "cart", "to": "buy", "p": {"dist": "beta", "a": 6, "b": 4}}, "segment": "A"},
        {"touchpoint": {"name": "cart", "delay": {"dist": "lognormal", "mean": [0.1, 0.3], "sd": 0.1}}},
    ]))
    assert sorted(h.parameters) == ["changes[0].to.buy", "changes[1].set.p", "changes[2].touchpoint.delay.mean"]
    v = h.variant({"changes[0].to.buy": 0.45, "changes[1].set.p": 0.5, "changes[2].touchpoint.delay.mean": 0.2})
    assert probs(v.rows["chat"]) == {"buy": 0.45}
    assert v.segments["A"].rows["cart"]["buy"].p == 0.5
    assert v.touchpoints["cart"].delay == Delay("lognormal", 0.2, 0.1)


BAD = [
    ([{"set": {"from": "cart", "to": "byu", "p": 0.5}}], {}, "change 0 (set): unknown touchpoint 'byu' (did you mean 'buy'?)"),
    ([{"remove": "ad"}, {"set": {"from": "cart", "to": "buy", "p": 1.2}}], {}, "change 1 (set): from 'cart': edge to 'buy': probability 1.2 is outside [0, 1]"),
    ([{"add": "chat", "from": {"cart": 0.1}, "to": {"buy": [0.6, 0.4]}}], {}, "change 0 (add): to.buy: range [0.6, 0.4] has low > high"),
    ([{"add": "chat", "from": {"cart": 0.1}, "to": {"buy": [0.5, 1.2]}}], {}, "change 0 (add): to.buy: range [0.5, 1.2] puts a probability outside [0, 1]"),
    ([{"set": {"from": "cart", "to": "buy", "p": {"dist": "uniform", "low": -0.1, "high": 0.5}}}], {}, "change 0 (set): set.p: range [-0.1, 0.5] puts a probability outside [0, 1] (use a range inside [0, 1], a beta"),
    ([{"set": {"from": "cart", "to": "buy", "p": {"dist": "normal", "mean": 15, "sd": 3}}}], {}, "set.p: a normal (mean 15, sd 3) puts 100.0% of its mass outside [0, 1]"),
    ([{"set": {"from": "cart", "to": "buy", "p": {"dist": "dirichlet", "counts": {"buy": 3, "exit": 1}}}}], {}, "set.p: a dirichlet distribution is a whole row"),
    ([{"add": "chat", "to": {"dist": "dirichlet", "counts": {"buy": 3, "exit": 0}}}], {}, "change 0 (add): to: dirichlet distribution: count 0 of 'exit' must be > 0"),
    ([{"add": "chat", "to": {"dist": "dirichlet", "counts": {"byu": 3, "exit": 1}}}], {}, "change 0 (add): unknown touchpoint 'byu' (did you mean 'buy'?)"),
    ([{"add": "chat", "to": {"dist": "dirichlet", "counts": {"buy": 3}}}], {}, "needs 'counts': a mapping of at least two outcomes"),
    ([{"add": "chat", "from": {"cart": 0.1}, "to": {"buy": [0.5, 0.96], "page": 0.05}}], {}, "change 0 (add): the row of 'chat' sums to more than 1 in 2.17% of the joint draws of its uncertain outcomes (at most 1% may"),
    ([{"entry": {"ad": {"dist": "beta", "a": 6, "b": 4}, "page": [0.2, 0.4]}}], {}, "change 0 (entry): the entry row sums to more than 1 in"),
    ([{"add": "chat", "from": {"cart": {"p": 0.35, "take_from": "exit"}}, "to": {"buy": 0.5}}], {}, "change 0 (add): from 'cart': edge to 'chat': 0.35 is taken from exit, which holds only 0.3"),
    ([{"add": "chat", "from": {"cart": {"p": 0.1, "take_from": "exti"}}}], {}, "change 0 (add): from 'cart': take_from: unknown outcome 'exti' (did you mean 'exit'?)"),
    ([{"add": "chat", "from": {"cart": {"p": 0.1, "take_from": ["exit", "exit"]}}}], {}, "take_from names an outcome twice"),
    ([{"add": "chat", "from": {"cart": {"p": 0.1, "take_from": 3}}}], {}, "from 'cart': take_from must be 'all', 'exit', an outcome's name or a list"),
    ([{"add": "chat", "from": {"cart": {"share": 0.1}}}], {}, "from 'cart': a number, or a mapping with 'p' and optionally 'take_from'"),
    ([{"set": {"from": "cart", "to": "buy", "p": 0.5, "take_from": "buy"}}], {}, "change 0 (set): take_from: 'buy' is the outcome being set"),
    ([{"set": {"from": "cart", "to": "buy", "p": 0.95, "take_from": "exit"}}], {}, "change 0 (set): from 'cart': edge to 'buy': raising it from 0.6 to 0.95 takes 0.35 from exit, which holds only 0.3"),
    ([{"scale": {"from": "cart", "to": "buy", "by": 2}}], {}, "change 0 (scale): from 'cart' (scaled by 2): edge to 'buy': probability 1.2 is outside [0, 1]"),
    ([{"add": "chat", "from": {"cart": 0.1}, "to": {"buy": [0.5, 0.7], "page": 0.4}}], {}, "the row of 'chat' sums to more than 1 in 50.00% of the joint draws"),
    ([{"add": "chat", "from": {"cart": 0.1}, "to": {"buy": [0.5, 0.7], "page": 0.6}}], {}, "'to' sums to 1.2 (must be at most 1)"),
    ([{"add": "chat", "to": {"buy": 0.5}}, {"scale": {"from": "chat", "to": "buy", "by": [1, 2.5]}}], {}, "probability 1.25 is outside [0, 1] (every uncertain number at the high end"),
    ([{"sett": {"from": "cart", "to": "buy", "p": 0.5}}], {}, "change 0: needs exactly one of add, set, scale"),
    ([{"set": {"from": "cart", "to": "buy", "p": 0.5}, "segment": "C"}], {}, "change 0 (set): unknown segment 'C'"),
    ([{"add": "cart"}], {}, "change 0 (add): touchpoint 'cart' already exists"),
    ([{"entry": {"ad": 0.8, "post": 0.3}}], {}, "change 0 (entry): entry shares sum to 1.1"),
    ([{"touchpoint": {"name": "cart", "delay": 1}, "segment": "A"}], {}, "'touchpoint' takes no segment"),
    ([{"touchpoint": {"name": "cart", "dleay": 1}}], {}, "unknown attribute 'dleay' (did you mean 'delay'?)"),
    ([{"touchpoint": {"name": "cart", "stage": "zz"}}], {}, "unknown stage 'zz'"),
    ([{"set": {"from": "cart", "to": "buy", "q": 0.5}}], {}, "change 0 (set): unknown key 'q'"),
    ([{"set": {"from": "cart", "to": "buy", "p": 0.5, "balance": "exits"}}], {},
     "change 0 (set): balance 'exits' (did you mean 'exit'?) is not one of proportional, exit"),
    ([{"set": {"from": "cart", "to": "buy", "p": [0.5, 0.99], "balance": "exit"}}], {},
     "transitions sum to 1.09 (must be at most 1; balance: exit takes the change from drop-off alone) (every "
     "uncertain number at the high end of its range)"),
    ([{"set": {"from": "cart", "to": "buy", "p": 0.5}}], {"metric": "revenue"}, "metric 'revenue' is not one of"),
    ([{"set": {"from": "cart", "to": "buy", "p": 0.5}}], {"baseline": None}, "'baseline' must name the map file"),
    ([{"set": {"from": "cart", "to": "buy", "p": 0.5}}], {"chnages": []}, "unknown key 'chnages' (did you mean 'changes'?)"),
    ([], {}, "'changes' must be a non-empty list"),
]


@pytest.mark.parametrize("changes, top, message", BAD, ids=[m[:40] for _, _, m in BAD])
def test_bad_hypotheses(tmp_path, changes, top, message):
    path = write(tmp_path, changes, **top)
    with pytest.raises(ScenarioError) as info:
        load_hypothesis(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text
