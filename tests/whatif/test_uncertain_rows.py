"""Uncertain numbers in rows (drawn jointly, redrawn over 1, truncated, Dirichlet) and where a new share comes from."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from journeysim.errors import ScenarioError
from journeysim.journey import EXIT, Edge
from journeysim.whatif.changes import set_outcome
from journeysim.whatif.hypothesis import load_hypothesis
from journeysim.whatif.prediction import predict

# ad -> cart (0.5); cart -> purchase (0.4); demo -> purchase (0.5): no loops, so conversion is linear in every row.
MAP = {
    "name": "shop", "entry": {"ad": 1.0},
    "touchpoints": {"ad": {}, "cart": {}, "demo": {}, "purchase": {"goal": True}},
    "transitions": {"ad": {"cart": 0.5}, "cart": {"purchase": 0.4}, "demo": {"purchase": 0.5}},
}


def write(tmp_path: Path, *changes) -> Path:
    (tmp_path / "shop.yaml").write_text(yaml.safe_dump(MAP, sort_keys=False), encoding="utf-8")
    path = tmp_path / "h.yaml"
    path.write_text(yaml.safe_dump({"hypothesis": "chat", "baseline": "shop.yaml", "changes": list(changes)},
                                   sort_keys=False), encoding="utf-8")
    return path


def chat(to) -> dict:
    return {"add": "chat", "from": {"cart": 0.2}, "to": to}


def test_beta_in_a_row_with_other_outcomes_predicts_its_hand_computed_mean(tmp_path):
    # The example, refused before: a beta's high end is 1, and 1 + 0.05 > 1.
    h = load_hypothesis(write(tmp_path, chat({"purchase": {"dist": "beta", "a": 3, "b": 17}, "demo": 0.05})))
    assert h.rows[0].excess == pytest.approx(stats.beta(3, 17).sf(0.95), abs=1e-15)   # about 1e-19: nothing redrawn
    pred = predict(h, draws=4000, rng=np.random.default_rng(5))
    p = pred.parameters["changes[0].to.purchase"]
    # By hand: cart's row becomes purchase 0.32, chat 0.2 (x 0.8); conversion = 0.5 (0.32 + 0.2 (p + 0.05 x 0.5)).
    np.testing.assert_allclose(pred.samples["variant"], 0.1625 + 0.1 * p, rtol=0, atol=1e-12)
    assert pred.baseline == pytest.approx(0.2, abs=1e-12)
    # E[p] = 3 / 20, so the mean variant is 0.1625 + 0.015 = 0.1775; sd of p = sqrt(3 * 17 / (20^2 * 21)).
    se = 0.1 * math.sqrt(3 * 17 / (400 * 21)) / math.sqrt(4000)
    assert abs(pred.samples["variant"].mean() - 0.1775) / se < 4


def test_a_row_whose_draws_exceed_one_too_often_is_refused_with_its_fraction(tmp_path):
    path = write(tmp_path, chat({"purchase": [0.5, 0.96], "demo": 0.05}))
    with pytest.raises(ScenarioError) as info:
        load_hypothesis(path)
    # P(U[0.5, 0.96] > 0.95) = 0.01 / 0.46
    assert str(info.value) == (
        f"{path}: change 0 (add): the row of 'chat' sums to more than 1 in 2.17% of the joint draws of its uncertain "
        "outcomes (at most 1% may, and are redrawn): narrow their distributions or lower its other outcomes")


def test_several_uncertain_outcomes_are_checked_on_their_joint_draws(tmp_path):
    # P(U[0.5, 0.98] + U[0, 0.04] > 1): the triangle 0.02^2 / 2 over the rectangle 0.48 x 0.04 = 1.0417%.
    with pytest.raises(ScenarioError) as info:
        load_hypothesis(write(tmp_path, chat({"purchase": [0.5, 0.98], "exit": [0.0, 0.04]})))
    share = float(re.search(r"in ([\d.]+)% of the joint draws", str(info.value)).group(1))
    assert share == pytest.approx(0.0002 / 0.0192 * 100, abs=0.1)      # 1e5 draws: se 0.03 points


def test_draws_over_one_are_redrawn_and_the_method_says_how_often(tmp_path):
    # P(U[0.5, 0.954] > 0.95) = 0.004 / 0.454 = 0.88%: accepted; redrawn draws leave U[0.5, 0.95].
    h = load_hypothesis(write(tmp_path, chat({"purchase": [0.5, 0.954], "demo": 0.05})))
    assert h.rows[0].excess == pytest.approx(0.004 / 0.454, rel=1e-9)
    pred = predict(h, draws=4000, rng=np.random.default_rng(3))
    p = pred.parameters["changes[0].to.purchase"]
    assert p.max() <= 0.95 and p.min() >= 0.5
    assert abs(p.mean() - 0.725) / (0.45 / math.sqrt(12 * 4000)) < 4
    redrawn = int(re.search(r"redrawn, (\d+) of 4000", pred.method).group(1))
    assert "changes[0].to: joint draws summing over 1 (probability 0.88%) redrawn" in pred.method
    assert abs(redrawn - 4000 * 0.004 / 0.454) / math.sqrt(4000 * 0.0088) < 4


def test_a_whole_row_as_one_dirichlet(tmp_path):
    h = load_hypothesis(write(tmp_path, chat({"dist": "dirichlet", "counts": {"purchase": 3, "exit": 17}})))
    assert h.central == {"changes[0].to.purchase": 0.15, "changes[0].to.exit": 0.85}
    assert h.variant().rows["chat"] == {"purchase": Edge(0.15)}
    pred = predict(h, draws=3000, rng=np.random.default_rng(8))
    p, e = pred.parameters["changes[0].to.purchase"], pred.parameters["changes[0].to.exit"]
    np.testing.assert_allclose(p + e, 1.0, atol=1e-12)
    np.testing.assert_allclose(pred.samples["variant"], 0.5 * (0.32 + 0.2 * p), atol=1e-12)
    assert stats.kstest(p, stats.beta(3, 17).cdf).pvalue > 0.001
    assert "changes[0].to: the whole row drawn from Dirichlet(purchase 3, exit 17)" in pred.method


def test_a_normal_where_a_probability_goes_is_truncated_to_0_1(tmp_path):
    h = load_hypothesis(write(tmp_path, {"set": {"from": "cart", "to": "purchase",
                                                 "p": {"dist": "normal", "mean": 0.9, "sd": 0.1}}}))
    pred = predict(h, draws=4000, rng=np.random.default_rng(4))
    p = pred.parameters["changes[0].set.p"]
    assert 0 <= p.min() and p.max() <= 1
    # mean of N(0.9, 0.1) truncated to [0, 1]: 0.9 - 0.1 (phi(1) - phi(-9)) / (Phi(1) - Phi(-9))
    truth = 0.9 - 0.1 * (stats.norm.pdf(1) - stats.norm.pdf(-9)) / (stats.norm.cdf(1) - stats.norm.cdf(-9))
    assert abs(p.mean() - truth) / (p.std() / math.sqrt(4000)) < 4
    assert "changes[0].set.p: normal (mean 0.9, sd 0.1) truncated to [0, 1] (15.87% of its mass lay outside)" \
        in pred.method


def test_rows_without_uncertain_outcomes_keep_todays_draws(tmp_path):
    # The live-chat hypothesis's uncertain numbers sit in no shared row: the draws are exactly the scalar draws.
    h = load_hypothesis(write(tmp_path, chat({"purchase": [0.4, 0.6]})))
    values, redrawn = h.draw(50, rng=np.random.default_rng(1))
    assert redrawn == {"changes[0].to": 0}
    np.testing.assert_array_equal(values["changes[0].to.purchase"], np.random.default_rng(1).uniform(0.4, 0.6, 50))


# -- take_from: where a new share comes from ------------------------------------------------------------

SHOP = {
    "name": "shop", "entry": {"ad": 1.0},
    "touchpoints": {"ad": {}, "product page": {}, "cart": {}, "purchase": {"goal": True}},
    "transitions": {"ad": {"product page": 0.5}, "product page": {"cart": 0.3},
                    "cart": {"purchase": 0.6, "product page": 0.1}},
    "segments": {"A": {"share": 0.3, "transitions": {"cart": {"purchase": 0.4, "product page": 0.2}}},
                 "B": {"share": 0.7}},
}


def cart_row(tmp_path: Path, change: dict, segment: str | None = None) -> dict:
    (tmp_path / "shop.yaml").write_text(yaml.safe_dump(SHOP, sort_keys=False), encoding="utf-8")
    path = tmp_path / "h.yaml"
    path.write_text(yaml.safe_dump({"baseline": "shop.yaml", "changes": [change]}, sort_keys=False), encoding="utf-8")
    j = load_hypothesis(path).variant()
    row = j.rows["cart"] if segment is None else j.segments[segment].rows["cart"]
    out = {b: round(e.p, 12) for b, e in row.items()}
    out[EXIT] = round(1 - math.fsum(e.p for e in row.values()), 12)
    return out


@pytest.mark.parametrize("source, row", [
    # the table of docs/predict.md: cart's row purchase 0.6, product page 0.1, exit 0.3; 0.15 goes to the chat
    (0.15, {"purchase": 0.51, "product page": 0.085, "chat": 0.15, EXIT: 0.255}),            # x 0.85
    ({"p": 0.15, "take_from": "all"}, {"purchase": 0.51, "product page": 0.085, "chat": 0.15, EXIT: 0.255}),
    ({"p": 0.15, "take_from": "exit"}, {"purchase": 0.6, "product page": 0.1, "chat": 0.15, EXIT: 0.15}),
    # exit and product page hold 0.4 and give 0.15: each x 0.25 / 0.4
    ({"p": 0.15, "take_from": ["exit", "product page"]},
     {"purchase": 0.6, "product page": 0.0625, "chat": 0.15, EXIT: 0.1875}),
])
def test_each_take_from_gives_the_documented_row(tmp_path, source, row):
    assert cart_row(tmp_path, {"add": "chat", "from": {"cart": source}}) == row


def test_take_from_applies_to_each_segments_own_row(tmp_path):
    # segment A's cart: purchase 0.4, product page 0.2, exit 0.4
    got = cart_row(tmp_path, {"add": "chat", "from": {"cart": {"p": 0.15, "take_from": "exit"}}}, segment="A")
    assert got == {"purchase": 0.4, "product page": 0.2, "chat": 0.15, EXIT: 0.25}


def test_set_takes_from_and_gives_back_to_the_named_outcomes(tmp_path):
    up = cart_row(tmp_path, {"set": {"from": "cart", "to": "purchase", "p": 0.65, "take_from": "exit"}})
    assert up == {"purchase": 0.65, "product page": 0.1, EXIT: 0.25}
    # lowered: the freed 0.2 goes back to product page and exit in proportion (0.4 -> 0.6, x 1.5)
    down = cart_row(tmp_path, {"set": {"from": "cart", "to": "purchase", "p": 0.4,
                                       "take_from": ["product page", "exit"]}})
    assert down == {"purchase": 0.4, "product page": 0.15, EXIT: 0.45}


def test_take_from_exit_refused_when_a_posterior_draw_leaves_too_little(tmp_path):
    fitted = {**SHOP, "segments": {}, "observations": {"cart": 12, "ad": 100, "product page": 60}}
    (tmp_path / "shop.yaml").write_text(yaml.safe_dump(fitted, sort_keys=False), encoding="utf-8")
    path = tmp_path / "h.yaml"
    path.write_text(yaml.safe_dump({"baseline": "shop.yaml",
                                    "changes": [{"add": "chat", "from": {"cart": {"p": 0.28, "take_from": "exit"}}}]}),
                    encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"change 0 \(add\): from 'cart': edge to 'chat': 0.28 is taken from "
                                            r"exit, which holds only [\d.]+ \(in joint draw \d+ of 400: the "
                                            r"hypothesis's uncertain numbers and the map's observed rows drawn\)"):
        predict(path, draws=400, rng=np.random.default_rng(0))


outcomes = st.lists(st.floats(0, 1), min_size=4, max_size=4).filter(lambda x: sum(x) > 1e-3).map(
    lambda x: [v / sum(x) for v in x])


@given(outcomes, st.floats(0, 1), st.sampled_from([("exit",), ("b",), ("exit", "c"), ("b", "c", "exit")]))
def test_take_from_moves_only_the_named_outcomes_in_proportion(row, p, names):
    edges = {"a": Edge(row[0]), "b": Edge(row[1]), "c": Edge(row[2])}        # exit row[3]
    held = sum(dict(zip("abc", row), exit=row[3])[n] for n in names)
    if p - row[0] > held + 1e-9:
        with pytest.raises(ValueError, match="which hold"):
            set_outcome(edges, "a", p, "x", names)
        return
    out = set_outcome(edges, "a", p, "x", names)
    new = {**{b: e.p for b, e in out.items()}}
    new["exit"] = 1 - math.fsum(new.values())
    old = dict(zip("abc", row), exit=row[3])
    assert new["a"] == pytest.approx(p, abs=1e-12)
    for b in "bc":
        if b not in names:
            assert new[b] == old[b]                              # untouched
    assert math.fsum(new[n] for n in names) == pytest.approx(held - (p - row[0]), abs=1e-9)
    if held > 1e-6:
        for n in names:                                          # one common factor
            assert new[n] == pytest.approx(old[n] * (held - (p - row[0])) / held, abs=1e-9)
