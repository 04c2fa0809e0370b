"""Value hypotheses end to end: t-test design against R, spreads from the maps, Welch check, calibrate's refusal."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from journeysim.cli import main
from journeysim.engines.moments import per_customer_moments
from journeysim.errors import DataError, ScenarioError, UsageError
from journeysim.experiments.analysis import analyze_experiment
from journeysim.experiments.calibrate import calibrate_prediction
from journeysim.experiments.check import check_prediction
from journeysim.experiments.design import design_experiment, design_from_prediction
from journeysim.experiments.results import Arm, ExperimentData, read_results
from journeysim.experiments.value_power import minimum_detectable_value, value_power, value_sample_size
from journeysim.whatif.hypothesis import load_hypothesis
from journeysim.whatif.prediction import Prediction, read_prediction

PREDICTION = "experiments/b2b-faster-trial.prediction.json"
RESULTS = "experiments/b2b-faster-trial.results.parquet"


@pytest.mark.parametrize("call, expected", [
    # R 4.x, stats::power.t.test (the examples of its help page)
    (lambda: value_power(1.0, 20, sd=1.0), 0.8689528),                                     # n = 20, delta = 1
    (lambda: value_sample_size(1.0, sd=1.0, power=0.9), 22.02110),                         # power = .90, delta = 1
    (lambda: value_sample_size(1.0, sd=1.0, power=0.9, two_sided=False), 17.84713),        # ..., "one.sided"
])
def test_t_test_power_equals_r(call, expected):
    assert call() == pytest.approx(expected, abs=1e-5)


def test_unequal_spreads_and_arms_use_welchs_noncentrality():
    # Noncentral t by hand: n_v = 300, n_c = 200 (ratio 1.5), sd 4 and 2, lift 0.8, df n_v + n_c - 2.
    nv, nc, lift, sd_c, sd_v = 300, 200, 0.8, 2.0, 4.0
    ncp = lift / math.sqrt(sd_v ** 2 / nv + sd_c ** 2 / nc)
    df = nv + nc - 2
    by_hand = stats.nct.sf(stats.t.isf(0.025, df), df, ncp)
    assert value_power(lift, nv, sd=sd_c, variant_sd=sd_v, ratio=1.5) == pytest.approx(by_hand, rel=1e-9)
    n = value_sample_size(lift, sd=sd_c, variant_sd=sd_v, ratio=1.5, power=float(by_hand))
    assert n == pytest.approx(nv, rel=1e-6)
    assert minimum_detectable_value(nv, sd=sd_c, variant_sd=sd_v, ratio=1.5, power=float(by_hand)) == \
        pytest.approx(lift, rel=1e-4)      # statsmodels solves for the effect size to about 1e-5


def test_value_design_sizes_mean_value_not_a_rate():
    d = design_experiment(1500.0, 0.1, relative=True, sd=10_000.0, traffic_per_day=500)
    assert d.n_per_arm == math.ceil(value_sample_size(150.0, sd=10_000.0))
    assert d.days == math.ceil(2 * d.n_per_arm / 500)
    out = d.to_dict()
    assert (out["metric"], out["sd"], out["variant_sd"], out["baseline"]) == ("expected_value", 1e4, 1e4, 1500.0)
    assert "mean per customer" in d.summary() and "TTestIndPower" in d.method
    m = design_experiment(1500.0, None, sd=10_000.0, customers=20_000)
    assert m.mde_abs == pytest.approx(minimum_detectable_value(10_000, sd=10_000.0))


@pytest.mark.parametrize("kwargs, message", [
    (dict(baseline=1.5, lift=0.1), "baseline=1.5 must be between 0 and 1 (exclusive) (a conversion rate; give sd"),
    (dict(baseline=-3.0, lift=1.0, sd=2.0), "baseline=-3 must be a mean value per customer > 0"),
    (dict(baseline=30.0, lift=1.0, sd=-2.0), "sd=-2.0 must be a number > 0"),
    (dict(baseline=30.0, lift=-40.0, sd=2.0), "is not a mean value >= 0"),
    (dict(baseline=30.0, lift=1.0, sd=2.0, method="arcsine"), "method='arcsine' sizes tests on conversion rates"),
])
def test_value_design_refuses_bad_numbers(kwargs, message):
    with pytest.raises(UsageError) as err:
        design_experiment(kwargs.pop("baseline"), kwargs.pop("lift"), **kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_design_from_a_value_prediction_uses_the_maps_exact_spread():
    pred = read_prediction(PREDICTION)
    hyp = load_hypothesis(pred.hypothesis_file)
    base, var = per_customer_moments(hyp.baseline), per_customer_moments(hyp.variant())
    d = design_from_prediction(pred)
    assert d.sd == pytest.approx(base.sd / base.mean * pred.baseline, rel=1e-12)
    assert d.variant_sd == pytest.approx(var.sd / var.mean * pred.variant, rel=1e-12)
    assert d.n_per_arm == math.ceil(value_sample_size(pred.lift_abs, sd=d.sd, variant_sd=d.variant_sd))
    assert 0.5 < d.assurance < d.power       # uncertain lift: less than the power at the central lift
    # A baseline of one's own keeps the maps' coefficients of variation; --sd replaces the control's.
    moved = design_from_prediction(pred, baseline=3000.0)
    assert moved.sd == pytest.approx(d.sd * 3000.0 / pred.baseline, rel=1e-12)
    assert moved.lift_rel == pytest.approx(pred.lift_rel, rel=1e-12)
    given = design_from_prediction(pred, sd=5000.0)
    assert (given.sd, given.variant_sd) == pytest.approx((5000.0, 5000.0 * d.variant_sd / d.sd), rel=1e-12)


def _prediction(metric: str, **kw) -> Prediction:
    return Prediction("h", metric, baseline=kw.get("baseline", 1.0), variant=1.1, lift_abs=0.1, lift_rel=0.1,
                      interval_level=0.9, lift_abs_interval=(0.0, 0.2), lift_rel_interval=(0.0, 0.2),
                      samples={k: np.full(10, v) for k, v in
                               dict(baseline=1.0, variant=1.1, lift_abs=0.1, lift_rel=0.1).items()},
                      source="p.json")


def test_metrics_that_no_ab_test_measures_are_named():
    with pytest.raises(ScenarioError, match="p.json: metric 'customers_per_seed' is not measured per customer"):
        design_from_prediction(_prediction("customers_per_seed"))
    ab = ExperimentData("ab.csv", "aggregated", {"control": Arm("control", 1000, 50), "B": Arm("B", 1000, 60)})
    with pytest.raises(ScenarioError, match="p.json: key 'metric': 'expected_touches' is not observed in an A/B result"):
        check_prediction(_prediction("expected_touches"), analyze_experiment(ab))


def test_check_compares_a_value_prediction_with_the_welch_result():
    pred = read_prediction(PREDICTION)
    analysis = analyze_experiment(read_results(RESULTS))
    check = check_prediction(pred, analysis)
    v, c = analysis.variants["guided trial"], analysis.variants["control"]
    assert check.metric == "expected_value"
    assert check.observed_lift_rel == pytest.approx(v.revenue_mean / c.revenue_mean - 1, rel=1e-12)
    assert check.observed_interval == pytest.approx(v.revenue_lift_rel_ci, rel=1e-12)
    assert check.power == pytest.approx(float(value_power(c.revenue_mean * pred.lift_rel, v.customers,
                                                          sd=c.revenue_sd, variant_sd=v.revenue_sd)), rel=1e-12)
    assert check.verdict == "confirmed" and "revenue per customer" in check.method


def test_the_revenue_lift_interval_by_hand():
    rng = np.random.default_rng(3)
    a, b = rng.exponential(10.0, 400), rng.exponential(12.0, 500)
    data = ExperimentData("ab", "per-customer", {
        "control": Arm("control", 400, 400, revenue=a), "B": Arm("B", 500, 500, revenue=b)})
    v = analyze_experiment(data).variants["B"]
    se = math.hypot(b.std(ddof=1) / math.sqrt(500) / b.mean(), a.std(ddof=1) / math.sqrt(400) / a.mean())
    log_ratio = math.log(b.mean() / a.mean())
    assert v.revenue_sd == pytest.approx(b.std(ddof=1), rel=1e-12)
    assert v.revenue_lift_rel == pytest.approx(b.mean() / a.mean() - 1, rel=1e-12)
    assert v.revenue_lift_rel_ci == pytest.approx((math.expm1(log_ratio - 1.959964 * se),
                                                   math.expm1(log_ratio + 1.959964 * se)), rel=1e-6)


def test_a_value_prediction_needs_revenue_in_the_results():
    ab = ExperimentData("ab.csv", "aggregated", {"control": Arm("control", 1000, 50), "B": Arm("B", 1000, 60)})
    with pytest.raises(DataError, match="ab.csv: no revenue per customer, which a prediction of expected_value"):
        check_prediction(_prediction("expected_value"), analyze_experiment(ab))


def test_calibrate_refuses_value_predictions_saying_what_it_supports():
    analysis = analyze_experiment(read_results(RESULTS))
    with pytest.raises(ScenarioError) as err:
        calibrate_prediction(read_prediction(PREDICTION), analysis)
    message = str(err.value)
    assert "metric 'expected_value'" in message and "conversion_rate predictions only" in message
    assert "\n" not in message


def test_value_hypothesis_end_to_end_on_the_command_line(tmp_path, capsys):
    saved = tmp_path / "b2b.prediction.json"
    assert main(["predict", "scenarios/hypotheses/b2b-faster-trial.yaml", "--draws", "200", "--seed", "5",
                 "--save", str(saved), "--json"]) == 0
    predicted = json.loads(capsys.readouterr().out)
    assert predicted["metric"] == "expected_value" and predicted["lift_rel"] > 0
    assert main(["design", str(saved), "--traffic", "400/day", "--json"]) == 1      # its hypothesis is elsewhere
    assert "give --allow-outside" in capsys.readouterr().err
    assert main(["design", str(saved), "--traffic", "400/day", "--json", "--allow-outside"]) == 0
    design = json.loads(capsys.readouterr().out)
    assert design["metric"] == "expected_value" and design["n_per_arm"] > 10_000 and design["sd"] > design["baseline"]
    assert main(["analyze", RESULTS, "--json"]) == 0
    analysis = json.loads(capsys.readouterr().out)
    assert analysis["variants"]["guided trial"]["revenue_lift_rel_ci"][1] > 0
    ledger = tmp_path / "ledger.csv"
    assert main(["check", str(saved), RESULTS, "--ledger", str(ledger), "--json"]) == 0
    checked = json.loads(capsys.readouterr().out)
    assert checked["metric"] == "expected_value" and checked["verdict"] in ("confirmed", "inconclusive")
    assert "expected_value" in ledger.read_text(encoding="utf-8").splitlines()[1]
    assert main(["calibrate", str(saved), RESULTS, "-o", str(tmp_path / "new.yaml"), "--allow-outside"]) == 1
    err = capsys.readouterr().err.strip()
    assert "metric 'expected_value'" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "new.yaml").exists()


@pytest.mark.parametrize("args, code, message", [
    (["design", "--baseline", "1506", "--lift", "0.1", "--relative"], 2, "give sd for a value per customer"),
    (["design", "--baseline", "1506", "--lift", "0.1", "--relative", "--sd", "10000", "--hypothesis", "x.yaml"], 2,
     "--hypothesis"),
    (["design", "experiments/live-chat.prediction.json", "--sd", "3"], 2, "sd and hypothesis apply to value"),
])
def test_design_command_line_errors_are_one_line(args, code, message, capsys):
    assert main(args) == code
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


REFERRAL = "experiments/referral-programme.prediction.json"
REFERRAL_RESULTS = "experiments/referral-programme.results.csv"


def test_a_referral_programme_is_designed_on_each_seeds_whole_referral_tree():
    pred = read_prediction(REFERRAL)
    hyp = load_hypothesis(pred.hypothesis_file)
    base = per_customer_moments(hyp.baseline, "value_per_seed_customer")
    var = per_customer_moments(hyp.variant(), "value_per_seed_customer")
    own = per_customer_moments(hyp.baseline)        # the seed's own value: less spread than their tree's
    assert base.mean == pytest.approx(pred.baseline, rel=1e-12) and base.sd > own.sd
    d = design_from_prediction(pred)
    assert d.metric == "value_per_seed_customer"
    assert (d.sd, d.variant_sd) == pytest.approx((base.sd, var.sd / var.mean * pred.variant), rel=1e-12)
    assert d.n_per_arm == math.ceil(value_sample_size(pred.lift_abs, sd=d.sd, variant_sd=d.variant_sd))
    assert "per seed customer" in d.summary() and "referral tree" in d.method


def test_a_referral_programme_is_checked_on_revenue_per_seed_customer():
    pred = read_prediction(REFERRAL)
    analysis = analyze_experiment(read_results(REFERRAL_RESULTS))
    v, c = analysis.variants["referral voucher"], analysis.variants["control"]
    check = check_prediction(pred, analysis)
    assert check.observed_lift_rel == pytest.approx(v.revenue_mean / c.revenue_mean - 1, rel=1e-12)
    assert check.method.startswith("revenue per customer read as revenue per seed customer")
    with pytest.raises(ScenarioError, match="journeysim check records this prediction's test in the ledger"):
        calibrate_prediction(pred, analysis)


def test_calibrate_names_the_metric_before_reading_anything_else(tmp_path, capsys):
    """A prediction of a metric no A/B result observes, whose hypothesis file is gone: the metric is the message."""
    saved = tmp_path / "p.json"
    data = json.loads(Path(REFERRAL).read_text(encoding="utf-8"))
    saved.write_text(json.dumps({**data, "metric": "repeat_rate", "hypothesis_file": "gone.yaml"}), encoding="utf-8")
    assert main(["calibrate", str(saved), REFERRAL_RESULTS, "-o", str(tmp_path / "new.yaml")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"{saved}: metric 'repeat_rate': calibrate learns from conversion_rate predictions only (the "
                   "observed conversion-rate lift weights the draws); calibrate --events CONTROL_LOG VARIANT_LOG "
                   "revises the edited edges from the arms' event logs whatever the metric")
