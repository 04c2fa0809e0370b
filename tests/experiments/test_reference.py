"""Design and analysis against values computed independently (tests/experiments/reference/experiments.json)."""

import json
import math
from pathlib import Path

import pytest

from journeysim.experiments import Arm, ExperimentData, analyze_experiment
from journeysim.experiments.design import (
    design_experiment,
    detection_power,
    minimum_detectable_rate,
    sample_size,
)

REF = json.loads((Path(__file__).parent / "reference" / "experiments.json").read_text())
REL = 1e-6


def _analysis(x1, n1, x2, n2):
    data = ExperimentData("ref", "aggregated", {"control": Arm("control", n2, x2), "B": Arm("B", n1, x1)})
    return analyze_experiment(data).variants["B"]


@pytest.mark.parametrize("case", REF["sample_size"], ids=lambda c: c["call"])
def test_sample_size_matches_reference(case):
    a = case["args"]
    kw = dict(power=a["power"], alpha=a.get("alpha", 0.05), two_sided=a.get("two_sided", True),
              method=a.get("method", "normal"))
    assert sample_size(a["baseline"], a["variant"], **kw) == pytest.approx(case["n"], rel=REL)
    design = design_experiment(a["baseline"], a["variant"] - a["baseline"], **kw)
    assert design.n_per_arm == case["n_ceiling"]
    assert design.n_control == case["n_ceiling"] and design.n_total == 2 * case["n_ceiling"]
    if "published" in case:
        assert round(case["n"], 1) == case["published"]


@pytest.mark.parametrize("case", REF["power"], ids=lambda c: c["call"])
def test_power_matches_reference(case):
    a = case["args"]
    assert float(detection_power(a["baseline"], a["variant"], a["n"])) == pytest.approx(case["power"], rel=REL)


@pytest.mark.parametrize("case", REF["mde"], ids=lambda c: c["call"])
def test_minimum_detectable_rate_matches_r(case):
    a = case["args"]
    p2 = minimum_detectable_rate(a["baseline"], a["n"], power=a["power"])
    assert p2 == pytest.approx(case["p2"], abs=case["tolerance"])
    assert float(detection_power(a["baseline"], p2, a["n"])) == pytest.approx(a["power"], rel=1e-9)


@pytest.mark.parametrize("case", REF["ztest"], ids=lambda c: c["call"])
def test_ztest_pvalue_matches_prop_test(case):
    assert _analysis(*case["counts"]).pvalue == pytest.approx(case["pvalue"], rel=REL)


@pytest.mark.parametrize("case", REF["wilson"], ids=lambda c: c["call"])
def test_wilson_interval_matches_prop_test(case):
    x, n = case["counts"]
    other = (max(1, n // 2), n)
    data = ExperimentData("ref", "aggregated", {"control": Arm("control", n, x), "B": Arm("B", other[1], other[0])})
    low, high = analyze_experiment(data).variants["control"].rate_ci
    assert low == pytest.approx(case["ci"][0], rel=REL, abs=1e-12)
    assert high == pytest.approx(case["ci"][1], rel=REL, abs=1e-12)
    if "published" in case:
        assert [round(low, 4), round(high, 4)] == case["published"]


@pytest.mark.parametrize("case", REF["newcombe"], ids=lambda c: c["call"])
def test_newcombe_interval_matches_published(case):
    res = _analysis(*case["counts"])
    assert res.diff_ci[0] == pytest.approx(case["ci"][0], rel=REL, abs=1e-12)
    assert res.diff_ci[1] == pytest.approx(case["ci"][1], rel=REL, abs=1e-12)
    assert [round(v, 4) for v in res.diff_ci] == pytest.approx(case["published"], abs=1e-12)


@pytest.mark.parametrize("case", REF["log_ratio"], ids=lambda c: c["call"])
def test_log_ratio_interval_matches_closed_form(case):
    res = _analysis(*case["counts"])
    x1, n1, x2, n2 = case["counts"]
    assert res.lift_rel == pytest.approx((x1 / n1) / (x2 / n2) - 1, rel=1e-12)
    assert res.lift_rel_ci[0] + 1 == pytest.approx(case["ci"][0], rel=REL)
    assert res.lift_rel_ci[1] + 1 == pytest.approx(case["ci"][1], rel=REL)


def test_multi_arm_design_splits_alpha_and_counts_every_arm():
    two = design_experiment(0.05, 0.1, relative=True)
    three = design_experiment(0.05, 0.1, relative=True, arms=3)
    assert three.n_per_arm == math.ceil(sample_size(0.05, 0.055, alpha=0.025))
    assert three.n_total == 3 * three.n_per_arm and three.n_per_arm > two.n_per_arm


def test_unequal_ratio_uses_statsmodels_generalisation():
    d = design_experiment(0.05, 0.005, ratio=2)
    # variant arm twice the control: total smaller than 3x the 1:1 control, and each arm as documented
    assert d.n_control == math.ceil(d.n_per_arm / 2 - 1e-9)
    assert float(detection_power(0.05, 0.055, d.n_per_arm, ratio=2)) >= 0.8
    assert float(detection_power(0.05, 0.055, d.n_per_arm - 1, ratio=2)) < 0.8


def test_traffic_gives_days_rounded_up():
    d = design_experiment(0.05, 0.1, relative=True, traffic_per_day=2000)
    assert d.n_total == 62468 and d.days == 32
