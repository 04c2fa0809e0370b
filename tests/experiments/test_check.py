"""check, ledger, calibrate and design with a prediction; every command on the bundled example."""

import csv
import dataclasses
import io
import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from journeysim._files import write_atomic
from journeysim.cli import main
from journeysim.errors import DataError
from journeysim.experiments import Arm, ExperimentData, analyze_experiment
from journeysim.experiments.calibrate import calibrate_prediction
from journeysim.experiments.check import (
    LEDGER_COLUMNS,
    append_to_ledger,
    check_prediction,
)
from journeysim.experiments.design import design_experiment, design_from_prediction
from journeysim.experiments.ledger import summarize_ledger
from journeysim.maps.read import load_journey
from journeysim.report.experiments import ledger_plot
from journeysim.whatif.prediction import Prediction

EXAMPLES = Path(__file__).resolve().parents[2] / "experiments"
Z975 = stats.norm.isf(0.025)


def _prediction(center, sd, *, base=0.05, draws=4000, seed=0, source="p.json"):
    rel = np.random.default_rng(seed).normal(center, sd, draws)
    lo, hi = np.quantile(rel, [0.05, 0.95])
    samples = {"baseline": np.full(draws, base), "variant": base * (1 + rel), "lift_abs": base * rel, "lift_rel": rel}
    return Prediction("test hypothesis", "conversion_rate", base, base * (1 + center), base * center, center, 0.9,
                      lift_abs_interval=(base * lo, base * hi), lift_rel_interval=(float(lo), float(hi)),
                      hypothesis_file=None, samples=samples, parameters={"changes[0].to.x": rel}, source=source)


def _analysis(n, x_control, x_variant, source="ab.csv"):
    arms = {"control": Arm("control", n, x_control), "B": Arm("B", n, x_variant)}
    return analyze_experiment(ExperimentData(source, "aggregated", arms))


@pytest.mark.parametrize("center,n,xc,xv,verdict", [
    (0.10, 200_000, 10_000, 11_000, "confirmed"),
    (0.20, 200_000, 10_000, 10_050, "too optimistic"),
    (0.00, 200_000, 10_000, 12_000, "too pessimistic"),
    (0.05, 2_000, 100, 104, "inconclusive"),
])
def test_verdicts_and_gap_z(center, n, xc, xv, verdict):
    pred = _prediction(center, 0.02)
    res = check_prediction(pred, _analysis(n, xc, xv))
    observed = xv / xc - 1
    se = (1 + observed) * math.sqrt(1 / xv - 1 / n + 1 / xc - 1 / n)  # delta method on the Katz log ratio
    z = (center - observed) / math.hypot(np.std(pred.samples["lift_rel"], ddof=1), se)
    assert res.verdict == verdict
    assert res.observed_lift_rel == pytest.approx(observed, rel=1e-12)
    assert res.z == pytest.approx(z, rel=1e-6)
    assert res.inside == (pred.lift_rel_interval[0] <= observed <= pred.lift_rel_interval[1])


def test_check_refuses_other_metrics_and_asks_for_a_variant():
    pred = _prediction(0.1, 0.02)
    three = analyze_experiment(ExperimentData("ab", "aggregated", {
        "control": Arm("control", 100, 5), "B": Arm("B", 100, 6), "C": Arm("C", 100, 7)}))
    with pytest.raises(Exception, match="several variants"):
        check_prediction(pred, three)
    assert check_prediction(pred, three, variant="C").variant == "C"
    other = dataclasses.replace(pred, metric="expected_touches")
    with pytest.raises(Exception, match="key 'metric': 'expected_touches' is not observed in an A/B result"):
        check_prediction(other, three, variant="B")


def _files(tmp_path, seed=0, conversions=5500):
    pred = tmp_path / f"pred{seed}.json"
    body = json.loads((EXAMPLES / "live-chat.prediction.json").read_text())
    body["seed"] = seed
    pred.write_text(json.dumps(body))
    results = tmp_path / f"ab{seed}.csv"
    results.write_text(f"variant,customers,conversions\ncontrol,100000,5000\nlive chat,100000,{conversions}\n")
    return pred, results


def test_ledger_appends_refuses_duplicates_and_never_rewrites(tmp_path, capsys):
    ledger = tmp_path / "ledger.csv"
    pred, results = _files(tmp_path)
    assert main(["check", str(pred), str(results), "--ledger", str(ledger)]) == 0
    first = ledger.read_bytes()
    assert first.decode().splitlines()[0] == ",".join(LEDGER_COLUMNS)
    assert main(["check", str(pred), str(results), "--ledger", str(ledger)]) == 1
    err = capsys.readouterr().err
    assert "line 2 already records this prediction" in err and "--force" in err
    assert ledger.read_bytes() == first
    pred2, results2 = _files(tmp_path, seed=1, conversions=5300)
    assert main(["check", str(pred2), str(results2), "--ledger", str(ledger)]) == 0
    assert main(["check", str(pred), str(results), "--ledger", str(ledger), "--force"]) == 0
    text = ledger.read_bytes()
    assert text.startswith(first)
    rows = list(csv.DictReader(text.decode().splitlines()))
    assert len(rows) == 3 and rows[0] == rows[2] | {"checked_at": rows[0]["checked_at"]}


