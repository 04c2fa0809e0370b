"""Predicting the metrics past the first purchase: per-seed value, loyalty, discounting, refers changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from journeysim.engines.exact import segment_metrics, solve_exact
from journeysim.errors import ScenarioError
from journeysim.maps.read import load_journey
from journeysim.whatif.hypothesis import load_hypothesis
from journeysim.whatif.prediction import predict

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "scenarios" / "online-store.yaml"


def hypothesis_file(tmp_path: Path, changes, metric, baseline=STORE) -> Path:
    path = tmp_path / "h.yaml"
    # the baseline is copied beside the hypothesis: files a hypothesis names stay inside its project
    (tmp_path / baseline.name).write_bytes(baseline.read_bytes())
    path.write_text(yaml.safe_dump({"hypothesis": "t", "baseline": baseline.name, "metric": metric,
                                    "changes": changes}, allow_unicode=True), encoding="utf-8")
    return path


def test_the_referral_programme_predicts_the_closed_form_lift():
    h = load_hypothesis(ROOT / "scenarios" / "hypotheses" / "referral-programme.yaml")
    p = predict(h, draws=501, rng=np.random.default_rng(5))
    store = load_journey(STORE)
    base = solve_exact(store)
    V0, v0 = base.expected_value, base.referrals / 0.8            # value and visits of 'recommend' per new customer
    friend = solve_exact(store.replace(entry={"product page": 1.0}))   # a referred friend starts at the product page
    V1, v1 = friend.expected_value, friend.referrals / 0.8
    # Baseline: friends come in as new customers (one type): V0 / (1 - K). Variant: friends are a type of their
    # own, each worth V1 and bringing v1 k friends more: V0 + v0 k V1 / (1 - v1 k).
    k = float(np.median(p.parameters["changes[0].touchpoint.refers.k"]))
    before = V0 / (1 - 0.8 * v0)
    after = V0 + v0 * k * V1 / (1 - v1 * k)
    assert p.baseline == pytest.approx(before, rel=1e-12)
    assert p.lift_abs == pytest.approx(after - before, rel=1e-9) and p.lift_abs > 0
    assert p.prob_positive == 1.0 and "branching process" in p.method
    # Friends change no new customer's reach of a stage: exactly no lift, not the rounding of two solves.
    assert all(row["lift_abs"] == 0.0 and row["prob_positive"] == 0.0 for row in p.by_stage.values())
    # The lift of conversion_rate stays exactly zero: the first purchase is untouched.
    assert predict(h.__class__(**{**h.__dict__, "metric": "conversion_rate"}), draws=5,
                   rng=np.random.default_rng(5)).lift_abs == 0.0


@pytest.mark.parametrize("metric", ["value_per_seed_customer", "conversions_per_seed_customer", "customers_per_seed",
                                    "repeat_rate", "bounce_rate", "expected_touches", "referrals",
                                    "expected_time_to_conversion"])
def test_every_scalar_metric_can_be_predicted(tmp_path, metric):
    changes = [{"touchpoint": {"name": "recommend", "refers": 2.0}}, {"set": {"from": "purchase", "to": "newsletter",
                                                                              "p": [0.5, 0.7]}}]
    h = load_hypothesis(hypothesis_file(tmp_path, changes, metric))
    p = predict(h, draws=9, rng=np.random.default_rng(1))
    draws = p.parameters["changes[1].set.p"]
    for k in (0, 4, 8):
        variant = h.variant({"changes[1].set.p": float(draws[k])})
        total, parts = segment_metrics(variant)
        assert p.samples["variant"][k] == pytest.approx(getattr(solve_exact(variant), metric), rel=1e-12)
        assert total[metric] == pytest.approx(p.samples["variant"][k], rel=1e-12)
    assert set(p.by_segment) == {"bargain hunters", "regulars"}


def test_a_segment_breakdown_of_per_seed_value_adds_up(tmp_path):
    h = load_hypothesis(hypothesis_file(tmp_path, [{"touchpoint": {"name": "recommend", "refers": 2.0}}],
                                        "value_per_seed_customer"))
    p = predict(h, draws=1, rng=np.random.default_rng(1))
    shares = {n: s.share for n, s in h.baseline.segments.items()}
    assert sum(shares[n] * row["variant"] for n, row in p.by_segment.items()) == pytest.approx(p.variant, rel=1e-12)


def test_discounted_metrics_need_a_discount(tmp_path):
    with pytest.raises(ScenarioError, match="metric 'discounted_value' needs a discount in the baseline map"):
        load_hypothesis(hypothesis_file(tmp_path, [{"touchpoint": {"name": "purchase", "value": 45}}],
                                        "discounted_value"))
    store = yaml.safe_load(STORE.read_text(encoding="utf-8"))
    store["discount"] = {"rate": 0.1, "per": "year"}
    baseline = tmp_path / "store.yaml"
    baseline.write_text(yaml.safe_dump(store, allow_unicode=True), encoding="utf-8")
    h = load_hypothesis(hypothesis_file(tmp_path, [{"touchpoint": {"name": "purchase", "value": 45}}],
                                        "discounted_value_per_seed_customer", baseline))
    p = predict(h, draws=1, rng=np.random.default_rng(1))
    assert p.lift_rel == pytest.approx(45 / 40 - 1, rel=1e-12)     # every value scales: so does its present worth


def test_unbounded_per_seed_value_is_one_clear_error(tmp_path):
    h = load_hypothesis(hypothesis_file(tmp_path, [{"touchpoint": {"name": "recommend", "refers": 1000}}],
                                        "value_per_seed_customer"))
    with pytest.raises(ScenarioError, match="value_per_seed_customer is undefined in draw 0"):
        predict(h, draws=3, rng=np.random.default_rng(1))


def test_changes_set_refers_in_both_forms_and_check_the_route(tmp_path):
    h = load_hypothesis(hypothesis_file(tmp_path, [{"touchpoint": {"name": "recommend", "refers": {
        "k": 1.0, "entry": {"product page": 1.0}, "segment": "regulars"}}}], "value_per_seed_customer"))
    tp = h.variant().touchpoints["recommend"]
    assert (tp.refers, dict(tp.refer_entry), tp.refer_segment) == (1.0, {"product page": 1.0}, "regulars")
    with pytest.raises(ScenarioError, match=r"change 0 \(touchpoint\): refers: segment: unknown segment 'regular' "
                                            r"\(did you mean 'regulars'\?\)"):
        load_hypothesis(hypothesis_file(tmp_path, [{"touchpoint": {"name": "recommend", "refers": {
            "k": 1.0, "segment": "regular"}}}], "value_per_seed_customer"))
    with pytest.raises(ScenarioError, match=r"refers: entry: unknown touchpoint 'product pag'"):
        load_hypothesis(hypothesis_file(tmp_path, [{"touchpoint": {"name": "recommend", "refers": {
            "k": 1.0, "entry": {"product pag": 1.0}}}}], "value_per_seed_customer"))


def test_montecarlo_predicts_per_seed_value_on_the_whole_journey(tmp_path):
    h = load_hypothesis(hypothesis_file(tmp_path, [{"touchpoint": {"name": "recommend", "refers": 3.0}}],
                                        "conversions_per_seed_customer"))
    exact = predict(h, draws=1, rng=np.random.default_rng(0))
    mc = predict(h, engine="montecarlo", draws=10, size=10000, rng=np.random.default_rng(4))
    assert mc.by_segment == {}          # referred customers join any segment: no breakdown
    x = np.array(mc.samples["variant"])
    assert abs(x.mean() - exact.variant) < 4.5 * x.std(ddof=1) / np.sqrt(len(x))