def test_concurrent_appends_all_land_whole(tmp_path):
    ledger = tmp_path / "ledger.csv"
    pred = _prediction(0.1, 0.02)
    checks = [check_prediction(pred, _analysis(50_000, 2500, 2500 + 10 * i)) for i in range(12)]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda c: append_to_ledger(ledger, c, force=True), checks))
    rows = list(csv.DictReader(ledger.read_text().splitlines()))
    assert len(rows) == 12 and all(len(r) == len(LEDGER_COLUMNS) for r in rows)
    assert sorted(float(r["observed_lift_rel"]) for r in rows) == pytest.approx(sorted(c.observed_lift_rel for c in checks))


def test_ledger_refuses_a_foreign_file(tmp_path):
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("a,b\n1,2\n")
    check = check_prediction(_prediction(0.1, 0.02), _analysis(50_000, 2500, 2600))
    with pytest.raises(DataError, match="line 1: not a journeysim ledger header"):
        append_to_ledger(ledger, check)


def test_ledger_report_coverage_and_bias(tmp_path):
    ledger = tmp_path / "ledger.csv"
    pred = _prediction(0.10, 0.03)
    observed = [9_900, 10_500, 11_000, 11_200, 13_000, 10_000]
    checks = [check_prediction(pred, _analysis(200_000, 10_000, x)) for x in observed]
    for c in checks:
        append_to_ledger(ledger, c, force=True)
    report = summarize_ledger(ledger)
    inside = sum(c.inside for c in checks)
    bias = np.array([c.predicted_lift_rel - c.observed_lift_rel for c in checks])
    assert report.checks == 6 and report.covered == inside
    exact = stats.binomtest(inside, 6).proportion_ci(0.95, method="exact")
    assert report.coverage_ci == pytest.approx((exact.low, exact.high), rel=1e-9)
    assert report.mean_bias == pytest.approx(bias.mean()) and report.median_bias == pytest.approx(np.median(bias))
    assert report.nominal_level == pytest.approx(0.9)
    png = tmp_path / "cal.png"
    write_atomic(png, ledger_plot(report).png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ledger_bad_row_names_line_and_column(tmp_path, capsys):
    ledger = tmp_path / "ledger.csv"
    append_to_ledger(ledger, check_prediction(_prediction(0.1, 0.02), _analysis(50_000, 2500, 2600)))
    ledger.write_text(ledger.read_text().replace(",true,", ",perhaps,").replace(",false,", ",perhaps,"))
    assert main(["ledger", str(ledger)]) == 1
    assert "line 2, column 'inside'" in capsys.readouterr().err



@pytest.mark.parametrize("column, value, message", [
    # the binomial test took a level of 1.5 for a probability (nominal level 98.57%)
    ("interval_level", "1.5", "'1.5' is not an interval level between 0 and 1"),
    ("interval_level", "0", "'0' is not an interval level between 0 and 1"),
    # the bias overflowed: '-inf% [-inf%, +inf%]' with a t-test p of 1
    ("observed_lift_rel", "1e308", "'1e308' is beyond +/-1e+100"),
    ("z", "-1e200", "'-1e200' is beyond +/-1e+100"),
])
def test_a_ledger_number_no_check_writes_names_line_and_column(tmp_path, capsys, column, value, message):
    ledger = tmp_path / "ledger.csv"
    append_to_ledger(ledger, check_prediction(_prediction(0.1, 0.02), _analysis(50_000, 2500, 2600)))
    rows = list(csv.DictReader(io.StringIO(ledger.read_text(encoding="utf-8"))))
    rows[0][column] = value
    out = io.StringIO()
    writer = csv.DictWriter(out, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    ledger.write_text(out.getvalue(), encoding="utf-8")
    assert main(["ledger", str(ledger)]) == 1
    assert capsys.readouterr().err.strip() == f"{ledger}: line 2, column '{column}': {message}"


def test_importance_weights_match_the_exact_posterior():
    rng = np.random.default_rng(4)
    x = rng.uniform(0.4, 0.6, 20_000)           # uniform prior on an uncertain number
    rel = 0.5 * (x - 0.4)                       # its effect: lift 0 .. +10%
    base = 0.05
    pred = Prediction("h", "conversion_rate", base, base * 1.05, base * 0.05, 0.05, 0.9,
                      lift_abs_interval=(0.0, 0.005), lift_rel_interval=(0.005, 0.095), hypothesis_file=None,
                      samples={"baseline": np.full(x.size, base), "variant": base * (1 + rel), "lift_abs": base * rel,
                               "lift_rel": rel}, parameters={"changes[0].to.purchase": x}, source="p.json")
    analysis = _analysis(300_000, 15_000, 16_000)
    cal = calibrate_prediction(pred, analysis)
    # the same posterior by quadrature on a grid: uniform prior times the normal likelihood of log(1 + lift)
    grid = np.linspace(0.4, 0.6, 200_001)
    se = cal.observed_se_log
    dens = stats.norm.pdf(math.log1p(cal.observed_lift_rel), np.log1p(0.5 * (grid - 0.4)), se)
    cdf = np.cumsum(dens) / dens.sum()
    median = grid[np.searchsorted(cdf, 0.5)]
    sd = math.sqrt(np.sum(dens * grid ** 2) / dens.sum() - (np.sum(dens * grid) / dens.sum()) ** 2)
    post = cal.parameters["changes[0].to.purchase"]
    assert abs(post.posterior_median - median) < 4 * sd / math.sqrt(cal.effective_draws)
    lo, hi = grid[np.searchsorted(cdf, [0.05, 0.95])]
    assert post.posterior_interval == pytest.approx((lo, hi), abs=6 * sd / math.sqrt(cal.effective_draws))
    assert post.prior_interval == pytest.approx((0.41, 0.59), abs=0.003)


def test_design_for_a_prediction_gives_assurance_from_its_draws():
    pred = _prediction(0.08, 0.04, seed=3)
    design = design_from_prediction(pred, traffic_per_day=1000)
    n, p1 = design.n_per_arm, pred.samples["baseline"]
    p2 = pred.samples["variant"]
    # R's power.prop.test formula, per draw, significant in the predicted (positive) direction
    pooled = np.sqrt((p1 + p2) * (2 - p1 - p2) / 2)
    power = stats.norm.cdf((np.sqrt(n) * (p2 - p1) - Z975 * pooled) / np.sqrt(p1 * (1 - p1) + p2 * (1 - p2)))
    assert design.assurance == pytest.approx(power.mean(), rel=1e-9)
    assert design.assurance < design.power  # uncertainty about the lift costs assurance
    assert design.n_per_arm == design_experiment(0.05, pred.lift_abs).n_per_arm
    assert design.days == math.ceil(design.n_total / 1000)


def test_design_json_keys(capsys):
    assert main(["design", "--baseline", "0.05", "--lift", "0.10", "--relative", "--traffic", "2000/day", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out)[:9] == ["n_per_arm", "n_total", "days", "alpha", "power", "baseline", "lift_abs", "lift_rel", "method"]
    assert (out["n_per_arm"], out["n_total"], out["days"]) == (31234, 62468, 32)
    assert main(["design", str(EXAMPLES / "live-chat.prediction.json"), "--traffic", "2000/day", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 0 < out["assurance"] < 1 and "assurance" in out["method"]
    assert main(["design", "--baseline", "0.05", "--customers", "40000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mde_abs"] == pytest.approx(out["lift_abs"]) and out["n_total"] == 40000


def test_every_command_runs_on_the_bundled_example(tmp_path, capsys):
    pred, results = EXAMPLES / "live-chat.prediction.json", EXAMPLES / "live-chat.aggregated.csv"
    assert main(["check", str(pred), str(results), "--no-ledger", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] in ("confirmed", "too optimistic", "too pessimistic",
                                                              "inconclusive")
    assert main(["ledger", str(EXAMPLES / "ledger.csv"), "--plot", str(tmp_path / "c.png"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["checks"] >= 4 and report["coverage_ci"][0] <= report["coverage"] <= report["coverage_ci"][1]
    out_map = tmp_path / "calibrated.yaml"
    assert main(["calibrate", str(pred), str(results), "-o", str(out_map), "--json"]) == 0
    cal = json.loads(capsys.readouterr().out)
    journey = load_journey(out_map)
    median = cal["posterior"]["changes[0].to.purchase"]["posterior_median"]
    assert journey.rows["live chat"]["purchase"].p == pytest.approx(median, rel=1e-9)
    assert journey.extra["calibration"]["posterior"]["changes[0].to.purchase"]["range"] == pytest.approx(
        cal["posterior"]["changes[0].to.purchase"]["posterior_interval"])
    assert cal["effective_draws"] > 30


@pytest.mark.parametrize("xc,xv,what", [(0, 5, "no conversions"), (100, 100, "every customer"),
                                        (40, 100, "every customer")])
def test_check_refuses_a_relative_lift_without_an_interval(xc, xv, what):
    # 100 of 100 in an arm: the log risk-ratio interval has no spread there (it was [0, 0] for 100/100 vs 100/100,
    # so the check's standard error was 0 and any prediction off the observed lift was called wrong)
    with pytest.raises(DataError, match=what):
        check_prediction(_prediction(0.05, 0.02), _analysis(100, xc, xv))
